"""up: seat the orchestrator (docs/workflow.md).

The orchestrator is an agent like the others, in ``ORC_DEFAULT_TARGET``'s window, working in
the suite folder: the hub that talks to each project's manager. ``up`` starts it (or finds it
running), briefs it with its projects and commands, and gives it a recurring self check-in.
Run twice, it changes nothing: the running, briefed agent (its pane and process id are in
``<state>/orchestrator.json``) is left alone, and the check-in is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orc.messages.delivery import clean_text, deliver_a_note, fit_to_size
from orc.core.locks import named_lock
from orc.record.hook_events import agent_reports
from orc.teams.project_config import Member, Project
from orc.core.settings import Settings
from orc.teams.spawn import SpawnError, empty_pane
from orc.core.state import log_event, timestamp
from orc.teams.team import agent_command, log_file, wait_ready
from orc.teams.team_schedules import ensure_recurring_checkin, suite_command
from orc.core.tmux import Pane, TargetNotFound, Tmux



ORCHESTRATOR_BRIEFING = """You are the Orchestrator of Tmux Orchestrator, in tmux window {target}, in {suite}.
You are the hub: you talk to each project's manager, and they talk to their engineers (hub and spoke; \
engineers never message you directly, you never manage engineers directly).
Your projects (from {config}):
{projects}
Your commands (all in {suite}; read {suite}/CLAUDE.md now, it explains each one):
- `{cmd} deploy --all` (or `deploy <project>`): start a project's team, brief it, install its check-ins and backups
- `{cmd} spawn <session:window> --role ROLE --project P --brief "task"`: add one agent to a running team
- `{cmd} status`: every project's agents, git, check-ins, tests, backups; `{cmd} attention list`: what needs a person
- `{suite}/send_message.sh <session:window> "message"`: talk to a project manager (proven submitted, or it says not)
- `{cmd} broadcast "message"`: tell every project manager at once; `{cmd} learn "lesson"`: record what one project \
learned, then broadcast it so the others use it
- `{cmd} restart <project> <role>`: restart an agent that exited or stalled; `{cmd} finish <project> [task]`: merge a \
tested feature branch
You check in on yourself every {every} minutes (a scheduled check-in arrives here). At each one: run status, \
ask the project managers that look stuck, share what one project learned with the others, and keep going.
Reply here in one line with your first step."""


@dataclass(frozen=True)
class UpReport:
    target: str
    started: bool
    briefed: bool
    detail: str
    checkin: str


def orchestrator_briefing(settings: Settings, projects: list[Project], config_file: Path, target: str) -> str:
    lines = [f"- {p.name}: {p.path} (session {p.session}; project manager at {p.target(p.manager)})"
             + (f": {p.description}" if p.description else "") for p in projects] or ["- (none yet)"]
    every = settings.orchestrator_checkin_minutes
    return clean_text(ORCHESTRATOR_BRIEFING.format(
        target=target, suite=settings.suite_dir, config=config_file, projects="\n".join(lines),
        cmd=f"python3 {settings.suite_dir}/orchestrator_integration.py", every=f"{every:g}"))


def orchestrator_checkin_note(settings: Settings) -> str:
    return (f"Orchestrator self check-in (every {settings.orchestrator_checkin_minutes:g} minutes): run "
            f"`{suite_command(settings)} status`, check on each project manager that needs it, share what one "
            f"project learned with the others, then carry on.")


def orchestrator_record(settings: Settings) -> dict[str, Any]:
    import json

    try:
        data = json.loads((settings.state_dir / "orchestrator.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


ORCHESTRATOR_LABEL = "orchestrator"   # the name its hook reports carry (docs/agent-record.md)


def was_seated(settings: Settings) -> bool:
    """Whether ``up`` seated the orchestrator in this state folder: it briefed one, and
    recorded its pane in ``<state>/orchestrator.json``. ``up --boot`` brings it back then."""
    return bool(orchestrator_record(settings))


def seated_with(settings: Settings) -> tuple[str | None, str | None]:
    """The ``--command`` and ``--agent`` the orchestrator was seated with (None: the default)."""
    record = orchestrator_record(settings)
    command, agent = record.get("command"), record.get("agent")
    return (command if isinstance(command, str) and command else None,
            agent if agent == "claude" else None)


def resume_note(target: str) -> str:
    return clean_text(f"You were restarted and your conversation was resumed: you are still the Orchestrator, in tmux "
                      f"window {target}. The machine restarted; the teams were brought back. Run status, then carry on "
                      f"where you left off.")


def seat_orchestrator(settings: Settings, tmux: Tmux, projects: list[Project], config_file: Path,
                      ready_timeout: float = 90.0, command: str | None = None, agent: str | None = None,
                      resume: bool = False) -> UpReport:
    """Start the orchestrator's agent at ORC_DEFAULT_TARGET in the suite folder, brief it, give it
    its recurring self check-in. Idempotent: a running, briefed orchestrator is left as it is.

    With ``resume`` (``up --boot``), an orchestrator that has to be started continues its own
    last conversation, where its hooks reported one, and gets a short note instead of the briefing."""
    import json

    from orc.core.state import write_private_text
    from orc.core.tmux import BadTarget, parse_target

    target = settings.default_target
    try:
        parsed = parse_target(target)
    except BadTarget as exc:
        raise SpawnError(f"ORC_DEFAULT_TARGET: {exc}", usage=True) from None
    if parsed.session is None or parsed.window is None or parsed.pane_index is not None:
        raise SpawnError(f"ORC_DEFAULT_TARGET={target!r} must be session:window for up", usage=True)
    session, window = parsed.session, parsed.window
    member = Member("orchestrator", window, command or "", None, agent)  # agent: "claude" for a wrapper
    report = agent_reports(settings.state_dir).get(ORCHESTRATOR_LABEL) if resume else None
    resume_id = report.session_id if report is not None and report.session_id else None
    # The resume id is used only when the agent has to be started: a running one keeps its own.
    line = agent_command(settings, member, label=ORCHESTRATOR_LABEL, resume_id=resume_id)
    folder = str(settings.suite_dir)
    started = False
    with named_lock(settings.state_dir, "team-orchestrator", 120):
        try:
            pane: Pane | None = tmux.resolve(target)
        except TargetNotFound:
            pane = None
        if pane is None:
            if tmux.has_session(session):
                if window.isdigit():
                    raise SpawnError(f"session {session} has no window {window}; set ORC_DEFAULT_TARGET to "
                                     f"{session}:<a window name> (up then opens it) or free that window index")
                pane = tmux.new_window(session, window, line, folder)
            else:
                pane = tmux.new_session(session, "orchestrator" if window.isdigit() else window, line, folder)
                try:
                    tmux.resolve(target)
                except TargetNotFound:
                    raise SpawnError(f"session {session} was opened, but {target} does not name its window "
                                     f"(tmux base-index?); set ORC_DEFAULT_TARGET to {session}:orchestrator") from None
            started = True
        elif empty_pane(tmux, settings, pane):
            tmux.respawn(pane.pane_id, line, folder)
            started = True
        tmux.keep_on_exit(pane.pane_id)
        record = orchestrator_record(settings)
        try:
            pid = tmux.pane_pid(pane.pane_id)
        except TargetNotFound:
            pid = -1
        if not started and record.get("pane") == pane.pane_id and record.get("pid") == pid:
            briefed, detail = False, f"already running and briefed at {record.get('at')}"
        else:
            state = wait_ready(tmux, settings, [pane.pane_id], ready_timeout).get(pane.pane_id, "unknown")
            if state != "idle":
                briefed, detail = False, f"not ready after {ready_timeout:g}s (state {state}); run up again once it is idle"
            else:
                resumed = started and resume_id is not None
                text = fit_to_size(resume_note(target) if resumed
                                   else orchestrator_briefing(settings, projects, config_file, target), settings)
                result = deliver_a_note(tmux, pane.pane_id, text, settings, log_as="up-resume" if resumed else "up-brief")
                briefed, detail = result.submitted, result.reason
                if resumed:
                    detail = f"resumed session {resume_id}; {detail}"
                if result.submitted:
                    write_private_text(settings.state_dir / "orchestrator.json", json.dumps(
                        # command and agent: what `up --boot` starts it with again after a reboot.
                        {"pane": pane.pane_id, "pid": tmux.pane_pid(pane.pane_id), "at": timestamp(),
                         "command": command or "", "agent": agent or ""}) + "\n")
    checkin = ensure_recurring_checkin(settings, target, settings.orchestrator_checkin_minutes,
                                       orchestrator_checkin_note(settings), "self check-in")
    log_event(log_file(settings), "up", target=target, started=started, briefed=briefed, reason=detail)
    return UpReport(target, started, briefed, detail, checkin)
