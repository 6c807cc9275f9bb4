"""LEARNINGS.md: the team's knowledge base, and the one way to add a dated entry to it.

Entries are appended at the end of the file, each as ``### YYYY-MM-DD HH:MM (who): first
line`` followed by the rest of the text, under a lock so that two agents adding a
learning at the same moment do not interleave.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from orc.messages.delivery import clean_text
from orc.core.locks import named_lock

MAX_BYTES = 4000


class BadLearning(ValueError):
    """The text cannot be recorded; the message says what to change."""


def append_learning(path: Path, text: str, state_dir: Path, who: str = "", now: datetime | None = None) -> str:
    """Append one dated entry to ``path``; return the heading written."""
    cleaned = clean_text(text).strip()
    if not cleaned:
        raise BadLearning("the learning is empty; say what was learned")
    if len(cleaned.encode("utf-8")) > MAX_BYTES:
        raise BadLearning(f"the learning is over {MAX_BYTES} bytes; keep it to a few lines and link to details")
    first, _, rest = cleaned.partition("\n")
    stamp = (now or datetime.now()).strftime("%Y-%m-%d %H:%M")
    author = f" ({' '.join(who.split())})" if who.strip() else ""
    heading = f"### {stamp}{author}: {first.lstrip('#').strip()}"
    entry = heading + ("\n\n" + rest.strip() if rest.strip() else "") + "\n"
    with named_lock(state_dir, "learnings", 30):
        existing = path.read_text(encoding="utf-8") if path.exists() else "# Learnings\n"
        separator = "" if existing.endswith("\n\n") else ("\n" if existing.endswith("\n") else "\n\n")
        # O_APPEND: a reader never sees a half-written file, and earlier text is never rewritten.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            prefix = existing if not path.exists() or os.path.getsize(path) == 0 else ""
            os.write(fd, (prefix + separator + entry).encode("utf-8"))
        finally:
            os.close(fd)
    return heading
