"""Regression tests for the sandbox review: atomic conditional create, the PDSm metadata PATCH,
Slot bookkeeping and referential integrity, paging links, explicit errors, transaction identity
rules, the CapabilityStatement, `near` units, consistent reads and the benchmark's exit code."""

from __future__ import annotations

import importlib.util
import sys
import threading
import uuid
from pathlib import Path

import pytest
import requests

from pytest_mes.sandbox.store import Store

from .conftest import FHIR_JSON
from .test_gap import APPOINTMENT_SYSTEM, _appointment, resources, search
from .test_pdsm import JSON_PATCH, post_bundle, provide_bundle

DOCREF_TARGET = {"identifier": "urn:ietf:rfc:3986|urn:oid:1.2.250.1.999.1.1.3"}


# -- 1. conditional create is atomic ----------------------------------------------------------

def test_concurrent_conditional_creates_make_one_resource(fresh):
    base = fresh.base_url
    system = "https://sandbox.pytest-mes.fr/relatedperson"
    for _round in range(8):  # the race is probabilistic: several rounds, each with new criteria
        value = f"RP-{uuid.uuid4()}"
        body = {"resourceType": "RelatedPerson", "patient": {"reference": "Patient/pat-dupont"},
                "identifier": [{"system": system, "value": value}]}
        barrier = threading.Barrier(5)  # within the server's listen backlog
        statuses: list[int] = []

        def create(body: dict = body, value: str = value, barrier: threading.Barrier = barrier,
                   statuses: list[int] = statuses) -> None:
            with requests.Session() as http:
                barrier.wait()
                statuses.append(http.post(f"{base}/RelatedPerson", json=body,
                                          headers={"If-None-Exist": f"identifier={system}|{value}"}).status_code)

        threads = [threading.Thread(target=create) for _ in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        found = requests.get(f"{base}/RelatedPerson", params={"identifier": f"{system}|{value}"}).json()
        assert found["total"] == 1, statuses
        assert sorted(statuses) == [200, 200, 200, 200, 201]


# -- 2. the PDSm metadata PATCH -----------------------------------------------------------------

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


# -- 3. Slot bookkeeping and referential integrity ---------------------------------------------

def _free_slot(base: str) -> dict:
    return resources(search(base, "Slot", {"schedule": "sched-martin", "status": "free", "_count": "1"}))[0]


def test_booking_a_slot_that_is_not_free_is_refused(fresh):
    base = fresh.base_url
    slot = _free_slot(base)
    assert requests.post(f"{base}/Appointment", json=_appointment(slot, "RDV-A")).status_code == 201
    second = requests.post(f"{base}/Appointment", json=_appointment(slot, "RDV-B", status="pending"))
    assert second.status_code == 422, second.text
    issue = second.json()["issue"][0]
    assert issue["code"] == "business-rule" and issue["expression"] == ["Appointment.slot[0]"]
    assert search(base, "Appointment", {"identifier": f"{APPOINTMENT_SYSTEM}|RDV-B"})["total"] == 0
    # a proposed Appointment does not hold the slot: accepted
    assert requests.post(f"{base}/Appointment", json=_appointment(slot, "RDV-C", status="proposed")).status_code == 201
    unavailable = resources(search(base, "Slot", {"status": "busy-unavailable", "_count": "1"}))[0]
    refused = requests.post(f"{base}/Appointment", json=_appointment(unavailable, "RDV-D"))
    assert refused.status_code == 422


def test_freeing_checks_the_other_holders(fresh):
    """Two holders of one slot (stored before the rule, e.g. with --db): cancelling one keeps it busy."""
    base = fresh.base_url
    slot = _free_slot(base)
    first = requests.post(f"{base}/Appointment", json=_appointment(slot, "RDV-X1")).json()
    # the store accepts a second holder written directly (as an older database may hold)
    second = _appointment(slot, "RDV-X2")
    fresh.store.put("Appointment", "rdv-x2", second)
    first["status"] = "cancelled"
    assert requests.put(f"{base}/Appointment/{first['id']}", json=first).status_code == 200
    assert requests.get(f"{base}/Slot/{slot['id']}").json()["status"] == "busy"


@pytest.mark.parametrize(("element", "reference"), [
    ("Appointment.slot[0]", "Slot/no-such-slot"),
    ("Appointment.participant[0].actor", "Patient/no-such-patient"),
])
def test_appointment_with_a_missing_local_reference_is_422(fresh, element, reference):
    base = fresh.base_url
    body = _appointment(_free_slot(base), "RDV-REF", status="proposed")
    if reference.startswith("Slot/"):
        body["slot"] = [{"reference": reference}]
    else:
        body["participant"][0]["actor"] = {"reference": reference}
    response = requests.post(f"{base}/Appointment", json=body)
    assert response.status_code == 422, response.text
    issue = response.json()["issue"][0]
    assert issue["expression"] == [element] and reference in issue["diagnostics"]


# -- 4 and 9. paging links ---------------------------------------------------------------------

def test_count_zero_has_no_next_link(sandbox):
    bundle = requests.get(f"{sandbox.base_url}/Slot", params={"_count": "0"}).json()
    assert bundle["total"] > 0 and not bundle.get("entry")
    assert [link["relation"] for link in bundle["link"]] == ["self"]
    offset = requests.get(f"{sandbox.base_url}/Slot", params={"_count": "0", "_offset": "5"}).json()
    assert [link["relation"] for link in offset["link"]] == ["self"]


def test_links_keep_elements_and_summary(sandbox):
    bundle = requests.get(f"{sandbox.base_url}/Slot", params={"_count": "2", "_elements": "start"}).json()
    links = {link["relation"]: link["url"] for link in bundle["link"]}
    assert "_elements=start" in links["self"] and "_elements=start" in links["next"]
    page2 = requests.get(links["next"]).json()
    assert all(set(e["resource"]) <= {"resourceType", "id", "meta", "start"} for e in page2["entry"])
    counted = requests.get(f"{sandbox.base_url}/Slot", params={"_summary": "count"}).json()
    assert "_summary=count" in counted["link"][0]["url"]


# -- 5. explicit errors, Binary data -------------------------------------------------------------

def test_bad_transaction_entry_shapes_are_400_not_500(fresh):
    for resource in ({"resourceType": "List", "extension": -1, "code": 1},
                     {"resourceType": "List", "subject": 1, "entry": {"reference": 5}, "code": "x"}):
        bundle = {"resourceType": "Bundle", "type": "transaction",
                  "entry": [{"resource": resource, "request": {"method": "POST", "url": "List"}}]}
        response = post_bundle(fresh.base_url, bundle)
        assert response.status_code == 400, response.text
        assert "unexpected structure" not in response.text
        assert "Bundle.entry[0]" in response.json()["issue"][0]["diagnostics"]


@pytest.mark.parametrize(("method", "path", "body"), [
    ("PATCH", "Schedule/sched-martin", {"resourceType": "Parameters", "parameter": "x"}),
    ("PATCH", "Schedule/sched-martin", {"resourceType": "Parameters", "parameter": [
        {"name": "operation", "part": [{"name": "type", "valueCode": "replace"},
                                       {"name": "path", "valueString": 5}]}]}),
    ("POST", "DocumentReference", {"resourceType": "DocumentReference", "status": "current",
                                   "subject": {"reference": "Patient/pat-dupont"}, "content": [1]}),
])
def test_bad_patch_and_publish_shapes_are_400_with_their_own_message(fresh, method, path, body):
    response = requests.request(method, f"{fresh.base_url}/{path}", json=body, headers={"Content-Type": FHIR_JSON})
    assert response.status_code == 400, response.text
    assert "unexpected structure" not in response.text


def test_a_bug_answers_500_with_an_outcome(fresh, monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("a bug")  # was answered 400 "unexpected structure", as if the client were at fault

    monkeypatch.setattr("pytest_mes.sandbox.api.search", broken)
    response = requests.get(f"{fresh.base_url}/Slot")
    assert response.status_code == 500
    assert response.json()["resourceType"] == "OperationOutcome" and "a bug" not in response.text


def test_binary_with_invalid_base64_is_refused_at_write(fresh):
    bundle, _ = provide_bundle()
    bundle["entry"][2]["resource"]["data"] = "AB=CDEFG"  # base64Binary-shaped, not decodable
    response = post_bundle(fresh.base_url, bundle)
    assert response.status_code == 400, response.text
    assert "Binary.data" in response.json()["issue"][0]["diagnostics"]


# -- 6 and 7. transaction references and identities ------------------------------------------------

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


def test_transaction_refuses_overlapping_identities(fresh):
    base = fresh.base_url
    patient = requests.get(f"{base}/Patient/pat-moreau").json()
    twice = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": patient, "request": {"method": "PUT", "url": "Patient/pat-moreau"}},
        {"resource": patient, "request": {"method": "PUT", "url": "Patient/pat-moreau"}},
    ]}
    response = post_bundle(base, twice)
    assert response.status_code == 400 and "Bundle.entry[1]" in response.json()["issue"][0]["diagnostics"]
    bundle, _ = provide_bundle()
    bundle["entry"][2]["fullUrl"] = bundle["entry"][1]["fullUrl"]
    response = post_bundle(base, bundle)
    assert response.status_code == 400 and "fullUrl" in response.json()["issue"][0]["diagnostics"]
    assert requests.get(f"{base}/Patient/pat-moreau").json()["meta"]["versionId"] == "1"


