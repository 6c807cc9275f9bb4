"""Each pane's agent state, joined from its screen and the agent's own record.

One snapshot reads every pane of the tmux server in two tmux invocations, the process table
once, the agents' session registry once and the hooks' latest reports once
(docs/agent-states.md). :func:`look` does the same for one pane.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from orc.core.tmux import Pane, Tmux, TmuxError
from orc.record.agent_registry import PaneIdentity, RegistryEntry, agent_config_dirs, match_panes, read_entries
from orc.record.agent_state import AgentState, classify, combine, from_hook, from_registry, with_usage_limit
from orc.record.hook_events import latest_reports
from orc.record.process_groups import Process, ProcessTable
from orc.record.profiles import SHELLS, agent_program_kind
from orc.record.profiles.programs import INTERPRETERS

if TYPE_CHECKING:
    from orc.core.settings import Settings

@dataclass(frozen=True)
class PaneSnapshot:
    pane: Pane
    state: str
    lines: tuple[str, ...]
    agent: AgentState = AgentState("unknown", "screen")  # the state with its source, age, session

    def as_json(self) -> dict[str, object]:
        a = self.agent
        return {**asdict(self.pane), "state": self.state, "source": a.source,
                "age": None if a.age is None else round(a.age, 3), "session_id": a.session_id,
                "version": a.version, "transcript_path": a.transcript_path, "detail": a.detail,
                "agent_pid": a.pid, "agent": a.kind or None, "lines": list(self.lines)}


@dataclass(frozen=True)
class StateSources:
    """Where a snapshot reads the agents' own record besides the screen."""

    config_dirs: tuple[Path, ...] = ()
    registry_source: str = "files"      # files, cli (claude agents --json) or off
    claude_bin: str | None = None       # for the ``cli`` source and the fallback to it
    hooks_state_dir: Path | None = None # where ``orc hook`` records each pane's latest event
    # Also the config dir each pane's agent was started with (its environment): agents with a
    # CLAUDE_CONFIG_DIR or HOME of their own are found with no setting (docs/agent-record.md).
    agent_environ: bool = True

    @classmethod
    def default(cls) -> StateSources:
        # Imported here: settings needs python-dotenv, which `python3 tmux_utils.py` in a fresh
        # copy of the suite installs only in main(), after importing this module.
        from orc.core.settings import default_config_dirs

        return cls(default_config_dirs(os.environ))

    @classmethod
    def from_settings(cls, settings: Settings) -> StateSources:
        return cls(settings.claude_config_dirs, settings.registry_source, settings.claude_bin, settings.state_dir)


# (pid, start time) -> the agent CLI that process is (None: none). A process's arguments do
# not change after it started, so each is read once.
_KIND_OF_PROCESS: dict[tuple[int, str], str | None] = {}


def program_kind(table: ProcessTable, process: Process) -> str | None:
    """Which agent CLI ``process`` runs (orc.record.profiles.programs), from its name, or
    from its arguments when its name is an interpreter's (``node .../bin/gemini``)."""
    key = (process.pid, process.started)
    if key not in _KIND_OF_PROCESS:
        words = table.arguments(process.pid) if process.command in INTERPRETERS else [process.command]
        _KIND_OF_PROCESS[key] = agent_program_kind(words)
    return _KIND_OF_PROCESS[key]


def agent_kinds(table: ProcessTable, groups: Mapping[str, Sequence[Process]]) -> dict[str, str]:
    """For each terminal whose foreground group runs an agent CLI the suite knows, its kind."""
    found: dict[str, str] = {}
    for tty, group in groups.items():
        for process in group:
            kind = None if process.command in SHELLS else program_kind(table, process)
            if kind:
                found[tty] = kind
                break
    for pid, started in list(_KIND_OF_PROCESS):
        running = table.by_pid.get(pid)
        if running is None or running.started != started:
            del _KIND_OF_PROCESS[(pid, started)]  # ended: its pid may come back as another process
    return found


