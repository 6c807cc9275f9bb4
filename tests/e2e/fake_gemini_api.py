"""A loopback stand-in for the Gemini API (``generativelanguage``), for end-to-end tests
of Google's Gemini CLI.

The real Gemini CLI talks to this server when ``GOOGLE_GEMINI_BASE_URL`` points at it,
``GEMINI_API_KEY`` is set and its settings select ``security.auth.selectedType =
"gemini-api-key"`` (gemini_harness.py). It speaks the part of the API 0.61.0 uses:

* ``POST /v1beta/models/<model>:streamGenerateContent?alt=sse``: the conversation,
  answered as Server-Sent Events, each ``data: <GenerateContentResponse JSON>``;
* ``POST /v1beta/models/<model>:generateContent``: one JSON response. Gemini CLI sends
  its side requests this way: the model router's classifier (it asks for JSON with
  ``generationConfig.responseMimeType = "application/json"`` and a schema with
  ``model_choice``; a plain-text answer leaves the CLI on "Thinking..." for good, so
  every JSON-wanting request gets JSON), and others (titles, next-speaker checks);
* ``POST ...:countTokens`` answers a small count;
* every other request gets ``404`` with a Google-shaped error body.

Each request is logged whole (method, path, headers, body) in ``requests()``.

Which requests are user turns: a ``streamGenerateContent`` request whose last
``contents`` entry is a ``user`` turn holding text (not only ``functionResponse``
parts) starts a turn; the typed text is that entry's last text part.

Scripting replies: ``script_next_reply_shell("touch x")`` or ``[[fake-shell: CMD]]`` in
the prompt answers the next turn with a ``functionCall`` of the CLI's
``run_shell_command`` tool, which in the default approval mode raises its confirmation
dialog. ``set_reply_delay(s)``: a slow answer; ``set_rate_limit(True)``: every later
conversation request gets HTTP 429 ``RESOURCE_EXHAUSTED``.

Manual use::

    python3 tests/e2e/fake_gemini_api.py --port 8767 --log /tmp/gemini-requests.jsonl
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

SHELL_TOOL = "run_shell_command"

_METHOD = re.compile(r"^/v1(?:beta|alpha)?/models/(?P<model>[^:/]+):(?P<method>\w+)$")


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request the CLI sent, as received."""

    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: Any  # parsed JSON, or None when the body was empty or not JSON
    at: float  # time.monotonic() on arrival

    @property
    def api_method(self) -> str | None:
        """``streamGenerateContent``, ``generateContent``, ``countTokens``... or None."""
        match = _METHOD.match(self.path.split("?", 1)[0])
        return match.group("method") if match else None

    @property
    def model(self) -> str | None:
        match = _METHOD.match(self.path.split("?", 1)[0])
        return match.group("model") if match else None

    @property
    def is_conversation(self) -> bool:
        """True for the conversation (streamed, not asking for JSON)."""
        return self.api_method == "streamGenerateContent" and isinstance(self.body, dict) \
            and not wants_json(self.body)


@dataclass(frozen=True)
class FunctionResponse:
    """A ``functionResponse`` part the CLI sent back for a scripted ``functionCall``."""

    name: str
    call_id: str
    response: dict[str, Any]


@dataclass
class _State:
    """Mutable server state, guarded by ``cond``."""

    cond: threading.Condition = field(default_factory=threading.Condition)
    requests: list[RecordedRequest] = field(default_factory=list)
    turns: list[str] = field(default_factory=list)
    function_responses: list[FunctionResponse] = field(default_factory=list)
    seen_call_ids: set[str] = field(default_factory=set)
    scripted: list[str] = field(default_factory=list)
    reply_text: str = "OK"
    reply_delay: float = 0.0
    rate_limited: bool = False


def wants_json(body: dict[str, Any]) -> bool:
    """True when the request asks for a JSON answer (the router's classifier and such)."""
    config = body.get("generationConfig") or {}
    return config.get("responseMimeType") == "application/json" or "responseJsonSchema" in config \
        or "responseSchema" in config


def _parts(content: dict[str, Any]) -> list[dict[str, Any]]:
    return [part for part in content.get("parts") or [] if isinstance(part, dict)]


