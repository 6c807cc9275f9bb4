"""spawn: one more agent in a running team, started the suite's way (docs/workflow.md).

The window is opened (or an empty shell pane reused), the agent started with the command
line every suite agent gets (``team.agent_command``: hooks on), waited for until idle, briefed
with its project's template (or a short briefing without a project), and recorded in
``<state>/projects/<name>/spawned.json`` so ``status``, ``restart`` and the attention check
know it as they know the configured team. An agent can run it from its own shell.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from orc.messages.delivery import clean_text, deliver, fit_to_size
from orc.core.locks import named_lock
from orc.teams.project_config import Member, Project, member_kind
from orc.core.settings import Settings
from orc.core.state import log_event, timestamp
from orc.teams.status import write_record
from orc.teams.team import agent_command, brief_agent, briefing, log_file, session_windows, spawned_record, wait_ready, with_spawned
from orc.teams.worktrees import WorktreeRefused, ensure_worktree
from orc.core.tmux import Pane, Tmux
from orc.record.snapshot import look



class SpawnError(RuntimeError):
    """spawn could not be done; ``usage`` when the request itself was wrong (exit 2)."""

    def __init__(self, message: str, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


@dataclass(frozen=True)
class SpawnReport:
    target: str
    pane_id: str
    opened: bool          # a new window (False: an empty shell pane was reused)
    briefed: bool
    detail: str


SPAWNED_BRIEFING = """You are the {role}, working in tmux window {target}, in the folder {cwd}.
Read {suite}/CLAUDE.md now: it explains messages, check-ins, status and the git rules of this team.
{brief}
When you have read it, reply here in one line with your first step."""


def empty_pane(tmux: Tmux, settings: Settings, pane: Pane) -> bool:
    """A pane holding only a shell with nothing running in it (or a dead pane): safe to reuse."""
    if pane.dead:
        return True
    return look(tmux, pane.pane_id, settings.agent_kind).state == "shell"


def spawn_agent(settings: Settings, tmux: Tmux, target: str, role: str, *, project: Project | None = None,
                brief: str | None = None, command: str | None = None, cwd: Path | None = None,
                ready_timeout: float = 90.0, agent: str | None = None) -> SpawnReport:
    """Open ``session:window`` (or reuse an empty one), start an agent, wait for it, brief it, record it.

    ``agent`` (``"claude"``) says that ``command`` starts Claude Code (a wrapper script), so
    it gets the suite's hooks; without it the command's program decides. The project
    manager's command, taken when ``command`` is None, comes with what the config says of it.
    """
    import re

    from orc.teams.project_config import ROLE, WINDOW

    session, colon, window = target.partition(":")
    if not colon or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}", session) or not WINDOW.match(window):
        raise SpawnError(f"target {target!r} is not session:window (a window name, not an index, e.g. "
                         f"webapp:Dev2)", usage=True)
    if not ROLE.match(role):
        raise SpawnError(f"role {role!r} is not lower case letters, digits and '-' (e.g. engineer-2)", usage=True)
    if project is not None:
        if session != project.session:
            raise SpawnError(f"{project.name}'s agents live in session {project.session}; use "
                             f"{project.session}:{window}", usage=True)
        known = with_spawned(settings, project).member(role)
        if known is not None and known.window != window:
            raise SpawnError(f"{project.name} already has a {role} in window {known.window}; pick another role "
                             f"name (e.g. {role}-2) or restart that one", usage=True)
    if agent is None and command is None and project is not None:
        agent = project.manager.agent
    member = Member(role, window, command or (project.manager.command if project else "") or "", None, agent)
    if project is not None and project.worktrees is not None and member_kind(settings, member) != "none":
        # A project whose engineers have worktrees gives one to the engineer spawned into it too.
        member = replace(member, worktree=True)
    folder = str(project.path if project else (cwd or Path.cwd()))
    line = agent_command(settings, member, project, label=None if project else f"{session}.{role}")
    with named_lock(settings.state_dir, f"team-{project.name if project else session}", 120):
        pane = session_windows(tmux, session).get(window)
        opened = pane is None
        if member.worktree and project is not None and (pane is None or empty_pane(tmux, settings, pane)):
            try:
                folder = str(ensure_worktree(settings, project, member).path)
            except WorktreeRefused as exc:
                raise SpawnError(str(exc)) from None
        started_at = time.time()
        if pane is None:
            if tmux.has_session(session):
                pane = tmux.new_window(session, window, line, folder)
            else:
                pane = tmux.new_session(session, window, line, folder, width=200, height=50)
        elif empty_pane(tmux, settings, pane):
            tmux.respawn(pane.pane_id, line, folder)
        else:
            raise SpawnError(f"window {target} is in use ({pane.current_command} runs there); pick another "
                             f"window, or stop what runs there first")
        tmux.keep_on_exit(pane.pane_id)
        if project is not None:
            record = spawned_record(settings, project)
            record[role] = {"window": window, "command": member.command, "at": timestamp(),
                            **({"agent": member.agent} if member.agent else {}),
                            **({"worktree": True} if member.worktree else {})}
            write_record(settings, project.name, "spawned", record)
        state = wait_ready(tmux, settings, [pane.pane_id], ready_timeout, started_at=started_at).get(
            pane.pane_id, "unknown")
        if state != "idle":
            detail = f"started, but not ready after {ready_timeout:g}s (state {state}); not briefed"
            log_event(log_file(settings), "spawn", target=target, role=role, briefed=False, reason=detail)
            return SpawnReport(target, pane.pane_id, opened, False, detail)
        if project is not None:
            text = briefing(settings, project, member)
            if brief:
                text += "\n\nYour first task: " + brief
            result = brief_agent(tmux, settings, project, member, pane.pane_id, text, "spawn-brief")
        else:
            text = clean_text(SPAWNED_BRIEFING.format(role=role, target=target, cwd=folder,
                                                      suite=settings.suite_dir, brief=brief or ""))
            result = deliver(tmux, pane.pane_id, fit_to_size(text, settings), settings, log_as="spawn-brief")
    log_event(log_file(settings), "spawn", target=target, role=role, project=project.name if project else None,
              briefed=result.submitted, reason=result.reason)
    return SpawnReport(target, pane.pane_id, opened, result.submitted, result.reason)
