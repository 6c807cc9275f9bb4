"""Install the pinned dependencies into the suite's own folder, one set per Python version.

``pip install --target .deps/py<X.Y>/python`` gives a plain folder of pure-Python packages
that works from wherever the suite is copied. The pins differ between Python versions
(``requirements.txt`` says which with environment markers), so each minor version keeps
its own set beside the others: a folder built with 3.13 and then run with 3.9 builds a
second set and never mixes the two. A stamp holding the hash of the requirements file
tells when a set is stale; it is then rebuilt.

The first run is quiet: one line on stderr while it installs, and pip's own output
(its warnings too) goes to ``deps-install.log`` in the state folder, named in the error
line if the install fails. When the folder carries a bundle of wheels (``make bundle``),
the install uses the bundle only and never asks a package index, so a copied folder
starts on a machine without network. docs/python-and-dependencies.md has the whole story.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import importlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from orc import DEPS_DIR, DEV_DEPS_DIR, MIN_PYTHON, SUITE_DIR, TESTED_PYTHONS
from orc.core.state import FILE_MODE, private_dir, timestamp

__all__ = ["MIN_PYTHON", "ensure_runtime", "install", "is_current", "main"]

BUNDLE_DIR = SUITE_DIR / "bundle" / "wheels"
LOG_NAME = "deps-install.log"
PROG = "tmux-orchestrator"


class InstallFailed(RuntimeError):
    """pip could not build a dependency set; the message says where its output is."""


def _stamp_path(target: Path) -> Path:
    return target / ".requirements.sha256"


def requirements_hash(requirements: Path, *, per_platform: bool = False) -> str:
    """What a set was built from: the requirements file, and for sets holding compiled
    packages (the dev tools' mypy) also the platform, since a folder moves between machines."""
    digest = hashlib.sha256(requirements.read_bytes())
    if per_platform:
        digest.update(f"\n{sys.platform} {platform.machine()}".encode())
    return digest.hexdigest()


def is_current(target: Path, requirements: Path, *, per_platform: bool = False) -> bool:
    """True when ``target`` was built from this exact requirements file."""
    stamp = _stamp_path(target)
    return stamp.is_file() and stamp.read_text().strip() == requirements_hash(requirements, per_platform=per_platform)


def state_dir(environ: dict[str, str] | None = None) -> Path:
    """The state folder, found without python-dotenv (it may be what is being installed):
    ``ORC_STATE_DIR`` from the environment, else from ``.env`` beside the scripts, else ``state/``."""
    env = os.environ if environ is None else environ
    chosen = env.get("ORC_STATE_DIR", "")
    env_file = SUITE_DIR / ".env"
    if not chosen and env_file.is_file():
        for line in env_file.read_text(encoding="utf-8", errors="replace").splitlines():
            found = re.fullmatch(r"\s*(?:export\s+)?ORC_STATE_DIR\s*=\s*(['\"]?)(.*?)\1\s*", line)
            if found:
                chosen = found.group(2)
    return Path(os.path.expanduser(chosen)).absolute() if chosen else SUITE_DIR / "state"


def install_log(environ: dict[str, str] | None = None) -> Path:
    return state_dir(environ) / LOG_NAME


def bundle_wheels(bundle: Path = BUNDLE_DIR) -> bool:
    """True when the folder carries wheels made by ``make bundle``."""
    return bundle.is_dir() and any(bundle.glob("*.whl"))


def _run_pip(arguments: list[str], log: Path, what: str) -> None:
    """Run ``pip <arguments>`` with all its output appended to ``log`` (private to the user);
    raise :class:`InstallFailed` naming the log when pip fails."""
    private_dir(log.parent)
    command = [sys.executable, "-m", "pip", *arguments]
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write(f"\n=== {timestamp()} {what}\n$ {' '.join(command)}\n")
        handle.flush()
        try:
            done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT,
                                  env={**os.environ, "PIP_NO_INPUT": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
        except OSError as exc:
            raise InstallFailed(f"could not run pip ({exc})") from None
        handle.write(f"=== pip exited with {done.returncode}\n")
    if done.returncode != 0:
        raise InstallFailed(f"pip exited with {done.returncode}; its output is in {log}")


@contextmanager
def _install_lock(target: Path) -> Iterator[None]:
    """One builder per set at a time (two commands may start at once on a fresh copy)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _replaced_when_filled(final: Path) -> Iterator[Path]:
    """An empty folder beside ``final`` for the block to fill; it replaces ``final`` once the
    block has ended without an error, and is removed otherwise, leaving ``final`` as it was.
    Readable by all like any folder of the suite (packages and wheels are no secret; mkdtemp
    would make it 0700)."""
    fresh = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.new-"))
    fresh.chmod(0o755)
    try:
        yield fresh
        if final.exists():
            shutil.rmtree(final)
        fresh.rename(final)
    finally:
        if fresh.exists():
            shutil.rmtree(fresh, ignore_errors=True)


def install(target: Path, requirements: Path, log: Path, *, bundle: Path | None = None,
            per_platform: bool = False) -> None:
    """(Re)build ``target`` from ``requirements``, from ``bundle`` only when given.

    pip fills a fresh folder beside the target, which replaces the old set only once it is
    complete, so a failed install leaves the previous set (if any) as it was."""
    with _replaced_when_filled(target) as fresh:
        source = ["--no-index", "--find-links", str(bundle)] if bundle is not None else []
        _run_pip(["install", "--no-input", "--target", str(fresh), *source, "-r", str(requirements)], log,
                 f"Python {sys.version.split()[0]}: installing {requirements.name} into {target}"
                 + (f" from {bundle}" if bundle is not None else ""))
        _stamp_path(fresh).write_text(requirements_hash(requirements, per_platform=per_platform) + "\n")


def _ensure(target: Path, requirements: Path, what: str, *, bundled: bool = False, per_platform: bool = False) -> None:
    """Build ``target`` unless it is current: one line on stderr while pip runs, its output
    in the log, and on failure one error line naming the log (exit 1). ``bundled`` sets
    come from the folder's bundle alone when it has one."""
    if is_current(target, requirements, per_platform=per_platform):
        return
    with _install_lock(target):
        if is_current(target, requirements, per_platform=per_platform):
            return  # another command built it while we waited
        bundle = BUNDLE_DIR if bundled and bundle_wheels() else None
        log = install_log()
        version = "{}.{}".format(*sys.version_info[:2])
        source = f"from {BUNDLE_DIR.relative_to(SUITE_DIR)}" if bundle else "from the package index"
        print(f"{PROG}: installing {what} for Python {version} into {target.relative_to(SUITE_DIR)} {source} "
              f"(once; pip's output goes to {log}) ...", file=sys.stderr, flush=True)
        try:
            install(target, requirements, log, bundle=bundle, per_platform=per_platform)
        except (OSError, InstallFailed) as exc:
            fix = ("was the bundle made before requirements.txt changed? run `make bundle` again where there is network"
                   if bundle else "it needs network access to a package index, or a bundle made by `make bundle`")
            raise SystemExit(f"{PROG}: error: could not install {what} for Python {version} ({exc}); {fix}") from None
    # The folder did not exist when `orc` put it on sys.path: forget that it was missing.
    sys.path_importer_cache.pop(str(target), None)
    importlib.invalidate_caches()


def ensure_runtime() -> None:
    """Make the runtime dependencies importable, building them once if they are missing.

    Called by every entry point before it imports a dependency, so a suite copied to a
    machine without ``.deps`` (or with a set for another Python) repairs itself on first use.
    Python versions below the floor never get here: importing ``orc`` refuses them.
    """
    _ensure(DEPS_DIR, SUITE_DIR / "requirements.txt", "dependencies", bundled=True)


def ensure_dev() -> None:
    """The test tools (pytest, mypy) beside the runtime set, for this Python and platform
    (always from the package index: the bundle carries the runtime wheels only)."""
    _ensure(DEV_DEPS_DIR, SUITE_DIR / "requirements-dev.txt", "test tools", per_platform=True)


# --- the bundle: wheels for every supported Python, for machines without a package index ---------


_MARKER_CLAUSE = re.compile(r"""\s*python_version\s*(==|!=|<=|>=|<|>)\s*["'](\d+)\.(\d+)["']\s*""")


def _marker_holds(marker: str, version: tuple[int, int]) -> bool:
    """Evaluate a marker made of ``python_version <op> "X.Y"`` clauses joined by ``and``
    (the only kind requirements.txt uses) for ``version``: pip evaluates markers for the
    running interpreter only, even when told to download for another."""
    result = True
    for clause in re.split(r"\band\b", marker):
        found = _MARKER_CLAUSE.fullmatch(clause)
        if found is None:
            raise ValueError(f"marker {marker!r} is not python_version comparisons joined by `and`")
        op, wanted = found.group(1), (int(found.group(2)), int(found.group(3)))
        result = result and {
            "==": version == wanted, "!=": version != wanted, "<=": version <= wanted,
            ">=": version >= wanted, "<": version < wanted, ">": version > wanted,
        }[op]
    return result


def pins_for(requirements: Path, version: tuple[int, int]) -> list[str]:
    """The requirement specifiers of ``requirements`` that apply to Python ``version``."""
    pins = []
    for raw in requirements.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        spec, _, marker = line.partition(";")
        if not marker.strip() or _marker_holds(marker, version):
            pins.append(spec.strip())
    return pins


def make_bundle(bundle: Path = BUNDLE_DIR, requirements: Path = SUITE_DIR / "requirements.txt") -> list[str]:
    """Download the wheels of every pin for every supported Python into ``bundle`` (replacing
    what was there); return their file names. Every runtime package is pinned in
    requirements.txt, dependencies of dependencies too, so ``--no-deps`` fetches exactly them."""
    bundle.parent.mkdir(parents=True, exist_ok=True)
    log = install_log()
    with _replaced_when_filled(bundle) as fresh:
        for tested in TESTED_PYTHONS:
            version = (int(tested.split(".")[0]), int(tested.split(".")[1]))
            _run_pip(["download", "--no-input", "--no-deps", "--only-binary=:all:", "--python-version", tested,
                      "--dest", str(fresh), *pins_for(requirements, version)], log,
                     f"bundle: wheels for Python {tested}")
    return sorted(path.name for path in bundle.glob("*.whl"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python3 orc deps",
        description="Install the suite's pinned Python dependencies for this Python into .deps/py<X.Y>/, "
        "or make the offline bundle of wheels for every supported Python.",
        epilog="examples:\n"
        "  python3 orc deps                 # .deps/py<X.Y>/python (what every command does on first use)\n"
        "  python3.9 orc deps --dev         # also pytest and mypy into .deps/py3.9/dev\n"
        "  python3 orc deps --bundle        # bundle/wheels/ for Python "
        f"{TESTED_PYTHONS[0]} to {TESTED_PYTHONS[-1]} (`make bundle`)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dev", action="store_true", help="also install the test tools into .deps/py<X.Y>/dev")
    parser.add_argument("--bundle", action="store_true",
                        help="download the runtime wheels for every supported Python into bundle/wheels/")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.bundle:
        try:
            names = make_bundle()
        except (OSError, ValueError, InstallFailed) as exc:
            print(f"{PROG}: error: could not make the bundle ({exc}); it needs network access to a package index",
                  file=sys.stderr)
            return 1
        print(f"{BUNDLE_DIR}: {len(names)} wheels for Python {TESTED_PYTHONS[0]} to {TESTED_PYTHONS[-1]}")
        return 0
    ensure_runtime()
    if args.dev:
        ensure_dev()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
