"""`orchestrator_integration.py hooks install/remove/status`, run as a person runs it, on real
settings files that already hold the person's own hooks and permissions."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import sys

import pytest
from support import SUITE

from orc.record import hooks_settings
from orc.record.hooks_settings import EVENTS, is_our_command, our_hooks

# The person's own file, formatted by hand (4-space indent, a key order of their own, no
# trailing newline): "byte for byte" has to survive all of that.
USERS_SETTINGS = """{
    "permissions": {"allow": ["Bash(npm test:*)", "Read(~/notes/**)"], "deny": ["Bash(rm -rf:*)"]},
    "hooks": {
        "PreToolUse": [
            {"matcher": "Bash", "hooks": [{"type": "command", "command": "~/bin/audit-bash.sh"}]}
        ],
        "Stop": [{"hooks": [{"type": "command", "command": "notify-send 'Claude is done'"}]}]
    },
    "model": "opus",
    "env": {"FOO": "bar"}
}"""


@pytest.fixture
def env(orc_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    return {**orc_env, "HOME": str(home)}


def hooks(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SUITE / "orchestrator_integration.py"), "hooks", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_install_into_a_project_keeps_everything_and_remove_restores_every_byte(env: dict[str, str], tmp_path: Path) -> None:
    project = tmp_path / "webapp"
    settings_file = project / ".claude" / "settings.local.json"
    settings_file.parent.mkdir(parents=True)
    settings_file.write_text(USERS_SETTINGS)
    settings_file.chmod(0o640)
    before = settings_file.read_bytes()

    done = hooks(env, "install", "--project", str(project))
    assert done.returncode == 0, done.stderr
    assert "installed" in done.stdout and "backup" in done.stdout
    data = json.loads(settings_file.read_text())
    original = json.loads(USERS_SETTINGS)
    assert data["permissions"] == original["permissions"] and data["model"] == "opus" and data["env"] == {"FOO": "bar"}
    # The person's hooks are still there, first; ours come after, one group per event.
    assert data["hooks"]["PreToolUse"][0] == original["hooks"]["PreToolUse"][0]
    assert data["hooks"]["Stop"][0] == original["hooks"]["Stop"][0]
    for event in EVENTS:
        ours = [h for g in data["hooks"][event] for h in g["hooks"] if is_our_command(h["command"])]
        assert len(ours) == 1, event
    assert settings_file.stat().st_mode & 0o777 == 0o640
    assert (project / ".claude" / "settings.local.json.orc-backup").read_bytes() == before

    # Idempotent: a second install changes nothing, not even the bytes.
    installed = settings_file.read_bytes()
    again = hooks(env, "install", "--project", str(project))
    assert again.returncode == 0 and "already installed" in again.stdout
    assert settings_file.read_bytes() == installed

    done = hooks(env, "remove", "--project", str(project))
    assert done.returncode == 0, done.stderr
    assert settings_file.read_bytes() == before
    assert not (project / ".claude" / "settings.local.json.orc-backup").exists()
    assert "none of our hooks" in hooks(env, "remove", "--project", str(project)).stdout
    assert settings_file.read_bytes() == before


def test_remove_after_the_person_edited_the_file_takes_out_only_ours(env: dict[str, str], tmp_path: Path) -> None:
    settings_file = Path(env["HOME"]) / ".claude" / "settings.json"
    settings_file.parent.mkdir()
    settings_file.write_text(USERS_SETTINGS)
    assert hooks(env, "install", "--user").returncode == 0
    data = json.loads(settings_file.read_text())
    data["model"] = "sonnet"  # edited by the person after our install
    data["hooks"]["Notification"].insert(0, {"hooks": [{"type": "command", "command": "say ding"}]})
    settings_file.write_text(json.dumps(data))

    assert hooks(env, "remove", "--user").returncode == 0
    expected = json.loads(USERS_SETTINGS)
    expected["model"] = "sonnet"
    expected["hooks"]["Notification"] = [{"hooks": [{"type": "command", "command": "say ding"}]}]
    assert json.loads(settings_file.read_text()) == expected


def test_user_settings_follow_claude_config_dir(env: dict[str, str], tmp_path: Path) -> None:
    config_dir = tmp_path / "claude-config"
    done = hooks({**env, "CLAUDE_CONFIG_DIR": str(config_dir)}, "install", "--user")
    assert done.returncode == 0, done.stderr
    created = config_dir / "settings.json"
    assert set(json.loads(created.read_text())["hooks"]) == set(EVENTS)
    assert created.stat().st_mode & 0o777 == 0o600
    assert not (Path(env["HOME"]) / ".claude").exists()
    # A file that held only ours is deleted again by remove.
    assert hooks({**env, "CLAUDE_CONFIG_DIR": str(config_dir)}, "remove", "--user").returncode == 0
    assert not created.exists()


def test_a_moved_suite_replaces_its_old_hooks_instead_of_adding(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    hooks_settings.install(path, Path("/old/place/suite"), Path("/old/place/suite/state"))
    hooks_settings.install(path, Path("/new place/suite"), tmp_path / "state")
    data = json.loads(path.read_text())
    commands = [h["command"] for g in data["hooks"]["Stop"] for h in g["hooks"]]
    assert len(commands) == 1 and "/new place/suite/orc" in commands[0]


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"hooks": []}', '{"hooks": {"Stop": {}}}'])
def test_a_file_we_cannot_merge_into_is_left_alone(env: dict[str, str], tmp_path: Path, content: str) -> None:
    project = tmp_path / "p"
    (project / ".claude").mkdir(parents=True)
    path = project / ".claude" / "settings.local.json"
    path.write_text(content)
    done = hooks(env, "install", "--project", str(project))
    assert done.returncode == 1
    assert done.stderr.startswith("orchestrator_integration.py: error: hooks install: ")
    assert len(done.stderr.strip().splitlines()) == 1
    assert path.read_text() == content
    assert not path.with_name(path.name + ".orc-backup").exists()


def test_install_needs_a_place(env: dict[str, str], tmp_path: Path) -> None:
    done = hooks(env, "install")
    assert done.returncode == 2 and "--project PATH or --user" in done.stderr
    done = hooks(env, "install", "--project", str(tmp_path / "missing"))
    assert done.returncode == 2 and "no such folder" in done.stderr
    done = hooks(env, "install", "--user", "--project", str(tmp_path))
    assert done.returncode == 2


def test_our_command_is_recognised_exactly() -> None:
    ours = our_hooks(Path("/a b/suite"), Path("/a b/suite/state"))["Stop"][0]["hooks"][0]["command"]
    assert is_our_command(ours)
    assert not is_our_command("~/bin/audit-bash.sh hook --state-dir x")
    assert not is_our_command("python3 /x/orc fire --state-dir y z")
    assert not is_our_command(None)


def test_status_shows_which_panes_report(env: dict[str, str], tmux, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pane = tmux.new_session("team", "agent", "sh", str(tmp_path))
    state = Path(env["ORC_STATE_DIR"])
    command = hooks_settings.hook_command(SUITE, state)
    payload = {"hook_event_name": "Notification", "notification_type": "permission_prompt", "session_id": "s-42"}
    hook_env = {"PATH": os.environ["PATH"], "TMUX": f"{env['ORC_TMUX_SOCKET']},1,0", "TMUX_PANE": pane.pane_id}
    subprocess.run(["sh", "-c", command], input=json.dumps(payload), text=True, env=hook_env, check=True)
    hook_env["TMUX_PANE"] = "%99"
    subprocess.run(["sh", "-c", command], input=json.dumps(payload), text=True, env=hook_env, check=True)
    done = hooks(env, "status")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "none of ours" in lines[0]
    assert "panes reporting through hooks" in lines[1] and lines[1].endswith(": 2")
    assert lines[2].split()[:4] == [pane.pane_id, "team:agent", "waiting", "Notification"]
    assert "session s-42" in lines[2] and "ago" in lines[2]
    assert lines[3].split()[:2] == ["%99", "(gone)"]
