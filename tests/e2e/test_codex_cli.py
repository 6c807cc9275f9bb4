"""The real OpenAI Codex CLI in a pane of the test's own tmux server, offline, against the
loopback Responses API stand-in (fake_openai_api.py); docs/agent-clis.md has the facts
these prove and tests/e2e/SCREENS.md the screens.

* A hard multi-line message put in with a bracketed paste and submitted with Enter after
  a settle time (0, 0.1 and 0.3 s) reaches the API as exactly one user input holding
  exactly that text, and Codex's rollout transcript records it once.
* A shell tool call that asks for escalated permissions raises Codex's approval dialog;
  the command does not run until it is approved with ``y``, and its output then goes
  back to the API.
* A slow answer shows the busy marker while the input prompt stays on screen; a 429
  ends the turn with Codex's error line.
* Started with ``--no-daemon``, Codex leaves no process behind once its pane is gone.

Needs the CLI: ``make agent-clis`` (tests/e2e/install_agent_clis.sh); skipped without it.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from agent_cli_processes import end_processes_with_env, processes_with_env
from codex_harness import (CODEX_HOOK_EVENTS, CODEX_VERSION, codex_command, codex_env, codex_launcher,
                           rollout_files, rollout_user_texts, write_codex_config, write_codex_hooks)
from fake_openai_api import FakeOpenAIAPI
from record_hook_event import recorded_event_names, recorded_events

from support import wait_for
from tmux_utils import Pane, Tmux

pytestmark = pytest.mark.e2e

#: Quotes, command substitution, backticks, a percent sign, three lines, a trailing
#: backslash and non-ASCII: each breaks some way of typing text into a pane.
HARD_MESSAGE = ('Line one "double" and \'single\' quotes, $(whoami) and `date` and 100% done\n'
                "second line: naïve café — 日本語 ✓\n"
                "third line ends with a backslash \\")

# Screen markers of 0.169.0 (tests/e2e/SCREENS.md, "Codex CLI"). The input prompt stays
# on screen while Codex works, so idle is "prompt and no busy marker".
PROMPT = re.compile(r"^› ")
BUSY = "esc to interrupt"  # "• Working (3s • esc to interrupt)", also "Reconnecting..."
APPROVAL_QUESTION = "Would you like to run the following command?"
APPROVAL_FOOTER = "Press enter to confirm or esc to cancel"


@dataclass(frozen=True)
class Codex:
    pane: Pane
    workdir: Path
    codex_home: Path
    api: FakeOpenAIAPI
    hook_events: Path  # where the hooks (if any) save each event


def screen(tmux: Tmux, codex: Codex) -> str:
    return "\n".join(tmux.capture(codex.pane.pane_id))


def is_idle(text: str) -> bool:
    return any(PROMPT.match(line) for line in text.splitlines()) and BUSY not in text \
        and APPROVAL_FOOTER not in text


@pytest.fixture
def start_codex(tmux: Tmux, tmp_path: Path) -> Iterator[Callable[..., Codex]]:
    """Start Codex in window ``codex`` of session ``team`` and wait until it is idle at its
    input box; every process it started is ended when the test ends.

    ``hooks=True`` also configures a hook for each of :data:`CODEX_HOOK_EVENTS` that saves
    its event in ``Codex.hook_events`` (started with ``--dangerously-bypass-hook-trust``,
    so that no review screen comes first).
    """
    launcher = codex_launcher()
    if not launcher.exists():
        # Under CI (which `make test` has install it) a missing CLI fails: CI must not pass by skipping it.
        (pytest.fail if os.environ.get("CI") else pytest.skip)(f"Codex CLI {CODEX_VERSION} is not installed; run: make agent-clis")
    home, workdir, codex_home = tmp_path / "home", tmp_path / "work", tmp_path / "codex-home"
    home.mkdir()
    with FakeOpenAIAPI() as api:

        def start(hooks: bool = False) -> Codex:
            write_codex_config(codex_home, workdir, api.base_url)
            events = tmp_path / "hook-events"
            args: list[str] = []
            if hooks:
                recorder = shlex.join([sys.executable, str(Path(__file__).with_name("record_hook_event.py"))])
                write_codex_hooks(codex_home, {event: f"{recorder} {shlex.quote(str(events))} {event}"
                                               for event in CODEX_HOOK_EVENTS})
                args.append("--dangerously-bypass-hook-trust")
            command = codex_command(launcher, codex_env(home, codex_home), *args)
            pane = tmux.new_session("team", "codex", command, str(workdir), width=100, height=30)
            agent = Codex(pane, workdir, codex_home, api, events)
            wait_for(lambda: is_idle(screen(tmux, agent)), timeout=60, what="Codex's idle input prompt")
            return agent

        try:
            yield start
        finally:
            if tmux.has_session("team"):
                tmux.kill_session("team")
            end_processes_with_env("CODEX_HOME", str(codex_home))


@pytest.fixture
def codex(start_codex: Callable[..., Codex]) -> Codex:
    """Codex without hooks, idle at its input box."""
    return start_codex()


def paste_and_submit(tmux: Tmux, pane: Pane, text: str, settle: float, tmp_path: Path) -> None:
    """Bracketed-paste ``text`` from a file (``load-buffer`` + ``paste-buffer -p``), wait
    ``settle`` seconds, press Enter."""
    source = tmp_path / f"message-{time.monotonic_ns()}.txt"
    source.write_text(text, encoding="utf-8")
    tmux.run("load-buffer", "-b", "e2e-message", str(source))
    tmux.run("paste-buffer", "-p", "-d", "-b", "e2e-message", "-t", pane.pane_id)
    if settle:
        time.sleep(settle)  # the settle time under test, not a wait for a condition
    tmux.send_key(pane.pane_id, "Enter")


@pytest.mark.parametrize("settle", [0.0, 0.1, 0.3])
def test_a_pasted_hard_message_arrives_as_one_exact_user_input(codex: Codex, tmux: Tmux, tmp_path: Path,
                                                               settle: float) -> None:
    paste_and_submit(tmux, codex.pane, HARD_MESSAGE, settle, tmp_path)

    assert codex.api.wait_for_turns(1, timeout=30) == [HARD_MESSAGE]
    wait_for(lambda: is_idle(screen(tmux, codex)) and "• OK" in screen(tmux, codex), timeout=30,
             what="Codex's answer and its idle prompt")
    # Exactly one turn: no second submission from a stray Enter or a split paste.
    time.sleep(1)  # room for a second, unwanted request to arrive before counting
    assert codex.api.turns() == [HARD_MESSAGE]
    conversations = [r for r in codex.api.requests() if r.is_conversation]
    assert len(conversations) == 1, [r.headers.get("x-codex-turn-metadata") for r in conversations]

    rollouts = rollout_files(codex.codex_home)
    assert len(rollouts) == 1, rollouts
    assert rollout_user_texts(rollouts[0]).count(HARD_MESSAGE) == 1


def test_a_shell_call_waits_in_the_approval_dialog_until_approved(codex: Codex, tmux: Tmux,
                                                                 tmp_path: Path) -> None:
    # A relative path: the command runs in the working folder, and a short line on
    # screen does not wrap.
    made = codex.workdir / "approved.txt"
    codex.api.script_next_reply_shell("touch approved.txt")
    paste_and_submit(tmux, codex.pane, "Create the file, please.", 0.1, tmp_path)

    # Its footer is drawn last: waiting for it gets the whole dialog, not half of it.
    dialog = wait_for(lambda: (lambda s: s if APPROVAL_QUESTION in s and APPROVAL_FOOTER in s else None)(
        screen(tmux, codex)), timeout=30, what="Codex's approval dialog")
    assert "$ touch approved.txt" in dialog
    assert APPROVAL_FOOTER in dialog and "1. Yes, proceed (y)" in dialog
    assert not is_idle(dialog)
    (tmp_path / "approval-dialog.txt").write_text(str(dialog), encoding="utf-8")
    time.sleep(1)  # the dialog must hold the command back, not merely be slow to run it
    assert not made.exists()
    assert codex.api.tool_outputs() == []

    tmux.send_key(codex.pane.pane_id, "y")
    outputs = codex.api.wait_for_tool_outputs(1, timeout=30)
    assert "Process exited with code 0" in outputs[0].output
    assert made.exists()
    wait_for(lambda: is_idle(screen(tmux, codex)), timeout=30, what="Codex idle after the approved call")


def test_a_slow_answer_shows_the_busy_marker_under_the_prompt(codex: Codex, tmux: Tmux, tmp_path: Path) -> None:
    codex.api.set_reply_delay(4)
    paste_and_submit(tmux, codex.pane, "Take your time.", 0.1, tmp_path)

    busy = wait_for(lambda: (lambda s: s if BUSY in s else None)(screen(tmux, codex)), timeout=30,
                    what="Codex's busy marker")
    assert re.search(r"Working \(\d+s • esc to interrupt\)", str(busy))
    assert any(PROMPT.match(line) for line in str(busy).splitlines()), "the prompt stays while busy"
    wait_for(lambda: is_idle(screen(tmux, codex)), timeout=30, what="Codex idle after the slow answer")


def test_a_rate_limit_ends_the_turn_with_the_status(codex: Codex, tmux: Tmux, tmp_path: Path) -> None:
    codex.api.set_rate_limit(True)
    paste_and_submit(tmux, codex.pane, "Are we limited?", 0.1, tmp_path)

    wait_for(lambda: "exceeded retry limit, last status: 429 Too Many Requests" in screen(tmux, codex),
             timeout=30, what="Codex's rate-limit error line")
    wait_for(lambda: is_idle(screen(tmux, codex)), timeout=30, what="Codex idle after the failed turn")
    # request_max_retries = 0: one conversation request, no retry.
    assert len([r for r in codex.api.requests() if r.is_conversation]) == 1


def test_without_its_pane_codex_leaves_no_process_behind(codex: Codex, tmux: Tmux) -> None:
    assert processes_with_env("CODEX_HOME", str(codex.codex_home)), "Codex runs under its CODEX_HOME"
    tmux.kill_session("team")
    wait_for(lambda: not processes_with_env("CODEX_HOME", str(codex.codex_home)), timeout=15,
             what="every Codex process to end with its pane (--no-daemon: no app-server left)")


def test_hooks_get_the_exact_prompt_and_the_permission_request(start_codex: Callable[..., Codex], tmux: Tmux,
                                                               tmp_path: Path) -> None:
    codex = start_codex(hooks=True)
    time.sleep(1)
    # 0.169.0 fires SessionStart with the first turn, not when the TUI is up.
    assert recorded_events(codex.hook_events) == []
    codex.api.script_next_reply_shell("touch approved.txt")
    paste_and_submit(tmux, codex.pane, HARD_MESSAGE, 0.1, tmp_path)
    wait_for(lambda: APPROVAL_QUESTION in screen(tmux, codex), timeout=30, what="Codex's approval dialog")

    wait_for(lambda: recorded_event_names(codex.hook_events)[-1:] == ["PermissionRequest"],
             timeout=15, what="the PermissionRequest hook")
    events = {e["hook_event_name"]: e for e in recorded_events(codex.hook_events)}
    assert recorded_event_names(codex.hook_events) == \
        ["SessionStart", "UserPromptSubmit", "PreToolUse", "PermissionRequest"]
    assert events["UserPromptSubmit"]["prompt"] == HARD_MESSAGE
    assert events["PermissionRequest"]["tool_name"] == "Bash"
    assert events["PermissionRequest"]["tool_input"]["command"] == "touch approved.txt"
    rollout = rollout_files(codex.codex_home)[0]
    assert {e["transcript_path"] for e in events.values()} == {str(rollout)}
    assert len({e["session_id"] for e in events.values()}) == 1

    tmux.send_key(codex.pane.pane_id, "y")
    wait_for(lambda: recorded_event_names(codex.hook_events)[-2:] == ["PostToolUse", "Stop"],
             timeout=30, what="the PostToolUse and Stop hooks")
    assert recorded_events(codex.hook_events)[-1]["last_assistant_message"] == "OK"
