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
from orc.checkins import parse_record
from orc.crontab_store import split_table

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
