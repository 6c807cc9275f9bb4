#!/usr/bin/env python3
"""Snapshot cost with Claude Code's session registry at N panes: files vs ``claude agents --json``.

Starts a private tmux server (never the user's) with N windows, each running a process
that stands in for an agent, and writes one registry entry per window in Claude Code's own
format (``<config>/sessions/<pid>.json``: pid, procStart, sessionId, cwd, version, kind,
tmux, status, statusUpdatedAt) into a private config dir. Then times, median of R runs:

- reading the registry alone: the files (parse, then check each process is the one that
  wrote its entry) vs one ``claude agents --json`` (the pinned CLI, tests/e2e/install_claude.sh);
- the whole snapshot (``Tmux.snapshot``: two tmux invocations, the process table, the registry)
  with the registry off, from the files, and from the command;
- the same with no config dir given at all: each pane's process was started with
  ``CLAUDE_CONFIG_DIR`` (as an agent of another account is), and the snapshot finds the dir
  in its environment, read on the first snapshot of a process and then kept (docs/agent-record.md).

Usage: python3 bench/bench_registry.py [--panes 200] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench_setup import claude_binary, private_tmux, timed  # first: puts the suite on sys.path
from orc.record import agent_registry
from orc.record.agent_registry import agent_config_dirs, linux_proc_start, read_cli, read_entries
from orc.record.process_groups import ProcessTable
from tmux_utils import StateSources, Tmux
from orc.record.snapshot import snapshot


def median_of(action: Callable[[], object], repeat: int) -> float:
    return statistics.median(timed(action, repeat))


def interleaved(actions: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """The median time of each action, run in turn ``repeat`` times."""
    times: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(repeat):
        for name, action in actions.items():
            start = time.perf_counter()
            action()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(found) for name, found in times.items()}


def write_registry(tmux: Tmux, config: Path) -> int:
    """One entry per pane, for the process in it, as Claude Code writes them."""
    folder = config / "sessions"
    folder.mkdir(parents=True)
    table = ProcessTable.read()
    now_ms = int(time.time() * 1000)
    for n, pane in enumerate(tmux.list_panes()):
        pid = int(tmux.run("display-message", "-p", "-t", pane.pane_id, "#{pane_pid}").strip())
        start = linux_proc_start(pid) if sys.platform.startswith("linux") else table.by_pid[pid].started
        entry = {"pid": pid, "sessionId": f"00000000-0000-4000-8000-{n:012d}", "cwd": f"/work/project-{n}",
                 "startedAt": now_ms, "procStart": start, "version": "2.1.328", "kind": "interactive",
                 "entrypoint": "cli", "tmux": f"{pane.session}:{pane.window_id}.{pane.pane_id}",
                 "status": "busy" if n % 2 else "idle", "updatedAt": now_ms, "statusUpdatedAt": now_ms}
        (folder / f"{pid}.json").write_text(json.dumps(entry), encoding="utf-8")
    return len(tmux.list_panes())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--panes", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    claude = str(claude_binary())
    with tempfile.TemporaryDirectory(prefix="orc-bench-") as folder:
        root = Path(folder)
        config = root / "claude-config"
        # Each pane's process carries its config dir in its environment, as an agent of its own account.
        agent = f"exec env CLAUDE_CONFIG_DIR={config} sleep 100000"
        with private_tmux(root / "tmux.sock") as tmux:
            tmux.new_session("bench", "w0", agent, folder, width=120, height=40)
            for n in range(1, args.panes):
                tmux.new_window("bench", f"w{n}", agent, folder)
            written = write_registry(tmux, config)
            table = ProcessTable.read()
            files = read_entries([config], table, "files")
            cli = read_cli([config], claude)
            if len(files) != written or len(cli) != written:
                raise SystemExit(f"bench: {written} entries written, files read {len(files)}, cli {len(cli)}")
            off = StateSources((), "off")
            from_files = StateSources((config,), "files")
            from_cli = StateSources((config,), "cli", claude)
            joined = [s for s in snapshot(tmux, 0, sources=from_files) if s.agent.source == "registry"]
            if len(joined) != written:
                raise SystemExit(f"bench: only {len(joined)} of {written} panes joined to their entries")
            ps_s = median_of(ProcessTable.read, args.repeat)
            read_files_s = median_of(lambda: read_entries([config], ProcessTable.read(), "files"), args.repeat)
            read_cli_s = median_of(lambda: read_cli([config], claude), args.repeat)
            snap_off = median_of(lambda: snapshot(tmux, 0, sources=off), args.repeat)
            snap_files = median_of(lambda: snapshot(tmux, 0, sources=from_files), args.repeat)
            snap_cli = median_of(lambda: snapshot(tmux, 0, sources=from_cli), args.repeat)
            found = StateSources((), "files")   # no dir given: each agent's own environment names it
            blind = StateSources((), "files", agent_environ=False)
            joined = [s for s in snapshot(tmux, 0, sources=found) if s.agent.source == "registry"]
            if len(joined) != written:
                raise SystemExit(f"bench: from the environments only {len(joined)} of {written} panes joined")
            ttys = [p.tty for p in tmux.list_panes()]
            table = ProcessTable.read()
            groups = table.foreground(ttys)

            def cold_environ() -> None:
                agent_registry._DIR_OF_PROCESS.clear()
                agent_config_dirs(table, ttys, groups)

            def cold_snapshot() -> None:
                agent_registry._DIR_OF_PROCESS.clear()
                snapshot(tmux, 0, sources=found)

            env_cold = median_of(cold_environ, args.repeat)
            env_warm = median_of(lambda: agent_config_dirs(table, ttys, groups), args.repeat)
            # The snapshots in turn, round after round, so that the load of the machine falls on each alike.
            rounds = interleaved({"blind": lambda: snapshot(tmux, 0, sources=blind),
                                  "cold": cold_snapshot,
                                  "warm": lambda: snapshot(tmux, 0, sources=found),
                                  "files": lambda: snapshot(tmux, 0, sources=from_files)}, args.repeat)
            rss = subprocess.run(["sh", "-c", f'command -v /usr/bin/time >/dev/null && CLAUDE_CONFIG_DIR="{config}" '
                                  f'/usr/bin/time -f %M "{claude}" agents --json >/dev/null'],
                                 capture_output=True, text=True, env={**os.environ, "DISABLE_AUTOUPDATER": "1"})
    print(f"panes with a registry entry: {written} (every one joined to its pane)")
    print(f"process table of the whole machine (/proc, else one ps):   {ps_s * 1000:.1f} ms")
    print(f"registry read, files (with that table and liveness check):   {read_files_s * 1000:.1f} ms")
    print(f"registry read, claude agents --json:                        {read_cli_s * 1000:.1f} ms"
          + (f" ({int(rss.stderr.strip().splitlines()[-1]) // 1024} MB max RSS)" if rss.stderr.strip()[-1:].isdigit() else ""))
    print(f"snapshot, registry off:   {snap_off * 1000:.1f} ms")
    print(f"snapshot, registry files: {snap_files * 1000:.1f} ms")
    print(f"snapshot, registry cli:   {snap_cli * 1000:.1f} ms")
    print(f"config dirs from {written} agents' environments, first read: {env_cold * 1000:.2f} ms")
    print(f"config dirs from {written} agents' environments, kept:       {env_warm * 1000:.2f} ms")
    print("snapshots in turn, medians:")
    print(f"  dir given (ORC_CLAUDE_CONFIG_DIRS):           {rounds['files'] * 1000:.1f} ms")
    print(f"  no dir given, environments not read:          {rounds['blind'] * 1000:.1f} ms (no entry found)")
    print(f"  no dir given, first snapshot of the agents:   {rounds['cold'] * 1000:.1f} ms")
    print(f"  no dir given, later snapshots (dirs kept):    {rounds['warm'] * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
