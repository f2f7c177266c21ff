"""The FHIR REST interactions, independent of the HTTP server that carries them.

`Api.handle(Request) -> Response` implements read, vread, history, create, update, patch and
delete (plain and conditional), search (GET and POST `_search`), `/metadata` and the
transaction/batch endpoint, with FHIR's status codes (https://hl7.org/fhir/R4/http.html).
GAP and PDSm specifics live in `gap.py` and `pdsm.py`.
"""

from __future__ import annotations

import copy
import json
import uuid
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

from pytest_mes.sandbox import gap, pdsm
from pytest_mes.sandbox.capability import INTERACTIONS, allowed, capability_statement
from pytest_mes.sandbox.defects import Defect
from pytest_mes.sandbox.exchange import FORM, JSON_PATCH, JSON_TYPES, XML_TYPES, Request, Response
from pytest_mes.sandbox.matching import date_range
from pytest_mes.sandbox.outcome import FhirError, operation_outcome
from pytest_mes.sandbox.patch import apply_fhirpath_patch, apply_json_patch
from pytest_mes.sandbox.present import present, stored_form
from pytest_mes.sandbox.r4 import R4Support
from pytest_mes.sandbox.search import SearchRequest, search
from pytest_mes.sandbox.store import Entry, Store


def http_date(instant: str) -> str:
    r = date_range(instant)
    return format_datetime(r[0], usegmt=True) if r else ""