def typed_prompt(body: dict[str, Any]) -> str | None:
    """The typed prompt when ``body`` (a conversation request) starts a turn, else None."""
    contents = [c for c in body.get("contents") or [] if isinstance(c, dict)]
    if not contents or contents[-1].get("role") != "user":
        return None
    parts = _parts(contents[-1])
    if any("functionResponse" in part for part in parts):
        return None
    texts = [str(part["text"]) for part in parts if "text" in part]
    return texts[-1] if texts else None


def function_responses(body: dict[str, Any]) -> list[FunctionResponse]:
    """Every ``functionResponse`` part of a request's ``contents``."""
    found = []
    for content in body.get("contents") or []:
        if not isinstance(content, dict):
            continue
        for part in _parts(content):
            answer = part.get("functionResponse")
            if isinstance(answer, dict):
                found.append(FunctionResponse(str(answer.get("name", "")), str(answer.get("id", "")),
                                              answer.get("response") or {}))
    return found


def json_answer(body: dict[str, Any]) -> str:
    """A JSON text for a request that asks for JSON: the router's choice of the flash
    model when its schema has ``model_choice``, else an object filling each required
    string property with a short word."""
    config = body.get("generationConfig") or {}
    schema = config.get("responseJsonSchema") or config.get("responseSchema") or {}
    properties = schema.get("properties") or {}
    if "model_choice" in properties:
        return json.dumps({"reasoning": "A simple request (fake router).", "model_choice": "flash"})
    answer: dict[str, Any] = {}
    for name in schema.get("required") or list(properties):
        kind = str((properties.get(name) or {}).get("type", "string")).lower()
        answer[name] = {"boolean": False, "number": 0, "integer": 0, "array": [], "object": {}}.get(kind, "fake")
    return json.dumps(answer)


_ids = itertools.count(1)


def _candidate_response(parts: list[dict[str, Any]], model: str) -> dict[str, Any]:
    return {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
        "modelVersion": model,
        "responseId": f"fake-{next(_ids):06d}",
    }


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
        self._send_json(404, {"error": {"code": 404, "message": "fake: not here", "status": "NOT_FOUND"}})

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self.server.api._record(self, None)
        self._not_here()

    def do_POST(self) -> None:  # noqa: N802
        body = self._read_body()
        request = self.server.api._record(self, body)
        method = request.api_method
        if method == "countTokens":
            self._send_json(200, {"totalTokens": 10})
        elif method in ("generateContent", "streamGenerateContent") and isinstance(body, dict):
            self._generate(request, body, streamed=method == "streamGenerateContent")
        else:
            self._not_here()

    def _generate(self, request: RecordedRequest, body: dict[str, Any], streamed: bool) -> None:
        api = self.server.api
        parts, delay, limited = api._next_reply(request, body)
        if limited:
            self._send_json(429, {"error": {
                "code": 429, "status": "RESOURCE_EXHAUSTED",
                "message": "Resource has been exhausted (e.g. check quota). (fake)"}})
            return
        if delay > 0:
            # Deliberate: this delay *is* the busy period the test wants to observe.
            time.sleep(delay)
        answer = _candidate_response(parts, request.model or "gemini-fake")
        if not streamed:
            self._send_json(200, answer)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        self.wfile.write(f"data: {json.dumps(answer)}\r\n\r\n".encode())
        self.wfile.flush()


