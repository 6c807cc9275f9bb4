"""Kept messages (orc/messages/mailbox.py) against a real tmux server and the fake agent.

Both halves of "nothing lost": a message the agent cannot take now is kept (exit 4, a
plain-text record), then typed once, in order, and proven as soon as the agent can take
it; or, where it cannot be kept, the caller is told (exit 1) and nothing changes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import SUITE, Agent, run_script, wait_for
from tmux_utils import Tmux
from orc.core.settings import load_settings
from orc.messages import mailbox
from orc.record.snapshot import StateSources, look


@pytest.fixture
def env(orc_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**orc_env, "ORC_CRONTAB_FILE": str(tmp_path / "crontab"), "ORC_DRAIN_WATCH_SECONDS": "60"}


def send(env: dict[str, str], *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_script("send_message.sh", *args, env=env, input=input)


def kept_id(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 4, (done.stdout, done.stderr)
    words = [w for w in done.stdout.split() if w.startswith("m-")]
    assert words, done.stdout
    return words[0]


def raise_dialog(tmux: Tmux, agent: Agent, env: dict[str, str]) -> None:
    """A turn of the fake agent that opens its permission dialog."""
    assert send(env, agent.pane.pane_id, "RAISE_DIALOG please").returncode == 0
    wait_for(lambda: look(tmux, agent.pane.pane_id).state == "waiting", what="the dialog")


def answer_dialog(tmux: Tmux, agent: Agent) -> None:
    tmux.send_key(agent.pane.pane_id, "Escape")


def test_a_message_behind_a_dialog_is_kept_then_delivered_once_when_it_is_answered(
        env: dict[str, str], start_agent, tmux: Tmux, tmp_path: Path) -> None:
    agent = start_agent()
    raise_dialog(tmux, agent, env)
    done = send(env, "--queue", "team:0", "kept for later")
    message_id = kept_id(done)
    record = tmp_path / "state" / "mailbox" / f"{message_id}.txt"
    assert record.read_text().endswith("\n\nkept for later\n")  # a person can read it
    assert oct(record.stat().st_mode & 0o777) == "0o600"
    listed = send(env, "--list")
    assert listed.returncode == 0 and message_id in listed.stdout and "kept for later" in listed.stdout
    shown = run_script("tmux_utils.py", env=env)
    assert shown.returncode == 0 and re.search(rf"{agent.pane.pane_id} .* kept=1 oldest=\d+s", shown.stdout), shown.stdout
    panes = json.loads(run_script("tmux_utils.py", "--json", env=env).stdout)
    assert [p["kept"] for p in panes if p["pane_id"] == agent.pane.pane_id] == [1]
    time.sleep(1.5)  # the drainer watches; nothing may be typed while the dialog shows
    assert agent.submitted() == ["RAISE_DIALOG please"]
    assert not [e for e in agent.events() if e["event"] in ("approved", "denied")]
    answer_dialog(tmux, agent)
    wait_for(lambda: agent.submitted()[1:] == ["kept for later"], timeout=10, what="the kept message")
    wait_for(lambda: not record.exists(), what="the record to leave the mailbox")
    done_record = tmp_path / "state" / "mailbox" / "done" / f"{message_id}.txt"
    assert "state: delivered" in done_record.read_text()
    # Its log line follows the move into done/ (orc/messages/mailbox.py, finish).
    log = tmp_path / "state" / "mailbox.log"
    wait_for(lambda: f"delivered id={message_id}" in log.read_text(), timeout=5, what="the delivered line")
    time.sleep(1.0)
    assert agent.submitted() == ["RAISE_DIALOG please", "kept for later"]  # once


def test_messages_kept_behind_a_draft_go_in_the_order_they_were_sent(env: dict[str, str], start_agent,
                                                                     tmux: Tmux) -> None:
    agent = start_agent()
    tmux.type_literal(agent.pane.pane_id, "a human draft")
    wait_for(lambda: look(tmux, agent.pane.pane_id).state == "typing", what="the draft")
    ids = [kept_id(send(env, "--queue", "team:0", f"message {n}")) for n in range(5)]
    assert len(set(ids)) == 5
    # Without --queue, a message for a pane with kept mail is not sent ahead of it.
    env_short = {**env, "ORC_LOCK_TIMEOUT": "1"}
    direct = send(env_short, "team:0", "jumping the queue")
    assert direct.returncode == 1 and "wait ahead" in direct.stderr and len(direct.stderr.splitlines()) == 1
    screen = "\n".join(tmux.capture(agent.pane.pane_id))
    assert "a human draft" in screen and "message 0" not in screen
    tmux.send_key(agent.pane.pane_id, "C-c")  # the person drops the draft
    wait_for(lambda: len(agent.submitted()) == 5, timeout=20, what="the five kept messages")
    assert agent.submitted() == [f"message {n}" for n in range(5)]


def test_cancel_takes_a_message_out_before_it_is_typed(env: dict[str, str], start_agent, tmux: Tmux,
                                                       tmp_path: Path) -> None:
    agent = start_agent()
    raise_dialog(tmux, agent, env)
    first = kept_id(send(env, "--queue", "team:0", "to be cancelled"))
    second = kept_id(send(env, "--queue", "team:0", "to be delivered"))
    bad = send(env, "--cancel", "m-0000000000")
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1
    assert (tmp_path / "state" / "mailbox" / f"{first}.txt").exists()
    done = send(env, "--cancel", first)
    assert done.returncode == 0 and first in done.stdout
    answer_dialog(tmux, agent)
    wait_for(lambda: agent.submitted()[1:] == ["to be delivered"], timeout=10, what="the other message")
    assert "state: cancelled" in (tmp_path / "state" / "mailbox" / "done" / f"{first}.txt").read_text()
    assert second not in send(env, "--list").stdout


def test_an_agent_sender_keeps_by_default_a_person_is_refused(env: dict[str, str], start_agent, tmux: Tmux) -> None:
    agent = start_agent()
    raise_dialog(tmux, agent, env)
    person = send(env, "team:0", "from a person")
    assert person.returncode == 1 and "dialog" in person.stderr
    as_agent = {**env, "TMUX_PANE": "%99", "CLAUDECODE": "1"}
    kept_id(send(as_agent, "team:0", "from an agent"))
    refused = send({**as_agent, "ORC_SEND_QUEUE": "0"}, "team:0", "queue turned off")
    assert refused.returncode == 1
    answer_dialog(tmux, agent)
    wait_for(lambda: agent.submitted()[1:] == ["from an agent"], timeout=10, what="the agent's message")


def test_when_idle_waits_for_the_turn_to_end(env: dict[str, str], start_agent, tmux: Tmux) -> None:
    agent = start_agent("--busy-seconds", "3")
    assert send(env, "team:0", "a long turn").returncode == 0
    wait_for(lambda: look(tmux, agent.pane.pane_id).state == "busy", what="the turn")
    kept_id(send(env, "--when-idle", "team:0", "after your turn"))
    wait_for(lambda: agent.submitted()[1:] == ["after your turn"], timeout=15, what="the message after the turn")
    first, second = [e["t"] for e in agent.events() if e["event"] == "submitted"]
    assert second - first >= 3.0  # not queued into the busy agent: typed once its 3 s turn ended


def test_wait_blocks_until_delivered(env: dict[str, str], start_agent, tmux: Tmux) -> None:
    agent = start_agent()
    raise_dialog(tmux, agent, env)
    waiting = subprocess.Popen([str(SUITE / "send_message.sh"), "--wait", "team:0", "waited for"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    assert waiting.poll() is None
    answer_dialog(tmux, agent)
    out, err = waiting.communicate(timeout=20)
    assert waiting.returncode == 0, err
    assert "proof" in out and agent.submitted()[1:] == ["waited for"]


def test_refusals_that_do_not_pass_stay_errors(env: dict[str, str], tmux: Tmux, tmp_path: Path) -> None:
    tmux.new_session("dev", "server", "sh", str(tmp_path))
    wait_for(lambda: look(tmux, tmux.resolve("dev:0").pane_id).state == "shell", what="a shell")
    shell = send(env, "--queue", "dev:0", "touch ran")
    assert shell.returncode == 1 and "shell" in shell.stderr
    missing = send(env, "--queue", "nosuch:0", "hello")
    assert missing.returncode == 1 and "not found" in missing.stderr
    assert not (tmp_path / "state" / "mailbox").exists() or not list((tmp_path / "state" / "mailbox").glob("m-*"))


def sweep(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """What the crontab's minute line runs."""
    return subprocess.run([sys.executable, str(SUITE / "orc"), "fire", "--sweep"], env=env, capture_output=True,
                          text=True, timeout=120)


