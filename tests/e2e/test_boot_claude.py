"""A reboot done for real within the machine, with two teams of two real Claude Code agents
each (offline, against the stand-in API): the tmux server killed, every process of the run killed,
then the crontab's ``@reboot`` line run as cron runs it (``/bin/sh -c``, cron's bare
environment; in the first test by a real cron daemon, stopped and started again as a boot does,
from the user's real crontab). After it each agent is back in its own conversation (the stand-in API sees its
earlier turns), the missed check-in reached the resumed engineer once, marked LATE, and one
summary reached the attention log and the notify command (docs/workflow.md, "After a reboot").
The second test kills the boot command at five random instants first, then runs it to the end:
nothing lost, nothing doubled."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from claude_harness import FAKE_API_KEY, claude_command, claude_env, prepare_claude_home
from fake_anthropic_api import FakeAnthropicAPI, typed_prompt
from orc.core.settings import load_settings
from orc.record.hook_events import agent_reports
from orc.record.snapshot import look
from orc.scheduling.checkins import now_local, read_checkin, save_checkin
from support import SUITE, CronRestart, cron_daemon_restartable, users_crontab_replaced, wait_for
from test_boot import BARE, attention_raised, boot_command, calls, notify_stand_in, reboot, run_as_cron
from test_team import env, integration, project_entry, repo_with_spec, write_config  # noqa: F401
from tmux_utils import Tmux

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the run's processes in /proc")]

PROJECTS = ("webapp", "api")


class Night:
    """Two teams of real Claude Code deployed, each agent told a word to remember, and a
    check-in for each engineer that falls due while the machine is off."""

    def __init__(self, claude_binary: Path, tmp_path: Path, env: dict[str, str], tmux: Tmux,
                 api: FakeAnthropicAPI) -> None:
        self.notify, self.notified = notify_stand_in(tmp_path)
        self.env = {**env, "ORC_NOTIFY_COMMAND": self.notify}
        self.settings = load_settings(self.env)
        self.api, self.tmux, self.homes = api, tmux, []
        entries = {}
        for name in PROJECTS:
            repo = repo_with_spec(tmp_path / name)
            home = tmp_path / f"home-{name}"
            prepare_claude_home(home, repo, FAKE_API_KEY)
            self.homes.append(home)
            # A wrapper script, as people start agents: the suite appends --settings and --resume to it.
            wrapper = tmp_path / f"claude-{name}"
            line = claude_command(claude_binary, claude_env(home, api.base_url, FAKE_API_KEY), repo)
            wrapper.write_text(f"#!/bin/sh\n{line} \"$@\"\n")
            wrapper.chmod(0o755)
            entries[name] = project_entry(repo, name, str(wrapper), str(wrapper))
        write_config(tmp_path, entries)
        done = integration("deploy", "--all", "--ready-timeout", "90", env=self.env, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
        self.words = {f"{name}:{window}": f"{bird}-{n}" for n, name in enumerate(PROJECTS)
                      for window, bird in (("PM", "OSPREY"), ("Dev", "PELICAN"))}
        for target, word in self.words.items():
            pane = tmux.resolve(target).pane_id
            wait_for(lambda: look(tmux, pane).state == "idle", timeout=90, what=f"{target} answered its briefing")
            sent = subprocess.run([str(SUITE / "send_message.sh"), target, f"Remember the word {word}"],
                                  env=self.env, capture_output=True, text=True, timeout=60)
            assert sent.returncode == 0, sent.stderr
            wait_for(lambda: any(word in t for t in api.turns()), timeout=60, what=f"{word} to reach the API")
            wait_for(lambda: look(tmux, pane).state == "idle", timeout=60, what=f"{target}'s turn to end")
        reports = agent_reports(Path(self.env["ORC_STATE_DIR"]))
        self.sessions = {f"{name}/{role}": reports[f"{name}.{role}"].session_id
                         for name in PROJECTS for role in ("project-manager", "engineer")}
        assert all(self.sessions.values()) and len(set(self.sessions.values())) == 4
        # Scheduled for later, then its due time moved 10 minutes back in its record: the
        # machine was off that long.
        self.checkins = {}
        for name in PROJECTS:
            done = subprocess.run([str(SUITE / "schedule_with_note.sh"), "30", f"Run the {name} tests",
                                   f"{name}:Dev"], env=self.env, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
            checkin_id = next(word for word in done.stdout.split() if word.startswith("ck-"))
            found = read_checkin(self.settings, checkin_id)
            assert found is not None
            save_checkin(self.settings, replace(found, due=now_local() - timedelta(minutes=10)))
            self.checkins[name] = checkin_id

    def reboot(self) -> int:
        """Down; returns how many requests the stand-in API had seen by then."""
        # Claude Code runs under env -i: its processes are found by their HOME.
        reboot(self.tmux, self.env, extra_markers=tuple(f"HOME={home}" for home in self.homes))
        return len(self.api.requests())

    def check_back(self, count: int) -> None:
        """Each agent back in its own conversation, each check-in once, one summary."""
        after = [r for r in self.api.requests()[count:] if isinstance(r.body, dict)]
        for target, word in self.words.items():
            # Its resume note reached the API in its own conversation: the earlier turns are there.
            notes = [r for r in after if (typed_prompt(r.body) or "").startswith(
                "You were restarted and your conversation was resumed") and f"tmux window {target}" in
                (typed_prompt(r.body) or "")]
            assert len({typed_prompt(r.body) for r in notes}) == 1, f"{target}: {[typed_prompt(r.body) for r in notes]}"
            earlier = json.dumps(notes[0].body["messages"][:-1])
            assert word in earlier and "You are the" in earlier
            assert any(m.get("role") == "assistant" for m in notes[0].body["messages"])
        for n, (name, checkin_id) in enumerate(self.checkins.items()):
            # Once, LATE, into the engineer's resumed conversation.
            found = [r for r in after if (typed_prompt(r.body) or "").startswith(f"[check-in {checkin_id} ")]
            assert len({typed_prompt(r.body) for r in found}) == 1, [typed_prompt(r.body) for r in found]
            assert "LATE by 10m" in (typed_prompt(found[0].body) or "")
            assert self.words[f"{name}:Dev"] in json.dumps(found[0].body["messages"])
        assert len([r for r in attention_raised(self.env) if r.get("subject") == "boot"]) == 1
        summary = [c for c in calls(self.notified) if "after a reboot" in c]
        assert len(summary) == 1, calls(self.notified)
        for who, session in self.sessions.items():
            assert f"{who} came back in its own conversation (session {session})" in summary[0], summary[0]
        for name, checkin_id in self.checkins.items():
            assert f"check-in {checkin_id} delivered to {name}:Dev" in summary[0], summary[0]


USERS_LINES = "# the user's own line, kept as is\n@reboot /usr/bin/true users-own-reboot-line\n"


@pytest.fixture
def cron_restarted() -> Iterator[CronRestart]:
    """A real cron daemon this test starts, then stops and starts again as a boot does, over the
    user's real crontab (its own lines kept, restored after). Under CI not having one fails."""
    with cron_daemon_restartable() as restart:
        if isinstance(restart, str):
            (pytest.fail if os.environ.get("CI") else pytest.skip)(restart)
        with users_crontab_replaced(USERS_LINES):
            restart.start()
            yield restart


