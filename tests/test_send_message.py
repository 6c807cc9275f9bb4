"""send_message.sh against a real tmux server and the fake agent (tests/fake_agent.py).

Each case checks both halves of "nothing lost": a message is submitted exactly once,
byte-exact, with exit 0; or it is not, the caller gets exit 1 and one line, and
nothing was typed.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from support import SUITE, Agent, run_script, wait_for
from tmux_utils import Tmux
from orc.record.snapshot import look

HARD_MESSAGES = {
    "several lines": "first line\nsecond line\n\nfourth after a blank",
    "quotes and substitutions": "it's \"quoted\" and $(rm -rf ~) and `whoami` and $HOME",
    "percent": "100% done, 50%% left",
    "trailing semicolon": "run the tests;",
    "leading dash": "-n check the build",
    "key name Enter": "Enter",
    "key name C-c": "C-c",
    "non-ascii": "Grüße, 你好, ✓ done — ok 🚀",
    "tab": "a\tb",
    "trailing backslash": "continue on the next line \\",
    "several KB": "\n".join(f"line {n}: " + "x" * 60 for n in range(80)),
}


def send(env: dict[str, str], *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_script("send_message.sh", *args, env=env, input=input)


@pytest.mark.parametrize("name", list(HARD_MESSAGES))
def test_hard_message_arrives_as_one_exact_submission(name: str, orc_env: dict[str, str], start_agent) -> None:
    agent: Agent = start_agent()
    text = HARD_MESSAGES[name]
    done = send(orc_env, "team:0", "-", input=text)
    assert done.returncode == 0, done.stderr
    assert agent.submitted() == [text]
    assert not [e for e in agent.events() if e["event"] == "approved"]


def test_words_are_joined_by_spaces_like_the_original(orc_env: dict[str, str], start_agent) -> None:
    agent = start_agent()
    done = send(orc_env, "team:0", "-n", "check", "the", "build;")
    assert done.returncode == 0, done.stderr
    assert agent.submitted() == ["-n check the build;"]
    assert "Message sent to team:0" in done.stdout


def test_control_characters_are_stripped_so_a_paste_cannot_be_ended_early(orc_env: dict[str, str], start_agent) -> None:
    agent = start_agent()
    done = send(orc_env, "team:0", "-", input="safe\x1b[201~\rtyped as keys?\x07\x9b end")
    assert done.returncode == 0, done.stderr
    assert agent.submitted() == ["safe[201~\ntyped as keys? end"]


def test_window_name_and_pane_id_targets(orc_env: dict[str, str], start_agent) -> None:
    first = start_agent(window="Claude-Agent")
    second = start_agent(window="Backend-Dev")
    assert send(orc_env, "team:Backend-Dev", "to backend").returncode == 0
    assert send(orc_env, first.pane.pane_id, "to agent by id").returncode == 0
    assert second.submitted() == ["to backend"]
    assert first.submitted() == ["to agent by id"]


def test_oversize_message_goes_to_a_private_file_and_a_pointer_is_typed(orc_env: dict[str, str], start_agent, tmp_path: Path) -> None:
    agent = start_agent()
    env = {**orc_env, "ORC_MAX_MESSAGE_BYTES": "1000"}
    text = "Big report\n" + "y" * 3000
    done = send(env, "team:0", "-", input=text)
    assert done.returncode == 0, done.stderr
    [typed] = agent.submitted()
    saved = next((tmp_path / "state" / "messages").iterdir())
    assert saved.read_text() == text + "\n"
    assert str(saved) in typed and typed.startswith("Big report\n")
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert stat.S_IMODE(saved.parent.stat().st_mode) == 0o700


def test_the_ink_paste_race_is_beaten_by_the_settle_delay(orc_env: dict[str, str], start_agent) -> None:
    """The fake agent swallows an Enter within 150 ms of a paste, as Ink does."""
    agent = start_agent("--paste-settle-ms", "150")
    assert send(orc_env, "team:0", "racing the paste").returncode == 0
    assert agent.submitted() == ["racing the paste"]
    assert not [e for e in agent.events() if e["event"] == "enter_swallowed"]


def test_a_swallowed_enter_is_retried_alone(orc_env: dict[str, str], start_agent) -> None:
    """With no settle delay the first Enter lands inside the paste; only Enter is sent again."""
    agent = start_agent("--paste-settle-ms", "400")
    env = {**orc_env, "ORC_PASTE_SETTLE": "0", "ORC_SUBMIT_TIMEOUT": "0.6"}
    done = send(env, "team:0", "retry me")
    assert done.returncode == 0, done.stderr
    assert [e["event"] for e in agent.events()].count("enter_swallowed") >= 1
    [submitted] = agent.submitted()
    assert submitted.strip() == "retry me"  # never typed twice


def test_into_a_busy_agent_the_message_is_queued_and_proven(orc_env: dict[str, str], start_agent) -> None:
    agent = start_agent("--busy-seconds", "3")
    assert send(orc_env, "team:0", "first").returncode == 0
    assert send(orc_env, "team:0", "second while busy").returncode == 0
    wait_for(lambda: len(agent.submitted()) == 2, timeout=10, what="the queued message")
    assert agent.submitted() == ["first", "second while busy"]


def test_refuses_while_a_permission_dialog_shows(orc_env: dict[str, str], start_agent, tmux: Tmux) -> None:
    agent = start_agent("--dialog-on-start")
    done = send(orc_env, "team:0", "please continue")
    assert done.returncode == 1
    assert "dialog" in done.stderr and len(done.stderr.splitlines()) == 1
    assert not [e for e in agent.events() if e["event"] in ("approved", "denied")]
    # Dismiss the dialog ourselves: the input box must be empty (nothing was typed).
    tmux.send_key(agent.pane.pane_id, "Escape")
    wait_for(lambda: look(tmux, agent.pane.pane_id).state == "idle", what="the idle prompt after Esc")
    assert agent.submitted() == []


def test_refuses_to_type_into_a_shell(orc_env: dict[str, str], tmux: Tmux, tmp_path: Path) -> None:
    tmux.new_session("dev", "server", "sh", str(tmp_path))
    wait_for(lambda: look(tmux, tmux.resolve("dev:0").pane_id).state == "shell", what="a shell")
    victim = tmp_path / "ran"
    done = send(orc_env, "dev:0", f"touch {victim}")
    assert done.returncode == 1
    assert "shell" in done.stderr and "--allow-shell" in done.stderr
    assert "touch" not in "\n".join(tmux.capture(tmux.resolve("dev:0").pane_id))
    assert not victim.exists()


def test_allow_shell_types_into_a_shell(orc_env: dict[str, str], tmux: Tmux, tmp_path: Path) -> None:
    tmux.new_session("dev", "server", "sh", str(tmp_path))
    victim = tmp_path / "ran"
    done = send(orc_env, "--allow-shell", "dev:0", f"touch {victim}")
    assert done.returncode == 0, done.stderr
    wait_for(victim.exists, what="the command to run")


def test_refuses_a_dead_pane(orc_env: dict[str, str], tmux: Tmux, tmp_path: Path) -> None:
    tmux.new_session("gone", "w", "sh", str(tmp_path))
    pane = tmux.resolve("gone:0")
    tmux.run("set-option", "-t", pane.pane_id, "-p", "remain-on-exit", "on")
    tmux.respawn(pane.pane_id, "true", str(tmp_path))
    wait_for(lambda: tmux.pane(pane.pane_id).dead, what="the pane to die")
    done = send(orc_env, "gone:0", "hello")
    assert done.returncode == 1 and "exited" in done.stderr


def test_refuses_over_someones_unsent_text(orc_env: dict[str, str], start_agent, tmux: Tmux) -> None:
    agent = start_agent()
    tmux.type_literal(agent.pane.pane_id, "a human draft")
    wait_for(lambda: look(tmux, agent.pane.pane_id).state == "typing", what="the draft")
    done = send(orc_env, "team:0", "incoming")
    assert done.returncode == 1 and "unsent text" in done.stderr
    screen = "\n".join(tmux.capture(agent.pane.pane_id))
    assert "a human draft" in screen and "incoming" not in screen
    assert agent.submitted() == []


def test_leaves_copy_mode_first(orc_env: dict[str, str], start_agent, tmux: Tmux) -> None:
    agent = start_agent()
    tmux.run("copy-mode", "-t", agent.pane.pane_id)
    assert tmux.pane(agent.pane.pane_id).in_mode
    assert send(orc_env, "team:0", "after copy mode").returncode == 0
    assert agent.submitted() == ["after copy mode"]


def test_missing_target_exits_1_with_one_line(orc_env: dict[str, str], start_agent) -> None:
    start_agent()
    done = send(orc_env, "team:9", "hello")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "no window '9'" in done.stderr


@pytest.mark.parametrize(
    "args, needle",
    [
        ([], "no target"),
        (["--list", "team:0", "extra"], "--list takes"),
        (["--cancel", "not-an-id"], "not a message id"),
        (["team:0"], "no message"),
        (["team"], "no message"),
        (["not a target", "hi"], "not one of"),
        (["team:0", "   "], "empty"),
        (["team:0", "/compact"], "slash command"),
        (["team:0", "!rm -rf /"], "shell command"),
    ],
)
def test_bad_usage_exits_2_and_changes_nothing(args: list[str], needle: str, orc_env: dict[str, str], start_agent,
                                               tmp_path: Path) -> None:
    agent = start_agent()
    done = send(orc_env, *args)
    assert done.returncode == 2
    assert needle in done.stderr and done.stderr.count("\n") == 1
    assert agent.submitted() == []
    assert not (tmp_path / "state" / "delivery.log").exists()


def test_special_flag_sends_a_slash_command(orc_env: dict[str, str], start_agent) -> None:
    agent = start_agent()
    assert send(orc_env, "--special", "team:0", "/compact").returncode == 0
    assert agent.submitted() == ["/compact"]


def send_at_once(sends: list[tuple[dict[str, str], str]]) -> list[int]:
    """Each (environment, message) sent to team:0 by its own process, all at once; their exit codes."""
    results: list[int] = []
    threads = [threading.Thread(target=lambda env=env, m=m: results.append(send(env, "team:0", m).returncode))
               for env, m in sends]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_parallel_senders_never_interleave(orc_env: dict[str, str], start_agent) -> None:
    agent = start_agent("--busy-seconds", "0.1")
    messages = [f"sender {n} says " + chr(ord("A") + n) * 40 for n in range(5)]
    assert send_at_once([(orc_env, m) for m in messages]) == [0] * 5
    wait_for(lambda: len(agent.submitted()) == 5, what="all five submissions")
    assert sorted(agent.submitted()) == sorted(messages)


def test_senders_of_two_copies_of_the_suite_never_interleave(orc_env: dict[str, str], start_agent,
                                                               tmp_path: Path) -> None:
    """A copy of the suite (or a second checkout) has its own state folder; its senders and the
    original's still take turns at one pane, by the lock beside the tmux server's socket."""
    agent = start_agent("--busy-seconds", "0.1")
    other = {**orc_env, "ORC_STATE_DIR": str(tmp_path / "copy-state")}
    messages = [f"copy {n % 2} sender {n} says " + chr(ord("A") + n) * 40 for n in range(6)]
    assert send_at_once([(other if n % 2 else orc_env, m) for n, m in enumerate(messages)]) == [0] * 6
    wait_for(lambda: len(agent.submitted()) == 6, what="all six submissions")
    assert sorted(agent.submitted()) == sorted(messages)
    folder = Path(orc_env["ORC_TMUX_SOCKET"]).parent / f"orc-locks-{os.getuid()}"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert not (tmp_path / "state" / "locks").exists() or not list((tmp_path / "state" / "locks").glob("pane-*"))


def test_pane_locks_beside_a_socket_in_a_folder_not_the_users_own_stay_in_the_state_folder(tmp_path: Path) -> None:
    from orc.core.locks import pane_locks_dir

    shared = tmp_path / "shared"
    shared.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (shared / f"orc-locks-{os.getuid()}").symlink_to(elsewhere)  # planted where the lock folder would be
    state = tmp_path / "state"
    assert pane_locks_dir(shared / "sock", state) == state / "locks"
    assert stat.S_IMODE((state / "locks").stat().st_mode) == 0o700
    assert list(elsewhere.iterdir()) == []
    mine = tmp_path / "mine"
    mine.mkdir()
    assert pane_locks_dir(mine / "sock", state) == mine / f"orc-locks-{os.getuid()}"


def test_every_attempt_is_one_log_line(orc_env: dict[str, str], start_agent, tmp_path: Path) -> None:
    start_agent()
    send(orc_env, "team:0", "logged")
    send(orc_env, "team:5", "not there")
    log = (tmp_path / "state" / "delivery.log").read_text().splitlines()
    assert len(log) == 2
    assert "result=submitted" in log[0] and "target=team:0" in log[0]
    assert "result=not-submitted" in log[1] and "target=team:5" in log[1]
    assert stat.S_IMODE((tmp_path / "state" / "delivery.log").stat().st_mode) == 0o600


def test_runs_from_a_symlink_a_path_with_spaces_and_a_bare_environment(orc_env: dict[str, str], start_agent,
                                                                      tmp_path: Path) -> None:
    """The suite copied to a folder with spaces, called through a symlink, with cron's environment."""
    agent = start_agent()
    copy = tmp_path / "my tools" / "tmux orchestrator"
    shutil.copytree(SUITE, copy, ignore=shutil.ignore_patterns("state", ".pytest_cache", "__pycache__", ".git", "npm"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "send_message").symlink_to(copy / "send_message.sh")
    bare = {
        "PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/"), "LOGNAME": "cron", "SHELL": "/bin/sh",
        "ORC_TMUX_SOCKET": orc_env["ORC_TMUX_SOCKET"], "ORC_STATE_DIR": orc_env["ORC_STATE_DIR"],
        "ORC_PYTHON": sys.executable,
        "ORC_TMUX_BIN": shutil.which("tmux") or "tmux",
    }
    done = subprocess.run([str(bin_dir / "send_message"), "team:0", "from cron"], env=bare, cwd="/",
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert agent.submitted() == ["from cron"]


def test_back_to_back_messages_across_turn_ends(orc_env: dict[str, str], start_agent) -> None:
    """Pastes that land while a turn ends (busy -> idle) are still proven, not misreported."""
    agent = start_agent("--busy-seconds", "0.15")
    messages = [f"message {n} of a quick burst" for n in range(8)]
    for text in messages:
        done = send(orc_env, "team:0", text)
        assert done.returncode == 0, done.stderr
    wait_for(lambda: len(agent.submitted()) == len(messages), what="every message")
    assert agent.submitted() == messages


def test_a_note_to_an_agent_still_starting_is_submitted_once_when_its_paste_shows(
        orc_env: dict[str, str], start_agent, tmux: Tmux) -> None:
    """Fault injection: the agent reads no input for its first 5 s (seen in a reboot of eight agents
    at once, where a resume note showed 8 s after its paste). `deliver` stops waiting for the paste
    first and says so; the suite's own notes (a briefing, a resume note) wait for it, then submit
    it: once, exactly, not typed again."""
    from orc.core.settings import load_settings
    from orc.messages.delivery import deliver, deliver_a_note

    settings = load_settings(orc_env)
    slow = start_agent("--read-input-after", "5")
    first = deliver(tmux, slow.pane.pane_id, "You were restarted: go on", settings)
    assert not first.submitted and "did not show in the input box" in first.reason
    wait_for(lambda: look(tmux, slow.pane.pane_id).state == "typing", timeout=10, what="the late paste to show")
    # Started again as before, the suite's note waits for its late paste, then submits it.
    again = start_agent("--read-input-after", "5")
    done = deliver_a_note(tmux, again.pane.pane_id, "You were restarted: go on", settings, "resume")
    assert done.submitted, done.reason
    wait_for(lambda: again.submitted() == ["You were restarted: go on"], timeout=10, what="one submission")
    # Something else in the box when the paste shows: the refusal stands, no key is pressed.
    other = start_agent("--read-input-after", "4")
    tmux.type_literal(other.pane.pane_id, "draft ")
    refused = deliver_a_note(tmux, other.pane.pane_id, "You were restarted: go on", settings, "resume")
    assert not refused.submitted and other.submitted() == []
