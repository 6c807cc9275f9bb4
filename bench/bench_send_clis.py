#!/usr/bin/env python3
"""send_message.sh into the real Codex CLI and Gemini CLI, against each one's naive send.

For each CLI (installed by ``make agent-clis``): a private tmux server, the CLI offline
against its loopback stand-in with the suite's hooks installed (tests/e2e/other_clis.py),
then the twelve hard messages of tests/e2e/hard_messages.py sent ``--rounds``
times two ways, into one fresh CLI each, waiting for it to be idle between messages:

* ``send_message.sh``: the time is the whole command, from its start to its exit with proof;
* the naive send of the original Tmux Orchestrator (``tmux send-keys -t <pane> "<text>"``,
  ``sleep 0.5``, ``tmux send-keys -t <pane> Enter``): the time is until the stand-in got
  the prompt (or 10 s, given up).

A message counts as exact when the stand-in received it once, as sent, and nothing else
with it. Usage: python3 bench/bench_send_clis.py [--rounds 2] [--cli codex --cli gemini]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_setup import SUITE, private_tmux, suite_env  # first: puts the suite on sys.path
from agent_cli_processes import end_processes_with_env
from fake_gemini_api import FakeGeminiAPI
from fake_openai_api import FakeOpenAIAPI
from other_clis import CLIS, missing, prepare
from hard_messages import HARD
from tmux_utils import TargetNotFound, Tmux, TmuxError
from orc.record.snapshot import look

NAIVE_SETTLE = 0.5   # the original's sleep between the text and Enter
NAIVE_GIVE_UP = 10.0


def state_of(tmux: Tmux, pane_id: str) -> str:
    """The pane's state, or ``gone`` (the CLI quit and its pane closed)."""
    try:
        return look(tmux, pane_id).state
    except (TargetNotFound, TmuxError):
        return "gone"


def wait_idle(tmux: Tmux, pane_id: str, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while (state := state_of(tmux, pane_id)) != "idle":
        if time.monotonic() > deadline or state == "gone":
            return False
        time.sleep(0.05)
    return True


def clear_box(tmux: Tmux, pane_id: str) -> None:
    """After a naive send that left text in the box: empty it (Ctrl-U until it is)."""
    for _ in range(20):
        if state_of(tmux, pane_id) != "typing":
            return
        tmux.send_key(pane_id, "C-u")
        time.sleep(0.1)


def run_one(kind: str, way: str, rounds: int, root: Path) -> dict[str, Any]:
    """``rounds`` x the hard messages into one fresh ``kind``, sent ``way``; what came of them."""
    api: Any = FakeOpenAIAPI() if kind == "codex" else FakeGeminiAPI()
    with api:
        env = suite_env(ORC_TMUX_SOCKET=str(root / "tmux.sock"), ORC_STATE_DIR=str(root / "state"))
        launch = prepare(kind, root, api.base_url, env)
        with private_tmux(root / "tmux.sock") as tmux:
            pane = tmux.new_session("bench", kind, launch.command, str(root / "work"), width=100, height=30)
            try:
                if kind == "gemini":  # it takes input once its SessionStart hook has run
                    log = root / "state" / "hooks" / "events.log"
                    deadline = time.monotonic() + 60
                    while time.monotonic() < deadline and f"SessionStart pane={pane.pane_id} " not in (
                            log.read_text(encoding="utf-8") if log.exists() else ""):
                        time.sleep(0.1)
                if not wait_idle(tmux, pane.pane_id):
                    raise SystemExit(f"bench: {kind} did not become idle")
                times: list[float] = []
                missed: list[str] = []
                exact = 0
                for _round in range(rounds):
                    for text in HARD:
                        before = len(api.turns())
                        start = time.perf_counter()
                        if way == "suite":
                            done = subprocess.run([str(SUITE / "send_message.sh"), f"bench:{kind}", "-"], env=env,
                                                  input=text, capture_output=True, text=True)
                            elapsed = time.perf_counter() - start
                            ok = done.returncode == 0
                        else:
                            try:
                                tmux.run("send-keys", "-t", pane.pane_id, text)
                                time.sleep(NAIVE_SETTLE)  # the original's fixed wait, part of what is measured
                                tmux.run("send-keys", "-t", pane.pane_id, "Enter")
                                api.wait_for_turns(before + 1, timeout=NAIVE_GIVE_UP)
                                ok = True
                            except TmuxError:  # "-n check the build": tmux reads it as its own flag
                                ok = False
                            except TimeoutError:
                                ok = False
                            elapsed = time.perf_counter() - start
                        time.sleep(0.5)  # a doubled submission would arrive in this window
                        wait_idle(tmux, pane.pane_id, 30)
                        clear_box(tmux, pane.pane_id)
                        wait_idle(tmux, pane.pane_id, 30)
                        got = api.turns()[before:]
                        if ok and got == [text]:
                            exact += 1
                            times.append(elapsed)
                        else:
                            missed.append(text)
                        state = state_of(tmux, pane.pane_id)
                        if state in ("shell", "dead", "exited", "gone"):
                            # The naive send typed "C-c" as the key: the CLI may quit (then the rest is lost).
                            return {"sent": rounds * len(HARD), "exact": exact, "times": times, "missed": missed,
                                    "ended": f"the CLI ended ({state}) at {text[:20]!r}"}
                return {"sent": rounds * len(HARD), "exact": exact, "times": times, "missed": missed, "ended": ""}
            finally:
                end_processes_with_env(*launch.environment)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cli", action="append", choices=CLIS, help="only this CLI (repeatable)")
    args = parser.parse_args(argv)
    failed = False
    for kind in args.cli or CLIS:
        why = missing(kind)
        if why:
            print(f"{kind}: skipped: {why}")
            continue
        for way in ("suite", "naive"):
            with tempfile.TemporaryDirectory(prefix=f"orc-bench-{kind}-") as folder:
                found = run_one(kind, way, args.rounds, Path(folder))
            times = found["times"]
            line = f"{kind} {way:<5}: {found['exact']}/{found['sent']} exact single submissions"
            if times:
                line += (f", median {statistics.median(times):.2f} s, worst {max(times):.2f} s"
                         f" (of the exact ones)")
            if found["ended"]:
                line += f"; {found['ended']}"
            print(line, flush=True)
            for text in dict.fromkeys(found["missed"]):  # each message that was not exact, once
                print(f"    not exact: {text[:40]!r}{'...' if len(text) > 40 else ''}")
            failed |= way == "suite" and found["exact"] != found["sent"]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