def test_after_a_real_reboot_two_claude_teams_are_back_in_their_own_conversations(
        claude_binary: Path, tmp_path: Path, env: dict[str, str], tmux: Tmux,  # noqa: F811
        cron_restarted: CronRestart) -> None:
    real = {k: v for k, v in env.items() if k != "ORC_CRONTAB_FILE"}  # the user's real crontab
    with FakeAnthropicAPI() as api:
        night = Night(claude_binary, tmp_path, real, tmux, api)
        table = subprocess.run(["crontab", "-l"], capture_output=True, text=True, timeout=30).stdout
        assert table.startswith(USERS_LINES) and "integration up --boot" in table, table
        count = night.reboot()
        cron_restarted.stop()  # down with the machine
        started = time.monotonic()
        cron_restarted.boot()  # the daemon itself runs the @reboot line, as at startup
        log = Path(night.env["ORC_STATE_DIR"]) / "cron.log"
        while not any("after a reboot" in c for c in calls(night.notified)):
            assert time.monotonic() - started < 120, log.read_text()[-3000:] if log.exists() else "cron ran nothing"
            time.sleep(0.2)
        took = time.monotonic() - started
        assert took < 60, f"the boot took {took:.1f}s"
        night.check_back(count)
        assert subprocess.run(["crontab", "-l"], capture_output=True, text=True, timeout=30).stdout.startswith(USERS_LINES)
        print(f"cron daemon start to summary, two teams of real Claude Code: {took:.1f}s")


def test_a_boot_killed_at_five_random_instants_then_run_again_brings_back_each_once(
        claude_binary: Path, tmp_path: Path, env: dict[str, str], tmux: Tmux) -> None:  # noqa: F811
    with FakeAnthropicAPI() as api:
        night = Night(claude_binary, tmp_path, env, tmux, api)
        count = night.reboot()
        command = boot_command(night.env)
        # A whole boot takes 3-5 s here: the kills fall inside it. ORC_BOOT_KILL_SEED replays a run.
        seed = int(os.environ.get("ORC_BOOT_KILL_SEED") or random.randrange(1 << 30))
        rng = random.Random(seed)
        kills = sorted(rng.uniform(0.1, 5.0) for _ in range(5))
        for instant in kills:
            run = subprocess.Popen(["/bin/sh", "-c", command], env=BARE, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
            try:
                run.wait(timeout=instant)
            except subprocess.TimeoutExpired:
                os.killpg(run.pid, signal.SIGKILL)  # the boot and its children; the tmux server is its own
                run.wait(timeout=10)
        final = run_as_cron(command)
        out, err = final.communicate(timeout=600)
        log = (Path(night.env["ORC_STATE_DIR"]) / "cron.log").read_text()
        assert final.returncode == 0, f"seed {seed}, kills at {kills}: " + out + err + log[-3000:]
        try:
            night.check_back(count)
        except AssertionError as exc:
            raise AssertionError(f"seed {seed}, kills at {', '.join(f'{k:.2f}' for k in kills)} s: {exc}") from exc
