"""Who owns a pane's keyboard: the processes in its terminal's foreground process group.

tmux's ``#{pane_current_command}`` names only the *leader* of the foreground process
group. Started as ``claude; exec bash``, ``bash -c 'claude; bash'`` or by a wrapper
script without ``exec``, the shell stays the leader while Claude Code runs inside its
group, so tmux says ``bash`` although Claude owns the keyboard (docs/agent-record.md).
One ``ps`` call for the whole machine lists every process with its group, its terminal's
foreground group and its start time; a pane is a shell only when *every* process in
its terminal's foreground group is a shell.

The flags are the portable ones (procps on Linux, BSD ps on macOS); ``LC_ALL=C`` and
``TZ=UTC`` make ``lstart`` the exact text Claude Code itself records as ``procStart``
on systems without ``/proc``. Where ``/proc`` exists (Linux) the same facts are read from
``/proc/<pid>/stat`` directly, which costs a fraction of starting ``ps`` (bench/bench_registry.py),
and the start time there is the one Claude Code records on Linux.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from orc.record.profiles import SHELLS

PS_COMMAND = ("ps", "-A", "-o", "pid=,pgid=,tpgid=,lstart=,tty=,comm=")
PS_TIMEOUT = 5.0
#: What an agent's environment says about where it keeps its record (orc.record.agent_registry).
CONFIG_ENV = ("CLAUDE_CONFIG_DIR", "HOME")


@dataclass(frozen=True)
class Process:
    pid: int
    pgid: int
    tpgid: int        # the foreground process group of the process's terminal (-1/0: none)
    started: str      # as Claude Code records procStart: /proc start ticks, else ``lstart`` in C/UTC
    tty: str          # "pts/3" (ps on Linux), "ttys001" (macOS), "dev:34819" (from /proc), "" when none
    command: str      # basename of the program (Linux truncates it to 15 characters)

    @property
    def in_foreground(self) -> bool:
        return self.tty != "" and self.pgid == self.tpgid


def tty_name(path: str) -> str:
    """``/dev/pts/3`` -> ``pts/3``: the form ``ps`` prints, from tmux's ``#{pane_tty}``."""
    return path[len("/dev/"):] if path.startswith("/dev/") else path


def parse_ps(out: str) -> list[Process]:
    """Records from the output of :data:`PS_COMMAND` (lines that do not parse are skipped)."""
    found = []
    for line in out.splitlines():
        # pid pgid tpgid, five words of lstart, tty, then the command (which may hold spaces).
        fields = line.split(None, 9)
        if len(fields) < 10:
            continue
        try:
            pid, pgid, tpgid = int(fields[0]), int(fields[1]), int(fields[2])
        except ValueError:
            continue
        tty = fields[8]
        command = fields[9].strip()
        found.append(Process(
            pid=pid, pgid=pgid, tpgid=tpgid, started=" ".join(fields[3:8]),
            tty="" if tty in ("?", "??", "-") else tty,
            command=command.rsplit("/", 1)[-1] if command.startswith("/") else command,
        ))
    return found


def read_proc(root: str = "/proc") -> list[Process] | None:
    """Every process from ``/proc/<pid>/stat``; None where there is no ``/proc``."""
    try:
        names = os.listdir(root)
    except OSError:
        return None
    if "self" not in names:
        return None
    found = []
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"{root}/{name}/stat", encoding="utf-8", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue  # ended while we looked
        # "pid (comm) state ppid pgrp session tty_nr tpgid ... starttime(22)"; comm may hold ") ".
        open_at, close_at = stat.find("("), stat.rfind(")")
        rest = stat[close_at + 2:].split()
        if open_at < 0 or len(rest) < 20:
            continue
        tty_nr = int(rest[4])
        found.append(Process(pid=int(name), pgid=int(rest[2]), tpgid=int(rest[5]), started=rest[19],
                             tty=f"dev:{tty_nr}" if tty_nr else "", command=stat[open_at + 1:close_at]))
    return found


