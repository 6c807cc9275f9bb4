"""schedule_with_note.sh: schedule a check-in (a note typed into an agent's pane later),
kept in the user's crontab so it survives reboots and is delivered once."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from orc.scheduling.checkins import (
    MAX_MINUTES, MIN_EVERY_MINUTES, BadCheckIn, CheckIn, cancel_checkins, format_minutes,
    honour_crontab_edits, pending_checkins, schedule_checkin, validate_target,
)
from orc.core.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Parser, fail
from orc.scheduling.crontab_store import (
    CronJob, CrontabError, CrontabStore, cron_daemon_running, how_to_start_cron, is_left_behind, suite_folder_of,
)
from orc.scheduling.home import AdoptRefused, adopt, check_home
from orc.core.state import log_event
from orc.core.settings import Settings, SettingsError, load_settings
from orc.core.tmux import BadTarget, TargetNotFound, Tmux, TmuxError, parse_target
from orc.record.snapshot import look

PROG = "schedule_with_note.sh"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=PROG,
        usage=f"{PROG} [--every MINUTES] [--strict] <minutes> \"<note>\" [target]\n"
              f"       {PROG} --list | --cancel <id>|all | --cleanup | --adopt",
        description=(
            "Schedule a check-in: in <minutes> (fractions allowed: 0.5) the note is typed into the "
            "target's agent and submitted, prefixed with the check-in's id, through the same verified "
            "delivery as send_message.sh. It is one line in your crontab (`crontab -l` shows it), "
            "survives reboots, is delivered late but once after downtime, and waits while a dialog "
            "is showing. The target defaults to the pane you run this in (inside tmux), else "
            "ORC_DEFAULT_TARGET. Exit 0: recorded; 1: could not record it (crontab); 2: bad usage."
        ),
        epilog=(
            "examples:\n"
            f"  {PROG} 30 \"Review auth implementation, assign next task\"\n"
            f"  {PROG} 0.5 \"Check the build\" project:Backend-Dev.0\n"
            f"  {PROG} --every 60 15 \"Hourly status: read the PM's notes\" pm:0\n"
            f"  {PROG} --list\n"
            f"  {PROG} --cancel ck-1a2b3c4d\n"
            f"  {PROG} --cleanup      # remove crontab lines of suite folders that no longer exist\n"
            f"notes and logs: state/checkins/, state/next_check_note.txt, state/checkins.log\n"
            f"copied, moved or edited by hand: docs/copy-and-move.md and docs/scheduling.md\n"
            f"minutes: more than 0, at most {MAX_MINUTES} (30 days); --every: at least "
            f"{MIN_EVERY_MINUTES:g}"
        ),
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--list", action="store_true", help="show the pending check-ins")
    action.add_argument("--cancel", metavar="ID|all", help="cancel a pending check-in, or all of them "
                        "(all also removes crontab lines of suite folders that no longer exist)")
    action.add_argument("--cleanup", action="store_true",
                        help="remove crontab lines of suite folders that no longer exist (moved or deleted)")
    action.add_argument("--adopt", action="store_true",
                        help="take over the check-ins set aside when this folder was found to be a copy "
                        "(only when the original will never run again)")
    parser.add_argument("--strict", action="store_true",
                        help="refuse (exit 1, nothing scheduled) a target that is a bare shell or does not exist")
    parser.add_argument("--every", metavar="MINUTES", help="repeat the check-in every MINUTES after the first")
    parser.add_argument("--debug", action="store_true", help="show a traceback on unexpected errors")
    parser.add_argument("minutes", nargs="?", help="minutes from now (fractions allowed)")
    parser.add_argument("note", nargs="?", help="what the check-in is for (several lines allowed)")
    parser.add_argument("target", nargs="?", help="session:window[.pane] or %%pane_id")
    return parser


def default_target(settings: Settings, environ: dict[str, str] | os._Environ[str]) -> tuple[str, str | None]:
    """The caller's own pane when it runs inside tmux on the suite's server (by its window's
    name where that lasts, :meth:`Tmux.lasting_address`), else the configured default; and a
    note on how it was chosen, for stderr."""
    inside, pane_id = environ.get("TMUX", ""), environ.get("TMUX_PANE", "")
    if inside and pane_id and Path(inside.split(",")[0]) == settings.tmux_socket:
        tmux = Tmux(settings.tmux_socket, settings.tmux_bin)
        try:
            pane = tmux.resolve(pane_id)
            # By its window's name where that lasts: after a reboot the agent's window comes
            # back by name, not always at the same index.
            address = tmux.lasting_address(pane)
        except (BadTarget, TargetNotFound, TmuxError):
            return pane_id, None
        try:
            parse_target(address)
        except BadTarget:  # a session name with '.' or ':' has no address form
            return pane.pane_id, None
        return address, None
    return settings.default_target, f"not inside tmux: using ORC_DEFAULT_TARGET={settings.default_target}"


def target_problem(settings: Settings, target: str) -> str | None:
    """Why the check-in could not be typed into ``target`` as things are now: the pane does
    not exist, or it runs a bare shell (the note would run as a command, so it is refused).
    The agent's state comes from tmux_utils (:meth:`Tmux.look`), the one reading of it."""
    tmux = Tmux(settings.tmux_socket, settings.tmux_bin)
    how = "name the agent's pane instead (`python3 tmux_utils.py` lists panes and their state)"
    retry = (f"at the due time it is retried every {settings.checkin_retry_seconds}s for "
             f"{settings.checkin_give_up_minutes} minutes, then marked failed")
    try:
        pane = tmux.resolve(target)
        state = look(tmux, pane.pane_id, settings.agent_kind).state
    except TargetNotFound as exc:
        return f"{exc}: {retry} unless an agent appears there; {how}"
    except TmuxError as exc:
        return f"cannot check the target now ({exc})"
    if state == "shell":
        return (f"{target} ({pane.pane_id}) is a shell, not an agent: the note would run as a command, so it is not "
                f"typed there; {retry}; {how}")
    return None


