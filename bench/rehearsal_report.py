"""The rehearsal's arithmetic: the suite's logs read into counts, and what was sent checked
against what each agent received (bench/rehearsal.py writes the report from these).

Pure functions on text and plain data, so tests/test_rehearsal_report.py checks them fast.
The logs are the suite's own ``<time> <event> key=value ...`` lines (values with spaces are
double-quoted, backslash-escaped), one file per concern: ``delivery.log`` (every attempt to
type into a pane), ``checkins.log`` (every check-in event), ``git.log`` (backups, tests,
tags, finish), ``integration.log`` (deploy, restart, stop), ``attention.log`` (what needed a
person).
"""

from __future__ import annotations

import math
import shlex
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Collection


@dataclass(frozen=True)
class LogLine:
    at: str
    event: str
    fields: dict[str, str]


def parse_log(text: str) -> list[LogLine]:
    """Each ``<time> <event> key=value ...`` line; lines that do not parse are skipped."""
    lines = []
    for raw in text.splitlines():
        try:
            parts = shlex.split(raw)
        except ValueError:
            continue
        if len(parts) < 2:
            continue
        fields = dict(p.split("=", 1) for p in parts[2:] if "=" in p)
        lines.append(LogLine(parts[0], parts[1], fields))
    return lines


def percentile(values: list[float], p: float) -> float | None:
    """The ``p``-th percentile (0-100) by the nearest-rank method; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def seconds(text: str) -> float | None:
    """``"1.5s"`` -> 1.5; None when it is not a number of seconds."""
    try:
        return float(text.rstrip("s"))
    except ValueError:
        return None


@dataclass(frozen=True)
class DeliveryCounts:
    attempts: int
    submitted: int
    refused: int
    by_kind: dict[str, tuple[int, int]]     # log_as -> (submitted, not submitted)
    refusal_reasons: dict[str, int]


def delivery_counts(text: str) -> DeliveryCounts:
    """Counts from ``delivery.log``: every attempt, proven submitted or refused, per kind."""
    by_kind: dict[str, list[int]] = {}
    reasons: Counter[str] = Counter()
    submitted = refused = 0
    for line in parse_log(text):
        if "result" not in line.fields:
            continue
        ok = line.fields["result"] == "submitted"
        slot = by_kind.setdefault(line.event, [0, 0])
        if ok:
            submitted += 1
            slot[0] += 1
        else:
            refused += 1
            slot[1] += 1
            reasons[short_reason(line.fields.get("reason", ""))] += 1
    return DeliveryCounts(submitted + refused, submitted, refused, {k: (v[0], v[1]) for k, v in by_kind.items()},
                          dict(reasons))


def short_reason(reason: str) -> str:
    """The gist of a refusal reason, for counting alike ones together."""
    return reason.split(";", 1)[0].split(":", 1)[0].strip()[:60] or "(no reason)"


@dataclass(frozen=True)
class CheckinCounts:
    scheduled: int
    delivered: int
    late: int
    deferred: int
    failed: int
    cancelled: int
    lags: list[float]
    delivered_tokens: Counter[str] = field(default_factory=Counter)  # "ck-…" -> deliveries
    scheduled_ids: tuple[str, ...] = ()

    def lag(self, p: float) -> float | None:
        return percentile(self.lags, p)


def checkin_counts(text: str) -> CheckinCounts:
    """Counts from ``checkins.log``. ``late`` counts check-ins delivered more than a minute
    after their due time (the suite logs ``late`` right before that ``delivered``)."""
    counts: Counter[str] = Counter()
    lags: list[float] = []
    delivered: Counter[str] = Counter()
    scheduled: list[str] = []
    for line in parse_log(text):
        counts[line.event] += 1
        if line.event == "scheduled":
            scheduled.append(line.fields.get("id", ""))
        if line.event == "delivered":
            delivered[line.fields.get("id", "")] += 1
            lag = seconds(line.fields.get("lag", ""))
            if lag is not None:
                lags.append(lag)
    return CheckinCounts(counts["scheduled"], counts["delivered"], counts["late"], counts["deferred"],
                         counts["failed"], counts["cancelled"], lags, delivered, tuple(scheduled))


@dataclass(frozen=True)
class Crosscheck:
    """What was sent against what arrived."""

    lost: list[str]        # proven submitted (or delivered check-in) but never received
    doubled: list[str]     # received more than once
    refused: list[str]     # the sender was told it was not submitted (not a loss: it knew)
    received_unproven: list[str]  # received although the sender was told it was not


def crosscheck(sent: dict[str, dict[str, Any]], received: Counter[tuple[str, str]],
               delivered_checkins: Counter[str]) -> Crosscheck:
    """``sent``: message token -> {"to": agent, "rc": exit code of send_message.sh or None};
    ``received``: (agent, token) -> times it reached that agent's stand-in, where a check-in's
    token is ``ck-…@<due>`` (a recurring check-in keeps its id from one slot to the next);
    ``delivered_checkins``: check-in id -> deliveries logged in ``checkins.log``.

    Lost: a message proven submitted that its addressee never received, or a check-in
    delivered more times than distinct slots of it arrived. Doubled: any token received more
    than once, or one check-in slot arriving at two agents."""
    lost, refused, unproven = [], [], []
    for token, entry in sorted(sent.items()):
        got = received.get((str(entry["to"]), token), 0)
        if entry.get("rc") == 0 and got == 0:
            lost.append(token)
        elif entry.get("rc") not in (0, None):
            refused.append(token)
            if got:
                unproven.append(token)
    slots: dict[str, set[str]] = {}
    agents_of: dict[str, set[str]] = {}
    for (agent, token), _n in received.items():
        if token.startswith("ck-"):
            checkin_id = token.split("@", 1)[0]
            slots.setdefault(checkin_id, set()).add(token)
            agents_of.setdefault(token, set()).add(agent)
    for checkin_id, times in sorted(delivered_checkins.items()):
        arrived = len(slots.get(checkin_id, ()))
        if times > arrived:
            lost.append(f"{checkin_id} (delivered {times}x, arrived {arrived}x)")
    doubled = sorted(f"{token} to {agent} x{n}" for (agent, token), n in received.items() if n > 1)
    doubled += sorted(f"{token} to {', '.join(sorted(a))}" for token, a in agents_of.items() if len(a) > 1)
    return Crosscheck(lost, doubled, refused, unproven)


def backup_counts(text: str) -> dict[str, int]:
    """``git.log`` backup lines by result (committed, skipped) and reasons of the skips."""
    counts: Counter[str] = Counter()
    for line in parse_log(text):
        if line.event == "backup":
            result = line.fields.get("result", "?")
            counts[result] += 1
            if result != "committed":
                reason = line.fields.get("reason", "").removeprefix("skipped:").strip()
                counts[f"skipped ({reason.split(';', 1)[0][:60]})"] += 1
    return dict(counts)


def event_counts(text: str) -> dict[str, int]:
    """How many lines of each event a log holds."""
    return dict(Counter(line.event for line in parse_log(text)))


def epoch(at: str) -> float | None:
    """A log line's time (ISO 8601 with its offset) as epoch seconds; None when unreadable."""
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo is not None else None


