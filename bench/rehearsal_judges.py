"""The rehearsal's judges: what decides whether a fault was noticed and survived, and what
was lost or doubled over the night (bench/rehearsal.py asks them; bench/rehearsal_report.py
writes down what they concluded).

A fault (bench/rehearsal_faults.py) does its harm and plays the person's part (``restart``,
answering the dialog); the judges look, through the stage the run passes them (``status``,
the logs, the screens, what each agent's stand-in API received), fill in what was noticed
and conclude whether it was survived. :func:`crosscheck` and :func:`judge_night` are pure,
so tests/test_rehearsal_report.py checks them fast.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rehearsal_report as rr
from rehearsal_report import Fault, Night, Verdict
from rehearsal_stage import AgentSlot, Stage, git, say


# --- lost or doubled -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Crosscheck:
    """What was sent against what arrived."""

    lost: list[str]        # proven submitted (or delivered check-in) but never received
    doubled: list[str]     # received more than once
    refused: list[str]     # the sender was told it was not submitted (not a loss: it knew)
    received_unproven: list[str]  # received although the sender was told it was not
    kept: list[str] = field(default_factory=list)  # kept in the mailbox (exit 4): to arrive once, later


def crosscheck(sent: dict[str, dict[str, Any]], received: Counter[tuple[str, str]],
               delivered_checkins: Counter[str]) -> Crosscheck:
    """``sent``: message token -> {"to": agent, "rc": exit code of send_message.sh or None};
    ``received``: (agent, token) -> times it reached that agent's stand-in, where a check-in's
    token is ``ck-…@<due>`` (a recurring check-in keeps its id from one slot to the next);
    ``delivered_checkins``: check-in id -> deliveries logged in ``checkins.log``.

    Lost: a message proven submitted (exit 0) or kept (exit 4: the mailbox promised to deliver
    it) that its addressee never received, or a check-in delivered more times than distinct
    slots of it arrived. Doubled: any token received more
    than once, or one check-in slot arriving at two agents."""
    lost, refused, unproven, kept = [], [], [], []
    for token, entry in sorted(sent.items()):
        got = received.get((str(entry["to"]), token), 0)
        if entry.get("rc") == 4:
            kept.append(token)
            if got == 0:
                lost.append(f"{token} (kept, never delivered)")
        elif entry.get("rc") == 0 and got == 0:
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
    return Crosscheck(lost, doubled, refused, unproven, kept)


def judge_night(night: Night) -> Verdict:
    """Lost: what :func:`crosscheck` finds lost, check-ins still pending more than a minute
    past their due time, and attention messages proven submitted to the orchestrator's pane
    more often than they reached it. The night passes when nothing was lost or doubled, no
    check-in failed, every fault not skipped was survived and the team, if it was to grow, grew."""
    checkins = rr.checkin_counts(night.logs["checkins.log"])
    cross = crosscheck(night.sent, night.received, checkins.delivered_tokens)
    overdue = [(checkin_id, due) for checkin_id, due in night.pending if due.timestamp() <= night.now - 60]
    told = rr.attention_counts(night.logs["attention.log"])
    lost = list(cross.lost) + [f"{checkin_id} still pending, due {due:%H:%M:%S}" for checkin_id, due in overdue] \
        + [f"attention to the orchestrator: {t!r} submitted {n}x, arrived {night.orchestrator_heard(t)}x"
           for t, n in sorted(told.submitted_texts.items()) if night.orchestrator_heard(t) < n]
    faults_ok = all(f.skipped or f.survived for f in night.faults)
    worktree = worktree_problems(night.worktree, night.logs["git.log"]) if night.worktree is not None else []
    ok = (not lost and not cross.doubled and not checkins.failed and faults_ok and night.grown is not False
          and not worktree)
    return Verdict(lost, cross.doubled, cross.refused, cross.received_unproven, len(overdue), ok, cross.kept,
                   worktree)


# --- the worktree team ---------------------------------------------------------------------------


def worktree_problems(team: rr.WorktreeTeam, git_log: str) -> list[str]:
    """What fails the worktree team: a commit on another engineer's branch or made on the main
    branch itself (rehearsal_report.worktree_counts); a finish that should have merged (its
    branch was ahead of the main branch) but did not: it exited non-zero, or git.log has no
    merged line for it, or the main branch holds no merge of that branch; and an engineer
    never finished with a merge (the manager was told to finish each one)."""
    counts = rr.worktree_counts(team, git_log)
    problems = [f"misplaced commit {m}" for m in counts.misplaced] + [f"commit {m}" for m in counts.on_main_directly]
    branch_of = {b.rsplit("/", 1)[-1]: b for b in team.owners}
    merged_lines: dict[str, list[str]] = {}
    for line in rr.parse_log(git_log):
        if line.event == "finish" and line.fields.get("project") == team.project and line.fields.get("result") == "merged":
            merged_lines.setdefault(line.fields.get("feature", ""), []).append(line.fields.get("commit", ""))
    merges_on_main = {c.sha for c in team.main_line if len(c.parents) > 1}
    used: Counter[str] = Counter()
    merged_roles = set()
    for run in team.finishes:
        branch = branch_of.get(run.role, f"(no branch for {run.role})")
        if run.ahead <= 0:
            continue   # nothing to merge: finish rightly refuses
        k = used[branch]
        used[branch] += 1
        logged = merged_lines.get(branch, [])
        commit = logged[k] if k < len(logged) else ""
        on_main = bool(commit) and any(sha.startswith(commit) for sha in merges_on_main)
        if run.rc != 0 or not on_main:
            problems.append(f"finish {team.project} {run.role}: {branch} was {run.ahead} commit(s) ahead of "
                            f"{team.main}, yet exit {run.rc}, git.log merged line: {commit or 'none'}, merge on "
                            f"{team.main}: {on_main}")
        else:
            merged_roles.add(run.role)
    problems += [f"{role} was never finished with a merge" for role in sorted(branch_of) if role not in merged_roles]
    return problems


def worktree_team(repo: Path, project: str, main: str, owners: dict[str, str],
                  finishes: list[rr.MemberFinish]) -> rr.WorktreeTeam:
    """What the worktree team's repository holds, read from git: the main branch's first-parent
    line, the commits each merge on it brought in, and the commits of each engineer branch still
    there that the main branch lacks."""
    def commits(*rev: str) -> list[rr.GitCommit]:
        out = git(repo, "log", "--format=%H%x09%P%x09%s", *rev, "--", check=False)
        found = []
        for line in out.splitlines():
            sha, parents, subject = (line.split("\t", 2) + ["", ""])[:3]
            found.append(rr.GitCommit(sha, tuple(parents.split()), subject))
        return found

    main_line = commits("--first-parent", main)
    merged = {c.sha: commits(f"{c.parents[0]}..{c.parents[1]}") for c in main_line if len(c.parents) > 1}
    heads = set(git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/", check=False).split())
    live = {b: commits(f"{main}..{b}") for b in owners if b in heads}
    reachable = int(git(repo, "rev-list", "--count", main, check=False) or 0)
    return rr.WorktreeTeam(project, main, dict(owners), main_line, merged, live, reachable, list(finishes))


# --- an agent killed -----------------------------------------------------------------------------


def exit_noticed(stage: Stage, fault: Fault, slot: AgentSlot) -> None:
    """``status`` shows the killed agent exited; the attention log has a line for it (the
    per-minute check runs from cron: it gets its minute before anyone restarts the agent)."""
    seen_at = time.monotonic()
    if stage.wait_until(lambda: stage.watch().get(slot.name) == "exited", 120, 3):
        fault.noticed.append(f"status showed {slot.name} exited after {time.monotonic() - seen_at:.0f}s")
    if stage.available["attention"]:
        if stage.wait_until(lambda: stage.attention_lines(slot.project, "exited"), 90, 5):
            fault.noticed.append(f"attention log: {stage.attention_lines(slot.project, 'exited')[0][:200]}")
        else:
            fault.noticed.append("the attention log had no line for it within 90s")


def restart_survived(stage: Stage, fault: Fault, slot: AgentSlot, requests_before: int, restarted: bool) -> None:
    """Survived: ``restart`` succeeded, the agent answers again and a later check-in reaches it."""
    back = stage.wait_until(lambda: slot.brain.requests > requests_before, 120, 2)
    arrived = set(slot.brain.arrived_slots)
    later = stage.wait_until(lambda: len(slot.brain.arrived_slots - arrived) > 0, 180, 5)
    fault.survived = restarted and back and later
    fault.recovered += f"; agent answering again: {back}; a later check-in arrived: {later}"


# --- a permission dialog left open ---------------------------------------------------------------


@dataclass(frozen=True)
class DialogCounts:
    """The counts a dialog's judge compares against: taken before the dialog opens."""

    refused: int     # delivery attempts refused (delivery.log)
    deferred: int    # check-in attempts deferred (checkins.log)
    raised: int      # dialog items raised for the agent (attention.log)


