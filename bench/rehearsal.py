#!/usr/bin/env python3
"""A night, rehearsed: two teams of real Claude Code agents run unattended under a real cron
daemon for a compressed night while the faults a night brings are injected; then a report.

Two projects (real git repositories in a work folder, each with a project_configs.json entry
written for the run), each with a project manager and two engineers. Every agent is the real
Claude Code CLI, offline, talking to its own loopback stand-in of the Messages API
(tests/e2e/fake_anthropic_api.py) whose replies are scripted by bench/rehearsal_brains.py: the
agents drive the suite through their own Bash tool as CLAUDE.md tells them (schedule their own
check-ins every minute, hand out tasks, report back, commit, finish).

The suite runs as a user would run it: ``deploy`` starts the teams on a tmux server of the
rehearsal's own (``tmux -L orc-rehearsal-<pid>``) with a state folder of its own, and the
check-ins and backups are lines in the user's real crontab fired by a real cron daemon that the
rehearsal starts (the crontab is saved first and restored exactly at the end; both under the
machine-wide lock the tests use, so a test run never sees these lines). Then ``up`` seats the
orchestrator (run twice: the second run must change nothing): a real Claude Code in the suite
folder with a brain of its own, which runs ``status`` at its briefing, at each of its own
recurring check-ins (every 5 minutes, ``ORC_ORCHESTRATOR_CHECKIN_MINUTES``, instead of hourly)
and at each ``[attention]`` message, and passes an engineer's trouble on to that engineer's
project manager. ``ORC_NOTIFY_COMMAND`` is a stand-in script that appends each text it gets to
``<work>/notifications.txt``.

Faults, at fixed fractions of the run: an agent killed; a permission dialog left open; the
account's usage limit, met by a project manager that logs in the subscription way (so Claude
Code reports "You've hit your 5-hour limit · resets <time>"), right after it scheduled its next
check-in, with a reset a couple of minutes ahead; a merge conflict at ``finish``; cron stopped
for two to three minutes; a plain HTTP 429 to an agent that logs in with an API key (Claude
Code shows only "Request rejected (429)": no usage limit, nothing for the suite to wait for).
The rehearsal plays the person who notices (from ``status``, the attention log, the logs) and
recovers (``restart``, answering the dialog); the usage limit needs nobody: the check-ins due
meanwhile wait for the reset, one nudge follows, and the report says whether they came.

    python3 bench/rehearsal.py                 # 20 minutes (make rehearsal)
    python3 bench/rehearsal.py --minutes 3     # a quick try
    python3 bench/rehearsal.py --minutes 60 --work /var/tmp/night

Exit 0 when nothing was lost or doubled and every fault was survived; 1 otherwise; 2 bad usage.
The report is printed and written to ``<work>/state/rehearsal-report.txt`` (the work folder is
kept for inspection; its path is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

SUITE = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(SUITE), str(SUITE / "tests"), str(SUITE / "tests" / "e2e"), str(SUITE / "bench"),
                str(SUITE / ".deps" / "dev")]  # tests/support.py needs pytest (make dev-deps)

import orc  # noqa: E402,F401  (dependency path)
from claude_harness import FAKE_API_KEY, FAKE_OAUTH_TOKEN, prepare_claude_home  # noqa: E402
from fake_anthropic_api import FakeAnthropicAPI  # noqa: E402
from rehearsal_brains import Brain, Ledger, OrchestratorBrain, Team  # noqa: E402
import rehearsal_report as rr  # noqa: E402
from support import (  # noqa: E402
    find_cron, machine_lock, start_cron_daemon, stop_cron_daemon, users_crontab_replaced,
)
from orc.crontab_store import cron_daemon_running  # noqa: E402
from tmux_utils import Tmux, TmuxError  # noqa: E402

PROG = "rehearsal.py"
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


def say(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {text}", flush=True)


# --- the cron daemon the rehearsal starts, stops and starts again ------------------------------


class CronDaemon:
    """A cron daemon of the rehearsal's own (``cron -f`` as its child), so it can be stopped for
    the "cron stopped" fault and started again; when the machine's own daemon runs, the
    rehearsal uses it and cannot stop it (that fault is then skipped)."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.machine_daemon = False
        self.binary = find_cron()

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


# --- setup -----------------------------------------------------------------------------------------


def git(repo: Path, *args: str, check: bool = True) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          env={**os.environ, "GIT_AUTHOR_NAME": "rehearsal", "GIT_AUTHOR_EMAIL": "r@example.invalid",
                               "GIT_COMMITTER_NAME": "rehearsal", "GIT_COMMITTER_EMAIL": "r@example.invalid"})
    if check and done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def make_repo(path: Path) -> None:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    for key, value in (("user.name", f"{path.name} team"), ("user.email", f"{path.name}@example.invalid"),
                       ("commit.gpgsign", "false")):
        git(path, "config", key, value)
    (path / "SPEC.md").write_text(f"# {path.name}\n\nWrite one file per task and commit it.\n")
    (path / "shared.txt").write_text("shared line\n")
    git(path, "add", "SPEC.md", "shared.txt")
    git(path, "commit", "-q", "-m", "Initial commit")


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


def agent_command(binary: Path, home: Path, base_url: str, workdir: Path, env: dict[str, str],
                  subscription: bool = False) -> str:
    """The agent's command in the project config: a wrapper script in the agent's home (the
    way people start Claude Code with settings of their own), so the suite starts it the way
    it starts a plain ``claude``: with ``exec`` and its hooks (``--settings``), which the
    wrapper passes on. The config marks it ``"agent": "claude"`` (``up`` and ``spawn`` get
    ``--agent claude``): from its name alone the suite cannot know that it starts Claude Code.

    The wrapper runs Claude Code offline with only the environment it needs (the suite's
    settings included, so the agent's own calls of the suite's commands act on the
    rehearsal's state and tmux server), plus the pane's own TMUX and TMUX_PANE so a check-in
    with no target comes back to that pane. ``subscription``: logged in with a (stand-in)
    subscription token instead of an API key."""
    auth = {"CLAUDE_CODE_OAUTH_TOKEN": FAKE_OAUTH_TOKEN} if subscription else {"ANTHROPIC_API_KEY": FAKE_API_KEY}
    fixed = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(home),
        "ANTHROPIC_BASE_URL": base_url, **auth,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1", "TERM": "xterm-256color",
        **env,
    }
    assignments = " ".join(shlex.quote(f"{k}={v}") for k, v in fixed.items())
    wrapper = home / "run-claude"
    wrapper.write_text("#!/bin/sh\n"
                       "# Written by bench/rehearsal.py: one rehearsal agent's Claude Code, offline.\n"
                       f"cd {shlex.quote(str(workdir))} || exit 1\n"
                       f'exec env -i {assignments} TMUX="$TMUX" TMUX_PANE="$TMUX_PANE" '
                       f'{shlex.quote(str(binary))} "$@"\n')
    wrapper.chmod(0o700)
    return str(wrapper)


