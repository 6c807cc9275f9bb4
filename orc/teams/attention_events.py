"""``orc attention-event``: attention raised at once from an agent's own hook events.

``orc hook`` (orc/record/hook.py) starts this in the background, detached, for the events that
may need a person (docs/attention.md, "At once, from the agent's events"):

* ``exited`` (``SessionEnd``): after a short grace, and after any ``restart`` of the
  project has finished (it holds the project's team lock while it respawns the agent), the
  agent's state is read the way the per-minute check reads it; only ``exited`` is raised.
  An agent the suite restarted runs again, one whose session ``stop --kill`` ended is
  ``missing``: neither is an alarm.
* ``failed`` (``StopFailure``): a usage limit is raised as ``usage-limit``; any other API
  error as ``turn-failed``, and the turn is recovered: the check-in it answered gets a
  ``turn-failed`` line in ``checkins.log`` and, ``ORC_TURN_RETRY_SECONDS`` later, the agent
  gets one nudge if it is still idle with that failure as its latest event.
* ``dialog`` (``PermissionRequest``, ``Notification`` of a dialog): after
  ``ORC_ATTENTION_SECONDS``, raised only if the agent's latest report and its pane still
  show the dialog.

Subjects, reasons and texts are the per-minute check's (orc/teams/attention.py), so an item one
of them raised is never told again by the other. Settings come the way the per-minute
check gets them: the agent's environment (the suite's, for agents deploy/spawn/up start)
and the suite's ``.env``, overlaid with the environment on the suite's own crontab line
for the check (the orchestrator's target, the notify command, the tmux server).

Nothing is printed (stdout and stderr are /dev/null): what is raised goes to the attention
log as usual, and every run leaves one line (its outcome, or the error) in
``<state>/hooks/attention-events.log``.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orc.core.cli import EXIT_FAILED, EXIT_OK, Parser
from orc.record.hook_events import HookReport, events, hooks_dir, parse_report
from orc.teams.project_config import Project
from orc.core.settings import Settings, load_settings
from orc.core.state import log_event

PROG = "orc attention-event"
CASES = ("exited", "failed", "dialog")
#: After SessionEnd, the pane gets this long to show what followed (a respawn, a shell).
EXIT_GRACE_SECONDS = 1.0
#: How much of the end of checkins.log is searched for the delivered check-in.
CHECKINS_TAIL_BYTES = 256 * 1024
_LABEL = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}")


@dataclass(frozen=True)
class Seat:
    """Where an agent sits: the per-minute check's subject and target for it."""

    subject: str           # "<project>/<role>"
    target: str            # "<session>:<window>" (or the pane id for an agent outside the config)
    project: Project | None  # None outside the projects file


def event_settings(state_dir: str, socket: str, environ: Mapping[str, str] | None = None) -> Settings:
    """The settings the per-minute check runs with, for the suite whose state is ``state_dir``."""
    from orc.teams.attention import check_job_id
    from orc.scheduling.crontab_store import CrontabError, CrontabStore, parse_command

    env = dict(os.environ if environ is None else environ)
    env["ORC_STATE_DIR"] = state_dir
    if socket and not env.get("ORC_TMUX_SOCKET"):
        env["ORC_TMUX_SOCKET"] = socket  # the agent's own server, from its TMUX
    base = load_settings(env)
    try:
        jobs = {job.job_id: job for job in CrontabStore.from_settings(base).jobs()}
    except (CrontabError, OSError):
        return base
    job = jobs.get(check_job_id(base))
    parsed = parse_command(job) if job is not None else None
    if parsed is None:
        return base
    env.update({name: value for name, value in parsed.env.items() if name.startswith("ORC_")})
    env["ORC_STATE_DIR"] = state_dir
    return load_settings(env)


def find_seat(settings: Settings, label: str, pane: str) -> Seat:
    """The agent labelled ``<project>.<role>`` in the projects file (spawned ones included)."""
    from orc.teams.project_config import ConfigError, load_config
    from orc.teams.team import with_spawned  # late: only a seat lookup needs the team module

    try:
        projects = list(load_config(settings.project_config).projects)
    except (ConfigError, OSError):
        projects = []
    for project in projects:
        project = with_spawned(settings, project)
        for member in project.team:
            if f"{project.name}.{member.role}" == label:
                return Seat(f"{project.name}/{member.role}", project.target(member), project)
    project_name, _, role = label.partition(".")
    return Seat(f"{project_name}/{role}" if role else label, pane, None)


