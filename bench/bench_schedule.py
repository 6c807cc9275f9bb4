#!/usr/bin/env python3
"""Benchmark schedule_with_note.sh: the time of one call with 0, 100 and 500 check-ins
pending (the real `crontab` binary), and the delivery lag behind the due second under a
real cron daemon (a fake agent in a private tmux server).

Goals: median under 300 ms at 500 pending, growing no faster than the crontab's size;
lag under 5 s. The user's crontab is saved first and restored exactly at the end; the
tmux server is a private one on its own socket, never the default server.

    python3 bench/bench_schedule.py            # both parts (the lag part needs a cron daemon or root)
    python3 bench/bench_schedule.py --calls 15 --lag-runs 2
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from bench_setup import SUITE, percentile, private_tmux  # first: puts the suite and tests/ on sys.path
from orc.scheduling.checkins import done_dir, parse_record, schedule_checkin
from orc.core.settings import load_settings
from support import cron_daemon_started, users_crontab_replaced


def call_times(base_env: dict[str, str], pending: int, calls: int, work: Path) -> list[float]:
    """Milliseconds per `schedule_with_note.sh` call with ``pending`` check-ins already there."""
    env = {**base_env, "ORC_STATE_DIR": str(work / f"state-{pending}")}
    settings = load_settings(env)
    for n in range(pending):  # in-process: filling is not what is measured
        schedule_checkin(settings, 600 + n, f"filler {n}", "bench:0")
    times = []
    for n in range(calls):
        started = time.perf_counter()
        done = subprocess.run([str(SUITE / "schedule_with_note.sh"), "30", f"bench note {n}", "bench:0"],
                              env=env, capture_output=True, text=True)
        times.append((time.perf_counter() - started) * 1000)
        if done.returncode != 0:
            raise SystemExit(f"bench: schedule failed: {done.stderr.strip()}")
    subprocess.run([str(SUITE / "schedule_with_note.sh"), "--cancel", "all"], env=env, capture_output=True)
    return times


def minutes_for_cron(now: datetime) -> float:
    """A delay whose due second is in a minute cron has yet to start (cron fires its line)."""
    target = now.replace(second=0, microsecond=0) + timedelta(minutes=1, seconds=8)
    if (target - now).total_seconds() < 14:
        target += timedelta(minutes=1)
    return round((target - now).total_seconds() / 60, 4)


def minutes_for_waiter(now: datetime) -> float:
    """0.1 minutes, due inside the current minute: the detached waiter keeps the second."""
    if now.second > 50:  # a deliberate wait for a clock position, so the due stays in this minute
        time.sleep(61 - now.second)
    return 0.1


def delivery_lags(base_env: dict[str, str], runs: int, work: Path, minutes_for=minutes_for_cron,  # type: ignore[no-untyped-def]
                  name: str = "lag") -> list[float]:
    """Seconds from due second to the fake agent's recorded submission."""
    work = work / name
    work.mkdir()
    socket = work / "tmux.sock"
    record, ready = work / "agent.jsonl", work / "agent.ready"
    agent = shlex.join([sys.executable, str(SUITE / "tests" / "fake_agent.py"), "--record", str(record),
                        "--ready-file", str(ready)])
    env = {**base_env, "ORC_STATE_DIR": str(work / "state-lag"), "ORC_TMUX_SOCKET": str(socket)}
    state = Path(env["ORC_STATE_DIR"])
    lags: list[float] = []
    with private_tmux(socket) as tmux:
        subprocess.run([tmux.binary, "-S", str(socket), "new-session", "-d", "-s", "bench", "-x", "100", "-y", "30",
                        agent], check=True)
        deadline = time.monotonic() + 10
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        for _ in range(runs):
            minutes = minutes_for(datetime.now())
            done = subprocess.run([str(SUITE / "schedule_with_note.sh"), str(minutes), "lag probe", "bench:0"],
                                  env=env, capture_output=True, text=True)
            checkin_id = re.search(r"check-in (ck-[0-9a-f]{8})", done.stdout)
            if done.returncode != 0 or not checkin_id:
                raise SystemExit(f"bench: schedule failed: {done.stderr.strip()}")
            finished = done_dir(load_settings(env)) / f"{checkin_id.group(1)}.txt"
            deadline = time.monotonic() + 150
            while not finished.exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            if not finished.exists():
                raise SystemExit(f"bench: {checkin_id.group(1)} was not delivered; see {state / 'cron.log'}")
            due = parse_record(finished.read_text()).due
            events = [json.loads(line) for line in record.read_text().splitlines()]
            submitted = [e for e in events if e["event"] == "submitted" and checkin_id.group(1) in e["text"]]
            lags.append(submitted[0]["t"] - due.timestamp())
    return lags


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=21, help="timed calls per size (default 21)")
    parser.add_argument("--sizes", default="0,100,500", help="pending check-ins before the calls")
    parser.add_argument("--lag-runs", type=int, default=3, help="check-ins fired by cron (about 1 min each)")
    parser.add_argument("--waiter-runs", type=int, default=3, help="sub-minute check-ins kept by the waiter")
    args = parser.parse_args(argv)
    if not shutil.which("crontab"):
        print("bench: error: `crontab` is not installed; apt-get install cron", file=sys.stderr)
        return 1
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("ORC_") and k != "TMUX"}
    with tempfile.TemporaryDirectory(prefix="orc-bench-") as tmp, users_crontab_replaced(None):
        work = Path(tmp)
        base_env["ORC_TMUX_SOCKET"] = str(work / "unused.sock")  # never the default server
        print(f"{'pending':>8} {'crontab lines':>14} {'median ms':>10} {'p90 ms':>8} {'min ms':>8}")
        for size in (int(s) for s in args.sizes.split(",")):
            times = call_times(base_env, size, args.calls, work)
            lines = size + 1 + 2
            print(f"{size:>8} {lines:>14} {statistics.median(times):>10.0f} "
                  f"{percentile(times, 90) or 0.0:>8.0f} {min(times):>8.0f}")
        if args.waiter_runs:
            lags = delivery_lags(base_env, args.waiter_runs, work, minutes_for_waiter, "waiter")
            print(f"delivery lag of a 0.1-minute check-in kept by the waiter ({len(lags)} runs): "
                  f"median {statistics.median(lags):.2f}s, max {max(lags):.2f}s")
        if args.lag_runs:
            with cron_daemon_started() as missing:
                if missing:
                    print(f"delivery lag: not measured: {missing}")
                    return 1
                lags = delivery_lags(base_env, args.lag_runs, work)
                print(f"delivery lag behind the due second under cron ({len(lags)} runs): "
                      f"median {statistics.median(lags):.2f}s, max {max(lags):.2f}s "
                      f"[{', '.join(f'{lag:.2f}' for lag in lags)}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
