"""PDSm flows against the sandbox: ITI-65, ITI-66, ITI-67, ITI-68, ITI-105 and the metadata PATCH."""

from __future__ import annotations

import base64
import copy
import uuid

import pytest
import requests

from pytest_mes.sandbox.r4 import R4Support

from .conftest import FHIR_JSON, INS, SHARED_PACKAGES

PDSM = "https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/"
JSON_PATCH = {"Content-Type": "application/json-patch+json"}


def provide_bundle(patient: str = "Patient/pat-dupont", *, replaces: str | None = None,
                   content: bytes = b"Nouveau compte rendu") -> tuple[dict, str]:
    """An ITI-65 Provide Document Bundle: SubmissionSet, DocumentReference, Binary, all urn:uuid."""
    ss, doc, binary = (f"urn:uuid:{uuid.uuid4()}" for _ in range(3))
    master = f"urn:oid:1.2.250.1.999.9.{uuid.uuid4().int % 10**9}"
    author = {"resourceType": "PractitionerRole", "id": "author",
              "practitioner": {"reference": "Practitioner/pr-martin"}}
    document = {
        "resourceType": "DocumentReference",
        "meta": {"profile": [PDSM + "pdsm-comprehensive-document-reference"]},
        "contained": [author],
        "masterIdentifier": {"use": "usual", "system": "urn:ietf:rfc:3986", "value": master},
        "identifier": [{"use": "official", "system": "urn:ietf:rfc:3986", "value": doc}],
        "status": "current",
        "type": {"coding": [{"system": "http://loinc.org", "code": "11488-4"}]},
        "category": [{"coding": [{"system": "https://mos.esante.gouv.fr/NOS/TRE_A03-ClasseDocument/FHIR/"
                                            "TRE-A03-ClasseDocument", "code": "10"}]}],
        "subject": {"reference": patient},
        "date": "2026-01-10T10:00:00+01:00",
        "author": [{"reference": "#author"}],
        "custodian": {"reference": "Organization/org-cds-pasteur"},
        "securityLabel": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                                       "code": "N"}]}],
        "content": [{"attachment": {"contentType": "text/plain", "language": "fr-FR", "url": binary,
                                    "size": len(content), "title": "CR", "creation": "2026-01-10T10:00:00+01:00"}}],
        "context": {"period": {"start": "2026-01-10T09:00:00+01:00"}},
    }
    if replaces:
        document["relatesTo"] = [{"code": "replaces", "target": {"reference": replaces}}]
    submission = {
        "resourceType": "List",
        "meta": {"profile": [PDSM + "pdsm-submissionset-comprehensive"]},
        "contained": [author],
        "identifier": [{"use": "official", "system": "urn:ietf:rfc:3986", "value": ss}],
        "status": "current", "mode": "working",
        "code": {"coding": [{"system": "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes",
                             "code": "submissionset"}]},
        "subject": {"reference": patient}, "date": "2026-01-10T10:05:00+01:00",
        "source": {"reference": "#author"},
        "entry": [{"item": {"reference": doc}}],
    }
    entries = [
        {"fullUrl": ss, "resource": submission, "request": {"method": "POST", "url": "List"}},
        {"fullUrl": doc, "resource": document, "request": {"method": "POST", "url": "DocumentReference"}},
        {"fullUrl": binary, "resource": {"resourceType": "Binary", "contentType": "text/plain",
                                         "data": base64.b64encode(content).decode()},
         "request": {"method": "POST", "url": "Binary"}},
    ]
    if replaces:
        entries.append({
            "fullUrl": f"urn:uuid:{uuid.uuid4()}",
            "resource": {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
                {"name": "type", "valueCode": "replace"},
                {"name": "path", "valueString": "DocumentReference.status"},
                {"name": "value", "valueCode": "superseded"}]}]},
            "request": {"method": "PATCH", "url": replaces},
        })
    bundle = {"resourceType": "Bundle", "type": "transaction",
              "meta": {"profile": [PDSM + "pdsm-comprehensive-provide-document-bundle"]}, "entry": entries}
    return bundle, master


