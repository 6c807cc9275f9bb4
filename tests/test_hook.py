"""`orc hook`, run as Claude Code runs it (a shell command from the hook settings, the event
on stdin, TMUX/TMUX_PANE in the environment), and `orc.record.hook_events`, which reads it back."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from support import SUITE, wait_for

from orc.record import hook_events
from orc.record.hook import _STDIN_SECONDS, _WATCHDOG_SECONDS
from orc.record.hooks_settings import hook_command
from orc.record.prompt_text import prompt_key

SOCKET = "/tmp/tmux-1000/team"
DEBUG = {"ORC_HOOK_DEBUG": "1"}


def own_seconds(stderr: bytes) -> float:
    """How long the hook took from its own start (what its watchdog bounds), as it says under
    ``ORC_HOOK_DEBUG``; the watchdog must not have ended it.

    Measured from outside, a run also holds the shell's and the interpreter's start-up: on a
    loaded machine (two cores, other test runs, two busy processes) a run that waited for
    nothing took over a second from outside. The watchdog counts from the hook's start, so
    that is where these tests read the time."""
    lines = stderr.decode(errors="replace").splitlines()
    assert not any("watchdog" in line for line in lines), lines
    found = re.fullmatch(r"orc hook: done (\d+\.\d+) s after it started", lines[-1]) if lines else None
    assert found, lines
    return float(found.group(1))


def watchdog_seconds(stderr: bytes) -> float:
    """When the watchdog ended the hook, counted from the hook's start (``ORC_HOOK_DEBUG``)."""
    lines = stderr.decode(errors="replace").splitlines()
    found = re.fullmatch(r"orc hook: the watchdog ended it (\d+\.\d+) s after it started", lines[-1]) if lines else None
    assert found, lines
    return float(found.group(1))


def run_hook(state_dir: Path, payload: object, pane: str = "%3", socket: str = SOCKET,
             stdin: bytes | None = None, extra_env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[bytes], float]:
    """Run the exact command our settings give Claude Code, through a shell as it does."""
    env = {"PATH": os.environ["PATH"], "TMUX": f"{socket},4242,0", "TMUX_PANE": pane, **(extra_env or {})}
    data = stdin if stdin is not None else json.dumps(payload).encode()
    started = time.monotonic()
    done = subprocess.run(["sh", "-c", hook_command(SUITE, state_dir)], input=data, env=env,
                          capture_output=True, timeout=10)
    return done, time.monotonic() - started


def event(name: str, **fields: object) -> dict[str, object]:
    return {"hook_event_name": name, "session_id": "sess-1", "transcript_path": "/home/u/.claude/projects/-w/sess-1.jsonl",
            "cwd": "/w", **fields}


