"""The e2e harness works: the real Claude Code CLI, in a real tmux pane, talks to
the fake API, which records exactly what was typed and whether a tool call ran.

Run: PYTHONPATH=/tmp/probe/deps python3 -m pytest -m e2e tests/e2e/test_claude_harness.py
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from libtmux import Server

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from support import wait_for  # noqa: E402
from claude_harness import FAKE_API_KEY, claude_command, claude_env, prepare_claude_home  # noqa: E402
from fake_anthropic_api import FakeAnthropicAPI  # noqa: E402

pytestmark = pytest.mark.e2e

# Screen markers of Claude Code 2.1.328 (SCREENS.md). The idle footer differs by permission
# mode: manual ("default") mode shows "? for shortcuts" only while the box is empty and
# nothing runs; auto mode never shows it, only its mode line.
IDLE_FOOTERS = ("? for shortcuts", "⏵⏵ auto mode on")
INPUT_PROMPT = "❯\u00a0"  # the input box prompt; the transcript echo uses "❯ " (plain space)
DIALOG_QUESTION = "Do you want to proceed?"
BUSY_FOOTER = "esc to interrupt"


@pytest.fixture
def tmux_server() -> Iterator[Server]:
    """A tmux server of its own on a unique socket, killed afterwards."""
    name = f"e2e-claude-{uuid.uuid4().hex[:12]}"
    server = Server(socket_name=name)
    try:
        yield server
    finally:
        if server.is_alive():
            server.kill()
        # tmux 3.3a leaves the socket file behind after kill-server.
        socket_dir = Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.geteuid()}"
        (socket_dir / name).unlink(missing_ok=True)


@dataclass(frozen=True)
class ClaudePane:
    """A pane running the real Claude Code, with helpers to read and type into it."""

    server: Server
    target: str
    workdir: Path

    def screen(self) -> str:
        """The visible screen as plain text (``capture-pane -p``)."""
        return "\n".join(self.server.cmd("capture-pane", "-p", "-t", self.target).stdout)

    def paste(self, text: str, buffer_file: Path) -> None:
        """Type ``text`` as one bracketed paste through a named buffer (docs/delivery.md, "Typing text safely")."""
        buffer_file.write_text(text, encoding="utf-8")
        name = f"e2e-{uuid.uuid4().hex[:8]}"
        self._tmux("load-buffer", "-b", name, str(buffer_file))
        self._tmux("paste-buffer", "-p", "-d", "-b", name, "-t", self.target)

    def press(self, key: str) -> None:
        """Send one named key, e.g. ``Enter`` or ``Escape``."""
        self._tmux("send-keys", "-t", self.target, key)

    def submit(self, text: str, buffer_file: Path) -> None:
        """Paste ``text``, let the paste settle, then press Enter as its own command (docs/delivery.md, "The paste race")."""
        self.paste(text, buffer_file)
        time.sleep(0.5)  # deliberate settle delay between paste and Enter, not a wait
        self.press("Enter")

    def _tmux(self, *args: str) -> None:
        result = self.server.cmd(*args)
        if result.stderr:
            raise RuntimeError(f"tmux {' '.join(args)}: {' '.join(result.stderr)}")


def is_idle(screen: str) -> bool:
    """Empty input box, nothing running, no dialog (either permission mode)."""
    return (any(f in screen for f in IDLE_FOOTERS) and BUSY_FOOTER not in screen and INPUT_PROMPT in screen
            and DIALOG_QUESTION not in screen)


def start_pane(claude_binary: Path, tmux_server: Server, fake_api: FakeAnthropicAPI, tmp_path: Path,
               permission_mode: str | None) -> ClaudePane:
    """Claude Code started in a 100x30 pane, waited on until its input box is idle."""
    home, workdir = tmp_path / "home", tmp_path / "work"
    prepare_claude_home(home, workdir, FAKE_API_KEY, permission_mode)
    command = claude_command(claude_binary, claude_env(home, fake_api.base_url, FAKE_API_KEY), workdir)
    session = tmux_server.new_session(
        session_name="claude", window_command=command, x=100, y=30, start_directory=str(workdir)
    )
    assert session.active_pane is not None
    target = str(session.active_pane.pane_id)
    pane = ClaudePane(tmux_server, target, workdir)
    wait_for(lambda: is_idle(pane.screen()), 30, what="Claude's idle input box")
    return pane


@pytest.fixture
def claude_pane(claude_binary: Path, tmux_server: Server, fake_api: FakeAnthropicAPI, tmp_path: Path) -> ClaudePane:
    """In the run's permission mode (``ORC_E2E_PERMISSION_MODE``, else manual)."""
    return start_pane(claude_binary, tmux_server, fake_api, tmp_path, None)


