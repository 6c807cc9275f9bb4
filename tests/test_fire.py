"""What cron runs (`orc fire <id>`, `orc fire --sweep`), run as cron would run it, against
a real tmux server and the fake agent. Time passing is simulated by rewriting the due
time in the check-in's plain-text record, as a clock jump or a machine that was off would."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from support import SUITE, Agent, wait_for
from orc.scheduling.checkins import (
    CheckIn, done_dir, parse_record, pending_checkins, read_checkin, save_checkin, schedule_checkin,
)
from orc.scheduling.crontab_store import split_table
from orc.core.settings import Settings, load_settings
from tmux_utils import Tmux

NOTE = "Review auth implementation\nthen assign the next task;\n  - keep this indented"


@pytest.fixture
def env(orc_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**orc_env, "ORC_CRONTAB_FILE": str(tmp_path / "crontab"), "ORC_CHECKIN_RETRY_SECONDS": "1"}


@pytest.fixture
def cfg(env: dict[str, str]) -> Settings:
    return load_settings(env)


def now() -> datetime:
    return datetime.now(timezone.utc).astimezone().replace(microsecond=0)


def fire(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run the fire command the way a crontab line does: bare PATH, no TMUX, no tmux socket."""
    bare = {"PATH": "/usr/bin:/bin", "HOME": env.get("HOME", "/root"), "SHELL": "/bin/sh",
            "ORC_STATE_DIR": env["ORC_STATE_DIR"], "ORC_CRONTAB_FILE": env["ORC_CRONTAB_FILE"],
            "ORC_CHECKIN_RETRY_SECONDS": env["ORC_CHECKIN_RETRY_SECONDS"],
            **{k: v for k, v in env.items() if k in ("ORC_FALLBACK_TARGET", "ORC_CHECKIN_GIVE_UP_MINUTES")}}
    return subprocess.run([sys.executable, str(SUITE / "orc"), "fire", *args], env=bare, capture_output=True,
                          text=True, timeout=120)


def set_due(cfg: Settings, checkin: CheckIn, due: datetime, **changes: object) -> CheckIn:
    moved = replace(read_checkin(cfg, checkin.id) or checkin, due=due, **changes)  # type: ignore[arg-type]
    save_checkin(cfg, moved)
    return moved


def events(cfg: Settings, checkin_id: str) -> list[str]:
    path = cfg.state_dir / "checkins.log"
    return [line.split()[1] for line in path.read_text().splitlines() if f"id={checkin_id}" in line]


def crontab_ids(cfg: Settings) -> set[str]:
    assert cfg.crontab_file is not None
    text = cfg.crontab_file.read_text() if cfg.crontab_file.exists() else ""
    return set(split_table(text)[1])


def finished(cfg: Settings, checkin_id: str) -> CheckIn:
    return parse_record((done_dir(cfg) / f"{checkin_id}.txt").read_text())


def submissions(agent: Agent) -> list[tuple[str, float]]:
    return [(str(e["text"]), float(e["t"])) for e in agent.events() if e.get("event") == "submitted"]  # type: ignore[arg-type]


def test_fire_waits_for_the_due_second_and_delivers_one_exact_submission(cfg: Settings, env: dict[str, str],
                                                                          start_agent) -> None:
    agent = start_agent()
    checkin = schedule_checkin(cfg, 30, NOTE, "team:0")
    checkin = set_due(cfg, checkin, now() + timedelta(seconds=3))
    done = fire(env, checkin.id)
    assert done.returncode == 0, done.stderr
    [(text, at)] = submissions(agent)
    assert text == f"[check-in {checkin.id} due {checkin.due:%H:%M:%S}] {NOTE}"
    assert checkin.due.timestamp() <= at < checkin.due.timestamp() + 5
    assert finished(cfg, checkin.id).state == "delivered"
    assert crontab_ids(cfg) == set()  # the one-shot line and the sweep lines are gone
    assert events(cfg, checkin.id) == ["scheduled", "fired", "delivered"]
    assert fire(env, checkin.id).returncode == 0 and len(submissions(agent)) == 1


