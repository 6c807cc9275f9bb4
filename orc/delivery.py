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
5. Prove it from the screen [Proof]: the box emptied and the agent went busy, showed a
   dialog, or echoed the text. Otherwise press the submit key again, a bounded number
   of times, never typing the text twice.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from filelock import Timeout

from orc.agent_profiles import AgentProfile, profile_for
from orc.agent_state import find_input_box
from orc.locks import pane_lock
from orc.settings import Settings
from orc.state import log_event, private_dir, write_private_text
from tmux_utils import BadTarget, Pane, PaneSnapshot, TargetNotFound, Tmux, TmuxError

# C0 controls except TAB and LF, DEL, and C1 controls (docs/delivery.md, "Control characters": ESC can end a bracketed paste).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")
# First characters that change a prompt's meaning in Claude Code (docs/agent-tui.md,
# "First characters with a meaning").
SPECIAL_FIRST = {"!": "a shell command", "/": "a slash command", "#": "a memory note", "@": "a file mention"}
POLL = 0.05


@dataclass(frozen=True)
class Delivery:
    """What happened to one message. ``submitted`` is True only with proof from the screen."""

    submitted: bool
    target: str
    pane_id: str | None
    reason: str
    enters: int = 0
    state_before: str | None = None
    elapsed: float = 0.0


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
    """Reads one pane's state through tmux, for the polling loops below."""

    def __init__(self, tmux: Tmux, pane_id: str, profile: AgentProfile, agent_kind: str) -> None:
        self.tmux, self.pane_id, self.profile, self.kind = tmux, pane_id, profile, agent_kind

    def look(self) -> PaneSnapshot:
        return self.tmux.look(self.pane_id, self.kind)

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
) -> Delivery:
    """Type ``text`` into ``target`` and submit it, returning proof or the reason it was not.

    The caller has cleaned and sized ``text`` (:func:`clean_text`, :func:`fit_to_size`).
    Every attempt is one line in the delivery log.
    """
    started = time.monotonic()
    try:
        pane = tmux.resolve(target)
    except (BadTarget, TargetNotFound) as exc:
        result = Delivery(False, target, None, f"target not found: {exc}")
    except TmuxError as exc:
        result = Delivery(False, target, None, f"tmux failed: {exc}")
    else:
        lock = pane_lock(settings.state_dir, settings.tmux_socket, pane.pane_id, settings.lock_timeout)
        try:
            with lock:
                result = _deliver_locked(tmux, target, pane, text, settings, allow_shell)
        except Timeout:
            result = Delivery(
                False, target, pane.pane_id,
                f"another sender kept the pane busy for {settings.lock_timeout:g}s (lock {lock.lock_file})",
            )
        except TargetNotFound as exc:
            result = Delivery(False, target, pane.pane_id, f"pane went away: {exc}")
        except TmuxError as exc:
            result = Delivery(False, target, pane.pane_id, f"tmux failed: {exc}")
    result = Delivery(**{**result.__dict__, "elapsed": round(time.monotonic() - started, 3)})
    log_event(
        settings.log_file, log_as,
        target=target, pane=result.pane_id, bytes=len(text.encode("utf-8")),
        result="submitted" if result.submitted else "not-submitted",
        state=result.state_before, enters=result.enters, elapsed=f"{result.elapsed:.2f}s",
        reason=result.reason,
    )
    return result


def _deliver_locked(tmux: Tmux, target: str, pane: Pane, text: str, settings: Settings, allow_shell: bool) -> Delivery:
    profile = profile_for(settings.agent_kind)
    screen = _Screen(tmux, pane.pane_id, profile, settings.agent_kind)
    snap = screen.look()
    if snap.state == "copy-mode":
        tmux.leave_copy_mode(pane.pane_id)
        snap = screen.wait(lambda s: s.state != "copy-mode", 2.0)
    if snap.state == "typing":
        # Someone's unsent text: maybe a sender that just pressed Enter; give it a moment.
        snap = screen.wait(lambda s: s.state != "typing", 3.0)
    state = snap.state

    def refuse(reason: str) -> Delivery:
        return Delivery(False, target, pane.pane_id, reason, state_before=state)

    if state == "waiting":
        return refuse("a dialog is showing (an Enter would answer it); nothing typed")
    if state == "dead":
        return refuse("the pane's program has exited (pane is dead); nothing typed")
    if state == "typing":
        return refuse("unsent text is in the agent's input box (someone is typing); nothing typed")
    if state == "copy-mode":
        return refuse("the pane stays in copy mode; nothing typed")
    if state in ("shell", "unknown"):
        if not allow_shell:
            what = "no agent is running (the pane is a shell: the text would run as a command)" if state == "shell" \
                else "no agent screen recognised in the pane"
            return refuse(f"{what}; nothing typed; use --allow-shell to type into it anyway")
        tmux.paste(pane.pane_id, text)
        time.sleep(settings.paste_settle)  # settle: let the program take the paste before Enter
        tmux.send_key(pane.pane_id, settings.submit_key)
        return Delivery(True, target, pane.pane_id, f"typed into a {state} pane with --allow-shell (no agent to prove it)",
                        enters=1, state_before=state)

    marks = fingerprints(text)
    echoes_before = [screen.echoes(snap, mark) for mark in marks]
    if profile.continuation and text.endswith(profile.continuation):
        # "\" + Enter inserts a newline in Claude Code; a space after it keeps the Enter a
        # submit, and the agent trims trailing whitespace, so it receives the text exactly.
        text += " "
    tmux.paste(pane.pane_id, text)
    # Wait for the text itself: a busy agent may finish its turn (busy -> idle) before the
    # paste shows, so only a state that rules the text out ends the wait early.
    typed = screen.wait(lambda s: s.state in ("typing", "waiting", "shell", "dead"), max(2.0, settings.submit_timeout))
    if typed.state != "typing":
        return refuse(f"the pasted text did not show in the input box (state now {typed.state}); "
                      "not submitted, and it may still arrive there unsent")
    # The Ink paste race (docs/delivery.md, "The paste race"): an Enter too close to the paste becomes part of it.
    time.sleep(settings.paste_settle)

    def proven(s: PaneSnapshot) -> bool:
        if s.state in ("busy", "waiting"):
            return True
        # Its first or last line echoed (the other may have scrolled off already).
        return s.state == "idle" and any(screen.echoes(s, m) > n for m, n in zip(marks, echoes_before))

    enters = 0
    last = typed
    for _ in range(1 + settings.enter_retries):
        if last.state != "typing":
            break
        current = screen.look()  # re-check right before the key: a dialog may have opened
        if current.state != "typing":
            last = current
            break
        tmux.send_key(pane.pane_id, settings.submit_key)
        enters += 1
        # Done waiting when proven, or when the box emptied into something that is not idle.
        last = screen.wait(lambda s: proven(s) or s.state not in ("typing", "idle"), settings.submit_timeout)
        if proven(last):
            return Delivery(True, target, pane.pane_id, f"submitted (agent {last.state})", enters, state)
    if last.state == "typing":
        why = f"text still in the input box after {enters} submit key(s); it was not submitted"
    elif last.state == "waiting":
        why = "a dialog opened before the text was submitted; the text is left in the input box"
    else:
        why = f"no proof of submission: agent state is {last.state} and the text was not echoed"
    return Delivery(False, target, pane.pane_id, why, enters, state)
