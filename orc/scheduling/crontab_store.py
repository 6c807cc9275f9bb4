"""The one path to cron: the suite's own lines in the user's crontab (docs/README.md,
"One path to cron, one to git").

Each suite line is an ordinary crontab line whose command ends in a tag::

    17 14 24 11 * ORC_STATE_DIR='/home/me/orc/state' '/usr/bin/python3' '/home/me/orc/orc' fire ck-1a2b3c4d >>'/home/me/orc/state/cron.log' 2>&1 # orc:ck-1a2b3c4d check-in due 2025-11-24 14:17:30 for team:0

``# orc:<id>`` marks the line as the suite's; ``/bin/sh`` ignores everything after the
``#``, and a person reading ``crontab -l`` sees what the line is for. Lines without a tag
(the user's own, comments, blank lines, ``MAILTO=``) are never parsed, changed or moved:
they are written back byte for byte. Free text never goes into a line (docs/scheduling.md, "No free text in a line"):
ids, schedules and the info after the tag are validated, commands are built from an
argument list of absolute paths with :func:`shlex.quote`, and ``%`` is escaped for cron.

API (stable; used by check-ins and by ``orchestrator_integration.py``)::

    store = CrontabStore.from_settings(settings)
    store.jobs() -> list[CronJob]                     # the suite's lines, in crontab order
    store.add(job_id, schedule, argv, env={...}, log=path, info="...") -> CronJob
                                                      # adds, or replaces the line with that id
    store.remove(["ck-1a2b3c4d", ...]) -> list[str]   # ids actually removed
    store.edit(change) -> T                           # any read-modify-write in one go:
                                                      # change(jobs: dict[str, CronJob]) -> T
    store.line_for(job_id, schedule, argv, ...) -> CronJob   # render without writing

``job_id``: ``<kind>-<name>``, e.g. ``ck-1a2b3c4d`` (check-in), ``bk-myproject`` (git
backup), ``orc-sweep-…``; pattern :data:`JOB_ID`. ``schedule``: five cron fields or
``@reboot``/``@hourly``/``@daily``/...

Every write happens under :func:`orc.core.locks.crontab_lock` (docs/scheduling.md, "Races
and the crontab lock"), replaces the whole table in one ``crontab <file>`` call, and is
verified by reading the table back: if someone else (the user's ``crontab -e``) wrote in between, the change is applied
again to what is there now, a bounded number of times. Errors are
:class:`CrontabError` (``crontab`` missing: :class:`CrontabMissing`; bad id, schedule
or argument: :class:`BadCronJob`, a ``ValueError``).

``ORC_CRONTAB_FILE`` (tests) makes the store read and write a plain file instead of
running ``crontab``; everything else (lock, verification, format) is the same.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from orc.core.locks import crontab_lock
from orc.core.settings import Settings
from orc.core.state import private_dir, write_private_text

T = TypeVar("T")

JOB_ID = re.compile(r"[a-z]{2,8}-[A-Za-z0-9_.-]{1,64}")
TAG = "# orc:"
# The tag is the last " # orc:<id>" on the line; info after it is restricted to
# characters that mean nothing to cron or sh and cannot start another line.
_TAG_RE = re.compile(r"\s# orc:(?P<id>[a-z]{2,8}-[A-Za-z0-9_.-]{1,64})(?: (?P<info>[^#%\n]*))?$")
_INFO_OK = re.compile(r"[A-Za-z0-9 _.,:+=@/()-]*")
_FIELD = re.compile(r"[0-9*/,-]+|[A-Za-z]{3}")
_SPECIAL = {"@reboot", "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
# Vixie cron truncates commands at 1000 characters (docs/scheduling.md, "Cron's bare environment"); keep well below.
MAX_LINE = 990
WRITE_ATTEMPTS = 3
# Seconds after the minute during which cron may be rereading its tables (see _write_text).
RESCAN_GUARD = 2.5


class CrontabError(RuntimeError):
    """Reading or writing the crontab failed; the message says what to do."""


class CrontabMissing(CrontabError):
    """The ``crontab`` program is not installed."""


class BadCronJob(ValueError):
    """An id, schedule, argument or info that must not go into a crontab line."""


@dataclass(frozen=True)
class CronJob:
    """One suite line: its id, its schedule, the command as written, and the tag's info."""

    job_id: str
    schedule: str
    command: str
    info: str
    line: str


