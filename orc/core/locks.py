"""The suite's locks, all in ``<state>/locks``: flock, never deleted (docs/scheduling.md,
"Races and the crontab lock").

One lock per pane serialises every sender to it (send_message and the check-in
runner alike), so two messages never interleave their characters.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from filelock import FileLock

from orc.core.state import FILE_MODE, private_dir


def _lock(settings_state_dir: Path, name: str, timeout: float) -> FileLock:
    directory = private_dir(settings_state_dir / "locks")
    return FileLock(str(directory / f"{name}.lock"), timeout=timeout, mode=FILE_MODE)


def pane_lock(state_dir: Path, socket: Path, pane_id: str, timeout: float) -> FileLock:
    """Lock for one pane of one tmux server (pane ids repeat across servers)."""
    server = hashlib.sha256(str(socket).encode()).hexdigest()[:12]
    return _lock(state_dir, f"pane-{server}-{pane_id.lstrip('%')}", timeout)


def crontab_lock(state_dir: Path, timeout: float = 30.0) -> FileLock:
    """Every read-modify-write of the crontab happens under this lock (docs/scheduling.md,
    "Races and the crontab lock")."""
    return _lock(state_dir, "crontab", timeout)


def named_lock(state_dir: Path, name: str, timeout: float) -> FileLock:
    """A lock for one validated name (a check-in id, a project): ``[A-Za-z0-9_.-]+`` only."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ValueError(f"lock name {name!r} has characters outside [A-Za-z0-9_.-]")
    return _lock(state_dir, name, timeout)