def post_bundle(base: str, bundle: dict) -> requests.Response:
    return requests.post(base, json=bundle, headers={"Content-Type": FHIR_JSON, "Accept": FHIR_JSON})


def test_iti65_provide_document_bundle(fresh):
    base = fresh.base_url
    bundle, master = provide_bundle()
    response = post_bundle(base, bundle)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["type"] == "transaction-response"
    types = [e["response"]["location"].split("/")[0] for e in answer["entry"]]
    assert types == ["List", "DocumentReference", "Binary"]  # request order
    assert all(e["response"]["status"].startswith("201") for e in answer["entry"])
    doc = requests.get(f"{base}/{answer['entry'][1]['response']['location'].split('/_history')[0]}").json()
    binary_id = answer["entry"][2]["response"]["location"].split("/")[1]
    assert doc["content"][0]["attachment"]["url"] == f"{base}/Binary/{binary_id}"  # urn:uuid resolved
    listed = requests.get(f"{base}/{answer['entry'][0]['response']['location'].split('/_history')[0]}").json()
    assert listed["entry"][0]["item"]["reference"] == f"DocumentReference/{doc['id']}"
    found = requests.get(f"{base}/DocumentReference", params={"identifier": f"urn:ietf:rfc:3986|{master}"}).json()
    assert found["total"] == 1
    document = requests.get(doc["content"][0]["attachment"]["url"])
    assert document.status_code == 200 and document.content == b"Nouveau compte rendu"


def test_iti65_replacement_supersedes_the_old_document(fresh):
    base = fresh.base_url
    bundle, _ = provide_bundle(replaces="DocumentReference/doc-dupont-cr-consult")
    response = post_bundle(base, bundle)
    assert response.status_code == 200, response.text
    statuses = [e["response"]["status"] for e in response.json()["entry"]]
    assert statuses[:3] == ["201 Created"] * 3 and statuses[3].startswith("200")
    old = requests.get(f"{base}/DocumentReference/doc-dupont-cr-consult").json()
    assert old["status"] == "superseded" and old["meta"]["versionId"] == "2"


def test_iti65_is_atomic(fresh):
    base = fresh.base_url
    before = requests.get(f"{base}/DocumentReference", params={"_summary": "count"}).json()["total"]
    bundle, _ = provide_bundle()
    bundle["entry"].append({"resource": {"resourceType": "Slot", "status": "free"},  # invalid Slot: 422
                            "request": {"method": "POST", "url": "Slot"}})
    response = post_bundle(base, bundle)
    assert response.status_code == 422
    assert "Bundle.entry[3]" in response.json()["issue"][0]["diagnostics"]
    after = requests.get(f"{base}/DocumentReference", params={"_summary": "count"}).json()["total"]
    assert after == before


DOCUMENT = "DocumentReference/doc-dupont-ordonnance"


def _unsupported_entry(base: str, kind: str) -> dict:
    """A transaction entry asking for an interaction the CapabilityStatement does not give its type."""
    if kind == "delete-document":
        return {"request": {"method": "DELETE", "url": DOCUMENT}}
    if kind == "update-document":  # the whole document replaced, past the metadata update's restrictions
        stored = requests.get(f"{base}/{DOCUMENT}").json()
        return {"resource": {**stored, "description": "rewritten"}, "request": {"method": "PUT", "url": DOCUMENT}}
    if kind == "delete-submission-set":
        return {"request": {"method": "DELETE", "url": "List/ss-dupont-1"}}
    # a Binary is created by ITI-65 only, with the SubmissionSet and DocumentReference that give it meaning
    return {"fullUrl": f"urn:uuid:{uuid.uuid4()}", "request": {"method": "POST", "url": "Binary"},
            "resource": {"resourceType": "Binary", "contentType": "text/plain", "data": "eA=="}}


