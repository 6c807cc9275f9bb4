"""schedule_with_note.sh under a real cron daemon into the real Claude Code 2.1.x
(offline, tests/e2e/conftest.py): the check-in arrives as one exact prompt within 5 s
of its due second, and a permission dialog is never answered by it."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from orc.checkins import parse_record
from support import run_script, wait_for
from test_cron_daemon import cron_daemon, minutes_until_second, real_crontab  # noqa: F401,F811  (fixtures, found by name)
from tmux_utils import Tmux

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
    import subprocess
    import sys
    from dataclasses import replace
    from datetime import datetime, timedelta, timezone

    from orc.checkins import read_checkin, save_checkin, schedule_checkin
    from orc.settings import load_settings
    from support import SUITE

    env = {**orc_env, "ORC_CRONTAB_FILE": str(tmp_path / "crontab"), "ORC_CHECKIN_RETRY_SECONDS": "1"}
    settings = load_settings(env)
    claude = start_claude()
    marker = claude.workdir / "tool-ran.txt"
    claude.api.script_next_reply_tool_use("Bash", {"command": f"touch {marker}", "description": "make a marker"})
    assert run_script("send_message.sh", "team:claude", "please run the tool", env=orc_env).returncode == 0
    wait_for(lambda: tmux.look(claude.pane.pane_id).state == "waiting", timeout=30, what="the permission dialog")

    checkin = schedule_checkin(settings, 30, "status please", "team:claude")
    due = datetime.now(timezone.utc).astimezone().replace(microsecond=0) - timedelta(seconds=1)
    save_checkin(settings, replace(checkin, due=due))

    def fire(*args: str) -> int:
        return subprocess.run([sys.executable, str(SUITE / "orc"), "fire", *args], env=env,
                              capture_output=True, text=True, timeout=120).returncode

    assert fire(checkin.id) == 0
    assert read_checkin(settings, checkin.id).state == "deferred"  # type: ignore[union-attr]
    time.sleep(1.0)  # a deliberate window in which an approved tool would have run
    assert not marker.exists() and claude.api.tool_results() == []

    tmux.send_key(claude.pane.pane_id, "Escape")
    wait_for(lambda: tmux.look(claude.pane.pane_id).state == "idle", timeout=30, what="idle after declining")
    time.sleep(1.1)  # ORC_CHECKIN_RETRY_SECONDS=1
    assert fire("--sweep") == 0
    turns = claude.api.wait_for_turns(2, timeout=30)
    assert turns == ["please run the tool", f"[check-in {checkin.id} due {due:%H:%M:%S}] status please"]
    assert fire("--sweep") == 0
    assert not marker.exists()
