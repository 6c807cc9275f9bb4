#!/usr/bin/env python3
"""`status` for 5 projects with 4 agents each (goal: under 1 s).

Starts a private tmux server (never the user's) with one session per project and one
fake agent (tests/fake_agent.py, Claude Code's screens) per window, a real git
repository per project with some uncommitted files, and times:
- ``collect()`` + ``render_text()`` in-process (one tmux snapshot, git in parallel);
- the whole command a person runs: ``python3 orchestrator_integration.py status``.

Usage: python3 bench/bench_status.py [--projects 5] [--agents 4] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench_setup import SUITE, median_max_ms, private_tmux, suite_env, timed  # first: puts the suite on sys.path
from orc.teams.project_config import Project, load_config
from orc.core.settings import Settings, load_settings
from orc.teams.status import ProjectStatus, collect, render_text, write_status_files
from tmux_utils import Tmux

GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.com"}


def make_repo(path: Path, files: int) -> None:
    path.mkdir(parents=True)
    run = lambda *a: subprocess.run(["git", "-C", str(path), *a], check=True, capture_output=True, env=GIT_ENV)  # noqa: E731
    run("init", "-q", "-b", "main")
    for i in range(files):
        (path / f"module{i}.py").write_text(f"value = {i}\n")
    (path / "SPEC.md").write_text("spec\n")
    run("add", "-A")
    run("commit", "-q", "-m", "initial")
    for i in range(0, files, 10):
        (path / f"module{i}.py").write_text("changed\n")


def setup(folder: Path, projects: int, agents: int, tmux: Tmux) -> Path:
    config: dict[str, object] = {}
    ready: list[Path] = []
    for p in range(projects):
        name = f"proj{p}"
        repo = folder / name
        make_repo(repo, 200)
        team = []
        for a in range(agents):
            window = "PM" if a == 0 else f"Eng{a}"
            team.append({"role": "project-manager" if a == 0 else f"engineer-{a}", "window": window})
            flag = folder / f"{name}-{window}.ready"
            ready.append(flag)
            command = shlex.join([sys.executable, str(SUITE / "tests" / "fake_agent.py"), "--record",
                                  str(folder / f"{name}-{window}.jsonl"), "--ready-file", str(flag)])
            if tmux.has_session(name):
                tmux.new_window(name, window, command, str(repo))
            else:
                tmux.new_session(name, window, command, str(repo), width=160, height=45)
        config[name] = {"path": str(repo), "spec_file": "SPEC.md", "test_command": "true", "team": team}
    file = folder / "project_configs.json"
    file.write_text(json.dumps(config))
    deadline = time.monotonic() + 60
    while not all(f.exists() for f in ready):
        if time.monotonic() > deadline:
            raise SystemExit("bench: the fake agents did not start within 60 s")
        time.sleep(0.05)
    return file


@dataclass(frozen=True)
class Fleet:
    """The projects and fake agents :func:`setup` started, and the suite's settings for them."""

    folder: Path
    tmux: Tmux
    env: dict[str, str]
    settings: Settings
    projects: list[Project]


def fleet_parser(description: str | None, repeat: int) -> argparse.ArgumentParser:
    """The options of the benchmarks that measure a fleet: --projects, --agents, --repeat."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", type=int, default=5)
    parser.add_argument("--agents", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=repeat)
    return parser


@contextmanager
def fleet(prefix: str, projects: int, agents: int, **settings: str) -> Iterator[Fleet]:
    """``projects`` x ``agents`` fake agents on a private tmux server in a temporary folder,
    with the suite's state, crontab file and projects file in that folder (plus ``settings``);
    all gone afterwards."""
    with tempfile.TemporaryDirectory(prefix=prefix) as name:
        folder = Path(name)
        env = suite_env(ORC_TMUX_SOCKET=str(folder / "tmux.sock"), ORC_STATE_DIR=str(folder / "state"),
                        ORC_CRONTAB_FILE=str(folder / "crontab"), **settings)
        with private_tmux(folder / "tmux.sock") as tmux:
            file = setup(folder, projects, agents, tmux)
            env["ORC_PROJECT_CONFIG"] = str(file)
            yield Fleet(folder, tmux, env, load_settings(env), list(load_config(file).projects))


def main(argv: list[str] | None = None) -> int:
    args = fleet_parser(__doc__, repeat=5).parse_args(argv)
    with fleet("orc-bench-status-", args.projects, args.agents) as running:
        runs: list[list[ProjectStatus]] = []

        def once() -> None:
            statuses = collect(running.settings, running.tmux, running.projects)
            render_text(statuses)
            write_status_files(running.settings, statuses)
            runs.append(statuses)

        inproc = timed(once, args.repeat)
        statuses = runs[-1]
        agents = sum(len(s.agents) for s in statuses)
        states = sorted({a.state for s in statuses for a in s.agents})
        command = [sys.executable, str(SUITE / "orchestrator_integration.py"), "status"]
        cli = timed(lambda: subprocess.run(command, env=running.env, check=True, capture_output=True), args.repeat)
    print(f"status of {args.projects} projects x {args.agents} agents ({agents} agents, states {states}), "
          f"{args.repeat} runs each")
    print(f"  collect+render+write (in-process): {median_max_ms(inproc)}")
    print(f"  `orchestrator_integration.py status` (whole process): {median_max_ms(cli)}  (goal < 1000 ms)")
    return 0 if statistics.median(cli) < 1.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
