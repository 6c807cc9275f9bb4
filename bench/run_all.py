#!/usr/bin/env python3
"""Run every benchmark whose figures are in docs/benchmarks.md, one after another.

Usage: python3 bench/run_all.py        (or: make bench)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["bench_snapshot.py", "bench_registry.py", "bench_delivery.py", "bench_schedule.py", "bench_status.py",
              "bench_hook.py", "bench_attention.py"]


def main() -> int:
    failed = []
    for script in BENCHMARKS:
        print(f"\n== {script}", flush=True)
        if subprocess.run([sys.executable, str(HERE / script)]).returncode != 0:
            failed.append(script)
    if failed:
        print(f"\nbench: these did not meet their goal or failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
