"""Tests of tests/fake_agent.py, driven through a real tmux server on its own socket."""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import libtmux
import pytest

from support import wait_for

FAKE_AGENT = Path(__file__).with_name("fake_agent.py")
RULE = "─" * 100
SHELL = "/bin/sh"


@dataclass
class FakeAgentPane:
    server: libtmux.Server
    pane_id: str
    record: Path

    def tmux(self, *args: str, stdin: str | None = None) -> str:
        cmd = ["tmux", "-L", str(self.server.socket_name), *args]
        done = subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{cmd}: {done.stderr}"
        return done.stdout

    def screen(self) -> list[str]:
        # rstrip(" ") only: a plain rstrip() would eat the box prompt's NO-BREAK SPACE.
        return [line.rstrip(" ") for line in self.tmux("capture-pane", "-p", "-t", self.pane_id).splitlines()]

    def screen_text(self) -> str:
        return "\n".join(self.screen())

    def wait_screen(self, needle: str, timeout: float = 5.0) -> str:
        return str(wait_for(lambda: needle in (s := self.screen_text()) and s, timeout, f"{needle!r} on screen"))

    def submit(self, text: str, shown: str) -> None:
        """Paste ``text``, wait until ``shown`` is on screen, then press Enter after the
        settle delay (a deliberate pause, so the Enter is a keypress of its own)."""
        self.paste(text)
        self.wait_screen(shown)
        time.sleep(0.4)
        self.keys("Enter")

    def events(self) -> list[dict[str, Any]]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines()]

    def wait_event(self, name: str, timeout: float = 5.0) -> dict[str, Any]:
        found = wait_for(lambda: [e for e in self.events() if e["event"] == name], timeout, f"event {name}")
        return found[0]  # type: ignore[no-any-return]

    def paste_args(self, text: str) -> list[str]:
        """Loads text into a unique buffer; returns the paste-buffer command (docs/delivery.md, "Typing text safely")."""
        name = f"t-{uuid.uuid4().hex[:8]}"
        self.tmux("load-buffer", "-b", name, "-", stdin=text)
        return ["paste-buffer", "-p", "-d", "-b", name, "-t", self.pane_id]

    def paste(self, text: str) -> None:
        self.tmux(*self.paste_args(text))

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.pane_id, *keys)

    def box_lines(self) -> list[str]:
        """The input box: the lines between the last two rules, '❯ ' line first."""
        lines = self.screen()
        rules = [i for i, line in enumerate(lines) if line == RULE]
        return lines[rules[-2] + 1 : rules[-1]]


@pytest.fixture
def tmux_server() -> Iterator[libtmux.Server]:
    """A tmux server of its own; killed, and its socket file removed, at teardown."""
    server = libtmux.Server(socket_name=f"fake-agent-test-{uuid.uuid4().hex[:10]}")
    try:
        yield server
    finally:
        if server.is_alive():
            socket_path = server.cmd("display-message", "-p", "#{socket_path}").stdout[0]
            server.kill()
            # tmux 3.3a leaves the socket file behind after kill-server.
            Path(socket_path).unlink(missing_ok=True)


@pytest.fixture
def start_fake_agent(
    tmux_server: libtmux.Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., FakeAgentPane]:
    """Starts the fake agent in a 100x30 pane; when it exits the pane becomes a shell."""

    def start(*options: str) -> FakeAgentPane:
        record, ready = tmp_path / "events.jsonl", tmp_path / "ready"
        agent = shlex.join([sys.executable, str(FAKE_AGENT), "--record", str(record),
                            "--ready-file", str(ready), *options])
        # tmux draws UTF-8 as '_' unless its client's locale says UTF-8.
        if "UTF-8" not in os.environ.get("LC_ALL", "") + os.environ.get("LANG", ""):
            monkeypatch.setenv("LC_ALL", "C.UTF-8")
        session = tmux_server.new_session(
            session_name="agent", x=100, y=30, window_command=f"{agent}; exec {SHELL}",
        )
        assert session.active_pane is not None
        pane = FakeAgentPane(tmux_server, str(session.active_pane.pane_id), record)
        wait_for(ready.exists, what="the ready file")
        return pane

    return start


