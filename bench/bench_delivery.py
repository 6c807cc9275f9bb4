#!/usr/bin/env python3
"""send_message.sh into an idle real Claude Code: time to a proven submission, with the
proof from the agent's transcript (found through its session registry) and from the screen.

Starts a private tmux server, the pinned Claude Code CLI (tests/e2e/install_claude.sh)
offline against the loopback stand-in API, and sends N messages one after another
through ``send_message.sh``, waiting for the agent to be idle again between them: first
with no config dir given (the suite finds the agent's own in its environment; proof:
transcript), then with the registry off (``ORC_REGISTRY_SOURCE=off``; proof: screen).
Each message's time is the whole command, from start to its exit with proof. The stand-in
API records every prompt, so "submitted" is checked against what it received, and the proof
the command named is checked too.

Usage: python3 bench/bench_delivery.py [--messages 20]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_setup import SUITE, claude_binary, private_tmux, suite_env  # first: puts the suite on sys.path
from claude_harness import FAKE_API_KEY, claude_command, claude_env, prepare_claude_home
from fake_anthropic_api import FakeAnthropicAPI
from tmux_utils import Tmux
from orc.record.snapshot import look


def wait_state(tmux: Tmux, pane_id: str, state: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while look(tmux, pane_id).state != state:
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: Claude Code did not become {state} in {timeout:g}s")
        time.sleep(0.05)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20)
    args = parser.parse_args(argv)
    binary = claude_binary()
    with tempfile.TemporaryDirectory(prefix="orc-bench-") as folder, FakeAnthropicAPI() as api:
        root = Path(folder)
        env = suite_env(ORC_TMUX_SOCKET=str(root / "tmux.sock"), ORC_STATE_DIR=str(root / "state"))
        env.pop("ORC_CLAUDE_CONFIG_DIRS", None)  # no folder given: the suite finds the agent's own
        home, work = root / "home", root / "work"
        prepare_claude_home(home, work, FAKE_API_KEY)
        with private_tmux(root / "tmux.sock") as tmux:
            pane = tmux.new_session("bench", "claude", claude_command(binary, claude_env(home, api.base_url, FAKE_API_KEY),
                                                                      work), str(work), width=100, height=30)
            wait_state(tmux, pane.pane_id, "idle")
            results: dict[str, list[float]] = {}
            failures = sent = 0
            for proof, registry in (("transcript", "files"), ("screen", "off")):
                times = results.setdefault(proof, [])
                for n in range(args.messages):
                    text = f"benchmark message {proof} {n}: please acknowledge"
                    start = time.perf_counter()
                    done = subprocess.run([str(SUITE / "send_message.sh"), "bench:claude", text],
                                          env={**env, "ORC_REGISTRY_SOURCE": registry},
                                          capture_output=True, text=True)
                    elapsed = time.perf_counter() - start
                    sent += 1
                    if (done.returncode != 0 or f"proof: {proof}" not in done.stdout
                            or api.wait_for_turns(sent - failures, timeout=30)[-1] != text):
                        failures += 1
                        print(f"  message {n}: NOT submitted with {proof} proof: {done.stderr.strip()}", file=sys.stderr)
                    else:
                        times.append(elapsed)
                    wait_state(tmux, pane.pane_id, "idle")
    for proof, times in results.items():
        print(f"proof {proof}: messages {args.messages}, submitted {len(times)}", end="")
        if times:
            print(f", median {statistics.median(times):.2f} s, worst {max(times):.2f} s, best {min(times):.2f} s")
        else:
            print()
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
