#!/usr/bin/env python3
"""The one module that runs tmux (docs/README.md, "One path to tmux").

Every tmux command goes through :meth:`Tmux.run`: an argument list (never a shell
string), the server selected explicitly by socket path, and a :class:`TmuxError`
carrying the command and tmux's stderr when tmux complains. libtmux creates sessions
and windows, where its typed objects fit (its errors become :class:`TmuxError` too);
reading panes, pasting and capturing go through ``run`` because they need stdin,
exact targets and batched commands, which libtmux does not offer.

Run as a script it prints a snapshot of every pane on the server:
``python3 tmux_utils.py`` (readable text) or ``python3 tmux_utils.py --json``.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import orc  # noqa: F401  (puts the suite's dependency folder on sys.path)
from orc.agent_registry import (
    PaneIdentity, RegistryEntry, agent_config_dirs, default_config_dirs, match_panes, read_entries,
)
from orc.agent_state import AgentState, classify, combine, from_hook, from_registry, with_usage_limit
from orc.hook_events import latest_reports
from orc.process_groups import ProcessTable

if TYPE_CHECKING:
    import libtmux

    from orc.settings import Settings

SEP = "\x1f"  # unit separator: cannot appear in tmux names typed by a person
PANE_FORMAT = SEP.join(
    (
        "#{session_name}",
        "#{window_index}",
        "#{pane_index}",
        "#{pane_id}",
        "#{window_active}",
        "#{pane_active}",
        "#{pane_current_command}",
        "#{pane_in_mode}",
        "#{pane_dead}",
        "#{pane_width}",
        "#{pane_height}",
        "#{pane_current_path}",
        "#{pane_tty}",
        "#{window_id}",
        "#{window_name}",  # last: a window name may contain anything, even the separator
    )
)


class TmuxError(RuntimeError):
    """tmux failed; ``command`` is the argument list, ``stderr`` what tmux said."""

    def __init__(self, command: Sequence[str], stderr: str, returncode: int) -> None:
        self.command = list(command)
        self.stderr = stderr.strip()
        self.returncode = returncode
        super().__init__(self.stderr or f"tmux exited with {returncode}")


class NoServerError(TmuxError):
    """No tmux server listens on the socket."""


class TargetNotFound(LookupError):
    """The target names no pane on this server (never silently another one: docs/delivery.md, "Exact targets")."""


class BadTarget(ValueError):
    """The target is not of a form this suite accepts."""


TARGET_FORMS = "session:window, session:window.pane, session:window-name or %pane_id"


@dataclass(frozen=True)
class Pane:
    session: str
    window_index: int
    window_name: str
    pane_index: int
    pane_id: str
    window_active: bool
    pane_active: bool
    current_command: str
    in_mode: bool
    dead: bool
    width: int
    height: int
    current_path: str
    tty: str = ""         # "/dev/pts/3": whose foreground process group owns the keyboard
    window_id: str = ""   # "@4": stable while the window lives, unlike its index

    @property
    def address(self) -> str:
        """``session:window.pane``, the form a person reads."""
        return f"{self.session}:{self.window_index}.{self.pane_index}"


@dataclass(frozen=True)
class PaneSnapshot:
    pane: Pane
    state: str
    lines: tuple[str, ...]
    agent: AgentState = AgentState("unknown", "screen")  # the state with its source, age, session

    def as_json(self) -> dict[str, object]:
        a = self.agent
        return {**asdict(self.pane), "state": self.state, "source": a.source,
                "age": None if a.age is None else round(a.age, 3), "session_id": a.session_id,
                "version": a.version, "transcript_path": a.transcript_path, "detail": a.detail,
                "agent_pid": a.pid, "lines": list(self.lines)}


@dataclass(frozen=True)
class StateSources:
    """Where a snapshot reads the agents' own record besides the screen."""

    config_dirs: tuple[Path, ...] = ()
    registry_source: str = "files"      # files, cli (claude agents --json) or off
    claude_bin: str | None = None       # for the ``cli`` source and the fallback to it
    hooks_state_dir: Path | None = None # where ``orc hook`` records each pane's latest event
    # Also the config dir each pane's agent was started with (its environment): agents with a
    # CLAUDE_CONFIG_DIR or HOME of their own are found with no setting (docs/agent-record.md).
    agent_environ: bool = True

    @classmethod
    def default(cls) -> StateSources:
        return cls(default_config_dirs(os.environ))

    @classmethod
    def from_settings(cls, settings: Settings) -> StateSources:
        return cls(settings.claude_config_dirs, settings.registry_source, settings.claude_bin, settings.state_dir)