def test_prompt_is_recorded_per_pane_with_key_and_first_line(tmp_path: Path) -> None:
    state = tmp_path / "state"
    prompt = "Deploy the fix\tnow  \nsecond line"
    done, _ = run_hook(state, event("UserPromptSubmit", prompt=prompt))
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    reports = hook_events.latest_reports(state)
    report = reports["%3"]
    assert report.event == "UserPromptSubmit" and report.state == "busy"
    assert report.session_id == "sess-1" and report.cwd == "/w"
    assert report.transcript_path.endswith("sess-1.jsonl")
    assert report.prompt_key == prompt_key(prompt)
    assert report.prompt_first_line == "Deploy the fix    now"
    assert report.socket == SOCKET
    assert abs(report.at - time.time()) < 10
    assert hook_events.prompt_keys_since(state, "%3", report.at - 1) == [prompt_key(prompt)]
    assert hook_events.prompt_keys_since(state, "%3", report.at + 1) == []
    assert hook_events.prompt_keys_since(state, "%4", 0) == []
    # Private state: folders 0700, files 0600.
    for path in (state / "hooks", state / "hooks" / "panes"):
        assert path.stat().st_mode & 0o777 == 0o700
    for path in (state / "hooks" / "events.log", state / "hooks" / "panes" / "3.txt"):
        assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(("payload", "state", "detail"), [
    (event("SessionStart", source="startup"), "idle", "startup"),
    (event("PreToolUse", tool_name="Bash", tool_input={"command": "ls"}), "busy", "Bash"),
    (event("PermissionRequest", tool_name="Bash"), "waiting", "Bash"),
    (event("Notification", notification_type="permission_prompt", message="Claude needs your permission"), "waiting", "permission_prompt"),
    (event("Notification", notification_type="auth_success"), "", "auth_success"),
    (event("Stop", last_assistant_message="done"), "idle", None),
    (event("SessionEnd", reason="prompt_input_exit"), "exited", "prompt_input_exit"),
    # Gemini CLI's own names (docs/agent-clis.md, "Hooks"); Codex CLI uses the ones above.
    (event("BeforeTool", tool_name="run_shell_command"), "busy", "run_shell_command"),
    (event("AfterTool", tool_name="run_shell_command"), "busy", "run_shell_command"),
    (event("Notification", notification_type="ToolPermission", message="Tool Confirm Shell Command requires execution"),
     "waiting", "ToolPermission"),
    (event("AfterAgent", prompt="hi", prompt_response="OK", stop_hook_active=False), "idle", None),
])
def test_each_event_names_the_state_it_implies(tmp_path: Path, payload: dict[str, object], state: str, detail: str | None) -> None:
    done, _ = run_hook(tmp_path, payload)
    assert (done.returncode, done.stdout) == (0, b"")
    report = hook_events.latest_reports(tmp_path)["%3"]
    assert (report.event, report.state, report.detail, report.prompt_key) == (payload["hook_event_name"], state, detail, None)


def test_gemini_clis_before_agent_carries_the_prompt_like_user_prompt_submit(tmp_path: Path) -> None:
    prompt = "a hard one: $(whoami) `date` 100%\nends with \\"
    done, _ = run_hook(tmp_path, event("BeforeAgent", prompt=prompt))
    assert (done.returncode, done.stdout) == (0, b"")
    report = hook_events.latest_reports(tmp_path)["%3"]
    assert (report.event, report.state, report.prompt_key) == ("BeforeAgent", "busy", prompt_key(prompt))
    assert hook_events.prompt_keys_since(tmp_path, "%3", report.at - 1) == [prompt_key(prompt)]
    # AfterAgent repeats the prompt of the turn that ended: not a new submission.
    run_hook(tmp_path, event("AfterAgent", prompt=prompt, prompt_response="OK"))
    assert hook_events.prompt_keys_since(tmp_path, "%3", report.at - 1) == [prompt_key(prompt)]


def test_latest_event_wins_and_each_event_is_logged(tmp_path: Path) -> None:
    for name in ("SessionStart", "UserPromptSubmit", "PreToolUse", "Stop"):
        run_hook(tmp_path, event(name, prompt="hi"))
    run_hook(tmp_path, event("SessionStart", session_id="other"), pane="%9")
    reports = hook_events.latest_reports(tmp_path)
    assert {p: r.event for p, r in reports.items()} == {"%3": "Stop", "%9": "SessionStart"}
    logged = [(e["event"], e["pane"]) for e in hook_events.events(tmp_path)]
    assert logged == [("SessionStart", "%3"), ("UserPromptSubmit", "%3"), ("PreToolUse", "%3"), ("Stop", "%3"),
                      ("SessionStart", "%9")]
    assert hook_events.session_ids(tmp_path) == {"%3": "sess-1", "%9": "other"}


def test_reports_of_another_tmux_server_are_ignored_when_asked(tmp_path: Path) -> None:
    run_hook(tmp_path, event("UserPromptSubmit", prompt="a"), pane="%1", socket="/tmp/tmux-1000/one")
    run_hook(tmp_path, event("UserPromptSubmit", prompt="b"), pane="%2", socket="/tmp/tmux-1000/two")
    assert set(hook_events.latest_reports(tmp_path, socket="/tmp/tmux-1000/one")) == {"%1"}
    assert set(hook_events.latest_reports(tmp_path)) == {"%1", "%2"}
    assert hook_events.prompt_keys_since(tmp_path, "%2", 0, socket="/tmp/tmux-1000/one") == []
    assert hook_events.prompt_keys_since(tmp_path, "%2", 0, socket="/tmp/tmux-1000/two") == [prompt_key("b")]


