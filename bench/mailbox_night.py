"""A night of kept messages with the real Claude Code: many senders, dialogs, drafts, restarts.

Three agents (the pinned Claude Code CLI, offline, each against its own loopback stand-in
API, in manual permission mode, with the suite's hooks) in a private tmux server. Six
senders send their messages through ``send_message.sh --queue`` to random agents, while a
person's hand (one thread per agent) raises and clears what makes an agent unable to take
text: a permission dialog (a tool call the stand-in asks for, approved after a while) and a
draft in the input box (typed, then deleted). Each agent is restarted once in the middle
(its pane respawned, as ``restart`` does). At the end every stand-in API's requests are
read back: each message must have reached the agent it was for exactly once, in the order
its sender sent it to that agent, with a proof named.

The person's hand types a draft and presses keys only under the pane's lock, as another
sender would: a keystroke racing a paste at the same millisecond is not something any
sender can see coming, and is not what this measures.

``run_night`` is used by ``bench/bench_mailbox.py`` (300 messages, the figures) and by
``tests/e2e/test_mailbox_claude.py`` (a shorter night, in ``make test``).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import statistics
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_setup import SUITE, private_tmux, suite_env  # first: puts the suite on sys.path
from claude_harness import FAKE_API_KEY, claude_command, claude_env, prepare_claude_home
from fake_anthropic_api import FakeAnthropicAPI
from tmux_utils import Tmux
from orc.core.locks import pane_lock
from orc.core.settings import load_settings
from orc.messages import mailbox
from orc.messages.delivery import holds_exactly
from orc.record.hooks_settings import settings_args
from orc.record.profiles import CLAUDE
from orc.record.snapshot import look

TAG = re.compile(r"\[s(?P<sender>\d+)>(?P<target>[A-Z])#(?P<n>\d{3})\]")
DRAFT = "zz a person's draft, not sent"
SESSION = "night"


@dataclass
class Seat:
    window: str
    api: FakeAnthropicAPI
    command: str
    pane_id: str = ""
    clears: list[float] = field(default_factory=list)  # when a dialog or draft went (monotonic)
    obstacles: Counter[str] = field(default_factory=Counter)
    restarted_at: float | None = None


@dataclass
class Sent:
    sender: int
    target: str
    n: int
    text: str
    code: int
    out: str
    err: str
    at: float           # monotonic, when the command returned
    kept_id: str = ""
    proof: str = ""


@dataclass
class Night:
    sent: list[Sent]
    codes: Counter[int]
    lost: list[str]
    doubled: list[str]
    misdelivered: list[str]
    out_of_order: list[str]
    unproven: list[str]
    proofs: Counter[str]
    delays: list[float]
    obstacles: Counter[str]
    restarts: int
    seconds: float
    left_in_mailbox: int

    @property
    def ok(self) -> bool:
        return not (self.lost or self.doubled or self.misdelivered or self.out_of_order or self.unproven
                    or self.left_in_mailbox)

    def summary(self) -> str:
        delays = sorted(self.delays)
        shown = (f"median {statistics.median(delays):.2f} s, max {max(delays):.2f} s over {len(delays)} frees"
                 if delays else "no message waited for a free")
        return (f"{len(self.sent)} messages in {self.seconds:.0f} s; exits {dict(sorted(self.codes.items()))}; "
                f"lost {len(self.lost)}, doubled {len(self.doubled)}, misdelivered {len(self.misdelivered)}, "
                f"out of order {len(self.out_of_order)}, unproven {len(self.unproven)}, "
                f"left in the mailbox {self.left_in_mailbox}; proofs {dict(self.proofs)}; "
                f"obstacles {dict(self.obstacles)}, restarts {self.restarts}; delay after the agent freed: {shown}")


def _state(tmux: Tmux, pane_id: str) -> str:
    try:
        return look(tmux, pane_id).state
    except LookupError:
        return "gone"


def _wait_state(tmux: Tmux, pane_id: str, states: tuple[str, ...], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _state(tmux, pane_id) in states:
            return True
        time.sleep(0.1)
    return False


class Hand:
    """A person at one agent's keyboard: raises a dialog or a draft, then clears it."""

    def __init__(self, tmux: Tmux, seat: Seat, state_dir: Path, rng: random.Random, work: Path) -> None:
        self.tmux, self.seat, self.state_dir, self.rng, self.work = tmux, seat, state_dir, rng, work
        self.stop = threading.Event()
        self.paused = threading.Event()  # set during the restart

    def lock(self) -> Any:
        return pane_lock(self.state_dir, self.tmux.socket, self.seat.pane_id, 120)

    def run(self) -> None:
        n = 0
        while not self.stop.wait(self.rng.uniform(1.0, 4.0)):
            if self.paused.is_set():
                continue
            n += 1
            if self.rng.random() < 0.5:
                self.dialog(n)
            else:
                self.draft()

    def dialog(self, n: int) -> None:
        marker = self.work / f"hand-{n}.txt"
        self.seat.api.script_next_reply_tool_use("Bash", {"command": f"touch {marker}", "description": "a tool call"})
        if not _wait_state(self.tmux, self.seat.pane_id, ("waiting",), 30):
            return  # no turn came (the senders are done): the script waits for the next one
        self.seat.obstacles["dialog"] += 1
        time.sleep(self.rng.uniform(1.0, 3.0))
        self.answer()

    def answer(self) -> None:
        with self.lock():
            if _state(self.tmux, self.seat.pane_id) == "waiting":
                self.tmux.send_key(self.seat.pane_id, "Enter")  # "1. Yes": the tool runs
                self.seat.clears.append(time.monotonic())

    def draft(self) -> None:
        with self.lock():
            if _state(self.tmux, self.seat.pane_id) != "idle":
                return
            self.tmux.type_literal(self.seat.pane_id, DRAFT)
            # Until the screen shows it, no sender can know it is there: hold the lock till then.
            if not _wait_state(self.tmux, self.seat.pane_id, ("typing",), 5):
                return
        self.seat.obstacles["draft"] += 1
        time.sleep(self.rng.uniform(1.0, 3.0))
        self.drop_draft()

    def drop_draft(self) -> None:
        with self.lock():
            snap = look(self.tmux, self.seat.pane_id)
            if snap.state == "typing" and holds_exactly(snap, CLAUDE, DRAFT):
                self.tmux.run("send-keys", "-t", self.seat.pane_id, "-N", str(len(DRAFT) + 2), "BSpace")
                if _wait_state(self.tmux, self.seat.pane_id, ("idle", "busy"), 5):
                    self.seat.clears.append(time.monotonic())

    def finish(self) -> None:
        """Leave the agent free: the last dialog answered, the last draft gone."""
        for _ in range(20):
            state = _state(self.tmux, self.seat.pane_id)
            if state == "waiting":
                self.answer()
            elif state == "typing":
                self.drop_draft()
            elif state == "idle":
                return
            time.sleep(0.5)


