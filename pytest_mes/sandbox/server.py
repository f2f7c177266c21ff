"""The HTTP layer: a threaded stdlib server that turns requests into `exchange.Request` objects.

It owns what is HTTP and not FHIR logic: reading bodies (with a size limit), content
negotiation (`_format`, Accept), serialisation in JSON or XML, the transport defects, and one
log line per request. Every failure becomes a FHIR error with an OperationOutcome, never a
traceback on the wire.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from pytest_mes.sandbox.api import Api
from pytest_mes.sandbox.defects import Defect
from pytest_mes.sandbox.exchange import XML_TYPES, Request, Response
from pytest_mes.sandbox.outcome import FhirError, operation_outcome

MAX_BODY = 20 * 1024 * 1024  # 20 MiB: far above any test document, small enough to stay safe
BASE_PATH = "/fhir"
_JSON_FORMATS = {"json", "application/json", "application/fhir+json", "text/json"}
_XML_FORMATS = {"xml", "text/xml", "application/xml", "application/fhir+xml"}

LogFunction = Callable[[str], None]


def make_log(log: Any) -> LogFunction:
    """Accept None (silent), a logging.Logger, or any callable taking a line."""
    if log is None:
        return lambda line: None
    if isinstance(log, logging.Logger):
        return log.info
    return log


def negotiate(query: list[tuple[str, str]], accept: str, content_type: str = "") -> str:
    """'json' or 'xml': `_format` wins over Accept, then the request's own format; JSON by default."""
    for key, value in query:
        if key == "_format":
            fmt = value.split(";")[0].strip().lower()
            if fmt in _XML_FORMATS:
                return "xml"
            if fmt in _JSON_FORMATS:
                return "json"
            raise FhirError(406, f"Unsupported _format {value!r}: use json or xml", "not-supported")
    kinds = [part.split(";")[0].strip().lower() for part in accept.split(",") if part.strip()]
    for kind in kinds:
        if kind in _JSON_FORMATS or kind in ("*/*", "application/*"):
            return "json"
        if kind in XML_TYPES:
            return "xml"
    if not kinds and content_type.split(";")[0].strip().lower() in XML_TYPES:
        return "xml"  # no Accept: answer in the format of the request (https://hl7.org/fhir/R4/http.html#mime-type)
    return "json"


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    api: Api
    log: LogFunction

    def handle_error(self, request: Any, client_address: Any) -> None:
        """What `_dispatch` cannot answer — a client gone while its answer was being sent — is one line of the
        sandbox's log, not a traceback on stderr (socketserver's default)."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            self.log(f"{client_address[0]} closed the connection before its answer was sent ({type(error).__name__})")
        else:
            self.log(traceback.format_exc().rstrip())


class Handler(BaseHTTPRequestHandler):
    """One connection; HTTP/1.1 keep-alive, every response with a Content-Length."""

    protocol_version = "HTTP/1.1"
    server_version = "pytest-mes-sandbox"
    disable_nagle_algorithm = True  # small responses on keep-alive connections would wait 40 ms otherwise
    timeout = 60
    server: SandboxHTTPServer

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        """Silenced: `_dispatch` logs one richer line per request."""

    def log_error(self, format: str, *args: Any) -> None:
        self.server.log(f"{self.address_string()} error: {format % args}")

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks, total = [], 0
            while True:
                try:
                    size = int(self.rfile.readline().strip().split(b";")[0] or b"0", 16)
                except ValueError:
                    self.close_connection = True
                    raise FhirError(400, "Malformed chunked request body", "structure") from None
                if size == 0:
                    self.rfile.readline()
                    break
                total += size
                if total > MAX_BODY:
                    self.close_connection = True
                    raise FhirError(413, f"The body exceeds {MAX_BODY} bytes", "too-long")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        raw_length = self.headers.get("Content-Length", "0") or "0"
        try:
            length = int(raw_length)
        except ValueError:
            self.close_connection = True
            raise FhirError(400, f"Invalid Content-Length {raw_length!r}", "structure") from None
        if length > MAX_BODY:
            self.close_connection = True  # the body is not read: the connection cannot be reused
            raise FhirError(413, f"The body ({length} bytes) exceeds the limit of {MAX_BODY} bytes", "too-long")
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        started = time.perf_counter()
        fmt = "json"
        api = self.server.api
        try:
            body = self._read_body()
            url = urlsplit(self.path)
            path = unquote(url.path)
            if not (path == BASE_PATH or path.startswith(BASE_PATH + "/")):
                raise FhirError(404, f"Not a FHIR endpoint: the base is {BASE_PATH}", "not-found")
            query = parse_qsl(url.query, keep_blank_values=True)
            fmt = negotiate(query, self.headers.get("Accept", ""), self.headers.get("Content-Type", ""))
            host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
            request = Request(
                method=self.command,
                path=[p for p in path[len(BASE_PATH):].split("/") if p],
                query=query,
                headers=self.headers,  # type: ignore[arg-type]  # email.message.Message, case-insensitive
                body=body,
                base=f"http://{host}{BASE_PATH}",
            )
            response = api.handle(request)
        except FhirError as exc:
            response = Response(exc.status, exc.outcome(), headers=exc.headers)
        except Exception:  # a bug: answer 500 with an OperationOutcome, keep the traceback in the log
            # Bad requests are refused with FhirError where their shape is checked; anything else
            # (TypeError, KeyError… included) is the sandbox's fault and must show as such.
            self.server.log(traceback.format_exc().rstrip())
            response = Response(500, operation_outcome("Internal error of the sandbox (see its log)",
                                                       code="exception"))
        size = self._send(response, fmt)
        elapsed = (time.perf_counter() - started) * 1000
        self.server.log(f'{self.address_string()} "{self.requestline}" {response.status} {size} {elapsed:.1f}ms')

    def _serialise(self, response: Response, fmt: str) -> tuple[bytes, str]:
        api = self.server.api
        if response.raw is not None:
            return response.raw, response.content_type or "application/octet-stream"
        if response.resource is None:
            return b"", ""
        if Defect.ERROR_WITHOUT_OUTCOME in api.defects and response.status >= 400:
            issue = (response.resource.get("issue") or [{}])[0]
            return f"Error {response.status}: {issue.get('diagnostics', '')}\n".encode(), "text/plain; charset=utf-8"
        if fmt == "xml":
            text = api.r4.dump(response.resource)
            ctype = "application/fhir+xml; charset=utf-8"
        else:
            pretty = any(k == "_pretty" and v == "true" for k, v in parse_qsl(urlsplit(self.path).query))
            text = json.dumps(response.resource, ensure_ascii=False, indent=2 if pretty else None,
                              separators=None if pretty else (",", ":"))
            ctype = "application/fhir+json; charset=utf-8"
        if Defect.NON_FHIR_CONTENT_TYPE in api.defects:
            ctype = "text/plain; charset=utf-8"
        return text.encode("utf-8"), ctype

    def _send(self, response: Response, fmt: str) -> int:
        try:
            body, ctype = self._serialise(response, fmt)
        except FhirError as exc:  # e.g. XML asked for but unavailable: 406, in JSON
            response = Response(exc.status, exc.outcome())
            body, ctype = self._serialise(response, "json")
        headers = dict(response.headers)
        if Defect.NO_ETAG in self.server.api.defects:
            headers.pop("ETag", None)
        if response.status in (204, 304):
            body = b""
        self.send_response(response.status)
        for name, value in headers.items():
            self.send_header(name, value)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
        return len(body)
