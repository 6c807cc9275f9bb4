"""Where a state folder belongs: its home (suite folder, state folder, host, user).

A suite folder is copied (``cp -r``, ``rsync -a``, a tarball) and moved like any other, and
its ``state/`` goes along; the crontab lines hold absolute paths (docs/copy-and-move.md).
So the state records its home in ``state/home.txt``, a few ``key: value`` lines, and every
command compares it with where it runs now. That costs one small file read; only when the
home changed is the crontab read.

* Same home: nothing to do.
* A **copy** (the recorded state folder still exists, or the home is another host's or
  another user's, unless the paths are the same and this crontab holds lines of this state
  folder: then only the machine's name changed): the pending check-ins belong to the original, which delivers them. The
  copy sets the records aside under ``state/foreign/<when>-<host>-<hash>/`` (moved, never
  deleted), starts with an empty schedule, says so once on stderr, and records its own
  home. ``schedule_with_note.sh --adopt`` takes them over deliberately.
* A **move** (same host and user, the recorded state folder is gone): the crontab lines
  that name the old paths are rewritten to the new ones, same ids, and logged; check-ins
  that fell due meanwhile are delivered by the next sweep, once, marked late.

A state folder without ``home.txt`` (made before homes were recorded) is taken as this
folder's own, unless the crontab shows its check-ins under another state folder.
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from orc.core.settings import Settings
from orc.core.state import private_dir, write_private_text
from orc.scheduling.home_file import HOME_FILE, Home, current_home, read_home, read_home_at, record_home

FOREIGN_DIR = "foreign"


@dataclass(frozen=True)
class HomeChange:
    """What the home check found and did; ``message`` is said once on stderr."""

    kind: str                  # "copy" or "move"
    recorded: Home
    message: str
    set_aside: Path | None = None
    moved_ids: tuple[str, ...] = ()


def is_copy(recorded: Home, here: Home) -> bool:
    """A copy: its original may still run (here, or on the host it came from)."""
    if (recorded.host, recorded.user) != (here.host, here.user):
        return True
    return recorded.state != here.state and recorded.state.is_dir()


def check_home(settings: Settings) -> HomeChange | None:
    """Compare the recorded home with this place and deal with a copy or a move (module
    docstring). Returns what was done, or None when nothing changed. Cheap when nothing
    did: one small file read; nothing is created when the state folder does not exist."""
    if not settings.state_dir.is_dir():
        return None
    here = current_home(settings)
    recorded = read_home(settings)
    if recorded == here:
        return None
    from orc.core.locks import named_lock

    with named_lock(settings.state_dir, "home", settings.lock_timeout + 60):
        recorded = read_home(settings)  # another command may have dealt with it meanwhile
        if recorded == here:
            return None
        if recorded is None:
            recorded = _home_from_crontab(settings, here)
            if recorded is None:
                record_home(settings)
                return None
        change: HomeChange | None
        if is_copy(recorded, here) and not _same_installation_renamed(settings, recorded, here):
            change = _set_aside(settings, recorded, here)
        else:
            change = _moved_here(settings, recorded, here)
        record_home(settings)
    if change is not None:
        print(f"orc: {change.message}", file=sys.stderr)
    return change


def notice_home(settings: Settings) -> None:
    """:func:`check_home` for the commands that do not schedule (send_message.sh,
    orchestrator_integration.py): a copy or a move is dealt with by whichever command runs
    first in the new place, but a crontab that cannot be read now must not stop a message
    or a status; it is said in one line, and the next command tries again."""
    try:
        check_home(settings)
    except Exception as exc:  # noqa: BLE001 - any failure here is reported, never fatal
        print(f"orc: warning: could not check where this suite's state lives ({exc}); "
              "the next command tries again", file=sys.stderr)


def _same_installation_renamed(settings: Settings, recorded: Home, here: Home) -> bool:
    """Same folder and state paths, another host name or user name: a machine whose name
    changed (a container restarted) rather than a copy, when this crontab holds lines of
    this very state folder (a copy from another machine brings none)."""
    if (recorded.folder, recorded.state) != (here.folder, here.state):
        return False
    from orc.scheduling.crontab_store import CrontabStore, parse_command

    for job in CrontabStore.from_settings(settings).jobs():
        parsed = parse_command(job)
        if parsed is not None and parsed.env.get("ORC_STATE_DIR") == str(here.state):
            return True
    return False


def _pending_ids(state: Path) -> list[str]:
    folder = state / "checkins"
    return sorted(p.stem for p in folder.glob("ck-*.txt")) if folder.is_dir() else []


def _home_from_crontab(settings: Settings, here: Home) -> Home | None:
    """For state made before homes were recorded: another state folder whose crontab lines
    carry this folder's pending check-in ids is where these records came from."""
    ids = set(_pending_ids(settings.state_dir))
    if not ids:
        return None
    from orc.scheduling.crontab_store import CrontabStore, parse_command, suite_folder_of

    for job in CrontabStore.from_settings(settings).jobs():
        if job.job_id not in ids:
            continue
        parsed = parse_command(job)
        state = parsed.env.get("ORC_STATE_DIR") if parsed else None
        folder = suite_folder_of(job)
        if state and Path(state) != here.state and folder is not None:
            return Home(folder, Path(state), here.host, here.user)
    return None


