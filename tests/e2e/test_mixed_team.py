"""One team of three agent CLIs, deployed by one command: a Claude Code project manager, a
Codex CLI engineer and a Gemini CLI engineer, each real and offline against its own
stand-in API. Each is briefed with proof; each engineer, from its own shell tool, reports to
the project manager with send_message.sh and schedules its own check-in with
schedule_with_note.sh, as CLAUDE.md tells it to, and the check-in reaches it when fired as
cron fires it.

The engineers' tool calls are scripted in their stand-ins and approved in their dialogs by
the test, as a person would approve them. Needs the CLIs (``make agent-clis``) and Claude
Code; skipped without them, failed under CI.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from agent_cli_processes import end_processes_with_env, processes_with_env
from claude_harness import FAKE_API_KEY, claude_command, claude_env, prepare_claude_home
from fake_anthropic_api import FakeAnthropicAPI
from fake_gemini_api import FakeGeminiAPI
from fake_openai_api import FakeOpenAIAPI
from other_clis import Launch, missing, prepare
from test_codex_gemini_driven import APPROVE, DIALOG_DRAWN
from test_team import integration, repo_with_spec, write_config

from support import SUITE, fire, wait_for
from tmux_utils import Tmux
from orc.core.settings import load_settings
from orc.record.snapshot import look
from orc.scheduling.checkins import now_local, read_checkin, save_checkin

pytestmark = pytest.mark.e2e

#: Each engineer's window and its CLI.
ENGINEERS = {"Dev": "codex", "Dev2": "gemini"}
#: A dialog open this long is told to a person (ORC_ATTENTION_SECONDS; 300 by default).
ATTENTION_SECONDS = 3


def wrapper(path: Path, line: str) -> str:
    """A wrapper script, as people start agents: the suite's own flags reach the CLI through it."""
    path.write_text(f"#!/bin/sh\n{line} \"$@\"\n")
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def team(claude_binary: Path, fake_api: FakeAnthropicAPI, orc_env: dict[str, str], tmux: Tmux,
         tmp_path: Path) -> Iterator[dict[str, Any]]:
    for kind in ENGINEERS.values():
        if missing(kind):
            (pytest.fail if os.environ.get("CI") else pytest.skip)(missing(kind))
    env = {**orc_env, "ORC_CRONTAB_FILE": str(tmp_path / "crontab"), "ORC_ATTENTION_SECONDS": str(ATTENTION_SECONDS),
           "ORC_PROJECT_CONFIG": str(tmp_path / "project_configs.json"), "SHELL": "/bin/sh"}
    # What the engineers' shell tools and hooks need to reach this test's suite (a person's .env).
    suite_settings = {key: env[key] for key in ("ORC_TMUX_SOCKET", "ORC_STATE_DIR", "ORC_CRONTAB_FILE",
                                                "ORC_PYTHON", "ORC_ATTENTION_SECONDS")}
    repo = repo_with_spec(tmp_path / "webapp")
    home = tmp_path / "claude-home"
    prepare_claude_home(home, repo, FAKE_API_KEY)
    pm = wrapper(tmp_path / "claude-pm", claude_command(claude_binary, claude_env(home, fake_api.base_url, FAKE_API_KEY),
                                                        repo))
    launches: list[Launch] = []
    with FakeOpenAIAPI() as openai_api, FakeGeminiAPI() as gemini_api:
        apis = {"codex": openai_api, "gemini": gemini_api}
        members = [{"role": "project-manager", "window": "PM", "command": pm, "agent": "claude"}]
        for n, (window, kind) in enumerate(ENGINEERS.items(), start=1):
            launch = prepare(kind, tmp_path / kind, apis[kind].base_url, env, workdir=repo, no_daemon=False,
                             extra_env=suite_settings)
            launches.append(launch)
            members.append({"role": f"engineer-{n}", "window": window, "agent": kind,
                            "command": wrapper(tmp_path / f"{kind}-engineer", launch.command.replace("exec ", "", 1))})
        write_config(tmp_path, {"webapp": {
            "path": str(repo), "session": "webapp", "spec_file": "SPEC.md", "git_commit_interval": 1800,
            "check_in_interval": 1800, "test_command": "test -f SPEC.md", "team": members, "shell_window": "Shell"}})
        try:
            done = integration("deploy", "webapp", "--ready-timeout", "90", env=env, timeout=600)
            assert done.returncode == 0, done.stdout + done.stderr
            yield {"env": env, "apis": {**apis, "claude": fake_api}, "tmux": tmux, "launches": launches,
                   "commands": {m["window"]: m["command"] for m in members}}
        finally:
            if tmux.has_session("webapp"):
                tmux.kill_session("webapp")
            for launch in launches:
                end_processes_with_env(*launch.environment)