class Api:
    """The sandbox's FHIR server logic over a `Store`."""

    def __init__(self, store: Store, defects: frozenset[Defect], r4: R4Support):
        self.store = store
        self.defects = defects
        self.r4 = r4
        self._capabilities: dict[str, dict[str, Any]] = {}

    # -- helpers --------------------------------------------------------------------------------

    def present(self, resource: dict[str, Any], base: str) -> dict[str, Any]:
        return present(resource, base, self.defects)

    def resource_response(self, status: int, entry: Entry, request: Request, *, location: bool = False) -> Response:
        headers = {"ETag": entry.etag, "Last-Modified": http_date(entry.last_updated)}
        if location and Defect.NO_LOCATION_HEADER not in self.defects:
            headers["Location"] = f"{request.base}/{entry.type}/{entry.id}/_history/{entry.version}"
        prefer = request.header("Prefer").replace(" ", "")
        assert entry.resource is not None
        if "return=minimal" in prefer:
            return Response(status, None, headers=headers)
        if "return=OperationOutcome" in prefer:
            return Response(status, operation_outcome("Done", severity="information", code="informational"),
                            headers=headers)
        return Response(status, self.present(entry.resource, request.base), headers=headers)

    def parse_resource(self, request: Request, expected_type: str | None = None) -> dict[str, Any]:
        """The request body as a resource dict (JSON or XML); 400/415 on bad input."""
        if not request.body.strip():
            raise FhirError(400, "The request has no body; a FHIR resource is expected", "required")
        ctype = request.content_type
        if ctype in XML_TYPES or (not ctype and request.body.lstrip()[:1] == b"<"):
            data = self.r4.parse(request.body)
        elif ctype in JSON_TYPES or ctype == "" or ctype == JSON_PATCH:
            try:
                data = json.loads(request.body)
            except (ValueError, UnicodeDecodeError) as exc:
                raise FhirError(400, f"Malformed JSON: {exc}", "structure") from None
        else:
            raise FhirError(415, f"Unsupported Content-Type {ctype!r}: send application/fhir+json or "
                            "application/fhir+xml", "not-supported")
        if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
            raise FhirError(400, "The body is not a FHIR resource: a JSON object with a resourceType is expected",
                            "structure")
        if expected_type and data["resourceType"] != expected_type:
            raise FhirError(400, f"The body is a {data['resourceType']} but the endpoint is for {expected_type}",
                            "invalid", expression="resourceType")
        return data

    def check_type(self, type_: str, interaction: str) -> None:
        if type_ not in INTERACTIONS:
            raise FhirError(404, f"Resource type {type_!r} is not supported by this server", "not-supported")
        refused = (Defect.RESOURCE_WRITES_REFUSED in self.defects and interaction in ("create", "update", "delete")
                   and type_ in ("RelatedPerson", "HealthcareService", "Device"))
        refused |= Defect.LIST_READ_REFUSED in self.defects and (type_, interaction) == ("List", "read")
        if refused or not allowed(type_, interaction):
            raise FhirError(405, f"The {interaction} interaction is not supported on {type_}", "not-supported",
                            headers={"Allow": ", ".join(self.allowed_methods(type_))})

    @staticmethod
    def allowed_methods(type_: str) -> list[str]:
        methods = {"read": "GET", "search-type": "GET", "create": "POST", "update": "PUT", "patch": "PATCH",
                   "delete": "DELETE"}
        return sorted({methods[i] for i in INTERACTIONS.get(type_, ()) if i in methods})

    def stored(self, type_: str, id_: str) -> Entry:
        """The current version of `type_/id_`, a deletion included; 404 when it never existed."""
        entry = self.store.get(type_, id_)
        if entry is None:
            raise FhirError(404, f"{type_}/{id_} is not known", "not-found")
        return entry

    def check_if_match(self, request: Request, entry: Entry | None) -> None:
        """FHIR R4 http.html#concurrency (and RFC 9110 §13.1.1, for every method): a request whose If-Match does
        not name the current version is refused with 412 Precondition Failed, the resource left as it is."""
        wanted = request.header("If-Match").strip()
        if wanted and (entry is None or not entry.has_etag(wanted)):
            current = entry.etag if entry else "none"
            raise FhirError(412, f"If-Match {wanted} does not match the current version {current}", "conflict")

    def single_match(self, type_: str, request: Request, action: str) -> Entry:
        """The stored resource a conditional patch, delete or metadata update targets: 404 when none, 412 when
        several."""
        found = self.matches(type_, request.query, request.base)
        if not found:
            raise FhirError(404, f"No {type_} matches the criteria", "not-found")
        if len(found) > 1:
            raise FhirError(412, f"The criteria match {len(found)} {type_} resources; "
                            f"a conditional {action} needs exactly one", "duplicate")
        entry = self.store.get(type_, found[0]["id"])
        assert entry is not None and entry.resource is not None  # a search match is a live resource
        return entry

    def matches(self, type_: str, query: list[tuple[str, str]], base: str) -> list[dict[str, Any]]:
        """The resources a conditional interaction's criteria select (unknown criteria: 400)."""
        criteria = [(k, v) for k, v in query if not k.startswith("_format")]
        if not criteria:
            raise FhirError(400, "A conditional interaction needs search criteria", "required")
        bundle = search(self.store, SearchRequest(type_, [*criteria, ("_count", "1000")], base, strict=True),
                        lambda r: r)
        return [e["resource"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]

    # -- routing --------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        path, method = request.path, request.method
        if method == "HEAD":
            method = "GET"
        if path == ["metadata"] and method == "GET":
            if request.base not in self._capabilities:  # built once per base URL: it never changes while running
                self._capabilities[request.base] = capability_statement(request.base, self.defects)
            return Response(200, self._capabilities[request.base])
        if not path:
            if method == "POST":
                return pdsm.transaction(self, request, self.parse_resource(request, "Bundle"))
            raise FhirError(400, "System-level search and history are not supported; use [base]/[type]",
                            "not-supported")
        type_ = path[0]
        if type_ not in INTERACTIONS:
            raise FhirError(404, f"Resource type {type_!r} is not supported by this server", "not-supported")
        if len(path) == 1:
            if method == "GET":
                return self.search(type_, request.query, request)
            if method == "POST":
                return self.create(type_, request)
            if method == "PUT":
                return self.conditional_update(type_, request)
            if method == "PATCH":
                return self.conditional_patch(type_, request)
            if method == "DELETE":
                return self.conditional_delete(type_, request)
        elif len(path) == 2 and path[1] == "_search" and method == "POST":
            query = list(request.query)
            if request.content_type == FORM:
                query += parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True)
            elif request.body.strip():
                raise FhirError(415, "POST _search takes application/x-www-form-urlencoded parameters",
                                "not-supported")
            return self.search(type_, query, request)
        elif len(path) == 2:
            id_ = path[1]
            if method == "GET":
                return self.read(type_, id_, request)
            if method == "PUT":
                return self.update(type_, id_, request)
            if method == "PATCH":
                return self.patch(type_, id_, request)
            if method == "DELETE":
                return self.delete(type_, id_, request)
        elif len(path) == 3 and path[2] == "_history" and method == "GET":
            return self.history(type_, path[1], request)
        elif len(path) == 4 and path[2] == "_history" and method == "GET":
            return self.vread(type_, path[1], path[3], request)
        raise FhirError(405 if len(path) <= 2 else 404,
                        f"{method} /{'/'.join(path)} is not a supported FHIR interaction", "not-supported",
                        headers={"Allow": ", ".join(self.allowed_methods(type_))})

    # -- interactions ---------------------------------------------------------------------------

    def search(self, type_: str, query: list[tuple[str, str]], request: Request) -> Response:
        self.check_type(type_, "search-type")
        bundle = search(
            self.store, SearchRequest(type_, query, request.base, request.strict, self.defects),
            lambda r: self.present(r, request.base),
        )
        return Response(200, bundle)

    def read(self, type_: str, id_: str, request: Request) -> Response:
        self.check_type(type_, "read")
        entry = self.stored(type_, id_)
        if entry.deleted:
            if Defect.DELETED_READ_404 in self.defects:
                raise FhirError(404, f"{type_}/{id_} is not known", "not-found")
            raise FhirError(410, f"{type_}/{id_} was deleted", "deleted")
        if type_ == "Binary":
            return pdsm.retrieve_binary(self, entry, request)
        if_none_match = request.header("If-None-Match").strip()
        if if_none_match and entry.has_etag(if_none_match):
            return Response(304, None, headers={"ETag": entry.etag})
        return self.resource_response(200, entry, request)

    def vread(self, type_: str, id_: str, version: str, request: Request) -> Response:
        self.check_type(type_, "vread")
        # A version id is ASCII digits that SQLite can hold ("²" is a digit to str.isdigit, not to int()).
        known = version.isascii() and version.isdigit() and int(version) < 2**63
        entry = self.store.vread(type_, id_, int(version)) if known else None
        if entry is None:
            raise FhirError(404, f"{type_}/{id_}/_history/{version} is not known", "not-found")
        if entry.deleted:
            raise FhirError(410, f"{type_}/{id_} version {version} is a deletion", "deleted")
        return self.resource_response(200, entry, request)

    def history(self, type_: str, id_: str, request: Request) -> Response:
        self.check_type(type_, "history-instance")
        entries = self.store.history(type_, id_)
        if not entries:
            raise FhirError(404, f"{type_}/{id_} is not known", "not-found")
        bundle_entries = []
        for e in entries:
            item: dict[str, Any] = {"fullUrl": f"{request.base}/{type_}/{id_}"}
            if e.resource is not None:
                item["resource"] = self.present(e.resource, request.base)
            item["request"] = {"method": "DELETE" if e.deleted else ("POST" if e.version == 1 else "PUT"),
                               "url": f"{type_}/{id_}" if e.version > 1 else type_}
            item["response"] = {"status": "204" if e.deleted else ("201" if e.version == 1 else "200"),
                                "etag": e.etag, "lastModified": e.last_updated}
            bundle_entries.append(item)
        return Response(200, {"resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "history",
                              "total": len(entries), "entry": bundle_entries})

    def create(self, type_: str, request: Request) -> Response:
        self.check_type(type_, "create")
        resource = self.parse_resource(request, type_)
        if_none_exist = request.header("If-None-Exist").strip()
        # The search and the write share one transaction (one lock): two concurrent conditional
        # creates with the same criteria cannot both find nothing and both create.
        with self.store.transaction():
            if if_none_exist:
                found = self.matches(type_, parse_qsl(if_none_exist, keep_blank_values=True), request.base)
                if len(found) > 1:
                    raise FhirError(412, f"If-None-Exist matches {len(found)} {type_} resources", "duplicate")
                if found:
                    entry = self.store.get(type_, found[0]["id"])
                    assert entry is not None
                    return self.resource_response(200, entry, request, location=True)
            if type_ == "DocumentReference":
                entry = pdsm.simplified_publish(self, resource)
            else:
                entry = self.write(type_, str(uuid.uuid4()), resource, None)
        status = 200 if Defect.CREATE_RETURNS_200 in self.defects else 201
        return self.resource_response(status, entry, request, location=True)

    def write(self, type_: str, id_: str, resource: dict[str, Any], previous: Entry | None, *,
              shape_status: int = 400) -> Entry:
        """Validate and store one resource version (with the GAP side effects).

        `shape_status` is the status for a resource that is not valid FHIR JSON: 400 for a body the
        client sent, 422 for the result of a patch.
        """
        resource = copy.deepcopy(resource)
        resource.pop("id", None)
        if not isinstance(resource.get("meta", {}), dict):
            raise FhirError(shape_status, f"{type_}.meta must be a JSON object", "structure",
                            expression=f"{type_}.meta")
        self.r4.check_structure({**resource, "id": id_}, f"Not a valid FHIR R4 {type_}", status=shape_status)
        if type_ == "Binary" and "data" in resource:
            # Refused now rather than failing when the document is retrieved (ITI-68).
            pdsm.decode_base64(resource["data"], "Binary.data", status=shape_status)
        gap.validate(type_, resource)
        with self.store.transaction():
            gap.check_references(self.store, type_, resource)
            entry = self.store.put(type_, id_, resource)
            gap.after_write(self.store, entry, previous)
        return entry

    def update(self, type_: str, id_: str, request: Request) -> Response:
        self.check_type(type_, "update")
        resource = self.parse_resource(request, type_)
        if resource.get("id") != id_ and Defect.UPDATE_ID_MISMATCH_ACCEPTED not in self.defects:
            raise FhirError(400, f"The body's id ({resource.get('id')!r}) must equal the id in the URL ({id_!r})",
                            "invalid", expression=f"{type_}.id")
        with self.store.transaction():
            previous = self.store.get(type_, id_)
            self.check_if_match(request, previous)
            if Defect.UPDATE_IGNORED in self.defects and previous is not None and not previous.deleted:
                entry = previous
            else:
                entry = self.write(type_, id_, resource, previous)
        created = previous is None or previous.deleted
        return self.resource_response(201 if created else 200, entry, request, location=created)

    def conditional_update(self, type_: str, request: Request) -> Response:
        if type_ == "DocumentReference":
            if Defect.DOCREF_CONDITIONAL_UPDATE_REFUSED in self.defects:
                raise FhirError(405, "The conditional update of DocumentReference is not supported", "not-supported")
            return self.metadata_update(request)
        self.check_type(type_, "update")
        resource = self.parse_resource(request, type_)
        if not isinstance(resource.get("id", ""), str):
            raise FhirError(400, f"{type_}.id must be a string", "structure", expression=f"{type_}.id")
        with self.store.transaction():
            found = self.matches(type_, request.query, request.base)
            if Defect.CONDITIONAL_UPDATE_DUPLICATES in self.defects:
                found = []
            if len(found) > 1:
                raise FhirError(412, f"The criteria match {len(found)} {type_} resources; "
                                "a conditional update needs at most one", "duplicate")
            if found:
                id_ = found[0]["id"]
                if resource.get("id") not in (None, id_):
                    raise FhirError(400, f"The body's id {resource['id']!r} differs from the matched "
                                    f"{type_}/{id_}", "invalid")
                previous = self.store.get(type_, id_)
                self.check_if_match(request, previous)
                return self.resource_response(200, self.write(type_, id_, resource, previous), request)
            id_ = resource.get("id") or str(uuid.uuid4())
            if Defect.CONDITIONAL_UPDATE_DUPLICATES in self.defects or self.store.get(type_, id_) is not None:
                id_ = str(uuid.uuid4())
            entry = self.write(type_, id_, resource, None)
        return self.resource_response(201, entry, request, location=True)

    def metadata_update(self, request: Request) -> Response:
        """PUT [base]/DocumentReference?identifier=…: the PDSm metadata update (flux 03/04) as a conditional
        update. The document must exist (documents are created by ITI-65 / ITI-105: 404 otherwise) and only
        status, securityLabel and isArchived may differ from what is stored (405 otherwise)."""
        resource = self.parse_resource(request, "DocumentReference")
        with self.store.transaction():
            entry = self.single_match("DocumentReference", request, "update")
            assert entry.resource is not None
            if resource.get("id") not in (None, entry.id):
                raise FhirError(400, f"The body's id {resource['id']!r} differs from the matched "
                                f"DocumentReference/{entry.id}", "invalid", expression="DocumentReference.id")
            self.check_if_match(request, entry)
            new = {**stored_form(resource, request.base), "id": entry.id}
            pdsm.check_metadata_patch(entry.resource, new, self.defects)
            return self.resource_response(200, self.write("DocumentReference", entry.id, new, entry), request)

    def patch(self, type_: str, id_: str, request: Request) -> Response:
        self.check_type(type_, "patch")
        with self.store.transaction():
            entry = self.stored(type_, id_)
            if entry.deleted:
                raise FhirError(410, f"{type_}/{id_} was deleted", "deleted")
            self.check_if_match(request, entry)
            patched = self.apply_patch(entry, request)
            return self.resource_response(200, patched, request)

    def apply_patch(self, entry: Entry, request: Request) -> Entry:
        assert entry.resource is not None
        body = request.body
        # A JSON array can only be a JSON Patch: accept it even when sent as application/json.
        if request.content_type == JSON_PATCH or (request.content_type in JSON_TYPES and body.lstrip()[:1] == b"["):
            try:
                operations = json.loads(body)
            except ValueError as exc:
                raise FhirError(400, f"Malformed JSON Patch: {exc}", "structure") from None
            new = apply_json_patch(entry.resource, operations)
        else:
            parameters = self.parse_resource(request, "Parameters")
            self.r4.check_structure(parameters, "Not a valid FHIRPath Patch Parameters")
            new = apply_fhirpath_patch(entry.resource, parameters)
        return self.write_patched(entry, new)

    def write_patched(self, entry: Entry, new: dict[str, Any]) -> Entry:
        """Store the result of a patch (direct or in a transaction), after the checks every patch gets."""
        assert entry.resource is not None
        if new.get("resourceType") != entry.type or new.get("id") != entry.id:
            raise FhirError(422, "A patch may not change resourceType or id", "processing")
        if entry.type == "DocumentReference":
            pdsm.check_metadata_patch(entry.resource, new, self.defects)
        return self.write(entry.type, entry.id, new, entry, shape_status=422)

    def conditional_patch(self, type_: str, request: Request) -> Response:
        self.check_type(type_, "patch")
        with self.store.transaction():
            entry = self.single_match(type_, request, "patch")
            self.check_if_match(request, entry)
            return self.resource_response(200, self.apply_patch(entry, request), request)

    def delete(self, type_: str, id_: str, request: Request) -> Response:
        self.check_type(type_, "delete")
        with self.store.transaction():
            entry = self.stored(type_, id_)
            self.check_if_match(request, entry)  # a version-aware delete
            deleted = self.erase(entry)
        return Response(204, None, headers={"ETag": deleted.etag} if deleted else {})

    def conditional_delete(self, type_: str, request: Request) -> Response:
        self.check_type(type_, "delete")
        with self.store.transaction():
            entry = self.single_match(type_, request, "delete")
            self.check_if_match(request, entry)  # a version-aware delete, as the plain one
            self.erase(entry)
        return Response(204, None)

    def erase(self, current: Entry) -> Entry | None:
        """Record the deletion of `current`'s resource (a plain, conditional or transaction DELETE), with the GAP
        side effects of a write (a deleted Appointment frees its Slots); None when it was deleted already."""
        with self.store.transaction():
            deleted = self.store.delete(current.type, current.id)
            if deleted is not None:
                gap.after_write(self.store, deleted, current)
        return deleted
