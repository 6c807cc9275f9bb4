"""Telling a person: one path for everything that needs a human (docs/attention.md).

:func:`raise_attention` is called with a *subject* (what it is about: ``webapp/engineer``,
a check-in id, a project) and a *reason* (``dialog``, ``exited``, ``merge-conflict``...).
The first time a subject and reason are raised, three things happen:

1. a line in the plain-text attention log, ``<state>/attention.log`` (always);
2. a message to the orchestrator's pane (``ORC_DEFAULT_TARGET``) when an agent runs there,
   through :func:`orc.messages.delivery.deliver` (proven submitted, or the log says why not);
3. ``ORC_NOTIFY_COMMAND``, split into words like a shell would but run without one, with
   the text appended as one last argument (the text never reaches a shell command line).

Raising the same subject and reason again does nothing until :func:`clear_attention`
clears it: a dialog left open all night is one notification, not one a minute. The open
ones live in ``<state>/attention-open.json`` (0600, written atomically under a lock).

The per-minute check (:func:`check`, ``orchestrator_integration.py attention check``)
finds what needs a person from what is already recorded: the agents' states through
:func:`orc.teams.status.collect`, failed check-ins in ``<state>/checkins.log``, skipped
backups in ``<state>/git.log``, and kept messages that waited too long or were set aside
(``<state>/mailbox/``, ``mailbox.log``); it raises what it finds and clears what has gone.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orc.core.locks import named_lock
from orc.core.settings import Settings
from orc.core.state import log_event, write_private_text

NOTIFY_TIMEOUT = 30.0
# What each agent state means to a person, and the reason it is raised under.
AGENT_REASONS = {
    "waiting": ("dialog", "a dialog is waiting for an answer"),
    "exited": ("exited", "the agent exited; run restart"),
    "stalled": ("stalled", "its screen has not changed for a long time while not idle"),
    "limited": ("usage-limit", "the agent hit its usage limit"),
}
#: A turn that ended with an API error other than a usage limit (the agent's StopFailure event).
TURN_FAILED = "turn-failed"
BACKUP_SKIPS_IN_A_ROW = 3
#: The check runs every minute; a longer gap since the last one means the machine slept or was
#: off (or cron was stopped). What it finds then is told in one summary, not one message each.
WOKE_AFTER_SECONDS = 600
LOG_TAIL_BYTES = 64 * 1024   # the per-minute check reads only the end of git.log


def log_path(settings: Settings) -> Path:
    return settings.state_dir / "attention.log"


def _open_path(settings: Settings) -> Path:
    return settings.state_dir / "attention-open.json"


def _key(subject: str, reason: str) -> str:
    return f"{subject}\t{reason}"


def _read_open(settings: Settings) -> dict[str, Any]:
    try:
        data = json.loads(_open_path(settings).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_open(settings: Settings, data: dict[str, Any]) -> None:
    write_private_text(_open_path(settings), json.dumps(data, indent=1, sort_keys=True) + "\n")


def open_items(settings: Settings) -> dict[tuple[str, str], dict[str, Any]]:
    """What is raised and not cleared yet: (subject, reason) -> {"since", "text", ...}."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for key, value in _read_open(settings).items():
        subject, _, reason = key.partition("\t")
        if isinstance(value, dict):
            found[(subject, reason)] = value
    return found


def _lock(settings: Settings) -> Any:
    return named_lock(settings.state_dir, "attention", 60)


def raise_attention(settings: Settings, subject: str, reason: str, text: str, tell: bool = True) -> bool:
    """Tell a person about ``subject`` once for ``reason``; False when it is already raised.
    ``tell=False``: raised and logged, but told in a summary by the caller (:func:`tell_summary`)."""
    with _lock(settings):
        data = _read_open(settings)
        key = _key(subject, reason)
        if key in data:
            return False
        data[key] = {"since": time.time(), "text": text}
        _write_open(settings, data)
    message = f"[attention] {subject}: {text}"
    log_event(log_path(settings), "raised", subject=subject, reason=reason, text=text)
    if not tell:
        log_event(log_path(settings), "told", subject=subject, reason=reason, orchestrator="in a summary",
                  notify="in a summary")
        return True
    told_orchestrator = _tell_orchestrator(settings, message)
    notified = _run_notify_command(settings, message)
    log_event(log_path(settings), "told", subject=subject, reason=reason, orchestrator=told_orchestrator,
              notify=notified)
    return True


