#!/usr/bin/env python3
"""`make test`: the test suite on every supported Python this machine has.

The plan (docs/python-and-dependencies.md has the reasons and the measured times):

- the oldest version found runs everything: the fast tier and the end-to-end tier (the real
  Claude Code CLI, a real cron daemon), as two pytest processes at once: the tests marked
  ``machine`` (the real crontab, a cron daemon; they wait for cron's minutes) beside all the
  others, about 10.5 minutes on two cores instead of 19 one after the other;
- the newest runs the whole fast tier and the smoke subset's end-to-end tests (a message
  delivered with proof to the real Claude Code, a dialog refused);
- each version between them runs the smoke subset (``-m smoke``): the paths where an
  interpreter or a dependency release could differ, in a fraction of the time.
Running the whole end-to-end tier twice would take ``make test`` past half an hour.

The interpreter running this script (make's ``$(PY)``) stands for its own version. Under CI
(``CI`` set, as CI runs ``.ci/run``), Python 3.9 and the newest supported one must be found,
else one error line and exit 1: a run on one interpreter must not pass for one on all.
Each interpreter gets its own dependency set first (``orc deps --dev``). The last line adds
up the runs: ``total: N passed, N failed``. Exit 0 only when every run passed. When one did not,
the lines before it name every failed or errored test (pytest's ``FAILED``/``ERROR`` lines) with
the run it was in, and so do the last lines on stderr: a log that keeps the tail of either
stream names them (pip's install lines and make's own error go to stderr).

Usage: python3 tools/matrix.py [--plan]       (--plan: print what would run, run nothing)
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

SUITE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(SUITE / "tools"))
sys.path.insert(0, str(SUITE))

from pythons import SUPPORTED, find_pythons  # noqa: E402

WITHOUT_MACHINE = "ORC_TESTS_WITHOUT_MACHINE"  # tests/support.py refuses the machine lock under it

PROG = "make test"
SUMMARY = re.compile(r"\d+ (passed|failed|errors?|skipped|deselected)")  # pytest's closing line
# pytest's short test summary (its -r report; the default "fE" and the suite's -ra both list
# failures and errors there): the header, then "FAILED tests/x.py::name - why", "ERROR ...".
SHORT_SUMMARY = re.compile(r"^=+ short test summary info =+$")
FAILURE = re.compile(r"^(FAILED|ERROR) \S")
REQUIRED_UNDER_CI = (SUPPORTED[0], SUPPORTED[-1])


@dataclass(frozen=True)
class Run:
    version: str
    python: str
    scope: str  # "everything", "fast" (the fast tier and the smoke subset) or "smoke"

    @property
    def what(self) -> str:
        return {"everything": "everything (fast and end-to-end tiers)",
                "fast": "the fast tier and the smoke subset (-m 'not e2e or smoke')",
                "smoke": "smoke subset (-m smoke)"}[self.scope]

    def parts(self) -> list[tuple[list[str], dict[str, str]]]:
        """pytest's arguments and extra environment for each process of the run, all started at once.

        Everything is two processes: the tests that hold the machine lock (``machine``: the
        real crontab, a cron daemon; they mostly wait for cron's minute) beside all the
        others, which never take it (tests/support.py refuses it there). The two waits
        overlap, and the run takes the longer half instead of the sum.
        """
        if self.scope == "everything":
            # Each half lists its slowest tests: where make test's minutes go, in every CI log.
            return [(["-m", "not machine", "--durations=15", "tests"], {WITHOUT_MACHINE: "1"}),
                    (["-m", "machine", "--durations=15", "tests"], {})]
        return [({"fast": ["-m", "not e2e or smoke", "tests"], "smoke": ["-m", "smoke", "tests"]}[self.scope], {})]


@dataclass(frozen=True)
class Outcome:
    run: Run
    returncode: int
    seconds: float
    counts: dict[str, int]
    failures: tuple[str, ...] = ()  # "Python 3.9, pytest -m machine ...: FAILED tests/x.py::name - why"


def under_ci(environ: dict[str, str] | None = None) -> bool:
    value = (os.environ if environ is None else environ).get("CI", "")
    return value.lower() not in ("", "0", "false", "no")


def plan(found: dict[str, str]) -> list[Run]:
    """The oldest runs everything, the newest the fast tier and the smoke subset, the ones
    between the smoke subset (one version found: everything)."""
    versions = [v for v in SUPPORTED if v in found]
    if not versions:
        return []

    def scope(version: str) -> str:
        if version == versions[0]:
            return "everything"
        return "fast" if version == versions[-1] else "smoke"

    return [Run(v, found[v], scope(v)) for v in versions]


def _counts(summary: str) -> dict[str, int]:
    """{"passed": 12, "failed": 1, ...} from pytest's closing line."""
    return {word: int(number) for number, word in re.findall(r"(\d+) (passed|failed|errors?|skipped)", summary)}


def failures(output: str) -> list[str]:
    """pytest's FAILED and ERROR lines from the last short test summary in a run's output.

    Only that section counts: a test's captured output, shown above it, may hold lines of a
    pytest that the test itself ran."""
    lines = output.splitlines()
    headers = [n for n, line in enumerate(lines) if SHORT_SUMMARY.match(line)]
    if not headers:
        return []
    found = []
    for line in lines[headers[-1] + 1:]:
        if line.startswith("="):  # the closing "=== 1 failed, 2 passed in 3.4s ===" line
            break
        if FAILURE.match(line):
            found.append(line.rstrip())
    return found


def named_failures(run: Run, args: list[str], code: int, output: str) -> list[str]:
    """What one failed pytest process names, each line with the run it was in; a process that
    failed without naming a test (killed, no test selected, an error before the summary) says
    so with its exit status, so no failed run goes unmentioned."""
    if code == 0:
        return []
    where = f"Python {run.version}, pytest {' '.join(args)}"
    named = failures(output)
    if not named:
        return [f"{where}: exit {code}, no failed test named (its output is above)"]
    return [f"{where}: {line}" for line in named]


def report_failures(outcomes: list[Outcome]) -> None:
    """Every failed test of every run, on stdout (before the total) and on stderr: the last
    lines either stream keeps in a log. Once when both are the same file (a terminal, 2>&1)."""
    named = [line for outcome in outcomes for line in outcome.failures]
    if not named:
        return
    text = f"{PROG}: {len(named)} failed:\n" + "".join(f"  {line}\n" for line in named)
    sys.stdout.write(text)
    sys.stdout.flush()
    if not _same_file(sys.stdout, sys.stderr):
        sys.stderr.write(text)
        sys.stderr.flush()


def _same_file(a: TextIO, b: TextIO) -> bool:
    try:
        first, second = os.fstat(a.fileno()), os.fstat(b.fileno())
    except (AttributeError, OSError, ValueError):  # no real file (io.UnsupportedOperation is both)
        return False
    return (first.st_dev, first.st_ino) == (second.st_dev, second.st_ino)


def execute(run: Run) -> Outcome:
    tag = "py" + run.version
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    started = time.monotonic()
    deps = subprocess.run([run.python, str(SUITE / "orc"), "deps", "--dev"], cwd=SUITE, env=env)
    if deps.returncode != 0:
        return Outcome(run, deps.returncode, time.monotonic() - started, {"errors": 1},
                       (f"Python {run.version}: orc deps --dev exited with {deps.returncode}, so no test ran",))
    env["PYTHONPATH"] = os.pathsep.join(str(SUITE / ".deps" / tag / part) for part in ("python", "dev"))
    parts = run.parts()
    with tempfile.TemporaryDirectory(prefix="orc-matrix-") as scratch:
        # The first part's output streams live; the others' is kept and shown after it.
        logs = [Path(scratch) / f"part-{n}.log" for n in range(len(parts))]
        processes = []
        for n, (args, extra_env) in enumerate(parts):
            output = None if n == 0 else open(logs[n], "w")
            processes.append(subprocess.Popen(
                [run.python, "-m", "pytest", *args], cwd=SUITE, env={**env, **extra_env},
                stdout=subprocess.PIPE if n == 0 else output, stderr=subprocess.STDOUT, text=True, errors="replace"))
            if output is not None:
                output.close()
        first = processes[0]
        assert first.stdout is not None
        summaries = [""] * len(parts)
        outputs = [""] * len(parts)
        kept = []
        for line in first.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            kept.append(line)
            if SUMMARY.search(line):
                summaries[0] = line
        outputs[0] = "".join(kept)
        codes = [process.wait() for process in processes]
        for n in range(1, len(parts)):
            text = outputs[n] = logs[n].read_text(errors="replace")
            sys.stdout.write(f"\n{PROG}: Python {run.version}, pytest {' '.join(parts[n][0])}:\n{text}")
            sys.stdout.flush()
            found = [line for line in text.splitlines() if SUMMARY.search(line)]
            summaries[n] = found[-1] if found else ""
    # pytest's 5 (no test was selected) is a broken plan, not a pass.
    returncode = next((1 if code == 5 else code for code in codes if code != 0), 0)
    counts: dict[str, int] = {}
    for summary in summaries:
        for word, number in _counts(summary).items():
            counts[word] = counts.get(word, 0) + number
    named = [line for n, (args, _) in enumerate(parts) for line in named_failures(run, args, codes[n], outputs[n])]
    return Outcome(run, returncode, time.monotonic() - started, counts, tuple(named))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python3 tools/matrix.py",
        description="Run the test suite on every supported Python found (what `make test` does).",
        epilog="examples:\n  make test\n  python3 tools/matrix.py --plan\n  CI=true python3 tools/matrix.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--plan", action="store_true", help="print the interpreters found and what each runs")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    own = "{}.{}".format(*sys.version_info[:2])
    found = find_pythons([v for v in SUPPORTED if v != own])
    if own in SUPPORTED:
        found[own] = sys.executable
    missing = [v for v in REQUIRED_UNDER_CI if v not in found]
    if under_ci() and missing:
        looked = ", ".join(f"python{v}" for v in missing)
        print(f"{PROG}: error: CI must test Python {' and '.join(REQUIRED_UNDER_CI)}, but Python {' and '.join(missing)} "
              f"{'was' if len(missing) == 1 else 'were'} not found (looked for {looked} on PATH and in pyenv's "
              "versions folder); install it on the CI machine", file=sys.stderr)
        return 1
    runs = plan(found)
    if not runs:
        print(f"{PROG}: error: no Python {SUPPORTED[0]} to {SUPPORTED[-1]} found; install one", file=sys.stderr)
        return 1
    for run in runs:
        print(f"{PROG}: Python {run.version} ({run.python}): {run.what}", flush=True)
    not_found = [v for v in SUPPORTED if v not in found]
    if not_found:
        print(f"{PROG}: not found here, so not tested: Python {', '.join(not_found)}", flush=True)
    if args.plan:
        return 0

    outcomes = []
    for run in runs:
        print(f"\n{PROG}: ==> Python {run.version} ({run.python}): {run.what}", flush=True)
        outcomes.append(execute(run))
    print(f"\n{PROG}: summary")
    for outcome in outcomes:
        shown = ", ".join(f"{n} {w}" for w, n in outcome.counts.items()) or "no count"
        status = "ok" if outcome.returncode == 0 else f"FAILED (exit {outcome.returncode})"
        print(f"  Python {outcome.run.version:<5} {outcome.run.what:<40} {outcome.seconds:6.0f} s  {shown}  {status}")
    passed = sum(o.counts.get("passed", 0) for o in outcomes)
    failed = sum(o.counts.get("failed", 0) + o.counts.get("error", 0) + o.counts.get("errors", 0) for o in outcomes)
    failed += sum(1 for o in outcomes if o.returncode != 0 and not o.counts.get("failed") and not o.counts.get("error")
                  and not o.counts.get("errors"))
    report_failures(outcomes)
    print(f"total: {passed} passed, {failed} failed")
    return 0 if all(o.returncode == 0 for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
