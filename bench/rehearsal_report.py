"""The rehearsal's report: the suite's logs read into counts, the records of what a night
left (each fault's, :class:`Night`) and of what the judges concluded (:class:`Verdict`,
bench/rehearsal_judges.py), and the report's text written from them (:func:`report_text`;
bench/rehearsal.py gathers the night and prints it).

Pure functions on text and plain data, so tests/test_rehearsal_report.py checks them fast.
The logs are the suite's own ``<time> <event> key=value ...`` lines (values with spaces are
double-quoted, backslash-escaped), one file per concern: ``delivery.log`` (every attempt to
type into a pane), ``checkins.log`` (every check-in event), ``git.log`` (backups, tests,
tags, finish), ``integration.log`` (deploy, restart, stop), ``attention.log`` (what needed a
person).
"""

from __future__ import annotations

import os
import re
import shlex
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Collection

from bench_setup import percentile

if TYPE_CHECKING:
    from rehearsal_brains import OrchestratorBrain


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


# --- the worktree team: commits per branch, merges ------------------------------------------------


@dataclass(frozen=True)
class GitCommit:
    sha: str
    parents: tuple[str, ...]
    subject: str


@dataclass(frozen=True)
class MemberFinish:
    """One ``finish <project> <role>`` a project manager ran through its Bash tool, and the
    ``restart <project> <role> --resume`` it ran after a merge (its engineer's folder is gone)."""

    role: str
    ahead: int                 # commits the branch had that the main branch lacked, just before (-1: no branch)
    rc: int
    said: str                  # the last lines finish printed
    restart_rc: int | None = None   # None: no restart (finish did not exit 0)


@dataclass(frozen=True)
class WorktreeTeam:
    """What the worktree team's repository held at the end of the night, read from git
    (bench/rehearsal_judges.py, :func:`rehearsal_judges.worktree_team`), and the finishes its
    project manager ran."""

    project: str
    main: str                              # the main branch
    owners: dict[str, str]                 # engineer branch -> the engineer whose commits belong on it
    main_line: list[GitCommit]             # the main branch's first-parent line, newest first
    merged: dict[str, list[GitCommit]]     # merge commit on that line -> the commits it brought in
    live: dict[str, list[GitCommit]]       # engineer branch there at the end -> its commits main lacks
    main_reachable: int                    # every commit the main branch holds
    finishes: list[MemberFinish]


#: The subject of the merge ``finish <project> <role>`` makes (orc/teams/project_git.py).
MEMBER_MERGE = re.compile(r"^Merge (\S+) into (\S+) \(finish ")
#: The subject of an engineer's commit, as its brain writes it (bench/rehearsal_brains.py).
ENGINEER_COMMIT = re.compile(r"^(\S+): task \d+")


@dataclass(frozen=True)
class WorktreeCounts:
    """Commits per branch and merges of the worktree team, and what went where it should not."""

    merged_from: dict[str, int]        # engineer branch -> its commits merged into the main branch
    on_branch: dict[str, int]          # engineer branch -> its commits there at the end, not merged
    merges: dict[str, int]             # engineer branch -> merges of it on the main branch's first-parent line
    other_merges: int                  # merges on that line not made by finish of an engineer branch
    main_line: int                     # commits on the main branch's first-parent line
    main_reachable: int
    on_main_directly: list[str]        # engineer commits on the main branch's first-parent line (not merged in)
    misplaced: list[str]               # a commit on an engineer's branch that is not that engineer's
    finished: dict[str, int]           # git.log: finish lines of the engineer branches, by result (merged, refused)


