"""Real alert receivers on 127.0.0.1 for tests and benchmarks: an HTTP server for webhooks
and Apprise's json://, and an SMTP server (aiosmtpd) for mailto://. Not collected.

`WebhookReceiver` records every request and answers from a script: a list of statuses used
once each (then `status`), or holds requests until released, as a down or slow receiver would.
"""

from __future__ import annotations

import email
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


@dataclass(frozen=True, slots=True)
class Received:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    at: float  # time.monotonic() when it was answered (or arrived, while it is held)
    status: int  # what it was answered; 0 while it is held
    wall: float = 0.0  # time.time() when it was answered

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def key(self) -> str:
        return self.headers.get("idempotency-key", "")

    def signed_by(self, secret: str) -> bool:
        """Whether X-Redline-Signature is the HMAC-SHA256 of the raw body under `secret`."""
        mac = hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(self.headers.get("x-redline-signature", ""), f"sha256={mac}")


@dataclass
class WebhookReceiver:
    status: int = 200
    script: list[int] = field(default_factory=list)  # answered first, one each
    hold: threading.Event | None = None  # when set: keep requests waiting until released
    requests: list[Received] = field(default_factory=list)
    arrived: int = 0  # requests that reached the receiver, answered or still held
    on_arrival: Callable[[], None] = lambda: None  # called in the server's thread
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def __enter__(self) -> WebhookReceiver:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.hold is not None:
            self.hold.set()
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def url(self, path: str = "/hook", scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def answer(self) -> int:
        with self._lock:
            return self.script.pop(0) if self.script else self.status

    def record(self, received: Received) -> int:
        with self._lock:
            self.requests.append(received)
            self.arrived += 1
            return len(self.requests) - 1

    def answered(self, index: int, status: int) -> None:
        with self._lock:
            now = replace(self.requests[index], status=status, at=time.monotonic())
            self.requests[index] = replace(now, wall=time.time())

    def delivered(self) -> list[Received]:
        """The requests answered 2xx."""
        with self._lock:
            return [r for r in self.requests if 200 <= r.status < 300]


def _handler(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            index = receiver.record(Received(self.path, headers, body, time.monotonic(), 0))
            receiver.on_arrival()
            if receiver.hold is not None:
                receiver.hold.wait(30)
            status = receiver.answer()
            receiver.answered(index, status)
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    return Handler


class Mailbox:
    """What a local SMTP server received."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        parsed = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"


class SmtpReceiver:
    """aiosmtpd on 127.0.0.1 (no TLS, no login), in a thread of its own."""

    def __init__(self) -> None:
        self.mailbox = Mailbox()
        self.port = free_port()
        self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpReceiver:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()

    def mailto(self, to: str = "desk@example.org") -> str:
        return f"mailto://127.0.0.1:{self.port}?mode=insecure&from=redline@example.org&to={to}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
