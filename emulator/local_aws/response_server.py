"""A local stand-in for the pre-signed S3 URL CloudFormation reads custom resource answers from.

An ``http.server`` on 127.0.0.1 (an ephemeral port) in a thread, recording every request it gets
(method, path with query, headers as sent, body), so tests check the answer on the wire. It can
also drop the next connections without answering, or answer them with an HTTP error, to
exercise the responder's retries.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

RESPONSE_PATH = (
    "/cloudformation-custom-resource-response-useast1/"
    "arn%3Aaws%3Acloudformation%3Aus-east-1%3A123456789012%3Astack/site/0a1b2c3d%7CSwitch%7C"
    "5b1f8d1e-0c2a-4f6b-9e3d-7a8b9c0d1e2f"
)
SIGNED_QUERY = (
    "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261121T100000Z&X-Amz-SignedHeaders=host"
    "&X-Amz-Expires=7200&X-Amz-Credential=AKIAEXAMPLE%2F20261121%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Signature=0123456789abcdef"
)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """The value of the header ``name`` (any case), None if it was not sent."""
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        assert len(values) <= 1, f"{name} sent {len(values)} times"
        return values[0] if values else None

    def json(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.body)
        return document


class ResponseServer:
    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._drop = 0
        self._error_status: list[int] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{RESPONSE_PATH}{SIGNED_QUERY}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def drop_next(self, count: int) -> None:
        """Close the next ``count`` connections without answering (the client sees a reset)."""
        self._drop = count

    def fail_next(self, *statuses: int) -> None:
        """Answer the next requests with these HTTP statuses, one each."""
        self._error_status = list(statuses)

    def wait_for(self, count: int, timeout: float = 30.0) -> bool:
        """Block until ``count`` requests have been recorded (True) or ``timeout`` passed."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self.requests) >= count, timeout)

    def _record(self, request: RecordedRequest) -> tuple[bool, int]:
        """Record the request; return (drop it?, status to answer)."""
        with self._arrived:
            self.requests.append(request)
            self._arrived.notify_all()
            if self._drop:
                self._drop -= 1
                return True, 0
            if self._error_status:
                return False, self._error_status.pop(0)
            return False, 200

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                recorded = RecordedRequest(
                    method=self.command,
                    path=self.path,
                    headers=tuple(self.headers.items()),
                    body=body,
                )
                drop, status = server._record(recorded)
                if drop:
                    self.close_connection = True
                    return
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Silence the per-request log lines."""

        return Handler


@contextmanager
def running_response_server() -> Iterator[ResponseServer]:
    server = ResponseServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