def _texts(message: dict[str, Any]) -> list[str]:
    content = message.get("content")
    if isinstance(content, str):
        return [content]
    texts: list[str] = []
    for block in content or []:
        if isinstance(block, dict):
            if isinstance(block.get("text"), str):
                texts.append(block["text"])
            elif block.get("type") == "tool_result":
                inner = block.get("content")
                texts.extend([inner] if isinstance(inner, str) else
                             [b.get("text", "") for b in inner or [] if isinstance(b, dict)])
    return texts


def received(api: FakeAnthropicAPI) -> dict[str, list[tuple[float, str, int]]]:
    """Each tag the agent received, with where: (first time seen, session, position in it).

    Every request resends the conversation so far, so a user message is counted at its place
    in its session's history (a session is known by its first message), not once per request."""
    places: dict[tuple[str, int, int], tuple[float, str]] = {}
    for request in api.requests():
        body = request.body
        if not isinstance(body, dict) or not body.get("tools"):
            continue
        history = [m for m in body.get("messages") or [] if isinstance(m, dict) and m.get("role") in ("user", "assistant")]
        if not history:
            continue
        session = hashlib.sha256(json.dumps(history[0], sort_keys=True).encode()).hexdigest()[:12]
        for index, message in enumerate(history):
            if message.get("role") != "user":
                continue
            for block, text in enumerate(_texts(message)):
                places.setdefault((session, index, block), (request.at, text))
    found: dict[str, list[tuple[float, str, int]]] = {}
    for (session, index, _block), (at, text) in places.items():
        for match in TAG.finditer(text):
            found.setdefault(match.group(0), []).append((at, session, index))
    return found


