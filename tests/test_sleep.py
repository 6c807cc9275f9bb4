"""A laptop that slept for six hours: the suite's clock jumps at once (docs/scheduling.md,
"A sleeping laptop"; docs/attention.md, "The per-minute check").

The jump is real for the suite's own processes: the sweep and the per-minute check run under
``faketime`` six hours ahead (installed by ``make test``), while tmux, the agents and the
records written before stay on the machine's clock, as they do when a laptop wakes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from support import SUITE, wait_for
from test_attention import World
from tmux_utils import Tmux
from orc.core.settings import Settings, load_settings
from orc.messages.delivery import deliver
from orc.record.snapshot import look
from orc.scheduling.checkins import done_dir, parse_record, pending_checkins, read_checkin, schedule_checkin
from orc.teams import attention


def six_hours_later(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run one of the suite's commands with its clock six hours ahead."""
    faketime = shutil.which("faketime")
    assert faketime, "faketime is missing: `make test-tools` installs it"
    # Its monotonic clock moves with it (libfaketime's sleeps fail with it held still).
    return subprocess.run([faketime, "-f", "+6h", *argv], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def env(orc_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**orc_env, "ORC_CRONTAB_FILE": str(tmp_path / "crontab")}


def test_after_six_hours_asleep_each_missed_check_in_comes_once_late_and_a_recurring_one_once(
        env: dict[str, str], start_agent, tmux: Tmux) -> None:
    agent = start_agent()
    settings: Settings = load_settings(env)
    one = schedule_checkin(settings, 30, "the one due in half an hour", "team:0")
    two = schedule_checkin(settings, 120, "the one due in two hours", "team:0")
    hourly = schedule_checkin(settings, 60, "the hourly one", "team:0", every_minutes=60)
    sweep = [sys.executable, str(SUITE / "orc"), "fire", "--sweep"]
    done = six_hours_later(sweep, env)
    assert done.returncode == 0, done.stderr
    # The agent takes one at a time; each later sweep (cron's next minutes) finds what is left.
    for _ in range(5):
        if len(agent.submitted()) >= 3:
            break
        wait_for(lambda: look(tmux, agent.pane.pane_id).state == "idle", what="the agent idle again")
        assert six_hours_later(sweep, env).returncode == 0
    texts = agent.submitted()
    assert len(texts) == 3, texts
    for checkin in (one, two, hourly):
        mine = [t for t in texts if t.startswith(f"[check-in {checkin.id} due ")]
        assert len(mine) == 1 and ", LATE by " in mine[0], (checkin.id, texts)
    # Each one-off done; the recurring one is set for one slot after the shifted now, not
    # once per missed slot (six of them).
    for checkin in (one, two):
        assert parse_record((done_dir(settings) / f"{checkin.id}.txt").read_text()).state == "delivered"
    again = read_checkin(settings, hourly.id)
    assert again is not None and again.state == "pending"
    woke_at = datetime.now(timezone.utc) + timedelta(hours=6)
    assert timedelta(0) < again.due - woke_at <= timedelta(minutes=60), (again.due, woke_at)
    assert (again.due - hourly.due) % timedelta(minutes=60) == timedelta(0)  # still on its own slots
    assert [c.id for c in pending_checkins(settings)] == [hourly.id]
    assert six_hours_later(sweep, env).returncode == 0  # the next minute: nothing more
    assert len(agent.submitted()) == 3


def test_what_needs_a_person_after_six_hours_asleep_is_one_summary_not_one_message_each(
        tmux: Tmux, tmp_path: Path, orc_env: dict[str, str]) -> None:
    world = World(tmux, tmp_path, orc_env)
    check = [sys.executable, str(SUITE / "orchestrator_integration.py"), "attention", "check"]
    assert deliver(world.tmux, world.panes["Dev"], "please RAISE_DIALOG", world.settings).submitted
    wait_for(lambda: look(world.tmux, world.panes["Dev"]).state == "waiting", what="the dialog")
    world.check_by_command()  # the last check before the lid closed: the dialog is seen, too new to tell
    assert world.told("shop/engineer", "dialog") == (0, 0, 0)
    world.tmux.send_key(world.panes["PM"], "C-c")  # the project manager exits while the laptop sleeps
    world.tmux.send_key(world.panes["PM"], "C-c")
    wait_for(lambda: world.tmux.pane(world.panes["PM"]).dead, what="the PM to exit")
    done = six_hours_later(check, world.env)
    assert done.returncode == 0, done.stderr
    # Both raised and logged, each open, but told in one summary on both paths.
    items = attention.open_items(world.settings)
    assert ("shop/engineer", "dialog") in items and ("shop/project-manager", "exited") in items
    assert world.told("shop/engineer", "dialog") == (1, 0, 0)
    assert world.told("shop/project-manager", "exited") == (1, 0, 0)
    wait_for(lambda: world.told("wake", "summary")[1:] == (1, 1), timeout=15, what="one summary on both paths")
    summary = [line for line in attention.log_path(world.settings).read_text().splitlines() if " summary " in line]
    assert len(summary) == 1 and "no check had run for 6h" in summary[0] and "2 item(s)" in summary[0]
    assert "shop/engineer (dialog)" in summary[0] and "shop/project-manager (exited)" in summary[0]
    assert six_hours_later(check, world.env).returncode == 0  # a minute later: nothing new, no second summary
    assert len([line for line in attention.log_path(world.settings).read_text().splitlines()
                if " summary " in line]) == 1
