"""The FHIR HTTP client: one requests.Session with the publisher's transport settings, recording every exchange.

Failures of the server or the network never raise: they are recorded on the Exchange (`error`) so that the
test that made the request fails with a precise message and the run goes on.
"""

from __future__ import annotations

import ast
import contextlib
import http.client
import json
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from urllib3.util.retry import Retry

from pytest_mes import __version__
from pytest_mes.adapter import FinalAnswerAdapter
from pytest_mes.connection import RUN_REFUSED, ClientSettings
from pytest_mes.redaction import Redactor, is_secret_name
from pytest_mes.report.labels import label

FHIR_JSON = "application/fhir+json"
KEPT_EXCHANGES = 500  # FhirClient.exchanges keeps the most recent ones; test results keep their own
UNRESPONSIVE_AFTER = 2  # requests in a row without an answer after which the server is deemed unresponsive
_FOLLOWED = frozenset({"GET", "HEAD"})  # a redirected POST or PUT is the server's answer, not ours to replay
_BODILESS = frozenset({204, 304})  # answers that end with their headers, whatever they announce (RFC 9110 §6.4.1)


class _QuietWhileSending(logging.Filter):
    """Drops what urllib3 logs while a FhirClient sends in this thread: a malformed header, a retry. Those records
    carry the request's URL unredacted (a token in its query) and a traceback, and pytest shows captured logs
    beside a failed test; the Exchange already says what went wrong, redacted and in the run's language."""

    def __init__(self) -> None:
        super().__init__()
        self.sending = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(self.sending, "active", False)


_QUIET = _QuietWhileSending()
# A logger's filters see only the records logged on it, not those of its children: each module that logs.
for _name in ("urllib3.connection", "urllib3.connectionpool", "urllib3.response", "urllib3.poolmanager",
              "urllib3.util.retry"):
    logging.getLogger(_name).addFilter(_QUIET)


