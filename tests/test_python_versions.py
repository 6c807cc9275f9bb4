"""Python 3.9 to 3.13, online or not (docs/python-and-dependencies.md): the refusal below the
floor, one dependency set per interpreter, the quiet first run and its log, the offline
bundle, and the one place where the libtmux releases differ.

The copies are fresh folders as a person makes them (`git clone`, `cp -r`): no `.deps`, no
state. Interpreters are found as `make test` finds them (tools/pythons.py); a test that
needs one this machine lacks is skipped, except under CI, which must have 3.9 and 3.13.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import libtmux
import pytest
from libtmux import Server

import orc
from support import SUITE, socket_path_of
from tmux_utils import Tmux, TmuxError

sys.path.insert(0, str(SUITE / "tools"))
from pythons import find_pythons  # noqa: E402

# An index nobody listens on: the discard port on this machine refuses at once.
CLOSED_INDEX = "http://127.0.0.1:9/simple"
COPY_IGNORES = shutil.ignore_patterns(".deps", "bundle", "state", ".git", "__pycache__", ".*_cache", ".env")
ONE_LINE = re.compile(r"[^\n]*\n")


def interpreter(version: str) -> str:
    """The path of Python ``version`` on this machine; skipped when missing (failed under CI)."""
    found = find_pythons([version]).get(version)
    if found is None:
        message = f"no Python {version} on this machine (PATH or pyenv)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def fresh_copy(tmp_path: Path, name: str = "copied suite") -> Path:
    """The suite folder as a person copies it: no dependency sets, no state, no bundle."""
    copy = tmp_path / name
    shutil.copytree(SUITE, copy, ignore=COPY_IGNORES)
    return copy


def person_env(tmp_path: Path, python: str, **extra: str) -> dict[str, str]:
    """A person's environment: none of the test run's PYTHONPATH or ORC_ settings, a scratch
    crontab file, a private state folder and a tmux socket with no server behind it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORC_") and k not in {"TMUX", "PYTHONPATH"}}
    env.update(ORC_PYTHON=python, ORC_CRONTAB_FILE=str(tmp_path / "crontab"), ORC_STATE_DIR=str(tmp_path / "state"),
               ORC_TMUX_SOCKET=str(tmp_path / "no-server.sock"))
    env.update(extra)
    return env


def offline(env: dict[str, str]) -> dict[str, str]:
    """``env`` on a machine that reaches no package index: pip's index is a closed local port,
    and none of this machine's pip settings (config files, find-links to local wheel
    folders) can make an install pass by accident."""
    cut = {k: v for k, v in env.items() if not k.startswith("PIP_")}
    cut.update(PIP_CONFIG_FILE=os.devnull, PIP_INDEX_URL=CLOSED_INDEX, PIP_RETRIES="0", PIP_TIMEOUT="5")
    return cut


def run(copy: Path, script: str, *args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(copy / script), *args], env=env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def scheduled_id(done: subprocess.CompletedProcess[str]) -> str:
    found = re.search(r"check-in (ck-[0-9a-f]{8})", done.stdout)
    assert found, done.stdout + done.stderr
    return found.group(1)


def installed_version(deps: Path, package: str) -> str:
    """The version of ``package`` in a dependency set, from its dist-info folder name."""
    found = sorted(deps.glob(f"{package}-*.dist-info"))
    assert len(found) == 1, f"{package} in {deps}: {[p.name for p in found]}"
    return found[0].name[len(package) + 1 : -len(".dist-info")]


# --- below the floor -------------------------------------------------------------------------


def test_python_below_3_9_is_refused_in_one_line_naming_the_versions_that_work(tmp_path: Path) -> None:
    """Exit 1 (could not), one line on stderr, nothing on stdout, nothing installed or scheduled."""
    old = interpreter("3.8")
    copy = fresh_copy(tmp_path)
    env = person_env(tmp_path, old)
    for script, args in (("schedule_with_note.sh", ("30", "a note", "team:0")), ("send_message.sh", ("team:0", "hi"))):
        done = run(copy, script, *args, env=env)
        assert done.returncode == 1, done.stderr
        assert done.stdout == ""
        assert ONE_LINE.fullmatch(done.stderr), done.stderr
        assert done.stderr.startswith("tmux-orchestrator: error: Python 3.8.")
        assert "3.9 to 3.13" in done.stderr and "ORC_PYTHON" in done.stderr
    direct = subprocess.run([old, str(copy / "tmux_utils.py")], env=env, capture_output=True, text=True, timeout=60)
    assert direct.returncode == 1 and ONE_LINE.fullmatch(direct.stderr), direct.stderr
    assert not (copy / ".deps").exists() and not (tmp_path / "crontab").exists() and not (tmp_path / "state").exists()


