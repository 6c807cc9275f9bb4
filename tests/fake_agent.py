#!/usr/bin/env python3
"""A stand-in for the Claude Code 2.1.x TUI, for fast tests of message delivery.

It draws the screens a Claude Code classifier looks for (idle box, busy spinner, permission
dialog; see docs/agent-tui.md, "What its screen looks like"), reproduces the traps that delivery code must
survive (the paste/Enter race of an Ink TUI, `\\` + Enter, a dialog that eats the Enter, Ctrl-C
twice to exit) and writes every submission to a JSON-lines record file, so a test can tell
"submitted" from "typed but left in the box" without reading the screen.
"""
from __future__ import annotations

import argparse
import codecs
import json
import subprocess
import os
import select
import signal
import sys
import termios
import time
import tty
import unicodedata
from pathlib import Path
from typing import Any, Optional

PASTE_START = b"\x1b[200~"
PASTE_END = b"\x1b[201~"
ESC_WAIT = 0.05  # a lone ESC is the Esc key only if nothing follows within this time
CTRL_C_WINDOW = 1.0  # a second Ctrl-C on an empty box within this time exits

DIALOG = [
    " Bash command",
    "",
    "   rm -rf build",
    "",
    " Do you want to proceed?",
    " ❯ 1. Yes",
    "   2. Yes, and don't ask again for rm commands in /tmp",
    "   3. No, and tell Claude what to do differently (esc)",
    "",
    " Esc to cancel",
]

Token = tuple[str, str]  # ("text" | "paste" | "key", value)


# Claude Code shows a paste of more than 800 characters or 3 lines as a placeholder.
PASTE_COLLAPSE_CHARS = 800
PASTE_COLLAPSE_NEWLINES = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fake_agent.py",
        description="Imitate the Claude Code TUI in a tmux pane and record what gets submitted.",
        epilog="examples:\n"
        "  python3 tests/fake_agent.py --record /tmp/t/events.jsonl --ready-file /tmp/t/ready\n"
        "  python3 tests/fake_agent.py --record ev.jsonl --busy-seconds 3 --dialog-on-start\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--record", required=True, type=Path, help="JSON-lines event file (appended, 0600)")
    parser.add_argument("--busy-seconds", type=float, default=0.5, help="length of each turn (default 0.5)")
    parser.add_argument("--paste-settle-ms", type=float, default=150.0,
                        help="an Enter sooner than this after a paste or burst is a newline (default 150)")
    parser.add_argument("--exit-after-submit", action="store_true", help="exit when the first turn ends")
    parser.add_argument("--dialog-on-start", action="store_true", help="show the permission dialog at once")
    parser.add_argument("--ready-file", type=Path, help="touch this once the first screen is drawn")
    parser.add_argument("--read-input-after", type=float, default=0.0, metavar="SECONDS",
                        help="fault: draw the prompt at once but read no input for SECONDS (a program still "
                             "starting on a loaded machine: what is typed meanwhile waits in the terminal)")
    parser.add_argument("--hook-command", help="run this as the UserPromptSubmit hook on each submitted prompt")
    # Claude Code's own options the suite adds for its agents; recorded in the "started" event.
    parser.add_argument("--settings", help="like claude --settings: recorded, not read")
    parser.add_argument("--resume", help="like claude --resume <session id>: recorded")
    return parser


