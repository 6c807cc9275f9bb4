"""Fixtures for the end-to-end tier: the real Claude Code CLI, offline, in a pane of the
test's own tmux server, talking to a loopback stand-in of the Messages API."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from claude_harness import FAKE_API_KEY, claude_command, claude_env, prepare_claude_home  # noqa: E402
from fake_anthropic_api import FakeAnthropicAPI  # noqa: E402

from support import wait_for  # noqa: E402
from tmux_utils import Pane, Tmux  # noqa: E402


@pytest.fixture
def fake_api() -> Iterator[FakeAnthropicAPI]:
    with FakeAnthropicAPI() as api:
        yield api


@dataclass(frozen=True)
class Claude:
    pane: Pane
    workdir: Path
    api: FakeAnthropicAPI


@pytest.fixture
def start_claude(claude_binary: Path, fake_api: FakeAnthropicAPI, tmux: Tmux, tmp_path: Path) -> Callable[..., Claude]:
    """Start Claude Code in a new window of session ``team``; wait until its input box is idle.

    ``in_shell=True`` starts it from an interactive shell, so the pane is a shell after it exits.
    """

    def start(window: str = "claude", in_shell: bool = False) -> Claude:
        home, workdir = tmp_path / f"home-{window}", tmp_path / f"work-{window}"
        prepare_claude_home(home, workdir, FAKE_API_KEY)
        line = claude_command(claude_binary, claude_env(home, fake_api.base_url, FAKE_API_KEY), workdir,
                              replace_shell=not in_shell)
        command = "sh" if in_shell else line
        if tmux.has_session("team"):
            pane = tmux.new_window("team", window, command, str(workdir))
        else:
            pane = tmux.new_session("team", window, command, str(workdir), width=100, height=30)
        if in_shell:
            # Typed into an interactive shell, as a person would: Claude then leads the
            # pane's foreground process group, and the shell is back when it exits.
            wait_for(lambda: tmux.look(pane.pane_id).state == "shell", what="the shell prompt")
            tmux.type_literal(pane.pane_id, line)
            tmux.send_key(pane.pane_id, "Enter")
        wait_for(lambda: tmux.look(pane.pane_id).state == "idle", timeout=60, what="Claude Code's idle input box")
        return Claude(pane, workdir, fake_api)

    return start