def test_two_fire_runs_and_a_sweep_at_once_deliver_once(cfg: Settings, env: dict[str, str], start_agent) -> None:
    agent = start_agent()
    checkin = schedule_checkin(cfg, 30, "only once please", "team:0")
    checkin = set_due(cfg, checkin, now() + timedelta(seconds=2))
    bare_env = {k: v for k, v in env.items() if k.startswith("ORC_")}
    procs = [subprocess.Popen([sys.executable, str(SUITE / "orc"), "fire", *args], env={"PATH": "/usr/bin:/bin", **bare_env},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for args in ([checkin.id], [checkin.id], ["--sweep"])]
    time.sleep(3)  # let the due second pass while all three are running
    sweep = subprocess.run([sys.executable, str(SUITE / "orc"), "fire", "--sweep"], env={"PATH": "/usr/bin:/bin", **bare_env},
                           capture_output=True, text=True, timeout=120)
    assert sweep.returncode == 0, sweep.stderr
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0], [p.communicate() for p in procs]
    for p in procs:
        p.communicate()
    assert [t for t, _ in submissions(agent)] == [f"[check-in {checkin.id} due {checkin.due:%H:%M:%S}] only once please"]
    assert events(cfg, checkin.id).count("delivered") == 1


def test_after_downtime_it_arrives_once_marked_late(cfg: Settings, env: dict[str, str], start_agent) -> None:
    agent = start_agent()
    checkin = schedule_checkin(cfg, 30, "missed while the laptop slept", "team:0")
    checkin = set_due(cfg, checkin, now() - timedelta(hours=2, minutes=5))
    done = fire(env, "--sweep")  # what the @reboot line and the minutely sweep run
    assert done.returncode == 0, done.stderr
    [(text, _)] = submissions(agent)
    assert text.startswith(f"[check-in {checkin.id} due ") and ", LATE by 2h05m] missed while the laptop slept" in text
    assert events(cfg, checkin.id) == ["scheduled", "fired", "late", "delivered"]
    assert "by=2h05m" in (cfg.state_dir / "checkins.log").read_text()
    assert fire(env, "--sweep").returncode == 0 and fire(env, checkin.id).returncode == 0
    assert len(submissions(agent)) == 1


def test_a_dialog_defers_the_checkin_until_it_is_gone_and_is_never_approved(cfg: Settings, env: dict[str, str],
                                                                           tmux: Tmux, start_agent) -> None:
    agent = start_agent("--dialog-on-start")
    checkin = schedule_checkin(cfg, 30, "status please", "team:0")
    checkin = set_due(cfg, checkin, now() - timedelta(seconds=1))
    done = fire(env, checkin.id)
    assert done.returncode == 0, done.stderr
    assert read_checkin(cfg, checkin.id).state == "deferred"  # type: ignore[union-attr]
    assert "a dialog is showing" in (cfg.state_dir / "checkins.log").read_text()
    assert submissions(agent) == []
    assert not [e for e in agent.events() if e["event"] == "approved"]
    assert checkin.id in crontab_ids(cfg)  # still pending: its line and the sweep stay

    time.sleep(1.1)  # ORC_CHECKIN_RETRY_SECONDS=1: a retry is due, but the dialog still shows
    assert fire(env, "--sweep").returncode == 0
    assert submissions(agent) == [] and not [e for e in agent.events() if e["event"] == "approved"]

    tmux.send_key(agent.pane.pane_id, "Escape")
    wait_for(lambda: [e for e in agent.events() if e["event"] == "denied"], what="the dialog to be dismissed")
    time.sleep(1.1)
    assert fire(env, "--sweep").returncode == 0
    assert [t for t, _ in submissions(agent)] == [f"[check-in {checkin.id} due {checkin.due:%H:%M:%S}] status please"]
    assert not [e for e in agent.events() if e["event"] == "approved"]
    assert fire(env, "--sweep").returncode == 0 and len(submissions(agent)) == 1
    assert events(cfg, checkin.id).count("deferred") == 2
    assert crontab_ids(cfg) == set()


def test_a_missing_target_is_retried_then_failed_and_the_orchestrator_told(cfg: Settings, env: dict[str, str],
                                                                           start_agent) -> None:
    orchestrator = start_agent(window="orchestrator")
    env = {**env, "ORC_FALLBACK_TARGET": "team:orchestrator"}
    checkin = schedule_checkin(cfg, 30, "for a window that never came", "team:gone")
    checkin = set_due(cfg, checkin, now() - timedelta(seconds=1))
    assert fire(env, checkin.id).returncode == 0
    deferred = read_checkin(cfg, checkin.id)
    assert deferred is not None and deferred.state == "deferred" and "no window 'gone'" in deferred.last_reason
    # The give-up time (ORC_CHECKIN_GIVE_UP_MINUTES, counted from the first attempt) has passed.
    set_due(cfg, checkin, checkin.due, first_attempt=now() - timedelta(minutes=121),
            next_try=now() - timedelta(seconds=1))
    done = fire(env, "--sweep")
    assert done.returncode == 1  # a check-in failed for good: cron's log shows it
    assert finished(cfg, checkin.id).state == "failed"
    [(told, _)] = submissions(orchestrator)
    assert told.startswith(f"[check-in {checkin.id} for team:gone FAILED after 2 attempts: ")
    assert "for a window that never came" in told
    assert events(cfg, checkin.id) == ["scheduled", "fired", "deferred", "fired", "failed", "fallback"]
    assert crontab_ids(cfg) == set()


