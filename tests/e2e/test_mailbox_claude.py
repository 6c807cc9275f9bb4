"""Kept messages with the real Claude Code 2.1.x (offline, tests/e2e/conftest.py).

The stand-in APIs record what each agent received, so "delivered once, in order" is checked
against the agent itself, not against the suite's own records.
"""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import pytest

from support import SUITE, run_script, wait_for
from tmux_utils import Tmux
from orc.record.snapshot import look

sys.path[:0] = [str(SUITE / "bench")]
from mailbox_night import run_night  # noqa: E402

pytestmark = pytest.mark.e2e


def test_a_night_of_kept_messages_reaches_three_real_agents_once_each_in_order(claude_binary: Path,
                                                                             tmp_path: Path) -> None:
    """A shorter night than bench/bench_mailbox.py's 300 messages (README has its figures):
    6 senders, 3 agents with dialogs and drafts raised and cleared at random, each restarted once."""
    night = run_night(tmp_path, claude_binary, messages=60, senders=6, agents=3, seed=7, say=lambda text: None)
    assert night.restarts == 3
    assert sum(night.obstacles.values()) > 0, "no dialog or draft was raised: the night tested nothing"
    assert set(night.codes) <= {0, 4}, night.summary()
    assert night.codes[4] > 0, "no message was kept"
    assert night.ok, night.summary() + f" lost={night.lost} doubled={night.doubled} order={night.out_of_order} " \
                                      f"misdelivered={night.misdelivered} unproven={night.unproven}"
    assert sum(night.proofs.values()) == len(night.sent) == 60


def approve(tmux: Tmux, pane_id: str) -> None:
    """Answer "1. Yes" as a person would: Claude ignores an Enter in the dialog's first instant
    (SCREENS.md), and longer on a loaded machine, so press again while the dialog still shows."""
    for _ in range(5):
        time.sleep(0.5)
        tmux.send_key(pane_id, "Enter")
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            if look(tmux, pane_id).state != "waiting":
                return
            time.sleep(0.1)


def test_an_agent_sending_from_its_bash_tool_has_its_message_kept_by_default(
        start_claude, orc_env: dict[str, str], tmux: Tmux, tmp_path: Path) -> None:
    sender = start_claude(window="A", permission_mode="default")
    target = start_claude(window="B", permission_mode="default")
    api = sender.api  # one stand-in serves both
    # The target is held by a permission dialog.
    api.script_next_reply_tool_use("Bash", {"command": f"touch {tmp_path / 'b-ran'}", "description": "a tool call"})
    assert run_script("send_message.sh", "team:B", "please run the tool", env=orc_env).returncode == 0
    wait_for(lambda: look(tmux, target.pane.pane_id).state == "waiting", timeout=30, what="B's dialog")
    # The sender agent runs send_message.sh from its Bash tool, with no --queue: as an agent
    # (its Bash tool sets CLAUDECODE, tmux TMUX_PANE) its message is kept, exit 4.
    settings = " ".join(f"{k}={shlex.quote(orc_env[k])}" for k in ("ORC_STATE_DIR", "ORC_CLAUDE_CONFIG_DIRS")
                        if orc_env.get(k))
    command = (f"{settings} ORC_CRONTAB_FILE={shlex.quote(str(tmp_path / 'crontab'))} "
               f"{shlex.quote(str(SUITE / 'send_message.sh'))} team:B 'STATUS A: from my Bash tool'; echo exit=$?")
    api.script_next_reply_tool_use("Bash", {"command": command, "description": "send a message"})
    assert run_script("send_message.sh", "team:A", "please send your status", env=orc_env).returncode == 0
    wait_for(lambda: look(tmux, sender.pane.pane_id).state == "waiting", timeout=30, what="A's dialog")
    approve(tmux, sender.pane.pane_id)
    try:
        results = api.wait_for_tool_results(1, timeout=60)
    except TimeoutError:
        print("\n".join(tmux.capture(sender.pane.pane_id)))  # what the sender's screen showed instead
        raise
    assert "exit=4" in results[0].content and "kept for team:B" in results[0].content, results[0].content
    assert api.turns().count("STATUS A: from my Bash tool") == 0  # not while B's dialog shows
    tmux.send_key(target.pane.pane_id, "Escape")  # a person declines B's tool call
    wait_for(lambda: "STATUS A: from my Bash tool" in api.turns(), timeout=30, what="the kept message at B")
    assert api.turns().count("STATUS A: from my Bash tool") == 1
    assert not (tmp_path / "b-ran").exists()
