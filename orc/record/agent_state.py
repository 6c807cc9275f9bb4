"""What the agent in a pane is doing: one state, with its source and age.

Three sources (docs/agent-record.md), each read once per snapshot:

* ``registry``: Claude Code's own session registry (:mod:`orc.record.agent_registry`): the
  agent writes ``idle``, ``busy`` or ``waiting`` itself, right in every launch form.
* ``hook``: the latest hook event of the pane (written by ``orc hook``; read through
  :mod:`orc.record.hook_events` when that module is present).
* ``screen``: the pane's screen and tmux's facts (this module's :func:`classify`),
  with the pane's foreground process group deciding whether an agent runs at all
  (:mod:`orc.record.process_groups`).

They agree, or the state in which nothing is typed wins: a dialog any source sees,
unsent text on the screen, a usage limit. Among the states that allow typing
(``idle``, ``busy``) the agent's own record outranks the screen. A hook report is only
the agent's last event, though, and some changes fire none (a dialog declined with Esc,
a turn interrupted): its ``waiting`` or ``busy`` gives way to newer evidence, a screen
that shows the input box and no dialog once the event is older than
:data:`HOOK_SETTLE_SECONDS` (docs/agent-states.md, "When sources disagree").

States: ``dead`` (the pane's process ended), ``copy-mode`` (keys would be swallowed),
``shell`` (no agent: typed text would run as a command), ``waiting`` (a dialog
owns the keyboard: an Enter would answer it), ``limited`` (the agent reports its usage
limit), ``typing`` (unsent text in the input box), ``busy`` (working on a turn; typed
text is queued), ``idle`` (empty input box), ``exited`` (the agent said it ended),
``unknown`` (none of the above could be recognised).
"""

from __future__ import annotations

import importlib
from datetime import datetime, timezone
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orc.record.profiles import SHELLS, AgentProfile, profile_for
from orc.record.agent_registry import RegistryEntry
from orc.record.hook_events import HookReport
from orc.record.process_groups import only_shells

if TYPE_CHECKING:
    from orc.core.tmux import Pane

STATES = ("idle", "busy", "waiting", "limited", "typing", "shell", "copy-mode", "dead", "exited", "unknown")
# States in which typing a message is safe (busy: the TUI queues it for after the turn).
DELIVERABLE = frozenset({"idle", "busy"})
# What status and the snapshot call each source.
SOURCES = ("registry", "hook", "screen")
# How far from the bottom a dialog is looked for: a dialog is always drawn last.
DIALOG_WINDOW = 16
# How long after a hook event the screen may still show what came before it. Measured with
# the real Claude Code (2.1.197, 2.1.328, 2.1.332): the spinner shows before
# UserPromptSubmit's hook has run, and from PermissionRequest until its dialog is drawn
# (at most 0.2 s later, sometimes before the hook) the screen reads busy, never idle.
# Once a report is this old, a screen with the input box and no dialog is newer than it.
HOOK_SETTLE_SECONDS = 1.0


@dataclass(frozen=True)
class InputBox:
    text: str          # what is typed, placeholders removed, continuation lines joined by \n
    top: int           # index of the rule line above the box


def find_input_box(lines: Sequence[str], profile: AgentProfile) -> InputBox | None:
    """The agent's input box: a prompt line right below a rule, text up to the next rule.
    For a profile with no rules (Codex), the last prompt line with no dialog line after it,
    text up to the first blank line."""
    if profile.rule is None:
        return _unruled_input_box(lines, profile)
    for top in range(len(lines) - 2, -1, -1):
        if not profile.rule.match(lines[top]):
            continue
        first = profile.prompt.match(lines[top + 1])
        if not first:
            continue
        body = [first.group("text")]
        for line in lines[top + 2 :]:
            if profile.rule.match(line):
                break
            body.append(_unindent(line, profile.indent))
        if profile.history_looks_like_box and _dialog_in(lines[top:], profile):
            return None  # an echoed prompt above the dialog that hides the input box
        return InputBox(text=_typed(body, profile), top=top)
    return None


def _dialog_in(lines: Sequence[str], profile: AgentProfile) -> bool:
    return any(p.search(line) for line in lines for p in profile.dialog)


