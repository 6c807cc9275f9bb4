"""Shared fixtures: a real, isolated tmux server per test (libtmux's plugin), private
state in a temp folder, and agents started in panes of that server."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SUITE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(SUITE))

import orc  # noqa: E402,F401  (dependency path)
from libtmux import Server  # noqa: E402

from orc.settings import Settings, load_settings  # noqa: E402
from tmux_utils import Pane, Tmux  # noqa: E402

FAKE_AGENT = SUITE / "tests" / "fake_agent.py"


def wait_for(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.05, what: str = "condition") -> object:
    """Poll ``predicate`` until it returns something truthy; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def socket_path_of(server: Server) -> Path:
    """Where libtmux's plugin server listens (it names a socket, tmux derives the path)."""
    tmpdir = Path(os.environ.get("TMUX_TMPDIR", "/tmp"))
    return tmpdir / f"tmux-{os.geteuid()}" / str(server.socket_name)


@pytest.fixture
def orc_env(server: Server, tmp_path: Path) -> dict[str, str]:
    """Environment for running the suite against this test's tmux server and state folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORC_") and k != "TMUX"}
    env.update(
        ORC_TMUX_SOCKET=str(socket_path_of(server)),
        ORC_STATE_DIR=str(tmp_path / "state"),
        ORC_SUBMIT_TIMEOUT="2",
        ORC_LOCK_TIMEOUT="20",
    )
    return env


@pytest.fixture
def settings(orc_env: dict[str, str]) -> Settings:
    return load_settings(orc_env)


@pytest.fixture
def tmux(settings: Settings) -> Tmux:
    return Tmux(settings.tmux_socket, settings.tmux_bin)


@dataclass(frozen=True)
class Agent:
    """A fake agent running in a pane; ``record`` holds one JSON line per event it saw."""

    pane: Pane
    record: Path

    def events(self) -> list[dict[str, object]]:
        import json

        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines() if line.strip()]

    def submitted(self) -> list[str]:
        return [str(e["text"]) for e in self.events() if e.get("event") == "submitted"]


@pytest.fixture
def start_agent(tmux: Tmux, tmp_path: Path) -> Callable[..., Agent]:
    """Start the fake agent in a new window (session ``team``); wait until it draws its prompt."""
    counter = iter(range(1000))

    def start(*options: str, window: str | None = None) -> Agent:
        n = next(counter)
        record = tmp_path / f"agent{n}.jsonl"
        ready = tmp_path / f"agent{n}.ready"
        command = shlex.join([sys.executable, str(FAKE_AGENT), "--record", str(record), "--ready-file", str(ready), *options])
        name = window or f"agent{n}"
        if tmux.has_session("team"):
            pane = tmux.new_window("team", name, command, str(tmp_path))
        else:
            pane = tmux.new_session("team", name, command, str(tmp_path), width=100, height=30)
        wait_for(ready.exists, what="the fake agent to draw its prompt")
        return Agent(pane, record)

    return start


def run_script(script: str, *args: str, env: dict[str, str], input: str | None = None, cwd: Path | None = None,
               timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run one of the suite's launchers as a user would."""
    return subprocess.run([str(SUITE / script), *args], env=env, input=input, capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)
