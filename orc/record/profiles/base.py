"""What a profile of an agent TUI holds: the screen patterns the suite reads it by."""

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
    # Environment variables the agent sets for the commands it runs (its shell tool): a
    # sender that has one of them is an agent, whose messages are kept rather than refused.
    sender_env: tuple[str, ...] = ()
