"""After a reboot the teams come back by themselves (docs/workflow.md, "After a reboot"):
``deploy``/``up`` put an ``@reboot`` line for ``up --boot`` in the crontab, ``stop`` takes it
out, and the line, run as cron runs it after the tmux server and every suite process were
killed, brings each agent back in its own conversation, then delivers the missed check-in
(LATE) and the kept message once, then tells a person one summary.

The fake agent (tests/fake_agent.py) stands in for Claude Code; it runs no hooks, so each
agent's SessionStart report is made here with the command from its own settings file, as
tests/test_team_resume.py does. The real Claude Code does the same in tests/e2e/test_boot_claude.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from support import SUITE, processes_with_env, wait_for
from test_team import env, fake_agent, integration, project_entry, repo_with_spec, submitted, write_config  # noqa: F401
from test_team_resume import report_session, server_gone, started
from orc.core.settings import load_settings
from orc.scheduling.checkins import now_local, read_checkin, save_checkin, sweep_ids, team_boot_id
from orc.scheduling.crontab_store import split_table
from tmux_utils import Tmux

USERS_OWN = "MAILTO=me@example.com\n# my nightly job\n5 4 * * * /usr/bin/true >/dev/null 2>&1\n"
BARE = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "SHELL": "/bin/sh"}


def crontab_jobs(env: dict[str, str]) -> dict[str, object]:
    return dict(split_table(Path(env["ORC_CRONTAB_FILE"]).read_text())[1])


def boot_command(env: dict[str, str]) -> str:
    """The command of the @reboot line for `up --boot`, as cron hands it to /bin/sh."""
    settings = load_settings(env)
    job = split_table(Path(env["ORC_CRONTAB_FILE"]).read_text())[1][team_boot_id(settings)]
    assert job.schedule == "@reboot" and job.command.split(">>")[0].rstrip().endswith("integration up --boot")
    return job.command.replace("\\%", "%")  # cron turns \% into % before sh sees it


def run_as_cron(command: str) -> subprocess.Popen[str]:
    """Start a crontab command the way cron does: /bin/sh -c, cron's bare environment."""
    return subprocess.Popen(["/bin/sh", "-c", command], env=BARE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def reboot(tmux: Tmux, env: dict[str, str], extra_markers: tuple[str, ...] = ()) -> None:
    """The machine goes down: the tmux server killed, then every process of the run left."""
    markers = (f"ORC_STATE_DIR={env['ORC_STATE_DIR']}", *extra_markers)
    tmux.run("kill-server")
    wait_for(lambda: server_gone(tmux), what="the tmux server gone")
    for pid in processes_with_env(markers):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    wait_for(lambda: not processes_with_env(markers), what="every process of the run gone")


def notify_stand_in(tmp_path: Path) -> tuple[str, Path]:
    """ORC_NOTIFY_COMMAND's stand-in: appends its arguments, one call per line."""
    notified = tmp_path / "notified.txt"
    script = tmp_path / "notify-stand-in.sh"
    script.write_text(f'#!/bin/sh\nfor a in "$@"; do printf "%s|" "$a"; done >> {notified}\necho >> {notified}\n')
    script.chmod(0o755)
    return f"{script} 'Tmux Orchestrator'", notified


def calls(notified: Path) -> list[str]:
    return notified.read_text().splitlines() if notified.exists() else []


def attention_raised(env: dict[str, str]) -> list[dict[str, str]]:
    log = Path(env["ORC_STATE_DIR"]) / "attention.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return [dict(f.split("=", 1) for f in line.split() if "=" in f) for line in lines if " raised " in f" {line} "]


pytestmark = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the run's processes in /proc")


def test_the_reboot_line_brings_the_team_back_delivers_what_was_missed_and_tells_once(
        tmp_path: Path, env: dict[str, str], tmux: Tmux) -> None:  # noqa: F811
    crontab = Path(env["ORC_CRONTAB_FILE"])
    crontab.write_text(USERS_OWN)
    notify, notified = notify_stand_in(tmp_path)
    env = {**env, "ORC_DEFAULT_TARGET": "orc:boss", "ORC_NOTIFY_COMMAND": notify}
    settings = load_settings(env)
    repo = repo_with_spec(tmp_path / "webapp")
    pm, pm_record = fake_agent(tmp_path, "pm")
    dev, dev_record = fake_agent(tmp_path, "dev")
    boss, boss_record = fake_agent(tmp_path, "boss")
    write_config(tmp_path, {"webapp": project_entry(repo, "webapp", pm, dev)})

    done = integration("deploy", "webapp", "--ready-timeout", "20", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    done = integration("up", "--command", boss, "--agent", "claude", "--ready-timeout", "20", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    # The project manager added an engineer with spawn: it is part of the team too.
    dev2, dev2_record = fake_agent(tmp_path, "dev2")
    done = integration("spawn", "webapp:Dev2", "--role", "engineer-2", "--project", "webapp", "--brief",
                       "Write the password reset form", "--command", dev2, "--agent", "claude", "--ready-timeout", "20",
                       env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    jobs = crontab_jobs(env)
    assert team_boot_id(settings) in jobs
    # The boot runs the sweep itself once the teams are back: the sweep's own @reboot line is out.
    assert sweep_ids(settings)[0] in jobs and sweep_ids(settings)[1] not in jobs
    assert sum(1 for job in jobs.values() if getattr(job, "schedule") == "@reboot") == 1

    for record, target, session in ((pm_record, "webapp:PM", "sess-pm"), (dev_record, "webapp:Dev", "sess-dev"),
                                    (dev2_record, "webapp:Dev2", "sess-dev2"), (boss_record, "orc:boss", "sess-boss")):
        report_session(str(started(record)[0]["settings"]), tmux.resolve(target).pane_id, env["ORC_TMUX_SOCKET"],
                       session)

    # A check-in for the engineer, due while the machine is off: scheduled for later, then its
    # due time moved 10 minutes into the past in its record (the machine was off that long).
    done = subprocess.run([str(SUITE / "schedule_with_note.sh"), "30", "Check the login form tests", "webapp:Dev"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    checkin_id = next(word for word in done.stdout.split() if word.startswith("ck-"))
    found = read_checkin(settings, checkin_id)
    assert found is not None
    save_checkin(settings, replace(found, due=now_local() - timedelta(minutes=10)))
    # A message kept for the project manager (as when it sat on a dialog) when the machine went down.
    from orc.messages.mailbox import keep

    keep(settings, "webapp:PM", tmux.resolve("webapp:PM"), "Freeze merges until the demo", "a dialog is showing")

    reboot(tmux, env)
    # Cron may start the line twice at once (two cron daemons, a person running it by hand too).
    command = boot_command(env)
    runs = [run_as_cron(command), run_as_cron(command)]
    for run in runs:
        out, err = run.communicate(timeout=180)
        assert run.returncode == 0, out + err
    log = (Path(env["ORC_STATE_DIR"]) / "cron.log").read_text()
    assert "Back: " in log and "NOT back" not in log

    # Each agent came back once, in its own conversation, and was told so.
    for record, session in ((pm_record, "sess-pm"), (dev_record, "sess-dev"), (dev2_record, "sess-dev2"),
                            (boss_record, "sess-boss")):
        assert [e["resume"] for e in started(record)] == [None, session]
        notes = [t for t in submitted(record) if t.startswith("You were restarted and your conversation was resumed")]
        assert len(notes) == 1, submitted(record)
    # Then the missed check-in, once, marked late, after the resume note.
    dev_texts = submitted(dev_record)
    late = [i for i, t in enumerate(dev_texts) if t.startswith(f"[check-in {checkin_id} ")]
    assert len(late) == 1 and "LATE by 10m" in dev_texts[late[0]], dev_texts
    assert late[0] > next(i for i, t in enumerate(dev_texts) if t.startswith("You were restarted"))
    assert [t for t in submitted(pm_record) if "Freeze merges until the demo" in t] != []
    assert len([t for t in submitted(pm_record) if "Freeze merges until the demo" in t]) == 1
    # Then one summary: the attention log, the notify command, the orchestrator's pane.
    raised = [r for r in attention_raised(env) if r.get("subject") == "boot"]
    assert len(raised) == 1
    boot_calls = [c for c in calls(notified) if "after a reboot" in c]
    assert len(boot_calls) == 1
    for what in ("webapp/project-manager came back in its own conversation (session sess-pm)",
                 "webapp/engineer came back in its own conversation (session sess-dev)",
                 "webapp/engineer-2 came back in its own conversation (session sess-dev2)",
                 "the orchestrator at orc:boss came back in its own conversation (session sess-boss)",
                 f"check-in {checkin_id} delivered to webapp:Dev", "delivered to webapp:PM"):
        assert what in boot_calls[0], boot_calls[0]
    assert len([t for t in submitted(boss_record) if "after a reboot" in t]) == 1

    # Run again later (a person runs it by hand): everything is back, nothing to do, nothing told.
    again = run_as_cron(command)
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, out + err
    assert [len(started(r)) for r in (pm_record, dev_record, dev2_record, boss_record)] == [2, 2, 2, 2]
    assert len([t for t in submitted(dev_record) if t.startswith(f"[check-in {checkin_id} ")]) == 1
    assert len([c for c in calls(notified) if "after a reboot" in c]) == 1

    # stop takes the @reboot line out (no team left); the person's own lines stayed as they were.
    done = integration("stop", "webapp", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    jobs = crontab_jobs(env)
    assert team_boot_id(settings) not in jobs
    # The orchestrator's self check-in is still pending: the sweep's own @reboot line is back.
    assert sweep_ids(settings)[1] in jobs
    assert crontab.read_text().startswith(USERS_OWN)


def test_a_team_stopped_on_purpose_stays_stopped(tmp_path: Path, env: dict[str, str], tmux: Tmux) -> None:  # noqa: F811
    notify, notified = notify_stand_in(tmp_path)
    env = {**env, "ORC_NOTIFY_COMMAND": notify}
    repos = {name: repo_with_spec(tmp_path / name) for name in ("webapp", "api")}
    agents = {f"{name}-{role}": fake_agent(tmp_path, f"{name}-{role}") for name in repos for role in ("pm", "dev")}
    write_config(tmp_path, {name: project_entry(repo, name, agents[f"{name}-pm"][0], agents[f"{name}-dev"][0])
                            for name, repo in repos.items()})
    done = integration("deploy", "--all", "--ready-timeout", "20", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    done = integration("stop", "api", "--kill", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert team_boot_id(load_settings(env)) in crontab_jobs(env)  # webapp still runs

    reboot(tmux, env)
    run = run_as_cron(boot_command(env))
    out, err = run.communicate(timeout=120)
    assert run.returncode == 0, out + err
    log = (Path(env["ORC_STATE_DIR"]) / "cron.log").read_text()[-3000:]
    assert tmux.has_session("webapp") and not tmux.has_session("api"), log
    counts = [len(started(agents[k][1])) for k in ("webapp-pm", "webapp-dev", "api-pm", "api-dev")]
    assert counts == [2, 2, 1, 1], log
    # Neither agent had reported a session: both came back fresh, with the briefing, and said so.
    summary = [c for c in calls(notified) if "after a reboot" in c]
    assert len(summary) == 1 and "webapp/engineer came back in a new conversation" in summary[0], (calls(notified), log)
    assert "api/" not in summary[0] and "api:" not in summary[0], summary[0]


def test_nothing_is_typed_when_tmux_cannot_start(tmp_path: Path, env: dict[str, str], tmux: Tmux) -> None:  # noqa: F811
    notify, notified = notify_stand_in(tmp_path)
    env = {**env, "ORC_NOTIFY_COMMAND": notify}
    repo = repo_with_spec(tmp_path / "webapp")
    pm, pm_record = fake_agent(tmp_path, "pm")
    dev, dev_record = fake_agent(tmp_path, "dev")
    write_config(tmp_path, {"webapp": project_entry(repo, "webapp", pm, dev)})
    assert integration("deploy", "webapp", "--ready-timeout", "20", env=env).returncode == 0
    reboot(tmux, env)
    # The fault: the tmux the line names is not there (a disk not mounted yet), and the wait is short.
    command = boot_command(env).replace(f"ORC_TMUX_BIN={load_settings(env).tmux_bin}", "ORC_TMUX_BIN=/nonexistent/tmux")
    assert "ORC_TMUX_BIN=/nonexistent/tmux" in command
    run = run_as_cron(command.replace(" ORC_TMUX_BIN=", " ORC_BOOT_WAIT=2 ORC_TMUX_BIN=", 1))
    out, err = run.communicate(timeout=60)
    assert run.returncode == 1
    assert [len(started(r)) for r in (pm_record, dev_record)] == [1, 1]
    summary = [c for c in calls(notified) if "after a reboot" in c]
    assert len(summary) == 1 and "tmux cannot start a server" in summary[0], calls(notified)


def test_bad_usage_is_one_line_and_changes_nothing(tmp_path: Path, env: dict[str, str]) -> None:  # noqa: F811
    done = integration("up", "--boot", "--command", "claude", env=env)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "up --boot takes no --command" in done.stderr
    assert not Path(env["ORC_CRONTAB_FILE"]).exists()


def test_a_boot_killed_at_random_instants_and_run_again_loses_nothing_and_doubles_nothing(
        tmp_path: Path, env: dict[str, str], tmux: Tmux) -> None:  # noqa: F811
    import random

    notify, notified = notify_stand_in(tmp_path)
    env = {**env, "ORC_NOTIFY_COMMAND": notify}
    settings = load_settings(env)
    repo = repo_with_spec(tmp_path / "webapp")
    pm, pm_record = fake_agent(tmp_path, "pm")
    dev, dev_record = fake_agent(tmp_path, "dev")
    write_config(tmp_path, {"webapp": project_entry(repo, "webapp", pm, dev)})
    assert integration("deploy", "webapp", "--ready-timeout", "20", env=env).returncode == 0
    for record, target, session in ((pm_record, "webapp:PM", "sess-pm"), (dev_record, "webapp:Dev", "sess-dev")):
        report_session(str(started(record)[0]["settings"]), tmux.resolve(target).pane_id, env["ORC_TMUX_SOCKET"],
                       session)
    done = subprocess.run([str(SUITE / "schedule_with_note.sh"), "30", "Check the login form tests", "webapp:Dev"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    checkin_id = next(word for word in done.stdout.split() if word.startswith("ck-"))
    found = read_checkin(settings, checkin_id)
    assert found is not None
    save_checkin(settings, replace(found, due=now_local() - timedelta(minutes=10)))
    reboot(tmux, env)

    command = boot_command(env)
    # A whole boot takes 2-4 s here: the kills fall inside it. ORC_BOOT_KILL_SEED replays a run.
    seed = int(os.environ.get("ORC_BOOT_KILL_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    kills = sorted(rng.uniform(0.05, 4.0) for _ in range(5))
    for instant in kills:
        run = subprocess.Popen(["/bin/sh", "-c", command], env=BARE, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            run.wait(timeout=instant)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)  # the boot and its children; the tmux server is its own
            run.wait(timeout=10)
    final = run_as_cron(command)
    out, err = final.communicate(timeout=180)
    cron_log = (Path(env["ORC_STATE_DIR"]) / "cron.log").read_text()
    assert final.returncode == 0, f"seed {seed}, kills {kills}: " + cron_log[-3000:]

    why = f"seed {seed}, kills at {', '.join(f'{k:.2f}' for k in kills)} s"
    for record, session in ((pm_record, "sess-pm"), (dev_record, "sess-dev")):
        assert [e["resume"] for e in started(record)] == [None, session], why
        notes = [t for t in submitted(record) if t.startswith("You were restarted and your conversation was resumed")]
        assert len(notes) == 1 and not [t for t in submitted(record)[1:] if "The spec is" in t], why
    assert len([t for t in submitted(dev_record) if t.startswith(f"[check-in {checkin_id} ")]) == 1, why
    summary = [c for c in calls(notified) if "after a reboot" in c]
    assert len(summary) == 1, f"{why}: {summary}"
    for who, session in (("project-manager", "sess-pm"), ("engineer", "sess-dev")):
        assert f"webapp/{who} came back in its own conversation (session {session})" in summary[0], (why, summary)


def test_a_session_a_killed_run_left_tmux_making_is_used_not_made_twice(tmp_path: Path, tmux: Tmux) -> None:
    """Fault injection (a stand-in for the race, not tmux's own timing): the session appears just
    as this run asks for it, made by a boot run killed a moment before, so tmux refuses a second
    one. The window that run opened is used; no second window of that name is opened."""
    from orc.core.tmux import TmuxError
    from orc.teams.project_config import load_config
    from orc.teams.team import _open_window

    repo = repo_with_spec(tmp_path / "webapp")
    write_config(tmp_path, {"webapp": project_entry(repo, "webapp", "sleep 60", "sleep 60")})
    [project] = load_config(tmp_path / "project_configs.json").projects

    class RacedTmux(Tmux):
        def new_session(self, name: str, window_name: str, command: str, cwd: str, width: int = 200,
                        height: int = 50):  # type: ignore[no-untyped-def]
            super().new_session(name, window_name, command, cwd, width, height)  # the killed run's
            raise TmuxError(["new-session", "-s", name], f"Session named {name} exists", 1)

    raced = RacedTmux(tmux.socket, tmux.binary)
    pane = _open_window(raced, project, "PM", "sleep 60")
    assert [p.window_name for p in tmux.list_windows() if p.session == "webapp"] == ["PM"]
    assert pane.pane_id == tmux.resolve("webapp:PM").pane_id
    # A window that run had not got to: opened in the session it left.
    dev = _open_window(raced, project, "Dev", "sleep 60")
    assert [p.window_name for p in tmux.list_windows() if p.session == "webapp"] == ["PM", "Dev"]
    assert dev.pane_id == tmux.resolve("webapp:Dev").pane_id
