"""Attention raised at once from the real Claude Code's own hook events (docs/attention.md).

Each test runs one real Claude Code agent (the pinned version, offline against the stand-in
API) as the engineer of a project, started the suite's way (``orc.teams.team.agent_command``: a
wrapper command, our hooks labelled ``shop.engineer``), an orchestrator stand-in at
``ORC_DEFAULT_TARGET`` and an ``ORC_NOTIFY_COMMAND`` stand-in. The per-minute check's
crontab line is installed as ``deploy`` installs it; the agent's own environment carries
neither the notify command nor the orchestrator's target: the background run finds them
on that line, as it must for agents on a real machine. The per-minute check itself is run
by hand (as cron would) to show the two never tell a person twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from claude_harness import FAKE_API_KEY, claude_command, claude_env, prepare_claude_home
from fake_anthropic_api import ErrorReply, FakeAnthropicAPI
from support import SUITE, wait_for
from test_team import fake_agent, integration, repo_with_spec, submitted

from orc.teams import attention
from orc.core.settings import Settings, load_settings
from tmux_utils import Tmux
from orc.record.snapshot import look

pytestmark = pytest.mark.e2e

SUBJECT = "shop/engineer"
#: What the stand-in answers while ``fail_next`` is set: a plain 429 that is not a usage
#: limit. ``x-should-retry: false`` makes Claude Code give up at once (no retries with
#: backoff) and end the turn with StopFailure error ``rate_limit`` and the message
#: "API Error: Request rejected (429) · ...".
PLAIN_429 = ErrorReply(429, {"type": "error", "error": {"type": "rate_limit_error",
                                                        "message": "Number of requests has exceeded your rate limit"}},
                       (("x-should-retry", "false"),))


class Team:
    def __init__(self, claude_binary: Path, tmux: Tmux, tmp_path: Path, orc_env: dict[str, str],
                 api: FakeAnthropicAPI, *, subscription: bool = False, permission_mode: str | None = None) -> None:
        from orc.teams.project_config import load_config
        from orc.teams.team import agent_command
        from orc.teams.team_schedules import install_attention_check

        self.tmux, self.tmp, self.api = tmux, tmp_path, api
        self.repo = repo_with_spec(tmp_path / "shop")
        home = tmp_path / "home"
        prepare_claude_home(home, self.repo, FAKE_API_KEY, permission_mode)
        crontab = tmp_path / "crontab"
        agent_env = claude_env(home, api.base_url, FAKE_API_KEY, subscription=subscription)
        # What the user's shell would give the agent: its crontab (here a scratch file) and
        # the retry setting; the rest comes from the check's crontab line.
        agent_env.update(ORC_CRONTAB_FILE=str(crontab), ORC_TURN_RETRY_SECONDS="4")
        wrapper = tmp_path / "engineer.sh"
        wrapper.write_text("#!/bin/sh\n# the engineer's agent; the suite appends its hook settings\n"
                           f'{claude_command(claude_binary, agent_env, self.repo)} "$@"\n')
        wrapper.chmod(0o755)
        pm_command, _ = fake_agent(tmp_path, "pm", "--ready-file", str(tmp_path / "pm.ready"))
        self.config = tmp_path / "project_configs.json"
        self.config.write_text(json.dumps({"shop": {
            "path": str(self.repo), "session": "shop", "spec_file": "SPEC.md", "test_command": "true",
            "team": [{"role": "project-manager", "window": "PM", "command": pm_command, "agent": "claude"},
                     {"role": "engineer", "window": "Dev", "command": str(wrapper), "agent": "claude"}]}}))
        self.notified = tmp_path / "notified.txt"
        stand_in = tmp_path / "notify-stand-in.sh"
        stand_in.write_text(f'#!/bin/sh\nprintf "%s\\n" "$1" >> {self.notified}\n')
        stand_in.chmod(0o755)
        self.env = {**orc_env, "ORC_PROJECT_CONFIG": str(self.config), "ORC_CRONTAB_FILE": str(crontab),
                    "ORC_DEFAULT_TARGET": "orc:boss", "ORC_NOTIFY_COMMAND": str(stand_in),
                    "ORC_ATTENTION_SECONDS": "4", "ORC_CLAUDE_CONFIG_DIRS": str(home / ".claude")}
        self.settings: Settings = load_settings(self.env)
        install_attention_check(self.settings, self.config)
        boss_command, self.boss = fake_agent(tmp_path, "boss", "--ready-file", str(tmp_path / "boss.ready"))
        tmux.new_session("orc", "boss", boss_command, str(tmp_path), width=120, height=40)
        wait_for((tmp_path / "boss.ready").exists, what="the orchestrator stand-in to draw")
        project = load_config(self.config).projects[0]
        member = project.team[1]
        self.pane = tmux.new_session("shop", "Dev", agent_command(self.settings, member, project), str(self.repo),
                                     width=100, height=30).pane_id
        tmux.keep_on_exit(self.pane)
        tmux.new_window("shop", "PM", pm_command, str(self.repo))
        wait_for((tmp_path / "pm.ready").exists, what="the project manager stand-in to draw")
        wait_for(lambda: look(tmux, self.pane).state == "idle", timeout=90, what="Claude Code's input box")

    def send(self, text: str) -> None:
        sent = subprocess.run([str(SUITE / "send_message.sh"), "shop:Dev", text], env=self.env,
                              capture_output=True, text=True, timeout=60)
        assert sent.returncode == 0, sent.stderr

    def per_minute_check(self) -> None:
        """What cron runs every minute, with the environment on its crontab line."""
        done = subprocess.run([sys.executable, str(SUITE / "orchestrator_integration.py"), "attention", "check"],
                              env=self.env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr

    def told(self, reason: str) -> tuple[int, int, int]:
        """How often (attention log, orchestrator's pane, notify command) carried SUBJECT for ``reason``."""
        log = attention.log_path(self.settings)
        lines = log.read_text().splitlines() if log.exists() else []
        logged = sum(f" raised subject={SUBJECT} reason={reason} " in line for line in lines)
        texts = [line for line in lines if f" raised subject={SUBJECT} reason={reason} " in line]
        pane = sum(text.startswith(f"[attention] {SUBJECT}:") and self._reason_text(reason) in text
                   for text in submitted(self.boss))
        calls = self.notified.read_text().splitlines() if self.notified.exists() else []
        notified = sum(call.startswith(f"[attention] {SUBJECT}:") and self._reason_text(reason) in call
                       for call in calls)
        assert len(texts) == logged
        return logged, pane, notified

    @staticmethod
    def _reason_text(reason: str) -> str:
        return {"exited": "the agent exited", "usage-limit": "usage limit", "turn-failed": "API error",
                "dialog": "a dialog is waiting"}[reason]

    def told_once_within(self, reason: str, seconds: float, since: float) -> float:
        """Wait until all three paths carried it once; return how long after ``since`` it took."""
        wait_for(lambda: self.told(reason) == (1, 1, 1), timeout=seconds,
                 what=f"{SUBJECT} {reason} told once on all three paths: {self.told(reason)}")
        return time.monotonic() - since

    def outcomes(self) -> list[str]:
        log = self.settings.state_dir / "hooks" / "attention-events.log"
        return log.read_text().splitlines() if log.exists() else []


@pytest.fixture
def api() -> Iterator[FakeAnthropicAPI]:
    with FakeAnthropicAPI() as server:
        yield server


def test_a_killed_agent_is_told_at_once_and_once(claude_binary: Path, tmux: Tmux, tmp_path: Path,
                                                  orc_env: dict[str, str], api: FakeAnthropicAPI) -> None:
    team = Team(claude_binary, tmux, tmp_path, orc_env, api)
    pid = tmux.pane_pid(team.pane)
    started = time.monotonic()
    os.kill(pid, signal.SIGTERM)  # Claude Code reports SessionEnd (reason "other") and exits
    took = team.told_once_within("exited", 15, started)
    assert took < 15
    team.per_minute_check()
    team.per_minute_check()
    time.sleep(1)  # deliberate: give a second notification every chance to show before counting
    assert team.told("exited") == (1, 1, 1)
    print(f"killed agent told after {took:.1f}s")


def test_restart_and_stop_kill_are_no_alarm(claude_binary: Path, tmux: Tmux, tmp_path: Path,
                                             orc_env: dict[str, str], api: FakeAnthropicAPI) -> None:
    team = Team(claude_binary, tmux, tmp_path, orc_env, api)
    old_pid = tmux.pane_pid(team.pane)
    done = integration("restart", "shop", "engineer", "--ready-timeout", "90", env=team.env, timeout=240)
    # Not asserted: whether the new agent got its briefing (restart's own tests cover it; here
    # a `sh` wrapper once read as a shell when the briefing was typed). The new agent runs:
    print(done.returncode, done.stdout, done.stderr)
    assert tmux.pane_pid(team.pane) != old_pid
    wait_for(lambda: look(tmux, team.pane).state == "idle", timeout=90, what="the restarted agent's input box")
    # The old agent's SessionEnd started the background run; it waited for the restart to end.
    lines = wait_for(lambda: [x for x in team.outcomes() if "case=exited" in x], timeout=30,
                     what="the background run of the restarted agent's SessionEnd")
    assert "not exited" in lines[0], lines
    stopped = integration("stop", "shop", "--kill", env=team.env)
    assert stopped.returncode == 0, stopped.stderr
    outcomes = wait_for(lambda: [x for x in team.outcomes() if "case=exited" in x][1:], timeout=30,
                        what="the background run of the stopped agent's SessionEnd")
    # The session is gone ("missing"), or stop already took the check's crontab line away and
    # with it the projects file (no check, nothing to tell): either way, no alarm.
    assert "not exited (state missing)" in outcomes[0] or "not a configured agent" in outcomes[0], outcomes
    team.per_minute_check()
    assert team.told("exited") == (0, 0, 0)


def test_a_usage_limit_is_told_at_once_and_once(claude_binary: Path, tmux: Tmux, tmp_path: Path,
                                                 orc_env: dict[str, str], api: FakeAnthropicAPI) -> None:
    team = Team(claude_binary, tmux, tmp_path, orc_env, api, subscription=True)
    api.set_usage_limit(time.time() + 3 * 3600)
    started = time.monotonic()
    team.send("Start on the report")
    took = team.told_once_within("usage-limit", 15, started)
    team.per_minute_check()
    team.per_minute_check()
    time.sleep(1)  # deliberate: give a second notification every chance to show before counting
    assert team.told("usage-limit") == (1, 1, 1)
    assert team.told("turn-failed") == (0, 0, 0)
    print(f"usage limit told after {took:.1f}s")


def test_a_plain_429_on_a_check_in_is_told_logged_and_nudged_once(claude_binary: Path, tmux: Tmux, tmp_path: Path,
                                                                   orc_env: dict[str, str],
                                                                   api: FakeAnthropicAPI) -> None:
    from datetime import datetime, timedelta, timezone

    from orc.scheduling.checkins import schedule_checkin
    from test_fire import fire, set_due

    failing = {"on": True}

    def responder(body: dict[str, object]) -> object:
        return PLAIN_429 if failing["on"] else None

    team = Team(claude_binary, tmux, tmp_path, orc_env, api)
    api.set_responder(responder)
    checkin = schedule_checkin(team.settings, 1, "CHECKIN-9 report your progress", "shop:Dev")
    set_due(team.settings, checkin, datetime.now(timezone.utc).astimezone() - timedelta(seconds=2))
    started = time.monotonic()
    done = fire({**team.env, "ORC_CHECKIN_RETRY_SECONDS": "60"}, "--sweep")
    assert done.returncode == 0, done.stderr
    took = team.told_once_within("turn-failed", 15, started)
    # The background run tells first, then matches the failed turn to its check-in.
    log = wait_for(lambda: [x for x in (team.settings.state_dir / "checkins.log").read_text().splitlines()
                            if f"turn-failed id={checkin.id} " in x], timeout=10, what="the check-in's turn-failed line")
    assert "error=rate_limit" in log[0], log
    failing["on"] = False  # the API is fine again before the nudge (ORC_TURN_RETRY_SECONDS=4)
    team.per_minute_check()
    nudges = wait_for(lambda: [t for t in api.turns() if "Your last turn ended with an API error" in t],
                      timeout=30, what="the one nudge")
    assert "API error (rate_limit); carry on where you left off: CHECKIN-9 report your progress" in nudges[0]
    wait_for(lambda: f"turn-retry id={checkin.id} " in (team.settings.state_dir / "checkins.log").read_text(),
             timeout=10, what="the retry's line")
    wait_for(lambda: look(tmux, team.pane).state == "idle", timeout=30, what="the nudged turn to end")
    team.per_minute_check()  # the failure is no longer the agent's latest event: cleared
    assert (SUBJECT, "turn-failed") not in attention.open_items(team.settings)
    team.per_minute_check()
    assert sum("Your last turn ended with an API error" in t for t in api.turns()) == 1
    assert team.told("turn-failed") == (1, 1, 1)
    assert team.told("usage-limit") == (0, 0, 0)
    print(f"plain 429 told after {took:.1f}s")


def test_while_the_api_stays_down_the_nudge_is_not_repeated(claude_binary: Path, tmux: Tmux, tmp_path: Path,
                                                             orc_env: dict[str, str], api: FakeAnthropicAPI) -> None:
    team = Team(claude_binary, tmux, tmp_path, orc_env, api)
    api.set_responder(lambda body: PLAIN_429)
    team.send("Start on the report")
    team.told_once_within("turn-failed", 15, time.monotonic())
    # The nudge (ORC_TURN_RETRY_SECONDS=4) fails too; its failure gets no nudge of its own.
    lines = wait_for(lambda: [x for x in team.outcomes() if "case=failed" in x][1:], timeout=30,
                     what="the outcome of the nudge's own failure")
    assert "no nudge: the failed turn was the nudge" in lines[0], team.outcomes()
    nudges = [t for t in api.raw_turns() if "Your last turn ended with an API error" in t]
    assert len(nudges) == 1, api.raw_turns()
    assert team.told("turn-failed") == (1, 1, 1)


def test_a_dialog_is_told_once_after_the_threshold(claude_binary: Path, tmux: Tmux, tmp_path: Path,
                                                   orc_env: dict[str, str], api: FakeAnthropicAPI) -> None:
    team = Team(claude_binary, tmux, tmp_path, orc_env, api, permission_mode="default")  # manual mode asks
    started = time.monotonic()
    team.send("Please run [[fake-bash: touch made-by-the-agent]]")
    wait_for(lambda: look(tmux, team.pane).state == "waiting", timeout=30, what="the permission dialog")
    took = team.told_once_within("dialog", 20, started)
    assert took >= 4  # ORC_ATTENTION_SECONDS: a dialog answered sooner is nobody's business
    team.per_minute_check()
    team.per_minute_check()
    time.sleep(1)  # deliberate: give a second notification every chance to show before counting
    assert team.told("dialog") == (1, 1, 1)
    print(f"dialog told after {took:.1f}s")