def pane_states(panes: Sequence[Pane], screens: Sequence[Sequence[str]], agent_kind: str,
                sources: StateSources, socket: Path | None = None) -> list[AgentState]:
    """Each pane's one state (orc.agent_state.combine) from its screen, its terminal's
    foreground process group, the agents' registry and their hooks' latest reports (of
    the tmux server at ``socket`` only): one read of the process table (``/proc``, else one
    ``ps``), one of the registry and one of
    the hook reports for all of them. The registry is read from ``sources.config_dirs`` and
    from the config dir each pane's agent process was started with (read once per process)."""
    table = ProcessTable.read()
    ttys = [p.tty for p in panes]
    groups = table.foreground(ttys) if table.processes else {}
    agent_dirs: tuple[Path, ...] = ()
    if sources.agent_environ and sources.registry_source != "off" and groups:
        agent_dirs = agent_config_dirs(table, ttys, groups)
    entries = read_entries(sources.config_dirs, table, sources.registry_source, sources.claude_bin, agent_dirs)
    identities = [PaneIdentity(p.pane_id, p.session, p.window_id, p.tty) for p in panes]
    joined: dict[str, RegistryEntry] = match_panes(entries, identities, table) if entries else {}
    foreground = {tty: [p.command for p in group] for tty, group in groups.items()}
    reports = latest_reports(sources.hooks_state_dir, socket=socket) if sources.hooks_state_dir else {}
    now = time.time()
    result = []
    for pane, lines in zip(panes, screens):
        screen = classify(lines, pane, agent_kind, foreground.get(pane.tty) if table.processes else None)
        entry = joined.get(pane.pane_id)
        registry = from_registry(entry, now) if entry is not None else None
        report = reports.get(pane.pane_id)
        hook = from_hook(report, now) if report is not None else None
        result.append(with_usage_limit(combine(screen, registry, hook, shell_certain=bool(table.processes)), lines))
    return result


@dataclass(frozen=True)
class ParsedTarget:
    """A target split into its parts; exactly one of pane_id or session is set."""

    pane_id: str | None = None
    session: str | None = None
    window: str | None = None
    pane_index: int | None = None


def parse_target(target: str) -> ParsedTarget:
    """Split ``target`` without asking tmux; raise :class:`BadTarget` for other forms."""
    if re.fullmatch(r"%\d+", target):
        return ParsedTarget(pane_id=target)
    session, colon, window = target.partition(":")
    session = session.removeprefix("=")
    if not colon or not session or not window or any(c in session for c in ".:") or "\n" in target:
        raise BadTarget(f"target {target!r} is not one of: {TARGET_FORMS}")
    indexed = re.fullmatch(r"(.+)\.(\d+)", window)
    if indexed:
        return ParsedTarget(session=session, window=indexed.group(1), pane_index=int(indexed.group(2)))
    return ParsedTarget(session=session, window=window)


def _parse_pane_line(line: str) -> Pane:
    f = line.split(SEP, 14)
    return Pane(
        session=f[0],
        window_index=int(f[1]),
        pane_index=int(f[2]),
        pane_id=f[3],
        window_active=f[4] == "1",
        pane_active=f[5] == "1",
        current_command=f[6],
        in_mode=f[7] == "1",
        dead=f[8] == "1",
        width=int(f[9]),
        height=int(f[10]),
        current_path=f[11],
        tty=f[12],
        window_id=f[13],
        window_name=f[14],
    )


def trim_screen(text: str) -> list[str]:
    """Screen lines without the blank rows below the last drawn line."""
    lines = text.split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


