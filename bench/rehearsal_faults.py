"""The faults a night brings, each at its fixed fraction of the night (bench/rehearsal.py):
an agent killed; a permission dialog left open; the account's usage limit (subscription); a
merge conflict at ``finish``; cron stopped; a plain HTTP 429 (API key); the laptop asleep
(every process of the night stopped, then continued); a reboot (every process of the night
killed, the cron daemon started again as at boot: the ``@reboot`` line must bring it all back).

:func:`plan` schedules them; :func:`threads` runs each at its time. A fault does its harm
and, where a person would, plays the person (``restart`` once ``status`` shows the agent
exited, answering the dialog, starting cron again); the judges (bench/rehearsal_judges.py)
say what was noticed and whether it was survived, into the fault's record
(:class:`rehearsal_report.Fault`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable

from support import processes_with_env, reboot_marker

import rehearsal_judges as judges
from rehearsal_report import Fault
from rehearsal_stage import LIMITED_AGENT, PLAIN_429_AGENT, Stage, say

#: The engineer whose Claude Code is killed, the one whose dialog is left open, the one whose
#: ``finish`` meets a conflict.
KILLED_AGENT = "beta-dev2"
DIALOG_AGENT = "alpha-dev2"
CONFLICT_AGENT = "alpha-dev1"


def plan(stage: Stage) -> dict[str, Fault]:
    """Every fault, when it comes and how long it lasts, for a night of ``stage.minutes``."""
    total = stage.minutes * 60
    # Long enough that check-ins come due while it is off: cron does not stop the jobs it
    # already started, and those wait for their due second within the minute.
    cron_off = min(180.0, max(120.0, total / 4))
    # At least one check-in (every minute) must come due while each fault lasts.
    dialog_hold = min(180.0, max(75.0, total / 5))
    # The usage limit's reset: a couple of minutes ahead (on a minute boundary, as Claude
    # Code shows it), so check-ins come due under it and wait for it.
    limit_ahead = min(180.0, max(120.0, total / 10))
    plain_429_seconds = min(90.0, max(60.0, total / 12))
    faults = {
        "killed": Fault("agent killed", 0.10 * total, f"{KILLED_AGENT}'s Claude Code process killed with SIGKILL"),
        "dialog": Fault("permission dialog left open", 0.20 * total,
                        f"{DIALOG_AGENT} asks for a file write; nobody answers for {dialog_hold:.0f}s", dialog_hold),
        "usage": Fault("usage limit (subscription)", 0.30 * total,
                       f"{LIMITED_AGENT} (logged in with a subscription token) reaches its account's usage "
                       f"limit, reset {limit_ahead:.0f}-{limit_ahead + 60:.0f}s ahead on a minute "
                       f"boundary: every request until then gets HTTP 429 with the unified-limit headers", limit_ahead),
        "conflict": Fault("merge conflict", 0.40 * total,
                          f"{CONFLICT_AGENT} finishes a task branch while main changed the same line"),
        "cron": Fault("cron stopped", 0.55 * total, f"the cron daemon stopped for {cron_off:.0f}s, then started", cron_off),
        "plain429": Fault("plain 429 (API key)", 0.75 * total,
                          f"{PLAIN_429_AGENT} (API-key login) gets HTTP 429 rate_limit_error for "
                          f"{plain_429_seconds:.0f}s from its next request: not a usage limit", plain_429_seconds),
    }
    # Long enough that check-ins come due while everything is stopped (they are every minute).
    asleep = min(180.0, max(90.0, total / 8))
    faults["sleep"] = Fault("laptop asleep", 0.84 * total,
                            f"every process of the night (tmux, the agents, cron and its jobs) stopped with "
                            f"SIGSTOP for {asleep:.0f}s, then continued, as a laptop that slept", asleep)
    faults["reboot"] = Fault("reboot", 0.92 * total,
                             "the tmux server and every process of the night killed, the cron daemon stopped, its "
                             "reboot marker taken away and the daemon started: cron itself runs the @reboot line")
    if not stage.available["finish"]:
        faults["conflict"].skipped = "`finish` is not in the suite yet (branch issue-8 had not committed it)"
    if stage.cron.machine_daemon:
        for key in ("cron", "sleep", "reboot"):
            faults[key].skipped = "the machine's own cron daemon runs; the rehearsal cannot stop it"
    if not Path("/proc/self/environ").exists():
        for key in ("sleep", "reboot"):
            faults[key].skipped = "the night's processes are found in /proc, which this system has not"
    if not faults["reboot"].skipped and (stage.cron.binary is None or reboot_marker(stage.cron.binary) is None):
        faults["reboot"].skipped = f"{stage.cron.binary} names no reboot marker: it cannot be made to run @reboot lines"
    return faults


def threads(stage: Stage, faults: dict[str, Fault]) -> list[threading.Thread]:
    """One thread per fault not skipped: it waits for the fault's time, then runs it; a fault
    whose own step fails is reported not survived, saying why."""
    found = []
    for key, fault in faults.items():
        if fault.skipped:
            continue

        def run(action: Callable[[Stage, Fault], None] = ACTIONS[key], fault: Fault = fault) -> None:
            while stage.elapsed() < fault.at and not stage.stopping.is_set():
                time.sleep(1)
            if stage.stopping.is_set():
                return
            try:
                action(stage, fault)
            except Exception as exc:  # noqa: BLE001 - a fault that could not run is reported
                fault.survived = False
                fault.recovered = f"the rehearsal's fault step failed: {type(exc).__name__}: {exc}"

        found.append(threading.Thread(target=run, name=f"fault-{key}", daemon=True))
    return found


def agent_killed(stage: Stage, fault: Fault) -> None:
    """SIGKILL to the agent's Claude Code; once it is noticed, a person runs ``restart``."""
    slot = stage.agents[KILLED_AGENT]
    pane = stage.tmux.resolve(slot.target)
    pid = stage.tmux.pane_pid(pane.pane_id)
    os.kill(pid, signal.SIGKILL)
    fault.injected = f"{time.strftime('%H:%M:%S')} SIGKILL to pid {pid} in {slot.target}"
    say(f"fault: killed {slot.name} (pid {pid})")
    judges.exit_noticed(stage, fault, slot)
    before = slot.brain.requests
    done = stage.integration("restart", slot.project, slot.role, timeout=200)
    fault.recovered = (f"`restart {slot.project} {slot.role}` exit {done.returncode}: "
                       f"{(done.stdout or done.stderr).strip().splitlines()[-1:] }")
    judges.restart_survived(stage, fault, slot, before, done.returncode == 0)