def run_night(root: Path, binary: Path, messages: int = 300, senders: int = 6, agents: int = 3, seed: int = 1,
              restart: bool = True, say: Callable[[str], None] = print) -> Night:
    rng = random.Random(seed)
    socket, state = root / "tmux.sock", root / "state"
    env = suite_env(ORC_TMUX_SOCKET=str(socket), ORC_STATE_DIR=str(state), ORC_CRONTAB_FILE=str(root / "crontab"),
                    ORC_LOCK_TIMEOUT="120")
    env.pop("ORC_CLAUDE_CONFIG_DIRS", None)  # the suite finds each agent's own, from its environment
    for name in ("TMUX_PANE", "CLAUDECODE"):
        env.pop(name, None)
    settings = load_settings(env)
    windows = [chr(ord("A") + i) for i in range(agents)]
    apis = [FakeAnthropicAPI() for _ in windows]
    seats: dict[str, Seat] = {}
    started = time.monotonic()
    try:
        for api in apis:
            api.start()
        with private_tmux(socket) as tmux:
            for window, api in zip(windows, apis):
                home, work = root / f"home-{window}", root / f"work-{window}"
                prepare_claude_home(home, work, FAKE_API_KEY, "default")
                line = claude_command(binary, claude_env(home, api.base_url, FAKE_API_KEY), work,
                                      *settings_args(settings))
                if tmux.has_session(SESSION):
                    pane = tmux.new_window(SESSION, window, line, str(work))
                else:
                    pane = tmux.new_session(SESSION, window, line, str(work), width=110, height=35)
                tmux.keep_on_exit(pane.pane_id)
                seats[window] = Seat(window, api, line, pane.pane_id)
            for seat in seats.values():
                if not _wait_state(tmux, seat.pane_id, ("idle",), 90):
                    raise RuntimeError(f"Claude Code in {seat.window} never showed its idle input box")
            say(f"night: {agents} agents idle after {time.monotonic() - started:.0f} s; sending {messages} messages")
            hands = {w: Hand(tmux, s, state, random.Random(seed * 100 + i), root / f"work-{w}")
                     for i, (w, s) in enumerate(seats.items())}
            threads = [threading.Thread(target=h.run, daemon=True) for h in hands.values()]
            sent: list[Sent] = []
            sent_lock = threading.Lock()
            per_sender = [messages // senders + (1 if k < messages % senders else 0) for k in range(senders)]
            done_count = [0]

            def sender(k: int) -> None:
                local = random.Random(seed * 1000 + k)
                for n in range(per_sender[k]):
                    target = local.choice(windows)
                    text = f"[s{k}>{target}#{n:03d}] note {n} of sender {k} for {target}"
                    run = subprocess.run([str(SUITE / "send_message.sh"), "--queue", f"{SESSION}:{target}", text],
                                         env=env, capture_output=True, text=True, timeout=600)
                    item = Sent(k, target, n, text, run.returncode, run.stdout, run.stderr, time.monotonic())
                    ids = re.findall(r"\bm-[0-9a-f]{10}\b", run.stdout)
                    item.kept_id = ids[0] if run.returncode == 4 and ids else ""
                    proof = re.search(r"proof: (\w+)", run.stdout)
                    item.proof = proof.group(1) if run.returncode == 0 and proof else ""
                    with sent_lock:
                        sent.append(item)
                        done_count[0] += 1
                    time.sleep(local.uniform(0.0, 0.6))

            sending = [threading.Thread(target=sender, args=(k,), daemon=True) for k in range(senders)]
            for t in threads + sending:
                t.start()
            restarts = 0
            order = list(windows)
            rng.shuffle(order)
            for i, window in enumerate(order if restart else []):
                # Spread over the middle of the night: after a third, a half, two thirds of the messages.
                goal = messages * (i + 1) // (len(order) + 1)
                while done_count[0] < goal and any(t.is_alive() for t in sending):
                    time.sleep(0.2)
                seat, hand = seats[window], hands[window]
                hand.paused.set()
                with hand.lock():
                    tmux.respawn(seat.pane_id, seat.command, str(root / f"work-{window}"))
                seat.restarted_at = time.monotonic()
                restarts += 1
                say(f"night: restarted {window} after {done_count[0]} messages")
                _wait_state(tmux, seat.pane_id, ("idle", "busy", "waiting", "typing"), 90)
                hand.paused.clear()
            for t in sending:
                t.join()
            say(f"night: all {len(sent)} sends returned after {time.monotonic() - started:.0f} s; freeing the agents")
            for hand in hands.values():
                hand.stop.set()
            for t in threads:
                t.join(timeout=60)
            for hand in hands.values():
                hand.finish()
            deadline = time.monotonic() + 300
            while mailbox.has_mail(state) and time.monotonic() < deadline:
                for hand in hands.values():
                    hand.finish()
                time.sleep(0.5)
            for seat in seats.values():
                _wait_state(tmux, seat.pane_id, ("idle",), 60)
            time.sleep(2)  # the last turns reach the stand-ins
            for window, seat in seats.items():  # for a person looking into a failed night
                with open(root / f"api-{window}.jsonl", "w", encoding="utf-8") as out:
                    for request in seat.api.requests():
                        out.write(json.dumps({"at": request.at, "path": request.path, "body": request.body}) + "\n")
            with open(root / "sent.jsonl", "w", encoding="utf-8") as out:
                for item in sent:
                    out.write(json.dumps(item.__dict__) + "\n")
            return tally(settings, seats, sent, restarts, time.monotonic() - started)
    finally:
        for api in apis:
            api.stop()


def tally(settings: Any, seats: dict[str, Seat], sent: list[Sent], restarts: int, seconds: float) -> Night:
    got = {w: received(s.api) for w, s in seats.items()}
    lost, doubled, misdelivered, out_of_order, unproven = [], [], [], [], []
    proofs: Counter[str] = Counter()
    arrival: dict[str, tuple[float, str, int]] = {}
    for item in sent:
        tag = item.text.split(" ", 1)[0]
        places = got[item.target].get(tag, [])
        elsewhere = [w for w in got if w != item.target and tag in got[w]]
        if elsewhere:
            misdelivered.append(f"{tag} in {elsewhere}")
        if not places:
            lost.append(f"{tag} (exit {item.code}: {item.err.strip() or item.out.strip()})")
        elif len(places) > 1:
            doubled.append(f"{tag} x{len(places)}")
        if places:
            arrival[tag] = min(places)
        proof = item.proof
        if item.code == 4 and item.kept_id:
            done = mailbox.read_done(settings, item.kept_id)
            proof = done.proof if done is not None and done.state == "delivered" else ""
        if proof in ("transcript", "hook", "screen"):
            proofs[proof] += 1
        else:
            unproven.append(f"{tag} (exit {item.code})")
    pairs: dict[tuple[int, str], list[Sent]] = {}
    for item in sent:
        pairs.setdefault((item.sender, item.target), []).append(item)
    for (k, target), items in pairs.items():
        times = [arrival.get(i.text.split(" ", 1)[0]) for i in sorted(items, key=lambda i: i.n)]
        seen = [t for t in times if t is not None]
        # Within one session, by place; a restart's new session comes later in time.
        for a, b in zip(seen, seen[1:]):
            if (a[1] == b[1] and a[2] > b[2]) or (a[1] != b[1] and a[0] > b[0]):
                out_of_order.append(f"s{k}>{target}")
                break
    delays = []
    for window, seat in seats.items():
        kept_here = [(i.at, arrival[i.text.split(" ", 1)[0]][0]) for i in sent
                     if i.target == window and i.code == 4 and i.text.split(" ", 1)[0] in arrival]
        for cleared in seat.clears:
            waiting = [came for kept_at, came in kept_here if kept_at <= cleared <= came]
            if waiting:
                delays.append(min(waiting) - cleared)
    obstacles: Counter[str] = Counter()
    for seat in seats.values():
        obstacles.update(seat.obstacles)
    return Night(sent, Counter(i.code for i in sent), lost, doubled, misdelivered, out_of_order, unproven, proofs,
                 delays, obstacles, restarts, seconds, len(mailbox.kept_messages(settings)))
