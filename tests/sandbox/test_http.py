"""FHIR REST behaviour of the sandbox over real HTTP: status codes, headers, versioning, errors."""

from __future__ import annotations

import json
import socket

import pytest
import requests

from pytest_mes.errors import ConfigError, PackageError
from pytest_mes.sandbox import DEFECTS, Sandbox

from .conftest import FHIR_JSON
from .test_gap import search
from .test_pdsm import post_bundle, provide_bundle

PATIENT = {
    "resourceType": "Patient",
    "identifier": [{"use": "usual", "system": "https://example.org/ipp", "value": "IPP-42"}],
    "name": [{"use": "official", "family": "DURAND", "given": ["Paul"]}],
    "gender": "male",
    "birthDate": "1970-01-01",
}


def outcome_of(response: requests.Response) -> dict:
    assert response.headers["Content-Type"].startswith(FHIR_JSON)
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    assert body["issue"][0]["severity"] in ("error", "fatal")
    return body


def test_metadata_declares_actors_and_interactions(sandbox, http):
    response = http.get(f"{sandbox.base_url}/metadata")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/fhir+json; charset=utf-8"
    cs = response.json()
    assert cs["resourceType"] == "CapabilityStatement"
    assert cs["fhirVersion"] == "4.0.1" and cs["kind"] == "instance"
    assert "https://interop.esante.gouv.fr/ig/fhir/gap/CapabilityStatement/GAP-GestionnaireAgenda" in cs["instantiates"]
    assert ("https://interop.esante.gouv.fr/ig/fhir/pdsm/CapabilityStatement/PDSm-GestionnaireDePartageDeDocuments"
            in cs["instantiates"])
    resources = {r["type"]: r for r in cs["rest"][0]["resource"]}
    assert {i["code"] for i in resources["Slot"]["interaction"]} >= {"read", "search-type"}
    assert {"Slot:schedule", "Schedule:actor"} <= set(resources["Slot"]["searchInclude"])
    assert {p["name"] for p in resources["DocumentReference"]["searchParam"]} >= {"isArchived", "period-start"}
    assert "update" not in {i["code"] for i in resources["DocumentReference"]["interaction"]}
    assert {"code": "transaction", "documentation": cs["rest"][0]["interaction"][0]["documentation"]} in \
        cs["rest"][0]["interaction"]


def test_create_read_update_vread_delete(sandbox, http):
    base = sandbox.base_url
    created = http.post(f"{base}/Patient", json=PATIENT, headers={"Content-Type": FHIR_JSON})
    assert created.status_code == 201
    patient = created.json()
    pid = patient["id"]
    assert created.headers["Location"] == f"{base}/Patient/{pid}/_history/1"
    assert created.headers["ETag"] == 'W/"1"'
    assert patient["meta"]["versionId"] == "1" and patient["meta"]["lastUpdated"]

    read = http.get(f"{base}/Patient/{pid}")
    assert read.status_code == 200 and read.json()["name"][0]["family"] == "DURAND"
    assert "Last-Modified" in read.headers

    patient["gender"] = "unknown"
    updated = http.put(f"{base}/Patient/{pid}", json=patient, headers={"If-Match": 'W/"1"'})
    assert updated.status_code == 200
    assert updated.json()["meta"]["versionId"] == "2" and updated.headers["ETag"] == 'W/"2"'

    stale = http.put(f"{base}/Patient/{pid}", json=patient, headers={"If-Match": 'W/"1"'})
    assert stale.status_code == 412
    outcome_of(stale)

    first = http.get(f"{base}/Patient/{pid}/_history/1")
    assert first.status_code == 200 and first.json()["gender"] == "male"
    history = http.get(f"{base}/Patient/{pid}/_history").json()
    assert history["type"] == "history" and history["total"] == 2

    deleted = http.delete(f"{base}/Patient/{pid}")
    assert deleted.status_code in (200, 204)
    gone = http.get(f"{base}/Patient/{pid}")
    assert gone.status_code == 410
    outcome_of(gone)
    assert http.get(f"{base}/Patient/does-not-exist").status_code == 404
    assert http.get(f"{base}/Patient/{pid}/_history/9").status_code == 404


