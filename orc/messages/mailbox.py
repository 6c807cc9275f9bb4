"""The mailbox: messages kept until their agent can take them (docs/delivery.md, "Kept messages").

``send_message.sh --queue`` (the default for senders that are agents) keeps a message the
target cannot take now for a reason that passes by itself (a dialog, a draft, a usage
limit, a busy agent with ``--when-idle``, a pane being respawned) instead of refusing it.
Where things are (0600 files in 0700 folders under the state folder):

* ``mailbox/<id>.txt``: one kept message, a few ``key: value`` lines, a blank line, then the
  text exactly as it will be typed. Delivered and cancelled ones move to ``mailbox/done/``.
* ``mailbox/seq.txt``: the last sequence number given: the order messages were sent in.
* ``mailbox.log``: one line per event: queued, delivering, delivered, cancelled, unproven.

A message belongs to a pane, named by what survives a respawn and a new tmux server: the
server's socket and ``session``, ``window name`` and pane index (the pane id too, while it
lives). Per pane, one drainer at a time (a lock) delivers in sequence order, each message
proven as a direct send is. Drainers start when a message is kept and on the agent's own
events (``orc hook``: its turn ended, a tool ran after a dialog, its session started), and
watch the pane for ``drain_watch_seconds``; after that the minute sweep tries each pane.

Once-only: a message's record says ``delivering`` before its text is typed, with where the
agent's transcript ended then. A run that finds it so (a drainer killed mid-delivery, an
unproven attempt) first looks there and in the hooks' prompt log for the text, and submits
the text it finds left alone in the input box rather than typing it again.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from filelock import Timeout

from orc.core.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Parser, fail
from orc.core.locks import boot_under_way, named_lock
from orc.core.settings import Settings, SettingsError, load_settings
from orc.core.state import log_event, private_dir, write_private_text
from orc.core.tmux import Pane, Tmux, TmuxError
from orc.messages.delivery import PASSING, deliver, holds_exactly, prompts_of
from orc.record.hook_events import latest_reports, panes_dir, prompt_keys_since
from orc.record.profiles import PROFILES, profile_for
from orc.record.prompt_text import prompt_key, same_prompt
from orc.record.snapshot import PaneSnapshot, StateSources, look

MESSAGE_ID = re.compile(r"m-[0-9a-f]{10}")
POLL = 0.5           # how often a drainer looks at a pane that cannot take its mail yet


class MailboxError(OSError):
    """The mailbox could not be written (a full or unwritable state disk); nothing was kept."""


class UnknownMessage(ValueError):
    """No kept message has this id."""


@dataclass(frozen=True)
class Kept:
    """One kept message, as recorded in ``mailbox/<id>.txt``."""

    id: str
    seq: int
    target: str              # as the sender wrote it
    pane_id: str
    session: str
    window_name: str
    pane_index: int
    tmux_socket: Path
    tmux_bin: str
    queued_at: datetime
    reason: str              # why it was kept, in one word (delivery.PASSING)
    text: str
    when_idle: bool = False
    sender: str = "-"        # the sender's pane, when it is one
    state: str = "queued"    # queued, delivering, then delivered, cancelled, unproven
    attempts: int = 0
    last_reason: str = ""
    transcript: str = "-"    # the agent's transcript when first typed, and its size then
    offset: int = 0
    typed_at: float = 0.0    # when first typed (epoch): the hooks' prompt log is read from here
    proof: str = "-"
    finished_at: datetime | None = None
    agent_pid: int = 0       # the agent's process when typed (its own typed-ahead queue dies with it)

    @property
    def first_line(self) -> str:
        return self.text.split("\n", 1)[0]

    def age(self, now: datetime) -> float:
        return (now - self.queued_at).total_seconds()


# --- paths and the record's text form -----------------------------------------------------


def mailbox_dir(settings: Settings) -> Path:
    return settings.state_dir / "mailbox"


def done_dir(settings: Settings) -> Path:
    return mailbox_dir(settings) / "done"


def log_path(settings: Settings) -> Path:
    return settings.state_dir / "mailbox.log"


def record_path(settings: Settings, message_id: str) -> Path:
    return mailbox_dir(settings) / f"{message_id}.txt"


def now_local() -> datetime:
    return datetime.now(timezone.utc).astimezone().replace(microsecond=0)


_FIELDS = ("id", "seq", "state", "target", "pane_id", "session", "window_name", "pane_index", "tmux_socket",
           "tmux_bin", "queued_at", "reason", "when_idle", "sender", "attempts", "last_reason", "transcript",
           "offset", "typed_at", "proof", "finished_at", "agent_pid")


def render(kept: Kept) -> str:
    def shown(name: str) -> str:
        value = getattr(kept, name)
        if isinstance(value, datetime):
            return value.isoformat(timespec="seconds")
        if isinstance(value, bool):
            return "yes" if value else "no"
        if value is None or value == "":
            return "-"
        return " ".join(str(value).split())  # one line: a window name or reason with a newline stays one field
    return "".join(f"{name}: {shown(name)}\n" for name in _FIELDS) + "\n" + kept.text + "\n"


def parse(text: str) -> Kept | None:
    head, sep, body = text.partition("\n\n")
    if not sep or not body.endswith("\n"):
        return None  # a half-written file is never left by the atomic writes; this is not ours
    fields: dict[str, str] = {}
    for line in head.split("\n"):
        key, colon, value = line.partition(": ")
        if colon:
            fields[key] = value

    def text_of(name: str) -> str:
        value = fields.get(name, "-")
        return "" if value == "-" else value

    try:
        return Kept(
            id=fields["id"], seq=int(fields["seq"]), target=fields["target"], pane_id=fields["pane_id"],
            session=fields["session"], window_name=text_of("window_name"), pane_index=int(fields["pane_index"]),
            tmux_socket=Path(fields["tmux_socket"]), tmux_bin=fields["tmux_bin"],
            queued_at=datetime.fromisoformat(fields["queued_at"]), reason=fields["reason"], text=body[:-1],
            when_idle=fields.get("when_idle") == "yes", sender=fields.get("sender", "-"),
            state=fields.get("state", "queued"), attempts=int(fields.get("attempts", "0")),
            last_reason=text_of("last_reason"), transcript=fields.get("transcript", "-"),
            offset=int(fields.get("offset", "0")), typed_at=float(fields.get("typed_at", "0") or 0),
            proof=fields.get("proof", "-"), agent_pid=int(fields.get("agent_pid", "0") or 0),
            finished_at=None if fields.get("finished_at", "-") == "-" else datetime.fromisoformat(fields["finished_at"]),
        )
    except (KeyError, ValueError):
        return None


def save(settings: Settings, kept: Kept) -> None:
    try:
        write_private_text(record_path(settings, kept.id), render(kept))
    except OSError as exc:
        raise MailboxError(exc.errno, f"cannot write the mailbox in {mailbox_dir(settings)}: {exc.strerror or exc}") \
            from exc


def read(settings: Settings, message_id: str) -> Kept | None:
    try:
        return parse(record_path(settings, message_id).read_text(encoding="utf-8"))
    except OSError:
        return None


def read_done(settings: Settings, message_id: str) -> Kept | None:
    try:
        return parse((done_dir(settings) / f"{message_id}.txt").read_text(encoding="utf-8"))
    except OSError:
        return None


def has_mail(state_dir: Path) -> bool:
    """Whether anything is kept: one directory listing, no parsing (cheap enough for every command)."""
    try:
        with os.scandir(state_dir / "mailbox") as entries:
            return any(e.name.startswith("m-") and e.name.endswith(".txt") for e in entries)
    except OSError:
        return False


def kept_messages(settings: Settings) -> list[Kept]:
    """Every kept message, oldest first (the order they were sent in)."""
    found: list[Kept] = []
    folder = mailbox_dir(settings)
    try:
        names = [p for p in folder.iterdir() if MESSAGE_ID.fullmatch(p.stem) and p.suffix == ".txt"]
    except OSError:
        return []
    for path in names:
        try:
            kept = parse(path.read_text(encoding="utf-8"))
        except OSError:
            continue  # delivered meanwhile
        if kept is not None:
            found.append(kept)
    return sorted(found, key=lambda k: k.seq)


def log(settings: Settings, event: str, kept: Kept, **fields: object) -> None:
    log_event(log_path(settings), event, id=kept.id, target=kept.target, **fields)


# --- whose mail: a pane, by what outlives its id -------------------------------------------


def pane_key(socket: Path, session: str, window_name: str, pane_index: int) -> str:
    """A short stable name for one pane of one server: the drain lock's name."""
    raw = "\x1f".join((str(socket), session, window_name, str(pane_index)))
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def key_of(kept: Kept) -> str:
    return pane_key(kept.tmux_socket, kept.session, kept.window_name, kept.pane_index)


