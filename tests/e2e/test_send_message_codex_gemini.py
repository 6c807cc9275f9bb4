"""The suite drives the real Codex CLI and Gemini CLI (offline, against their loopback
stand-ins) as it drives Claude Code: send_message.sh tells from the pane's process which CLI
runs there, reads the screen with that CLI's profile (orc/record/profiles/), proves every
submission from the CLI's own record, and refuses to type while a dialog shows.

Each CLI gets the suite's hooks the way a person would give them, with
``orchestrator_integration.py hooks install --user --agent <cli>``; the hooks name the
CLI's transcript, which then proves each message. Codex asks once to trust new hooks (its
"Hooks need review" screen); the test starts it with ``--dangerously-bypass-hook-trust``
instead, and checks on its own that the suite reads that screen as a dialog.

Needs the CLIs: ``make agent-clis`` (tests/e2e/install_agent_clis.sh); skipped without them,
failed under CI.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from agent_cli_processes import end_processes_with_env
from codex_harness import (CODEX_VERSION, codex_env, codex_launcher, rollout_files, rollout_user_texts,
                           write_codex_config)
from fake_gemini_api import FakeGeminiAPI
from fake_openai_api import FakeOpenAIAPI
from gemini_harness import (GEMINI_CLI_VERSION, chat_files, chat_user_texts, gemini_env, gemini_launcher,
                            write_gemini_settings)
from test_send_message_claude import HARD

from support import SUITE, run_script, wait_for
from tmux_utils import Pane, Tmux
from orc.core.settings import Settings
from orc.record.snapshot import StateSources, look

pytestmark = pytest.mark.e2e

CLIS = ("codex", "gemini")


@dataclass(frozen=True)
class Cli:
    kind: str
    pane: Pane
    workdir: Path
    api: Any              # FakeOpenAIAPI or FakeGeminiAPI: both have turns(), wait_for_turns()
    sources: StateSources
    transcripts: Callable[[], list[str]]  # the user texts the CLI's own record holds

    def look(self, tmux: Tmux) -> Any:
        return look(tmux, self.pane.pane_id, sources=self.sources)


def in_pane_environment(env: dict[str, str], launcher: Path, *args: str) -> str:
    """``exec env -i`` with exactly ``env``, plus the pane's own ``TMUX`` and ``TMUX_PANE``
    (expanded by the pane's shell): the suite's hook tells panes apart by them."""
    assignments = shlex.join([f"{name}={value}" for name, value in env.items()])
    return f'exec env -i TMUX="$TMUX" TMUX_PANE="$TMUX_PANE" {assignments} ' + shlex.join([str(launcher), *args])


def install_hooks(orc_env: dict[str, str], kind: str, **where: str) -> None:
    done = subprocess.run([sys.executable, str(SUITE / "orchestrator_integration.py"), "hooks", "install", "--user",
                           "--agent", kind], env={**orc_env, **where}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "hooks installed" in done.stdout, done.stdout


def hook_events(orc_env: dict[str, str]) -> str:
    log = Path(orc_env["ORC_STATE_DIR"]) / "hooks" / "events.log"
    return log.read_text(encoding="utf-8") if log.exists() else ""


@pytest.fixture
def start_cli(tmux: Tmux, tmp_path: Path, orc_env: dict[str, str], settings: Settings) -> Iterator[Callable[..., Cli]]:
    """Start one CLI in window ``<kind>`` of session ``team`` with the suite's hooks
    installed, and wait until it is idle (Gemini CLI: until its SessionStart hook, which
    comes once it takes input; docs/agent-clis.md)."""
    home = tmp_path / "home"
    home.mkdir()
    workdir = tmp_path / "work"
    sources = StateSources.from_settings(settings)
    ended: list[tuple[str, str]] = []
    with FakeOpenAIAPI() as openai_api, FakeGeminiAPI() as gemini_api:

        def start(kind: str, trust_hooks: bool = True) -> Cli:
            if kind == "codex":
                launcher = codex_launcher()
                if not launcher.exists():
                    (pytest.fail if os.environ.get("CI") else pytest.skip)(
                        f"Codex CLI {CODEX_VERSION} is not installed; run: make agent-clis")
                codex_home = tmp_path / "codex-home"
                write_codex_config(codex_home, workdir, openai_api.base_url)
                install_hooks(orc_env, "codex", CODEX_HOME=str(codex_home))
                ended.append(("CODEX_HOME", str(codex_home)))
                flags = ("--no-daemon",) + (("--dangerously-bypass-hook-trust",) if trust_hooks else ())
                command = in_pane_environment(codex_env(home, codex_home), launcher, *flags)
                api: Any = openai_api

                def transcripts() -> list[str]:
                    return [t for path in rollout_files(codex_home) for t in rollout_user_texts(path)]
            else:
                launcher = gemini_launcher()
                if not launcher.exists():
                    (pytest.fail if os.environ.get("CI") else pytest.skip)(
                        f"Gemini CLI {GEMINI_CLI_VERSION} is not installed; run: make agent-clis")
                write_gemini_settings(home, workdir)
                install_hooks(orc_env, "gemini", HOME=str(home))
                ended.append(("HOME", str(home)))
                command = in_pane_environment(gemini_env(home, gemini_api.base_url), launcher)
                api = gemini_api

                def transcripts() -> list[str]:
                    return [t for path in chat_files(home) for t in chat_user_texts(path)]
            pane = tmux.new_session("team", kind, command, str(workdir), width=100, height=30)
            cli = Cli(kind, pane, workdir, api, sources, transcripts)
            if kind == "gemini":
                wait_for(lambda: f"SessionStart pane={pane.pane_id} " in hook_events(orc_env), timeout=60,
                         what="Gemini CLI's SessionStart hook (it takes input from then on)")
            if trust_hooks:
                wait_for(lambda: cli.look(tmux).state == "idle", timeout=60, what=f"{kind} idle at its input box")
            return cli

        try:
            yield start
        finally:
            if tmux.has_session("team"):
                tmux.kill_session("team")
            for name, value in ended:
                end_processes_with_env(name, value)


def proofs_logged(orc_env: dict[str, str]) -> list[str]:
    log = Path(orc_env["ORC_STATE_DIR"]) / "delivery.log"
    return re.findall(r"\bproof=(\S+)", log.read_text(encoding="utf-8"))


@pytest.mark.parametrize("kind", CLIS)
def test_twelve_hard_messages_arrive_once_each_exactly_proven_from_the_clis_own_record(
        start_cli: Callable[..., Cli], orc_env: dict[str, str], tmux: Tmux, kind: str) -> None:
    cli = start_cli(kind)
    snap = cli.look(tmux)
    assert (snap.agent.kind, snap.state) == (kind, "idle"), snap.agent
    started = time.monotonic()
    for n, text in enumerate(HARD, start=1):
        done = run_script("send_message.sh", f"team:{kind}", "-", env=orc_env, input=text)
        assert done.returncode == 0, (n, done.stderr, "\n".join(tmux.capture(cli.pane.pane_id)))
        assert cli.api.wait_for_turns(n, timeout=30)[-1] == text, n
    per_message = (time.monotonic() - started) / len(HARD)
    assert cli.api.turns() == HARD  # each once, exactly: single submissions
    recorded = cli.transcripts()
    assert [t for t in recorded if t in HARD] == HARD  # the CLI's own record holds each once
    proofs = proofs_logged(orc_env)
    # The CLI's own record proves each: its transcript, or its hook's copy of the prompt when
    # that comes first (Gemini CLI writes its chat file a moment after its BeforeAgent hook).
    # Codex names its session with its first turn: its first message has no record yet, and
    # is proven by the screen.
    first = ["screen"] if kind == "codex" else []
    assert proofs[:len(first)] == first, proofs
    assert len(proofs) == len(HARD) and set(proofs[len(first):]) <= {"hook", "transcript"}, proofs
    print(f"{kind}: {len(HARD)} hard messages, {per_message:.2f} s each on average")


@pytest.mark.parametrize("kind", CLIS)
def test_a_dialog_is_read_as_waiting_and_nothing_is_typed_into_it(
        start_cli: Callable[..., Cli], orc_env: dict[str, str], tmux: Tmux, kind: str) -> None:
    cli = start_cli(kind)
    marker = cli.workdir / "tool-ran.txt"
    cli.api.script_next_reply_shell(f"touch {marker}")
    assert run_script("send_message.sh", f"team:{kind}", "please run the tool", env=orc_env).returncode == 0
    snap = wait_for(lambda: (s := cli.look(tmux)).state == "waiting" and s, timeout=30, what="the approval dialog")
    assert snap.agent.kind == kind  # type: ignore[attr-defined]
    for attempt in range(3):
        done = run_script("send_message.sh", f"team:{kind}", f"an incoming message {attempt}", env=orc_env)
        assert done.returncode == 1, done.stdout + done.stderr
        assert "dialog" in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr
    time.sleep(1.0)  # a deliberate window in which an approved tool would have run
    assert not marker.exists()
    assert "an incoming message" not in "\n".join(tmux.capture(cli.pane.pane_id))
    assert cli.api.turns() == ["please run the tool"]

    tmux.send_key(cli.pane.pane_id, "Escape")  # decline, as the person would
    wait_for(lambda: cli.look(tmux).state == "idle", timeout=30, what="idle after declining")
    assert not marker.exists()
    done = run_script("send_message.sh", f"team:{kind}", "after the dialog", env=orc_env)
    assert done.returncode == 0, done.stderr
    assert cli.api.wait_for_turns(2, timeout=30) == ["please run the tool", "after the dialog"]


def test_codex_asking_to_trust_new_hooks_is_a_dialog(start_cli: Callable[..., Cli], orc_env: dict[str, str],
                                                     tmux: Tmux) -> None:
    cli = start_cli("codex", trust_hooks=False)
    wait_for(lambda: "Hooks need review" in "\n".join(tmux.capture(cli.pane.pane_id)), timeout=60,
             what="Codex's hooks review screen")
    assert cli.look(tmux).state == "waiting"
    done = run_script("send_message.sh", "team:codex", "2", env=orc_env)  # "2" would trust them
    assert done.returncode == 1 and "dialog" in done.stderr, done.stderr
    time.sleep(0.5)
    assert "Hooks need review" in "\n".join(tmux.capture(cli.pane.pane_id))