@pytest.mark.parametrize(("kind", "interaction", "type_"), [
    ("delete-document", "delete", "DocumentReference"), ("update-document", "update", "DocumentReference"),
    ("delete-submission-set", "delete", "List"), ("create-binary", "create", "Binary"),
])
def test_a_transaction_entry_the_server_does_not_support_fails_the_whole_transaction(fresh, kind, interaction, type_):
    base, ipp = fresh.base_url, f"IPP-{kind}"
    patient = {"resourceType": "Patient", "identifier": [{"system": "https://example.org/ipp", "value": ipp}]}
    refused = _unsupported_entry(base, kind)
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": patient, "request": {"method": "POST", "url": "Patient"}},
        refused]}
    response = post_bundle(base, bundle)
    assert response.status_code == 400, response.text
    [issue] = response.json()["issue"]
    assert issue["code"] == "not-supported" and issue["expression"] == ["Bundle.entry[1]"]
    said = f"Bundle.entry[1]: The {interaction} interaction is not supported on {type_}"
    assert issue["diagnostics"].startswith(said)
    found = requests.get(f"{base}/Patient", params={"identifier": f"https://example.org/ipp|{ipp}"}).json()
    assert found["total"] == 0  # nothing of the transaction was done
    assert requests.get(f"{base}/{DOCUMENT}").json()["meta"]["versionId"] == "1"
    assert requests.get(f"{base}/List/ss-dupont-1").status_code == 200
    method, url = refused["request"]["method"], refused["request"]["url"]
    direct = requests.request(method, f"{base}/{url}", json=refused.get("resource"),
                              headers={"Content-Type": FHIR_JSON})
    assert direct.status_code == 405  # as direct REST answers the same interaction


def test_iti65_still_creates_its_list_and_binary_and_a_batch_answers_each_entry_as_on_its_own(fresh):
    base = fresh.base_url
    bundle, _ = provide_bundle()
    response = post_bundle(base, bundle)
    assert response.status_code == 200, response.text
    assert [e["response"]["location"].split("/")[0] for e in response.json()["entry"]] == \
        ["List", "DocumentReference", "Binary"]
    batch = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "DELETE", "url": DOCUMENT}}, {"request": {"method": "GET", "url": DOCUMENT}}]}
    answer = post_bundle(base, batch).json()
    assert [e["response"]["status"][:3] for e in answer["entry"]] == ["405", "200"]
    assert "delete interaction is not supported" in answer["entry"][0]["response"]["outcome"]["issue"][0][
        "diagnostics"]


@pytest.mark.parametrize("mutate", ["unknown-patient", "unknown-binary", "unknown-replaced"])
def test_iti65_unresolvable_references_are_422(fresh, mutate):
    bundle, _ = provide_bundle()
    if mutate == "unknown-patient":
        for e in bundle["entry"][:2]:
            e["resource"]["subject"] = {"reference": "Patient/nobody"}
    elif mutate == "unknown-binary":
        bundle["entry"][1]["resource"]["content"][0]["attachment"]["url"] = "Binary/nothing"
    else:
        bundle["entry"][1]["resource"]["relatesTo"] = [{"code": "replaces",
                                                        "target": {"reference": "DocumentReference/nothing"}}]
    response = post_bundle(fresh.base_url, bundle)
    assert response.status_code == 422 and response.json()["resourceType"] == "OperationOutcome"


def test_iti65_accepts_xml(fresh):
    bundle, _ = provide_bundle()
    xml = R4Support([SHARED_PACKAGES]).dump(bundle)
    response = requests.post(fresh.base_url, data=xml.encode(), headers={"Content-Type": "application/fhir+xml"})
    assert response.status_code == 200 and response.json()["type"] == "transaction-response"


