"""Agents the suite starts get our hooks (``--settings``), and ``restart --resume`` / ``deploy
--resume`` continue each agent's own conversation (``--resume <session id>``): with the fake
agent here, with the real Claude Code and the stand-in API in the e2e test at the end."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from support import SUITE, wait_for
from test_team import env, fake_agent, integration, project_entry, repo_with_spec, submitted, write_config  # noqa: F401
from tmux_utils import Tmux, TmuxError
from orc.record.snapshot import look


def started(record: Path) -> list[dict[str, object]]:
    if not record.exists():
        return []
    return [e for e in map(json.loads, record.read_text().splitlines()) if e.get("event") == "started"]


def report_session(settings_file: str, pane_id: str, socket: str, session_id: str) -> None:
    """Stand-in for Claude Code running its SessionStart hook: the command from the agent's
    settings file, the event on stdin, the pane's TMUX and TMUX_PANE (the fake agent runs no hooks)."""
    command = json.loads(Path(settings_file).read_text())["hooks"]["SessionStart"][0]["hooks"][0]["command"]
    payload = {"hook_event_name": "SessionStart", "session_id": session_id, "source": "startup",
               "transcript_path": f"/x/{session_id}.jsonl", "cwd": "/x"}
    subprocess.run(["sh", "-c", command], input=json.dumps(payload), text=True, check=True, timeout=10,
                   env={"PATH": os.environ["PATH"], "TMUX": f"{socket},1,0", "TMUX_PANE": pane_id})


def server_gone(tmux: Tmux) -> bool:
    try:
        tmux.run("list-sessions")
    except TmuxError:
        return True
    return False