def test_an_older_event_never_replaces_a_newer_one(tmp_path: Path) -> None:
    run_hook(tmp_path, event("Stop"))
    pane_file = tmp_path / "hooks" / "panes" / "3.txt"
    newer = pane_file.read_text().replace("event: Stop", "event: PermissionRequest")
    at = hook_events.latest_reports(tmp_path)["%3"].at
    pane_file.write_text(newer.replace(f"at: {at:.6f}", f"at: {at + 3600:.6f}"))
    run_hook(tmp_path, event("PreToolUse"))
    assert hook_events.latest_reports(tmp_path)["%3"].event == "PermissionRequest"
    assert [e["event"] for e in hook_events.events(tmp_path)] == ["Stop", "PreToolUse"]


def test_an_idle_reminder_does_not_replace_how_the_turn_ended(tmp_path: Path) -> None:
    """Claude Code sends idle_prompt a minute after a turn ends: a failed turn stays the
    latest report (what the attention check and the one nudge read), and the reminder is
    logged; after a report that does not say idle, the reminder is news and replaces it."""
    reminder = event("Notification", notification_type="idle_prompt")
    run_hook(tmp_path, event("StopFailure", error="rate_limit"))
    run_hook(tmp_path, reminder)
    report = hook_events.latest_reports(tmp_path)["%3"]
    assert (report.event, report.detail) == ("StopFailure", "rate_limit")
    run_hook(tmp_path, event("UserPromptSubmit", prompt="go on"))
    run_hook(tmp_path, reminder)
    report = hook_events.latest_reports(tmp_path)["%3"]
    assert (report.event, report.state) == ("Notification", "idle")
    assert [e["event"] for e in hook_events.events(tmp_path)] == ["StopFailure", "Notification", "UserPromptSubmit",
                                                                  "Notification"]


def test_a_permission_reminder_keeps_when_the_dialog_opened(tmp_path: Path) -> None:
    """Claude Code's permission_prompt comes seconds after the PermissionRequest: the report
    keeps the request (its time times the dialog for the attention check, its detail names the
    tool); a dialog that opens by a Notification alone is recorded from it."""
    run_hook(tmp_path, event("PermissionRequest", tool_name="Write"))
    opened = hook_events.latest_reports(tmp_path)["%3"].at
    time.sleep(0.05)
    run_hook(tmp_path, event("Notification", notification_type="permission_prompt"))
    report = hook_events.latest_reports(tmp_path)["%3"]
    assert (report.event, report.state, report.detail, report.at) == ("PermissionRequest", "waiting", "Write", opened)
    run_hook(tmp_path, event("PostToolUse", tool_name="Write"))
    run_hook(tmp_path, event("Notification", notification_type="elicitation_dialog"))
    report = hook_events.latest_reports(tmp_path)["%3"]
    assert (report.event, report.state, report.detail) == ("Notification", "waiting", "elicitation_dialog")


@pytest.mark.parametrize("stdin", [b"", b"not json", b"[1, 2]", b"\xff\xfe", b'{"hook_event_name": 5}'])
def test_bad_input_exits_zero_silently(tmp_path: Path, stdin: bytes) -> None:
    done, _ = run_hook(tmp_path, None, stdin=stdin)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")


def test_outside_tmux_nothing_is_recorded(tmp_path: Path) -> None:
    done, _ = run_hook(tmp_path, event("Stop"), pane="")
    assert (done.returncode, done.stdout) == (0, b"")
    assert not (tmp_path / "hooks").exists()