def project_config(work: Path, commands: dict[str, dict[str, str]]) -> dict[str, Any]:
    config: dict[str, Any] = {"_comment": "written by bench/rehearsal.py for one rehearsal"}
    for project in PROJECTS:
        config[project] = {
            "path": str(work / project), "session": project, "spec_file": "SPEC.md",
            "git_commit_interval": 60, "check_in_interval": 300, "branch_prefix": "feature/",
            "test_command": ["git", "status", "--short"],
            "constraints": {"max_files_per_commit": 200, "require_tests": True},
            # A wrapper script starts Claude Code: "agent" says so, so it gets the suite's hooks.
            "team": [{"role": role, "window": window, "command": commands[project][short], "agent": "claude"}
                     for short, role, window in MEMBERS],
            "shell_window": "Shell", "dev_server": None,
        }
    return config


# --- the run -------------------------------------------------------------------------------------


@dataclass
class Fault:
    name: str
    at: float                    # seconds after the start
    what: str
    injected: str = ""
    noticed: list[str] = field(default_factory=list)
    recovered: str = ""
    survived: bool | None = None
    skipped: str = ""

    def line(self) -> str:
        if self.skipped:
            return f"- {self.name}: SKIPPED: {self.skipped}"
        verdict = {True: "survived", False: "NOT survived", None: "not concluded"}[self.survived]
        noticed = "; ".join(self.noticed) or "nobody noticed"
        return (f"- {self.name} ({self.what}): {verdict}\n"
                f"    injected: {self.injected or 'not injected'}\n"
                f"    noticed: {noticed}\n"
                f"    recovered: {self.recovered or 'no'}")


