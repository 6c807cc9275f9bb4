"""What each kind of agent TUI draws, as data: the one place to teach the suite a new agent.

One module per agent CLI (claude.py: Claude Code; codex.py: OpenAI Codex CLI; gemini.py:
Google Gemini CLI), each with its screen, how its program is named and how its transcript
records a prompt; :class:`AgentProfile` (base.py) is what a profile holds; programs.py tells
from a command line which program it starts. A profile only describes the screen; the decisions made from it live in
:mod:`orc.record.agent_state`.
"""

from __future__ import annotations

import re

from orc.record.profiles.base import SHELLS, AgentProfile
from orc.record.profiles.claude import CLAUDE
from orc.record.profiles.codex import CODEX
from orc.record.profiles.gemini import GEMINI
from orc.record.profiles.programs import AGENT_KINDS, agent_program_kind, command_kind

__all__ = ["AGENT_KINDS", "CLAUDE", "CODEX", "GEMINI", "PROFILES", "RECORD_ONLY", "SHELLS", "TRANSCRIPT_FORMATS",
           "AgentProfile", "agent_program_kind", "command_kind", "profile_for"]

# Matches nothing: every decision must come from the agent's own record (registry,
# transcript, hooks). For proving that the record alone suffices (the tests select it with
# ORC_AGENT_KIND=record-only), and for a TUI whose screen the suite has not learned yet.
_NEVER = re.compile(r"(?!)")
RECORD_ONLY = AgentProfile(
    name="record-only", dialog=(_NEVER,), busy=(_NEVER,), rule=_NEVER, prompt=_NEVER, placeholders=(),
    continuation="\\",
)
PROFILES: dict[str, AgentProfile] = {"claude": CLAUDE, "codex": CODEX, "gemini": GEMINI, "record-only": RECORD_ONLY}
#: Every transcript format the suite reads (their line shapes do not overlap), whatever the
#: pane's profile: a proof reads the transcript the agent's own record names.
TRANSCRIPT_FORMATS = (CLAUDE, CODEX, GEMINI)


def profile_for(kind: str) -> AgentProfile:
    """The profile named ``kind``; unknown kinds (and "": not told) fall back to Claude Code's,
    the default agent."""
    return PROFILES.get(kind, CLAUDE)
