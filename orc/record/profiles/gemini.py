"""Google Gemini CLI's screen, program and transcript, as data.

Taken from the real 0.61.0 TUI and its package's bundle (docs/agent-clis.md has each fact
with where it was found; tests/e2e/SCREENS.md, "Gemini CLI 0.61.0", the captures). Its
input box lies between ``▄▄▄`` and ``▀▀▀`` rows in a true-colour terminal, between ``───``
rules otherwise; a dialog replaces the box.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

from orc.record.profiles.base import AgentProfile


def gemini_transcript_prompts(entry: Any) -> Iterator[str]:
    """The prompt texts one line of Gemini CLI's chat record
    (``~/.gemini/tmp/<project>/chats/session-*.jsonl``) records: a message of ``type``
    ``user`` whose ``content`` is a list of parts, one text per ``text`` part, whole or inside
    a ``{"$set": {"messages": [...]}}`` update (the session's first messages come that way)."""
    if not isinstance(entry, dict):
        return
    update = entry.get("$set")
    messages = update.get("messages") if isinstance(update, dict) else [entry]
    for message in messages if isinstance(messages, list) else ():
        if not isinstance(message, dict) or message.get("type") != "user" or "message" in message:
            continue  # ("message": Claude Code's user entries carry one; Gemini's never)
        parts = message.get("content")
        for part in parts if isinstance(parts, list) else ():
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                yield part["text"]


GEMINI = AgentProfile(
    name="gemini",
    dialog=(
        re.compile(r"Allow execution of "),          # "Allow execution of [Shell]?"
        re.compile(r"No, suggest changes \(esc\)"),  # the confirmation's last option
        re.compile(r"Apply this change\?"),          # an edit's confirmation
    ),
    busy=(
        re.compile(r"\(esc to cancel, "),  # " ⠇ Thinking... (esc to cancel, 2s)", also while retrying a 429
        # Its spinner (a braille glyph) starts the status line while it works; between a tool
        # and the model's next answer the line shows no timer (" ⠸ Executing Hooks: ...").
        re.compile("^ ?[\u2801-\u28ff] "),
    ),
    rule=re.compile(r"^\s*(?:─{8,}|▄{8,}|▀{8,})\s*$"),
    prompt=re.compile(r"^ > (?P<text>.*)$"),
    placeholders=(re.compile(r"^\s*Type your message or @path/to/file$"),),
    # Enter after a trailing "\" deletes it and inserts a newline (its input.submit handler);
    # a space after it keeps the Enter a submit.
    continuation="\\",
    indent=3,
    sender_env=("GEMINI_CLI",),  # set to 1 in every command its shell tool runs (seen in 0.61.0)
    history_looks_like_box=True,  # each prompt stays on screen between ▄▄▄ and ▀▀▀ rows
    # A paste right after the box first showed was lost in 2 of 4 tries; after --resume the
    # screen went blank after the box showed, and the note typed then was lost (docs/agent-clis.md).
    ready_after_first_event=True,
    transcript_prompts=gemini_transcript_prompts,
)

#: Gemini CLI's npm package; its launcher (node) relaunches itself as a second node process.
GEMINI_PACKAGE = "@google/gemini-cli"


def is_gemini_program(words: list[str]) -> bool:
    """True when ``words`` start Gemini CLI: the program ``gemini``, ``node`` running its
    launcher or a file of its package, or ``npx`` of it."""
    name = os.path.basename(words[0])
    if name == "gemini":
        return True
    rest = [w for w in words[1:] if not w.startswith("-")]
    if name in ("node", "nodejs") and rest:
        return os.path.basename(rest[0]) in ("gemini", "gemini.js") or f"/{GEMINI_PACKAGE}/" in rest[0]
    if name == "npx" and rest:
        return rest[0] == GEMINI_PACKAGE or rest[0].startswith(GEMINI_PACKAGE + "@") or rest[0] == "gemini"
    return False
