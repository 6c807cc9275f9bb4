"""Claude Code's session registry: which agents run, in which tmux pane, doing what.

Each running Claude Code (2.1.328 and later) keeps ``<config dir>/sessions/<pid>.json``
up to date (docs/agent-record.md): its ``pid`` and ``procStart``, ``sessionId``, ``cwd``,
``version``, ``kind``, ``tmux`` (``"<session>:@<window id>.%<pane id>"``, from the
environment it was started in), ``status`` (``idle``, ``busy``, ``waiting``) with
``waitingFor`` and ``statusUpdatedAt`` (ms). The session writes it itself, so it is right
in every launch form, whatever process tmux sees as the pane's leader.

A file outlives a crash and a pid is reused, so an entry counts only while its process
lives *and* started when the entry says (``procStart``: on Linux the start time field of
``/proc/<pid>/stat``; elsewhere ``ps -o lstart=`` in the C locale and UTC, the same text
Claude Code records). ``claude agents --json`` prints the same list for scripts, but
without the pane, the version or the status's age, and costs a whole CLI start (about
0.2 s and 130 MB) against well under a millisecond for the files (bench/bench_registry.py):
the files are read first, the command only when the files cannot be read.

Which config dirs: ``ORC_CLAUDE_CONFIG_DIRS`` (colon-separated) when set, else
``CLAUDE_CONFIG_DIR``, else ``~/.claude``; and, with no setting at all, the one each pane's
agent was started with (:func:`agent_config_dirs`: its own ``CLAUDE_CONFIG_DIR``, else its
``HOME``'s ``.claude``, read from the agent process's environment), so agents of several
accounts are all found.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orc.record.profiles import SHELLS
from orc.record.process_groups import Process, ProcessTable

# "team:@0.%0": session name (may hold anything but the last ":@"), window id, pane id.
_TMUX_FIELD = re.compile(r"^(?P<session>.*):(?P<window>@\d+)\.(?P<pane>%\d+)$")
CLI_TIMEOUT = 10.0
STATUSES = ("idle", "busy", "waiting")


@dataclass(frozen=True)
class RegistryEntry:
    pid: int
    session_id: str
    cwd: str
    version: str | None
    kind: str | None
    pane_id: str | None              # "%0" from the ``tmux`` field, None outside tmux
    status: str                      # idle, busy, waiting ("" when the entry says none)
    waiting_for: str | None          # e.g. "permission prompt"
    status_updated_at: float | None  # epoch seconds
    proc_start: str | None
    config_dir: Path
    tmux_session: str | None = None  # the session and window id from the ``tmux`` field
    window_id: str | None = None

    @property
    def transcript_path(self) -> Path:
        """``<config dir>/projects/<cwd, each non-alphanumeric character as ->/<session id>.jsonl``."""
        return self.config_dir / "projects" / project_slug(self.cwd) / f"{self.session_id}.jsonl"

    def age(self, now: float | None = None) -> float | None:
        """Seconds since the status last changed."""
        if self.status_updated_at is None:
            return None
        return max(0.0, (time.time() if now is None else now) - self.status_updated_at)


def project_slug(cwd: str) -> str:
    """The transcript folder's name for ``cwd`` (measured: ``/tmp/x/my.proj_dir name`` ->
    ``-tmp-x-my-proj-dir-name``)."""
    return re.sub(r"[^A-Za-z0-9]", "-", cwd)


def config_dir_of(env: Mapping[str, str]) -> Path | None:
    """The config dir a Claude Code started with ``env`` uses: ``CLAUDE_CONFIG_DIR``, else
    ``$HOME/.claude``; None when the environment names neither (an ``env -i`` start) or only
    a relative path (relative to a folder we do not know)."""
    own = env.get("CLAUDE_CONFIG_DIR", "")
    if own:
        path = Path(own)
        return path if path.is_absolute() else None
    home = env.get("HOME", "")
    return Path(home) / ".claude" if home.startswith("/") else None


# (pid, start time) -> the config dir from that process's environment (None: none found).
# A process's environment does not change after it started, so each is read once.
_DIR_OF_PROCESS: dict[tuple[int, str], Path | None] = {}


def agent_config_dirs(table: ProcessTable, ttys: Sequence[str],
                      groups: Mapping[str, Sequence[Process]] | None = None) -> tuple[Path, ...]:
    """The config dirs the agents on the terminals ``ttys`` (the panes' ``/dev/pts/N``) were
    started with: for each process of a terminal's foreground group that is not a shell (the
    agent, however it was launched: docs/agent-record.md), its own ``CLAUDE_CONFIG_DIR``, else
    its ``HOME``'s ``.claude``. Each process's environment is read once (cached by pid and
    start time, so a reused pid is read again); one that cannot be read (another user's
    process) is skipped silently. ``groups``: ``table.foreground(ttys)``, when the caller
    has it already."""
    found_groups = table.foreground(ttys) if groups is None else groups
    processes: list[Process] = [p for group in found_groups.values() for p in group if p.command not in SHELLS]
    unread = [p.pid for p in processes if (p.pid, p.started) not in _DIR_OF_PROCESS]
    if unread:
        environments = table.environments(unread)
        for process in processes:
            if process.pid in unread:
                env = environments.get(process.pid)
                _DIR_OF_PROCESS[(process.pid, process.started)] = config_dir_of(env) if env is not None else None
    for pid, started in list(_DIR_OF_PROCESS):
        running = table.by_pid.get(pid)
        if running is None or running.started != started:
            del _DIR_OF_PROCESS[(pid, started)]  # ended: its pid may come back as another process
    found: list[Path] = []
    for process in processes:
        folder = _DIR_OF_PROCESS.get((process.pid, process.started))
        if folder is not None and folder not in found:
            found.append(folder)
    return tuple(found)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_entry(data: Any, config_dir: Path) -> RegistryEntry | None:
    """One registry record (a sessions file, or an item of ``claude agents --json``)."""
    if not isinstance(data, dict):
        return None
    pid, session_id = data.get("pid"), data.get("sessionId")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0 or not isinstance(session_id, str):
        return None
    where = _TMUX_FIELD.match(data.get("tmux") or "") if isinstance(data.get("tmux"), str) else None
    updated = _number(data.get("statusUpdatedAt"))
    status = data.get("status")
    return RegistryEntry(
        pid=pid, session_id=session_id, cwd=str(data.get("cwd") or ""),
        version=_text(data.get("version")), kind=_text(data.get("kind")),
        pane_id=where.group("pane") if where else None,
        status=status if status in STATUSES else "",
        waiting_for=_text(data.get("waitingFor")),
        status_updated_at=updated / 1000.0 if updated is not None else None,
        proc_start=_text(data.get("procStart")),
        config_dir=config_dir,
        tmux_session=where.group("session") if where else None,
        window_id=where.group("window") if where else None,
    )


def linux_proc_start(pid: int) -> str | None:
    """Field 22 of ``/proc/<pid>/stat`` (start time in clock ticks), as Claude Code records it."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces or ")".
    rest = stat[stat.rfind(")") + 2:].split()
    return rest[19] if len(rest) > 19 else None


