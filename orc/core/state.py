"""Plain-text state files, private to the user and written atomically (docs/README.md, "State")."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if needed and make sure only the user can enter it."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if (path.stat().st_mode & 0o777) != DIR_MODE:
        path.chmod(DIR_MODE)
    return path


def write_private_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step: a reader sees the old or the new file, never half."""
    private_dir(path.parent)
    replace_file(path, text, FILE_MODE)


def replace_file(path: Path, text: str, mode: int) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``: a
    reader sees the old file or the new one, never half of it. The folder is left as it is."""
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, mode)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def append_line(path: Path, line: str) -> None:
    """Append one line to a log; O_APPEND keeps lines from concurrent writers whole."""
    private_dir(path.parent)
    flat = line.replace("\r", " ").replace("\n", " ")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
    try:
        os.write(fd, (flat + "\n").encode("utf-8"))
    finally:
        os.close(fd)


def timestamp(moment: datetime | None = None) -> str:
    """Local time with offset, to the second: what a person reading a log expects."""
    return (moment or datetime.now(timezone.utc)).astimezone().isoformat(timespec="seconds")


def log_event(path: Path, event: str, **fields: object) -> None:
    """One ``<time> <event> key=value ...`` line; values are quoted when they contain spaces."""
    parts = [timestamp(), event]
    for key, value in fields.items():
        if value is None:
            continue
        shown = str(value)
        if not shown or any(ch.isspace() for ch in shown) or '"' in shown:
            shown = '"' + shown.replace("\\", "\\\\").replace('"', '\\"') + '"'
        parts.append(f"{key}={shown}")
    append_line(path, " ".join(parts))
