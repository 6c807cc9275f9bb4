"""Scripted "agent brains" for the rehearsal (bench/rehearsal.py).

Each real Claude Code agent of the rehearsal talks to its own loopback stand-in of the
Messages API (tests/e2e/fake_anthropic_api.py, one server per agent, so the server knows
whose request it is). The stand-in hands every conversation request to that agent's
brain, which answers the way a working agent would, through Claude Code's own Bash tool
and the suite's commands, as CLAUDE.md tells agents to:

* every prompt it receives (a briefing, a check-in, a message) goes to an inbox; the
  brain then answers with one Bash tool call after another (the next one when the
  previous tool result comes back) and ends the turn with a line of text;
* after its briefing and after each check-in it schedules its own next check-in with
  no target (``schedule_with_note.sh 1 "..."`` from its own pane);
* a project manager hands tasks to its engineers (``send_message.sh``), one per engineer
  whenever the engineer is free, checked at each check-in; a task whose message was
  refused is sent again at the next check-in;
* an engineer does a task (writes a file, commits) and reports ``DONE`` back;
* an engineer whose ``DONE`` report was refused (its manager was under a usage limit, or
  waiting on a dialog) reports it again at its next check-in;
* ``finish`` (when the suite has it) ends a task branch, for the merge-conflict fault;
* in the worktree team, once told to, the project manager finishes each engineer at its next
  ``DONE`` (``finish <project> <role>``: test in its worktree, merge its branch, take both away)
  and then brings it back with ``restart <project> <role> --resume``, as finish says to;
* the orchestrator (seated by ``up``; :class:`OrchestratorBrain`) answers its briefing, its
  own recurring check-ins and each ``[attention]`` message by running ``status`` through its
  Bash tool, and passes an engineer's trouble on to that engineer's project manager (hub and
  spoke: it never messages engineers).

Every message a brain sends carries a token ``(ref m-...)``; every check-in carries its
id and due time. The brain records each token it receives once per place in the
conversation (a retried request resends the same history), so the rehearsal can tell
what was sent, what arrived, and what arrived twice. An ``[attention]`` message has no token
of its own: the orchestrator's brain counts each one by its text (subject and what it says).
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from fake_anthropic_api import ErrorReply, ScriptedToolUse
from rehearsal_report import MemberFinish

CHECKIN_TOKEN = re.compile(r"\[check-in (ck-[0-9a-f]+) due ([0-9:\- ]+?)(?:,|\])")
MESSAGE_TOKEN = re.compile(r"\(ref (m-[A-Za-z0-9-]+)\)")
SENT_MARK = re.compile(r"SENT (m-[A-Za-z0-9-]+) rc=(\d+)")
SCHEDULED_ID = re.compile(r"\b(ck-[0-9a-f]{8,16})\b")
FINISH_MARK = re.compile(r"FINISH (\S+) rc=(\d+)")
STATUS_MARK = re.compile(r"STATUS rc=(\d+)")
SPAWN_MARK = re.compile(r"SPAWN (\S+) rc=(\d+)")
MEMBER_FINISH_MARK = re.compile(r"MEMBER-FINISH (\S+) ahead=(-?\d+) rc=(\d+)(?: restart rc=(\d+))?")
ATTENTION_LINE = re.compile(r"\[attention\] ([^\n]+)")
RETRY = "for i in 1 2 3 4 5 6 7 8 9 10; do {command} && break; sleep 2; done"
#: In the suite's one nudge after a check-in's turn failed (orc.teams.attention_events.nudge_text),
#: which quotes the check-in's note: the agent takes it up as it would that check-in.
TURN_RETRY_MARK = "carry on where you left off"


def is_checkin(prompt: str) -> bool:
    """A check-in, or the suite's nudge to redo one whose turn failed."""
    return "[check-in" in prompt or TURN_RETRY_MARK in prompt

USAGE_LIMIT_BODY = {
    "type": "error",
    "error": {"type": "rate_limit_error",
              "message": "This request would exceed your account's rate limit. Please try again later."},
}