def send(team: dict[str, Any], target: str, text: str) -> None:
    sent = subprocess.run([str(SUITE / "send_message.sh"), target, text], env=team["env"], capture_output=True,
                          text=True, timeout=60)
    assert sent.returncode == 0, sent.stderr


def run_in_shell_tool(team: dict[str, Any], window: str, command: list[str],
                      before_approving: Callable[[], None] = lambda: None) -> None:
    """Have the engineer in ``window`` run ``command`` with its own shell tool: its stand-in
    answers the next prompt with the tool call, and the test approves the call's dialog
    (after ``before_approving``)."""
    tmux: Tmux = team["tmux"]
    kind = ENGINEERS[window]
    api = team["apis"][kind]
    api.script_next_reply_shell(shlex.join(command))
    send(team, f"webapp:{window}", "Please run your next step.")
    pane = tmux.resolve(f"webapp:{window}").pane_id
    wait_for(lambda: DIALOG_DRAWN[kind] in "\n".join(tmux.capture(pane)), timeout=60, what=f"{kind}'s dialog")
    before_approving()
    time.sleep(0.3)  # as a person reads it: a key in the dialog's first moments can be lost
    tmux.send_key(pane, APPROVE[kind])
    wait_for(lambda: look(tmux, pane).state == "idle", timeout=60, what=f"{kind} idle after the tool ran")


