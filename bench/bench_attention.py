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

import statistics
import subprocess
import sys

from bench_setup import SUITE, median_max_ms, timed  # first: puts the suite on sys.path
from bench_status import fleet, fleet_parser
from orc.teams import attention
from orc.core.state import log_event


def main(argv: list[str] | None = None) -> int:
    args = fleet_parser(__doc__, repeat=10).parse_args(argv)
    with fleet("orc-bench-attention-", args.projects, args.agents, ORC_DEFAULT_TARGET="orc:boss") as running:
        state = running.settings.state_dir
        for i in range(3000):  # a night of logs
            log_event(state / "checkins.log", "delivered", id=f"ck-{i:08x}", target="proj0:PM")
            log_event(state / "git.log", "backup", project=f"proj{i % args.projects}", why="timer",
                      result="committed", commit=f"{i:012x}", files=3, reason="backed up 3 file(s)")
        raised: list[list[attention.Finding]] = []
        inproc = timed(lambda: raised.append(attention.check(running.settings, running.tmux, running.projects)),
                       args.repeat)
        assert not raised[-1], raised[-1]  # the steady state: nothing to tell
        command = [sys.executable, str(SUITE / "orchestrator_integration.py"), "attention", "check"]
        cli = timed(lambda: subprocess.run(command, env=running.env, check=True, capture_output=True), args.repeat)
    agents = args.projects * args.agents
    print(f"attention check over {args.projects} projects x {args.agents} agents ({agents} agents), "
          f"{args.repeat} runs each")
    print(f"  attention.check() (in-process): {median_max_ms(inproc)}")
    print(f"  `orchestrator_integration.py attention check` (whole process, what cron runs): "
          f"{median_max_ms(cli)}  (goal < 200 ms)")
    return 0 if statistics.median(cli) < 0.2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