def test_update_as_create_returns_201(sandbox, http):
    body = dict(PATIENT, id="client-chosen-id")
    response = http.put(f"{sandbox.base_url}/Patient/client-chosen-id", json=body)
    assert response.status_code == 201
    assert response.headers["Location"].endswith("/Patient/client-chosen-id/_history/1")


def test_conditional_create(fresh, http):
    body = dict(PATIENT, identifier=[{"system": "https://example.org/ipp", "value": "COND-1"}])
    headers = {"If-None-Exist": "identifier=https://example.org/ipp|COND-1"}
    first = http.post(f"{fresh.base_url}/Patient", json=body, headers=headers)
    again = http.post(f"{fresh.base_url}/Patient", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]


def test_prefer_return_minimal(sandbox, http):
    response = http.post(f"{sandbox.base_url}/Patient", json=PATIENT, headers={"Prefer": "return=minimal"})
    assert response.status_code == 201 and response.content == b"" and "Location" in response.headers


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status"),
    [
        ("POST", "/Patient", b"{not json", {"Content-Type": FHIR_JSON}, 400),
        ("POST", "/Patient", b"[1, 2]", {"Content-Type": FHIR_JSON}, 400),
        ("POST", "/Patient", json.dumps({"resourceType": "Practitioner"}).encode(), {"Content-Type": FHIR_JSON}, 400),
        ("POST", "/Patient", b"", {"Content-Type": FHIR_JSON}, 400),
        ("POST", "/Patient", b"name=x", {"Content-Type": "text/plain"}, 415),
        ("PUT", "/Patient/a", json.dumps(dict(PATIENT, id="b")).encode(), {"Content-Type": FHIR_JSON}, 400),
        ("GET", "/Unicorn", b"", {}, 404),
        ("GET", "/Unicorn/1", b"", {}, 404),
        ("DELETE", "/Binary/bin-dupont-ordonnance", b"", {}, 405),
        ("PUT", "/DocumentReference/doc-dupont-ordonnance", b"{}", {"Content-Type": FHIR_JSON}, 405),
        ("GET", "/Slot?start=ge2025-13-45", b"", {}, 400),
        ("GET", "/Slot?_count=-1", b"", {}, 400),
        ("POST", "/Slot", json.dumps({"resourceType": "Slot", "status": "free"}).encode(),
         {"Content-Type": FHIR_JSON}, 422),
        ("POST", "/Slot", json.dumps({"resourceType": "Slot", "status": "maybe",
                                      "schedule": {"reference": "Schedule/x"},
                                      "start": "2030-01-01T10:00:00Z", "end": "2030-01-01T10:30:00Z"}).encode(),
         {"Content-Type": FHIR_JSON}, 422),
        ("POST", "/", json.dumps({"resourceType": "Bundle", "type": "collection"}).encode(),
         {"Content-Type": FHIR_JSON}, 400),
    ],
)
def test_bad_input_gets_an_operation_outcome(sandbox, method, path, body, headers, status):
    url = sandbox.base_url + path if path != "/" else sandbox.base_url
    response = requests.request(method, url, data=body, headers=headers)
    assert response.status_code == status, response.text
    outcome_of(response)


def test_outside_the_base_is_404(sandbox):
    response = requests.get(sandbox.base_url.removesuffix("/fhir") + "/other")
    assert response.status_code == 404
    outcome_of(response)


def test_oversized_body_is_413(sandbox):
    """The body is refused from its Content-Length, before it is read."""
    host, port = sandbox.base_url.split("//")[1].split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(b"POST /fhir/Patient HTTP/1.1\r\nHost: x\r\nContent-Type: application/fhir+json\r\n"
                     b"Content-Length: 999999999\r\n\r\n{")
        chunks = []
        while chunk := conn.recv(65536):  # the server closes the connection after answering
            chunks.append(chunk)
        answer = b"".join(chunks).decode()
    assert answer.startswith("HTTP/1.1 413")
    assert "OperationOutcome" in answer


