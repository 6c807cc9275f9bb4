"""Claude Code's screen, as data.

The patterns are taken from the real 2.1.x TUI (tests/e2e/SCREENS.md has the captures they
come from).
"""

from __future__ import annotations

import re

from orc.record.profiles.base import AgentProfile

CLAUDE = AgentProfile(
    name="claude",
    dialog=(
        re.compile(r"Do you want to "),
        re.compile(r"^\s+❯ \d+\. "),           # the selected option, indented: " ❯ 1. Yes"
        re.compile(r"^\s*Esc to cancel"),
        re.compile(r"Enter to (select|confirm)"),
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
)