def test_idle_screen_layout(start_fake_agent: Callable[..., FakeAgentPane]) -> None:
    agent = start_fake_agent()
    lines = agent.screen()
    while lines and not lines[-1]:
        lines.pop()
    assert lines[-4:] == [RULE, "❯\u00a0", RULE, "  ? for shortcuts"]
    assert agent.events() == []


def test_paste_then_late_enter_submits_exact_text(start_fake_agent: Callable[..., FakeAgentPane]) -> None:
    agent = start_fake_agent()
    text = 'first line "quoted" $(rm -rf /) \'single\'\nzweite Zeile: Grüße, 你好, 🙂\nlast `x` ; end'
    agent.paste(text)
    agent.wait_screen("last `x` ; end")
    assert agent.box_lines() == ["❯\u00a0" + line if i == 0 else "  " + line for i, line in enumerate(text.split("\n"))]
    time.sleep(0.4)  # the settle delay under test, not a wait for a condition
    agent.keys("Enter")
    submitted = agent.wait_event("submitted")
    assert submitted["text"] == text
    assert isinstance(submitted["t"], float)
    assert "enter_swallowed" not in [e["event"] for e in agent.events()]
    screen = agent.wait_screen("● OK")
    assert '❯ first line "quoted"' in screen
    assert agent.box_lines() == ["❯\u00a0"]
    assert os.stat(agent.record).st_mode & 0o777 == 0o600


def test_enter_right_after_paste_is_swallowed(start_fake_agent: Callable[..., FakeAgentPane]) -> None:
    agent = start_fake_agent()
    # One tmux invocation: the Enter follows the paste within milliseconds (docs/delivery.md, "The paste race").
    agent.tmux(*agent.paste_args("hello race"), ";", "send-keys", "-t", agent.pane_id, "Enter")
    agent.wait_event("enter_swallowed")
    assert agent.box_lines() == ["❯\u00a0hello race", ""]
    assert "submitted" not in [e["event"] for e in agent.events()]


def test_typed_text_and_enter_in_one_send_keys_is_swallowed(start_fake_agent: Callable[..., FakeAgentPane]) -> None:
    agent = start_fake_agent()
    agent.keys("hello", "Enter")  # one send-keys: text and Enter reach the agent in one read
    agent.wait_event("enter_swallowed")
    assert agent.box_lines() == ["❯\u00a0hello", ""]


def test_backslash_enter_inserts_newline(start_fake_agent: Callable[..., FakeAgentPane]) -> None:
    agent = start_fake_agent()
    agent.submit("line one\\", "line one\\")
    wait_for(lambda: agent.box_lines() == ["❯\u00a0line one", ""], what="a newline in the box")
    agent.keys("-l", "x")
    wait_for(lambda: agent.box_lines() == ["❯\u00a0line one", "  x"], what="second line typed")
    assert [e["event"] for e in agent.events()] == []


def test_busy_screen_and_queued_message(start_fake_agent: Callable[..., FakeAgentPane]) -> None:
    agent = start_fake_agent("--busy-seconds", "2")
    agent.keys("-l", "a")  # single keystrokes: no burst, so the Enter counts
    agent.wait_screen("❯\u00a0a")
    agent.keys("Enter")
    screen = agent.wait_screen("esc to interrupt")
    assert "✻ Working… (esc to interrupt)" in screen
    assert "  esc to interrupt" in agent.screen()
    assert "? for shortcuts" not in screen
    agent.keys("-l", "b")
    agent.wait_screen("❯\u00a0b")
    agent.keys("Enter")
    agent.wait_screen("  ⎿  Queued · ctrl+x ctrl+s to send now")
    assert agent.box_lines() == ["❯\u00a0Press up to edit queued messages"]
    assert [e["text"] for e in agent.events() if e["event"] == "submitted"] == ["a"]
    wait_for(lambda: len([e for e in agent.events() if e["event"] == "submitted"]) == 2,
             timeout=5, what="the queued message to be submitted")
    assert agent.events()[-1]["text"] == "b"
    agent.wait_screen("? for shortcuts", timeout=5)