def test_xml_in_and_out(sandbox, http):
    xml = ('<Patient xmlns="http://hl7.org/fhir"><name><family value="LEROY"/><given value="Anne"/></name>'
           '<gender value="female"/></Patient>')
    created = http.post(f"{sandbox.base_url}/Patient", data=xml.encode(),
                        headers={"Content-Type": "application/fhir+xml", "Accept": "application/fhir+xml"})
    assert created.status_code == 201
    assert created.headers["Content-Type"].startswith("application/fhir+xml")
    assert "<family value=\"LEROY\"/>" in created.text
    as_json = http.get(created.headers["Location"].split("/_history")[0])
    assert as_json.json()["name"][0]["family"] == "LEROY"
    bad = http.post(f"{sandbox.base_url}/Patient", data=b"<Patient", headers={"Content-Type": "application/fhir+xml"})
    assert bad.status_code == 400
    outcome_of(bad)
    formatted = http.get(f"{sandbox.base_url}/Patient/pat-dupont?_format=xml")
    assert formatted.text.startswith("<Patient")


def test_without_the_r4_package_the_sandbox_does_not_start(tmp_path, monkeypatch):
    monkeypatch.delenv("MES_FHIR_PACKAGES", raising=False)
    monkeypatch.setenv("MES_OFFLINE", "1")
    monkeypatch.setenv("FHIR_PACKAGE_CACHE", str(tmp_path / "cache"))
    server = Sandbox(packages=[tmp_path])
    with pytest.raises(PackageError, match=r"sandbox needs hl7\.fhir\.r4\.core.*mes packages install"):
        server.start()
    assert server.base_url == "" and server.store is None


def test_unknown_defect_is_a_config_error():
    with pytest.raises(ConfigError, match="missing-total"):
        Sandbox(defects=["no-such-defect"])


def test_defects_are_described_on_one_line():
    assert len(DEFECTS) >= 15
    assert all(description and "\n" not in description for description in DEFECTS.values())


def test_if_none_match_head_and_options(sandbox, http):
    url = f"{sandbox.base_url}/Patient/pat-moreau"
    etag = http.get(url).headers["ETag"]
    assert http.get(url, headers={"If-None-Match": etag}).status_code == 304
    head = http.head(url)
    assert head.status_code == 200 and head.content == b"" and int(head.headers["Content-Length"]) > 0
    options = http.options(f"{sandbox.base_url}/Patient")
    assert options.status_code == 405
    outcome_of(options)


def test_batch_reports_each_entry(fresh, http):
    batch = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": dict(PATIENT), "request": {"method": "POST", "url": "Patient"}},
        {"request": {"method": "GET", "url": "Patient/nobody"}},
        {"request": {"method": "GET", "url": "Patient/pat-dupont"}},
    ]}
    answer = http.post(fresh.base_url, json=batch).json()
    assert answer["type"] == "batch-response"
    assert [e["response"]["status"][:3] for e in answer["entry"]] == ["201", "404", "200"]
    assert answer["entry"][1]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert answer["entry"][2]["resource"]["id"] == "pat-dupont"


def test_transaction_with_put_conditional_create_and_delete(fresh, http):
    transaction = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:0a0a0a0a-0000-4000-8000-000000000001", "resource": dict(PATIENT),
         "request": {"method": "POST", "url": "Patient", "ifNoneExist": "identifier=https://example.org/ipp|IPP-T"}},
        {"resource": dict(PATIENT, id="tx-put"), "request": {"method": "PUT", "url": "Patient/tx-put"}},
        {"request": {"method": "DELETE", "url": "RelatedPerson/rp-lefebvre-mere"}},
    ]}
    transaction["entry"][0]["resource"]["identifier"] = [{"system": "https://example.org/ipp", "value": "IPP-T"}]
    answer = http.post(fresh.base_url, json=transaction)
    assert answer.status_code == 200, answer.text
    statuses = [e["response"]["status"] for e in answer.json()["entry"]]
    assert statuses == ["201 Created", "201 Created", "204 No Content"]
    assert http.get(f"{fresh.base_url}/RelatedPerson/rp-lefebvre-mere").status_code == 410
    again = http.post(fresh.base_url, json={**transaction, "entry": transaction["entry"][:1]}).json()
    assert again["entry"][0]["response"]["status"] == "200 OK"


