"""Our hooks in an agent CLI's settings: for agents the suite starts, and for agents started by hand.

Codex CLI (``$CODEX_HOME/hooks.json``) and Gemini CLI (``~/.gemini/settings.json``) keep
hooks in Claude Code's shape, under the same ``hooks`` key, with events of their own
(:data:`EVENTS_OF`); the rest of this note is about Claude Code.

``orc hook`` (orc/record/hook.py) records what each agent reports. Claude Code runs it when its
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

from orc.core.settings import Settings
from orc.core.state import replace_file, write_private_text

#: The events we listen to (docs/agent-record.md lists what each one tells).
EVENTS = (
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "PermissionRequest",
    "Notification",
    "Stop",
    "StopFailure",
    "SessionEnd",
)
#: The events we listen to, per agent CLI (docs/agent-clis.md, "Hooks"). Gemini CLI's
#: per-model-request events are left out: they carry the whole request, on every request.
EVENTS_OF = {
    "claude": EVENTS,
    "codex": ("SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "PermissionRequest", "Stop",
              "SessionEnd"),
    "gemini": ("SessionStart", "BeforeAgent", "BeforeTool", "AfterTool", "Notification", "AfterAgent", "SessionEnd"),
}
#: Codex matches tool events by tool name, and Gemini CLI every event by its subject: "*" is any.
_MATCHED = {"codex": ("PreToolUse", "PostToolUse", "PermissionRequest"), "gemini": EVENTS_OF["gemini"]}
def python_for_hooks() -> str:
    """The interpreter the hook command names: ``ORC_PYTHON``, else python3 on PATH, else ours.

    An absolute path, because Claude Code runs hooks with the agent's own PATH.
    """
    chosen = os.environ.get("ORC_PYTHON") or shutil.which("python3") or sys.executable
    return os.path.abspath(chosen) if os.sep in chosen else chosen


def hook_command(suite_dir: Path, state_dir: Path, python: str | None = None, agent: str | None = None) -> str:
    """The shell command Claude Code runs for each event.

    ``-S`` skips site-packages processing (about 25 ms of the ~32 ms an empty python3 start
    costs here; bench/bench_hook.py); the hook needs nothing from there. ``-I`` keeps the
    agent's ``PYTHONPATH`` and friends out (a project's own ``json.py`` cannot shadow ours).
    The state folder is named on the command line so the agent's environment cannot point
    it elsewhere.
    """
    argv = [python or python_for_hooks(), "-I", "-S", str(suite_dir / "orc"), "hook", "--state-dir", str(state_dir)]
    if agent:
        argv += ["--agent", agent]
    return " ".join(shlex.quote(a) for a in argv)


def our_hooks(suite_dir: Path, state_dir: Path, python: str | None = None,
              agent: str | None = None, kind: str = "claude") -> dict[str, list[dict[str, Any]]]:
    """The ``hooks`` value holding only ours: per event one group with our command
    (matcher-less for Claude Code, which reads that as any)."""
    command = hook_command(suite_dir, state_dir, python, agent)
    # Claude Code takes a timeout in seconds; the others are left their own defaults.
    entry: dict[str, Any] = {"type": "command", "command": command, **({"timeout": 5} if kind == "claude" else {})}
    matched = _MATCHED.get(kind, ())
    return {event: [{**({"matcher": "*"} if event in matched else {}), "hooks": [dict(entry)]}]
            for event in EVENTS_OF[kind]}


def agent_settings_file(settings: Settings, agent: str | None = None) -> Path:
    """``<state>/hooks/settings/<agent>.json`` (``any.json`` for an agent without a label)."""
    return settings.state_dir / "hooks" / "settings" / f"{agent or 'any'}.json"


def write_agent_settings(settings: Settings, agent: str | None = None) -> Path:
    """Write (or refresh) the per-agent settings file with our hooks; return its path."""
    path = agent_settings_file(settings, agent)
    text = json.dumps({"hooks": our_hooks(settings.suite_dir, settings.state_dir, agent=agent)}, indent=2) + "\n"
    try:
        current = path.read_text(encoding="utf-8")
    except OSError:
        current = None
    if current != text:
        write_private_text(path, text)
    return path


def settings_args(settings: Settings, agent: str | None = None) -> list[str]:
    """The extra ``claude`` arguments that turn our hooks on for one agent the suite starts.

    ``agent`` (``<project>.<role>``) labels its reports, so they are found by the agent's
    name after its pane is gone (``hook_events.agent_reports``).
    """
    return ["--settings", str(write_agent_settings(settings, agent))]


# --- hooks install / remove / status (agents started by hand) --------------------------------


class HooksFileError(ValueError):
    """A settings file we cannot merge into: not JSON, not an object, ``hooks`` malformed."""


#: Beside the settings file: its bytes as they were before our first change to it.
BACKUP_SUFFIX = ".orc-backup"


def user_settings_file(environ: dict[str, str] | None = None, kind: str = "claude") -> Path:
    """``$CLAUDE_CONFIG_DIR/settings.json``, else ``~/.claude/settings.json``; Codex CLI's
    ``$CODEX_HOME/hooks.json`` (else ``~/.codex/``), Gemini CLI's ``~/.gemini/settings.json``."""
    env = os.environ if environ is None else environ
    home = Path(env.get("HOME") or Path.home())
    if kind == "codex":
        codex_home = env.get("CODEX_HOME")
        return (Path(codex_home).expanduser() if codex_home else home / ".codex") / "hooks.json"
    if kind == "gemini":
        return home / ".gemini" / "settings.json"
    config_dir = env.get("CLAUDE_CONFIG_DIR")
    base = Path(config_dir).expanduser() if config_dir else Path(env.get("HOME") or Path.home()) / ".claude"
    return base / "settings.json"