def pane_states(panes: Sequence[Pane], screens: Sequence[Sequence[str]], agent_kind: str,
                sources: StateSources, socket: Path | None = None) -> list[AgentState]:
    """Each pane's one state (orc.record.agent_state.combine) from its screen, its terminal's
    foreground process group, the agents' registry and their hooks' latest reports (of
    the tmux server at ``socket`` only): one read of the process table (``/proc``, else one
    ``ps``), one of the registry and one of
    the hook reports for all of them. The registry is read from ``sources.config_dirs`` and
    from the config dir each pane's agent process was started with (read once per process).

    ``agent_kind`` names the profile every pane is read with; "" reads each pane with the
    profile of the agent CLI running in it (Claude Code's where none is recognised)."""
    table = ProcessTable.read()
    ttys = [p.tty for p in panes]
    groups = table.foreground(ttys) if table.processes else {}
    agent_dirs: tuple[Path, ...] = ()
    if sources.agent_environ and sources.registry_source != "off" and groups:
        agent_dirs = agent_config_dirs(table, ttys, groups)
    entries = read_entries(sources.config_dirs, table, sources.registry_source, sources.claude_bin, agent_dirs)
    identities = [PaneIdentity(p.pane_id, p.session, p.window_id, p.tty) for p in panes]
    joined: dict[str, RegistryEntry] = match_panes(entries, identities, table) if entries else {}
    foreground = {tty: [p.command for p in group] for tty, group in groups.items()}
    kinds = {} if agent_kind else agent_kinds(table, groups)
    reports = latest_reports(sources.hooks_state_dir, socket=socket) if sources.hooks_state_dir else {}
    now = time.time()
    result = []
    for pane, lines in zip(panes, screens):
        kind = agent_kind or kinds.get(pane.tty, "")  # "": none recognised, read as Claude Code
        screen = classify(lines, pane, kind or "claude", foreground.get(pane.tty) if table.processes else None)
        entry = joined.get(pane.pane_id)
        registry = from_registry(entry, now) if entry is not None else None
        report = reports.get(pane.pane_id)
        hook = from_hook(report, now) if report is not None else None
        state = with_usage_limit(combine(screen, registry, hook, shell_certain=bool(table.processes)), lines)
        result.append(replace(state, kind=kind))
    return result


def look(tmux: Tmux, pane_id: str, agent_kind: str = "", sources: StateSources | None = None) -> PaneSnapshot:
    """One pane's facts, screen and agent state (two tmux invocations, the process table)."""
    pane = tmux.pane(pane_id)
    lines = tuple(tmux.capture(pane_id))
    agent = pane_states([pane], [lines], agent_kind, sources or StateSources.default(), tmux.socket)[0]
    return PaneSnapshot(pane, agent.state, lines, agent)


def snapshot(tmux: Tmux, last_lines: int = 20, agent_kind: str = "",
             sources: StateSources | None = None) -> list[PaneSnapshot]:
    """Every pane with its state and last lines, in two tmux invocations whatever the count
    (plus one read of the process table and one of the agents' registry)."""
    for _attempt in range(3):
        panes = tmux.list_panes()
        if not panes:
            return []
        try:
            every = tmux.capture_all(panes)
        except TmuxError:
            continue  # a pane closed between the listing and the captures: list again
        agents = pane_states(panes, every, agent_kind, sources or StateSources.default(), tmux.socket)
        return [PaneSnapshot(pane, agent.state, tuple(lines[-last_lines:] if last_lines else []), agent)
                for pane, lines, agent in zip(panes, every, agents)]
    raise TmuxError(["snapshot"], "panes kept changing during three attempts", 1)


def read_pane_state(tmux: Tmux, settings: Settings, pane_id: str) -> AgentState:
    """Is an agent in this pane, and what is it doing? (For other modules: one pane's
    combined state, read fresh: the pane, its screen, the registry and its process group.)"""
    return look(tmux, pane_id, settings.agent_kind, StateSources.from_settings(settings)).agent


def format_snapshot(snapshots: Sequence[PaneSnapshot], more: dict[str, str] | None = None) -> str:
    """The readable text of ``python3 tmux_utils.py``: a line of facts per pane, then its last
    lines. ``more``: further facts per pane id (the messages kept for it)."""
    out: list[str] = []
    for snap in snapshots:
        p = snap.pane
        a = snap.agent
        facts = f"state={snap.state} source={a.source}" + (f" agent={a.kind}" if a.kind else "")
        if a.age is not None:
            facts += f" age={a.age:.1f}s"
        if a.session_id:
            facts += f" session={a.session_id} version={a.version or '?'}"
        if a.detail:
            facts += f" ({a.detail})"
        if more and p.pane_id in more:
            facts += f" {more[p.pane_id]}"
        out.append(f"== {p.address} [{p.window_name}] {p.pane_id} cmd={p.current_command} {facts}")
        out.extend(f"   {line}" for line in snap.lines)
    return "\n".join(out)
