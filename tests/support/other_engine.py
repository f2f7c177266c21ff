"""A second, independent, in-memory FHIR R4 server for tests only (loopback), unlike the sandbox in every choice
R4 leaves open, to prove the core sets ask no more than R4 does (http.html).

Its choices, each allowed by R4 and each different from the sandbox's:
- ids are UUIDs; create and update answer no body unless `Prefer: return=representation` (the absence of the
  header lets the server choose: "#return");
- delete answers 204; a deleted resource reads as 404, like an unknown one ("Systems that do not track deleted
  records will treat deleted records as an unknown resource", #read);
- paging by an opaque cursor at the base ([base]?_getpages=…&_offset=…), not by offsets on the type's URL;
- every error is an OperationOutcome; every body is `application/fhir+json; charset=utf-8`.
- versioned (the default): versions 1, 2, …, ETag W/"n", Location [base]/Patient/[id]/_history/[n], If-Match.
  Unversioned (`versioned=False`): no meta.versionId, no ETag, no vread (#versions), and a relative Location
  Patient/[id] ("The Location MAY be an absolute or relative URL", #create).

And one choice R4 does NOT allow, on purpose: /metadata answers a searchset Bundle, as some third-party engines
do, instead of a CapabilityStatement (`capability_statement=True` serves one, declaring what the engine does).
"""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.server import Reply, ScriptedServer, Seen

CONTENT_TYPE = "application/fhir+json; charset=utf-8"
JSON_TYPES = ("application/fhir+json", "application/json")
TYPES = ("Patient",)
DEFAULT_PAGE = 10


class Refusal(Exception):
    """An error answer (an OperationOutcome), raised from anywhere in the handling of a request."""

    def __init__(self, status: int, code: str, text: str):
        super().__init__(text)
        self.reply = Reply(status, {"resourceType": "OperationOutcome",
                                    "issue": [{"severity": "error", "code": code, "diagnostics": text}]},
                           content_type=CONTENT_TYPE)


