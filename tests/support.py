"""Helpers shared by the test modules and both conftests (imported as ``support``)."""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import pytest

SUITE = Path(__file__).resolve().parent.parent
if str(SUITE) not in sys.path:
    sys.path.insert(0, str(SUITE))

import orc  # noqa: E402,F401  (dependency path)
from libtmux import Server  # noqa: E402

from tmux_utils import Pane  # noqa: E402

if TYPE_CHECKING:
    from orc.core.settings import Settings
    from orc.scheduling.checkins import CheckIn

FAKE_AGENT = SUITE / "tests" / "fake_agent.py"


def wait_for(predicate: Callable[[], object], timeout: float = 10.0, what: str = "condition", interval: float = 0.05) -> object:
    """Poll ``predicate`` until it returns something truthy; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def socket_path_of(server: Server) -> Path:
    """Where libtmux's plugin server listens (it names a socket, tmux derives the path).

    The folder is made here, private as tmux makes it: tmux makes it only for a socket it is
    given by name, so on a fresh machine a test whose first tmux command names the path (the
    suite's ``-S``, ORC_TMUX_SOCKET) would find no folder to create the socket in."""
    tmpdir = Path(os.environ.get("TMUX_TMPDIR", "/tmp"))
    folder = tmpdir / f"tmux-{os.geteuid()}"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder / str(server.socket_name)


@dataclass(frozen=True)
class Agent:
    """A fake agent running in a pane; ``record`` holds one JSON line per event it saw."""

    pane: Pane
    record: Path

    def events(self) -> list[dict[str, object]]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines() if line.strip()]

    def submitted(self) -> list[str]:
        return [str(e["text"]) for e in self.events() if e.get("event") == "submitted"]


