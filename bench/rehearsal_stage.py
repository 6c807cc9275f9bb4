"""The stage a rehearsal's night plays on (bench/rehearsal.py): who is on it (the agents'
slots, the brains' ledger), the cron daemon the rehearsal starts and stops, the suite's
commands run against the rehearsal's own state and tmux server, and what can be seen and
waited for along the way (``status``, the logs, the screens).

The run (bench/rehearsal.py) sets the stage up and plays the night on it; the faults
(bench/rehearsal_faults.py) act on it and the judges (bench/rehearsal_judges.py) look at it,
so neither of them needs the run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from bench_setup import SUITE  # first: puts the suite, tests/ and the dependencies on sys.path
from fake_anthropic_api import FakeAnthropicAPI
from orc.scheduling.crontab_store import cron_daemon_running
from rehearsal_brains import Brain, Ledger
from rehearsal_report import Fault
from support import find_cron, reboot_marker, start_cron_daemon, stop_cron_daemon
from tmux_utils import Tmux, TmuxError

PROJECTS = ("alpha", "beta")
MEMBERS = (("pm", "project-manager", "PM"), ("dev1", "engineer-1", "Dev1"), ("dev2", "engineer-2", "Dev2"))
INTEGRATION = [sys.executable, str(SUITE / "orchestrator_integration.py")]
ORCHESTRATOR_TARGET = "orc:Orchestrator"
#: The orchestrator's recurring self check-in, compressed from the hourly default to the
#: smallest interval the setting takes.
ORCHESTRATOR_CHECKIN_MINUTES = 5
#: The agent whose account reaches its usage limit (it logs in the subscription way: only then
#: does Claude Code report the limit as one, "You've hit your 5-hour limit · resets ...").
LIMITED_AGENT = "beta-pm"
#: The agent whose API answers a plain 429 (API-key login: Claude Code shows only
#: "Request rejected (429)", no usage limit, no reset time).
PLAIN_429_AGENT = "alpha-pm"
#: The engineer a project manager adds with `spawn` from its own Bash tool halfway through.
SPAWNED = ("alpha", "dev3", "engineer-3", "Dev3")
#: The worktree team: ``"worktree": true`` in its config, so each engineer works in
#: ``<work>/beta-worktrees/<role>`` on the branch ``orc/<role>`` (the suite's defaults), and its
#: project manager finishes each one. Alpha stays in one checkout: its conflict fault uses task
#: branches, which `branch` refuses from inside a worktree.
WORKTREE_PROJECT = "beta"
WORKTREE_BRANCH_PREFIX = "orc/"


def say(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {text}", flush=True)


def git(repo: Path, *args: str, check: bool = True) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          env={**os.environ, "GIT_AUTHOR_NAME": "rehearsal", "GIT_AUTHOR_EMAIL": "r@example.invalid",
                               "GIT_COMMITTER_NAME": "rehearsal", "GIT_COMMITTER_EMAIL": "r@example.invalid"})
    if check and done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


# --- the cron daemon the rehearsal starts, stops and starts again ------------------------------


class CronDaemon:
    """A cron daemon of the rehearsal's own (``cron -f`` as its child), so it can be stopped for
    the "cron stopped" fault and started again; when the machine's own daemon runs, the
    rehearsal uses it and cannot stop it (that fault is then skipped)."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.machine_daemon = False
        self.binary = find_cron()
        # The reboot fault takes the daemon's reboot marker away; the night leaves it as found.
        self.marker = reboot_marker(self.binary) if self.binary else None
        self.marker_was_there = self.marker is not None and self.marker.exists()

    def detect(self) -> None:
        """Whether a daemon runs already: asked only while holding the machine-wide lock (a
        test run's own daemon, started under that lock, would otherwise pass for the machine's)."""
        self.machine_daemon = bool(cron_daemon_running())

    @property
    def ours(self) -> bool:
        return not self.machine_daemon

    def why_not(self) -> str | None:
        if self.machine_daemon:
            return None
        if self.binary is None:
            return "cron is not installed (Debian: apt-get install cron; `make system` installs it)"
        if os.geteuid() != 0:
            return "no cron daemon runs and starting one needs root: `sudo service cron start`"
        return None

    def start(self) -> None:
        if self.machine_daemon or self.process is not None:
            return
        assert self.binary is not None
        self.process = start_cron_daemon(self.binary)

    def ensure_running(self) -> str | None:
        """Start a daemon of our own when none runs (outside the "cron stopped" fault): a
        daemon seen at the start may have been someone else's, gone since. Says what it did."""
        if self.process is not None and self.process.poll() is None:
            return None
        if cron_daemon_running():
            return None
        self.process = None
        self.machine_daemon = False
        self.start()
        return f"{time.strftime('%H:%M:%S')} no cron daemon was running; the rehearsal started its own"

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            stop_cron_daemon(process)

    def leave_marker_as_found(self) -> None:
        if self.ours and self.marker is not None and not self.marker_was_there:
            self.marker.unlink(missing_ok=True)


