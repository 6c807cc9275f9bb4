"""First-hour edges a new user meets: a long note, a due time on another day (in
tests/test_copy_move_edit.py), counts that are not counts, colour in a file, the demo's
help and hint, and `make test` where the Claude Code CLI cannot be installed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from support import SUITE, run_script, wait_for
from orc.scheduling.checkins import read_checkin, save_checkin, schedule_checkin
from orc.core.settings import load_settings


def test_a_note_over_the_cap_is_kept_and_delivered_as_a_pointer_to_its_file(orc_env: dict[str, str], tmp_path: Path,
                                                                          start_agent) -> None:
    agent = start_agent()
    env = {**orc_env, "ORC_CRONTAB_FILE": str(tmp_path / "crontab")}
    note = "Long review notes\n" + "x" * 20000
    done = run_script("schedule_with_note.sh", "30", note, "team:0", env=env)
    assert done.returncode == 0, done.stderr
    settings = load_settings(env)
    checkin_id = next(w for w in done.stdout.split() if w.startswith("ck-"))
    checkin = read_checkin(settings, checkin_id)
    assert checkin is not None and checkin.note == note  # kept whole
    save_checkin(settings, replace(checkin, due=datetime.now(timezone.utc).astimezone().replace(microsecond=0)
                                   - timedelta(seconds=1)))
    fired = subprocess.run([sys.executable, str(SUITE / "orc"), "fire", "--sweep"], env=env, capture_output=True,
                           text=True, timeout=120)
    assert fired.returncode == 0, fired.stderr
    wait_for(agent.submitted, what="the pointer to arrive")
    [typed] = agent.submitted()
    assert typed.startswith(f"[check-in {checkin_id} due ") and "too long to type here" in typed
    saved = Path(typed.rsplit("Read the full text in ", 1)[1].rstrip("]"))
    assert saved.read_text().rstrip("\n").endswith(note) and saved.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("count", ["-3", "0", "two"])
def test_a_count_that_is_not_a_count_is_bad_usage(orc_env: dict[str, str], count: str) -> None:
    done = subprocess.run([sys.executable, str(SUITE / "tmux_utils.py"), "--lines", count], env=orc_env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert "tmux_utils.py: error: argument --lines" in done.stderr


def test_the_demo_speaks_plainly_into_a_file_and_its_help_lists_keep() -> None:
    helped = subprocess.run([sys.executable, str(SUITE / "tools" / "demo.py"), "--help"], capture_output=True,
                            text=True, timeout=60)
    assert helped.returncode == 0 and "--keep" in helped.stdout and "attach" in helped.stdout
    probe = ("import sys; sys.argv=['demo']; sys.path.insert(0, 'tools'); import demo; demo.say('hello')")
    for extra in ({}, {"NO_COLOR": "1"}):
        out = subprocess.run([sys.executable, "-c", probe], cwd=SUITE, env={**os.environ, **extra},
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and out.stdout == "\n==> hello\n", out  # stdout is a pipe: no escapes


def test_colour_on_a_terminal_unless_no_color() -> None:
    """A pseudo-terminal for stdout: bold heading; with NO_COLOR none."""
    import pty

    probe = "import sys; sys.path.insert(0, 'tools'); import demo; demo.say('hello')"
    for extra, escaped in (({}, True), ({"NO_COLOR": "1"}, False)):
        leader, follower = pty.openpty()
        proc = subprocess.Popen([sys.executable, "-c", probe], cwd=SUITE, env={**os.environ, **extra},
                                stdout=follower, stderr=subprocess.PIPE)
        os.close(follower)
        assert proc.wait(timeout=60) == 0
        output = b""
        try:
            while chunk := os.read(leader, 4096):
                output += chunk
        except OSError:
            pass
        os.close(leader)
        assert (b"\x1b[1m" in output) is escaped and b"==> hello" in output


def test_make_test_without_the_claude_cli_names_the_failure_and_the_fast_tier(tmp_path: Path) -> None:
    """Fault injection: PATH without npm and an uninstalled version, as on a machine where the
    package cannot be installed. `make claude` (which `make test` runs first) still fails."""
    if not shutil.which("make"):
        pytest.skip("make is not installed")
    bare = tmp_path / "bin"
    bare.mkdir()
    for tool in ("bash", "uname", "awk", "dirname", "readlink", "mkdir"):
        found = shutil.which(tool)
        if found:
            (bare / tool).symlink_to(found)
    # Run as a top-level make even under `make test` (MAKELEVEL would add "[1]" to its lines).
    env = {**{k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")},
           "PATH": str(bare), "CLAUDE_CODE_VERSION": "0.0.0-not-published"}
    done = subprocess.run([shutil.which("make") or "make", "-s", "claude"], cwd=SUITE, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode != 0
    ours = [line for line in done.stderr.splitlines() if not re.match(r"make(\[\d+\])?: \*\*\*", line)]
    assert ours[-1].startswith("make: the Claude Code CLI could not be installed") and "make test-fast" in ours[-1]
