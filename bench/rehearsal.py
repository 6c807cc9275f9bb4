#!/usr/bin/env python3
"""A night, rehearsed: two teams of real Claude Code agents run unattended under a real cron
daemon for a compressed night while the faults a night brings are injected; then a report.

Two projects (real git repositories in a work folder, each with a project_configs.json entry
written for the run), each with a project manager and two engineers. Every agent is the real
Claude Code CLI, offline, talking to its own loopback stand-in of the Messages API
(tests/e2e/fake_anthropic_api.py) whose replies are scripted by bench/rehearsal_brains.py: the
agents drive the suite through their own Bash tool as CLAUDE.md tells them (schedule their own
check-ins every minute, hand out tasks, report back, commit, finish). Beta is a worktree team
(``"worktree": true``): each engineer works in a git worktree and on a branch of its own, and
its project manager finishes each one (``finish beta <role>``, then ``restart --resume``); the
report counts its commits per branch and its merges into main from git, and the night fails
when a commit landed on another engineer's branch or a finish that should have merged did not.

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

This file is the run: set-up, deploy, the night's timeline, drain, cleanup, ``main``. The rest,
none of which imports the run: bench/rehearsal_stage.py (the agents' slots, the cron daemon,
what can be seen and waited for), bench/rehearsal_faults.py (each fault and its schedule),
bench/rehearsal_judges.py (noticed, survived, lost, doubled), bench/rehearsal_report.py (the
logs' counts and the report's text), bench/rehearsal_brains.py (the agents' scripted replies).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench_setup import SUITE, claude_binary  # first: puts the suite, tests/ and the dependencies on sys.path
import rehearsal_faults as faults
import rehearsal_judges as judges
import rehearsal_report as rr
from claude_harness import FAKE_API_KEY, FAKE_OAUTH_TOKEN, prepare_claude_home
from fake_anthropic_api import FakeAnthropicAPI
from rehearsal_brains import Brain, OrchestratorBrain, Team
from rehearsal_stage import (
    LIMITED_AGENT, MEMBERS, ORCHESTRATOR_CHECKIN_MINUTES, ORCHESTRATOR_TARGET, PROJECTS, SPAWNED,
    WORKTREE_BRANCH_PREFIX, WORKTREE_PROJECT, AgentSlot, Stage, git, say,
)
from support import machine_lock, users_crontab_replaced
from tmux_utils import TmuxError

PROG = "rehearsal.py"


# --- setup -----------------------------------------------------------------------------------------


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


def agent_command(binary: Path, home: Path, base_url: str, workdir: Path | None, env: dict[str, str],
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
    subscription token instead of an API key. ``workdir`` None: no ``cd``, the agent starts in
    the folder the suite starts its pane in (an engineer's worktree: were the suite to start it in
    the main checkout, its commits would land on the main branch and the judges would say so)."""
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
                       + (f"cd {shlex.quote(str(workdir))} || exit 1\n" if workdir is not None else "")
                       + f'exec env -i {assignments} TMUX="$TMUX" TMUX_PANE="$TMUX_PANE" '
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
        if project == WORKTREE_PROJECT:
            # The suite's defaults: <work>/beta-worktrees/<role>, on orc/<role>, from main's HEAD.
            config[project]["worktree"] = True
    return config


def trust_folder(home: Path, trusted: Path, folder: Path) -> None:
    """Trust ``folder`` in the Claude Code home as ``trusted`` is: the answer a person gives
    once to the trust dialog Claude Code opens in a folder it has not seen, which a new worktree
    is; trust given to a folder covers the folders under it (docs/workflow.md, "Worktrees").
    Not made here: the suite makes each worktree, and refuses a folder at that path it did not make."""
    config_file = home / ".claude.json"
    config = json.loads(config_file.read_text())
    config["projects"][str(folder.resolve())] = config["projects"][str(trusted.resolve())]
    config_file.write_text(json.dumps(config, indent=2))


# --- the run -------------------------------------------------------------------------------------


