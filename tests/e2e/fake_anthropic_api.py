"""A loopback stand-in for the Anthropic Messages API, for end-to-end tests.

The real Claude Code CLI talks to this server when ``ANTHROPIC_BASE_URL`` points
at it (see ``claude_harness.claude_env``).  It speaks just enough of the API for
Claude Code 2.1.x to run a conversation offline:

* ``POST /v1/messages`` streaming (SSE: ``message_start``, ``content_block_start``,
  ``content_block_delta``, ``content_block_stop``, ``message_delta``,
  ``message_stop``) and non-streaming (one JSON message);
* ``POST /v1/messages/count_tokens`` answers a small token count;
* every other request gets ``200 {}`` (GET), an empty 200 (HEAD) or ``404``
  (other POSTs), which the CLI treats as "feature not available" and moves on.

What 2.1.328 sends (logged with ``--log``): with
``CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1`` only ``POST /v1/messages?beta=true``
(streaming, 13 tools, one request per turn and one more per tool result); without
it also ``HEAD /api/hello`` and a session-title request to a small model (no
tools) before the first turn.  Each conversation request resends the whole
history and ends with a role ``system`` message holding environment details.

It records each **user turn**, i.e. the exact text typed into Claude's input box,
and each ``tool_result`` that comes back after a scripted ``tool_use`` reply, so a
test can assert that a message was delivered and that a tool call was (not)
approved.

Which requests are user turns: Claude sends several kinds of request to
``/v1/messages``.  The conversation itself carries the agent's ``tools``; the side
requests (session title, ...) carry none.  A
conversation request whose last user message holds a text block (rather than
only ``tool_result`` blocks) starts a new turn; the typed text is that message's
last text block that is not a ``<system-reminder>`` Claude adds on its own.

Scripting a tool call: either call ``script_next_reply_tool_use("Bash", {...})``
or put ``[[fake-bash: <command>]]`` in the prompt; the next conversation reply is
then a ``tool_use`` block for that tool, which makes Claude show its real
permission dialog.

Scripting a whole agent (bench/rehearsal.py): ``set_responder(fn)`` hands every
conversation request to ``fn(body)``, which returns the reply: a ``ScriptedToolUse``,
a text, an ``ErrorReply`` (an HTTP error answer such as a 429), or None for the
behaviour above.

Manual use::

    python3 tests/e2e/fake_anthropic_api.py --port 8765 --delay 5
    ANTHROPIC_BASE_URL=http://127.0.0.1:8765 ANTHROPIC_API_KEY=sk-ant-fake... claude
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, TextIO

#: A prompt containing this marker is answered with a Bash ``tool_use`` running
#: the marked command, e.g. ``please [[fake-bash: touch /tmp/x]]``.
BASH_TRIGGER = re.compile(r"\[\[fake-bash:\s*(?P<command>[^\]]+?)\s*\]\]")

_SYSTEM_REMINDER = "<system-reminder>"

# A paste over 800 characters or 3 lines shows as "[Pasted text #N +M lines]" and
# reaches the API wrapped like this (2.1.328); the blank lines around it are Claude's.
_PASTED = re.compile(r'\n\n<pasted_content id="(?P<id>\w+)">\n(?P<text>.*?)\n</pasted_content id="(?P=id)">\n\n?', re.DOTALL)


def unwrap_pasted(prompt: str) -> str:
    """Return ``prompt`` with each ``<pasted_content>`` wrapper replaced by the pasted text."""
    return _PASTED.sub(lambda m: m.group("text"), prompt)


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request the CLI sent, as received."""

    method: str
    path: str
    body: Any  # parsed JSON, or None when the body was empty or not JSON
    at: float  # time.monotonic() on arrival


@dataclass(frozen=True)
class ToolResult:
    """A ``tool_result`` block the CLI sent back for a scripted ``tool_use``."""

    tool_use_id: str
    content: str
    is_error: bool

    @property
    def rejected(self) -> bool:
        """True when the user declined the call (Esc or "No" in the permission dialog).

        Claude sends a refusal only with its next request, i.e. after the user's
        next prompt, never while the dialog is still up.
        """
        return self.is_error and "doesn't want to proceed" in self.content