def _unindent(line: str, indent: int) -> str:
    return line[indent:] if line.startswith(" " * indent) else line


def _typed(body: list[str], profile: AgentProfile) -> str:
    text = "\n".join(body).rstrip()
    return "" if any(p.match(text) for p in profile.placeholders) else text


def _unruled_input_box(lines: Sequence[str], profile: AgentProfile) -> InputBox | None:
    for top in range(len(lines) - 1, -1, -1):
        first = profile.prompt.match(lines[top])
        if not first:
            continue
        if _dialog_in(lines[top:], profile):
            return None  # a dialog's selected option looks like the prompt: no box while it shows
        body = [first.group("text")]
        for line in lines[top + 1 :]:
            if not line.strip():
                break
            body.append(_unindent(line, profile.indent))
        return InputBox(text=_typed(body, profile), top=top)
    return None


def classify_screen(lines: Sequence[str], profile: AgentProfile) -> str:
    """The agent's state from its screen alone (no tmux facts)."""
    box = find_input_box(lines, profile)
    # Claude Code removes its input box while a dialog is up; a dialog-like line above a
    # live input box is transcript (an echoed "❯ 1. ..." prompt), not a dialog.
    below = lines[box.top :] if box else lines[-DIALOG_WINDOW:]
    if box is None and any(p.search(line) for line in below for p in profile.dialog):
        return "waiting"
    busy = any(p.search(line) for line in lines[-DIALOG_WINDOW:] for p in profile.busy)
    if box is None:
        return "busy" if busy else "unknown"
    if box.text.strip():
        return "typing"
    return "busy" if busy else "idle"


def classify(lines: Sequence[str], pane: Pane, agent_kind: str = "claude",
             foreground: Sequence[str] | None = None) -> str:
    """The agent's state in ``pane`` whose visible screen is ``lines``, from the screen alone.

    ``foreground``: the commands of the pane terminal's foreground process group, when
    known; the pane is a shell only when every one of them is a shell. Without it,
    tmux's ``pane_current_command`` (the group's leader) decides.
    """
    if pane.dead:
        return "dead"
    if pane.in_mode:
        return "copy-mode"
    if foreground:
        if only_shells(foreground):
            return "shell"
    elif pane.current_command in SHELLS:
        return "shell"
    return classify_screen(lines, profile_for(agent_kind))


@dataclass(frozen=True)
class AgentState:
    """The one state of a pane, the source that decided it, and what the agent recorded."""

    state: str
    source: str                       # "registry", "hook" or "screen"
    age: float | None = None          # seconds since the deciding source saw it change
    session_id: str | None = None
    version: str | None = None
    transcript_path: str | None = None
    detail: str | None = None         # e.g. "permission prompt", a usage limit's reset time
    pid: int | None = None            # the agent's process (registry)
    kind: str = ""                    # which agent CLI runs there (orc.record.profiles), "" if none is recognised


# The states in which nothing may be typed, most binding first: any source seeing one wins.
BLOCKING = ("waiting", "limited", "typing", "exited")
REGISTRY_STATES = {"idle": "idle", "busy": "busy", "waiting": "waiting"}


def from_registry(entry: RegistryEntry, now: float | None = None) -> AgentState:
    return AgentState(
        state=REGISTRY_STATES.get(entry.status, "unknown"), source="registry", age=entry.age(now),
        session_id=entry.session_id, version=entry.version, transcript_path=str(entry.transcript_path),
        detail=entry.waiting_for, pid=entry.pid,
    )


def from_hook(report: HookReport, now: float) -> AgentState:
    return AgentState(
        state=report.state or "unknown", source="hook", age=report.age(now), session_id=report.session_id or None,
        transcript_path=report.transcript_path or None, detail=report.detail,
    )


def superseded_by_screen(hook: AgentState, screen: str) -> bool:
    """Whether the screen is newer evidence than the hook report's ``waiting`` or ``busy``.

    The screen must show the agent's input box (``idle``, or ``typing``: a person's draft)
    and no dialog, and the event must be older than :data:`HOOK_SETTLE_SECONDS`, by which
    time the screen always shows what the event announced. A screen that shows a dialog, a
    spinner or nothing recognisable leaves the report standing.
    """
    return (hook.state in ("waiting", "busy") and screen in ("idle", "typing")
            and hook.age is not None and hook.age >= HOOK_SETTLE_SECONDS)


