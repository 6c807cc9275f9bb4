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
    # A line matching any of these, near the bottom, means a dialog owns the keyboard.
    dialog: tuple[re.Pattern[str], ...]
    # A line matching any of these means the agent is working on a turn.
    busy: tuple[re.Pattern[str], ...]
    # The rule lines drawn above and below the input box.
    rule: re.Pattern[str]
    # The first line of the input box; group "text" is what is typed there.
    prompt: re.Pattern[str]
    # Text drawn in an empty input box that is not typed text (placeholders).
    placeholders: tuple[re.Pattern[str], ...]
    # How the transcript echoes a submitted prompt (first line); group "text".
    echo: re.Pattern[str]
    # How the input box shows a collapsed large paste.
    pasted_marker: re.Pattern[str]


CLAUDE = AgentProfile(
    name="claude",
    dialog=(
        re.compile(r"Do you want to (proceed|make this edit|create|allow)"),
        re.compile(r"^\s*❯\s*1\.\s"),
        re.compile(r"^\s*Esc to cancel"),
        re.compile(r"Enter to select"),
    ),
    busy=(
        re.compile(r"esc to interrupt", re.IGNORECASE),
    ),
    rule=re.compile(r"^\s*─{8,}\s*$"),
    prompt=re.compile(r"^[>❯]\s?(?P<text>.*)$"),
    placeholders=(re.compile(r"^Try \".*\"$"),),
    echo=re.compile(r"^[>❯]\s(?P<text>.+)$"),
    pasted_marker=re.compile(r"\[Pasted text #\d+"),
)

PROFILES: dict[str, AgentProfile] = {"claude": CLAUDE}


def profile_for(kind: str) -> AgentProfile:
    """The profile named ``kind``; unknown kinds fall back to Claude Code's (the default agent)."""
    return PROFILES.get(kind, CLAUDE)