class Rehearsal:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.minutes: float = args.minutes
        self.work = Path(args.work or tempfile.mkdtemp(prefix="orc-rehearsal-")).absolute()
        self.state = self.work / "state"
        self.socket_name = f"orc-rehearsal-{os.getpid()}"
        self.socket = Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.geteuid()}" / self.socket_name
        self.ledger = Ledger()
        self.agents: dict[str, AgentSlot] = {}
        self.faults: dict[str, Fault] = {}
        self.states: dict[str, list[tuple[float, str]]] = {}   # agent -> [(t, state)] on change
        self.started = 0.0
        self.cron = CronDaemon()
        self.load: list[tuple[float, float]] = []
        self.available: dict[str, bool] = {}
        self.notes: list[str] = []
        self.lock_wait = 0.0
        self.cron_off_now = False        # the "cron stopped" fault is on: do not start a daemon
        self.cron_lock = threading.Lock()
        self.env = {
            **os.environ,
            "ORC_STATE_DIR": str(self.state), "ORC_TMUX_SOCKET": str(self.socket),
            "ORC_PROJECT_CONFIG": str(self.work / "project_configs.json"),
            "ORC_DEFAULT_TARGET": ORCHESTRATOR_TARGET, "ORC_ATTENTION_SECONDS": "60",
            "ORC_NOTIFY_COMMAND": str(self.work / "notify.sh"),
            "ORC_ORCHESTRATOR_CHECKIN_MINUTES": str(ORCHESTRATOR_CHECKIN_MINUTES),
        }
        self.orchestrator: AgentSlot | None = None
        self.orchestrator_command = ""
        self.up_runs: list[str] = []     # what each `up` printed (exit code, last lines)
        self.spawned: AgentSlot | None = None   # the engineer added with `spawn` (not in the config)
        self.spawn_command = ""
        self.growth: list[str] = []
        self.grown: bool | None = None
        self.tmux = Tmux(self.socket)

    # -- helpers ---------------------------------------------------------------------------
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

    # -- setup -----------------------------------------------------------------------------
    def setup(self, binary: Path) -> None:
        self.state.mkdir(parents=True, mode=0o700, exist_ok=True)
        # The person's notifier: the text arrives as one argument; each run is one line in a file.
        sink = self.work / "notify.sh"
        sink.write_text(f'#!/bin/sh\nprintf \'%s %s\\n\' "$(date +%H:%M:%S)" "$*" >> {shlex.quote(str(self.work / "notifications.txt"))}\n')
        sink.chmod(0o755)
        (self.work / "scratch").mkdir(exist_ok=True)
        suite_env = {k: self.env[k] for k in ("ORC_STATE_DIR", "ORC_TMUX_SOCKET", "ORC_PROJECT_CONFIG",
                                              "ORC_DEFAULT_TARGET", "ORC_ATTENTION_SECONDS", "ORC_NOTIFY_COMMAND",
                                              "ORC_ORCHESTRATOR_CHECKIN_MINUTES")}
        self.available = {name: self.has_command(name) for name in ("finish", "spawn", "up")}
        self.available["attention"] = self.has_command("attention")
        commands: dict[str, dict[str, str]] = {}
        for project in PROJECTS:
            make_repo(self.work / project)
            team = Team(project=project, suite=str(SUITE), pm_target=f"{project}:PM", pm_name=f"{project}-pm",
                        engineers={f"{project}-dev1": f"{project}:Dev1", f"{project}-dev2": f"{project}:Dev2"},
                        finish_available=self.available["finish"],
                        scratch=str(self.work / "scratch"))
            commands[project] = {}
            for short, role, window in MEMBERS:
                name = f"{project}-{short}"
                brain = Brain(name, "pm" if short == "pm" else "engineer", team, self.ledger)
                api, url, home = self.stand_in(name, brain, self.work / project)
                commands[project][short] = agent_command(binary, home, url, self.work / project, suite_env,
                                                         subscription=name == LIMITED_AGENT)
                self.agents[name] = AgentSlot(name, project, role, window, brain, api, home)
        if self.available["spawn"]:
            project, short, role, window = SPAWNED
            name = f"{project}-{short}"
            pm = self.agents[f"{project}-pm"]
            brain = Brain(name, "engineer", pm.brain.team, self.ledger)
            api, url, home = self.stand_in(name, brain, self.work / project)
            self.spawn_command = agent_command(binary, home, url, self.work / project, suite_env)
            self.spawned = AgentSlot(name, project, role, window, brain, api, home)
        # The orchestrator `up` seats: a real Claude Code in the suite folder, with a brain of its own.
        team = Team(project="", suite=str(SUITE), pm_target="", pm_name="", engineers={},
                    finish_available=self.available["finish"], scratch=str(self.work / "scratch"),
                    managers={p: f"{p}:PM" for p in PROJECTS})
        brain = OrchestratorBrain("orchestrator", team, self.ledger)
        api, url, home = self.stand_in("orchestrator", brain, SUITE)
        self.orchestrator_command = agent_command(binary, home, url, SUITE, suite_env)
        session, window = ORCHESTRATOR_TARGET.split(":")
        self.orchestrator = AgentSlot("orchestrator", session, "orchestrator", window, brain, api, home)
        (self.work / "project_configs.json").write_text(json.dumps(project_config(self.work, commands), indent=2))
        done = self.integration("validate")
        if done.returncode != 0:
            raise RuntimeError(f"the rehearsal's config does not validate: {done.stderr.strip()}")

    def stand_in(self, name: str, brain: Brain, workdir: Path) -> tuple[FakeAnthropicAPI, str, Path]:
        """The agent's own stand-in API (answered by ``brain``) and its Claude Code home."""
        api = FakeAnthropicAPI()
        api.set_responder(brain)
        url = api.start()
        home = self.work / "homes" / name
        prepare_claude_home(home, workdir, FAKE_API_KEY, permission_mode="default")
        settings_file = home / ".claude" / "settings.json"
        settings = json.loads(settings_file.read_text())
        # Bash runs without a dialog (the agents drive the suite through it); any other
        # tool that changes files still asks, which is how the dialog fault opens one.
        settings["permissions"]["allow"] = ["Bash"]
        settings_file.write_text(json.dumps(settings, indent=2))
        return api, url, home

    def seat_orchestrator(self) -> None:
        """``up`` as a person runs it, then once more: the second run must change nothing."""
        from orc.checkins import pending_checkins
        from orc.settings import load_settings

        settings = load_settings(self.env)
        for attempt in ("first", "second"):
            done = self.integration("up", "--command", self.orchestrator_command, "--agent", "claude",
                                    "--ready-timeout", "120",
                                    timeout=300)
            said = " | ".join((done.stdout + done.stderr).strip().splitlines()[-3:])
            recurring = [c.id for c in pending_checkins(settings)
                         if c.target == ORCHESTRATOR_TARGET and c.every_minutes]
            self.up_runs.append(f"{attempt} `up`: exit {done.returncode}: {said[:300]}; "
                                f"recurring check-ins to {ORCHESTRATOR_TARGET}: {len(recurring)} {' '.join(recurring)}")
            say(self.up_runs[-1])

    # -- faults ----------------------------------------------------------------------------
    def plan_faults(self) -> None:
        total = self.minutes * 60
        # Long enough that check-ins come due while it is off: cron does not stop the jobs it
        # already started, and those wait for their due second within the minute.
        cron_off = min(180.0, max(120.0, total / 4))
        # At least one check-in (every minute) must come due while each fault lasts.
        self.dialog_hold = min(180.0, max(75.0, total / 5))
        # The usage limit's reset: a couple of minutes ahead (on a minute boundary, as Claude
        # Code shows it), so check-ins come due under it and wait for it.
        self.limit_ahead = min(180.0, max(120.0, total / 10))
        self.plain_429_seconds = min(90.0, max(60.0, total / 12))
        self.cron_off = cron_off
        self.faults = {
            "killed": Fault("agent killed", 0.10 * total, "beta-dev2's Claude Code process killed with SIGKILL"),
            "dialog": Fault("permission dialog left open", 0.20 * total,
                            f"alpha-dev2 asks for a file write; nobody answers for {self.dialog_hold:.0f}s"),
            "usage": Fault("usage limit (subscription)", 0.30 * total,
                           f"{LIMITED_AGENT} (logged in with a subscription token) reaches its account's usage "
                           f"limit, reset {self.limit_ahead:.0f}-{self.limit_ahead + 60:.0f}s ahead on a minute "
                           f"boundary: every request until then gets HTTP 429 with the unified-limit headers"),
            "conflict": Fault("merge conflict", 0.40 * total,
                              "alpha-dev1 finishes a task branch while main changed the same line"),
            "cron": Fault("cron stopped", 0.55 * total, f"the cron daemon stopped for {cron_off:.0f}s, then started"),
            "plain429": Fault("plain 429 (API key)", 0.75 * total,
                              f"{PLAIN_429_AGENT} (API-key login) gets HTTP 429 rate_limit_error for "
                              f"{self.plain_429_seconds:.0f}s from its next request: not a usage limit"),
        }
        if not self.available["finish"]:
            self.faults["conflict"].skipped = "`finish` is not in the suite yet (branch issue-8 had not committed it)"
        if self.cron.machine_daemon:
            self.faults["cron"].skipped = "the machine's own cron daemon runs; the rehearsal cannot stop it"

    def fault_threads(self) -> list[threading.Thread]:
        actions = {"killed": self.fault_killed, "dialog": self.fault_dialog, "conflict": self.fault_conflict,
                   "usage": self.fault_usage, "cron": self.fault_cron, "plain429": self.fault_plain_429}
        threads = []
        if self.spawned is not None:
            threads.append(threading.Thread(target=self.grow_team, name="spawn", daemon=True))
        for key, fault in self.faults.items():
            if fault.skipped:
                continue

            def run(key: str = key, fault: Fault = fault) -> None:
                while self.elapsed() < fault.at and not self.stopping.is_set():
                    time.sleep(1)
                if self.stopping.is_set():
                    return
                try:
                    actions[key](fault)
                except Exception as exc:  # noqa: BLE001 - a fault that could not run is reported
                    fault.survived = False
                    fault.recovered = f"the rehearsal's fault step failed: {type(exc).__name__}: {exc}"

            threads.append(threading.Thread(target=run, name=f"fault-{key}", daemon=True))
        return threads

    def grow_team(self) -> None:
        """Halfway through, alpha's project manager adds an engineer with `spawn` from its own
        Bash tool (its first task in the briefing); then it hands it tasks like the others."""
        slot, pm = self.spawned, self.agents[f"{SPAWNED[0]}-pm"]
        assert slot is not None
        while self.elapsed() < 0.5 * self.minutes * 60 and not self.stopping.is_set():
            time.sleep(1)
        if self.stopping.is_set():
            return
        pm.brain.grow_team(slot.name, slot.target, slot.role, self.spawn_command)
        self.growth.append(f"{time.strftime('%H:%M:%S')} {pm.name} told to add {slot.name} at {slot.target} "
                           f"with `spawn` at its next check-in")
        if not self.wait_until(lambda: pm.brain.spawn_results, 300, 3):
            self.growth.append("it ran no spawn within 5 minutes")
            self.grown = False
            return
        name, rc, said = pm.brain.spawn_results[0]
        self.growth.append(f"{time.strftime('%H:%M:%S')} `spawn` exit {rc}: {' | '.join(said.splitlines()[-3:])[:300]}")
        self.agents[slot.name] = slot   # from now on `status` is read for it too
        briefed = self.wait_until(lambda: slot.brain.requests > 0, 60, 2)
        done = self.wait_until(lambda: any(t.startswith(f"m-{slot.name}-") and e["rc"] == 0
                                           for t, e in list(self.ledger.sent.items())), 180, 5)
        self.growth.append(f"its stand-in heard from it: {briefed}; it reported a task DONE to {pm.name}: {done}")
        self.grown = rc == 0 and briefed and done

    def attention_lines(self, *words: str) -> list[str]:
        text = self.read("attention.log")
        return [line for line in text.splitlines() if all(w in line for w in words)]

    def fault_killed(self, fault: Fault) -> None:
        slot = self.agents["beta-dev2"]
        pane = self.tmux.resolve(slot.target)
        pid = self.tmux.pane_pid(pane.pane_id)
        os.kill(pid, signal.SIGKILL)
        fault.injected = f"{time.strftime('%H:%M:%S')} SIGKILL to pid {pid} in {slot.target}"
        say(f"fault: killed {slot.name} (pid {pid})")
        seen_at = time.monotonic()
        if self.wait_until(lambda: self.watch().get(slot.name) == "exited", 120, 3):
            fault.noticed.append(f"status showed {slot.name} exited after {time.monotonic() - seen_at:.0f}s")
        if self.available["attention"]:
            # The per-minute attention check runs from cron: give it its minute before restarting.
            if self.wait_until(lambda: self.attention_lines("beta", "exited"), 90, 5):
                fault.noticed.append(f"attention log: {self.attention_lines('beta', 'exited')[0][:200]}")
            else:
                fault.noticed.append("the attention log had no line for it within 90s")
        before = slot.brain.requests
        done = self.integration("restart", slot.project, slot.role, timeout=200)
        fault.recovered = (f"`restart {slot.project} {slot.role}` exit {done.returncode}: "
                           f"{(done.stdout or done.stderr).strip().splitlines()[-1:] }")
        back = self.wait_until(lambda: slot.brain.requests > before, 120, 2)
        arrived = set(slot.brain.arrived_slots)
        later = self.wait_until(lambda: len(slot.brain.arrived_slots - arrived) > 0, 180, 5)
        fault.survived = done.returncode == 0 and back and later
        fault.recovered += f"; agent answering again: {back}; a later check-in arrived: {later}"

    def fault_dialog(self, fault: Fault) -> None:
        slot = self.agents["alpha-dev2"]
        slot.brain.open_dialog_next_turn()
        refused_before = rr.delivery_counts(self.read("delivery.log")).refused
        deferred_before = rr.checkin_counts(self.read("checkins.log")).deferred
        raised_before = len(self.attention_lines("raised", "alpha/engineer-2", "reason=dialog"))
        fault.injected = f"{time.strftime('%H:%M:%S')} {slot.name} will ask for a Write at its next turn"
        if not self.wait_until(lambda: self.watch().get(slot.name) == "waiting", 150, 3):
            fault.recovered = "the dialog never showed"
            fault.survived = False
            return
        opened = time.monotonic()
        fault.noticed.append(f"status showed {slot.name} waiting (a dialog)")
        say(f"fault: dialog open in {slot.name}; holding it {self.dialog_hold:.0f}s")
        while time.monotonic() - opened < self.dialog_hold and not self.stopping.is_set():
            time.sleep(5)
            self.watch()
        told_once = True
        if self.available["attention"]:
            lines = self.attention_lines("raised", "alpha/engineer-2", "reason=dialog")[raised_before:]
            fault.noticed.append(f"attention log: {lines[0][:200]}; raised {len(lines)}x while it stayed open "
                                 "(once expected)" if lines
                                 else f"the attention log had no line for it within {self.dialog_hold:.0f}s")
            told_once = len(lines) == 1
        refused = rr.delivery_counts(self.read("delivery.log")).refused - refused_before
        deferred = rr.checkin_counts(self.read("checkins.log")).deferred - deferred_before
        fault.noticed.append(f"{refused} delivery attempt(s) refused while it was open (nothing typed); "
                             f"{deferred} check-in attempt(s) deferred (kept for a retry)")
        arrived = set(slot.brain.arrived_slots)
        pane = self.tmux.resolve(slot.target)
        self.tmux.send_key(pane.pane_id, "1")   # the person approves the write
        fault.recovered = f"{time.strftime('%H:%M:%S')} a person answered the dialog (1: Yes) after {self.dialog_hold:.0f}s"
        later = self.wait_until(lambda: len(slot.brain.arrived_slots - arrived) > 0, 180, 5)
        fault.recovered += f"; the check-ins kept for it arrived afterwards: {later}"
        fault.survived = later and told_once

    def fault_conflict(self, fault: Fault) -> None:
        slot = self.agents["alpha-dev1"]
        repo = self.work / slot.project
        fault.injected = "main gets a commit changing shared.txt once alpha-dev1's branch changed the same line"
        slot.brain.conflict_hook = lambda: self.commit_on_main(repo)
        after: dict[str, str] = {}

        def look(label: str, rc: int) -> None:
            after[label] = (f"on {git(repo, 'branch', '--show-current', check=False) or '(detached)'}, "
                            f"{'clean' if not git(repo, 'status', '--porcelain', '--untracked-files=no', check=False) else 'DIRTY'}"
                            f", {'no merge in progress' if not (repo / '.git' / 'MERGE_HEAD').exists() else 'MERGE IN PROGRESS'}")

        slot.brain.finish_hook = look
        slot.brain.merge_conflict_task("conflict-demo")
        if not self.wait_until(lambda: len(slot.brain.finish_results) >= 2, 240, 3):
            fault.recovered = f"finish ran {len(slot.brain.finish_results)} time(s) only"
            fault.survived = False
            return
        first, second = slot.brain.finish_results[0][1], slot.brain.finish_results[1][1]
        fault.noticed.append(f"finish exit {first}: {slot.brain.finish_outputs[0].splitlines()[0][:200]}")
        fault.noticed.append(f"the repository right after the refused finish: {after.get('first', 'not seen')}")
        if self.available["attention"]:
            lines = self.attention_lines("conflict")
            fault.noticed.append(f"attention log: {lines[0][:200]}" if lines else "no attention log line")
        fault.recovered = (f"the engineer merged main into its branch and finished again: exit {second}; "
                           f"main's last merge: {git(repo, 'log', '--merges', '-1', '--format=%s', 'main', check=False)!r}")
        fault.survived = (first == 1 and second == 0 and "conflict" in slot.brain.finish_outputs[0].lower()
                          and after.get("first", "").startswith("on feature/") and "clean, no merge" in after["first"])

    def commit_on_main(self, repo: Path) -> None:
        """Someone else's change to main, made without touching the working folder."""
        index = repo / ".git" / "rehearsal-index"
        env = {**os.environ, "GIT_INDEX_FILE": str(index)}

        def run(*args: str, input: str | None = None) -> str:
            return subprocess.run(["git", "-C", str(repo), *args], env=env, capture_output=True, text=True,
                                  check=True, input=input).stdout.strip()

        run("read-tree", "main")
        blob = run("hash-object", "-w", "--stdin", input="main's own change to the shared line\n")
        run("update-index", "--add", "--cacheinfo", f"100644,{blob},shared.txt")
        tree = run("write-tree")
        commit = run("commit-tree", tree, "-p", "main", "-m", "main: shared line changed elsewhere")
        run("update-ref", "refs/heads/main", commit)
        index.unlink(missing_ok=True)
        self.ledger.note(f"rehearsal: committed {commit[:10]} on main (conflicting shared.txt)")

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

    def fault_usage(self, fault: Fault) -> None:
        """The subscription's usage limit: noticed (the agent's state, the attention log, the
        orchestrator's pane), survived (the check-ins due meanwhile deferred to the reset and
        delivered then, the one nudge, the agent at work again)."""
        from orc.usage_limit import AFTER_RESET

        slot = self.agents[LIMITED_AGENT]
        slot.brain.limit_after_schedule(self.limit_ahead)
        fault.injected = (f"{time.strftime('%H:%M:%S')} {slot.name}'s account reaches its limit at its next "
                          f"request after scheduling its next check-in")
        if not self.wait_until(lambda: slot.brain.limited_since is not None, 240, 2):
            fault.recovered = "the agent scheduled no check-in in 4 minutes: the limit never bit"
            fault.survived = False
            return
        reset = slot.brain.limited_until
        shown_reset = time.strftime("%H:%M:%S", time.localtime(reset))
        say(f"fault: usage limit for {slot.name} until {shown_reset}")
        shown: list[str] = []
        while time.time() < reset and not self.stopping.is_set():
            time.sleep(3)
            self.screen_lines(slot.target, ("hit your", "usage limit", "429", "continuing automatically"), shown)
        fault.injected += (f"; met at {time.strftime('%H:%M:%S', time.localtime(slot.brain.limited_since))}, "
                           f"reset {shown_reset}; {slot.brain.limited_answers} request(s) answered with it")
        fault.noticed.append("its screen showed: " + (" | ".join(s[:110] for s in shown[:3]) or "nothing about it"))
        states = [s for t, s in self.states.get(slot.name, []) if t >= fault.at - 1]
        fault.noticed.append(f"status read it as: {', '.join(states) or 'no change'}")
        lines = self.attention_lines("usage-limit", slot.project)
        fault.noticed.append(f"attention log: {lines[0][:200]}" if lines else "no usage-limit line in the attention log")
        # Survived: what was due meanwhile waits for the reset and comes then, with one nudge.
        settle = reset + AFTER_RESET.total_seconds() + 150
        since = (slot.brain.limited_since or time.time()) - 1

        pane = self.tmux.resolve(slot.target)
        # A check-in the agent scheduled with no target names its pane by index.
        names = {slot.target, f"{pane.session}:{pane.window_index}.{pane.pane_index}",
                 f"{pane.session}:{pane.window_index}", pane.pane_id}

        def deferrals() -> rr.LimitDeferrals:
            return rr.limit_deferrals(self.read("checkins.log"), targets=names, since=since)

        def delivered_all() -> bool:
            limit = deferrals()
            return bool(limit.deferred) and all(i in limit.delivered_after for i in [*limit.deferred, *limit.nudges]) \
                and slot.brain.nudges > 0
        self.wait_for_cron(delivered_all, max(5.0, settle - time.time()))
        limit = deferrals()
        ids = list(limit.deferred)
        late = [i for i in ids if i not in limit.delivered_after]
        fault.noticed.append(
            f"{len(ids)} check-in(s) met the limit and were deferred to the reset + {AFTER_RESET.total_seconds():.0f}s "
            f"({', '.join(f'{i} to {limit.deferred[i]}' for i in ids) or 'none'}); nudges scheduled: "
            f"{', '.join(limit.nudges) or 'none'}")
        working = self.wait_for_cron(lambda: slot.brain.answered_after_limit > 0 and (
            slot.brain.arrived_slots and any(slot.brain.arrived_at.get(t, 0) >= reset for t in slot.brain.arrived_slots)),
            max(5.0, settle - time.time()))
        with self.ledger.lock:
            sent_after = [t for t, e in self.ledger.sent.items() if e["from"] == slot.name and e["at"] >= reset]
        fault.recovered = (
            f"deferred check-ins delivered after the reset: {len(ids) - len(late)}/{len(ids)}"
            + (f" (not: {', '.join(late)})" if late else "")
            + f"; nudge delivered: {', '.join(f'{n} at {limit.delivered_after[n]}' for n in limit.nudges if n in limit.delivered_after) or 'no'}"
            + f", reached the agent {slot.brain.nudges}x"
            + f"; agent answering again: {slot.brain.answered_after_limit} request(s) answered after the reset, "
              f"{len(sent_after)} message(s) sent since")
        fault.survived = bool(ids) and not late and slot.brain.nudges == 1 and bool(working)

    def fault_plain_429(self, fault: Fault) -> None:
        """A 429 that is not a usage limit (API-key login): Claude Code shows a failed turn and
        waits. The suite hears it from the StopFailure hook: a ``turn-failed`` attention item, and
        one nudge ``ORC_TURN_RETRY_SECONDS`` later when the failed turn was a check-in's. Survived
        when the agent works again afterwards (that nudge or its next check-in)."""
        slot = self.agents[PLAIN_429_AGENT]
        slot.brain.limit_for(self.plain_429_seconds)
        fault.injected = f"{time.strftime('%H:%M:%S')} {slot.name}'s stand-in answers 429 for {self.plain_429_seconds:.0f}s"
        if not self.wait_until(lambda: slot.brain.limited_since is not None, 240, 2):
            fault.recovered = "the agent sent no request in 4 minutes: the 429 never bit"
            fault.survived = False
            return
        fault.injected += f"; first hit at {time.strftime('%H:%M:%S', time.localtime(slot.brain.limited_since))}"
        shown: list[str] = []
        while time.time() < slot.brain.limited_until + 3 and not self.stopping.is_set():
            time.sleep(3)
            self.screen_lines(slot.target, ("429", "rate limit", "retrying"), shown)
        fault.noticed.append("its screen showed: " + (" | ".join(s[:110] for s in shown[:3]) or "nothing about it"))
        fault.noticed.append(f"{slot.brain.limited_answers} request(s) answered 429; what reached it then and got "
                             f"only the error: {', '.join(slot.brain.arrived_while_limited) or 'nothing'}")
        states = [s for t, s in self.states.get(slot.name, []) if t >= fault.at - 1]
        fault.noticed.append(f"status read it as: {', '.join(states) or 'no change'}")
        lines = [line for line in self.attention_lines("turn-failed", slot.project) if "raised" in line]
        fault.noticed.append("attention log: " + (lines[0][:200] if lines else "no turn-failed line"))
        arrived = set(slot.brain.arrived_slots)
        before = slot.brain.requests
        # Its turn failed before it scheduled its next check-in: what revives it is the suite's
        # one nudge (when the failed turn answered a check-in) or the recurring check-in `deploy`
        # gave it (check_in_interval, 5 minutes).
        later = self.wait_for_cron(lambda: len(slot.brain.arrived_slots - arrived) > 0 and slot.brain.requests > before,
                                   390)
        idle = time.time() - slot.brain.limited_until
        retries = [line for line in self.attention_lines("turn-retry", slot.project)]
        fault.noticed.append("the suite's retry: " + ("; ".join(line[:160] for line in retries[:2])
                                                     or "none logged by then")
                             + f"; its nudge reached the agent {slot.brain.retry_nudges}x")
        fault.recovered = (f"a check-in or the suite's nudge arrived after the 429s and the agent answered it: {later}"
                           + (f", {idle:.0f}s after the 429s ended ({time.strftime('%H:%M:%S')})" if later else ""))
        fault.survived = later

    def fault_cron(self, fault: Fault) -> None:
        if self.cron.machine_daemon:
            fault.skipped = "the machine's own cron daemon runs; the rehearsal cannot stop it"
            return
        self.cron_off_now = True
        with self.cron_lock:
            self.cron.stop()
        fault.injected = f"{time.strftime('%H:%M:%S')} cron daemon stopped for {self.cron_off:.0f}s"
        say(f"fault: cron stopped for {self.cron_off:.0f}s")
        stopped_at = time.monotonic()
        late_before = rr.checkin_counts(self.read("checkins.log")).late
        while time.monotonic() - stopped_at < self.cron_off and not self.stopping.is_set():
            time.sleep(2)
        with self.cron_lock:
            self.cron.start()
        self.cron_off_now = False
        fault.recovered = f"{time.strftime('%H:%M:%S')} cron daemon started again"
        caught_up = self.wait_until(lambda: rr.checkin_counts(self.read("checkins.log")).late > late_before, 150, 5)
        # The kept check-ins go out one after another in cron's first minute back: count them
        # once the log has stopped growing, not at the first.
        late, steady_since = -1, time.monotonic()
        while caught_up and time.monotonic() - steady_since < 15 and not self.stopping.is_set():
            now_late = rr.checkin_counts(self.read("checkins.log")).late - late_before
            if now_late != late:
                late, steady_since = now_late, time.monotonic()
            time.sleep(3)
        late = rr.checkin_counts(self.read("checkins.log")).late - late_before
        fault.noticed.append(f"{late} check-in(s) delivered marked LATE after cron came back")
        warnings = sum(1 for b in self.agents.values() for w in b.brain.warnings if "cron" in w.lower())
        fault.noticed.append(f"{warnings} schedule_with_note.sh call(s) warned that no cron daemon runs")
        fault.survived = caught_up

    # -- the night ------------------------------------------------------------------------------
    def run(self) -> int:
        binary = Path(subprocess.run(["bash", str(SUITE / "tests/e2e/install_claude.sh")], capture_output=True,
                                     text=True, check=True).stdout.strip())
        self.stopping = threading.Event()
        with ExitStack() as stack:
            say(f"work folder {self.work}; tmux -L {self.socket_name}; taking the machine-wide crontab lock")
            asked = time.monotonic()
            stack.enter_context(machine_lock(timeout=3600))
            self.lock_wait = time.monotonic() - asked
            self.cron.detect()
            why = self.cron.why_not()
            if why:
                print(f"{PROG}: error: {why}", file=sys.stderr)
                return 1
            stack.enter_context(users_crontab_replaced(None))
            stack.callback(self.cron.stop)
            self.cron.start()
            stack.callback(self.teardown)
            self.setup(binary)
            self.plan_faults()
            say(f"commands present: {', '.join(k for k, v in self.available.items() if v) or 'none'}; "
                f"missing: {', '.join(k for k, v in self.available.items() if not v) or 'none'}")
            self.started = time.monotonic()
            done = self.integration("deploy", "--all", "--ready-timeout", "120", timeout=600)
            say(f"deploy exit {done.returncode}")
            if done.returncode != 0:
                self.notes.append(f"deploy exit {done.returncode}: {(done.stderr or done.stdout).strip()[-400:]}")
            if self.available["up"]:
                self.seat_orchestrator()
            threads = self.fault_threads()
            for thread in threads:
                thread.start()
            end = self.minutes * 60
            last = 0.0
            while self.elapsed() < end:
                time.sleep(5)
                if self.elapsed() - last >= 20:
                    last = self.elapsed()
                    states = self.watch()
                    say(f"t={self.elapsed() / 60:.1f}m " + " ".join(f"{k}={v}" for k, v in sorted(states.items())))
            say("the night is over; waiting for the faults to conclude")
            self.wait_until(lambda: all(f.skipped or f.survived is not None for f in self.faults.values())
                            and (self.spawned is None or self.grown is not None), 480, 5)
            say("no new tasks or check-ins from now on; draining what is pending")
            for slot in [*self.agents.values(), *([self.orchestrator] if self.orchestrator else [])]:
                slot.brain.winding_down = True
            self.drain()
            self.stopping.set()
            for thread in threads:
                thread.join(timeout=5)
            report, ok = self.report()
            # Written before the cleanup, so a cleanup that fails cannot take the report with it.
            out = self.state / "rehearsal-report.txt"
            out.write_text(report + "\n", encoding="utf-8")
            print(report)
            print(f"\nreport written to {out}\nwork folder kept: {self.work}", flush=True)
        say("cleaned up: tmux server, crontab (restored exactly), cron daemon, stand-ins")
        return 0 if ok else 1

    def orchestrator_attention(self, text: str) -> int:
        """How many times the attention message ``<subject>: <text>`` reached the orchestrator."""
        brain = self.orchestrator.brain if self.orchestrator else None
        return brain.attention.get(text, 0) if isinstance(brain, OrchestratorBrain) else 0

    def orchestrator_report(self, told: rr.AttentionCounts) -> list[str]:
        slot = self.orchestrator
        if slot is None or not isinstance(slot.brain, OrchestratorBrain):
            return ["not seated"]
        brain = slot.brain
        delivered = [line for line in rr.parse_log(self.read("checkins.log"))
                     if line.event == "delivered" and line.fields.get("target") == ORCHESTRATOR_TARGET]
        with self.ledger.lock:
            sent = [e for e in self.ledger.sent.values() if e["from"] == slot.name]
        return [
            *self.up_runs,
            f"its self check-in every {ORCHESTRATOR_CHECKIN_MINUTES} minutes (ORC_ORCHESTRATOR_CHECKIN_MINUTES; "
            f"the default is hourly): delivered {len(delivered)}x (checkins.log), reached its stand-in API "
            f"{brain.checkins}x",
            f"briefings that reached it: {brain.briefings}; `status` runs through its Bash tool: {len(brain.status_runs)}"
            f" (exit codes: {', '.join(str(c) for c in sorted(set(brain.status_runs))) or '-'})",
            f"attention messages: proven submitted to its pane {told.told_orchestrator}, reached its stand-in "
            f"{sum(brain.attention.values())}: "
            + ("; ".join(f"{t[:90]} x{n}" for t, n in sorted(brain.attention.items())) or "none"),
            f"messages it sent to project managers: {len(sent)}, proven submitted "
            f"{sum(1 for e in sent if e['rc'] == 0)}",
        ]

    def drain(self) -> None:
        """Wait (up to 4 minutes) until no check-in is pending past its due time and every
        message proven submitted has reached its addressee."""
        from orc.checkins import pending_checkins
        from orc.settings import load_settings

        settings = load_settings(self.env)

        def settled() -> bool:
            now = time.time()
            overdue = [c for c in pending_checkins(settings) if c.due.timestamp() <= now]
            with self.ledger.lock:
                unreceived = [t for t, e in self.ledger.sent.items()
                              if e["rc"] == 0 and self.ledger.received.get((e["to"], t), 0) == 0]
                unanswered = [t for t, e in self.ledger.sent.items() if e["rc"] is None]
            return not overdue and not unreceived and not unanswered

        self.wait_until(settled, 180, 5)

    def teardown(self) -> None:
        say("cleaning up: stop --all --kill, tmux server, cron lines, cron daemon, stand-ins")
        try:
            self.integration("stop", "--all", "--kill", timeout=120)
        except Exception as exc:  # noqa: BLE001 - cleanup goes on
            self.notes.append(f"stop --all --kill failed: {exc}")
        try:
            if self.tmux.is_running():
                self.tmux.run("kill-server")
            self.socket.unlink(missing_ok=True)
        except (TmuxError, Exception):  # noqa: BLE001 - the server may already be gone
            pass
        from orc.checkins import cancel_checkins, pending_checkins
        from orc.settings import load_settings
        try:
            settings = load_settings(self.env)
            left = [c.id for c in pending_checkins(settings)]
            if left:
                cancel_checkins(settings, left)
        except Exception as exc:  # noqa: BLE001
            self.notes.append(f"cancelling the pending check-ins failed: {exc}")
        extra = [s for s in (self.orchestrator, self.spawned) if s is not None and s.name not in self.agents]
        for slot in [*self.agents.values(), *extra]:
            slot.api.stop()

    # -- the report -------------------------------------------------------------------------------
    def report(self) -> tuple[str, bool]:
        delivery = rr.delivery_counts(self.read("delivery.log"))
        checkins = rr.checkin_counts(self.read("checkins.log"))
        with self.ledger.lock:
            sent = {k: dict(v) for k, v in self.ledger.sent.items()}
            received = Counter(self.ledger.received)
        cross = rr.crosscheck(sent, received, checkins.delivered_tokens)
        from orc.checkins import pending_checkins
        from orc.settings import load_settings
        settings = load_settings(self.env)
        now = time.time()
        pending = pending_checkins(settings)
        overdue = [c for c in pending if c.due.timestamp() <= now - 60]
        late_ids = {line.fields.get("id") for line in rr.parse_log(self.read("checkins.log")) if line.event == "late"}
        on_time = [float(line.fields["lag"].rstrip("s")) for line in rr.parse_log(self.read("checkins.log"))
                   if line.event == "delivered" and line.fields.get("id") not in late_ids
                   and rr.seconds(line.fields.get("lag", "")) is not None]
        backups = rr.backup_counts(self.read("git.log"))
        integration = rr.event_counts(self.read("integration.log"))
        attention = self.read("attention.log").splitlines()
        told = rr.attention_counts(self.read("attention.log"))
        notified = (self.work / "notifications.txt").read_text().splitlines() \
            if (self.work / "notifications.txt").exists() else []
        limit_all = rr.limit_deferrals(self.read("checkins.log"))
        late_for_limit = sorted(str(i) for i in late_ids & set(limit_all.deferred))
        orchestrator = self.orchestrator_report(told)
        loads = [v for _, v in self.load]
        work_done = {p: git(self.work / p, "rev-list", "--count", "--all", check=False) for p in PROJECTS}
        by_kind = ", ".join(f"{k} {a}/{a + b}" for k, (a, b) in sorted(delivery.by_kind.items()))
        msgs_sent = len(sent)
        msgs_proven = sum(1 for e in sent.values() if e["rc"] == 0)
        msgs_refused = sum(1 for e in sent.values() if e["rc"] not in (0, None))
        msgs_unknown = sum(1 for e in sent.values() if e["rc"] is None)

        def fmt(v: float | None) -> str:
            return "-" if v is None else f"{v:.1f}s"

        faults_ok = all(f.skipped or f.survived for f in self.faults.values())
        lost = list(cross.lost) + [f"{c.id} still pending, due {c.due:%H:%M:%S}" for c in overdue] \
            + [f"attention to the orchestrator: {t!r} submitted {n}x, arrived {self.orchestrator_attention(t)}x"
               for t, n in sorted(told.submitted_texts.items()) if self.orchestrator_attention(t) < n]
        ok = not lost and not cross.doubled and not checkins.failed and faults_ok and self.grown is not False
        lines = [
            "== Rehearsal report",
            f"run: {self.minutes:g} minutes, 2 projects x (1 project manager + 2 engineers), real Claude Code "
            f"against per-agent stand-in APIs, check-ins every minute, real cron daemon "
            f"({'the rehearsal' + chr(39) + 's own' if self.cron.ours else 'the machine' + chr(39) + 's'})",
            f"work folder: {self.work}; started {time.strftime('%Y-%m-%d %H:%M', time.localtime(time.time() - self.elapsed()))}"
            f" after waiting {self.lock_wait:.0f}s for the machine-wide crontab lock",
            f"machine: {os.cpu_count()} cores; load average during the run: median "
            f"{rr.percentile(loads, 50) or 0:.2f}, max {max(loads) if loads else 0:.2f} (shared with other work)",
            f"suite commands present: {', '.join(k for k, v in self.available.items() if v) or 'none'}; "
            f"missing (their steps skipped): {', '.join(k for k, v in self.available.items() if not v) or 'none'}",
            "",
            "== Messages (send_message.sh run by the agents)",
            f"sent {msgs_sent}, proven submitted {msgs_proven}, refused (sender told) {msgs_refused}, "
            f"sender never saw the answer {msgs_unknown}",
            f"delivery.log: {delivery.attempts} attempts, {delivery.submitted} proven submitted, "
            f"{delivery.refused} refused; by kind (submitted/attempts): {by_kind}",
            "refusal reasons: " + (", ".join(f"{k} x{v}" for k, v in sorted(delivery.refusal_reasons.items()))
                                   or "none"),
            "",
            "== Check-ins",
            f"scheduled {checkins.scheduled}, delivered {checkins.delivered}, late {checkins.late}, "
            f"deferred (kept, retried) {checkins.deferred}, failed {checkins.failed}, cancelled {checkins.cancelled}",
            f"lag behind the due second: p50 {fmt(checkins.lag(50))}, p90 {fmt(checkins.lag(90))}, "
            f"p99 {fmt(checkins.lag(99))}, max {fmt(max(checkins.lags) if checkins.lags else None)}",
            f"late because they waited for a usage limit's reset: {len(late_for_limit)}"
            + (f" ({', '.join(late_for_limit)})" if late_for_limit else "")
            + f"; deferred for a usage limit: {len(limit_all.deferred)}, nudges scheduled {len(limit_all.nudges)}, "
              f"delivered {sum(1 for n in limit_all.nudges if n in limit_all.delivered_after)}",
            f"lag of those not marked late: p50 {fmt(rr.percentile(on_time, 50))}, p90 {fmt(rr.percentile(on_time, 90))}, "
            f"max {fmt(max(on_time) if on_time else None)}",
            f"still pending at the end: {len(pending)} (not yet due: {len(pending) - len(overdue)}; "
            f"past due by more than a minute: {len(overdue)})",
            "",
            "== Lost or doubled (what was sent against what each agent's stand-in received)",
            f"lost: {len(lost)}" + (": " + "; ".join(lost[:20]) if lost else ""),
            f"doubled: {len(cross.doubled)}" + (": " + "; ".join(cross.doubled[:20]) if cross.doubled else ""),
            f"refused and not received (correct): {len(cross.refused) - len(cross.received_unproven)}; "
            f"refused but received anyway: {len(cross.received_unproven)}"
            + (": " + ", ".join(cross.received_unproven) if cross.received_unproven else ""),
            "",
            "== Work, backups, restarts, notifications",
            "commits in each repository (all branches and backup refs): "
            + ", ".join(f"{p} {n}" for p, n in work_done.items()),
            "backups (git.log): " + (", ".join(f"{k} {v}" for k, v in sorted(backups.items())) or "none"),
            "integration.log: " + (", ".join(f"{k} {v}" for k, v in sorted(integration.items())) or "none"),
            "",
            "== Telling a person (attention log, the orchestrator's pane, ORC_NOTIFY_COMMAND)",
            "raised: " + (", ".join(f"{k} {v}" for k, v in sorted(told.raised.items())) or "nothing")
            + f"; cleared {told.cleared}",
            f"messages to the orchestrator's pane: proven submitted {told.told_orchestrator}, not submitted "
            f"{sum(told.not_told.values())}"
            + (" (" + ", ".join(f"{k} x{v}" for k, v in sorted(told.not_told.items())) + ")" if told.not_told else ""),
            f"ORC_NOTIFY_COMMAND (a stand-in script appending to {self.work / 'notifications.txt'}): "
            f"{told.notify_ok} ran ok, {sum(told.notify_failed.values())} did not"
            + (" (" + ", ".join(f"{k} x{v}" for k, v in sorted(told.notify_failed.items())) + ")"
               if told.notify_failed else "")
            + f"; lines it wrote: {len(notified)}",
            f"attention log ({len(attention)} lines):",
            *[f"    {line[:200]}" for line in attention[:30]],
            "",
            "== The orchestrator (seated by `up`)",
            *orchestrator,
            "",
            "== The team grown with `spawn` (run by a project manager through its Bash tool)",
            *(self.growth or ["not tried (`spawn` missing)" if self.spawned is None else "not reached"]),
            f"verdict: {({True: 'grown', False: 'NOT grown', None: 'not concluded'})[self.grown]}",
            "",
            "== Faults",
            *[f.line() for f in self.faults.values()],
            "",
            "== Agents (state changes seen by `status`, minutes after the start)",
            *[f"{name}: " + " ".join(f"{t / 60:.1f}:{s}" for t, s in seq[:30])
              for name, seq in sorted(self.states.items())],
            *[f"note: {n}" for n in self.notes + self.ledger.events],
            "",
            f"RESULT: {'PASS' if ok else 'FAIL'}: {len(lost)} lost, {len(cross.doubled)} doubled, "
            f"{checkins.failed} check-ins failed, faults survived "
            f"{sum(1 for f in self.faults.values() if f.survived)}/"
            f"{sum(1 for f in self.faults.values() if not f.skipped)}"
            f" ({sum(1 for f in self.faults.values() if f.skipped)} skipped)"
            + ("" if self.spawned is None else f", team grown with spawn: {self.grown}"),
        ]
        return "\n".join(lines), ok


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Run a compressed night of two agent teams under real cron with injected faults; "
                    "print and save a report. Exit 0: nothing lost or doubled, every fault survived; "
                    "1: something was; 2: bad usage.",
        epilog="examples:\n  python3 bench/rehearsal.py\n  python3 bench/rehearsal.py --minutes 3\n"
               "  python3 bench/rehearsal.py --minutes 60 --work /var/tmp/night",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--minutes", type=float, default=20.0, help="length of the night (default 20; 3 for a quick try)")
    parser.add_argument("--work", help="work folder (default: a new temporary folder, kept afterwards)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.minutes < 2:
        print(f"{PROG}: error: --minutes must be at least 2; use 3 for a quick try", file=sys.stderr)
        return 2
    # SIGTERM cleans up like Ctrl-C: the tmux server, the cron daemon and the crontab lines go.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return Rehearsal(args).run()
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; everything it started was cleaned up", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