class Tmux:
    """One tmux server, addressed by its socket path."""

    def __init__(self, socket: Path, binary: str = "tmux") -> None:
        self.socket = Path(socket)
        self.binary = binary

    def run(self, *args: str, input: str | None = None) -> str:
        """Run one tmux command line (``;`` as its own argument chains commands); return stdout."""
        command = [self.binary, "-S", str(self.socket), *args]
        try:
            done = subprocess.run(
                command, input=input, capture_output=True, text=True, encoding="utf-8", errors="replace"
            )
        except FileNotFoundError:
            raise TmuxError(command, f"tmux binary not found: {self.binary}", 127) from None
        if done.returncode != 0:
            stderr = done.stderr
            no_server = "no server running" in stderr or "error connecting to" in stderr
            raise (NoServerError if no_server else TmuxError)(command, stderr, done.returncode)
        return done.stdout

    # --- reading -----------------------------------------------------------------

    def is_running(self) -> bool:
        try:
            self.run("list-sessions", "-F", "#{session_name}")
        except NoServerError:
            return False
        return True

    def list_panes(self) -> list[Pane]:
        """Every pane on the server, in one tmux invocation; empty when no server runs."""
        try:
            out = self.run("list-panes", "-a", "-F", PANE_FORMAT)
        except NoServerError:
            return []
        return [_parse_pane_line(line) for line in out.splitlines() if line]

    def list_sessions(self) -> list[str]:
        return sorted({pane.session for pane in self.list_panes()})

    def list_windows(self) -> list[Pane]:
        """The active pane of each window, ordered by session and window index."""
        return sorted(
            (p for p in self.list_panes() if p.pane_active),
            key=lambda p: (p.session, p.window_index),
        )

    def find_windows(self, name: str) -> list[Pane]:
        """Windows whose name is exactly ``name`` (their active panes)."""
        return [p for p in self.list_windows() if p.window_name == name]

    def resolve(self, target: str, panes: Sequence[Pane] | None = None) -> Pane:
        """The pane ``target`` names, matched exactly; :class:`TargetNotFound` otherwise."""
        wanted = parse_target(target)
        panes = self.list_panes() if panes is None else panes
        if wanted.pane_id is not None:
            for pane in panes:
                if pane.pane_id == wanted.pane_id:
                    return pane
            raise TargetNotFound(f"no pane {target} on the tmux server at {self.socket}")
        in_session = [p for p in panes if p.session == wanted.session]
        if not in_session:
            raise TargetNotFound(f"no tmux session named {wanted.session!r} on {self.socket}")
        in_window = _window_panes(in_session, wanted.window or "")
        pane_index = wanted.pane_index
        if not in_window and pane_index is not None:
            # "build.2" may be a window whose name has a dot, not pane 2 of "build".
            in_window, pane_index = _window_panes(in_session, f"{wanted.window}.{pane_index}"), None
        if not in_window:
            raise TargetNotFound(f"no window {wanted.window!r} in session {wanted.session!r}")
        for pane in in_window:
            if (pane.pane_active if pane_index is None else pane.pane_index == pane_index):
                return pane
        raise TargetNotFound(f"no pane {pane_index} in window {wanted.session}:{wanted.window}")

    def capture(self, pane_id: str) -> list[str]:
        """The visible screen of one pane, trailing blank rows removed."""
        return trim_screen(self.run("capture-pane", "-p", "-t", pane_id))

    def pane(self, pane_id: str) -> Pane:
        """Fresh facts about one pane; :class:`TargetNotFound` if it is gone."""
        try:
            out = self.run("display-message", "-p", "-t", pane_id, PANE_FORMAT)
        except TmuxError as exc:
            raise TargetNotFound(f"pane {pane_id} is gone ({exc.stderr})") from None
        found = _parse_pane_line(out.rstrip("\n"))
        if found.pane_id != pane_id:  # display-message falls back to another pane (docs/delivery.md, "Exact targets")
            raise TargetNotFound(f"pane {pane_id} is gone")
        return found

    def look(self, pane_id: str, agent_kind: str = "claude", sources: StateSources | None = None) -> PaneSnapshot:
        """One pane's facts, screen and agent state (two tmux invocations, the process table)."""
        pane = self.pane(pane_id)
        lines = tuple(self.capture(pane_id))
        agent = pane_states([pane], [lines], agent_kind, sources or StateSources.default(), self.socket)[0]
        return PaneSnapshot(pane, agent.state, lines, agent)

    def snapshot(self, last_lines: int = 20, agent_kind: str = "claude",
                 sources: StateSources | None = None) -> list[PaneSnapshot]:
        """Every pane with its state and last lines, in two tmux invocations whatever the count
        (plus one read of the process table and one of the agents' registry).

        The captures run as one chained command; each is preceded by a marker line
        carrying a random token, so pane contents can never fake a boundary.
        """
        for _attempt in range(3):
            panes = self.list_panes()
            if not panes:
                return []
            token = secrets.token_hex(8)
            args: list[str] = []
            for number, pane in enumerate(panes):
                # The marker holds a number, not the pane id: display-message runs its
                # template through strftime, which mangles "%3".
                args += ["display-message", "-p", "-t", pane.pane_id, f"{token} {number}", ";"]
                args += ["capture-pane", "-p", "-t", pane.pane_id, ";"]
            try:
                out = self.run(*args[:-1])
            except TmuxError:
                continue  # a pane closed between the listing and the captures: list again
            screens = _split_marked(out, token)
            every = [trim_screen(screens.get(str(number), "")) for number in range(len(panes))]
            agents = pane_states(panes, every, agent_kind, sources or StateSources.default(), self.socket)
            return [PaneSnapshot(pane, agent.state, tuple(lines[-last_lines:] if last_lines else []), agent)
                    for pane, lines, agent in zip(panes, every, agents)]
        raise TmuxError(["snapshot"], "panes kept changing during three attempts", 1)

    # --- acting --------------------------------------------------------------------

    def paste(self, pane_id: str, text: str) -> None:
        """Paste ``text`` into a pane byte-exact (docs/delivery.md, "Typing text safely").

        The text travels on stdin into a uniquely named buffer (no argv limits, no
        key-name or ``;`` parsing), and is pasted with bracketed-paste markers when
        the application asked for them (``-p``), newlines kept as LF (``-r``), and
        the buffer deleted afterwards (``-d``), leaving the user's own buffers alone.
        """
        buffer = f"orc-{secrets.token_hex(6)}"
        self.run("load-buffer", "-b", buffer, "-", input=text)
        try:
            self.run("paste-buffer", "-p", "-r", "-d", "-b", buffer, "-t", pane_id)
        except TmuxError:
            self._drop_buffer(buffer)
            raise

    def _drop_buffer(self, buffer: str) -> None:
        try:
            self.run("delete-buffer", "-b", buffer)
        except TmuxError:
            pass

    def send_key(self, pane_id: str, key: str) -> None:
        """Press one named key (``Enter``, ``Escape``...), as its own tmux command."""
        self.run("send-keys", "-t", pane_id, key)

    def type_literal(self, pane_id: str, text: str) -> None:
        """Type ``text`` as literal keys (``-l``), for panes without bracketed paste."""
        self.run("send-keys", "-t", pane_id, "-l", "--", text)

    def leave_copy_mode(self, pane_id: str) -> None:
        self.run("send-keys", "-t", pane_id, "-X", "cancel")

    def _libtmux(self) -> libtmux.Server:
        """A libtmux server object that runs this tmux binary on this socket.

        The one place that knows the libtmux releases apart (docs/python-and-dependencies.md):
        0.62 (Python 3.10+) takes ``tmux_bin``; 0.46 (the newest for Python 3.9) has no such
        parameter, swallows it unnoticed, and runs the first ``tmux`` on PATH. Rather than let
        it drive another tmux than the one configured, that case is an error naming the fix.
        """
        # Imported here, not at the top: `python3 tmux_utils.py` in a copied suite builds
        # its dependency folder in main() before anything needs libtmux.
        import libtmux

        if "tmux_bin" in inspect.signature(libtmux.Server).parameters:
            return libtmux.Server(socket_path=self.socket, tmux_bin=self.binary)
        on_path = shutil.which("tmux")
        configured = shutil.which(self.binary)
        if on_path is None or configured is None or not os.path.samefile(on_path, configured):
            raise TmuxError(
                [self.binary, "new-session"],
                f"libtmux {libtmux.__version__} (the release for Python {sys.version_info[0]}.{sys.version_info[1]}) "
                f"can only run the tmux first on PATH ({on_path or 'none'}), not {self.binary}; put its folder "
                "first on PATH or run the suite with Python 3.10+ (ORC_PYTHON)", 1)
        return libtmux.Server(socket_path=self.socket)

    def new_session(self, name: str, window_name: str, command: str, cwd: str, width: int = 200, height: int = 50) -> Pane:
        """Start a detached session whose first window runs ``command``; return its pane."""
        from libtmux.exc import LibTmuxException

        try:
            session = self._libtmux().new_session(
                session_name=name, window_name=window_name, window_command=command, start_directory=cwd,
                x=width, y=height, attach=False,
            )
        except LibTmuxException as exc:
            raise TmuxError(["new-session", "-s", name], str(exc), 1) from None
        return self._created(session.active_pane, ["new-session", "-s", name])

    def new_window(self, session: str, window_name: str, command: str, cwd: str) -> Pane:
        """Add a window running ``command`` to the session named exactly ``session``."""
        from libtmux.exc import LibTmuxException

        try:
            found = self._libtmux().sessions.get(session_name=session, default=None)
            if found is None:
                raise TargetNotFound(f"no tmux session named {session!r} on {self.socket}")
            window = found.new_window(window_name=window_name, window_shell=command, start_directory=cwd,
                                      attach=False)
        except LibTmuxException as exc:
            raise TmuxError(["new-window", "-t", session], str(exc), 1) from None
        return self._created(window.active_pane, ["new-window", "-t", session])

    def _created(self, pane: libtmux.Pane | None, command: list[str]) -> Pane:
        """Our record of the pane libtmux just created (tmux names none for a failed start)."""
        if pane is None or pane.pane_id is None:
            raise TmuxError(command, "tmux created no pane", 1)
        return self.pane(pane.pane_id)

    def respawn(self, pane_id: str, command: str, cwd: str) -> None:
        """Replace whatever runs in the pane with ``command`` (kills it first)."""
        self.run("respawn-pane", "-k", "-t", pane_id, "-c", cwd, command)

    def has_session(self, name: str) -> bool:
        return name in self.list_sessions()

    def kill_session(self, name: str) -> None:
        self.run("kill-session", "-t", f"={name}")

    def keep_on_exit(self, pane_id: str) -> None:
        """Keep the pane (dead, with its last screen) when its program exits, so an exited
        agent shows as ``dead`` instead of its window vanishing, and can be respawned."""
        self.run("set-option", "-p", "-t", pane_id, "remain-on-exit", "on")

    def pane_pid(self, pane_id: str) -> int:
        """Process id of the program running in the pane (changes when it is respawned)."""
        out = self.run("display-message", "-p", "-t", pane_id, "#{pane_id} #{pane_pid}").split()
        if len(out) != 2 or out[0] != pane_id:  # display-message falls back to another pane (docs/delivery.md, "Exact targets")
            raise TargetNotFound(f"pane {pane_id} is gone")
        return int(out[1])