def latest_report(settings: Settings, label: str) -> HookReport | None:
    """The agent's latest event, as ``orc hook`` recorded it under its label."""
    try:
        text = (hooks_dir(settings.state_dir) / "agents" / f"{label}.txt").read_text(encoding="utf-8")
    except OSError:
        return None
    return parse_report(text)


def _sleep_until(moment: float) -> None:
    left = moment - time.time()
    if left > 0:
        time.sleep(left)  # deliberate: the background process exists to wait this long


def pane_state(settings: Settings, pane: str) -> str:
    """The pane's combined state (screen, registry, hooks), as delivery reads it."""
    from orc.record.snapshot import read_pane_state
    from orc.core.tmux import BadTarget, TargetNotFound, Tmux, TmuxError

    try:
        return read_pane_state(Tmux(settings.tmux_socket, settings.tmux_bin), settings, pane).state
    except (BadTarget, TargetNotFound):
        return "missing"
    except (TmuxError, OSError, ValueError):
        return "unknown"


# --- the three cases --------------------------------------------------------------------------


def on_dialog(settings: Settings, label: str, pane: str, at: float) -> str:
    from orc.teams.attention import AGENT_REASONS, raise_attention

    _sleep_until(at + settings.attention_seconds)
    report = latest_report(settings, label)
    if report is None or report.state != "waiting" or report.pane_id != pane:
        return "answered"
    if pane_state(settings, pane) != "waiting":
        return "answered"  # a declined dialog fires no event: the screen says it is gone
    seat = find_seat(settings, label, pane)
    if seat.project is None:
        return "not a configured agent"
    reason, meaning = AGENT_REASONS["waiting"]
    raised = raise_attention(settings, seat.subject, reason, f"{seat.target}: {meaning}")
    return "raised" if raised else "already raised"


def on_exited(settings: Settings, label: str, pane: str, at: float) -> str:
    from filelock import Timeout

    from orc.teams.attention import AGENT_REASONS, raise_attention
    from orc.core.locks import named_lock
    from orc.teams.status import collect
    from orc.core.tmux import Tmux

    seat = find_seat(settings, label, pane)
    if seat.project is None:
        return "not a configured agent"  # the per-minute check does not know it either
    _sleep_until(at + EXIT_GRACE_SECONDS)
    project = seat.project
    name = project.name
    role = seat.subject.split("/", 1)[1]
    try:
        # restart holds this lock from before it kills the agent until the new one is
        # briefed: once we hold it, a restart's new agent is in the pane.
        with named_lock(settings.state_dir, f"team-{name}", 180):
            statuses = collect(settings, Tmux(settings.tmux_socket, settings.tmux_bin), [project])
    except Timeout:
        statuses = collect(settings, Tmux(settings.tmux_socket, settings.tmux_bin), [project])
    state = next((a.state for s in statuses for a in s.agents if a.role == role), "missing")
    if state != "exited":
        return f"not exited (state {state})"
    reason, meaning = AGENT_REASONS["exited"]
    raised = raise_attention(settings, seat.subject, reason, f"{seat.target}: {meaning}")
    return "raised" if raised else "already raised"


def on_failed(settings: Settings, label: str, pane: str, at: float) -> str:
    from orc.teams.attention import AGENT_REASONS, TURN_FAILED, failure_reason, raise_attention, turn_failed_text

    report = latest_report(settings, label)
    if report is None or report.event != "StopFailure" or abs(report.at - at) > 0.001:
        return "moved on"  # a later event replaced the failure: the agent carries on
    reason = failure_reason(report.event, report.detail, report.message, time.time())
    if reason is None:
        return "no failure"
    seat = find_seat(settings, label, pane)
    if seat.project is None:
        # The orchestrator, or an agent spawned outside any project: the per-minute check
        # does not watch it, so nothing would ever clear an item raised for it (and it would
        # never be told again). Its failed turn is still recovered below.
        outcome = "not a configured agent"
    else:
        if reason == TURN_FAILED:
            text = turn_failed_text(seat.target, report.detail)
        else:
            text = f"{seat.target}: {AGENT_REASONS['limited'][1]}"
        outcome = "raised" if raise_attention(settings, seat.subject, reason, text) else "already raised"
    if reason == TURN_FAILED:
        outcome += "; " + recover_turn(settings, label, seat, report)
    return outcome


