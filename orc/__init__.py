"""Tmux Orchestrator's modules, one concern each.

Importing this package puts the suite's private dependency folder (``.deps/python``)
on ``sys.path``: the suite is a folder copied onto a machine, not an installed
package, so every entry point (launchers, ``python3 tmux_utils.py``, cron lines,
tests) gets its pinned dependencies the same way, without a virtualenv whose
absolute paths would break when the folder moves.
"""

from __future__ import annotations

import sys
from pathlib import Path

SUITE_DIR = Path(__file__).resolve().parent.parent
DEPS_DIR = SUITE_DIR / ".deps" / "python"

if str(DEPS_DIR) not in sys.path:
    sys.path.insert(0, str(DEPS_DIR))