def report_edits(settings: Settings) -> None:
    """Apply a person's crontab edits to the records, and say what changed (stderr)."""
    words = {"cancelled": "cancelled by a crontab edit (its line was deleted)",
             "moved": "moved to the time its crontab line now says", "kept": "its line's schedule was edited"}
    for checkin_id, what in honour_crontab_edits(settings).items():
        if what in words:
            print(f"{PROG}: {checkin_id} {words[what]}", file=sys.stderr)


def left_behind(settings: Settings) -> list[CronJob]:
    return [job for job in CrontabStore.from_settings(settings).jobs() if is_left_behind(job)]


def remove_left_behind(settings: Settings) -> list[CronJob]:
    """Remove the suite lines whose folder no longer exists; return them."""
    gone: list[CronJob] = []

    def change(jobs: dict[str, CronJob]) -> None:
        gone.clear()
        for job_id, job in list(jobs.items()):
            if is_left_behind(job):
                gone.append(job)
                del jobs[job_id]

    CrontabStore.from_settings(settings).edit(change)
    for job in gone:
        log_event(settings.state_dir / "checkins.log", "removed-left-behind", id=job.job_id,
                  folder=suite_folder_of(job), schedule=job.schedule)
    return gone


def describe_line(job: CronJob) -> str:
    return f"{job.job_id}  {job.schedule}  {suite_folder_of(job) or job.command[:60]}"


def show_list(settings: Settings) -> int:
    report_edits(settings)
    pending = pending_checkins(settings)
    stale = left_behind(settings)
    if stale:
        print(f"{PROG}: {len(stale)} crontab line(s) run a suite folder that no longer exists (moved or deleted); "
              f"remove them with `{PROG} --cleanup`:", file=sys.stderr)
        for job in stale:
            print(f"  {describe_line(job)}", file=sys.stderr)
    if not pending:
        print("no check-ins pending")
        return EXIT_OK
    rows = [("ID", "DUE", "TARGET", "STATE", "NOTE")]
    for c in pending:
        state = c.state + (f" every {format_minutes(c.every_minutes)}m" if c.every_minutes else "")
        rows.append((c.id, f"{c.due.astimezone():%Y-%m-%d %H:%M:%S}", c.target, state, c.first_line[:60]))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4])
    return EXIT_OK