def _slug(recorded: Home) -> str:
    digest = hashlib.sha256(str(recorded.state).encode()).hexdigest()[:8]
    host = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in recorded.host)[:40] or "host"
    return f"{datetime.now():%Y%m%d-%H%M%S}-{host}-{digest}"


def _set_aside(settings: Settings, recorded: Home, here: Home) -> HomeChange:
    """A copy: move the original's pending records out of the way, never deleting them."""
    from orc.scheduling.checkins import checkins_dir, log

    ids = _pending_ids(settings.state_dir)
    aside: Path | None = None
    if ids:
        aside = private_dir(settings.state_dir / FOREIGN_DIR / _slug(recorded))
        write_private_text(aside / HOME_FILE, recorded.render())
        private_dir(aside / "checkins")
        for checkin_id in ids:
            os.replace(checkins_dir(settings) / f"{checkin_id}.txt", aside / "checkins" / f"{checkin_id}.txt")
        log(settings, "set-aside", ",".join(ids), reason="copied folder", origin=recorded.describe(), to=aside)
    where = f"copied from {recorded.describe()}"
    if ids:
        message = (f"this state folder was {where}; its {len(ids)} pending check-in(s) belong to that folder, "
                   f"which delivers them, so they were set aside in {aside} and this folder starts with an "
                   f"empty schedule. If that folder will never run again, take them over with "
                   f"`schedule_with_note.sh --adopt`.")
    else:
        message = f"this state folder was {where}; nothing was pending, this folder now has its own schedule."
    return HomeChange("copy", recorded, message, set_aside=aside)


def _moved_here(settings: Settings, recorded: Home, here: Home) -> HomeChange | None:
    """A move: rewrite the old home's crontab lines to this place, same ids."""
    from orc.scheduling.checkins import _any_pending, checkin_line, log, pending_checkins, sweep_ids, sweep_lines
    from orc.scheduling.crontab_store import CronJob, CrontabStore, rewrite_paths

    mapping = sorted({(str(recorded.folder), str(here.folder)), (str(recorded.state), str(here.state))},
                     key=lambda pair: -len(pair[0]))
    mapping = [(old, new) for old, new in mapping if old != new]
    old_sweeps = set(sweep_ids(replace(settings, state_dir=recorded.state)))
    moved: list[str] = []

    def change(jobs: dict[str, CronJob]) -> None:
        moved.clear()
        for job_id, job in list(jobs.items()):
            if job_id in old_sweeps:
                del jobs[job_id]  # named after the old state folder; this folder's own are added below
                continue
            rewritten = rewrite_paths(job, mapping)
            if rewritten is not None:
                jobs[job_id] = rewritten
                moved.append(job_id)
        # A pending check-in whose line is nowhere (another folder's --cleanup took the old
        # lines): ambiguous in a move, so kept rather than taken for a person's deletion.
        for checkin in pending_checkins(settings):
            if checkin.id not in jobs:
                written = None if checkin.cron_line == "-" else checkin.cron_line
                jobs[checkin.id] = checkin_line(settings, checkin, schedule=written)
                moved.append(checkin.id)
        if _any_pending(settings):
            for job in sweep_lines(settings, sys.executable):
                jobs.setdefault(job.job_id, job)

    CrontabStore.from_settings(settings).edit(change)
    for job_id in moved:
        log(settings, "moved-line", job_id, origin=str(recorded.folder), to=str(here.folder))
    if not moved and not _any_pending(settings):
        return None
    message = (f"this suite folder moved here from {recorded.folder}; rewrote {len(moved)} crontab line(s) to the "
               f"new paths (same ids); check-ins that fell due meanwhile are delivered at the next minute, marked late.")
    return HomeChange("move", recorded, message, moved_ids=tuple(moved))


