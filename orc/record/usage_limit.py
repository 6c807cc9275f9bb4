"""The agent's usage limit: read it, wait for its reset, then nudge the agent once.

When a Claude Code subscription reaches its usage limit, the API answers 429 with the
``anthropic-ratelimit-unified-*`` headers and Claude Code says so (docs/agent-record.md,
"Usage limits"; captures in tests/e2e/SCREENS.md):

* on the screen: ``⎿  You've hit your 5-hour limit · resets 4:45pm (UTC)`` under the prompt,
  ``Usage limit reached · limit resets 4:45pm`` in the footer (a weekly limit:
  ``resets Nov 28, 6:32pm (UTC)`` and a "What do you want to do?" dialog);
* through hooks: a ``StopFailure`` event with ``error: "rate_limit"`` whose
  ``last_assistant_message`` is that same "You've hit your ..." line;
* the session registry shows nothing of it (``status`` stays ``idle``).

A check-in due meanwhile would only be typed into an agent that cannot answer, and burn its
retries: ``defer_for_limit`` moves it to the reset instead, and schedules one short nudge
(``ORC_LIMIT_NUDGE``; empty turns it off) for just after the reset.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path

#: A Claude Code usage-limit line, with the reset time as it prints it.
_LIMIT_LINE = re.compile(
    r"(?:You've hit your (?P<what>[\w -]+?limit)|Usage limit reached)"
    r"(?:\s*·\s*(?:limit )?resets (?:at )?(?P<reset>[^·\n]+?))?\s*(?:·|$)")
_AUTO = re.compile(r"continu(?:e|ing) automatically at (?P<reset>[^·\n]+?)\s*(?:·|$)")
_TIME = re.compile(r"^(?:(?P<month>[A-Z][a-z]{2}) (?P<day>\d{1,2}),? )?(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?"
                   r"\s*(?P<ampm>am|pm)?(?:\s*\((?P<zone>[^)]+)\))?$", re.IGNORECASE)
_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                       "nov", "dec"), start=1)}
#: After the reset shown, the nudge and the deferred check-ins wait this long: the time shown
#: is rounded down to the minute (up to 59 s early), and Claude Code continues on its own first.
AFTER_RESET = timedelta(seconds=90)
DEFAULT_NUDGE = "Your usage limit has reset: continue where you left off."


@dataclass(frozen=True)
class UsageLimit:
    reset_at: datetime | None  # aware; None when the message gave no time we could read
    text: str                  # the line it was read from


def _zone(name: str | None, fallback: tzinfo) -> tzinfo:
    if not name:
        return fallback
    if name.upper() in ("UTC", "GMT"):
        return timezone.utc
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except Exception:  # noqa: BLE001 - an unknown zone name: the local zone is the best guess
        return fallback


def parse_reset(text: str, now: datetime) -> datetime | None:
    """The moment ``text`` names, e.g. ``4:45pm (UTC)``, ``4pm``, ``Nov 28, 6:32pm (UTC)``,
    ``16:45`` (the start of that minute; Claude Code shows the reset rounded down to it),
    the next such moment after ``now`` less six hours; None when it names none."""
    match = _TIME.match(text.strip())
    if not match:
        return None
    zone = _zone(match["zone"], now.astimezone().tzinfo or timezone.utc)
    hour, minute = int(match["hour"]), int(match["minute"] or 0)
    if match["ampm"]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if match["ampm"].lower() == "pm" else 0)
    if hour > 23 or minute > 59:
        return None
    local_now = now.astimezone(zone)
    if match["month"]:
        month = _MONTHS.get(match["month"].lower())
        if month is None:
            return None
        try:
            moment = local_now.replace(month=month, day=int(match["day"]), hour=hour, minute=minute, second=0,
                                       microsecond=0)
        except ValueError:
            return None
        if moment < local_now - timedelta(days=180):
            moment = moment.replace(year=moment.year + 1)
        return moment
    moment = local_now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    # A time without a date is within the next day; one a little in the past is a limit that
    # is over (its line still on the screen), not tomorrow's.
    if moment < local_now - timedelta(hours=6):
        moment += timedelta(days=1)
    return moment


def limit_from_text(text: str, now: datetime | None = None) -> UsageLimit | None:
    """The usage limit one line of Claude Code's reports, or None when it reports none."""
    now = now or datetime.now(timezone.utc)
    match = _LIMIT_LINE.search(text)
    if not match:
        return None
    reset = match["reset"]
    if reset is None:
        auto = _AUTO.search(text)
        reset = auto["reset"] if auto else None
    return UsageLimit(parse_reset(reset, now) if reset else None, text.strip())


