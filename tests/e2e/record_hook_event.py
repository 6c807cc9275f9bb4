"""A hook command for the end-to-end tests: save the event an agent CLI hands its hook.

Usage: record_hook_event.py FOLDER EVENT
Reads the event's JSON from stdin and writes it, unchanged, to
``FOLDER/<nanoseconds>-EVENT.json``; exits 0 whatever happens, so a recording problem
never blocks the agent under test (a hook that fails can stop a turn).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="record_hook_event.py",
        description="Save the JSON event on stdin to FOLDER/<ns>-EVENT.json (a test's hook command).",
        epilog="examples:\n  record_hook_event.py /tmp/events UserPromptSubmit < event.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("folder", type=Path)
    parser.add_argument("event")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        data = sys.stdin.buffer.read()
        args.folder.mkdir(parents=True, exist_ok=True)
        partial = args.folder / f".{os.getpid()}.partial"
        partial.write_bytes(data)
        # Renamed into place whole, so a reader never sees half an event.
        os.replace(partial, args.folder / f"{time.time_ns()}-{args.event}.json")
    except OSError as exc:
        print(f"record_hook_event.py: error: {exc}", file=sys.stderr)
    return 0


def recorded_events(folder: Path) -> list[dict[str, Any]]:
    """The events saved in ``folder`` so far, oldest first."""
    if not folder.is_dir():
        return []
    return [json.loads(path.read_text(encoding="utf-8"))
            for path in sorted(folder.glob("*.json"), key=lambda p: int(p.name.split("-", 1)[0]))]


def recorded_event_names(folder: Path) -> list[str]:
    """The ``hook_event_name`` of each event saved in ``folder`` so far, oldest first."""
    return [str(event.get("hook_event_name")) for event in recorded_events(folder)]


if __name__ == "__main__":
    raise SystemExit(main())