def report(checkin: CheckIn, requested_note: str) -> None:
    """What the original printed (the note, SCHEDULED TO RUN AT), plus the id."""
    now, due = checkin.scheduled_at.astimezone(), checkin.due.astimezone()
    minutes = format_minutes(checkin.requested_minutes)
    # Today's due time keeps the original's exact line; another day's says which day.
    when = f"{due:%H:%M:%S}" if due.date() == now.date() else f"{due:%Y-%m-%d %H:%M:%S}"
    print(f"Scheduling check in {minutes} minutes with note: {requested_note}")
    every = f", then every {format_minutes(checkin.every_minutes)} minutes" if checkin.every_minutes else ""
    print(f"Scheduled successfully - check-in {checkin.id} in the crontab for {checkin.target}{every}")
    print(f"SCHEDULED TO RUN AT: {when} (in {minutes} minutes from {now:%H:%M:%S})")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        return fail(PROG, str(exc), EXIT_USAGE)
    if (args.list or args.cancel or args.cleanup or args.adopt) and (args.minutes is not None or args.every
                                                                     or args.strict):
        parser.error("--list, --cancel, --cleanup and --adopt take no minutes, note, --every or --strict")
    try:
        # A copy or a move of the folder is dealt with before anything else (docs/copy-and-move.md).
        check_home(settings)
        if args.list:
            return show_list(settings)
        if args.cleanup:
            gone = remove_left_behind(settings)
            for job in gone:
                print(f"Removed {describe_line(job)}")
            if not gone:
                print("no crontab lines of missing suite folders")
            return EXIT_OK
        if args.adopt:
            adopted = adopt(settings)
            for checkin_id in adopted:
                print(f"Adopted {checkin_id}")
            if not adopted:
                print("nothing set aside to adopt")
            return EXIT_OK
        if args.cancel:
            report_edits(settings)
            cancelled = cancel_checkins(settings, args.cancel)
            for checkin_id in cancelled:
                print(f"Cancelled {checkin_id}")
            if args.cancel == "all":
                for job in remove_left_behind(settings):
                    print(f"Removed {describe_line(job)} (its suite folder no longer exists)")
            if not cancelled:
                print("no check-ins pending")
            return EXIT_OK
        if args.minutes is None or args.note is None:
            parser.error("give <minutes> and \"<note>\"")
        target, how = (args.target, None) if args.target else default_target(settings, os.environ)
        validate_target(target)
        problem = target_problem(settings, target)
        if problem and args.strict:
            return fail(PROG, f"{problem}; nothing scheduled (--strict)", EXIT_FAILED)
        checkin = schedule_checkin(
            settings, args.minutes, args.note, target,
            every_minutes=None if args.every is None else _every(args.every),
        )
    except BadCheckIn as exc:
        return fail(PROG, f"{exc}", EXIT_USAGE)
    except CrontabError as exc:
        return fail(PROG, f"the check-in was not recorded: {exc}", EXIT_FAILED)
    except AdoptRefused as exc:
        return fail(PROG, str(exc), EXIT_FAILED)
    except Exception as exc:
        if args.debug:
            raise
        return fail(PROG, f"{type(exc).__name__}: {exc}; rerun with --debug for details")
    report(checkin, args.note)
    warnings = [how, f"warning: {problem}" if problem else None]
    if settings.crontab_file is None and cron_daemon_running() is False:
        warnings.append(f"WARNING: no cron daemon is running, so nothing will fire until one does; "
                        f"{how_to_start_cron()}. The check-in is recorded and will be delivered (late) then.")
    for warning in filter(None, warnings):
        print(f"{PROG}: {warning}", file=sys.stderr)
    return EXIT_OK


def _every(value: str) -> float:
    from orc.scheduling.checkins import validate_minutes

    return validate_minutes(value, "--every", MIN_EVERY_MINUTES - 1e-9)


if __name__ == "__main__":
    raise SystemExit(main())