def test_conditional_delete_deletes_the_one_match(fresh, http):
    base, ipp = fresh.base_url, "https://example.org/ipp"
    for value in ("IPP-D1", "IPP-D2", "IPP-D2"):
        created = http.post(f"{base}/Patient", json={**PATIENT, "identifier": [{"system": ipp, "value": value}]})
        assert created.status_code == 201, created.text
    one = http.delete(f"{base}/Patient", params={"identifier": f"{ipp}|IPP-D1"})
    assert one.status_code == 204
    assert http.get(f"{base}/Patient", params={"identifier": f"{ipp}|IPP-D1"}).json()["total"] == 0
    assert http.delete(f"{base}/Patient", params={"identifier": f"{ipp}|IPP-D1"}).status_code == 404
    two = http.delete(f"{base}/Patient", params={"identifier": f"{ipp}|IPP-D2"})
    assert two.status_code == 412 and "match 2 Patient" in outcome_of(two)["issue"][0]["diagnostics"]
    assert http.get(f"{base}/Patient", params={"identifier": f"{ipp}|IPP-D2"}).json()["total"] == 2


def _patient_at_version_2(http, base: str, ipp: str) -> str:
    created = http.post(f"{base}/Patient", json={**PATIENT, "identifier": [{"system": "https://example.org/ipp",
                                                                             "value": ipp}]})
    assert created.status_code == 201, created.text
    patient = created.json()
    assert http.put(f"{base}/Patient/{patient['id']}", json={**patient, "gender": "other"}).status_code == 200
    return patient["id"]


@pytest.mark.parametrize("conditional", [False, True], ids=["plain", "conditional"])
def test_delete_with_an_if_match_of_another_version_is_412_and_deletes_nothing(fresh, http, conditional):
    """FHIR R4 http.html#concurrency: a version-aware delete; If-Match naming the current version deletes."""
    base, ipp = fresh.base_url, f"IPP-IFM-{conditional}"
    pid = _patient_at_version_2(http, base, ipp)
    target = (f"{base}/Patient", {"identifier": f"https://example.org/ipp|{ipp}"}) if conditional \
        else (f"{base}/Patient/{pid}", {})
    stale = http.delete(target[0], params=target[1], headers={"If-Match": 'W/"1"'})
    assert stale.status_code == 412
    assert "W/\"2\"" in outcome_of(stale)["issue"][0]["diagnostics"]
    assert http.get(f"{base}/Patient/{pid}").status_code == 200
    current = http.delete(target[0], params=target[1], headers={"If-Match": 'W/"2"'})
    assert current.status_code == 204, current.text
    assert http.get(f"{base}/Patient/{pid}").status_code == 410


def test_a_transaction_entry_with_an_if_match_of_another_version_fails_the_transaction(fresh, http):
    base = fresh.base_url
    pid = _patient_at_version_2(http, base, "IPP-IFM-TX")
    patch = {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
        {"name": "type", "valueCode": "replace"}, {"name": "path", "valueString": "Patient.gender"},
        {"name": "value", "valueCode": "female"}]}]}
    for method, extra in (("DELETE", {}), ("PATCH", {"resource": patch})):
        stale = {"resourceType": "Bundle", "type": "transaction", "entry": [
            {**extra, "request": {"method": method, "url": f"Patient/{pid}", "ifMatch": 'W/"1"'}}]}
        response = http.post(base, json=stale)
        assert response.status_code == 412, (method, response.text)
        assert outcome_of(response)["issue"][0]["expression"] == ["Bundle.entry[0]"]
        assert http.get(f"{base}/Patient/{pid}").json()["meta"]["versionId"] == "2"
    current = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"request": {"method": "DELETE", "url": f"Patient/{pid}", "ifMatch": 'W/"2"'}}]}
    assert http.post(base, json=current).status_code == 200
    assert http.get(f"{base}/Patient/{pid}").status_code == 410


def test_unknown_include_is_400(sandbox, http):
    response = http.get(f"{sandbox.base_url}/Slot", params={"_include": "Slot:status", "identifier": "none"})
    assert response.status_code == 400
    outcome_of(response)


def test_python_module_entry_point_lists_defects():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "pytest_mes.sandbox", "--list-defects"], capture_output=True,
                         text=True, check=True).stdout
    assert "missing-total" in out


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
