"""Shared fixtures: a real, isolated tmux server per test (libtmux's plugin), private
state in a temp folder, and agents started in panes of that server."""

from __future__ import annotations

import atexit
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support import (FAKE_AGENT, SUITE, WITHOUT_MACHINE, Agent, MachineBusy, crontab, machine_lock,  # noqa: E402
                     socket_path_of, wait_for)
from libtmux import Server  # noqa: E402

from orc.core.settings import Settings, load_settings  # noqa: E402
from tmux_utils import Tmux  # noqa: E402

def _the_python_under_test_is_python3() -> None:
    """Every program the tests start (the launchers, `python3 orchestrator_integration.py`
    typed as CLAUDE.md writes it, cron lines) runs the interpreter running the tests, not
    whichever `python3` is first on PATH: `make test` runs the suite once per Python version
    (docs/python-and-dependencies.md), and each run must test its own version."""
    folder = Path(tempfile.mkdtemp(prefix="orc-tests-python-"))
    (folder / "python3").symlink_to(sys.executable)
    atexit.register(shutil.rmtree, folder, True)
    os.environ["PATH"] = f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"
    os.environ["ORC_PYTHON"] = sys.executable


def pytest_configure(config: pytest.Config) -> None:
    """Load libtmux's plugin (the ``server`` fixture) also when pytest runs without the
    Makefile's PYTHONPATH, where its entry point is not visible at start-up."""
    _the_python_under_test_is_python3()
    if not config.pluginmanager.has_plugin("libtmux"):
        import libtmux.pytest_plugin

        config.pluginmanager.register(libtmux.pytest_plugin, "libtmux")


# The smoke subset `make test` runs on the Python versions between the oldest (which runs
# everything) and the newest (the fast tier and this subset; docs/python-and-dependencies.md): one or two tests of each path
# where an interpreter or a dependency release could differ. "file::test" prefixes (every
# parametrized case); tests/test_python_versions.py marks its own.
SMOKE = (
    "test_send_message.py::test_words_are_joined_by_spaces_like_the_original",
    "test_send_message.py::test_refuses_while_a_permission_dialog_shows",
    "test_send_message.py::test_parallel_senders_never_interleave",
    "test_schedule.py::test_documented_usage_prints_what_the_original_did_and_writes_one_line",
    "test_schedule.py::test_list_and_cancel",
    "test_schedule.py::test_thirty_processes_scheduling_at_once_all_get_their_line",
    "test_fire.py::test_fire_waits_for_the_due_second_and_delivers_one_exact_submission",
    "test_fire.py::test_two_fire_runs_and_a_sweep_at_once_deliver_once",
    "test_crontab_store.py::test_add_replace_remove_leave_foreign_lines_byte_for_byte",
    "test_tmux_utils.py::test_resolves_each_form_to_the_exact_pane",
    "test_tmux_utils.py::test_snapshot_reports_every_pane_with_state_and_lines",
    "test_settings_and_folder.py::test_env_file_is_read_and_the_environment_overrides_it",
    "test_status.py::test_dialog_blocked_and_exited_agents_need_attention_and_come_first",
    "test_team.py::test_deploy_starts_and_briefs_a_two_agent_team_and_installs_cron",
    "test_gitops.py::test_backup_records_work_without_touching_index_head_or_tree",
    # The real Claude Code on every interpreter: a message proven submitted, a dialog refused.
    "test_send_message_claude.py::test_every_hard_message_arrives_as_one_exact_submission",
    "test_send_message_claude.py::test_refuses_while_the_permission_dialog_shows",
)