def test_agents_get_our_hooks_and_restart_resume_continues_the_reported_session(
        tmp_path: Path, env: dict[str, str], tmux: Tmux) -> None:  # noqa: F811
    repo = repo_with_spec(tmp_path / "webapp")
    pm, pm_record = fake_agent(tmp_path, "pm")
    dev, dev_record = fake_agent(tmp_path, "dev")
    write_config(tmp_path, {"webapp": project_entry(repo, "webapp", pm, dev)})
    done = integration("deploy", "webapp", "--ready-timeout", "20", env=env)
    assert done.returncode == 0, done.stdout + done.stderr

    first = started(dev_record)
    assert len(first) == 1 and first[0]["resume"] is None
    settings_file = str(first[0]["settings"])
    assert settings_file.startswith(env["ORC_STATE_DIR"]) and settings_file.endswith("webapp.engineer.json")
    command = json.loads(Path(settings_file).read_text())["hooks"]["UserPromptSubmit"][0]["hooks"][0]["command"]
    assert shlex.split(command)[-2:] == ["--agent", "webapp.engineer"]

    # Without a reported session there is nothing to resume: said so, nothing restarted.
    done = integration("restart", "webapp", "engineer", "--resume", env=env)
    assert done.returncode == 1 and "no conversation to resume" in done.stderr
    assert len(started(dev_record)) == 1

    dev_pane = tmux.resolve("webapp:Dev").pane_id
    report_session(settings_file, dev_pane, env["ORC_TMUX_SOCKET"], "sess-dev-1")
    done = integration("restart", "webapp", "engineer", "--resume", "--ready-timeout", "20", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "resumed its conversation" in done.stdout
    again = wait_for(lambda: started(dev_record)[1:], what="the engineer restarted")
    assert again[0]["resume"] == "sess-dev-1"  # type: ignore[index]
    note = wait_for(lambda: [t for t in submitted(dev_record) if t.startswith("You were restarted")],
                    what="the resume note")
    assert "conversation was resumed" in note[0] and "Continue where you left off" in note[0]  # type: ignore[index]
    assert "The spec is" not in note[0]  # type: ignore[index]  # no briefing: it still has its conversation

    # Plain restart stays fresh: no --resume, the full briefing.
    done = integration("restart", "webapp", "engineer", "--ready-timeout", "20", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    third = wait_for(lambda: started(dev_record)[2:], what="the engineer restarted fresh")
    assert third[0]["resume"] is None  # type: ignore[index]
    wait_for(lambda: [t for t in submitted(dev_record) if "The spec is" in t and t.startswith("You were restarted")],
             what="the restart briefing")


def test_deploy_resume_after_the_tmux_server_is_gone(tmp_path: Path, env: dict[str, str], tmux: Tmux) -> None:  # noqa: F811
    repo = repo_with_spec(tmp_path / "webapp")
    pm, pm_record = fake_agent(tmp_path, "pm")
    dev, dev_record = fake_agent(tmp_path, "dev")
    write_config(tmp_path, {"webapp": project_entry(repo, "webapp", pm, dev)})
    assert integration("deploy", "webapp", "--ready-timeout", "20", env=env).returncode == 0
    for role, window, record, session in (("project-manager", "PM", pm_record, "sess-pm"),
                                          ("engineer", "Dev", dev_record, "sess-dev")):
        report_session(str(started(record)[0]["settings"]), tmux.resolve(f"webapp:{window}").pane_id,
                       env["ORC_TMUX_SOCKET"], session)
    tmux.run("kill-server")  # the reboot: every pane is gone
    wait_for(lambda: server_gone(tmux), what="the tmux server gone")

    done = integration("deploy", "webapp", "--resume", "--ready-timeout", "20", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("resumed session") == 2
    assert started(pm_record)[-1]["resume"] == "sess-pm"
    assert started(dev_record)[-1]["resume"] == "sess-dev"
    for record in (pm_record, dev_record):
        wait_for(lambda: any(t.startswith("You were restarted and your conversation was resumed")
                             for t in submitted(record)), what="the resume note")


# --- the real Claude Code (end-to-end tier) -------------------------------------------------


@pytest.mark.e2e
def test_restart_resume_brings_back_the_conversation_in_real_claude(claude_binary: Path, tmp_path: Path,
                                                                     env: dict[str, str], tmux: Tmux) -> None:  # noqa: F811
    """The stand-in API sees the earlier turns again after ``restart --resume``, not after ``restart``."""
    sys.path.insert(0, str(SUITE / "tests" / "e2e"))
    from claude_harness import FAKE_API_KEY, claude_command, claude_env, prepare_claude_home
    from fake_anthropic_api import FakeAnthropicAPI

    repo = repo_with_spec(tmp_path / "webapp")
    home = tmp_path / "home"
    prepare_claude_home(home, repo, FAKE_API_KEY)
    with FakeAnthropicAPI() as api:
        # A wrapper script, as people start agents: the suite appends its arguments to it.
        wrapper = tmp_path / "claude-agent"
        line = claude_command(claude_binary, claude_env(home, api.base_url, FAKE_API_KEY), repo)
        wrapper.write_text(f"#!/bin/sh\n{line} \"$@\"\n")
        wrapper.chmod(0o755)
        pm, _ = fake_agent(tmp_path, "pm")
        write_config(tmp_path, {"webapp": project_entry(repo, "webapp", pm, str(wrapper))})
        done = integration("deploy", "webapp", "--ready-timeout", "60", env=env, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        api.wait_for_turns(1, timeout=60)
        dev = tmux.resolve("webapp:Dev").pane_id
        wait_for(lambda: look(tmux, dev).state == "idle", timeout=60, what="the briefing answered")
        sent = subprocess.run([str(SUITE / "send_message.sh"), "webapp:Dev", "Remember the word PELICAN-42"],
                              env=env, capture_output=True, text=True, timeout=60)
        assert sent.returncode == 0, sent.stderr
        wait_for(lambda: any("PELICAN-42" in t for t in api.turns()), timeout=60, what="the turn to reach the API")
        wait_for(lambda: look(tmux, dev).state == "idle", timeout=60, what="the turn to end")
        state = Path(env["ORC_STATE_DIR"])
        from orc.record.hook_events import agent_reports

        session = agent_reports(state)["webapp.engineer"].session_id
        assert session

        count = len(api.requests())
        done = integration("restart", "webapp", "engineer", "--resume", "--ready-timeout", "60", env=env, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr

        def resumed_turn() -> list[object]:
            return [r for r in api.requests()[count:] if isinstance(r.body, dict) and r.body.get("tools")
                    and "conversation was resumed" in json.dumps(r.body.get("messages"))]
        found = wait_for(resumed_turn, timeout=60, what="the resume note to reach the API")
        messages = found[0].body["messages"]  # type: ignore[index,attr-defined]
        earlier = json.dumps(messages[:-1])
        # The earlier turns come back as turns (the briefing, the message, the agent's answers).
        assert "PELICAN-42" in earlier and "You are the engineer" in earlier
        assert any(m.get("role") == "assistant" for m in messages)

        count = len(api.requests())
        done = integration("restart", "webapp", "engineer", "--ready-timeout", "60", env=env, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr

        def fresh_turn() -> list[object]:
            return [r for r in api.requests()[count:] if isinstance(r.body, dict) and r.body.get("tools")
                    and "You were restarted" in json.dumps(r.body.get("messages"))]
        found = wait_for(fresh_turn, timeout=60, what="the restart briefing to reach the API")
        messages = found[0].body["messages"]  # type: ignore[index,attr-defined]
        # A new conversation: no answer of the agent's before the briefing (which quotes the old
        # screen's last lines, so the word itself may appear inside it).
        assert not any(m.get("role") == "assistant" for m in messages)


def test_a_conversation_that_dies_right_after_each_resume_is_started_fresh_after_three_tries(
        tmp_path: Path, env: dict[str, str], tmux: Tmux) -> None:  # noqa: F811
    repo = repo_with_spec(tmp_path / "webapp")
    pm, _ = fake_agent(tmp_path, "pm")
    dev, dev_record = fake_agent(tmp_path, "dev")
    write_config(tmp_path, {"webapp": project_entry(repo, "webapp", pm, dev)})
    env = {**env, "ORC_NOTIFY_COMMAND": ""}
    assert integration("deploy", "webapp", "--ready-timeout", "20", env=env).returncode == 0
    settings_file = str(started(dev_record)[0]["settings"])
    dev_pane = tmux.resolve("webapp:Dev").pane_id

    def dies_at_once() -> None:
        """As an agent whose conversation is broken: it starts, reports its session, exits."""
        report_session(settings_file, dev_pane, env["ORC_TMUX_SOCKET"], "sess-broken")
        tmux.send_key(dev_pane, "C-c")
        tmux.send_key(dev_pane, "C-c")
        wait_for(lambda: tmux.pane(dev_pane).dead, what="the engineer to exit")

    dies_at_once()
    for n in range(3):
        done = integration("restart", "webapp", "engineer", "--resume", "--ready-timeout", "20", env=env)
        assert done.returncode == 0 and "resumed its conversation" in done.stdout, done.stdout + done.stderr
        wait_for(lambda: len(started(dev_record)) == n + 2, what="the engineer resumed")
        assert started(dev_record)[-1]["resume"] == "sess-broken"
        dies_at_once()
    # The fourth: fresh, with the full briefing, and a person told once.
    done = integration("restart", "webapp", "engineer", "--resume", "--ready-timeout", "20", env=env)
    assert done.returncode == 0 and "briefed it" in done.stdout and "resume-loop" in done.stdout, done.stdout
    wait_for(lambda: len(started(dev_record)) == 5, what="the engineer started fresh")
    assert started(dev_record)[-1]["resume"] is None
    wait_for(lambda: any(t.startswith("You were restarted") and "The spec is" in t for t in submitted(dev_record)),
             what="the full briefing")
    log = (Path(env["ORC_STATE_DIR"]) / "attention.log").read_text()
    assert log.count("raised subject=webapp/engineer reason=resume-loop") == 1
