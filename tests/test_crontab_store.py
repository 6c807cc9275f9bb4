"""orc.scheduling.crontab_store against a scratch crontab file and against the real `crontab` binary.

The real tier saves the user's crontab, works beside a set of foreign lines chosen to
trip a careless editor (`%`, comments, variables, `#` inside commands, no final newline),
and restores the crontab exactly as it was afterwards.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import crontab, users_crontab_replaced

from orc.scheduling.crontab_store import (
    BadCronJob, CronJob, CrontabMissing, CrontabStore, merge_table, parse_line, render_line, split_table,
)

PY = "/usr/bin/python3"
FOREIGN = (
    "# my own crontab, hands off\n"
    "MAILTO=me@example.com\n"
    "SHELL=/bin/bash\n"
    "\n"
    "0 3 * * * /usr/bin/backup --tag 'nightly' >/dev/null 2>&1\n"
    "*/5 * * * * date +\\%H:\\%M >> /tmp/never-run-by-tests\n"
    "@daily echo 'has a # inside' # and a comment orc:not-ours\n"
    "  15 4 * * 1   spaced   out\n"
    "# orc:ck-deadbeef looks like ours but is a comment line\n"
)


def store_on(path: Path, state: Path) -> CrontabStore:
    return CrontabStore(state, crontab_file=path)


# --- the line format ---------------------------------------------------------------------------


def test_a_line_carries_the_tag_and_parses_back() -> None:
    job = render_line("ck-1a2b3c4d", "17 14 24 11 *", [PY, "/opt/orc suite/orc", "fire", "ck-1a2b3c4d"],
                      env={"ORC_STATE_DIR": "/opt/orc suite/state"}, log=Path("/opt/orc suite/state/cron.log"),
                      info="check-in due 2025-11-24 14:17:30 for team:0")
    assert job.line.startswith("17 14 24 11 * ORC_STATE_DIR='/opt/orc suite/state' /usr/bin/python3 '/opt/orc suite/orc'")
    assert job.line.endswith(" # orc:ck-1a2b3c4d check-in due 2025-11-24 14:17:30 for team:0")
    assert parse_line(job.line) == job
    assert job.schedule == "17 14 24 11 *"


def test_percent_in_a_path_is_escaped_for_cron_and_reaches_sh_intact(tmp_path: Path) -> None:
    job = render_line("bk-proj", "*/15 * * * *", [PY, "/srv/100%/orc", "integration", "backup", "proj"])
    assert "/srv/100\\%/orc" in job.line
    # What cron hands to sh: unescape \% as cron does, then let sh split it.
    command = job.command.replace("\\%", "%")
    words = subprocess.run(["/bin/sh", "-c", f"set -- {command}; printf '%s\\n' \"$@\""],
                           capture_output=True, text=True, check=True).stdout.splitlines()
    assert words == [PY, "/srv/100%/orc", "integration", "backup", "proj"]


@pytest.mark.parametrize("kwargs, what", [
    ({"job_id": "ck-1;rm"}, "job id"),
    ({"job_id": "CK-1"}, "job id"),
    ({"schedule": "* * * *"}, "schedule"),
    ({"schedule": "* * * * * rm -rf /"}, "schedule"),
    ({"argv": ["python3", "x"]}, "absolute"),
    ({"argv": [PY, "a\nb"]}, "newline"),
    ({"info": "due\n* * * * * evil"}, "tag info"),
    ({"info": "100% sure"}, "tag info"),
    ({"env": {"lower": "x"}}, "environment name"),
    ({"argv": [PY, "/x" * 600]}, "1000"),
])
def test_anything_that_could_add_or_break_a_line_is_refused(kwargs: dict[str, object], what: str) -> None:
    args: dict[str, object] = {"job_id": "ck-1a2b3c4d", "schedule": "* * * * *", "argv": [PY, "/a"]}
    args.update(kwargs)
    with pytest.raises(BadCronJob, match=what):
        render_line(str(args["job_id"]), str(args["schedule"]), args["argv"],  # type: ignore[arg-type]
                    env=args.get("env"), info=str(args.get("info", "")))  # type: ignore[arg-type]


def test_foreign_lines_are_never_recognised_as_ours() -> None:
    _, jobs = split_table(FOREIGN)
    assert jobs == {}


def test_merge_keeps_foreign_lines_in_place_and_replaces_ours_in_place() -> None:
    ours = render_line("ck-00000001", "1 2 3 4 *", [PY, "/a"])
    text = "# top\n" + ours.line + "\n0 0 * * * theirs\n"
    lines, jobs = split_table(text)
    changed = render_line("ck-00000001", "5 6 7 8 *", [PY, "/a"])
    new = render_line("bk-proj", "*/10 * * * *", [PY, "/b"])
    assert merge_table(lines, {**jobs, "ck-00000001": changed, "bk-proj": new}) == (
        "# top\n" + changed.line + "\n0 0 * * * theirs\n" + new.line + "\n")
    assert merge_table(lines, {}) == "# top\n0 0 * * * theirs\n"


# --- the store on a scratch file ------------------------------------------------------------------


def test_add_replace_remove_leave_foreign_lines_byte_for_byte(tmp_path: Path) -> None:
    table = tmp_path / "crontab"
    foreign_no_final_newline = FOREIGN + "30 6 * * * last line without newline"
    table.write_text(foreign_no_final_newline)
    store = store_on(table, tmp_path / "state")
    store.add("ck-00000001", "1 2 3 4 *", [PY, "/orc", "fire", "ck-00000001"])
    store.add("bk-proj", "*/15 * * * *", [PY, "/orc", "integration", "backup", "proj"], info="git backup of proj")
    store.add("ck-00000001", "9 9 9 9 *", [PY, "/orc", "fire", "ck-00000001"])
    assert [(j.job_id, j.schedule) for j in store.jobs()] == [("ck-00000001", "9 9 9 9 *"), ("bk-proj", "*/15 * * * *")]
    text = table.read_text()
    assert text.startswith(foreign_no_final_newline + "\n")
    assert store.remove(["ck-00000001", "ck-99999999"]) == ["ck-00000001"]
    assert store.remove(["bk-proj"]) == ["bk-proj"]
    assert table.read_text() == foreign_no_final_newline + "\n"
    assert store.jobs() == []


def test_an_edit_that_changes_nothing_does_not_write(tmp_path: Path) -> None:
    table = tmp_path / "crontab"
    table.write_text(FOREIGN)
    before = table.stat().st_mtime_ns
    assert store_on(table, tmp_path / "state").remove(["ck-00000001"]) == []
    assert table.stat().st_mtime_ns == before


def test_a_concurrent_writer_is_not_overwritten(tmp_path: Path) -> None:
    """Fault injection: the change function itself plays the user saving `crontab -e`
    between our read and our write; the store must start again from the user's table."""
    table = tmp_path / "crontab"
    table.write_text(FOREIGN)
    calls = []

    def change(jobs: dict[str, CronJob]) -> None:
        if not calls:
            with table.open("a") as handle:
                handle.write("0 1 * * * added by the user meanwhile\n")
        calls.append(1)
        jobs["ck-00000001"] = render_line("ck-00000001", "1 2 3 4 *", [PY, "/a"])

    store_on(table, tmp_path / "state").edit(change)
    assert len(calls) == 2
    assert table.read_text().startswith(FOREIGN + "0 1 * * * added by the user meanwhile\n")
    assert [j.job_id for j in store_on(table, tmp_path / "state").jobs()] == ["ck-00000001"]


