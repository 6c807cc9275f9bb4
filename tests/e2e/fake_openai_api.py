"""A loopback stand-in for the OpenAI Responses API, for end-to-end tests of Codex CLI.

The real Codex CLI talks to this server through a custom model provider in
``$CODEX_HOME/config.toml`` (``codex_harness.write_codex_config``): ``base_url`` set to
``FakeOpenAIAPI.base_url``, ``wire_api = "responses"``, and an ``env_key`` naming the
variable that holds the (fake) API key. The built-in ``openai`` provider is not used: it
ignores base URL overrides (docs/agent-clis.md).

It speaks the part of the API Codex 0.169.0 reads:

* ``POST /v1/responses`` with ``"stream": true`` answered as Server-Sent Events, each
  ``event: <type>`` plus ``data: {"type": <type>, ...}``: ``response.created``,
  ``response.output_item.added``, ``response.output_text.delta``,
  ``response.output_item.done`` (the finished item: an assistant ``message`` or a
  ``function_call``) and ``response.completed`` (with ``usage``). These names are the
  strings of the Responses event parser in the native binary
  (``@openai/codex-linux-x64/vendor/*/bin/codex``), see docs/agent-clis.md.
* every other request gets ``404`` with an OpenAI-shaped error body (a GET of
  ``/v1/models`` too), which Codex treats as "nothing there" and moves on.

Each request is logged whole (method, path, headers, body) in ``requests()``.

Which requests are user turns: Codex sends two kinds of ``/v1/responses`` request on
a thread's first turn: the conversation itself, and a side request without tools that
asks for the thread's title as JSON (``text.format`` a ``json_schema`` with a ``title``
field; it is answered with ``{"title": ...}``). Both carry the ``x-codex-turn-metadata``
header; its ``thread_source`` tells them apart (``user`` or ``thread_title``). A conversation request whose last ``input`` item is
a ``user`` message starts a turn; the typed text is that message's last
``input_text`` part. (Codex puts its own context, ``<environment_context>`` and the
like, in earlier user messages.) A request whose last item is a
``function_call_output`` returns a tool's result instead.

Scripting replies: ``script_next_reply_shell("touch x")`` or ``[[fake-shell: CMD]]`` in
the prompt answers the next conversation turn with a ``function_call`` of Codex's
shell tool asking to run CMD with escalated permissions, which under
``approval_policy = "on-request"`` raises Codex's approval dialog.
``set_reply_delay(s)`` makes each later conversation reply wait ``s`` seconds (a slow
answer: the agent is busy meanwhile); ``set_rate_limit(True)`` answers every later
conversation request with HTTP 429 and a ``rate_limit_exceeded`` error.

Manual use::

    python3 tests/e2e/fake_openai_api.py --port 8766 --log /tmp/codex-requests.jsonl
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
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Callable, TextIO

from loopback_stand_in import LoopbackStandIn, StandInServer

#: A prompt containing this marker is answered with a shell tool call running the
#: marked command, e.g. ``please [[fake-shell: touch /tmp/x]]``.
SHELL_TRIGGER = re.compile(r"\[\[fake-shell:\s*(?P<command>[^\]]+?)\s*\]\]")

#: Every ``/responses`` request of 0.169.0 carries this header, a JSON object; its
#: ``thread_source`` is ``"user"`` for the turn itself and ``"thread_title"`` for the
#: side request that names the thread (seen in the request log, docs/agent-clis.md).
TURN_METADATA_HEADER = "x-codex-turn-metadata"
TITLE_THREAD_SOURCE = "thread_title"


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request the CLI sent, as received."""

    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: Any  # parsed JSON, or None when the body was empty or not JSON
    at: float  # time.monotonic() on arrival

    @property
    def is_conversation(self) -> bool:
        """True for a turn's conversation request, False for side requests (the title)."""
        if not self.path.split("?", 1)[0].endswith("/responses"):
            return False
        return turn_metadata(self.headers).get("thread_source") != TITLE_THREAD_SOURCE