def key_of_pane(socket: Path, pane: Pane) -> str:
    return pane_key(socket, pane.session, pane.window_name, pane.pane_index)


def kept_for(settings: Settings, key: str) -> list[Kept]:
    return [k for k in kept_messages(settings) if key_of(k) == key]


def keys_of_pane(settings: Settings, socket: Path, pane_id: str) -> list[str]:
    """The key of the mail kept for this pane: by its id, else (a new server after a reboot,
    where ids start again) by its place."""
    here = [k for k in kept_messages(settings) if k.tmux_socket == socket]
    keys = list(dict.fromkeys(key_of(k) for k in here if k.pane_id == pane_id))
    if keys or not here:
        return keys
    try:
        pane = Tmux(socket, settings.tmux_bin).pane(pane_id)
    except (TmuxError, LookupError):
        return []
    key = key_of_pane(socket, pane)
    return [key] if any(key_of(k) == key for k in here) else []


def locate(tmux: Tmux, kept: Kept) -> Pane | None:
    """The pane the message is for: its own pane id while that still sits at the same window
    name; else the one pane at that session, window name and index (respawned, or a new
    server after a reboot brought the team back); else None (not back yet)."""
    try:
        panes = tmux.list_panes()
    except TmuxError:
        return None  # no server (yet)
    same_place = [p for p in panes if (p.session, p.window_name, p.pane_index) ==
                  (kept.session, kept.window_name, kept.pane_index)]
    for pane in same_place:
        if pane.pane_id == kept.pane_id:
            return pane
    return same_place[0] if len(same_place) == 1 else None


