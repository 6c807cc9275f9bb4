#!/usr/bin/env python3
"""`make test`: the test suite on every supported Python this machine has.

The plan (docs/python-and-dependencies.md has the reasons and the measured times):

- the oldest version found runs everything: the fast tier and the end-to-end tier (the real
  Claude Code CLI, a real cron daemon);
- the newest runs the whole fast tier and the smoke subset's end-to-end tests (a message
  delivered with proof to the real Claude Code, a dialog refused);
- each version between them runs the smoke subset (``-m smoke``): the paths where an
  interpreter or a dependency release could differ, in a fraction of the time.
Running the whole end-to-end tier twice would take ``make test`` past half an hour.

The runs are cut into pytest processes that go in four lanes, all at once, each lane's
processes one after another: the oldest's end-to-end tests (they wait for the agent's
replies), the oldest's fast tier, the other versions, and the tests that hold the machine lock
(``machine``: the real crontab, a cron daemon; they wait for cron's minute), which must run
one at a time. A whole run spends most of its time waiting, so the lanes overlap well on two
cores; each process's output is shown whole when it ends.

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
import threading
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


# The lanes run at once, each its parts one after another (the oldest Python's first). A whole
# run spends most of its wall time waiting (for cron's minute, for the agent's reply), so four
# lanes on two cores overlap well (docs/python-and-dependencies.md, "Tested on each").
AGENT_LANE, FAST_LANE, OTHERS_LANE, MACHINE_LANE = range(4)
LANES = 4


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

    def parts(self) -> list[Part]:
        """The pytest processes of the run, each with its lane (``LANES``).

        A run is split where its tests wait on different things: the tests that hold the
        machine lock (``machine``: the real crontab, a cron daemon; they mostly wait for cron's
        minute) go to the machine lane, one after another, and the others to lanes that never
        take the lock (tests/support.py refuses it there). On the oldest Python the end-to-end
        tests (they mostly wait for the agent's replies) and the fast tier get a lane each.
        """
        if self.scope == "everything":
            # Each part lists its slowest tests: where make test's minutes go, in every CI log.
            return [Part(self, ("-m", "e2e and not machine", "--durations=10", "tests"), AGENT_LANE),
                    Part(self, ("-m", "not e2e and not machine", "--durations=10", "tests"), FAST_LANE),
                    Part(self, ("-m", "machine", "--durations=10", "tests"), MACHINE_LANE)]
        if self.scope == "fast":
            return [Part(self, ("-m", "(not e2e or smoke) and not machine", "tests"), OTHERS_LANE),
                    Part(self, ("-m", "(not e2e or smoke) and machine", "tests"), MACHINE_LANE)]
        return [Part(self, ("-m", "smoke", "tests"), OTHERS_LANE)]


@dataclass(frozen=True)
class Part:
    """One pytest process of a run."""
    run: Run
    args: tuple[str, ...]
    lane: int

    @property
    def takes_machine_lock(self) -> bool:
        return self.lane == MACHINE_LANE

    @property
    def name(self) -> str:
        return f"Python {self.run.version}, pytest {' '.join(self.args)}"


@dataclass(frozen=True)
class Finished:
    part: Part
    returncode: int
    started: float
    ended: float
    output: str


@dataclass(frozen=True)
class Outcome:
    run: Run
    returncode: int
    counts: dict[str, int]
    failures: tuple[str, ...] = ()  # "Python 3.9, pytest -m machine ...: FAILED tests/x.py::name - why"
    part_seconds: tuple[float, ...] = ()  # each pytest process's time, as planned


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


def lanes(runs: list[Run]) -> list[list[Part]]:
    """Every part of every run in its lane, in the order of the runs."""
    placed: list[list[Part]] = [[] for _ in range(LANES)]
    for run in runs:
        for part in run.parts():
            placed[part.lane].append(part)
    return [lane for lane in placed if lane]


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


def named_failures(part: Part, code: int, output: str) -> list[str]:
    """What one failed pytest process names, each line with the run it was in; a process that
    failed without naming a test (killed, no test selected, an error before the summary) says
    so with its exit status, so no failed run goes unmentioned."""
    if code == 0:
        return []
    named = failures(output)
    if not named:
        return [f"{part.name}: exit {code}, no failed test named (its output is above)"]
    return [f"{part.name}: {line}" for line in named]


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


_printing = threading.Lock()  # one part's block at a time, never two interleaved


def say(text: str) -> None:
    with _printing:
        sys.stdout.write(text)
        sys.stdout.flush()


def environment(run: Run) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", WITHOUT_MACHINE)}
    env["PYTHONPATH"] = os.pathsep.join(str(SUITE / ".deps" / f"py{run.version}" / part) for part in ("python", "dev"))
    return env


def run_part(part: Part, scratch: Path) -> Finished:
    """One pytest process, its output kept in a file and shown whole when it ends (the lanes
    run at once, so live lines of four processes would interleave)."""
    env = environment(part.run)
    if not part.takes_machine_lock:
        env[WITHOUT_MACHINE] = "1"
    log = scratch / f"lane{part.lane}-py{part.run.version}.log"
    say(f"{PROG}: started: {part.name}\n")
    started = time.monotonic()
    with open(log, "w") as output:
        code = subprocess.call([part.run.python, "-m", "pytest", *part.args], cwd=SUITE, env=env,
                               stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    ended = time.monotonic()
    text = log.read_text(errors="replace")
    say(f"\n{PROG}: ==> {part.name}: exit {code} after {ended - started:.0f} s\n{text}")
    return Finished(part, code, started, ended, text)


def run_lane(parts: list[Part], scratch: Path, into: list[Finished]) -> None:
    for part in parts:
        try:
            into.append(run_part(part, scratch))
        except Exception as error:  # noqa: BLE001 (the interpreter vanished, no room for the log): the lane goes on
            at = time.monotonic()
            say(f"\n{PROG}: ==> {part.name}: could not run: {error}\n")
            into.append(Finished(part, 1, at, at, f"could not run: {error}"))


def execute(runs: list[Run]) -> list[Outcome]:
    """Every run's dependencies, one interpreter after another (two pips must not fill one
    folder at once), then every lane at once; one outcome per run."""
    installed: dict[Run, int] = {}
    for run in runs:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        installed[run] = subprocess.run([run.python, str(SUITE / "orc"), "deps", "--dev"], cwd=SUITE, env=env).returncode
    ready = [run for run in runs if installed[run] == 0]
    finished: list[Finished] = []
    with tempfile.TemporaryDirectory(prefix="orc-matrix-") as scratch:
        threads = [threading.Thread(target=run_lane, args=(lane, Path(scratch), finished)) for lane in lanes(ready)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return [add_up(run, [f for f in finished if f.part.run == run]) if installed[run] == 0 else
            Outcome(run, installed[run], {"errors": 1},
                    (f"Python {run.version}: orc deps --dev exited with {installed[run]}, so no test ran",))
            for run in runs]


def add_up(run: Run, parts: list[Finished]) -> Outcome:
    """A run's parts added up. pytest's 5 (no test selected) is fine for one part of a split
    run (a machine part with no machine test), but a run none of whose parts selected a test
    is a broken plan, not a pass."""
    order = run.parts()
    parts = sorted(parts, key=lambda p: order.index(p.part))  # as planned, not as they ended
    if len(parts) != len(order):  # a lane that never came to it: no pass either
        ran = {p.part for p in parts}
        missing = tuple(f"{part.name}: did not run" for part in order if part not in ran)
        return Outcome(run, 1, {}, missing, tuple(p.ended - p.started for p in parts))
    selected_nothing = all(p.returncode == 5 for p in parts)
    failed = [p for p in parts if p.returncode != 0 and (p.returncode != 5 or selected_nothing)]
    counts: dict[str, int] = {}
    for p in parts:
        found = [line for line in p.output.splitlines() if SUMMARY.search(line)]
        for word, number in _counts(found[-1] if found else "").items():
            counts[word] = counts.get(word, 0) + number
    named = [line for p in failed for line in named_failures(p.part, p.returncode, p.output)]
    returncode = next((1 if p.returncode == 5 else p.returncode for p in failed), 0)
    return Outcome(run, returncode, counts, tuple(named), tuple(p.ended - p.started for p in parts))


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
    for number, lane in enumerate(lanes(runs), 1):
        print(f"{PROG}: lane {number}: " + "; then ".join(part.name for part in lane), flush=True)
    if args.plan:
        return 0

    started = time.monotonic()
    outcomes = execute(runs)
    print(f"\n{PROG}: summary ({time.monotonic() - started:.0f} s in all, the lanes at once)")
    for outcome in outcomes:
        shown = ", ".join(f"{n} {w}" for w, n in outcome.counts.items()) or "no count"
        status = "ok" if outcome.returncode == 0 else f"FAILED (exit {outcome.returncode})"
        took = " + ".join(f"{seconds:.0f}" for seconds in outcome.part_seconds) or "0"
        print(f"  Python {outcome.run.version:<5} {outcome.run.what:<40} {took:>13} s  {shown}  {status}")
    passed = sum(o.counts.get("passed", 0) for o in outcomes)
    failed = sum(o.counts.get("failed", 0) + o.counts.get("error", 0) + o.counts.get("errors", 0) for o in outcomes)
    failed += sum(1 for o in outcomes if o.returncode != 0 and not o.counts.get("failed") and not o.counts.get("error")
                  and not o.counts.get("errors"))
    report_failures(outcomes)
    print(f"total: {passed} passed, {failed} failed")
    return 0 if all(o.returncode == 0 for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
