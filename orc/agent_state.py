"""Tell from a pane's screen and tmux's facts what its agent is doing.

States, in the order they are decided:
``dead`` (the pane's process ended), ``copy-mode`` (keys would be swallowed),
``shell`` (no agent: typed text would run as a command), ``waiting`` (a dialog
owns the keyboard: an Enter would answer it), ``typing`` (unsent text in the
input box), ``busy`` (working on a turn; typed text is queued), ``idle`` (empty
input box), ``unknown`` (none of the above could be recognised).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from orc.agent_profiles import SHELLS, AgentProfile, profile_for

if TYPE_CHECKING:
    from tmux_utils import Pane

STATES = ("idle", "busy", "waiting", "typing", "shell", "copy-mode", "dead", "unknown")
# States in which typing a message is safe (busy: the TUI queues it for after the turn).
DELIVERABLE = frozenset({"idle", "busy"})
# How far from the bottom a dialog is looked for: a dialog is always drawn last.
DIALOG_WINDOW = 16


@dataclass(frozen=True)
class InputBox:
    text: str          # what is typed, placeholders removed, continuation lines joined by \n
    top: int           # index of the rule line above the box


def find_input_box(lines: Sequence[str], profile: AgentProfile) -> InputBox | None:
    """The agent's input box: a prompt line right below a rule, text up to the next rule."""
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
            body.append(line[2:] if line.startswith("  ") else line)
        text = "\n".join(body).rstrip()
        if any(p.match(text) for p in profile.placeholders):
            text = ""
        return InputBox(text=text, top=top)
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


def classify(lines: Sequence[str], pane: Pane, agent_kind: str = "claude") -> str:
    """The agent's state in ``pane`` whose visible screen is ``lines``."""
    if pane.dead:
        return "dead"
    if pane.in_mode:
        return "copy-mode"
    if pane.current_command in SHELLS:
        return "shell"
    return classify_screen(lines, profile_for(agent_kind))
