"""The one path to tmux (docs/README.md, "One path to tmux").

Every tmux command goes through :meth:`Tmux.run`: an argument list (never a shell
string), the server selected explicitly by socket path, and a :class:`TmuxError`
carrying the command and tmux's stderr when tmux complains. libtmux creates sessions
and windows, where its typed objects fit (its errors become :class:`TmuxError` too);
reading panes, pasting and capturing go through ``run`` because they need stdin,
exact targets and batched commands, which libtmux does not offer.

This module knows panes and screens, not agents: what an agent in a pane is doing is
read by :mod:`orc.record.snapshot`, on top of it.
"""

from __future__ import annotations

import inspect
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import libtmux

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

    def lasting_address(self, pane: Pane) -> str:
        """``pane``'s address by its window's name, when that name is the window's own: given on
        purpose (``new-window -n``, ``rename-window``: tmux then renames it no more as its program
        changes) and held by no other window of its session. The suite starts each agent's
        window by name, and after a reboot ``deploy --resume`` starts it again by that name,
        perhaps at another index: a check-in written down by name still finds its agent.
        Otherwise :attr:`Pane.address`, by index."""
        name = pane.window_name
        if not name or name.isdigit() or name.strip() != name or any(c in name for c in ".:%\n"):
            return pane.address
        panes = [p for p in self.list_panes() if p.session == pane.session]
        if {p.window_index for p in panes if p.window_name == name} != {pane.window_index}:
            return pane.address
        if self.run("show-options", "-w", "-v", "-t", pane.pane_id, "automatic-rename").strip() != "off":
            return pane.address
        alone = sum(1 for p in panes if p.window_index == pane.window_index) == 1
        return f"{pane.session}:{name}" if alone else f"{pane.session}:{name}.{pane.pane_index}"

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

    def capture_all(self, panes: Sequence[Pane]) -> list[list[str]]:
        """The visible screens of ``panes``, in one tmux invocation whatever their count.

        The captures run as one chained command; each is preceded by a marker line
        carrying a random token, so pane contents can never fake a boundary. A pane that
        closed since it was listed fails the whole command (:class:`TmuxError`).
        """
        if not panes:
            return []
        token = secrets.token_hex(8)
        args: list[str] = []
        for number, pane in enumerate(panes):
            # The marker holds a number, not the pane id: display-message runs its
            # template through strftime, which mangles "%3".
            args += ["display-message", "-p", "-t", pane.pane_id, f"{token} {number}", ";"]
            args += ["capture-pane", "-p", "-t", pane.pane_id, ";"]
        screens = _split_marked(self.run(*args[:-1]), token)
        return [trim_screen(screens.get(str(number), "")) for number in range(len(panes))]

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
