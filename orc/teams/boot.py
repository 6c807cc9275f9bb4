"""``up --boot``: after a reboot the deployed teams come back by themselves (docs/workflow.md,
"After a reboot").

Cron runs it from this state folder's ``@reboot`` line (orc/teams/team_schedules.py,
``boot_line``), which is in the crontab while any team is deployed. In order:

1. wait, up to ``ORC_BOOT_WAIT`` seconds, until tmux can start a server and the deployed
   projects' folders are there;
2. bring every deployed team back with ``deploy --resume``, the agents ``spawn`` added to it
   included (a project is deployed while its backup line is in the crontab: ``stop`` removes
   it, so a team a person stopped stays stopped), and the orchestrator with ``up`` if it was
   seated (``<state>/orchestrator.json``);
3. then deliver the missed check-ins (once, marked LATE) and the kept messages: the sweep;
4. then tell a person one summary: what came back, what did not, and why.

The whole sequence holds the boot lock (orc/core/locks.py, ``BOOT_LOCK``): a check-in's own
line, the minute sweep and the drainers that run meanwhile leave the delivering to it, and a
second ``up --boot`` waits, then finds everything back and has nothing to tell. What a run
has done is kept in ``<state>/boot.json`` as it goes, so a run killed half way is finished by
the next one, and the summary is told once (its attention key carries the record's id).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from orc.core.locks import BOOT_LOCK, named_lock
from orc.core.settings import Settings
from orc.core.state import log_event, timestamp, write_private_text
from orc.core.tmux import BadTarget, TargetNotFound, Tmux, TmuxError
from orc.teams.project_config import ConfigError, Project, load_config, member_kind
from orc.teams.status import read_record
from orc.teams.team import AgentReport, deploy_project, log_file, session_windows, wait_ready, with_spawned
from orc.teams.team_schedules import backup_job_id, deployed_backup_ids

POLL = 1.0
SUBJECT = "boot"
# A second run waits for the first: at most its wait, its deploys and its sweep.
LOCK_EXTRA = 1800.0


def record_path(settings: Settings) -> Path:
    return settings.state_dir / "boot.json"


@dataclass
class BootRecord:
    """What this boot has done so far (``<state>/boot.json``): entries by ``project/role``."""

    id: str
    since: float   # when this boot's first run began (time.time())
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    told: bool = False

    def put(self, key: str, line: str, *, ok: bool, news: bool) -> None:
        before = self.entries.get(key)
        # A run after one that was killed finds the agent already running: the earlier run's
        # line (it resumed it) is what happened.
        if before is not None and before.get("news") and not news:
            return
        self.entries[key] = {"line": line, "ok": ok, "news": news}

    @property
    def news(self) -> bool:
        return any(e.get("news") for e in self.entries.values())

    def lines(self, ok: bool) -> list[str]:
        return [str(e["line"]) for e in self.entries.values() if bool(e.get("ok")) == ok and e.get("news")]


def read_boot_record(settings: Settings) -> BootRecord | None:
    try:
        data = json.loads(record_path(settings).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        return None
    entries = data.get("entries") if isinstance(data.get("entries"), dict) else {}
    since = data.get("since")
    return BootRecord(data["id"], float(since) if isinstance(since, (int, float)) else 0.0, dict(entries or {}),
                      bool(data.get("told")))


def save_record(settings: Settings, record: BootRecord) -> None:
    write_private_text(record_path(settings), json.dumps(
        {"id": record.id, "since": record.since, "entries": record.entries, "told": record.told}, indent=1) + "\n")


@dataclass(frozen=True)
class BootReport:
    back: tuple[str, ...]
    not_back: tuple[str, ...]
    summary: str
    told: bool

    @property
    def ok(self) -> bool:
        return not self.not_back


# --- 1. wait until the machine is usable -----------------------------------------------------


def unusable(tmux: Tmux, projects: list[Project]) -> list[str]:
    """What is not usable yet: tmux (it must be able to start a server) and each project's folder."""
    problems = []
    try:
        tmux.run("start-server")  # exits again at once with no session; proves binary and socket folder
    except TmuxError as exc:
        problems.append(f"tmux cannot start a server ({' '.join(str(exc).split())[:200]})")
    for project in projects:
        if not project.path.is_dir():
            problems.append(f"{project.name}: its folder {project.path} is not there")
    return problems