def parse_line(line: str) -> CronJob | None:
    """The suite's job on ``line``, or None for any other line (left exactly as it is)."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    tag = _TAG_RE.search(line)
    if not tag:
        return None
    body = line[: tag.start()].strip()
    if body.startswith("@"):
        schedule, _, command = body.partition(" ")
    else:
        fields = body.split(None, 5)
        if len(fields) < 6:
            return None
        schedule, command = " ".join(fields[:5]), fields[5]
    return CronJob(tag.group("id"), schedule, command.strip(), (tag.group("info") or "").strip(), line)


def validate_schedule(schedule: str) -> str:
    from orc.scheduling.cron_lines import normal_schedule, schedule_problem  # python-crontab reads the fields

    if schedule in _SPECIAL:
        return schedule
    fields = schedule.split()
    if len(fields) != 5 or not all(_FIELD.fullmatch(f) for f in fields):
        raise BadCronJob(f"schedule {schedule!r} is not five cron fields or one of {sorted(_SPECIAL)}")
    problem = schedule_problem(schedule)
    if problem:
        raise BadCronJob(problem)
    return normal_schedule(schedule)


def cron_quote(word: str) -> str:
    if "\n" in word or "\r" in word or "\0" in word:
        raise BadCronJob(f"{word!r} contains a newline; it cannot go into a crontab line")
    # cron turns an unescaped % into a newline (docs/scheduling.md, "No free text in a line"); \% reaches sh as %.
    return shlex.quote(word).replace("%", "\\%")


def render_line(job_id: str, schedule: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
                log: Path | None = None, info: str = "") -> CronJob:
    """The crontab line for a job, validated; raises :class:`BadCronJob`."""
    if not JOB_ID.fullmatch(job_id):
        raise BadCronJob(f"job id {job_id!r} does not match {JOB_ID.pattern}")
    schedule = validate_schedule(schedule)
    if not argv or not os.path.isabs(argv[0]):
        raise BadCronJob(f"the command must start with an absolute path (cron's PATH is /usr/bin:/bin), got {argv[:1]}")
    if not _INFO_OK.fullmatch(info) or len(info) > 200:
        raise BadCronJob(f"tag info {info!r} has characters other than {_INFO_OK.pattern} or is too long")
    words = []
    for name, value in (env or {}).items():
        if not _ENV_NAME.fullmatch(name):
            raise BadCronJob(f"environment name {name!r} is not [A-Z_][A-Z0-9_]*")
        words.append(f"{name}={cron_quote(value)}")
    words += [cron_quote(str(a)) for a in argv]
    if log is not None:
        words += [f">>{cron_quote(str(log))}", "2>&1"]
    command = " ".join(words)
    line = f"{schedule} {command} {TAG}{job_id}" + (f" {info.strip()}" if info.strip() else "")
    if len(line) > MAX_LINE:
        raise BadCronJob(f"the crontab line would be {len(line)} characters (cron's limit is 1000); "
                         f"move the suite or its state folder to a shorter path")
    job = parse_line(line)
    assert job is not None and job.job_id == job_id, line
    return job


@dataclass(frozen=True)
class JobCommand:
    """A suite line's command taken apart: what :func:`render_line` was given."""

    env: dict[str, str]
    argv: list[str]
    log: Path | None


def parse_command(job: CronJob) -> JobCommand | None:
    """The environment, argument list and log of a line the suite wrote; None for a command
    of another shape (a person rewrote it by hand: then it is left as it is)."""
    try:
        # Cron turns \% back into % before sh sees the command (see cron_quote).
        words = shlex.split(job.command.replace("\\%", "%"))
    except ValueError:
        return None
    env: dict[str, str] = {}
    while words and "=" in words[0] and _ENV_NAME.fullmatch(words[0].split("=", 1)[0]):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    log: Path | None = None
    if len(words) >= 2 and words[-1] == "2>&1" and words[-2].startswith(">>"):
        log = Path(words[-2][2:])
        words = words[:-2]
    if not words or not os.path.isabs(words[0]):
        return None
    return JobCommand(env, words, log)


def suite_folder_of(job: CronJob) -> Path | None:
    """The suite folder a line runs (``<folder>/orc`` is its second word), if it says."""
    parsed = parse_command(job)
    if parsed is None or len(parsed.argv) < 2 or Path(parsed.argv[1]).name != "orc":
        return None
    return Path(parsed.argv[1]).parent


