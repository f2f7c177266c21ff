"""A scriptable FHIR-ish HTTP server on loopback for end-to-end tests (plain or TLS, misbehaviour on demand)."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list -> JSON; str/bytes as is
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/fhir+json"
    delay: float = 0.0
    truncate: bool = False  # announce more bytes than sent, then close
    drop: bool = False  # close the connection without answering
    trickle: float = 0.0  # seconds between the bytes of the body: a server that sends its answer drop by drop
    interim: tuple[int, ...] = ()  # informational answers (1xx: 102 Processing, 103 Early Hints) sent first
    reason: str | None = None  # the status line's reason phrase (default: the standard one)

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Handler = Callable[[Seen], Reply]


class ScriptedServer:
    """Routes 'METHOD /path' (path without query) to a Reply or a function; records every request."""

    def __init__(self, tls: ssl.SSLContext | None = None, fallback: Reply | Handler | None = None):
        self.routes: dict[str, Reply | Handler] = {}
        self.fallback = fallback or Reply(404, {"resourceType": "OperationOutcome"})  # for every other request
        self.requests: list[Seen] = []
        self._tls = tls
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._httpd.handle_error = lambda request, address: None  # a client hanging up mid-answer is no news
        if tls is not None:
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        scheme = "https" if self._tls else "http"
        return f"{scheme}://127.0.0.1:{self._httpd.server_address[1]}/fhir"

    def route(self, key: str, reply: Reply | Handler) -> None:
        self.routes[key] = reply

    def start(self) -> ScriptedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler_class(self):
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                seen = Seen(self.command, self.path, dict(self.headers), self.rfile.read(length) if length else b"")
                server.requests.append(seen)
                path = urlsplit(self.path).path
                route = server.routes.get(f"{self.command} {path}", server.fallback)
                reply = route if isinstance(route, Reply) else route(seen)
                time.sleep(reply.delay)
                if reply.drop:
                    self.close_connection = True
                    return
                data = reply.encoded()
                for status in reply.interim:
                    self.wfile.write(f"HTTP/1.1 {status} Interim\r\nLink: </style.css>; rel=preload\r\n\r\n".encode())
                self.send_response(reply.status, reply.reason)
                if reply.content_type:
                    self.send_header("Content-Type", reply.content_type)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data) + (1000 if reply.truncate else 0)))
                self.end_headers()
                if reply.trickle:
                    for byte in data:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(reply.trickle)
                else:
                    self.wfile.write(data)
                if reply.truncate:
                    self.wfile.flush()
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

        return _Handler


CAPABILITY_STATEMENT = {
    "resourceType": "CapabilityStatement",
    "status": "active",
    "kind": "instance",
    "fhirVersion": "4.0.1",
    "format": ["json"],
    "rest": [{
        "mode": "server",
        "interaction": [{"code": "transaction"}],
        "resource": [
            {"type": "Patient", "interaction": [{"code": "read"}, {"code": "search-type"}, {"code": "create"}],
             "searchParam": [{"name": "identifier", "type": "token"}]},
            {"type": "Slot", "interaction": [{"code": "search-type"}],
             "searchParam": [{"name": "start", "type": "date"}]},
        ],
    }],
}


class HungServer:
    """Accepts TCP connections on loopback and never answers (a hung application server behind a live socket); with
    `says`, sends it on each connection first, as a service that is not HTTP greets (an SSH or SMTP banner)."""

    def __init__(self, says: bytes = b"") -> None:
        self._says = says
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}/fhir"

    @property
    def connections(self) -> int:
        return len(self._held)

    def _accept(self) -> None:
        while not self._stop.is_set():  # bounded by stop(); each wait is 0.1 s
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self._says:
                conn.sendall(self._says)
            self._held.append(conn)  # kept open, never read, never answered

    def __enter__(self) -> HungServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self._held:
            conn.close()
        self._sock.close()