def _window_panes(in_session: Sequence[Pane], window: str) -> list[Pane]:
    """Panes of the window with this index, else with exactly this name (ambiguity is an error)."""
    if window.isdigit():
        by_index = [p for p in in_session if p.window_index == int(window)]
        if by_index:
            return by_index
    by_name = [p for p in in_session if p.window_name == window]
    if len({p.window_index for p in by_name}) > 1:
        raise TargetNotFound(f"several windows are named {window!r}; use the window index")
    return by_name


def _split_marked(out: str, token: str) -> dict[str, str]:
    """Screens by marker number, from the output of the chained captures."""
    screens: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in out.split("\n"):
        if line.startswith(token + " "):
            current = screens.setdefault(line[len(token) + 1 :], [])
        elif current is not None:
            current.append(line)
    return {number: "\n".join(lines) for number, lines in screens.items()}


# --- command line ------------------------------------------------------------------


def _positive_count(text: str) -> int:
    """argparse type for a count: a whole number of at least 1 (else bad usage, exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a count; give 1 or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tmux_utils.py",
        description="Snapshot every pane on the tmux server: session, window, pane id, "
        "command, agent state with its source (registry: Claude Code's own session registry; "
        "hook; screen), its age, the agent's session id and version, and last lines.",
        epilog="examples:\n"
        "  python3 tmux_utils.py                 # readable text\n"
        "  python3 tmux_utils.py --json --lines 5\n"
        "  ORC_TMUX_SOCKET=/tmp/tmux-1000/work python3 tmux_utils.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--lines", type=_positive_count, default=10, metavar="N",
                        help="last N screen lines per pane, at least 1 (default 10)")
    parser.add_argument("--debug", action="store_true", help="show a traceback on errors")
    return parser


def format_snapshot(snapshots: Sequence[PaneSnapshot]) -> str:
    out: list[str] = []
    for snap in snapshots:
        p = snap.pane
        a = snap.agent
        facts = f"state={snap.state} source={a.source}"
        if a.age is not None:
            facts += f" age={a.age:.1f}s"
        if a.session_id:
            facts += f" session={a.session_id} version={a.version or '?'}"
        if a.detail:
            facts += f" ({a.detail})"
        out.append(f"== {p.address} [{p.window_name}] {p.pane_id} cmd={p.current_command} {facts}")
        out.extend(f"   {line}" for line in snap.lines)
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from orc.deps import ensure_runtime

    ensure_runtime()
    from orc.settings import SettingsError, load_settings

    try:
        settings = load_settings()
        tmux = Tmux(settings.tmux_socket, settings.tmux_bin)
        snapshots = tmux.snapshot(args.lines, settings.agent_kind, StateSources.from_settings(settings))
    except (SettingsError, TmuxError) as exc:
        if args.debug:
            raise
        print(f"tmux_utils.py: error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([s.as_json() for s in snapshots], indent=2))
    elif snapshots:
        print(format_snapshot(snapshots))
    else:
        print(f"no tmux server with panes at {settings.tmux_socket}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