def unwritable_state(tmp_path: Path) -> Path:
    """A state folder the hook cannot create anything in, also for root: its parent is a file."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the state folder's parent should be\n")
    return blocker / "state"


def test_unwritable_state_folder_exits_zero_fast(tmp_path: Path) -> None:
    done, _ = run_hook(unwritable_state(tmp_path), event("UserPromptSubmit", prompt="x"))
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    debug, _ = run_hook(unwritable_state(tmp_path), event("UserPromptSubmit", prompt="x"), extra_env=DEBUG)
    assert (debug.returncode, debug.stdout) == (0, b"")
    assert b"Error" in debug.stderr  # the fault was really hit
    # It waited for nothing: not even as long as it would wait for a stdin left open.
    assert own_seconds(debug.stderr) < _STDIN_SECONDS


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full to fake a full disk")
def test_full_disk_exits_zero_fast(tmp_path: Path) -> None:
    """Fault injection: the event log is a link to /dev/full, where every write fails with ENOSPC."""
    (tmp_path / "hooks" / "panes").mkdir(parents=True)
    (tmp_path / "hooks" / "events.log").symlink_to("/dev/full")
    done, _ = run_hook(tmp_path, event("Stop"), extra_env=DEBUG)
    assert (done.returncode, done.stdout) == (0, b"")
    assert b"No space left" in done.stderr  # the fault was really hit
    assert own_seconds(done.stderr) < _STDIN_SECONDS
    assert hook_events.latest_reports(tmp_path)["%3"].event == "Stop"


def test_locked_state_files_do_not_delay_the_hook(tmp_path: Path) -> None:
    """Another process holding flock on both files changes nothing: the hook takes no lock."""
    run_hook(tmp_path, event("SessionStart"))
    handles = [open(tmp_path / "hooks" / name, "a") for name in ("events.log", "panes/3.txt")]
    try:
        for handle in handles:
            fcntl.flock(handle, fcntl.LOCK_EX)
        done, _ = run_hook(tmp_path, event("Stop"), extra_env=DEBUG)
    finally:
        for handle in handles:
            handle.close()
    assert (done.returncode, done.stdout) == (0, b"")
    assert own_seconds(done.stderr) < _STDIN_SECONDS  # a lock taken would have waited for the watchdog
    assert hook_events.latest_reports(tmp_path)["%3"].event == "Stop"


def test_a_write_that_would_block_is_cut_off_by_the_watchdog(tmp_path: Path) -> None:
    """Fault injection: the event log is a FIFO nobody reads, so opening it blocks forever."""
    (tmp_path / "hooks" / "panes").mkdir(parents=True)
    os.mkfifo(tmp_path / "hooks" / "events.log")
    done, _ = run_hook(tmp_path, event("Stop"))
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    debug, _ = run_hook(tmp_path, event("Stop"), extra_env=DEBUG)
    assert (debug.returncode, debug.stdout) == (0, b"")
    # Gone when the watchdog's time is up (0.2 s for the signal to be handled on a busy machine).
    assert _WATCHDOG_SECONDS <= watchdog_seconds(debug.stderr) < _WATCHDOG_SECONDS + 0.2


def test_stdin_left_open_does_not_hold_the_hook(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "TMUX": f"{SOCKET},1,0", "TMUX_PANE": "%3", **DEBUG}
    proc = subprocess.Popen(["sh", "-c", hook_command(SUITE, tmp_path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdin is not None and proc.stderr is not None
    proc.stdin.write(b'{"hook_event_name": "Stop"}')
    proc.stdin.flush()
    try:
        assert proc.wait(timeout=5) == 0
        stderr = proc.stderr.read()
    finally:
        proc.stdin.close()
        proc.stderr.close()
    # It stopped reading at the stdin deadline and went on, before the watchdog's time.
    assert _STDIN_SECONDS <= own_seconds(stderr) < _WATCHDOG_SECONDS
    assert hook_events.latest_reports(tmp_path)["%3"].event == "Stop"


def test_hook_imports_no_dependency_and_skips_the_install(tmp_path: Path) -> None:
    """A copy of the suite without .deps: the hook must not start building it."""
    copy = tmp_path / "suite"
    shutil.copytree(SUITE / "orc", copy / "orc", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(SUITE / "requirements.txt", copy / "requirements.txt")
    env = {"PATH": os.environ["PATH"], "TMUX": f"{SOCKET},1,0", "TMUX_PANE": "%3"}
    done = subprocess.run(["sh", "-c", hook_command(copy, tmp_path / "state")],
                          input=json.dumps(event("UserPromptSubmit", prompt="hi")).encode(), env=env,
                          capture_output=True, timeout=10)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    assert not (copy / ".deps").exists()
    assert hook_events.latest_reports(tmp_path / "state")["%3"].prompt_key == prompt_key("hi")
    # -X importtime shows which modules a run loads: none of the dependencies, not pathlib.
    traced = subprocess.run(["python3", "-S", "-X", "importtime", str(copy / "orc"), "hook", "--state-dir",
                             str(tmp_path / "state")], input=json.dumps(event("UserPromptSubmit", prompt="hi")).encode(),
                            env=env, capture_output=True, timeout=10)
    loaded = {line.split("|")[-1].strip() for line in traced.stderr.decode().splitlines() if "|" in line}
    assert {"hook", "json", "hashlib"} <= loaded
    assert not loaded & {"libtmux", "dotenv", "crontab", "filelock", "pathlib", "orc"}


def test_without_a_state_folder_named_the_hook_writes_into_its_own_suite_folders_state(tmp_path: Path) -> None:
    """No --state-dir, no ORC_STATE_DIR: the report lands in ``<suite>/state``, the suite the
    hook file itself belongs to (orc/record/hook.py, three folders down), wherever it was copied."""
    copy = tmp_path / "suite"
    shutil.copytree(SUITE / "orc", copy / "orc", ignore=shutil.ignore_patterns("__pycache__"))
    env = {"PATH": os.environ["PATH"], "TMUX": f"{SOCKET},1,0", "TMUX_PANE": "%7"}
    done = subprocess.run(["python3", "-I", "-S", str(copy / "orc"), "hook"],
                          input=json.dumps(event("UserPromptSubmit", prompt="hi")).encode(), env=env,
                          capture_output=True, timeout=10)
    assert (done.returncode, done.stderr) == (0, b"")
    assert hook_events.latest_reports(copy / "state")["%7"].prompt_key == prompt_key("hi")
    assert not (copy / "orc" / "state").exists()


def test_stop_failure_keeps_why_and_an_agent_label_keeps_the_report_by_name(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "TMUX": f"{SOCKET},1,0", "TMUX_PANE": "%5", **scratch_env(tmp_path)}
    payload = event("StopFailure", error="rate_limit",
                    last_assistant_message="You've hit your 5-hour limit · resets 4:45pm (UTC)")
    command = hook_command(SUITE, tmp_path, agent="webapp.engineer")
    done = subprocess.run(["sh", "-c", command], input=json.dumps(payload).encode(), env=env, capture_output=True,
                          timeout=10)
    assert (done.returncode, done.stdout) == (0, b"")
    report = hook_events.latest_reports(tmp_path)["%5"]
    assert (report.event, report.state, report.detail) == ("StopFailure", "idle", "rate_limit")
    assert report.message == "You've hit your 5-hour limit · resets 4:45pm (UTC)"
    by_name = hook_events.agent_reports(tmp_path)
    assert list(by_name) == ["webapp.engineer"] and by_name["webapp.engineer"].session_id == "sess-1"
    # A label that could name another path is ignored; the pane report is still written.
    bad = hook_command(SUITE, tmp_path, agent="../../etc/x")
    subprocess.run(["sh", "-c", bad], input=json.dumps(event("Stop")).encode(), env=env, timeout=10, check=True)
    assert hook_events.latest_reports(tmp_path)["%5"].event == "Stop"
    assert list(hook_events.agent_reports(tmp_path)) == ["webapp.engineer"]
    assert not (tmp_path.parent / "etc").exists()


def test_an_agent_started_with_its_label_in_the_environment_is_reported_by_name(tmp_path: Path) -> None:
    """Codex CLI and Gemini CLI run hooks installed once for all their agents (no --agent):
    deploy starts each with ORC_AGENT_LABEL, which the hook reads instead."""
    env = {"PATH": os.environ["PATH"], "TMUX": f"{SOCKET},1,0", "TMUX_PANE": "%6", **scratch_env(tmp_path),
           "ORC_AGENT_LABEL": "webapp.engineer-2"}
    command = hook_command(SUITE, tmp_path)
    subprocess.run(["sh", "-c", command], input=json.dumps(event("AfterAgent")).encode(), env=env, timeout=10,
                   check=True)
    assert hook_events.agent_reports(tmp_path)["webapp.engineer-2"].session_id == "sess-1"
    unsafe = {**env, "TMUX_PANE": "%7", "ORC_AGENT_LABEL": "../x"}
    subprocess.run(["sh", "-c", command], input=json.dumps(event("AfterAgent")).encode(), env=unsafe, timeout=10,
                   check=True)
    assert list(hook_events.agent_reports(tmp_path)) == ["webapp.engineer-2"]
    assert hook_events.latest_reports(tmp_path)["%7"].event == "AfterAgent"


def test_a_run_that_got_no_event_keeps_the_agents_session(tmp_path: Path) -> None:
    """Seen in a real reboot: the tmux server was killed as Claude Code started a hook, whose
    stdin stayed empty. That run must not replace the report `--resume` reads the session from."""
    env = {"PATH": os.environ["PATH"], "TMUX": f"{SOCKET},1,0", "TMUX_PANE": "%5", **scratch_env(tmp_path)}
    command = hook_command(SUITE, tmp_path, agent="webapp.engineer")
    subprocess.run(["sh", "-c", command], input=json.dumps(event("Stop")).encode(), env=env, timeout=10, check=True)
    for stdin in (b"", b"{}"):
        done = subprocess.run(["sh", "-c", command], input=stdin, env=env, capture_output=True, timeout=10)
        assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    assert hook_events.agent_reports(tmp_path)["webapp.engineer"].session_id == "sess-1"
    assert hook_events.latest_reports(tmp_path)["%5"].event == "Stop"
    logged = [line.split()[1] for line in (tmp_path / "hooks" / "events.log").read_text().splitlines()]
    assert logged == ["Stop", "-", "-"]  # still seen in the log

# --- events that need a person start `orc attention-event` in the background ---------------


def scratch_env(tmp_path: Path) -> dict[str, str]:
    """What the background run reads besides the state folder, pointed at scratch files (never
    the user's crontab or projects file)."""
    return {"ORC_CRONTAB_FILE": str(tmp_path / "crontab"), "ORC_PROJECT_CONFIG": str(tmp_path / "no-projects.json")}


def labelled_hook(tmp_path: Path, payload: object, agent: str | None = "shop.engineer",
                  **extra: str) -> tuple[subprocess.CompletedProcess[bytes], float]:
    env = {"PATH": os.environ["PATH"], "TMUX": f"{SOCKET},1,0", "TMUX_PANE": "%3", **scratch_env(tmp_path), **extra}
    started = time.monotonic()
    done = subprocess.run(["sh", "-c", hook_command(SUITE, tmp_path / "state", agent=agent)],
                          input=json.dumps(payload).encode(), env=env, capture_output=True, timeout=10)
    return done, time.monotonic() - started


def background_outcomes(tmp_path: Path) -> list[str]:
    log = tmp_path / "state" / "hooks" / "attention-events.log"
    return log.read_text().splitlines() if log.exists() else []


@pytest.mark.parametrize("payload, case", [
    (event("SessionEnd", reason="prompt_input_exit"), "exited"),
    (event("SessionEnd", reason="other"), "exited"),   # what a SIGTERM'd Claude Code reports
    (event("SessionEnd", reason="clear"), ""),          # /clear: the same agent goes on
    (event("StopFailure", error="rate_limit"), "failed"),
    (event("StopFailure", error="server_error"), "failed"),
    (event("PermissionRequest", tool_name="Bash"), "dialog"),
    (event("Notification", notification_type="permission_prompt"), "dialog"),
    (event("Notification", notification_type="elicitation_dialog"), "dialog"),
    (event("Notification", notification_type="idle_prompt"), ""),
    (event("Stop", last_assistant_message="Done."), ""),
    (event("UserPromptSubmit", prompt="hi"), ""),
    (event("PreToolUse", tool_name="Bash"), ""),
])
def test_which_events_may_need_a_person(payload: dict[str, object], case: str) -> None:
    from orc.record import hook
    fields = hook.report_fields(payload, {"TMUX_PANE": "%3", "TMUX": f"{SOCKET},1,0"}, 1.0)
    assert hook.attention_case(fields) == case


def test_a_dialog_starts_a_detached_background_run_the_hook_does_not_wait_for(tmp_path: Path) -> None:
    done, elapsed = labelled_hook(tmp_path, event("PermissionRequest", tool_name="Bash"), ORC_ATTENTION_SECONDS="3")
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    # capture_output waits for every holder of the hook's stdout and stderr: returning before
    # 3 s proves the background run, which waits 3 s for the dialog, holds neither.
    assert elapsed < 3.0
    state = str(tmp_path / "state")

    def running() -> list[int]:
        # -ww: the whole command line, whatever COLUMNS says (procps and BSD ps alike)
        table = subprocess.run(["ps", "-ww", "-A", "-o", "pid=,args="], capture_output=True, text=True).stdout
        return [int(row.split(None, 1)[0]) for row in table.splitlines()
                if "attention-event dialog" in row and state in row]

    pids = wait_for(running, timeout=5, what="the background attention-event run")
    assert os.getsid(pids[0]) == pids[0]  # its own session: the agent's pane going away does not end it
    if Path(f"/proc/{pids[0]}/fd").is_dir():  # Linux: and its stdin, stdout and stderr are /dev/null
        assert [os.readlink(f"/proc/{pids[0]}/fd/{n}") for n in (0, 1, 2)] == ["/dev/null"] * 3
    assert background_outcomes(tmp_path) == []
    # No tmux server at SOCKET, so no dialog on any screen: after the wait it ends quietly.
    lines = wait_for(lambda: background_outcomes(tmp_path), timeout=20, what="its outcome")
    assert len(lines) == 1 and "case=dialog" in lines[0] and "result=answered" in lines[0], lines
    assert not (tmp_path / "state" / "attention.log").exists()


def test_only_labelled_events_that_need_a_person_start_anything(tmp_path: Path) -> None:
    quiet = [event("Stop"), event("UserPromptSubmit", prompt="hi"), event("SessionStart", source="startup"),
             event("Notification", notification_type="idle_prompt"), event("SessionEnd", reason="clear")]
    for payload in quiet:
        done, _ = labelled_hook(tmp_path, payload, **DEBUG)
        assert (done.returncode, done.stdout) == (0, b"") and own_seconds(done.stderr) < _STDIN_SECONDS
    # An agent started by hand carries no label: nothing names its project and role.
    done, _ = labelled_hook(tmp_path, event("SessionEnd", reason="other"), agent=None)
    assert done.returncode == 0
    # The control: one that does start it, after all the others.
    done, _ = labelled_hook(tmp_path, event("SessionEnd", reason="other"), **DEBUG)
    assert done.returncode == 0 and own_seconds(done.stderr) < _STDIN_SECONDS
    lines = wait_for(lambda: background_outcomes(tmp_path), timeout=20, what="the control's outcome")
    assert len(lines) == 1 and "case=exited" in lines[0] and "not a configured agent" in lines[0], lines


def test_the_hook_exits_zero_silently_and_keeps_the_report_when_the_background_cannot_start(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Fault injected: ``os.posix_spawn`` and ``os.fork`` fail, as with a full process table."""
    import sys

    from orc.record import hook
    def refuse(*args: object, **kwargs: object) -> None:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "posix_spawn", refuse)
    monkeypatch.setattr(os, "fork", refuse)
    monkeypatch.setenv("TMUX_PANE", "%3")
    monkeypatch.setenv("TMUX", f"{SOCKET},1,0")
    data = tmp_path / "event.json"
    data.write_text(json.dumps(event("StopFailure", error="overloaded")))
    with data.open("rb") as stdin:
        monkeypatch.setattr(sys, "stdin", stdin)
        started = time.monotonic()
        assert hook.main(["--state-dir", str(tmp_path / "state"), "--agent", "shop.engineer"]) == 0
    assert time.monotonic() - started < 0.8
    assert capsys.readouterr() == ("", "")
    report = hook_events.agent_reports(tmp_path / "state")["shop.engineer"]
    assert (report.event, report.detail) == ("StopFailure", "overloaded")
