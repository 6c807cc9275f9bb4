"""The suite's settings: ``.env`` beside the scripts, overridden by the environment.

Every key is documented in ``.env.example``. Settings are read once, inside a
command's ``main()``, into a frozen record that the rest of the code receives.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

from orc import SUITE_DIR


def default_config_dirs(env: Mapping[str, str]) -> tuple[Path, ...]:
    """``ORC_CLAUDE_CONFIG_DIRS`` (colon-separated), else ``CLAUDE_CONFIG_DIR``, else ``~/.claude``."""
    listed = env.get("ORC_CLAUDE_CONFIG_DIRS", "")
    if listed:
        return tuple(Path(os.path.expanduser(p)).absolute() for p in listed.split(":") if p)
    own = env.get("CLAUDE_CONFIG_DIR", "")
    if own:
        return (Path(os.path.expanduser(own)).absolute(),)
    home = env.get("HOME") or os.path.expanduser("~")
    return (Path(home) / ".claude",)



class SettingsError(ValueError):
    """A setting has a value the suite cannot use; the message names the key."""


@dataclass(frozen=True)
class Settings:
    suite_dir: Path
    tmux_socket: Path          # always concrete: cron jobs need the exact server
    tmux_bin: str              # absolute path, recorded into cron lines
    state_dir: Path
    default_target: str
    agent_command: str
    agent_kind: str            # the profile to read every pane with (orc.record.profiles); "": each pane's own agent CLI
    submit_key: str            # tmux key name that submits in the agent's TUI
    paste_settle: float        # seconds between the paste and the submit key
    submit_timeout: float      # seconds to wait for proof after each submit key
    enter_retries: int         # extra submit keys when the text stays unsent
    lock_timeout: float        # seconds to wait for another sender to the same pane
    max_message_bytes: int     # beyond this the text goes to a file and a pointer is typed
    fallback_target: str | None
    checkin_retry_seconds: int
    checkin_give_up_minutes: int
    crontab_file: Path | None  # tests: a scratch crontab file instead of the user's
    stall_seconds: int
    project_config: Path
    crontab_bin: str | None = None  # `crontab` to run; default: found on PATH, then /usr/bin, /bin, /usr/sbin
    attention_seconds: int = 300    # a dialog waiting longer than this needs a person (orc.teams.attention)
    notify_command: str = ""        # run with the attention text as its one last argument; "" for none
    orchestrator_checkin_minutes: float = 60.0  # `up`: the orchestrator's recurring self check-in
    # Claude Code config dirs whose session registry and transcripts are read (orc.record.agent_registry).
    claude_config_dirs: tuple[Path, ...] = ()
    registry_source: str = "files"   # files, cli (`claude agents --json`), off
    claude_bin: str | None = None    # the `claude` that answers `agents --json` (fallback source)
    limit_nudge: str = "Your usage limit has reset: continue where you left off."  # ORC_LIMIT_NUDGE; "" = off
    turn_retry_seconds: int = 120   # after a turn failed with an API error, nudge once this much later
    # send_message.sh keeps a message it cannot type now (orc.messages.mailbox): "1" always,
    # "0" never, "auto" when the sender is itself an agent in a tmux pane.
    send_queue: str = "auto"
    queue_max_age_minutes: float = 60.0  # a message kept longer than this is told to a person
    drain_watch_seconds: float = 600.0   # how long a drainer watches a busy pane before leaving it to the sweep
    boot_wait_seconds: float = 300.0     # up --boot: how long to wait for tmux and the project folders
    resume_tries: int = 3  # resumes of one conversation that died right after, before a fresh start (teams.resume_guard)

    @property
    def log_file(self) -> Path:
        return self.state_dir / "delivery.log"


def default_socket(env: Mapping[str, str]) -> Path:
    """The socket of the tmux server we are inside of, else tmux's default one (docs/delivery.md, "Which tmux server")."""
    inside = env.get("TMUX", "")
    if inside:
        return Path(inside.split(",")[0])
    tmpdir = env.get("TMUX_TMPDIR") or "/tmp"
    return Path(tmpdir) / f"tmux-{os.getuid()}" / "default"


def _number(values: Mapping[str, str], key: str, default: float, *, minimum: float = 0.0) -> float:
    raw = values.get(key, "")
    if raw == "":
        return default
    try:
        number = float(raw)
    except ValueError:
        raise SettingsError(f"{key}={raw!r} is not a number; fix it in .env or the environment") from None
    if number < minimum:
        raise SettingsError(f"{key}={raw!r} must be at least {minimum:g}")
    return number


def _choice(values: Mapping[str, str], key: str, allowed: tuple[str, ...], default: str) -> str:
    raw = values.get(key, "") or default
    if raw not in allowed:
        raise SettingsError(f"{key}={raw!r} is not one of {', '.join(allowed)}; fix it in .env or the environment")
    return raw


