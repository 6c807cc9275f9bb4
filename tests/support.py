"""Helpers shared by the test modules and both conftests (imported as ``support``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

SUITE = Path(__file__).resolve().parent.parent
if str(SUITE) not in sys.path:
    sys.path.insert(0, str(SUITE))

import orc  # noqa: E402,F401  (dependency path)
from libtmux import Server  # noqa: E402

from tmux_utils import Pane  # noqa: E402

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


@dataclass(frozen=True)
class Agent:
    """A fake agent running in a pane; ``record`` holds one JSON line per event it saw."""

    pane: Pane
    record: Path

    def events(self) -> list[dict[str, object]]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines() if line.strip()]

    def submitted(self) -> list[str]:
        return [str(e["text"]) for e in self.events() if e.get("event") == "submitted"]


def run_script(script: str, *args: str, env: dict[str, str], input: str | None = None, cwd: Path | None = None,
               timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run one of the suite's launchers as a user would."""
    return subprocess.run([str(SUITE / script), *args], env=env, input=input, capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)