def is_left_behind(job: CronJob) -> bool:
    """Whether the line runs a suite folder, or uses a state folder, that no longer exists
    (the folder was moved or deleted: cron would run it every time, failing, silently)."""
    parsed = parse_command(job)
    if parsed is None:
        return False
    folder = suite_folder_of(job)
    state = parsed.env.get("ORC_STATE_DIR")
    return (folder is not None and not (folder / "orc").exists()) or (state is not None and not Path(state).is_dir())


def _moved(path: str, mapping: Sequence[tuple[str, str]]) -> str:
    for old, new in mapping:
        if path == old or path.startswith(old.rstrip("/") + "/"):
            return new + path[len(old):]
    return path


def rewrite_paths(job: CronJob, mapping: Sequence[tuple[str, str]]) -> CronJob | None:
    """``job`` with every path under an old folder moved under the new one (``mapping``:
    (old, new) pairs, tried in order); same id, schedule and info. None when the command
    is not one the suite wrote, or nothing in it changes."""
    parsed = parse_command(job)
    if parsed is None:
        return None
    env = {name: _moved(value, mapping) for name, value in parsed.env.items()}
    argv = [_moved(word, mapping) for word in parsed.argv]
    log = Path(_moved(str(parsed.log), mapping)) if parsed.log is not None else None
    if (env, argv, log) == (parsed.env, parsed.argv, parsed.log):
        return None
    return render_line(job.job_id, job.schedule, argv, env=env, log=log, info=job.info)


def split_table(text: str) -> tuple[list[str], dict[str, CronJob]]:
    """The table's lines and the suite's jobs among them, by id."""
    lines = text.splitlines()
    jobs: dict[str, CronJob] = {}
    for line in lines:
        job = parse_line(line)
        if job is not None:
            jobs[job.job_id] = job
    return lines, jobs


def merge_table(lines: Sequence[str], wanted: Mapping[str, CronJob]) -> str:
    """``lines`` with the suite's lines replaced by ``wanted``: foreign lines stay exactly
    where they were, a changed job keeps its place, a removed one goes, new ones go last."""
    out: list[str] = []
    placed: set[str] = set()
    for line in lines:
        job = parse_line(line)
        if job is None:
            out.append(line)
        elif job.job_id in wanted and job.job_id not in placed:
            out.append(wanted[job.job_id].line)
            placed.add(job.job_id)
    out += [job.line for job_id, job in wanted.items() if job_id not in placed]
    return "".join(line + "\n" for line in out)  # cron ignores a last line without newline


