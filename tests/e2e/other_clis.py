"""Codex CLI and Gemini CLI set up as the suite drives them: its hooks installed the way a
person installs them (``orchestrator_integration.py hooks install --user --agent <cli>``),
and a shell line that starts the CLI offline against its stand-in, inside a tmux pane.
Shared by tests/e2e/test_codex_gemini_driven.py and bench/bench_send_clis.py."""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from codex_harness import (CODEX_VERSION, codex_env, codex_launcher, rollout_files, rollout_user_texts,
                           write_codex_config)
from gemini_harness import (GEMINI_CLI_VERSION, chat_files, chat_user_texts, gemini_env, gemini_launcher,
                            write_gemini_settings)

SUITE = Path(__file__).resolve().parent.parent.parent
CLIS = ("codex", "gemini")


@dataclass(frozen=True)
class Launch:
    """How to start one CLI in a pane, and how to read back what it recorded."""

    kind: str
    command: str                          # the pane's shell line
    transcripts: Callable[[], list[str]]  # the user texts the CLI's own record holds
    environment: tuple[str, str]          # a NAME=value only its processes carry (to end them all)


def missing(kind: str) -> str:
    """Why ``kind`` cannot run here ("" when it is installed)."""
    launcher, version = (codex_launcher(), CODEX_VERSION) if kind == "codex" else (gemini_launcher(), GEMINI_CLI_VERSION)
    return "" if launcher.exists() else f"{kind} {version} is not installed; run: make agent-clis"


def in_pane_environment(env: dict[str, str], launcher: Path, *args: str) -> str:
    """``exec env -i`` with exactly ``env``, plus the pane's own ``TMUX`` and ``TMUX_PANE``
    (expanded by the pane's shell): the suite's hook tells panes apart by them; and the
    ``ORC_AGENT_LABEL`` deploy starts it with, if any."""
    assignments = shlex.join([f"{name}={value}" for name, value in env.items()])
    return (f'exec env -i TMUX="$TMUX" TMUX_PANE="$TMUX_PANE" ORC_AGENT_LABEL="${{ORC_AGENT_LABEL:-}}" {assignments} '
            + shlex.join([str(launcher), *args]))


def install_hooks(orc_env: dict[str, str], kind: str, **where: str) -> str:
    """``hooks install --user --agent kind`` with ``where`` (``CODEX_HOME``, ``HOME``) set; its output."""
    done = subprocess.run([sys.executable, str(SUITE / "orchestrator_integration.py"), "hooks", "install", "--user",
                           "--agent", kind], env={**orc_env, **where}, capture_output=True, text=True, timeout=60)
    if done.returncode != 0 or "hooks installed" not in done.stdout:
        raise RuntimeError(f"hooks install --agent {kind} failed: {done.stdout}{done.stderr}")
    return done.stdout


def prepare(kind: str, root: Path, base_url: str, orc_env: dict[str, str], trust_hooks: bool = True,
            workdir: Path | None = None, no_daemon: bool = True, extra_env: dict[str, str] | None = None) -> Launch:
    """Folders under ``root`` (``home``, ``work``, Codex's ``codex-home``), the CLI's settings
    pointing at the stand-in at ``base_url``, the suite's hooks, and the line that starts it.
    ``trust_hooks=False``: Codex shows its "Hooks need review" screen first. ``workdir``: the
    folder it works in (Codex trusts it), else ``root/work``. ``no_daemon=False``: Codex's
    line leaves ``--no-daemon`` to the caller (deploy adds it). ``extra_env``: more of its
    environment (the suite's settings for the commands its shell tool runs)."""
    home, workdir = root / "home", workdir or root / "work"
    home.mkdir(parents=True, exist_ok=True)
    if kind == "codex":
        codex_home = root / "codex-home"
        write_codex_config(codex_home, workdir, base_url)
        install_hooks(orc_env, "codex", CODEX_HOME=str(codex_home))
        flags = (("--no-daemon",) if no_daemon else ()) + (("--dangerously-bypass-hook-trust",) if trust_hooks else ())
        return Launch(kind, in_pane_environment({**codex_env(home, codex_home), **(extra_env or {})}, codex_launcher(),
                                                *flags),
                      lambda: [t for path in rollout_files(codex_home) for t in rollout_user_texts(path)],
                      ("CODEX_HOME", str(codex_home)))
    write_gemini_settings(home, workdir)
    install_hooks(orc_env, "gemini", HOME=str(home))
    return Launch(kind, in_pane_environment({**gemini_env(home, base_url), **(extra_env or {})}, gemini_launcher()),
                  lambda: [t for path in chat_files(home) for t in chat_user_texts(path)], ("HOME", str(home)))