def is_live(entry: RegistryEntry, table: ProcessTable) -> bool:
    """The entry's process runs and is the one that wrote it (pids are reused)."""
    process = table.by_pid.get(entry.pid)
    if process is None:
        return False
    if entry.proc_start is None:
        return True
    if sys.platform.startswith("linux") and not table.from_proc:
        return entry.proc_start == linux_proc_start(entry.pid)  # ps gave lstart; Claude recorded ticks
    return entry.proc_start == process.started


class RegistryUnreadable(OSError):
    """The registry files could not be read at all (so ask ``claude agents --json``)."""


def read_files(config_dirs: Sequence[Path], claude_bin: str = "claude") -> list[RegistryEntry]:
    """Every entry in ``<dir>/sessions/*.json``; files being rewritten or foreign are skipped.

    Raises :class:`RegistryUnreadable` when a sessions folder exists but cannot be listed,
    or holds files none of which is an entry (a format this suite does not know).
    """
    entries: list[RegistryEntry] = []
    for config_dir in config_dirs:
        folder = Path(config_dir) / "sessions"
        try:
            names = [n for n in os.listdir(folder) if n.endswith(".json")]
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise RegistryUnreadable(f"cannot list {folder}: {exc}") from None
        parsed = 0
        for name in names:
            try:
                data = json.loads((folder / name).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # being rewritten this instant, or gone: the next snapshot sees it
            entry = parse_entry(data, Path(config_dir))
            if entry is not None:
                entries.append(entry)
                parsed += 1
        if names and not parsed:
            raise RegistryUnreadable(f"no file in {folder} is a session entry this suite can read")
    return entries


def read_cli(config_dirs: Sequence[Path], claude_bin: str = "claude") -> list[RegistryEntry]:
    """``claude agents --json`` once per config dir (it has no pane: entries join by terminal)."""
    entries: list[RegistryEntry] = []
    answered = False
    for config_dir in config_dirs:
        env = {**os.environ, "CLAUDE_CONFIG_DIR": str(config_dir),
               "DISABLE_AUTOUPDATER": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}
        try:
            done = subprocess.run([claude_bin, "agents", "--json"], capture_output=True, text=True,
                                  env=env, timeout=CLI_TIMEOUT, stdin=subprocess.DEVNULL)
            data = json.loads(done.stdout) if done.returncode == 0 else None
        except (OSError, subprocess.TimeoutExpired, ValueError):
            continue
        answered = answered or isinstance(data, list)
        for item in data if isinstance(data, list) else []:
            entry = parse_entry(item, Path(config_dir))
            if entry is not None:
                entries.append(entry)
    if config_dirs and not answered:
        raise RegistryUnreadable(f"{claude_bin} agents --json gave no list")
    return entries


def read_entries(config_dirs: Sequence[Path], table: ProcessTable, source: str = "files",
                 claude_bin: str | None = None, agent_dirs: Sequence[Path] = ()) -> list[RegistryEntry]:
    """The live entries: from the files (``source="files"``, the command when they cannot
    be read), from ``claude agents --json`` (``"cli"``), or none (``"off"``).

    ``agent_dirs`` (:func:`agent_config_dirs`: the dirs the running agents were started with)
    are read from their files too, each on its own: one that cannot be read is skipped, and
    costs no ``claude agents --json``."""
    if source == "off":
        return []
    entries: list[RegistryEntry] = []
    if config_dirs:
        # Each source falls back to the other when it cannot be read at all.
        first, second = (read_cli, read_files) if source == "cli" else (read_files, read_cli)
        try:
            entries = first(config_dirs, claude_bin or "claude")
        except RegistryUnreadable:
            try:
                entries = second(config_dirs, claude_bin or "claude")
            except RegistryUnreadable:
                entries = []
    for folder in agent_dirs:
        if folder in config_dirs:
            continue
        try:
            entries += read_files([folder])
        except RegistryUnreadable:
            continue
    return [e for e in entries if is_live(e, table)]


def read_registry(config_dirs: Sequence[Path], table: ProcessTable | None = None) -> dict[str, RegistryEntry]:
    """Pane id -> live entry, as the entries name their pane (any tmux server: use
    :func:`match_panes` to keep only the ones on the server being read)."""
    found: dict[str, RegistryEntry] = {}
    for entry in read_entries(config_dirs, table or ProcessTable.read()):
        if entry.pane_id is not None:
            found[entry.pane_id] = entry
    return found


@dataclass(frozen=True)
class PaneIdentity:
    """What a snapshot knows of a pane, to tell it from a pane of another tmux server."""

    pane_id: str
    session: str
    window_id: str
    tty: str


def match_panes(entries: Sequence[RegistryEntry], panes: Sequence[PaneIdentity],
                table: ProcessTable) -> dict[str, RegistryEntry]:
    """Pane id -> the live entry of the agent running in it, on this tmux server only.

    Pane ids repeat across tmux servers, so the ``tmux`` field alone proves nothing. An
    entry belongs to a pane when its process runs on the pane's terminal (a terminal
    belongs to one pane of one server at a time), or, where the process table tells no
    terminals at all, when pane id, session and window id all match. A process the table
    shows on no terminal is in no pane (a replaced agent still ending, after its hang-up). Of several entries on one terminal
    (an agent started inside another), the one in the foreground wins.
    """
    by_tty = {table.tty_key(p.tty): p for p in panes if p.tty}
    by_tty.pop("", None)
    by_id = {p.pane_id: p for p in panes}
    # Where the table knows terminals at all, a process it shows on none is in no pane: an
    # agent that lost its terminal is on its way out (``respawn-pane -k`` hangs it up, and it
    # takes a moment to end while its entry still names the pane it had).
    knows_terminals = any(p.tty for p in table.processes)
    found: dict[str, RegistryEntry] = {}
    rank: dict[str, tuple[int, float]] = {}
    for entry in entries:
        process = table.by_pid.get(entry.pid)
        pane: PaneIdentity | None = None
        if process is not None and process.tty:
            pane = by_tty.get(process.tty)
        elif entry.pane_id is not None and not (process is not None and knows_terminals):
            named = by_id.get(entry.pane_id)
            if named is not None and (named.session, named.window_id) == (entry.tmux_session, entry.window_id):
                pane = named
        if pane is None:
            continue
        score = (1 if process is not None and process.in_foreground else 0, entry.status_updated_at or 0.0)
        if pane.pane_id not in rank or score > rank[pane.pane_id]:
            found[pane.pane_id], rank[pane.pane_id] = entry, score
    return found