# -- 8. CapabilityStatement --------------------------------------------------------------------------

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


# -- 9. search values, consistent reads --------------------------------------------------------------

def test_missing_takes_only_true_or_false(sandbox):
    assert requests.get(f"{sandbox.base_url}/Slot", params={"specialty:missing": "maybe"}).status_code == 400
    assert requests.get(f"{sandbox.base_url}/Slot", params={"specialty:missing": "false"}).status_code == 200


def test_near_in_miles(sandbox):
    # Lyon Pasteur (45.75, 4.85) to Nantes (47.2, -1.55): about 510 km, 317 miles
    lyon = "45.7578|4.8320"
    miles = search(sandbox.base_url, "Location", {"near": f"{lyon}|400|mi"})
    km = search(sandbox.base_url, "Location", {"near": f"{lyon}|400|km"})
    assert miles["total"] > km["total"]
    assert requests.get(f"{sandbox.base_url}/Location", params={"near": f"{lyon}|4|parsecs"}).status_code == 400


def test_reads_do_not_see_uncommitted_writes():
    store = Store()
    written, seen = threading.Event(), []

    def writer() -> None:
        try:
            with store.transaction():
                store.put("Patient", "p1", {"resourceType": "Patient"})
                written.set()
                threading.Event().wait(0.3)
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass

    thread = threading.Thread(target=writer)
    thread.start()
    written.wait(5)
    seen.append(store.get("Patient", "p1"))
    seen.append(store.resource("Patient", "p1"))
    thread.join()
    assert seen == [None, None]


