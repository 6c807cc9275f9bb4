"""OpenAI Codex CLI's screen, program and transcript, as data.

Taken from the real 0.169.0 TUI and its native binary's strings (docs/agent-clis.md has
each fact with where it was found; tests/e2e/SCREENS.md, "Codex CLI 0.169.0", the captures).
Codex draws no rules around its input box: the box is its last ``›`` line, and a dialog's
selected option starts with ``›`` too, which is why a dialog line below it means no box.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

from orc.record.profiles.base import AgentProfile


def codex_transcript_prompts(entry: Any) -> Iterator[str]:
    """The prompt texts one line of Codex's rollout transcript
    (``$CODEX_HOME/sessions/<y>/<m>/<d>/rollout-*.jsonl``) records: a ``response_item``
    message of role ``user``, one ``input_text`` part per text. Codex's own context
    (``<environment_context>``) is a user message too; it never equals a text we sent."""
    if not isinstance(entry, dict) or entry.get("type") != "response_item":
        return
    payload = entry.get("payload")
    if not isinstance(payload, dict) or payload.get("type") != "message" or payload.get("role") != "user":
        return
    for part in payload.get("content") or ():
        if isinstance(part, dict) and part.get("type") == "input_text" and isinstance(part.get("text"), str):
            yield part["text"]


CODEX = AgentProfile(
    name="codex",
    dialog=(
        re.compile(r"Would you like to "),                      # run the command, make the edits
        re.compile(r"Press enter to confirm or esc to cancel"),  # the approval dialog's foot
        re.compile(r"enter confirm · esc skip"),                 # "Hooks need review" at start-up
    ),
    busy=(re.compile(r"esc to interrupt"),),  # "• Working (2s • esc to interrupt)", "Reconnecting..."
    rule=None,
    prompt=re.compile(r"^› (?P<text>.*)$"),
    placeholders=(re.compile(r"^Ask Codex to do anything$"), re.compile(r"^Ask a follow-up question$")),
    continuation=None,  # Enter after a trailing backslash submits it as typed (tests/e2e/test_codex_cli.py)
    indent=2,
    sender_env=("CODEX_THREAD_ID",),  # in every command its shell tool runs (seen in 0.169.0), with CODEX_SESSION_ID
    transcript_prompts=codex_transcript_prompts,
)

#: Codex's npm package; its launcher (node) starts the native binary ``codex``.
CODEX_PACKAGE = "@openai/codex"


def is_codex_program(words: list[str]) -> bool:
    """True when ``words`` start Codex: the program ``codex`` (the npm launcher, the native
    binary), ``node`` running a file of its package, or ``npx`` of it."""
    name = os.path.basename(words[0])
    if name == "codex":
        return True
    rest = [w for w in words[1:] if not w.startswith("-")]
    if name in ("node", "nodejs") and rest:
        return os.path.basename(rest[0]) == "codex" or f"/{CODEX_PACKAGE}/" in rest[0]
    if name == "npx" and rest:
        return rest[0] == CODEX_PACKAGE or rest[0].startswith(CODEX_PACKAGE + "@") or rest[0] == "codex"
    return False
