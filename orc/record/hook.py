"""``orc hook``: the command Claude Code runs for each hook event (docs/agent-record.md).

Claude Code starts it with the event as JSON on stdin and the agent's environment, which
inside tmux holds ``TMUX`` (the server's socket) and ``TMUX_PANE`` (``%3``). It records, per
pane, the latest event in ``<state>/hooks/panes/<pane number>.txt`` (plain ``key: value``
lines, replaced atomically) and appends one line to ``<state>/hooks/events.log``.
``orc.record.hook_events`` reads them back.

It runs on the agent's critical path (``UserPromptSubmit`` waits for it), so it promises:

* exit status 0, always: a failing hook would show an error in the agent's screen, and
  ``UserPromptSubmit``/``SessionStart`` hooks can block or rewrite the prompt;
* nothing on stdout: for ``UserPromptSubmit`` and ``SessionStart`` it becomes part of the
  agent's context;
* no delay: only the standard library, no dependency check, no lock, no fsync, and a
  watchdog that ends the process after ``_WATCHDOG_SECONDS`` whatever it is stuck on (a
  slow disk, a full or unwritable state folder, a stdin that never closes).

Losing one report is harmless (the next event replaces it, and the screen is still read);
delaying or breaking the agent is not. A run that got no event (empty or late stdin) is only
logged: it never replaces a report.

The events that need a person (docs/attention.md: the agent ended, a turn failed, a dialog
opened) also start ``orc attention-event`` in the background, fully detached (its own
session, stdin/stdout/stderr on /dev/null, never waited for): it raises the attention item
at once (or, for a dialog, after ``ORC_ATTENTION_SECONDS`` if still unanswered) while the
hook itself only pays for one ``posix_spawn``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

#: Whatever happens, the hook is gone this many seconds after it started.
_WATCHDOG_SECONDS = 0.8
#: Stop waiting for stdin this long after start (Claude Code closes it at once).
_STDIN_SECONDS = 0.4
#: At this size the event log is moved to ``events.log.1`` (one old generation kept).
LOG_ROTATE_BYTES = 1 << 20
_MAX_INPUT = 4 << 20

#: What each event says the agent is doing (docs/agent-record.md, "Hooks").
EVENT_STATES = {
    "SessionStart": "idle",
    "UserPromptSubmit": "busy",
    "PreToolUse": "busy",
    "PostToolUse": "busy",
    "PostToolUseFailure": "busy",
    "PreCompact": "busy",
    "SubagentStart": "busy",
    "PermissionRequest": "waiting",
    "Stop": "idle",
    "StopFailure": "idle",
    "SessionEnd": "exited",
    # Gemini CLI's own names (docs/agent-clis.md, "Hooks"); Codex CLI uses Claude Code's.
    "BeforeAgent": "busy",
    "BeforeModel": "busy",
    "BeforeToolSelection": "busy",
    "AfterModel": "busy",
    "BeforeTool": "busy",
    "AfterTool": "busy",
    "PreCompress": "busy",
    "AfterAgent": "idle",
}
#: The events whose ``prompt`` is what was just submitted (Gemini CLI's BeforeAgent;
#: its AfterAgent repeats the prompt of the turn that ended).
PROMPT_EVENTS = ("UserPromptSubmit", "BeforeAgent")
#: ``Notification``'s ``notification_type`` values that name a state.
NOTIFICATION_STATES = {
    "permission_prompt": "waiting",
    "elicitation_dialog": "waiting",
    # 2.1.332: any dialog the session waits on, e.g. the gateway dialog "Auto mode can't
    # check actions in this session" (its PermissionRequest never fires), 6 s after it opens.
    "agent_needs_input": "waiting",
    "idle_prompt": "idle",
    "ToolPermission": "waiting",  # Gemini CLI: its confirmation dialog appeared
}


#: What the background ``orc attention-event`` is asked to look into, per event.
ATTENTION_CASES = {"SessionEnd": "exited", "StopFailure": "failed", "PermissionRequest": "dialog"}


def attention_case(fields: dict[str, str]) -> str:
    """``exited``, ``failed`` or ``dialog`` when this event may need a person, else ""."""
    event = fields.get("event", "")
    if event == "SessionEnd" and fields.get("detail") == "clear":
        return ""  # /clear ends one conversation and starts the next in the same agent
    if event == "Notification":
        return "dialog" if fields.get("state") == "waiting" else ""
    return ATTENTION_CASES.get(event, "")


def attention_argv(suite_dir: str, state_dir: str, case: str, fields: dict[str, str]) -> list[str]:
    """The background command for ``case``: the suite's own launcher with this Python.

    ``-I`` as for the hook (the agent's PYTHONPATH stays out); no ``-S``: it imports the
    suite's dependencies. Only validated words reach it (the label, a pane id, a number).
    """
    return [sys.executable or "python3", "-I", os.path.join(suite_dir, "orc"), "attention-event", case,
            "--state-dir", state_dir, "--agent", fields.get("agent", ""), "--pane", fields.get("pane", ""),
            "--at", fields.get("at", ""), "--socket", fields.get("socket", "")]


#: Events after which an agent may take kept mail (orc/messages/mailbox.py): its turn ended,
#: a tool ran (a dialog was answered), a session started (a restart, a resume), it went idle.
DRAIN_EVENTS = ("Stop", "StopFailure", "SessionStart", "PostToolUse", "PostToolUseFailure", "AfterAgent", "AfterTool")


def drains_now(fields: dict[str, str]) -> bool:
    event = fields.get("event", "")
    return event in DRAIN_EVENTS or (event == "Notification" and fields.get("state") == "idle")


def has_mail(state_dir: str) -> bool:
    """Whether any message is kept: one directory listing (the mailbox's own test, repeated
    here because the hook imports nothing of the suite)."""
    try:
        with os.scandir(os.path.join(state_dir, "mailbox")) as entries:
            return any(e.name.startswith("m-") and e.name.endswith(".txt") for e in entries)
    except OSError:
        return False


def drain_argv(suite_dir: str, state_dir: str, fields: dict[str, str]) -> list[str]:
    """``orc drain`` for this pane, as :func:`attention_argv` starts its command."""
    return [sys.executable or "python3", "-I", os.path.join(suite_dir, "orc"), "drain",
            "--state-dir", state_dir, "--pane", fields.get("pane", ""), "--socket", fields.get("socket", "")]


def start_detached(argv: list[str]) -> None:
    """Start ``argv`` in its own session with stdin/stdout/stderr on /dev/null; never wait.

    The hook exits right after, so the child is adopted by init and never left a zombie;
    its own session keeps it alive when the agent's pane (and process group) goes away.
    """
    null = os.devnull
    actions = [(os.POSIX_SPAWN_OPEN, 0, null, os.O_RDONLY, 0),
               (os.POSIX_SPAWN_OPEN, 1, null, os.O_WRONLY, 0),
               (os.POSIX_SPAWN_OPEN, 2, null, os.O_WRONLY, 0)]
    try:
        os.posix_spawn(argv[0], argv, os.environ, file_actions=actions, setsid=True)
        return
    except NotImplementedError:
        pass  # no POSIX_SPAWN_SETSID on this system: fork, setsid, exec by hand
    pid = os.fork()
    if pid:
        return
    try:  # pragma: no cover - the child; it never returns into the hook
        os.setsid()
        fd = os.open(null, os.O_RDWR)
        for target in (0, 1, 2):
            os.dup2(fd, target)
        os.execv(argv[0], argv)
    finally:
        os._exit(0)


def _flat(value: object, limit: int = 400) -> str:
    """One line of at most ``limit`` characters: newlines and control characters become spaces."""
    text = "" if value is None else str(value)
    text = "".join(ch if ch >= " " and ch != "\x7f" else " " for ch in text[: limit * 2])
    return text[:limit]


def _read_stdin(deadline: float) -> bytes:
    """Read stdin until EOF or ``deadline`` (monotonic): never wait on a writer that does not close."""
    import select

    chunks: list[bytes] = []
    size = 0
    fd = sys.stdin.fileno()
    while size < _MAX_INPUT:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def state_for(event: str, payload: dict[str, object]) -> str:
    """What ``event`` says the agent is doing: idle, busy, waiting, exited, or "" (nothing)."""
    if event == "Notification":
        return NOTIFICATION_STATES.get(str(payload.get("notification_type") or ""), "")
    return EVENT_STATES.get(event, "")


def report_fields(payload: dict[str, object], env: dict[str, str] | os._Environ[str], now: float) -> dict[str, str]:
    """The ``key: value`` pairs recorded for one event (all strings, one line each)."""
    event = _flat(payload.get("hook_event_name"), 80)
    detail = (payload.get("notification_type") or payload.get("tool_name") or payload.get("error")
              or payload.get("source") or payload.get("reason"))
    fields = {
        "pane": _flat(env.get("TMUX_PANE", ""), 20),
        "event": event,
        "at": f"{now:.6f}",
        "session_id": _flat(payload.get("session_id"), 100),
        "transcript_path": _flat(payload.get("transcript_path"), 2000),
        "cwd": _flat(payload.get("cwd"), 2000),
        "socket": _flat(env.get("TMUX", "").split(",")[0], 2000),
        "state": state_for(event, payload),
        "detail": _flat(detail, 200),
    }
    if event == "StopFailure":
        # Why the turn failed, in Claude Code's words: a usage limit names its reset here
        # ("You've hit your 5-hour limit · resets 4:45pm (UTC)"). Kept for failures only.
        fields["message"] = _flat(payload.get("last_assistant_message"), 300)
    prompt = payload.get("prompt")
    if event in PROMPT_EVENTS and isinstance(prompt, str):
        # Imported only here: hashlib and re cost a few milliseconds the other events skip.
        # Run by the launcher, this file is the top-level module `hook` beside prompt_text.py
        # (the `orc` package is not imported: see orc/__main__.py).
        import importlib

        prompt_text = importlib.import_module("orc.record.prompt_text" if __package__ else "prompt_text")
        fields["prompt_key"] = prompt_text.prompt_key(prompt)
        first = prompt_text.comparable(prompt).split("\n", 1)[0]
        fields["prompt_first_line"] = _flat(first.rstrip(), 200)
    return fields


def _write_pane_file(folder: str, name: str, text: str, now: float, reminder: str = "") -> None:
    """Replace ``folder/name`` with ``text`` unless it already holds a later event, or
    ``reminder`` (a Notification's state) is what the held report already says."""
    path = os.path.join(folder, name)
    try:
        with open(path, encoding="utf-8") as handle:
            held = dict(line.rstrip("\n").split(": ", 1) for line in handle if ": " in line)
        # Two hooks of one agent can run at once (Notification beside PreToolUse); the later
        # event wins even when its hook finishes first.
        if float(held.get("at", "0")) > now:
            return
        if reminder and held.get("state") == reminder:
            # A Notification repeats what the agent already reported: idle_prompt comes a
            # minute after a turn ends (a StopFailure and its error stay the latest), and
            # permission_prompt seconds after the PermissionRequest (whose time says when the
            # dialog opened, and whose detail names the tool).
            return
    except (OSError, ValueError):
        pass
    temp = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)
    os.replace(temp, path)


def _append_log(folder: str, line: str) -> None:
    """Append one line (one ``write`` on an O_APPEND file: concurrent lines stay whole)."""
    path = os.path.join(folder, "events.log")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
        if os.fstat(fd).st_size > LOG_ROTATE_BYTES:
            os.replace(path, path + ".1")
    finally:
        os.close(fd)


def log_line(fields: dict[str, str]) -> str:
    """``<UTC time> <event> key=value ...``; a value with spaces or quotes is double-quoted."""
    now = float(fields["at"])
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
    parts = [stamp, fields["event"] or "-"]
    for key in ("pane", "at", "state", "session_id", "prompt_key", "detail", "agent", "socket", "transcript_path", "cwd"):
        value = fields.get(key, "")
        if not value:
            continue
        if any(ch.isspace() for ch in value) or '"' in value or "\\" in value:
            value = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        parts.append(f"{key}={value}")
    return " ".join(parts)


def _option(argv: list[str], name: str) -> str:
    for index, word in enumerate(argv[:-1]):
        if word == name:
            return argv[index + 1]
    return ""


def state_dir_from(argv: list[str], env: dict[str, str] | os._Environ[str], suite_dir: str) -> str:
    """``--state-dir DIR`` from the command line, else ``ORC_STATE_DIR``, else ``<suite>/state``."""
    return _option(argv, "--state-dir") or os.path.expanduser(env.get("ORC_STATE_DIR", "")) or os.path.join(suite_dir, "state")


def agent_label(argv: list[str], env: dict[str, str] | os._Environ[str] | None = None) -> str:
    """``--agent LABEL`` (``<project>.<role>`` for agents the suite starts), else the agent's
    ``ORC_AGENT_LABEL`` (Codex CLI and Gemini CLI, whose hooks are installed once for all their
    agents, are started with it), or "" when absent or unsafe."""
    label = _option(argv, "--agent") or (os.environ if env is None else env).get("ORC_AGENT_LABEL", "")
    if label and len(label) <= 100 and label[0] != "." and all(ch.isalnum() or ch in "._-" for ch in label):
        return label
    return ""


def record(argv: list[str], stdin_deadline: float) -> None:
    """Read one event and record it; raises on any failure (``main`` swallows it)."""
    # This file is <suite>/orc/record/hook.py.
    suite_dir = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
    raw = _read_stdin(stdin_deadline)
    payload = json.loads(raw.decode("utf-8", "replace")) if raw.strip() else {}
    if not isinstance(payload, dict):
        return
    env = os.environ
    pane = env.get("TMUX_PANE", "")
    if not pane.startswith("%") or not pane[1:].isdigit():
        return  # not inside tmux: nothing of ours to tell apart
    fields = report_fields(payload, env, time.time())
    agent = agent_label(argv, env)
    if agent:
        fields["agent"] = agent
    state_dir = state_dir_from(argv, env, suite_dir)
    hooks_dir = os.path.join(state_dir, "hooks")
    panes_dir = os.path.join(hooks_dir, "panes")
    if not os.path.isdir(panes_dir):
        os.makedirs(panes_dir, mode=0o700, exist_ok=True)
        os.chmod(hooks_dir, 0o700)
    if not fields["event"]:
        # No event named: the payload never came (an agent killed as it started the hook, as
        # a reboot does, or stdin later than its deadline). Logged as "-" so it can be seen,
        # but it must not replace the agent's last real report, which holds its session.
        _append_log(hooks_dir, log_line(fields))
        return
    text = "".join(f"{key}: {value}\n" for key, value in fields.items())
    reminder = fields["state"] if fields["event"] == "Notification" else ""
    try:
        _write_pane_file(panes_dir, pane[1:] + ".txt", text, float(fields["at"]), reminder)
        if agent:
            # The same report under the agent's own name outlives the pane id (a reboot, a new
            # tmux server): it is how `restart --resume` finds the agent's session.
            agents_dir = os.path.join(hooks_dir, "agents")
            if not os.path.isdir(agents_dir):
                os.mkdir(agents_dir, 0o700)
            _write_pane_file(agents_dir, agent + ".txt", text, float(fields["at"]), reminder)
    finally:
        _append_log(hooks_dir, log_line(fields))
    case = attention_case(fields)
    if case and agent:
        # Only agents the suite started carry the label that names them (project and role).
        start_detached(attention_argv(suite_dir, state_dir, case, fields))
    if drains_now(fields) and fields.get("socket") and has_mail(state_dir):
        start_detached(drain_argv(suite_dir, state_dir, fields))


#: When :func:`main` started (monotonic): the watchdog and the stdin deadline count from it.
_started = 0.0


def _debug(text: str) -> None:
    """One line on stderr under ``ORC_HOOK_DEBUG``, with a single ``write``: safe in the
    watchdog's signal handler too, and never an exception."""
    if os.environ.get("ORC_HOOK_DEBUG"):
        try:
            os.write(2, f"orc hook: {text}\n".encode(errors="replace"))
        except OSError:
            pass


def _give_up(signum: int, frame: object) -> None:
    _debug(f"the watchdog ended it {time.monotonic() - _started:.3f} s after it started")
    os._exit(0)


def main(argv: list[str] | None = None) -> int:
    """Record the event on stdin; exit 0 whatever happens, print nothing on stdout.

    Under ``ORC_HOOK_DEBUG`` it says on stderr what failed and how long it took from its own
    start, which is what the watchdog bounds (the interpreter's start-up before it is not: on a
    loaded machine that takes the longest)."""
    global _started
    started = _started = time.monotonic()
    try:
        signal.signal(signal.SIGALRM, _give_up)
        signal.setitimer(signal.ITIMER_REAL, _WATCHDOG_SECONDS)
    except (ValueError, OSError, AttributeError):
        pass  # not the main thread (tests), or no itimer: the stdin deadline still holds
    try:
        record(list(sys.argv[2:] if argv is None else argv), started + _STDIN_SECONDS)
    except BaseException as exc:  # noqa: BLE001 - a hook must never fail the agent
        _debug(f"{type(exc).__name__}: {exc}")
    finally:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
        except (ValueError, OSError, AttributeError):
            pass
    _debug(f"done {time.monotonic() - started:.3f} s after it started")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