def worktree_counts(team: WorktreeTeam, git_log: str) -> WorktreeCounts:
    """Count, from ``team``, the commits of each engineer's branch (merged into the main
    branch, and still on the branch at the end), the merges into the main branch, and the
    commits in the wrong place: on an engineer's branch but not by that engineer (by the
    subject its brain writes, ``<engineer>: task <n>``), or made on the main branch itself
    rather than merged in. ``git_log``: the suite's git.log, for its ``finish`` lines."""
    merged_from: Counter[str] = Counter()
    merges: Counter[str] = Counter()
    other_merges = 0
    misplaced: list[str] = []
    on_main: list[str] = []

    def check(branch: str, commits: list[GitCommit], where: str) -> None:
        owner = team.owners.get(branch)
        for commit in commits:
            found = ENGINEER_COMMIT.match(commit.subject)
            if len(commit.parents) > 1:
                continue   # a merge on the branch (main merged in to resolve a conflict): the engineer's own
            if owner is None or found is None or found.group(1) != owner:
                misplaced.append(f"{commit.sha[:10]} {commit.subject!r} {where} {branch} ({owner or 'nobody'}'s)")

    for commit in team.main_line:
        if len(commit.parents) > 1:
            named = MEMBER_MERGE.match(commit.subject)
            if named is None or named.group(1) not in team.owners:
                other_merges += 1
                continue
            branch = named.group(1)
            merges[branch] += 1
            brought = team.merged.get(commit.sha, [])
            merged_from[branch] += sum(1 for c in brought if len(c.parents) < 2)
            check(branch, brought, "merged from")
        elif ENGINEER_COMMIT.match(commit.subject):
            on_main.append(f"{commit.sha[:10]} {commit.subject!r} made on {team.main} itself")
    for branch, commits in sorted(team.live.items()):
        check(branch, commits, "on")
    finished: Counter[str] = Counter(line.fields.get("result", "?") for line in parse_log(git_log)
                                     if line.event == "finish" and line.fields.get("project") == team.project
                                     and line.fields.get("feature") in team.owners)
    return WorktreeCounts(
        merged_from={b: merged_from[b] for b in sorted(team.owners)},
        on_branch={b: sum(1 for c in team.live.get(b, []) if len(c.parents) < 2) for b in sorted(team.owners)},
        merges={b: merges[b] for b in sorted(team.owners)}, other_merges=other_merges,
        main_line=len(team.main_line), main_reachable=team.main_reachable,
        on_main_directly=on_main, misplaced=misplaced, finished=dict(finished))


def worktree_lines(team: WorktreeTeam | None, counts: WorktreeCounts | None, problems: list[str]) -> list[str]:
    """The report's part on the worktree team."""
    if team is None or counts is None:
        return ["no worktree team in this run"]
    roles = {b: b.rsplit("/", 1)[-1] for b in team.owners}
    finishes = []
    for f in team.finishes:
        restart = "" if f.restart_rc is None else f", then `restart --resume` exit {f.restart_rc}"
        said = (f.said.splitlines() or [""])[0][:240]   # finish's own line; restart's come after it
        finishes.append(f"{f.role} ({f.ahead} commit(s) ahead of {team.main}): exit {f.rc}{restart} ({said})")
    merges = sum(counts.merges.values())
    return [
        "commits per branch (an engineer's by the subject it writes): "
        + "; ".join(f"{b} ({team.owners[b]}): {counts.merged_from[b]} merged into {team.main}, "
                    f"{counts.on_branch[b]} on the branch at the end" for b in sorted(team.owners)),
        f"{team.main}: {counts.main_line} commit(s) on its first-parent line ({merges} of them merges of an "
        f"engineer's branch, {counts.other_merges} other merges, {len(counts.on_main_directly)} engineer commits "
        f"made on it directly), {counts.main_reachable} reachable",
        f"merges into {team.main}: {merges} ("
        + ", ".join(f"{b} {n}" for b, n in sorted(counts.merges.items())) + "); git.log finish lines of "
        + f"{team.project}'s engineers: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.finished.items())) or "none"),
        f"finish run by {team.project}'s project manager through its Bash tool: "
        + ("; ".join(finishes) or "none") + f" (of {len(roles)} engineers)",
        f"commits on another engineer's branch or made on {team.main} directly: "
        f"{len(counts.misplaced) + len(counts.on_main_directly)}"
        + (": " + "; ".join([*counts.misplaced, *counts.on_main_directly][:10])
           if counts.misplaced or counts.on_main_directly else ""),
        f"verdict: {'every commit on its own engineer' + chr(39) + 's branch, every finish merged' if not problems else 'FAIL: ' + '; '.join(problems[:10])}",
    ]


# --- what a night left, what the judges concluded, and the report's text ------------------------