@dataclass(frozen=True)
class ScriptedToolUse:
    """A tool call to answer with instead of plain text."""

    name: str
    input: dict[str, Any]


@dataclass(frozen=True)
class ErrorReply:
    """An HTTP error answer instead of a message, e.g. ``ErrorReply(429, {...})``."""

    status: int
    payload: dict[str, Any]
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class _State:
    """Mutable server state, guarded by ``cond``."""

    cond: threading.Condition = field(default_factory=threading.Condition)
    requests: list[RecordedRequest] = field(default_factory=list)
    raw_turns: list[str] = field(default_factory=list)
    tool_results: list[ToolResult] = field(default_factory=list)
    seen_tool_result_ids: set[str] = field(default_factory=set)
    scripted: list[ScriptedToolUse] = field(default_factory=list)
    reply_text: str = "OK"
    reply_delay: float = 0.0
    usage_limit_reset: float | None = None  # epoch seconds; set: conversation requests get 429
    usage_limit_claim: str = "five_hour"
    responder: Callable[[dict[str, Any]], Any] | None = None


def _text_blocks(message: dict[str, Any]) -> list[str]:
    """Return the text of each text block in a message (string content counts as one)."""
    content = message.get("content")
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        return []
    return [
        block.get("text", "")
        for block in content
        if isinstance(block, dict) and block.get("type") == "text"
    ]


def _tool_results(message: dict[str, Any]) -> list[ToolResult]:
    """Return the ``tool_result`` blocks of a message."""
    content = message.get("content")
    if not isinstance(content, list):
        return []
    found = []
    for block in content:
        if not isinstance(block, dict) or block.get("type") != "tool_result":
            continue
        raw = block.get("content", "")
        if isinstance(raw, list):
            raw = "".join(b.get("text", "") for b in raw if isinstance(b, dict))
        found.append(
            ToolResult(
                tool_use_id=str(block.get("tool_use_id", "")),
                content=str(raw),
                is_error=bool(block.get("is_error", False)),
            )
        )
    return found


def typed_prompt(body: dict[str, Any]) -> str | None:
    """Return the typed prompt if ``body`` starts a new conversation turn, else None.

    None for side requests (no ``tools``: title, suggestions) and for requests
    whose last user message only returns tool results.
    """
    if not body.get("tools"):
        return None
    # Claude 2.1.x appends a role "system" message (environment details) after
    # the user's; only user/assistant messages say whose move it is.
    messages = [
        m for m in body.get("messages") or []
        if isinstance(m, dict) and m.get("role") in ("user", "assistant")
    ]
    if not messages or messages[-1].get("role") != "user":
        return None
    last = messages[-1]
    texts = [t for t in _text_blocks(last) if not t.lstrip().startswith(_SYSTEM_REMINDER)]
    if not texts:
        return None
    return texts[-1]