def test_iti67_find_document_references(sandbox):
    base = sandbox.base_url
    params = {"patient.identifier": f"{INS}|285037511604233", "status": "current"}
    bundle = requests.get(f"{base}/DocumentReference", params=params).json()
    assert bundle["type"] == "searchset" and bundle["total"] >= 2
    assert bundle["meta"]["profile"][0].endswith("pdsm-find-documentreferences-comprehensive-response")
    assert all(e["fullUrl"] for e in bundle["entry"])
    posted = requests.post(f"{base}/DocumentReference/_search", data=params,
                           headers={"Content-Type": "application/x-www-form-urlencoded"}).json()
    assert posted["total"] == bundle["total"]
    by_patient = requests.get(f"{base}/DocumentReference", params={"patient": "pat-moreau", "status": "current",
                                                                  "isArchived": "false"}).json()
    assert [e["resource"]["id"] for e in by_patient["entry"]] == ["doc-moreau-cr-cardio"]
    none_archived = requests.get(f"{base}/DocumentReference", params={"patient": "pat-moreau", "isArchived": "true"})
    assert none_archived.json()["total"] == 0
    periods = requests.get(f"{base}/DocumentReference", params=[
        ("patient", "pat-moreau"), ("period-start", "ge2000-01-01"), ("period-end", "le2100-01-01")]).json()
    assert periods["total"] == 1
    later = requests.get(f"{base}/DocumentReference", params={"patient": "pat-moreau", "period-start": "ge2100-01-01"})
    assert later.json()["total"] == 0
    typed = requests.get(f"{base}/DocumentReference", params={"patient": "pat-dupont",
                                                             "type": "http://loinc.org|57833-6"}).json()
    assert [e["resource"]["id"] for e in typed["entry"]] == ["doc-dupont-ordonnance"]
    by_author = requests.get(f"{base}/DocumentReference", params={"author.family": "bernard"}).json()
    assert [e["resource"]["id"] for e in by_author["entry"]] == ["doc-moreau-cr-cardio"]
    by_author_rpps = requests.get(f"{base}/DocumentReference", params={
        "author.identifier": "https://rpps.esante.gouv.fr|10003618042", "_summary": "count"}).json()
    assert by_author_rpps["total"] == 2


def test_iti66_find_document_lists(sandbox):
    bundle = requests.get(f"{sandbox.base_url}/List", params={
        "patient.identifier": f"{INS}|179061305512365", "status": "current",
        "code": "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes|submissionset"}).json()
    assert bundle["type"] == "searchset" and bundle["total"] == 1
    assert bundle["meta"]["profile"][0].endswith("pdsm-find-lists-response")
    empty = requests.get(f"{sandbox.base_url}/List", params={"patient": "pat-lefebvre", "status": "current"}).json()
    assert empty["total"] == 0 and "entry" not in empty


@pytest.mark.parametrize(
    ("accept", "status", "content_type"),
    [
        (None, 200, "application/pdf"),
        ("application/pdf", 200, "application/pdf"),
        ("*/*", 200, "application/pdf"),
        ("application/fhir+json", 200, "application/fhir+json; charset=utf-8"),
        ("image/png", 406, "application/fhir+json; charset=utf-8"),
    ],
)
def test_iti68_retrieve_document(sandbox, accept, status, content_type):
    headers = {"Accept": accept} if accept else {"Accept": ""}
    response = requests.get(f"{sandbox.base_url}/Binary/bin-dupont-ordonnance", headers=headers)
    assert response.status_code == status
    assert response.headers["Content-Type"] == content_type
    if content_type == "application/pdf":
        assert response.content.startswith(b"%PDF")
    assert requests.get(f"{sandbox.base_url}/Binary/unknown").status_code == 404


def test_iti105_simplified_publish(fresh):
    base = fresh.base_url
    document = {
        "resourceType": "DocumentReference",
        "meta": {"profile": [PDSM + "pdsm-simplified-publish"]},
        "masterIdentifier": {"system": "urn:ietf:rfc:3986", "value": "urn:oid:1.2.250.1.999.105.1"},
        "status": "current",
        "type": {"coding": [{"system": "http://loinc.org", "code": "11488-4"}]},
        "subject": {"reference": "Patient/pat-lefebvre"},
        "date": "2026-01-12T10:00:00+01:00",
        "author": [{"reference": "PractitionerRole/role-petit"}],
        "custodian": {"reference": "Organization/org-cds-pasteur"},
        "content": [{"attachment": {"contentType": "text/plain", "title": "Note",
                                    "data": base64.b64encode(b"Note de suivi").decode()}}],
    }
    created = requests.post(f"{base}/DocumentReference", json=document)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["id"] and body["meta"]["versionId"] == "1" and body["meta"]["lastUpdated"]
    attachment = body["content"][0]["attachment"]
    assert "data" not in attachment and attachment["size"] == len(b"Note de suivi")
    assert requests.get(attachment["url"]).content == b"Note de suivi"
    document["content"][0]["attachment"].pop("data")
    refused = requests.post(f"{base}/DocumentReference", json=document)
    assert refused.status_code == 422 and refused.json()["resourceType"] == "OperationOutcome"


