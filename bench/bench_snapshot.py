#!/usr/bin/env python3
"""Snapshot of every pane: tmux_utils vs the original's one-process-per-window way.

Starts a private tmux server (never the user's), fills it with N windows running a
shell that printed a few lines, and times:
- ``snapshot(Tmux)``: one listing plus one chained capture command, whatever N;
- the baseline the original suite used: ``list-sessions``, then per window one
  ``display-message`` for its facts and one ``capture-pane`` for its screen.

Usage: python3 bench/bench_snapshot.py [--windows 10 50 200] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench_setup import private_tmux, timed  # first: puts the suite on sys.path
from tmux_utils import Tmux
from orc.record.snapshot import snapshot


def fill(tmux: Tmux, windows: int, cwd: str) -> None:
    command = "printf 'line one\\nline two\\nline three\\n'; exec sh"
    tmux.new_session("bench", "w0", command, cwd, width=120, height=40)
    for n in range(1, windows):
        tmux.new_window("bench", f"w{n}", command, cwd)


def baseline(tmux: Tmux) -> int:
    """The original's way; returns the number of windows read."""
    binary, sock = tmux.binary, str(tmux.socket)
    sessions = subprocess.run([binary, "-S", sock, "list-sessions", "-F", "#{session_name}"],
                              capture_output=True, text=True, check=True).stdout.split()
    count = 0
    for session in sessions:
        windows = subprocess.run([binary, "-S", sock, "list-windows", "-t", session, "-F", "#{window_index}"],
                                 capture_output=True, text=True, check=True).stdout.split()
        for index in windows:
            target = f"{session}:{index}"
            subprocess.run([binary, "-S", sock, "display-message", "-p", "-t", target,
                            "#{window_name} #{pane_current_command}"], capture_output=True, text=True, check=True)
            subprocess.run([binary, "-S", sock, "capture-pane", "-p", "-t", target],
                           capture_output=True, text=True, check=True)
            count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--windows", type=int, nargs="+", default=[10, 50, 200])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"{'windows':>8} {'snapshot median':>16} {'baseline median':>16} {'speed-up':>9}")
    for windows in args.windows:
        with tempfile.TemporaryDirectory(prefix="orc-bench-") as folder:
            with private_tmux(Path(folder) / "tmux.sock") as tmux:
                fill(tmux, windows, folder)
                deadline = time.monotonic() + 30  # wait until every window has drawn its lines
                while time.monotonic() < deadline:
                    snaps = snapshot(tmux)
                    if len(snaps) == windows and all("line three" in s.lines for s in snaps):
                        break
                    time.sleep(0.1)
                else:
                    raise SystemExit("bench: windows did not start in 30 s")
                assert baseline(tmux) == windows
                fast = statistics.median(timed(lambda: snapshot(tmux), args.repeat))
                slow = statistics.median(timed(lambda: baseline(tmux), args.repeat))
        print(f"{windows:>8} {fast * 1000:>13.1f} ms {slow * 1000:>13.1f} ms {slow / fast:>8.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