def dialog_raised(stage: Stage, slot: AgentSlot) -> list[str]:
    return stage.attention_lines("raised", f"{slot.project}/{slot.role}", "reason=dialog")


def dialog_counts(stage: Stage, slot: AgentSlot) -> DialogCounts:
    return DialogCounts(rr.delivery_counts(stage.read("delivery.log")).refused,
                        rr.checkin_counts(stage.read("checkins.log")).deferred, len(dialog_raised(stage, slot)))


def dialog_shown(stage: Stage, fault: Fault, slot: AgentSlot) -> bool:
    """``status`` shows the agent waiting on its dialog; when it never does, the fault is not survived."""
    if not stage.wait_until(lambda: stage.watch().get(slot.name) == "waiting", 150, 3):
        fault.recovered = "the dialog never showed"
        fault.survived = False
        return False
    fault.noticed.append(f"status showed {slot.name} waiting (a dialog)")
    return True


def dialog_noticed(stage: Stage, fault: Fault, slot: AgentSlot, before: DialogCounts) -> bool:
    """What the open dialog did: raised once in the attention log (whether it was: the return
    value), deliveries refused with nothing typed, check-ins deferred and kept."""
    told_once = True
    if stage.available["attention"]:
        lines = dialog_raised(stage, slot)[before.raised:]
        fault.noticed.append(f"attention log: {lines[0][:200]}; raised {len(lines)}x while it stayed open "
                             "(once expected)" if lines
                             else f"the attention log had no line for it within {fault.lasts:.0f}s")
        told_once = len(lines) == 1
    refused = rr.delivery_counts(stage.read("delivery.log")).refused - before.refused
    deferred = rr.checkin_counts(stage.read("checkins.log")).deferred - before.deferred
    fault.noticed.append(f"{refused} delivery attempt(s) refused while it was open (nothing typed); "
                         f"{deferred} check-in attempt(s) deferred (kept for a retry)")
    return told_once


