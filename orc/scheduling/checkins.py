"""Check-ins: notes an agent schedules for itself, kept as plain text and fired by cron.

Where things are (all 0600 files in 0700 folders under the state folder):

* ``checkins/<id>.txt``: one pending check-in, a few ``key: value`` lines, a blank line,
  then the note exactly as given. Finished ones move to ``checkins/done/``.
* ``next_check_note.txt``: the latest note, in the original script's format.
* ``checkins.log``: one line per event: scheduled, fired, delivered, late, deferred,
  failed, cancelled (and fallback, when the orchestrator was told of a failure).
* ``cron.log``: whatever the cron jobs printed (cron would otherwise mail it).

In the crontab (through :mod:`orc.scheduling.crontab_store`, the one path to cron), each pending
check-in has one line ``ck-<hex>`` set for its due minute; the job waits for the due
second. While anything is pending, two more lines deliver what is overdue: a sweep
every minute (missed slots, retries) and one at ``@reboot``. A lock per check-in and
its state in the record make sure it is delivered once, whoever runs it.

API for other modules (stable): :func:`schedule_checkin`, :func:`cancel_checkins`,
:func:`pending_checkins`; bad input raises :class:`BadCheckIn` (a ``ValueError``),
an unknown id :class:`UnknownCheckIn` (a ``BadCheckIn``); crontab trouble raises
:class:`orc.scheduling.crontab_store.CrontabError`.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import secrets
import shutil
import sys
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from orc.scheduling.crontab_store import BadCronJob, CronJob, CrontabError, CrontabStore, cron_quote, render_line, split_table
from orc.messages.delivery import clean_text
from orc.messages.mailbox import has_mail
from orc.core.settings import Settings
from orc.core.state import append_line, log_event, private_dir, write_private_text
from orc.core.tmux import BadTarget, parse_target

CHECKIN_ID = re.compile(r"ck-[0-9a-f]{8,16}")
# 30 days: a dated crontab line must never come round again (docs/scheduling.md,
# "Cron has no one-shot jobs").
MAX_MINUTES = 30 * 24 * 60
MIN_EVERY_MINUTES = 5.0           # a recurring check-in more often than this is a busy loop, not a check-in
LATE_AFTER = timedelta(seconds=60)  # beyond one cron minute the delay is worth telling the agent
PENDING_STATES = ("pending", "deferred", "delivering")
_SAFE_TARGET = re.compile(r"[A-Za-z0-9_.:=-]+")  # shown in the crontab tag only when this plain


class BadCheckIn(ValueError):
    """Input a check-in cannot be made of; the message says what to change."""


class UnknownCheckIn(BadCheckIn):
    """No pending check-in has this id; ``ids`` are the unknown ones."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids
        super().__init__(f"no pending check-in {', '.join(ids)}; see the pending ones with --list")


@dataclass(frozen=True)
class CheckIn:
    """One check-in as recorded in ``checkins/<id>.txt``."""

    id: str
    due: datetime                 # aware, to the second
    target: str
    every_minutes: float | None
    note: str
    state: str                    # pending, deferred, delivering, delivered, failed, cancelled
    scheduled_at: datetime
    requested_minutes: float
    tmux_socket: Path
    tmux_bin: str
    python: str
    attempts: int = 0
    first_attempt: datetime | None = None
    next_try: datetime | None = None
    last_reason: str = ""
    finished_at: datetime | None = None
    # The schedule of the crontab line the suite last wrote for it ("-": none yet, or a
    # record from before this field). A line that no longer matches it was edited by a person.
    cron_line: str = "-"

    @property
    def first_line(self) -> str:
        return self.note.split("\n", 1)[0]


# --- paths ---------------------------------------------------------------------------------


def checkins_dir(settings: Settings) -> Path:
    return settings.state_dir / "checkins"


def done_dir(settings: Settings) -> Path:
    return settings.state_dir / "checkins" / "done"


def record_path(settings: Settings, checkin_id: str) -> Path:
    return checkins_dir(settings) / f"{checkin_id}.txt"