# -- 10. the benchmark fails when it misses its target ------------------------------------------------

@pytest.mark.parametrize(("latency_ms", "code"), [(500.0, 1), (5.0, 0)])
def test_bench_exit_code_follows_the_target(monkeypatch, capsys, latency_ms, code):
    spec = importlib.util.spec_from_file_location(
        "bench_sandbox", Path(__file__).resolve().parents[2] / "bench" / "sandbox.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)

    class Process:
        def terminate(self) -> None:
            pass

        def wait(self, timeout: float) -> int:
            return 0

    class Answer:
        content = b"{}"

        def json(self) -> dict:
            return {"entry": [{"search": {"mode": "match"}}]}

    monkeypatch.setattr(bench, "start_sandbox", lambda: (Process(), "http://x/fhir"))
    monkeypatch.setattr(bench, "start_bare", lambda: (Process(), "http://x/"))
    monkeypatch.setattr(bench, "latencies", lambda url, params, n: [latency_ms] * 20)
    monkeypatch.setattr(bench, "throughput", lambda url, params, seconds: 100.0)
    monkeypatch.setattr(bench.requests, "get", lambda *a, **k: Answer())
    monkeypatch.setattr(sys, "argv", ["sandbox.py"])
    assert bench.main() == code
    assert ("MISSED" in capsys.readouterr().out) == (code == 1)


def test_a_patch_in_a_transaction_may_not_change_the_resource_type():
    """A PATCH entry gets the checks of a direct PATCH: it may not turn a Slot into a Patient, even where
    no R4 package checks the result's structure (a sandbox started without packages)."""
    import base64
    import json

    from pytest_mes.sandbox import Sandbox

    operations = [{"op": "replace", "path": "/resourceType", "value": "Patient"}]
    with Sandbox() as server:
        slot = _free_slot(server.base_url)
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [{
            "resource": {"resourceType": "Binary", "contentType": "application/json-patch+json",
                         "data": base64.b64encode(json.dumps(operations).encode()).decode()},
            "request": {"method": "PATCH", "url": f"Slot/{slot['id']}"}}]}
        response = post_bundle(server.base_url, bundle)
        assert response.status_code == 422, response.text
        assert "may not change resourceType" in response.text
        assert requests.get(f"{server.base_url}/Slot/{slot['id']}").json()["resourceType"] == "Slot"


def test_odd_shapes_get_no_500(fresh):
    """A Schedule's extensions and a replaced document's relatesTo of odd shapes are refused, never a 500."""
    base = fresh.base_url
    schedule = {"resourceType": "Schedule", "extension": [None], "actor": [{"reference": "Practitioner/pr-martin"}]}
    assert requests.post(f"{base}/Schedule", json=schedule).status_code < 500
    document = {"resourceType": "DocumentReference", "status": "current", "relatesTo": None}
    bundle = {"resourceType": "Bundle", "type": "transaction",
              "entry": [{"resource": document, "request": {"method": "POST", "url": "DocumentReference"}}]}
    assert post_bundle(base, bundle).status_code < 500
