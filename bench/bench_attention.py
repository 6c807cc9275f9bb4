#!/usr/bin/env python3
"""One run of the per-minute attention check (goal: under 200 ms a run).

Reuses bench_status's setup: a private tmux server (never the user's), 5 projects with 4
fake agents each (tests/fake_agent.py), a real git repository per project; plus a
checkins.log and a git.log with a few thousand lines each, as after a long night. Times:
- ``orc.teams.attention.check()`` in-process (what the command does after Python has started);
- the whole command cron runs: ``python3 orchestrator_integration.py attention check``.
Nothing needs a person in the steady state measured (every agent idle): the cost cron pays
every minute.

Usage: python3 bench/bench_attention.py [--projects 5] [--agents 4] [--repeat 10]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
import orc  # noqa: E402,F401
from bench_status import setup  # noqa: E402
from orc.teams import attention  # noqa: E402
from orc.teams.project_config import load_config  # noqa: E402
from orc.core.settings import load_settings  # noqa: E402
from orc.core.state import log_event  # noqa: E402
from tmux_utils import Tmux  # noqa: E402

SUITE = HERE.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", type=int, default=5)
    parser.add_argument("--agents", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="orc-bench-attention-") as name:
        folder = Path(name)
        socket = folder / "tmux.sock"
        env = {**{k: v for k, v in os.environ.items() if k != "TMUX"}, "ORC_TMUX_SOCKET": str(socket),
               "ORC_STATE_DIR": str(folder / "state"), "ORC_CRONTAB_FILE": str(folder / "crontab"),
               "ORC_DEFAULT_TARGET": "orc:boss"}
        tmux = Tmux(socket, shutil.which("tmux") or "tmux")
        try:
            file = setup(folder, args.projects, args.agents, tmux)
            env["ORC_PROJECT_CONFIG"] = str(file)
            settings = load_settings(env)
            projects = list(load_config(file).projects)
            for i in range(3000):  # a night of logs
                log_event(settings.state_dir / "checkins.log", "delivered", id=f"ck-{i:08x}", target="proj0:PM")
                log_event(settings.state_dir / "git.log", "backup", project=f"proj{i % args.projects}", why="timer",
                          result="committed", commit=f"{i:012x}", files=3, reason="backed up 3 file(s)")
            inproc = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                raised = attention.check(settings, tmux, projects)
                inproc.append(time.perf_counter() - start)
            assert not raised, raised  # the steady state: nothing to tell
            command = [sys.executable, str(SUITE / "orchestrator_integration.py"), "attention", "check"]
            cli = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                subprocess.run(command, env=env, check=True, capture_output=True)
                cli.append(time.perf_counter() - start)
        finally:
            try:
                tmux.run("kill-server")
            except Exception:  # noqa: BLE001 - already gone
                pass
    agents = args.projects * args.agents
    print(f"attention check over {args.projects} projects x {args.agents} agents ({agents} agents), "
          f"{args.repeat} runs each")
    print(f"  attention.check() (in-process): median {statistics.median(inproc) * 1000:.0f} ms, "
          f"max {max(inproc) * 1000:.0f} ms")
    print(f"  `orchestrator_integration.py attention check` (whole process, what cron runs): "
          f"median {statistics.median(cli) * 1000:.0f} ms, max {max(cli) * 1000:.0f} ms  (goal < 200 ms)")
    return 0 if statistics.median(cli) < 0.2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