def dialog_survived(stage: Stage, fault: Fault, slot: AgentSlot, arrived_before: set[str], told_once: bool) -> None:
    """Survived: told once, and the check-ins kept while it was open arrive once it is answered."""
    later = stage.wait_until(lambda: len(slot.brain.arrived_slots - arrived_before) > 0, 180, 5)
    fault.recovered += f"; the check-ins kept for it arrived afterwards: {later}"
    fault.survived = later and told_once


# --- a merge conflict at finish ------------------------------------------------------------------


def repository_state(repo: Path) -> str:
    """The branch, clean or dirty, and whether a merge is in progress."""
    return (f"on {git(repo, 'branch', '--show-current', check=False) or '(detached)'}, "
            f"{'clean' if not git(repo, 'status', '--porcelain', '--untracked-files=no', check=False) else 'DIRTY'}"
            f", {'no merge in progress' if not (repo / '.git' / 'MERGE_HEAD').exists() else 'MERGE IN PROGRESS'}")


def conflict_judged(stage: Stage, fault: Fault, slot: AgentSlot, after: dict[str, str]) -> None:
    """Survived: the first ``finish`` refused with a conflict and left the task branch clean
    with no merge in progress (``after``: the repository right after each finish); the engineer
    merged main into its branch and the second ``finish`` succeeded."""
    repo = stage.work / slot.project
    if not stage.wait_until(lambda: len(slot.brain.finish_results) >= 2, 240, 3):
        fault.recovered = f"finish ran {len(slot.brain.finish_results)} time(s) only"
        fault.survived = False
        return
    first, second = slot.brain.finish_results[0][1], slot.brain.finish_results[1][1]
    fault.noticed.append(f"finish exit {first}: {slot.brain.finish_outputs[0].splitlines()[0][:200]}")
    fault.noticed.append(f"the repository right after the refused finish: {after.get('first', 'not seen')}")
    if stage.available["attention"]:
        lines = stage.attention_lines("conflict")
        fault.noticed.append(f"attention log: {lines[0][:200]}" if lines else "no attention log line")
    fault.recovered = (f"the engineer merged main into its branch and finished again: exit {second}; "
                       f"main's last merge: {git(repo, 'log', '--merges', '-1', '--format=%s', 'main', check=False)!r}")
    fault.survived = (first == 1 and second == 0 and "conflict" in slot.brain.finish_outputs[0].lower()
                      and after.get("first", "").startswith("on feature/") and "clean, no merge" in after["first"])