class InputReader:
    """Turns raw tty bytes into tokens; keeps partial escapes, pastes and UTF-8 across reads."""

    def __init__(self) -> None:
        self.pending = b""
        self.paste: Optional[bytearray] = None  # not None while inside a bracketed paste
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.escape_deadline: Optional[float] = None

    def feed(self, data: bytes, now: float) -> list[Token]:
        self.pending += data
        tokens: list[Token] = []
        while self.pending:
            if self.paste is not None:
                end = self.pending.find(PASTE_END)
                if end < 0:  # keep a tail that may be the start of a split end marker
                    keep = len(PASTE_END) - 1
                    self.paste += self.pending[:-keep]
                    self.pending = self.pending[-keep:]
                    break
                text = bytes(self.paste + self.pending[:end]).decode("utf-8", "replace")
                tokens.append(("paste", text.replace("\r\n", "\n").replace("\r", "\n")))
                self.paste, self.pending = None, self.pending[end + len(PASTE_END):]
                continue
            first = self.pending[0]
            if first == 0x1B:
                size = self._escape_length()
                if size == 0:  # incomplete: wait a little for the rest
                    break
                seq, self.pending = self.pending[:size], self.pending[size:]
                if seq == PASTE_START:
                    self.paste = bytearray()
                # other sequences (arrows, focus, Alt-keys) change nothing this stand-in shows
                continue
            if first < 0x20 or first == 0x7F:
                key = {0x0D: "enter", 0x0A: "ctrl-j", 0x7F: "backspace", 0x08: "backspace", 0x03: "ctrl-c"}
                if first in key:
                    tokens.append(("key", key[first]))
                self.pending = self.pending[1:]
                continue
            size = 0
            while size < len(self.pending) and self.pending[size] >= 0x20 and self.pending[size] != 0x7F:
                size += 1
            text = self.decoder.decode(self.pending[:size])  # keeps a split UTF-8 character
            self.pending = self.pending[size:]
            if text:
                tokens.append(("text", text))
        incomplete_escape = self.paste is None and self.pending.startswith(b"\x1b")
        self.escape_deadline = now + ESC_WAIT if incomplete_escape else None
        return tokens

    def _escape_length(self) -> int:
        """Length of the escape sequence at the start of pending, 0 if it is not complete yet."""
        buf = self.pending
        if len(buf) < 2:
            return 0
        if buf[1] == ord("["):
            for i in range(2, len(buf)):
                if 0x40 <= buf[i] <= 0x7E:
                    return i + 1
            return 0
        if buf[1] == ord("O"):
            return 3 if len(buf) >= 3 else 0
        return 2  # Alt + key

    def flush(self) -> list[Token]:
        """Called when the ESC wait ran out: a lone ESC is the Esc key, a stub is dropped."""
        tokens: list[Token] = [("key", "esc")] if self.pending == b"\x1b" else []
        self.pending, self.escape_deadline = b"", None
        return tokens