# --- a failed turn: which check-in, and one nudge --------------------------------------------


def failed_prompt_key(settings: Settings, report: HookReport) -> str | None:
    """The ``prompt_key`` of the prompt whose turn ended in ``report``'s failure: the pane's last
    ``UserPromptSubmit`` before it, unless a turn ended in between (then the failed turn began
    without a prompt of its own, and no check-in or message is to blame)."""
    found: str | None = None
    for fields in events(settings.state_dir, report.socket or None, containing=f" pane={report.pane_id} "):
        try:
            moment = float(fields.get("at", ""))
        except ValueError:
            continue
        if fields.get("pane") != report.pane_id or moment >= report.at:
            continue
        if fields.get("event") == "UserPromptSubmit":
            found = fields.get("prompt_key") or None
        elif fields.get("event") in ("Stop", "StopFailure", "SessionStart", "SessionEnd"):
            found = None
    return found


def checkin_for_prompt(settings: Settings, key: str) -> str | None:
    """The check-in whose delivered message had ``key`` (``delivered ... prompt=<key>``)."""
    from orc.teams.attention import _fields, _tail_lines
    from orc.scheduling.checkins import events_log

    found: str | None = None
    for line in _tail_lines(events_log(settings), CHECKINS_TAIL_BYTES):
        if f"prompt={key}" not in line:
            continue
        fields = _fields(line)
        if fields.get("_event") == "delivered" and fields.get("prompt") == key:
            found = fields.get("id")
    return found


def checkin_note(settings: Settings, checkin_id: str) -> str:
    from orc.scheduling.checkins import BadCheckIn, done_dir, parse_record, read_checkin

    checkin = read_checkin(settings, checkin_id)
    if checkin is None:
        try:
            checkin = parse_record((done_dir(settings) / f"{checkin_id}.txt").read_text(encoding="utf-8"))
        except (OSError, BadCheckIn):
            return ""
    return checkin.note


def nudge_text(detail: str | None, note: str) -> str:
    text = f"Your last turn ended with an API error ({detail or 'unknown error'}); carry on where you left off"
    return f"{text}: {note.strip()}" if note.strip() else f"{text}."


def _retry_record(settings: Settings, label: str) -> Path:
    """``<state>/turn-retries/<label>.txt``: the failure last claimed, and the key of the
    nudge sent for it."""
    return settings.state_dir / "turn-retries" / f"{label}.txt"


def _claim_failure(settings: Settings, label: str, at: float) -> tuple[bool, str]:
    """(True the first time this failure is claimed for its nudge, the previous nudge's key)."""
    from orc.core.locks import named_lock
    from orc.core.state import write_private_text

    record = _retry_record(settings, label)
    stamp = f"{at:.6f}"
    with named_lock(settings.state_dir, f"turn-retry-{label}", 30):
        try:
            previous = record.read_text(encoding="utf-8").split("\n")
        except OSError:
            previous = []
        if previous[:1] == [stamp]:
            return False, ""
        write_private_text(record, stamp + "\n")
    return True, previous[1] if len(previous) > 1 else ""


def _remember_nudge(settings: Settings, label: str, at: float, key: str) -> None:
    from orc.core.state import write_private_text

    write_private_text(_retry_record(settings, label), f"{at:.6f}\n{key}\n")