def waiting_by_window(settings: Settings, socket: Path) -> dict[tuple[str, str], tuple[int, float]]:
    """How many messages are kept per ``(session, window name)`` of one server, and the age
    in seconds of the oldest: what ``status`` and ``tmux_utils.py`` show."""
    now = now_local()
    found: dict[tuple[str, str], tuple[int, float]] = {}
    for kept in kept_messages(settings):
        if kept.tmux_socket != socket:
            continue
        count, oldest = found.get((kept.session, kept.window_name), (0, 0.0))
        found[(kept.session, kept.window_name)] = (count + 1, max(oldest, kept.age(now)))
    return found


# --- keeping ------------------------------------------------------------------------------


def _next_seq(settings: Settings) -> int:
    path = mailbox_dir(settings) / "seq.txt"
    try:
        last = int(path.read_text(encoding="utf-8").strip() or "0")
    except (OSError, ValueError):
        last = max((k.seq for k in kept_messages(settings)), default=0)
    try:
        write_private_text(path, f"{last + 1}\n")
    except OSError as exc:
        raise MailboxError(exc.errno, f"cannot write the mailbox in {mailbox_dir(settings)}: {exc.strerror or exc}") \
            from exc
    return last + 1


def keep(settings: Settings, target: str, pane: Pane, text: str, reason: str, *,
         when_idle: bool = False, sender: str = "-", typed: tuple[str, int, float] | None = None) -> Kept:
    """Keep ``text`` for ``pane``; raises :class:`MailboxError` when the disk refuses (then
    nothing new is kept, and what was kept stays). ``typed``: an attempt already pasted it,
    with the agent's transcript and its size then, and the time (``deliver``'s ``on_paste``):
    the drain looks for it there, and in the input box, before typing it again."""
    try:
        private_dir(mailbox_dir(settings))
    except OSError as exc:
        raise MailboxError(exc.errno, f"cannot make the mailbox {mailbox_dir(settings)}: {exc.strerror or exc}") \
            from exc
    with named_lock(settings.state_dir, "mailbox", settings.lock_timeout + 30):
        kept = Kept(
            id=f"m-{secrets.token_hex(5)}", seq=_next_seq(settings), target=target, pane_id=pane.pane_id,
            session=pane.session, window_name=pane.window_name, pane_index=pane.pane_index,
            tmux_socket=settings.tmux_socket, tmux_bin=settings.tmux_bin, queued_at=now_local(), reason=reason,
            text=text, when_idle=when_idle, sender=sender,
        )
        if typed is not None:
            transcript, offset, at = typed
            kept = replace(kept, state="delivering", attempts=1, transcript=transcript or "-", offset=offset,
                           typed_at=at)
        save(settings, kept)
    log(settings, "queued", kept, pane=pane.pane_id, reason=reason, seq=kept.seq, bytes=len(text.encode("utf-8")))
    return kept


