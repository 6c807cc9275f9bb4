"""Reading Claude Code's usage-limit report (screen lines and the StopFailure hook, as captured
in tests/e2e/SCREENS.md), and a check-in meeting an agent under its limit: deferred to the
reset, one nudge scheduled; with the real Claude Code and the stand-in API's usage-limit
answer in the e2e test at the end."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from support import SUITE, wait_for
from test_fire import cfg, env, events, fire, now, set_due  # noqa: F401
from orc.scheduling.checkins import pending_checkins, read_checkin, schedule_checkin
from orc.core.settings import Settings, load_settings
from orc.record.usage_limit import AFTER_RESET, limit_from_hook, limit_from_screen, limit_from_text, parse_reset
from tmux_utils import Tmux
from orc.record.snapshot import look

UTC = timezone.utc
NOW = datetime(2026, 11, 26, 13, 28, 51, tzinfo=UTC)

# Lines as Claude Code 2.1.328 drew them (tests/e2e/SCREENS.md, "Usage limit").
FIVE_HOUR_SCREEN = [
    "❯ hello there",
    "  ⎿  You've hit your 5-hour limit · resets 4:45pm (UTC)",
    "",
    "● Usage limit reached · continuing automatically at 4:45pm · esc to cancel",
    "────────────────",
    "❯\xa0",
    "────────────────",
    "  ⚠ Usage limit reached · limit resets 4:45pm",
    "    Continuing automatically at 4:45pm · Esc to cancel",
    "  ⏸ manual mode on · ? for shortcuts",
]


def test_five_hour_limit_from_the_screen() -> None:
    limit = limit_from_screen(FIVE_HOUR_SCREEN, NOW)
    assert limit is not None
    assert limit.reset_at == datetime(2026, 11, 26, 16, 45, tzinfo=UTC)
    assert "limit" in limit.text


def test_weekly_limit_with_a_date() -> None:
    limit = limit_from_text("  ⎿  You've hit your weekly limit · resets Nov 28, 6:32pm (UTC)", NOW)
    assert limit is not None and limit.reset_at == datetime(2026, 11, 28, 18, 32, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("4pm", datetime(2026, 11, 26, 16, 0, tzinfo=UTC)),
    ("12:05am (UTC)", datetime(2026, 11, 27, 0, 5, tzinfo=UTC)),   # after midnight: tomorrow
    ("1:20pm (UTC)", datetime(2026, 11, 26, 13, 20, tzinfo=UTC)),  # minutes ago: over, not tomorrow
    ("16:45", datetime(2026, 11, 26, 16, 45, tzinfo=UTC)),
    ("Jan 2, 9am (UTC)", datetime(2027, 1, 2, 9, 0, tzinfo=UTC)),  # next year
    ("5:30pm (Europe/Berlin)", datetime(2026, 11, 26, 16, 30, tzinfo=UTC)),
])
def test_reset_times_as_claude_code_prints_them(text: str, expected: datetime) -> None:
    assert parse_reset(text, NOW) == expected


@pytest.mark.parametrize("text", ["soon", "13pm", "25:00", "Foo 3, 4pm"])
def test_unreadable_reset_times(text: str) -> None:
    assert parse_reset(text, NOW) is None


def test_no_limit_on_an_ordinary_screen_or_answer() -> None:
    assert limit_from_screen(["❯ what is the rate limit of the API?", "● It is 50 requests a minute."], NOW) is None
    assert limit_from_text("API Error: Request rejected (429) · This request would exceed your account's rate limit.",
                           NOW) is None


def test_limit_from_the_stop_failure_hook() -> None:
    limit = limit_from_hook("StopFailure", "rate_limit", "You've hit your 5-hour limit · resets 4:45pm (UTC)", NOW)
    assert limit is not None and limit.reset_at == datetime(2026, 11, 26, 16, 45, tzinfo=UTC)
    assert limit_from_hook("StopFailure", "server_error", "API Error", NOW) is None
    assert limit_from_hook("Stop", None, None, NOW) is None


def limited_pane(tmux: Tmux, tmp_path: Path, reset: datetime) -> str:
    """A pane whose screen shows Claude Code's usage-limit lines (stand-in: printf, then a shell)."""
    shown = reset.astimezone(UTC).strftime("%I:%M%p").lstrip("0").lower()
    script = tmp_path / "limited.sh"
    script.write_text(f"printf '%s\\n' \"❯ hello\" \"  ⎿  You've hit your 5-hour limit · resets {shown} (UTC)\"\n"
                      "exec sleep 600\n")
    pane = tmux.new_session("team", "agent", f"sh {script}", str(tmp_path))
    wait_for(lambda: any("5-hour limit" in line for line in tmux.capture(pane.pane_id)), what="the limit line")
    return pane.pane_id


