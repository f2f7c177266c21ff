"""Malformed but parsable input never gets a 500: a seeded random walk over odd request shapes."""

from __future__ import annotations

import random
import socket
import struct
import time

import pytest
import requests

from pytest_mes.sandbox import Sandbox

from .conftest import FHIR_JSON, SHARED_PACKAGES
from .test_pdsm import post_bundle

WEIRD = [None, 1, "x", [], {}, [1], {"a": None}, True, -1, 1.5, "2026-13-01", {"reference": 5}, [{"reference": None}],
         [None]]
TYPES = ["Patient", "Slot", "Appointment", "Schedule", "DocumentReference", "List", "Binary"]
FIELDS = ["id", "meta", "status", "start", "end", "schedule", "participant", "slot", "actor", "extension",
          "identifier", "subject", "content", "relatesTo", "name", "contained", "specialty", "entry", "code"]


def _request(rng: random.Random, base: str) -> tuple[str, str, dict]:
    type_ = rng.choice(TYPES)
    body = {"resourceType": type_, **{f: rng.choice(WEIRD) for f in rng.sample(FIELDS, rng.randint(1, 5))}}
    kind = rng.randint(0, 5)
    if kind == 0:
        return "POST", f"{base}/{type_}", {"json": body}
    if kind == 1:
        return "PUT", f"{base}/{type_}", {"json": body, "params": {"identifier": "x"}}
    if kind == 2:
        patch = [{"op": rng.choice(["add", "replace", "remove", "move", "bad"]), "path": rng.choice(["/status", 5, ""]),
                  "value": rng.choice(WEIRD), "from": rng.choice(["/status", 3])}]
        return "PATCH", f"{base}/DocumentReference/doc-dupont-ordonnance", {
            "json": rng.choice([patch, rng.choice(WEIRD)]), "headers": {"Content-Type": "application/json-patch+json"}}
    if kind == 3:
        entry = {"fullUrl": rng.choice(WEIRD), "resource": rng.choice([body, None, "x"]),
                 "request": rng.choice([{"method": rng.choice(["POST", "PATCH", None, 3]),
                                         "url": rng.choice([type_, None, 7])}, None, "x"])}
        return "POST", base, {"json": {"resourceType": "Bundle", "type": rng.choice(["transaction", "batch"]),
                                       "entry": [entry]}}
    if kind == 4:
        name = rng.choice(["start", "_count", "_include", "_sort", "schedule.actor", "near", "a.b.c", "_elements"])
        return "GET", f"{base}/{type_}", {"params": {name: rng.choice(["ge2026", "x|", "|", "-1", "Schedule:", "eq",
                                                                       "\\,", "", "|||"])}}
    return "POST", f"{base}/{type_}", {"data": rng.choice([b"\xff\xfe", b"null", b'{"resourceType":1}', b"<x/>"]),
                                       "headers": {"Content-Type": rng.choice(["application/fhir+json",
                                                                               "application/fhir+xml"])}}


@pytest.mark.parametrize("seed", [20261126, 1, 2, 9, 182])
def test_no_500_on_odd_requests(fresh, seed):
    rng = random.Random(seed)
    with requests.Session() as http:
        for _ in range(300):
            method, url, kwargs = _request(rng, fresh.base_url)
            response = http.request(method, url, **kwargs)
            assert response.status_code < 500, (method, url, kwargs, response.text)
            if response.status_code >= 400:
                assert response.json()["resourceType"] == "OperationOutcome"
                # Each bad shape is refused by an explicit check, with its own message; the generic
                # "unexpected structure" catch-all (which hid the sandbox's own bugs) must not come back.
                assert "unexpected structure" not in response.text, (method, url, kwargs, response.text)
    # and the server still answers normally afterwards
    assert requests.get(f"{fresh.base_url}/Slot", params={"status": "free", "_count": "1"}).status_code == 200


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


def test_odd_shapes_get_no_500(fresh):
    """A Schedule's extensions and a replaced document's relatesTo of odd shapes are refused, never a 500."""
    base = fresh.base_url
    schedule = {"resourceType": "Schedule", "extension": [None], "actor": [{"reference": "Practitioner/pr-martin"}]}
    assert requests.post(f"{base}/Schedule", json=schedule).status_code < 500
    document = {"resourceType": "DocumentReference", "status": "current", "relatesTo": None}
    bundle = {"resourceType": "Bundle", "type": "transaction",
              "entry": [{"resource": document, "request": {"method": "POST", "url": "DocumentReference"}}]}
    assert post_bundle(base, bundle).status_code < 500


