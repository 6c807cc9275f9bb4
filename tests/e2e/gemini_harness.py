"""Start the real Google Gemini CLI offline, against ``fake_gemini_api``.

Gemini CLI 0.61.0 starts straight into its input box, with no login or trust screen,
when ``GOOGLE_GEMINI_BASE_URL`` points at the stand-in, ``GEMINI_API_KEY`` is set and
``$HOME/.gemini/settings.json`` selects API-key auth (docs/agent-clis.md).
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SUITE = HERE.parent.parent

#: The version tests/e2e/install_agent_clis.sh installs by default and
#: docs/agent-clis.md was written from.
PINNED_VERSION = "0.61.0"
GEMINI_CLI_VERSION = os.environ.get("GEMINI_CLI_VERSION") or PINNED_VERSION

FAKE_API_KEY = "fake-gemini-e2e-key-0123456789"


def gemini_launcher() -> Path:
    """Where install_agent_clis.sh puts the ``gemini`` launcher of ``GEMINI_CLI_VERSION``."""
    return SUITE / ".deps" / "npm" / f"gemini-cli-{GEMINI_CLI_VERSION}" / "node_modules" / ".bin" / "gemini"


def write_gemini_settings(home: Path, workdir: Path) -> None:
    """Write ``home/.gemini/settings.json``: API-key auth (without it the CLI opens its
    auth dialog), no folder-trust question, no telemetry, usage statistics or update
    check (each would try the network)."""
    settings = {
        "security": {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": False}},
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False},
        "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
        "ide": {"enabled": False, "hasSeenNudge": True},
    }
    (home / ".gemini").mkdir(parents=True, exist_ok=True)
    workdir.mkdir(parents=True, exist_ok=True)
    (home / ".gemini" / "settings.json").write_text(json.dumps(settings, indent=2), encoding="utf-8")


def gemini_env(home: Path, base_url: str) -> dict[str, str]:
    """The whole environment Gemini CLI runs with: nothing of the user's own setup leaks in."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "TERM": "xterm-256color",
        # Without it 0.61.0 warns on screen that true colour is not detected.
        "COLORTERM": "truecolor",
        "LANG": "C.UTF-8",
        "GOOGLE_GEMINI_BASE_URL": base_url,
        "GEMINI_API_KEY": FAKE_API_KEY,
    }


def gemini_command(launcher: Path, env: dict[str, str], *args: str) -> str:
    """A shell line that replaces the pane's shell with Gemini CLI in exactly ``env``."""
    assignments = [f"{name}={value}" for name, value in env.items()]
    return "exec " + shlex.join(["env", "-i", *assignments, str(launcher), *args])


def chat_files(home: Path) -> list[Path]:
    """Gemini CLI's chat records: ``~/.gemini/tmp/<project>/chats/session-<time>-<id>.jsonl``."""
    return sorted((home / ".gemini" / "tmp").glob("*/chats/session-*.jsonl"))


def chat_user_texts(path: Path) -> list[str]:
    """The text parts of each ``user`` message line of one chat record.

    The file is a log of JSON lines: a header (``sessionId``, ``startTime``), whole
    messages (``id``, ``type`` ``user`` or ``gemini``, ``content``) and ``{"$set": ...}``
    updates; a ``$set`` of ``messages`` carries the first message(s) of the session.
    """
    texts: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record: dict[str, Any] = json.loads(line)
        messages = record.get("$set", {}).get("messages") if "$set" in record else [record]
        for message in messages or []:
            if message.get("type") == "user" and isinstance(message.get("content"), list):
                texts += [part["text"] for part in message["content"] if "text" in part]
    return texts


#: Gemini CLI 0.61.0's hook events (all fired offline, docs/agent-clis.md).
GEMINI_HOOK_EVENTS = ("SessionStart", "SessionEnd", "BeforeAgent", "AfterAgent", "BeforeModel", "AfterModel",
                      "BeforeToolSelection", "BeforeTool", "AfterTool", "Notification", "PreCompress")


def add_gemini_hooks(home: Path, command_for: dict[str, str]) -> None:
    """Add to ``home/.gemini/settings.json`` one command hook per event (settings key
    ``hooks``: event -> ``[{"matcher": "*", "hooks": [{"type": "command", ...}]}]``).
    0.61.0 runs them with no trust question."""
    path = home / ".gemini" / "settings.json"
    settings = json.loads(path.read_text(encoding="utf-8"))
    settings["hooks"] = {
        event: [{"matcher": "*", "hooks": [{"type": "command", "command": command, "name": f"e2e-{event}"}]}]
        for event, command in command_for.items()
    }
    path.write_text(json.dumps(settings, indent=2), encoding="utf-8")