def test_a_check_in_due_while_limited_waits_for_the_reset_and_one_nudge_is_scheduled(
        env: dict[str, str], cfg: Settings, tmux: Tmux, tmp_path: Path) -> None:  # noqa: F811
    reset = (datetime.now(UTC) + timedelta(hours=2)).replace(second=0, microsecond=0)
    limited_pane(tmux, tmp_path, reset)
    checkin = set_due(cfg, schedule_checkin(cfg, 1, "Report your progress", "team:agent"), now() - timedelta(seconds=5))
    done = fire(env, "--sweep")
    assert done.returncode == 0, done.stderr
    deferred = read_checkin(cfg, checkin.id)
    assert deferred is not None and deferred.state == "deferred"
    assert deferred.next_try == (reset + AFTER_RESET).astimezone(deferred.next_try.tzinfo)  # type: ignore[union-attr]
    assert deferred.attempts == 0 and deferred.first_attempt is None  # no retry burned, give-up clock not started
    assert "usage limit" in deferred.last_reason
    nudges = [c for c in pending_checkins(cfg) if c.id != checkin.id]
    assert [n.note for n in nudges] == ["Your usage limit has reset: continue where you left off."]
    assert abs((nudges[0].due - (reset + AFTER_RESET)).total_seconds()) < 2
    assert "nudge-scheduled" in events(cfg, checkin.id)

    # A second check-in meeting the same limit waits too, but schedules no second nudge.
    other = set_due(cfg, schedule_checkin(cfg, 1, "Another one", "team:agent"), now() - timedelta(seconds=5))
    assert fire(env, "--sweep").returncode == 0
    assert read_checkin(cfg, other.id).state == "deferred"  # type: ignore[union-attr]
    assert len([c for c in pending_checkins(cfg) if c.note.startswith("Your usage limit")]) == 1