@dataclass
class Fault:
    """One fault of the night: planned (when, what, how long it lasts), then filled in as it
    runs: by the fault (injected, recovered) and by the judges (noticed, survived)."""

    name: str
    at: float                    # seconds after the start
    what: str
    lasts: float = 0.0           # seconds the fault holds (0: it is one act)
    injected: str = ""
    noticed: list[str] = field(default_factory=list)
    recovered: str = ""
    survived: bool | None = None
    skipped: str = ""

    def line(self) -> str:
        if self.skipped:
            return f"- {self.name}: SKIPPED: {self.skipped}"
        verdict = {True: "survived", False: "NOT survived", None: "not concluded"}[self.survived]
        noticed = "; ".join(self.noticed) or "nobody noticed"
        return (f"- {self.name} ({self.what}): {verdict}\n"
                f"    injected: {self.injected or 'not injected'}\n"
                f"    noticed: {noticed}\n"
                f"    recovered: {self.recovered or 'no'}")


#: The suite's logs the report reads, from the night's state folder.
LOGS = ("delivery.log", "checkins.log", "git.log", "integration.log", "attention.log")


@dataclass(frozen=True)
class Night:
    """What a finished night left, gathered by the run (bench/rehearsal.py) for the judges and
    the report."""

    minutes: float
    work: Path
    cron_ours: bool                      # the rehearsal's own cron daemon, not the machine's
    started_at: float                    # epoch seconds
    lock_wait: float                     # seconds waited for the machine-wide crontab lock
    loads: list[float]                   # load averages seen during the run
    available: dict[str, bool]           # suite commands present
    logs: dict[str, str]                 # each of LOGS -> its text ("" when missing)
    sent: dict[str, dict[str, Any]]      # the brains' ledger: token -> {from, to, rc, at}
    received: Counter[tuple[str, str]]   # (agent, token) -> times
    pending: list[tuple[str, datetime]]  # check-ins still pending at the end: (id, due)
    now: float                           # when ``pending`` was read
    notified: list[str]                  # lines ORC_NOTIFY_COMMAND's stand-in wrote
    commits: dict[str, str]              # project -> commits in its repository (all refs)
    orchestrator: OrchestratorBrain | None   # None: not seated
    orchestrator_target: str
    orchestrator_checkin_minutes: int
    up_runs: list[str]                   # what each `up` printed
    spawn_tried: bool
    growth: list[str]
    grown: bool | None
    faults: list[Fault]
    states: dict[str, list[tuple[float, str]]]   # agent -> [(seconds after the start, state)] on change
    notes: list[str]
    worktree: WorktreeTeam | None = None   # the worktree team's repository and finishes (None: no such team)

    def orchestrator_heard(self, text: str) -> int:
        """How many times the attention message ``<subject>: <text>`` reached the orchestrator."""
        return self.orchestrator.attention.get(text, 0) if self.orchestrator is not None else 0


@dataclass(frozen=True)
class Verdict:
    """What the judges concluded from a night (bench/rehearsal_judges.py)."""

    lost: list[str]
    doubled: list[str]
    refused: list[str]            # the sender was told it was not submitted
    received_unproven: list[str]  # refused, and received anyway
    overdue: int                  # check-ins still pending more than a minute past their due time
    ok: bool
    kept: list[str] = field(default_factory=list)  # kept in the mailbox (exit 4), each to arrive once
    worktree_problems: list[str] = field(default_factory=list)  # a commit on the wrong branch, a finish not merged


def orchestrator_lines(night: Night, told: AttentionCounts) -> list[str]:
    """The report's part on the orchestrator `up` seated."""
    brain = night.orchestrator
    if brain is None:
        return ["not seated"]
    delivered = [line for line in parse_log(night.logs["checkins.log"])
                 if line.event == "delivered" and line.fields.get("target") == night.orchestrator_target]
    sent = [e for e in night.sent.values() if e["from"] == brain.name]
    return [
        *night.up_runs,
        f"its self check-in every {night.orchestrator_checkin_minutes} minutes (ORC_ORCHESTRATOR_CHECKIN_MINUTES; "
        f"the default is hourly): delivered {len(delivered)}x (checkins.log), reached its stand-in API "
        f"{brain.checkins}x",
        f"briefings that reached it: {brain.briefings}; `status` runs through its Bash tool: {len(brain.status_runs)}"
        f" (exit codes: {', '.join(str(c) for c in sorted(set(brain.status_runs))) or '-'})",
        f"attention messages: proven submitted to its pane {told.told_orchestrator}, reached its stand-in "
        f"{sum(brain.attention.values())}: "
        + ("; ".join(f"{t[:90]} x{n}" for t, n in sorted(brain.attention.items())) or "none"),
        f"messages it sent to project managers: {len(sent)}, proven submitted "
        f"{sum(1 for e in sent if e['rc'] == 0)}",
    ]