class CrontabStore:
    """The suite's lines in one crontab: the user's (``crontab``) or a scratch file."""

    def __init__(self, state_dir: Path, crontab_file: Path | None = None, crontab_bin: str | None = None,
                 lock_timeout: float = 30.0) -> None:
        self.state_dir = state_dir
        self.crontab_file = crontab_file
        self.crontab_bin = crontab_bin
        self.lock_timeout = lock_timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> CrontabStore:
        return cls(settings.state_dir, settings.crontab_file, settings.crontab_bin)

    # --- reading and writing the whole table -------------------------------------------------

    def _binary(self) -> str:
        if self.crontab_bin:
            found = shutil.which(self.crontab_bin)
        else:
            found = shutil.which("crontab") or shutil.which("crontab", path="/usr/bin:/bin:/usr/sbin")
        if not found:
            raise CrontabMissing("the `crontab` program is not installed; install cron "
                                 "(Debian/Ubuntu: apt-get install cron; Fedora: dnf install cronie)")
        return found

    def read_text(self) -> str:
        """The whole table as text; empty when the user has no crontab yet (docs/scheduling.md, "No crontab yet")."""
        if self.crontab_file is not None:
            try:
                return self.crontab_file.read_text(encoding="utf-8")
            except FileNotFoundError:
                return ""
        done = subprocess.run([self._binary(), "-l"], capture_output=True, text=True, timeout=30)
        if done.returncode == 0:
            return done.stdout
        if "no crontab" in done.stderr.lower():
            return ""  # cronie/Vixie: exit 1 "no crontab for USER"; a new one is created on write
        raise CrontabError(f"`crontab -l` failed: {done.stderr.strip() or f'exit {done.returncode}'}; "
                           f"check that you may use cron (/etc/cron.allow, /etc/cron.deny)")

    def _write_text(self, text: str) -> None:
        if self.crontab_file is not None:
            write_private_text(self.crontab_file, text)
            return
        # A private temporary file rather than stdin: `crontab <file>` works the same on
        # Vixie/cronie (Linux) and BSD (macOS) cron.
        folder = private_dir(self.state_dir)
        fd, name = tempfile.mkstemp(dir=folder, prefix=".crontab.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            done = subprocess.run([self._binary(), name], capture_output=True, text=True, timeout=30)
        finally:
            Path(name).unlink(missing_ok=True)
        if done.returncode != 0:
            raise CrontabError(f"`crontab` refused the new table: {done.stderr.strip() or f'exit {done.returncode}'}")
        # Cron rereads a table when the spool folder's mtime changed, compared to the second,
        # and it looks at the start of each minute. A write in the same second as that look
        # can go unseen until the next write: then write once more in a later second.
        if time.time() % 60 < RESCAN_GUARD:
            time.sleep(RESCAN_GUARD - time.time() % 60 + 0.05)
            # Only while the table is still ours: the user's `crontab -e` (or anyone) may have
            # written meanwhile, and an older table must never be written back over theirs.
            # Their write moved the spool folder's mtime anyway, which is all this is for.
            if self.read_text() == text:
                self._write_text(text)

    # --- the suite's lines ---------------------------------------------------------------------

    def jobs(self) -> list[CronJob]:
        """The suite's lines, in the order they appear (a read; no lock needed)."""
        _, jobs = split_table(self.read_text())
        return list(jobs.values())

    def edit(self, change: Callable[[dict[str, CronJob]], T]) -> T:
        """Read the table, let ``change`` edit the suite's jobs (a dict by id, in place), write
        it back if anything changed, and verify; all under the crontab lock."""
        with crontab_lock(self.state_dir, self.lock_timeout):
            for _attempt in range(WRITE_ATTEMPTS):
                before = self.read_text()
                lines, jobs = split_table(before)
                wanted = dict(jobs)
                result = change(wanted)
                if wanted == jobs:
                    return result
                text = merge_table(lines, wanted)
                if self.read_text() != before:
                    continue  # someone wrote while we computed: start again from their table
                self._write_text(text)
                # Verify (docs/scheduling.md, "Races and the crontab lock"): the user's `crontab -e` ignores our lock.
                _, after_jobs = split_table(self.read_text())
                if after_jobs == wanted:
                    return result
            raise CrontabError(f"the crontab kept changing under us ({WRITE_ATTEMPTS} attempts; someone is editing "
                               f"it with `crontab -e`?); try again when the edit is done")

    def line_for(self, job_id: str, schedule: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
                 log: Path | None = None, info: str = "") -> CronJob:
        return render_line(job_id, schedule, argv, env=env, log=log, info=info)

    def add(self, job_id: str, schedule: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
            log: Path | None = None, info: str = "") -> CronJob:
        """Add the job, or replace the suite's line with the same id; return what was written."""
        job = render_line(job_id, schedule, argv, env=env, log=log, info=info)

        def put(jobs: dict[str, CronJob]) -> None:
            jobs[job_id] = job

        self.edit(put)
        return job

    def remove(self, job_ids: Iterable[str]) -> list[str]:
        """Remove the suite's lines with these ids; return the ids that were there."""
        targets = list(job_ids)

        def drop(jobs: dict[str, CronJob]) -> list[str]:
            return [job_id for job_id in targets if jobs.pop(job_id, None) is not None]

        return self.edit(drop)


CRON_DAEMONS = ("cron", "crond")


def cron_daemon_running() -> bool | None:
    """Whether a cron daemon runs on this machine; None when that cannot be told (macOS
    starts cron from launchd on demand, so a missing process means nothing there)."""
    proc = Path("/proc")
    if proc.is_dir() and Path("/proc/self/comm").exists():
        for entry in proc.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                name = (entry / "comm").read_text().strip()
            except OSError:
                continue  # the process ended while we looked
            if name in CRON_DAEMONS:
                return True
        return False
    return None


def how_to_start_cron() -> str:
    """One line telling a person how to get a cron daemon running on this machine."""
    if Path("/usr/sbin/cron").exists():
        return "start it: `sudo service cron start` (or `sudo /usr/sbin/cron`)"
    if Path("/usr/sbin/crond").exists():
        return "start it: `sudo systemctl enable --now crond`"
    return "install and start cron (Debian/Ubuntu: `sudo apt-get install cron && sudo service cron start`)"