def test_a_claude_pm_a_codex_and_a_gemini_engineer_work_as_one_team(team: dict[str, Any]) -> None:
    tmux: Tmux = team["tmux"]
    apis = team["apis"]
    # Deployed by one command, each briefed: its briefing reached its own API, once.
    for kind in ("claude", "codex", "gemini"):
        turns = apis[kind].wait_for_turns(1, timeout=60)
        assert len(turns) == 1 and "SPEC.md" in turns[0], (kind, turns)
    for window, kind in ENGINEERS.items():
        snap = look(tmux, tmux.resolve(f"webapp:{window}").pane_id)
        assert snap.agent.kind == kind, snap.agent
    # deploy gave Codex --no-daemon (its wrapper does not): no background server to outlive the pane.
    codex = next(launch for launch in team["launches"] if launch.kind == "codex")
    arguments = [Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") for pid in processes_with_env(*codex.environment)]
    assert any(b"--no-daemon" in words for words in arguments), arguments

    # Each engineer reports to the project manager from its own shell tool.
    for n, window in enumerate(ENGINEERS, start=1):
        status = f"STATUS engineer-{n}: {ENGINEERS[window]} here, login form started"
        run_in_shell_tool(team, window, [str(SUITE / "send_message.sh"), "webapp:PM", status])
        wait_for(lambda: status in apis["claude"].turns(), timeout=60,  # noqa: B023
                 what=f"engineer-{n}'s status at the project manager")
    assert sum(t.startswith("STATUS engineer-") for t in apis["claude"].turns()) == 2  # each once

    # Each schedules its own check-in (no target: its own window), fired as cron fires it.
    settings = load_settings(team["env"])
    for window, kind in ENGINEERS.items():
        note = f"{kind} self check: run the tests"
        run_in_shell_tool(team, window, [str(SUITE / "schedule_with_note.sh"), "30", note])
        listed = subprocess.run([str(SUITE / "schedule_with_note.sh"), "--list"], env=team["env"],
                                capture_output=True, text=True, timeout=60).stdout
        found = re.search(rf"(ck-[0-9a-f]{{8}})\b.*webapp:{window}\b", listed)
        assert found, listed
        checkin = read_checkin(settings, found.group(1))
        assert checkin is not None and checkin.note == note
        save_checkin(settings, replace(checkin, due=now_local() - timedelta(seconds=1)))
        fired = fire(team["env"], checkin.id)
        assert fired.returncode == 0, fired.stderr
        wait_for(lambda: any(t.endswith(f"] {note}") and checkin.id in t for t in apis[kind].turns()),  # noqa: B023
                 timeout=60, what=f"{kind}'s own check-in")


def diagnostics(team: dict[str, Any], window: str) -> str:
    """The window's screen and the ends of the hooks' and the deliveries' logs, for a failure."""
    state = Path(team["env"]["ORC_STATE_DIR"])
    return "\n".join(["", *team["tmux"].capture(f"webapp:{window}"), (state / "hooks" / "events.log").read_text()[-3000:],
                      (state / "delivery.log").read_text()[-1500:]])


def attention_items(team: dict[str, Any]) -> str:
    return integration("attention", "list", env=team["env"]).stdout


def test_codex_and_gemini_engineers_raise_attention_and_codex_resumes_its_own_conversation(
        team: dict[str, Any]) -> None:
    tmux: Tmux = team["tmux"]
    apis = team["apis"]
    for kind in ("claude", "codex", "gemini"):
        apis[kind].wait_for_turns(1, timeout=60)  # briefed
    words = {"Dev": "OSPREY-1", "Dev2": "PELICAN-2"}
    for n, (window, kind) in enumerate(ENGINEERS.items(), start=1):
        pane = tmux.resolve(f"webapp:{window}").pane_id
        wait_for(lambda: look(tmux, pane).state == "idle", timeout=60, what=f"{kind} idle")  # noqa: B023
        # A dialog left open is told to a person, by name, once its hooks report it (they carry
        # the agent's label: deploy started it with ORC_AGENT_LABEL).
        marker = str(Path(team["env"]["ORC_STATE_DIR"]).parent / f"approved-{kind}")  # (`true` asks nothing of Gemini)
        run_in_shell_tool(team, window, ["touch", marker], before_approving=lambda: wait_for(  # noqa: B023
            lambda: f"webapp/engineer-{n} dialog" in attention_items(team), timeout=ATTENTION_SECONDS + 30,  # noqa: B023
            what=f"the attention item for {kind}'s open dialog"))
        send(team, f"webapp:{window}", f"Remember the word {words[window]}")
        wait_for(lambda: f"Remember the word {words[window]}" in apis[kind].turns(), timeout=60,  # noqa: B023
                 what="the word at the stand-in")
        wait_for(lambda: look(tmux, pane).state == "idle", timeout=60, what=f"{kind} idle")  # noqa: B023

    # Restarted with --resume, Codex continues its own conversation: its next request to its
    # API carries the word it was told before the restart. Gemini CLI's resume is not asserted
    # here: it passed 4 of 4 runs on the development machine, but in a CI run under load its
    # resumed screen stayed unrecognised and its note was refused, nothing typed (a known
    # defect, docs/agent-clis.md).
    for n, (window, kind) in [(1, ("Dev", "codex"))]:
        before = len(apis[kind].requests())
        done = integration("restart", "webapp", f"engineer-{n}", "--resume", "--ready-timeout", "90",
                           env=team["env"], timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr + diagnostics(team, window)
        assert "resumed" in done.stdout or "resumed" in done.stderr, done.stdout
        note = wait_for(lambda: [t for t in apis[kind].turns() if t.startswith("You were restarted")],  # noqa: B023
                        timeout=60, what=f"{kind}'s resume note")
        assert len(note) == 1
        later = [r for r in apis[kind].requests()[before:] if r.is_conversation]
        assert later and any(words[window] in json.dumps(r.body) for r in later), kind


def test_spawn_adds_a_codex_engineer_to_the_running_team(team: dict[str, Any]) -> None:
    tmux: Tmux = team["tmux"]
    codex = team["apis"]["codex"]
    codex.wait_for_turns(1, timeout=60)  # engineer-1 briefed
    done = integration("spawn", "webapp:Dev3", "--role", "engineer-3", "--project", "webapp", "--agent", "codex",
                       "--command", team["commands"]["Dev"], "--brief", "Write the password reset form",
                       env=team["env"], timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    turns = codex.wait_for_turns(2, timeout=60)
    assert "Write the password reset form" in turns[1] and "engineer-3" in turns[1], turns
    snap = look(tmux, tmux.resolve("webapp:Dev3").pane_id)
    assert snap.agent.kind == "codex" and snap.state in ("idle", "busy"), snap.agent
    status = integration("status", "webapp", env=team["env"]).stdout
    assert re.search(r"engineer-3\s+Dev3\s+codex\s", status), status
