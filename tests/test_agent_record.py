"""The agent's own record, with real processes and real tmux servers: the session registry
(entries written in Claude Code's format for the fake agent's process), the foreground
process group, the combined state, and the transcript reader."""

from __future__ import annotations

import json
import re
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from libtmux import Server

from support import FAKE_AGENT, SUITE, socket_path_of, wait_for
from orc.core.settings import default_config_dirs
from orc.record.agent_registry import is_live, linux_proc_start, parse_entry, project_slug, read_entries
from orc.record.agent_state import AgentState, combine
from orc.messages.delivery import TranscriptWatch
from orc.record.process_groups import ProcessTable, only_shells, parse_ps
from tmux_utils import StateSources, Tmux
from orc.record.snapshot import look


def proc_start(pid: int) -> str:
    """What Claude Code records as ``procStart`` for ``pid`` on this system."""
    if sys.platform.startswith("linux"):
        found = linux_proc_start(pid)
        assert found is not None
        return found
    return ProcessTable.read().by_pid[pid].started


def write_entry(config_dir: Path, pid: int, pane: str | None, status: str = "idle", *, start: str | None = None,
                updated_ago: float = 2.0, **extra: object) -> Path:
    """A sessions/<pid>.json as Claude Code 2.1.328 writes it (fields measured from the real CLI)."""
    folder = config_dir / "sessions"
    folder.mkdir(parents=True, exist_ok=True)
    now_ms = int((time.time() - updated_ago) * 1000)
    data: dict[str, object] = {
        "pid": pid, "sessionId": f"5e55{pid:08d}-0000-4000-8000-000000000000", "cwd": "/tmp/x/my.proj_dir name",
        "startedAt": now_ms, "procStart": start if start is not None else proc_start(pid), "version": "2.1.328",
        "kind": "interactive", "entrypoint": "cli", "status": status, "updatedAt": now_ms, "statusUpdatedAt": now_ms,
        **extra,
    }
    if pane is not None:
        data["tmux"] = pane
    path = folder / f"{pid}.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# --- pure parts -----------------------------------------------------------------------------------


def test_ps_lines_parse_with_spaces_in_commands_and_both_tty_forms() -> None:
    out = (" 9027  9027  9027 Thu Nov 26 12:59:33 2026 pts/0    bash\n"
           " 9030  9027  9027 Thu Nov 26 12:59:33 2026 pts/0    claude\n"
           " 9026  9026    -1 Thu Nov 26 12:59:33 2026 ?        tmux: server\n"
           "  412   412   412 Wed Nov 25 08:01:02 2026 ttys001  /bin/zsh\n"
           "garbage line\n")
    table = parse_ps(out)
    assert [(p.pid, p.tty, p.command, p.in_foreground) for p in table] == [
        (9027, "pts/0", "bash", True), (9030, "pts/0", "claude", True),
        (9026, "", "tmux: server", False), (412, "ttys001", "zsh", True)]
    assert table[0].started == "Thu Nov 26 12:59:33 2026"


def test_only_shells_counts_a_pane_as_a_shell() -> None:
    assert only_shells(["bash"]) and only_shells(["-zsh", "sh"])
    assert not only_shells(["bash", "claude"])
    assert not only_shells(["bash", "2.1.328"])        # claude started by its version path
    assert not only_shells(["npm exec claude", "sh"])  # npx
    assert not only_shells([])


def test_transcript_folder_name_is_the_cwd_with_each_non_alphanumeric_as_a_dash() -> None:
    assert project_slug("/tmp/x/my.proj_dir name") == "-tmp-x-my-proj-dir-name"


def test_config_dirs_setting_then_claude_config_dir_then_home() -> None:
    assert default_config_dirs({"ORC_CLAUDE_CONFIG_DIRS": "/a:/b/c", "CLAUDE_CONFIG_DIR": "/x"}) == (
        Path("/a"), Path("/b/c"))
    assert default_config_dirs({"CLAUDE_CONFIG_DIR": "/x", "HOME": "/h"}) == (Path("/x"),)
    assert default_config_dirs({"HOME": "/h"}) == (Path("/h/.claude"),)