# --- the stage ---------------------------------------------------------------------------------


@dataclass
class AgentSlot:
    name: str          # e.g. alpha-dev1
    project: str
    role: str          # config role
    window: str
    brain: Brain
    api: FakeAnthropicAPI
    home: Path

    @property
    def target(self) -> str:
        return f"{self.project}:{self.window}"


class Stage:
    """Everything the night holds and the ways to look at it; the run fills it in."""

    def __init__(self, minutes: float, work: Path) -> None:
        self.minutes = minutes
        self.work = work
        self.state = self.work / "state"
        self.socket_name = f"orc-rehearsal-{os.getpid()}"
        self.socket = Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.geteuid()}" / self.socket_name
        self.ledger = Ledger()
        self.agents: dict[str, AgentSlot] = {}
        self.states: dict[str, list[tuple[float, str]]] = {}   # agent -> [(t, state)] on change
        self.started = 0.0
        self.cron = CronDaemon()
        self.load: list[tuple[float, float]] = []
        self.available: dict[str, bool] = {}
        self.notes: list[str] = []
        self.cron_off_now = False        # the "cron stopped" fault is on: do not start a daemon
        self.cron_lock = threading.Lock()
        self.stopping = threading.Event()
        self.asleep = threading.Event()  # the "laptop asleep" fault has the night stopped: do not look
        self.faults: dict[str, Fault] = {}
        self.orchestrator: AgentSlot | None = None
        self.env = {
            **os.environ,
            "ORC_STATE_DIR": str(self.state), "ORC_TMUX_SOCKET": str(self.socket),
            "ORC_PROJECT_CONFIG": str(self.work / "project_configs.json"),
            "ORC_DEFAULT_TARGET": ORCHESTRATOR_TARGET, "ORC_ATTENTION_SECONDS": "60",
            "ORC_NOTIFY_COMMAND": str(self.work / "notify.sh"),
            "ORC_ORCHESTRATOR_CHECKIN_MINUTES": str(ORCHESTRATOR_CHECKIN_MINUTES),
        }
        self.tmux = Tmux(self.socket)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def integration(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*INTEGRATION, *args], env=self.env, capture_output=True, text=True, timeout=timeout)

    def has_command(self, name: str) -> bool:
        done = self.integration(name, "--help", timeout=30)
        return done.returncode == 0

    def read(self, name: str) -> str:
        path = self.state / name
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def agent_states(self) -> dict[str, str]:
        done = self.integration("status", "--json", timeout=60)
        found: dict[str, str] = {}
        try:
            data = json.loads(done.stdout)
        except ValueError:
            return found
        for project in data:
            for agent in project.get("agents", []):
                for slot in list(self.agents.values()):   # the spawn thread may add one meanwhile
                    if slot.project == project.get("name") and slot.role == agent.get("role"):
                        found[slot.name] = str(agent.get("state"))
        return found

    def watch(self) -> dict[str, str]:
        """Read every agent's state through ``status`` and keep the changes."""
        if self.asleep.is_set():
            return {}
        now = self.elapsed()
        states = self.agent_states()
        for name, state in states.items():
            seen = self.states.setdefault(name, [])
            if not seen or seen[-1][1] != state:
                seen.append((now, state))
        try:
            self.load.append((now, os.getloadavg()[0]))
        except OSError:
            pass
        if not self.cron_off_now:
            with self.cron_lock:
                started = self.cron.ensure_running()
            if started:
                self.notes.append(started)
                say(started)
        return states

    def wait_until(self, predicate: Callable[[], object], timeout: float, every: float = 2.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(every)
        return bool(predicate())

    def wait_for_cron(self, predicate: Callable[[], object], timeout: float, every: float = 5.0) -> bool:
        """``wait_until`` for what cron delivers: while the cron fault has the daemon stopped,
        the wait lasts until 90 s after it is back (a kept check-in comes at its first minute)."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return True
            if self.cron_off_now:
                deadline = max(deadline, time.monotonic() + 90)
            if time.monotonic() >= deadline or self.stopping.is_set():
                return bool(predicate())
            time.sleep(every)

    def attention_lines(self, *words: str) -> list[str]:
        text = self.read("attention.log")
        return [line for line in text.splitlines() if all(w in line for w in words)]

    def screen_lines(self, target: str, words: tuple[str, ...], shown: list[str]) -> None:
        """Add to ``shown`` each new line of ``target``'s screen holding one of ``words``."""
        try:
            screen = self.tmux.capture(self.tmux.resolve(target).pane_id)
        except TmuxError:
            return
        for line in screen:
            text = line.strip()
            if any(w in text.lower() for w in words) and text not in shown:
                shown.append(text)