def tell_summary(settings: Settings, subject: str, text: str) -> None:
    """One message for many items (raised with ``tell=False``), on the same two paths."""
    message = f"[attention] {subject}: {text}"
    told_orchestrator = _tell_orchestrator(settings, message)
    notified = _run_notify_command(settings, message)
    log_event(log_path(settings), "summary", subject=subject, text=text, orchestrator=told_orchestrator,
              notify=notified)


def clear_attention(settings: Settings, subject: str, reason: str) -> bool:
    """Mark ``subject``/``reason`` as resolved, so it is told again if it comes back."""
    with _lock(settings):
        data = _read_open(settings)
        if data.pop(_key(subject, reason), None) is None:
            return False
        _write_open(settings, data)
    log_event(log_path(settings), "cleared", subject=subject, reason=reason)
    return True


def _tell_orchestrator(settings: Settings, message: str) -> str:
    """Deliver ``message`` to the orchestrator's pane; a short outcome for the log."""
    from orc.messages.delivery import clean_text, deliver, fit_to_size
    from orc.core.tmux import Tmux

    tmux = Tmux(settings.tmux_socket, settings.tmux_bin)
    try:
        if not tmux.is_running():
            return "no tmux server"
    except Exception as exc:  # noqa: BLE001 - a broken tmux must not stop the log and the notify command
        return f"tmux failed: {exc}"
    result = deliver(tmux, settings.default_target, fit_to_size(clean_text(message), settings), settings,
                     log_as="attention")
    return "submitted" if result.submitted else f"not submitted: {result.reason}"


def notify_argv(settings: Settings, message: str) -> list[str] | None:
    """The notify command's argument list with ``message`` as its one last argument."""
    if not settings.notify_command:
        return None
    return [*shlex.split(settings.notify_command), message]


def _run_notify_command(settings: Settings, message: str) -> str:
    argv = notify_argv(settings, message)
    if argv is None:
        return "not configured"
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
                              timeout=NOTIFY_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"failed: {exc}"
    if done.returncode:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
        return f"exit {done.returncode} {last[0][:200]}".strip()
    return "ok"


# --- the per-minute check --------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    subject: str
    reason: str
    text: str


def failure_reason(event: str, detail: str | None, message: str | None, now: float) -> str | None:
    """What an agent's latest event says about its last turn: ``usage-limit`` (a StopFailure
    naming a usage limit that has not reset yet), ``turn-failed`` (any other API error:
    a plain 429, overloaded, a server error...), or None (no failure, or a limit now over).

    The hook's background side and the per-minute check both ask this, so they agree.
    """
    if event != "StopFailure":
        return None
    from datetime import datetime, timezone

    from orc.record.usage_limit import limit_from_text

    moment = datetime.fromtimestamp(now, timezone.utc)
    limit = limit_from_text(message or "", moment)
    if limit is not None:
        return "usage-limit" if limit.reset_at is None or limit.reset_at > moment else None
    return TURN_FAILED


def turn_failed_text(target: str, detail: str | None) -> str:
    return f"{target}: its last turn ended with an API error ({detail or 'unknown error'}); it sits idle until told"


def agent_findings(settings: Settings, statuses: Sequence[Any], now: float, first_seen: dict[str, float],
                   reports: dict[str, Any] | None = None) -> tuple[list[Finding], set[tuple[str, str]]]:
    """What the agents' states need from a person, and every (subject, reason) this check owns.

    A dialog counts only after ``ORC_ATTENTION_SECONDS`` (an agent asks, a person usually
    answers quickly); ``first_seen`` remembers since when each one has been waiting.
    ``reports`` (``<project>.<role>`` -> the agent's latest hook report) adds what only
    the agent's own events tell: a turn that failed, a usage limit the screen does not show.
    """
    found: list[Finding] = []
    owned: set[tuple[str, str]] = set()
    seen_now: dict[str, float] = {}
    for status in statuses:
        for agent in status.agents:
            subject = f"{status.name}/{agent.role}"
            for reason, _ in AGENT_REASONS.values():
                owned.add((subject, reason))
            owned.add((subject, TURN_FAILED))
            # The label the suite gives the agent's hook command (orc.teams.team.agent_label).
            report = (reports or {}).get(f"{status.name}.{agent.role}")
            failure = (failure_reason(report.event, report.detail, report.message, now)
                       if report is not None and agent.state not in ("exited", "missing") else None)
            if failure == TURN_FAILED and report is not None:
                found.append(Finding(subject, TURN_FAILED, turn_failed_text(agent.target, report.detail)))
            elif failure == "usage-limit" and agent.state != "limited":
                found.append(Finding(subject, "usage-limit", f"{agent.target}: {AGENT_REASONS['limited'][1]}"))
            if agent.state not in AGENT_REASONS:
                continue
            reason, meaning = AGENT_REASONS[agent.state]
            key = _key(subject, reason)
            since = first_seen.get(key, now)
            if agent.state == "waiting" and report is not None and report.state == "waiting":
                since = min(since, report.at)  # the agent's own record says when the dialog opened
            seen_now[key] = since
            if agent.state == "waiting" and now - since < settings.attention_seconds:
                # Still open, not yet long: neither told nor cleared (the agent's own event
                # may have told it already, timing the dialog from its first second).
                owned.discard((subject, reason))
                continue
            found.append(Finding(subject, reason, f"{agent.target}: {meaning}"))
    first_seen.clear()
    first_seen.update(seen_now)
    return found, owned


