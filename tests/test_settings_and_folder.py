"""Settings (.env beside the scripts, the environment over it) and the suite as a folder
that is copied around: it rebuilds its own dependency folder when that is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import orc
from support import SUITE
from orc.core.settings import SettingsError, default_socket, load_settings


def test_defaults_without_env_file(tmp_path: Path) -> None:
    settings = load_settings({"PATH": os.environ["PATH"]}, suite_dir=tmp_path)
    assert settings.state_dir == tmp_path / "state"
    assert settings.default_target == "tmux-orc:0"
    assert settings.agent_command == "claude"
    assert settings.submit_key == "Enter"
    assert settings.tmux_socket == default_socket({})


def test_env_file_is_read_and_the_environment_overrides_it(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ORC_DEFAULT_TARGET=pm:0\nORC_PASTE_SETTLE=0.7\nORC_AGENT_COMMAND=claude --x\n")
    settings = load_settings({"ORC_PASTE_SETTLE": "0.1"}, suite_dir=tmp_path)
    assert settings.default_target == "pm:0"
    assert settings.agent_command == "claude --x"
    assert settings.paste_settle == 0.1


def test_socket_inside_tmux_is_the_servers_own(tmp_path: Path) -> None:
    inside = {"TMUX": "/tmp/tmux-1000/work,4242,3"}
    assert load_settings(inside, suite_dir=tmp_path).tmux_socket == Path("/tmp/tmux-1000/work")
    outside = {"TMUX_TMPDIR": "/var/run/me"}
    assert load_settings(outside, suite_dir=tmp_path).tmux_socket == Path(f"/var/run/me/tmux-{os.getuid()}/default")
    chosen = {"TMUX": "/tmp/tmux-1000/work,4242,3", "ORC_TMUX_SOCKET": str(tmp_path / "mine.sock")}
    assert load_settings(chosen, suite_dir=tmp_path).tmux_socket == tmp_path / "mine.sock"


def test_a_bad_number_names_its_key(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="ORC_SUBMIT_TIMEOUT='soon' is not a number"):
        load_settings({"ORC_SUBMIT_TIMEOUT": "soon"}, suite_dir=tmp_path)


def test_a_bad_setting_is_one_line_and_exit_2(orc_env: dict[str, str]) -> None:
    done = subprocess.run([str(SUITE / "send_message.sh"), "team:0", "hi"], env={**orc_env, "ORC_ENTER_RETRIES": "x"},
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "ORC_ENTER_RETRIES" in done.stderr


def test_a_copied_suite_without_its_dependency_folder_rebuilds_it(tmp_path: Path) -> None:
    """The folder is what users copy; .deps/ is not in git and may not come along."""
    copy = tmp_path / "copied suite"
    shutil.copytree(SUITE, copy, ignore=shutil.ignore_patterns(".deps", "state", ".git", "__pycache__", ".*_cache"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([str(copy / "send_message.sh"), "--help"], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert "installing dependencies" in done.stderr and done.stdout.startswith("usage: send_message.sh")
    assert (copy / ".deps" / orc.PYTHON_TAG / "python" / "libtmux").is_dir()
    again = subprocess.run([str(copy / "send_message.sh"), "--help"], env=env, capture_output=True, text=True)
    assert again.returncode == 0 and again.stderr == ""  # built once, then used as it is