def test_conditional_patch_of_document_metadata(fresh):
    base = fresh.base_url
    target = {"identifier": "urn:ietf:rfc:3986|urn:oid:1.2.250.1.999.1.1.3"}
    archive = [{"op": "replace", "path": "/extension/0/valueBoolean", "value": True},
               {"op": "replace", "path": "/securityLabel/0/coding/0/code", "value": "R"}]
    response = requests.patch(f"{base}/DocumentReference", params=target, json=archive, headers=JSON_PATCH)
    assert response.status_code == 200, response.text
    assert response.json()["extension"][0]["valueBoolean"] is True and response.json()["meta"]["versionId"] == "2"
    archived = requests.get(f"{base}/DocumentReference", params={"patient": "pat-moreau", "isArchived": "true"})
    assert archived.json()["total"] == 1

    forbidden = requests.patch(f"{base}/DocumentReference", params=target, headers=JSON_PATCH,
                               json=[{"op": "replace", "path": "/description", "value": "changed"}])
    assert forbidden.status_code == 405 and forbidden.json()["resourceType"] == "OperationOutcome"
    fhirpath = {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
        {"name": "type", "valueCode": "replace"}, {"name": "path", "valueString": "DocumentReference.status"},
        {"name": "value", "valueCode": "superseded"}]}]}
    superseded = requests.patch(f"{base}/DocumentReference", params=target, json=fhirpath,
                                headers={"Content-Type": FHIR_JSON})
    assert superseded.status_code == 200 and superseded.json()["status"] == "superseded"
    bad_status = copy.deepcopy(fhirpath)
    bad_status["parameter"][0]["part"][2] = {"name": "value", "valueCode": "entered-in-error"}
    assert requests.patch(f"{base}/DocumentReference", params=target, json=bad_status,
                          headers={"Content-Type": FHIR_JSON}).status_code == 422
    missing = requests.patch(f"{base}/DocumentReference", params={"identifier": "urn:ietf:rfc:3986|nope"},
                             json=archive, headers=JSON_PATCH)
    assert missing.status_code == 404
    several = requests.patch(f"{base}/DocumentReference", params={"patient": "pat-dupont"}, json=archive,
                             headers=JSON_PATCH)
    assert several.status_code == 412


DOCREF_TARGET = {"identifier": "urn:ietf:rfc:3986|urn:oid:1.2.250.1.999.1.1.3"}


