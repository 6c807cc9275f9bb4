"""Entry point for the launchers: ``python3 <suite>/orc <command> [args...]``.

Running the folder (rather than ``-m``) lets a launcher start the suite from any
working directory without exporting PYTHONPATH, which would leak into the agents
and tmux servers the suite starts.
"""

# No `from __future__ import annotations`: this file must compile on old interpreters too,
# so that importing `orc` below can tell a person which Python versions work.
import sys

if __name__ == "__main__" and sys.argv[1:2] == ["hook"]:
    # Claude Code runs `orc hook` for every event of every agent, on its critical path: it
    # skips the dependency check and the `orc` package (whose pathlib import alone costs as
    # much as the rest of the hook), importing orc/record/hook.py as a top-level module from
    # that folder, beside this one (sys.path[0]): a string join, not pathlib, for the same reason.
    sys.path[0] = sys.path[0] + "/record"
    import hook  # type: ignore[import-not-found]  # orc/record/hook.py, as a top-level module

    raise SystemExit(hook.main(sys.argv[2:]))

import importlib  # noqa: E402
from pathlib import Path  # noqa: E402

# sys.path[0] is this folder when run as a directory; the suite folder must come
# first instead so that `orc.*` and `tmux_utils` import as the package and module.
_SUITE = str(Path(__file__).resolve().parent.parent)
sys.path[0:1] = [_SUITE]

COMMANDS = {
    "send_message": "orc.messages.send_message",
    "schedule": "orc.scheduling.schedule",
    "fire": "orc.scheduling.fire",
    "integration": "orchestrator_integration",
    "deps": "orc.core.deps",
    "hook": "orc.record.hook",
    "attention-event": "orc.teams.attention_events",
    "drain": "orc.messages.mailbox",
}


def main() -> int:
    from orc.core import deps
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(f"orc: error: command must be one of {', '.join(sorted(COMMANDS))}", file=sys.stderr)
        return 2
    name = sys.argv[1]
    if name not in ("deps", "hook"):
        deps.ensure_runtime()
    module = importlib.import_module(COMMANDS[name])
    result: int = module.main(sys.argv[2:])
    return result


if __name__ == "__main__":
    raise SystemExit(main())
