"""The suite folder as people handle it: copied (`cp -r`), moved (`mv`), its crontab lines
deleted or retimed by hand (docs/copy-and-move.md, docs/scheduling.md).

Each test copies the suite (its tracked files, `.deps` linked) into a temporary folder so
that `state/` lives inside it, as in a real installation, and comes along with a copy.
The crontab is a scratch file (ORC_CRONTAB_FILE); "cron runs a line" is simulated by
running the line's own command with /bin/sh in cron's bare environment, so the paths the
line names are the ones exercised. The same stories under a real cron daemon are in
tests/test_cron_daemon.py and tests/e2e/test_schedule_claude.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from support import SUITE, Agent, copy_suite, wait_for
from orc.scheduling.checkins import parse_record
from orc.scheduling.crontab_store import parse_line, split_table
from orc.record.snapshot import look

USERS = "# my own line\n0 4 * * * /usr/bin/true\n"


@pytest.fixture
def crontab_file(tmp_path: Path) -> Path:
    path = tmp_path / "crontab"
    path.write_text(USERS)
    return path


@pytest.fixture
def env(orc_env: dict[str, str], crontab_file: Path) -> dict[str, str]:
    """No ORC_STATE_DIR: each suite folder keeps its state in its own `state/`."""
    out = {k: v for k, v in orc_env.items() if k != "ORC_STATE_DIR"}
    out.update(ORC_CRONTAB_FILE=str(crontab_file), ORC_CHECKIN_RETRY_SECONDS="1")
    return out


def schedule(folder: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(folder / "schedule_with_note.sh"), *args], env=env, capture_output=True,
                          text=True, timeout=120, cwd=str(folder))


def scheduled_id(done: subprocess.CompletedProcess[str]) -> str:
    match = re.search(r"check-in (ck-[0-9a-f]{8})", done.stdout)
    assert done.returncode == 0 and match, done.stdout + done.stderr
    return match.group(1)


def run_line(crontab_file: Path, job_id: str) -> subprocess.CompletedProcess[str]:
    """Run a crontab line's command the way cron does: /bin/sh, bare environment."""
    _, jobs = split_table(crontab_file.read_text())
    if job_id not in jobs:
        return subprocess.CompletedProcess([], 0, "", "")  # the line is gone: cron runs nothing
    command = jobs[job_id].command.replace("\\%", "%")
    return subprocess.run(["/bin/sh", "-c", command], env={"PATH": "/usr/bin:/bin", "HOME": "/root", "SHELL": "/bin/sh"},
                          capture_output=True, text=True, timeout=120)


def sweeps(crontab_file: Path) -> list[str]:
    return [job_id for job_id in split_table(crontab_file.read_text())[1] if job_id.startswith("orc-sweep-")]


def make_overdue(state: Path, checkin_id: str, minutes: float = 3) -> datetime:
    """The machine was off: the record (plain text by design) says it fell due a while ago."""
    record = state / "checkins" / f"{checkin_id}.txt"
    due = (datetime.now().astimezone() - timedelta(minutes=minutes)).replace(microsecond=0)
    record.write_text(re.sub(r"(?m)^due: .*$", f"due: {due.isoformat()}", record.read_text()))
    return due


def delivered(agent: Agent, checkin_id: str) -> list[str]:
    return [text for text in agent.submitted() if f"[check-in {checkin_id} " in text]


def arrived_once(agent: Agent, checkin_id: str) -> str:
    """The one submission of ``checkin_id`` (the agent records it a moment after delivery is
    proven on screen, so wait for it; then there must be exactly one)."""
    wait_for(lambda: delivered(agent, checkin_id), what=f"{checkin_id} to arrive")
    [text] = delivered(agent, checkin_id)
    return text