def typing_started(settings, message_id: str) -> bool:
    kept = mailbox.read(settings, message_id)
    return kept is None or kept.state == "delivering"


# Which process is killed (a drainer, or the crontab's sweep), and where: so long after it
# started, or after it recorded that it is about to paste (the paste, the settle time, the
# submit key and the proof take about 0.5 s).
KILL_POINTS = [("drainer", "started", 0.0), ("drainer", "started", 0.15), ("drainer", "typing", 0.0),
               ("drainer", "typing", 0.05), ("drainer", "typing", 0.1), ("drainer", "typing", 0.2),
               ("drainer", "typing", 0.35), ("drainer", "typing", 0.6), ("sweep", "typing", 0.0),
               ("sweep", "typing", 0.1), ("sweep", "typing", 0.3)]


@pytest.mark.parametrize("point", KILL_POINTS, ids=[f"{w}-{p}+{d}" for w, p, d in KILL_POINTS])
def test_a_drainer_or_sweep_killed_at_any_instant_leaves_the_message_to_the_sweep_delivered_once(
        point: tuple[str, str, float], env: dict[str, str], start_agent, tmux: Tmux, tmp_path: Path) -> None:
    from orc.record.hooks_settings import hook_command

    agent = start_agent("--hook-command", hook_command(SUITE, tmp_path / "state"))
    assert send(env, "team:0", "hello").returncode == 0  # the agent's hooks report on this pane now
    settings = load_settings(env)
    # Idle as the suite sees it: the fake agent reports no Stop hook, so its hooks' "busy" has to age first.
    sources = StateSources.from_settings(settings)
    wait_for(lambda: look(tmux, agent.pane.pane_id, sources=sources).state == "idle", timeout=30,
             what="the end of its turn")
    kept = mailbox.keep(settings, "team:0", tmux.resolve("team:0"), "survives a killed drainer", "dialog")
    who, phase, delay = point
    argv = [sys.executable, str(SUITE / "orc"), *(["drain", kept.id] if who == "drainer" else ["fire", "--sweep"])]
    drainer = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if phase == "typing":
        wait_for(lambda: typing_started(settings, kept.id), interval=0.005, what="the drainer to start typing")
    time.sleep(delay)
    drainer.kill()  # SIGKILL: no cleanup of any kind
    drainer.wait()
    # The sweep, as cron runs it each minute (here until done: the agent may still be busy
    # with a turn the killed drainer started).
    wait_for(lambda: sweep(env).returncode == 0 and mailbox.read(settings, kept.id) is None, timeout=30,
             what="the sweep to deliver the message")
    time.sleep(0.5)
    assert agent.submitted() == ["hello", "survives a killed drainer"]
    assert mailbox.read_done(settings, kept.id).state == "delivered"  # type: ignore[union-attr]