class FakeGeminiAPI(LoopbackStandIn):
    """A Gemini API stand-in on 127.0.0.1 serving from a background thread.

    Use as a context manager, or call ``start()`` and ``stop()``.
    """

    HANDLER = _Handler
    THREAD_NAME = "fake-gemini-api"

    def __init__(self, reply_text: str = "OK", reply_delay: float = 0.0, port: int = 0,
                 log: TextIO | None = None) -> None:
        """Configure the server; nothing listens until ``start()``.

        ``log``: a text file that gets one JSON line per request (method, path,
        headers, body).
        """
        super().__init__(port, log)
        self._state = _State(reply_text=reply_text, reply_delay=reply_delay)

    def set_reply(self, text: str) -> None:
        """Answer later conversation turns with ``text``."""
        with self._state.cond:
            self._state.reply_text = text

    def set_reply_delay(self, seconds: float) -> None:
        """Wait ``seconds`` before each later conversation reply (a slow answer)."""
        with self._state.cond:
            self._state.reply_delay = seconds

    def set_rate_limit(self, on: bool) -> None:
        """Answer every later conversation request with HTTP 429 (``on``) or normally again."""
        with self._state.cond:
            self._state.rate_limited = on

    def script_next_reply_shell(self, command: str) -> None:
        """Answer the next turn with a ``run_shell_command`` call of ``command``."""
        with self._state.cond:
            self._state.scripted.append(command)

    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in order."""
        with self._state.cond:
            return list(self._state.requests)

    def turns(self) -> list[str]:
        """The exact text of each typed prompt received so far, in order."""
        with self._state.cond:
            return list(self._state.turns)

    def function_responses(self) -> list[FunctionResponse]:
        """Each distinct ``functionResponse`` received so far."""
        with self._state.cond:
            return list(self._state.function_responses)

    def wait_for_turns(self, n: int, timeout: float) -> list[str]:
        """Return ``turns()`` once it holds at least ``n`` prompts; ``TimeoutError`` otherwise."""
        return self._wait(lambda s: s.turns, n, timeout, "typed prompts")

    def wait_for_function_responses(self, n: int, timeout: float) -> list[FunctionResponse]:
        """Return ``function_responses()`` once it holds at least ``n``; ``TimeoutError`` otherwise."""
        return self._wait(lambda s: s.function_responses, n, timeout, "function responses")

    def _wait(self, pick: Callable[[_State], list[Any]], n: int, timeout: float, what: str) -> list[Any]:
        deadline = time.monotonic() + timeout
        with self._state.cond:
            while len(pick(self._state)) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"fake Gemini API: {len(pick(self._state))} {what} after {timeout}s, wanted {n}")
                self._state.cond.wait(left)
            return list(pick(self._state))

    def _record(self, handler: _Handler, body: Any) -> RecordedRequest:
        headers = {name.lower(): value for name, value in handler.headers.items()}
        request = RecordedRequest(handler.command, handler.path, headers, body, time.monotonic())
        with self._state.cond:
            self._state.requests.append(request)
            if request.is_conversation:
                prompt = typed_prompt(body)
                if prompt is not None:
                    self._state.turns.append(prompt)
                for answer in function_responses(body):
                    key = answer.call_id or f"{answer.name}:{json.dumps(answer.response, sort_keys=True)}"
                    if key not in self._state.seen_call_ids:
                        self._state.seen_call_ids.add(key)
                        self._state.function_responses.append(answer)
            self._state.cond.notify_all()
        self._log_request(request.method, request.path, headers, body)
        return request

    def _next_reply(self, request: RecordedRequest, body: dict[str, Any]) -> tuple[list[dict[str, Any]], float, bool]:
        """Pick the answer to one generate request: (parts, delay, rate limited)."""
        state = self._state
        if wants_json(body):
            # The router's classifier and other side requests: JSON at once, never limited.
            return [{"text": json_answer(body)}], 0.0, False
        with state.cond:
            if not request.is_conversation:
                return [{"text": state.reply_text}], 0.0, False
            if state.rate_limited:
                return [], 0.0, True
            prompt = typed_prompt(body)
            command: str | None = None
            if prompt is not None and state.scripted:
                command = state.scripted.pop(0)
            elif prompt is not None and SHELL_TRIGGER.search(prompt):
                command = SHELL_TRIGGER.search(prompt).group("command")  # type: ignore[union-attr]
            delay, text = state.reply_delay, state.reply_text
        if command is not None:
            call = {"name": SHELL_TOOL, "id": f"call_fake{next(_ids):06d}",
                    "args": {"command": command, "description": "Run the requested command"}}
            return [{"functionCall": call}], delay, False
        return [{"text": text}], delay, False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fake_gemini_api.py",
        description="Serve a fake Gemini API on 127.0.0.1 for running Gemini CLI offline.",
        epilog=(
            "examples:\n"
            "  fake_gemini_api.py --port 8767\n"
            "  fake_gemini_api.py --port 8767 --delay 5 --reply 'Done.'\n"
            "  fake_gemini_api.py --port 8767 --log /tmp/gemini-requests.jsonl\n"
            "A prompt containing [[fake-shell: CMD]] is answered with a run_shell_command call of CMD."
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
    api = FakeGeminiAPI(reply_text=args.reply, reply_delay=args.delay, port=args.port, log=log)
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