def report_text(night: Night, verdict: Verdict) -> str:
    """The report, section by section, ending in its RESULT line."""
    checkins_log = night.logs["checkins.log"]
    delivery = delivery_counts(night.logs["delivery.log"])
    checkins = checkin_counts(checkins_log)
    late_ids = {line.fields.get("id") for line in parse_log(checkins_log) if line.event == "late"}
    on_time = [float(line.fields["lag"].rstrip("s")) for line in parse_log(checkins_log)
               if line.event == "delivered" and line.fields.get("id") not in late_ids
               and seconds(line.fields.get("lag", "")) is not None]
    backups = backup_counts(night.logs["git.log"])
    integration = event_counts(night.logs["integration.log"])
    attention = night.logs["attention.log"].splitlines()
    told = attention_counts(night.logs["attention.log"])
    limit_all = limit_deferrals(checkins_log)
    late_for_limit = sorted(str(i) for i in late_ids & set(limit_all.deferred))
    loads = night.loads
    by_kind = ", ".join(f"{k} {a}/{a + b}" for k, (a, b) in sorted(delivery.by_kind.items()))
    sent = night.sent
    msgs_proven = sum(1 for e in sent.values() if e["rc"] == 0)
    msgs_refused = sum(1 for e in sent.values() if e["rc"] not in (0, None))
    msgs_unknown = sum(1 for e in sent.values() if e["rc"] is None)
    lost, doubled = verdict.lost, verdict.doubled
    faults = night.faults

    def fmt(v: float | None) -> str:
        return "-" if v is None else f"{v:.1f}s"

    lines = [
        "== Rehearsal report",
        f"run: {night.minutes:g} minutes, 2 projects x (1 project manager + 2 engineers), real Claude Code "
        f"against per-agent stand-in APIs, check-ins every minute, real cron daemon "
        f"({'the rehearsal' + chr(39) + 's own' if night.cron_ours else 'the machine' + chr(39) + 's'})",
        f"work folder: {night.work}; started {time.strftime('%Y-%m-%d %H:%M', time.localtime(night.started_at))}"
        f" after waiting {night.lock_wait:.0f}s for the machine-wide crontab lock",
        f"machine: {os.cpu_count()} cores; load average during the run: median "
        f"{percentile(loads, 50) or 0:.2f}, max {max(loads) if loads else 0:.2f} (shared with other work)",
        f"suite commands present: {', '.join(k for k, v in night.available.items() if v) or 'none'}; "
        f"missing (their steps skipped): {', '.join(k for k, v in night.available.items() if not v) or 'none'}",
        "",
        "== Messages (send_message.sh run by the agents)",
        f"sent {len(sent)}, proven submitted {msgs_proven}, refused (sender told) {msgs_refused}, "
        f"sender never saw the answer {msgs_unknown}",
        f"delivery.log: {delivery.attempts} attempts, {delivery.submitted} proven submitted, "
        f"{delivery.refused} refused; by kind (submitted/attempts): {by_kind}",
        "refusal reasons: " + (", ".join(f"{k} x{v}" for k, v in sorted(delivery.refusal_reasons.items()))
                               or "none"),
        "",
        "== Check-ins",
        f"scheduled {checkins.scheduled}, delivered {checkins.delivered}, late {checkins.late}, "
        f"deferred (kept, retried) {checkins.deferred}, failed {checkins.failed}, cancelled {checkins.cancelled}",
        f"lag behind the due second: p50 {fmt(checkins.lag(50))}, p90 {fmt(checkins.lag(90))}, "
        f"p99 {fmt(checkins.lag(99))}, max {fmt(max(checkins.lags) if checkins.lags else None)}",
        f"late because they waited for a usage limit's reset: {len(late_for_limit)}"
        + (f" ({', '.join(late_for_limit)})" if late_for_limit else "")
        + f"; deferred for a usage limit: {len(limit_all.deferred)}, nudges scheduled {len(limit_all.nudges)}, "
          f"delivered {sum(1 for n in limit_all.nudges if n in limit_all.delivered_after)}",
        f"lag of those not marked late: p50 {fmt(percentile(on_time, 50))}, p90 {fmt(percentile(on_time, 90))}, "
        f"max {fmt(max(on_time) if on_time else None)}",
        f"still pending at the end: {len(night.pending)} (not yet due: {len(night.pending) - verdict.overdue}; "
        f"past due by more than a minute: {verdict.overdue})",
        "",
        "== Lost or doubled (what was sent against what each agent's stand-in received)",
        f"lost: {len(lost)}" + (": " + "; ".join(lost[:20]) if lost else ""),
        f"doubled: {len(doubled)}" + (": " + "; ".join(doubled[:20]) if doubled else ""),
        f"refused and not received (correct): {len(verdict.refused) - len(verdict.received_unproven)}; "
        f"refused but received anyway: {len(verdict.received_unproven)}"
        + (": " + ", ".join(verdict.received_unproven) if verdict.received_unproven else ""),
        f"kept in the mailbox (exit 4) and delivered later: {len(verdict.kept)} (any never delivered is lost, above)",
        "",
        "== Work, backups, restarts, notifications",
        "commits in each repository (all branches and backup refs): "
        + ", ".join(f"{p} {n}" for p, n in night.commits.items()),
        "backups (git.log): " + (", ".join(f"{k} {v}" for k, v in sorted(backups.items())) or "none"),
        "integration.log: " + (", ".join(f"{k} {v}" for k, v in sorted(integration.items())) or "none"),
        "",
        "== Telling a person (attention log, the orchestrator's pane, ORC_NOTIFY_COMMAND)",
        "raised: " + (", ".join(f"{k} {v}" for k, v in sorted(told.raised.items())) or "nothing")
        + f"; cleared {told.cleared}",
        f"messages to the orchestrator's pane: proven submitted {told.told_orchestrator}, not submitted "
        f"{sum(told.not_told.values())}"
        + (" (" + ", ".join(f"{k} x{v}" for k, v in sorted(told.not_told.items())) + ")" if told.not_told else ""),
        f"ORC_NOTIFY_COMMAND (a stand-in script appending to {night.work / 'notifications.txt'}): "
        f"{told.notify_ok} ran ok, {sum(told.notify_failed.values())} did not"
        + (" (" + ", ".join(f"{k} x{v}" for k, v in sorted(told.notify_failed.items())) + ")"
           if told.notify_failed else "")
        + f"; lines it wrote: {len(night.notified)}",
        f"attention log ({len(attention)} lines):",
        *[f"    {line[:200]}" for line in attention[:30]],
        "",
        "== The orchestrator (seated by `up`)",
        *orchestrator_lines(night, told),
        "",
        "== The team grown with `spawn` (run by a project manager through its Bash tool)",
        *(night.growth or ["not tried (`spawn` missing)" if not night.spawn_tried else "not reached"]),
        f"verdict: {({True: 'grown', False: 'NOT grown', None: 'not concluded'})[night.grown]}",
        "",
        "== The worktree team"
        + (f" ({night.worktree.project}: \"worktree\": true, each engineer in a worktree and branch of its own; "
           f"its project manager runs `finish {night.worktree.project} <role>`)" if night.worktree else ""),
        *worktree_lines(night.worktree, worktree_counts(night.worktree, night.logs["git.log"])
                        if night.worktree else None, verdict.worktree_problems),
        "",
        "== Faults",
        *[f.line() for f in faults],
        "",
        "== Agents (state changes seen by `status`, minutes after the start)",
        *[f"{name}: " + " ".join(f"{t / 60:.1f}:{s}" for t, s in seq[:30])
          for name, seq in sorted(night.states.items())],
        *[f"note: {n}" for n in night.notes],
        "",
        f"RESULT: {'PASS' if verdict.ok else 'FAIL'}: {len(lost)} lost, {len(doubled)} doubled, "
        f"{checkins.failed} check-ins failed, faults survived "
        f"{sum(1 for f in faults if f.survived)}/"
        f"{sum(1 for f in faults if not f.skipped)}"
        f" ({sum(1 for f in faults if f.skipped)} skipped)"
        + ("" if not night.spawn_tried else f", team grown with spawn: {night.grown}")
        + ("" if night.worktree is None else f", worktree team: {len(verdict.worktree_problems)} problem(s)"),
    ]
    return "\n".join(lines)