def test_a_copy_starts_empty_says_so_once_and_never_delivers_the_originals(tmp_path: Path, env: dict[str, str],
                                                                          crontab_file: Path, start_agent) -> None:
    agent = start_agent()
    original = copy_suite(tmp_path / "orig")
    first = scheduled_id(schedule(original, env, "30", "original's note", "team:0"))
    copy = tmp_path / "copy"
    shutil.copytree(original, copy, symlinks=True)  # as `cp -r`: state/ comes along

    listed = schedule(copy, env, "--list")
    assert listed.returncode == 0
    assert listed.stdout.strip() == "no check-ins pending"
    [said] = [line for line in listed.stderr.splitlines() if "copied from" in line]
    assert str(original) in said and "--adopt" in said and "set aside" in said
    aside = list((copy / "state" / "foreign").glob("*/checkins/*.txt"))
    assert [p.stem for p in aside] == [first]  # moved aside, nothing deleted

    own = scheduled_id(schedule(copy, env, "30", "copy's own note", "team:0"))
    again = schedule(copy, env, "--list")
    assert "copied from" not in again.stderr  # said once
    assert first not in again.stdout and own in again.stdout
    assert first in schedule(original, env, "--list").stdout and own not in schedule(original, env, "--list").stdout

    # Both fell due while the machine was off; each folder's sweep line runs, as cron would.
    make_overdue(original / "state", first)
    make_overdue(copy / "state", own)
    assert len(sweeps(crontab_file)) == 2
    for sweep_id in sweeps(crontab_file):
        assert run_line(crontab_file, sweep_id).returncode == 0
    for sweep_id in sweeps(crontab_file):  # a second round finds nothing left to do
        run_line(crontab_file, sweep_id)
    assert "original's note" in arrived_once(agent, first) and "copy's own note" in arrived_once(agent, own)

    # What the original delivered meanwhile is never taken over again.
    adopted = schedule(copy, env, "--adopt")
    assert adopted.returncode == 0 and adopted.stdout.strip() == "nothing set aside to adopt"
    assert first not in schedule(copy, env, "--list").stdout


def test_adopt_takes_over_when_the_original_is_gone(tmp_path: Path, env: dict[str, str], crontab_file: Path,
                                                   start_agent) -> None:
    agent = start_agent()
    original = copy_suite(tmp_path / "orig")
    pending = scheduled_id(schedule(original, env, "30", "carry me over", "team:0"))
    copy = tmp_path / "copy"
    shutil.copytree(original, copy, symlinks=True)
    assert schedule(copy, env, "--list").stdout.strip() == "no check-ins pending"
    refused = schedule(copy, env, "--adopt")
    assert refused.returncode == 1 and "still exists" in refused.stderr and "--cancel all" in refused.stderr
    assert not (copy / "state" / "checkins" / f"{pending}.txt").exists()

    shutil.rmtree(original)  # the original will never run again
    adopted = schedule(copy, env, "--adopt")
    assert adopted.returncode == 0 and adopted.stdout.strip() == f"Adopted {pending}", adopted.stderr
    [line] = [j for j in split_table(crontab_file.read_text())[1].values() if j.job_id == pending]
    assert str(original) not in line.line and str(copy) in line.line
    make_overdue(copy / "state", pending)
    [sweep_id] = sweeps(crontab_file)
    run_line(crontab_file, sweep_id)
    assert arrived_once(agent, pending).endswith("] carry me over")


def test_a_move_rewrites_the_lines_on_the_first_command_and_delivers_once_marked_late(
        tmp_path: Path, env: dict[str, str], crontab_file: Path, start_agent) -> None:
    agent = start_agent()
    before = copy_suite(tmp_path / "before")
    pending = scheduled_id(schedule(before, env, "30", "follow me", "team:0"))
    after = tmp_path / "after"
    before.rename(after)  # `mv`
    # Until a command runs in the new place, the old lines point at nothing; cron's run of
    # them creates nothing where the folder was.
    assert all(str(before) in job.line for job in split_table(crontab_file.read_text())[1].values())

    listed = schedule(after, env, "--list")  # any command notices
    assert listed.returncode == 0 and pending in listed.stdout
    assert "moved here from" in listed.stderr and str(before) in listed.stderr
    table = crontab_file.read_text()
    assert str(before) not in table and table.startswith(USERS)
    assert pending in split_table(table)[1]
    assert "moved-line" in (after / "state" / "checkins.log").read_text()
    assert "moved here" not in schedule(after, env, "--list").stderr  # said once

    due = make_overdue(after / "state", pending)
    [sweep_id] = sweeps(crontab_file)
    assert run_line(crontab_file, sweep_id).returncode == 0
    run_line(crontab_file, sweep_id)
    text = arrived_once(agent, pending)
    assert text.startswith(f"[check-in {pending} due {due:%H:%M:%S}, LATE by 3m") and text.endswith("] follow me")
    assert not before.exists()


