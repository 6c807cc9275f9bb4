"""send_message.sh: deliver a message to an agent's tmux pane and prove it was submitted."""

from __future__ import annotations

import argparse
import sys

from orc.core.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Parser, fail

EXIT_NO_PROOF = 3
from orc.messages.delivery import clean_text, deliver, fit_to_size, special_meaning
from orc.core.settings import SettingsError, load_settings
from orc.core.tmux import BadTarget, Tmux, parse_target

PROG = "send_message.sh"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=PROG,
        usage=f"{PROG} [--allow-shell] [--special] [--debug] <target> <message...|->",
        description=(
            "Type a message into an agent's tmux pane and submit it, proven from the agent's own record: "
            "the exact text as a new prompt in its session transcript (Claude Code 2.1.328 and later, "
            "found through its session registry), else from the screen. "
            "Words after the target are joined by spaces and taken literally (even ones starting "
            "with '-'); '-' alone reads the message from stdin. Refuses to type while a dialog is "
            "showing, into a shell, a dead pane, or over someone's unsent text. "
            "Exit 0: submitted (stdout names the proof: transcript, hook or screen); 1: not submitted "
            "(one line on stderr says why); 2: bad usage; 3: no proof either way (no source could "
            "read the pane, so nothing was typed, or the text was typed but no source shows it arrived: "
            "look before sending again)."
        ),
        epilog=(
            "targets: session:window, session:window.pane, session:window-name, %pane_id\n"
            "examples:\n"
            "  send_message.sh agentic-seek:3 \"Hello Claude!\"\n"
            "  send_message.sh project:Backend-Dev.0 -n check the build\n"
            "  git diff --stat | send_message.sh pm:0 -"
        ),
    )
    parser.add_argument("--allow-shell", action="store_true",
                        help="also type into a shell or unrecognised pane (dev-server windows); unverified")
    parser.add_argument("--special", action="store_true",
                        help="allow a message starting with ! / # @ (Claude Code: shell, slash command, memory, file)")
    parser.add_argument("--debug", action="store_true", help="show a traceback on unexpected errors")
    parser.add_argument("target", help="the pane to deliver to")
    parser.add_argument("message", nargs=argparse.REMAINDER, help="message words, or - for stdin")
    return parser


def usage_error(message: str) -> int:
    return fail(PROG, message, EXIT_USAGE)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    words: list[str] = args.message
    if words[:1] == ["--"]:
        words = words[1:]
    if not words:
        return usage_error("no message given; usage: send_message.sh <target> <message...>")
    raw = sys.stdin.read() if words == ["-"] else " ".join(words)
    text = clean_text(raw)
    if not text.strip():
        return usage_error("the message is empty; give some text (or pipe it with '-')")
    meaning = special_meaning(text)
    if meaning and not args.special:
        return usage_error(f"a message starting with {text[0]!r} is {meaning} in Claude Code; "
                           f"add --special to send it as that, or start with another character")
    try:
        parse_target(args.target)
        settings = load_settings()
    except (BadTarget, SettingsError) as exc:
        return usage_error(str(exc))
    from orc.scheduling.home import notice_home

    notice_home(settings)  # a copied or moved folder is noticed by any command (docs/copy-and-move.md)
    try:
        result = deliver(Tmux(settings.tmux_socket, settings.tmux_bin), args.target,
                         fit_to_size(text, settings), settings, allow_shell=args.allow_shell)
    except Exception as exc:  # a bug or a broken environment: still one line, still exit 1
        if args.debug:
            raise
        return fail(PROG, f"{type(exc).__name__}: {exc}; rerun with --debug for details")
    if result.submitted:
        print(f"Message sent to {args.target} ({result.reason})")
        return EXIT_OK
    if result.unproven:
        return fail(PROG, f"no proof for {args.target}: {result.reason}", EXIT_NO_PROOF)
    return fail(PROG, f"not submitted to {args.target}: {result.reason}", EXIT_FAILED)


if __name__ == "__main__":
    raise SystemExit(main())