class Rehearsal(Stage):
    """The run: the stage set up, the teams deployed, the night played out with its faults,
    then drained, judged, reported and cleaned up."""

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args.minutes, Path(args.work or tempfile.mkdtemp(prefix="orc-rehearsal-")).absolute())
        self.args = args
        self.faults: dict[str, rr.Fault] = {}
        self.lock_wait = 0.0
        self.orchestrator: AgentSlot | None = None
        self.orchestrator_command = ""
        self.up_runs: list[str] = []     # what each `up` printed (exit code, last lines)
        self.spawned: AgentSlot | None = None   # the engineer added with `spawn` (not in the config)
        self.spawn_command = ""
        self.growth: list[str] = []
        self.grown: bool | None = None
        self.finishes_over = False        # the worktree team's manager finished each engineer, or gave up

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
            in_worktrees = project == WORKTREE_PROJECT
            team = Team(project=project, suite=str(SUITE), pm_target=f"{project}:PM", pm_name=f"{project}-pm",
                        engineers={f"{project}-dev1": f"{project}:Dev1", f"{project}-dev2": f"{project}:Dev2"},
                        finish_available=self.available["finish"],
                        scratch=str(self.work / "scratch"),
                        worktree_branches={f"{project}-{short}": (role, WORKTREE_BRANCH_PREFIX + role)
                                           for short, role, _ in MEMBERS if short != "pm"} if in_worktrees else {})
            commands[project] = {}
            for short, role, window in MEMBERS:
                name = f"{project}-{short}"
                brain = Brain(name, "pm" if short == "pm" else "engineer", team, self.ledger)
                api, url, home = self.stand_in(name, brain, self.work / project)
                engineer_in_worktree = in_worktrees and short != "pm"
                if engineer_in_worktree:
                    trust_folder(home, self.work / project, self.work / f"{project}-worktrees")
                commands[project][short] = agent_command(binary, home, url,
                                                         None if engineer_in_worktree else self.work / project,
                                                         suite_env, subscription=name == LIMITED_AGENT)
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
        from orc.scheduling.checkins import pending_checkins
        from orc.core.settings import load_settings

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
        if not judges.spawn_ran(self, pm):
            self.growth.append("it ran no spawn within 5 minutes")
            self.grown = False
            return
        name, rc, said = pm.brain.spawn_results[0]
        self.growth.append(f"{time.strftime('%H:%M:%S')} `spawn` exit {rc}: {' | '.join(said.splitlines()[-3:])[:300]}")
        self.agents[slot.name] = slot   # from now on `status` is read for it too
        seen, self.grown = judges.spawned_at_work(self, slot, pm, rc)
        self.growth.append(seen)

    def finish_engineers(self) -> None:
        """At 45% of the night (after the killed engineer's restart, before cron stops),
        the worktree team's project manager is told to finish each engineer at its next
        ``DONE``; waits (up to 6 minutes) until it ran a finish for each."""
        pm = self.agents[f"{WORKTREE_PROJECT}-pm"]
        while self.elapsed() < 0.45 * self.minutes * 60 and not self.stopping.is_set():
            time.sleep(1)
        if not self.stopping.is_set():
            pm.brain.finish_each_engineer()
            say(f"{pm.name} told to finish each engineer at its next DONE")
            want = len(pm.brain.team.worktree_branches)
            self.wait_until(lambda: len(pm.brain.member_finishes) >= want or self.stopping.is_set(), 360, 3)
        self.finishes_over = True

    # -- the night ------------------------------------------------------------------------------
    def run(self) -> int:
        binary = claude_binary()
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
            stack.callback(self.cron.leave_marker_as_found)
            stack.callback(self.cron.stop)
            self.cron.start()
            stack.callback(self.teardown)
            self.setup(binary)
            self.faults = faults.plan(self)
            say(f"commands present: {', '.join(k for k, v in self.available.items() if v) or 'none'}; "
                f"missing: {', '.join(k for k, v in self.available.items() if not v) or 'none'}")
            self.started = time.monotonic()
            done = self.integration("deploy", "--all", "--ready-timeout", "120", timeout=600)
            say(f"deploy exit {done.returncode}")
            if done.returncode != 0:
                self.notes.append(f"deploy exit {done.returncode}: {(done.stderr or done.stdout).strip()[-400:]}")
            if self.available["up"]:
                self.seat_orchestrator()
            threads = faults.threads(self, self.faults)
            if self.spawned is not None:
                threads.insert(0, threading.Thread(target=self.grow_team, name="spawn", daemon=True))
            if self.available["finish"]:
                threads.insert(0, threading.Thread(target=self.finish_engineers, name="finish", daemon=True))
            else:
                self.finishes_over = True
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
                            and (self.spawned is None or self.grown is not None) and self.finishes_over, 480, 5)
            say("no new tasks or check-ins from now on; draining what is pending")
            for slot in [*self.agents.values(), *([self.orchestrator] if self.orchestrator else [])]:
                slot.brain.winding_down = True
            self.drain()
            self.stopping.set()
            for thread in threads:
                thread.join(timeout=5)
            night = self.night()
            verdict = judges.judge_night(night)
            report, ok = rr.report_text(night, verdict), verdict.ok
            # Written before the cleanup, so a cleanup that fails cannot take the report with it.
            out = self.state / "rehearsal-report.txt"
            out.write_text(report + "\n", encoding="utf-8")
            print(report)
            print(f"\nreport written to {out}\nwork folder kept: {self.work}", flush=True)
        say("cleaned up: tmux server, crontab (restored exactly), cron daemon, stand-ins")
        return 0 if ok else 1

    def night(self) -> rr.Night:
        """What the night left, for the judges and the report."""
        from orc.scheduling.checkins import pending_checkins
        from orc.core.settings import load_settings

        with self.ledger.lock:
            sent = {k: dict(v) for k, v in self.ledger.sent.items()}
            received = Counter(self.ledger.received)
        now = time.time()
        pending = [(c.id, c.due) for c in pending_checkins(load_settings(self.env))]
        notified = self.work / "notifications.txt"
        brain = self.orchestrator.brain if self.orchestrator is not None else None
        return rr.Night(
            minutes=self.minutes, work=self.work, cron_ours=self.cron.ours, started_at=time.time() - self.elapsed(),
            lock_wait=self.lock_wait, loads=[v for _, v in self.load], available=dict(self.available),
            logs={name: self.read(name) for name in rr.LOGS}, sent=sent, received=received, pending=pending, now=now,
            notified=notified.read_text().splitlines() if notified.exists() else [],
            commits={p: git(self.work / p, "rev-list", "--count", "--all", check=False) for p in PROJECTS},
            orchestrator=brain if isinstance(brain, OrchestratorBrain) else None,
            orchestrator_target=ORCHESTRATOR_TARGET, orchestrator_checkin_minutes=ORCHESTRATOR_CHECKIN_MINUTES,
            up_runs=list(self.up_runs), spawn_tried=self.spawned is not None, growth=list(self.growth),
            grown=self.grown, faults=list(self.faults.values()), states=dict(self.states),
            notes=self.notes + self.ledger.events, worktree=self.worktree_team(),
        )

    def worktree_team(self) -> rr.WorktreeTeam | None:
        """The worktree team's repository as git has it at the end, and its manager's finishes."""
        pm = self.agents.get(f"{WORKTREE_PROJECT}-pm")
        if pm is None or not self.available["finish"]:
            return None
        owners = {branch: name for name, (_role, branch) in pm.brain.team.worktree_branches.items()}
        return judges.worktree_team(self.work / WORKTREE_PROJECT, WORKTREE_PROJECT, pm.brain.team.main_branch,
                                    owners, list(pm.brain.member_finishes))

    def drain(self) -> None:
        """Wait (up to 4 minutes) until no check-in is pending past its due time and every
        message proven submitted has reached its addressee."""
        from orc.scheduling.checkins import pending_checkins
        from orc.core.settings import load_settings

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
        from orc.scheduling.checkins import cancel_checkins, pending_checkins
        from orc.core.settings import load_settings
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
