"""What a profile of an agent CLI holds: the screen patterns the suite reads it by, how its
program is recognised, and where its own transcript records a submitted prompt."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

SHELLS = frozenset({"bash", "zsh", "sh", "dash", "fish", "ksh", "tcsh", "csh", "mksh", "-bash", "-zsh", "login"})

#: The prompt texts one parsed transcript line records (none for most lines).
TranscriptPrompts = Callable[[Any], Iterator[str]]


def no_prompts(entry: Any) -> Iterator[str]:
    """For an agent whose transcript the suite cannot read: it records nothing."""
    return iter(())


@dataclass(frozen=True)
class AgentProfile:
    name: str
    # Lines that, with no input box drawn below them, mean a dialog owns the keyboard.
    dialog: tuple[re.Pattern[str], ...]
    # A line matching any of these means the agent is working on a turn.
    busy: tuple[re.Pattern[str], ...]
    # The rule lines drawn above and below the input box; None for a TUI that draws none
    # (Codex): its box is then the last prompt line with no dialog after it, up to a blank line.
    rule: re.Pattern[str] | None
    # The first line of the input box; group "text" is what is typed there.
    prompt: re.Pattern[str]
    # Text drawn in an empty input box that is not typed text (placeholders).
    placeholders: tuple[re.Pattern[str], ...]
    # A last character that would turn the submit key into a newline (line continuation).
    continuation: str | None
    # Environment variables the agent sets for the commands it runs (its shell tool): a
    # sender that has one of them is an agent, whose messages are kept rather than refused.
    sender_env: tuple[str, ...] = ()
    # How far the input box indents the lines after its first.
    indent: int = 2
    # Its history shows each prompt drawn like its input box (Gemini CLI), and a dialog hides
    # the input box: a box with a dialog line below it is history, not the input box.
    history_looks_like_box: bool = False
    # The prompts one line of its session transcript records (JSON, parsed).
    transcript_prompts: TranscriptPrompts = no_prompts
    # It draws its input box before it takes input (Gemini CLI): a fresh start is ready once
    # its hooks report an event (its SessionStart), not when the box first shows.
    ready_after_first_event: bool = False