def test_an_entry_names_pane_session_window_and_transcript() -> None:
    entry = parse_entry({"pid": 5, "sessionId": "abc", "cwd": "/w/p.q", "tmux": "my:team:@3.%12", "status": "waiting",
                         "waitingFor": "permission prompt", "statusUpdatedAt": 1_700_000_000_000, "version": "2.1.328"},
                        Path("/cfg"))
    assert entry is not None
    assert (entry.tmux_session, entry.window_id, entry.pane_id) == ("my:team", "@3", "%12")
    assert (entry.status, entry.waiting_for, entry.status_updated_at) == ("waiting", "permission prompt", 1_700_000_000.0)
    assert entry.transcript_path == Path("/cfg/projects/-w-p-q/abc.jsonl")
    assert parse_entry({"pid": "5", "sessionId": "abc"}, Path("/cfg")) is None
    assert parse_entry(["not", "an", "entry"], Path("/cfg")) is None


@pytest.mark.parametrize("screen, registry, expected", [
    ("idle", "idle", ("idle", "registry")),
    ("unknown", "idle", ("idle", "registry")),       # screen patterns that recognise nothing
    ("shell", "busy", ("shell", "screen")),          # a suspended agent: the shell reads the keys
    ("idle", "waiting", ("waiting", "registry")),    # the dialog any source sees wins
    ("waiting", "busy", ("waiting", "screen")),
    ("typing", "idle", ("typing", "screen")),        # someone's unsent text
    ("busy", "idle", ("idle", "registry")),          # among typable states the record decides
    ("dead", "idle", ("dead", "screen")),
    ("copy-mode", "busy", ("copy-mode", "screen")),
])
def test_sources_agree_or_the_state_in_which_nothing_is_typed_wins(screen: str, registry: str,
                                                                   expected: tuple[str, str]) -> None:
    record = AgentState(registry, "registry", 3.0, "sid", "2.1.328", "/t.jsonl", None, 42)
    combined = combine(screen, record)
    assert (combined.state, combined.source) == expected
    if expected[0] not in ("shell", "dead", "copy-mode"):
        assert (combined.session_id, combined.version, combined.pid) == ("sid", "2.1.328", 42)


def test_tmux_shell_is_overruled_by_a_live_entry_only_when_the_process_group_is_unknown() -> None:
    record = AgentState("busy", "registry", 1.0, "sid")
    assert combine("shell", record, shell_certain=False).state == "busy"
    assert combine("shell", record, shell_certain=True).state == "shell"
    assert combine("shell", None, shell_certain=False).state == "shell"


# --- the transcript -------------------------------------------------------------------------------


def test_transcript_watch_reads_only_what_is_appended_and_finds_every_form_of_a_prompt(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    old = {"type": "user", "message": {"role": "user", "content": "sent before the watch"}}
    path.write_text(json.dumps(old) + "\n", encoding="utf-8")
    watch = TranscriptWatch(path)
    assert not watch.holds("sent before the watch")

    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps({"type": "user", "message": {"role": "user", "content": "a\tb  "}}) + "\n")
        f.write(json.dumps({"type": "queue-operation", "operation": "enqueue", "content": "queued one"}) + "\n")
        f.write(json.dumps({"type": "attachment", "attachment": {"type": "queued_command", "prompt": "attached"}}) + "\n")
        envelope = '\n\n<pasted_content id="ab12">\nline 1\nline 2\nline 3\nline 4\n</pasted_content id="ab12">\n'
        f.write(json.dumps({"type": "user", "message": {"role": "user", "content": [{"type": "text", "text": envelope}]}}) + "\n")
        f.write('{"type": "user", "message": {"role": "user", "content": "half a li')  # being written
    assert watch.holds("a\tb")
    assert watch.holds("queued one") and watch.holds("attached")
    assert watch.holds("line 1\nline 2\nline 3\nline 4")
    assert not watch.holds("half a line")
    with path.open("a", encoding="utf-8") as f:
        f.write('ne"}}\n')
    assert watch.holds("half a line")
    assert not watch.holds("never sent")


def test_a_transcript_written_only_after_the_watch_began_counts_from_its_start(tmp_path: Path) -> None:
    path = tmp_path / "later.jsonl"
    watch = TranscriptWatch(path)
    assert not watch.exists() and not watch.holds("first")
    path.write_text(json.dumps({"type": "user", "message": {"content": "first"}}) + "\n", encoding="utf-8")
    assert watch.holds("first")


