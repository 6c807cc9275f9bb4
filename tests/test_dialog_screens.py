"""Dialogs the suite does not know by name, and a dialog declined with Esc, read from the real
screens of Claude Code 2.1.197 and 2.1.332 (tests/e2e/SCREENS.md, "Dialogs without a name"
and "Esc in a dialog"); docs/agent-states.md, "When sources disagree". The end-to-end tests
with the real CLI are tests/e2e/test_dialogs_claude.py."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from support import run_script, wait_for
from orc.record.profiles import CLAUDE
from orc.record.agent_state import HOOK_SETTLE_SECONDS, AgentState, classify_screen, combine
from tmux_utils import StateSources, Tmux
from orc.record.snapshot import look

# 2.1.197, manual mode: a Bash tool call's permission dialog.
DIALOG_197 = """\
 ▐▛███▜▌   Claude Code v2.1.197
▝▜█████▛▘  Opus 4.8 (1M context) · API Usage Billing
  ▘▘ ▝▝    /tmp/dlg/e197/work


❯ run the tool please

● Bash(touch /tmp/dlg/e197/marker1)
  ⎿ \u00a0Waiting…

────────────────────────────────────────────────────────────────────────────────────────────────────
 Bash command

   touch /tmp/dlg/e197/marker1
   make a marker

 Do you want to proceed?
 ❯ 1. Yes
   2. Yes, and always allow access to e197/ from this project
   3. No

 Esc to cancel · Tab to amend · ctrl+e to explain
"""


# The same pane after Esc: declined, the idle box back; Claude Code fires no hook event.
AFTER_ESC_197 = """\
 ▐▛███▜▌   Claude Code v2.1.197
▝▜█████▛▘  Opus 4.8 (1M context) · API Usage Billing
  ▘▘ ▝▝    /tmp/dlg/e197/work


❯ run the tool please

● Bash(touch /tmp/dlg/e197/marker1)
  ⎿ \u00a0Interrupted · What should Claude do instead?

────────────────────────────────────────────────────────────────────────────────────────────────────
❯\u00a0
────────────────────────────────────────────────────────────────────────────────────────────────────
  ? for shortcuts · ← for agents                                                  ● high · /effort
"""


# 2.1.332 in auto mode with ANTHROPIC_BASE_URL on a non-Anthropic host (the stand-in API on
# loopback): the first tool call opens this dialog, which no named pattern knows.
GATEWAY_332 = """\
● Auto mode lets Claude handle permission prompts automatically — Claude checks each tool
  call for risky actions and prompt injection before executing. Actions Claude identifies as
  safe are executed, while actions Claude identifies as risky are blocked and Claude may
  try a different approach. Ideal for long-running tasks. Sessions are slightly more
  expensive. Claude can make mistakes that allow harmful commands to run, it's recommended
  to only use in isolated environments. Shift+Tab to change mode.

❯ run the tool please

● Making a marker
  ⎿  $ touch /tmp/dlg/g332/marker1

────────────────────────────────────────────────────────────────────────────────────────────────────
  Auto mode can't check actions in this session

  Auto mode's safety check runs on the server. Your requests go through 127.0.0.1:41781, and the
  check isn't getting through.

  You can stay in auto mode and approve each action that needs the check yourself.

  Or you can leave for accept edits mode, which has no safety check, and auto mode stays off.
  These then run without asking: file edits and commands such as rm and mv in your working
  folders, some tools, such as subagents and scheduled tasks, and anything allowed by rules that
  auto mode set aside, such as Bash(*). This turn stops, so its waiting actions don't run, but
  background tasks go on. Claude goes on at your next message, or sooner.

  To get the check back, ask whoever runs your gateway to pass it through:
  https://code.claude.com/docs/en/permission-modes#server-side-classifier-review

  Enter to stay in auto mode · shift+Tab to leave for accept edits mode and stop · Esc to cancel
"""


# The same pane after Esc.
GATEWAY_AFTER_ESC_332 = """\

 ▐▛███▛█   Claude Code v2.1.332
▝▜██████▀  Opus 5.5 · API Usage Billing
 ▝▝   ▝▝   /tmp/dlg/g332/work


● Auto mode lets Claude handle permission prompts automatically — Claude checks each tool
  call for risky actions and prompt injection before executing. Actions Claude identifies as
  safe are executed, while actions Claude identifies as risky are blocked and Claude may
  try a different approach. Ideal for long-running tasks. Sessions are slightly more
  expensive. Claude can make mistakes that allow harmful commands to run, it's recommended
  to only use in isolated environments. Shift+Tab to change mode.

❯ run the tool please

  No result recorded for 1 call
  ⎿ \u00a0$ touch /tmp/dlg/g332/marker1
  ⎿ \u00a0Interrupted · What should Claude do instead?








────────────────────────────────────────────────────────────────────────────────────────────────────
❯\u00a0
────────────────────────────────────────────────────────────────────────────────────────────────────
  ⏵⏵ auto mode on (shift+tab to cycle)
"""


# The gateway dialog answered with Enter (stay in auto mode): the tool call asks in the
# permission dialog, whose options 2.1.332 draws unnumbered (cut to its last lines).
STAYED_IN_AUTO_332 = """\
  ⎿  $ touch /tmp/dlg/g332/marker2

