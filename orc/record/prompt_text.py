"""What Claude Code records for a prompt we typed, so its own record can prove receipt.

Claude Code changes a prompt before it stores it (docs/agent-record.md): it trims trailing
whitespace, turns each tab into four spaces, and wraps a long or many-line paste in a
``<pasted_content id="…">`` envelope. Both the text we sent and the prompt the agent
recorded (in its transcript or its ``UserPromptSubmit`` hook) are brought to one form,
so comparing them is plain equality, and a hash of that form can stand in for the text
in a state file.
"""

from __future__ import annotations

import hashlib
import re

# The envelope's id is random; the closing tag repeats it.
_PASTED = re.compile(r'<pasted_content id="([^"]*)">\n?(.*?)\n?</pasted_content id="\1">', re.DOTALL)


def unwrap_pasted(prompt: str) -> str:
    """``prompt`` with every pasted-content envelope replaced by the text inside it."""
    return _PASTED.sub(lambda m: m.group(2), prompt)


def comparable(text: str) -> str:
    """The one form in which a sent text and the agent's record of it are equal."""
    return unwrap_pasted(text).replace("\t", "    ").strip()


def prompt_key(text: str) -> str:
    """A hash of ``comparable(text)``: what state files keep instead of a prompt's text."""
    return hashlib.sha256(comparable(text).encode("utf-8")).hexdigest()


def same_prompt(recorded: str, sent: str) -> bool:
    """True when ``recorded`` (as the agent stored it) is the prompt typed as ``sent``."""
    return comparable(recorded) == comparable(sent)
