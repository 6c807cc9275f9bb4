"""Shared fixtures: a real, isolated tmux server per test (libtmux's plugin), private
state in a temp folder, and agents started in panes of that server."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support import FAKE_AGENT, SUITE, Agent, crontab, machine_lock, socket_path_of, wait_for  # noqa: E402
from libtmux import Server  # noqa: E402

from orc.settings import Settings, load_settings  # noqa: E402
from tmux_utils import Tmux  # noqa: E402

def pytest_configure(config: pytest.Config) -> None:
    """Load libtmux's plugin (the ``server`` fixture) also when pytest runs without the
    Makefile's PYTHONPATH, where its entry point is not visible at start-up."""
    if not config.pluginmanager.has_plugin("libtmux"):
        import libtmux.pytest_plugin

        config.pluginmanager.register(libtmux.pytest_plugin, "libtmux")


@pytest.fixture(scope="session", autouse=True)
def users_crontab_untouched() -> Iterator[None]:
    """The whole run leaves the real user's crontab exactly as it found it (a few tests
    replace it for a while; a write landing after their restore would show here)."""
    if not shutil.which("crontab"):
        yield
        return
    with machine_lock():
        before = crontab("-l")
    yield
    with machine_lock():
        after = crontab("-l")
    assert (after.returncode, after.stdout) == (before.returncode, before.stdout), "the run changed your crontab"


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


@pytest.fixture(scope="session")
def claude_binary() -> Path:
    """The Claude Code binary (end-to-end tier): the pinned version, or CLAUDE_CODE_VERSION,
    installed into .deps/npm/<version> on first use.

    A failed install fails the test: CI must not pass by skipping the real agent."""
    done = subprocess.run(["bash", str(SUITE / "tests" / "e2e" / "install_claude.sh")], capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, f"cannot install Claude Code: {done.stderr.strip()}"
    return Path(done.stdout.strip())