def recover_turn(settings: Settings, label: str, seat: Seat, report: HookReport) -> str:
    """Log the failed check-in, wait ``ORC_TURN_RETRY_SECONDS``, then nudge the agent once
    if it is still idle with this failure as its latest event; a short outcome for the log.

    The nudge waits in a file, not only in this process: ``turn-retries/<label>.pending``,
    written before the wait, under a lock held for the wait. If this process dies (a kill, a
    reboot), :func:`finish_pending_nudges` (the per-minute check) finds the file with its
    lock free and does the rest, once."""
    from orc.teams.attention import log_path
    from orc.scheduling.checkins import log as checkin_log

    claimed, previous_nudge = _claim_failure(settings, label, report.at)
    if not claimed:
        return "nudge already claimed"
    key = failed_prompt_key(settings, report)
    checkin_id = checkin_for_prompt(settings, key) if key else None
    note = ""
    if checkin_id:
        checkin_log(settings, "turn-failed", checkin_id, target=seat.target, pane=report.pane_id,
                    error=report.detail or "unknown")
        note = checkin_note(settings, checkin_id)
    if key and key == previous_nudge:
        # The turn that failed was our own nudge: one per failure, never a loop while the
        # API stays down (the person was told; the per-minute check keeps the item open).
        outcome = "no nudge: the failed turn was the nudge for the previous failure"
        log_event(log_path(settings), "turn-retry", subject=seat.subject, checkin=checkin_id, result=outcome)
        return outcome
    pending = PendingNudge(label, report.at, report.at + settings.turn_retry_seconds, seat.subject, seat.target,
                           report.pane_id, checkin_id or "", report.detail or "", note)
    with _nudge_lock(settings, label, 30):
        _write_pending(settings, pending)
        _sleep_until(pending.due)
        return _nudge_once(settings, pending)


@dataclass(frozen=True)
class PendingNudge:
    """One turn-failed nudge waiting for its time, as ``turn-retries/<label>.pending`` holds it."""

    label: str
    at: float        # the failure (its StopFailure event)
    due: float
    subject: str
    target: str
    pane: str
    checkin: str     # "" when the failed turn was not a check-in's
    detail: str
    note: str


def _pending_path(settings: Settings, label: str) -> Path:
    return settings.state_dir / "turn-retries" / f"{label}.pending"


def _nudge_lock(settings: Settings, label: str, timeout: float) -> Any:
    from orc.core.locks import named_lock

    return named_lock(settings.state_dir, f"turn-retry-run-{label}", timeout)


def _write_pending(settings: Settings, pending: PendingNudge) -> None:
    from orc.core.state import write_private_text

    head = {"label": pending.label, "at": f"{pending.at:.6f}", "due": f"{pending.due:.6f}", "subject": pending.subject,
            "target": pending.target, "pane": pending.pane, "checkin": pending.checkin or "-",
            "detail": " ".join(pending.detail.split()) or "-"}
    write_private_text(_pending_path(settings, pending.label),
                       "".join(f"{k}: {v}\n" for k, v in head.items()) + "\n" + pending.note + "\n")


def _read_pending(path: Path) -> PendingNudge | None:
    try:
        head, _, note = path.read_text(encoding="utf-8").partition("\n\n")
        fields = dict(line.split(": ", 1) for line in head.split("\n") if ": " in line)
        return PendingNudge(fields["label"], float(fields["at"]), float(fields["due"]), fields["subject"],
                            fields["target"], fields["pane"], "" if fields["checkin"] == "-" else fields["checkin"],
                            "" if fields["detail"] == "-" else fields["detail"], note[:-1] if note.endswith("\n") else note)
    except (OSError, KeyError, ValueError):
        return None


def _nudge_once(settings: Settings, pending: PendingNudge, late: bool = False) -> str:
    """The nudge itself, at its time (the caller holds the nudge's lock); the file goes after."""
    from orc.teams.attention import log_path
    from orc.scheduling.checkins import log as checkin_log
    from orc.messages.delivery import clean_text, deliver, fit_to_size
    from orc.record.prompt_text import prompt_key
    from orc.core.tmux import Tmux

    latest = latest_report(settings, pending.label)
    if latest is None or abs(latest.at - pending.at) > 0.001:
        outcome = "no nudge: the agent moved on"
    elif (state := pane_state(settings, pending.pane)) != "idle":
        outcome = f"no nudge: the agent is {state}"
    else:
        text = fit_to_size(clean_text(nudge_text(pending.detail or None, pending.note)), settings)
        result = deliver(Tmux(settings.tmux_socket, settings.tmux_bin), pending.target, text, settings,
                         log_as="turn-retry")
        outcome = "nudged" if result.submitted else f"nudge not submitted: {result.reason}"
        if result.submitted:
            _remember_nudge(settings, pending.label, pending.at, prompt_key(text))
    if late:
        outcome += " (by the per-minute check: the run that waited for it had died)"
    checkin = pending.checkin or None
    log_event(log_path(settings), "turn-retry", subject=pending.subject, checkin=checkin, result=outcome)
    if checkin:
        checkin_log(settings, "turn-retry", checkin, target=pending.target, result=outcome)
    _pending_path(settings, pending.label).unlink(missing_ok=True)
    return outcome


