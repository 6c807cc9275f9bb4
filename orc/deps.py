"""Install the pinned runtime dependencies into the suite's own folder.

``pip install --target .deps/python`` gives a plain folder of pure-Python packages
that works from wherever the suite is copied. A stamp holding the hash of
``requirements.txt`` tells when the folder is stale; it is then rebuilt.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from orc import DEPS_DIR, SUITE_DIR

MODULES = ("libtmux", "crontab", "filelock", "dotenv")
MIN_PYTHON = (3, 11)


def _stamp_path(target: Path) -> Path:
    return target / ".requirements.sha256"


def requirements_hash(requirements: Path) -> str:
    return hashlib.sha256(requirements.read_bytes()).hexdigest()


def is_current(target: Path, requirements: Path) -> bool:
    """True when ``target`` was built from this exact requirements file."""
    stamp = _stamp_path(target)
    return stamp.is_file() and stamp.read_text().strip() == requirements_hash(requirements)


def install(target: Path, requirements: Path, *, quiet: bool = True) -> None:
    """(Re)build ``target`` from ``requirements``; raise CalledProcessError on failure."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    command = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check",
               "--no-input", "--target", str(target), "-r", str(requirements)]
    if quiet:
        command.append("--quiet")
    # pip's output would be noise on stdout, which is the result channel of our commands.
    subprocess.run(command, check=True, stdout=sys.stderr, env={**os.environ, "PIP_NO_INPUT": "1"})
    _stamp_path(target).write_text(requirements_hash(requirements) + "\n")


def ensure_runtime() -> None:
    """Make the runtime dependencies importable, building them once if they are missing.

    Called by every entry point before it imports a dependency, so a suite copied to a
    machine without ``.deps`` (or with a stale one) repairs itself on first use.
    """
    if sys.version_info < MIN_PYTHON:
        raise SystemExit(
            f"tmux-orchestrator: error: Python {sys.version.split()[0]} is too old; "
            f"install Python {MIN_PYTHON[0]}.{MIN_PYTHON[1]}+ and set ORC_PYTHON to it"
        )
    requirements = SUITE_DIR / "requirements.txt"
    if is_current(DEPS_DIR, requirements):
        return
    print(f"tmux-orchestrator: installing dependencies into {DEPS_DIR} ...", file=sys.stderr)
    try:
        install(DEPS_DIR, requirements)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(
            f"tmux-orchestrator: error: could not install dependencies ({exc}); "
            f"run `make deps` with network access to PyPI"
        ) from None
    importlib.invalidate_caches()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m orc.deps",
        description="Install the suite's pinned Python dependencies into .deps/.",
        epilog="examples:\n  python3 -m orc.deps\n  python3 -m orc.deps --dev",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dev", action="store_true", help="also install the test tools into .deps/dev")
    args = parser.parse_args(argv)
    ensure_runtime()
    if args.dev:
        dev_dir, dev_requirements = SUITE_DIR / ".deps" / "dev", SUITE_DIR / "requirements-dev.txt"
        if not is_current(dev_dir, dev_requirements):
            print(f"tmux-orchestrator: installing test tools into {dev_dir} ...", file=sys.stderr)
            install(dev_dir, dev_requirements)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