def test_twenty_threads_adding_at_once_all_keep_their_line(tmp_path: Path) -> None:
    table = tmp_path / "crontab"
    table.write_text(FOREIGN)
    errors: list[BaseException] = []

    def add(n: int) -> None:
        try:
            store_on(table, tmp_path / "state").add(f"ck-{n:08x}", "1 2 3 4 *", [PY, "/a", str(n)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(j.job_id for j in store_on(table, tmp_path / "state").jobs()) == [f"ck-{n:08x}" for n in range(20)]
    assert table.read_text().startswith(FOREIGN)


def test_a_missing_crontab_program_is_one_clear_error(tmp_path: Path) -> None:
    store = CrontabStore(tmp_path / "state", crontab_bin=str(tmp_path / "no-such-crontab"))
    with pytest.raises(CrontabMissing, match="apt-get install cron"):
        store.jobs()


# --- the real crontab -----------------------------------------------------------------------------------


@pytest.fixture
def real_crontab() -> Iterator[str]:
    """The user's crontab replaced by FOREIGN for the test and restored afterwards, exactly."""
    with users_crontab_replaced(FOREIGN):
        yield FOREIGN


def test_real_crontab_keeps_the_users_lines_exactly(real_crontab: str, tmp_path: Path) -> None:
    store = CrontabStore(tmp_path / "state")
    store.add("ck-00000001", "1 2 3 4 *", [PY, "/orc", "fire", "ck-00000001"], info="check-in due 2030-04-03 02:01:00")
    store.add("bk-proj", "*/15 * * * *", [PY, "/orc", "integration", "backup", "proj"])
    listed = crontab("-l").stdout
    assert listed.startswith(real_crontab)
    assert "# orc:ck-00000001 check-in due 2030-04-03 02:01:00" in listed
    assert [j.job_id for j in store.jobs()] == ["ck-00000001", "bk-proj"]
    assert sorted(store.remove(["bk-proj", "ck-00000001"])) == ["bk-proj", "ck-00000001"]
    assert crontab("-l").stdout == real_crontab


def test_real_crontab_that_does_not_exist_yet_is_created(real_crontab: str, tmp_path: Path) -> None:
    assert crontab("-r").returncode == 0
    store = CrontabStore(tmp_path / "state")
    assert store.read_text() == ""
    store.add("ck-00000001", "1 2 3 4 *", [PY, "/orc"])
    assert [j.job_id for j in store.jobs()] == ["ck-00000001"]


def test_the_rescan_rewrite_never_writes_back_over_a_newer_table(real_crontab: str, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A write in the first seconds of a minute is repeated later so cron sees it; if the user
    edited the crontab in between, their table must stay.

    Fault injection only: ``time.time`` is pinned to 0.5 s past a minute, and the pause
    before the repeat write is replaced by the user's own edit through the real `crontab`.
    """
    import orc.scheduling.crontab_store as store_module

    users_edit = real_crontab + "30 1 * * * /usr/bin/true users-edit\n"
    monkeypatch.setattr(store_module.time, "time", lambda: 1_800_000_000.5)  # 0.5 s past a minute
    monkeypatch.setattr(store_module.time, "sleep", lambda _seconds: crontab("-", input=users_edit))
    store = CrontabStore(tmp_path / "state")
    with pytest.raises(store_module.CrontabError, match="kept changing"):
        store.add("ck-00000002", "1 2 3 4 *", [PY, "/orc"])  # each verify sees the user's table
    assert crontab("-l").stdout == users_edit
