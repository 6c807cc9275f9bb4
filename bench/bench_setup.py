"""What every script in bench/ sets up the same way; imported first, before the suite's modules.

Importing it puts the suite folder, ``tests/`` and ``tests/e2e/`` (the fake agent, the
stand-in API, the crontab and cron-daemon helpers of ``tests/support.py``) and the test tools
of ``.deps/py<X.Y>/dev`` (``tests/support.py`` imports pytest; ``make dev-deps``) on
``sys.path``, then imports ``orc``, which adds the runtime dependencies of this Python.
The rest are the pieces more than one benchmark uses: the pinned Claude Code CLI, a private
tmux server that goes away afterwards, its environment, timings and percentiles.
The user's crontab is saved and restored by ``tests/support.py`` (``users_crontab_replaced``).
"""

from __future__ import annotations

import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

SUITE = Path(__file__).resolve().parent.parent
for _folder in (SUITE / "tests" / "e2e", SUITE / "tests", SUITE):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

import orc  # noqa: E402  (puts the runtime dependencies on sys.path)

if str(orc.DEV_DEPS_DIR) not in sys.path:
    sys.path.insert(0, str(orc.DEV_DEPS_DIR))

from tmux_utils import Tmux  # noqa: E402


def claude_binary() -> Path:
    """The pinned Claude Code CLI (tests/e2e/install_claude.sh installs it once)."""
    installed = subprocess.run(["bash", str(SUITE / "tests" / "e2e" / "install_claude.sh")],
                               capture_output=True, text=True)
    if installed.returncode != 0:
        raise SystemExit(f"bench: cannot install Claude Code: {installed.stderr.strip()}")
    return Path(installed.stdout.strip())


def tmux_binary() -> str:
    return shutil.which("tmux") or "tmux"


@contextmanager
def private_tmux(socket: Path) -> Iterator[Tmux]:
    """A tmux server of the benchmark's own on ``socket`` (never the user's), killed at the end
    whatever happened."""
    tmux = Tmux(socket, tmux_binary())
    try:
        yield tmux
    finally:
        subprocess.run([tmux.binary, "-S", str(socket), "kill-server"], capture_output=True)


def suite_env(**settings: str) -> dict[str, str]:
    """This process's environment for the suite's commands, without ``TMUX`` (a benchmark
    started inside tmux must not reach that server), plus ``settings`` (``ORC_...``)."""
    return {**{k: v for k, v in os.environ.items() if k != "TMUX"}, **settings}


def timed(action: Callable[[], object], repeat: int) -> list[float]:
    """Seconds each of ``repeat`` runs of ``action`` took."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return times


def median_max_ms(times: list[float]) -> str:
    """``times`` (seconds) as ``median N ms, max N ms``."""
    return f"median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms"


def percentile(values: list[float], p: float) -> float | None:
    """The ``p``-th percentile (0-100) by the nearest-rank method; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]