# --- the usage limit (subscription) and a plain 429 (API key) ------------------------------------


def limit_met(stage: Stage, fault: Fault, slot: AgentSlot, never: str) -> bool:
    """The limit (or the 429s) met the agent within 4 minutes; when not, the fault is not
    survived and ``never`` says why."""
    if stage.wait_until(lambda: slot.brain.limited_since is not None, 240, 2):
        return True
    fault.recovered = never
    fault.survived = False
    return False


def usage_limit_judged(stage: Stage, fault: Fault, slot: AgentSlot) -> None:
    """The subscription's usage limit: noticed (the agent's state, the attention log, the
    orchestrator's pane), survived (the check-ins due meanwhile deferred to the reset and
    delivered then, the one nudge, the agent at work again). Nobody steps in."""
    from orc.record.usage_limit import AFTER_RESET

    if not limit_met(stage, fault, slot, "the agent scheduled no check-in in 4 minutes: the limit never bit"):
        return
    reset = slot.brain.limited_until
    shown_reset = time.strftime("%H:%M:%S", time.localtime(reset))
    say(f"fault: usage limit for {slot.name} until {shown_reset}")
    shown: list[str] = []
    while time.time() < reset and not stage.stopping.is_set():
        time.sleep(3)
        stage.screen_lines(slot.target, ("hit your", "usage limit", "429", "continuing automatically"), shown)
    fault.injected += (f"; met at {time.strftime('%H:%M:%S', time.localtime(slot.brain.limited_since))}, "
                       f"reset {shown_reset}; {slot.brain.limited_answers} request(s) answered with it")
    fault.noticed.append("its screen showed: " + (" | ".join(s[:110] for s in shown[:3]) or "nothing about it"))
    states = [s for t, s in stage.states.get(slot.name, []) if t >= fault.at - 1]
    fault.noticed.append(f"status read it as: {', '.join(states) or 'no change'}")
    lines = stage.attention_lines("usage-limit", slot.project)
    fault.noticed.append(f"attention log: {lines[0][:200]}" if lines else "no usage-limit line in the attention log")
    # Survived: what was due meanwhile waits for the reset and comes then, with one nudge.
    settle = reset + AFTER_RESET.total_seconds() + 150
    since = (slot.brain.limited_since or time.time()) - 1

    pane = stage.tmux.resolve(slot.target)
    # A check-in the agent scheduled with no target names its pane by index.
    names = {slot.target, f"{pane.session}:{pane.window_index}.{pane.pane_index}",
             f"{pane.session}:{pane.window_index}", pane.pane_id}

    def deferrals() -> rr.LimitDeferrals:
        return rr.limit_deferrals(stage.read("checkins.log"), targets=names, since=since)

    def delivered_all() -> bool:
        limit = deferrals()
        return bool(limit.deferred) and all(i in limit.delivered_after for i in [*limit.deferred, *limit.nudges]) \
            and slot.brain.nudges > 0
    stage.wait_for_cron(delivered_all, max(5.0, settle - time.time()))
    limit = deferrals()
    ids = list(limit.deferred)
    late = [i for i in ids if i not in limit.delivered_after]
    fault.noticed.append(
        f"{len(ids)} check-in(s) met the limit and were deferred to the reset + {AFTER_RESET.total_seconds():.0f}s "
        f"({', '.join(f'{i} to {limit.deferred[i]}' for i in ids) or 'none'}); nudges scheduled: "
        f"{', '.join(limit.nudges) or 'none'}")
    working = stage.wait_for_cron(lambda: slot.brain.answered_after_limit > 0 and (
        slot.brain.arrived_slots and any(slot.brain.arrived_at.get(t, 0) >= reset for t in slot.brain.arrived_slots)),
        max(5.0, settle - time.time()))
    with stage.ledger.lock:
        sent_after = [t for t, e in stage.ledger.sent.items() if e["from"] == slot.name and e["at"] >= reset]
    fault.recovered = (
        f"deferred check-ins delivered after the reset: {len(ids) - len(late)}/{len(ids)}"
        + (f" (not: {', '.join(late)})" if late else "")
        + f"; nudge delivered: {', '.join(f'{n} at {limit.delivered_after[n]}' for n in limit.nudges if n in limit.delivered_after) or 'no'}"
        + f", reached the agent {slot.brain.nudges}x"
        + f"; agent answering again: {slot.brain.answered_after_limit} request(s) answered after the reset, "
          f"{len(sent_after)} message(s) sent since")
    fault.survived = bool(ids) and not late and slot.brain.nudges == 1 and bool(working)


