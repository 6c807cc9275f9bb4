"""Dialogs with the real Claude Code (docs/agent-states.md, "When sources disagree"; the
screens are in tests/e2e/SCREENS.md, "Esc in a dialog" and "Dialogs without a name").

* A permission dialog declined with Esc fires no hook event, so our hooks' last report of
  the pane stays ``PermissionRequest`` (``waiting``). The pane must read ``idle`` within
  1 s of the Esc and take the next message, proven, five times in a row: with our hooks
  and without them, the session registry hidden (an agent under a HOME of its own). The
  dialog tests run in manual mode whatever ``ORC_E2E_PERMISSION_MODE`` says.
* In auto mode, behind a base URL that is not Anthropic's (the stand-in API on loopback),
  Claude Code 2.1.328 and later opens its gateway dialog at the first tool call. It must
  read ``waiting``, be told to a person once, and a check-in due meanwhile be deferred and
  delivered once after Esc.

These run on the version of the run: ``CLAUDE_CODE_VERSION=2.1.197 make e2e`` (or
``CLAUDE_CODE_VERSION=2.1.332 python3 -m pytest -m e2e tests/e2e/test_dialogs_claude.py``) runs
them on another; ``make test`` runs the pinned one. Results per version: docs/agent-states.md.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from claude_harness import CLAUDE_CODE_VERSION
from fake_anthropic_api import FakeAnthropicAPI
from test_attention_claude import Team

from orc.scheduling.checkins import read_checkin, save_checkin, schedule_checkin
from support import SUITE, run_script, wait_for
from tmux_utils import StateSources, Tmux
from orc.record.snapshot import look

pytestmark = pytest.mark.e2e

CYCLES = 5
WITHIN = 1.0  # after Esc, the pane reads idle this soon
PERMISSION_DIALOG = "Do you want to proceed?"
GATEWAY_DIALOG = "Auto mode can't check actions in this session"


def idle_after(tmux: Tmux, pane_id: str, sources: StateSources, since: float, timeout: float = 10.0) -> float:
    """Seconds from ``since`` until the pane reads idle (polled as fast as a snapshot goes)."""
    while True:
        if look(tmux, pane_id, sources=sources).state == "idle":
            return time.monotonic() - since
        assert time.monotonic() - since < timeout, f"not idle {timeout}s after Esc: {look(tmux, pane_id, sources=sources).agent}"
        time.sleep(0.02)


@pytest.mark.parametrize("hooks", [True, False], ids=["hooks", "no-hooks"])
def test_after_esc_on_a_dialog_the_pane_is_idle_within_a_second_and_takes_the_next_message(
        start_claude, orc_env: dict[str, str], tmux: Tmux, tmp_path: Path, hooks: bool) -> None:
    claude = start_claude(permission_mode="default", registered=False, hooks=hooks)
    # The registry out of view: the suite would find it through the agent's own environment
    # (docs/agent-record.md), so it is turned off; the hooks and the screen decide.
    env = {**orc_env, "ORC_REGISTRY_SOURCE": "off"}
    sources = StateSources((), "off", hooks_state_dir=Path(orc_env["ORC_STATE_DIR"]))
    pane_id, api = claude.pane.pane_id, claude.api
    lags: list[float] = []
    for cycle in range(CYCLES):
        marker = claude.workdir / f"ran-{cycle}.txt"
        api.script_next_reply_tool_use("Bash", {"command": f"touch {marker}", "description": "make a marker"})
        asked = run_script("send_message.sh", "team:claude", f"cycle {cycle}: run the tool", env=env)
        assert asked.returncode == 0, asked.stderr
        wait_for(lambda: PERMISSION_DIALOG in "\n".join(tmux.capture(pane_id)), timeout=30, what="the dialog drawn")
        assert look(tmux, pane_id, sources=sources).state == "waiting"
        refused = run_script("send_message.sh", "team:claude", "typed into the dialog?", env=env)
        assert refused.returncode == 1 and "dialog" in refused.stderr, refused.stderr
        time.sleep(0.5)  # deliberate: Claude ignores a key in the dialog's first instant
        tmux.send_key(pane_id, "Escape")
        lags.append(idle_after(tmux, pane_id, sources, time.monotonic()))
        if hooks:  # the case this is about: the hooks' last word is still the dialog
            from orc.record.hook_events import latest_reports

            assert latest_reports(Path(orc_env["ORC_STATE_DIR"]))[pane_id].event == "PermissionRequest"
        text = f"cycle {cycle}: after the Esc"
        done = run_script("send_message.sh", "team:claude", text, env=env)
        assert done.returncode == 0 and "submitted (proof: " in done.stdout, (done.returncode, done.stderr)
        wait_for(lambda: text in api.turns(), timeout=30, what="the next message at the API")  # noqa: B023
        wait_for(lambda: look(tmux, pane_id, sources=sources).state == "idle", timeout=30, what="idle after the reply")
        assert not marker.exists()
    assert "typed into the dialog?" not in "".join(api.raw_turns())
    assert max(lags) <= WITHIN, f"idle after Esc took {max(lags):.2f}s (all: {[round(x, 2) for x in lags]})"
    print(f"{CLAUDE_CODE_VERSION} {'hooks' if hooks else 'no hooks'}: {CYCLES}/{CYCLES} cycles, idle after Esc in "
          f"{max(lags):.2f}s at worst, {sorted(lags)[len(lags) // 2]:.2f}s median")


def has_gateway_dialog(binary: Path) -> bool:
    """Whether this CLI's bundle holds the gateway dialog's title (2.1.328 and 2.1.332 do)."""
    import mmap

    with binary.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return data.find(GATEWAY_DIALOG.encode()) >= 0


@pytest.fixture
def api() -> Iterator[FakeAnthropicAPI]:
    with FakeAnthropicAPI() as server:
        yield server


def test_the_gateway_dialog_in_auto_mode_is_waiting_told_once_and_holds_a_check_in(
        claude_binary: Path, tmux: Tmux, tmp_path: Path, orc_env: dict[str, str], api: FakeAnthropicAPI) -> None:
    if not has_gateway_dialog(claude_binary):
        pytest.skip(f"Claude Code {CLAUDE_CODE_VERSION} has no gateway dialog (its bundle lacks the title)")
    team = Team(claude_binary, tmux, tmp_path, orc_env, api, permission_mode="auto")
    env = {**team.env, "ORC_CHECKIN_RETRY_SECONDS": "1"}
    # What the screen alone says (no registry, no hooks): the dialog is known by its key hints.
    screen_only = StateSources((), "off")
    # A command on a file outside the working folder: auto mode lets one inside it run unasked.
    marker = tmp_path / "made-by-the-agent"
    started = time.monotonic()
    team.send(f"Please run [[fake-bash: touch {marker}]]")
    drawn = wait_for(lambda: (text := "\n".join(tmux.capture(team.pane))) and (
        GATEWAY_DIALOG in text or PERMISSION_DIALOG in text) and text, timeout=30, what="a dialog")
    assert GATEWAY_DIALOG in str(drawn), drawn
    seen = look(tmux, team.pane, sources=screen_only)
    assert (seen.state, seen.agent.source) == ("waiting", "screen")
    assert look(tmux, team.pane, sources=StateSources.from_settings(team.settings)).state == "waiting"

    checkin = schedule_checkin(team.settings, 30, "status please", "shop:Dev")
    due = datetime.now(timezone.utc).astimezone().replace(microsecond=0) - timedelta(seconds=1)
    save_checkin(team.settings, replace(checkin, due=due))

    def fire(*args: str) -> int:
        return subprocess.run([sys.executable, str(SUITE / "orc"), "fire", *args], env=env,
                              capture_output=True, text=True, timeout=120).returncode

    assert fire(checkin.id) == 0
    assert read_checkin(team.settings, checkin.id).state == "deferred"  # type: ignore[union-attr]

    took = team.told_once_within("dialog", 30, started)
    assert took >= 4  # ORC_ATTENTION_SECONDS
    team.per_minute_check()
    team.per_minute_check()
    assert team.told("dialog") == (1, 1, 1)
    assert fire("--sweep") == 0  # retried while the dialog still shows: held again
    assert f"[check-in {checkin.id} " not in "".join(api.turns())

    tmux.send_key(team.pane, "Escape")
    lag = idle_after(tmux, team.pane, StateSources.from_settings(team.settings), time.monotonic())
    time.sleep(1.1)  # ORC_CHECKIN_RETRY_SECONDS=1
    assert fire("--sweep") == 0
    expected = f"[check-in {checkin.id} due {due:%H:%M:%S}] status please"
    wait_for(lambda: expected in api.turns(), timeout=30, what="the check-in after Esc")
    assert fire("--sweep") == 0
    team.per_minute_check()
    time.sleep(1)  # deliberate: a second delivery or notification gets every chance to show
    assert "".join(api.turns()).count(f"[check-in {checkin.id} ") == 1, api.turns()
    assert team.told("dialog") == (1, 1, 1)
    assert not marker.exists()
    print(f"{CLAUDE_CODE_VERSION} gateway dialog: told after {took:.1f}s, idle {lag:.2f}s after Esc, check-in once")
