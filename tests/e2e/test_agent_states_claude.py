"""`tmux_utils.py --json` follows the real Claude Code through 50 transitions (prompt, tool,
dialog, answer, stop), within 1 s of each, in the launch form tmux misreads
(``claude; exec bash``): once from the session registry (no hooks installed), once from
our hooks only (the registry hidden), once from the screen alone (registry hidden, no
hooks), which still never types into a dialog.

The truth of each step comes from the stand-in API: the agent is busy from the moment a
request arrives until its reply is streamed, and a reply with a Bash ``tool_use`` raises the
dialog. Each reply is held until the snapshot has shown the agent busy (a busy period of a
fixed length was missed whole on a loaded machine, where one snapshot took longer than it).

"Within 1 s": a snapshot begun 1 s or more after a change shows it. One begun before may not
yet, and how long it then runs is the snapshot's own cost (a Python process: about 0.2 s on
an idle machine, seconds on two loaded cores), not the lag of the state's sources.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import pytest

from support import SUITE, run_script, wait_for
from tmux_utils import Tmux
from orc.record.snapshot import look

pytestmark = pytest.mark.e2e

WITHIN = 1.0         # how soon after a change a snapshot begun then must show it
CYCLES = 13          # four transitions each: 52
DIALOG = "Do you want to proceed?"  # Claude Code 2.1.328's permission dialog (tests/e2e/SCREENS.md)


def snapshot_state(env: dict[str, str], pane_id: str) -> tuple[str, str]:
    """(state, source) of the pane, as `python3 tmux_utils.py --json` prints it."""
    import subprocess

    done = subprocess.run([sys.executable, str(SUITE / "tmux_utils.py"), "--json", "--lines", "1"], env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    pane = next(p for p in json.loads(done.stdout) if p["pane_id"] == pane_id)
    return pane["state"], pane["source"]


def conversation_requests(api: object) -> list[float]:
    return [r.at for r in api.requests() if isinstance(r.body, dict) and r.body.get("tools")]  # type: ignore[attr-defined]


def follow(env: dict[str, str], pane_id: str, expected: str, since: float, source: str, lags: list[float]) -> None:
    """Poll the snapshot until it shows ``expected``; a snapshot begun WITHIN after ``since``
    must show it, from the source under test too (where two sources see a change, the one that
    saw it first may decide for a moment: a dialog can reach the screen before the registry).
    ``lags`` gets the time from the change until the first snapshot showing it had answered."""
    shown = False
    while True:
        began = time.monotonic()
        state, seen_source = snapshot_state(env, pane_id)
        if state == expected and not shown:
            lags.append(time.monotonic() - since)
            shown = True
        if state == expected and seen_source == source:
            return
        assert began - since <= WITHIN, (
            f"{expected} from {source} not shown by a snapshot begun {began - since:.2f}s after the change "
            f"(it showed {state} from {seen_source})")
        time.sleep(0.05)


class HeldReplies:
    """The stand-in API's responder: each conversation reply waits until :meth:`release`, then
    goes out as the API would send it (the scripted tool call, else its text). The agent is
    busy from the request until then, however long the snapshots take to see it."""

    def __init__(self) -> None:
        self._gate = threading.Semaphore(0)

    def __call__(self, body: object) -> None:
        self._gate.acquire(timeout=120)  # a test that failed lets go of any reply still held
        return None

    def release(self, count: int = 1) -> float:
        """Let the next reply go; returns when (monotonic), the moment the agent's turn moves on."""
        released = time.monotonic()
        self._gate.release(count)
        return released


