"""Teams in tmux: deploy, restart, stop and broadcast.

Neighbours: the git actions are in orc.teams.project_git, a team's crontab lines in
orc.teams.team_schedules, ``spawn`` in orc.teams.spawn and ``up`` (the orchestrator) in orc.teams.orchestrator.

A project's team lives in one tmux session named in project_configs.json: a window per
agent (project manager, engineers...), a shell window and an optional dev-server window.
Everything here is idempotent where it can be: ``deploy`` run twice keeps the windows it
finds, briefs only agents not briefed yet (an agent is known by its pane and process id,
recorded in ``<state>/projects/<name>/briefed.json``), and replaces rather than adds its
crontab lines.

Agents start with tmux's ``remain-on-exit`` on, so an agent that exits leaves a dead
pane with its last screen, which status reports as ``exited`` and ``restart`` respawns
in place.
"""

from __future__ import annotations

import os
import secrets
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orc.core import gitops
from orc.messages.delivery import Delivery, clean_text, deliver, deliver_a_note, fit_to_size, special_meaning, squash
from orc.record.hook_events import agent_reports
from orc.record.hooks_settings import settings_args
from orc.core.locks import named_lock
from orc.teams.project_git import run_backup, run_backups
from orc.teams.resume_guard import forget_resumes, note_resume, resumes_that_died
from orc.teams.team_schedules import install_schedules, remove_schedules
from orc.teams.project_config import MANAGER_ROLE, Member, Project, member_kind
from orc.core.settings import Settings
from orc.core.state import log_event, timestamp
from orc.teams.status import read_record, write_record
from orc.teams.worktrees import WorktreeRefused, ensure_worktree, uses_worktree, workdir, worktree_branch
from orc.core.tmux import Pane, TargetNotFound, Tmux, TmuxError
from orc.record.snapshot import StateSources, look, snapshot

POLL = 0.2
NOT_AN_AGENT = "not an agent (\"agent\": \"none\" or a shell): runs as written, not briefed"
# Said when a window started for an agent never showed one: the config may have to say what runs there.
KIND_HINT = ("; if this window runs no agent, give it \"agent\": \"none\" in the config, and if it starts "
             "Claude Code through a wrapper, \"agent\": \"claude\"")
SPEC_INLINE_BYTES = 3000   # a longer spec is named by path; the agent reads it itself
SCREEN_LINES_ON_RESTART = 25

MANAGER_DUTIES = (
    "Your job: turn the spec into tasks, hand them to the engineers, check their work, keep quality high "
    "and report progress. You talk to the engineers and to the orchestrator; engineers talk to you."
)
ENGINEER_DUTIES = (
    "Your job: implement the tasks your project manager gives you, test them, and report back to the "
    "project manager when a task is done or when you are blocked for more than 10 minutes."
)

DEFAULT_BRIEFING = """You are the {role} of the project "{project}" in {path}, working in tmux window {target}.
{duties}
Team (role: tmux target): {team}. Your project manager: {pm_target}.
The spec is {spec_file}:
{spec}
Read {suite}/CLAUDE.md now: it explains messages, check-ins, status and the git rules of this team \
(commit at least every 30 minutes; new work on a branch named {branch_prefix}<task>; tests: {test_command}).
When you have read the spec and CLAUDE.md, reply here in one line with your first step."""


def log_file(settings: Settings) -> Path:
    return settings.state_dir / "integration.log"


# --- briefings ------------------------------------------------------------------------------


def spec_text(project: Project) -> str:
    try:
        raw = project.spec_file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"(the spec file {project.spec_file} cannot be read; ask the orchestrator for it)"
    if len(raw.encode("utf-8")) > SPEC_INLINE_BYTES:
        return f"(the spec is long: read all of {project.spec_file} before you start)"
    return raw.strip()