# --- one dependency set per interpreter -----------------------------------------------------


def test_a_copy_built_with_3_13_then_run_with_3_9_builds_its_own_set_and_schedules_lists_cancels(tmp_path: Path) -> None:
    """The folder moves from a machine with 3.13 to one with 3.9 (a Mac's own python3): the
    3.9 run builds `.deps/py3.9` beside `.deps/py3.13`, each with its own pins, and works."""
    newest, oldest = interpreter("3.13"), interpreter("3.9")
    copy = fresh_copy(tmp_path)

    first = run(copy, "schedule_with_note.sh", "--list", env=person_env(tmp_path, newest))
    assert first.returncode == 0, first.stderr
    assert (copy / ".deps" / "py3.13" / "python" / "libtmux").is_dir()

    env = person_env(tmp_path, oldest)
    done = run(copy, "schedule_with_note.sh", "45", "Check the build, then report", "team:0", env=env)
    assert done.returncode == 0, done.stderr
    assert "installing dependencies for Python 3.9 into .deps/py3.9/python" in done.stderr
    checkin = scheduled_id(done)
    line = next(line for line in (tmp_path / "crontab").read_text().splitlines() if f"# orc:{checkin} " in line)
    assert f" {oldest} " in line  # cron fires it with the interpreter whose set was built for it

    listed = run(copy, "schedule_with_note.sh", "--list", env=env)
    assert listed.returncode == 0 and listed.stderr == "", listed.stderr
    assert re.search(rf"^{checkin} .* pending +Check the build, then report$", listed.stdout, re.M), listed.stdout

    cancelled = run(copy, "schedule_with_note.sh", "--cancel", checkin, env=env)
    assert cancelled.returncode == 0, cancelled.stderr
    assert checkin in cancelled.stdout
    assert f"# orc:{checkin} " not in (tmp_path / "crontab").read_text()
    after = run(copy, "schedule_with_note.sh", "--list", env=env)
    assert after.returncode == 0 and checkin not in after.stdout

    sets = {p.name for p in (copy / ".deps").iterdir() if p.is_dir()}
    assert sets == {"py3.9", "py3.13"}
    assert installed_version(copy / ".deps" / "py3.9" / "python", "libtmux") == "0.46.2"
    assert installed_version(copy / ".deps" / "py3.13" / "python", "libtmux") == "0.62.0"
    assert installed_version(copy / ".deps" / "py3.9" / "python", "filelock").startswith("3.")
    again = run(copy, "schedule_with_note.sh", "--list", env=person_env(tmp_path, newest))
    assert again.returncode == 0 and again.stderr == ""  # the 3.13 set is still there, untouched


# --- the quiet first run ----------------------------------------------------------------------


@pytest.mark.smoke
def test_the_first_run_says_one_line_and_pip_talks_only_to_the_log(tmp_path: Path) -> None:
    copy = fresh_copy(tmp_path)
    env = person_env(tmp_path, sys.executable)
    done = run(copy, "schedule_with_note.sh", "--list", env=env)
    assert done.returncode == 0, done.stderr
    assert ONE_LINE.fullmatch(done.stderr), done.stderr
    log = tmp_path / "state" / "deps-install.log"
    assert done.stderr.startswith("tmux-orchestrator: installing dependencies for Python") and str(log) in done.stderr
    assert done.stdout == run(copy, "schedule_with_note.sh", "--list", env=env).stdout  # the answer, nothing else
    text = log.read_text()
    assert "Successfully installed" in text and "libtmux" in text
    if os.geteuid() == 0 and "PIP_ROOT_USER_ACTION" not in env:
        assert "pip as the 'root' user" in text  # pip's root-user warning went to the log...
    assert "WARNING" not in done.stderr  # ...and none of pip's warnings to the terminal
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700


@pytest.mark.smoke
def test_a_failed_install_is_one_error_line_naming_the_log_and_installs_nothing(tmp_path: Path) -> None:
    """Offline, no bundle: exit 1, and the line says where pip's own words are. The state
    folder comes from `.env` here (python-dotenv, which reads it normally, is not there yet)."""
    copy = fresh_copy(tmp_path)
    state = tmp_path / "state from dotenv"
    (copy / ".env").write_text(f'ORC_STATE_DIR="{state}"\n')
    env = offline(person_env(tmp_path, sys.executable))
    del env["ORC_STATE_DIR"]
    done = run(copy, "schedule_with_note.sh", "30", "a note", "team:0", env=env)
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 2, done.stderr  # the "installing" line, then the error
    assert lines[1].startswith("tmux-orchestrator: error: could not install dependencies")
    log = state / "deps-install.log"
    assert str(log) in lines[1] and "package index" in lines[1]
    assert "127.0.0.1" in log.read_text()  # pip's own account of what failed
    assert not (copy / ".deps" / orc.PYTHON_TAG / "python").exists()
    assert not (tmp_path / "crontab").exists()


