"""`make test`'s runner (tools/matrix.py) names every failed test at the end of both streams.

A log that keeps only the tail of stdout and stderr (the summary table goes to one, pip's
install lines and make's own error to the other) must still say which tests failed. Each
test runs the real tools/matrix.py in a copy of the suite whose tests folder holds a few
tests that pass, fail, error or kill their pytest, with the interpreter running these tests
as the only one found: the "everything" plan, three pytest processes at once (the end-to-end
tests, the fast tier, the tests that hold the machine lock), as on the oldest Python in `make test`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support import copy_suite

VERSION = "{}.{}".format(*sys.version_info[:2])
AGENT = f"Python {VERSION}, pytest -m e2e and not machine --durations=10 tests"
FAST = f"Python {VERSION}, pytest -m not e2e and not machine --durations=10 tests"
MACHINE = f"Python {VERSION}, pytest -m machine --durations=10 tests"


def run_matrix(tmp_path: Path, tests: str) -> subprocess.CompletedProcess[str]:
    """tools/matrix.py in a copy of the suite whose only tests are ``tests``, stdout and
    stderr kept apart; only the running interpreter is found (PATH holds just it as python3,
    pyenv's folder is empty), and its dependency set is the suite's own (linked)."""
    folder = copy_suite(tmp_path / "suite")
    for old in (folder / "tests").rglob("*.py"):
        old.unlink()
    (folder / "tests" / "test_few.py").write_text(tests)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)
    (tmp_path / "pyenv").mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("CI", "PYTHONPATH", "PYTEST_ADDOPTS", "ORC_TESTS_WITHOUT_MACHINE")}
    env.update(PATH=str(bin_dir), PYENV_ROOT=str(tmp_path / "pyenv"))
    return subprocess.run([sys.executable, str(folder / "tools" / "matrix.py")], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)


FAILING = '''
import pytest

def test_passes():
    pass

def test_fails():
    # A failing test's captured output is shown above the short summary: a line in it that
    # looks like pytest's is not a failure of this run.
    print("FAILED tests/elsewhere.py::test_imaginary - only captured output")
    assert 1 == 2

@pytest.fixture
def broken():
    raise RuntimeError("the fixture broke")

def test_errors(broken):
    pass

@pytest.mark.machine
def test_fails_in_the_machine_half():
    assert "machine" == "lock"
'''


def ids(lines: list[str]) -> list[str]:
    """The named tests without pytest's reason, which it cuts to the terminal's width."""
    return sorted(line.split(" - ")[0] for line in lines)


def test_every_failed_and_errored_test_is_named_with_its_run_last_on_stdout_and_stderr(tmp_path: Path) -> None:
    done = run_matrix(tmp_path, FAILING)
    assert done.returncode == 1, done.stdout + done.stderr
    named = ids([f"  {FAST}: FAILED tests/test_few.py::test_fails",
                 f"  {FAST}: ERROR tests/test_few.py::test_errors",
                 f"  {MACHINE}: FAILED tests/test_few.py::test_fails_in_the_machine_half"])
    out = done.stdout.splitlines()
    # On stdout: after the summary table, right before the total.
    assert out[-1] == "total: 1 passed, 3 failed", done.stdout
    assert ids(out[-4:-1]) == named, done.stdout
    assert out[-5] == "make test: 3 failed:", done.stdout
    assert out[-6].startswith(f"  Python {VERSION} ") and out[-6].endswith("FAILED (exit 1)"), done.stdout
    assert "the fixture broke" in out[-3] + out[-4] + out[-2]  # pytest's reason, when it fits
    # On stderr: the very last lines (make adds its own error after them), the same block.
    err = done.stderr.splitlines()
    assert err[-4:] == out[-5:-1], done.stderr
    assert "test_imaginary" not in done.stderr
    assert "test_imaginary" not in "\n".join(out[-5:])
    assert "test_imaginary" in done.stdout  # it was there, as the failing test's captured output


KILLED = '''
import os
import pytest

def test_passes():
    pass

@pytest.mark.machine
def test_kills_its_pytest():
    os._exit(3)
'''


def test_a_run_that_ends_before_naming_any_test_is_named_with_its_exit_status(tmp_path: Path) -> None:
    done = run_matrix(tmp_path, KILLED)
    assert done.returncode == 1, done.stdout + done.stderr
    block = ["make test: 1 failed:", f"  {MACHINE}: exit 3, no failed test named (its output is above)"]
    assert done.stdout.splitlines()[-3:] == block + ["total: 1 passed, 1 failed"], done.stdout
    assert done.stderr.splitlines()[-2:] == block, done.stderr


def test_a_run_that_passes_names_nothing(tmp_path: Path) -> None:
    # Only the fast part selects a test: the other two select none (pytest's 5), which is no
    # failure for one part of a split run.
    done = run_matrix(tmp_path, "def test_passes():\n    pass\n")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "total: 1 passed, 0 failed"
    assert "failed:" not in done.stdout and "failed:" not in done.stderr
    assert f"==> {AGENT}: exit 5 after" in done.stdout  # it did run, and selected nothing


def test_a_run_none_of_whose_parts_selects_a_test_is_a_broken_plan(tmp_path: Path) -> None:
    done = run_matrix(tmp_path, "import pytest\n\n@pytest.mark.skip\ndef helper():\n    pass\n")
    assert done.returncode == 1, done.stdout + done.stderr
    block = ["make test: 3 failed:"] + [f"  {name}: exit 5, no failed test named (its output is above)"
                                        for name in (AGENT, FAST, MACHINE)]
    assert done.stdout.splitlines()[-5:] == block + ["total: 0 passed, 1 failed"], done.stdout
    assert done.stderr.splitlines()[-4:] == block, done.stderr


def test_the_lanes_run_at_once(tmp_path: Path) -> None:
    # Each part waits until the other two have started (a file each in a shared folder): one
    # after another, the first would wait in vain and fail.
    meeting = tmp_path / "meeting"
    meeting.mkdir()
    tests = f'''
import os, time, pytest
from pathlib import Path

def meet(me):
    Path({str(meeting)!r}, me).touch()
    deadline = time.monotonic() + 60
    while len(os.listdir({str(meeting)!r})) < 3:
        assert time.monotonic() < deadline, "the other parts never started"
        time.sleep(0.1)

@pytest.mark.e2e
def test_agent_part():
    meet("agent")

def test_fast_part():
    meet("fast")

@pytest.mark.machine
def test_machine_part():
    meet("machine")
'''
    done = run_matrix(tmp_path, tests)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "total: 3 passed, 0 failed", done.stdout


def test_a_run_with_a_process_that_never_ran_is_no_pass() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
    import matrix

    run = matrix.Run(VERSION, sys.executable, "everything")
    parts = run.parts()
    outcome = matrix.add_up(run, [matrix.Finished(parts[0], 0, 0.0, 1.0, "==== 1 passed in 1.0s ====")])
    assert outcome.returncode == 1
    assert outcome.failures == (f"{parts[1].name}: did not run", f"{parts[2].name}: did not run")
