#!/usr/bin/env python3
"""Find the Python interpreters on this machine, one per minor version.

Looks where people keep them: ``python3.9`` ... ``python3.13`` on PATH (Homebrew,
deadsnakes, python.org installers, pyenv's shims), then pyenv's versions folder
(``$PYENV_ROOT`` or ``~/.pyenv``) when there is one. Every candidate is run once to ask
its version, so a pyenv shim for a version that is not active, or a broken link, is
skipped. Standard library only: the test runner uses it before any dependency exists.

Usage: python3 tools/pythons.py [3.8 3.9 ...]    (prints "X.Y /path" per version found)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

SUITE = Path(__file__).resolve().parent.parent
if str(SUITE) not in sys.path:
    sys.path.insert(0, str(SUITE))

from orc import TESTED_PYTHONS  # noqa: E402  (the one list of supported versions)

SUPPORTED = TESTED_PYTHONS

_ASK = "import sys; print('%d.%d' % sys.version_info[:2])"


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name)[:3])


def candidates(version: str, environ: dict[str, str] | None = None) -> Iterator[str]:
    """Paths that may run Python ``version`` ("3.9"), most likely first."""
    env = os.environ if environ is None else environ
    on_path = shutil.which(f"python{version}", path=env.get("PATH"))
    if on_path:
        yield on_path
    pyenv = Path(env.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    if pyenv.is_dir():
        # Plain CPython releases only ("3.9.18", not "3.13.0t" or "pypy3.10-7.3"), newest first.
        releases = [p for p in pyenv.iterdir() if re.fullmatch(rf"{re.escape(version)}\.\d+", p.name)]
        for folder in sorted(releases, key=lambda p: _version_key(p.name), reverse=True):
            yield str(folder / "bin" / "python3")


def runs_as(path: str, version: str) -> bool:
    """True when ``path`` starts and reports Python ``version``."""
    try:
        done = subprocess.run([path, "-c", _ASK], capture_output=True, text=True, timeout=30,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and done.stdout.strip() == version


def find_pythons(versions: Iterable[str] = SUPPORTED, environ: dict[str, str] | None = None) -> dict[str, str]:
    """``{"3.9": "/path/to/python3.9", ...}`` for each of ``versions`` found on this machine."""
    found: dict[str, str] = {}
    for version in versions:
        for path in candidates(version, environ):
            if runs_as(path, version):
                found[version] = path
                break
    return found


def main(argv: list[str] | None = None) -> int:
    wanted = (sys.argv[1:] if argv is None else argv) or list(SUPPORTED)
    for version, path in find_pythons(wanted).items():
        print(version, path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