_ids = itertools.count(1)


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _message_events(model: str, block: dict[str, Any], delta: dict[str, Any], stop_reason: str) -> list[bytes]:
    """Return the SSE events of a one-block assistant message."""
    msg_id = f"msg_fake{next(_ids):06d}"
    usage = {"input_tokens": 10, "output_tokens": 1, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    return [
        _sse("message_start", {"type": "message_start", "message": {
            "id": msg_id, "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": None, "stop_sequence": None, "usage": usage}}),
        _sse("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block}),
        _sse("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}),
        _sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
        _sse("message_delta", {"type": "message_delta",
                               "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                               "usage": {"output_tokens": 5}}),
        _sse("message_stop", {"type": "message_stop"}),
    ]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        # Quiet by default: the request log (if any) is written in _record.
        return

    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return None

    def _send_json(self, status: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self.server.api._record("GET", self.path, None)
        self._send_json(200, {})

    def do_HEAD(self) -> None:  # noqa: N802
        self.server.api._record("HEAD", self.path, None)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:  # noqa: N802
        body = self._read_body()
        path = self.path.split("?", 1)[0]
        self.server.api._record("POST", self.path, body)
        if path == "/v1/messages/count_tokens":
            self._send_json(200, {"input_tokens": 10})
        elif path == "/v1/messages" and isinstance(body, dict):
            self._messages(body)
        else:
            self._send_json(404, {"type": "error", "error": {"type": "not_found_error", "message": "fake: not here"}})

    def _messages(self, body: dict[str, Any]) -> None:
        api = self.server.api
        model = str(body.get("model") or "claude-fake")
        is_conversation = bool(body.get("tools"))
        limit = api._usage_limit() if is_conversation else None
        if limit is not None:
            self._usage_limit_answer(*limit)
            return
        answer = api._respond(body) if is_conversation else None
        if isinstance(answer, ErrorReply):
            self._send_json(answer.status, answer.payload, answer.headers)
            return
        block, delta, stop_reason, delay = api._next_reply(body, is_conversation, answer)
        if delay > 0:
            # Deliberate: this delay *is* the busy period the test wants to observe.
            time.sleep(delay)
        if not body.get("stream"):
            content = dict(block)
            if block["type"] == "text":
                content["text"] = delta["text"]
            else:
                content["input"] = json.loads(delta["partial_json"])
            self._send_json(200, {
                "id": f"msg_fake{next(_ids):06d}", "type": "message", "role": "assistant",
                "model": model, "content": [content], "stop_reason": stop_reason,
                "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 5}})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        for event in _message_events(model, block, delta, stop_reason):
            self.wfile.write(event)
            self.wfile.flush()


    def _usage_limit_answer(self, reset_at: float, claim: str) -> None:
        """What the API answers when the account's usage limit is reached: 429, a
        ``rate_limit_error`` body and the ``anthropic-ratelimit-unified-*`` headers naming the
        exhausted window and its reset (epoch seconds), which Claude Code turns into its
        "usage limit" message (tests/e2e/SCREENS.md)."""
        data = json.dumps({"type": "error", "error": {"type": "rate_limit_error",
                                                      "message": "This request would exceed your account's rate limit."}}).encode()
        self.send_response(429)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("anthropic-ratelimit-unified-status", "rejected")
        self.send_header("anthropic-ratelimit-unified-reset", str(int(reset_at)))
        self.send_header("anthropic-ratelimit-unified-representative-claim", claim)
        self.send_header(f"anthropic-ratelimit-unified-{'5h' if claim == 'five_hour' else '7d'}-status", "rejected")
        self.send_header(f"anthropic-ratelimit-unified-{'5h' if claim == 'five_hour' else '7d'}-reset", str(int(reset_at)))
        self.send_header("anthropic-ratelimit-unified-overage-status", "rejected")
        self.send_header("anthropic-ratelimit-unified-overage-disabled-reason", "out_of_credits")
        self.send_header("retry-after", str(max(0, int(reset_at - time.time()))))
        self.send_header("x-should-retry", "false")
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: FakeAnthropicAPI

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that goes away mid-request (an agent killed, a request cancelled) is
        # normal here; anything else still gets the standard traceback.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


class FakeAnthropicAPI:
    """A Messages API stand-in on 127.0.0.1 serving from a background thread.

    Use as a context manager, or call ``start()`` and ``stop()``.
    """

    def __init__(
        self,
        reply_text: str = "OK",
        reply_delay: float = 0.0,
        port: int = 0,
        log: TextIO | None = None,
    ) -> None:
        """Configure the server; nothing listens until ``start()``.

        ``reply_delay`` seconds pass before each conversation reply starts
        streaming (side requests such as the title are answered at once), which
        keeps the agent busy.  ``log``, if given, receives one JSON line per request.
        """
        self._state = _State(reply_text=reply_text, reply_delay=reply_delay)
        self._port = port
        self._log = log
        self._log_lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> str:
        """Start serving and return the base URL, e.g. ``http://127.0.0.1:40123``."""
        if self._server is not None:
            raise RuntimeError("fake API already started")
        server = _Server(("127.0.0.1", self._port), _Handler)
        server.api = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="fake-anthropic-api", daemon=True)
        self._thread.start()
        return self.base_url

    @property
    def base_url(self) -> str:
        """The URL to put in ``ANTHROPIC_BASE_URL``; only valid after ``start()``."""
        if self._server is None:
            raise RuntimeError("fake API not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeAnthropicAPI:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- configuration -----------------------------------------------------
    def set_reply(self, text: str) -> None:
        """Answer later conversation turns with ``text``."""
        with self._state.cond:
            self._state.reply_text = text

    def set_reply_delay(self, seconds: float) -> None:
        """Wait ``seconds`` before streaming each later conversation reply."""
        with self._state.cond:
            self._state.reply_delay = seconds

    def set_usage_limit(self, reset_at: float | None, claim: str = "five_hour") -> None:
        """From now on answer every conversation request with the usage-limit error (429 and
        the ``anthropic-ratelimit-unified-*`` headers) naming ``reset_at`` (epoch seconds) as
        the reset; None lifts the limit. ``claim``: ``five_hour`` or ``seven_day``."""
        with self._state.cond:
            self._state.usage_limit_reset = reset_at
            self._state.usage_limit_claim = claim

    def _usage_limit(self) -> tuple[float, str] | None:
        with self._state.cond:
            if self._state.usage_limit_reset is None:
                return None
            return self._state.usage_limit_reset, self._state.usage_limit_claim

    def set_responder(self, responder: Callable[[dict[str, Any]], Any] | None) -> None:
        """Let ``responder(body)`` answer each later conversation request (see the module doc).

        It runs on the request's handler thread, outside the server's lock.
        """
        with self._state.cond:
            self._state.responder = responder

    def script_next_reply_tool_use(self, name: str, tool_input: dict[str, Any]) -> None:
        """Answer the next conversation request with a ``tool_use`` block.

        For ``Bash`` pass ``{"command": ..., "description": ...}``; Claude then
        shows its permission dialog.  Calls queue up, one per reply.
        """
        with self._state.cond:
            self._state.scripted.append(ScriptedToolUse(name, dict(tool_input)))

    # -- observations ------------------------------------------------------
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in order."""
        with self._state.cond:
            return list(self._state.requests)

    def turns(self) -> list[str]:
        """The exact text of each typed prompt received so far, in order.

        Large pastes are unwrapped (see ``unwrap_pasted``), so this is the text
        that went into the input box.
        """
        return [unwrap_pasted(t) for t in self.raw_turns()]

    def raw_turns(self) -> list[str]:
        """Each typed prompt exactly as Claude sent it, ``<pasted_content>`` wrappers included."""
        with self._state.cond:
            return list(self._state.raw_turns)

    def tool_results(self) -> list[ToolResult]:
        """Each distinct ``tool_result`` received so far (a tool call that ran or was refused)."""
        with self._state.cond:
            return list(self._state.tool_results)

    def wait_for_turns(self, n: int, timeout: float) -> list[str]:
        """Return ``turns()`` once it holds at least ``n`` prompts.

        Raises ``TimeoutError`` (listing what did arrive) after ``timeout`` seconds.
        """
        self._wait(lambda s: s.raw_turns, n, timeout, "turns")
        return self.turns()

    def wait_for_tool_results(self, n: int, timeout: float) -> list[ToolResult]:
        """Return ``tool_results()`` once it holds at least ``n``; ``TimeoutError`` otherwise."""
        return self._wait(lambda s: s.tool_results, n, timeout, "tool results")

    def _wait(self, pick: Callable[[_State], list[Any]], n: int, timeout: float, what: str) -> list[Any]:
        deadline = time.monotonic() + timeout
        with self._state.cond:
            while len(pick(self._state)) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"expected {n} {what} within {timeout}s, got {pick(self._state)!r}")
                self._state.cond.wait(left)
            return list(pick(self._state))

    # -- called from handler threads ---------------------------------------
    def _record(self, method: str, path: str, body: Any) -> None:
        state = self._state
        with state.cond:
            state.requests.append(RecordedRequest(method, path, body, time.monotonic()))
            if isinstance(body, dict) and body.get("tools"):
                for message in body.get("messages") or []:
                    if not isinstance(message, dict) or message.get("role") != "user":
                        continue
                    for result in _tool_results(message):
                        # The whole history is resent with every request:
                        # count each tool_result once.
                        if result.tool_use_id not in state.seen_tool_result_ids:
                            state.seen_tool_result_ids.add(result.tool_use_id)
                            state.tool_results.append(result)
                prompt = typed_prompt(body)
                if prompt is not None:
                    state.raw_turns.append(prompt)
            state.cond.notify_all()
        if self._log is not None:
            with self._log_lock:
                self._log.write(json.dumps({"method": method, "path": path, "body": body}) + "\n")
                self._log.flush()

    def _respond(self, body: dict[str, Any]) -> Any:
        """The responder's answer to a conversation request, or None when there is none."""
        with self._state.cond:
            responder = self._state.responder
        return responder(body) if responder is not None else None

    def _next_reply(self, body: dict[str, Any], is_conversation: bool,
                    answer: Any = None) -> tuple[dict[str, Any], dict[str, Any], str, float]:
        """Pick the reply for one /v1/messages request: (block, delta, stop_reason, delay).

        ``answer`` is the responder's reply (a ``ScriptedToolUse`` or a text), if any.
        """
        state = self._state
        if isinstance(answer, str):
            return ({"type": "text", "text": ""}, {"type": "text_delta", "text": answer}, "end_turn", 0.0)
        if isinstance(answer, ScriptedToolUse):
            tool_id = f"toolu_fake{next(_ids):06d}"
            return ({"type": "tool_use", "id": tool_id, "name": answer.name, "input": {}},
                    {"type": "input_json_delta", "partial_json": json.dumps(answer.input)}, "tool_use", 0.0)
        with state.cond:
            if not is_conversation:
                # Side request (title, suggestion...): short text, no delay.
                return ({"type": "text", "text": ""}, {"type": "text_delta", "text": "Fake session"}, "end_turn", 0.0)
            scripted: ScriptedToolUse | None = None
            prompt = typed_prompt(body)
            if state.scripted and prompt is not None:
                scripted = state.scripted.pop(0)
            elif prompt is not None:
                match = BASH_TRIGGER.search(prompt)
                if match:
                    command = match.group("command")
                    scripted = ScriptedToolUse("Bash", {"command": command, "description": "Run the requested command"})
            delay = state.reply_delay
        if scripted is None:
            return ({"type": "text", "text": ""}, {"type": "text_delta", "text": state.reply_text}, "end_turn", delay)
        tool_id = f"toolu_fake{next(_ids):06d}"
        return (
            {"type": "tool_use", "id": tool_id, "name": scripted.name, "input": {}},
            {"type": "input_json_delta", "partial_json": json.dumps(scripted.input)},
            "tool_use",
            delay,
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fake_anthropic_api.py",
        description="Serve a fake Anthropic Messages API on 127.0.0.1 for running Claude Code offline.",
        epilog=(
            "examples:\n"
            "  fake_anthropic_api.py --port 8765\n"
            "  fake_anthropic_api.py --port 8765 --delay 5 --reply 'Done.'\n"
            "  fake_anthropic_api.py --port 8765 --log /tmp/requests.jsonl\n"
            "A prompt containing [[fake-bash: CMD]] is answered with a Bash tool_use running CMD."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: any free port)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before each conversation reply")
    parser.add_argument("--reply", default="OK", help="text of each conversation reply (default: OK)")
    parser.add_argument("--log", type=Path, help="append one JSON line per request to this file")
    parser.add_argument("--usage-limit-for", type=float, metavar="S",
                        help="answer every conversation request with the usage-limit error, resetting S seconds from start")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    log = args.log.open("a", encoding="utf-8") if args.log else None
    api = FakeAnthropicAPI(reply_text=args.reply, reply_delay=args.delay, port=args.port, log=log)
    print(api.start(), flush=True)
    if args.usage_limit_for is not None:
        api.set_usage_limit(time.time() + args.usage_limit_for)
    # SIGTERM (kill, process managers) stops the server as cleanly as Ctrl-C.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    seen = 0
    try:
        while True:  # report each typed prompt on stderr until Ctrl-C
            try:
                turns = api.wait_for_turns(seen + 1, timeout=3600)
            except TimeoutError:
                continue
            for turn in turns[seen:]:
                print(f"turn: {turn!r}", file=sys.stderr, flush=True)
            seen = len(turns)
    except KeyboardInterrupt:
        return 0
    finally:
        api.stop()
        if log is not None:
            log.close()


if __name__ == "__main__":
    raise SystemExit(main())
