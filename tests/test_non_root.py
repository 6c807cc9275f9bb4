"""The README's first command as a person who is not root: `make demo` in a fresh copy of the
folder in their own home, with their own crontab and the machine's real cron daemon.

Everything else in the suite runs as whoever runs the tests (root in CI); this test creates a
throw-away user, copies the suite into its home, and runs the demo as that user: its tmux
server, its crontab (written through the real `crontab` binary, which is setgid for a normal
user), cron running its line as that user. It checks what a person would: the demo ends well,
the check-in arrived, nothing of the demo stays in their crontab, root's crontab is not touched,
and every state file is theirs and private to them.

Creating a user needs root and useradd; under CI (which runs as root) not being able to is a
failure, never a skip.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import SUITE, crontab, cron_daemon_started, suite_files

pytestmark = pytest.mark.e2e

USER_PATH = "/usr/local/bin:/usr/bin:/bin"


def _unavailable() -> str | None:
    if os.geteuid() != 0:
        return "creating a throw-away user needs root (CI runs as root)"
    for tool in ("useradd", "userdel", "runuser", "make", "crontab"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


def as_user(name: str, home: Path, *argv: str, timeout: float = 120,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` as ``name`` with the bare environment of a fresh login."""
    env = ["env", "-i", f"HOME={home}", f"USER={name}", f"LOGNAME={name}", f"PATH={USER_PATH}",
           "LANG=C.UTF-8", "TERM=xterm-256color", "SHELL=/bin/bash"]
    return subprocess.run(["runuser", "-u", name, "--", *env, *argv], capture_output=True, text=True,
                          timeout=timeout, cwd=str(cwd or home))


@pytest.fixture
def person() -> Iterator[tuple[str, Path]]:
    """A throw-away user with a home of its own; removed afterwards with its crontab and processes."""
    missing = _unavailable()
    if missing:
        (pytest.fail if os.environ.get("CI") else pytest.skip)(missing)
    name = f"orcnr{os.getpid() % 100000}"
    # Where useradd puts homes (/home): a temporary folder of root's may not be reachable by
    # another user (pytest's are 0700, and so is /tmp on some machines).
    made = subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", name],
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    home = Path(pwd.getpwnam(name).pw_dir)
    try:
        yield name, home
    finally:
        subprocess.run(["crontab", "-u", name, "-r"], capture_output=True, timeout=30)
        subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True, timeout=30)
        subprocess.run(["userdel", "--remove", name], capture_output=True, timeout=60)
        if home.name == name and home.exists():
            shutil.rmtree(home, ignore_errors=True)  # what userdel left (it refuses a busy home)


def users_python(name: str, home: Path) -> str | None:
    """The version of the python3 the user finds on a plain PATH (pyenv's under /root is not theirs)."""
    done = as_user(name, home, "python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])", timeout=30)
    return done.stdout.strip() if done.returncode == 0 else None


@pytest.mark.machine  # its cron daemon
def test_make_demo_as_a_non_root_user_in_their_own_copy(person: tuple[str, Path]) -> None:
    name, home = person
    version = users_python(name, home)
    if version is None or tuple(int(p) for p in version.split(".")) < (3, 9):
        (pytest.fail if os.environ.get("CI") else pytest.skip)(f"the user's python3 is {version or 'missing'}")

    suite = home / "tmux-orchestrator"
    for relative in suite_files():
        target = suite / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(SUITE / relative, target)
    built = SUITE / ".deps" / f"py{version}"
    if built.is_dir():  # the set this machine already built for that python (else the demo builds it)
        shutil.copytree(built, suite / ".deps" / f"py{version}", symlinks=True)
    subprocess.run(["chown", "-R", f"{name}:", str(suite)], check=True, timeout=60)

    with cron_daemon_started() as missing:
        if missing:
            (pytest.fail if os.environ.get("CI") else pytest.skip)(missing)
        roots_before = crontab("-l")
        demo = as_user(name, home, "make", "demo", cwd=suite, timeout=400)
        roots_after = crontab("-l")

    output = demo.stdout + demo.stderr
    assert demo.returncode == 0, output[-3000:]
    assert "Waiting for cron to deliver it" in output, output[-3000:]  # a daemon runs: the demo does not play cron
    received = [line for line in output.splitlines() if line.strip().startswith("received:")]
    assert any("Demo check-in: review progress" in line for line in received), output[-3000:]
    assert any("Hello from the demo: $(not run), 100% literal;" in line for line in received), output[-3000:]

    theirs = as_user(name, home, "crontab", "-l", timeout=30)
    assert "# orc:" not in theirs.stdout, theirs.stdout  # nothing of the demo stays in their crontab
    assert (roots_after.returncode, roots_after.stdout) == (roots_before.returncode, roots_before.stdout)

    uid = int(as_user(name, home, "id", "-u", timeout=30).stdout)
    state = suite / "state"
    not_theirs, shared = [], []
    for path in [state, *state.rglob("*")]:
        info = path.lstat()
        if info.st_uid != uid:
            not_theirs.append(str(path.relative_to(suite)))
        if not stat.S_ISLNK(info.st_mode) and info.st_mode & 0o077:
            shared.append(f"{path.relative_to(suite)} {stat.filemode(info.st_mode)}")
    assert not not_theirs, f"state files not owned by the user: {not_theirs}"
    assert not shared, f"state files others can read: {shared}"
