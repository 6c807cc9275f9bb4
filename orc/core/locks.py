"""The suite's locks: flock, never deleted (docs/scheduling.md, "Races and the crontab lock").

One lock per pane serialises every sender to it (send_message and the check-in runner alike,
from any copy of the suite), so two messages never interleave their characters. It lives
beside the tmux server's socket; the other locks are in ``<state>/locks``.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from pathlib import Path

from filelock import FileLock

from orc.core.state import DIR_MODE, FILE_MODE, private_dir


def _lock(settings_state_dir: Path, name: str, timeout: float) -> FileLock:
    directory = private_dir(settings_state_dir / "locks")
    return FileLock(str(directory / f"{name}.lock"), timeout=timeout, mode=FILE_MODE)


def pane_lock(state_dir: Path, socket: Path, pane_id: str, timeout: float) -> FileLock:
    """Lock for one pane of one tmux server (pane ids repeat across servers)."""
    server = hashlib.sha256(str(socket).encode()).hexdigest()[:12]
    name = f"pane-{server}-{pane_id.lstrip('%')}.lock"
    return FileLock(str(pane_locks_dir(socket, state_dir) / name), timeout=timeout, mode=FILE_MODE)


def pane_locks_dir(socket: Path, state_dir: Path) -> Path:
    """Where the pane locks of one tmux server live: beside its socket, the one path every
    sender to its panes names. Each copy of the suite has its own state folder, so a lock there
    would let a copy and the original (or two checkouts) type into one pane at the same second.

    tmux's own socket folder is the user's and private. A socket elsewhere may sit in a shared
    folder (``/tmp``): there the folder is the user's own by name, and when it cannot be made
    the user's own and private (someone else's, a symlink), the state folder's locks serve."""
    folder = socket.parent / f"orc-locks-{os.getuid()}"
    try:
        folder.mkdir(mode=DIR_MODE, exist_ok=True)
        found = folder.lstat()
        if stat.S_ISDIR(found.st_mode) and found.st_uid == os.getuid():
            if stat.S_IMODE(found.st_mode) != DIR_MODE:
                folder.chmod(DIR_MODE)
            return folder
    except OSError:  # no such folder, not writable
        pass
    return private_dir(state_dir / "locks")


def crontab_lock(state_dir: Path, timeout: float = 30.0) -> FileLock:
    """Every read-modify-write of the crontab happens under this lock (docs/scheduling.md,
    "Races and the crontab lock")."""
    return _lock(state_dir, "crontab", timeout)


def named_lock(state_dir: Path, name: str, timeout: float) -> FileLock:
    """A lock for one validated name (a check-in id, a project): ``[A-Za-z0-9_.-]+`` only."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ValueError(f"lock name {name!r} has characters outside [A-Za-z0-9_.-]")
    return _lock(state_dir, name, timeout)


# Held by ``up --boot`` (orc/teams/boot.py) from its start until the missed check-ins and kept
# messages are delivered: a check-in's own line, the minute sweep or a drainer started by an
# agent's hook that runs meanwhile leaves the delivering to it, so nothing reaches a pane
# that is not back yet, and nothing arrives before the agent's resume note.
BOOT_LOCK = "boot"


def boot_under_way(state_dir: Path) -> bool:
    """Whether ``up --boot`` is bringing the teams back right now (it holds :data:`BOOT_LOCK`)."""
    from filelock import Timeout

    lock = named_lock(state_dir, BOOT_LOCK, 0)
    try:
        lock.acquire()
    except Timeout:
        return True
    lock.release()
    return False