def test_lines_of_a_folder_that_no_longer_exists_are_named_and_removed(tmp_path: Path, env: dict[str, str],
                                                                      crontab_file: Path) -> None:
    gone = copy_suite(tmp_path / "gone")
    lost_id = scheduled_id(schedule(gone, env, "30", "left behind", "team:0"))
    shutil.rmtree(gone)
    other = copy_suite(tmp_path / "other")
    listed = schedule(other, env, "--list")
    assert listed.returncode == 0 and "no longer exists" in listed.stderr
    assert lost_id in listed.stderr and str(gone) in listed.stderr and "--cleanup" in listed.stderr
    cleaned = schedule(other, env, "--cleanup")
    assert cleaned.returncode == 0 and lost_id in cleaned.stdout
    assert crontab_file.read_text() == USERS  # the user's own lines exactly as they were

    again = copy_suite(tmp_path / "again")
    stale = scheduled_id(schedule(again, env, "30", "left behind too", "team:0"))
    shutil.rmtree(again)
    cancelled = schedule(other, env, "--cancel", "all")
    assert cancelled.returncode == 0 and stale in cancelled.stdout
    assert crontab_file.read_text() == USERS


def edit_table(crontab_file: Path, edit) -> None:  # type: ignore[no-untyped-def]
    """A person's `crontab -e`: each line through ``edit`` (None deletes it)."""
    out = []
    for line in crontab_file.read_text().splitlines():
        changed = edit(line)
        if changed is not None:
            out.append(changed)
    crontab_file.write_text("".join(line + "\n" for line in out))


def test_hand_edits_are_honoured_deleted_cancels_retimed_moves_all_gone_is_reinstalled(
        tmp_path: Path, env: dict[str, str], crontab_file: Path, start_agent) -> None:
    agent = start_agent()
    folder = copy_suite(tmp_path / "suite")
    state = folder / "state"
    deleted = scheduled_id(schedule(folder, env, "30", "delete my line", "team:0"))
    retimed = scheduled_id(schedule(folder, env, "30", "retime my line", "team:0"))
    target = (datetime.now() + timedelta(minutes=90)).replace(second=0, microsecond=0)

    def person(line: str) -> str | None:
        job = parse_line(line)
        if job and job.job_id == deleted:
            return None
        if job and job.job_id == retimed:
            return f"{target.minute} {target.hour} {target.day} {target.month} *" + line.split("*", 1)[1]
        return line

    edit_table(crontab_file, person)
    make_overdue(state, deleted)  # it would be delivered by the sweep, if it were not cancelled
    [sweep_id] = sweeps(crontab_file)
    assert run_line(crontab_file, sweep_id).returncode == 0
    assert delivered(agent, deleted) == []
    done = parse_record((state / "checkins" / "done" / f"{deleted}.txt").read_text())
    assert done.state == "cancelled" and done.note == "delete my line"  # the note is kept
    log = (state / "checkins.log").read_text()
    assert re.search(rf"cancelled id={deleted} by=\"a crontab edit\"", log)
    assert parse_record((state / "checkins" / f"{retimed}.txt").read_text()).due == target.astimezone()
    assert f"moved id={retimed}" in log
    assert f"{target:%H:%M}" in schedule(folder, env, "--list").stdout

    # A crontab replaced wholesale: every line of the suite vanished at once. Not a person's
    # decision about one check-in: put back at the next run, with a warning.
    crontab_file.write_text(USERS)
    listed = schedule(folder, env, "--list")
    assert "vanished" in listed.stderr and retimed in listed.stderr
    assert retimed in split_table(crontab_file.read_text())[1] and sweeps(crontab_file)
    assert split_table(crontab_file.read_text())[1][retimed].schedule.startswith(f"{target.minute} {target.hour} ")


def test_the_sub_minute_waiter_checks_the_line_before_it_types(tmp_path: Path, env: dict[str, str],
                                                              crontab_file: Path, start_agent) -> None:
    agent = start_agent()
    folder = copy_suite(tmp_path / "suite")
    keep = scheduled_id(schedule(folder, env, "30", "keeps the sweep lines", "team:0"))
    soon = scheduled_id(schedule(folder, env, "0.05", "waiter note", "team:0"))  # 3 s: the waiter keeps it
    edit_table(crontab_file, lambda line: None if f"# orc:{soon} " in line else line)
    done_record = folder / "state" / "checkins" / "done" / f"{soon}.txt"
    wait_for(done_record.exists, timeout=20, what="the waiter to find its line deleted")
    assert parse_record(done_record.read_text()).state == "cancelled"
    assert delivered(agent, soon) == [] and keep in crontab_file.read_text()