# --- real processes and tmux servers --------------------------------------------------------------


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(["sleep", "300"])
    yield process
    process.kill()
    process.wait()


def test_entries_of_gone_or_reused_processes_are_dropped(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    config = tmp_path / "cfg"
    write_entry(config, sleeper.pid, "team:@0.%0")
    table = ProcessTable.read()
    assert [e.pid for e in read_entries([config], table)] == [sleeper.pid]

    write_entry(config, sleeper.pid, "team:@0.%0", start="12345")   # pid reused by another process
    entry = parse_entry(json.loads((config / "sessions" / f"{sleeper.pid}.json").read_text()), config)
    assert entry is not None and not is_live(entry, table)
    assert read_entries([config], ProcessTable.read()) == []

    sleeper.kill()
    sleeper.wait()
    write_entry(config, sleeper.pid, "team:@0.%0", start="1")       # crashed: its file left behind
    assert read_entries([config], ProcessTable.read()) == []


def test_an_unreadable_registry_falls_back_to_the_cli_and_then_to_nothing(tmp_path: Path) -> None:
    config = tmp_path / "cfg"
    (config / "sessions").mkdir(parents=True)
    (config / "sessions" / "1.json").write_text('{"a format": "this suite does not know"}', encoding="utf-8")
    missing_cli = str(tmp_path / "no-such-claude")
    assert read_entries([config], ProcessTable.read(), "files", missing_cli) == []
    assert read_entries([config], ProcessTable.read(), "cli", missing_cli) == []


def start_fake_agent(tmux: Tmux, tmp_path: Path, window: str, then_shell: bool) -> str:
    """The fake agent in a new window; with ``then_shell`` as ``agent; exec bash`` (tmux then names bash)."""
    record, ready = tmp_path / f"{window}.jsonl", tmp_path / f"{window}.ready"
    agent = shlex.join([sys.executable, str(FAKE_AGENT), "--record", str(record), "--ready-file", str(ready)])
    command = f"{agent}; exec bash" if then_shell else agent
    if tmux.has_session("team"):
        pane = tmux.new_window("team", window, command, str(tmp_path))
    else:
        pane = tmux.new_session("team", window, command, str(tmp_path), width=100, height=30)
    wait_for(ready.exists, what="the fake agent's prompt")
    return pane.pane_id


def agent_pid(pane_tty: str) -> int:
    """The fake agent's process: the python3 in the terminal's foreground group."""
    table = ProcessTable.read()
    tty = table.tty_key(pane_tty)
    return next(p.pid for p in table.processes if p.tty == tty and p.in_foreground and "python" in p.command)


def test_an_agent_under_a_shell_leader_is_read_from_its_process_group(tmux: Tmux, tmp_path: Path) -> None:
    pane_id = start_fake_agent(tmux, tmp_path, "kept", then_shell=True)
    snap = look(tmux, pane_id, sources=StateSources(()))
    assert snap.pane.current_command == "bash"       # what tmux says
    assert (snap.state, snap.agent.source) == ("idle", "screen")
    # /proc and one portable ps call see the same foreground group.
    from_proc = ProcessTable.read().foreground_commands([snap.pane.tty])
    env = {**os.environ, "LC_ALL": "C", "TZ": "UTC"}
    out = subprocess.run(["ps", "-A", "-o", "pid=,pgid=,tpgid=,lstart=,tty=,comm="], capture_output=True, text=True,
                         env=env, check=True).stdout
    from_ps = ProcessTable(parse_ps(out)).foreground_commands([snap.pane.tty])
    assert from_proc == from_ps and not only_shells(from_ps[snap.pane.tty])


def test_a_pane_whose_foreground_group_is_only_shells_is_a_shell(tmux: Tmux, tmp_path: Path) -> None:
    pane = tmux.new_session("team", "sh", "sh", str(tmp_path), width=100, height=30)
    wait_for(lambda: look(tmux, pane.pane_id, sources=StateSources(())).state == "shell", what="the shell")


def test_registry_joins_panes_of_this_server_only_and_its_state_wins(tmux: Tmux, server: Server, tmp_path: Path,
                                                                      orc_env: dict[str, str]) -> None:
    pane_id = start_fake_agent(tmux, tmp_path, "agent", then_shell=True)
    other_server = Server(socket_name=f"orc-other-{os.getpid()}-{time.monotonic_ns()}")
    try:
        other = Tmux(socket_path_of(other_server), tmux.binary)
        other_pane = other.new_session("team", "agent", "sh", str(tmp_path), width=100, height=30).pane_id
        assert other_pane == pane_id                 # pane ids repeat across servers
        pane = tmux.pane(pane_id)
        config = tmp_path / "cfg"
        write_entry(config, agent_pid(pane.tty), f"team:{pane.window_id}.{pane_id}", "waiting",
                    waitingFor="permission prompt", updated_ago=3.0)
        sources = StateSources((config,))

        snap = look(tmux, pane_id, sources=sources)
        assert (snap.state, snap.agent.source, snap.agent.detail) == ("waiting", "registry", "permission prompt")
        assert snap.agent.age is not None and 2.5 < snap.agent.age < 60
        assert snap.agent.version == "2.1.328" and snap.agent.session_id
        # The other server's pane %N with the same name is not the agent's.
        assert look(other, other_pane, sources=sources).agent.source == "screen"

        env = {**orc_env, "ORC_CLAUDE_CONFIG_DIRS": str(config)}
        done = subprocess.run([sys.executable, str(SUITE / "tmux_utils.py"), "--json", "--lines", "1"], env=env,
                              capture_output=True, text=True, timeout=30)
        shown = json.loads(done.stdout)[0]
        assert {k: shown[k] for k in ("pane_id", "state", "source", "version", "detail")} == {
            "pane_id": pane_id, "state": "waiting", "source": "registry", "version": "2.1.328",
            "detail": "permission prompt"}
        assert shown["session_id"] and shown["age"] > 2.5 and shown["tty"] == pane.tty
    finally:
        other_server.kill()


def test_send_message_refuses_a_dialog_only_the_registry_sees(tmux: Tmux, tmp_path: Path,
                                                             orc_env: dict[str, str]) -> None:
    pane_id = start_fake_agent(tmux, tmp_path, "agent", then_shell=True)
    pane = tmux.pane(pane_id)
    config = tmp_path / "cfg"
    write_entry(config, agent_pid(pane.tty), f"team:{pane.window_id}.{pane_id}", "waiting")
    env = {**orc_env, "ORC_CLAUDE_CONFIG_DIRS": str(config)}
    done = subprocess.run([str(SUITE / "send_message.sh"), "team:agent", "hello"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1 and "dialog" in done.stderr
    assert "hello" not in "\n".join(tmux.capture(pane_id))


@pytest.mark.parametrize("screen, hook, age, expected", [
    ("idle", "waiting", 0.2, ("waiting", "hook")),  # a dialog just reported, not drawn yet: it wins
    ("busy", "waiting", 30.0, ("waiting", "hook")),  # no input box on the screen: the report stands
    ("unknown", "waiting", 30.0, ("waiting", "hook")),
    ("waiting", "busy", 30.0, ("waiting", "screen")),
    ("busy", "idle", 1.0, ("idle", "hook")),
    ("unknown", "idle", 1.0, ("unknown", "hook")),  # a past event alone cannot show an agent still runs
    ("unknown", "exited", 1.0, ("exited", "hook")),
    ("idle", "exited", 1.0, ("idle", "screen")),  # an agent is back: a new session without hooks
    ("shell", "busy", 1.0, ("shell", "screen")),
])
def test_hook_reports_count_where_the_registry_is_absent(screen: str, hook: str, age: float,
                                                         expected: tuple[str, str]) -> None:
    report = AgentState(hook, "hook", age, "sid", None, "/t.jsonl", None)
    combined = combine(screen, None, report)
    assert (combined.state, combined.source) == expected


@pytest.mark.parametrize("screen, hook, young, old", [
    ("idle", "waiting", "waiting", "idle"),  # the dialog declined with Esc: Claude Code fires no event
    ("typing", "waiting", "waiting", "typing"),  # and a person started typing
    ("idle", "busy", "busy", "idle"),        # a turn interrupted with Esc: no Stop either
])
def test_an_old_hook_report_gives_way_to_a_screen_that_shows_the_input_box(screen: str, hook: str, young: str,
                                                                            old: str) -> None:
    from orc.record.agent_state import HOOK_SETTLE_SECONDS

    just_now = AgentState(hook, "hook", HOOK_SETTLE_SECONDS / 2, "sid", None, "/t.jsonl", "Bash")
    assert combine(screen, None, just_now).state == young  # the screen may not show the event yet
    earlier = AgentState(hook, "hook", HOOK_SETTLE_SECONDS, "sid", None, "/t.jsonl", "Bash")
    combined = combine(screen, None, earlier)
    assert (combined.state, combined.source, combined.detail) == (old, "screen", None)
    assert (combined.session_id, combined.transcript_path) == ("sid", "/t.jsonl")  # the record's facts stay


def test_with_the_registry_the_hooks_last_event_says_nothing_about_the_state() -> None:
    """A declined dialog fires no hook: the report would stay "waiting" while the agent is idle."""
    registry = AgentState("idle", "registry", 1.0, "sid")
    assert combine("idle", registry, AgentState("waiting", "hook", 9.0, "sid")).state == "idle"


def test_hooks_prove_receipt_where_the_agent_keeps_no_transcript(tmux: Tmux, tmp_path: Path,
                                                                 orc_env: dict[str, str]) -> None:
    """The fake agent runs the real `orc hook` as its UserPromptSubmit hook, as Claude Code would."""
    from orc.record.hooks_settings import hook_command

    state = Path(orc_env["ORC_STATE_DIR"])
    record, ready = tmp_path / "hooked.jsonl", tmp_path / "hooked.ready"
    agent = shlex.join([sys.executable, str(FAKE_AGENT), "--record", str(record), "--ready-file", str(ready),
                        "--hook-command", hook_command(SUITE, state)])
    tmux.new_session("team", "agent", f"{agent}; exec bash", str(tmp_path), width=100, height=30)
    wait_for(ready.exists, what="the fake agent's prompt")
    env = {**orc_env, "ORC_CLAUDE_CONFIG_DIRS": str(tmp_path / "no-registry")}

    def send(text: str, **extra: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([str(SUITE / "send_message.sh"), "team:agent", text], env={**env, **extra},
                              capture_output=True, text=True, timeout=60)
        wait_for(lambda: look(tmux, "%0", sources=StateSources(())).state == "idle", what="idle again")
        return done

    first = send("proven by the hook")
    assert first.returncode == 0 and "proof: hook" in first.stdout, first.stderr
    # With the screen patterns broken, a past hook event alone cannot show that the agent
    # still owns the keyboard (it may have crashed and another program taken over): nothing typed.
    blind = send("the screen sees nothing", ORC_AGENT_KIND="record-only")
    assert blind.returncode == 3 and "nothing typed" in blind.stderr, blind.stderr
    again = send("the screen is back")
    assert again.returncode == 0 and "proof: hook" in again.stdout, again.stderr
    submitted = [json.loads(line)["text"] for line in record.read_text().splitlines()
                 if json.loads(line)["event"] == "submitted"]
    assert submitted == ["proven by the hook", "the screen is back"]
    assert re.findall(r"\bproof=(\S+)", (state / "delivery.log").read_text()) == ["hook", "none", "hook"]


def test_read_pane_state_answers_whether_an_agent_is_in_a_pane(tmux: Tmux, tmp_path: Path, settings: object) -> None:
    from orc.record.snapshot import read_pane_state

    agent_pane = start_fake_agent(tmux, tmp_path, "agent", then_shell=True)
    shell_pane = tmux.new_window("team", "sh", "sh", str(tmp_path)).pane_id
    wait_for(lambda: read_pane_state(tmux, settings, shell_pane).state == "shell", what="the shell")  # type: ignore[arg-type]
    state = read_pane_state(tmux, settings, agent_pane)  # type: ignore[arg-type]
    assert (state.state, state.source) == ("idle", "screen")


@pytest.mark.parametrize("hours, expected", [(2, "limited"), (-2, "unknown")])
def test_a_usage_limit_on_the_screen_reads_limited_until_its_reset(tmux: Tmux, tmp_path: Path, hours: int,
                                                                   expected: str) -> None:
    from datetime import datetime, timedelta, timezone

    reset = datetime.now(timezone.utc) + timedelta(hours=hours)
    shown = reset.strftime("%b %d, %I:%M%p").replace(" 0", " ").lower().capitalize()
    script = tmp_path / "limited.sh"
    # Claude Code 2.1.328's line (tests/e2e/SCREENS.md); a non-shell keeps the terminal's foreground.
    script.write_text(f"printf '%s\\n' \"  ⎿  You've hit your weekly limit · resets {shown} (UTC)\"\nexec sleep 600\n",
                      encoding="utf-8")
    pane = tmux.new_session("team", "agent", f"sh {shlex.quote(str(script))}", str(tmp_path), width=100, height=30)
    wait_for(lambda: any("weekly limit" in line for line in tmux.capture(pane.pane_id)), what="the limit line")
    snap = look(tmux, pane.pane_id, sources=StateSources(()))
    assert snap.state == expected, snap.agent
    if expected == "limited":
        assert snap.agent.detail == f"resets {reset.replace(second=0, microsecond=0).isoformat(timespec='minutes')}"


# --- the config dir from the agent's own environment (no setting) -------------------------------


def start_agent_with_env(tmux: Tmux, tmp_path: Path, window: str, **env: str) -> str:
    """The fake agent started as people start an agent of another account: ``env NAME=value ...``."""
    record, ready = tmp_path / f"{window}.jsonl", tmp_path / f"{window}.ready"
    agent = shlex.join(["env", *(f"{k}={v}" for k, v in env.items()), sys.executable, str(FAKE_AGENT),
                        "--record", str(record), "--ready-file", str(ready)])
    if tmux.has_session("team"):
        pane = tmux.new_window("team", window, f"{agent}; exec bash", str(tmp_path))
    else:
        pane = tmux.new_session("team", window, f"{agent}; exec bash", str(tmp_path), width=100, height=30)
    wait_for(ready.exists, what="the fake agent's prompt")
    return pane.pane_id


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="the Linux path: /proc/<pid>/environ")
def test_an_agents_own_config_dir_and_home_are_read_from_its_environment(tmux: Tmux, tmp_path: Path,
                                                                         orc_env: dict[str, str]) -> None:
    """Two agents of two accounts, one with its own CLAUDE_CONFIG_DIR, one with its own HOME:
    both registry entries are found with no config dir named anywhere."""
    from orc.record import agent_registry

    own_dir, other_home = tmp_path / "account two", tmp_path / "home3"
    first = start_agent_with_env(tmux, tmp_path, "acct2", CLAUDE_CONFIG_DIR=str(own_dir), HOME=str(tmp_path))
    second = start_agent_with_env(tmux, tmp_path, "acct3", HOME=str(other_home))
    for pane_id, config, status in ((first, own_dir, "waiting"), (second, other_home / ".claude", "busy")):
        pane = tmux.pane(pane_id)
        write_entry(config, agent_pid(pane.tty), f"team:{pane.window_id}.{pane_id}", status)
    nowhere = StateSources(())  # no config dir given at all
    for pane_id, config, status in ((first, own_dir, "waiting"), (second, other_home / ".claude", "busy")):
        snap = look(tmux, pane_id, sources=nowhere)
        assert (snap.state, snap.agent.source) == (status, "registry"), snap.agent
        assert snap.agent.transcript_path is not None and snap.agent.transcript_path.startswith(str(config / "projects"))
        # Without reading the agents' environments, neither entry is found.
        blind = look(tmux, pane_id, sources=StateSources((), agent_environ=False))
        assert blind.agent.source == "screen"
    pid = agent_pid(tmux.pane(first).tty)
    assert any(key[0] == pid for key in agent_registry._DIR_OF_PROCESS)  # read once, kept for its life

    # The command lines, with no ORC_CLAUDE_CONFIG_DIRS: tmux_utils.py and send_message.sh.
    env = {k: v for k, v in orc_env.items() if k not in ("ORC_CLAUDE_CONFIG_DIRS", "CLAUDE_CONFIG_DIR")}
    done = subprocess.run([sys.executable, str(SUITE / "tmux_utils.py"), "--json", "--lines", "1"], env=env,
                          capture_output=True, text=True, timeout=30)
    shown = {p["pane_id"]: (p["state"], p["source"]) for p in json.loads(done.stdout)}
    assert shown[first] == ("waiting", "registry") and shown[second] == ("busy", "registry"), shown
    refused = subprocess.run([str(SUITE / "send_message.sh"), "team:acct2", "hello"], env=env,
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "dialog" in refused.stderr, refused.stderr
    assert "hello" not in "\n".join(tmux.capture(first))


def test_an_environment_that_cannot_be_read_is_skipped_silently(tmp_path: Path) -> None:
    """A process that ended (as another user's would be unreadable) has no environment to give."""
    from orc.record.process_groups import read_environ

    gone = subprocess.Popen(["true"])
    gone.wait()
    assert read_environ(gone.pid) is None
    assert read_environ(os.getpid(), ("HOME",)) == {"HOME": os.environ["HOME"]} or "HOME" not in os.environ
    from orc.record.agent_registry import config_dir_of

    assert config_dir_of({"CLAUDE_CONFIG_DIR": "/a/b", "HOME": "/h"}) == Path("/a/b")
    assert config_dir_of({"HOME": "/h"}) == Path("/h/.claude")
    assert config_dir_of({"CLAUDE_CONFIG_DIR": "relative"}) is None and config_dir_of({}) is None


def test_ps_eww_lines_give_the_environment_where_there_is_no_proc(tmp_path: Path) -> None:
    """The macOS path, on a real process: ``ps eww`` prints its arguments, then its environment."""
    import shutil

    from orc.record.process_groups import ps_environments

    probe = subprocess.run(["ps", "eww", "-o", "pid=,command=", "-p", str(os.getpid())], capture_output=True, text=True)
    if probe.returncode != 0 or "HOME=" not in probe.stdout:
        pytest.skip("this ps prints no environment with eww")
    sleeper = subprocess.Popen(["env", "-i", f"HOME={tmp_path}/h", "CLAUDE_CONFIG_DIR=/cfg/two",
                                shutil.which("sleep") or "/bin/sleep", "30"])
    try:
        found = wait_for(lambda: ps_environments([sleeper.pid]).get(sleeper.pid, {}).get("CLAUDE_CONFIG_DIR") and
                         ps_environments([sleeper.pid]), what="the sleeper's environment")
        assert found == {sleeper.pid: {"CLAUDE_CONFIG_DIR": "/cfg/two", "HOME": f"{tmp_path}/h"}}  # type: ignore[comparison-overlap]
    finally:
        sleeper.kill()
        sleeper.wait()


def test_an_entry_whose_process_has_no_terminal_is_in_no_pane(tmux: Tmux, tmp_path: Path) -> None:
    """A replaced agent (``restart``: ``respawn-pane -k`` hangs it up) keeps running for a moment
    on no terminal while its entry still names the pane by id: it is not the pane's agent.
    Measured with Claude Code 2.1.328: right after the respawn the old process runs with no
    terminal (the new one has a new one); under load its entry outlived the hang-up, and
    ``restart`` took the old agent's ``idle`` for the new agent's and briefed too early."""
    pane_id = start_fake_agent(tmux, tmp_path, "agent", then_shell=True)
    pane = tmux.pane(pane_id)
    config = tmp_path / "cfg"
    ended = subprocess.Popen(["sleep", "60"], start_new_session=True, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert ProcessTable.read().by_pid[ended.pid].tty == ""   # a session of its own: no terminal
        write_entry(config, ended.pid, f"team:{pane.window_id}.{pane_id}", "waiting")
        snap = look(tmux, pane_id, sources=StateSources((config,)))
        assert (snap.state, snap.agent.source) == ("idle", "screen"), snap.agent
        # The agent on the pane's terminal is joined as before.
        write_entry(config, agent_pid(pane.tty), f"team:{pane.window_id}.{pane_id}", "busy")
        assert look(tmux, pane_id, sources=StateSources((config,))).agent.source == "registry"
    finally:
        ended.kill()
        ended.wait()