def test_kept_mail_survives_a_killed_tmux_server_and_goes_to_the_pane_that_comes_back(
        env: dict[str, str], start_agent, tmux: Tmux, tmp_path: Path) -> None:
    env = {**env, "ORC_DRAIN_WATCH_SECONDS": "0"}  # no drainer watches: the sweep must do it
    agent = start_agent(window="Dev")
    raise_dialog(tmux, agent, env)
    message_id = kept_id(send(env, "--queue", "team:Dev", "for the agent after the restart"))
    tmux.run("kill-server")
    assert sweep(env).returncode == 0
    settings = load_settings(env)
    kept = mailbox.read(settings, message_id)
    assert kept is not None and "not there" in kept.last_reason
    again = start_agent(window="Dev")  # the team brought back: same session, window name, pane index
    assert sweep(env).returncode == 0
    wait_for(lambda: again.submitted() == ["for the agent after the restart"], timeout=10, what="the kept message")
    assert agent.submitted() == ["RAISE_DIALOG please"]
    assert mailbox.read(settings, message_id) is None


def test_a_full_disk_refuses_with_exit_1_and_keeps_what_was_kept(env: dict[str, str], start_agent, tmux: Tmux,
                                                                 tmp_path: Path, monkeypatch, capsys) -> None:
    import errno

    from orc.messages import send_message

    agent = start_agent()
    raise_dialog(tmux, agent, env)
    first = kept_id(send(env, "--queue", "team:0", "kept before the disk filled"))
    before = sorted(p.name for p in (tmp_path / "state" / "mailbox").iterdir())
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    def disk_full(path: Path, text: str) -> None:  # a fault injected: the state disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(mailbox, "write_private_text", disk_full)
    code = send_message.main(["--queue", "team:0", "not kept"])
    err = capsys.readouterr().err
    assert code == 1 and "not kept" in err and "No space left" in err and len(err.splitlines()) == 1
    assert sorted(p.name for p in (tmp_path / "state" / "mailbox").iterdir()) == before
    monkeypatch.undo()
    assert first in send(env, "--list").stdout
    answer_dialog(tmux, agent)
    wait_for(lambda: agent.submitted()[1:] == ["kept before the disk filled"], timeout=10, what="the kept message")