def adopt(settings: Settings) -> list[str]:
    """Take over the check-ins set aside from copied-from folders: back into the schedule,
    with this folder's lines; the original's lines for them are removed. Refused (a
    :class:`AdoptRefused`) while the original still exists on this host with pending
    check-ins: both would deliver them."""
    from orc.scheduling.checkins import checkins_dir, log, parse_record, save_checkin, sync_crontab
    from orc.scheduling.crontab_store import CronJob, CrontabStore, is_left_behind, parse_command
    from orc.core.locks import named_lock

    folder = settings.state_dir / FOREIGN_DIR
    here = current_home(settings)
    batches = sorted(p for p in folder.iterdir() if (p / "checkins").is_dir()) if folder.is_dir() else []
    adopted: list[str] = []
    for batch in batches:
        origin = read_home_at(batch / HOME_FILE)
        records = sorted((batch / "checkins").glob("ck-*.txt"))
        if not records:
            continue
        if origin is not None and (origin.host, origin.user) == (here.host, here.user) and _pending_ids(origin.state):
            raise AdoptRefused(f"the original {origin.folder} still exists and has pending check-ins, so both folders "
                               f"would deliver them; cancel them there (`{origin.folder}/schedule_with_note.sh "
                               f"--cancel all`) or delete that folder, then run --adopt again")
        if origin is not None and (origin.host, origin.user) == (here.host, here.user):
            # What the original finished (delivered, cancelled) since the copy stays finished.
            records = [p for p in records if not (origin.state / "checkins" / "done" / p.name).exists()]
        ids = [p.stem for p in records]
        if not ids:
            continue

        def drop_originals(jobs: dict[str, CronJob]) -> None:
            for job_id, job in list(jobs.items()):
                parsed = parse_command(job)
                of_origin = (origin is not None and parsed is not None
                             and parsed.env.get("ORC_STATE_DIR") == str(origin.state))
                if (job_id in ids and (of_origin or is_left_behind(job))) or (of_origin and is_left_behind(job)):
                    del jobs[job_id]  # the original's lines for them, and its folder's lines if it is gone

        CrontabStore.from_settings(settings).edit(drop_originals)
        private_dir(checkins_dir(settings))
        for path in records:
            checkin = parse_record(path.read_text(encoding="utf-8"))
            socket_path = checkin.tmux_socket if checkin.tmux_socket.exists() else settings.tmux_socket
            checkin = replace(checkin, python=sys.executable, tmux_socket=socket_path, tmux_bin=settings.tmux_bin,
                              cron_line="-", state="pending" if checkin.state == "deferred" else checkin.state)
            with named_lock(settings.state_dir, checkin.id, settings.lock_timeout + 60):
                save_checkin(settings, checkin)
                path.unlink()
                sync_crontab(settings, add=checkin)
                from orc.scheduling.checkins import checkin_line

                save_checkin(settings, replace(checkin, cron_line=checkin_line(settings, checkin).schedule))
            log(settings, "adopted", checkin, origin=origin.describe() if origin else batch)
            adopted.append(checkin.id)
    return adopted


class AdoptRefused(RuntimeError):
    """Adopting now would deliver check-ins twice; the message says what to do first."""