def turn_metadata(headers: dict[str, str]) -> dict[str, Any]:
    """The JSON object in the ``x-codex-turn-metadata`` header, or {} without one."""
    try:
        metadata = json.loads(headers.get(TURN_METADATA_HEADER, "{}"))
    except ValueError:
        return {}
    return metadata if isinstance(metadata, dict) else {}


@dataclass(frozen=True)
class ToolOutput:
    """A ``function_call_output`` Codex sent back for a scripted ``function_call``."""

    call_id: str
    output: str


@dataclass(frozen=True)
class ScriptedShell:
    """A shell command to ask for instead of answering with text."""

    command: str


@dataclass
class _State:
    """Mutable server state, guarded by ``cond``."""

    cond: threading.Condition = field(default_factory=threading.Condition)
    requests: list[RecordedRequest] = field(default_factory=list)
    turns: list[str] = field(default_factory=list)
    tool_outputs: list[ToolOutput] = field(default_factory=list)
    seen_call_ids: set[str] = field(default_factory=set)
    scripted: list[ScriptedShell] = field(default_factory=list)
    reply_text: str = "OK"
    reply_delay: float = 0.0
    rate_limited: bool = False


def _input_texts(item: dict[str, Any]) -> list[str]:
    """The text of each ``input_text`` part of one ``input`` message item."""
    content = item.get("content")
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        return []
    return [str(part.get("text", "")) for part in content
            if isinstance(part, dict) and part.get("type") == "input_text"]


def typed_prompt(body: dict[str, Any]) -> str | None:
    """The typed prompt when ``body`` (a conversation request) starts a turn, else None."""
    items = [item for item in body.get("input") or [] if isinstance(item, dict)]
    if not items:
        return None
    last = items[-1]
    if last.get("type", "message") != "message" or last.get("role") != "user":
        return None
    texts = _input_texts(last)
    return texts[-1] if texts else None


def tool_outputs(body: dict[str, Any]) -> list[ToolOutput]:
    """Every ``function_call_output`` item of a request's ``input``."""
    found = []
    for item in body.get("input") or []:
        if isinstance(item, dict) and item.get("type") == "function_call_output":
            output = item.get("output")
            if not isinstance(output, str):
                output = json.dumps(output)
            found.append(ToolOutput(str(item.get("call_id", "")), output))
    return found


def shell_tool_call(body: dict[str, Any], command: str, call_id: str) -> dict[str, Any]:
    """A ``function_call`` item asking Codex's shell tool to run ``command``.

    Codex offers one of several shell tools depending on its version and features;
    the request's ``tools`` say which, so the call is shaped for the tool on offer.
    ``sandbox_permissions = "require_escalated"`` asks to run outside the sandbox,
    which under ``approval_policy = "on-request"`` always needs the user's approval.
    """
    offered = {str(tool.get("name")): tool for tool in body.get("tools") or [] if isinstance(tool, dict)}
    escalate = {"sandbox_permissions": "require_escalated",
                "justification": "The test asks for this command to be approved."}
    arguments: dict[str, Any]
    if "exec_command" in offered:
        # What 0.169.0 offers (its schema: cmd, sandbox_permissions, justification, ...).
        name, arguments = "exec_command", {"cmd": command, **escalate}
    elif "shell_command" in offered:
        name, arguments = "shell_command", {"command": command, **escalate}
    else:
        name, arguments = "shell", {"command": ["bash", "-lc", command], **escalate}
    return {"type": "function_call", "id": f"fc_fake{call_id}", "call_id": call_id,
            "name": name, "arguments": json.dumps(arguments)}


_ids = itertools.count(1)


def _sse(data: dict[str, Any]) -> bytes:
    return f"event: {data['type']}\ndata: {json.dumps(data)}\n\n".encode()