# The fixtures that hold the machine-wide lock (tests/support.py, machine_lock) for a test:
# their tests are marked `machine`, so that `make test` can run them beside the others.
MACHINE_FIXTURES = {"cron_daemon", "cron_restarted", "real_crontab", "real_env"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the smoke subset and the tests that hold the machine lock; a `-m smoke` run fails
    when an entry names no test (renamed?), so the subset never shrinks unnoticed."""
    unmatched = set(SMOKE)
    for item in items:
        if MACHINE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.machine)
        node = item.nodeid.split("/")[-1].split("[")[0]
        if node in unmatched or node in SMOKE:
            item.add_marker(pytest.mark.smoke)
            unmatched.discard(node)
    if config.getoption("markexpr") == "smoke" and unmatched:
        raise pytest.UsageError(f"smoke tests not found (renamed? update SMOKE in tests/conftest.py): {sorted(unmatched)}")


@pytest.fixture(scope="session", autouse=True)
def users_crontab_untouched() -> Iterator[None]:
    """The whole run leaves the real user's crontab exactly as it found it (a few tests
    replace it for a while; a write landing after their restore would show here)."""
    if not shutil.which("crontab"):
        yield
        return
    if os.environ.get(WITHOUT_MACHINE):
        # make test's runs beside the machine run (tools/matrix.py): that run holds the lock,
        # changes the crontab test by test, and checks it as a whole itself; waiting here for
        # a moment between its tests would only add a minute to this run's end.
        yield
        return
    # Another run (a benchmark, a second checkout's tests) may hold the crontab right now, with
    # its own lines in it: then this run cannot tell its own effect apart and says so instead.
    try:
        with machine_lock(timeout=0):
            before = crontab("-l")
    except MachineBusy as busy:
        warnings.warn(f"the whole-run crontab check is off for this run: {busy}")
        yield
        return
    yield
    try:
        with machine_lock(timeout=60):
            after = crontab("-l")
    except MachineBusy as busy:
        warnings.warn(f"the whole-run crontab check could not read the crontab at the end: {busy}")
        return
    assert (after.returncode, after.stdout) == (before.returncode, before.stdout), "the run changed your crontab"


@pytest.fixture
def orc_env(server: Server, tmp_path: Path) -> dict[str, str]:
    """Environment for running the suite against this test's tmux server and state folder."""
    # Not TMUX_PANE nor an agent's marker either: a test run from an agent's own shell must not
    # make every sender an agent whose messages are kept (orc/messages/mailbox.py).
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ORC_") and k not in ("TMUX", "TMUX_PANE", "CLAUDECODE")}
    env.update(
        ORC_PYTHON=sys.executable,
        ORC_TMUX_SOCKET=str(socket_path_of(server)),
        ORC_STATE_DIR=str(tmp_path / "state"),
        ORC_SUBMIT_TIMEOUT="2",
        ORC_LOCK_TIMEOUT="20",
    )
    return env


@pytest.fixture
def settings(orc_env: dict[str, str]) -> Settings:
    return load_settings(orc_env)


@pytest.fixture
def tmux(settings: Settings) -> Tmux:
    return Tmux(settings.tmux_socket, settings.tmux_bin)


@pytest.fixture
def start_agent(tmux: Tmux, tmp_path: Path) -> Callable[..., Agent]:
    """Start the fake agent in a new window (session ``team``); wait until it draws its prompt."""
    counter = iter(range(1000))

    def start(*options: str, window: str | None = None) -> Agent:
        n = next(counter)
        record = tmp_path / f"agent{n}.jsonl"
        ready = tmp_path / f"agent{n}.ready"
        command = shlex.join([sys.executable, str(FAKE_AGENT), "--record", str(record), "--ready-file", str(ready), *options])
        name = window or f"agent{n}"
        if tmux.has_session("team"):
            pane = tmux.new_window("team", name, command, str(tmp_path))
        else:
            pane = tmux.new_session("team", name, command, str(tmp_path), width=100, height=30)
        wait_for(ready.exists, what="the fake agent to draw its prompt")
        return Agent(pane, record)

    return start


@pytest.fixture(scope="session")
def claude_binary() -> Path:
    """The Claude Code binary (end-to-end tier): the pinned version, or CLAUDE_CODE_VERSION,
    installed into .deps/npm/<version> on first use.

    A failed install fails the test: CI must not pass by skipping the real agent."""
    done = subprocess.run(["bash", str(SUITE / "tests" / "e2e" / "install_claude.sh")], capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, f"cannot install Claude Code: {done.stderr.strip()}"
    return Path(done.stdout.strip())
