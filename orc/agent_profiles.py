"""What each kind of agent TUI draws, as data: the one place to teach the suite a new agent.

Claude Code's patterns are taken from the real 2.1.x TUI (tests/e2e/SCREENS.md has
the captures they come from). A profile only describes the screen; the decisions
made from it live in :mod:`orc.agent_state`.
"""

from __future__ import annotations

import os
import re
import shlex
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


# --- which program a command line starts --------------------------------------------------------

#: What a team member's ``"agent"`` key may say (docs/workflow.md, "Agents and other windows").
#: ``claude``: Claude Code, which takes the suite's flags (``--settings`` for its hooks,
#: ``--resume``); ``none``: not an agent (a shell, a dev server): it runs as written, is not
#: waited for or briefed, and raises no attention. Another agent CLI gets its own kind, with
#: the flags its CLI takes, when the suite learns its screen.
AGENT_KINDS = ("claude", "none")
#: Claude Code's npm package (``npx @anthropic-ai/claude-code``, ``node .../claude-code/cli.js``).
CLAUDE_PACKAGE = "@anthropic-ai/claude-code"
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
# Options of ``env`` and ``exec`` that take a value as the next word.
_ENV_VALUE_OPTIONS = {"-u", "--unset", "-C", "--chdir", "-S", "--split-string"}
_EXEC_VALUE_OPTIONS = {"-a"}


def program_words(command: str) -> list[str] | None:
    """The words of ``command``'s first simple command from its program on: ``exec`` (and
    its options), ``NAME=value`` assignments and ``env`` (its options and assignments) are
    skipped. None when the line cannot be split or names no program."""
    try:
        lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words = list(lexer)
    except ValueError:
        return None
    first: list[str] = []
    for word in words:  # up to the first ; && | ( ...: only the first simple command
        if word and all(c in "();<>|&" for c in word):
            break
        first.append(word)
    i = 0
    while i < len(first):
        word = first[i]
        if _ASSIGNMENT.match(word):
            i += 1
        elif word == "exec":
            i += 1
            while i < len(first) and first[i].startswith("-"):
                i += 2 if first[i] in _EXEC_VALUE_OPTIONS else 1
        elif os.path.basename(word) == "env":
            i += 1
            while i < len(first) and (first[i].startswith("-") or _ASSIGNMENT.match(first[i])):
                i += 2 if first[i] in _ENV_VALUE_OPTIONS else 1
        else:
            return first[i:]
    return None


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


def is_interactive_shell(words: list[str]) -> bool:
    """A shell given nothing to run (``bash``, ``bash --norc``, ``zsh -l``): no ``-c`` and no script."""
    if os.path.basename(words[0]).lstrip("-") not in SHELLS:
        return False
    for word in words[1:]:
        if not word.startswith("-") or word == "--":
            return False  # a script to run, or the end of the options before one
        if not word.startswith("--") and "c" in word[1:]:
            return False  # -c, -lc: a command to run
    return True


def command_kind(command: str, pinned: tuple[str, ...] = ()) -> str | None:
    """The kind of program ``command`` starts, as far as its words tell: ``claude`` (Claude
    Code, :func:`is_claude_program`), ``none`` (a shell with nothing to run), or None (any
    other program: a wrapper script, ``npm run dev``, ``python3 ...``)."""
    words = program_words(command)
    if not words:
        return None
    if is_claude_program(words, pinned):
        return "claude"
    if is_interactive_shell(words):
        return "none"
    return None