class OtherEngine:
    """Serves [base] = http://127.0.0.1:PORT/fhir from memory; `seed` Patients exist from the start."""

    def __init__(self, *, versioned: bool = True, capability_statement: bool = False, seed: int = 3):
        self.versioned = versioned
        self.capability_statement = capability_statement
        self.resources: dict[tuple[str, str], list[dict[str, Any]]] = {}  # every version; a delete forgets them
        self.cursors: dict[str, list[dict[str, Any]]] = {}  # search results kept for their next pages
        self._lock = threading.Lock()
        self._http = ScriptedServer(fallback=self._answer)
        for n in range(seed):
            self._save({"resourceType": "Patient", "name": [{"family": f"SEED{n}"}]}, str(uuid.uuid4()))

    @property
    def base_url(self) -> str:
        return self._http.base_url

    def start(self) -> OtherEngine:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    def _answer(self, seen: Seen) -> Reply:
        url = urlsplit(seen.path)
        parts = url.path.removeprefix("/fhir").strip("/").split("/")
        handle = {"GET": self._get, "POST": self._post, "PUT": self._put, "DELETE": self._delete}.get(seen.method)
        try:
            if handle is None or not url.path.startswith("/fhir"):
                raise Refusal(405 if handle is None else 404, "not-supported", f"{seen.method} {url.path}")
            with self._lock:
                return handle(parts, parse_qs(url.query), seen)
        except Refusal as refusal:
            return refusal.reply

    # Interactions.

    def _get(self, parts: list[str], query: dict[str, list[str]], seen: Seen) -> Reply:
        if parts == ["metadata"]:
            if self.capability_statement:
                return _json(200, self._statement())
            return _json(200, {"resourceType": "Bundle", "type": "searchset", "total": 0})
        if parts == [""] and "_getpages" in query:
            return self._page(query["_getpages"][0], _int(query, "_offset", 0), _int(query, "_count", DEFAULT_PAGE))
        rtype = _type(parts[0])
        if len(parts) == 1:
            return self._search(rtype, query)
        if len(parts) == 2:
            return self._resource(self._current(rtype, parts[1]))
        if len(parts) == 4 and parts[2] == "_history" and self.versioned:
            found = [v for v in self.resources.get((rtype, parts[1]), []) if v["meta"]["versionId"] == parts[3]]
            if found:
                return self._resource(found[0])
            raise Refusal(404, "not-found", f"{rtype}/{parts[1]} has no version {parts[3]}")
        raise Refusal(404, "not-supported", "no such interaction")

    def _post(self, parts: list[str], query: dict[str, list[str]], seen: Seen) -> Reply:
        if len(parts) != 1:
            raise Refusal(405, "not-supported", "POST is accepted on [base]/[type] only")
        rtype = _type(parts[0])
        return self._written(201, self._save(_parse(rtype, seen), str(uuid.uuid4())), seen)

    def _put(self, parts: list[str], query: dict[str, list[str]], seen: Seen) -> Reply:
        if len(parts) != 2:
            raise Refusal(405, "not-supported", "PUT is accepted on [base]/[type]/[id] only")
        rtype, rid = _type(parts[0]), parts[1]
        resource = _parse(rtype, seen)
        if resource.get("id") != rid:
            raise Refusal(400, "invalid", f"the body's id {resource.get('id')!r} is not the URL's {rid!r}")
        exists = (rtype, rid) in self.resources
        wanted = _header(seen, "If-Match")
        if wanted and self.versioned and (not exists or wanted != _etag(self._current(rtype, rid))):
            raise Refusal(412, "conflict", f"If-Match {wanted} is not the current version")
        return self._written(200 if exists else 201, self._save(resource, rid), seen)

    def _delete(self, parts: list[str], query: dict[str, list[str]], seen: Seen) -> Reply:
        if len(parts) != 2:
            raise Refusal(405, "not-supported", "DELETE is accepted on [base]/[type]/[id] only")
        self.resources.pop((_type(parts[0]), parts[1]), None)
        return Reply(204, content_type="")

    # Storage and answers.

    def _save(self, resource: dict[str, Any], rid: str) -> dict[str, Any]:
        history = self.resources.setdefault((resource["resourceType"], rid), [])
        meta = {k: v for k, v in resource.get("meta", {}).items() if k not in ("versionId", "lastUpdated")}
        meta["lastUpdated"] = datetime.now(UTC).isoformat(timespec="seconds")
        if self.versioned:
            meta["versionId"] = str(len(history) + 1)
        else:
            history.clear()
        history.append({**resource, "id": rid, "meta": meta})
        return history[-1]

    def _current(self, rtype: str, rid: str) -> dict[str, Any]:
        if (rtype, rid) not in self.resources:
            raise Refusal(404, "not-found", f"{rtype}/{rid} is not known")
        return self.resources[(rtype, rid)][-1]

    def _resource(self, resource: dict[str, Any]) -> Reply:
        return _json(200, resource, self._version_headers(resource))

    def _written(self, status: int, stored: dict[str, Any], seen: Seen) -> Reply:
        location = f"{stored['resourceType']}/{stored['id']}"  # relative to [base]: "absolute or relative" (#create)
        if self.versioned:
            location = f"{self.base_url}/{location}/_history/{stored['meta']['versionId']}"
        headers = {"Location": location, **self._version_headers(stored)}
        if (_header(seen, "Prefer") or "").replace(" ", "") == "return=representation":
            return _json(status, stored, headers)
        return Reply(status, headers=headers, content_type="")

    def _version_headers(self, resource: dict[str, Any]) -> dict[str, str]:
        return {"ETag": _etag(resource)} if self.versioned else {}

    def _search(self, rtype: str, query: dict[str, list[str]]) -> Reply:
        # Only the result parameters: the others are ignored, as the default Prefer: handling=lenient allows.
        cursor = secrets.token_hex(8)
        self.cursors[cursor] = [h[-1] for (t, _), h in self.resources.items() if t == rtype]
        return self._page(cursor, 0, _int(query, "_count", DEFAULT_PAGE))

    def _page(self, cursor: str, offset: int, count: int) -> Reply:
        matches = self.cursors.get(cursor)
        if matches is None:
            raise Refusal(410, "not-found", "this search has expired: search again")
        links = [{"relation": "self", "url": f"{self.base_url}?_getpages={cursor}&_offset={offset}&_count={count}"}]
        if offset + count < len(matches):
            links.append({"relation": "next",
                          "url": f"{self.base_url}?_getpages={cursor}&_offset={offset + count}&_count={count}"})
        return _json(200, {
            "resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "searchset", "total": len(matches),
            "link": links,
            "entry": [{"fullUrl": f"{self.base_url}/{r['resourceType']}/{r['id']}", "resource": r,
                       "search": {"mode": "match"}} for r in matches[offset:offset + count]],
        })

    def _statement(self) -> dict[str, Any]:
        codes = ["read", "create", "update", "delete", "search-type"] + (["vread"] if self.versioned else [])
        return {
            "resourceType": "CapabilityStatement", "status": "active", "date": "2026-01-01", "kind": "instance",
            "fhirVersion": "4.0.1", "format": ["json"],
            "implementation": {"description": "pytest-mes's second test engine", "url": self.base_url},
            "rest": [{"mode": "server", "resource": [
                {"type": t, "versioning": "versioned" if self.versioned else "no-version",
                 "interaction": [{"code": code} for code in codes]} for t in TYPES]}],
        }


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(body).encode(), headers or {}, content_type=CONTENT_TYPE)


def _type(name: str) -> str:
    if name not in TYPES:
        raise Refusal(404, "not-supported", f"resource type {name!r} is not supported")
    return name


def _parse(rtype: str, seen: Seen) -> dict[str, Any]:
    media = (_header(seen, "Content-Type") or "").split(";")[0].strip().lower()
    if media not in JSON_TYPES:
        raise Refusal(415, "not-supported", f"content type {media or '(none)'} is not supported: send FHIR JSON")
    try:
        resource = json.loads(seen.body)
    except ValueError as exc:
        raise Refusal(400, "structure", f"the body is not JSON: {exc}") from None
    if not isinstance(resource, dict) or resource.get("resourceType") != rtype:
        raise Refusal(400, "invalid", f"the body is not a {rtype}")
    return resource


def _header(seen: Seen, name: str) -> str | None:
    return next((v for k, v in seen.headers.items() if k.lower() == name.lower()), None)


def _etag(resource: dict[str, Any]) -> str:
    return f'W/"{resource["meta"]["versionId"]}"'


def _int(query: dict[str, list[str]], name: str, default: int) -> int:
    try:
        return max(1 if name == "_count" else 0, int(query[name][0]))
    except (KeyError, ValueError):
        return default
