"""send_message.sh: deliver a message to an agent's tmux pane and prove it was submitted,
or keep it in the pane's mailbox until the agent can take it (orc/messages/mailbox.py)."""

from __future__ import annotations

import argparse
import os
import sys
import time

from orc.core.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Parser, fail
from orc.core.settings import Settings, SettingsError, load_settings
from orc.core.tmux import BadTarget, Pane, TargetNotFound, Tmux, TmuxError, parse_target
from orc.messages import mailbox
from orc.messages.delivery import Delivery, clean_text, deliver, fit_to_size, special_meaning

EXIT_NO_PROOF = 3
EXIT_KEPT = 4
PROG = "send_message.sh"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=PROG,
        usage=(f"{PROG} [--queue] [--when-idle] [--wait] [--allow-shell] [--special] [--debug] <target> <message...|->\n"
               f"       {PROG} --list [target]\n"
               f"       {PROG} --cancel ID [ID...]"),
        description=(
            "Type a message into an agent's tmux pane and submit it, proven from the agent's own record: "
            "the exact text as a new prompt in its session transcript (Claude Code 2.1.328 and later, "
            "found through its session registry), else from the screen. "
            "Words after the target are joined by spaces and taken literally (even ones starting "
            "with '-'); '-' alone reads the message from stdin. Refuses to type while a dialog is "
            "showing, into a shell, a dead pane, or over someone's unsent text. "
            "With --queue (the default when the sender is itself an agent in a tmux pane; "
            "ORC_SEND_QUEUE=1 always, 0 never) a message the agent cannot take now for a reason that "
            "passes (a dialog, a draft, a usage limit, busy with --when-idle, a pane being restarted) "
            "is kept in the pane's mailbox instead, and typed, in order and proven, as soon as it can be. "
            "Exit 0: submitted (stdout names the proof: transcript, hook or screen); 1: not submitted "
            "(one line on stderr says why); 2: bad usage; 3: no proof either way (no source could "
            "read the pane, so nothing was typed, or the text was typed but no source shows it arrived: "
            "look before sending again); 4: kept in the mailbox (stdout gives its id), to be delivered "
            "when the agent can take it."
        ),
        epilog=(
            "targets: session:window, session:window.pane, session:window-name, %pane_id\n"
            "examples:\n"
            "  send_message.sh agentic-seek:3 \"Hello Claude!\"\n"
            "  send_message.sh project:Backend-Dev.0 -n check the build\n"
            "  git diff --stat | send_message.sh pm:0 -\n"
            "  send_message.sh --queue --when-idle webapp:Dev \"TASK: next one, when you are done\"\n"
            "  send_message.sh --list\n"
            "  send_message.sh --cancel m-1a2b3c4d5e"
        ),
    )
    parser.add_argument("--queue", action="store_true",
                        help="keep the message if the agent cannot take it now (exit 4), instead of refusing")
    parser.add_argument("--when-idle", action="store_true",
                        help="do not interrupt a busy agent: keep the message until its turn ends (implies --queue)")
    parser.add_argument("--wait", action="store_true",
                        help="if kept, wait until it is delivered (exit 0) or ORC_QUEUE_MAX_AGE passes (exit 4)")
    parser.add_argument("--list", action="store_true", help="show the kept messages (of one target if given)")
    parser.add_argument("--cancel", nargs="+", metavar="ID", help="cancel kept messages by id")
    parser.add_argument("--allow-shell", action="store_true",
                        help="also type into a shell or unrecognised pane (dev-server windows); unverified")
    parser.add_argument("--special", action="store_true",
                        help="allow a message starting with ! / # @ (Claude Code: shell, slash command, memory, file)")
    parser.add_argument("--debug", action="store_true", help="show a traceback on unexpected errors")
    parser.add_argument("target", nargs="?", help="the pane to deliver to")
    parser.add_argument("message", nargs=argparse.REMAINDER, help="message words, or - for stdin")
    return parser