WORKTREE_NOTE = (
    "You work in your own git worktree, {path}, on the branch {branch}, made for you from the main checkout "
    "{main_path}: edit, test and commit there, on that branch only (do not switch branches, do not edit the main "
    "checkout; the other engineers have worktrees of their own). When your task is done and committed, tell your "
    "project manager; it runs `python3 {suite}/orchestrator_integration.py finish {project} {role}`, which tests "
    "your branch, merges it into the main branch and then removes your worktree and branch."
)
MANAGER_WORKTREE_NOTE = (
    "Your engineers each work in a git worktree and branch of their own ({worktrees}); you stay in the main "
    "checkout. When one reports a task done and committed, run `python3 {suite}/orchestrator_integration.py "
    "finish {project} <role>`: it tests that branch in its worktree, merges it into the main branch here and "
    "removes the worktree (add --keep to keep it); on a conflict it changes nothing and says so."
)


def briefing(settings: Settings, project: Project, member: Member) -> str:
    """The briefing text for ``member``: its template (or the default) filled in, and where it
    works when the project uses worktrees (docs/workflow.md, "Worktrees")."""
    template = member.briefing or DEFAULT_BRIEFING
    values = {
        "project": project.name, "role": member.role, "window": member.window, "session": project.session,
        "target": project.target(member), "pm_target": project.target(project.manager),
        # Only agents: a message to a shell or a dev server would run there as typed input.
        "team": ", ".join(f"{m.role}: {project.target(m)}" for m in project.team
                          if member_kind(settings, m) != "none"),
        "spec_file": str(project.spec_file), "spec": spec_text(project), "suite": str(settings.suite_dir),
        "check_in_minutes": str(project.check_in_interval // 60),
        "commit_minutes": str(project.git_commit_interval // 60),
        "branch_prefix": project.branch_prefix, "test_command": project.test_command_text or "(none configured)",
        "path": str(workdir(project, member)),
        "duties": MANAGER_DUTIES if member.is_manager else ENGINEER_DUTIES,
    }
    text = template.format_map(values)
    if uses_worktree(project, member):
        text += "\n" + WORKTREE_NOTE.format(path=workdir(project, member), branch=worktree_branch(project, member),
                                             main_path=project.path, suite=settings.suite_dir,
                                             project=project.name, role=member.role)
    elif member.is_manager and any(uses_worktree(project, m) for m in project.team):
        listed = ", ".join(f"{m.role}: {workdir(project, m)} on {worktree_branch(project, m)}"
                           for m in project.team if uses_worktree(project, m))
        text += "\n" + MANAGER_WORKTREE_NOTE.format(worktrees=listed, suite=settings.suite_dir, project=project.name)
    text = clean_text(text)
    if special_meaning(text):  # a template starting with ! / # @ would change meaning in Claude Code
        text = "Briefing: " + text
    return text


def restart_briefing(settings: Settings, project: Project, member: Member, last_screen: list[str],
                     backup_note: str) -> str:
    """The briefing plus where the work stands: git state, recent commits, the old screen's end."""
    folder = workdir(project, member)
    facts = gitops.repo_facts(folder)
    lines = [
        "You were restarted (your previous session had stopped responding or ran out of context). "
        "Pick the work up where it stands.",
        briefing(settings, project, member),
        "",
        "Where the work stands:",
        f"- branch {facts.branch or '(detached)'}, {facts.uncommitted} uncommitted file(s); {backup_note}",
        "- recent commits (git log):",
        *[f"    {line}" for line in gitops.log_lines(folder, 10)],
    ]
    if last_screen:
        lines += ["- the last lines of your previous session's screen:", *[f"    {line}" for line in last_screen]]
    return clean_text("\n".join(lines))


# --- tmux helpers -----------------------------------------------------------------------------


def session_windows(tmux: Tmux, session: str, panes: list[Pane] | None = None) -> dict[str, Pane]:
    """The active pane of each window of ``session``, by window name."""
    found: dict[str, Pane] = {}
    for pane in tmux.list_panes() if panes is None else panes:
        if pane.session == session and pane.pane_active:
            found.setdefault(pane.window_name, pane)
    return found


_SHELL_SYNTAX = set(";&|<>()$`\\\n*?[]{}~#")


def agent_label(project: Project, member: Member) -> str:
    """``<project>.<role>``: the name the agent's hook reports carry (docs/agent-record.md)."""
    return f"{project.name}.{member.role}"


def _takes_arguments(command: str) -> bool:
    """True when arguments appended to ``command`` reach the agent (no shell syntax after it)."""
    return not _SHELL_SYNTAX & set(command.replace("'", "").replace('"', ""))


def agent_command(settings: Settings, member: Member, project: Project | None = None,
                  resume_id: str | None = None, label: str | None = None) -> str:
    """The command line tmux runs for ``member``'s window: the one place every agent the
    suite starts (deploy, restart, spawn, up) gets its command line built.

    tmux runs it through the default shell; a shell that does not replace itself with the
    last command (dash) stays the pane's foreground process, and the pane would read as
    ``shell`` (no agent) to status and delivery. ``exec`` makes the program the pane's own
    process; a command using shell syntax is left as written.

    Codex CLI and Gemini CLI get theirs (:func:`_other_cli_command`). Only Claude Code gets Claude's flags (:func:`orc.teams.project_config.member_kind`: the
    config's ``"agent": "claude"``, or a command whose program is Claude Code): with a
    ``project`` or a ``label``, our hooks (``--settings <file>``, labelled ``label`` or
    ``<project>.<role>``) and, with ``resume_id``, ``--resume <id>`` to continue that
    conversation. Any other program (a shell, a dev server, a wrapper script not marked
    ``claude``) would die of an option it does not know, so it runs as written. A command
    with shell syntax cannot take arguments at its end: it runs as written too (``hooks
    install`` covers it).
    """
    command = member.command or settings.agent_command
    plain = _takes_arguments(command)
    if label is None and project is not None:
        label = agent_label(project, member)
    kind = member_kind(settings, member)
    if label is not None and plain and kind == "claude":
        extra = settings_args(settings, label)
        if resume_id:
            extra += ["--resume", resume_id]
        command = f"{command} {shlex.join(extra)}"
    elif plain and kind in ("codex", "gemini"):
        command = _other_cli_command(command, kind, label, resume_id)
    if command.startswith("exec ") or not plain:
        return command
    return f"exec {command}"


def _other_cli_command(command: str, kind: str, label: str | None, resume_id: str | None) -> str:
    """Codex CLI's or Gemini CLI's command line: Codex with ``--no-daemon`` (without it Codex
    starts a shared background server in a session of its own, which outlives the pane and
    the tmux server), either with its resume (``codex resume <id>``, ``gemini --resume <id>``),
    and the agent's label in ``ORC_AGENT_LABEL``: their hooks are installed once for every
    agent (``hooks install --agent``), and ``orc hook`` takes the label from there
    (docs/agent-clis.md)."""
    program = command[len("exec "):] if command.startswith("exec ") else command
    extra: list[str] = []
    if kind == "codex" and "--no-daemon" not in program.split():
        extra.append("--no-daemon")  # not twice: Codex refuses a repeated option
    if resume_id:
        extra += ["resume", resume_id] if kind == "codex" else ["--resume", resume_id]
    line = f"{program} {shlex.join(extra)}" if extra else program
    return f"env ORC_AGENT_LABEL={shlex.quote(label)} {line}" if label else line


def known_session(settings: Settings, project: Project, member: Member) -> str | None:
    """The session id the agent last reported through its hooks, or None (never reported)."""
    report = agent_reports(settings.state_dir).get(agent_label(project, member))
    return report.session_id if report is not None and report.session_id else None


#: ``session_to_resume``'s reason when the conversation died right after each of its last resumes.
RESUME_LOOP = "resume-loop"


def session_to_resume(settings: Settings, project: Project, member: Member, agent_gone: bool) -> tuple[str | None, str]:
    """The session to resume, or None and why not: "" (none reported) or :data:`RESUME_LOOP`
    (it died right after each of its last ``ORC_RESUME_TRIES`` resumes: start fresh, and a
    person is told; orc/teams/resume_guard.py)."""
    from orc.teams.attention import raise_attention

    session = known_session(settings, project, member)
    if session is None:
        return None, ""
    died = resumes_that_died(settings, project, member, agent_label(project, member), session, agent_gone)
    if died >= settings.resume_tries:
        forget_resumes(settings, project, member)
        text = (f"{project.target(member)}: its conversation {session} ended right after each of its last {died} "
                "resumes; it was started fresh, with its briefing, instead")
        log_event(log_file(settings), RESUME_LOOP, project=project.name, role=member.role, session=session, died=died)
        raise_attention(settings, f"{project.name}/{member.role}", RESUME_LOOP, text)
        return None, RESUME_LOOP
    note_resume(settings, project, member, session, time.time())
    return session, ""


def _agent_gone(tmux: Tmux, settings: Settings, project: Project, member: Member) -> bool:
    """Whether the member's agent is not running: no window, a dead pane, a shell, exited."""
    from orc.record.snapshot import look

    pane = session_windows(tmux, project.session).get(member.window)
    if pane is None or pane.dead:
        return True
    try:
        return look(tmux, pane.pane_id, settings.agent_kind, StateSources.from_settings(settings)).state in (
            "dead", "shell", "exited")
    except (TargetNotFound, TmuxError):
        return True


def _open_window(tmux: Tmux, project: Project, window: str, command: str, folder: Path | None = None) -> Pane:
    cwd = str(folder or project.path)
    if tmux.has_session(project.session):
        return tmux.new_window(project.session, window, command, cwd)
    try:
        return tmux.new_session(project.session, window, command, cwd, width=200, height=50)
    except TmuxError:
        # A run killed as it started this session (up --boot killed half way) leaves the tmux
        # server making it: there now, it is used, and the window if that run got to open it.
        if not tmux.has_session(project.session):
            raise
        made = session_windows(tmux, project.session).get(window)
        return made if made is not None else tmux.new_window(project.session, window, command, cwd)


#: An agent CLI that takes input only after its first hook event (``ready_after_first_event``)
#: but reports none since its start (its hooks are not installed) counts as ready once it has
#: been idle this long without a break.
READY_WITHOUT_EVENT_SECONDS = 5.0


def wait_ready(tmux: Tmux, settings: Settings, pane_ids: list[str], timeout: float,
               also: tuple[str, ...] = (), started_at: float | None = None) -> dict[str, str]:
    """Poll until every pane's agent is idle (or in a state of ``also``) or the deadline;
    return each pane's last state. ``started_at`` (epoch seconds, the agents were started
    after it): an agent CLI that draws its input box before it takes input is ready only once
    its hooks reported an event since then, or it stayed idle for :data:`READY_WITHOUT_EVENT_SECONDS`
    (``starting`` until then)."""
    from orc.record.hook_events import latest_reports
    from orc.record.profiles import profile_for

    deadline = time.monotonic() + timeout
    states: dict[str, str] = {}
    idle_since: dict[str, float] = {}
    waiting = list(pane_ids)
    while True:
        # One snapshot of the server per poll: two tmux calls, however many agents start.
        sources = StateSources.from_settings(settings)  # the config dirs and hook reports the settings name
        now = {s.pane.pane_id: s for s in snapshot(tmux, 0, settings.agent_kind, sources)}
        reports = latest_reports(settings.state_dir, socket=tmux.socket) if started_at is not None else {}
        for pane_id in list(waiting):
            snap = now.get(pane_id)
            state = snap.state if snap is not None else "gone"
            if state == "idle" and snap is not None and started_at is not None \
                    and profile_for(snap.agent.kind).ready_after_first_event:
                report = reports.get(pane_id)
                first_idle = idle_since.setdefault(pane_id, time.monotonic())
                # Not the old program's SessionEnd (a restart kills it after started_at): the new one's.
                reported = report is not None and report.at >= started_at and report.state != "exited"
                if not reported and time.monotonic() - first_idle < READY_WITHOUT_EVENT_SECONDS:
                    state = "starting"
            elif state != "idle":
                idle_since.pop(pane_id, None)
            states[pane_id] = state
            if state in ("idle", "gone", "dead", *also):
                waiting.remove(pane_id)
        if not waiting or time.monotonic() >= deadline:
            return states
        time.sleep(POLL)


# --- deploy -------------------------------------------------------------------------------------


def _member_folder(settings: Settings, project: Project, member: Member,
                   progress: Callable[[str], None] = lambda _: None) -> Path:
    """The folder ``member``'s pane starts in: its worktree (made now, or the suite's own from
    before), or the main checkout. WorktreeRefused names what stands in the way."""
    if not uses_worktree(project, member):
        return project.path
    ready = ensure_worktree(settings, project, member)
    if ready.created:
        copied = f", copied {', '.join(ready.copied)}" if ready.copied else ""
        progress(f"{project.name}: made the worktree {ready.path} on {ready.branch} for {member.role}{copied}")
    return ready.path


@dataclass(frozen=True)
class AgentReport:
    project: str
    role: str
    target: str
    started: bool
    briefed: bool
    detail: str
    agent: bool = True      # False: the window runs no agent ("agent": "none"), nothing to brief

    @property
    def ok(self) -> bool:
        return self.briefed or self.detail.startswith("already briefed") or not self.agent


@dataclass(frozen=True)
class DeployReport:
    project: str
    agents: tuple[AgentReport, ...]
    windows_opened: tuple[str, ...]
    cron: tuple[str, ...]
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems and all(a.ok for a in self.agents)


def _briefed_record(settings: Settings, project: Project) -> dict[str, Any]:
    return read_record(settings, project.name, "briefed") or {}


def write_briefed(tmux: Tmux, settings: Settings, project: Project, member: Member, pane_id: str,
                  session: str | None = None) -> None:
    """Record ``member`` as briefed in this pane and process (``session``: the conversation it resumed)."""
    record = _briefed_record(settings, project)
    record[member.role] = {"pane": pane_id, "pid": tmux.pane_pid(pane_id), "at": timestamp()}
    if session:
        record[member.role]["session"] = session
    write_record(settings, project.name, "briefed", record)


def note_arrived(tmux: Tmux, settings: Settings, pane_id: str, entry: dict[str, Any]) -> bool:
    """Whether the note an interrupted run was typing (``entry``: its token and text) was
    submitted: its token shows on the agent's screen, and the input box does not hold it."""
    from orc.messages.delivery import holds_exactly
    from orc.record.profiles import profile_for

    token, text = str(entry.get("token") or ""), str(entry.get("text") or "")
    try:
        snap = look(tmux, pane_id, settings.agent_kind, StateSources.from_settings(settings))
    except (TargetNotFound, TmuxError):
        return False
    if not token or squash(token) not in squash("\n".join(snap.lines)):
        return False
    return not (snap.state == "typing" and holds_exactly(snap, profile_for(snap.agent.kind), text))


def brief_agent(tmux: Tmux, settings: Settings, project: Project, member: Member, pane_id: str, text: str,
           log_as: str, typed_before: bool = False, session: str | None = None) -> Delivery:
    sized = fit_to_size(text, settings)
    result = (deliver(tmux, pane_id, sized, settings, log_as=log_as, typed_before=True) if typed_before
              else deliver_a_note(tmux, pane_id, sized, settings, log_as))
    if result.submitted:
        write_briefed(tmux, settings, project, member, pane_id, session)
    return result


def deploy_project(settings: Settings, tmux: Tmux, project: Project, ready_timeout: float,
                   progress: Callable[[str], None] = lambda _: None, config_file: Path | None = None,
                   resume: bool = False) -> DeployReport:
    """Bring ``project``'s team up: windows, agents, briefings, crontab lines. Idempotent.

    With ``resume`` (after a reboot: the tmux server and its windows are gone), each agent
    whose window has to be started continues its own last conversation, where its hooks
    reported one, and gets a short note instead of the briefing; the others start fresh.
    """
    opened: list[str] = []
    started_at = time.time()  # the agents this run starts are started after it
    fresh: dict[str, str] = {}  # role -> pane id of agents that need a briefing
    resumed: dict[str, str] = {}  # role -> session id continued
    unsent: dict[str, str] = {}  # role -> the resume note an interrupted run was typing
    reports: list[AgentReport] = []
    started: set[str] = set()
    with named_lock(settings.state_dir, f"team-{project.name}", 120):
        windows = session_windows(tmux, project.session)
        briefed = _briefed_record(settings, project)
        # Agents started with --resume and not yet given their note: a deploy killed between
        # the two (up --boot killed half way) left them; the next deploy --resume finishes with
        # the note, not a briefing, since the agent has its conversation (orc/teams/boot.py).
        resuming = read_record(settings, project.name, "resuming") or {}
        for member in project.team:
            pane = windows.get(member.window)
            if pane is None:
                try:
                    folder = _member_folder(settings, project, member, progress)
                except WorktreeRefused as exc:
                    reports.append(AgentReport(project.name, member.role, project.target(member), False, False,
                                               f"not started: {exc}"))
                    continue
                resume_id = session_to_resume(settings, project, member, agent_gone=True)[0] if resume else None
                if resume_id:  # before the window opens: a kill right after it is covered too
                    resuming[member.role] = {"session": resume_id}
                    write_record(settings, project.name, "resuming", resuming)
                pane = _open_window(tmux, project, member.window, agent_command(settings, member, project, resume_id),
                                    folder)
                tmux.keep_on_exit(pane.pane_id)
                opened.append(member.window)
                started.add(member.role)
                if resume_id:
                    resumed[member.role] = resume_id
                progress(f"{project.name}: started {member.role} in {project.target(member)}"
                         + (f", resuming session {resume_id}" if resume_id else ""))
            if member_kind(settings, member) == "none":
                reports.append(AgentReport(project.name, member.role, project.target(member), member.role in started,
                                           False, NOT_AN_AGENT, agent=False))
                continue
            entry = briefed.get(member.role)
            try:
                pid = tmux.pane_pid(pane.pane_id)
            except TargetNotFound:
                pid = -1
            same = isinstance(entry, dict) and entry.get("pane") == pane.pane_id and entry.get("pid") == pid
            typing = same and isinstance(entry, dict) and entry.get("state") == "delivering"
            if typing and isinstance(entry, dict) and note_arrived(tmux, settings, pane.pane_id, entry):
                # A run killed while typing the resume note, after it was submitted: typing it again would double it.
                write_briefed(tmux, settings, project, member, pane.pane_id, str(entry.get("session") or ""))
                reports.append(AgentReport(project.name, member.role, project.target(member), True, True,
                                           f"resumed session {entry.get('session')}; its note was found on screen "
                                           f"after an interrupted run"))
            elif same and not typing:
                reports.append(AgentReport(project.name, member.role, project.target(member), False, False,
                                           f"already briefed at {isinstance(entry, dict) and entry.get('at')}"))
            else:
                if typing and isinstance(entry, dict):  # the note may sit unsent in the input box: submit that one
                    unsent[member.role] = str(entry.get("text") or "")
                    resumed[member.role] = str(entry.get("session"))
                    started.add(member.role)
                fresh[member.role] = pane.pane_id
                left = resuming.get(member.role)
                if resume and member.role not in resumed and isinstance(left, dict) and left.get("session"):
                    resumed[member.role] = str(left.get("session"))
                    started.add(member.role)  # by the run that was killed: this one finishes it
        shell = os.environ.get("SHELL") or "/bin/sh"
        extra = []
        if project.shell_window:
            extra.append((project.shell_window, shell))
        if project.dev_server:
            # The shell after the server keeps the window (and the server's last output) when it stops.
            extra.append((project.dev_server.window, f"{project.dev_server.command}; exec {shlex.quote(shell)}"))
        windows = session_windows(tmux, project.session)
        for window, command in extra:
            if window not in windows:
                _open_window(tmux, project, window, command)
                opened.append(window)

        # A pane holding the unsent note of an interrupted run reads as typing, never idle: not waited for.
        states = wait_ready(tmux, settings, [p for r, p in fresh.items() if r not in unsent], ready_timeout,
                            started_at=started_at)
        for role, pane_id in fresh.items():
            found = project.member(role)
            assert found is not None
            member = found
            target = project.target(member)
            state = states.get(pane_id, "unknown")
            if state != "idle" and role not in unsent:
                why = {"waiting": "a dialog is showing (answer it in the window, then run deploy again)",
                       "dead": "the agent exited at once (check its command in the window, then run restart)",
                       "gone": "the window closed"}.get(state, f"not ready after {ready_timeout:g}s (state {state}); "
                                                         "run deploy again once it is idle")
                if state in ("shell", "unknown") and member_kind(settings, member) is None:
                    why += KIND_HINT
                reports.append(AgentReport(project.name, role, target, role in started, False, why))
                continue
            if role in resumed:
                # Recorded before it is typed, with a token: a run after this one, if this one is
                # killed while typing, finds the note on the agent's screen, or unsent in its input
                # box, rather than type it twice (as check-ins and kept messages do).
                text = unsent.get(role) or fit_to_size(
                    resume_note(settings, project, member, "nothing was snapshotted")
                    + f" (restart note r-{secrets.token_hex(4)})", settings)
                record = _briefed_record(settings, project)
                record[role] = {"pane": pane_id, "pid": tmux.pane_pid(pane_id), "at": timestamp(),
                                "state": "delivering", "token": text.rsplit("(", 1)[-1].rstrip(")"),
                                "text": text, "session": resumed[role]}
                write_record(settings, project.name, "briefed", record)
                result = brief_agent(tmux, settings, project, member, pane_id, text, "resume",
                                     typed_before=role in unsent, session=resumed[role])
                detail = f"resumed session {resumed[role]}; {result.reason}"
            else:
                result = brief_agent(tmux, settings, project, member, pane_id, briefing(settings, project, member), "brief")
                detail = result.reason
            if result.submitted and resuming.pop(role, None) is not None:
                write_record(settings, project.name, "resuming", resuming)
            progress(f"{project.name}: briefed {role}: {detail}" if result.submitted
                     else f"{project.name}: briefing {role} failed: {result.reason}")
            reports.append(AgentReport(project.name, role, target, role in started, result.submitted, detail))
    problems: list[str] = []
    cron: list[str] = []
    try:
        cron = install_schedules(settings, project, config_file)
    except Exception as exc:  # noqa: BLE001 - reported, deploy of the other projects goes on
        problems.append(f"crontab lines not installed: {exc}")
    log_event(log_file(settings), "deploy", project=project.name, opened=",".join(opened) or "-",
              briefed=",".join(a.role for a in reports if a.briefed) or "-", problems="; ".join(problems) or None)
    return DeployReport(project.name, tuple(reports), tuple(opened), tuple(cron), tuple(problems))


# --- restart, stop, broadcast ---------------------------------------------------------------------


@dataclass(frozen=True)
class RestartReport:
    target: str
    briefed: bool
    detail: str
    agent: bool = True      # False: a window that runs no agent, restarted as written
    resumed: bool = False   # its conversation continued (not: a fresh start with the briefing)

    @property
    def ok(self) -> bool:
        return self.briefed or not self.agent


def resume_note(settings: Settings, project: Project, member: Member, backup_note: str) -> str:
    """What a resumed agent is told: it keeps its conversation, so no briefing, just the facts."""
    folder = workdir(project, member)
    facts = gitops.repo_facts(folder)
    where = f", in your worktree {folder}" if uses_worktree(project, member) else ""
    return clean_text(
        f"You were restarted and your conversation was resumed: you are still the {member.role} of the "
        f"project \"{project.name}\" in tmux window {project.target(member)}{where}. Continue where you left off. "
        f"Where the work stands: branch {facts.branch or '(detached)'}, {facts.uncommitted} uncommitted file(s); "
        f"{backup_note}.")


def restart_agent(settings: Settings, tmux: Tmux, project: Project, member: Member,
                  ready_timeout: float, resume: bool = False) -> RestartReport:
    """Snapshot uncommitted work, stop the agent, start it again in its window, brief it anew.

    With ``resume`` the agent continues its last conversation (the session id its hooks
    reported; docs/agent-record.md, "Resume") and gets a short note instead of the briefing;
    without a known session nothing is done and the report says so.
    """
    target = project.target(member)
    resume_id, why_not = session_to_resume(settings, project, member, _agent_gone(tmux, settings, project, member)) \
        if resume else (None, "")
    if resume and resume_id is None and why_not != RESUME_LOOP:
        return RestartReport(target, False, "no conversation to resume: the agent's hooks never reported a "
                                            "session id; run restart without --resume for a fresh start")
    try:
        folder = _member_folder(settings, project, member)
    except WorktreeRefused as exc:
        return RestartReport(target, False, f"not restarted: {exc}")
    backup = run_backup(settings, project, why=f"restart {member.role}", member=member)
    backup_note = (f"a snapshot of the uncommitted work is in {backup.ref} (commit {backup.committed[:12]})"
                   if backup.committed else f"backup: {backup.reason}")
    with named_lock(settings.state_dir, f"team-{project.name}", 120):
        pane = session_windows(tmux, project.session).get(member.window)
        last_screen: list[str] = []
        command = agent_command(settings, member, project, resume_id)
        started_at = time.time()
        if pane is None:
            pane = _open_window(tmux, project, member.window, command, folder)
        else:
            try:
                last_screen = [line for line in tmux.capture(pane.pane_id) if line.strip()][-SCREEN_LINES_ON_RESTART:]
            except TmuxError:
                last_screen = []
            tmux.respawn(pane.pane_id, command, str(folder))
        tmux.keep_on_exit(pane.pane_id)
        if member_kind(settings, member) == "none":
            log_event(log_file(settings), "restart", project=project.name, role=member.role, briefed=False,
                      reason="not an agent")
            return RestartReport(target, False, f"restarted; {NOT_AN_AGENT}; {backup_note}", agent=False)
        state = wait_ready(tmux, settings, [pane.pane_id], ready_timeout, started_at=started_at).get(
            pane.pane_id, "unknown")
        if state != "idle":
            detail = f"restarted, but the agent is not ready after {ready_timeout:g}s (state {state}); not briefed"
            return RestartReport(target, False, f"{detail}; {backup_note}")
        if resume_id:
            text = resume_note(settings, project, member, backup_note)
        else:
            text = restart_briefing(settings, project, member, last_screen, backup_note)
        result = brief_agent(tmux, settings, project, member, pane.pane_id, text,
                        "restart-resume" if resume_id else "restart-brief")
    log_event(log_file(settings), "restart", project=project.name, role=member.role,
              briefed=result.submitted, resumed=resume_id, reason=result.reason)
    loop = (f"; its conversation ended right after each of its last {settings.resume_tries} resumes, so it was "
            "started fresh and a person told (resume-loop)") if resume and not resume_id else ""
    return RestartReport(target, result.submitted, f"{result.reason}; {backup_note}{loop}", resumed=bool(resume_id))


def stop_project(settings: Settings, tmux: Tmux, project: Project, kill: bool) -> list[str]:
    """Remove the project's crontab lines; with ``kill``, snapshot the work and end its session."""
    done = [f"removed {', '.join(removed)}" if (removed := remove_schedules(settings, project))
            else "no crontab lines to remove"]
    if kill:
        if project.path.is_dir():
            results = run_backups(settings, with_spawned(settings, project), why="stop")
            for where, result in results:
                done.append(f"backup ({where}): {result.reason}" if len(results) > 1 else f"backup: {result.reason}")
        if tmux.has_session(project.session):
            tmux.kill_session(project.session)
            done.append(f"killed session {project.session}")
        else:
            done.append(f"no session {project.session} to kill")
        if spawned_record(settings, project):  # the agents spawn added went with the session
            write_record(settings, project.name, "spawned", {})
    else:
        done.append(f"session {project.session} kept")
    log_event(log_file(settings), "stop", project=project.name, kill=kill)
    return done


def broadcast(settings: Settings, tmux: Tmux, projects: list[Project], message: str) -> list[tuple[str, Delivery]]:
    """Deliver ``message`` to every project manager; one result per project."""
    text = fit_to_size(clean_text(f"[orchestrator to all project managers] {message}"), settings)
    results = []
    for project in projects:
        pm = project.member(MANAGER_ROLE) or project.team[0]
        results.append((project.name, deliver(tmux, project.target(pm), text, settings, log_as="broadcast")))
    return results



# --- agents spawn added ------------------------------------------------------------------------


def spawned_record(settings: Settings, project: Project) -> dict[str, Any]:
    """Agents ``spawn`` added to ``project``: role -> {"window", "command"}."""
    return read_record(settings, project.name, "spawned") or {}


def with_spawned(settings: Settings, project: Project) -> Project:
    """``project`` with the agents ``spawn`` added to it, so status, restart and the attention
    check know them as they know the configured team."""
    from dataclasses import replace

    extra = []
    for role, entry in spawned_record(settings, project).items():
        if project.member(role) is None and isinstance(entry, dict) and isinstance(entry.get("window"), str):
            agent = entry.get("agent") if entry.get("agent") in ("claude", "codex", "gemini") else None
            extra.append(Member(role, entry["window"], str(entry.get("command") or ""), None, agent,
                                worktree=entry.get("worktree") is True and project.worktrees is not None))
    return replace(project, team=project.team + tuple(extra)) if extra else project