def plain_429_judged(stage: Stage, fault: Fault, slot: AgentSlot) -> None:
    """A 429 that is not a usage limit (API-key login): Claude Code shows a failed turn and
    waits. The suite hears it from the StopFailure hook: a ``turn-failed`` attention item, and
    one nudge ``ORC_TURN_RETRY_SECONDS`` later when the failed turn was a check-in's. Survived
    when the agent works again afterwards (that nudge or its next check-in)."""
    if not limit_met(stage, fault, slot, "the agent sent no request in 4 minutes: the 429 never bit"):
        return
    fault.injected += f"; first hit at {time.strftime('%H:%M:%S', time.localtime(slot.brain.limited_since))}"
    shown: list[str] = []
    while time.time() < slot.brain.limited_until + 3 and not stage.stopping.is_set():
        time.sleep(3)
        stage.screen_lines(slot.target, ("429", "rate limit", "retrying"), shown)
    fault.noticed.append("its screen showed: " + (" | ".join(s[:110] for s in shown[:3]) or "nothing about it"))
    fault.noticed.append(f"{slot.brain.limited_answers} request(s) answered 429; what reached it then and got "
                         f"only the error: {', '.join(slot.brain.arrived_while_limited) or 'nothing'}")
    states = [s for t, s in stage.states.get(slot.name, []) if t >= fault.at - 1]
    fault.noticed.append(f"status read it as: {', '.join(states) or 'no change'}")
    lines = [line for line in stage.attention_lines("turn-failed", slot.project) if "raised" in line]
    fault.noticed.append("attention log: " + (lines[0][:200] if lines else "no turn-failed line"))
    arrived = set(slot.brain.arrived_slots)
    before = slot.brain.requests
    # Its turn failed before it scheduled its next check-in: what revives it is the suite's
    # one nudge (when the failed turn answered a check-in) or the recurring check-in `deploy`
    # gave it (check_in_interval, 5 minutes).
    later = stage.wait_for_cron(lambda: len(slot.brain.arrived_slots - arrived) > 0 and slot.brain.requests > before,
                                390)
    idle = time.time() - slot.brain.limited_until
    retries = [line for line in stage.attention_lines("turn-retry", slot.project)]
    fault.noticed.append("the suite's retry: " + ("; ".join(line[:160] for line in retries[:2])
                                                 or "none logged by then")
                         + f"; its nudge reached the agent {slot.brain.retry_nudges}x")
    fault.recovered = (f"a check-in or the suite's nudge arrived after the 429s and the agent answered it: {later}"
                       + (f", {idle:.0f}s after the 429s ended ({time.strftime('%H:%M:%S')})" if later else ""))
    fault.survived = later


# --- cron stopped --------------------------------------------------------------------------------


def late_checkins(stage: Stage) -> int:
    return rr.checkin_counts(stage.read("checkins.log")).late


def cron_caught_up(stage: Stage, fault: Fault, late_before: int) -> None:
    """Survived: once cron is back, the check-ins kept while it was off are delivered, marked
    LATE. They go out one after another in cron's first minute back: counted once the log has
    stopped growing, not at the first."""
    caught_up = stage.wait_until(lambda: late_checkins(stage) > late_before, 150, 5)
    late, steady_since = -1, time.monotonic()
    while caught_up and time.monotonic() - steady_since < 15 and not stage.stopping.is_set():
        now_late = late_checkins(stage) - late_before
        if now_late != late:
            late, steady_since = now_late, time.monotonic()
        time.sleep(3)
    late = late_checkins(stage) - late_before
    fault.noticed.append(f"{late} check-in(s) delivered marked LATE after cron came back")
    warnings = sum(1 for b in stage.agents.values() for w in b.brain.warnings if "cron" in w.lower())
    fault.noticed.append(f"{warnings} schedule_with_note.sh call(s) warned that no cron daemon runs")
    fault.survived = caught_up