def project_settings_file(project: Path, kind: str = "claude") -> Path:
    """``<project>/.claude/settings.local.json``; Codex CLI's ``<project>/.codex/hooks.json``,
    Gemini CLI's ``<project>/.gemini/settings.json`` (neither has a local-only file).

    The local file rather than ``settings.json``: our command holds this machine's absolute
    paths (the interpreter, the suite, the state folder), which mean nothing on a teammate's
    machine; ``settings.json`` is the project's shared, committed file, ``settings.local.json``
    is the person's own and kept out of git by Claude Code.
    """
    if kind in ("codex", "gemini"):
        return project / f".{kind}" / ("hooks.json" if kind == "codex" else "settings.json")
    return project / ".claude" / "settings.local.json"


def is_our_command(command: object) -> bool:
    """True for a command that runs some suite's ``orc hook`` (whichever folder, whichever state)."""
    if not isinstance(command, str):
        return False
    try:
        argv = shlex.split(command)
    except ValueError:
        return False
    return any(os.path.basename(word.rstrip("/")) == "orc" and argv[i + 1:i + 3] == ["hook", "--state-dir"]
               for i, word in enumerate(argv))


def _load(path: Path) -> tuple[dict[str, Any], bytes | None]:
    """The settings object in ``path`` and its raw bytes (``({}, None)`` when it does not exist)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}, None
    except OSError as exc:
        raise HooksFileError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (UnicodeDecodeError, ValueError) as exc:
        raise HooksFileError(f"{path} is not valid JSON ({exc}); fix it by hand first") from None
    if not isinstance(data, dict):
        raise HooksFileError(f"{path} holds {type(data).__name__}, not a JSON object; fix it by hand first")
    hooks = data.get("hooks")
    if hooks is not None and not isinstance(hooks, dict):
        raise HooksFileError(f"{path}: \"hooks\" is not an object; fix it by hand first")
    for event, groups in (hooks or {}).items():
        if not isinstance(groups, list):
            raise HooksFileError(f"{path}: hooks.{event} is not a list; fix it by hand first")
    return data, raw


def without_ours(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with our hook commands taken out, and every group, event list and ``hooks``
    object that held only ours (and so would be left empty) removed with them."""
    hooks = data.get("hooks")
    if not isinstance(hooks, dict):
        return dict(data)
    kept_hooks: dict[str, Any] = {}
    for event, groups in hooks.items():
        if not isinstance(groups, list):
            kept_hooks[event] = groups
            continue
        kept_groups = []
        for group in groups:
            entries = group.get("hooks") if isinstance(group, dict) else None
            if not isinstance(entries, list):
                kept_groups.append(group)
                continue
            kept_entries = [e for e in entries if not (isinstance(e, dict) and is_our_command(e.get("command")))]
            if len(kept_entries) == len(entries):
                kept_groups.append(group)
            elif kept_entries:
                kept_groups.append({**group, "hooks": kept_entries})
        if kept_groups or not groups:
            kept_hooks[event] = kept_groups
    result = dict(data)
    if kept_hooks or not hooks:
        result["hooks"] = kept_hooks
    else:
        del result["hooks"]
    return result