def finish(settings: Settings, kept: Kept, state: str, **fields: object) -> Kept:
    """Move a message out of the mailbox into ``done/``, as ``state``."""
    done = replace(kept, state=state, finished_at=now_local(), proof=str(fields.get("proof") or kept.proof),
                   last_reason=str(fields.get("reason") or kept.last_reason))
    write_private_text(done_dir(settings) / f"{kept.id}.txt", render(done))
    record_path(settings, kept.id).unlink(missing_ok=True)
    log(settings, state, done, **fields)
    return done


def cancel(settings: Settings, ids: Sequence[str]) -> list[Kept]:
    """Cancel kept messages by id; raises :class:`UnknownMessage` (nothing cancelled) for an unknown one."""
    known = {k.id: k for k in kept_messages(settings)}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise UnknownMessage(f"no kept message {', '.join(unknown)}; see them with --list")
    cancelled = []
    for message_id in ids:
        # A drainer holds the message's lock while it types it; cancelling waits for that.
        with named_lock(settings.state_dir, message_id, settings.lock_timeout + 30):
            fresh = read(settings, message_id)
            if fresh is not None:
                cancelled.append(finish(settings, fresh, "cancelled"))
    return cancelled


# --- draining -----------------------------------------------------------------------------


def settings_for(settings: Settings, kept: Kept) -> Settings:
    return replace(settings, tmux_socket=kept.tmux_socket, tmux_bin=kept.tmux_bin)


def arrived(settings: Settings, kept: Kept, pane_id: str) -> tuple[str, bool]:
    """Whether an earlier attempt's text reached the agent: (``transcript`` or ``hook`` when
    its own record shows the agent took it as a prompt since it was first typed, else "";
    True when the transcript shows it only in the agent's own typed-ahead queue)."""
    queued = False
    if kept.transcript != "-":
        taken, queued = read_transcript(Path(kept.transcript), kept.offset, kept.text)
        if taken:
            return "transcript", False
    if kept.typed_at and prompt_key(kept.text) in prompt_keys_since(settings.state_dir, pane_id, kept.typed_at,
                                                                    socket=kept.tmux_socket):
        return "hook", False
    return "", queued


def read_transcript(path: Path, offset: int, text: str) -> tuple[bool, bool]:
    """Whether Claude Code's transcript, from ``offset`` on, records ``text`` as a prompt it
    took (a ``user`` entry, or a queued command it attached to a turn), and whether it records
    it as put in its typed-ahead queue (``queue-operation`` enqueue): that queue lives in the
    agent's memory, and a restart loses it."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            chunk = handle.read()
    except OSError:
        return False, False
    queued = False
    for line in chunk.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict):
            continue
        if entry.get("type") == "queue-operation":
            if entry.get("operation") == "enqueue" and isinstance(entry.get("content"), str) \
                    and same_prompt(entry["content"], text):
                queued = True
            continue
        if any(same_prompt(prompt, text) for prompt in prompts_of(entry)):
            return True, queued
    return False, queued


def attempt(settings: Settings, message_id: str) -> str:
    """One attempt at a pane's first message, under the message's own lock (``cancel``
    takes it too): ``gone`` when it was cancelled meanwhile, else what :func:`try_one` says."""
    with named_lock(settings.state_dir, message_id, settings.lock_timeout + 30):
        kept = read(settings, message_id)
        return "gone" if kept is None else try_one(settings, kept)


def another_agent(kept: Kept, snap: PaneSnapshot) -> bool:
    """Whether the pane's agent is no longer the one the message was typed into (restarted:
    another process, or another session's transcript)."""
    pid, transcript = snap.agent.pid, snap.agent.transcript_path
    return bool((kept.agent_pid and pid and pid != kept.agent_pid) or
                (kept.transcript != "-" and transcript and transcript != kept.transcript) or
                snap.state in ("dead", "shell", "exited"))


def hooked(settings: Settings, kept: Kept, pane_id: str) -> bool:
    """Whether the agent in the pane reports its prompts through the suite's hooks."""
    return pane_id in latest_reports(settings.state_dir, socket=kept.tmux_socket)


