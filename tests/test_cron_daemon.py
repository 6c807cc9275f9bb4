"""End to end under a real cron daemon: schedule_with_note.sh writes the user's real
crontab, cron runs the line in its bare environment, the fake agent receives the note.

The daemon is started for the session when none runs and the tests run as root (as in
CI), and stopped afterwards; elsewhere the tier is skipped with the reason.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from support import crontab, cron_daemon_started, run_script, users_crontab_replaced, wait_for
from orc.scheduling.checkins import parse_record
from orc.scheduling.crontab_store import split_table

pytestmark = pytest.mark.e2e

USERS_LINES = "# the user's own line, kept as is\n0 4 * * * /usr/bin/true\n"


@pytest.fixture(scope="module")
def cron_daemon() -> Iterator[None]:
    """A running cron daemon: the machine's own, or one started here and stopped after the
    module (so later modules see a machine without one, as the no-cron warning test needs).
    Under CI (which runs as root) not getting one is a failure, never a skip."""
    with cron_daemon_started() as missing:
        if missing:
            (pytest.fail if os.environ.get("CI") else pytest.skip)(missing)
        yield


@pytest.fixture
def real_crontab() -> Iterator[None]:
    with users_crontab_replaced(USERS_LINES):
        yield


def minutes_until_second(seconds_past_minute: int = 8) -> float:
    """The shortest delay whose due second falls in a minute cron has yet to start, with
    time for the table to be written before that minute begins."""
    now = datetime.now()
    target = now.replace(second=0, microsecond=0) + timedelta(minutes=1, seconds=seconds_past_minute)
    if (target - now).total_seconds() < seconds_past_minute + 6:
        target += timedelta(minutes=1)
    return round((target - now).total_seconds() / 60, 4)


def test_cron_delivers_a_checkin_within_5s_of_its_due_second(cron_daemon: None, real_crontab: None,
                                                            orc_env: dict[str, str], start_agent) -> None:
    agent = start_agent()
    note = "E2E check-in\nsecond line stays"
    done = run_script("schedule_with_note.sh", str(minutes_until_second()), note, "team:0", env=orc_env)
    assert done.returncode == 0, done.stderr
    assert "no cron daemon" not in done.stderr
    checkin_id = re.search(r"check-in (ck-[0-9a-f]{8})", done.stdout).group(1)  # type: ignore[union-attr]
    state = Path(orc_env["ORC_STATE_DIR"])
    due = parse_record((state / "checkins" / f"{checkin_id}.txt").read_text()).due
    listed = crontab("-l").stdout
    assert listed.startswith(USERS_LINES) and f"# orc:{checkin_id} check-in due" in listed

    wait_for(lambda: done_dir_path(state, checkin_id).exists(), timeout=150,
             interval=0.2, what=f"cron to deliver {checkin_id} (cron log: {state / 'cron.log'})")
    submitted = [e for e in agent.events() if e.get("event") == "submitted"]
    assert [e["text"] for e in submitted] == [f"[check-in {checkin_id} due {due.astimezone():%H:%M:%S}] {note}"]
    lag = float(submitted[0]["t"]) - due.timestamp()  # type: ignore[arg-type]
    assert -0.5 <= lag < 5, f"delivered {lag:.1f}s after the due second"
    assert parse_record(done_dir_path(state, checkin_id).read_text()).state == "delivered"
    # The one-shot line went; no check-in is pending, so the sweep lines went too.
    wait_for(lambda: not any(j.startswith(("ck-", "orc-")) for j in split_table(crontab("-l").stdout)[1]),
             what="the suite's lines to leave the crontab")
    assert crontab("-l").stdout == USERS_LINES


def done_dir_path(state: Path, checkin_id: str) -> Path:
    return state / "checkins" / "done" / f"{checkin_id}.txt"


def test_after_a_downtime_cron_delivers_it_once_marked_late(cron_daemon: None, real_crontab: None,
                                                          orc_env: dict[str, str], start_agent) -> None:
    """The machine was off at the due time: the record says due 3 minutes ago (it is plain
    text by design). Cron's own sweep line delivers it at its next minute, once, marked late."""
    agent = start_agent()
    done = run_script("schedule_with_note.sh", "10", "missed while asleep", "team:0", env=orc_env)
    assert done.returncode == 0, done.stderr
    checkin_id = re.search(r"check-in (ck-[0-9a-f]{8})", done.stdout).group(1)  # type: ignore[union-attr]
    state = Path(orc_env["ORC_STATE_DIR"])
    record = state / "checkins" / f"{checkin_id}.txt"
    overdue = (datetime.now().astimezone() - timedelta(minutes=3)).replace(microsecond=0)
    record.write_text(re.sub(r"(?m)^due: .*$", f"due: {overdue.isoformat()}", record.read_text()))

    wait_for(lambda: done_dir_path(state, checkin_id).exists(), timeout=150, interval=0.2,
             what=f"cron's sweep to deliver {checkin_id} (cron log: {state / 'cron.log'})")
    [text] = agent.submitted()
    assert text.startswith(f"[check-in {checkin_id} due {overdue:%H:%M:%S}, LATE by 3m")
    assert text.endswith("] missed while asleep")
    assert "late" in (state / "checkins.log").read_text()
    wait_for(lambda: not any(j.startswith(("ck-", "orc-")) for j in split_table(crontab("-l").stdout)[1]),
             timeout=90, what="the suite's lines to leave the crontab")
    assert agent.submitted() == [text]  # the check-in's own line, if it ran, found nothing to do