# --- the team grown with spawn -------------------------------------------------------------------


def spawn_ran(stage: Stage, pm: AgentSlot) -> bool:
    """The project manager ran `spawn` within 5 minutes of being told to."""
    return stage.wait_until(lambda: pm.brain.spawn_results, 300, 3)


def spawned_at_work(stage: Stage, slot: AgentSlot, pm: AgentSlot, spawn_rc: int) -> tuple[str, bool]:
    """What the new engineer did (a line for the report) and whether the team grew: `spawn`
    succeeded, the engineer's stand-in heard from it and it reported a task DONE."""
    briefed = stage.wait_until(lambda: slot.brain.requests > 0, 60, 2)
    done = stage.wait_until(lambda: any(t.startswith(f"m-{slot.name}-") and e["rc"] == 0
                                        for t, e in list(stage.ledger.sent.items())), 180, 5)
    return (f"its stand-in heard from it: {briefed}; it reported a task DONE to {pm.name}: {done}",
            spawn_rc == 0 and briefed and done)


# --- the laptop asleep, the reboot -------------------------------------------------------------


def notifications(stage: Stage) -> list[str]:
    """What the notify command was given, one line per call (``<work>/notifications.txt``)."""
    path = stage.work / "notifications.txt"
    return path.read_text(encoding="utf-8", errors="replace").splitlines() if path.exists() else []


def wake_survived(stage: Stage, fault: Fault, late_before: int, told_before: int) -> None:
    """Survived: the check-ins that came due while the night was stopped are delivered once it
    wakes, marked LATE (lost and doubled are judged over the whole night), and the wake tells a
    person at most one thing (no attention storm)."""
    woke = time.monotonic()
    caught_up = stage.wait_until(lambda: late_checkins(stage) > late_before, 150, 5)
    took = time.monotonic() - woke
    # Then two minutes more: whatever the wake sets off is told by then (the checks are every minute).
    stage.wait_until(lambda: stage.stopping.is_set(), 120, 5)
    told = notifications(stage)[told_before:]
    late = late_checkins(stage) - late_before
    fault.noticed.append(f"{late} check-in(s) delivered marked LATE, the first {took:.0f}s after the wake"
                         if caught_up else "no check-in delivered LATE within 150s of the wake")
    fault.noticed.append(f"{len(told)} notification(s) to a person in the 2 minutes after the wake"
                         + (f": {' | '.join(t[:120] for t in told)}" if told else ""))
    fault.survived = caught_up and len(told) <= 1


def boot_survived(stage: Stage, fault: Fault, slots: list[AgentSlot], resumes_before: dict[str, int],
                  told_before: int, up: float) -> None:
    """Survived: within 60 s of the cron daemon's start the boot's one summary reached the notify
    command, every agent (the spawned engineer and the orchestrator included) was given its
    resume note in its own conversation (its stand-in saw the earlier turns), and none was left
    behind; the check-ins missed meanwhile are judged with the night's (nothing lost, nothing doubled)."""
    def summaries() -> list[str]:
        return [t for t in notifications(stage)[told_before:] if "after a reboot" in t]

    told = stage.wait_until(lambda: summaries(), 180, 1)
    took = time.monotonic() - up
    # Every agent's note and any second summary have had their time by then.
    stage.wait_until(lambda: all(len(s.brain.resumed_with) > resumes_before[s.name] for s in slots), 60, 2)
    stage.wait_until(lambda: stage.stopping.is_set(), 30, 5)
    back, fresh = [], []
    for slot in slots:
        notes = slot.brain.resumed_with[resumes_before[slot.name]:]
        (back if notes and all(n > 1 for n in notes) and len(notes) == 1 else fresh).append(
            f"{slot.name} ({len(notes)} note(s), {notes[0] if notes else 0} messages)")
    found = summaries()
    fault.noticed.append(f"the boot's summary reached the notify command {took:.0f}s after cron started"
                         if told else "no summary of the boot within 180s of cron's start")
    fault.noticed.append(f"back in their own conversations: {len(back)}/{len(slots)}"
                         + (f"; not: {', '.join(fresh)}" if fresh else ""))
    if found:
        fault.noticed.append(f"summary ({len(found)}x): {found[0][:300]}")
    fault.survived = bool(told) and took < 60 and not fresh and len(found) == 1 and "did not come back" not in found[0]