def failed_checkins(settings: Settings, offset: int) -> tuple[list[Finding], set[str], int]:
    """Check-ins marked failed in ``checkins.log`` after byte ``offset``, the ids delivered
    since (a recurring check-in that works again), and the new offset."""
    path = settings.state_dir / "checkins.log"
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return [], set(), 0
    if size < offset:
        offset = 0  # the log was replaced
    if size == offset:
        return [], set(), offset
    with path.open("rb") as handle:
        handle.seek(offset)
        chunk = handle.read()
    end = chunk.rfind(b"\n") + 1  # a line still being written is read next time
    found: list[Finding] = []
    delivered: set[str] = set()
    for raw in chunk[:end].decode("utf-8", "replace").splitlines():
        fields = _fields(raw)
        if fields.get("_event") == "delivered":
            delivered.add(fields.get("id", "?"))
        if fields.get("_event") != "failed":
            continue
        checkin_id = fields.get("id", "?")
        found.append(Finding(checkin_id, "checkin-failed",
                             f"check-in {checkin_id} to {fields.get('target', '?')} was marked failed: "
                             f"{fields.get('reason', 'no reason recorded')}"))
    return found, delivered, offset + end


def _fields(line: str) -> dict[str, str]:
    """The ``key=value`` fields of one log line (see orc.core.state.log_event); ``_event`` is the event."""
    try:
        words = shlex.split(line, posix=True)  # log_event quotes values the way sh reads them
    except ValueError:
        return {}
    fields = {"_event": words[1] if len(words) > 1 else ""}
    for word in words[2:]:
        name, eq, value = word.partition("=")
        if eq:
            fields[name] = value
    return fields


def _tail_lines(path: Path, limit: int = LOG_TAIL_BYTES) -> list[str]:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - limit))
            data = handle.read()
    except FileNotFoundError:
        return []
    lines = data.decode("utf-8", "replace").splitlines()
    return lines[1:] if size > limit else lines


def backup_findings(settings: Settings, projects: Sequence[str]) -> tuple[list[Finding], set[str]]:
    """Projects whose last three backups were skipped for a reason a person must fix
    (nothing to back up is not one); and the projects whose backups are fine again."""
    last: dict[str, list[dict[str, str]]] = {}
    for line in _tail_lines(settings.state_dir / "git.log"):
        if " backup " not in line:
            continue
        fields = _fields(line)
        if fields.get("_event") == "backup" and fields.get("project") in projects:
            last.setdefault(fields["project"], []).append(fields)
    found: list[Finding] = []
    fine: set[str] = set()
    for project, events in last.items():
        recent = events[-BACKUP_SKIPS_IN_A_ROW:]
        def trouble(e: dict[str, str]) -> bool:
            return e.get("result") != "committed" and not e.get("reason", "").startswith("skipped: nothing")
        if len(recent) == BACKUP_SKIPS_IN_A_ROW and all(trouble(e) for e in recent):
            found.append(Finding(project, "backups-skipped",
                                 f"the last {BACKUP_SKIPS_IN_A_ROW} backups of {project} were skipped: "
                                 f"{recent[-1].get('reason', '?')}"))
        elif not trouble(events[-1]):
            fine.add(project)
    return found, fine


