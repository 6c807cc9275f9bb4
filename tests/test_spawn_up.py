"""spawn (one more agent in a running team) and up (the orchestrator seated), with the fake agent
as the agent command, on a real tmux server, a scratch crontab and real git repositories."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import pytest

from support import FAKE_AGENT, SUITE, wait_for
from test_team import fake_agent, integration, project_entry, repo_with_spec, submitted, write_config
from tmux_utils import Tmux
from orc.record.snapshot import look


@pytest.fixture
def env(orc_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**orc_env, "ORC_CRONTAB_FILE": str(tmp_path / "crontab"),
            "ORC_PROJECT_CONFIG": str(tmp_path / "project_configs.json"), "SHELL": "/bin/sh"}


@pytest.fixture
def webapp(tmp_path: Path, env: dict[str, str]) -> Path:
    repo = repo_with_spec(tmp_path / "webapp")
    pm, _ = fake_agent(tmp_path, "pm")
    dev, _ = fake_agent(tmp_path, "dev")
    write_config(tmp_path, {"webapp": project_entry(repo, "webapp", pm, dev)})
    done = integration("deploy", "webapp", "--ready-timeout", "20", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return repo


def test_spawn_joins_a_project_is_briefed_and_status_and_restart_know_it(webapp: Path, tmp_path: Path,
                                                                        env: dict[str, str], tmux: Tmux) -> None:
    command, record = fake_agent(tmp_path, "dev2")
    done = integration("spawn", "webapp:Dev2", "--role", "engineer-2", "--project", "webapp", "--brief",
                       "Write the password reset form", "--command", command, "--ready-timeout", "20", env=env)
    assert done.returncode == 0, done.stderr
    assert "opened webapp:Dev2" in done.stdout and "briefed" in done.stdout
    briefs = submitted(record)
    assert len(briefs) == 1
    assert 'You are the engineer-2 of the project "webapp"' in briefs[0]
    assert "Build a login form" in briefs[0] and "Your first task: Write the password reset form" in briefs[0]
    pane = tmux.resolve("webapp:Dev2")
    assert tmux.run("show-options", "-p", "-v", "-t", pane.pane_id, "remain-on-exit").strip() == "on"
    # The agent is the pane's own process (exec), so it leads the pane's process group.
    pid = tmux.pane_pid(pane.pane_id)
    assert os.getpgid(pid) == pid and "fake_agent.py" in Path(f"/proc/{pid}/cmdline").read_text()

    def spawned_status() -> dict[str, object]:
        status = json.loads(integration("status", "webapp", "--json", env=env).stdout)
        return next(a for a in status[0]["agents"] if a["role"] == "engineer-2")

    assert spawned_status()["target"] == "webapp:Dev2"
    wait_for(lambda: spawned_status()["state"] == "idle", what="status to show the spawned agent idle")

    again = integration("restart", "webapp", "engineer-2", "--ready-timeout", "20", env=env)
    assert again.returncode == 0, again.stderr
    wait_for(lambda: len(submitted(record)) == 2, what="the restart briefing")
    assert tmux.pane_pid(pane.pane_id) != pid


def test_spawn_reuses_an_empty_shell_window_and_refuses_a_busy_one(webapp: Path, tmp_path: Path,
                                                                  env: dict[str, str], tmux: Tmux) -> None:
    shell_pane = tmux.resolve("webapp:Shell")
    wait_for(lambda: look(tmux, shell_pane.pane_id).state == "shell", what="the shell window's shell")
    command, record = fake_agent(tmp_path, "qa")
    done = integration("spawn", "webapp:Shell", "--role", "qa", "--project", "webapp", "--command", command,
                       "--ready-timeout", "20", env=env)
    assert done.returncode == 0, done.stderr
    assert "reused the empty window" in done.stdout and tmux.resolve("webapp:Shell").pane_id == shell_pane.pane_id
    assert len(submitted(record)) == 1

    busy = integration("spawn", "webapp:Dev", "--role", "engineer-3", "--project", "webapp", "--command", command,
                       env=env)
    assert busy.returncode == 1 and "is in use" in busy.stderr
    assert len(submitted(fake_agent(tmp_path, "dev")[1])) == 1  # the engineer there was not touched


def test_spawn_without_a_project_with_a_brief_file(tmp_path: Path, orc_env: dict[str, str], tmux: Tmux) -> None:
    env = {**orc_env, "ORC_PROJECT_CONFIG": str(tmp_path / "no-such-file.json"), "SHELL": "/bin/sh"}
    task = tmp_path / "task.md"
    task.write_text("Survey the logging libraries and report back.\n")
    command, record = fake_agent(tmp_path, "r")
    done = integration("spawn", "research:Main", "--role", "researcher", "--brief-file", str(task), "--command",
                       command, "--ready-timeout", "20", env=env)
    assert done.returncode == 0, done.stderr
    text = submitted(record)[0]
    assert "You are the researcher, working in tmux window research:Main" in text
    assert "Survey the logging libraries" in text and f"{SUITE}/CLAUDE.md" in text


@pytest.mark.parametrize("args, message", [
    (["spawn", "webapp", "--role", "x"], "is not session:window"),
    (["spawn", "webapp:7", "--role", "x"], "is not session:window"),
    (["spawn", "webapp:Dev9", "--role", "Bad Role"], "is not lower case"),
    (["spawn", "other:Dev9", "--role", "x", "--project", "webapp"], "live in session webapp"),
    (["spawn", "webapp:Dev9", "--role", "engineer", "--project", "webapp"], "already has a engineer in window Dev"),
    (["spawn", "webapp:Dev9", "--role", "x", "--brief", "a", "--brief-file", "b"], "not allowed with argument"),
])
def test_spawn_refuses_bad_requests_with_exit_2_and_starts_nothing(args: list[str], message: str, tmp_path: Path,
                                                                  env: dict[str, str], tmux: Tmux) -> None:
    repo = repo_with_spec(tmp_path / "webapp")
    write_config(tmp_path, {"webapp": project_entry(repo, "webapp", "true", "true")})
    done = integration(*args, env=env)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert tmux.list_sessions() == []


def test_up_seats_the_orchestrator_with_an_hourly_check_in_and_twice_changes_nothing(
        webapp: Path, tmp_path: Path, env: dict[str, str], tmux: Tmux) -> None:
    command, record = fake_agent(tmp_path, "boss")
    env = {**env, "ORC_DEFAULT_TARGET": "tmux-orc:0"}
    done = integration("up", "--command", command, "--ready-timeout", "20", env=env)
    assert done.returncode == 0, done.stderr
    pane = tmux.resolve("tmux-orc:0")
    assert pane.current_path == str(SUITE)
    briefs = submitted(record)
    assert len(briefs) == 1
    assert "You are the Orchestrator" in briefs[0] and "hub and spoke" in briefs[0]
    assert f"webapp: {webapp}" in briefs[0] and "webapp:PM" in briefs[0]
    for word in ("deploy", "spawn", "status", "broadcast", "learn", "send_message.sh", "finish"):
        assert word in briefs[0]
    crontab = (tmp_path / "crontab").read_text()
    assert "every 60m for tmux-orc:0" in crontab

    windows = sorted((p.session, p.window_name, p.pane_id) for p in tmux.list_windows())
    again = integration("up", "--command", command, "--ready-timeout", "20", env=env)
    assert again.returncode == 0, again.stderr
    assert "already running" in again.stdout and "(kept)" in again.stdout
    assert (tmp_path / "crontab").read_text() == crontab
    assert sorted((p.session, p.window_name, p.pane_id) for p in tmux.list_windows()) == windows
    assert len(submitted(record)) == 1


def test_up_interval_is_configurable_and_replaces_the_old_one(tmp_path: Path, orc_env: dict[str, str],
                                                             tmux: Tmux) -> None:
    env = {**orc_env, "ORC_CRONTAB_FILE": str(tmp_path / "crontab"), "ORC_DEFAULT_TARGET": "orc:boss",
           "ORC_PROJECT_CONFIG": str(tmp_path / "none.json")}
    command, record = fake_agent(tmp_path, "boss")
    assert integration("up", "--command", command, "--ready-timeout", "20", env=env).returncode == 0
    assert "You are the Orchestrator" in submitted(record)[0] and "(none yet)" in submitted(record)[0]
    env["ORC_ORCHESTRATOR_CHECKIN_MINUTES"] = "30"
    done = integration("up", "--command", command, "--ready-timeout", "20", env=env)
    assert done.returncode == 0, done.stderr
    crontab = (tmp_path / "crontab").read_text()
    assert crontab.count(" # orc:ck-") == 1 and "every 30m for orc:boss" in crontab
