"""One screen for every project: each agent's state, git facts, check-ins, tests, backups.

The whole tmux server is read in one snapshot (two tmux invocations, whatever the
number of agents); each repository costs three git calls, run in parallel. An agent is
*stalled* when its screen has not changed for longer than ``ORC_STALL_SECONDS`` while it
is not idle: status keeps a hash of each agent's screen and the time it last changed in
``<state>/projects/<name>/activity.json``, so "last activity" is as fresh as the last
status run (``--watch`` keeps it fresh).

Agents that need a person (a dialog waiting for an answer, an agent that exited, a
stalled one, a missing window) are listed first.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from orc.core.gitops import RepoFacts, repo_facts
from orc.teams.project_config import Project, member_kind
from orc.core.settings import Settings
from orc.core.state import private_dir, timestamp, write_private_text
from orc.core.tmux import Tmux
from orc.messages.mailbox import waiting_by_window
from orc.record.snapshot import PaneSnapshot, StateSources, snapshot
from orc.teams.worktrees import WorktreeFacts, worktree_facts

# What each pane state means to a person, and whether it needs one.
ATTENTION = {
    "waiting": "a dialog is waiting for an answer",
    "exited": "the agent exited; run restart",
    "stalled": "screen unchanged while not idle; look, or run restart",
    "missing": "no such window; run deploy",
    "unknown": "agent screen not recognised",
    "typing": "unsent text in the input box",
    "limited": "usage limit reached; waits for its reset",
}
STATE_NAMES = {"dead": "exited", "shell": "exited"}


@dataclass(frozen=True)
class AgentStatus:
    role: str
    window: str
    target: str
    state: str                     # idle busy waiting typing exited stalled missing copy-mode unknown;
                                   # running or ended for a window that runs no agent
    attention: str | None
    last_activity: float | None    # epoch seconds the screen last changed (as seen by status)
    pane_id: str | None = None
    source: str = "screen"         # what decided the state: registry, hook or screen
    state_age: float | None = None # seconds since that source saw the state change
    session_id: str | None = None  # the agent's own session (registry), for resume and transcripts
    version: str | None = None
    detail: str | None = None      # e.g. "permission prompt", a usage limit's reset time
    kept: int = 0                  # messages kept for it until it can take them (orc.messages.mailbox)
    kept_oldest_age: float | None = None  # seconds the oldest of them has waited
    agent: str = ""                # the agent CLI running there (claude, codex, gemini), "" if not recognised


@dataclass(frozen=True)
class CheckInInfo:
    id: str
    due: float
    every_minutes: float | None
    target: str


@dataclass(frozen=True)
class ProjectStatus:
    name: str
    session: str
    path: str
    agents: tuple[AgentStatus, ...]
    repo: RepoFacts
    checkins: tuple[CheckInInfo, ...] = ()
    last_test: dict[str, Any] | None = None
    last_backup: dict[str, Any] | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    worktrees: tuple[WorktreeFacts, ...] = ()   # each engineer's own worktree (docs/workflow.md, "Worktrees")

    @property
    def needs_attention(self) -> list[AgentStatus]:
        return [a for a in self.agents if a.attention]


# --- per-project state files --------------------------------------------------------------


def project_state_dir(settings: Settings, name: str) -> Path:
    return settings.state_dir / "projects" / name


def read_record(settings: Settings, name: str, what: str) -> dict[str, Any] | None:
    try:
        data = json.loads((project_state_dir(settings, name) / f"{what}.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_record(settings: Settings, name: str, what: str, data: dict[str, Any]) -> None:
    write_private_text(project_state_dir(settings, name) / f"{what}.json", json.dumps(data, indent=1) + "\n")


# --- collecting ---------------------------------------------------------------------------


def _screen_hash(lines: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode("utf-8", "replace")).hexdigest()[:16]


def _agent_states(settings: Settings, project: Project, snaps: dict[tuple[str, str], PaneSnapshot],
                  now: float, kept: dict[tuple[str, str], tuple[int, float]]) -> tuple[AgentStatus, ...]:
    previous = read_record(settings, project.name, "activity") or {}
    seen: dict[str, Any] = {}
    result: list[AgentStatus] = []
    for member in project.team:
        target = project.target(member)
        snap = snaps.get((project.session, member.window))
        if snap is None:
            result.append(AgentStatus(member.role, member.window, target, "missing", ATTENTION["missing"], None))
            continue
        digest = _screen_hash(snap.lines)
        before = previous.get(member.role)
        same = isinstance(before, dict) and before.get("hash") == digest and before.get("pane") == snap.pane.pane_id
        since = float(before["since"]) if same and isinstance(before, dict) else now
        seen[member.role] = {"pane": snap.pane.pane_id, "hash": digest, "since": since}
        if member_kind(settings, member) == "none":
            # A window that runs no agent (docs/workflow.md, "Agents and other windows") is only
            # running or ended: neither needs a person, and nothing of an agent's (stalled, a
            # shell read as exited) applies to it.
            state = "ended" if snap.pane.dead else "running"
            result.append(AgentStatus(member.role, member.window, target, state, None, since, snap.pane.pane_id,
                                      "screen", None, None, None, "not an agent"))
            continue
        state = STATE_NAMES.get(snap.state, snap.state)
        # The agent's own record says it is working: an unchanged screen is a long turn, not a stall
        # (until the record itself has not moved for as long).
        record_age = snap.agent.age if snap.agent.source != "screen" else None
        quiet = now - since if record_age is None else min(now - since, record_age)
        if state in ("busy", "typing", "unknown", "copy-mode") and quiet > settings.stall_seconds:
            state = "stalled"
        a = snap.agent
        result.append(AgentStatus(member.role, member.window, target, state, ATTENTION.get(state), since,
                                  snap.pane.pane_id, a.source, a.age, a.session_id, a.version, a.detail,
                                  agent=a.kind))
    if seen != previous:
        write_record(settings, project.name, "activity", seen)
    # The messages kept for each agent until it can take them (orc/messages/mailbox.py).
    with_mail = []
    for agent in result:
        count, oldest = kept.get((project.session, agent.window), (0, None))
        with_mail.append(replace(agent, kept=count, kept_oldest_age=oldest) if count else agent)
    return tuple(with_mail)


def _checkins_by_session(settings: Settings) -> dict[str, list[CheckInInfo]]:
    try:
        from orc.scheduling.checkins import pending_checkins
    except ImportError:  # pragma: no cover - the check-in module ships with the suite
        return {}
    found: dict[str, list[CheckInInfo]] = {}
    for c in pending_checkins(settings):
        session = c.target.split(":", 1)[0].lstrip("=")
        found.setdefault(session, []).append(CheckInInfo(c.id, c.due.timestamp(), c.every_minutes, c.target))
    return found


def collect(settings: Settings, tmux: Tmux, projects: Sequence[Project]) -> list[ProjectStatus]:
    """The status of ``projects``, reading tmux once and each repository in parallel."""
    now = time.time()
    snaps: dict[tuple[str, str], PaneSnapshot] = {}
    notes: list[str] = []
    try:
        for snap in snapshot(tmux, 60, settings.agent_kind, StateSources.from_settings(settings)):
            # The active pane of each window speaks for it (one agent per window).
            if snap.pane.pane_active:
                snaps.setdefault((snap.pane.session, snap.pane.window_name), snap)
    except Exception as exc:  # noqa: BLE001 - status must still show git facts when tmux fails
        notes.append(f"tmux could not be read at {settings.tmux_socket}: {exc}")
    checkins = _checkins_by_session(settings)
    kept = waiting_by_window(settings, settings.tmux_socket)  # the mailbox read once, for every project
    with ThreadPoolExecutor(max_workers=min(8, max(1, len(projects)))) as pool:
        facts = list(pool.map(lambda p: repo_facts(p.path), projects))
        trees = list(pool.map(lambda p: worktree_facts(settings, p), projects))
    result = []
    for project, repo, worktrees in zip(projects, facts, trees):
        result.append(ProjectStatus(
            name=project.name, session=project.session, path=str(project.path),
            agents=_agent_states(settings, project, snaps, now, kept), repo=repo,
            checkins=tuple(checkins.get(project.session, [])),
            last_test=read_record(settings, project.name, "last-test"),
            last_backup=read_record(settings, project.name, "last-backup"),
            notes=tuple(notes), worktrees=worktrees,
        ))
    return result


# --- showing -------------------------------------------------------------------------------


def age(epoch: float | None, now: float) -> str:
    """``42s ago``, ``12m ago``, ``3h ago``, ``2d ago`` (``in 5m`` for the future)."""
    if epoch is None:
        return "never"
    delta = now - epoch
    ahead = delta < 0
    delta = abs(delta)
    if delta < 60:
        text = f"{int(delta)}s"
    elif delta < 3600:
        text = f"{int(delta // 60)}m"
    elif delta < 86400:
        text = f"{int(delta // 3600)}h{int(delta % 3600 // 60):02d}m"
    else:
        text = f"{int(delta // 86400)}d"
    return f"in {text}" if ahead else f"{text} ago"


def _project_lines(s: ProjectStatus, now: float) -> list[str]:
    repo = s.repo
    if repo.ok:
        commit = f"last commit {age(repo.last_commit_epoch, now)}"
        if repo.last_commit_subject:
            commit += f" ({repo.last_commit_subject[:50]})"
        git_line = f"branch {repo.branch or '(detached)'} | {commit} | {repo.uncommitted} uncommitted file(s)"
        if repo.busy:
            git_line += f" | {repo.busy}"
    else:
        git_line = f"git: {repo.error}"
    test = s.last_test
    test_line = "tests: never run by `stable`"
    if test:
        test_line = f"tests: {'passed' if test.get('ok') else 'FAILED'} {age(test.get('at'), now)} ({test.get('command', '')})"
    backup = s.last_backup
    backup_line = "backup: none yet"
    if backup:
        backup_line = f"backup: {age(backup.get('at'), now)}: {backup.get('reason', '')}"
    lines = [f"== {s.name}  (session {s.session}, {s.path})", f"   {git_line}", f"   {test_line}", f"   {backup_line}"]
    for tree in s.worktrees:
        lines.append(f"   worktree {tree.role}: {_worktree_line(tree, now)}")
    if s.checkins:
        nxt = min(s.checkins, key=lambda c: c.due)
        lines.append(f"   check-ins: {len(s.checkins)} pending; next {nxt.id} to {nxt.target} {age(nxt.due, now)}")
    else:
        lines.append("   check-ins: none pending")
    width = max([len(a.role) for a in s.agents] + [4])
    wwidth = max([len(a.window) for a in s.agents] + [6])
    lines.append(f"   {'ROLE':<{width}}  {'WINDOW':<{wwidth}}  {'AGENT':<6}  {'STATE':<9}  {'SOURCE':<8}  "
                 f"{'SINCE':<8}  {'SESSION':<8}  {'VERSION':<8}  LAST ACTIVITY")
    for a in sorted(s.agents, key=lambda a: (a.attention is None, a.role)):
        mark = f"  <- {a.attention}" if a.attention else ""
        if a.detail:
            mark += f" ({a.detail})"
        if a.kept:
            mark += f"  [{a.kept} message(s) kept for it, oldest {age(now - (a.kept_oldest_age or 0), now)}]"
        since = age(now - a.state_age, now) if a.state_age is not None else "-"
        lines.append(f"   {a.role:<{width}}  {a.window:<{wwidth}}  {(a.agent or '-'):<6}  {a.state:<9}  {a.source:<8}  "
                     f"{since:<8}  "
                     f"{(a.session_id or '-')[:8]:<8}  {(a.version or '-'):<8}  {age(a.last_activity, now)}{mark}")
    return lines


def _worktree_line(tree: WorktreeFacts, now: float) -> str:
    """``branch orc/engineer | 2 ahead, 0 behind main | 1 uncommitted file(s) | last commit ...``."""
    if tree.problem:
        return f"{tree.path}: {tree.problem}"
    counts = ("ahead/behind unknown" if tree.ahead is None or tree.behind is None
              else f"{tree.ahead} ahead, {tree.behind} behind the main branch")
    commit = f"last commit {age(tree.last_commit_epoch, now)}"
    if tree.last_commit_subject:
        commit += f" ({tree.last_commit_subject[:50]})"
    return (f"branch {tree.branch or '(detached)'} | {counts} | {tree.uncommitted} uncommitted file(s) | {commit} "
            f"| {tree.path}")


def render_text(statuses: Sequence[ProjectStatus], now: float | None = None) -> str:
    """The status screen: agents needing a person first, then one block per project."""
    now = time.time() if now is None else now
    urgent = [(s, a) for s in statuses for a in s.needs_attention]
    out = [f"Tmux Orchestrator status at {timestamp()}: {len(statuses)} project(s), "
           f"{len(urgent)} agent(s) need attention"]
    for note in sorted({n for s in statuses for n in s.notes}):
        out.append(f"!! {note}")
    if urgent:
        out.append("")
        out.append("NEEDS A PERSON")
        for s, a in sorted(urgent, key=lambda pair: (pair[1].state != "waiting", pair[0].name, pair[1].role)):
            out.append(f"  {a.target:<24} {s.name}/{a.role}: {a.state}: {a.attention}")
    for s in sorted(statuses, key=lambda s: (not s.needs_attention, s.name)):
        out.append("")
        out.extend(_project_lines(s, now))
    return "\n".join(out) + "\n"


def to_json(statuses: Sequence[ProjectStatus]) -> list[dict[str, Any]]:
    result = []
    for s in sorted(statuses, key=lambda s: (not s.needs_attention, s.name)):
        data = asdict(s)
        data["agents"] = [asdict(a) for a in sorted(s.agents, key=lambda a: (a.attention is None, a.role))]
        data["needs_attention"] = [a.target for a in s.needs_attention]
        data["notes"] = list(s.notes)
        result.append(data)
    return result


def write_status_files(settings: Settings, statuses: Sequence[ProjectStatus], now: float | None = None) -> None:
    """``<state>/projects/<name>/status.txt``: the same text, one file per project."""
    now = time.time() if now is None else now
    for s in statuses:
        private_dir(project_state_dir(settings, s.name))
        write_private_text(project_state_dir(settings, s.name) / "status.txt", render_text([s], now))
