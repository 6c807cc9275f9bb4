"""tmux_utils against a real, isolated tmux server: exact targets, snapshots, errors."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from support import SUITE, wait_for
from tmux_utils import BadTarget, TargetNotFound, Tmux, TmuxError, parse_target
from orc.record.snapshot import snapshot


def start_shells(tmux: Tmux, cwd: Path, windows: int, session: str = "work") -> None:
    tmux.new_session(session, "w0", "sh", str(cwd), width=80, height=24)
    for n in range(1, windows):
        tmux.new_window(session, f"w{n}", "sh", str(cwd))


@pytest.mark.parametrize(
    "target",
    ["s:0", "s:0.1", "s:Backend-Dev", "%12", "=s:1", "s:build.2", "my-session:Window Name"],
)
def test_accepted_target_forms(target: str) -> None:
    parse_target(target)


@pytest.mark.parametrize("target", ["", "session", ":0", "s:", "%x", "a.b:0", "s:0\nrm -rf /"])
def test_rejected_target_forms(target: str) -> None:
    with pytest.raises(BadTarget):
        parse_target(target)


def test_resolves_each_form_to_the_exact_pane(tmux: Tmux, tmp_path: Path) -> None:
    tmux.new_session("proj", "Claude-Agent", "sh", str(tmp_path), width=80, height=24)
    second = tmux.new_window("proj", "Backend-Dev", "sh", str(tmp_path))
    split = tmux.run("split-window", "-d", "-P", "-F", "#{pane_id}", "-t", second.pane_id, "sh").strip()

    assert tmux.resolve("proj:1").pane_id == second.pane_id
    assert tmux.resolve("proj:Backend-Dev").pane_id == second.pane_id
    assert tmux.resolve("proj:1.1").pane_id == split
    assert tmux.resolve("proj:Backend-Dev.1").pane_id == split
    assert tmux.resolve(split).pane_id == split
    assert tmux.resolve("proj:0").window_name == "Claude-Agent"


def test_missing_targets_fail_instead_of_falling_back(tmux: Tmux, tmp_path: Path) -> None:
    """tmux itself would pick the active window for some of these (docs/delivery.md, "Exact targets")."""
    start_shells(tmux, tmp_path, 2, session="proj")
    for target in ["proj:7", "proj:nope", "proj:0.5", "pro:0", "%999", "proj:Backend"]:
        with pytest.raises(TargetNotFound):
            tmux.resolve(target)


def test_session_name_prefix_is_not_a_match(tmux: Tmux, tmp_path: Path) -> None:
    """`tmux -t proj` would match a session `project`; we do not."""
    tmux.new_session("project", "w", "sh", str(tmp_path))
    with pytest.raises(TargetNotFound):
        tmux.resolve("proj:0")


def test_ambiguous_window_name_is_an_error(tmux: Tmux, tmp_path: Path) -> None:
    tmux.new_session("s", "dup", "sh", str(tmp_path))
    tmux.new_window("s", "dup", "sh", str(tmp_path))
    with pytest.raises(TargetNotFound, match="several windows"):
        tmux.resolve("s:dup")


def test_tmux_errors_carry_stderr(tmux: Tmux, tmp_path: Path) -> None:
    start_shells(tmux, tmp_path, 1)
    with pytest.raises(TmuxError) as caught:
        tmux.run("no-such-command")
    assert "unknown command" in caught.value.stderr
    assert caught.value.command[-1] == "no-such-command"


def test_no_server_means_no_panes(tmp_path: Path) -> None:
    tmux = Tmux(tmp_path / "nothing-here.sock")
    assert tmux.list_panes() == []
    assert not tmux.is_running()


def test_snapshot_reports_every_pane_with_state_and_lines(tmux: Tmux, tmp_path: Path, start_agent) -> None:
    agent = start_agent()
    tmux.new_window("team", "shell", "sh", str(tmp_path))
    marker = tmux.resolve("team:shell")
    tmux.run("send-keys", "-t", marker.pane_id, "-l", "echo snapshot-$((6*7))")
    tmux.send_key(marker.pane_id, "Enter")
    wait_for(lambda: "snapshot-42" in "\n".join(tmux.capture(marker.pane_id)), what="echo output")

    snaps = {s.pane.pane_id: s for s in snapshot(tmux, last_lines=5)}
    assert snaps[agent.pane.pane_id].state == "idle"
    assert snaps[marker.pane_id].state == "shell"
    assert any("snapshot-42" in line for line in snaps[marker.pane_id].lines)
    assert len(snaps[marker.pane_id].lines) <= 5


def counting_tmux(tmp_path: Path, real: str) -> tuple[str, Path]:
    """A tmux binary that appends one line per invocation to a log, then runs the real tmux.

    Not a mock: every command still reaches the real server; the wrapper only counts.
    """
    log = tmp_path / "invocations.log"
    wrapper = tmp_path / "tmux-counting"
    wrapper.write_text(f'#!/bin/sh\necho x >> "{log}"\nexec "{real}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return str(wrapper), log


@pytest.mark.parametrize("windows", [3, 24])
def test_snapshot_uses_two_tmux_invocations_whatever_the_pane_count(tmux: Tmux, tmp_path: Path, windows: int) -> None:
    start_shells(tmux, tmp_path, windows)
    binary, log = counting_tmux(tmp_path, tmux.binary)
    counted = Tmux(tmux.socket, binary)
    snaps = snapshot(counted)
    assert len(snaps) == windows
    assert len(log.read_text().splitlines()) == 2


def test_snapshot_command_line_prints_text_and_json(orc_env: dict[str, str], tmux: Tmux, tmp_path: Path) -> None:
    start_shells(tmux, tmp_path, 2, session="cli")
    text = subprocess.run([sys.executable, str(SUITE / "tmux_utils.py")], env=orc_env, capture_output=True, text=True)
    assert text.returncode == 0, text.stderr
    assert "cli:0.0 [w0]" in text.stdout and "cli:1.0 [w1]" in text.stdout
    as_json = subprocess.run([sys.executable, str(SUITE / "tmux_utils.py"), "--json"], env=orc_env,
                             capture_output=True, text=True)
    rows = json.loads(as_json.stdout)
    assert {(r["session"], r["window_index"], r["state"]) for r in rows} == {("cli", 0, "shell"), ("cli", 1, "shell")}


def test_snapshot_command_line_needs_no_cwd(orc_env: dict[str, str], tmp_path: Path, tmux: Tmux) -> None:
    start_shells(tmux, tmp_path, 1)
    done = subprocess.run([sys.executable, str(SUITE / "tmux_utils.py"), "--json"], env=orc_env, cwd=os.sep,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_snapshot_gives_each_pane_its_own_screen(tmux: Tmux, tmp_path: Path) -> None:
    """Twelve panes, each printing its own word: no screen may land under another pane."""
    tmux.new_session("many", "w0", "echo own-0; exec sh", str(tmp_path))
    for n in range(1, 12):
        tmux.new_window("many", f"w{n}", f"echo own-{n}; exec sh", str(tmp_path))

    def all_drawn() -> list:
        snaps = snapshot(tmux)
        return snaps if all(any(line.startswith("own-") for line in s.lines) for s in snaps) else []

    snaps = wait_for(all_drawn, what="every pane to print its word")
    for snap in snaps:  # type: ignore[attr-defined]
        assert f"own-{snap.pane.window_name[1:]}" in snap.lines


def test_find_windows_by_exact_name_across_sessions(tmux: Tmux, tmp_path: Path) -> None:
    tmux.new_session("alpha", "Backend-Dev", "sh", str(tmp_path))
    tmux.new_window("alpha", "Backend-Dev-2", "sh", str(tmp_path))
    tmux.new_session("beta", "Backend-Dev", "sh", str(tmp_path))
    found = tmux.find_windows("Backend-Dev")
    assert [(p.session, p.window_name) for p in found] == [("alpha", "Backend-Dev"), ("beta", "Backend-Dev")]
    assert tmux.find_windows("Backend") == []