def load_settings(environ: Mapping[str, str] | None = None, suite_dir: Path = SUITE_DIR) -> Settings:
    """Read ``<suite_dir>/.env`` and overlay ``environ`` (default: ``os.environ``)."""
    env = dict(os.environ if environ is None else environ)
    file_values = {k: v for k, v in dotenv_values(suite_dir / ".env").items() if v is not None}
    values: dict[str, str] = {**file_values, **{k: v for k, v in env.items() if k.startswith("ORC_")}}

    def text(key: str, default: str) -> str:
        return values.get(key) or default

    socket = Path(os.path.expanduser(values["ORC_TMUX_SOCKET"])) if values.get("ORC_TMUX_SOCKET") else default_socket(env)
    state_dir = Path(os.path.expanduser(values["ORC_STATE_DIR"])) if values.get("ORC_STATE_DIR") else suite_dir / "state"
    tmux_bin = values.get("ORC_TMUX_BIN") or shutil.which("tmux", path=env.get("PATH")) or "tmux"
    crontab_file = values.get("ORC_CRONTAB_FILE")
    project_config = values.get("ORC_PROJECT_CONFIG")
    return Settings(
        suite_dir=suite_dir,
        tmux_socket=socket.absolute(),
        tmux_bin=tmux_bin,
        state_dir=state_dir.absolute(),
        default_target=text("ORC_DEFAULT_TARGET", "tmux-orc:0"),
        agent_command=text("ORC_AGENT_COMMAND", "claude"),
        agent_kind=text("ORC_AGENT_KIND", ""),
        submit_key=text("ORC_SUBMIT_KEY", "Enter"),
        paste_settle=_number(values, "ORC_PASTE_SETTLE", 0.3),
        submit_timeout=_number(values, "ORC_SUBMIT_TIMEOUT", 2.0, minimum=0.1),
        enter_retries=int(_number(values, "ORC_ENTER_RETRIES", 3)),
        lock_timeout=_number(values, "ORC_LOCK_TIMEOUT", 30.0),
        max_message_bytes=int(_number(values, "ORC_MAX_MESSAGE_BYTES", 10000, minimum=200)),
        fallback_target=values.get("ORC_FALLBACK_TARGET") or None,
        checkin_retry_seconds=int(_number(values, "ORC_CHECKIN_RETRY_SECONDS", 60, minimum=1)),
        checkin_give_up_minutes=int(_number(values, "ORC_CHECKIN_GIVE_UP_MINUTES", 120, minimum=1)),
        crontab_file=Path(crontab_file).absolute() if crontab_file else None,
        stall_seconds=int(_number(values, "ORC_STALL_SECONDS", 600, minimum=1)),
        project_config=Path(project_config).absolute() if project_config else suite_dir / "project_configs.json",
        crontab_bin=values.get("ORC_CRONTAB_BIN") or None,
        attention_seconds=int(_number(values, "ORC_ATTENTION_SECONDS", 300, minimum=0)),
        notify_command=_notify_command(values.get("ORC_NOTIFY_COMMAND", "")),
        orchestrator_checkin_minutes=_number(values, "ORC_ORCHESTRATOR_CHECKIN_MINUTES", 60, minimum=5),
        claude_config_dirs=default_config_dirs({**env, **values}),
        registry_source=_choice(values, "ORC_REGISTRY_SOURCE", ("files", "cli", "off"), "files"),
        claude_bin=values.get("ORC_CLAUDE_BIN") or shutil.which("claude", path=env.get("PATH")) or None,
        # Set but empty turns the nudge off, so the default applies only when the key is absent.
        limit_nudge=values["ORC_LIMIT_NUDGE"].strip() if "ORC_LIMIT_NUDGE" in values else Settings.limit_nudge,
        turn_retry_seconds=int(_number(values, "ORC_TURN_RETRY_SECONDS", 120, minimum=0)),
        send_queue=_choice(values, "ORC_SEND_QUEUE", ("auto", "1", "0"), "auto"),
        queue_max_age_minutes=_number(values, "ORC_QUEUE_MAX_AGE", 60, minimum=1),
        drain_watch_seconds=_number(values, "ORC_DRAIN_WATCH_SECONDS", 600, minimum=0),
        boot_wait_seconds=_number(values, "ORC_BOOT_WAIT", 300, minimum=0),
        resume_tries=int(_number(values, "ORC_RESUME_TRIES", 3, minimum=1)),
    )


def _notify_command(raw: str) -> str:
    """ORC_NOTIFY_COMMAND as given, once it splits into words (it is run without a shell)."""
    import shlex

    if not raw.strip():
        return ""
    try:
        shlex.split(raw)
    except ValueError as exc:
        raise SettingsError(f"ORC_NOTIFY_COMMAND={raw!r} cannot be split into words ({exc}); "
                            "fix its quotes in .env or the environment") from None
    return raw.strip()