def with_ours(data: dict[str, Any], ours: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """``data`` with any older hooks of ours replaced by ``ours``, everything else kept in place."""
    result = without_ours(data)
    hooks = dict(result.get("hooks") or {})
    for event, groups in ours.items():
        hooks[event] = list(hooks.get(event) or []) + [json.loads(json.dumps(g)) for g in groups]
    result["hooks"] = hooks
    return result


def has_ours(data: dict[str, Any]) -> bool:
    return without_ours(data) != data


def _write_like(path: Path, text: str, like: Path | None) -> None:
    """Replace ``path`` atomically, keeping the mode the file had (0600 for a new one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = 0o600
    if like is not None:
        try:
            mode = like.stat().st_mode & 0o777
        except OSError:
            pass
    replace_file(path, text, mode)


def install(path: Path, suite_dir: Path, state_dir: Path, python: str | None = None, kind: str = "claude") -> str:
    """Merge our hooks into the settings file ``path`` of the agent CLI ``kind``; return
    what was done (one line).

    Idempotent: ours already there as they would be written means no change at all. Before
    the first change to an existing file its bytes are kept in ``<file>.orc-backup``.
    """
    data, raw = _load(path)
    merged = with_ours(data, our_hooks(suite_dir, state_dir, python, kind=kind))
    if merged == data:
        return f"{path}: our hooks are already installed (unchanged)"
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    if raw is not None and not has_ours(data):
        _write_like(backup, raw.decode("utf-8"), path)
    _write_like(path, json.dumps(merged, indent=2) + "\n", path if raw is not None else None)
    verb = "updated" if has_ours(data) else "installed"
    trust = " (Codex asks once, at its next start, to trust them: answer it)" if kind == "codex" else ""
    return (f"{path}: hooks {verb} for {len(EVENTS_OF[kind])} events"
            + (f" (backup: {backup.name})" if raw is not None and not has_ours(data) else "") + trust)


def remove(path: Path) -> str:
    """Take exactly our hooks out of ``path``; return what was done (one line).

    When the file is otherwise what it was before ``install`` (same content as the backup),
    the backup's bytes come back verbatim: formatting, key order and all.
    """
    data, raw = _load(path)
    if raw is None:
        return f"{path}: no such file (nothing to remove)"
    if not has_ours(data):
        return f"{path}: none of our hooks (unchanged)"
    cleaned = without_ours(data)
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    try:
        before: bytes | None = backup.read_bytes()
    except OSError:
        before = None
    if before is not None:
        try:
            same = json.loads(before.decode("utf-8") or "{}") == cleaned
        except (UnicodeDecodeError, ValueError):
            same = False
        if same:
            _write_like(path, before.decode("utf-8"), path)
            backup.unlink()
            return f"{path}: hooks removed (the file is back as it was)"
    if before is None and cleaned == {}:
        path.unlink()
        return f"{path}: hooks removed (the file held only ours: deleted)"
    _write_like(path, json.dumps(cleaned, indent=2) + "\n", path)
    return f"{path}: hooks removed (your other settings kept)"


def installed_in(path: Path) -> bool | None:
    """Whether ``path`` holds our hooks (None when it cannot be read as settings)."""
    try:
        data, _raw = _load(path)
    except HooksFileError:
        return None
    return has_ours(data)


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def status_lines(state_dir: Path, socket: Path, live_panes: dict[str, str] | None, now: float) -> list[str]:
    """One line per pane of this tmux server whose agent reports: pane, target, event, state, age.

    ``live_panes`` (pane id -> ``session:window``) marks reports from panes that are gone;
    None when the server is not running.
    """
    from orc.record.hook_events import latest_reports

    reports = latest_reports(state_dir, socket=socket)
    lines = []
    for pane_id in sorted(reports, key=lambda p: int(p[1:]) if p[1:].isdigit() else 0):
        report = reports[pane_id]
        where = "(gone)" if live_panes is None or pane_id not in live_panes else live_panes[pane_id]
        event = report.event + (f" ({report.detail})" if report.detail else "")
        lines.append(f"{pane_id:<5} {where:<24} {report.state or '-':<8} {event:<34} "
                     f"{_age(report.age(now)) + ' ago':<9} session {report.session_id or '-'}")
    return lines