# --- offline copies ---------------------------------------------------------------------------


@pytest.mark.smoke
def test_make_bundle_then_a_copy_without_any_package_index_starts_from_the_bundle(tmp_path: Path) -> None:
    made = fresh_copy(tmp_path, "with bundle")
    bundled = subprocess.run(["make", "-C", str(made), "bundle", f"PY={sys.executable}"], capture_output=True,
                             text=True, timeout=600,
                             env={k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("ORC_")}
                             | {"ORC_STATE_DIR": str(tmp_path / "bundle-state")})
    assert bundled.returncode == 0, bundled.stdout + bundled.stderr
    wheels = sorted(p.name for p in (made / "bundle" / "wheels").glob("*.whl"))
    for release in ("libtmux-0.46.2", "libtmux-0.62.0", "filelock-3.19.1", "filelock-4.1.0",
                    "python_dotenv-1.2.1", "python_crontab-3.4.0"):
        assert any(name.startswith(release + "-") for name in wheels), (release, wheels)
    assert all(name.endswith("-py3-none-any.whl") or "-py2.py3-none-any" in name for name in wheels), wheels
    assert not (made / ".deps").exists()  # making a bundle installs nothing

    copy = tmp_path / "copied elsewhere"
    shutil.copytree(made, copy)
    env = offline(person_env(tmp_path, sys.executable))
    done = run(copy, "schedule_with_note.sh", "30", "offline note", "team:0", env=env)
    assert done.returncode == 0, done.stderr
    assert "from bundle/wheels" in done.stderr.splitlines()[0]
    assert "--no-index" in (tmp_path / "state" / "deps-install.log").read_text()
    checkin = scheduled_id(done)
    listed = run(copy, "schedule_with_note.sh", "--list", env=env)
    assert listed.returncode == 0 and checkin in listed.stdout, listed.stderr


# --- the libtmux seam (tmux_utils.Tmux._libtmux) -------------------------------------------------


def _logging_tmux(folder: Path) -> tuple[Path, Path]:
    """A `tmux` that records each command it is given, then runs the real one."""
    real = shutil.which("tmux")
    assert real
    folder.mkdir()
    log = folder / "calls.log"
    wrapper = folder / "tmux"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{real}" "$@"\n')
    wrapper.chmod(0o755)
    return wrapper, log


@pytest.mark.smoke
def test_sessions_and_windows_are_made_by_the_configured_tmux(server: Server, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """With the configured tmux also first on PATH, both libtmux releases (0.46 for Python
    3.9, 0.62 for 3.10+) create the session and window through it."""
    wrapper, log = _logging_tmux(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{wrapper.parent}{os.pathsep}{os.environ['PATH']}")
    tmux = Tmux(socket_path_of(server), str(wrapper))
    first = tmux.new_session("seam", "one", "sh", str(tmp_path), width=80, height=24)
    second = tmux.new_window("seam", "two", "sh", str(tmp_path))
    assert (first.window_name, second.window_name) == ("one", "two")
    calls = log.read_text()
    assert "new-session" in calls and "new-window" in calls


@pytest.mark.smoke
def test_a_tmux_libtmux_cannot_run_is_never_swapped_for_another(server: Server, tmp_path: Path) -> None:
    """A tmux that is not the first on PATH: libtmux 0.62 runs it; libtmux 0.46 can only run
    the one on PATH, so the suite refuses rather than drive a different tmux."""
    wrapper, log = _logging_tmux(tmp_path / "elsewhere")
    tmux = Tmux(socket_path_of(server), str(wrapper))
    if libtmux.__version__ == "0.46.2":
        with pytest.raises(TmuxError, match="first on PATH"):
            tmux.new_session("seam", "one", "sh", str(tmp_path))
        assert not log.exists()
        assert Tmux(socket_path_of(server)).list_sessions() == []
    else:
        assert tuple(int(n) for n in libtmux.__version__.split(".")[:2]) >= (0, 62)
        pane = tmux.new_session("seam", "one", "sh", str(tmp_path))
        assert pane.window_name == "one" and "new-session" in log.read_text()