def wait_usable(tmux: Tmux, projects: list[Project], bound: float) -> list[str]:
    """Poll until tmux and the folders are usable or ``bound`` seconds passed; what is still not."""
    deadline = time.monotonic() + bound
    while True:
        problems = unusable(tmux, projects)
        if not problems or time.monotonic() >= deadline:
            return problems
        time.sleep(POLL)


# --- 2. the teams ------------------------------------------------------------------------------


def agent_line(report: AgentReport, briefed: dict[str, Any], since: float) -> tuple[str, bool, bool]:
    """(line, ok, news) for one agent of a deploy --resume; ``briefed``: its entry in the
    project's briefed record, ``since``: when this boot began."""
    who = f"{report.project}/{report.role}"
    if not report.ok:
        return f"{who} did not come back: {report.detail}", False, True
    if not report.started:
        at = briefed.get("at")
        try:
            when = datetime.fromisoformat(at).timestamp() if isinstance(at, str) else 0.0
        except ValueError:
            when = 0.0
        if when < since - 1:
            return f"{who} was already running", True, False
        # Brought back by a run of this boot that was killed before it wrote its part down.
        if briefed.get("session"):
            return f"{who} came back in its own conversation (session {briefed['session']})", True, True
        return f"{who} came back", True, True
    if report.detail.startswith("resumed session"):
        session = report.detail.split(";", 1)[0].removeprefix("resumed session ").strip()
        return f"{who} came back in its own conversation (session {session})", True, True
    return (f"{who} came back in a new conversation, briefed again (its hooks had reported no session to "
            f"resume)", True, True)


def bring_back_teams(settings: Settings, tmux: Tmux, projects: list[Project], config_file: Path,
                     ready_timeout: float, record: BootRecord) -> list[str]:
    """deploy --resume each project, the agents ``spawn`` added to it included (they were part of
    the team when the machine went down); return the pane ids of the agents that are back."""
    panes: list[str] = []
    for project in projects:
        project = with_spawned(settings, project)
        try:
            report = deploy_project(settings, tmux, project, ready_timeout, config_file=config_file, resume=True)
        except Exception as exc:  # noqa: BLE001 - told in the summary; the other teams still come back
            record.put(project.name, f"{project.name} did not come back: {type(exc).__name__}: {exc}",
                       ok=False, news=True)
            save_record(settings, record)
            continue
        briefed = read_record(settings, project.name, "briefed") or {}
        for agent in report.agents:
            if not agent.agent:
                continue
            entry = briefed.get(agent.role)
            line, ok, news = agent_line(agent, entry if isinstance(entry, dict) else {}, record.since)
            record.put(f"{project.name}/{agent.role}", line, ok=ok, news=news)
        for problem in report.problems:
            record.put(f"{project.name}/problem", f"{project.name}: {problem}", ok=False, news=True)
        save_record(settings, record)
        windows = session_windows(tmux, project.session)
        panes += [windows[m.window].pane_id for m in project.team
                  if m.window in windows and member_kind(settings, m) != "none"]
    return panes


def seated_since(settings: Settings, since: float) -> bool:
    """Whether the orchestrator was briefed (or given its resume note) since ``since``."""
    from orc.teams.orchestrator import orchestrator_record

    at = orchestrator_record(settings).get("at")
    try:
        return isinstance(at, str) and datetime.fromisoformat(at).timestamp() >= since - 1
    except ValueError:
        return False


