"""Start the real OpenAI Codex CLI offline, against ``fake_openai_api``.

Codex 0.169.0 starts straight into its input box, with no login or trust screen,
when ``$CODEX_HOME/config.toml`` selects a custom model provider whose ``base_url`` is
the stand-in and marks the working folder trusted (docs/agent-clis.md).
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
PINNED_VERSION = "0.169.0"
CODEX_VERSION = os.environ.get("CODEX_VERSION") or PINNED_VERSION

#: The variable the provider entry names in ``env_key``; the stand-in accepts any key.
API_KEY_VARIABLE = "FAKE_OPENAI_API_KEY"
FAKE_API_KEY = "sk-fake-e2e-0123456789"


def codex_launcher() -> Path:
    """Where install_agent_clis.sh puts the ``codex`` launcher of ``CODEX_VERSION``."""
    return SUITE / ".deps" / "npm" / f"codex-{CODEX_VERSION}" / "node_modules" / ".bin" / "codex"


def write_codex_config(codex_home: Path, workdir: Path, base_url: str) -> None:
    """Write ``codex_home/config.toml``: the stand-in as the only provider, approvals asked
    for (``on-request``, read-only sandbox), the working folder trusted, no retries.

    Retries are off so that an error answer (a 429) reaches the screen at once instead
    of after Codex's default backoff.
    """
    codex_home.mkdir(parents=True, exist_ok=True)
    workdir.mkdir(parents=True, exist_ok=True)
    lines = [
        'model = "gpt-fake"',
        'model_provider = "fake"',
        'approval_policy = "on-request"',
        'sandbox_mode = "read-only"',
        "",
        "[model_providers.fake]",
        'name = "Fake OpenAI (loopback)"',
        f"base_url = {json.dumps(base_url)}",
        'wire_api = "responses"',
        f"env_key = {json.dumps(API_KEY_VARIABLE)}",
        "request_max_retries = 0",
        "stream_max_retries = 0",
        "",
        f"[projects.{json.dumps(str(workdir.resolve()))}]",
        'trust_level = "trusted"',
        "",
    ]
    (codex_home / "config.toml").write_text("\n".join(lines), encoding="utf-8")


def codex_env(home: Path, codex_home: Path) -> dict[str, str]:
    """The whole environment Codex runs with: nothing of the user's own setup leaks in."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "CODEX_HOME": str(codex_home),
        API_KEY_VARIABLE: FAKE_API_KEY,
    }


def codex_command(launcher: Path, env: dict[str, str], *args: str) -> str:
    """A shell line that replaces the pane's shell with Codex in exactly ``env``.

    ``--no-daemon`` keeps Codex from starting (or joining) the shared background
    app-server, which would outlive the pane.
    """
    assignments = [f"{name}={value}" for name, value in env.items()]
    return "exec " + shlex.join(["env", "-i", *assignments, str(launcher), "--no-daemon", *args])


def rollout_files(codex_home: Path) -> list[Path]:
    """Codex's transcripts: ``sessions/<yyyy>/<mm>/<dd>/rollout-<time>-<thread id>.jsonl``."""
    return sorted((codex_home / "sessions").glob("*/*/*/rollout-*.jsonl"))


def rollout_records(path: Path) -> list[dict[str, Any]]:
    """The records of one rollout file (one JSON object a line: ``type``, ``payload``)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def rollout_user_texts(path: Path) -> list[str]:
    """The text of each user message the rollout recorded as sent to the model
    (``response_item`` records of role ``user``), Codex's own context messages included."""
    texts = []
    for record in rollout_records(path):
        payload = record.get("payload") or {}
        if record.get("type") == "response_item" and payload.get("type") == "message" \
                and payload.get("role") == "user":
            texts += [part.get("text", "") for part in payload.get("content") or []
                      if part.get("type") == "input_text"]
    return texts


#: The hook events 0.169.0 counts as hooks (its "Hooks need review" screen counted 9 of
#: these 10 when all were configured: ``Notification`` is not one of its events).
CODEX_HOOK_EVENTS = ("SessionStart", "UserPromptSubmit", "PreToolUse", "PermissionRequest", "PostToolUse",
                     "Stop", "SessionEnd", "SubagentStop", "PreCompact")
#: The events whose hooks take a ``matcher`` (a tool name pattern).
_TOOL_EVENTS = ("PreToolUse", "PermissionRequest", "PostToolUse")


def write_codex_hooks(codex_home: Path, command_for: dict[str, str]) -> None:
    """Write ``codex_home/hooks.json``: for each event, one command hook.

    The shape is Claude Code's (event -> matcher groups -> ``{"type": "command",
    "command": ...}``). Codex runs a new or changed hook only once it is trusted (its
    "Hooks need review" screen at start-up), or when started with
    ``--dangerously-bypass-hook-trust``.
    """
    hooks: dict[str, Any] = {}
    for event, command in command_for.items():
        group: dict[str, Any] = {"hooks": [{"type": "command", "command": command}]}
        if event in _TOOL_EVENTS:
            group["matcher"] = "*"
        hooks[event] = [group]
    codex_home.mkdir(parents=True, exist_ok=True)
    (codex_home / "hooks.json").write_text(json.dumps({"hooks": hooks}, indent=2), encoding="utf-8")
