"""A second, independent, in-memory FHIR R4 server for tests only (loopback), unlike the sandbox in every choice
R4 leaves open, to prove the core sets ask no more than R4 does.

Its choices, each allowed by R4 (http.html) and each different from the sandbox's:
- /metadata answers a searchset Bundle, not a CapabilityStatement (as some third-party engines do; this one
  choice is NOT conformant: CORE-FS-CAP-01 must catch it);
- ids are UUIDs; versions count 1, 2, …; ETag W/"n"; Location [base]/Patient/[id]/_history/[n];
- create and update answer no body unless `Prefer: return=representation` (return=minimal is the default);
- delete answers 204; a deleted resource reads as 404, like an unknown one (it does not track deletions);
- paging by an opaque cursor at the base ([base]?_getpages=…&_offset=…), not by query offsets on the type;
- every error is an OperationOutcome; every body is `application/fhir+json; charset=utf-8`.
"""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

BASE_PATH = "/r4"
TYPES = ("Patient",)
CONTENT_TYPE = "application/fhir+json; charset=utf-8"
JSON_TYPES = ("application/fhir+json", "application/json")
DEFAULT_PAGE = 10


def outcome(code: str, text: str) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": text}]}


class Answer(Exception):
    """An HTTP answer, raised from anywhere in a request's handling."""

    def __init__(self, status: int, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def fail(status: int, code: str, text: str) -> Answer:
    return Answer(status, outcome(code, text))


class Store:
    """Versions of each resource, in memory; a delete forgets the resource (no tombstone)."""

    def __init__(self):
        self.versions: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.cursors: dict[str, list[dict[str, Any]]] = {}  # search results kept for their next pages
        self.lock = threading.Lock()

    def save(self, resource: dict[str, Any], rid: str) -> dict[str, Any]:
        history = self.versions.setdefault((resource["resourceType"], rid), [])
        stored = {**resource, "id": rid, "meta": {**resource.get("meta", {}), "versionId": str(len(history) + 1),
                                                  "lastUpdated": datetime.now(UTC).isoformat(timespec="seconds")}}
        history.append(stored)
        return stored

    def current(self, rtype: str, rid: str) -> dict[str, Any]:
        history = self.versions.get((rtype, rid))
        if not history:
            raise fail(404, "not-found", f"{rtype}/{rid} is not known")
        return history[-1]


class OtherEngine:
    """Serves [base] = http://127.0.0.1:PORT/r4 in a thread; `seed` Patients exist from the start."""

    def __init__(self, seed: int = 3):
        self.store = Store()
        for n in range(seed):
            self.store.save({"resourceType": "Patient", "name": [{"family": f"SEED{n}"}]}, str(uuid.uuid4()))
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}{BASE_PATH}"

    def start(self) -> OtherEngine:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler_class(self):
        engine = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                self._answer(engine.get)

            def do_POST(self) -> None:
                self._answer(engine.post)

            def do_PUT(self) -> None:
                self._answer(engine.put)

            def do_DELETE(self) -> None:
                self._answer(engine.delete)

            def _answer(self, handle) -> None:
                url = urlsplit(self.path)
                parts = url.path.removeprefix(BASE_PATH).strip("/").split("/") if url.path.startswith(BASE_PATH) \
                    else None
                try:
                    if parts is None:
                        raise fail(404, "not-found", f"no FHIR endpoint at {url.path}")
                    size = int(self.headers.get("Content-Length") or 0)
                    with engine.store.lock:
                        handle(parts, parse_qs(url.query), self.headers, self.rfile.read(size))
                    raise Answer(500, outcome("exception", "no answer"))
                except Answer as answer:
                    self._send(answer)

            def _send(self, answer: Answer) -> None:
                data = json.dumps(answer.body).encode() if answer.body is not None else b""
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                if data:
                    self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    # Interactions. Each raises its Answer.

    def get(self, parts: list[str], query: dict[str, list[str]], headers: Any, body: bytes) -> None:
        if parts == ["metadata"]:
            raise Answer(200, {"resourceType": "Bundle", "type": "searchset", "total": 0})
        if parts == [""] and "_getpages" in query:
            self._page(query["_getpages"][0], _int(query, "_offset", 0), _int(query, "_count", DEFAULT_PAGE))
        rtype = _type(parts[0])
        if len(parts) == 1:
            self._search(rtype, query)
        if len(parts) == 2:
            raise self._resource(200, self.store.current(rtype, parts[1]))
        if len(parts) == 4 and parts[2] == "_history":
            history = self.store.versions.get((rtype, parts[1]), [])
            found = [v for v in history if v["meta"]["versionId"] == parts[3]]
            if not found:
                raise fail(404, "not-found", f"{rtype}/{parts[1]} has no version {parts[3]}")
            raise self._resource(200, found[0])
        raise fail(404, "not-found", "unknown path")

    def post(self, parts: list[str], query: dict[str, list[str]], headers: Any, body: bytes) -> None:
        if len(parts) != 1:
            raise fail(405, "not-supported", "POST is accepted on [base]/[type] only")
        rtype = _type(parts[0])
        stored = self.store.save(_parse(rtype, headers, body), str(uuid.uuid4()))
        raise self._written(201, stored, headers)

    def put(self, parts: list[str], query: dict[str, list[str]], headers: Any, body: bytes) -> None:
        if len(parts) != 2:
            raise fail(405, "not-supported", "PUT is accepted on [base]/[type]/[id] only")
        rtype, rid = _type(parts[0]), parts[1]
        resource = _parse(rtype, headers, body)
        if resource.get("id") != rid:
            raise fail(400, "invalid", f"the body's id {resource.get('id')!r} is not the URL's {rid!r}")
        exists = bool(self.store.versions.get((rtype, rid)))
        wanted = headers.get("If-Match")
        if wanted and (not exists or wanted != _etag(self.store.current(rtype, rid))):
            raise fail(412, "conflict", f"If-Match {wanted} is not the current version")
        raise self._written(200 if exists else 201, self.store.save(resource, rid), headers)

    def delete(self, parts: list[str], query: dict[str, list[str]], headers: Any, body: bytes) -> None:
        if len(parts) != 2:
            raise fail(405, "not-supported", "DELETE is accepted on [base]/[type]/[id] only")
        self.store.versions.pop((_type(parts[0]), parts[1]), None)
        raise Answer(204)

    # Answers.

    def _resource(self, status: int, resource: dict[str, Any]) -> Answer:
        return Answer(status, resource, {"ETag": _etag(resource)})

    def _written(self, status: int, stored: dict[str, Any], headers: Any) -> Answer:
        location = f"{self.base_url}/{stored['resourceType']}/{stored['id']}/_history/{stored['meta']['versionId']}"
        prefer = (headers.get("Prefer") or "").replace(" ", "")
        body = stored if prefer == "return=representation" else None
        if prefer == "return=OperationOutcome":
            body = {"resourceType": "OperationOutcome",
                    "issue": [{"severity": "information", "code": "informational", "diagnostics": "stored"}]}
        return Answer(status, body, {"Location": location, "ETag": _etag(stored)})

    def _search(self, rtype: str, query: dict[str, list[str]]) -> None:
        # No search parameter but the result parameters: Prefer: handling=lenient, the R4 default, ignores others.
        matches = [h[-1] for (t, _), h in self.store.versions.items() if t == rtype]
        cursor = secrets.token_hex(8)
        self.store.cursors[cursor] = matches
        self._page(cursor, 0, _int(query, "_count", DEFAULT_PAGE))

    def _page(self, cursor: str, offset: int, count: int) -> None:
        matches = self.store.cursors.get(cursor)
        if matches is None:
            raise fail(410, "not-found", "this search has expired: search again")
        page = matches[offset:offset + count]
        links = [{"relation": "self", "url": f"{self.base_url}?_getpages={cursor}&_offset={offset}&_count={count}"}]
        if offset + count < len(matches):
            links.append({"relation": "next",
                          "url": f"{self.base_url}?_getpages={cursor}&_offset={offset + count}&_count={count}"})
        raise Answer(200, {
            "resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "searchset", "total": len(matches),
            "link": links,
            "entry": [{"fullUrl": f"{self.base_url}/{r['resourceType']}/{r['id']}", "resource": r,
                       "search": {"mode": "match"}} for r in page],
        })


def _type(name: str) -> str:
    if name not in TYPES:
        raise fail(404, "not-supported", f"resource type {name!r} is not supported")
    return name


def _parse(rtype: str, headers: Any, body: bytes) -> dict[str, Any]:
    media = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if media not in JSON_TYPES:
        raise fail(415, "not-supported", f"content type {media or '(none)'} is not supported: send FHIR JSON")
    try:
        resource = json.loads(body)
    except ValueError as exc:
        raise fail(400, "structure", f"the body is not JSON: {exc}") from None
    if not isinstance(resource, dict) or resource.get("resourceType") != rtype:
        raise fail(400, "invalid", f"the body is not a {rtype}")
    return resource


def _etag(resource: dict[str, Any]) -> str:
    return f'W/"{resource["meta"]["versionId"]}"'


def _int(query: dict[str, list[str]], name: str, default: int) -> int:
    try:
        return max(1 if name == "_count" else 0, int(query[name][0]))
    except (KeyError, ValueError):
        return default