def mailbox_findings(settings: Settings, offset: int) -> tuple[list[Finding], set[str], int]:
    """Messages kept longer than ``ORC_QUEUE_MAX_AGE`` (still kept: never dropped), those set
    aside as unproven in ``mailbox.log`` after byte ``offset``; the ids still kept; the new offset."""
    from orc.messages.mailbox import kept_messages, log_path, now_local

    now = now_local()
    found: list[Finding] = []
    kept = kept_messages(settings)
    for message in kept:
        waited = message.age(now)
        if waited > settings.queue_max_age_minutes * 60:
            found.append(Finding(message.id, "message-kept",
                                 f"message {message.id} for {message.target} has been kept {int(waited // 60)} min "
                                 f"({message.last_reason or message.reason}); it stays kept: send_message.sh --list, "
                                 f"or --cancel {message.id}"))
    path = log_path(settings)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return found, {m.id for m in kept}, 0
    offset = 0 if size < offset else offset
    with path.open("rb") as handle:
        handle.seek(offset)
        chunk = handle.read()
    end = chunk.rfind(b"\n") + 1
    for raw in chunk[:end].decode("utf-8", "replace").splitlines():
        fields = _fields(raw)
        if fields.get("_event") == "unproven":
            found.append(Finding(fields.get("id", "?"), "message-unproven",
                                 f"message {fields.get('id', '?')} for {fields.get('target', '?')} was typed but no "
                                 f"record shows it arrived, so it is not typed again: look at the agent "
                                 f"({fields.get('reason', '')})"))
    return found, {m.id for m in kept}, offset + end


def check(settings: Settings, tmux: Any, projects: Sequence[Any]) -> list[Finding]:
    """One pass of the per-minute check; returns what was newly raised."""
    from orc.teams.status import collect

    with _lock(settings):
        memo_path = settings.state_dir / "attention-check.json"
        try:
            memo = json.loads(memo_path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            memo = {}
    memo = memo if isinstance(memo, dict) else {}
    first_seen: dict[str, float] = {k: float(v) for k, v in dict(memo.get("waiting_since", {})).items()}
    now = time.time()

    from orc.record.hook_events import agent_reports

    statuses = collect(settings, tmux, projects)
    findings, owned = agent_findings(settings, statuses, now, first_seen, agent_reports(settings.state_dir))
    failed, delivered, offset = failed_checkins(settings, int(memo.get("checkins_offset", 0)))
    findings += failed
    backups, fine = backup_findings(settings, [p.name for p in projects])
    findings += backups
    mail, still_kept, mail_offset = mailbox_findings(settings, int(memo.get("mailbox_offset", 0)))
    findings += mail

    last = memo.get("last_check")
    gap = now - float(last) if isinstance(last, (int, float)) else 0.0
    woke = gap > WOKE_AFTER_SECONDS
    raised: list[Finding] = []
    for finding in findings:
        if raise_attention(settings, finding.subject, finding.reason, finding.text, tell=not woke):
            raised.append(finding)
    if woke and raised:
        hours, minutes = divmod(int(gap // 60), 60)
        names = "; ".join(f"{f.subject} ({f.reason})" for f in raised[:10]) + ("; ..." if len(raised) > 10 else "")
        tell_summary(settings, "wake", f"no check had run for {hours}h{minutes:02d}m (the machine asleep or off, or "
                     f"cron stopped); {len(raised)} item(s) need you: {names}. `attention list` shows each")
    wanted = {(f.subject, f.reason) for f in findings}
    for subject, reason in open_items(settings):
        gone_agent = (subject, reason) in owned and (subject, reason) not in wanted
        gone_backup = reason == "backups-skipped" and subject in fine
        gone_checkin = reason == "checkin-failed" and subject in delivered and (subject, reason) not in wanted
        gone_message = reason == "message-kept" and subject not in still_kept
        if gone_agent or gone_backup or gone_checkin or gone_message:
            clear_attention(settings, subject, reason)
    write_private_text(memo_path, json.dumps({"waiting_since": first_seen, "checkins_offset": offset,
                                              "mailbox_offset": mail_offset, "last_check": now}) + "\n")
    return raised


def check_job_id(settings: Settings) -> str:
    """The crontab id of this suite's per-minute check (two suites may share one crontab)."""
    import hashlib

    return "orc-attn-" + hashlib.sha256(str(settings.state_dir).encode()).hexdigest()[:8]