def usage_error(message: str) -> int:
    return fail(PROG, message, EXIT_USAGE)


def describe_age(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else (f"{minutes}m{secs:02d}s" if minutes else f"{secs}s")


def show_list(settings: Settings, target: str | None) -> int:
    kept = mailbox.kept_messages(settings)
    if target:
        kept = [k for k in kept if target in (k.target, k.pane_id, f"{k.session}:{k.window_name}")]
    if not kept:
        print("No kept messages." if not target else f"No kept messages for {target}.")
        return EXIT_OK
    now = mailbox.now_local()
    print(f"{'ID':<13} {'TARGET':<22} {'AGE':>7}  {'STATE':<10} WAITING FOR / MESSAGE")
    for k in kept:
        why = k.last_reason or k.reason
        print(f"{k.id:<13} {k.target:<22} {describe_age(k.age(now)):>7}  {k.state:<10} {why[:70]}")
        print(f"{'':<13} {k.first_line[:100]}")
    print(f"Records: {mailbox.mailbox_dir(settings)}; cancel one with {PROG} --cancel ID")
    return EXIT_OK


def cancel(settings: Settings, ids: list[str]) -> int:
    bad = [i for i in ids if not mailbox.MESSAGE_ID.fullmatch(i)]
    if bad:
        return usage_error(f"{bad[0]!r} is not a message id (m-<hex>); see them with --list")
    try:
        done = mailbox.cancel(settings, ids)
    except mailbox.UnknownMessage as exc:
        return usage_error(str(exc))
    for k in done:
        print(f"Cancelled {k.id} for {k.target}: {k.first_line[:80]}")
    return EXIT_OK


def keep_message(settings: Settings, target: str, pane: Pane, text: str, why: Delivery | None, *,
                 when_idle: bool, wait: bool, typed: tuple[str, int, float] | None = None) -> int:
    reason = why.kind if why is not None else "behind"
    try:
        kept = mailbox.keep(settings, target, pane, text, reason, when_idle=when_idle,
                            sender=os.environ.get("TMUX_PANE", "-") or "-", typed=typed)
    except mailbox.MailboxError as exc:
        return fail(PROG, f"not submitted to {target}, and not kept: {exc}")
    from orc.scheduling.checkins import ensure_sweep_lines

    warning = ensure_sweep_lines(settings)
    if warning:
        print(f"{PROG}: warning: {warning}", file=sys.stderr)
    mailbox.start_drainer(settings, kept)
    said = why.reason if why is not None else "older kept messages for it go first"
    if wait:
        return wait_for(settings, kept)
    print(f"Message kept for {target} as {kept.id} ({said}); it is typed and proven as soon as the agent "
          f"can take it ({PROG} --list)")
    return EXIT_KEPT


def wait_for(settings: Settings, kept: mailbox.Kept) -> int:
    """Until the kept message is delivered, set aside or cancelled, or ORC_QUEUE_MAX_AGE passes."""
    deadline = time.monotonic() + settings.queue_max_age_minutes * 60
    while time.monotonic() < deadline:
        if mailbox.read(settings, kept.id) is None:
            done = mailbox.read_done(settings, kept.id)
            if done is None:
                time.sleep(0.05)  # between the two files of its move
                done = mailbox.read_done(settings, kept.id)
            if done is not None and done.state == "delivered":
                print(f"Message sent to {kept.target} (submitted from the mailbox as {kept.id}; proof: {done.proof})")
                return EXIT_OK
            if done is not None and done.state == "unproven":
                return fail(PROG, f"no proof for {kept.target}: {kept.id} was typed but no source shows it arrived",
                            EXIT_NO_PROOF)
            return fail(PROG, f"not submitted to {kept.target}: {kept.id} was cancelled")
        time.sleep(0.2)
    print(f"Message still kept for {kept.target} as {kept.id} after {settings.queue_max_age_minutes:g} min "
          f"(ORC_QUEUE_MAX_AGE); it stays in the mailbox and a person is told")
    return EXIT_KEPT


def wait_behind(settings: Settings, key: str) -> int:
    """A direct send goes after the pane's kept mail: wait (up to the lock timeout) for a
    drainer to empty it. Returns how many are still ahead."""
    ahead = mailbox.kept_for(settings, key)
    if ahead:
        mailbox.start_drainer(settings, ahead[0])
    deadline = time.monotonic() + settings.lock_timeout
    while ahead and time.monotonic() < deadline:
        time.sleep(0.2)
        ahead = mailbox.kept_for(settings, key)
    return len(ahead)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        return usage_error(str(exc))
    if args.list or args.cancel:
        if args.message or (args.cancel and args.target) or (args.list and args.cancel):
            return usage_error("--list takes at most a target, --cancel only message ids")
        from orc.scheduling.home import notice_home

        notice_home(settings)
        return show_list(settings, args.target) if args.list else cancel(settings, args.cancel)
    words: list[str] = args.message
    if words[:1] == ["--"]:
        words = words[1:]
    if not args.target:
        return usage_error("no target given; usage: send_message.sh <target> <message...>")
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
    if args.allow_shell and (args.queue or args.when_idle or args.wait):
        return usage_error("--allow-shell types at once, unproven; it cannot be kept (drop --queue/--when-idle/--wait)")
    try:
        parse_target(args.target)
    except BadTarget as exc:
        return usage_error(str(exc))
    from orc.scheduling.home import notice_home

    notice_home(settings)  # a copied or moved folder is noticed by any command (docs/copy-and-move.md)
    try:
        return send(settings, args, fit_to_size(text, settings))
    except Exception as exc:  # a bug or a broken environment: still one line, still exit 1
        if args.debug:
            raise
        return fail(PROG, f"{type(exc).__name__}: {exc}; rerun with --debug for details")


def send(settings: Settings, args: argparse.Namespace, text: str) -> int:
    tmux = Tmux(settings.tmux_socket, settings.tmux_bin)
    keeping = not args.allow_shell and mailbox.keeps_messages(
        settings, args.queue or args.when_idle or args.wait, os.environ)
    pane: Pane | None = None
    try:
        pane = tmux.resolve(args.target)
    except (BadTarget, TargetNotFound, TmuxError):
        pass  # deliver() says why, in its one line, and logs it
    if pane is not None and mailbox.has_mail(settings.state_dir):
        key = mailbox.key_of_pane(settings.tmux_socket, pane)
        if keeping and mailbox.kept_for(settings, key):
            return keep_message(settings, args.target, pane, text, None, when_idle=args.when_idle, wait=args.wait)
        ahead = wait_behind(settings, key)
        if ahead:
            return fail(PROG, f"not submitted to {args.target}: {ahead} kept message(s) for it wait ahead of this one "
                        f"({PROG} --list); add --queue to keep this one behind them")
    typed: list[tuple[str, int, float]] = []  # where the transcript ended when the text was pasted
    result = deliver(tmux, args.target, text, settings, allow_shell=args.allow_shell, when_idle=args.when_idle,
                     on_paste=lambda transcript, offset, at: typed.append((transcript, offset, at)))
    if result.submitted:
        print(f"Message sent to {args.target} ({result.reason})")
        return EXIT_OK
    if keeping and pane is not None and mailbox.passing(result.kind):
        return keep_message(settings, args.target, pane, text, result, when_idle=args.when_idle, wait=args.wait,
                            typed=typed[0] if typed else None)
    if result.unproven:
        return fail(PROG, f"no proof for {args.target}: {result.reason}", EXIT_NO_PROOF)
    return fail(PROG, f"not submitted to {args.target}: {result.reason}", EXIT_FAILED)


if __name__ == "__main__":
    raise SystemExit(main())
