"""Our hooks in Claude Code's settings: for agents the suite starts, and for agents started by hand.

``orc hook`` (orc/hook.py) records what each agent reports. Claude Code runs it when its
settings name it under ``hooks`` (docs/agent-record.md, "Hooks"):

* agents the suite starts (``deploy``, ``restart``...) get ``claude --settings <file>``
  (``settings_args``), a file in the state folder holding only our hooks, which Claude Code
  merges with the user's own settings for that one run and never writes back;
* agents started by hand get them from ``hooks install``, which merges ours into a settings
  file the user chose and ``hooks remove``, which takes exactly ours out again.

Ours are recognised by their command: it runs ``<suite>/orc hook``.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

from orc.settings import Settings
from orc.state import write_private_text

#: The events we listen to (docs/agent-record.md lists what each one tells).
EVENTS = (
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "PermissionRequest",
    "Notification",
    "Stop",
    "SessionEnd",
)
#: The marker our command carries, by which ``remove`` finds exactly ours.
MARK = " hook"


def python_for_hooks() -> str:
    """The interpreter the hook command names: ``ORC_PYTHON``, else python3 on PATH, else ours.

    An absolute path, because Claude Code runs hooks with the agent's own PATH.
    """
    chosen = os.environ.get("ORC_PYTHON") or shutil.which("python3") or sys.executable
    return os.path.abspath(chosen) if os.sep in chosen else chosen


def hook_command(suite_dir: Path, state_dir: Path, python: str | None = None) -> str:
    """The shell command Claude Code runs for each event.

    ``-S`` skips site-packages processing (about 25 ms of the ~32 ms an empty python3 start
    costs here; bench/bench_hook.py); the hook needs nothing from there. ``-I`` keeps the
    agent's ``PYTHONPATH`` and friends out (a project's own ``json.py`` cannot shadow ours).
    The state folder is named on the command line so the agent's environment cannot point
    it elsewhere.
    """
    argv = [python or python_for_hooks(), "-I", "-S", str(suite_dir / "orc"), "hook", "--state-dir", str(state_dir)]
    return " ".join(shlex.quote(a) for a in argv)


def our_hooks(suite_dir: Path, state_dir: Path, python: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """The ``hooks`` value holding only ours: per event one matcher-less group with our command."""
    command = hook_command(suite_dir, state_dir, python)
    entry = {"type": "command", "command": command, "timeout": 5}
    return {event: [{"hooks": [dict(entry)]}] for event in EVENTS}


def agent_settings_file(settings: Settings) -> Path:
    """Where the per-agent settings file lives: ``<state>/hooks/agent-settings.json``."""
    return settings.state_dir / "hooks" / "agent-settings.json"


def write_agent_settings(settings: Settings) -> Path:
    """Write (or refresh) the per-agent settings file with our hooks; return its path."""
    path = agent_settings_file(settings)
    text = json.dumps({"hooks": our_hooks(settings.suite_dir, settings.state_dir)}, indent=2) + "\n"
    try:
        current = path.read_text(encoding="utf-8")
    except OSError:
        current = None
    if current != text:
        write_private_text(path, text)
    return path


def settings_args(settings: Settings) -> list[str]:
    """The extra ``claude`` arguments that turn our hooks on for one agent the suite starts."""
    return ["--settings", str(write_agent_settings(settings))]