def _scheduled(done: "subprocess.CompletedProcess[str]") -> str:
    assert done.returncode == 0, done.stderr
    return re.search(r"check-in (ck-[0-9a-f]{8})", done.stdout).group(1)  # type: ignore[union-attr]


def _schedule_in(folder: Path, env: dict[str, str], *args: str) -> "subprocess.CompletedProcess[str]":
    import subprocess

    return subprocess.run([str(folder / "schedule_with_note.sh"), *args], env=env, capture_output=True, text=True,
                          timeout=120, cwd=str(folder))


def test_copied_moved_and_hand_edited_folders_under_a_real_cron_daemon(cron_daemon: None, real_crontab: None,
                                                                       orc_env: dict[str, str], tmp_path: Path,
                                                                       start_agent) -> None:
    """The issue's four stories at once, each suite folder with its state inside it:
    `cp -r` with a check-in pending (the original's arrives once, the copy's own once);
    `mv` with one pending (arrives once after one command in the new place, no line names
    the old path); a line deleted by hand (never delivered); a line retimed by hand
    (delivered at the new time)."""
    import shutil

    from support import copy_suite

    agent = start_agent()
    env = {k: v for k, v in orc_env.items() if k != "ORC_STATE_DIR"}
    minutes = str(minutes_until_second(8) + 1)  # room for the set-up before cron's minute

    original = copy_suite(tmp_path / "original")
    first = _scheduled(_schedule_in(original, env, minutes, "from the original", "team:0"))
    copy = tmp_path / "copy"
    shutil.copytree(original, copy, symlinks=True)
    own = _schedule_in(copy, env, minutes, "from the copy", "team:0")
    assert "copied from" in own.stderr
    copys = _scheduled(own)

    before = copy_suite(tmp_path / "before")
    moving = _scheduled(_schedule_in(before, env, minutes, "moved along", "team:0"))
    after = tmp_path / "after"
    before.rename(after)
    assert moving in _schedule_in(after, env, "--list").stdout  # the one command in the new place
    assert str(before) not in crontab("-l").stdout

    edited = copy_suite(tmp_path / "edited")
    deleted = _scheduled(_schedule_in(edited, env, minutes, "deleted by hand", "team:0"))
    retimed = _scheduled(_schedule_in(edited, env, minutes, "retimed by hand", "team:0"))
    table = crontab("-l").stdout
    retimed_job = split_table(table)[1][retimed]
    minute, hour, day, month, _ = retimed_job.schedule.split()
    new_time = datetime.now().replace(month=int(month), day=int(day), hour=int(hour), minute=int(minute), second=0,
                                      microsecond=0) + timedelta(minutes=1)
    new_schedule = f"{new_time.minute} {new_time.hour} {new_time.day} {new_time.month} *"
    by_hand = "".join(
        "" if f"# orc:{deleted} " in line
        else (line.replace(retimed_job.schedule, new_schedule, 1) if f"# orc:{retimed} " in line else line) + "\n"
        for line in table.splitlines())
    assert crontab("-", input=by_hand).returncode == 0  # a person's `crontab -e`

    def has(checkin_id: str) -> bool:
        return any(f"[check-in {checkin_id} " in text for text in agent.submitted())

    wait_for(lambda: all(has(i) for i in (first, copys, moving)), timeout=180, interval=0.5,
             what="the original's, the copy's and the moved folder's check-ins")
    wait_for(lambda: has(retimed), timeout=150, interval=0.5, what="the retimed check-in")
    seen = datetime.now().astimezone()
    assert -1 <= (seen - new_time.astimezone()).total_seconds() < 15, "not delivered at the time set by hand"
    wait_for(lambda: not any(j.startswith(("ck-", "orc-")) for j in split_table(crontab("-l").stdout)[1]),
             timeout=90, what="the suite's lines to leave the crontab")
    texts = agent.submitted()
    for checkin_id in (first, copys, moving, retimed):
        assert sum(f"[check-in {checkin_id} " in t for t in texts) == 1, (checkin_id, texts)
    assert not has(deleted)
    assert parse_record((edited / "state" / "checkins" / "done" / f"{deleted}.txt").read_text()).state == "cancelled"
    assert str(before) not in crontab("-l").stdout and crontab("-l").stdout == USERS_LINES


