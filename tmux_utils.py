#!/usr/bin/env python3
"""The suite's face on tmux: the documented command, and the names other code imports.

Run as a script it prints a snapshot of every pane on the server:
``python3 tmux_utils.py`` (readable text) or ``python3 tmux_utils.py --json``.

Imported, it re-exports the one path to tmux (:mod:`orc.core.tmux`: :class:`Tmux`,
:class:`Pane`, the errors, :func:`parse_target`) and the agent snapshot on top of it
(:mod:`orc.record.snapshot`: :func:`snapshot`, :func:`look`, :class:`PaneSnapshot`,
:class:`StateSources`). The library itself imports those modules, never this script.
"""

from __future__ import annotations

import argparse
import json
import sys

import orc  # noqa: F401  (puts the suite's dependency folder on sys.path)
from orc.core.tmux import (
    PANE_FORMAT, SEP, TARGET_FORMS, BadTarget, NoServerError, Pane, ParsedTarget, TargetNotFound, Tmux, TmuxError,
    parse_target, trim_screen,
)
from orc.record.snapshot import PaneSnapshot, StateSources, format_snapshot, look, pane_states, snapshot

__all__ = [
    "PANE_FORMAT", "SEP", "TARGET_FORMS", "BadTarget", "NoServerError", "Pane", "PaneSnapshot", "ParsedTarget",
    "StateSources", "TargetNotFound", "Tmux", "TmuxError", "format_snapshot", "look", "main", "pane_states",
    "parse_target", "snapshot", "trim_screen",
]


# --- command line ------------------------------------------------------------------


def _positive_count(text: str) -> int:
    """argparse type for a count: a whole number of at least 1 (else bad usage, exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a count; give 1 or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tmux_utils.py",
        description="Snapshot every pane on the tmux server: session, window, pane id, "
        "command, agent state with its source (registry: Claude Code's own session registry; "
        "hook; screen), its age, the agent's session id and version, the messages kept for it "
        "(send_message.sh --queue) and the age of the oldest, and last lines.",
        epilog="examples:\n"
        "  python3 tmux_utils.py                 # readable text\n"
        "  python3 tmux_utils.py --json --lines 5\n"
        "  ORC_TMUX_SOCKET=/tmp/tmux-1000/work python3 tmux_utils.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--lines", type=_positive_count, default=10, metavar="N",
                        help="last N screen lines per pane, at least 1 (default 10)")
    parser.add_argument("--debug", action="store_true", help="show a traceback on errors")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from orc.core.deps import ensure_runtime

    ensure_runtime()
    from orc.core.settings import SettingsError, load_settings

    try:
        settings = load_settings()
        tmux = Tmux(settings.tmux_socket, settings.tmux_bin)
        snapshots = snapshot(tmux, args.lines, settings.agent_kind, StateSources.from_settings(settings))
    except (SettingsError, TmuxError) as exc:
        if args.debug:
            raise
        print(f"tmux_utils.py: error: {exc}", file=sys.stderr)
        return 1
    from orc.messages.mailbox import waiting_by_window

    kept = waiting_by_window(settings, settings.tmux_socket)  # messages kept until the agent can take them
    mail = {s.pane.pane_id: kept[(s.pane.session, s.pane.window_name)] for s in snapshots
            if s.pane.pane_active and (s.pane.session, s.pane.window_name) in kept}
    if args.json:
        print(json.dumps([{**s.as_json(), "kept": mail.get(s.pane.pane_id, (0, 0.0))[0],
                           "kept_oldest_age": mail[s.pane.pane_id][1] if s.pane.pane_id in mail else None}
                          for s in snapshots], indent=2))
    elif snapshots:
        print(format_snapshot(snapshots, {pane: f"kept={count} oldest={oldest:.0f}s"
                                          for pane, (count, oldest) in mail.items()}))
    else:
        print(f"no tmux server with panes at {settings.tmux_socket}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
