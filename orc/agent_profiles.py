"""What each kind of agent TUI draws, as data: the one place to teach the suite a new agent.

Claude Code's patterns are taken from the real 2.1.x TUI (tests/e2e/SCREENS.md has
the captures they come from). A profile only describes the screen; the decisions
made from it live in :mod:`orc.agent_state`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SHELLS = frozenset({"bash", "zsh", "sh", "dash", "fish", "ksh", "tcsh", "csh", "mksh", "-bash", "-zsh", "login"})


@dataclass(frozen=True)
class AgentProfile:
    name: str
    # Lines that, with no input box drawn below them, mean a dialog owns the keyboard.
    dialog: tuple[re.Pattern[str], ...]
    # A line matching any of these means the agent is working on a turn.
    busy: tuple[re.Pattern[str], ...]
    # The rule lines drawn above and below the input box.
    rule: re.Pattern[str]
    # The first line of the input box; group "text" is what is typed there.
    prompt: re.Pattern[str]
    # Text drawn in an empty input box that is not typed text (placeholders).
    placeholders: tuple[re.Pattern[str], ...]
    # A last character that would turn the submit key into a newline (line continuation).
    continuation: str | None


CLAUDE = AgentProfile(
    name="claude",
    dialog=(
        re.compile(r"Do you want to "),
        re.compile(r"^\s+❯ \d+\. "),           # the selected option, indented: " ❯ 1. Yes"
        # Any dialog, named or not: its key hints, drawn at its foot, start the line or follow
        # a " · ": "Esc to cancel · Tab to amend", "Enter to confirm · Esc to cancel", and the
        # gateway dialog's "Enter to stay in auto mode · shift+Tab to leave for accept edits
        # mode and stop · Esc to cancel" (tests/e2e/SCREENS.md). Capitalised as the dialogs
        # write them: the busy footer's "esc to interrupt" is not a dialog.
        re.compile(r"(?:^\s*|\s·\s)(?:Enter|Esc|shift\+Tab) to \w"),
    ),
    busy=(
        # Spinner: a glyph, a word ending in "…" ("✢ Considering…", "✽ Billowing… (20s)").
        # The finished line "✻ Baked for 5s · done" has no "…" right after its word.
        re.compile(r"^\s*[·✢✳✶✻✽*]\s\w[\w'-]*…"),
        re.compile(r"esc to interrupt", re.IGNORECASE),
    ),
    rule=re.compile(r"^\s*─{8,}\s*$"),
    # The input box prompt is "❯" + NO-BREAK SPACE; the transcript echo uses a plain space.
    prompt=re.compile("^❯\u00a0(?P<text>.*)$"),
    placeholders=(re.compile(r"^Press up to edit queued messages$"),),
    continuation="\\",
)
# Matches nothing: every decision must come from the agent's own record (registry,
# transcript, hooks). For proving that the record alone suffices (the tests select it with
# ORC_AGENT_KIND=record-only), and for a TUI whose screen the suite has not learned yet.
_NEVER = re.compile(r"(?!)")
RECORD_ONLY = AgentProfile(
    name="record-only", dialog=(_NEVER,), busy=(_NEVER,), rule=_NEVER, prompt=_NEVER, placeholders=(),
    continuation="\\",
)
PROFILES: dict[str, AgentProfile] = {"claude": CLAUDE, "record-only": RECORD_ONLY}


def profile_for(kind: str) -> AgentProfile:
    """The profile named ``kind``; unknown kinds fall back to Claude Code's (the default agent)."""
    return PROFILES.get(kind, CLAUDE)