def test_a_team_with_a_shell_and_a_dev_server_deploys_and_cron_runs_its_backup(
        cron_daemon: None, real_crontab: None, orc_env: dict[str, str], tmp_path: Path, tmux) -> None:  # type: ignore[no-untyped-def]
    """Issue 23's done-when: Claude Code (the fake agent), `exec bash --norc` and a
    long-running server in one team deploy; the backup line the deploy installed in the real
    crontab is run by the real cron daemon; stop takes the lines out again."""
    import subprocess

    from test_team import fake_agent, integration, mixed_team, repo_with_spec, write_config

    repo = repo_with_spec(tmp_path / "webapp")
    pm, _ = fake_agent(tmp_path, "pm")
    write_config(tmp_path, {"webapp": mixed_team(tmp_path, repo, pm, git_commit_interval=60)})
    env = {**orc_env, "ORC_PROJECT_CONFIG": str(tmp_path / "project_configs.json"), "SHELL": "/bin/sh"}
    done = integration("deploy", "webapp", "--ready-timeout", "20", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not any(p.dead for p in tmux.list_panes()) and len(tmux.list_windows()) == 5
    assert "# orc:bk-webapp" in crontab("-l").stdout
    (repo / "app.py").write_text("print('work cron keeps')\n")

    def backed_up() -> bool:
        shown = subprocess.run(["git", "-C", str(repo), "show", "refs/orc/backup/main:app.py"], capture_output=True,
                               text=True)
        return shown.returncode == 0 and "work cron keeps" in shown.stdout

    wait_for(backed_up, timeout=150, interval=1.0, what="cron to run the backup line")
    assert "backup" in (Path(env["ORC_STATE_DIR"]) / "git.log").read_text()
    assert not any(p.dead for p in tmux.list_panes())  # the shell and the server still run
    stopped = integration("stop", "webapp", "--kill", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert crontab("-l").stdout == USERS_LINES


def test_cron_backs_up_each_engineers_worktree_to_its_own_branch_only(
        cron_daemon: None, real_crontab: None, orc_env: dict[str, str], tmp_path: Path, tmux) -> None:  # type: ignore[no-untyped-def]
    """Issue 20's done-when: the backup line deploy installed, run by the real cron daemon,
    snapshots each engineer's worktree to that engineer's branch's backup ref; no branch moves."""
    import subprocess

    from test_gitops import sh
    from test_team import integration, repo_with_spec
    from test_worktrees import ENGINEERS, folder_of, worktree_project

    repo = repo_with_spec(tmp_path / "webapp")
    worktree_project(tmp_path, repo, git_commit_interval=60)
    env = {**orc_env, "ORC_PROJECT_CONFIG": str(tmp_path / "project_configs.json"), "SHELL": "/bin/sh"}
    done = integration("deploy", "webapp", "--ready-timeout", "20", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "# orc:bk-webapp" in crontab("-l").stdout
    tips = {role: sh(repo, "rev-parse", f"orc/{role}") for role in ENGINEERS}
    for role in ENGINEERS:
        (folder_of(repo, role) / "app.py").write_text(f"print('{role} under cron')\n")

    def backed_up(role: str) -> bool:
        shown = subprocess.run(["git", "-C", str(repo), "show", f"refs/orc/backup/orc/{role}:app.py"],
                               capture_output=True, text=True)
        return shown.returncode == 0 and f"{role} under cron" in shown.stdout

    wait_for(lambda: all(backed_up(role) for role in ENGINEERS), timeout=150, interval=1.0,
             what="cron to back up both worktrees")
    assert {role: sh(repo, "rev-parse", f"orc/{role}") for role in ENGINEERS} == tips
    for role, other in (ENGINEERS, ENGINEERS[::-1]):
        assert other not in sh(repo, "show", f"refs/orc/backup/orc/{role}:app.py")
    assert sh(repo, "rev-parse", "-q", "--verify", "refs/orc/backup/main", check=False) == ""
    assert (repo / "app.py").read_text() == "print('v1')\n"
    stopped = integration("stop", "webapp", "--kill", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert crontab("-l").stdout == USERS_LINES