def finish_pending_nudges(settings: Settings, now: float | None = None) -> list[str]:
    """The per-minute check's part: each nudge whose waiting run died (its file is there, its
    lock free) and whose time has come is done now, once. Returns the outcomes."""
    from filelock import Timeout

    now = time.time() if now is None else now
    outcomes = []
    for path in sorted((settings.state_dir / "turn-retries").glob("*.pending")):
        try:
            with _nudge_lock(settings, path.stem, 0):
                pending = _read_pending(path)
                if pending is None:
                    path.unlink(missing_ok=True)  # not one of ours any more: unreadable
                    continue
                if pending.due > now:
                    continue  # not yet: the next minute's check
                outcomes.append(_nudge_once(settings, pending, late=True))
        except Timeout:
            continue  # its run is alive and waiting
    return outcomes


# --- command line ------------------------------------------------------------------------------


def outcome_log(state_dir: str) -> Path:
    return hooks_dir(Path(state_dir)) / "attention-events.log"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=PROG,
        description="Raise the attention item an agent's hook event calls for (started in the background "
        "by `orc hook`; docs/attention.md). exited: the agent ended (not when the suite restarted or "
        "stopped it); failed: a turn ended with an API error (usage-limit, or turn-failed and one nudge "
        "after ORC_TURN_RETRY_SECONDS); dialog: a dialog still open after ORC_ATTENTION_SECONDS. "
        "Exit 0: handled (raised or nothing to raise); 1: an error (written to the attention log); "
        "2: bad usage.",
        epilog="examples:\n"
        "  python3 orc attention-event exited --state-dir ~/orc/state --agent shop.engineer --pane %3 "
        "--at 1764170000.5\n"
        "  python3 orc attention-event dialog --state-dir ~/orc/state --agent shop.engineer --pane %3 "
        "--at 1764170000.5 --socket /tmp/tmux-1000/default",
    )
    parser.add_argument("case", choices=CASES, help="what the event may mean")
    parser.add_argument("--state-dir", required=True, help="the suite's state folder (the hook's --state-dir)")
    parser.add_argument("--agent", required=True, help="the agent's label, <project>.<role>")
    parser.add_argument("--pane", required=True, help="the agent's tmux pane id, e.g. %%3")
    parser.add_argument("--at", required=True, type=float, help="when the event happened (epoch seconds)")
    parser.add_argument("--socket", default="", help="the agent's tmux server socket (from its TMUX)")
    parser.add_argument("--debug", action="store_true", help="raise unexpected errors instead of logging them")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not _LABEL.fullmatch(args.agent):
        build_parser().error(f"--agent {args.agent!r} is not a label (<project>.<role>)")
    if not re.fullmatch(r"%[0-9]+", args.pane):
        build_parser().error(f"--pane {args.pane!r} is not a pane id (%N)")
    state_dir = str(Path(os.path.expanduser(args.state_dir)).absolute())
    if not Path(state_dir).is_dir():
        return EXIT_OK  # the folder moved or went: nothing of ours to tell
    try:
        settings = event_settings(state_dir, args.socket)
        handler = {"exited": on_exited, "failed": on_failed, "dialog": on_dialog}[args.case]
        outcome = handler(settings, args.agent, args.pane, args.at)
    except Exception as exc:
        if args.debug:
            raise
        log_event(outcome_log(state_dir), "error", agent=args.agent, case=args.case, pane=args.pane,
                  error=f"{type(exc).__name__}: {exc}"[:300])
        return EXIT_FAILED
    log_event(outcome_log(state_dir), "done", agent=args.agent, case=args.case, pane=args.pane, result=outcome)
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