@pytest.mark.parametrize("source", ["registry", "hook", "screen"])
def test_fifty_transitions_are_followed_within_a_second(start_claude, orc_env: dict[str, str], tmux: Tmux,
                                                          tmp_path: Path, source: str) -> None:
    claude = start_claude(launch="then-bash", registered=source == "registry", hooks=source == "hook",
                          permission_mode="default")  # manual: every Bash call asks in the dialog
    env = dict(orc_env)
    if source != "registry":
        # The registry hidden: no dir named, and the one in the agent's environment not read.
        env.update(ORC_CLAUDE_CONFIG_DIRS=str(tmp_path / "elsewhere"), ORC_REGISTRY_SOURCE="off")
    pane_id, api = claude.pane.pane_id, claude.api
    held = HeldReplies()
    api.set_responder(held)
    try:
        lags = follow_cycles(env, pane_id, claude, tmux, source, held)
    finally:
        held.release(100)
    assert len(lags) >= 50
    assert "typed into the dialog?" not in api.turns()
    print(f"{source}: {len(lags)} transitions, worst lag {max(lags):.2f}s, median {sorted(lags)[len(lags) // 2]:.2f}s")


def follow_cycles(env: dict[str, str], pane_id: str, claude: object, tmux: Tmux, source: str,
                  held: HeldReplies) -> list[float]:
    """CYCLES times prompt, tool, dialog, answer and stop, each change followed; the lags."""
    api = claude.api  # type: ignore[attr-defined]
    lags: list[float] = []
    for cycle in range(CYCLES):
        marker = claude.workdir / f"ran-{cycle}.txt"
        api.script_next_reply_tool_use("Bash", {"command": f"touch {marker}", "description": "make a marker"})
        seen = len(conversation_requests(api))
        # prompt: idle -> busy
        done = run_script("send_message.sh", "team:claude", f"cycle {cycle}: run the tool", env=env)
        assert done.returncode == 0, done.stderr
        follow(env, pane_id, "busy", time.monotonic(), source, lags)
        wait_for(lambda: conversation_requests(api)[seen:], timeout=10, what="the request")
        # tool: busy -> waiting, once the held reply goes out. The change is the moment the dialog
        # is drawn (read straight from tmux, no classifier): on a loaded machine Claude may take a
        # while after the reply.
        held.release()
        drawn = float(wait_for(lambda: DIALOG in "\n".join(tmux.capture(pane_id)) and time.monotonic(),  # type: ignore[arg-type]
                               timeout=10, interval=0.02, what="the dialog drawn"))
        follow(env, pane_id, "waiting", drawn, source, lags)
        refused = run_script("send_message.sh", "team:claude", "typed into the dialog?", env=env)
        assert refused.returncode == 1 and "dialog" in refused.stderr, refused.stderr
        assert not marker.exists()
        # answer: waiting -> busy (approved; the tool runs and its result goes out)
        time.sleep(0.5)  # deliberate: Claude ignores an Enter in the dialog's first instant
        seen = len(conversation_requests(api))
        tmux.send_key(pane_id, "Enter")
        answered = time.monotonic()
        follow(env, pane_id, "busy", answered, source, lags)
        wait_for(lambda: conversation_requests(api)[seen:], timeout=10, what="the tool result")
        assert marker.exists()
        # stop: busy -> idle once the final reply, held until now, is streamed
        follow(env, pane_id, "idle", held.release(), source, lags)
    return lags


def test_claude_agents_json_is_joined_to_its_pane_by_terminal(start_claude, tmux: Tmux, claude_binary: Path) -> None:
    """`claude agents --json` names no pane: its entries join by the terminal their process runs on."""
    from orc.record.agent_registry import read_cli
    from tmux_utils import StateSources

    claude = start_claude(launch="bash-c")
    listed = read_cli([claude.config_dir], str(claude_binary))
    assert [(e.pane_id, e.status) for e in listed] == [(None, "idle")]
    sources = StateSources((claude.config_dir,), "cli", str(claude_binary))
    snap = wait_for(lambda: (s := look(tmux, claude.pane.pane_id, sources=sources)).agent.source == "registry" and s,
                    timeout=10, what="the agent from claude agents --json")
    assert snap.state == "idle" and snap.agent.session_id == listed[0].session_id  # type: ignore[attr-defined]
    assert snap.agent.pid == listed[0].pid  # type: ignore[attr-defined]