class ProcessTable:
    """Every process on the machine, read once (``/proc`` where it exists, else one ``ps``)."""

    def __init__(self, processes: Sequence[Process], from_proc: bool = False) -> None:
        self.processes = list(processes)
        self.from_proc = from_proc
        self.by_pid: dict[int, Process] = {p.pid: p for p in self.processes}

    @classmethod
    def read(cls) -> ProcessTable:
        """An empty table when neither can be read (callers then fall back to tmux's own
        view of the pane)."""
        found = read_proc()
        if found:
            return cls(found, from_proc=True)
        env = {**os.environ, "LC_ALL": "C", "TZ": "UTC"}
        try:
            done = subprocess.run(list(PS_COMMAND), capture_output=True, text=True, env=env,
                                  timeout=PS_TIMEOUT, encoding="utf-8", errors="replace")
        except (OSError, subprocess.TimeoutExpired):
            return cls([])
        return cls(parse_ps(done.stdout) if done.returncode == 0 else [])

    def tty_key(self, path: str) -> str:
        """How this table names the terminal at ``path`` (``/dev/pts/3``)."""
        if not self.from_proc:
            return tty_name(path)
        try:
            return f"dev:{os.stat(path).st_rdev}"
        except OSError:
            return ""

    def foreground(self, ttys: Iterable[str]) -> dict[str, list[Process]]:
        """For each terminal (``/dev/pts/3``), the processes of its foreground process group.
        A terminal with no such process is left out."""
        wanted = {self.tty_key(t): t for t in ttys if t}
        wanted.pop("", None)
        found: dict[str, list[Process]] = {}
        for process in self.processes:
            if process.in_foreground and process.tty in wanted:
                found.setdefault(wanted[process.tty], []).append(process)
        return found

    def foreground_commands(self, ttys: Iterable[str]) -> dict[str, list[str]]:
        """For each terminal (``/dev/pts/3``), the commands of its foreground process group.
        A terminal with no such process is left out."""
        return {tty: [p.command for p in group] for tty, group in self.foreground(ttys).items()}

    def environments(self, pids: Sequence[int], names: Sequence[str] = CONFIG_ENV) -> dict[int, dict[str, str]]:
        """The variables ``names`` of each process's environment, as it was started: from
        ``/proc/<pid>/environ`` where this table came from ``/proc``, else from one ``ps eww``
        for all of them. A process whose environment cannot be read (another user's, ended)
        is left out: the caller falls back to what it knows without it."""
        if not pids:
            return {}
        if self.from_proc:
            found = {}
            for pid in pids:
                env = read_environ(pid, names)
                if env is not None:
                    found[pid] = env
            return found
        return ps_environments(pids, names)

    def arguments(self, pid: int) -> list[str]:
        """The argument vector ``pid`` runs with (``/proc/<pid>/cmdline``, else ``ps -o
        args=``, split at spaces); [] when it cannot be read."""
        if self.from_proc:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as handle:
                    raw = handle.read()
            except OSError:
                return []
            return [w.decode("utf-8", "replace") for w in raw.split(b"\0") if w]
        try:
            done = subprocess.run(["ps", "-o", "args=", "-p", str(pid)], capture_output=True, text=True,
                                  timeout=PS_TIMEOUT, encoding="utf-8", errors="replace")
        except (OSError, subprocess.TimeoutExpired):
            return []
        return done.stdout.split() if done.returncode == 0 else []


def read_environ(pid: int, names: Sequence[str] = CONFIG_ENV, root: str = "/proc") -> dict[str, str] | None:
    """The variables ``names`` of ``pid``'s environment from ``/proc/<pid>/environ``
    (NUL-separated ``NAME=value``, as the process was started; a later ``setenv`` inside it
    does not show); None when it cannot be read (another user's process, or it ended)."""
    try:
        with open(f"{root}/{pid}/environ", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    wanted = {name.encode(): name for name in names}
    found: dict[str, str] = {}
    for item in raw.split(b"\0"):
        name, eq, value = item.partition(b"=")
        if eq and name in wanted:
            found[wanted[name]] = value.decode("utf-8", "surrogateescape")
    return found


def ps_environments(pids: Sequence[int], names: Sequence[str] = CONFIG_ENV) -> dict[int, dict[str, str]]:
    """Where there is no ``/proc`` (macOS): one ``ps eww -o pid=,command= -p <pids>``, whose
    command column is the arguments followed by the environment, all joined by spaces. That
    cannot be split exactly: a value is read up to the next space (a path with a space in it is
    cut short, and then simply not found), and the last ``NAME=`` wins, since the environment
    comes after the arguments. Only the user's own processes show their environment."""
    env = {**os.environ, "LC_ALL": "C"}
    try:
        done = subprocess.run(["ps", "eww", "-o", "pid=,command=", "-p", ",".join(str(p) for p in pids)],
                              capture_output=True, text=True, env=env, timeout=PS_TIMEOUT, encoding="utf-8",
                              errors="replace")
    except (OSError, subprocess.TimeoutExpired):
        return {}
    found: dict[int, dict[str, str]] = {}
    patterns = {name: re.compile(rf"(?:^|\s){re.escape(name)}=(\S+)") for name in names}
    for line in done.stdout.splitlines():
        pid_text, _, rest = line.strip().partition(" ")
        if not pid_text.isdigit():
            continue
        values = {}
        for name, pattern in patterns.items():
            hits = pattern.findall(rest)
            if hits:
                values[name] = hits[-1]
        found[int(pid_text)] = values
    return found


def foreground_commands(ttys: Iterable[str]) -> dict[str, list[str]]:
    """One read of the process table for all of ``ttys`` (``/dev/pts/3``): the commands of
    each one's foreground process group."""
    return ProcessTable.read().foreground_commands(ttys)


def only_shells(commands: Sequence[str]) -> bool:
    """True when every command is a shell: typed text would run as a command line.

    Anything else (``claude``, a version string such as ``2.1.328``, ``node`` under
    ``npx``, an editor) owns the keyboard. No commands at all says nothing: False.
    """
    return bool(commands) and all(c in SHELLS for c in commands)