● Auto mode can't check actions in this session. Its safety check runs on the server, and
  your requests go through 127.0.0.1:41781, which doesn't pass it through. Actions that need
  the check now ask for your approval. To work without these prompts, switch permission
  mode with Shift+Tab. To use auto mode, ask whoever runs 127.0.0.1:41781 to pass Claude
  Code's server-side safety check through:
  https://code.claude.com/docs/en/permission-modes#server-side-classifier-review

────────────────────────────────────────────────────────────────────────────────────────────────────
 Bash command
 make a marker
╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌
 touch /tmp/dlg/g332/marker2
╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌
 Auto mode can't check actions in this session, so this one needs your approval

 Do you want to proceed?
 ❯ No
   Yes

 Esc to cancel · Tab to amend
"""


def lines(screen: str) -> list[str]:
    return screen.split("\n")


@pytest.mark.parametrize("screen", [DIALOG_197, GATEWAY_332, STAYED_IN_AUTO_332],
                         ids=["permission-2.1.197", "gateway-2.1.332", "unnumbered-2.1.332"])
def test_every_dialog_reads_waiting_named_or_not(screen: str) -> None:
    assert classify_screen(lines(screen), CLAUDE) == "waiting"


def test_the_gateway_dialog_is_known_by_its_key_hints_alone() -> None:
    """No line of it matches a named pattern ("Do you want to", a numbered option)."""
    named = [p for p in CLAUDE.dialog if "Enter|Esc" not in p.pattern]
    assert not any(p.search(line) for line in lines(GATEWAY_332) for p in named)
    hints = [line for line in lines(GATEWAY_332) if any(p.search(line) for p in CLAUDE.dialog)]
    assert hints == ["  Enter to stay in auto mode · shift+Tab to leave for accept edits mode and stop · Esc to cancel"]


@pytest.mark.parametrize("screen", [AFTER_ESC_197, GATEWAY_AFTER_ESC_332], ids=["2.1.197", "2.1.332"])
def test_after_esc_the_screen_reads_idle(screen: str) -> None:
    assert classify_screen(lines(screen), CLAUDE) == "idle"


@pytest.mark.parametrize("footer", [
    "  ⏵⏵ auto mode on (shift+tab to cycle) · esc to interrupt · ← for agents",
    "  ⏸ manual mode on · esc to interrupt · ← for agents",
])
def test_key_hints_of_a_busy_footer_are_no_dialog(footer: str) -> None:
    """The busy footer names keys too (tests/e2e/SCREENS.md, "(c) Busy"), lower case and below the box."""
    busy = ["❯ hello", "", "✢ Considering…", "─" * 40, "❯\u00a0", "─" * 40, footer]
    assert classify_screen(busy, CLAUDE) == "busy"
    assert classify_screen(busy[:3], CLAUDE) == "busy"  # the box not drawn (yet): still no dialog


def test_a_declined_dialog_reads_idle_once_the_hooks_event_is_older_than_the_settle() -> None:
    """2.1.197 with hooks: PermissionRequest stays the pane's latest event after Esc."""
    screen = classify_screen(lines(AFTER_ESC_197), CLAUDE)
    report = AgentState("waiting", "hook", HOOK_SETTLE_SECONDS + 0.1, "sid", None, "/t.jsonl", "Bash")
    assert combine(screen, None, report).state == "idle"
    drawn = classify_screen(lines(DIALOG_197), CLAUDE)
    assert combine(drawn, None, report).state == "waiting"  # while the dialog shows, however old


def test_the_gateway_dialog_outranks_the_hooks_busy() -> None:
    """2.1.332 fires no PermissionRequest for it: PreToolUse (busy) is the latest event."""
    report = AgentState("busy", "hook", 5.0, "sid", None, "/t.jsonl", "Bash")
    screen = classify_screen(lines(GATEWAY_332), CLAUDE)
    assert (combine(screen, None, report).state, combine(screen, None, report).source) == ("waiting", "screen")
    after = classify_screen(lines(GATEWAY_AFTER_ESC_332), CLAUDE)
    assert combine(after, None, report).state == "idle"


def test_send_message_refuses_the_gateway_dialog_on_the_screen(tmux: Tmux, tmp_path: Path,
                                                               orc_env: dict[str, str]) -> None:
    """The screen drawn into a real pane by a program that is no shell; nothing is typed."""
    drawn = tmp_path / "gateway.txt"
    drawn.write_text(GATEWAY_332, encoding="utf-8")
    command = f"printf '\\033[?1049h'; cat {shlex.quote(str(drawn))}; exec sleep 600"
    pane = tmux.new_session("team", "agent", command, str(tmp_path), width=100, height=30).pane_id
    sources = StateSources((tmp_path / "no-registry",))
    wait_for(lambda: look(tmux, pane, sources=sources).state == "waiting", what="the gateway dialog read as waiting")
    env = {**orc_env, "ORC_CLAUDE_CONFIG_DIRS": str(tmp_path / "no-registry")}
    done = run_script("send_message.sh", "team:agent", "typed into the dialog?", env=env)
    assert done.returncode == 1 and "a dialog is showing" in done.stderr, (done.returncode, done.stderr)
    assert "typed into the dialog?" not in "\n".join(tmux.capture(pane))