def limit_from_screen(lines: list[str], now: datetime | None = None) -> UsageLimit | None:
    """The usage limit the agent's screen shows (the last such line wins), else None.

    A reset time is taken from the line that states it or, failing that, from "continuing
    automatically at ..." elsewhere on the screen.
    """
    found: UsageLimit | None = None
    auto: datetime | None = None
    for line in lines:
        limit = limit_from_text(line, now)
        if limit is not None:
            found = limit if limit.reset_at is not None or found is None else found
        match = _AUTO.search(line)
        if match:
            auto = parse_reset(match["reset"], now or datetime.now(timezone.utc)) or auto
    if found is not None and found.reset_at is None and auto is not None:
        found = UsageLimit(auto, found.text)
    return found


def limit_from_hook(event: str, detail: str | None, message: str | None,
                    now: datetime | None = None) -> UsageLimit | None:
    """The usage limit a hook report names: ``StopFailure`` with error ``rate_limit``."""
    if event != "StopFailure" or detail != "rate_limit":
        return None
    return limit_from_text(message or "", now) or UsageLimit(None, message or "rate_limit")


# --- what a check-in does about it ------------------------------------------------------------


def current_limit(tmux_socket: Path, tmux_bin: str, target: str, state_dir: Path,
                  now: datetime | None = None) -> UsageLimit | None:
    """The usage limit the agent at ``target`` is under now, from its hooks, else its screen."""
    from orc.record.hook_events import latest_reports
    from orc.core.tmux import BadTarget, TargetNotFound, Tmux, TmuxError

    now = now or datetime.now(timezone.utc)
    tmux = Tmux(tmux_socket, tmux_bin)
    try:
        pane = tmux.resolve(target)
    except (BadTarget, TargetNotFound, TmuxError):
        return None
    report = latest_reports(state_dir, socket=tmux_socket).get(pane.pane_id)
    if report is not None:
        limit = limit_from_hook(report.event, report.detail, report.message, now)
        if limit is not None and (limit.reset_at is None or limit.reset_at > now):
            return limit
    try:
        screen = tmux.capture(pane.pane_id)
    except TmuxError:
        return None
    limit = limit_from_screen(screen, now)
    if limit is not None and limit.reset_at is not None and limit.reset_at <= now:
        return None  # an old line still on the screen; the limit is over
    return limit


def _nudge_record(state_dir: Path, socket: Path, target: str) -> Path:
    key = hashlib.sha256(f"{socket}\n{target}".encode()).hexdigest()[:16]
    return state_dir / "limits" / f"{key}.txt"


def nudge_once(state_dir: Path, socket: Path, target: str, reset_at: datetime, text: str,
               schedule: Callable[[float, str, str], object]) -> str | None:
    """Schedule ``text`` for ``target`` just after ``reset_at``, once per reset; return the
    check-in id, or None when already scheduled for this reset or ``text`` is empty.

    ``schedule(minutes, note, target)`` makes the check-in (``orc.scheduling.checkins.schedule_checkin``
    bound to the settings of the target's server): the nudge is an ordinary one-shot check-in,
    so it is delivered with proof, retried, and listed like any other.
    """
    from orc.core.state import write_private_text

    if not text.strip():
        return None
    record = _nudge_record(state_dir, socket, target)
    try:
        previous = datetime.fromisoformat(record.read_text(encoding="utf-8").split("\n", 1)[0])
    except (OSError, ValueError):
        previous = None
    if previous is not None and abs((previous - reset_at).total_seconds()) < 300:
        return None
    due = reset_at + AFTER_RESET
    minutes = max(0.05, (due - datetime.now(timezone.utc)).total_seconds() / 60)
    checkin = schedule(minutes, text, target)
    checkin_id = str(getattr(checkin, "id", checkin))
    write_private_text(record, f"{reset_at.isoformat()}\n{target}\n{checkin_id}\n")
    return checkin_id