def _response_events(item: dict[str, Any]) -> list[bytes]:
    """The SSE events of a response whose output is the one ``item``."""
    response_id = f"resp_fake{next(_ids):06d}"
    events = [_sse({"type": "response.created", "response": {"id": response_id, "status": "in_progress"}})]
    if item["type"] == "message":
        text = item["content"][0]["text"]
        events.append(_sse({"type": "response.output_item.added", "output_index": 0,
                            "item": {**item, "content": []}}))
        events.append(_sse({"type": "response.output_text.delta", "item_id": item["id"], "output_index": 0,
                            "content_index": 0, "delta": text}))
    events.append(_sse({"type": "response.output_item.done", "output_index": 0, "item": item}))
    events.append(_sse({"type": "response.completed", "response": {
        "id": response_id, "status": "completed", "output": [item],
        "usage": {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0},
                  "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 0},
                  "total_tokens": 15}}}))
    return events


def _text_item(text: str) -> dict[str, Any]:
    return {"type": "message", "id": f"msg_fake{next(_ids):06d}", "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}


class _Handler(BaseHTTPRequestHandler):
    server: StandInServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        # Quiet: the request log (if any) is written in _record.
        return

    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        if self.headers.get("Content-Encoding", "").lower() == "zstd":
            return None  # not asked for: the provider config leaves request compression off
        try:
            return json.loads(raw)
        except ValueError:
            return None

    def _send_json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _not_here(self) -> None:
        self._send_json(404, {"error": {"type": "invalid_request_error", "code": "not_found",
                                        "message": "fake: not here", "param": None}})

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self.server.api._record(self, None)
        self._not_here()

    def do_POST(self) -> None:  # noqa: N802
        body = self._read_body()
        request = self.server.api._record(self, body)
        if request.path.split("?", 1)[0].endswith("/responses") and isinstance(body, dict):
            self._responses(request, body)
        else:
            self._not_here()

    def _responses(self, request: RecordedRequest, body: dict[str, Any]) -> None:
        api = self.server.api
        item, delay, limited = api._next_reply(request, body)
        if limited:
            self._send_json(429, {"error": {
                "type": "rate_limit_exceeded", "code": "rate_limit_exceeded", "param": None,
                "message": "Rate limit reached for requests (fake). Please try again in 20s."}})
            return
        if delay > 0:
            # Deliberate: this delay *is* the busy period the test wants to observe.
            time.sleep(delay)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        for event in _response_events(item):
            self.wfile.write(event)
            self.wfile.flush()


class FakeOpenAIAPI(LoopbackStandIn):
    """A Responses API stand-in on 127.0.0.1 serving from a background thread.

    Use as a context manager, or call ``start()`` and ``stop()``.
    """

    HANDLER = _Handler
    THREAD_NAME = "fake-openai-api"

    def __init__(self, reply_text: str = "OK", reply_delay: float = 0.0, port: int = 0,
                 log: TextIO | None = None) -> None:
        """Configure the server; nothing listens until ``start()``.

        ``log``: a text file that gets one JSON line per request (method, path,
        headers, body).
        """
        super().__init__(port, log)
        self._state = _State(reply_text=reply_text, reply_delay=reply_delay)

    @property
    def base_url(self) -> str:
        """The provider's ``base_url`` (Codex appends ``/responses``); valid after ``start()``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def set_reply(self, text: str) -> None:
        """Answer later conversation turns with ``text``."""
        with self._state.cond:
            self._state.reply_text = text

    def set_reply_delay(self, seconds: float) -> None:
        """Wait ``seconds`` before streaming each later conversation reply (a slow answer)."""
        with self._state.cond:
            self._state.reply_delay = seconds

    def set_rate_limit(self, on: bool) -> None:
        """Answer every later conversation request with HTTP 429 (``on``) or normally again."""
        with self._state.cond:
            self._state.rate_limited = on

    def script_next_reply_shell(self, command: str) -> None:
        """Answer the next turn with a shell tool call running ``command`` (needs approval)."""
        with self._state.cond:
            self._state.scripted.append(ScriptedShell(command))

    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in order."""
        with self._state.cond:
            return list(self._state.requests)

    def turns(self) -> list[str]:
        """The exact text of each typed prompt received so far, in order."""
        with self._state.cond:
            return list(self._state.turns)

    def tool_outputs(self) -> list[ToolOutput]:
        """Each distinct ``function_call_output`` received so far (a tool call that ran or was refused)."""
        with self._state.cond:
            return list(self._state.tool_outputs)

    def wait_for_turns(self, n: int, timeout: float) -> list[str]:
        """Return ``turns()`` once it holds at least ``n`` prompts; ``TimeoutError`` otherwise."""
        return self._wait(lambda s: s.turns, n, timeout, "typed prompts")

    def wait_for_tool_outputs(self, n: int, timeout: float) -> list[ToolOutput]:
        """Return ``tool_outputs()`` once it holds at least ``n``; ``TimeoutError`` otherwise."""
        return self._wait(lambda s: s.tool_outputs, n, timeout, "tool outputs")

    def _wait(self, pick: Callable[[_State], list[Any]], n: int, timeout: float, what: str) -> list[Any]:
        deadline = time.monotonic() + timeout
        with self._state.cond:
            while len(pick(self._state)) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"fake OpenAI API: {len(pick(self._state))} {what} after {timeout}s, wanted {n}")
                self._state.cond.wait(left)
            return list(pick(self._state))

    def _record(self, handler: _Handler, body: Any) -> RecordedRequest:
        headers = {name.lower(): value for name, value in handler.headers.items()}
        request = RecordedRequest(handler.command, handler.path, headers, body, time.monotonic())
        with self._state.cond:
            self._state.requests.append(request)
            if request.is_conversation and isinstance(body, dict):
                prompt = typed_prompt(body)
                if prompt is not None:
                    self._state.turns.append(prompt)
                for output in tool_outputs(body):
                    if output.call_id not in self._state.seen_call_ids:
                        self._state.seen_call_ids.add(output.call_id)
                        self._state.tool_outputs.append(output)
            self._state.cond.notify_all()
        self._log_request(request.method, request.path, headers, body)
        return request

    def _next_reply(self, request: RecordedRequest, body: dict[str, Any]) -> tuple[dict[str, Any], float, bool]:
        """Pick the answer to one ``/responses`` request: (output item, delay, rate limited)."""
        state = self._state
        with state.cond:
            if not request.is_conversation:
                # The title request wants JSON matching its schema: a short title, at
                # once, never rate limited.
                return _text_item(json.dumps({"title": "Fake thread"})), 0.0, False
            if state.rate_limited:
                return _text_item(""), 0.0, True
            prompt = typed_prompt(body)
            command: str | None = None
            if prompt is not None and state.scripted:
                command = state.scripted.pop(0).command
            elif prompt is not None and SHELL_TRIGGER.search(prompt):
                command = SHELL_TRIGGER.search(prompt).group("command")  # type: ignore[union-attr]
            delay, text = state.reply_delay, state.reply_text
        if command is not None:
            return shell_tool_call(body, command, f"call_fake{next(_ids):06d}"), delay, False
        return _text_item(text), delay, False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fake_openai_api.py",
        description="Serve a fake OpenAI Responses API on 127.0.0.1 for running Codex CLI offline.",
        epilog=(
            "examples:\n"
            "  fake_openai_api.py --port 8766\n"
            "  fake_openai_api.py --port 8766 --delay 5 --reply 'Done.'\n"
            "  fake_openai_api.py --port 8766 --log /tmp/codex-requests.jsonl\n"
            "A prompt containing [[fake-shell: CMD]] is answered with a shell tool call running CMD."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: any free port)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before each conversation reply")
    parser.add_argument("--reply", default="OK", help="text of each conversation reply (default: OK)")
    parser.add_argument("--log", type=Path, help="append one JSON line per request to this file")
    parser.add_argument("--rate-limit", action="store_true", help="answer every conversation request with HTTP 429")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    log = args.log.open("a", encoding="utf-8") if args.log else None
    api = FakeOpenAIAPI(reply_text=args.reply, reply_delay=args.delay, port=args.port, log=log)
    print(api.start(), flush=True)
    api.set_rate_limit(args.rate_limit)
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