def combine(screen: str, registry: AgentState | None = None, hook: AgentState | None = None,
            shell_certain: bool = True) -> AgentState:
    """One state from the three sources (see the module's docstring).

    ``screen`` is :func:`classify`'s answer. tmux's own facts (``dead``, ``copy-mode``)
    come first, then ``shell`` when it was read from the foreground process group
    (``shell_certain``): a suspended agent keeps its registry entry while the shell reads
    the keys. Only when the group could not be read does a live entry overrule tmux's
    ``shell`` (which names the group's leader, the shell of ``claude; exec bash``).
    ``unknown`` from any source claims nothing.
    """
    if registry is not None:
        # The registry is live (its process checked); a hook report is only the last event,
        # which can be stale (a declined dialog fires none): with the registry, hooks say nothing.
        hook = None
    elif hook is not None and screen == "unknown" and hook.state in ("idle", "busy"):
        # A report cannot show that an agent still runs in the pane (it may have crashed and
        # another program taken the keyboard): typable only when the screen agrees.
        hook = AgentState("unknown", "hook", hook.age, hook.session_id, hook.version, hook.transcript_path, hook.detail)
    elif hook is not None and hook.state == "exited" and screen != "unknown":
        hook = None  # an agent's screen is back in the pane: a new session that reports no hooks
    elif hook is not None and superseded_by_screen(hook, screen):
        # The event announced a dialog or a turn, and the screen now shows the input box with
        # no dialog: the dialog was answered (Esc fires no event) or the turn interrupted.
        hook = AgentState("unknown", "hook", hook.age, hook.session_id, hook.version, hook.transcript_path, None)
    record = registry or hook
    screen_state = AgentState(screen, "screen")
    if record is None or screen in ("dead", "copy-mode") or (screen == "shell" and shell_certain):
        return screen_state
    claims = [s for s in (registry, hook) if s is not None and s.state not in ("", "unknown")]
    if screen not in ("shell", "unknown"):
        claims.append(screen_state)
    chosen = next((c for blocking in BLOCKING for c in claims if c.state == blocking), None)
    if chosen is None:
        chosen = claims[0] if claims else AgentState("unknown", record.source, record.age)
    if chosen is not screen_state and chosen.session_id is not None:
        return chosen
    # Keep the record's facts (session, version, transcript) whichever source decided.
    return AgentState(chosen.state, chosen.source, chosen.age, record.session_id, record.version,
                      record.transcript_path, chosen.detail or record.detail, record.pid)


_USAGE_LIMIT: list[Any] = []  # the usage-limit module once looked up (None: not installed)


def usage_limit_on_screen(lines: Sequence[str]) -> str | None:
    """``detail`` for a screen that shows the agent's usage limit (its reset time), else None.

    The seam for the usage-limit work: the wording and its parsing live in
    ``orc/record/usage_limit.py`` (``limit_from_screen(lines) -> UsageLimit | None``), which ships
    separately; without it no screen reads as ``limited``.
    """
    if not _USAGE_LIMIT:
        try:
            _USAGE_LIMIT.append(importlib.import_module("orc.record.usage_limit"))
        except ImportError:
            _USAGE_LIMIT.append(None)
    module = _USAGE_LIMIT[0]
    if module is None:
        return None
    limit = module.limit_from_screen(list(lines))
    if limit is None:
        return None
    reset = getattr(limit, "reset_at", None)
    if reset is None:
        return "reset time unknown"
    if reset <= datetime.now(timezone.utc):
        return None  # the limit is over; its message stays on the screen until the next turn
    return f"resets {reset.isoformat(timespec='minutes')}"


def with_usage_limit(state: AgentState, lines: Sequence[str]) -> AgentState:
    """``state``, or ``limited`` when the screen shows the usage limit and nothing blocks already."""
    if state.state not in ("idle", "busy", "unknown"):
        return state
    detail = usage_limit_on_screen(lines)
    if detail is None:
        return state
    return AgentState("limited", "screen", None, state.session_id, state.version, state.transcript_path, detail,
                      state.pid)