@pytest.mark.parametrize("patch", [
    [{"op": "add", "path": "/text", "value": {"status": "generated",
                                                "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}}],
    [{"op": "add", "path": "/meta/tag", "value": [{"system": "urn:x", "code": "y"}]}],
    [{"op": "add", "path": "/meta/profile/-", "value": "https://example.org/StructureDefinition/other"}],
])
def test_metadata_patch_refuses_meta_and_text(fresh, patch):
    response = requests.patch(f"{fresh.base_url}/DocumentReference", params=DOCREF_TARGET, json=patch,
                              headers=JSON_PATCH)
    assert response.status_code == 405, response.text
    assert response.json()["resourceType"] == "OperationOutcome"
    # the allowed fields still go through
    allowed = requests.patch(f"{fresh.base_url}/DocumentReference", params=DOCREF_TARGET, headers=JSON_PATCH,
                             json=[{"op": "replace", "path": "/status", "value": "superseded"}])
    assert allowed.status_code == 200, allowed.text


def test_patch_any_field_defect_still_refuses_bad_status():
    from .conftest import start_with

    server = start_with("patch-any-field")
    try:
        bad = requests.patch(f"{server.base_url}/DocumentReference", params=DOCREF_TARGET, headers=JSON_PATCH,
                             json=[{"op": "replace", "path": "/status", "value": "entered-in-error"}])
        assert bad.status_code == 422
        anything = requests.patch(f"{server.base_url}/DocumentReference", params=DOCREF_TARGET, headers=JSON_PATCH,
                                  json=[{"op": "replace", "path": "/description", "value": "changed"}])
        assert anything.status_code == 200  # the defect itself
    finally:
        server.stop()


def test_binary_with_invalid_base64_is_refused_at_write(fresh):
    bundle, _ = provide_bundle()
    bundle["entry"][2]["resource"]["data"] = "AB=CDEFG"  # base64Binary-shaped, not decodable
    response = post_bundle(fresh.base_url, bundle)
    assert response.status_code == 400, response.text
    assert "Binary.data" in response.json()["issue"][0]["diagnostics"]


def test_iti65_unresolved_urn_uuid_is_refused(fresh):
    base = fresh.base_url
    before = requests.get(f"{base}/DocumentReference", params={"_summary": "count"}).json()["total"]
    bundle, _ = provide_bundle()
    bundle["entry"][0]["resource"]["entry"][0]["item"]["reference"] = f"urn:uuid:{uuid.uuid4()}"
    response = post_bundle(base, bundle)
    assert response.status_code == 422, response.text
    issue = response.json()["issue"][0]
    assert "Bundle.entry[0]" in issue["diagnostics"] and "entry[0].item.reference" in issue["expression"][0]
    after = requests.get(f"{base}/DocumentReference", params={"_summary": "count"}).json()["total"]
    assert after == before


def test_capability_matches_behaviour(sandbox):
    cap = requests.get(f"{sandbox.base_url}/metadata").json()
    by_type = {r["type"]: r for r in cap["rest"][0]["resource"]}
    docref = by_type["DocumentReference"]
    # PDSm declares conditionalUpdate on DocumentReference: the metadata update (flux 03/04) as a PUT.
    stored = requests.get(f"{sandbox.base_url}/DocumentReference", params=DOCREF_TARGET).json()["entry"][0]["resource"]
    def put(body):
        return requests.put(f"{sandbox.base_url}/DocumentReference", params=DOCREF_TARGET, json=body,
                            headers={"Content-Type": FHIR_JSON})
    emptied = put({"resourceType": "DocumentReference"})
    unknown = requests.put(f"{sandbox.base_url}/DocumentReference", params={"identifier": "urn:x|none"},
                           json=stored, headers={"Content-Type": FHIR_JSON})
    same = put(stored)
    assert docref["conditionalUpdate"] is True
    assert emptied.status_code == 405 and unknown.status_code == 404
    assert same.status_code == 200 and same.json()["meta"]["versionId"] != stored["meta"]["versionId"]
    for type_ in by_type:
        names = [p["name"] for p in by_type[type_].get("searchParam", [])]
        assert len(names) == len(set(names)), type_
    start = [p for p in by_type["Slot"]["searchParam"] if p["name"] == "start"]
    assert start[0]["definition"].endswith("GAP-Slot-earliestStart")
    assert "GAP-Slot-latestStart" in start[0]["documentation"]


def test_a_conditional_document_update_in_a_transaction_is_sent_alone_and_says_so(fresh):
    """Direct REST takes PUT DocumentReference?identifier=… as the metadata update; in a transaction the entry
    would bypass its restrictions, so it is refused with a reason that says where to send it instead."""
    base = fresh.base_url
    stored = requests.get(f"{base}/{DOCUMENT}").json()
    identifier = stored["masterIdentifier"] if "masterIdentifier" in stored else stored["identifier"][0]
    url = f"DocumentReference?identifier={identifier['system']}|{identifier['value']}"
    entry = {"resource": {**stored, "status": "superseded"}, "request": {"method": "PUT", "url": url}}
    response = post_bundle(base, {"resourceType": "Bundle", "type": "transaction", "entry": [entry]})
    assert response.status_code == 400, response.text
    [issue] = response.json()["issue"]
    assert issue["code"] == "not-supported" and issue["expression"] == ["Bundle.entry[0]"]
    assert "metadata update" in issue["diagnostics"] and "PATCH entry" in issue["diagnostics"]
    assert requests.get(f"{base}/{DOCUMENT}").json()["meta"]["versionId"] == "1"
