"""schedule_with_note.sh as a user and an agent run it: a real tmux server per test, the
launcher run as a program, a scratch crontab file (ORC_CRONTAB_FILE) for speed; the real
`crontab` binary in the tests marked so below."""

from __future__ import annotations

import os
import re
import shlex
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from support import SUITE, crontab, run_script, users_crontab_replaced, wait_for
from orc.scheduling.checkins import parse_record
from orc.scheduling.crontab_store import cron_daemon_running, split_table
from tmux_utils import Tmux

NOTE = "Review auth implementation, assign next task"


@pytest.fixture
def env(orc_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**orc_env, "ORC_CRONTAB_FILE": str(tmp_path / "crontab")}


def schedule(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_script("schedule_with_note.sh", *args, env=env)


def table(env: dict[str, str]) -> str:
    path = Path(env["ORC_CRONTAB_FILE"])
    return path.read_text() if path.exists() else ""


def checkin_ids(env: dict[str, str]) -> list[str]:
    _, jobs = split_table(table(env))
    return sorted(job_id for job_id in jobs if job_id.startswith("ck-"))


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (except lock files, which a run may create) with its bytes."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix != ".lock"}


def scheduled_id(done: subprocess.CompletedProcess[str]) -> str:
    match = re.search(r"check-in (ck-[0-9a-f]{8})", done.stdout)
    assert match, done.stdout + done.stderr
    return match.group(1)


def test_documented_usage_prints_what_the_original_did_and_writes_one_line(env: dict[str, str], start_agent) -> None:
    start_agent()
    before = datetime.now().replace(microsecond=0)
    done = schedule(env, "30", NOTE, "team:0")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"Scheduling check in 30 minutes with note: {NOTE}"
    checkin_id = scheduled_id(done)
    run_at = re.fullmatch(r"SCHEDULED TO RUN AT: (\d\d:\d\d:\d\d) \(in 30 minutes from (\d\d:\d\d:\d\d)\)", lines[-1])
    assert run_at, lines[-1]
    expected = before + timedelta(minutes=30)
    assert run_at.group(1) in {(expected + timedelta(seconds=s)).strftime("%H:%M:%S") for s in range(0, 4)}
    assert done.stderr == ""  # target exists, scratch crontab: nothing to warn about

    text = table(env)
    assert checkin_ids(env) == [checkin_id]
    line = next(line for line in text.splitlines() if f"# orc:{checkin_id}" in line)
    assert "Review" not in line and "auth" not in line  # never note text in cron (docs/scheduling.md, "No free text in a line")
    assert re.search(rf" # orc:{checkin_id} check-in due \d{{4}}-\d\d-\d\d {run_at.group(1)} for team:0$", line)
    assert f"fire {checkin_id} >>" in line
    for word in shlex.split(line.split(" # orc:")[0].replace("\\%", "%"))[5:]:
        if "/" in word:  # ORC_STATE_DIR=/..., python, orc, >>log
            assert os.path.isabs(word.split("=", 1)[-1].lstrip(">")), word
    assert "* * * * *" in text and "@reboot" in text  # the sweep lines while anything is pending

    state = Path(env["ORC_STATE_DIR"])
    record = state / "checkins" / f"{checkin_id}.txt"
    checkin = parse_record(record.read_text())
    assert (checkin.note, checkin.target, checkin.state) == (NOTE, "team:0", "pending")
    note = (state / "next_check_note.txt").read_text()
    assert note.startswith("=== Next Check Note (") and "Scheduled for: 30 minutes" in note
    assert note.endswith(f"\n\n{NOTE}\n")
    assert f"scheduled id={checkin_id}" in (state / "checkins.log").read_text()
    for path in (state, state / "checkins"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
    for path in (record, state / "next_check_note.txt", state / "checkins.log"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_several_line_note_is_kept_intact(env: dict[str, str]) -> None:
    note = "first line\n  indented second\n\n100% done; $(not run)"
    done = schedule(env, "0.5", note, "team:0")
    assert done.returncode == 0, done.stderr
    record = Path(env["ORC_STATE_DIR"]) / "checkins" / f"{scheduled_id(done)}.txt"
    assert parse_record(record.read_text()).note == note
    assert "$(not run)" not in table(env)


def schedule_from_a_window(env: dict[str, str], tmux: Tmux, tmp_path: Path, name: str | None) -> str:
    """Run schedule_with_note.sh with no target from a new window of session "work" (named
    ``name``, or left for tmux to name after its program); the check-in's target."""
    out = tmp_path / f"out-{name}.txt"
    inner_env = {k: v for k, v in env.items() if k in ("ORC_STATE_DIR", "ORC_CRONTAB_FILE")}
    command = " ".join([
        "env", *(shlex.quote(f"{k}={v}") for k, v in inner_env.items()),
        shlex.quote(str(SUITE / "schedule_with_note.sh")), "5", "'check on yourself'",
        ">", shlex.quote(str(out)), "2>&1; echo rc=$? >>", shlex.quote(str(out)), "; sleep 30",
    ])
    if name is None:
        tmux.run("new-window", "-t", "work:", "-c", str(tmp_path), f"bash -c {shlex.quote(command)}")
    else:
        tmux.new_window("work", name, f"bash -c {shlex.quote(command)}", str(tmp_path))
    wait_for(lambda: out.exists() and "rc=" in out.read_text(), what="the launcher to finish inside tmux")
    assert "rc=0" in out.read_text(), out.read_text()
    checkins = sorted((Path(env["ORC_STATE_DIR"]) / "checkins").glob("ck-*.txt"), key=lambda p: p.stat().st_mtime_ns)
    checkin = parse_record(checkins[-1].read_text())
    assert checkin.tmux_socket == Path(env["ORC_TMUX_SOCKET"])
    return checkin.target


def test_inside_tmux_the_target_is_the_callers_own_pane(env: dict[str, str], tmux: Tmux, tmp_path: Path) -> None:
    """An agent scheduling itself: no target, no ORC_TMUX_SOCKET; $TMUX and $TMUX_PANE decide.
    A window named on purpose is written down by name: after a reboot the suite starts the
    agent's window again by that name, not always at the same index."""
    tmux.new_session("work", "dev", "bash", str(tmp_path))
    assert schedule_from_a_window(env, tmux, tmp_path, "self") == "work:self"
    # Named after its program by tmux (the name changes with it): by index.
    assert schedule_from_a_window(env, tmux, tmp_path, None) == "work:2.0"
    # A name two windows share does not say which: by index.
    tmux.new_window("work", "twin", "sleep 60", str(tmp_path))
    assert schedule_from_a_window(env, tmux, tmp_path, "twin") == "work:4.0"
    # A name that reads as an index: by index.
    assert schedule_from_a_window(env, tmux, tmp_path, "7") == "work:5.0"
    # The window "self" gone and started again by name at another index: the target still finds it.
    tmux.run("kill-window", "-t", "work:self")
    tmux.new_window("work", "other", "sleep 60", str(tmp_path))   # takes the free index 1
    tmux.new_window("work", "self", "sleep 60", str(tmp_path))
    assert tmux.resolve("work:self").window_index == 6


def test_outside_tmux_the_default_target_is_used_and_said(env: dict[str, str]) -> None:
    done = schedule(env, "5", NOTE)
    assert done.returncode == 0, done.stderr
    assert "for tmux-orc:0" in done.stdout
    assert "ORC_DEFAULT_TARGET=tmux-orc:0" in done.stderr


def test_a_target_that_does_not_exist_yet_is_accepted_with_a_warning(env: dict[str, str]) -> None:
    done = schedule(env, "5", NOTE, "later:Backend-Dev")
    assert done.returncode == 0, done.stderr
    [line] = done.stderr.splitlines()  # one warning line: what happens when due, what to do instead
    assert line.startswith("schedule_with_note.sh: warning: no tmux session named 'later'")
    assert "at the due time it is retried" in line and "name the agent's pane instead" in line
    assert len(checkin_ids(env)) == 1


def test_a_due_second_before_crons_next_wakeup_is_kept_by_a_waiter(env: dict[str, str], start_agent) -> None:
    """0.05 minutes is due inside the current minute, which cron has already looked at: a
    detached `orc fire` keeps the second, and the line at the next minute is only a net."""
    agent = start_agent()
    if datetime.now().second > 50:  # a deliberate wait for a clock position, not for an event
        time.sleep(61 - datetime.now().second)
    done = schedule(env, "0.05", "quick one", "team:0")
    assert done.returncode == 0, done.stderr
    checkin_id = scheduled_id(done)
    checkin = parse_record(next((Path(env["ORC_STATE_DIR"]) / "checkins").glob("ck-*.txt")).read_text())
    line = next(line for line in table(env).splitlines() if f"# orc:{checkin_id}" in line)
    wake = checkin.scheduled_at.replace(second=0) + timedelta(minutes=1)
    assert line.startswith(f"{wake.minute} {wake.hour} ")

    wait_for(agent.submitted, timeout=15, what="the check-in from the waiter")
    [event] = [e for e in agent.events() if e["event"] == "submitted"]
    assert str(event["text"]).endswith("] quick one") and checkin_id in str(event["text"])
    assert float(str(event["t"])) - checkin.due.timestamp() < 3.0  # within a few seconds of its due second
    wait_for(lambda: checkin_ids(env) == [], what="the line to be removed after delivery")
    assert agent.submitted() == [event["text"]]


def test_list_and_cancel(env: dict[str, str]) -> None:
    first = scheduled_id(schedule(env, "10", "first note\nsecond line", "team:0"))
    second = scheduled_id(schedule(env, "--every", "30", "20", "recurring", "team:1"))
    third = scheduled_id(schedule(env, "30", "third", "team:2"))
    listed = schedule(env, "--list")
    assert listed.returncode == 0
    rows = listed.stdout.splitlines()
    assert rows[0].split() == ["ID", "DUE", "TARGET", "STATE", "NOTE"]
    assert [r.split()[0] for r in rows[1:]] == [first, second, third]
    assert rows[1].split()[3:] == ["team:0", "pending", "first", "note"]
    assert "every 30m" in rows[2]

    done = schedule(env, "--cancel", first)
    assert (done.returncode, done.stdout) == (0, f"Cancelled {first}\n")
    assert checkin_ids(env) == sorted([second, third])
    assert (Path(env["ORC_STATE_DIR"]) / "checkins" / "done" / f"{first}.txt").exists()
    done = schedule(env, "--cancel", "all")
    assert sorted(done.stdout.split()[1::2]) == sorted([second, third])
    assert table(env) == ""  # no check-in pending: the sweep lines go too
    assert schedule(env, "--list").stdout == "no check-ins pending\n"
    log = (Path(env["ORC_STATE_DIR"]) / "checkins.log").read_text()
    assert log.count(" cancelled ") == 3


@pytest.mark.parametrize("args", [
    ["0", NOTE, "team:0"],
    ["-1", NOTE, "team:0"],
    ["abc", NOTE, "team:0"],
    ["nan", NOTE, "team:0"],
    ["inf", NOTE, "team:0"],
    ["43201", NOTE, "team:0"],
    ["5", "", "team:0"],
    ["5", "  \n\t ", "team:0"],
    ["5", NOTE, "no-colon"],
    ["5", NOTE, "a.b:0"],
    ["--every", "1", "5", NOTE, "team:0"],
    ["--every", "zero", "5", NOTE, "team:0"],
    ["5"],
    [],
    ["--cancel", "ck-00000000"],
    ["--cancel", "not-an-id"],
    ["--list", "5"],
    ["--bogus"],
], ids=lambda a: " ".join(a)[:40] or "nothing")
def test_bad_input_is_one_line_exit_2_and_changes_nothing(env: dict[str, str], args: list[str]) -> None:
    existing = scheduled_id(schedule(env, "10", "already here", "team:0"))
    state = Path(env["ORC_STATE_DIR"])
    before = (table(env), snapshot(state))
    done = schedule(env, *args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stderr.startswith("schedule_with_note.sh: error: ")
    assert (table(env), snapshot(state)) == before
    assert checkin_ids(env) == [existing]


def test_a_missing_crontab_program_records_nothing_and_says_so(env: dict[str, str], tmp_path: Path) -> None:
    env = {k: v for k, v in env.items() if k != "ORC_CRONTAB_FILE"}
    env["ORC_CRONTAB_BIN"] = str(tmp_path / "no-crontab-here")
    done = schedule(env, "5", NOTE, "team:0")
    assert done.returncode == 1
    assert "the check-in was not recorded" in done.stderr and "install cron" in done.stderr
    assert not list((Path(env["ORC_STATE_DIR"]) / "checkins").glob("ck-*.txt"))


def test_thirty_processes_scheduling_at_once_all_get_their_line(env: dict[str, str]) -> None:
    launcher = str(SUITE / "schedule_with_note.sh")
    procs = [subprocess.Popen([launcher, "5", f"note {n}", "team:0"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for n in range(30)]
    results = [(p.wait(timeout=120), p.stdout.read() if p.stdout else "", p.stderr.read() if p.stderr else "")
               for p in procs]
    assert all(code == 0 for code, _, _ in results), [r for r in results if r[0]]
    ids = sorted(re.search(r"check-in (ck-[0-9a-f]{8})", out).group(1) for _, out, _ in results)  # type: ignore[union-attr]
    assert len(set(ids)) == 30
    assert checkin_ids(env) == ids
    assert table(env).count("* * * * *") == 1 and table(env).count("@reboot") == 1
    for p in procs:
        for stream in (p.stdout, p.stderr):
            if stream:
                stream.close()


# --- with the real `crontab` -------------------------------------------------------------------------


USERS_LINES = "# the user's own\nMAILTO=\"\"\n17 3 * * * /usr/bin/true 50\\% of the time\n"


@pytest.fixture
def real_env(orc_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """The user's real crontab, replaced by USERS_LINES during the test, restored after."""
    with users_crontab_replaced(USERS_LINES):
        yield dict(orc_env)


def test_real_crontab_schedule_list_cancel_leave_the_users_lines_exactly(real_env: dict[str, str]) -> None:
    done = schedule(real_env, "30", NOTE, "team:0")
    assert done.returncode == 0, done.stderr
    checkin_id = scheduled_id(done)
    listed = crontab("-l").stdout
    assert listed.startswith(USERS_LINES)
    assert f"# orc:{checkin_id} check-in due" in listed
    assert schedule(real_env, "--cancel", checkin_id).returncode == 0
    assert crontab("-l").stdout == USERS_LINES


def test_real_crontab_thirty_processes_at_once(real_env: dict[str, str]) -> None:
    launcher = str(SUITE / "schedule_with_note.sh")
    procs = [subprocess.Popen([launcher, "5", f"note {n}", "team:0"], env=real_env, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True) for n in range(30)]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * 30
    ids = {re.search(r"check-in (ck-[0-9a-f]{8})", out).group(1) for out in outs}  # type: ignore[union-attr]
    _, jobs = split_table(crontab("-l").stdout)
    assert {j for j in jobs if j.startswith("ck-")} == ids and len(ids) == 30
    assert schedule(real_env, "--cancel", "all").returncode == 0
    assert crontab("-l").stdout == USERS_LINES


def test_no_cron_daemon_is_a_loud_warning_but_the_checkin_is_recorded(real_env: dict[str, str]) -> None:
    if cron_daemon_running():
        pytest.skip("a cron daemon is running on this machine; the warning is for when none is")
    done = schedule(real_env, "30", NOTE, "team:0")
    assert done.returncode == 0
    assert "WARNING: no cron daemon is running" in done.stderr and "start" in done.stderr
    assert f"# orc:{scheduled_id(done)}" in crontab("-l").stdout


def test_nothing_of_the_suite_stays_in_the_crontab_once_nothing_is_pending(env: dict[str, str], start_agent) -> None:
    """One check-in delivered by the sweep, the other cancelled: no suite line may remain."""
    agent = start_agent()
    delivered = scheduled_id(schedule(env, "5", "delivered by the sweep", "team:0"))
    cancelled = scheduled_id(schedule(env, "10", "cancelled", "team:0"))
    record = Path(env["ORC_STATE_DIR"]) / "checkins" / f"{delivered}.txt"
    # Make the first one overdue, as after a downtime (the record is plain text, by design).
    record.write_text(re.sub(r"(?m)^due: .*$", f"due: {(datetime.now().astimezone() - timedelta(minutes=1)).isoformat()}",
                             record.read_text()))
    sweep = subprocess.run([sys.executable, str(SUITE / "orc"), "fire", "--sweep"], env=env, capture_output=True,
                           text=True)
    assert f"{delivered}=delivered" in sweep.stdout, sweep.stdout + sweep.stderr
    assert len(agent.submitted()) == 1
    assert split_table(table(env))[1].keys() >= {cancelled}
    assert schedule(env, "--cancel", "all").returncode == 0
    assert split_table(table(env))[1] == {}
