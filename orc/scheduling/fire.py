"""What cron runs: ``orc fire <id>`` (one check-in, at its due second) and ``orc fire --sweep``
(every overdue or retry-due check-in; also the crontab's repair).

Cron starts these in a bare environment (docs/scheduling.md, "Cron's bare environment"):
the line carries the state folder, the record carries the tmux binary and socket recorded at scheduling time. Whoever runs,
the check-in's own lock and its state in the record decide: a check-in is delivered once.
A run that finds the state ``delivering`` knows the previous run died mid-delivery and
looks for the check-in's id on the agent's screen before typing it again.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from datetime import datetime, timedelta

from filelock import Timeout

from orc.scheduling.checkins import (
    CHECKIN_ID, LATE_AFTER, CheckIn, checkin_line, crontab_edit, finish_checkin, format_minutes, log, now_local, pending_checkins,
    honour_crontab_edits, read_checkin, save_checkin, sync_crontab,
)
from orc.core.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Parser, fail
from orc.scheduling.crontab_store import CrontabError, CrontabStore, split_table
from orc.messages.delivery import clean_text, deliver, fit_to_size, squash
from orc.messages.mailbox import drain_all
from orc.scheduling.home import check_home
from orc.core.locks import boot_under_way, named_lock
from orc.record.prompt_text import prompt_key
from orc.core.settings import Settings, SettingsError, load_settings
from orc.core.tmux import BadTarget, TargetNotFound, Tmux, TmuxError

PROG = "orc fire"
# The own line starts at the due minute; more than this before the due second means the
# line is stale (clock or time zone changed): leave the check-in to its real time.
EARLY_LIMIT = timedelta(seconds=75)


def prefix(checkin: CheckIn, now: datetime) -> str:
    """The fixed start of every check-in message: the id (proof token), the due time, and
    how late it is. It also keeps a note starting with ! / # @ from meaning anything special."""
    due = checkin.due.astimezone()
    shown = f"{due:%H:%M:%S}" if due.date() == now.astimezone().date() else f"{due:%Y-%m-%d %H:%M}"
    parts = [f"[check-in {checkin.id} due {shown}"]
    if checkin.every_minutes:
        parts.append(f"every {format_minutes(checkin.every_minutes)}m")
    lag = now - checkin.due
    if lag > LATE_AFTER:
        parts.append(f"LATE by {describe(lag)}")
    return ", ".join(parts) + "]"


