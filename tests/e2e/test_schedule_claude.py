"""schedule_with_note.sh under a real cron daemon into the real Claude Code 2.1.x
(offline, tests/e2e/conftest.py): the check-in arrives as one exact prompt within 5 s
of its due second, and a permission dialog is never answered by it."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from orc.scheduling.checkins import parse_record
from support import run_script, wait_for
from test_cron_daemon import cron_daemon, minutes_until_second, real_crontab  # noqa: F401,F811  (fixtures, found by name)
from tmux_utils import Tmux
from orc.record.snapshot import look

pytestmark = pytest.mark.e2e


def test_cron_delivers_a_checkin_to_claude_code_within_5s(cron_daemon: None, real_crontab: None,  # noqa: F811
                                                          start_claude, orc_env: dict[str, str]) -> None:
    claude = start_claude()
    note = "E2E check-in for Claude\nsecond line stays"
    done = run_script("schedule_with_note.sh", str(minutes_until_second()), note, "team:claude", env=orc_env)
    assert done.returncode == 0, done.stderr
    checkin_id = re.search(r"check-in (ck-[0-9a-f]{8})", done.stdout).group(1)  # type: ignore[union-attr]
    state = Path(orc_env["ORC_STATE_DIR"])
    due = parse_record((state / "checkins" / f"{checkin_id}.txt").read_text()).due
    turns = claude.api.wait_for_turns(1, timeout=150)
    seen = time.time()
    assert turns == [f"[check-in {checkin_id} due {due.astimezone():%H:%M:%S}] {note}"]
    # The API saw the prompt at most a poll after Claude sent it: an upper bound on the lag.
    assert seen - due.timestamp() < 5, f"the prompt reached the API {seen - due.timestamp():.1f}s after the due second"
    wait_for(lambda: (state / "checkins" / "done" / f"{checkin_id}.txt").exists(), what="the record to be closed")
    assert claude.api.tool_results() == []


def test_a_checkin_waits_while_claudes_dialog_shows(start_claude, orc_env: dict[str, str], tmux: Tmux,
                                                    tmp_path: Path) -> None:
    """No daemon needed: the fire command is what cron runs; time passes by editing the record."""
    from orc.scheduling.checkins import read_checkin
    from orc.core.settings import load_settings
    from support import checkin_due_now, fire

    env = {**orc_env, "ORC_CRONTAB_FILE": str(tmp_path / "crontab"), "ORC_CHECKIN_RETRY_SECONDS": "1"}
    settings = load_settings(env)
    claude = start_claude(permission_mode="default")  # manual: the tool call asks in the dialog
    marker = claude.workdir / "tool-ran.txt"
    claude.api.script_next_reply_tool_use("Bash", {"command": f"touch {marker}", "description": "make a marker"})
    assert run_script("send_message.sh", "team:claude", "please run the tool", env=orc_env).returncode == 0
    wait_for(lambda: look(tmux, claude.pane.pane_id).state == "waiting", timeout=30, what="the permission dialog")

    checkin = checkin_due_now(settings, "status please", "team:claude")
    assert fire(env, checkin.id).returncode == 0
    assert read_checkin(settings, checkin.id).state == "deferred"  # type: ignore[union-attr]
    time.sleep(1.0)  # a deliberate window in which an approved tool would have run
    assert not marker.exists() and claude.api.tool_results() == []

    tmux.send_key(claude.pane.pane_id, "Escape")
    wait_for(lambda: look(tmux, claude.pane.pane_id).state == "idle", timeout=30, what="idle after declining")
    time.sleep(1.1)  # ORC_CHECKIN_RETRY_SECONDS=1
    assert fire(env, "--sweep").returncode == 0
    turns = claude.api.wait_for_turns(2, timeout=30)
    assert turns == ["please run the tool", f"[check-in {checkin.id} due {checkin.due:%H:%M:%S}] status please"]
    assert fire(env, "--sweep").returncode == 0
    assert not marker.exists()


def test_a_copied_and_a_moved_folder_deliver_each_checkin_once_to_claude_code(  # noqa: F811
        cron_daemon: None, real_crontab: None, start_claude, orc_env: dict[str, str], tmp_path: Path) -> None:
    """Under a real cron daemon into the real Claude Code: `cp -r` of a folder with a
    check-in pending (the original's arrives once, the copy's own once) and `mv` of a folder
    with one pending (it arrives once after one command in the new place, and no crontab
    line names the old path). docs/copy-and-move.md."""
    import shutil

    from support import copy_suite, crontab
    from test_cron_daemon import _schedule_in, _scheduled

    claude = start_claude()
    env = {k: v for k, v in orc_env.items() if k != "ORC_STATE_DIR"}
    minutes = str(minutes_until_second(8) + 1)
    original = copy_suite(tmp_path / "original")
    first = _scheduled(_schedule_in(original, env, minutes, "from the original", "team:claude"))
    copy = tmp_path / "copy"
    shutil.copytree(original, copy, symlinks=True)
    copys = _scheduled(_schedule_in(copy, env, minutes, "from the copy", "team:claude"))
    before = copy_suite(tmp_path / "before")
    moving = _scheduled(_schedule_in(before, env, minutes, "moved along", "team:claude"))
    after = tmp_path / "after"
    before.rename(after)
    assert moving in _schedule_in(after, env, "--list").stdout
    assert str(before) not in crontab("-l").stdout

    # Due at the same second, they may reach the model as one turn (Claude Code queues what
    # arrives while it is busy and sends it together): count each id in everything received.
    ids = (first, copys, moving)
    wait_for(lambda: all(f"[check-in {i} " in "".join(claude.api.turns()) for i in ids), timeout=200,
             interval=0.5, what="the original's, the copy's and the moved folder's check-ins")
    for state in (original / "state", copy / "state", after / "state"):  # then the counts below are final
        wait_for(lambda: not list((state / "checkins").glob("ck-*.txt")), timeout=90,  # noqa: B023
                 what=f"the records in {state} to be closed")
    received = "".join(claude.api.turns())
    for checkin_id in ids:
        assert received.count(f"[check-in {checkin_id} ") == 1, (checkin_id, received)
    assert str(before) not in crontab("-l").stdout