def test_dialog_on_raise_dialog_enter_approves(start_fake_agent: Callable[..., FakeAgentPane]) -> None:
    agent = start_fake_agent("--busy-seconds", "0.1")
    agent.submit("please RAISE_DIALOG now", "RAISE_DIALOG now")
    screen = agent.wait_screen("Do you want to proceed?")
    assert " ❯ 1. Yes" in screen
    assert screen.rstrip().splitlines()[-1] == " Esc to cancel"
    assert "? for shortcuts" not in screen
    # An incoming message's text is dropped and its Enter approves the tool (docs/agent-tui.md, "A dialog takes the next Enter").
    agent.keys("-l", "check in")
    agent.keys("Enter")
    agent.wait_event("approved")
    screen = agent.wait_screen("? for shortcuts")
    assert "check in" not in screen
    assert agent.box_lines() == ["❯\u00a0"]


def test_dialog_esc_denies(start_fake_agent: Callable[..., FakeAgentPane]) -> None:
    agent = start_fake_agent("--dialog-on-start")
    agent.wait_screen("Do you want to proceed?")
    agent.keys("Escape")
    agent.wait_event("denied")
    agent.wait_screen("? for shortcuts")
    assert "approved" not in [e["event"] for e in agent.events()]


def test_ctrl_c_twice_exits_to_shell(start_fake_agent: Callable[..., FakeAgentPane]) -> None:
    agent = start_fake_agent()
    agent.keys("-l", "draft")
    agent.wait_screen("❯\u00a0draft")
    agent.keys("C-c")  # clears the box
    wait_for(lambda: agent.box_lines() == ["❯\u00a0"], what="the box to clear")
    agent.keys("C-c", "C-c")
    agent.wait_event("exit")

    def current_command() -> str:
        return agent.tmux("display-message", "-p", "-t", agent.pane_id, "#{pane_current_command}").strip()

    wait_for(lambda: current_command() == Path(SHELL).name, what="the shell in the pane")


def test_exit_after_submit(start_fake_agent: Callable[..., FakeAgentPane]) -> None:
    agent = start_fake_agent("--exit-after-submit", "--busy-seconds", "0")
    agent.keys("-l", "q")
    agent.wait_screen("❯\u00a0q")
    agent.keys("Enter")
    agent.wait_event("exit")
    assert [e["event"] for e in agent.events()] == ["submitted", "exit"]


def test_long_transcript_shows_last_lines_and_follows_resize(start_fake_agent: Callable[..., FakeAgentPane]) -> None:
    agent = start_fake_agent("--busy-seconds", "0")
    agent.submit("\n".join(f"row {i}" for i in range(40)), "[Pasted text #1 +39 lines]")
    agent.wait_screen("● OK")
    lines = agent.screen()
    assert lines[-5:] == ["● OK", RULE, "❯\u00a0", RULE, "  ? for shortcuts"]
    assert lines[-6] == "  row 39" and "❯ row 0" not in lines
    agent.tmux("resize-window", "-t", agent.pane_id, "-x", "60", "-y", "10")
    wait_for(lambda: "─" * 60 in agent.screen(), what="a redraw at the new width")
    assert len(agent.screen()) == 10


def test_large_paste_collapses_and_trailing_whitespace_is_trimmed(start_fake_agent: Callable[..., FakeAgentPane]) -> None:
    """As Claude Code 2.1.328 does (tests/e2e/SCREENS.md): >3 lines or >800 chars collapse."""
    agent = start_fake_agent("--busy-seconds", "0")
    agent.submit("a\nb\nc", "  c")
    agent.wait_event("submitted")
    agent.submit("1\n2\n3\n4   ", "[Pasted text #1 +3 lines]")
    wait_for(lambda: len([e for e in agent.events() if e["event"] == "submitted"]) == 2, what="second submission")
    assert [e["text"] for e in agent.events() if e["event"] == "submitted"] == ["a\nb\nc", "1\n2\n3\n4"]