def dialog_left_open(stage: Stage, fault: Fault) -> None:
    """The agent asks for a file write at its next turn; nobody answers for ``fault.lasts``
    seconds, then a person approves it."""
    slot = stage.agents[DIALOG_AGENT]
    slot.brain.open_dialog_next_turn()
    before = judges.dialog_counts(stage, slot)
    fault.injected = f"{time.strftime('%H:%M:%S')} {slot.name} will ask for a Write at its next turn"
    if not judges.dialog_shown(stage, fault, slot):
        return
    opened = time.monotonic()
    say(f"fault: dialog open in {slot.name}; holding it {fault.lasts:.0f}s")
    while time.monotonic() - opened < fault.lasts and not stage.stopping.is_set():
        time.sleep(5)
        stage.watch()
    told_once = judges.dialog_noticed(stage, fault, slot, before)
    arrived = set(slot.brain.arrived_slots)
    pane = stage.tmux.resolve(slot.target)
    stage.tmux.send_key(pane.pane_id, "1")   # the person approves the write
    fault.recovered = f"{time.strftime('%H:%M:%S')} a person answered the dialog (1: Yes) after {fault.lasts:.0f}s"
    judges.dialog_survived(stage, fault, slot, arrived, told_once)


def merge_conflict(stage: Stage, fault: Fault) -> None:
    """Main changes the line the engineer's task branch changed, just before its ``finish``."""
    slot = stage.agents[CONFLICT_AGENT]
    repo = stage.work / slot.project
    fault.injected = f"main gets a commit changing shared.txt once {slot.name}'s branch changed the same line"
    slot.brain.conflict_hook = lambda: commit_on_main(stage, repo)
    after: dict[str, str] = {}

    def look(label: str, rc: int) -> None:
        after[label] = judges.repository_state(repo)

    slot.brain.finish_hook = look
    slot.brain.merge_conflict_task("conflict-demo")
    judges.conflict_judged(stage, fault, slot, after)


def commit_on_main(stage: Stage, repo: Path) -> None:
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
    stage.ledger.note(f"rehearsal: committed {commit[:10]} on main (conflicting shared.txt)")


def usage_limit(stage: Stage, fault: Fault) -> None:
    """The account's usage limit, met right after the agent scheduled its next check-in, with
    its reset ``fault.lasts`` seconds ahead; it needs nobody."""
    slot = stage.agents[LIMITED_AGENT]
    slot.brain.limit_after_schedule(fault.lasts)
    fault.injected = (f"{time.strftime('%H:%M:%S')} {slot.name}'s account reaches its limit at its next "
                      f"request after scheduling its next check-in")
    judges.usage_limit_judged(stage, fault, slot)


def plain_429(stage: Stage, fault: Fault) -> None:
    """HTTP 429 to every request for ``fault.lasts`` seconds from the agent's next one."""
    slot = stage.agents[PLAIN_429_AGENT]
    slot.brain.limit_for(fault.lasts)
    fault.injected = f"{time.strftime('%H:%M:%S')} {slot.name}'s stand-in answers 429 for {fault.lasts:.0f}s"
    judges.plain_429_judged(stage, fault, slot)