def run_script(script: str, *args: str, env: dict[str, str], input: str | None = None, cwd: Path | None = None,
               timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run one of the suite's launchers as a user would."""
    return subprocess.run([str(SUITE / script), *args], env=env, input=input, capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)


def fire(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``orc fire ARGS``, the command each check-in's crontab line runs (``--sweep``: the minute sweep)."""
    return subprocess.run([sys.executable, str(SUITE / "orc"), "fire", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def checkin_due_now(settings: Settings, note: str, target: str) -> CheckIn:
    """A check-in for ``target`` scheduled as ``schedule_with_note.sh`` does, then made due a
    second ago in its record: time passes without waiting for cron's minute."""
    from dataclasses import replace
    from datetime import datetime, timedelta, timezone

    from orc.scheduling.checkins import save_checkin, schedule_checkin

    checkin = schedule_checkin(settings, 30, note, target)
    due = datetime.now(timezone.utc).astimezone().replace(microsecond=0) - timedelta(seconds=1)
    moved = replace(checkin, due=due)
    save_checkin(settings, moved)
    return moved


# --- the real crontab and cron daemon (tests and bench/bench_schedule.py) ---------------------------


class MachineBusy(RuntimeError):
    """Another test run on this machine holds the real crontab and cron daemon."""


_MACHINE_LOCK_PATH = Path(tempfile.gettempdir()) / f"orc-tests-{os.geteuid()}-real-crontab.lock"
_machine_lock_depth = 0
_machine_lock_file: TextIO | None = None


@contextmanager
def machine_lock(timeout: float = 240) -> Iterator[None]:
    """Hold the one lock that every test run on this machine takes before it touches the
    user's real crontab or the cron daemon, so that two runs at once (a developer's and a
    benchmark, say) never see each other's lines. Reentrant within a process.

    The default wait stays under pytest's per-test timeout (pytest.ini), so a test that
    cannot have the lock fails saying why instead of timing out; ``timeout=0`` tries once."""
    global _machine_lock_depth, _machine_lock_file
    if _machine_lock_depth == 0:
        handle = open(_MACHINE_LOCK_PATH, "a")
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.close()
                    raise MachineBusy(f"another test run or benchmark held {_MACHINE_LOCK_PATH} for {timeout:.0f}s "
                                      "(it is using your real crontab or a cron daemon); run this again when it ends")
                time.sleep(0.2)
        _machine_lock_file = handle
    _machine_lock_depth += 1
    try:
        yield
    finally:
        _machine_lock_depth -= 1
        if _machine_lock_depth == 0:
            held, _machine_lock_file = _machine_lock_file, None
            if held is not None:
                held.close()  # closing releases the flock


def crontab(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real ``crontab`` program (docs/scheduling.md, "No crontab yet": its stderr is never the table)."""
    return subprocess.run(["crontab", *args], input=input, capture_output=True, text=True, timeout=30)


@contextmanager
def users_crontab_replaced(lines: str | None) -> Iterator[None]:
    """The user's crontab replaced by ``lines`` (None: left as it is) while the block runs,
    then restored exactly, or removed again if there was none; the restore is checked."""
    if not shutil.which("crontab"):
        pytest.skip("the `crontab` program is not installed (Debian: apt-get install cron)")
    _refuse_outside_the_machine_run()
    with machine_lock():
        yield from _replaced_while_locked(lines)


def _replaced_while_locked(lines: str | None) -> Iterator[None]:
    saved = crontab("-l")
    had_one = saved.returncode == 0
    assert had_one or "no crontab" in saved.stderr.lower(), saved.stderr
    if lines is not None:
        assert crontab("-", input=lines).returncode == 0
    try:
        yield
    finally:
        if had_one:
            crontab("-", input=saved.stdout)
        else:
            crontab("-r")
        after = crontab("-l")
        assert (after.stdout if after.returncode == 0 else None) == (saved.stdout if had_one else None)


def find_cron() -> str | None:
    for name in ("/usr/sbin/cron", "/usr/sbin/crond"):
        if os.access(name, os.X_OK):
            return name
    return shutil.which("cron") or shutil.which("crond")


@contextmanager
def cron_daemon_started() -> Iterator[str | None]:
    """A running cron daemon: the machine's own, or one started here (as root) and stopped
    after. Yields None when it runs, else why none could be started."""
    _refuse_outside_the_machine_run()
    with machine_lock():
        yield from _daemon_while_locked()


#: Set by tools/matrix.py for the run of the tests not marked ``machine``, which goes beside
#: the run of those that are: a test there that took the lock would wait on the other run.
WITHOUT_MACHINE = "ORC_TESTS_WITHOUT_MACHINE"


def _refuse_outside_the_machine_run() -> None:
    if os.environ.get(WITHOUT_MACHINE) and "PYTEST_CURRENT_TEST" in os.environ:
        pytest.fail("this test takes the machine-wide lock (the real crontab or a cron daemon) but is not marked "
                    "`machine`: mark it, or use a fixture from tests/conftest.py's MACHINE_FIXTURES")


def _daemon_while_locked() -> Iterator[str | None]:
    from orc.scheduling.crontab_store import cron_daemon_running

    if cron_daemon_running():
        yield None
        return
    binary = find_cron()
    if os.geteuid() != 0 or binary is None:
        yield ("no cron daemon runs and starting one needs root (CI runs as root): `sudo service cron start`"
               if binary else "cron is not installed (Debian: apt-get install cron; `make system` installs it)")
        return
    daemon = start_cron_daemon(binary)
    try:
        yield None
    finally:
        stop_cron_daemon(daemon)
        # The jobs it started (a check-in's `fire` waits up to a minute for its second) run on
        # as processes named cron: the next test to look must not take one for a daemon.
        deadline = time.monotonic() + 90
        while cron_daemon_running() and time.monotonic() < deadline:
            time.sleep(0.2)


def start_cron_daemon(binary: str) -> subprocess.Popen[bytes]:
    """Start the cron daemon ``binary`` as our child and return once it runs and will see a
    table written from now on (tests and bench/rehearsal.py, which stops and restarts it)."""
    # -f: stay in the foreground as our child, so we stop exactly the daemon we started.
    daemon = subprocess.Popen([binary, "-f"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    from orc.scheduling.crontab_store import cron_daemon_running

    try:
        deadline = time.monotonic() + 10
        while not cron_daemon_running():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{binary} did not start")
            time.sleep(0.05)
        # The daemon reads the tables as it starts and then notices changes by the spool
        # folder's mtime, to the second: a table written in that same second would go unseen.
        time.sleep(2)
    except BaseException:
        stop_cron_daemon(daemon)
        raise
    return daemon


def stop_cron_daemon(daemon: subprocess.Popen[bytes]) -> None:
    """Stop a daemon :func:`start_cron_daemon` started, by force if it lingers."""
    daemon.terminate()
    try:
        daemon.wait(timeout=10)
    except subprocess.TimeoutExpired:
        daemon.kill()
        daemon.wait()



def processes_with_env(markers: tuple[str, ...]) -> list[int]:
    """Every process whose environment holds one of ``markers`` (``NAME=value``), this one left
    out: found by a run's state folder, they are its agents, tmux server, waiters and drainers
    (tests/test_boot.py, bench/rehearsal_faults.py: a reboot kills them, a sleep stops them)."""
    found = []
    wanted = {m.encode() for m in markers}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if wanted & set((entry / "environ").read_bytes().split(b"\0")):
                found.append(int(entry.name))
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return found


def reboot_marker(binary: str) -> Path | None:
    """The file whose absence tells the cron daemon ``binary``, as it starts, that the system
    has just booted: only then does it run the ``@reboot`` lines (Debian's cron: ``/run/crond.reboot``,
    which /run being emptied at boot takes away). Read from the program itself; None when it names none."""
    import re

    try:
        data = Path(binary).read_bytes()
    except OSError:
        return None
    for text in re.findall(rb"[ -~]{6,}", data):
        if text.startswith(b"/") and text.endswith(b".reboot") and b" " not in text:
            return Path(text.decode())
    return None


class CronRestart:
    """A cron daemon this run starts, stops and starts again as a boot does: ``boot()`` stops it,
    takes away its reboot marker and starts it, so that it runs the ``@reboot`` lines itself.
    Make one with :func:`cron_daemon_restartable`."""

    def __init__(self, binary: str, marker: Path) -> None:
        self.binary, self.marker = binary, marker
        self.marker_was_there = marker.exists()
        self.daemon: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.daemon = start_cron_daemon(self.binary)

    def boot(self) -> None:
        """Stopped and started again, as after a reboot; returns once it runs."""
        self.stop()
        self.marker.unlink(missing_ok=True)
        self.start()
        assert self.marker.exists(), f"{self.binary} did not write {self.marker} as it started"

    def stop(self) -> None:
        if self.daemon is not None:
            stop_cron_daemon(self.daemon)
            self.daemon = None

    def close(self) -> None:
        """Stopped, and the marker as it was before (a boot of the machine takes it away)."""
        self.stop()
        if not self.marker_was_there:
            self.marker.unlink(missing_ok=True)


@contextmanager
def cron_daemon_restartable() -> Iterator[CronRestart | str]:
    """A :class:`CronRestart`, or why there can be none here: it needs root, a cron that keeps
    a reboot marker, and no other cron daemon running (this test must not stop the machine's own)."""
    from orc.scheduling.crontab_store import cron_daemon_running

    _refuse_outside_the_machine_run()
    with machine_lock():
        binary = find_cron()
        marker = reboot_marker(binary) if binary else None
        # A daemon another test stopped may leave its jobs running under the name cron a while.
        deadline = time.monotonic() + 90
        while cron_daemon_running() and time.monotonic() < deadline:
            time.sleep(0.2)
        if binary is None:
            yield "cron is not installed (Debian: apt-get install cron; `make system` installs it)"
        elif os.geteuid() != 0:
            yield "restarting the cron daemon needs root (CI runs as root)"
        elif marker is None:
            yield f"{binary} names no reboot marker file: there is no way to make it run @reboot lines short of a reboot"
        elif cron_daemon_running():
            yield "a cron daemon runs that this run did not start: it is not stopped for a test (stop it, or run in CI)"
        else:
            restart = CronRestart(binary, marker)
            try:
                yield restart
            finally:
                restart.close()

def suite_files() -> list[str]:
    """The suite's files as git knows them (tracked, and new ones not ignored)."""
    done = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=SUITE,
                          capture_output=True, text=True, check=True, timeout=60)
    return [name for name in done.stdout.split("\0") if name and (SUITE / name).is_file()]


def copy_suite(folder: Path) -> Path:
    """A fresh installation of the suite in ``folder``: its files, ``.deps`` linked (building
    it again would take minutes), no ``state/`` yet. Returns ``folder``."""
    for name in suite_files():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(SUITE / name, target)
    if (SUITE / ".deps").exists():
        (folder / ".deps").symlink_to(SUITE / ".deps")
    return folder