def bring_back_orchestrator(settings: Settings, tmux: Tmux, projects: list[Project], config_file: Path,
                            ready_timeout: float, record: BootRecord) -> list[str]:
    from orc.teams.orchestrator import seat_orchestrator, seated_with, was_seated
    from orc.teams.spawn import SpawnError

    if not was_seated(settings):
        return []
    command, agent = seated_with(settings)
    try:
        up = seat_orchestrator(settings, tmux, projects, config_file, ready_timeout, command, agent, resume=True)
    except SpawnError as exc:
        record.put("orchestrator", f"the orchestrator did not come back: {exc}", ok=False, news=True)
        save_record(settings, record)
        return []
    if not (up.briefed or up.detail.startswith("already running and briefed")):
        record.put("orchestrator", f"the orchestrator at {up.target} did not come back: {up.detail}", ok=False,
                   news=True)
    elif not up.started and not seated_since(settings, record.since):
        record.put("orchestrator", f"the orchestrator at {up.target} was already running", ok=True, news=False)
    elif not up.started:  # seated by a run of this boot that was killed before it wrote its part down
        record.put("orchestrator", f"the orchestrator at {up.target} came back", ok=True, news=True)
    elif up.detail.startswith("resumed session"):
        session = up.detail.split(";", 1)[0].removeprefix("resumed session ").strip()
        record.put("orchestrator", f"the orchestrator at {up.target} came back in its own conversation "
                                   f"(session {session})", ok=True, news=True)
    else:
        record.put("orchestrator", f"the orchestrator at {up.target} came back in a new conversation, briefed "
                                   f"again", ok=True, news=True)
    save_record(settings, record)
    try:
        return [tmux.resolve(up.target).pane_id]
    except (BadTarget, TargetNotFound, TmuxError):
        return []


# --- 3. what was missed ------------------------------------------------------------------------


def delivered_since(log: Path, since: float) -> dict[str, str]:
    """``id -> target`` of each ``delivered`` line of a check-in or mailbox log at or after
    ``since``. The logs' times are to the second, so one in the second the boot began is left
    out: nothing is delivered in a boot's first second (the teams come back first), and the
    boot after a told one must not take the last one's deliveries for news."""
    from datetime import datetime

    from orc.teams.attention import _fields

    found: dict[str, str] = {}
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return found
    for line in lines:
        if " delivered " not in line:
            continue
        try:
            at = datetime.fromisoformat(line.split(" ", 1)[0]).timestamp()
        except ValueError:
            continue
        fields = _fields(line)
        if at >= since and fields.get("_event") == "delivered" and fields.get("id"):
            found[fields["id"]] = fields.get("target", "?")
    return found


def deliver_missed(settings: Settings, record: BootRecord) -> None:
    """The sweep, once the teams are back: overdue check-ins once (LATE), kept messages."""
    from orc.messages.mailbox import kept_messages, log_path as mailbox_log
    from orc.scheduling.checkins import events_log, pending_checkins
    from orc.scheduling.fire import sweep

    targets = {c.id: c.target for c in pending_checkins(settings)}
    kept_before = {k.id: k.target for k in kept_messages(settings)}
    outcomes = sweep(settings, after_boot=True)
    # What an earlier run of this boot delivered before it was killed is in the logs, not in
    # this run's outcomes (it was no longer pending when this run began).
    for checkin_id, target in delivered_since(events_log(settings), record.since).items():
        record.put(checkin_id, f"check-in {checkin_id} delivered to {target}", ok=True, news=True)
    for message_id, target in delivered_since(mailbox_log(settings), record.since).items():
        record.put(message_id, f"kept message {message_id} delivered to {target}", ok=True, news=True)
    for checkin_id, outcome in outcomes.items():
        if checkin_id not in targets or outcome not in ("delivered", "deferred", "failed"):
            continue
        if outcome == "delivered":
            record.put(checkin_id, f"check-in {checkin_id} delivered to {targets[checkin_id]}", ok=True, news=True)
        else:
            record.put(checkin_id, f"check-in {checkin_id} for {targets[checkin_id]} not delivered yet ({outcome}; "
                                   f"the minute sweep retries it)", ok=False, news=True)
    still = {k.id for k in kept_messages(settings)}
    for message_id, target in kept_before.items():
        if message_id in still:
            record.put(message_id, f"kept message {message_id} for {target} still waits (the minute sweep and the "
                                   f"agent's hooks deliver it when it can take it)", ok=False, news=True)
        else:
            record.put(message_id, f"kept message {message_id} delivered to {target}", ok=True, news=True)
    save_record(settings, record)


# --- 4. the summary ------------------------------------------------------------------------------


