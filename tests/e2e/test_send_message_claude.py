"""send_message.sh into the real Claude Code 2.1.x (offline, tests/e2e/conftest.py).

The stand-in API records each user turn, so these tests assert exactly what the agent
received, and whether a tool call was approved.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from conftest import LAUNCH_FORMS
from hard_messages import HARD, MESSAGES

from support import run_script, wait_for
from tmux_utils import Tmux
from orc.record.snapshot import look

pytestmark = pytest.mark.e2e

def as_received(text: str) -> str:
    """What the agent receives for ``text``: Claude Code turns a tab into four spaces."""
    return text.replace("\t", "    ")


def proofs_logged(orc_env: dict[str, str]) -> list[str]:
    log = Path(orc_env["ORC_STATE_DIR"]) / "delivery.log"
    return re.findall(r"\bproof=(\S+)", log.read_text(encoding="utf-8"))


@pytest.mark.parametrize("launch", LAUNCH_FORMS)
def test_every_launch_form_gets_twelve_hard_messages_proven_from_the_transcript(
        start_claude, orc_env: dict[str, str], tmux: Tmux, launch: str) -> None:
    claude = start_claude(launch=launch)
    # Its registry entry names the pane (its status may follow the screen by a moment).
    snap = wait_for(lambda: (s := look(tmux, claude.pane.pane_id, sources=claude.sources())).agent.source == "registry"
                    and s, timeout=10, what="the agent's registry entry")
    assert snap.state == "idle", snap.agent  # type: ignore[attr-defined]
    for n, text in enumerate(HARD, start=1):
        done = run_script("send_message.sh", "team:claude", "-", env=orc_env, input=text)
        assert done.returncode == 0, done.stderr
        assert "proof: transcript" in done.stdout
        assert claude.api.wait_for_turns(n, timeout=30)[-1] == as_received(text)
    assert claude.api.turns() == [as_received(t) for t in HARD]  # each once: single submissions
    assert proofs_logged(orc_env) == ["transcript"] * len(HARD)

    # Never typed into while a dialog shows: in manual mode the permission dialog; in auto mode
    # behind the stand-in the gateway dialog, for a file outside the working folder (inside
    # it, auto mode runs the command unasked; tests/e2e/SCREENS.md, "Dialogs without a name").
    marker = claude.workdir.parent / f"tool-ran-{launch}.txt"
    claude.api.script_next_reply_tool_use("Bash", {"command": f"touch {marker}", "description": "make a marker"})
    assert run_script("send_message.sh", "team:claude", "please run the tool", env=orc_env).returncode == 0
    wait_for(lambda: look(tmux, claude.pane.pane_id, sources=claude.sources()).state == "waiting", timeout=30,
             what="the permission dialog")
    done = run_script("send_message.sh", "team:claude", "an incoming message", env=orc_env)
    assert done.returncode == 1 and "dialog" in done.stderr, done.stderr
    time.sleep(1.0)  # a deliberate window in which an approved tool would have run
    assert not marker.exists() and claude.api.tool_results() == []


def test_every_hard_message_arrives_as_one_exact_submission(start_claude, orc_env: dict[str, str]) -> None:
    claude = start_claude()
    for n, text in enumerate(MESSAGES, start=1):
        done = run_script("send_message.sh", "team:claude", "-", env=orc_env, input=text)
        assert done.returncode == 0, done.stderr
        assert claude.api.wait_for_turns(n, timeout=30)[-1] == text
    assert claude.api.turns() == MESSAGES
    assert claude.api.tool_results() == []


def test_into_a_busy_claude_the_message_is_queued_and_sent_after_the_turn(start_claude, orc_env: dict[str, str],
                                                                         tmux: Tmux) -> None:
    claude = start_claude()
    claude.api.set_reply_delay(4)
    assert run_script("send_message.sh", "team:claude", "first turn", env=orc_env).returncode == 0
    claude.api.wait_for_turns(1, timeout=30)  # the reply is held back: Claude stays busy
    assert look(tmux, claude.pane.pane_id).state == "busy"
    done = run_script("send_message.sh", "team:claude", "queued behind it", env=orc_env)
    assert done.returncode == 0, done.stderr
    claude.api.set_reply_delay(0)
    assert claude.api.wait_for_turns(2, timeout=30) == ["first turn", "queued behind it"]


def test_refuses_while_the_permission_dialog_shows(start_claude, orc_env: dict[str, str], tmux: Tmux) -> None:
    claude = start_claude(permission_mode="default")  # manual: the tool call asks in the dialog
    marker = claude.workdir / "tool-ran.txt"
    claude.api.script_next_reply_tool_use("Bash", {"command": f"touch {marker}", "description": "make a marker"})
    assert run_script("send_message.sh", "team:claude", "please run the tool", env=orc_env).returncode == 0
    wait_for(lambda: look(tmux, claude.pane.pane_id).state == "waiting", timeout=30, what="the permission dialog")

    done = run_script("send_message.sh", "team:claude", "an incoming message", env=orc_env)
    assert done.returncode == 1
    assert "dialog" in done.stderr and len(done.stderr.splitlines()) == 1
    time.sleep(1.0)  # a deliberate window in which an approved tool would have run
    assert not marker.exists()
    assert claude.api.tool_results() == []
    assert "an incoming message" not in "\n".join(tmux.capture(claude.pane.pane_id))

    tmux.send_key(claude.pane.pane_id, "Escape")  # decline, as the person would
    wait_for(lambda: look(tmux, claude.pane.pane_id).state == "idle", timeout=30, what="idle after declining")
    assert claude.api.turns() == ["please run the tool"]
    assert not marker.exists()


def test_refuses_when_claude_has_exited_to_a_shell(start_claude, orc_env: dict[str, str], tmux: Tmux,
                                                   tmp_path: Path) -> None:
    claude = start_claude(in_shell=True)
    tmux.send_key(claude.pane.pane_id, "C-c")  # Ctrl-C twice on an empty box exits Claude Code
    tmux.send_key(claude.pane.pane_id, "C-c")
    wait_for(lambda: look(tmux, claude.pane.pane_id).state == "shell", timeout=30, what="the shell after /exit")

    victim = tmp_path / "ran-as-a-command"
    done = run_script("send_message.sh", "team:claude", f"touch {victim}", env=orc_env)
    assert done.returncode == 1
    assert "shell" in done.stderr
    time.sleep(0.5)  # a deliberate window in which a typed command would have run
    assert not victim.exists()
    assert "touch" not in "\n".join(tmux.capture(claude.pane.pane_id))


def test_with_the_screen_patterns_broken_the_record_alone_proves_twelve_hard_messages(
        start_claude, orc_env: dict[str, str], tmux: Tmux) -> None:
    claude = start_claude(launch="then-bash")
    blind = {**orc_env, "ORC_AGENT_KIND": "record-only"}  # a profile whose patterns never match
    for n, text in enumerate(HARD, start=1):
        done = run_script("send_message.sh", "team:claude", "-", env=blind, input=text)
        assert done.returncode == 0, done.stderr
        assert "proof: transcript" in done.stdout
        assert claude.api.wait_for_turns(n, timeout=30)[-1] == as_received(text)
    assert claude.api.turns() == [as_received(t) for t in HARD]

    # Blind to the screen, the registry still shows the dialog: nothing is typed into it (a
    # file outside the working folder: auto mode asks too, in the gateway dialog).
    marker = claude.workdir.parent / "tool-ran.txt"
    claude.api.script_next_reply_tool_use("Bash", {"command": f"touch {marker}", "description": "make a marker"})
    assert run_script("send_message.sh", "team:claude", "please run the tool", env=blind).returncode == 0
    wait_for(lambda: look(tmux, claude.pane.pane_id, "record-only", claude.sources()).state == "waiting",
             timeout=30, what="the registry's waiting")
    done = run_script("send_message.sh", "team:claude", "an incoming message", env=blind)
    assert done.returncode == 1 and "dialog" in done.stderr, done.stderr
    time.sleep(1.0)  # a deliberate window in which an approved tool would have run
    assert not marker.exists() and claude.api.tool_results() == []


def test_with_every_source_broken_nothing_is_typed_and_the_exit_code_says_no_proof(
        start_claude, orc_env: dict[str, str], tmux: Tmux, tmp_path: Path) -> None:
    claude = start_claude(launch="then-bash", registered=False)
    nothing = tmp_path / "no-claude-config"  # the registry hidden: no agent's record is found here
    # The registry hidden: read from no dir, and not from the one in the agent's own environment.
    broken = {**orc_env, "ORC_AGENT_KIND": "record-only", "ORC_CLAUDE_CONFIG_DIRS": str(nothing),
              "ORC_REGISTRY_SOURCE": "off"}
    before = tmux.capture(claude.pane.pane_id)
    done = run_script("send_message.sh", "team:claude", "nobody can prove this one", env=broken)
    assert done.returncode == 3, done.stderr
    assert "no proof" in done.stderr and "nothing typed" in done.stderr
    time.sleep(1.0)  # a deliberate window in which typed text would show or be sent
    assert "nobody can prove" not in "\n".join(tmux.capture(claude.pane.pane_id))
    assert claude.api.turns() == []
    assert len(before) > 0
    log = (Path(orc_env["ORC_STATE_DIR"]) / "delivery.log").read_text(encoding="utf-8")
    assert "result=no-proof" in log and "proof=none" in log


@pytest.mark.parametrize("account", ["own-config-dir", "own-home"])
def test_an_agent_of_another_account_is_read_from_its_own_record_with_no_setting(
        start_claude, orc_env: dict[str, str], tmux: Tmux, tmp_path: Path, account: str) -> None:
    """Issue 23: an agent started with its own CLAUDE_CONFIG_DIR (or its own HOME) and no
    ORC_CLAUDE_CONFIG_DIRS anywhere: the suite finds its config dir in the agent process's
    environment, reads its registry entry, and proves 12 hard messages from its transcript."""
    import json
    import subprocess
    import sys

    from support import SUITE

    own = tmp_path / "second account" if account == "own-config-dir" else None
    claude = start_claude(launch="then-bash", registered=False, own_config_dir=own)
    assert "ORC_CLAUDE_CONFIG_DIRS" not in orc_env and "CLAUDE_CONFIG_DIR" not in orc_env
    expected_dir = own if own is not None else claude.config_dir

    def shown() -> dict[str, object]:
        done = subprocess.run([sys.executable, str(SUITE / "tmux_utils.py"), "--json", "--lines", "1"], env=orc_env,
                              capture_output=True, text=True, timeout=30)
        return next(p for p in json.loads(done.stdout) if p["pane_id"] == claude.pane.pane_id)

    pane = wait_for(lambda: (p := shown())["source"] == "registry" and p, timeout=15, what="the registry entry")
    assert pane["state"] == "idle" and pane["version"], pane  # type: ignore[index]
    # status, for a project whose manager is this agent, reads it from its registry entry too.
    config = tmp_path / "project_configs.json"
    config.write_text(json.dumps({"acct": {"path": str(claude.workdir), "session": "team", "spec_file": "SPEC.md",
                                           "test_command": "true",
                                           "team": [{"role": "project-manager", "window": "claude"}]}}))
    status = subprocess.run([sys.executable, str(SUITE / "orchestrator_integration.py"), "--config", str(config),
                             "status", "--json"], env=orc_env, capture_output=True, text=True, timeout=60)
    agent = json.loads(status.stdout)[0]["agents"][0]
    assert (agent["state"], agent["source"]) == ("idle", "registry"), agent
    assert agent["session_id"] == pane["session_id"]  # type: ignore[index]
    for n, text in enumerate(HARD, start=1):
        done = run_script("send_message.sh", "team:claude", "-", env=orc_env, input=text)
        assert done.returncode == 0, done.stderr
        assert "proof: transcript" in done.stdout, done.stdout
        assert claude.api.wait_for_turns(n, timeout=30)[-1] == as_received(text)
    assert proofs_logged(orc_env) == ["transcript"] * len(HARD)
    transcript = str(shown()["transcript_path"])
    assert transcript.startswith(str(expected_dir / "projects")), transcript
    assert Path(transcript).is_file()