@dataclass(frozen=True)
class LimitDeferrals:
    """What ``checkins.log`` says about check-ins that met a usage limit."""

    deferred: dict[str, str]        # check-in id -> the retry time it was moved to (first deferral)
    nudges: list[str]               # ids of the nudges scheduled for the reset
    delivered_after: dict[str, str]  # id (deferred or nudge) -> time of its first delivery afterwards


def limit_deferrals(text: str, targets: Collection[str] | None = None, since: float | None = None) -> LimitDeferrals:
    """Check-ins deferred for a usage limit (to one of ``targets``, the names of one pane: a
    check-in an agent scheduled with no target names its pane as ``session:window.pane``; at
    or after epoch ``since``), the nudges scheduled for them, and when each was delivered after."""
    deferred: dict[str, str] = {}
    nudges: list[str] = []
    delivered: dict[str, str] = {}
    for line in parse_log(text):
        when = epoch(line.at)
        checkin_id = line.fields.get("id", "")
        if line.event in ("deferred", "nudge-scheduled"):
            if since is not None and (when is None or when < since):
                continue
            if targets is not None and line.fields.get("target") not in targets:
                continue
        if line.event == "deferred" and line.fields.get("reason") == "usage limit":
            deferred.setdefault(checkin_id, line.fields.get("retry", "?"))
        elif line.event == "nudge-scheduled" and line.fields.get("nudge"):
            if line.fields["nudge"] not in nudges:
                nudges.append(line.fields["nudge"])
        elif line.event == "delivered" and (checkin_id in deferred or checkin_id in nudges):
            delivered.setdefault(checkin_id, line.at)
    return LimitDeferrals(deferred, nudges, delivered)


@dataclass(frozen=True)
class AttentionCounts:
    """What ``attention.log`` says: raised, told (orchestrator's pane, notify command), cleared."""

    raised: dict[str, int]              # reason -> times raised
    cleared: int
    told_orchestrator: int              # messages proven submitted to the orchestrator's pane
    not_told: dict[str, int]            # why a message to the orchestrator was not submitted -> times
    notify_ok: int
    notify_failed: dict[str, int]
    submitted_texts: Counter[str] = field(default_factory=Counter)  # "<subject>: <text>" -> times submitted


def attention_counts(text: str) -> AttentionCounts:
    """Counts from ``attention.log`` (``raised`` then ``told`` for each subject and reason)."""
    raised: Counter[str] = Counter()
    texts: dict[tuple[str, str], str] = {}
    not_told: Counter[str] = Counter()
    notify_failed: Counter[str] = Counter()
    submitted: Counter[str] = Counter()
    cleared = told = notify_ok = 0
    for line in parse_log(text):
        key = (line.fields.get("subject", ""), line.fields.get("reason", ""))
        if line.event == "raised":
            raised[key[1]] += 1
            texts[key] = f"{key[0]}: {line.fields.get('text', '')}"
        elif line.event == "cleared":
            cleared += 1
        elif line.event == "told":
            outcome = line.fields.get("orchestrator", "")
            if outcome == "submitted":
                told += 1
                submitted[texts.get(key, f"{key[0]}: ?")] += 1
            else:
                not_told[short_reason(outcome.removeprefix("not submitted:"))] += 1
            notify = line.fields.get("notify", "")
            if notify == "ok":
                notify_ok += 1
            else:
                notify_failed[notify[:60] or "(none)"] += 1
    return AttentionCounts(dict(raised), cleared, told, dict(not_told), notify_ok, dict(notify_failed), submitted)
