"""The reading side of Claude Code's hooks: what ``orc hook`` recorded per pane.

``orc hook`` (orc/record/hook.py) writes ``<state>/hooks/panes/<pane number>.txt`` (the latest
event of that pane, plain ``key: value`` lines) and ``<state>/hooks/events.log`` (one line
per event). Standard library only, so anything may import it.

Pane ids repeat after a tmux server restarts, and several servers may share one state
folder: each report carries the socket of the server its pane belongs to, and a reader of
one server passes ``socket=`` to ignore the others' reports.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

#: What an event says the agent is doing (``HookReport.state``).
STATES = ("idle", "busy", "waiting", "exited")


@dataclass(frozen=True)
class HookReport:
    pane_id: str                 # "%3" (from TMUX_PANE)
    event: str                   # Claude Code's hook_event_name, e.g. "UserPromptSubmit"
    at: float                    # time.time() when the hook ran
    session_id: str
    transcript_path: str
    cwd: str
    state: str                   # "idle", "busy", "waiting" (dialog), "exited", or "" (says nothing)
    prompt_key: str | None       # orc.record.prompt_text.prompt_key(prompt), for a submitted prompt only
    prompt_first_line: str | None
    detail: str | None           # notification_type, tool_name, SessionStart's source...
    socket: str = ""             # the tmux server's socket path (from TMUX)
    agent: str = ""              # "<project>.<role>" for agents the suite started, else ""
    message: str | None = None   # StopFailure only: why the turn failed, e.g. the usage-limit line

    def age(self, now: float) -> float:
        """Seconds since the event (never negative)."""
        return max(0.0, now - self.at)


def hooks_dir(state_dir: Path) -> Path:
    return state_dir / "hooks"


def panes_dir(state_dir: Path) -> Path:
    return hooks_dir(state_dir) / "panes"


def events_log(state_dir: Path) -> Path:
    return hooks_dir(state_dir) / "events.log"


def _same_socket(recorded: str, wanted: str | Path | None) -> bool:
    if wanted is None:
        return True
    if not recorded:
        return False
    if recorded == str(wanted):
        return True
    try:
        return os.path.realpath(recorded) == os.path.realpath(str(wanted))
    except OSError:
        return False


def parse_report(text: str) -> HookReport | None:
    """The report in one pane file's text, or None when it is not one (half-written, foreign)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(": ")
        if sep:
            values[key] = value
        elif line.endswith(":"):
            values[line[:-1]] = ""
    pane, event = values.get("pane", ""), values.get("event", "")
    if not pane.startswith("%") or not event:
        return None
    try:
        at = float(values.get("at", ""))
    except ValueError:
        return None
    state = values.get("state", "")
    return HookReport(
        pane_id=pane,
        event=event,
        at=at,
        session_id=values.get("session_id", ""),
        transcript_path=values.get("transcript_path", ""),
        cwd=values.get("cwd", ""),
        state=state if state in STATES else "",
        prompt_key=values.get("prompt_key") or None,
        prompt_first_line=values.get("prompt_first_line") if "prompt_key" in values else None,
        detail=values.get("detail") or None,
        socket=values.get("socket", ""),
        agent=values.get("agent", ""),
        message=values.get("message") or None,
    )


def _reports_in(folder: Path) -> list[HookReport]:
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    found = []
    for name in names:
        if not name.endswith(".txt") or name.startswith("."):
            continue
        try:
            text = (folder / name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        report = parse_report(text)
        if report is not None:
            found.append(report)
    return found


def latest_reports(state_dir: Path, socket: str | Path | None = None) -> dict[str, HookReport]:
    """Pane id -> the latest event its agent reported; only panes of ``socket`` when given."""
    return {r.pane_id: r for r in _reports_in(panes_dir(state_dir)) if _same_socket(r.socket, socket)}


def agent_reports(state_dir: Path) -> dict[str, HookReport]:
    """``<project>.<role>`` -> the latest event of that agent, whichever pane or server it ran in.

    Only agents the suite started carry a label (their hook command has ``--agent``).
    """
    return {r.agent: r for r in _reports_in(hooks_dir(state_dir) / "agents") if r.agent}


def parse_log_line(line: str) -> dict[str, str] | None:
    """The fields of one events.log line (``event`` included), or None when it is not one."""
    try:
        words = shlex.split(line)
    except ValueError:
        return None
    if len(words) < 2:
        return None
    fields = {"time": words[0], "event": words[1]}
    for word in words[2:]:
        key, sep, value = word.partition("=")
        if sep:
            fields[key] = value
    return fields


def events(state_dir: Path, socket: str | Path | None = None, containing: str = "") -> list[dict[str, str]]:
    """Every logged event, oldest first (the rotated ``events.log.1`` included).

    ``containing`` skips, before parsing, every line without that substring: the log holds
    up to two megabytes and callers poll it.
    """
    log = events_log(state_dir)
    lines: list[str] = []
    for path in (log.with_name(log.name + ".1"), log):
        try:
            lines.extend(path.read_text(encoding="utf-8", errors="replace").splitlines())
        except OSError:
            continue
    found = []
    for line in lines:
        if containing and containing not in line:
            continue
        fields = parse_log_line(line)
        if fields is not None and _same_socket(fields.get("socket", ""), socket):
            found.append(fields)
    return found


#: The events that carry a just-submitted prompt (orc/record/hook.py, ``PROMPT_EVENTS``).
PROMPT_EVENTS = ("UserPromptSubmit", "BeforeAgent")


def prompt_keys_since(state_dir: Path, pane_id: str, since: float, socket: str | Path | None = None) -> list[str]:
    """``prompt_key`` of every submitted prompt (``UserPromptSubmit``; Gemini CLI's
    ``BeforeAgent``) from ``pane_id`` at or after ``since`` (epoch s)."""
    keys = []
    for fields in events(state_dir, socket, containing=f" pane={pane_id} "):
        if fields.get("event") not in PROMPT_EVENTS or fields.get("pane") != pane_id:
            continue
        try:
            at = float(fields.get("at", ""))
        except ValueError:
            continue
        if at >= since and fields.get("prompt_key"):
            keys.append(fields["prompt_key"])
    return keys


def session_ids(state_dir: Path, socket: str | Path | None = None) -> dict[str, str]:
    """Pane id -> the latest session id its agent reported (any event carries it)."""
    found: dict[str, str] = {}
    for fields in events(state_dir, socket):
        if fields.get("pane") and fields.get("session_id"):
            found[fields["pane"]] = fields["session_id"]
    return found