class Agent:
    """Screen state and behaviour; knows nothing about the tty."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.transcript: list[str] = []
        self.box = ""
        self.queued: list[str] = []
        self.busy_until: Optional[float] = None
        self.turn_raises_dialog = False
        self.dialog = bool(args.dialog_on_start)
        self.dialog_from_turn = False
        self.last_burst = float("-inf")
        self.last_ctrl_c = float("-inf")
        self.running = True
        self.pastes: dict[str, str] = {}

    def collapse(self, value: str) -> str:
        """A large paste shows as a placeholder in the box; the text is sent in full."""
        lines = value.count("\n")
        label = f"[Pasted text #{len(self.pastes) + 1}" + (f" +{lines} lines]" if lines else "]")
        self.pastes[label] = value
        return label

    def expand(self, box: str) -> str:
        for label, value in self.pastes.items():
            box = box.replace(label, value)
        return box

    def record(self, event: str, **fields: Any) -> None:
        # Opened per event so a test can read it at any moment and a killed agent loses nothing.
        line = json.dumps({"event": event, **fields, "t": time.time()}, ensure_ascii=False) + "\n"
        fd = os.open(self.args.record, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def exit(self, reason: str) -> None:
        self.record("exit", reason=reason)
        self.running = False

    def handle(self, tokens: list[Token], now: float) -> None:
        # Ink reads one chunk as one input event: an Enter inside a chunk that also carries text
        # is part of that text (docs/delivery.md, "The paste race").
        chunk_has_text = any(kind != "key" for kind, _ in tokens)
        for kind, value in tokens:
            if not self.running:
                return
            if self.dialog:
                self.dialog_input(kind, value)
            elif kind == "paste" and (len(value) > PASTE_COLLAPSE_CHARS or value.count("\n") > PASTE_COLLAPSE_NEWLINES):
                self.box += self.collapse(value)
            elif kind != "key":
                self.box += value
            elif value == "enter":
                self.enter(now, chunk_has_text)
            elif value == "ctrl-j":
                self.box += "\n"
            elif value == "backspace":
                self.box = self.box[:-1]
            elif value == "ctrl-c":
                self.ctrl_c(now)
            # Esc while idle does nothing, as in Claude Code.
        typed = sum(len(value) for kind, value in tokens if kind == "text")
        if typed > 1 or any(kind == "paste" for kind, _ in tokens):
            self.last_burst = now

    def enter(self, now: float, chunk_has_text: bool) -> None:
        if not self.box:
            return
        if chunk_has_text or now - self.last_burst < self.args.paste_settle_ms / 1000:
            self.box += "\n"  # the race: the text now sits in the box, unsent
            self.record("enter_swallowed")
        elif self.box.endswith("\\"):
            self.box = self.box[:-1] + "\n"  # Claude Code's line continuation (docs/agent-tui.md, "A line ending in a backslash")
        elif self.busy_until is not None:
            text, self.box = self.expand(self.box).rstrip(), ""
            self.queued.append(text)  # Claude Code queues input typed during a turn
            self.echo(text)
            self.transcript.append("  ⎿  Queued · ctrl+x ctrl+s to send now")
        else:
            text, self.box = self.expand(self.box).rstrip(), ""  # Claude trims trailing whitespace
            self.echo(text)
            self.submit(text)

    def ctrl_c(self, now: float) -> None:
        if self.box:
            self.box = ""
        elif now - self.last_ctrl_c < CTRL_C_WINDOW:
            self.exit("ctrl-c")
        else:
            self.last_ctrl_c = now

    def echo(self, text: str) -> None:
        first, *rest = text.split("\n")
        self.transcript += ["❯ " + first] + ["  " + line for line in rest]

    def submit(self, text: str) -> None:
        self.record("submitted", text=text)
        if self.args.hook_command:
            # As Claude Code runs its UserPromptSubmit hook: the event as JSON on stdin, the
            # agent's environment (TMUX, TMUX_PANE), waiting for it before the turn starts.
            payload = {"hook_event_name": "UserPromptSubmit", "session_id": "fake-session", "transcript_path": "",
                       "cwd": os.getcwd(), "prompt": text}
            subprocess.run(["sh", "-c", self.args.hook_command], input=json.dumps(payload).encode(), timeout=10,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.busy_until = time.monotonic() + self.args.busy_seconds
        self.turn_raises_dialog = "RAISE_DIALOG" in text

    def dialog_input(self, kind: str, value: str) -> None:
        # Anything but the answer keys is dropped, never typed into the box: that is how a
        # message's text gets lost and its Enter approves the tool call (docs/agent-tui.md, "A dialog takes the next Enter").
        if (kind, value) in (("key", "enter"), ("text", "1")):
            self.close_dialog("approved")
        elif (kind, value) in (("key", "esc"), ("text", "3")):
            self.close_dialog("denied")

    def close_dialog(self, answer: str) -> None:
        self.record(answer)
        self.dialog = False
        self.transcript.append("● OK" if answer == "approved" else "  ⎿ Tool use denied")
        if self.dialog_from_turn:
            self.dialog_from_turn = False
            self.turn_done()

    def tick(self, now: float) -> None:
        """Ends a turn whose time is up."""
        if self.busy_until is None or now < self.busy_until:
            return
        self.busy_until = None
        if self.turn_raises_dialog:
            self.dialog = self.dialog_from_turn = True
        else:
            self.transcript.append("● OK")
            self.turn_done()

    def turn_done(self) -> None:
        if self.args.exit_after_submit:
            self.exit("exit-after-submit")
        elif self.queued:
            self.submit(self.queued.pop(0))

    def next_deadline(self) -> Optional[float]:
        """When the screen changes on its own (turn ends, Ctrl-C hint expires)."""
        times = [t for t in (self.busy_until, self.last_ctrl_c + CTRL_C_WINDOW) if t is not None]
        future = [t for t in times if t > time.monotonic()]
        return min(future) if future else None

    def screen(self, cols: int, rows: int) -> list[str]:
        rule = "─" * cols
        lines = list(self.transcript)
        if self.busy_until is not None:
            lines.append("✻ Working… (esc to interrupt)")
        if self.dialog:
            lines += [rule] + DIALOG
        else:
            first, *rest = self.box.split("\n")
            if not self.box and self.queued:
                first = "Press up to edit queued messages"  # a dim placeholder in Claude Code
            if self.box:
                hint = "  ⏸ manual mode on"  # Claude hides the other hints while there is a draft
            elif self.busy_until is not None:
                hint = "  esc to interrupt"
            elif time.monotonic() - self.last_ctrl_c < CTRL_C_WINDOW:
                hint = "  Press Ctrl-C again to exit"
            else:
                hint = "  ? for shortcuts"
            lines += [rule, "❯\u00a0" + first] + ["  " + line for line in rest] + [rule, hint]
        wrapped = [part for line in lines for part in wrap(printable(line), cols)]
        return wrapped[-rows:]


def printable(line: str) -> str:
    """Shows control characters as symbols so pasted bytes cannot move the cursor."""
    return "".join(chr(0x2400 + ord(c)) if ord(c) < 0x20 else "�" if unicodedata.category(c) == "Cc" else c
                   for c in line)


def wrap(line: str, cols: int) -> list[str]:
    """Splits a line into pieces of at most cols terminal cells (CJK counts as two)."""
    parts: list[str] = []
    current, width = "", 0
    for char in line:
        cells = 2 if unicodedata.east_asian_width(char) in "WF" else 0 if unicodedata.combining(char) else 1
        if width + cells > cols and current:
            parts.append(current)
            current, width = "", 0
        current, width = current + char, width + cells
    return parts + [current]


def write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]


def run(args: argparse.Namespace, fd_in: int, fd_out: int) -> None:
    agent, reader = Agent(args), InputReader()
    if args.settings or args.resume:
        agent.record("started", settings=args.settings, resume=args.resume, cwd=os.getcwd())
    # Signals wake select() through this pipe; Python retries an interrupted select (PEP 475)
    # so a flag set in a handler would not be seen until the next timeout.
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGWINCH, lambda *_: None)
    drawn: list[str] = []
    reading_from = time.monotonic() + args.read_input_after
    while agent.running:
        try:
            cols, rows = os.get_terminal_size(fd_out)
        except OSError:
            cols, rows = 80, 24
        lines = agent.screen(cols, rows)
        if lines != drawn:
            write_all(fd_out, ("\x1b[H\x1b[2J" + "\r\n".join(lines)).encode())
            if not drawn and args.ready_file:
                args.ready_file.touch()
            drawn = lines
        deadlines = [d for d in (agent.next_deadline(), reader.escape_deadline) if d is not None]
        timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
        if time.monotonic() < reading_from:
            time.sleep(reading_from - time.monotonic())
        ready, _, _ = select.select([fd_in, wake_r], [], [], timeout)
        if wake_r in ready:
            os.read(wake_r, 512)
            drawn = []  # SIGWINCH: draw again at the new size
        now = time.monotonic()
        if fd_in in ready:
            data = os.read(fd_in, 65536)
            if not data:  # the pane went away
                agent.exit("eof")
                break
            agent.handle(reader.feed(data, now), now)
        elif reader.escape_deadline is not None and now >= reader.escape_deadline:
            agent.handle(reader.flush(), now)
        agent.tick(time.monotonic())


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    fd_in, fd_out = sys.stdin.fileno(), sys.stdout.fileno()
    saved = termios.tcgetattr(fd_in)

    def on_signal(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)
    tty.setraw(fd_in)
    try:
        # Bracketed paste on (tmux adds paste markers only when the app asks), own cursor hidden.
        write_all(fd_out, b"\x1b[?2004h\x1b[?25l")
        run(args, fd_in, fd_out)
    finally:
        try:  # after SIGHUP the tty may be gone; nothing left to restore then
            write_all(fd_out, b"\x1b[?2004l\x1b[?25h\r\n")
            termios.tcsetattr(fd_in, termios.TCSADRAIN, saved)
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