@pytest.mark.parametrize("version", ["99999999999999999999999", "²", "٣"])
def test_a_version_id_that_is_no_number_sqlite_holds_is_not_known(fresh, version):
    """'²' is a digit to str.isdigit but not to int(); 10**22 is beyond SQLite's integers: both were a 500."""
    response = requests.get(f"{fresh.base_url}/Patient/pat-dupont/_history/{version}")
    assert response.status_code == 404 and "is not known" in response.text
    assert requests.get(f"{fresh.base_url}/Patient/pat-dupont/_history/1").status_code == 200  # the control


@pytest.mark.parametrize("path", ["/identifier/²", "/identifier/²/value", "/identifier/99"])
def test_a_json_patch_index_that_is_no_ascii_number_is_422_not_500(fresh, path):
    patch = [{"op": "remove", "path": path}]
    response = requests.patch(f"{fresh.base_url}/Patient/pat-dupont", json=patch,
                              headers={"Content-Type": "application/json-patch+json"})
    assert response.status_code == 422, response.text
    assert "JSON Patch" in response.json()["issue"][0]["diagnostics"]


@pytest.mark.parametrize(("start", "status"), [
    ("ge2026-01-01T10:00:00+99:00", 400),  # an offset beyond ±24 h
    ("lt9999", 200), ("le9999-12-31T23:59:59.999Z", 200),  # periods that end past the last instant Python holds
    ("gt0001-01-01T00:00:00+05:00", 200),  # an instant before the first one Python holds, once in UTC
])
def test_dates_at_the_edges_of_time_are_answered_never_a_500(fresh, start, status):
    response = requests.get(f"{fresh.base_url}/Slot", params={"start": start})
    assert response.status_code == status, response.text
    if status == 200:  # every seeded Slot is within those bounds
        assert response.json()["total"] == requests.get(f"{fresh.base_url}/Slot").json()["total"] > 0


def test_a_client_gone_before_its_answer_is_one_log_line_not_a_traceback(capfd):
    """socketserver prints a traceback on stderr when the answer cannot be sent; the sandbox logs one line."""
    lines: list[str] = []
    with Sandbox(packages=[SHARED_PACKAGES], log=lines.append) as server:
        client = socket.create_connection(("127.0.0.1", server.port))
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
        client.sendall(b"GET /fhir/Slot?_count=1000 HTTP/1.1\r\nHost: x\r\n\r\n")
        client.close()
        deadline = time.monotonic() + 10
        while not any("closed the connection" in line for line in lines) and time.monotonic() < deadline:
            time.sleep(0.05)
    assert any("127.0.0.1 closed the connection before its answer was sent" in line for line in lines), lines
    assert "Traceback" not in capfd.readouterr().err and not any("Traceback" in line for line in lines)


def test_a_fhirpath_patch_value_part_without_a_name_is_400_not_500(fresh):
    """R4 gives Parameters.parameter.part.name 1..1; a complex value's part without one was a KeyError (500)."""
    def add_identifier(value_parts: list) -> dict:
        return {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
            {"name": "type", "valueCode": "add"}, {"name": "path", "valueString": "Patient"},
            {"name": "name", "valueString": "identifier"}, {"name": "value", "part": value_parts}]}]}

    url = f"{fresh.base_url}/Patient/pat-dupont"
    nameless = requests.patch(url, json=add_identifier([{"valueString": "x"}]), headers={"Content-Type": FHIR_JSON})
    assert nameless.status_code == 400 and "needs a name" in nameless.text
    named = add_identifier([{"name": "system", "valueUri": "urn:example"}, {"name": "value", "valueString": "x"}])
    assert requests.patch(url, json=named, headers={"Content-Type": FHIR_JSON}).status_code == 200  # the control
    assert {"system": "urn:example", "value": "x"} in requests.get(url).json()["identifier"]


@pytest.mark.parametrize(("method", "url", "condition"), [
    ("PUT", "Patient/pat-dupont", {"ifMatch": 5}), ("POST", "Patient", {"ifNoneExist": 5}),
])
def test_a_transaction_condition_that_is_no_string_is_400_not_500(fresh, method, url, condition):
    patient = {"resourceType": "Patient", **({"id": "pat-dupont"} if method == "PUT" else {})}
    entry = {"fullUrl": "urn:uuid:0a0a0a0a-0000-4000-8000-00000000000a", "resource": patient,
             "request": {"method": method, "url": url, **condition}}
    response = post_bundle(fresh.base_url, {"resourceType": "Bundle", "type": "transaction", "entry": [entry]})
    assert response.status_code == 400, response.text
    assert f"request.{next(iter(condition))} must be a string" in response.text
    entry["request"] = {"method": method, "url": url}  # the control: the same entry without the condition
    assert post_bundle(fresh.base_url, {"resourceType": "Bundle", "type": "transaction",
                                        "entry": [entry]}).status_code == 200