def describe(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def message(checkin: CheckIn, now: datetime, settings: Settings) -> str:
    return fit_to_size(clean_text(f"{prefix(checkin, now)} {checkin.note}"), settings)


def settings_for(settings: Settings, checkin: CheckIn) -> Settings:
    """Settings aimed at the tmux server the check-in was scheduled on."""
    return replace(settings, tmux_socket=checkin.tmux_socket, tmux_bin=checkin.tmux_bin)


def already_on_screen(settings: Settings, checkin: CheckIn) -> bool:
    """Whether the check-in's id shows in its target pane (a run that died mid-delivery)."""
    tmux = Tmux(settings.tmux_socket, settings.tmux_bin)
    try:
        pane = tmux.resolve(checkin.target)
        screen = squash("\n".join(tmux.capture(pane.pane_id)))
    except (BadTarget, TargetNotFound, TmuxError):
        return False
    return squash(f"[check-in {checkin.id}") in screen


def left_in_input_box(settings: Settings, checkin: CheckIn) -> str:
    """The text in the target's input box when it is this check-in's, unsent: a run killed
    after the paste and before the submit key (``up --boot`` killed half way). "" otherwise.
    On the screen it would pass for delivered; it is not, until it is submitted."""
    from orc.record.agent_state import find_input_box
    from orc.record.profiles import profile_for
    from orc.record.snapshot import StateSources, look

    tmux = Tmux(settings.tmux_socket, settings.tmux_bin)
    try:
        pane = tmux.resolve(checkin.target)
        snap = look(tmux, pane.pane_id, settings.agent_kind, StateSources.from_settings(settings))
        box = find_input_box(snap.lines, profile_for(snap.agent.kind))
    except (BadTarget, TargetNotFound, TmuxError):
        return ""
    if box is None or squash(f"[check-in {checkin.id}") not in squash(box.text):
        return ""
    return box.text


def next_due(checkin: CheckIn, now: datetime) -> datetime:
    """The recurring check-in's next slot after ``now``; missed slots are skipped, not replayed."""
    step = timedelta(minutes=checkin.every_minutes or 0)
    due = checkin.due + step
    if due <= now:
        due += step * ((now - due) // step + 1)
    return due.replace(microsecond=0)


def conclude(settings: Settings, checkin: CheckIn, state: str, now: datetime) -> None:
    """Finish a check-in (delivered or failed): a one-shot leaves the crontab, a recurring
    one is set for its next slot."""
    if checkin.every_minutes:
        again = replace(checkin, due=next_due(checkin, now), state="pending", attempts=0,
                        first_attempt=None, next_try=None)
        save_checkin(settings, again)
        sync_crontab(settings, add=again)
        again = replace(again, cron_line=checkin_line(settings, again).schedule)
        save_checkin(settings, again)
        log(settings, "rearmed", again, due=again.due.isoformat(timespec="seconds"))
    else:
        finish_checkin(settings, replace(checkin, state=state))
        sync_crontab(settings, remove=[checkin.id])


def tell_fallback(settings: Settings, checkin: CheckIn, reason: str) -> None:
    if not settings.fallback_target:
        return
    text = clean_text(
        f"[check-in {checkin.id} for {checkin.target} FAILED after {checkin.attempts} attempts: {reason}] "
        f"Its note: {checkin.first_line[:300]} (full record: "
        f"{settings.state_dir / 'checkins' / 'done' / (checkin.id + '.txt')})"
    )
    result = deliver(Tmux(settings.tmux_socket, settings.tmux_bin), settings.fallback_target,
                     fit_to_size(text, settings), settings, log_as="checkin-fallback")
    log(settings, "fallback", checkin, target=settings.fallback_target,
        result="told" if result.submitted else "not-told", reason=None if result.submitted else result.reason)


def attempt(settings: Settings, checkin: CheckIn, why: str) -> str:
    """Deliver ``checkin`` now (caller holds its lock); return the outcome for the log."""
    now = now_local()
    target_settings = settings_for(settings, checkin)
    lag = now - checkin.due
    if checkin.state == "delivering":
        unsent = left_in_input_box(target_settings, checkin)
        if unsent:
            result = deliver(Tmux(checkin.tmux_socket, checkin.tmux_bin), checkin.target, unsent, target_settings,
                             log_as="checkin", typed_before=True)
            if result.submitted:
                log(settings, "delivered", checkin, target=checkin.target, pane=result.pane_id,
                    how="submitted the text an interrupted run left in the input box", prompt=prompt_key(unsent))
                conclude(settings, checkin, "delivered", now_local())
                return "delivered"
        elif already_on_screen(target_settings, checkin):
            log(settings, "delivered", checkin, target=checkin.target, how="found on screen after an interrupted run")
            conclude(settings, checkin, "delivered", now)
            return "delivered"
    if defer_for_limit(settings, target_settings, checkin, now):
        return "deferred"
    log(settings, "fired", checkin, by=why, lag=f"{lag.total_seconds():.0f}s", attempt=checkin.attempts + 1)
    first_attempt = checkin.first_attempt or now
    trying = replace(checkin, state="delivering", attempts=checkin.attempts + 1, first_attempt=first_attempt)
    save_checkin(settings, trying)
    text = message(checkin, now, settings)
    result = deliver(Tmux(checkin.tmux_socket, checkin.tmux_bin), checkin.target, text, target_settings,
                     log_as="checkin")
    done = now_local()
    if result.submitted:
        if lag > LATE_AFTER:
            log(settings, "late", trying, by=describe(lag), due=checkin.due.isoformat(timespec="seconds"))
        # The prompt's key is what the agent's UserPromptSubmit hook records for it: a turn that
        # later fails is matched to this check-in through it (orc/teams/attention_events.py).
        log(settings, "delivered", trying, target=checkin.target, pane=result.pane_id,
            lag=f"{(done - checkin.due).total_seconds():.1f}s", prompt=prompt_key(text))
        conclude(settings, trying, "delivered", done)
        return "delivered"
    give_up = first_attempt + timedelta(minutes=settings.checkin_give_up_minutes)
    if done >= give_up:
        failed = replace(trying, last_reason=result.reason)
        log(settings, "failed", failed, target=checkin.target, attempts=failed.attempts, reason=result.reason)
        tell_fallback(target_settings, failed, result.reason)
        conclude(settings, failed, "failed", done)
        return "failed"
    retry = done + timedelta(seconds=settings.checkin_retry_seconds)
    save_checkin(settings, replace(trying, state="deferred", next_try=retry, last_reason=result.reason))
    log(settings, "deferred", trying, target=checkin.target, reason=result.reason,
        retry=retry.isoformat(timespec="seconds"), give_up=give_up.isoformat(timespec="seconds"))
    return "deferred"


def defer_for_limit(settings: Settings, target_settings: Settings, checkin: CheckIn, now: datetime) -> bool:
    """When the agent is under its usage limit, move the check-in to just after the reset
    (no attempt counted, the give-up clock not started) and schedule the one nudge for then;
    True when deferred. Without a readable reset time, the usual retries apply."""
    from orc.scheduling.checkins import schedule_checkin
    from orc.record.usage_limit import AFTER_RESET, current_limit, nudge_once

    limit = current_limit(checkin.tmux_socket, checkin.tmux_bin, checkin.target, settings.state_dir, now)
    if limit is None or limit.reset_at is None or limit.reset_at <= now:
        return False
    retry = (limit.reset_at + AFTER_RESET).astimezone(now.tzinfo).replace(microsecond=0)
    save_checkin(settings, replace(checkin, state="deferred", next_try=retry, last_reason=f"usage limit: {limit.text}"))
    log(settings, "deferred", checkin, target=checkin.target, reason="usage limit",
        retry=retry.isoformat(timespec="seconds"), limit=limit.text[:120])
    nudge = nudge_once(settings.state_dir, checkin.tmux_socket, checkin.target, limit.reset_at,
                       settings.limit_nudge, lambda minutes, note, target: schedule_checkin(
                           target_settings, minutes, note, target))
    if nudge:
        log(settings, "nudge-scheduled", checkin, target=checkin.target, nudge=nudge)
    return True


def ready(checkin: CheckIn, now: datetime, after_boot: bool = False) -> bool:
    """Whether a sweep should try ``checkin`` now. ``after_boot``: the teams were just
    brought back, so a check-in deferred because its pane was not there is tried at once;
    one deferred for a usage limit still waits for the reset."""
    if checkin.due > now:
        return False
    if checkin.state == "deferred":
        if after_boot and not (checkin.last_reason or "").startswith("usage limit"):
            return True
        return checkin.next_try is None or checkin.next_try <= now
    return True


def fire_one(settings: Settings, checkin_id: str) -> str:
    """The check-in's own cron line: wait for its due second, then deliver it once."""
    checkin = read_checkin(settings, checkin_id)
    if checkin is None:
        # Finished or cancelled; a line left behind (a run killed at the wrong moment) goes.
        sync_crontab(settings, remove=[checkin_id])
        return "gone"
    wait = (checkin.due - now_local()).total_seconds()
    if wait > EARLY_LIMIT.total_seconds():
        return "early"
    if wait > 0:
        time.sleep(wait)  # cron wakes at the minute; the due second is ours to keep
    # Another run (the sweep, an overlapping fire) may be delivering it: wait for it to
    # finish, then the record tells whether anything is left to do.
    if not settings.state_dir.is_dir():
        return "gone"  # the folder moved while we slept: its new place delivers it
    with named_lock(settings.state_dir, checkin_id, settings.lock_timeout + 60):
        checkin = read_checkin(settings, checkin_id)
        if checkin is None:
            return "gone"
        # The line is a person's interface (docs/scheduling.md): deleted means cancelled,
        # moved means later; checked just before typing, also by the sub-minute waiter.
        _, jobs = split_table(CrontabStore.from_settings(settings).read_text())
        edit = crontab_edit(settings, checkin, jobs)
        if edit in ("cancelled", "moved", "kept"):
            checkin = read_checkin(settings, checkin_id)
            if checkin is None:
                return edit
        if edit == "lost":
            log(settings, "lost", checkin, reason="every line of this suite had vanished from the crontab")
        if not ready(checkin, now_local()):
            return "not-ready" if edit is None else edit
        outcome = attempt(settings, checkin, "schedule")
    if edit == "lost":
        sync_crontab(settings, reconcile=True)
    return outcome


def sweep(settings: Settings, after_boot: bool = False) -> dict[str, str]:
    """Try every check-in that is overdue or due for a retry, and every pane with kept
    messages; then repair the crontab. ``after_boot``: run by ``up --boot`` once the teams
    are back (see :func:`ready`)."""
    outcomes: dict[str, str] = dict(honour_crontab_edits(settings))
    for checkin in pending_checkins(settings):
        if not ready(checkin, now_local(), after_boot):
            continue
        try:
            # timeout=0: a check-in locked right now is being handled by another run.
            with named_lock(settings.state_dir, checkin.id, 0):
                fresh = read_checkin(settings, checkin.id)
                if fresh is None or not ready(fresh, now_local(), after_boot):
                    continue
                outcomes[checkin.id] = attempt(settings, fresh, "sweep")
        except Timeout:
            outcomes[checkin.id] = "busy"
    # Kept messages too: one try per pane (the drainers started by senders and by the
    # agents' hooks watch for a while; this is what catches up after that, and after a reboot).
    outcomes.update(drain_all(settings))
    sync_crontab(settings, reconcile=True)
    return outcomes


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=PROG,
        description="Deliver scheduled check-ins (run by the crontab lines schedule_with_note.sh writes). "
        "Exit 0: nothing failed (delivered, deferred for a retry, or nothing to do); 1: a check-in failed "
        "for good or the crontab could not be updated; 2: bad usage.",
        epilog="examples:\n  python3 orc fire ck-1a2b3c4d\n  python3 orc fire --sweep",
    )
    parser.add_argument("checkin_id", nargs="?", help="the check-in to deliver at its due second")
    parser.add_argument("--sweep", action="store_true", help="deliver whatever is overdue or due for a retry")
    parser.add_argument("--debug", action="store_true", help="show a traceback on unexpected errors")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if bool(args.sweep) == bool(args.checkin_id):
        parser.error("give either a check-in id or --sweep")
    if args.checkin_id and not CHECKIN_ID.fullmatch(args.checkin_id):
        parser.error(f"{args.checkin_id!r} is not a check-in id (ck-<hex>)")
    try:
        settings = load_settings()
    except SettingsError as exc:
        return fail(PROG, str(exc), EXIT_USAGE)
    if not settings.state_dir.is_dir():
        # The line outlived its folder (moved or deleted): create nothing where it was.
        print(f"{PROG}: the state folder {settings.state_dir} no longer exists; nothing to do", flush=True)
        return EXIT_OK
    if boot_under_way(settings.state_dir):
        # `up --boot` is bringing the teams back: typed now, a check-in would reach a pane
        # not yet resumed (or none). The boot delivers what is due once the teams are back.
        print(f"{PROG}: the teams are being brought back after a reboot (up --boot); it delivers what is due",
              flush=True)
        return EXIT_OK
    try:
        check_home(settings)
        if args.sweep:
            outcomes = sweep(settings)
        else:
            outcomes = {args.checkin_id: fire_one(settings, args.checkin_id)}
    except (CrontabError, Timeout) as exc:
        if args.debug:
            raise
        return fail(PROG, f"{exc}; the sweep will try again")
    except Exception as exc:  # cron mails nothing useful from a traceback: one line, logged
        if args.debug:
            raise
        return fail(PROG, f"{type(exc).__name__}: {exc}; rerun with --debug for details")
    if outcomes:
        stamp = now_local().isoformat(timespec="seconds")
        print(f"{stamp} " + " ".join(f"{k}={v}" for k, v in outcomes.items()))
    return EXIT_FAILED if "failed" in outcomes.values() else EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