def test_a_shell_or_missing_target_is_said_at_schedule_time_and_refused_with_strict(
        tmp_path: Path, env: dict[str, str], crontab_file: Path, tmux) -> None:  # type: ignore[no-untyped-def]
    folder = copy_suite(tmp_path / "suite")
    tmux.new_session("plain", "sh", "bash --norc --noprofile", str(tmp_path))
    wait_for(lambda: look(tmux, tmux.resolve("plain:sh").pane_id).state == "shell", what="a shell prompt")
    warned = schedule(folder, env, "30", "Check PM progress", "plain:sh")
    assert warned.returncode == 0
    [line] = warned.stderr.splitlines()
    assert "is a shell, not an agent" in line and "name the agent's pane instead" in line
    for target, why in (("plain:sh", "is a shell"), ("nowhere:0", "no tmux session named 'nowhere'")):
        before = crontab_file.read_text()
        strict = schedule(folder, env, "--strict", "30", "Check PM progress", target)
        assert strict.returncode == 1 and strict.stdout == ""
        assert strict.stderr.startswith("schedule_with_note.sh: error: ") and why in strict.stderr
        assert "nothing scheduled" in strict.stderr and len(strict.stderr.splitlines()) == 1
        assert crontab_file.read_text() == before


def test_a_due_time_on_another_day_prints_its_date(tmp_path: Path, env: dict[str, str], start_agent) -> None:
    start_agent()
    folder = copy_suite(tmp_path / "suite")
    done = schedule(folder, env, "1500", "tomorrow", "team:0")
    assert done.returncode == 0, done.stderr
    due = datetime.now() + timedelta(minutes=1500)
    last = done.stdout.splitlines()[-1]
    assert re.fullmatch(rf"SCHEDULED TO RUN AT: {due:%Y-%m-%d} \d\d:\d\d:\d\d \(in 1500 minutes from \d\d:\d\d:\d\d\)",
                        last), last


def test_copy_suite_helper_copies_what_git_tracks(tmp_path: Path) -> None:
    folder = copy_suite(tmp_path / "x")
    assert (folder / "orc" / "scheduling" / "home.py").is_file() and (folder / ".deps").exists()
    assert not (folder / "state").exists() and (folder / "schedule_with_note.sh").stat().st_mode & 0o111
    assert sys.executable  # the copy runs with the same interpreter as the tests
    assert Path(SUITE) != folder


def test_a_machine_whose_name_changed_keeps_its_schedule(tmp_path: Path, env: dict[str, str],
                                                         crontab_file: Path) -> None:
    """A container restarted with a new host name: same paths, its lines in this crontab. Not
    a copy: nothing is set aside. The same home.txt with no lines here is a copy from elsewhere."""
    folder = copy_suite(tmp_path / "suite")
    pending = scheduled_id(schedule(folder, env, "30", "still mine", "team:0"))
    home = folder / "state" / "home.txt"
    home.write_text(re.sub(r"(?m)^host: .*$", "host: the-old-name", home.read_text()))
    listed = schedule(folder, env, "--list")
    assert pending in listed.stdout and "copied" not in listed.stderr
    assert "host: the-old-name" not in home.read_text()

    home.write_text(re.sub(r"(?m)^host: .*$", "host: another-machine", home.read_text()))
    crontab_file.write_text(USERS)  # brought from another machine: none of its lines are here
    listed = schedule(folder, env, "--list")
    assert pending not in listed.stdout and "copied from" in listed.stderr and "another-machine" in listed.stderr


@pytest.mark.parametrize("first", ["send_message.sh", "orchestrator_integration.py"])
def test_a_move_is_noticed_by_any_command_of_the_suite(tmp_path: Path, env: dict[str, str], crontab_file: Path,
                                                       start_agent, first: str) -> None:
    """Not only the scheduler: the first message sent, or the first team command run, in the
    new place rewrites the old lines too (the issue's "any command")."""
    agent = start_agent()
    before = copy_suite(tmp_path / "before")
    pending = scheduled_id(schedule(before, env, "30", "follow me", "team:0"))
    after = tmp_path / "after"
    before.rename(after)
    args = ["team:0", "hello from the new place"] if first == "send_message.sh" else ["learn", "moved the suite"]
    command = [str(after / first)] if first.endswith(".sh") else [sys.executable, str(after / first)]
    done = subprocess.run([*command, *args], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "moved here from" in done.stderr
    table = crontab_file.read_text()
    assert str(before) not in table and pending in split_table(table)[1]
    if first == "send_message.sh":
        assert agent.submitted() == ["hello from the new place"]