def usage_limit_answer(reset_at: float, now: float) -> ErrorReply:
    """The API's answer when the account's usage limit is reached: 429, a rate_limit_error
    body, and the ``anthropic-ratelimit-unified-*`` headers naming the exhausted five-hour
    window and its reset (epoch seconds), from which Claude Code draws its usage-limit message
    rather than retrying (``x-should-retry: false``)."""
    reset = str(int(reset_at))
    return ErrorReply(429, USAGE_LIMIT_BODY, (
        ("anthropic-ratelimit-unified-status", "rejected"),
        ("anthropic-ratelimit-unified-reset", reset),
        ("anthropic-ratelimit-unified-representative-claim", "five_hour"),
        ("anthropic-ratelimit-unified-5h-status", "rejected"),
        ("anthropic-ratelimit-unified-5h-reset", reset),
        ("anthropic-ratelimit-unified-overage-status", "rejected"),
        ("anthropic-ratelimit-unified-overage-disabled-reason", "out_of_credits"),
        ("retry-after", str(max(0, int(reset_at - now)))),
        ("x-should-retry", "false"),
    ))


@dataclass
class Team:
    """What a brain knows of its team: tmux targets and the suite's commands."""

    project: str
    suite: str
    pm_target: str
    pm_name: str
    engineers: dict[str, str]          # agent name -> tmux target
    finish_available: bool
    scratch: str = "/tmp"               # a folder outside every repository (the dialog's file goes there)
    managers: dict[str, str] = field(default_factory=dict)  # the orchestrator's: project -> PM target
    # A worktree team's: engineer name -> (its role, its branch); the main branch they merge into.
    worktree_branches: dict[str, tuple[str, str]] = field(default_factory=dict)
    main_branch: str = "main"


@dataclass
class Ledger:
    """Everything the brains sent and received, shared by all of them (thread-safe)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    sent: dict[str, dict[str, Any]] = field(default_factory=dict)      # token -> {from, to, rc, at}
    received: Counter[tuple[str, str]] = field(default_factory=Counter)  # (agent, token) -> times
    events: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        with self.lock:
            self.events.append(f"{time.strftime('%H:%M:%S')} {text}")


def new_user_texts(body: dict[str, Any]) -> list[tuple[int, int, str]]:
    """(message index, block index, text) of each text block in the user messages after the
    last assistant message: what reached the agent since its last reply (tool results left out:
    they hold command output, not what was typed)."""
    messages = body.get("messages") or []
    last_assistant = max((i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "assistant"),
                         default=-1)
    found = []
    for i, message in enumerate(messages):
        if i <= last_assistant or not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        for j, block in enumerate(blocks):
            if isinstance(block, dict) and block.get("type") == "text":
                found.append((i, j, str(block.get("text", ""))))
    return found


def new_tool_results(body: dict[str, Any]) -> list[str]:
    """The text of each tool result in the last user message."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict) and m.get("role") in ("user", "assistant")]
    if not messages or messages[-1].get("role") != "user" or not isinstance(messages[-1].get("content"), list):
        return []
    out = []
    for block in messages[-1]["content"]:
        if isinstance(block, dict) and block.get("type") == "tool_result":
            raw = block.get("content", "")
            if isinstance(raw, list):
                raw = "".join(b.get("text", "") for b in raw if isinstance(b, dict))
            out.append(str(raw))
    return out


def conversation_id(body: dict[str, Any]) -> str:
    """A stable id of the conversation: its first user message (a restarted agent starts anew)."""
    for message in body.get("messages") or []:
        if isinstance(message, dict) and message.get("role") == "user":
            return hashlib.sha256(json.dumps(message.get("content"), sort_keys=True).encode()).hexdigest()[:16]
    return "none"


def tokens_in(text: str) -> list[str]:
    """The check-in tokens (``ck-…@due``) and message tokens (``m-…``) in one text block."""
    found = [f"{m.group(1)}@{m.group(2).strip()}" for m in CHECKIN_TOKEN.finditer(text)]
    found += [m.group(1) for m in MESSAGE_TOKEN.finditer(text)]
    return found


