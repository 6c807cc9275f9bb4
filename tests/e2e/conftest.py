"""Fixtures for the end-to-end tier: the real Claude Code CLI, offline, in a pane of the
test's own tmux server, talking to a loopback stand-in of the Messages API."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from claude_harness import FAKE_API_KEY, claude_command, claude_env, prepare_claude_home  # noqa: E402
from fake_anthropic_api import FakeAnthropicAPI  # noqa: E402

from support import wait_for  # noqa: E402
from orc.record.hooks_settings import settings_args  # noqa: E402
from orc.core.settings import load_settings  # noqa: E402
from tmux_utils import Pane, StateSources, Tmux  # noqa: E402
from orc.record.snapshot import look

#: Every common way of starting Claude Code in a tmux window (docs/agent-record.md):
#: ``exec`` leads the pane; ``typed`` into an interactive shell leads the terminal's
#: foreground group; in the others a shell stays the leader and tmux names it.
LAUNCH_FORMS = ("exec", "typed", "then-bash", "bash-c", "wrapper", "npx")


@pytest.fixture
def fake_api() -> Iterator[FakeAnthropicAPI]:
    with FakeAnthropicAPI() as api:
        yield api


@dataclass(frozen=True)
class Claude:
    pane: Pane
    workdir: Path
    api: FakeAnthropicAPI
    config_dir: Path  # its CLAUDE_CONFIG_DIR (HOME/.claude): session registry and transcripts

    def sources(self) -> StateSources:
        return StateSources((self.config_dir,))


@pytest.fixture
def start_claude(claude_binary: Path, fake_api: FakeAnthropicAPI, tmux: Tmux, tmp_path: Path,
                 orc_env: dict[str, str]) -> Callable[..., Claude]:
    """Start Claude Code in a new window of session ``team``; wait until its input box is idle.

    ``launch`` is one of :data:`LAUNCH_FORMS`; ``in_shell=True`` is ``launch="typed"`` (the
    pane is a shell after Claude exits). ``permission_mode`` as in ``prepare_claude_home``:
    by default the run's (``ORC_E2E_PERMISSION_MODE``, else manual); a test built on the
    permission dialog asks for ``"default"`` (manual) itself.
    The agent's config dir is added to ``ORC_CLAUDE_CONFIG_DIRS`` in ``orc_env`` (unless
    ``registered=False``), so the suite's commands run with ``orc_env`` find its registry.
    ``hooks=True`` starts it with our hooks (``--settings``, orc/record/hooks_settings.py).
    ``own_config_dir`` starts it with ``CLAUDE_CONFIG_DIR`` set to that folder (its onboarding
    and settings files written there, as Claude Code then reads them), as people run a second
    account; without it the agent's config dir is its own ``HOME``'s ``.claude``.
    """

    def start(window: str = "claude", in_shell: bool = False, launch: str = "exec",
              permission_mode: str | None = None, registered: bool = True, hooks: bool = False,
              own_config_dir: Path | None = None) -> Claude:
        launch = "typed" if in_shell else launch
        assert launch in LAUNCH_FORMS, launch
        home, workdir = tmp_path / f"home-{window}", tmp_path / f"work-{window}"
        prepare_claude_home(home, workdir, FAKE_API_KEY, permission_mode)
        env = claude_env(home, fake_api.base_url, FAKE_API_KEY)
        if own_config_dir is not None:
            # With CLAUDE_CONFIG_DIR, Claude Code reads <dir>/.claude.json and <dir>/settings.json.
            own_config_dir.mkdir(parents=True, exist_ok=True)
            (own_config_dir / ".claude.json").write_bytes((home / ".claude.json").read_bytes())
            (own_config_dir / "settings.json").write_bytes((home / ".claude" / "settings.json").read_bytes())
            env["CLAUDE_CONFIG_DIR"] = str(own_config_dir)
        program = None
        if launch == "npx":
            # The package installed in .deps/npm, run by npx as a person would, offline.
            env["NPM_CONFIG_UPDATE_NOTIFIER"] = "false"
            program = ["npx", "--offline", "--prefix", str(claude_binary.parents[3]), "claude"]
        # Our hooks for this one agent, as the suite turns them on for agents it starts.
        extra = settings_args(load_settings(orc_env)) if hooks else []
        line = claude_command(claude_binary, env, workdir, *extra, replace_shell=launch in ("exec", "npx"),
                              program=program)
        command = {
            "exec": line,
            "npx": line,
            "typed": "sh",
            "then-bash": f"{line}; exec bash",
            "bash-c": f"bash -c {shlex.quote(line + '; bash')}",
            "wrapper": str(tmp_path / f"start-{window}.sh"),
        }[launch]
        if launch == "wrapper":
            script = tmp_path / f"start-{window}.sh"
            script.write_text(f"#!/bin/sh\n# starts the agent without exec, then keeps the window\n{line}\n"
                              "echo 'claude exited'\nexec sh\n", encoding="utf-8")
            script.chmod(0o755)
        if tmux.has_session("team"):
            pane = tmux.new_window("team", window, command, str(workdir))
        else:
            pane = tmux.new_session("team", window, command, str(workdir), width=100, height=30)
        if launch == "typed":
            # Typed into an interactive shell, as a person would: Claude then leads the
            # pane's foreground process group, and the shell is back when it exits.
            wait_for(lambda: look(tmux, pane.pane_id).state == "shell", what="the shell prompt")
            tmux.type_literal(pane.pane_id, line)
            tmux.send_key(pane.pane_id, "Enter")
        config_dir = own_config_dir or home / ".claude"
        if registered:
            known = [d for d in orc_env.get("ORC_CLAUDE_CONFIG_DIRS", "").split(":") if d]
            orc_env["ORC_CLAUDE_CONFIG_DIRS"] = ":".join([*known, str(config_dir)])
        wait_for(lambda: look(tmux, pane.pane_id).state == "idle", timeout=60, what="Claude Code's idle input box")
        return Claude(pane, workdir, fake_api, config_dir)

    return start
