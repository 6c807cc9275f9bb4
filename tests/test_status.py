"""status: finds the agent waiting on a dialog, the one that exited, the stalled one; lists them first."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import SUITE, wait_for
from orc.messages.delivery import deliver
from orc.teams.project_config import parse_config
from orc.core.settings import load_settings
from orc.teams.status import collect, render_text
from test_gitops import make_repo
from test_team import fake_agent
from tmux_utils import Tmux


def config_for(tmp_path: Path, repo: Path) -> Path:
    file = tmp_path / "project_configs.json"
    file.write_text(json.dumps({"shop": {
        "path": str(repo), "session": "shop", "spec_file": "app.py", "test_command": "true",
        "team": [{"role": "project-manager", "window": "PM"}, {"role": "engineer", "window": "Dev"},
                 {"role": "qa", "window": "QA"}, {"role": "docs", "window": "Docs"}],
    }}))
    return file


@pytest.fixture
def team(tmux: Tmux, tmp_path: Path) -> dict[str, str]:
    """PM idle, Dev waiting on a dialog, QA exited (its pane kept dead), Docs window never opened."""
    repo = make_repo(tmp_path / "shop")
    config_for(tmp_path, repo)
    panes = {}
    for window, options in (("PM", ()), ("Dev", ("--dialog-on-start",)), ("QA", ())):
        command, _ = fake_agent(tmp_path, window, "--ready-file", str(tmp_path / f"{window}.ready"), *options)
        if tmux.has_session("shop"):
            pane = tmux.new_window("shop", window, command, str(repo))
        else:
            pane = tmux.new_session("shop", window, command, str(repo), width=100, height=30)
        tmux.keep_on_exit(pane.pane_id)
        wait_for((tmp_path / f"{window}.ready").exists, what=f"{window} to draw")
        panes[window] = pane.pane_id
    tmux.send_key(panes["QA"], "C-c")
    tmux.send_key(panes["QA"], "C-c")  # twice on an empty box: the agent exits
    wait_for(lambda: tmux.pane(panes["QA"]).dead, what="QA to exit")
    return panes


def test_dialog_blocked_and_exited_agents_need_attention_and_come_first(team: dict[str, str], orc_env: dict[str, str],
                                                                       tmp_path: Path) -> None:
    env = {**orc_env, "ORC_PROJECT_CONFIG": str(tmp_path / "project_configs.json"),
           "ORC_CRONTAB_FILE": str(tmp_path / "crontab")}
    done = subprocess.run([sys.executable, str(SUITE / "orchestrator_integration.py"), "status"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    attention = out.split("NEEDS A PERSON", 1)[1].split("\n\n", 1)[0]
    first = attention.strip().splitlines()
    assert "shop:Dev" in first[0] and "waiting: a dialog is waiting for an answer" in first[0]
    assert any("shop:QA" in line and "exited" in line for line in first)
    assert any("shop:Docs" in line and "missing" in line for line in first)
    assert not any("shop:PM" in line for line in first)
    assert "branch main | last commit" in out and "0 uncommitted file(s)" in out
    status_file = tmp_path / "state" / "projects" / "shop" / "status.txt"
    assert "NEEDS A PERSON" in status_file.read_text() and (status_file.stat().st_mode & 0o777) == 0o600

    as_json = subprocess.run([sys.executable, str(SUITE / "orchestrator_integration.py"), "status", "shop", "--json"],
                             env=env, capture_output=True, text=True, timeout=60)
    data = json.loads(as_json.stdout)
    states = {a["role"]: a["state"] for a in data[0]["agents"]}
    assert states == {"project-manager": "idle", "engineer": "waiting", "qa": "exited", "docs": "missing"}
    assert data[0]["agents"][0]["attention"] and data[0]["needs_attention"]


def test_an_agent_whose_screen_stops_changing_while_busy_is_stalled(tmux: Tmux, tmp_path: Path,
                                                                    orc_env: dict[str, str]) -> None:
    repo = make_repo(tmp_path / "shop")
    file = tmp_path / "project_configs.json"
    file.write_text(json.dumps({"shop": {"path": str(repo), "spec_file": "app.py", "test_command": "true",
                                         "team": [{"role": "project-manager", "window": "PM"}]}}))
    command, _ = fake_agent(tmp_path, "pm", "--busy-seconds", "60", "--ready-file", str(tmp_path / "ready"))
    pane = tmux.new_session("shop", "PM", command, str(repo), width=100, height=30)
    wait_for((tmp_path / "ready").exists, what="the agent to draw")
    settings = load_settings({**orc_env, "ORC_STALL_SECONDS": "1"})
    assert deliver(tmux, pane.pane_id, "a long task", settings).submitted
    projects = list(parse_config(file.read_text(), file).projects)
    first = collect(settings, tmux, projects)[0].agents[0]
    assert first.state == "busy" and first.attention is None
    time.sleep(1.2)  # the stall threshold itself is what is being tested
    later = collect(settings, tmux, projects)[0].agents[0]
    assert later.state == "stalled" and later.last_activity == first.last_activity
    assert "stalled" in render_text(collect(settings, tmux, projects))
