"""Telling a person: each reason reaches the attention log, the orchestrator's pane (a fake agent)
and an ORC_NOTIFY_COMMAND stand-in once, and again only after it cleared and came back.

Real tmux server, real fake-agent TUIs, real git repositories; the per-minute check is run as
cron runs it (the command line) or through its function."""

from __future__ import annotations

import json
import re
import os
import time
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from orc.teams import attention
from orc.messages.delivery import deliver
from orc.teams.project_config import load_config
from orc.core.settings import Settings, load_settings
from support import SUITE, wait_for
from test_gitops import make_repo
from test_team import fake_agent, submitted
from tmux_utils import Tmux
from orc.record.snapshot import look


class World:
    """A project with two agents, an orchestrator agent at ORC_DEFAULT_TARGET, a notify stand-in."""

    def __init__(self, tmux: Tmux, tmp_path: Path, orc_env: dict[str, str], pm_options: tuple[str, ...] = ()) -> None:
        self.tmux, self.tmp = tmux, tmp_path
        self.repo = make_repo(tmp_path / "shop")
        self.config = tmp_path / "project_configs.json"
        self.config.write_text(json.dumps({"shop": {
            "path": str(self.repo), "session": "shop", "spec_file": "app.py", "test_command": "true",
            "team": [{"role": "project-manager", "window": "PM"}, {"role": "engineer", "window": "Dev"}]}}))
        self.notified = tmp_path / "notified.txt"
        stand_in = tmp_path / "notify-stand-in.sh"
        stand_in.write_text(f'#!/bin/sh\nfor a in "$@"; do printf "%s|" "$a"; done >> {self.notified}\n'
                            f'echo >> {self.notified}\n')
        stand_in.chmod(0o755)
        self.env = {**orc_env, "ORC_PROJECT_CONFIG": str(self.config), "ORC_CRONTAB_FILE": str(tmp_path / "crontab"),
                    "ORC_DEFAULT_TARGET": "orc:boss", "ORC_NOTIFY_COMMAND": f"{stand_in} 'Tmux Orchestrator'",
                    "ORC_ATTENTION_SECONDS": "1", "ORC_STALL_SECONDS": "1"}
        self.settings: Settings = load_settings(self.env)
        self.boss_command, self.boss = fake_agent(tmp_path, "boss", "--ready-file", str(tmp_path / "boss.ready"))
        pane = tmux.new_session("orc", "boss", self.boss_command, str(tmp_path), width=120, height=40)
        wait_for((tmp_path / "boss.ready").exists, what="the orchestrator to draw")
        self.panes = {"boss": pane.pane_id}
        self.commands: dict[str, str] = {}
        for window, options in (("PM", pm_options), ("Dev", ())):
            ready = tmp_path / f"{window}.ready"
            command, _ = fake_agent(tmp_path, window, "--ready-file", str(ready), *options)
            self.commands[window] = command
            if tmux.has_session("shop"):
                pane = tmux.new_window("shop", window, command, str(self.repo))
            else:
                pane = tmux.new_session("shop", window, command, str(self.repo), width=120, height=40)
            tmux.keep_on_exit(pane.pane_id)
            wait_for(ready.exists, what=f"{window} to draw")
            self.panes[window] = pane.pane_id

    def check(self) -> list[attention.Finding]:
        return attention.check(self.settings, self.tmux, list(load_config(self.config).projects))

    def check_by_command(self) -> str:
        done = subprocess.run([sys.executable, str(SUITE / "orchestrator_integration.py"), "attention", "check"],
                              env=self.env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def check_status(self) -> str:
        done = subprocess.run([sys.executable, str(SUITE / "orchestrator_integration.py"), "status"],
                              env=self.env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def told(self, subject: str, reason: str) -> tuple[int, int, int]:
        """How often (attention log, orchestrator's pane, notify command) carried this subject+reason."""
        log = attention.log_path(self.settings)
        lines = log.read_text().splitlines() if log.exists() else []
        logged = sum(1 for line in lines if f" raised subject={subject} reason={reason} " in line)
        pane = sum(1 for text in submitted(self.boss) if text.startswith(f"[attention] {subject}:"))
        calls = self.notified.read_text().splitlines() if self.notified.exists() else []
        notified = sum(1 for call in calls if call.startswith(f"Tmux Orchestrator|[attention] {subject}:"))
        return logged, pane, notified

    def told_exactly(self, subject: str, reason: str, times: int) -> None:
        """Told ``times`` times on all three paths (a message proven submitted while the orchestrator
        was busy shows in its record when its turn ends, hence the wait)."""
        wait_for(lambda: self.told(subject, reason) == (times, times, times), timeout=10,
                 what=f"{subject} {reason} told {times} time(s): {self.told(subject, reason)}")

    def respawn(self, window: str) -> None:
        ready = self.tmp / f"{window}.ready"
        ready.unlink(missing_ok=True)
        self.tmux.respawn(self.panes[window], self.commands[window], str(self.repo))
        wait_for(ready.exists, what=f"{window} to draw again")


@pytest.fixture
def world(tmux: Tmux, tmp_path: Path, orc_env: dict[str, str]) -> World:
    return World(tmux, tmp_path, orc_env)


def test_a_dialog_left_open_is_told_once_after_the_threshold_and_again_when_it_comes_back(world: World) -> None:
    subject = "shop/engineer"
    assert deliver(world.tmux, world.panes["Dev"], "please RAISE_DIALOG", world.settings).submitted
    wait_for(lambda: look(world.tmux, world.panes["Dev"]).state == "waiting", what="the dialog")
    world.check()
    world.told_exactly(subject, "dialog", 0)  # not before ORC_ATTENTION_SECONDS
    wait_for(lambda: world.check() and world.told(subject, "dialog")[0], timeout=15, what="the dialog raised")
    world.told_exactly(subject, "dialog", 1)
    assert "raised shop/engineer dialog" not in world.check_by_command()  # a minute later: still once
    world.told_exactly(subject, "dialog", 1)

    world.tmux.type_literal(world.panes["Dev"], "1")  # a person answers it
    wait_for(lambda: look(world.tmux, world.panes["Dev"]).state == "idle", what="the dialog answered")
    world.check()
    assert (subject, "dialog") not in attention.open_items(world.settings)
    world.told_exactly(subject, "dialog", 1)

    assert deliver(world.tmux, world.panes["Dev"], "again RAISE_DIALOG", world.settings).submitted
    wait_for(lambda: world.check() and world.told(subject, "dialog")[0] == 2, timeout=15, what="raised again")
    world.told_exactly(subject, "dialog", 2)


def test_an_exited_agent_is_told_once_until_it_runs_again(world: World) -> None:
    subject = "shop/project-manager"
    for round_ in (1, 2):
        world.tmux.send_key(world.panes["PM"], "C-c")
        world.tmux.send_key(world.panes["PM"], "C-c")
        wait_for(lambda: world.tmux.pane(world.panes["PM"]).dead, what="the PM to exit")
        out = world.check_by_command()
        assert f"raised {subject} exited" in out
        world.check()
        world.told_exactly(subject, "exited", round_)
        world.respawn("PM")
        world.check()
        assert (subject, "exited") not in attention.open_items(world.settings)


def test_a_stalled_agent_is_told_once_until_it_moves_again(tmux: Tmux, tmp_path: Path, orc_env: dict[str, str]) -> None:
    world = World(tmux, tmp_path, orc_env, pm_options=("--busy-seconds", "600"))
    subject = "shop/project-manager"
    for round_ in (1, 2):
        assert deliver(tmux, world.panes["PM"], "a long task", world.settings).submitted
        world.check()
        wait_for(lambda: world.check() and world.told(subject, "stalled")[0] == round_, timeout=15,
                 what="the stall raised")
        world.check()
        world.told_exactly(subject, "stalled", round_)
        world.respawn("PM")
        world.check()
        assert (subject, "stalled") not in attention.open_items(world.settings)


def test_a_failed_checkin_is_told_once_and_again_after_it_was_delivered_and_failed_anew(world: World) -> None:
    from orc.scheduling.checkins import log

    log(world.settings, "scheduled", "ck-0badc0de", target="shop:PM")
    log(world.settings, "failed", "ck-0badc0de", target="shop:PM", attempts=3, reason="target not found: shop:PM")
    assert "raised ck-0badc0de checkin-failed" in world.check_by_command()
    world.check()
    world.told_exactly("ck-0badc0de", "checkin-failed", 1)
    assert "target not found" in world.notified.read_text()
    log(world.settings, "delivered", "ck-0badc0de", target="shop:PM")
    world.check()
    assert ("ck-0badc0de", "checkin-failed") not in attention.open_items(world.settings)
    log(world.settings, "failed", "ck-0badc0de", target="shop:PM", attempts=3, reason="no agent")
    world.check()
    world.told_exactly("ck-0badc0de", "checkin-failed", 2)


def test_three_skipped_backups_in_a_row_are_told_once_and_again_after_a_good_one(world: World) -> None:
    from orc.teams.project_git import run_backup

    project = load_config(world.config).projects[0]
    lock = world.repo / ".git" / "index.lock"
    for round_ in (1, 2):
        (world.repo / "app.py").write_text(f"print('round {round_}')\n")
        lock.write_text("")
        for n in range(3):
            assert run_backup(world.settings, project).skipped
            world.check()
            assert world.told("shop", "backups-skipped")[0] == (round_ if n == 2 else round_ - 1)
        world.told_exactly("shop", "backups-skipped", round_)
        lock.unlink()
        assert run_backup(world.settings, project).committed
        world.check()
        assert ("shop", "backups-skipped") not in attention.open_items(world.settings)


def test_a_merge_conflict_reaches_the_orchestrators_pane(world: World) -> None:
    assert attention.raise_attention(world.settings, "shop", "merge-conflict", "conflicts in app.py")
    assert not attention.raise_attention(world.settings, "shop", "merge-conflict", "conflicts in app.py")
    world.told_exactly("shop", "merge-conflict", 1)
    assert attention.clear_attention(world.settings, "shop", "merge-conflict")
    assert attention.raise_attention(world.settings, "shop", "merge-conflict", "conflicts in app.py")
    world.told_exactly("shop", "merge-conflict", 2)


def test_a_usage_limited_state_maps_to_its_reason(settings: Settings) -> None:
    """Through the state names: no screen on main says `limited` yet (another branch adds it), so the
    status record is built here; the mapping to a told reason is what is under test."""
    from orc.core.gitops import RepoFacts
    from orc.teams.status import AgentStatus, ProjectStatus

    agent = AgentStatus("engineer", "Dev", "shop:Dev", "limited", None, None, "%1")
    status = ProjectStatus("shop", "shop", "/x", (agent,), RepoFacts(True))
    found, owned = attention.agent_findings(settings, [status], 0.0, {})
    assert [(f.subject, f.reason) for f in found] == [("shop/engineer", "usage-limit")]
    assert ("shop/engineer", "usage-limit") in owned


def waiting_engineer() -> list[Any]:
    from orc.core.gitops import RepoFacts
    from orc.teams.status import AgentStatus, ProjectStatus

    agent = AgentStatus("engineer", "Dev", "shop:Dev", "waiting", None, None, "%1")
    return [ProjectStatus("shop", "shop", "/x", (agent,), RepoFacts(True))]


def test_a_dialog_is_timed_from_the_agents_own_record_and_left_alone_until_then(settings: Settings) -> None:
    """The per-minute check first sees a dialog up to a minute after it opened. The agent's
    PermissionRequest says when it did; without one the check's own first sight counts, and
    until that is long enough the item is neither told nor cleared (the agent's own event may
    have told it already: clearing it would tell the same dialog twice)."""
    from orc.record.hook_events import HookReport

    settings, subject = replace(settings, attention_seconds=60), "shop/engineer"
    first_seen: dict[str, float] = {}
    found, owned = attention.agent_findings(settings, waiting_engineer(), 1000.0, first_seen)
    assert found == [] and (subject, "dialog") not in owned
    assert (subject, "exited") in owned  # what it can decide, it still owns
    found, owned = attention.agent_findings(settings, waiting_engineer(), 1060.0, first_seen)
    assert [(f.subject, f.reason) for f in found] == [(subject, "dialog")] and (subject, "dialog") in owned

    opened = HookReport("%1", "PermissionRequest", 945.0, "s1", "/t.jsonl", "/x", "waiting", None, None, "Write",
                        agent="shop.engineer")
    found, _ = attention.agent_findings(settings, waiting_engineer(), 1005.0, {}, {"shop.engineer": opened})
    assert [(f.subject, f.reason) for f in found] == [(subject, "dialog")]


def test_a_dialog_told_by_the_agents_event_stays_open_while_the_check_times_it(world: World) -> None:
    """Real pane, real dialog: the item the event path raised survives the check's first sight."""
    subject = "shop/engineer"
    settings = replace(world.settings, attention_seconds=60)
    assert deliver(world.tmux, world.panes["Dev"], "please RAISE_DIALOG", world.settings).submitted
    wait_for(lambda: look(world.tmux, world.panes["Dev"]).state == "waiting", what="the dialog")
    assert attention.raise_attention(settings, subject, "dialog", "shop:Dev: a dialog is waiting for an answer")
    projects = list(load_config(world.config).projects)
    for _ in range(2):
        attention.check(settings, world.tmux, projects)
        assert (subject, "dialog") in attention.open_items(settings)
    world.told_exactly(subject, "dialog", 1)
    world.tmux.type_literal(world.panes["Dev"], "1")  # a person answers it
    wait_for(lambda: look(world.tmux, world.panes["Dev"]).state == "idle", what="the dialog answered")
    attention.check(settings, world.tmux, projects)
    assert (subject, "dialog") not in attention.open_items(settings)


def test_the_notify_command_gets_the_text_as_one_argument_never_through_a_shell(world: World) -> None:
    evil = "it's $(touch pwned) `touch pwned2`; rm -rf / \"quoted\" %s"
    assert attention.raise_attention(world.settings, "shop", "test", evil)
    call = world.notified.read_text().splitlines()[0].split("|")
    assert call == ["Tmux Orchestrator", f"[attention] shop: {evil}", ""]
    assert not (world.tmp / "pwned").exists() and not Path("pwned").exists()


def test_deploy_installs_the_check_cron_runs_it_bare_and_stop_removes_it(tmp_path: Path, orc_env: dict[str, str],
                                                                       tmux: Tmux) -> None:
    import os

    from orc.scheduling.checkins import log as checkin_log
    from test_team import fake_agent, integration, project_entry, repo_with_spec, write_config

    repo = repo_with_spec(tmp_path / "webapp")
    # Agents that take Claude Code's arguments (the suite appends its hooks' --settings).
    write_config(tmp_path, {"webapp": project_entry(repo, "webapp", fake_agent(tmp_path, "pm")[0],
                                                    fake_agent(tmp_path, "dev")[0])})
    notified = tmp_path / "notified.txt"
    stand_in = tmp_path / "stand in.sh"  # a space in the path: the line must quote it
    stand_in.write_text(f'#!/bin/sh\nfor a in "$@"; do printf "%s|" "$a"; done >> {notified}\necho >> {notified}\n')
    stand_in.chmod(0o755)
    env = {**orc_env, "ORC_CRONTAB_FILE": str(tmp_path / "crontab"),
           "ORC_PROJECT_CONFIG": str(tmp_path / "project_configs.json"), "SHELL": "/bin/sh",
           "ORC_NOTIFY_COMMAND": f"'{stand_in}' 'Tmux Orchestrator'"}
    deployed = integration("deploy", "webapp", "--ready-timeout", "1", env=env)
    assert (tmp_path / "crontab").exists(), deployed.stdout + deployed.stderr
    crontab = (tmp_path / "crontab").read_text()
    line = next(line for line in crontab.splitlines() if "# orc:orc-attn-" in line)
    assert line.startswith("* * * * * ") and "integration attention check" in line
    assert crontab.count("# orc:orc-attn-") == 1

    # Run the line as cron would (bare environment, /bin/sh): it finds a failed check-in and tells.
    checkin_log(load_settings(env), "failed", "ck-00c0ffee", target="webapp:PM", reason="target not found")
    command = line.split(None, 5)[5].rsplit(" # orc:", 1)[0].replace("\\%", "%")
    bare = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "SHELL": "/bin/sh", "LOGNAME": "root"}
    done = subprocess.run(["/bin/sh", "-c", command], env=bare, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "raised ck-00c0ffee checkin-failed" in (tmp_path / "state" / "cron.log").read_text()
    assert notified.read_text().startswith("Tmux Orchestrator|[attention] ck-00c0ffee: check-in ck-00c0ffee")

    assert integration("deploy", "webapp", "--ready-timeout", "1", env=env).returncode in (0, 1)
    assert (tmp_path / "crontab").read_text().count("# orc:orc-attn-") == 1  # replaced, never doubled
    assert integration("stop", "webapp", env=env).returncode == 0
    assert "orc-attn-" not in (tmp_path / "crontab").read_text()


def test_the_readme_notify_examples_split_into_the_argv_they_promise(tmp_path: Path) -> None:
    """Each ORC_NOTIFY_COMMAND line of the commands' reference, read from a .env file as the suite reads it."""
    import re

    from orc.core.settings import load_settings

    reference = (SUITE / "docs" / "commands.md").read_text()
    lines = re.findall(r"^ORC_NOTIFY_COMMAND=.*$", reference, flags=re.M)
    assert len(lines) == 3
    argvs = []
    for line in lines:
        suite = tmp_path / f"suite{len(argvs)}"
        suite.mkdir()
        (suite / ".env").write_text(line + "\n")
        settings = load_settings({"PATH": "/usr/bin:/bin"}, suite_dir=suite)
        argvs.append(attention.notify_argv(settings, "[attention] shop: a dialog"))
    assert argvs[0] == ["notify-send", "Tmux Orchestrator", "[attention] shop: a dialog"]
    assert argvs[1] == ["osascript", "-e", "on run argv", "-e",
                        'display notification (item 1 of argv) with title "Tmux Orchestrator"', "-e", "end run",
                        "[attention] shop: a dialog"]
    assert argvs[2] == ["curl", "-s", "-m", "20", "https://ntfy.sh/my-private-topic", "--data-raw",
                        "[attention] shop: a dialog"]


def test_a_notify_command_with_unbalanced_quotes_is_one_clear_error(orc_env: dict[str, str], tmp_path: Path) -> None:
    env = {**orc_env, "ORC_NOTIFY_COMMAND": "notify-send 'Tmux Orchestrator", "ORC_PROJECT_CONFIG": str(tmp_path / "x")}
    done = subprocess.run([sys.executable, str(SUITE / "orchestrator_integration.py"), "attention", "list"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "ORC_NOTIFY_COMMAND=" in done.stderr and "fix its quotes" in done.stderr


# --- the agent's own events: turn-failed, usage-limit, exited at once ------------------------


@pytest.mark.parametrize("event, detail, message, reason", [
    ("StopFailure", "rate_limit", "API Error: Request rejected (429) · Number of requests has exceeded your rate limit",
     "turn-failed"),
    ("StopFailure", "overloaded", "API Error: Repeated 529 Overloaded errors", "turn-failed"),
    ("StopFailure", "rate_limit", "You've hit your 5-hour limit · resets 11am (UTC)", "usage-limit"),
    ("StopFailure", "rate_limit", "You've hit your 5-hour limit", "usage-limit"),  # no reset shown
    ("Stop", None, "Done.", None),
])
def test_what_a_failed_turn_is_called(event: str, detail: str, message: str, reason: str | None) -> None:
    from datetime import datetime, timezone

    today = datetime.now(timezone.utc)
    assert attention.failure_reason(event, detail, message, today.replace(hour=9, minute=0).timestamp()) == reason
    if "resets 11am" in message:
        # Past its reset the limit is no reason any more (its message stays on the screen).
        assert attention.failure_reason(event, detail, message, today.replace(hour=12, minute=0).timestamp()) is None


def hook_event(world: World, window: str, role: str, payload: dict[str, object], retry_seconds: str = "0") -> None:
    """Run our hook command for the agent in ``window`` as Claude Code would, with its label."""
    from orc.record.hooks_settings import hook_command

    env = {"PATH": os.environ["PATH"], "TMUX": f"{world.settings.tmux_socket},1,0", "TMUX_PANE": world.panes[window],
           **{k: v for k, v in world.env.items() if k.startswith("ORC_")}, "ORC_TURN_RETRY_SECONDS": retry_seconds}
    done = subprocess.run(["sh", "-c", hook_command(SUITE, world.settings.state_dir, agent=f"shop.{role}")],
                          input=json.dumps({"hook_event_name": payload.pop("hook_event_name"), "session_id": "s1",
                                            **payload}).encode(), env=env, capture_output=True, timeout=10)
    assert (done.returncode, done.stdout) == (0, b"")


def test_a_failed_turn_is_owned_by_the_per_minute_check_too_and_cleared_when_the_agent_moves_on(world: World) -> None:
    subject = "shop/engineer"
    hook_event(world, "Dev", "engineer", {"hook_event_name": "StopFailure", "error": "server_error",
                                          "last_assistant_message": "API Error: 500 Internal server error"})
    # The hook's own background run tells it at once; the per-minute check finds the same item.
    world.told_exactly(subject, "turn-failed", 1)
    world.check()
    world.check_by_command()
    world.told_exactly(subject, "turn-failed", 1)
    assert "server_error" in attention.open_items(world.settings)[(subject, "turn-failed")]["text"]
    # Claude Code's idle reminder a minute later: the agent has not moved on.
    hook_event(world, "Dev", "engineer", {"hook_event_name": "Notification", "notification_type": "idle_prompt"})
    world.check()
    assert (subject, "turn-failed") in attention.open_items(world.settings)
    hook_event(world, "Dev", "engineer", {"hook_event_name": "UserPromptSubmit", "prompt": "carry on"})
    world.check()
    assert (subject, "turn-failed") not in attention.open_items(world.settings)


def test_an_agent_that_exits_is_told_at_once_and_not_again_by_the_check(world: World) -> None:
    subject = "shop/project-manager"
    world.tmux.send_key(world.panes["PM"], "C-c")
    world.tmux.send_key(world.panes["PM"], "C-c")
    wait_for(lambda: world.tmux.pane(world.panes["PM"]).dead, what="the PM to exit")
    hook_event(world, "PM", "project-manager", {"hook_event_name": "SessionEnd", "reason": "other"})
    world.told_exactly(subject, "exited", 1)
    world.check()
    world.check_by_command()
    world.told_exactly(subject, "exited", 1)


def test_a_session_end_while_the_agent_is_respawned_under_the_team_lock_is_no_alarm(world: World) -> None:
    """As `restart` does: the team lock is held from before the kill until the new agent is up."""
    from orc.core.locks import named_lock

    with named_lock(world.settings.state_dir, "team-shop", 30):
        world.tmux.send_key(world.panes["PM"], "C-c")
        world.tmux.send_key(world.panes["PM"], "C-c")
        wait_for(lambda: world.tmux.pane(world.panes["PM"]).dead, what="the PM to exit")
        hook_event(world, "PM", "project-manager", {"hook_event_name": "SessionEnd", "reason": "other"})
        time.sleep(2)  # deliberate: past the background run's grace, so it really waits for the lock
        world.respawn("PM")
    log = world.settings.state_dir / "hooks" / "attention-events.log"
    line = wait_for(lambda: log.exists() and log.read_text().strip(), timeout=20, what="the background outcome")
    assert "not exited" in str(line), line
    assert world.told("shop/project-manager", "exited") == (0, 0, 0)


def test_a_failed_turn_is_matched_to_the_check_in_whose_prompt_began_it(tmp_path: Path, orc_env: dict[str, str]) -> None:
    from orc.teams.attention_events import checkin_for_prompt, failed_prompt_key
    from orc.scheduling.checkins import log as checkin_log
    from orc.record.hook_events import latest_reports
    from orc.record.hooks_settings import hook_command
    from orc.record.prompt_text import prompt_key

    settings = load_settings(orc_env)
    env = {"PATH": os.environ["PATH"], "TMUX": "/tmp/tmux-1000/x,1,0", "TMUX_PANE": "%7"}

    def hook(name: str, **fields: object) -> None:
        time.sleep(0.002)  # deliberate: distinct event times, as real events have
        subprocess.run(["sh", "-c", hook_command(SUITE, settings.state_dir)], check=True, env=env, timeout=10,
                       input=json.dumps({"hook_event_name": name, "session_id": "s", **fields}).encode())

    checkin_text = "[check-in ck-0a1b2c3d due 02:00:00] CHECKIN-3 run the tests"
    checkin_log(settings, "delivered", "ck-0a1b2c3d", target="shop:Dev", pane="%7", prompt=prompt_key(checkin_text))
    hook("UserPromptSubmit", prompt="an earlier message")
    hook("Stop", last_assistant_message="ok")
    hook("UserPromptSubmit", prompt=checkin_text + "  ")  # Claude Code trims it: the key still matches
    hook("PreToolUse", tool_name="Bash")
    hook("StopFailure", error="overloaded", last_assistant_message="API Error: overloaded")
    failure = latest_reports(settings.state_dir)["%7"]
    key = failed_prompt_key(settings, failure)
    assert key == prompt_key(checkin_text)
    assert checkin_for_prompt(settings, key) == "ck-0a1b2c3d"
    # A turn that began with no prompt of its own (after a finished one) blames no check-in.
    hook("Stop", last_assistant_message="done")
    hook("StopFailure", error="overloaded", last_assistant_message="API Error: overloaded")
    assert failed_prompt_key(settings, latest_reports(settings.state_dir)["%7"]) is None
    assert checkin_for_prompt(settings, prompt_key("an earlier message")) is None


def test_a_message_kept_too_long_is_told_once_and_shown_in_status_and_cleared_once_it_goes(world: World) -> None:
    from dataclasses import replace
    from datetime import timedelta

    from orc.messages import mailbox

    assert deliver(world.tmux, world.panes["Dev"], "please RAISE_DIALOG", world.settings).submitted
    wait_for(lambda: look(world.tmux, world.panes["Dev"]).state == "waiting", what="the dialog")
    kept = mailbox.keep(world.settings, "shop:Dev", world.tmux.pane(world.panes["Dev"]), "for later", "dialog")
    world.check()
    world.told_exactly(kept.id, "message-kept", 0)  # younger than ORC_QUEUE_MAX_AGE
    # As if it had been kept for two hours (the record is the suite's clock for it).
    mailbox.save(world.settings, replace(kept, queued_at=kept.queued_at - timedelta(hours=2)))
    world.check()
    world.check()
    world.told_exactly(kept.id, "message-kept", 1)
    status = world.check_status()
    assert re.search(r"engineer .*\[1 message\(s\) kept for it, oldest 2h0\dm ago\]", status), status
    assert mailbox.read(world.settings, kept.id) is not None  # told, never dropped
    mailbox.cancel(world.settings, [kept.id])
    world.check()
    assert (kept.id, "message-kept") not in attention.open_items(world.settings)


def test_a_turn_failed_nudge_is_done_once_by_the_check_when_the_run_waiting_for_it_was_killed(world: World) -> None:
    """Nothing only in memory: the nudge waits in a file (turn-retries/<label>.pending)."""
    failed_at = time.time()
    hook_event(world, "Dev", "engineer", {"hook_event_name": "StopFailure", "error": "server_error",
                                          "last_assistant_message": "API Error: 500 Internal server error"},
               retry_seconds="6")
    pending = world.settings.state_dir / "turn-retries" / "shop.engineer.pending"
    wait_for(pending.exists, what="the nudge's record")
    # The background run that waits for it dies (a kill, a reboot): SIGKILL, no cleanup.
    waiting = subprocess.run(["pgrep", "-f", f"attention-event failed --state-dir {world.settings.state_dir}"],
                             capture_output=True, text=True).stdout.split()
    assert waiting, "the background run was not found"
    for pid in waiting:
        os.kill(int(pid), 9)
    assert "turn-retry" not in world.check_by_command()  # not due yet
    assert pending.exists()
    time.sleep(max(0.0, failed_at + 6.5 - time.time()))
    out = world.check_by_command()
    assert "turn-retry: nudged (by the per-minute check" in out, out
    assert "turn-retry" not in world.check_by_command()  # once
    nudges = [t for t in submitted(world.tmp / "Dev.jsonl") if t.startswith("Your last turn ended with an API error")]
    assert len(nudges) == 1 and "server_error" in nudges[0]
    assert not pending.exists()