def try_one(settings: Settings, kept: Kept) -> str:
    """One attempt at the first message of a pane (the caller holds the pane's drain lock
    and the message's lock): ``delivered``, ``unproven`` (set aside for a person), or
    ``waiting`` (kept, tried again later)."""
    target_settings = settings_for(settings, kept)
    tmux = Tmux(kept.tmux_socket, kept.tmux_bin)
    pane = locate(tmux, kept)
    if pane is None:
        return _waiting(settings, kept, "the pane is not there (being restarted, or its team is not back yet)")
    queued = False
    if kept.state == "delivering":
        how, queued = arrived(settings, kept, pane.pane_id)
        if how:
            finish(settings, kept, "delivered", proof=how, how="found after an earlier attempt",
                   lag=f"{kept.age(now_local()):.1f}s")
            return "delivered"
    snap = look(tmux, pane.pane_id, target_settings.agent_kind, StateSources.from_settings(target_settings))
    profile = profile_for(snap.agent.kind)
    if queued and not another_agent(kept, snap):
        return _waiting(settings, kept, "in the agent's own typed-ahead queue; delivered once it takes it")
    ours = kept.state == "delivering" and snap.state == "typing" and holds_exactly(snap, profile, kept.text)
    if kept.state == "delivering" and not ours and kept.transcript == "-" and not hooked(settings, kept, pane.pane_id):
        # Pasted before, and neither a transcript nor hooks can say whether it went: the
        # screen alone cannot tell (its echo may have scrolled away). Typing it again could
        # double it, so it is set aside for a person (the attention check reads it).
        finish(settings, kept, "unproven", reason="an earlier attempt pasted it and no record of the agent's "
               "shows whether it was submitted")
        return "unproven"
    if snap.state == "busy":
        # Not into a busy agent: what it queues while busy lives in its memory until its turn
        # ends, and a restart loses it. The turn's end (its Stop hook, or the watcher) drains it.
        return _waiting(settings, kept, "the agent is busy; kept mail is typed when it is idle")
    if snap.state != "idle" and not ours:
        return _waiting(settings, kept, f"the agent is {snap.state}")
    trying = replace(kept, attempts=kept.attempts + 1)
    save(settings, trying)

    def typing_now(transcript: str, offset: int, at: float) -> None:
        # Recorded before the paste: a run killed from here on is found out by the next one.
        # An earlier paste into the same session is covered by its own, earlier position.
        nonlocal trying
        if trying.state != "delivering" or trying.transcript != (transcript or "-"):
            trying = replace(trying, state="delivering", transcript=transcript or "-", offset=offset, typed_at=at,
                             agent_pid=snap.agent.pid or 0)
            save(settings, trying)

    result = deliver(tmux, pane.pane_id, kept.text, target_settings, log_as="mailbox", when_idle=kept.when_idle,
                     typed_before=kept.state == "delivering", on_paste=typing_now)
    if result.submitted and result.proof == "transcript":
        how, queued = arrived(settings, trying, pane.pane_id)
        if not how:  # the agent went busy at the last moment and put it in its own queue
            return _waiting(settings, trying, "in the agent's own typed-ahead queue; delivered once it takes it",
                            logged=True)
    if result.submitted:
        finish(settings, trying, "delivered", proof=result.proof, pane=pane.pane_id,
               lag=f"{trying.age(now_local()):.1f}s", attempts=trying.attempts,
               how="submitted the text an earlier attempt left in the input box" if ours else None)
        return "delivered"
    if result.unproven and trying.state == "delivering" and trying.transcript == "-":
        # Typed, and no record of the agent's can settle it: typing again could double it,
        # so it is set aside for a person (the attention check reads it) and the pane's next
        # message goes on.
        finish(settings, trying, "unproven", reason=result.reason)
        return "unproven"
    return _waiting(settings, trying, result.reason, logged=True)


def _waiting(settings: Settings, kept: Kept, reason: str, logged: bool = False) -> str:
    """Note why the message still waits: in its record, and in the log once per change of
    reason (not once per poll); ``logged`` also saves ``kept`` itself (an attempt changed it)."""
    if logged or reason != kept.last_reason:
        save(settings, replace(kept, last_reason=reason))
        if reason != kept.last_reason:
            log(settings, "waiting", kept, reason=reason, state=kept.state)
    return "waiting"