@pytest.fixture
def manual_claude_pane(claude_binary: Path, tmux_server: Server, fake_api: FakeAnthropicAPI,
                       tmp_path: Path) -> ClaudePane:
    """In manual mode, where every Bash call asks in the permission dialog."""
    return start_pane(claude_binary, tmux_server, fake_api, tmp_path, "default")


@pytest.mark.parametrize(
    "prompt",
    [
        pytest.param("Check-in e2e-7f3a: status please", id="single-line"),
        # Over 3 lines: shows as "[Pasted text #1 +9 lines]" and is sent wrapped in <pasted_content>.
        pytest.param("\n".join(f"line {i} of a long note e2e-9c1d" for i in range(10)), id="collapsed-paste"),
    ],
)
def test_typed_prompt_reaches_the_api_exactly(
    claude_pane: ClaudePane, fake_api: FakeAnthropicAPI, tmp_path: Path, prompt: str
) -> None:
    claude_pane.submit(prompt, tmp_path / "buffer.txt")

    assert fake_api.wait_for_turns(1, timeout=20) == [prompt]
    first_line = prompt.splitlines()[0]
    # Proof on screen too: the prompt is echoed into the transcript with "❯ " and
    # the input box empties again once the reply has landed.
    wait_for(lambda: f"❯ {first_line}" in claude_pane.screen(), 20, what="the echoed prompt")
    wait_for(lambda: is_idle(claude_pane.screen()), 20, what="idle after the reply")
    assert fake_api.turns() == [prompt]
    assert fake_api.tool_results() == []


def test_bash_tool_use_raises_the_permission_dialog_and_is_not_run(
    manual_claude_pane: ClaudePane, fake_api: FakeAnthropicAPI, tmp_path: Path
) -> None:
    marker = manual_claude_pane.workdir / "tool-ran.txt"
    fake_api.script_next_reply_tool_use(
        "Bash", {"command": f"touch {marker}", "description": "Create the marker file"}
    )
    manual_claude_pane.submit("please run the tool e2e-d1a9", tmp_path / "buffer.txt")

    screen = str(wait_for(lambda: (s := manual_claude_pane.screen()) and DIALOG_QUESTION in s and s, 20, what="the permission dialog"))
    assert "❯ 1. Yes" in screen
    assert "Esc to cancel" in screen
    assert f"touch {marker}" in screen

    # Deliberate observation window: the dialog stays up and nothing runs.
    window_end = time.monotonic() + 2.0
    while time.monotonic() < window_end:
        assert fake_api.tool_results() == []
        assert DIALOG_QUESTION in manual_claude_pane.screen()
        time.sleep(0.2)
    assert not marker.exists()

    manual_claude_pane.press("Escape")
    wait_for(lambda: is_idle(manual_claude_pane.screen()), 20, what="idle after declining")
    assert not marker.exists()

    # Claude reports the refusal only with its next request.
    manual_claude_pane.submit("next prompt e2e-51b0", tmp_path / "buffer.txt")
    assert fake_api.wait_for_turns(2, timeout=20)[1] == "next prompt e2e-51b0"
    results = fake_api.wait_for_tool_results(1, timeout=20)
    assert len(results) == 1 and results[0].rejected
    assert not marker.exists()


def test_bash_tool_use_approved_sends_a_tool_result(
    manual_claude_pane: ClaudePane, fake_api: FakeAnthropicAPI, tmp_path: Path
) -> None:
    marker = manual_claude_pane.workdir / "approved.txt"
    manual_claude_pane.submit(f"run it [[fake-bash: touch {marker}]]", tmp_path / "buffer.txt")
    wait_for(lambda: DIALOG_QUESTION in manual_claude_pane.screen(), 20, what="the permission dialog")
    time.sleep(0.5)  # deliberate: an Enter in the dialog's first instant is ignored (SCREENS.md)
    manual_claude_pane.press("Enter")

    results = fake_api.wait_for_tool_results(1, timeout=20)
    assert not results[0].is_error
    assert marker.exists()
    wait_for(lambda: is_idle(manual_claude_pane.screen()), 20, what="idle after the tool ran")
