"""A real Claude Code agent (the project manager, offline against the stand-in API) runs
`spawn` from its own Bash tool, and the new engineer starts and is briefed."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

from claude_harness import FAKE_API_KEY, claude_command, claude_env, prepare_claude_home
from fake_anthropic_api import FakeAnthropicAPI
from orc.messages.delivery import deliver
from orc.core.settings import Settings
from support import SUITE, wait_for
from test_team import fake_agent, project_entry, repo_with_spec, submitted, write_config
from tmux_utils import Tmux
from orc.record.snapshot import look

pytestmark = pytest.mark.e2e


def test_a_project_manager_spawns_an_engineer_from_its_bash_tool(claude_binary: Path, fake_api: FakeAnthropicAPI,
                                                                 tmux: Tmux, tmp_path: Path, settings: Settings,
                                                                 orc_env: dict[str, str]) -> None:
    repo = repo_with_spec(tmp_path / "webapp")
    write_config(tmp_path, {"webapp": project_entry(repo, "team", "claude", "claude")})
    home = tmp_path / "home"
    # Manual mode: an allow rule lets the Bash tool run without the permission dialog, as a team
    # configures it. Auto mode sets broad allow rules such as Bash(*) aside (its gateway dialog
    # says so) and, behind a base URL that is not Anthropic's (the stand-in), asks in that dialog
    # for commands outside the working folder (tests/e2e/SCREENS.md): in auto mode this test
    # waited in vain for the tool's result (2.1.332).
    prepare_claude_home(home, repo, FAKE_API_KEY, "default")
    claude_settings = home / ".claude" / "settings.json"
    data = json.loads(claude_settings.read_text())
    data["permissions"]["allow"] = ["Bash"]
    claude_settings.write_text(json.dumps(data))
    pm = tmux.new_session("team", "PM", claude_command(claude_binary, claude_env(home, fake_api.base_url, FAKE_API_KEY),
                                                       repo), str(repo), width=120, height=40)
    wait_for(lambda: look(tmux, pm.pane_id).state == "idle", timeout=60, what="Claude Code's idle input box")

    engineer, record = fake_agent(tmp_path, "dev2")
    suite_env = {k: orc_env[k] for k in ("ORC_TMUX_SOCKET", "ORC_STATE_DIR")}
    suite_env.update(ORC_PROJECT_CONFIG=str(tmp_path / "project_configs.json"),
                     ORC_CRONTAB_FILE=str(tmp_path / "crontab"))
    command = " ".join(f"{k}={shlex.quote(v)}" for k, v in suite_env.items()) + " " + shlex.join([
        sys.executable, str(SUITE / "orchestrator_integration.py"), "spawn", "team:Dev2", "--role", "engineer-2",
        "--project", "webapp", "--brief", "Write the password reset form", "--command", engineer,
        "--ready-timeout", "30"])
    fake_api.script_next_reply_tool_use("Bash", {"command": command, "description": "add an engineer"})
    assert deliver(tmux, pm.pane_id, "Add an engineer for the password reset form", settings).submitted

    results = fake_api.wait_for_tool_results(1, timeout=120)
    assert not results[0].is_error, results[0].content
    assert "engineer-2: opened team:Dev2" in results[0].content and "briefed" in results[0].content
    briefs = wait_for(lambda: submitted(record), what="the engineer's briefing")
    assert isinstance(briefs, list) and len(briefs) == 1
    assert 'You are the engineer-2 of the project "webapp"' in briefs[0]
    assert "Your first task: Write the password reset form" in briefs[0]
    spawned = json.loads((Path(orc_env["ORC_STATE_DIR"]) / "projects" / "webapp" / "spawned.json").read_text())
    assert spawned["engineer-2"]["window"] == "Dev2"