def drain(settings: Settings, key: str, watch: float, poll: float = POLL) -> str:
    """Deliver a pane's kept messages in order. ``watch``: keep looking at a pane that cannot
    take them yet for this many seconds after the last delivery or the last new message
    (0: one try). Returns ``empty``, ``waiting`` or ``busy`` (another drainer has the pane)."""
    try:
        with named_lock(settings.state_dir, f"drain-{key}", 0):
            last_seen = 0
            deadline = time.monotonic() + watch
            while True:
                queue = kept_for(settings, key)
                if not queue:
                    return "empty"
                newest = queue[-1].seq
                if newest != last_seen:
                    last_seen, deadline = newest, time.monotonic() + watch
                outcome = attempt(settings, queue[0].id)
                if outcome in ("delivered", "unproven", "gone"):
                    deadline = time.monotonic() + watch
                    continue
                if time.monotonic() >= deadline:
                    return "waiting"
                nap(panes_dir(settings.state_dir) / f"{queue[0].pane_id.lstrip('%')}.txt", poll)
    except Timeout:
        return "busy"


def nap(report: Path, seconds: float) -> None:
    """Sleep ``seconds``, or less: until the agent's hooks report a new event for the pane
    (its turn ended, a tool ran), which is when its mail can go. A stat every 50 ms."""
    def stamp() -> float:
        try:
            return report.stat().st_mtime
        except OSError:
            return 0.0

    before, deadline = stamp(), time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
        if stamp() != before:
            return


def drain_all(settings: Settings) -> dict[str, str]:
    """The sweep's part: one try at every pane with mail (a pane being drained is skipped)."""
    outcomes: dict[str, str] = {}
    for key in dict.fromkeys(key_of(k) for k in kept_messages(settings)):
        outcomes[f"mail-{key[:8]}"] = drain(settings, key, 0)
    return outcomes


def start_drainer(settings: Settings, kept: Kept) -> None:
    """A detached drainer for ``kept``'s pane (its own session, never waited for)."""
    argv = [sys.executable, "-I", str(settings.suite_dir / "orc"), "drain", kept.id]
    env = {**os.environ, "ORC_STATE_DIR": str(settings.state_dir)}
    with open(os.devnull, "rb") as null_in, open(os.devnull, "wb") as null_out:
        subprocess.Popen(argv, stdin=null_in, stdout=null_out, stderr=null_out, env=env, start_new_session=True,
                         close_fds=True)


def sender_is_agent(environ: dict[str, str] | os._Environ[str]) -> bool:
    """Whether the sender runs inside an agent in a tmux pane (its shell tool sets a marker)."""
    if not environ.get("TMUX_PANE"):
        return False
    return any(environ.get(name) for profile in PROFILES.values() for name in profile.sender_env)


def keeps_messages(settings: Settings, asked: bool, environ: dict[str, str] | os._Environ[str]) -> bool:
    if asked or settings.send_queue == "1":
        return True
    return settings.send_queue == "auto" and sender_is_agent(environ)


def passing(kind: str) -> bool:
    return kind in PASSING


# --- `orc drain`: what the drainers and the hook run ---------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="orc drain", description="Deliver the kept messages of one pane, in order "
                    "(started by send_message.sh and by the agent's hooks). Exit 0 always but for bad usage.")
    parser.add_argument("message_id", nargs="?", help="drain the pane this kept message is for")
    parser.add_argument("--pane", help="drain the kept messages of this pane id (from the agent's hook)")
    parser.add_argument("--socket", help="the tmux server of --pane")
    parser.add_argument("--state-dir", help="the state folder (default: ORC_STATE_DIR or the suite's)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    env = dict(os.environ)
    if args.state_dir:
        env["ORC_STATE_DIR"] = args.state_dir
    try:
        settings = load_settings(env)
    except SettingsError as exc:
        return fail("orc drain", str(exc), EXIT_USAGE)
    keys: list[str] = []
    if args.message_id:
        kept = read(settings, args.message_id) if MESSAGE_ID.fullmatch(args.message_id) else None
        if kept is not None:
            keys.append(key_of(kept))
    elif args.pane and args.socket:
        keys = keys_of_pane(settings, Path(args.socket), args.pane)
    else:
        return fail("orc drain", "give a message id, or --pane with --socket", EXIT_USAGE)
    if boot_under_way(settings.state_dir):
        return EXIT_OK  # `up --boot` drains every pane itself once its agent is back (orc/core/locks.py)
    try:
        for key in keys:
            drain(settings, key, settings.drain_watch_seconds)
    except MailboxError as exc:
        return fail("orc drain", str(exc), EXIT_FAILED)
    return EXIT_OK
