"""Tmux Orchestrator's modules, one concern each.

Importing this package first checks the Python version, then puts the suite's private
dependency folder for this interpreter (``.deps/py<X.Y>/python``) on ``sys.path``: the
suite is a folder copied onto a machine, not an installed package, so every entry point
(launchers, ``python3 tmux_utils.py``, cron lines, tests) gets its pinned dependencies
the same way, without a virtualenv whose absolute paths would break when the folder
moves. One set per Python minor version, because the pins differ between versions and a
copied folder may meet another interpreter (docs/python-and-dependencies.md).
"""

# No `from __future__ import annotations` and nothing newer than Python 3.6 in this file:
# it is the first of the suite's code any interpreter runs, and on one that is too old it
# must get as far as saying which versions work (the launchers' orc/__main__.py likewise).
import sys
from pathlib import Path

MIN_PYTHON = (3, 9)
TESTED_PYTHONS = ("3.9", "3.10", "3.11", "3.12", "3.13")

if sys.version_info < MIN_PYTHON:
    raise SystemExit(
        "tmux-orchestrator: error: Python {} is too old; the suite runs on Python {} to {}: "
        "install one of those and run the suite with it (the launchers take "
        "ORC_PYTHON=/path/to/python3.X)".format(sys.version.split()[0], TESTED_PYTHONS[0], TESTED_PYTHONS[-1])
    )

SUITE_DIR = Path(__file__).resolve().parent.parent
PYTHON_TAG = "py{}.{}".format(*sys.version_info[:2])
DEPS_ROOT = SUITE_DIR / ".deps" / PYTHON_TAG
DEPS_DIR = DEPS_ROOT / "python"
DEV_DEPS_DIR = DEPS_ROOT / "dev"

if str(DEPS_DIR) not in sys.path:
    sys.path.insert(0, str(DEPS_DIR))
