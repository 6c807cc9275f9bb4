"""Verified delivery of text into an agent's pane: one submission, byte-exact, proven.

The steps; docs/delivery.md gives the reason for each (its section in brackets):
1. Clean the text of control characters [Control characters] and move oversize text to a
   file [Long text].
2. Resolve the target exactly [Exact targets] and take the pane's lock (no interleaving).
3. Look at the pane and refuse where typing is unsafe [When not to type]: a dialog, a shell, a dead
   pane, someone else's unsent text. Leave copy mode first.
4. Paste through a named buffer with bracketed paste [Typing text safely], wait until the
   text shows in the input box, let the TUI settle [The paste race], then press the submit
   key alone.
5. Prove it from the agent's own record where it keeps one (docs/agent-record.md): the
   exact text as a new prompt or queued prompt in the session's transcript, read from
   where the file ended before the paste. Only where no record exists, from the screen
   [Proof]: the box emptied and the agent went busy, showed a dialog, or echoed the text.
   While unproven, press the submit key again, a bounded number of times, never typing the
   text twice and never while a dialog shows.

``Delivery.proof`` names what proved it: ``transcript``, ``hook`` or ``screen``;
``unproven`` marks a message no source could settle (send_message.sh exits 3).
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from filelock import Timeout

from orc.record.profiles import TRANSCRIPT_FORMATS, AgentProfile, profile_for
from orc.record.agent_state import find_input_box
from orc.core.locks import pane_lock
from orc.record.hook_events import events_log, latest_reports, prompt_keys_since
from orc.record.prompt_text import prompt_key, same_prompt
from orc.core.settings import Settings
from orc.core.state import log_event, private_dir, write_private_text
from orc.core.tmux import BadTarget, Pane, TargetNotFound, Tmux, TmuxError
from orc.record.snapshot import PaneSnapshot, StateSources, look

# C0 controls except TAB and LF, DEL, and C1 controls (docs/delivery.md, "Control characters": ESC can end a bracketed paste).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")
# First characters that change a prompt's meaning in Claude Code (docs/agent-tui.md,
# "First characters with a meaning").
SPECIAL_FIRST = {"!": "a shell command", "/": "a slash command", "#": "a memory note", "@": "a file mention"}
POLL = 0.05
#: Told where the agent's transcript ends right before a paste: (path or "", size, epoch).
OnPaste = Callable[[str, int, float], None]
# States that take typed text: the agent queues it while busy.
DELIVERABLE_NOW = ("idle", "busy")


@dataclass(frozen=True)
class Delivery:
    """What happened to one message. ``submitted`` is True only with proof, named in ``proof``
    (``transcript``, ``hook``, ``screen``; ``""`` for a typed-anyway ``--allow-shell``).
    ``unproven``: not known either way (no source could read the pane, or the text may have
    gone without any source showing it)."""

    submitted: bool
    target: str
    pane_id: str | None
    reason: str
    enters: int = 0
    state_before: str | None = None
    elapsed: float = 0.0
    proof: str = ""
    unproven: bool = False
    # Why it was refused, in one word, for the mailbox (orc/messages/mailbox.py): a refusal
    # in PASSING passes by itself, so the message can be kept and typed later.
    kind: str = ""


#: Refusals that pass by themselves: a dialog is answered, a draft is sent, a limit resets,
#: a busy agent goes idle, a dead pane is respawned, an agent whose session ended is
#: restarted (``exited``), an agent being restarted draws its screen (``unknown`` until it
#: does), another sender finishes. ``typed`` is our own text
#: left unsent in the input box (a dialog opened first): kept, the drain submits it once it
#: shows alone in the box. Not passing: no such pane, a shell, tmux failing.
PASSING = ("dialog", "limited", "draft", "busy", "dead", "exited", "unknown", "copy-mode", "lock", "typed")


def prompts_of(entry: Any) -> Iterator[str]:
    """The prompt texts one transcript line records, in the format of whichever agent CLI
    wrote it (each profile's ``transcript_prompts``: their shapes do not overlap)."""
    for profile in TRANSCRIPT_FORMATS:
        yield from profile.transcript_prompts(entry)


class TranscriptWatch:
    """What an agent's session transcript (JSONL) gains from now on, read incrementally:
    its size is taken before the paste, and only what is appended after it is parsed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.offset = path.stat().st_size
        except OSError:
            self.offset = 0  # written on the session's first prompt
        self.prompts: list[str] = []

    def exists(self) -> bool:
        return self.path.exists()

    def read_new(self) -> list[str]:
        """Prompts recorded since the last call (complete lines only)."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except OSError:
            return []
        end = chunk.rfind(b"\n")
        if end < 0:
            return []
        self.offset += end + 1
        found: list[str] = []
        for line in chunk[: end + 1].splitlines():
            try:
                found.extend(prompts_of(json.loads(line)))
            except ValueError:
                continue
        self.prompts.extend(found)
        return found

    def holds(self, text: str) -> bool:
        """Whether ``text`` has been recorded as a prompt since the watch began."""
        self.read_new()
        return any(same_prompt(p, text) for p in self.prompts)


def clean_text(text: str) -> str:
    """The text with CRLF/CR as LF, control characters removed, and trailing blank lines dropped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text).rstrip("\n")


def special_meaning(text: str) -> str | None:
    """What Claude Code would make of ``text``'s first character, if anything special."""
    return SPECIAL_FIRST.get(text[:1])


def fit_to_size(text: str, settings: Settings) -> str:
    """``text`` itself when small enough to type; else saved to a file and a pointer to it."""
    size = len(text.encode("utf-8"))
    if size <= settings.max_message_bytes:
        return text
    folder = private_dir(settings.state_dir / "messages")
    path = folder / f"{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(4)}.txt"
    write_private_text(path, text + "\n")
    first_line = text.split("\n", 1)[0][:200]
    return (
        f"{first_line}\n[This message is {size} bytes, too long to type here. "
        f"Read the full text in {path}]"
    )


def squash(text: str) -> str:
    """Text without any whitespace: screen wrapping and indentation cannot break a match."""
    return re.sub(r"\s+", "", text)


def fingerprints(text: str) -> list[str]:
    """Short pieces of the text's first and last lines, to find its echo in the transcript."""
    lines = [squash(line) for line in text.split("\n") if squash(line)]
    return [lines[0][:24], lines[-1][-24:]] if lines else []


class _Screen:
    """Reads one pane's state (screen, process group, registry) for the polling loops below,
    and reads its screen with the profile of the agent CLI each look finds running there."""

    def __init__(self, tmux: Tmux, pane_id: str, agent_kind: str, sources: StateSources) -> None:
        self.tmux, self.pane_id, self.kind, self.sources = tmux, pane_id, agent_kind, sources
        self.profile = profile_for(agent_kind)

    def look(self) -> PaneSnapshot:
        snap = look(self.tmux, self.pane_id, self.kind, self.sources)
        self.profile = profile_for(snap.agent.kind)
        return snap

    def sees_box(self, snap: PaneSnapshot) -> bool:
        """Whether the screen patterns recognise the agent's input box (or a dialog) at all."""
        return find_input_box(snap.lines, self.profile) is not None or any(
            p.search(line) for line in snap.lines for p in self.profile.dialog)

    def echoes(self, snap: PaneSnapshot, mark: str) -> int:
        """How often ``mark`` appears above the input box (the transcript)."""
        box = find_input_box(snap.lines, self.profile)
        above = snap.lines[: box.top] if box else snap.lines
        return squash("\n".join(above)).count(mark) if mark else 0

    def wait(self, done: Callable[[PaneSnapshot], bool], timeout: float) -> PaneSnapshot:
        """Poll until ``done(snapshot)`` or the deadline; return the last snapshot."""
        deadline = time.monotonic() + timeout
        while True:
            snap = self.look()
            if done(snap) or time.monotonic() >= deadline:
                return snap
            time.sleep(POLL)


def deliver(
    tmux: Tmux,
    target: str,
    text: str,
    settings: Settings,
    *,
    allow_shell: bool = False,
    log_as: str = "send",
    when_idle: bool = False,
    typed_before: bool = False,
    on_paste: OnPaste | None = None,
) -> Delivery:
    """Type ``text`` into ``target`` and submit it, returning proof or the reason it was not.

    The caller has cleaned and sized ``text`` (:func:`clean_text`, :func:`fit_to_size`).
    Every attempt is one line in the delivery log. ``when_idle``: a busy agent is refused too
    (not interrupted). ``typed_before``: an earlier attempt may have left this very text
    unsent in the input box; if the box holds exactly it, it is submitted, not typed again.
    ``on_paste(transcript, offset, at)`` is called right before the text is pasted, with where
    the agent's transcript ends then ("" and 0 without one): the mailbox records it, so that a
    later run can find out whether this paste reached the agent.
    """
    started = time.monotonic()
    try:
        pane = tmux.resolve(target)
    except (BadTarget, TargetNotFound) as exc:
        result = Delivery(False, target, None, f"target not found: {exc}", kind="not-found")
    except TmuxError as exc:
        result = Delivery(False, target, None, f"tmux failed: {exc}", kind="tmux")
    else:
        lock = pane_lock(settings.state_dir, settings.tmux_socket, pane.pane_id, settings.lock_timeout)
        try:
            with lock:
                result = _deliver_locked(tmux, target, pane, text, settings, allow_shell, when_idle, typed_before,
                                         on_paste)
        except Timeout:
            result = Delivery(
                False, target, pane.pane_id,
                f"another sender kept the pane busy for {settings.lock_timeout:g}s (lock {lock.lock_file})",
                kind="lock",
            )
        except TargetNotFound as exc:
            result = Delivery(False, target, pane.pane_id, f"pane went away: {exc}", kind="not-found")
        except TmuxError as exc:
            result = Delivery(False, target, pane.pane_id, f"tmux failed: {exc}", kind="tmux")
    result = Delivery(**{**result.__dict__, "elapsed": round(time.monotonic() - started, 3)})
    log_event(
        settings.log_file, log_as,
        target=target, pane=result.pane_id, bytes=len(text.encode("utf-8")),
        result="submitted" if result.submitted else ("no-proof" if result.unproven else "not-submitted"),
        state=result.state_before, enters=result.enters, elapsed=f"{result.elapsed:.2f}s",
        proof=result.proof or ("none" if result.unproven else "-"), reason=result.reason,
    )
    return result


#: How long :func:`deliver_a_note` waits for a late paste to show before it gives up.
LATE_PASTE_SECONDS = 20.0


def deliver_a_note(tmux: Tmux, pane_id: str, text: str, settings: Settings, log_as: str) -> Delivery:
    """:func:`deliver` for what the suite itself types into an agent it has just started (a
    briefing, a resume note), where nobody else types. A program that has just started, on a
    loaded machine, may take the paste seconds after :func:`deliver` stopped waiting for it
    (seen in a reboot of eight agents at once: the note showed 8 s later, unsent): then it
    waits for the note to show, exactly, and submits it, not typing it again. Anything else
    in the box, or nothing by the deadline, and the refusal stands. A refusal with nothing
    typed because the screen could not be read (``unknown``: a program clearing its screen
    to redraw it) is tried once more when the input box shows again."""
    result = deliver(tmux, pane_id, text, settings, log_as=log_as)
    screen = _Screen(tmux, pane_id, settings.agent_kind, StateSources.from_settings(settings))
    if not result.submitted and result.kind == "unknown":
        # Nothing was typed: the screen could not be read at that moment. A CLI that has just
        # started may clear and redraw it (Gemini CLI after --resume, seen under load): once it
        # shows its input box again, the note goes as usual.
        try:
            shown = screen.wait(lambda s: s.state not in ("unknown", "busy"), LATE_PASTE_SECONDS)
        except (TargetNotFound, TmuxError):
            return result
        return deliver(tmux, pane_id, text, settings, log_as=log_as) if shown.state == "idle" else result
    if result.submitted or result.kind != "typed":
        return result
    try:
        shown = screen.wait(lambda s: s.state != "idle", LATE_PASTE_SECONDS)
    except (TargetNotFound, TmuxError):
        return result
    if shown.state != "typing" or not holds_exactly(shown, screen.profile, text):
        return result
    return deliver(tmux, pane_id, text, settings, log_as=log_as, typed_before=True)


# States in which no key may be pressed (an Enter would answer a dialog, run as a command...).
_NO_KEYS = ("waiting", "limited", "shell", "dead", "copy-mode")


def holds_exactly(snap: PaneSnapshot, profile: AgentProfile, text: str) -> bool:
    """Whether the input box shows ``text`` and nothing else (whitespace aside)."""
    box = find_input_box(snap.lines, profile)
    return box is not None and bool(box.text) and squash(box.text) == squash(text)


def _deliver_locked(tmux: Tmux, target: str, pane: Pane, text: str, settings: Settings, allow_shell: bool,
                    when_idle: bool = False, typed_before: bool = False,
                    on_paste: OnPaste | None = None) -> Delivery:
    screen = _Screen(tmux, pane.pane_id, settings.agent_kind, StateSources.from_settings(settings))
    snap = screen.look()
    profile = screen.profile  # the pane's own agent CLI's, unless ORC_AGENT_KIND names one
    if snap.state == "copy-mode":
        tmux.leave_copy_mode(pane.pane_id)
        snap = screen.wait(lambda s: s.state != "copy-mode", 2.0)
    ours_in_box = typed_before and snap.state == "typing" and holds_exactly(snap, profile, text)
    if snap.state == "typing" and not ours_in_box:
        # Someone's unsent text: maybe a sender that just pressed Enter; give it a moment.
        snap = screen.wait(lambda s: s.state != "typing", 3.0)
    state = snap.state

    def refuse(reason: str, kind: str, unproven: bool = False) -> Delivery:
        return Delivery(False, target, pane.pane_id, reason, state_before=state, unproven=unproven, kind=kind)

    if state == "waiting":
        return refuse("a dialog is showing (an Enter would answer it); nothing typed", "dialog")
    if state == "limited":
        return refuse(f"the agent reports its usage limit ({snap.agent.detail or 'reset time unknown'}); nothing typed",
                      "limited")
    if state == "dead":
        return refuse("the pane's program has exited (pane is dead); nothing typed", "dead")
    if state == "typing" and not ours_in_box:
        return refuse("unsent text is in the agent's input box (someone is typing); nothing typed", "draft")
    if state == "copy-mode":
        return refuse("the pane stays in copy mode; nothing typed", "copy-mode")
    if state == "busy" and when_idle:
        return refuse("the agent is busy and the message waits for it to be idle; nothing typed", "busy")
    if state in ("shell", "unknown", "exited"):
        if not allow_shell:
            if state == "unknown":
                return refuse("no source can tell what the pane is doing (no agent record, screen not "
                              "recognised), so nothing could be proven; nothing typed; use --allow-shell "
                              "to type into it anyway", "unknown", unproven=True)
            if state == "exited":  # the agent's own record says its session ended: a restart is due
                return refuse("the agent's session has ended (its record says so); nothing typed", "exited")
            return refuse("no agent is running (the pane is a shell: the text would run as a command); "
                          "nothing typed; use --allow-shell to type into it anyway", "shell")
        tmux.paste(pane.pane_id, text)
        time.sleep(settings.paste_settle)  # settle: let the program take the paste before Enter
        tmux.send_key(pane.pane_id, settings.submit_key)
        return Delivery(True, target, pane.pane_id, f"typed into a {state} pane with --allow-shell (no agent to prove it)",
                        enters=1, state_before=state)

    # The agent's own record: its transcript, measured before the paste so that only
    # what is appended afterwards can prove this message.
    record = TranscriptWatch(Path(snap.agent.transcript_path)) if snap.agent.transcript_path else None
    marks = fingerprints(text)
    echoes_before = [screen.echoes(snap, mark) for mark in marks]
    if profile.continuation and text.endswith(profile.continuation):
        # "\" + Enter inserts a newline in Claude Code; a space after it keeps the Enter a
        # submit, and the agent trims trailing whitespace, so it receives the text exactly.
        text += " "

    def screen_proof(s: PaneSnapshot) -> bool:
        if s.state in ("busy", "waiting"):
            return True
        # Its first or last line echoed (the other may have scrolled off already).
        return s.state == "idle" and any(screen.echoes(s, m) > n for m, n in zip(marks, echoes_before))

    # Hooks, where the agent reports them: its UserPromptSubmit carries the exact prompt.
    hooks_log = events_log(settings.state_dir)
    key = prompt_key(text)

    def hook_proof() -> bool:
        if not hooks_log.exists():
            return False
        return key in prompt_keys_since(settings.state_dir, pane.pane_id, since, socket=tmux.socket)

    def proof(s: PaneSnapshot, final: bool = False) -> str:
        if record is not None and record.holds(text):
            return "transcript"
        if hook_proof():
            return "hook"
        # The screen proves it only where the agent keeps no record (or, at the end, where
        # its transcript never appeared: a version that keeps it elsewhere).
        if (record is None or (final and not record.exists())) and screen_proof(s):
            return "screen"
        return ""

    def proven(how: str, s: PaneSnapshot) -> Delivery:
        if how == "screen" and hooks_log.exists():
            # Hooks report in this state folder, and an agent's first prompt may come before
            # its first report (Codex names its session with its first turn): the hook's copy
            # of the prompt, a moment behind the screen, is the stronger proof.
            deadline = time.monotonic() + settings.submit_timeout
            while time.monotonic() < deadline and not hook_proof():
                time.sleep(POLL)
            how = "hook" if hook_proof() else how
        return Delivery(True, target, pane.pane_id, f"submitted (proof: {how}; agent {s.state})", enters, state,
                        proof=how)

    since = time.time()
    hooked = hooks_log.exists() and pane.pane_id in latest_reports(settings.state_dir, socket=tmux.socket)
    blind = (record is not None or hooked) and not screen.sees_box(snap)
    enters = 0
    if ours_in_box:
        typed = snap  # an earlier attempt's paste, still unsent: only the submit key is missing
    else:
        if on_paste is not None:
            on_paste(str(record.path) if record else "", record.offset if record else 0, since)
        tmux.paste(pane.pane_id, text)
        # Wait for the text itself: a busy agent may finish its turn (busy -> idle) before the
        # paste shows, so only a state that rules the text out ends the wait early. Where the
        # screen patterns recognise nothing, the record alone decides, after the settle time.
        typed = screen.wait(lambda s: s.state in ("typing", "waiting", "shell", "dead", "limited")
                            or (blind and not screen.sees_box(s)), max(2.0, settings.submit_timeout))
    if typed.state != "typing" and not (blind and typed.state in DELIVERABLE_NOW):
        how = proof(typed)
        if how in ("transcript", "hook"):
            return proven(how, typed)
        return refuse(f"the pasted text did not show in the input box (state now {typed.state}); "
                      "not submitted, and it may still arrive there unsent", "typed")
    # The Ink paste race (docs/delivery.md, "The paste race"): an Enter too close to the paste becomes part of it.
    time.sleep(settings.paste_settle)

    last = typed
    for _ in range(1 + settings.enter_retries):
        current = screen.look()  # re-check right before the key: a dialog may have opened
        how = proof(current)
        if how:
            return proven(how, current)
        last = current
        if current.state in _NO_KEYS:
            break
        if current.state != "typing" and not (blind and current.state in DELIVERABLE_NOW):
            break  # the box emptied without proof: another key could only do harm
        tmux.send_key(pane.pane_id, settings.submit_key)
        enters += 1
        # Done waiting when proven, or when the pane moved to a state that takes no keys.
        last = screen.wait(lambda s: bool(proof(s)) or s.state in _NO_KEYS or
                           (record is None and s.state not in ("typing", "idle")), settings.submit_timeout)
        how = proof(last)
        if how:
            return proven(how, last)
    if record is not None and last.state != "typing":
        # The record may trail the screen by a moment (a dialog can show before the
        # transcript line is written): keep reading it, pressing nothing.
        last = screen.wait(lambda s: bool(proof(s)), settings.submit_timeout)
    how = proof(last, final=True)
    if how:
        return proven(how, last)
    if last.state == "typing":
        why = f"text still in the input box after {enters} submit key(s); it was not submitted"
    elif last.state == "waiting":
        why = "a dialog opened before the text was submitted; the text is left in the input box"
    else:
        where = f"in the transcript {record.path}" if record is not None else "on the screen"
        return Delivery(False, target, pane.pane_id,
                        f"no proof of submission: the text was typed but not found {where} "
                        f"(agent state {last.state}, {enters} submit key(s))", enters, state, unproven=True,
                        kind="unproven")
    return Delivery(False, target, pane.pane_id, why, enters, state, kind="typed")