def summary_text(record: BootRecord) -> str:
    back, not_back = record.lines(True), record.lines(False)
    parts = [f"after a reboot, {len(back)} came back or were delivered, {len(not_back)} did not."]
    if back:
        parts.append("Back: " + "; ".join(back) + ".")
    if not_back:
        parts.append("NOT back: " + "; ".join(not_back) + ".")
    return " ".join(parts)


def _told_before(settings: Settings, reason: str) -> bool:
    """Whether the attention log has the ``told`` line of this summary: raise_attention writes
    it once the orchestrator's pane and the notify command have had their turn."""
    from orc.teams.attention import log_path

    try:
        lines = log_path(settings).read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return False
    return any(" told " in f" {line} " and f"subject={SUBJECT} " in f"{line} " and f"reason={reason} " in f"{line} "
               for line in lines)


def tell(settings: Settings, record: BootRecord) -> bool:
    """Tell a person the summary once (the attention path); True when told now."""
    from orc.teams.attention import clear_attention, open_items, raise_attention

    if record.told or not record.news:
        return False
    # The reason carries the record's id: a run that was killed after telling and runs again
    # finds the ``told`` line and does not tell twice. One killed after raising but before
    # telling (the open item is there, the told line is not) raises it again, so it is told.
    reason = f"boot-{record.id}"
    told = False
    if not _told_before(settings, reason):
        if (SUBJECT, reason) in open_items(settings):
            clear_attention(settings, SUBJECT, reason)
        told = raise_attention(settings, SUBJECT, reason, summary_text(record))
    record.told = True
    save_record(settings, record)
    return told


# --- the whole sequence ----------------------------------------------------------------------------


def run_boot(settings: Settings, tmux: Tmux, config_file: Path, ready_timeout: float = 120.0) -> BootReport:
    """Bring back what was deployed, deliver what was missed, tell a person; see the module's doc."""
    with named_lock(settings.state_dir, BOOT_LOCK, settings.boot_wait_seconds + LOCK_EXTRA):
        record = read_boot_record(settings)
        if record is None or record.told:
            record = BootRecord(time.strftime("%Y%m%dT%H%M%S"), time.time())
            save_record(settings, record)  # at once: a run after this one, if it is killed, keeps its start
        log_event(log_file(settings), "boot", id=record.id, at=timestamp())
        ours = deployed_backup_ids(settings)
        try:
            known = list(load_config(config_file).projects)
        except ConfigError as exc:
            known = []
            if ours:
                record.put("config", f"the teams did not come back: {config_file} cannot be read "
                                     f"({'; '.join(str(p) for p in exc.problems)[:300]})", ok=False, news=True)
        projects = [p for p in known if backup_job_id(p) in ours]
        for job_id in sorted(ours - {backup_job_id(p) for p in known}):
            if known:
                record.put(job_id, f"{job_id.removeprefix('bk-')} has a backup line but is not in {config_file}; "
                                   f"not brought back", ok=False, news=True)
        problems = wait_usable(tmux, projects, settings.boot_wait_seconds)
        tmux_ok = not any(p.startswith("tmux") for p in problems)
        for problem in problems:
            record.put(f"wait/{problem[:40]}", f"after waiting {settings.boot_wait_seconds:g}s: {problem}",
                       ok=False, news=True)
        if tmux_ok:
            ready = [p for p in projects if p.path.is_dir()]
            panes = bring_back_teams(settings, tmux, ready, config_file, ready_timeout, record)
            panes += bring_back_orchestrator(settings, tmux, known, config_file, ready_timeout, record)
            # Each resumed agent is answering its resume note: let it finish, so the check-ins
            # and messages that follow are typed into an idle agent, not queued behind a turn.
            # A pane with text in its input box (typing) or a dialog (waiting) will not get there
            # by itself: the sweep deals with those (an interrupted run's check-in is submitted).
            wait_ready(tmux, settings, panes, ready_timeout, also=("typing", "waiting"))
            deliver_missed(settings, record)
        save_record(settings, record)
        told = tell(settings, record)
        log_event(log_file(settings), "booted", id=record.id, told=told,
                  back=len(record.lines(True)), not_back=len(record.lines(False)))
        return BootReport(tuple(record.lines(True)), tuple(record.lines(False)), summary_text(record), told)
