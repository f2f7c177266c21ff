"""PDSm (IHE MHD) server behaviour: ITI-65 transactions, ITI-105, ITI-68 and the metadata PATCH.

Facts from ci-sis.md §3.2: ITI-65 answers 200 with a transaction-response whose entries follow
the request order, each 201 with a location, and is atomic; replacement uses relatesTo plus a
PATCH of the old DocumentReference to `superseded`; the conditional PATCH of a DocumentReference
may only change status, securityLabel and the isArchived extension (anything else: 405).
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from pytest_mes.sandbox.capability import INTERACTIONS
from pytest_mes.sandbox.defects import Defect
from pytest_mes.sandbox.exchange import Request, Response
from pytest_mes.sandbox.matching import dicts, reference_key
from pytest_mes.sandbox.outcome import FhirError
from pytest_mes.sandbox.params import IS_ARCHIVED_URL, MHD_LIST_TYPES
from pytest_mes.sandbox.patch import apply_fhirpath_patch, apply_json_patch
from pytest_mes.sandbox.store import Entry

if TYPE_CHECKING:
    from pytest_mes.sandbox.api import Api

PROVIDE_RESPONSE_PROFILE = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.ProvideDocumentBundleResponse"
DOCREF_STATUS = frozenset({"current", "superseded"})
_PATCHABLE = frozenset({"status", "securityLabel"})
_SERVER_META = frozenset({"versionId", "lastUpdated"})  # set by the server at each write
_ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}
_STATUS_TEXT = {200: "200 OK", 201: "201 Created", 204: "204 No Content"}


# -- the metadata PATCH (flux 03/04) ---------------------------------------------------------

def _other_extensions(resource: dict[str, Any]) -> list[Any]:
    extensions = resource.get("extension") or []
    if not isinstance(extensions, list):
        return [extensions]
    return [e for e in extensions if not isinstance(e, dict) or e.get("url") != IS_ARCHIVED_URL]


def _client_meta(resource: dict[str, Any]) -> Any:
    meta = resource.get("meta")
    if not isinstance(meta, dict):
        return meta
    return {k: v for k, v in meta.items() if k not in _SERVER_META}


def check_metadata_patch(old: dict[str, Any], new: dict[str, Any], defects: frozenset[Defect]) -> None:
    """405 when a patch touches anything but status, securityLabel and isArchived; 422 on bad values.

    `meta` is compared without versionId and lastUpdated (the server's own); a change to
    meta.tag, meta.profile, text or any other element is refused. The `patch-any-field` defect
    lifts the 405 only: bad status values and isArchived without a boolean stay 422.
    """
    changed = sorted(k for k in set(old) | set(new) if k not in _PATCHABLE and k not in ("extension", "meta")
                     and old.get(k) != new.get(k))
    if _client_meta(old) != _client_meta(new):
        changed.append("meta")
    if _other_extensions(old) != _other_extensions(new):
        changed.append("extension (other than isArchived)")
    if changed and Defect.PATCH_ANY_FIELD not in defects:
        raise FhirError(405, "PDSm only allows patching DocumentReference.status, securityLabel and the "
                        f"isArchived extension; this patch changes {', '.join(changed)}", "business-rule",
                        expression=f"DocumentReference.{changed[0].split(' ')[0]}",
                        headers={"Allow": "GET, PATCH"})
    status = new.get("status")
    if not isinstance(status, str) or status not in DOCREF_STATUS:
        raise FhirError(422, f"DocumentReference.status {new.get('status')!r} is not allowed: "
                        "https://profiles.ihe.net/ITI/MHD/ValueSet/DocumentReferenceStats is current | superseded",
                        "invalid", expression="DocumentReference.status")
    for ext in new.get("extension") or []:
        if (isinstance(ext, dict) and ext.get("url") == IS_ARCHIVED_URL
                and not isinstance(ext.get("valueBoolean"), bool)):
            raise FhirError(422, "The isArchived extension needs a valueBoolean", "invalid",
                            expression="DocumentReference.extension")


# -- ITI-105 simplified publish ---------------------------------------------------------------

def sha1_base64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha1(data).digest()).decode("ascii")


def decode_base64(data: Any, where: str, *, status: int = 422) -> bytes:
    """The bytes of a base64Binary value (whitespace allowed); `status` (422 by default) if it is not one."""
    if not isinstance(data, str):
        raise FhirError(status, f"{where} must be base64 text", "invalid", expression=where)
    try:
        return base64.b64decode("".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        raise FhirError(status, f"{where} is not valid base64", "invalid", expression=where) from None



def simplified_publish(api: Api, resource: dict[str, Any]) -> Entry:
    """ITI-105: store the document as a Binary and the DocumentReference pointing to it."""
    for element in ("status", "subject", "content"):
        if not resource.get(element):
            raise FhirError(422, f"DocumentReference.{element} is required (pdsm-simplified-publish)", "required",
                            expression=f"DocumentReference.{element}")
    if resource["status"] != "current":
        raise FhirError(422, "DocumentReference.status must be current in a simplified publish", "invalid",
                        expression="DocumentReference.status")
    api.r4.check_structure(resource, "Not a valid FHIR R4 DocumentReference")
    if not isinstance(resource["content"], list) or not all(isinstance(c, dict) for c in resource["content"]):
        raise FhirError(400, "DocumentReference.content must be a list of objects", "structure",
                        expression="DocumentReference.content")
    doc = copy.deepcopy(resource)
    with api.store.transaction():
        for i, content in enumerate(doc["content"]):
            attachment = content.get("attachment") or {}
            if not isinstance(attachment, dict):
                raise FhirError(400, f"DocumentReference.content[{i}].attachment must be an object", "structure",
                                expression=f"DocumentReference.content[{i}].attachment")
            where = f"DocumentReference.content[{i}].attachment.data"
            if "data" not in attachment:
                raise FhirError(422, f"{where} is required (1..1 in pdsm-simplified-publish)", "required",
                                expression=where)
            if not attachment.get("contentType"):
                raise FhirError(422, "DocumentReference.content.attachment.contentType is required", "required",
                                expression=f"DocumentReference.content[{i}].attachment.contentType")
            raw = decode_base64(attachment["data"], where)
            binary = api.store.put("Binary", str(uuid.uuid4()), {
                "resourceType": "Binary", "contentType": attachment["contentType"], "data": attachment.pop("data"),
            })
            attachment["url"] = f"Binary/{binary.id}"
            attachment["size"] = len(raw)
            attachment["hash"] = sha1_base64(raw)
        return api.write("DocumentReference", str(uuid.uuid4()), doc, None)


# -- ITI-68 retrieve document -----------------------------------------------------------------

def _accepted(accept: str) -> list[str]:
    types = []
    for part in accept.split(","):
        media, *params = part.strip().split(";")
        q = 1.0
        for p in params:
            if p.strip().startswith("q="):
                try:
                    q = float(p.strip()[2:])
                except ValueError:
                    q = 0.0
        if media and q > 0:
            types.append(media.strip().lower())
    return types


def retrieve_binary(api: Api, entry: Entry, request: Request) -> Response:
    """ITI-68: the raw document in its contentType, or the Binary resource when FHIR is asked for."""
    assert entry.resource is not None
    binary = entry.resource
    content_type = binary.get("contentType", "application/octet-stream")
    accepted = _accepted(request.header("Accept"))
    wants_fhir = any(t in ("application/fhir+json", "application/json", "application/fhir+xml", "application/xml")
                     for t in accepted) or any(k == "_format" for k, _ in request.query)
    raw = base64.b64decode(binary.get("data", "")) if binary.get("data") else b""
    headers = {"ETag": entry.etag}
    main, _, _sub = content_type.partition("/")
    raw_ok = (not accepted or "*/*" in accepted or content_type.lower() in accepted
              or f"{main}/*".lower() in accepted or Defect.BINARY_IGNORES_ACCEPT in api.defects)
    if wants_fhir and content_type.lower() not in accepted:
        return api.resource_response(200, entry, request)
    if raw_ok:
        return Response(200, raw=raw, content_type=content_type, headers=headers)
    raise FhirError(406, f"The document is {content_type}; it cannot be served as {request.header('Accept')}",
                    "not-supported")


# -- ITI-65 provide document bundle, and FHIR transaction / batch -----------------------------

class _Plan:
    """One Bundle entry, ready to execute."""

    def __init__(self, index: int, raw: dict[str, Any]):
        self.index = index
        self.where = f"Bundle.entry[{index}]"
        req = raw.get("request") if isinstance(raw.get("request"), dict) else {}
        self.method = str(req.get("method", "")).upper()
        self.url = str(req.get("url", ""))
        self.full_url = raw.get("fullUrl") if isinstance(raw.get("fullUrl"), str) else None
        self.resource = copy.deepcopy(raw.get("resource")) if isinstance(raw.get("resource"), dict) else None
        self.if_none_exist = req.get("ifNoneExist")
        self.if_match = req.get("ifMatch")
        path, _, query = self.url.partition("?")
        parts = [p for p in path.split("/") if p]
        self.type = parts[0] if parts else ""
        self.id = parts[1] if len(parts) > 1 else None
        self.query = parse_qsl(query, keep_blank_values=True)
        self.existing = False  # conditional create that matched
        self.status = 0
        self.entry: Entry | None = None
        self.result: dict[str, Any] | None = None

    def fail(self, status: int, message: str, code: str = "invalid") -> FhirError:
        return FhirError(status, f"{self.where}: {message}", code, expression=self.where)


def _check_entry(plan: _Plan) -> None:
    if plan.method not in _ORDER:
        raise plan.fail(400, f"request.method {plan.method or '(missing)'!r} is not a FHIR interaction")
    if not plan.type or plan.type not in INTERACTIONS:
        raise plan.fail(400 if not plan.type else 404, f"request.url {plan.url!r} names no supported resource type")
    for name, value in (("ifMatch", plan.if_match), ("ifNoneExist", plan.if_none_exist)):
        if value is not None and not isinstance(value, str):
            raise plan.fail(400, f"request.{name} must be a string, not {value!r}")
    if plan.method in ("POST", "PUT"):
        if plan.resource is None:
            raise plan.fail(400, f"a {plan.method} entry needs a resource")
        if plan.resource.get("resourceType") != plan.type:
            raise plan.fail(400, f"the resource is a {plan.resource.get('resourceType')} but request.url is "
                            f"{plan.url!r}")
    if plan.method == "PATCH" and plan.resource is None:
        raise plan.fail(400, "a PATCH entry needs a Parameters (FHIRPath Patch) or Binary (JSON Patch) resource")


# ITI-65 creates what direct REST does not offer (the CapabilityStatement gives List and Binary read and search
# only): the SubmissionSet and Folders (List, POST; a Folder also PUT) and the documents (Binary, POST), the
# slices of PDSm's pdsm-comprehensive-provide-document-bundle (closed) beyond what is declared.
_PROVIDED = frozenset({("List", "POST"), ("List", "PUT"), ("Binary", "POST")})
_INTERACTION = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def _check_interaction(api: Api, plan: _Plan, status: int, *, provide: bool) -> None:
    """An entry is an interaction the server supports for its type, as its CapabilityStatement declares and
    direct REST checks (named defects included), or, in an ITI-65 Provide Document Bundle (`provide`), one
    the bundle carries; else `status`, naming the entry."""
    if provide and (plan.type, plan.method) in _PROVIDED:
        return
    if (plan.type, plan.method, plan.id) == ("DocumentReference", "PUT", None):
        # Direct REST takes it as the PDSm metadata update (flux 03/04), whose restrictions a transaction
        # entry would bypass: said as such, not as an update the server lacks.
        raise plan.fail(status, "a conditional update of DocumentReference (the metadata update) is taken on its "
                        "own, not in a transaction: send it alone, or as a PATCH entry", "not-supported")
    read = "read" if plan.id is not None else "search-type"
    try:
        api.check_type(plan.type, _INTERACTION.get(plan.method, read))
    except FhirError as refused:
        raise plan.fail(status, refused.message, "not-supported") from None


def _rewrite(node: Any, mapping: dict[str, str]) -> None:
    """Replace `urn:uuid:` references (and attachment URLs) by the ids the server assigned."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("reference", "url") and isinstance(value, str) and value in mapping:
                node[key] = mapping[value]
            else:
                _rewrite(value, mapping)
    elif isinstance(node, list):
        for item in node:
            _rewrite(item, mapping)


def _exists(api: Api, plans: list[_Plan], reference: str) -> bool:
    key = reference_key(reference)
    if key is None:
        return True  # not a literal reference to this server: nothing to check
    if any(p.type == key[0] and p.id == key[1] and p.method in ("POST", "PUT") for p in plans):
        return True
    return api.store.resource(*key) is not None


def _obj(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else {} (shapes are refused by the structure check)."""
    return value if isinstance(value, dict) else {}


def _check_structure(api: Api, plans: list[_Plan]) -> None:
    """400 for an entry resource that is not valid FHIR R4 JSON, before anything reads it."""
    for plan in plans:
        if plan.resource is None or plan.method not in ("POST", "PUT", "PATCH"):
            continue
        kind = plan.resource.get("resourceType") if plan.method == "PATCH" else plan.type
        api.r4.check_structure(plan.resource, f"{plan.where}: not a valid FHIR R4 {kind}",
                               expression=f"{plan.where}.resource")


def _check_mhd(api: Api, plans: list[_Plan]) -> None:
    """The ITI-65 checks of a Document Recipient: every reference of the submission resolves."""
    for plan in plans:
        res = plan.resource or {}
        if plan.method != "POST" or res.get("resourceType") not in ("DocumentReference", "List"):
            continue
        subject = _obj(res.get("subject")).get("reference")
        if isinstance(subject, str) and subject.startswith("Patient/") and not _exists(api, plans, subject):
            raise plan.fail(422, f"unknown patient {subject} (subject)", "not-found")
        if res["resourceType"] == "DocumentReference":
            for content in dicts(res.get("content")):
                url = _obj(content.get("attachment")).get("url")
                if isinstance(url, str) and url.startswith("Binary/") and not _exists(api, plans, url):
                    raise plan.fail(422, f"content.attachment.url {url} names no Binary of the bundle or server",
                                    "not-found")
            for relation in dicts(res.get("relatesTo")):
                target = _obj(relation.get("target")).get("reference", "")
                if not isinstance(target, str) or not _exists(api, plans, target):
                    raise plan.fail(422, f"relatesTo.target {target} is not a known DocumentReference", "not-found")
        else:
            for item in dicts(res.get("entry")):
                ref = _obj(item.get("item")).get("reference", "")
                if not isinstance(ref, str) or not _exists(api, plans, ref):
                    raise plan.fail(422, f"List entry.item {ref} is not in the bundle nor on the server", "not-found")


def _assign_ids(api: Api, plans: list[_Plan], base: str) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for plan in plans:
        if plan.method == "POST":
            if plan.if_none_exist:
                found = api.matches(plan.type, parse_qsl(plan.if_none_exist, keep_blank_values=True), base)
                if len(found) > 1:
                    raise plan.fail(412, f"ifNoneExist matches {len(found)} resources", "duplicate")
                if found:
                    plan.existing = True
                    plan.id = found[0]["id"]
            if not plan.existing:
                plan.id = str(uuid.uuid4())
        elif plan.method == "PUT" and plan.id is None:
            found = api.matches(plan.type, plan.query, base)
            if len(found) > 1:
                raise plan.fail(412, f"the conditional update criteria match {len(found)} resources", "duplicate")
            plan.id = found[0]["id"] if found else str(uuid.uuid4())
        if plan.full_url and plan.id and plan.method in ("POST", "PUT"):
            mapping[plan.full_url] = f"{plan.type}/{plan.id}"
    return mapping


def _check_identities(plans: list[_Plan]) -> None:
    """400 when two entries share a fullUrl or act on the same resource.

    FHIR R4 http.html#trules: if any resource identities (including those resolved by conditional
    interactions) overlap in the DELETE, POST and PUT/PATCH steps, the transaction SHALL fail.
    """
    full_urls: dict[str, int] = {}
    for plan in plans:
        if plan.full_url is None:
            continue
        if plan.full_url in full_urls:
            raise plan.fail(400, f"fullUrl {plan.full_url} is also the fullUrl of Bundle.entry"
                            f"[{full_urls[plan.full_url]}]; fullUrls must be unique in a transaction")
        full_urls[plan.full_url] = plan.index
    targets: dict[tuple[str, str], int] = {}
    for plan in plans:
        if plan.method in ("GET", "HEAD") or plan.id is None:
            continue
        key = (plan.type, plan.id)
        if key in targets:
            raise plan.fail(400, f"{plan.type}/{plan.id} is also the target of Bundle.entry[{targets[key]}]; "
                            "a transaction may not act twice on the same resource")
        targets[key] = plan.index


def _references(node: Any, where: str) -> Iterator[tuple[str, str]]:
    """(element path, value) of every `reference` and Attachment `url` in a resource."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("reference", "url") and isinstance(value, str):
                yield f"{where}.{key}", value
            else:
                yield from _references(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _references(item, f"{where}[{i}]")


def _check_unresolved(plans: list[_Plan]) -> None:
    """422 when a `urn:uuid:` reference (after rewriting) names no fullUrl of the Bundle."""
    for plan in plans:
        if plan.resource is None or plan.method not in ("POST", "PUT"):
            continue
        for where, value in _references(plan.resource, plan.resource.get("resourceType", "Resource")):
            if value.startswith("urn:uuid:") and where.endswith((".reference", "attachment.url")):
                raise FhirError(422, f"{plan.where}: {where} = {value} resolves to no fullUrl of the Bundle",
                                "not-found", expression=f"{plan.where}.resource.{where.partition('.')[2]}")


def _execute(api: Api, plan: _Plan, request: Request) -> None:
    """Run one entry; errors name the entry (Bundle.entry[i]) they come from."""
    try:
        _execute_entry(api, plan, request)
    except FhirError as exc:
        if not exc.message.startswith("Bundle.entry"):
            exc.message = f"{plan.where}: {exc.message}"
            exc.expression = exc.expression or plan.where
        raise
    except ValueError as exc:  # a JSON Patch carried in a Binary that is not JSON
        raise plan.fail(400, f"malformed patch: {exc}", "structure") from None


def _execute_entry(api: Api, plan: _Plan, request: Request) -> None:
    store = api.store
    if plan.method == "POST":
        if plan.existing:
            plan.entry, plan.status = store.get(plan.type, plan.id or ""), 200
            return
        assert plan.resource is not None and plan.id is not None
        plan.entry, plan.status = api.write(plan.type, plan.id, plan.resource, None), 201
    elif plan.method == "PUT":
        assert plan.resource is not None and plan.id is not None
        if plan.resource.get("id") not in (None, plan.id):
            raise plan.fail(400, f"the resource id {plan.resource.get('id')!r} differs from request.url")
        previous = store.get(plan.type, plan.id)
        _check_if_match(plan, previous)
        plan.entry = api.write(plan.type, plan.id, plan.resource, previous)
        plan.status = 200 if previous and not previous.deleted else 201
    elif plan.method == "PATCH":
        if plan.id is None:
            found = api.matches(plan.type, plan.query, request.base)
            if len(found) != 1:
                raise plan.fail(404 if not found else 412, f"the PATCH criteria match {len(found)} resources",
                                "not-found" if not found else "duplicate")
            plan.id = found[0]["id"]
        current = store.get(plan.type, plan.id)
        if current is None or current.resource is None:
            raise plan.fail(404, f"{plan.type}/{plan.id} is not known", "not-found")
        _check_if_match(plan, current)
        if Defect.REPLACEMENT_KEEPS_CURRENT in api.defects and plan.type == "DocumentReference":
            plan.entry, plan.status = current, 200
            return
        body = plan.resource or {}
        if body.get("resourceType") == "Binary":
            operations = json.loads(decode_base64(body.get("data"), f"{plan.where}.resource.data"))
            new = apply_json_patch(current.resource, operations)
        else:
            new = apply_fhirpath_patch(current.resource, body)
        plan.entry, plan.status = api.write_patched(current, new), 200
    elif plan.method == "DELETE":
        if plan.id is None:
            raise plan.fail(400, "conditional delete is not supported inside a transaction", "not-supported")
        current = store.get(plan.type, plan.id)
        if current is None:
            raise plan.fail(404, f"{plan.type}/{plan.id} is not known", "not-found")
        _check_if_match(plan, current)
        api.erase(current)
        plan.status = 204
    else:  # GET
        if plan.id is None:
            sub = Request("GET", [plan.type], plan.query, request.headers, b"", request.base)
            plan.result, plan.status = api.search(plan.type, plan.query, sub).resource, 200
        else:
            entry = store.get(plan.type, plan.id)
            if entry is None or entry.resource is None:
                raise plan.fail(404, f"{plan.type}/{plan.id} is not known", "not-found")
            plan.entry, plan.status = entry, 200
            plan.result = api.present(entry.resource, request.base)


def _check_if_match(plan: _Plan, current: Entry | None) -> None:
    """An entry's request.ifMatch, as the If-Match header of the same interaction on its own (FHIR R4
    http.html#concurrency): 412 when it does not name the current version, and the transaction fails."""
    if plan.if_match and (current is None or not current.has_etag(plan.if_match)):
        raise plan.fail(412, f"ifMatch {plan.if_match} does not match the current version", "conflict")


def _supersede_replaced(api: Api, plans: list[_Plan]) -> None:
    """XDS semantics: a replaced document becomes `superseded` even without an explicit PATCH."""
    for plan in plans:
        if plan.method != "POST" or plan.type != "DocumentReference" or plan.existing:
            continue
        for relation in dicts((plan.resource or {}).get("relatesTo")):
            target = relation.get("target")
            reference = target.get("reference") if isinstance(target, dict) else None
            key = reference_key(reference) if isinstance(reference, str) else None
            if relation.get("code") != "replaces" or key is None or key[0] != "DocumentReference":
                continue
            old = api.store.get(*key)
            if old is not None and old.resource is not None and old.resource.get("status") == "current":
                new = copy.deepcopy(old.resource)
                new["status"] = "superseded"
                api.write("DocumentReference", key[1], new, old)


def _response_entry(api: Api, plan: _Plan) -> dict[str, Any]:
    response: dict[str, Any] = {"status": _STATUS_TEXT.get(plan.status, str(plan.status))}
    if plan.entry is not None and plan.method in ("POST", "PUT", "PATCH"):
        if Defect.TRANSACTION_NO_LOCATION in api.defects:
            response["status"] = "200 OK"
        else:
            response["location"] = f"{plan.entry.type}/{plan.entry.id}/_history/{plan.entry.version}"
        response["etag"] = plan.entry.etag
        response["lastModified"] = plan.entry.last_updated
    entry: dict[str, Any] = {"response": response}
    if plan.full_url:
        entry = {"fullUrl": plan.full_url, **entry}
    if plan.result is not None:
        entry["resource"] = plan.result
    return entry


def transaction(api: Api, request: Request, bundle: dict[str, Any]) -> Response:
    """POST [base] with a transaction (atomic; ITI-65) or a batch Bundle."""
    kind = bundle.get("type")
    if kind not in ("transaction", "batch"):
        raise FhirError(400, f"Bundle.type must be transaction or batch to be posted to the base, not {kind!r}",
                        "invalid", expression="Bundle.type")
    raw_entries = bundle.get("entry") or []
    if not isinstance(raw_entries, list) or not all(isinstance(e, dict) for e in raw_entries):
        raise FhirError(400, "Bundle.entry must be a list of entries", "structure", expression="Bundle.entry")
    plans = [_Plan(i, e) for i, e in enumerate(raw_entries)]
    if kind == "batch":
        return Response(200, _batch(api, plans, request))
    for plan in plans:
        _check_entry(plan)
    _check_structure(api, plans)
    is_iti65 = any(p.type == "List" and _is_submission_set(p.resource) for p in plans)
    for plan in plans:
        # An entry the server does not support fails the whole transaction: FHIR R4 http.html#transaction, a
        # server accepts every action (200) or rejects them all with a 4xx/5xx status. 400, not the 405 of the
        # interaction on its own: the method of this request, POST [base], is allowed.
        _check_interaction(api, plan, 400, provide=is_iti65)
    ordered = sorted(plans, key=lambda p: (_ORDER[p.method], p.index))

    if Defect.NON_ATOMIC_TRANSACTION in api.defects:
        _resolve_identities(api, plans, request.base)
        for plan in ordered:  # each entry commits on its own: a failure keeps the earlier ones
            with api.store.transaction():
                _execute(api, plan, request)
    else:
        with api.store.transaction():
            _resolve_identities(api, plans, request.base)
            if is_iti65:
                _check_mhd(api, plans)
            for plan in ordered:
                _execute(api, plan, request)
            if Defect.REPLACEMENT_KEEPS_CURRENT not in api.defects:
                _supersede_replaced(api, plans)

    entries = [_response_entry(api, p) for p in plans]
    if Defect.TRANSACTION_RESPONSE_REVERSED in api.defects:
        entries.reverse()
    response_bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "transaction-response",
        "link": [{"relation": "self", "url": request.base}],
        "entry": entries,
    }
    if is_iti65:
        response_bundle["meta"] = {"profile": [PROVIDE_RESPONSE_PROFILE]}
    return Response(200, response_bundle)


def _resolve_identities(api: Api, plans: list[_Plan], base: str) -> None:
    """Give each entry the id it acts on (conditional ones resolved), refuse entries whose identities overlap, and
    replace each `urn:uuid:` reference by the id it names (422 for one that names no entry)."""
    mapping = _assign_ids(api, plans, base)
    _check_identities(plans)
    for plan in plans:
        _rewrite(plan.resource, mapping)
    _check_unresolved(plans)


def _is_submission_set(resource: dict[str, Any] | None) -> bool:
    codings = dicts(_obj(_obj(resource).get("code")).get("coding"))
    return any(c.get("system") == MHD_LIST_TYPES and c.get("code") == "submissionset" for c in codings)


def _batch(api: Api, plans: list[_Plan], request: Request) -> dict[str, Any]:
    entries = []
    for plan in plans:
        try:
            _check_entry(plan)
            _check_structure(api, [plan])
            _check_interaction(api, plan, 405, provide=False)  # each batch entry is answered as on its own
            with api.store.transaction():
                mapping = _assign_ids(api, [plan], request.base)
                _rewrite(plan.resource, mapping)
                _execute(api, plan, request)
            entries.append(_response_entry(api, plan))
        except FhirError as exc:
            entries.append({"response": {"status": str(exc.status), "outcome": exc.outcome()}})
    return {"resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "batch-response", "entry": entries}
