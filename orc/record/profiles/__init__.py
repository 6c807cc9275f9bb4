"""What each kind of agent TUI draws, as data: the one place to teach the suite a new agent.

One module per agent CLI (claude.py: Claude Code, its screen and how its program is named);
:class:`AgentProfile` (base.py) is what a profile holds; programs.py tells from a command line
which program it starts. A profile only describes the screen; the decisions made from it live in
:mod:`orc.record.agent_state`.
"""

from __future__ import annotations

import re

from orc.record.profiles.base import SHELLS, AgentProfile
from orc.record.profiles.claude import CLAUDE
from orc.record.profiles.programs import AGENT_KINDS, command_kind

__all__ = ["AGENT_KINDS", "CLAUDE", "PROFILES", "RECORD_ONLY", "SHELLS", "AgentProfile", "command_kind",
           "profile_for"]

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
