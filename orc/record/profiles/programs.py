"""Which program a team member's command line starts, as far as its words tell: Claude Code
(which takes the suite's flags), a shell with nothing to run, or something else
(docs/workflow.md, "Agents and other windows"); and which agent CLI a running process is."""

from __future__ import annotations

import os
import re
import shlex

from orc.record.profiles.base import SHELLS
from orc.record.profiles.claude import is_claude_program
from orc.record.profiles.codex import is_codex_program
from orc.record.profiles.gemini import is_gemini_program

#: What a team member's ``"agent"`` key may say (docs/workflow.md, "Agents and other windows").
#: ``claude``: Claude Code, which takes the suite's flags (``--settings`` for its hooks,
#: ``--resume``); ``codex``, ``gemini``: Codex CLI and Gemini CLI, waited for, briefed and read
#: with their own profiles, their hooks installed once by ``hooks install --agent`` (Codex also
#: gets ``--no-daemon``); ``none``: not an agent (a shell, a dev server): it runs as written, is
#: not waited for or briefed, and raises no attention.
AGENT_KINDS = ("claude", "codex", "gemini", "none")
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
    Code, :func:`is_claude_program`), ``codex`` or ``gemini`` (those CLIs), ``none`` (a shell
    with nothing to run), or None (any other program: a wrapper script, ``npm run dev``,
    ``python3 ...``)."""
    words = program_words(command)
    if not words:
        return None
    if is_claude_program(words, pinned):
        return "claude"
    other = agent_program_kind(words)
    if other:
        return other
    if is_interactive_shell(words):
        return "none"
    return None


#: The agent CLIs a running program can be recognised as, each by its own test.
_PROGRAMS = (("claude", is_claude_program), ("codex", is_codex_program), ("gemini", is_gemini_program))
#: Program names that say nothing until their arguments are read (a script's interpreter).
INTERPRETERS = frozenset({"node", "nodejs", "npx", "bun", "deno"})


def agent_program_kind(words: list[str]) -> str | None:
    """Which agent CLI the argument vector ``words`` of a running process is (``claude``,
    ``codex``, ``gemini``), or None."""
    if not words:
        return None
    return next((kind for kind, test in _PROGRAMS if test(words)), None)
