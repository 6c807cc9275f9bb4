"""Find and end every process a test's agent CLI left behind.

Killing the tmux server hangs up the pane's terminal, which ends the CLI in the
foreground; a helper that left the terminal's session (Codex's shared app-server
daemon, started without ``--no-daemon``) would survive it. Each agent a test starts
has its own home folder in ``tmp_path`` in its environment, so the processes that
carry that folder in their environment are exactly the test's own.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def processes_with_env(name: str, value: str) -> list[int]:
    """The ids of the processes whose environment holds ``name=value`` (Linux ``/proc``).

    Processes of other users (unreadable environment) and processes that end while
    being read are skipped: neither can be ours.
    """
    wanted = f"{name}={value}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environment = (entry / "environ").read_bytes()
        except OSError:
            continue
        if wanted in environment.split(b"\0"):
            found.append(int(entry.name))
    return found


def end_processes_with_env(name: str, value: str, grace: float = 3.0) -> list[int]:
    """SIGTERM each process holding ``name=value``, SIGKILL those alive after ``grace``
    seconds; return the ids found at first."""
    pids = processes_with_env(name, value)
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.05)
    for pid in pids:
        if _alive(pid):
            _signal(pid, signal.SIGKILL)
    return pids


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    # A zombie still answers signal 0; it has ended all the same.
    try:
        return "Z" not in (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[:1] or [""])[0]
    except OSError:
        return False


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except OSError:
        pass  # ended meanwhile