def test_a_recurring_checkin_is_delivered_and_set_for_its_next_slot(cfg: Settings, env: dict[str, str],
                                                                   start_agent) -> None:
    agent = start_agent()
    checkin = schedule_checkin(cfg, 30, "hourly status", "team:0", every_minutes=60)
    due = now() - timedelta(seconds=1)
    checkin = set_due(cfg, checkin, due)
    assert fire(env, checkin.id).returncode == 0
    [(text, _)] = submissions(agent)
    assert text == f"[check-in {checkin.id} due {due:%H:%M:%S}, every 60m] hourly status"
    again = read_checkin(cfg, checkin.id)
    assert again is not None and again.state == "pending" and again.due == due + timedelta(minutes=60)
    line = cfg.crontab_file.read_text()  # type: ignore[union-attr]
    local = again.due.astimezone()
    assert f"{local.minute} {local.hour} {local.day} {local.month} * " in line and checkin.id in line


def test_a_run_that_died_mid_delivery_is_not_typed_twice(cfg: Settings, env: dict[str, str], tmux: Tmux,
                                                         start_agent) -> None:
    """Fault injection: the record says `delivering` (its run was killed after typing), and
    the message is on the agent's screen; the sweep must notice instead of typing it again."""
    agent = start_agent()
    checkin = schedule_checkin(cfg, 30, "typed before the crash", "team:0")
    checkin = set_due(cfg, checkin, now() - timedelta(seconds=5), state="delivering", attempts=1)
    sent = subprocess.run([str(SUITE / "send_message.sh"), "team:0", f"[check-in {checkin.id} due 00:00:00] typed before the crash"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert sent.returncode == 0, sent.stderr
    wait_for(lambda: submissions(agent), what="the first submission")
    assert fire(env, "--sweep").returncode == 0
    assert len(submissions(agent)) == 1
    assert finished(cfg, checkin.id).state == "delivered"


def test_a_run_killed_after_the_paste_leaves_it_in_the_input_box_and_the_sweep_submits_it_once(
        cfg: Settings, env: dict[str, str], tmux: Tmux, start_agent) -> None:
    """Fault injection: the record says `delivering` and the check-in sits unsent in the agent's
    input box (its run, an `up --boot` killed half way, pasted it and died before the submit
    key). On the screen it would pass for delivered; the sweep submits it instead, once."""
    from orc.record.snapshot import look

    agent = start_agent()
    checkin = schedule_checkin(cfg, 30, "pasted before the crash", "team:0")
    checkin = set_due(cfg, checkin, now() - timedelta(minutes=5), state="delivering", attempts=1)
    tmux.run("send-keys", "-t", agent.pane.pane_id, "-l", f"[check-in {checkin.id} due 00:00:00] pasted before the crash")
    wait_for(lambda: look(tmux, agent.pane.pane_id).state == "typing", what="the text in the input box")
    assert fire(env, "--sweep").returncode == 0
    texts = [text for text, _ in submissions(agent)]
    assert texts == [f"[check-in {checkin.id} due 00:00:00] pasted before the crash"]
    assert finished(cfg, checkin.id).state == "delivered"
    log = (cfg.state_dir / "checkins.log").read_text()
    assert "submitted the text an interrupted run left in the input box" in log


def test_the_sweep_repairs_the_crontab(cfg: Settings, env: dict[str, str]) -> None:
    """A user's `crontab -e` dropped our lines and left a stale one: the sweep puts it right."""
    kept = schedule_checkin(cfg, 30, "keep me", "team:0")
    assert cfg.crontab_file is not None
    lines = cfg.crontab_file.read_text().splitlines()
    stale = lines[0].replace(kept.id, "ck-0000dead")
    cfg.crontab_file.write_text("0 5 * * * users own line\n" + stale + "\n")
    assert fire(env, "--sweep").returncode == 0
    assert crontab_ids(cfg) == {kept.id, *(j for j in crontab_ids(cfg) if j.startswith("orc-"))}
    assert len(crontab_ids(cfg)) == 3
    assert cfg.crontab_file.read_text().startswith("0 5 * * * users own line\n")
    assert [c.id for c in pending_checkins(cfg)] == [kept.id]


def test_fire_rejects_a_malformed_id(env: dict[str, str]) -> None:
    done = fire(env, "ck-1;rm -rf /")
    assert done.returncode == 2 and done.stderr.startswith("orc fire: error: ")
    assert json.dumps(done.stderr).count("\\n") == 1