def test_an_empty_nudge_setting_turns_the_nudge_off(env: dict[str, str], tmux: Tmux, tmp_path: Path) -> None:  # noqa: F811
    env = {**env, "ORC_LIMIT_NUDGE": ""}
    settings = load_settings(env)
    assert settings.limit_nudge == ""
    limited_pane(tmux, tmp_path, (datetime.now(UTC) + timedelta(hours=1)).replace(second=0, microsecond=0))
    checkin = set_due(settings, schedule_checkin(settings, 1, "Report", "team:agent"), now() - timedelta(seconds=5))
    bare_env = {**env}
    done = subprocess.run([sys.executable, str(SUITE / "orc"), "fire", "--sweep"], env=bare_env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert read_checkin(settings, checkin.id).state == "deferred"  # type: ignore[union-attr]
    assert [c.id for c in pending_checkins(settings)] == [checkin.id]


def test_a_limit_already_over_does_not_hold_the_check_in(env: dict[str, str], cfg: Settings, tmux: Tmux,  # noqa: F811
                                                        tmp_path: Path) -> None:
    past = (datetime.now(UTC) - timedelta(minutes=10)).replace(second=0, microsecond=0)
    limited_pane(tmux, tmp_path, past)
    checkin = set_due(cfg, schedule_checkin(cfg, 1, "Report", "team:agent"), now() - timedelta(seconds=5))
    fire(env, "--sweep")
    record = read_checkin(cfg, checkin.id)
    # Not held for the limit: an ordinary attempt was made (the stand-in pane is no agent).
    assert record is None or "usage limit" not in record.last_reason
    assert "fired" in events(cfg, checkin.id)


# --- the real Claude Code (end-to-end tier) -------------------------------------------------


@pytest.mark.e2e
def test_real_claude_usage_limit_defers_the_check_in_and_the_nudge_arrives_once(
        claude_binary: Path, env: dict[str, str], cfg: Settings, tmux: Tmux, tmp_path: Path) -> None:  # noqa: F811
    sys.path.insert(0, str(SUITE / "tests" / "e2e"))
    from claude_harness import FAKE_API_KEY, claude_command, claude_env, prepare_claude_home
    from fake_anthropic_api import FakeAnthropicAPI

    from orc.record.hook_events import latest_reports
    from orc.record.hooks_settings import settings_args

    home, work = tmp_path / "home", tmp_path / "work"
    prepare_claude_home(home, work, FAKE_API_KEY)
    with FakeAnthropicAPI() as api:
        line = claude_command(claude_binary, claude_env(home, api.base_url, FAKE_API_KEY, subscription=True), work,
                              *settings_args(cfg))
        pane = tmux.new_session("team", "agent", line, str(work), width=100, height=30).pane_id
        wait_for(lambda: look(tmux, pane).state == "idle", timeout=60, what="Claude Code's input box")
        # The reset on a minute boundary (Claude Code shows minutes), 30 to 90 s away.
        reset = datetime.fromtimestamp((int(time.time()) + 89) // 60 * 60, UTC)
        api.set_usage_limit(reset.timestamp())
        sent = subprocess.run([str(SUITE / "send_message.sh"), "team:agent", "Start on the report"], env=env,
                              capture_output=True, text=True, timeout=60)
        assert sent.returncode == 0, sent.stderr
        # 2.1.3xx: "You've hit your 5-hour limit · resets ..."; 2.1.197: "... your session limit ...".
        wait_for(lambda: any("You've hit your" in s for s in tmux.capture(pane)), timeout=30, what="the limit message")
        report = wait_for(lambda: latest_reports(cfg.state_dir).get(pane), timeout=10, what="a hook report")
        wait_for(lambda: latest_reports(cfg.state_dir)[pane].event == "StopFailure", timeout=10, what="StopFailure")
        assert report

        checkin = set_due(cfg, schedule_checkin(cfg, 1, "CHECKIN-7 report your progress", "team:agent"),
                          now() - timedelta(seconds=2))
        done = fire(env, "--sweep")
        assert done.returncode == 0, done.stderr
        held = read_checkin(cfg, checkin.id)
        assert held is not None and held.state == "deferred" and held.attempts == 0
        assert held.next_try == (reset + AFTER_RESET).astimezone(held.next_try.tzinfo)  # type: ignore[union-attr]
        assert not any("CHECKIN-7" in t for t in api.turns())
        if any("What do you want to do?" in line for line in tmux.capture(pane)):
            # 2.1.197 opens a dialog with the limit ("Stop and wait for limit to reset" /
            # "Upgrade your plan") that stays until a person answers it: nothing may be typed
            # then, so the check-in stays held and no nudge can arrive (docs/testing.md, "Claude Code versions").
            assert look(tmux, pane).state == "waiting"
            return

        # Cron's sweep every few seconds; the API lifts the limit at the reset.
        deadline = reset + AFTER_RESET + timedelta(seconds=90)
        delivered_at: dict[str, datetime] = {}
        while datetime.now(UTC) < deadline and len(delivered_at) < 2:
            if datetime.now(UTC) >= reset:
                api.set_usage_limit(None)
            fire(env, "--sweep")
            turns = api.turns()
            for key, marker in (("checkin", "CHECKIN-7"), ("nudge", "Your usage limit has reset")):
                if key not in delivered_at and any(marker in t for t in turns):
                    delivered_at[key] = datetime.now(UTC)
            time.sleep(2)
        assert set(delivered_at) == {"checkin", "nudge"}, api.turns()
        assert min(delivered_at.values()) >= reset + AFTER_RESET - timedelta(seconds=1)
        fire(env, "--sweep")
        assert sum("Your usage limit has reset" in t for t in api.turns()) == 1