def events_log(settings: Settings) -> Path:
    return settings.state_dir / "checkins.log"


def cron_log(settings: Settings) -> Path:
    return settings.state_dir / "cron.log"


def note_file(settings: Settings) -> Path:
    return settings.state_dir / "next_check_note.txt"


# --- the record's text form ----------------------------------------------------------------


def now_local() -> datetime:
    return datetime.now(timezone.utc).astimezone().replace(microsecond=0)


def _time(value: str) -> datetime | None:
    return None if value in ("", "-") else datetime.fromisoformat(value)


def _show(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "-"


def format_minutes(minutes: float) -> str:
    return f"{minutes:g}"


def render_record(checkin: CheckIn) -> str:
    every = format_minutes(checkin.every_minutes) if checkin.every_minutes else "-"
    fields = [
        ("id", checkin.id),
        ("state", checkin.state),
        ("due", _show(checkin.due)),
        ("target", checkin.target),
        ("every_minutes", every),
        ("scheduled_at", _show(checkin.scheduled_at)),
        ("requested_minutes", format_minutes(checkin.requested_minutes)),
        ("attempts", str(checkin.attempts)),
        ("first_attempt", _show(checkin.first_attempt)),
        ("next_try", _show(checkin.next_try)),
        ("last_reason", " ".join(checkin.last_reason.split()) or "-"),
        ("finished_at", _show(checkin.finished_at)),
        ("tmux_socket", str(checkin.tmux_socket)),
        ("tmux_bin", checkin.tmux_bin),
        ("python", checkin.python),
        ("cron_line", checkin.cron_line),
    ]
    head = "".join(f"{key}: {value}\n" for key, value in fields)
    return f"# Tmux Orchestrator check-in; the note follows the blank line.\n{head}\n{checkin.note}\n"


def parse_record(text: str) -> CheckIn:
    head, _, note = text.partition("\n\n")
    values: dict[str, str] = {}
    for line in head.splitlines():
        if line.startswith("#") or ": " not in line:
            continue
        key, _, value = line.partition(": ")
        values[key] = value
    every = values.get("every_minutes", "-")
    return CheckIn(
        id=values["id"],
        due=datetime.fromisoformat(values["due"]),
        target=values["target"],
        every_minutes=None if every == "-" else float(every),
        note=note[:-1] if note.endswith("\n") else note,
        state=values["state"],
        scheduled_at=datetime.fromisoformat(values["scheduled_at"]),
        requested_minutes=float(values.get("requested_minutes", "0")),
        tmux_socket=Path(values["tmux_socket"]),
        tmux_bin=values["tmux_bin"],
        python=values["python"],
        attempts=int(values.get("attempts", "0")),
        first_attempt=_time(values.get("first_attempt", "-")),
        next_try=_time(values.get("next_try", "-")),
        last_reason="" if values.get("last_reason", "-") == "-" else values["last_reason"],
        finished_at=_time(values.get("finished_at", "-")),
        cron_line=values.get("cron_line", "-"),
    )


def read_checkin(settings: Settings, checkin_id: str) -> CheckIn | None:
    """The pending record with this id, or None (finished, cancelled or never made)."""
    try:
        return parse_record(record_path(settings, checkin_id).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def save_checkin(settings: Settings, checkin: CheckIn) -> None:
    write_private_text(record_path(settings, checkin.id), render_record(checkin))


def finish_checkin(settings: Settings, checkin: CheckIn) -> None:
    """Move a record out of the pending folder, in its final state (one rename)."""
    private_dir(done_dir(settings))
    finished = replace(checkin, finished_at=now_local(), next_try=None)
    save_checkin(settings, finished)
    os.replace(record_path(settings, checkin.id), done_dir(settings) / f"{checkin.id}.txt")


def pending_checkins(settings: Settings) -> list[CheckIn]:
    """Every pending check-in (its ``state`` tells pending, deferred or delivering), by due time."""
    folder = checkins_dir(settings)
    found: list[CheckIn] = []
    if not folder.is_dir():
        return found
    for path in folder.glob("ck-*.txt"):
        try:
            found.append(parse_record(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            continue  # finished while we listed
        except (KeyError, ValueError) as exc:
            print(f"orc: warning: skipping unreadable check-in record {path}: {exc}", file=sys.stderr)
    return sorted(found, key=lambda c: (c.due, c.id))


def log(settings: Settings, event: str, checkin: CheckIn | str, **fields: object) -> None:
    checkin_id = checkin if isinstance(checkin, str) else checkin.id
    log_event(events_log(settings), event, id=checkin_id, **fields)


# --- crontab lines ---------------------------------------------------------------------------


def _suite_hash(settings: Settings) -> str:
    # Two copies of the suite may share one crontab: their sweep lines must not collide.
    return hashlib.sha256(str(settings.state_dir).encode()).hexdigest()[:8]


def sweep_ids(settings: Settings) -> tuple[str, str]:
    tag = _suite_hash(settings)
    return f"orc-sweep-{tag}", f"orc-boot-{tag}"


def team_boot_id(settings: Settings) -> str:
    """The id of the ``@reboot`` line that brings the teams back (``up --boot``, written by
    orc/teams/team_schedules.py while a team is deployed). It runs the sweep itself once the
    teams are back, so while it is in the table the sweep's own ``@reboot`` line is left out:
    two boot lines would race, and the sweep's would type into panes not yet back."""
    return f"orc-up-{_suite_hash(settings)}"


def _fire_env(settings: Settings) -> dict[str, str]:
    env = {"ORC_STATE_DIR": str(settings.state_dir)}
    if settings.crontab_file is not None:
        env["ORC_CRONTAB_FILE"] = str(settings.crontab_file)
    if settings.crontab_bin:  # the fire job must edit the same crontab with the same program
        env["ORC_CRONTAB_BIN"] = shutil.which(settings.crontab_bin) or settings.crontab_bin
    return env


def _fire_argv(settings: Settings, python: str, *args: str) -> list[str]:
    return [python, str(settings.suite_dir / "orc"), "fire", *args]


def wake_minute(checkin: CheckIn) -> datetime:
    """The minute the check-in's own line fires: its due minute, but never the minute it was
    scheduled in (cron looked at that one already). A check-in due before its wake minute is
    kept to its second by a waiter process (:func:`start_waiter`); the line is the safety net."""
    due_minute = checkin.due.astimezone().replace(second=0, microsecond=0)
    first_wake = checkin.scheduled_at.astimezone().replace(second=0, microsecond=0) + timedelta(minutes=1)
    return max(due_minute, first_wake)


def start_waiter(settings: Settings, checkin: CheckIn) -> None:
    """Run ``orc fire <id>`` detached now: it sleeps until the due second and delivers.

    Only for a check-in due before cron can wake for it. If the waiter is lost (a reboot),
    the crontab line or the sweep delivers it, late; the check-in's lock and record make
    sure it is delivered once whoever gets there first.
    """
    import subprocess

    with open(cron_log(settings), "a", encoding="utf-8") as log_file:
        subprocess.Popen(
            _fire_argv(settings, checkin.python, checkin.id),
            env={**os.environ, **_fire_env(settings)}, cwd=str(settings.suite_dir),
            stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
        )


def checkin_line(settings: Settings, checkin: CheckIn, schedule: str | None = None) -> CronJob:
    """The crontab line that fires ``checkin`` in its wake minute (cron's local time), or at
    ``schedule`` (a line a person moved keeps the person's fields)."""
    wake = wake_minute(checkin)
    due = checkin.due.astimezone()
    schedule = schedule or f"{wake.minute} {wake.hour} {wake.day} {wake.month} *"
    info = f"check-in due {due:%Y-%m-%d %H:%M:%S}"
    if checkin.every_minutes:
        info += f" every {format_minutes(checkin.every_minutes)}m"
    if _SAFE_TARGET.fullmatch(checkin.target):
        info += f" for {checkin.target}"
    return render_line(checkin.id, schedule, _fire_argv(settings, checkin.python, checkin.id),
                       env=_fire_env(settings), log=cron_log(settings), info=info)


def sweep_lines(settings: Settings, python: str) -> list[CronJob]:
    sweep_id, boot_id = sweep_ids(settings)
    argv = _fire_argv(settings, python, "--sweep")
    env, log_path = _fire_env(settings), cron_log(settings)
    return [
        render_line(sweep_id, "* * * * *", argv, env=env, log=log_path,
                    info="delivers overdue check-ins and retries (only while any is pending)"),
        render_line(boot_id, "@reboot", argv, env=env, log=log_path,
                    info="delivers check-ins missed while the machine was off"),
    ]


def _is_ours(settings: Settings, job: CronJob) -> bool:
    """Whether a line belongs to this copy of the suite (its state folder), not another."""
    return job.command.startswith(f"ORC_STATE_DIR={cron_quote(str(settings.state_dir))} ")


def _any_pending(settings: Settings) -> bool:
    """Whether the sweep is needed: a pending check-in, or a message kept in the mailbox."""
    if has_mail(settings.state_dir):
        return True
    return any(checkins_dir(settings).glob("ck-*.txt")) if checkins_dir(settings).is_dir() else False


def ensure_sweep_lines(settings: Settings) -> str:
    """Put the sweep lines in while anything is pending (a message was just kept: the sweep
    delivers it when no drainer is watching its pane). "" when done, else a warning to show."""
    try:
        sync_crontab(settings)
    except (CrontabError, OSError) as exc:
        return (f"the crontab's sweep line could not be put in ({exc}); until it is, kept messages are "
                "delivered only while a drainer watches, and on the agent's own events")
    return ""


def _ours(settings: Settings, jobs: dict[str, CronJob]) -> dict[str, CronJob]:
    return {job_id: job for job_id, job in jobs.items() if _is_ours(settings, job)}


def all_lines_vanished(settings: Settings, jobs: dict[str, CronJob]) -> bool:
    """Whether none of the lines this folder's schedule needs (its pending check-ins', its
    sweep's) is in the table: a crontab replaced wholesale (by another tool, or restored
    from an old copy) rather than a person deleting one check-in (docs/scheduling.md)."""
    ours = _ours(settings, jobs)
    needed = {c.id for c in pending_checkins(settings)} | set(sweep_ids(settings))
    return not any(job_id in ours for job_id in needed)


def sync_crontab(settings: Settings, *, add: CheckIn | None = None, remove: list[str] | None = None,
                 reconcile: bool = False) -> None:
    """One read-modify-write of the crontab that leaves the suite's check-in lines matching
    the records: ``add``'s line written, ``remove``'s lines gone, and the sweep and boot
    lines there exactly while any check-in is pending.

    With ``reconcile`` (the sweep): this folder's lines whose record is gone are removed;
    a line whose paths are not this folder's is put right (a moved folder). A missing line
    is put back only for a record the suite has not yet written a line for, or when every
    one of the suite's lines vanished at once (a crontab replaced wholesale): a single
    line a person deleted is their decision, and :func:`honour_crontab_edits` cancels the
    check-in instead (docs/scheduling.md, "The crontab is yours too")."""
    store = CrontabStore.from_settings(settings)
    python = add.python if add else sys.executable
    reinstalled: list[str] = []

    def change(jobs: dict[str, CronJob]) -> None:
        reinstalled.clear()
        for job_id in remove or []:
            job = jobs.get(job_id)
            if job is not None and _is_ours(settings, job):
                del jobs[job_id]  # another folder's line with this id is that folder's business
        if add is not None:
            jobs[add.id] = checkin_line(settings, add)
        # Decided under the crontab lock: a schedule that raced us has written its record
        # before taking the lock, so it is seen here (or it adds the sweep lines itself).
        pending = pending_checkins(settings) if reconcile else []
        any_pending = add is not None or bool(pending) or _any_pending(settings)
        if reconcile:
            ours = _ours(settings, jobs)
            vanished = all_lines_vanished(settings, jobs)
            pending_ids = {c.id for c in pending}
            for job_id in ours:
                if CHECKIN_ID.fullmatch(job_id) and job_id not in pending_ids:
                    del jobs[job_id]
            for checkin in pending:
                have = jobs.get(checkin.id)
                written = None if checkin.cron_line == "-" else checkin.cron_line
                line = checkin_line(settings, checkin, schedule=written)
                if have is None:
                    if written is None or vanished:
                        jobs[checkin.id] = line
                        if written is not None:
                            reinstalled.append(checkin.id)
                elif have != line and (not _is_ours(settings, have) or have.schedule == line.schedule):
                    jobs[checkin.id] = line  # same time, another folder's paths: put right
        team_boot = jobs.get(team_boot_id(settings))
        booted_by_team = team_boot is not None and _is_ours(settings, team_boot)
        for job in sweep_lines(settings, python):
            if any_pending and not (booted_by_team and job.schedule == "@reboot"):
                if jobs.get(job.job_id) is None:
                    jobs[job.job_id] = job
            else:
                jobs.pop(job.job_id, None)

    store.edit(change)
    for checkin_id in reinstalled:
        log(settings, "reinstalled", checkin_id, reason="every line of this suite had vanished from the crontab at once")
    if reinstalled:
        print(f"orc: warning: every crontab line of this suite had vanished at once (a crontab replaced by another "
              f"tool?); put back {len(reinstalled)} check-in line(s): {', '.join(reinstalled)}", file=sys.stderr)


# --- a person's edits of the crontab -----------------------------------------------------------


def due_of_schedule(schedule: str, near: datetime) -> datetime | None:
    """The moment a one-minute line ``M H D Mon *`` names, in the year that puts it nearest
    to ``near``; None for any other schedule (a range, a step, a weekday, @reboot)."""
    fields = schedule.split()
    if len(fields) != 5 or fields[4] != "*" or not all(f.isdigit() for f in fields[:4]):
        return None
    minute, hour, day, month = (int(f) for f in fields[:4])
    candidates = []
    for year in (near.year - 1, near.year, near.year + 1):
        try:
            candidates.append(datetime(year, month, day, hour, minute).astimezone())
        except ValueError:
            continue  # 30 February, 29 February outside a leap year
    return min(candidates, key=lambda moment: abs(moment - near)) if candidates else None


def crontab_edit(settings: Settings, checkin: CheckIn, jobs: dict[str, CronJob]) -> str | None:
    """Apply a person's edit of ``checkin``'s line (``jobs``: the table now) to its record;
    the caller holds the check-in's lock. Returns what happened: ``cancelled`` (the line was
    deleted), ``moved`` (its time was changed), ``lost`` (every line of the suite vanished:
    not a person's choice about this one), ``kept`` (a schedule that is not one minute), or
    None when the line is as the suite wrote it."""
    if checkin.cron_line == "-":
        return None  # no line written yet (being scheduled now), or a record from before
    ours = _ours(settings, jobs)
    job = ours.get(checkin.id)
    if job is None:
        if all_lines_vanished(settings, jobs):
            return "lost"
        finish_checkin(settings, replace(checkin, state="cancelled", last_reason="its crontab line was deleted by hand"))
        log(settings, "cancelled", checkin, by="a crontab edit", reason="its line was deleted",
            note=done_dir(settings) / f"{checkin.id}.txt")
        return "cancelled"
    if job.schedule == checkin.cron_line:
        return None
    due = due_of_schedule(job.schedule, checkin.due)
    if due is None:
        save_checkin(settings, replace(checkin, cron_line=job.schedule))
        log(settings, "edited", checkin, by="a crontab edit", schedule=job.schedule,
            reason="not a single minute: cron runs it then, the due time stays")
        return "kept"
    moved = replace(checkin, due=due, cron_line=job.schedule, next_try=None,
                    state="pending" if checkin.state == "deferred" else checkin.state)
    save_checkin(settings, moved)
    log(settings, "moved", checkin, by="a crontab edit", due=_show(due), was=_show(checkin.due))
    return "moved"


def honour_crontab_edits(settings: Settings) -> dict[str, str]:
    """Compare every pending check-in with its crontab line and apply what a person changed
    (:func:`crontab_edit`); return what changed, by id. A check-in locked right now (being
    delivered, scheduled or rearmed) is left for the next run: its line may be mid-write."""
    from filelock import Timeout

    from orc.core.locks import named_lock

    pending = [c for c in pending_checkins(settings) if c.cron_line != "-"]
    if not pending:
        return {}
    store = CrontabStore.from_settings(settings)
    _, jobs = split_table(store.read_text())
    changed: dict[str, str] = {}
    for checkin in pending:
        job = jobs.get(checkin.id)
        if job is not None and _is_ours(settings, job) and job.schedule == checkin.cron_line:
            continue
        try:
            with named_lock(settings.state_dir, checkin.id, 0):
                fresh = read_checkin(settings, checkin.id)
                if fresh is None:
                    continue
                _, now_jobs = split_table(store.read_text())  # the table now, not before the lock
                outcome = crontab_edit(settings, fresh, now_jobs)
        except Timeout:
            continue
        if outcome:
            changed[checkin.id] = outcome
    if "lost" in changed.values():
        sync_crontab(settings, reconcile=True)
    return changed


# --- scheduling --------------------------------------------------------------------------------


def validate_minutes(value: float | str, what: str = "minutes", minimum: float = 0.0) -> float:
    try:
        minutes = float(value)
    except (TypeError, ValueError):
        raise BadCheckIn(f"{what} {value!r} is not a number; give minutes like 30 or 0.5") from None
    if not math.isfinite(minutes) or minutes <= minimum or minutes > MAX_MINUTES:
        low = f"at least {minimum:g}" if minimum else "more than 0"
        raise BadCheckIn(f"{what} {value!r} is out of range; give {low} and at most {MAX_MINUTES} (30 days)")
    return minutes


def validate_note(note: str, settings: Settings) -> str:
    """The note as it will be kept. A note over ORC_MAX_MESSAGE_BYTES is kept whole: when it
    is delivered, the same code as send_message.sh's (:func:`orc.messages.delivery.fit_to_size`)
    saves it to a file and types a pointer to it (docs/delivery.md)."""
    cleaned = clean_text(note)
    if not cleaned.strip():
        raise BadCheckIn("the note is empty; say what the check-in is for")
    return cleaned


def validate_target(target: str) -> str:
    try:
        parse_target(target)
    except BadTarget as exc:
        raise BadCheckIn(str(exc)) from None
    return target


def due_time(now: datetime, minutes: float) -> datetime:
    """When the check-in is due: ``minutes`` from now, rounded up to the second."""
    return now + timedelta(seconds=math.ceil(minutes * 60))


def _new_id(settings: Settings) -> str:
    while True:
        checkin_id = f"ck-{secrets.token_hex(4)}"
        if not record_path(settings, checkin_id).exists() and not (done_dir(settings) / f"{checkin_id}.txt").exists():
            return checkin_id


def write_note_file(settings: Settings, checkin: CheckIn) -> None:
    """``next_check_note.txt`` as the original wrote it, plus the id and due time."""
    stamp = time.strftime("%a %b %e %H:%M:%S %Z %Y")
    due = checkin.due.astimezone()
    write_private_text(note_file(settings), (
        f"=== Next Check Note ({stamp}) ===\n"
        f"Scheduled for: {format_minutes(checkin.requested_minutes)} minutes "
        f"(check-in {checkin.id}, due {due:%Y-%m-%d %H:%M:%S}, to {checkin.target})\n"
        f"\n{checkin.note}\n"
    ))


def schedule_checkin(settings: Settings, minutes: float, note: str, target: str,
                     every_minutes: float | None = None) -> CheckIn:
    """Record a check-in and its crontab line; return it once both are safely written.

    Raises :class:`BadCheckIn` for bad input before anything is changed, and
    :class:`orc.scheduling.crontab_store.CrontabError` when the crontab could not be written (the
    record is then removed again).
    """
    minutes = validate_minutes(minutes)
    if every_minutes is not None:
        every_minutes = validate_minutes(every_minutes, "--every", MIN_EVERY_MINUTES - 1e-9)
    cleaned = validate_note(note, settings)
    validate_target(target)
    for name, path in (("tmux socket", str(settings.tmux_socket)), ("tmux binary", settings.tmux_bin)):
        if "\n" in path or not path.strip():
            raise BadCheckIn(f"the {name} path {path!r} cannot be recorded; set ORC_TMUX_SOCKET/ORC_TMUX_BIN")
    now = now_local()
    checkin = CheckIn(
        id=_new_id(settings), due=due_time(now, minutes), target=target, every_minutes=every_minutes,
        note=cleaned, state="pending", scheduled_at=now, requested_minutes=minutes,
        tmux_socket=settings.tmux_socket, tmux_bin=os.path.abspath(settings.tmux_bin) if os.sep in settings.tmux_bin
        else settings.tmux_bin, python=sys.executable,
    )
    try:
        checkin_line(settings, checkin)
        sweep_lines(settings, checkin.python)
    except BadCronJob as exc:
        raise BadCheckIn(str(exc)) from None
    private_dir(checkins_dir(settings))
    if not cron_log(settings).exists():  # cron's `>>` would create it 0644 (umask 022)
        append_line(cron_log(settings), f"{_show(now)} cron output of check-ins starts here")
    from orc.scheduling.home_file import record_home
    from orc.core.locks import named_lock

    record_home(settings)
    # Under the check-in's own lock, so that a sweep comparing records with the crontab never
    # takes the moment between the record and its line for a line a person deleted.
    with named_lock(settings.state_dir, checkin.id, settings.lock_timeout + 60):
        save_checkin(settings, checkin)
        try:
            sync_crontab(settings, add=checkin)
        except BaseException:
            record_path(settings, checkin.id).unlink(missing_ok=True)
            raise
        checkin = replace(checkin, cron_line=checkin_line(settings, checkin).schedule)
        save_checkin(settings, checkin)
    if checkin.due < wake_minute(checkin):
        start_waiter(settings, checkin)
    write_note_file(settings, checkin)
    log(settings, "scheduled", checkin, due=_show(checkin.due), target=target,
        every=format_minutes(every_minutes) if every_minutes else None, note=checkin.first_line[:80])
    return checkin


def cancel_checkins(settings: Settings, ids_or_all: str | list[str]) -> list[str]:
    """Cancel the given pending check-ins (or ``"all"``); return the ids cancelled.

    Raises :class:`BadCheckIn` for a malformed id and :class:`UnknownCheckIn` when an id is
    not pending, before anything is changed.
    """
    from orc.core.locks import named_lock

    if ids_or_all == "all" or ids_or_all == ["all"]:
        ids = [c.id for c in pending_checkins(settings)]
    else:
        ids = [ids_or_all] if isinstance(ids_or_all, str) else list(ids_or_all)
        bad = [i for i in ids if not CHECKIN_ID.fullmatch(i)]
        if bad:
            raise BadCheckIn(f"{', '.join(map(repr, bad))} is not a check-in id (ck-<hex>); see --list")
        unknown = [i for i in ids if not record_path(settings, i).exists()]
        if unknown:
            raise UnknownCheckIn(unknown)
    cancelled: list[str] = []
    for checkin_id in ids:
        # The check-in's lock: a delivery under way finishes first, then it is not pending.
        with named_lock(settings.state_dir, checkin_id, settings.lock_timeout + 60):
            checkin = read_checkin(settings, checkin_id)
            if checkin is None:
                continue
            finish_checkin(settings, replace(checkin, state="cancelled"))
            log(settings, "cancelled", checkin, target=checkin.target)
            cancelled.append(checkin_id)
    if ids:
        sync_crontab(settings, remove=ids)
    return cancelled
