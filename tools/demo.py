#!/usr/bin/env python3
"""`make demo`: a private tmux session with a stand-in agent that receives a message and a
scheduled check-in, through the same commands an agent uses.

It never touches your own tmux server: it starts one on a private socket, and its state
goes to state/demo/. The check-in is a real line in your crontab; when no cron daemon is
running (containers, CI), the demo does what cron would do and says so.

Usage: python3 tools/demo.py [--keep]    (--keep leaves the session running to look at)
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUITE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(SUITE))
import orc  # noqa: E402,F401
from orc.core.deps import ensure_runtime  # noqa: E402

ensure_runtime()
from orc.scheduling.crontab_store import cron_daemon_running  # noqa: E402
from orc.core.state import private_dir  # noqa: E402
from tmux_utils import Tmux  # noqa: E402
from orc.record.snapshot import look

TARGET = "orc-demo:agent"


def use_colour() -> bool:
    """Bold headings only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def say(text: str) -> None:
    heading = f"==> {text}"
    print("\n" + (f"\033[1m{heading}\033[0m" if use_colour() else heading), flush=True)


def run(env: dict[str, str], *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run one of the suite's commands as a user would, echoing it and its output."""
    print("$ " + shlex.join([Path(argv[0]).name if argv[0].startswith(str(SUITE)) else argv[0], *argv[1:]]))
    done = subprocess.run(list(argv), env=env, capture_output=True, text=True)
    print((done.stdout + done.stderr).rstrip())
    if check and done.returncode != 0:
        raise SystemExit(f"demo: {Path(argv[0]).name} exited {done.returncode}")
    return done


def submitted(record: Path) -> list[str]:
    if not record.exists():
        return []
    events = [json.loads(line) for line in record.read_text().splitlines() if line.strip()]
    return [str(e["text"]) for e in events if e.get("event") == "submitted"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/demo.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="examples:\n  make demo\n  python3 tools/demo.py --keep   "
                                     "# then attach with the command it prints")
    parser.add_argument("--keep", action="store_true",
                        help="leave the demo session running afterwards and print how to attach to it")
    args = parser.parse_args(argv)

    state = SUITE / "state" / "demo"
    socket = Path(tempfile.gettempdir()) / f"orc-demo-{os.getuid()}.sock"
    record = state / "agent-events.jsonl"
    env = {**os.environ, "ORC_TMUX_SOCKET": str(socket), "ORC_STATE_DIR": str(state)}
    env.pop("TMUX", None)  # the demo's commands run "outside" tmux, against the private server
    tmux = Tmux(socket)
    if tmux.is_running():
        tmux.run("kill-server")
    private_dir(state.parent)  # the suite's state/ too, when the demo is the first to make it
    private_dir(state)
    record.unlink(missing_ok=True)

    say("A private tmux server with a stand-in agent (tests/fake_agent.py draws Claude Code's screen)")
    agent = shlex.join([sys.executable, str(SUITE / "tests" / "fake_agent.py"), "--record", str(record),
                        "--busy-seconds", "1"])
    pane = tmux.new_session("orc-demo", "agent", agent, str(SUITE), width=100, height=30)
    deadline = time.monotonic() + 10
    while look(tmux, pane.pane_id).state != "idle":
        if time.monotonic() > deadline:
            raise SystemExit("demo: the stand-in agent did not start")
        time.sleep(0.05)
    # The attach command only when the session will still be there (--keep) to attach to.
    print(f"session orc-demo on {socket}" + ("" if args.keep else " (stopped at the end; --keep leaves it running)"))

    schedule = str(SUITE / "schedule_with_note.sh")
    # A demo interrupted earlier may have left its check-in behind: start clean.
    subprocess.run([schedule, "--cancel", "all"], env=env, capture_output=True, text=True)
    try:
        say("send_message.sh: typed, submitted, and proven from the screen")
        run(env, str(SUITE / "send_message.sh"), TARGET, "Hello from the demo: $(not run), 100% literal;")

        say("schedule_with_note.sh: a check-in in 15 seconds, kept in your crontab")
        scheduled = run(env, schedule, "0.25", "Demo check-in: review progress and plan the next step", TARGET)
        checkin_id = next(word for word in scheduled.stdout.split() if word.startswith("ck-"))
        run(env, "crontab", "-l", check=False)

        if cron_daemon_running() is not False:  # None: macOS, where launchd starts cron on demand
            say("Waiting for cron to deliver it (cron wakes at the minute, the job waits for the second)")
            deadline = time.monotonic() + 90
        else:
            say("No cron daemon is running here: the demo runs the sweep that cron's `* * * * *` line runs")
            deadline = time.monotonic() + 90
        while not any(checkin_id in text for text in submitted(record)):
            if time.monotonic() > deadline:
                raise SystemExit("demo: the check-in was not delivered in time; see state/demo/checkins.log")
            if cron_daemon_running() is False:
                # The sweep delivers only what is due, so running it every few seconds
                # changes nothing but how soon after its due second the note arrives.
                subprocess.run([sys.executable, str(SUITE / "orc"), "fire", "--sweep"], env=env,
                               capture_output=True, text=True)
                time.sleep(3)
            else:
                time.sleep(0.5)

        say("What the agent received (its own record), and its screen")
        for text in submitted(record):
            print("  received: " + text.replace("\n", "\n            "))
        print("\n".join("  | " + line for line in tmux.capture(pane.pane_id)[-12:]))
        say("Pending check-ins now (the one-shot line is gone from the crontab)")
        run(env, schedule, "--list")
        print(f"\nState files (plain text): {state}")
    finally:
        # Nothing of the demo stays in your crontab (a no-op once the check-in was delivered).
        subprocess.run([schedule, "--cancel", "all"], env=env, capture_output=True, text=True)
        if args.keep:
            print(f"left running: tmux -S {socket} attach -t orc-demo   (stop: tmux -S {socket} kill-server)")
        else:
            tmux.run("kill-server")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
