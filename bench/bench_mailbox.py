#!/usr/bin/env python3
"""Kept messages with the real Claude Code: a night of them, and how fast the mailbox drains.

1. ``night`` (bench/mailbox_night.py): 300 messages from 6 senders to 3 agents whose dialogs
   and drafts are raised and cleared at random, each agent restarted once: lost, doubled,
   misdelivered, out of order (per sender and agent), unproven, as read back from what each
   agent's stand-in API received; and the delay from the moment an agent was freed (its
   dialog answered, its draft deleted) to the arrival of the first message kept for it.
2. ``stop``: the drain from the agent's own Stop event. A message sent with ``--when-idle``
   while the agent is busy is kept; the turn ends; its Stop hook starts the drain. Time from
   the Stop event (its hook's own timestamp) to the kept message's arrival at the stand-in
   API, median and p99, with no drainer watching (``ORC_DRAIN_WATCH_SECONDS=0``: the hook
   alone) and with the default watcher.

Usage: python3 bench/bench_mailbox.py [--messages 300] [--stops 20] [--only night|stop]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_setup import SUITE, claude_binary, percentile, private_tmux, suite_env  # first: the suite on sys.path
from claude_harness import FAKE_API_KEY, claude_command, claude_env, prepare_claude_home
from fake_anthropic_api import FakeAnthropicAPI
from mailbox_night import run_night
from orc.core.settings import load_settings
from orc.messages import mailbox
from orc.record.hook_events import events
from orc.record.hooks_settings import settings_args
from orc.record.snapshot import look


def wait_until(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: {what} did not happen within {timeout:g} s")
        time.sleep(0.02)


def stop_latency(binary: Path, stops: int, watch: str) -> list[float]:
    """Seconds from each Stop event to the arrival of the message kept behind that turn."""
    with tempfile.TemporaryDirectory(prefix="orc-bench-") as folder, FakeAnthropicAPI() as api:
        root = Path(folder)
        env = suite_env(ORC_TMUX_SOCKET=str(root / "tmux.sock"), ORC_STATE_DIR=str(root / "state"),
                        ORC_CRONTAB_FILE=str(root / "crontab"), ORC_DRAIN_WATCH_SECONDS=watch)
        env.pop("ORC_CLAUDE_CONFIG_DIRS", None)
        settings = load_settings(env)
        home, work = root / "home", root / "work"
        prepare_claude_home(home, work, FAKE_API_KEY, "default")
        offset = time.time() - time.monotonic()  # the stand-in stamps requests with monotonic time
        with private_tmux(root / "tmux.sock") as tmux:
            line = claude_command(binary, claude_env(home, api.base_url, FAKE_API_KEY), work, *settings_args(settings))
            pane = tmux.new_session("bench", "claude", line, str(work), width=100, height=30)
            wait_until(lambda: look(tmux, pane.pane_id).state == "idle", 90, "the idle input box")
            latencies: list[float] = []
            for n in range(stops):
                api.set_reply_delay(2.0)
                turn = subprocess.run([str(SUITE / "send_message.sh"), "bench:claude", f"turn {n}"], env=env,
                                      capture_output=True, text=True, timeout=120)
                if turn.returncode != 0:
                    raise SystemExit(f"bench: the turn was not sent: {turn.stderr.strip()}")
                kept = subprocess.run([str(SUITE / "send_message.sh"), "--when-idle", "bench:claude", f"after turn {n}"],
                                      env=env, capture_output=True, text=True, timeout=120)
                if kept.returncode != 4:
                    raise SystemExit(f"bench: expected the message to be kept (exit 4), got {kept.returncode}: "
                                     f"{kept.stdout.strip()} {kept.stderr.strip()}")
                api.set_reply_delay(0)
                wait_until(lambda: f"after turn {n}" in api.turns(), 60, "the kept message's arrival")
                arrived = next(r.at for r in api.requests() if isinstance(r.body, dict)
                               and f"after turn {n}" in str(r.body.get("messages"))) + offset
                stops_seen = [float(e["at"]) for e in events(settings.state_dir, containing=" Stop ")
                              if e.get("event") == "Stop" and e.get("pane") == pane.pane_id and float(e["at"]) < arrived]
                latencies.append(arrived - max(stops_seen))
                wait_until(lambda: not mailbox.has_mail(settings.state_dir), 30, "the mailbox to empty")
                wait_until(lambda: look(tmux, pane.pane_id).state == "idle", 60, "idle again")
            return latencies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--stops", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", choices=("night", "stop"))
    parser.add_argument("--keep", type=Path, help="run the night in this (new) folder and keep it: its logs")
    args = parser.parse_args(argv)
    binary = claude_binary()
    ok = True
    if args.only in (None, "night"):
        with tempfile.TemporaryDirectory(prefix="orc-bench-") as folder:
            root = args.keep or Path(folder)
            root.mkdir(parents=True, exist_ok=True)
            night = run_night(root, binary, messages=args.messages, seed=args.seed,
                              say=lambda text: print(text, flush=True))
        print(f"night: {night.summary()}")
        for name in ("lost", "doubled", "misdelivered", "out_of_order", "unproven"):
            for item in getattr(night, name)[:10]:
                print(f"  {name}: {item}")
        ok = ok and night.ok
    if args.only in (None, "stop"):
        for watch, label in (("0", "the Stop hook alone"), ("600", "with the watching drainer")):
            times = stop_latency(binary, args.stops, watch)
            p99 = percentile(times, 99)
            print(f"stop: {label}: median {statistics.median(times):.2f} s, p99 {p99:.2f} s, "
                  f"max {max(times):.2f} s over {len(times)} turns", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