def cron_stopped(stage: Stage, fault: Fault) -> None:
    """The rehearsal's cron daemon stopped for ``fault.lasts`` seconds, then started again."""
    if stage.cron.machine_daemon:
        fault.skipped = "the machine's own cron daemon runs; the rehearsal cannot stop it"
        return
    stage.cron_off_now = True
    with stage.cron_lock:
        stage.cron.stop()
    fault.injected = f"{time.strftime('%H:%M:%S')} cron daemon stopped for {fault.lasts:.0f}s"
    say(f"fault: cron stopped for {fault.lasts:.0f}s")
    stopped_at = time.monotonic()
    late_before = judges.late_checkins(stage)
    while time.monotonic() - stopped_at < fault.lasts and not stage.stopping.is_set():
        time.sleep(2)
    with stage.cron_lock:
        stage.cron.start()
    stage.cron_off_now = False
    fault.recovered = f"{time.strftime('%H:%M:%S')} cron daemon started again"
    judges.cron_caught_up(stage, fault, late_before)


def night_processes(stage: Stage) -> list[int]:
    """The night's processes but the cron daemon: every one started with the rehearsal's state
    folder in its environment (the tmux server, the agents, their hooks, the suite's runs and
    cron's jobs); never the rehearsal itself, whose stand-ins are the world outside the machine."""
    return processes_with_env((f"ORC_STATE_DIR={stage.state}",))


def cron_processes(stage: Stage) -> list[int]:
    """The rehearsal's cron daemon and the job processes it forked (named cron too)."""
    daemon = stage.cron.process
    if daemon is None:
        return []
    found = [daemon.pid]
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if entry.name.isdigit() and int(fields[1]) == daemon.pid:
            found.append(int(entry.name))
    return found


def signal_all(pids: list[int], signum: int) -> int:
    sent = 0
    for pid in pids:
        try:
            os.kill(pid, signum)
            sent += 1
        except ProcessLookupError:
            pass
    return sent


def laptop_asleep(stage: Stage, fault: Fault) -> None:
    """SIGSTOP to cron first (it starts nothing more), then to every other process of the
    night, twice (one started meanwhile, a hook say); ``fault.lasts`` seconds later SIGCONT
    to all: their clocks have jumped, as a laptop's do when it wakes."""
    late_before = judges.late_checkins(stage)
    told_before = len(judges.notifications(stage))
    stage.asleep.set()   # `status` would wait on a stopped tmux server: nobody looks meanwhile
    stopped: list[int] = []
    try:
        with stage.cron_lock:
            for group in (cron_processes(stage), night_processes(stage), night_processes(stage)):
                new = [pid for pid in group if pid not in stopped]
                signal_all(new, signal.SIGSTOP)
                stopped += new
        fault.injected = f"{time.strftime('%H:%M:%S')} SIGSTOP to {len(stopped)} processes for {fault.lasts:.0f}s"
        say(f"fault: the laptop sleeps {fault.lasts:.0f}s ({len(stopped)} processes stopped)")
        slept = time.monotonic()
        while time.monotonic() - slept < fault.lasts and not stage.stopping.is_set():
            time.sleep(1)
    finally:
        signal_all(stopped, signal.SIGCONT)
        stage.asleep.clear()
    fault.recovered = f"{time.strftime('%H:%M:%S')} SIGCONT: the laptop woke"
    judges.wake_survived(stage, fault, late_before, told_before)


def reboot(stage: Stage, fault: Fault) -> None:
    """Down: the tmux server and every process of the night killed, the cron daemon stopped.
    Up: its reboot marker taken away (a boot empties /run), the daemon started, which runs the
    ``@reboot`` line: ``up --boot`` must bring every team back, spawned engineer and
    orchestrator included, each in its own conversation, then deliver what was missed."""
    sleep = stage.faults.get("sleep")
    if sleep is not None and not sleep.skipped:   # one fault at a time: the sleep's judge ends first
        stage.wait_until(lambda: sleep.survived is not None or stage.stopping.is_set(), 600, 2)
    slots = [s for s in (*stage.agents.values(), stage.orchestrator) if s is not None]
    resumes_before = {slot.name: len(slot.brain.resumed_with) for slot in slots}
    told_before = len(judges.notifications(stage))
    assert stage.cron.binary is not None
    marker = reboot_marker(stage.cron.binary)
    assert marker is not None
    stage.cron_off_now = True
    try:
        with stage.cron_lock:
            stage.cron.stop()
            if stage.tmux.is_running():
                stage.tmux.run("kill-server")
            killed = 0
            for _ in range(3):   # a process started while the others went
                killed += signal_all(night_processes(stage), signal.SIGKILL)
                time.sleep(0.5)
            fault.injected = (f"{time.strftime('%H:%M:%S')} tmux server and {killed} processes killed, cron "
                              f"stopped; {marker} taken away")
            say(f"fault: reboot ({killed} processes killed)")
            marker.unlink(missing_ok=True)
            up = time.monotonic()
            stage.cron.start()
    finally:
        stage.cron_off_now = False
    fault.recovered = f"{time.strftime('%H:%M:%S')} cron daemon started, as at boot"
    judges.boot_survived(stage, fault, slots, resumes_before, told_before, up)


ACTIONS: dict[str, Callable[[Stage, Fault], None]] = {
    "killed": agent_killed, "dialog": dialog_left_open, "usage": usage_limit, "conflict": merge_conflict,
    "cron": cron_stopped, "plain429": plain_429, "sleep": laptop_asleep, "reboot": reboot,
}
