"""Claude Code's screen, as data.

The patterns are taken from the real 2.1.x TUI (tests/e2e/SCREENS.md has the captures they
come from).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

from orc.record.profiles.base import AgentProfile


def claude_transcript_prompts(entry: Any) -> Iterator[str]:
    """The prompt texts one line of Claude Code's transcript records: a submitted ``user``
    entry, a queued prompt (``queue-operation`` enqueue, ``attachment`` of type
    ``queued_command``). (The mailbox tells the enqueue apart: orc/messages/mailbox.py,
    ``read_transcript``.)"""
    if not isinstance(entry, dict):
        return
    kind = entry.get("type")
    if kind == "user":
        content = (entry.get("message") or {}).get("content") if isinstance(entry.get("message"), dict) else None
        if isinstance(content, str):
            yield content
        elif isinstance(content, list):
            texts = [b.get("text") for b in content if isinstance(b, dict) and b.get("type") == "text"]
            yield from (t for t in texts if isinstance(t, str))
    elif kind == "queue-operation" and entry.get("operation") == "enqueue":
        if isinstance(entry.get("content"), str):
            yield entry["content"]
    elif kind == "attachment":
        attachment = entry.get("attachment")
        if isinstance(attachment, dict) and attachment.get("type") == "queued_command":
            prompt = attachment.get("prompt")
            if isinstance(prompt, str):
                yield prompt
            elif isinstance(prompt, list):
                yield "".join(b.get("text", "") for b in prompt if isinstance(b, dict))


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
    sender_env=("CLAUDECODE",),  # set to 1 in every command its Bash tool runs
    transcript_prompts=claude_transcript_prompts,
)

#: Claude Code's npm package (``npx @anthropic-ai/claude-code``, ``node .../claude-code/cli.js``).
CLAUDE_PACKAGE = "@anthropic-ai/claude-code"


def _is_claude_package(word: str) -> bool:
    """``@anthropic-ai/claude-code``, with or without ``@<version>``."""
    return word == CLAUDE_PACKAGE or word.startswith(CLAUDE_PACKAGE + "@")


def is_claude_program(words: list[str], pinned: tuple[str, ...] = ()) -> bool:
    """True when ``words`` (from :func:`program_words`) start Claude Code: the program
    ``claude`` (any path ending in ``/claude``), one of the ``pinned`` CLI paths, a binary
    inside its npm package or the native installer's ``claude/versions/<version>``, ``npx``
    of its package (``npx -y @anthropic-ai/claude-code``, ``npx -p @anthropic-ai/claude-code
    claude``, ``npx claude`` where it is installed), or ``node`` running a file of its package."""
    program = words[0]
    name = os.path.basename(program)
    if name == "claude" or program in pinned or f"/{CLAUDE_PACKAGE}/" in program:
        return True  # .../node_modules/@anthropic-ai/claude-code/bin/claude.exe: the package's binary
    if os.path.basename(os.path.dirname(program)) == "versions" and "/claude/" in program:
        return True  # the native installer's ~/.local/share/claude/versions/2.1.328
    rest = words[1:]
    if name == "npx":
        for n, word in enumerate(rest):
            if word in ("-p", "--package") and n + 1 < len(rest) and _is_claude_package(rest[n + 1]):
                return True
            if word.startswith("--package=") and _is_claude_package(word.split("=", 1)[1]):
                return True
            if not word.startswith("-") and (n == 0 or rest[n - 1] not in ("-p", "--package", "--prefix",
                                                                               "--cache", "--userconfig")):
                return _is_claude_package(word) or word == "claude"  # the package's own bin
        return False
    if name in ("node", "nodejs"):
        script = next((w for w in rest if not w.startswith("-")), "")
        return f"/{CLAUDE_PACKAGE}/" in script
    return False