@dataclass
class Exchange:
    """One request and its response (or the failure that replaced it).

    The request side is recorded redacted (checks never look at it). The response is kept as received,
    because checks and saved values need the real data; `shown()` gives the redacted copy that may be
    printed or written.
    """

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str | None
    started_at: str
    status: int | None = None
    reason: str = ""
    response_headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    elapsed_ms: float = 0.0
    error: str | None = None
    # True when the server under test gave no answer (timeout, refused or dropped connection), or when the
    # request was not sent because the server had already stopped answering: the test could not be made.
    unreachable: bool = False
    over_cap: bool = False  # the body was larger than --mes-max-response-bytes: not read, so not checked
    redirects: list[str] = field(default_factory=list)  # "302 http://…" for each hop followed
    notes: list[str] = field(default_factory=list)
    redactor: Redactor = field(default_factory=Redactor, repr=False, compare=False)
    lang: str = field(default="fr", repr=False, compare=False)  # of what the exchange says about itself

    def __repr__(self) -> str:
        return f"<Exchange {self.method} {self.url} -> {self.status or self.error}>"

    @property
    def content_type(self) -> str:
        """The media type of the response, without parameters, lower case ('' when absent)."""
        return (self.header("Content-Type") or "").split(";")[0].strip().lower()

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.response_headers.items() if k.lower() == name.lower()), None)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @cached_property
    def parsed(self) -> tuple[Any, str | None]:
        """(JSON value, None) or (None, why the body is not usable JSON)."""
        if self.error:
            return None, self.error
        if not self.body.strip():
            return None, label("http.no_body", self.lang).format(status=self.status)
        kind = self.content_type or label("http.no_content_type", self.lang)
        unread = [c for c in (self.header("Content-Encoding") or "").lower().replace(" ", "").split(",")
                  if c and c != "identity" and c not in urllib3.response.HTTPResponse.CONTENT_DECODERS]
        if unread:  # what urllib3 decodes is what the request accepted (requests' Accept-Encoding): not this
            return None, label("http.unasked_encoding", self.lang).format(
                encoding=self.header("Content-Encoding"), accepted=self.request_headers.get("Accept-Encoding", "-"))
        try:
            text = self.body.decode("utf-8-sig")  # FHIR's encoding, whatever the charset says (a BOM tolerated)
        except UnicodeDecodeError as exc:
            return None, self._not_utf8(exc)
        try:
            return json.loads(text), None
        except RecursionError:
            return None, label("http.too_deep", self.lang).format(kind=kind)
        except ValueError as exc:  # not JSON, or an integer of more than 4,300 digits
            return None, label("http.not_json", self.lang).format(kind=kind, error=exc)

    def _not_utf8(self, exc: UnicodeDecodeError) -> str:
        declared = self.header("Content-Type")
        declared = (f"Content-Type{label('colon', self.lang)}{declared}" if declared
                    else label("http.no_content_type", self.lang))
        return label("http.not_utf8", self.lang).format(byte=f"0x{exc.object[exc.start]:02x}", position=exc.start,
                                                        declared=declared)

    def read_as(self, value: Any, problem: str | None) -> None:
        """The body as another reader read it (a FHIR XML answer in its JSON form): what `parsed` gives from now."""
        self.__dict__["parsed"] = (value, problem)

    @property
    def resource(self) -> tuple[dict[str, Any] | None, str | None]:
        """(JSON object, None) or (None, why the body is no FHIR resource): every FHIR answer is a JSON object."""
        value, problem = self.parsed
        if problem or isinstance(value, dict):
            return value, problem
        shown = json.dumps(value, ensure_ascii=False)
        return None, label("http.not_object", self.lang).format(value=shown if len(shown) <= 60 else shown[:57] + "...")

    def json(self) -> Any:
        value, problem = self.parsed
        if problem:
            raise ValueError(problem)
        return value

    def shown(self) -> Exchange:
        """A copy safe to print or record: secrets in the response replaced by ***."""
        body = self.body
        if self.redactor.active and body:
            body = self.redactor.text(body.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")
        return replace(self, response_headers=self.redactor.headers(self.response_headers), body=body,
                       error=self.redactor.text(self.error) if self.error else None)

    def excerpt(self, limit: int = 2000) -> str:
        """The response body as text, secrets masked, cut after `limit` characters: for the assertion messages of
        users' own tests (README, fixtures)."""
        text = self.shown().text
        in_all = label("evidence.bytes_in_all", self.lang).format(n=len(self.body))
        return text if len(text) <= limit else text[:limit] + f"\n… ({in_all})"


class _Session(requests.Session):
    """A Session that drops every credential, not only Authorization, when a redirect leaves the host."""

    def rebuild_auth(self, prepared_request, response):
        super().rebuild_auth(prepared_request, response)
        if self.should_strip_auth(response.request.url, prepared_request.url):
            for name in list(prepared_request.headers):
                if is_secret_name(name):
                    del prepared_request.headers[name]


class FhirClient:
    """A small FHIR REST client over one session; every call returns an Exchange and records it."""

    def __init__(self, settings: ClientSettings, session: requests.Session | None = None,
                 redactor: Redactor | None = None, lang: str = "fr"):
        self.settings = settings
        self.lang = lang  # of what exchanges say went wrong (--mes-lang)
        self.base_url = settings.base_url.rstrip("/") + "/"
        self.redactor = redactor if redactor is not None else Redactor(settings.secrets())
        self.exchanges: deque[Exchange] = deque(maxlen=KEPT_EXCHANGES)
        self.silence = Silence()
        self.session = session or _Session()
        self._configure(self.session)

    def _configure(self, session: requests.Session) -> None:
        session.headers.update({"Accept": FHIR_JSON, "User-Agent": f"pytest-mes/{__version__}"})
        session.headers.update({k: v for k, v in self.settings.headers if not is_secret_name(k)})
        # A cookie set by one test must not authenticate the next one.
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        if self.settings.client_cert:
            key = self.settings.client_key
            session.cert = (self.settings.client_cert, key) if key else self.settings.client_cert
        if self.settings.ca_bundle:
            session.verify = self.settings.ca_bundle
        # Only requests that never reached the server are retried: a conformance test must not hide a
        # server's answer, nor send a POST twice.
        adapter = FinalAnswerAdapter(max_retries=Retry(total=1, connect=1, read=0, status=0, other=0, redirect=5,
                                                raise_on_redirect=False, raise_on_status=False))
        session.mount("http://", adapter)
        session.mount("https://", adapter)

    def url_for(self, target: str) -> str:
        """Join a path ('Patient/1', '/Patient', '') to the base URL; absolute URLs pass through."""
        if urlsplit(target).scheme:
            return target
        return urljoin(self.base_url, target.lstrip("/")) if target.strip("/") else self.base_url.rstrip("/")

    def request(self, method: str, target: str, *, params: Any = None, headers: dict[str, str] | None = None,
                body: Any = None, content_type: str | None = None) -> Exchange:
        url = self.url_for(target)
        headers = dict(headers or {})
        data = _encode(body)
        if data is not None and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = content_type or FHIR_JSON
        exchange = Exchange(
            method=method, url=self.redactor.text(url), request_headers={},
            request_body=self.redactor.text(data.decode("utf-8", "replace")) if data else None,
            started_at=datetime.now(UTC).isoformat(timespec="milliseconds"), redactor=self.redactor, lang=self.lang,
        )
        to_server = _same_origin(url, self.base_url)
        if to_server and self.silence.unresponsive:
            exchange.error = self.silence.describe(self.lang)
            exchange.unreachable = True
            return self._record(exchange)
        if to_server:
            headers = {**self.settings.credential_headers(), **headers}
        elif self.settings.credential_headers():
            exchange.notes.append(label("http.credentials_kept", self.lang).format(host=urlsplit(url).netloc))
        try:
            prepared = self.session.prepare_request(
                requests.Request(method, url, params=params, headers=headers, data=data))
        except (requests.exceptions.RequestException, ValueError) as exc:
            exchange.error = self.redactor.text(label("http.unsendable", self.lang).format(error=exc))
            return self._record(exchange)
        exchange.url = self.redactor.text(prepared.url or url)
        exchange.request_headers = self.redactor.headers(dict(prepared.headers))
        self._send(prepared, exchange)
        if to_server:
            self.silence.count(exchange)
        return self._record(exchange)

    def _record(self, exchange: Exchange) -> Exchange:
        self.exchanges.append(exchange)
        return exchange

    def _send(self, prepared: requests.PreparedRequest, exchange: Exchange) -> None:
        timeout = (self.settings.connect_timeout, self.settings.read_timeout)
        # Honour REQUESTS_CA_BUNDLE, proxies and the like from the environment, as requests.get() would.
        options = self.session.merge_environment_settings(prepared.url, {}, True, self.session.verify,
                                                          self.session.cert)
        started = time.perf_counter()
        _QUIET.sending.active = True
        try:
            with self.session.send(prepared, timeout=timeout, allow_redirects=prepared.method in _FOLLOWED,
                                   **options) as response:  # options carry stream=True: the size cap
                exchange.redirects = [f"{r.status_code} {self.redactor.text(r.url)}" for r in response.history]
                if response.history:
                    exchange.url = self.redactor.text(response.url)
                exchange.status = response.status_code
                exchange.reason = response.reason or ""
                exchange.response_headers = {name: _header_text(value) for name, value in response.headers.items()}
                self._mask_cookies(response)
                connection = response.raw.connection  # (reading the body to its end gives it back to the pool)
                exchange.body = self._read_body(response, deadline=started + sum(timeout))
                # An answer that ends with its headers: whatever else the server sends (a body anyway) is no HTTP, and
                # would be read as the next request's answer on this connection. The next takes a new one.
                if connection is not None and (prepared.method == "HEAD" or response.status_code in _BODILESS):
                    connection.close()
        except BodyTooLarge as exc:
            exchange.error, exchange.over_cap = str(exc), True
        except requests.exceptions.RequestException as exc:
            exchange.error = self.redactor.text(describe_failure(exc, prepared.url or "", timeout, self.lang))
            exchange.unreachable = _no_answer(exc)
        finally:
            _QUIET.sending.active = False
            exchange.elapsed_ms = round((time.perf_counter() - started) * 1000, 1)

    def _mask_cookies(self, response: requests.Response) -> None:
        """A cookie the server sets is a credential: its value is masked wherever it shows up from now on."""
        for cookie in response.raw.headers.getlist("Set-Cookie") if response.raw is not None else []:
            self.redactor.add(cookie.split(";", 1)[0].partition("=")[2])

    def _read_body(self, response: requests.Response, *, deadline: float) -> bytes:
        """The body as it comes (read1: what has arrived, not a full chunk), within the size cap and by the
        deadline: a server that sends its answer byte by byte never trips the socket's read timeout."""
        limit = self.settings.max_response_bytes
        chunks, size = [], 0
        try:
            while chunk := response.raw.read1(64 * 1024, decode_content=True):
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge(label("http.too_large", self.lang).format(limit=limit))
                chunks.append(chunk)
                if time.perf_counter() > deadline:
                    raise requests.exceptions.ReadTimeout("the answer was not complete by the deadline")
        except urllib3.exceptions.HTTPError as exc:
            raise _as_requests_error(exc, response) from exc
        return b"".join(chunks)

    # The FHIR verbs test writers and fixture users reach for most.
    def capabilities(self) -> Exchange:
        return self.request("GET", "metadata")

    def read(self, resource_type: str, resource_id: str) -> Exchange:
        return self.request("GET", f"{resource_type}/{resource_id}")

    def search(self, resource_type: str, params: Any = None) -> Exchange:
        return self.request("GET", resource_type, params=params)

    def create(self, resource: dict[str, Any]) -> Exchange:
        return self.request("POST", resource["resourceType"], body=resource)

    def update(self, resource: dict[str, Any]) -> Exchange:
        return self.request("PUT", f"{resource['resourceType']}/{resource['id']}", body=resource)

    def delete(self, resource_type: str, resource_id: str) -> Exchange:
        return self.request("DELETE", f"{resource_type}/{resource_id}")

    def transaction(self, bundle: dict[str, Any]) -> Exchange:
        return self.request("POST", "", body=bundle)

    def close(self) -> None:
        self.session.close()


def run_refusal(exchange: Exchange, lang: str = "fr") -> str | None:
    """What to say when the answer refuses the run itself (credentials, pace: RUN_REFUSED), else None."""
    key = RUN_REFUSED.get(exchange.status or 0)
    if key is None:
        return None
    retry = exchange.header("Retry-After")
    return label(key, lang).format(retry=f", Retry-After: {retry}" if retry else "")


class BodyTooLarge(Exception):
    pass


class Silence:
    """Whether the server under test still answers. After UNRESPONSIVE_AFTER requests in a row without an
    answer, the next requests are not sent: each would wait its full timeout (a hung server would make a run
    last hours). Any answer, even an error status, resets the count."""

    def __init__(self) -> None:
        self.streak: list[Exchange] = []

    @property
    def unresponsive(self) -> bool:
        return len(self.streak) >= UNRESPONSIVE_AFTER

    def count(self, exchange: Exchange) -> None:
        if exchange.unreachable:
            self.streak.append(exchange)
        elif exchange.status is not None:
            self.streak.clear()

    def describe(self, lang: str = "fr") -> str:
        return label("http.unresponsive", lang).format(since=self.streak[0].started_at[11:19], n=len(self.streak),
                                                       last=self.streak[-1].error)


def _header_text(value: str) -> str:
    """A header value as the server wrote it: http.client reads the bytes as Latin-1, but servers send UTF-8
    ("Créneau réservé" read as "CrÃ©neau rÃ©servÃ©"); bytes that are not UTF-8 stay as Latin-1 read them."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def _as_requests_error(exc: urllib3.exceptions.HTTPError,
                       response: requests.Response) -> requests.exceptions.RequestException:
    """The error requests' own body reading (iter_content) gives for urllib3's, which describe_failure reads."""
    if isinstance(exc, urllib3.exceptions.ProtocolError):
        return requests.exceptions.ChunkedEncodingError(exc)
    if isinstance(exc, urllib3.exceptions.DecodeError):
        return requests.exceptions.ContentDecodingError(exc, response=response)
    if isinstance(exc, urllib3.exceptions.SSLError):
        return requests.exceptions.SSLError(exc)
    return requests.exceptions.ConnectionError(exc)  # a ReadTimeoutError among them


def _no_answer(exc: requests.exceptions.RequestException) -> bool:
    """The server did not answer at all: a timeout, a refused or dropped connection (not TLS, not a cut body)."""
    if isinstance(exc, requests.exceptions.SSLError | requests.exceptions.ChunkedEncodingError):
        return False
    if not isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
        return False
    return "IncompleteRead" not in str(exc)


def _same_origin(url: str, base_url: str) -> bool:
    a, b = urlsplit(url), urlsplit(base_url)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


def _encode(body: Any) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def describe_failure(exc: requests.exceptions.RequestException, url: str, timeout: tuple[float, float],
                     lang: str = "fr") -> str:
    """One sentence saying what went wrong on the wire and what to look at, in `lang` (the library's own words on
    the cause stay as it said them)."""
    # After a redirect the failure is with the request it led to, maybe on another host: name that one.
    failed = getattr(exc, "request", None)
    url = getattr(failed, "url", None) or url
    host = urlsplit(url).netloc or url

    def say(key: str, **values: Any) -> str:
        return label(key, lang).format(host=host, **values)

    # Behind a Retry policy urllib3 wraps the cause in MaxRetryError, and requests then reports a read
    # timeout as a ConnectionError: look at the cause itself.
    cause = exc.args[0] if exc.args else None
    cause = getattr(cause, "reason", cause)
    if isinstance(cause, urllib3.exceptions.ReadTimeoutError):
        exc = requests.exceptions.ReadTimeout(cause)
    elif isinstance(cause, urllib3.exceptions.ConnectTimeoutError) and not isinstance(
        cause, urllib3.exceptions.NewConnectionError  # a refusal, which urllib3 files under timeouts
    ):
        exc = requests.exceptions.ConnectTimeout(cause)
    if isinstance(exc, requests.exceptions.SSLError):
        cause = _root_cause(exc)
        # An answer that is no TLS record at all: a plain HTTP server behind an https:// URL, not a certificate.
        return say("http.not_tls" if "WRONG_VERSION_NUMBER" in cause else "http.tls", cause=cause)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return say("http.connect_timeout", seconds=f"{timeout[0]:g}")
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return say("http.read_timeout", seconds=f"{timeout[1]:g}")
    if isinstance(cause, urllib3.exceptions.ProtocolError) and "without response" in str(cause):
        return say("http.closed")
    cut = _in_chain(exc, http.client.IncompleteRead)
    if cut is not None and isinstance(cut.__context__, ValueError):  # a chunk size line int(…, 16) cannot read
        return say("http.bad_chunks", size=_chunk_size_line(cut.__context__))
    if isinstance(exc, requests.exceptions.ChunkedEncodingError) or (
        isinstance(exc, requests.exceptions.ConnectionError) and "IncompleteRead" in str(exc)
    ):
        return say("http.cut", cause=_root_cause(exc))
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        encoding = exc.response.headers.get("Content-Encoding", "?") if exc.response is not None else "?"
        return say("http.bad_encoding", encoding=encoding, cause=_root_cause(exc))
    root = _root(exc)
    if isinstance(root, http.client.HTTPException):  # a status line or headers http cannot read: it did answer
        cause = str(root).strip() or type(root).__name__
        # http.client's own limits ("got more than 100 headers", "… bytes when reading header line"): an HTTP answer
        # all the same, which "not in HTTP, check the URL" would misdescribe
        return say("http.headers_too_large" if "header" in cause else "http.not_http", cause=cause)
    if isinstance(exc, requests.exceptions.ConnectionError):
        return say("http.refused", cause=_root_cause(exc))
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return say("http.redirect_loop", n=requests.models.DEFAULT_REDIRECT_LIMIT)
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return say("http.invalid_url", url=repr(url), error=exc)
    return say("http.failure", cause=_root_cause(exc))


def _chunk_size_line(error: ValueError) -> str:
    """The line http.client read as a chunk size, from its int() error ("… base 16: b'zz\\r\\n'"), as text: 'zz'."""
    said = str(error).rpartition(": ")[2]
    with contextlib.suppress(ValueError, SyntaxError):
        said = repr(ast.literal_eval(said).strip().decode("latin-1"))
    return said[:60]


def _in_chain(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """The first error of `kind` from `exc` down to the root of its chain, or None."""
    while not isinstance(exc, kind) and exc.__context__ is not None and exc.__context__ is not exc:
        exc = exc.__context__
    return exc if isinstance(exc, kind) else None


def _root(exc: BaseException) -> BaseException:
    """The first error of the chain: what the socket or the HTTP parser said."""
    while exc.__context__ is not None and exc.__context__ is not exc:
        exc = exc.__context__
    return exc


def _root_cause(exc: BaseException) -> str:
    exc = _root(exc)
    text = str(exc) or type(exc).__name__
    # urllib3 wraps reasons in long reprs; the last clause is the informative one.
    if "]" in text and "[" in text and "certificate" in text.lower():
        return text[text.index("["):].split(" (_ssl")[0]
    return text.split(": ", 1)[-1] if text.startswith("HTTPConnectionPool") else text
