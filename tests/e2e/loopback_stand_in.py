"""What every loopback stand-in of an agent CLI's API shares (tests/e2e/fake_openai_api.py,
tests/e2e/fake_gemini_api.py): a threaded HTTP server on 127.0.0.1, started and stopped from a
test (or used as a context manager), and the JSON-lines log of every request it got.

A subclass names its request handler and thread, and says its ``base_url`` (each CLI wants
another form of it); its handler reaches the stand-in as ``self.server.api``.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, TextIO, TypeVar

Self = TypeVar("Self", bound="LoopbackStandIn")


class StandInServer(ThreadingHTTPServer):
    daemon_threads = True
    api: Any

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that goes away mid-request (an agent killed, a turn cancelled) is
        # normal here; anything else still gets the standard traceback.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


class LoopbackStandIn:
    """Serves :attr:`HANDLER` on 127.0.0.1 from a background thread; nothing listens until
    :meth:`start`. ``log``: a text file that gets one JSON line per request (method, path,
    headers, body)."""

    HANDLER: ClassVar[type[BaseHTTPRequestHandler]]
    THREAD_NAME: ClassVar[str] = "stand-in-api"

    def __init__(self, port: int = 0, log: TextIO | None = None) -> None:
        self._port = port
        self._log = log
        self._log_lock = threading.Lock()
        self._server: StandInServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        """Start serving and return :attr:`base_url`."""
        server = StandInServer(("127.0.0.1", self._port), self.HANDLER)
        server.api = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name=self.THREAD_NAME, daemon=True)
        self._thread.start()
        return self.base_url

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """What the CLI is pointed at; only valid after :meth:`start`."""
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call twice."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self: Self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _log_request(self, method: str, path: str, headers: dict[str, str], body: Any) -> None:
        if self._log is not None:
            with self._log_lock:
                self._log.write(json.dumps({"method": method, "path": path, "headers": headers, "body": body}) + "\n")
                self._log.flush()