class Brain:
    """One agent's scripted behaviour; called by its stand-in for each conversation request."""

    def __init__(self, name: str, role: str, team: Team, ledger: Ledger, clock: Callable[[], float] = time.time):
        self.name, self.role, self.team, self.ledger, self.clock = name, role, team, ledger, clock
        self.lock = threading.Lock()
        self.steps: list[ScriptedToolUse] = []
        self.inbox: list[str] = []
        self.seen_keys: set[tuple[str, int, int, str]] = set()
        self.conversation = ""
        self.scheduled: set[str] = set()      # check-in ids this agent scheduled
        self.arrived_ids: set[str] = set()    # check-in ids that reached it
        self.arrived_slots: set[str] = set()  # check-in tokens (id@due): a recurring one keeps its id
        self.counter = 0
        self.task_no = 0
        self.requests = 0
        # project manager: engineer name -> token of its open task (None: free)
        self.open_task: dict[str, str | None] = {e: None for e in team.engineers}
        self.unsent: dict[str, str] = {}      # engineer -> text of a task whose message was refused
        self.limited_until = 0.0
        self.limit_armed = 0.0
        self.limited_since: float | None = None
        self.arrived_while_limited: list[str] = []   # prompts answered with the limit error
        self.limited_answers = 0
        self.limit_on_schedule = 0.0
        self.answered_after_limit = 0          # requests answered normally once the limit was over
        self.arrived_at: dict[str, float] = {}  # token (ck-…@due, m-…) -> when it first reached the API
        self.nudges = 0                        # prompts carrying the suite's "usage limit has reset" nudge
        self.retry_nudges = 0                  # prompts carrying the suite's nudge after a failed turn
        self.unsent_reports: list[str] = []    # engineer: DONE reports whose message was refused
        self.dialog_next = False
        self.conflict_task: str | None = None
        self.finish_results: list[tuple[str, int]] = []
        self.finish_outputs: list[str] = []
        self.conflict_hook: Callable[[], None] | None = None  # makes main conflict with the task branch
        self.finish_hook: Callable[[str, int], None] | None = None  # sees the repository right after finish
        self.warnings: list[str] = []         # warnings printed by schedule_with_note.sh
        self.winding_down = False             # the night is over: no new tasks or check-ins
        # project manager: an engineer to add with `spawn` at its next check-in (name, target,
        # role, command) and what each spawn it ran said
        self.spawn_next: tuple[str, str, str, str] | None = None
        self.spawn_results: list[tuple[str, int, str]] = []
        self.spawning: dict[str, tuple[str, str]] = {}   # name -> (target, first task's token)
        # project manager of a worktree team: engineers to finish at their next DONE, and each finish run
        self.finish_at_done: set[str] = set()
        self.member_finishes: list[MemberFinish] = []
        # Each resume note that reached it: how many messages its conversation held then (more
        # than one: the earlier turns came along, it was resumed in its own conversation).
        self.resumed_with: list[int] = []

    # -- faults the rehearsal switches on -------------------------------------------------
    def limit_for(self, seconds: float) -> None:
        """Answer every conversation request with the limit error for ``seconds``, counted
        from the agent's next request (an idle agent would not notice a limit at all)."""
        with self.lock:
            self.limit_armed = seconds

    def limit_after_schedule(self, ahead: float) -> None:
        """The account's usage limit, met in the middle of a turn: from the request right after
        the agent has scheduled its next check-in, every conversation request gets the
        usage-limit error, until a reset ``ahead`` seconds or more later, on a minute boundary
        (Claude Code shows the reset to the minute). So a check-in is pending when the limit
        bites, as it is for an agent that keeps itself checked in."""
        with self.lock:
            self.limit_on_schedule = ahead

    def open_dialog_next_turn(self) -> None:
        """At its next turn, ask for a tool that needs a person's approval (a dialog left open)."""
        with self.lock:
            self.dialog_next = True

    def finish_each_engineer(self) -> None:
        """From now on, finish each engineer of the worktree team once, at its next ``DONE``."""
        with self.lock:
            self.finish_at_done = set(self.team.worktree_branches)

    def merge_conflict_task(self, task: str) -> None:
        """At its next turn, end ``task``'s branch with ``finish`` (the rehearsal made main conflict)."""
        with self.lock:
            self.conflict_task = task

    # -- the stand-in calls this ------------------------------------------------------------
    def __call__(self, body: dict[str, Any]) -> Any:
        with self.lock:
            self.requests += 1
            conv = conversation_id(body)
            if conv != self.conversation:
                self.conversation, self.steps = conv, []  # a restarted agent: the old plan is gone
            for i, j, text in new_user_texts(body):
                # A restart briefing quotes the old screen, tokens included: not a delivery.
                for token in ([] if "You were restarted" in text else tokens_in(text)):
                    key = (conv, i, j, token)
                    if key in self.seen_keys:
                        continue  # the same place in the conversation, resent (a retry)
                    self.seen_keys.add(key)
                    with self.ledger.lock:
                        self.ledger.received[(self.name, token)] += 1
                    if self.clock() < self.limited_until or self.limit_armed:
                        self.arrived_while_limited.append(token)
                    self.arrived_at.setdefault(token, self.clock())
                    if token.startswith("ck-"):
                        self.arrived_ids.add(token.split("@", 1)[0])
                        self.arrived_slots.add(token)
                if any(mark in text for mark in ("You are the", "You were restarted", "[check-in", "(ref m-",
                                                 "[attention]", TURN_RETRY_MARK)):
                    if (conv, i, j, "prompt") not in self.seen_keys:
                        self.seen_keys.add((conv, i, j, "prompt"))
                        self.inbox.append(text)
                        if "You were restarted" in text:
                            self.resumed_with.append(len(body.get("messages") or []))
                        if "usage limit has reset" in text:
                            self.nudges += 1
                        if TURN_RETRY_MARK in text:
                            self.retry_nudges += 1
                        self._arrived(text)
            if self.limit_armed:
                self.limited_since, self.limited_until = self.clock(), self.clock() + self.limit_armed
                self.limit_armed = 0.0
            if self.limit_on_schedule and any("SCHEDULED TO RUN AT" in r for r in new_tool_results(body)):
                now = self.clock()
                self.limited_since, self.limited_until = now, (int(now + self.limit_on_schedule) // 60 + 1) * 60.0
                self.limit_on_schedule = 0.0
                # Read now, so the check-in it scheduled is known; should Claude Code send the
                # same result again after the reset, reading it twice changes nothing.
                for result in new_tool_results(body):
                    self._read_result(result)
            if self.clock() < self.limited_until:
                # What arrived is counted above (it reached the API); the agent cannot act on it yet.
                if self.limited_since is None:
                    self.limited_since = self.clock()
                self.limited_answers += 1
                return usage_limit_answer(self.limited_until, self.clock())
            if self.limited_since is not None:
                self.answered_after_limit += 1
            for result in new_tool_results(body):
                self._read_result(result)
            if not self.steps:
                while self.inbox and not self.steps:
                    self.steps = self._plan(self.inbox.pop(0))
            if self.steps:
                return self.steps.pop(0)
            return f"{self.name}: done for now."

    def _arrived(self, text: str) -> None:
        """A prompt reached the agent (called once per place in the conversation)."""

    # -- what one prompt leads to -------------------------------------------------------------
    def _bash(self, command: str, what: str) -> ScriptedToolUse:
        return ScriptedToolUse("Bash", {"command": command, "description": what})

    def _token(self) -> str:
        self.counter += 1
        return f"m-{self.name}-{self.counter}"

    def _send(self, target: str, text: str, to: str) -> ScriptedToolUse:
        token = self._token()
        full = f"{text} (ref {token})"
        with self.ledger.lock:
            self.ledger.sent[token] = {"from": self.name, "to": to, "rc": None, "at": self.clock(), "text": full}
        command = (f"{shlex.quote(self.team.suite + '/send_message.sh')} {shlex.quote(target)} {shlex.quote(full)}; "
                   f"echo SENT {token} rc=$?")
        return self._bash(command, f"Message {to}")

    def _schedule_self(self, note: str) -> ScriptedToolUse:
        command = f"{shlex.quote(self.team.suite + '/schedule_with_note.sh')} 1 {shlex.quote(note)}"
        return self._bash(command, "Schedule my next check-in")

    def _read_result(self, result: str) -> None:
        for match in SPAWN_MARK.finditer(result):
            name, rc = match.group(1), int(match.group(2))
            self.spawn_results.append((name, rc, result.strip()[-300:]))
            self.ledger.note(f"{self.name}: spawn {name} exit {rc}")
            if rc == 0 and name in self.spawning:
                # Briefed with its first task (open until its DONE comes back).
                self.team.engineers[name], token = self.spawning.pop(name)
                self.open_task[name] = token
        for match in MEMBER_FINISH_MARK.finditer(result):
            role, ahead, rc, restart = match.group(1), int(match.group(2)), int(match.group(3)), match.group(4)
            said = result[:match.start()].strip()
            # finish's own line first (what it merged and took away), restart's after it.
            self.member_finishes.append(MemberFinish(role, ahead, rc, said[:800],
                                                     None if restart is None else int(restart)))
            self.ledger.note(f"{self.name}: finish {self.team.project} {role} exit {rc}"
                             + ("" if restart is None else f", restart --resume exit {restart}"))
        for match in SENT_MARK.finditer(result):
            token, rc = match.group(1), int(match.group(2))
            with self.ledger.lock:
                entry = self.ledger.sent.get(token)
                if entry is not None and entry["rc"] is None:
                    entry["rc"] = rc
            # Exit 4: kept in the mailbox, delivered later (CLAUDE.md: do not send it again).
            refused = rc not in (0, 4)
            if refused and self.role == "engineer" and entry is not None:
                self.unsent_reports.append(entry["text"].rsplit(" (ref ", 1)[0])
            if refused and self.role == "pm":
                for engineer, open_token in self.open_task.items():
                    if open_token == token:
                        self.open_task[engineer] = None
                        self.unsent[engineer] = entry["text"].rsplit(" (ref ", 1)[0] if entry else ""
        if "SCHEDULED TO RUN AT" in result:
            self.scheduled.update(SCHEDULED_ID.findall(result))
            self.warnings += [line for line in result.splitlines() if "warning" in line.lower()]
        if "BRANCH-READY" in result and self.conflict_hook is not None:
            hook, self.conflict_hook = self.conflict_hook, None
            hook()
        for match in FINISH_MARK.finditer(result):
            self.finish_results.append((match.group(1), int(match.group(2))))
            self.finish_outputs.append(result.strip()[-400:])
            if self.finish_hook is not None:
                self.finish_hook(match.group(1), int(match.group(2)))
            self.ledger.note(f"{self.name}: finish {match.group(1)} exit {match.group(2)}")

    def _own_checkin_pending(self) -> bool:
        return bool(self.scheduled - self.arrived_ids)

    def _plan(self, prompt: str) -> list[ScriptedToolUse]:
        steps: list[ScriptedToolUse] = []
        if self.conflict_task and self.team.finish_available:
            task, self.conflict_task = self.conflict_task, None
            steps += self._conflict_steps(task)
        checkin = is_checkin(prompt)
        is_brief = "You are the" in prompt or "You were restarted" in prompt
        if self.role == "pm":
            steps += self._pm_steps(prompt, checkin or is_brief)
        else:
            steps += self._engineer_steps(prompt)
        if (checkin or is_brief) and not self._own_checkin_pending() and not self.winding_down:
            steps.append(self._schedule_self(f"{self.name}: check-in: look at your work and messages"))
        if self.dialog_next:
            # Last, after its next check-in is scheduled: that check-in comes due while the dialog
            # waits, and must be kept, not typed into the dialog.
            self.dialog_next = False
            self.ledger.note(f"{self.name}: asks for a tool that needs approval (dialog)")
            # Outside the repository, so the approved file never shows as uncommitted work.
            path = f"{self.team.scratch}/notes-{self.name}-{int(self.clock())}.txt"
            steps.append(ScriptedToolUse("Write", {"file_path": path,
                                                   "content": "notes written after a person approved\n"}))
        return steps

    def grow_team(self, name: str, target: str, role: str, command: str) -> None:
        """At its next check-in, add an engineer to the team with ``spawn`` (its first task in
        the briefing)."""
        with self.lock:
            self.spawn_next = (name, target, role, command)

    def _spawn_step(self) -> ScriptedToolUse:
        assert self.spawn_next is not None
        name, target, role, command = self.spawn_next
        self.spawn_next = None
        self.task_no += 1
        token = self._token()
        task = (f"TASK {self.task_no} for {name}: write {name}/task-{self.task_no}.txt and commit it. "
                f"Done when: committed, then report DONE to {self.team.pm_target} (ref {token})")
        # Counted like a message: the briefing that carries it is the proof it was submitted.
        with self.ledger.lock:
            self.ledger.sent[token] = {"from": self.name, "to": name, "rc": None, "at": self.clock(), "text": task}
        self.spawning[name] = (target, token)
        orc = shlex.quote(self.team.suite + "/orchestrator_integration.py")
        spawn = (f"python3 {orc} spawn {shlex.quote(target)} --role {shlex.quote(role)} "
                 f"--project {shlex.quote(self.team.project)} --command {shlex.quote(command)} --agent claude "
                 f"--ready-timeout 100 --brief {shlex.quote(task)}")
        spawn = (f"out=$({spawn} 2>&1); rc=$?; printf '%s\\n' \"$out\" | tail -n 3; "
                 f"echo SPAWN {name} rc=$rc; echo SENT {token} rc=$rc")
        return self._bash(spawn, f"Add {name} to the team")

    def _pm_steps(self, prompt: str, hand_out: bool) -> list[ScriptedToolUse]:
        steps: list[ScriptedToolUse] = []
        if self.spawn_next is not None and is_checkin(prompt) and not self.winding_down:
            steps.append(self._spawn_step())
        for match in re.finditer(r"DONE (\S+): task (\d+)", prompt):
            engineer = match.group(1)
            if engineer in self.open_task:
                self.open_task[engineer] = None
            if engineer in self.finish_at_done:
                self.finish_at_done.discard(engineer)
                steps.append(self._finish_member_step(engineer))
        if not hand_out or self.winding_down:
            return steps
        for engineer, target in self.team.engineers.items():
            if self.open_task[engineer] is not None:
                continue
            text = self.unsent.pop(engineer, "")
            if not text:
                self.task_no += 1
                text = (f"TASK {self.task_no} for {engineer}: write {engineer}/task-{self.task_no}.txt and commit it. "
                        f"Done when: committed, then report DONE to {self.team.pm_target}")
            step = self._send(target, text, engineer)
            self.open_task[engineer] = str(step.input["command"]).rsplit("echo SENT ", 1)[1].split(" ")[0]
            steps.append(step)
        return steps

    def _finish_member_step(self, engineer: str) -> ScriptedToolUse:
        """``finish <project> <role>`` for an engineer whose task is done (so nothing of it is
        uncommitted), with the count of commits its branch has that the main branch lacks
        (whether the finish should merge), then, when it merged, ``restart --resume``: finish
        took the engineer's folder away and says that is how it goes on."""
        role, branch = self.team.worktree_branches[engineer]
        orc = shlex.quote(self.team.suite + "/orchestrator_integration.py")
        project = shlex.quote(self.team.project)
        count = f"git rev-list --count {shlex.quote(self.team.main_branch + '..' + branch)}"
        command = (f"ahead=$({count} 2>/dev/null || echo -1); out=$(python3 {orc} finish {project} {role} 2>&1); "
                   f"rc=$?; printf '%s\\n' \"$out\" | tail -n 1; tail=''; if [ $rc -eq 0 ]; then "
                   f"again=$(python3 {orc} restart {project} {role} --resume --ready-timeout 90 2>&1); "
                   f"tail=\" restart rc=$?\"; printf '%s\\n' \"$again\" | tail -n 2; fi; "
                   f"echo \"MEMBER-FINISH {role} ahead=$ahead rc=$rc$tail\"")
        # finish, then a restart that waits for the agent to be ready: more than the Bash tool's
        # default two minutes when the machine is busy.
        return ScriptedToolUse("Bash", {"command": command, "description": f"Finish {role} and bring it back",
                                        "timeout": 300000})

    def _engineer_steps(self, prompt: str) -> list[ScriptedToolUse]:
        steps: list[ScriptedToolUse] = []
        if is_checkin(prompt):
            # A report the manager could not take (refused, the sender was told): say it again.
            reports, self.unsent_reports = self.unsent_reports, []
            steps += [self._send(self.team.pm_target, text, self.team.pm_name) for text in reports]
        for match in re.finditer(r"TASK (\d+) for (\S+):", prompt):
            number = match.group(1)
            path = f"{self.name}/task-{number}.txt"
            commit = (f"mkdir -p {self.name} && echo 'task {number} by {self.name}' > {path} && "
                      f"for i in 1 2 3 4 5 6 7 8 9 10; do git add {path} && git commit -q -m '{self.name}: task {number}' "
                      f"-- {path} && break; sleep 1; done; git log -1 --format=%h")
            steps.append(self._bash(commit, f"Do task {number} and commit"))
            steps.append(self._send(self.team.pm_target, f"DONE {self.name}: task {number}; committed",
                                    self.team.pm_name))
        return steps

    def _conflict_steps(self, task: str) -> list[ScriptedToolUse]:
        orc = shlex.quote(self.team.suite + "/orchestrator_integration.py")
        project = shlex.quote(self.team.project)
        finish = f"python3 {orc} finish {project} {shlex.quote(task)}"
        branch = f"python3 {orc} branch {project} {shlex.quote(task)}"
        # `branch` and `finish` refuse while the other engineer's file is written but not yet
        # committed (the same folder): try again a few seconds later, as an agent would.
        return [
            self._bash(RETRY.format(command=branch) + f" && echo '{self.name} changed the shared line' > shared.txt && "
                       f"git commit -q -m 'Change the shared line' -- shared.txt && echo BRANCH-READY",
                       "Start the task branch and change the shared line"),
            self._bash(f"{finish} 2>&1; echo FINISH first rc=$?", "Finish the task branch"),
            # The conflict was reported; the engineer takes main in, keeping its own side, and finishes again.
            self._bash(f"git merge -q -X ours -m 'Merge main into {task}' main; "
                       + RETRY.format(command=f"{finish} 2>&1") + "; echo FINISH second rc=$?",
                       "Resolve the conflict and finish again"),
        ]


class OrchestratorBrain(Brain):
    """The orchestrator seated by ``up``: it reads ``status`` at its briefing, at each of its own
    recurring check-ins and at each ``[attention]`` message, and passes an engineer's trouble on
    to the project manager of that project (hub and spoke). It schedules no check-ins of its
    own: ``up`` gave it a recurring one."""

    def __init__(self, name: str, team: Team, ledger: Ledger, clock: Callable[[], float] = time.time):
        super().__init__(name, "orchestrator", team, ledger, clock)
        self.attention: Counter[str] = Counter()   # "<subject>: <text>" -> times it arrived
        self.status_runs: list[int] = []           # exit codes of the `status` it ran
        self.checkins = 0                          # prompts that were its own check-ins
        self.briefings = 0

    def _arrived(self, text: str) -> None:
        for match in ATTENTION_LINE.finditer(text):
            self.attention[match.group(1).strip()] += 1

    def _read_result(self, result: str) -> None:
        super()._read_result(result)
        self.status_runs += [int(m.group(1)) for m in STATUS_MARK.finditer(result)]

    def _plan(self, prompt: str) -> list[ScriptedToolUse]:
        orc = shlex.quote(self.team.suite + "/orchestrator_integration.py")
        steps = [self._bash(f"python3 {orc} status > /dev/null 2>&1; echo STATUS rc=$?", "Look at every team")]
        if "[check-in" in prompt:
            self.checkins += 1
        elif "You are the" in prompt:
            self.briefings += 1
        for match in ATTENTION_LINE.finditer(prompt):
            subject = match.group(1).split(":", 1)[0]          # e.g. alpha/engineer-2
            project, _, role = subject.partition("/")
            manager = self.team.managers.get(project)
            if manager is None or role == "project-manager" or self.winding_down:
                continue  # about a manager itself (or no agent): the person is told; nobody else to ask
            steps.append(self._send(manager, f"Orchestrator: {match.group(1).strip()}; please look after it",
                                    f"{project}-pm"))
        return steps
