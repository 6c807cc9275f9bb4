"""End to end under a real cron daemon: schedule_with_note.sh writes the user's real
crontab, cron runs the line in its bare environment, the fake agent receives the note.

The daemon is started for the session when none runs and the tests run as root (as in
CI), and stopped afterwards; elsewhere the tier is skipped with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from support import run_script, wait_for
from orc.checkins import done_dir, parse_record
from orc.crontab_store import cron_daemon_running, split_table

pytestmark = pytest.mark.e2e

USERS_LINES = "# the user's own line, kept as is\n0 4 * * * /usr/bin/true\n"


def find_cron() -> str | None:
    for name in ("/usr/sbin/cron", "/usr/sbin/crond"):
        if os.access(name, os.X_OK):
            return name
    return shutil.which("cron") or shutil.which("crond")


@pytest.fixture(scope="session")
def cron_daemon() -> Iterator[None]:
    """A running cron daemon: the machine's own, or one started here and stopped after."""
    if cron_daemon_running():
        yield
        return
    if os.geteuid() != 0:
        pytest.skip("no cron daemon runs and starting one needs root (CI runs as root); "
                    "start it with `sudo service cron start` to run this tier")
    binary = find_cron()
    if binary is None:
        pytest.skip("cron is not installed (Debian: apt-get install cron; `make system` installs it)")
    # -f: stay in the foreground as our child, so we stop exactly the daemon we started.
    daemon = subprocess.Popen([binary, "-f"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(cron_daemon_running, timeout=10, what=f"{binary} to start")
        # The daemon reads the tables as it starts and then notices changes by the spool
        # folder's mtime, to the second: a table written in that same second would go unseen.
        time.sleep(2)
        yield
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=10)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()


def crontab(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["crontab", *args], input=input, capture_output=True, text=True, timeout=30)


@pytest.fixture
def real_crontab() -> Iterator[None]:
    saved = crontab("-l")
    assert crontab("-", input=USERS_LINES).returncode == 0
    try:
        yield
    finally:
        if saved.returncode == 0:
            crontab("-", input=saved.stdout)
        else:
            crontab("-r")


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

    wait_for(lambda: (done_dir_file := done_dir_path(state, checkin_id)).exists(), timeout=150,
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
