"""Each named defect changes the server's behaviour exactly as its description says.

A probe observes one behaviour; it must give the conformant value on a sandbox without defects
and the defective value on a sandbox started with the defect.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
import requests

from pytest_mes.sandbox import DEFECTS, Sandbox
from pytest_mes.sandbox.seed import PARIS, working_days

from .conftest import INS, R38, SHARED_PACKAGES
from .test_pdsm import provide_bundle

Probe = Callable[[str], Any]
JSON_PATCH = {"Content-Type": "application/json-patch+json"}


def _create_status(base: str) -> int:
    return requests.post(f"{base}/Patient", json={"resourceType": "Patient"}).status_code


def _has_location(base: str) -> bool:
    return "Location" in requests.post(f"{base}/Patient", json={"resourceType": "Patient"}).headers


def _content_type(base: str) -> str:
    return requests.get(f"{base}/Patient/pat-dupont").headers["Content-Type"].split(";")[0]


def _has_etag(base: str) -> bool:
    return "ETag" in requests.get(f"{base}/Patient/pat-dupont").headers


def _deleted_read(base: str) -> int:
    requests.delete(f"{base}/Patient/pat-lefebvre")
    return requests.get(f"{base}/Patient/pat-lefebvre").status_code


def _error_body(base: str) -> str:
    response = requests.get(f"{base}/Patient/nobody")
    try:
        return response.json()["resourceType"]
    except ValueError:
        return "not FHIR"


def _patch_description(base: str) -> int:
    target = {"identifier": "urn:ietf:rfc:3986|urn:oid:1.2.250.1.999.1.1.3"}
    return requests.patch(f"{base}/DocumentReference", params=target, headers=JSON_PATCH,
                          json=[{"op": "replace", "path": "/description", "value": "x"}]).status_code


def _binary_png(base: str) -> int:
    return requests.get(f"{base}/Binary/bin-dupont-ordonnance", headers={"Accept": "image/png"}).status_code


def _conditional_update(base: str) -> tuple[int, bool]:
    current = requests.get(f"{base}/Appointment/rdv-dupont-petit").json()
    current.pop("id")
    response = requests.put(f"{base}/Appointment",
                            params={"identifier": "https://sandbox.pytest-mes.fr/appointment|RDV-0004"}, json=current)
    return response.status_code, response.json()["id"] == "rdv-dupont-petit"


def _slot_statuses(base: str) -> set[str]:
    bundle = requests.get(f"{base}/Slot", params={"status": "busy-unavailable", "_count": "500"}).json()
    return {e["resource"]["status"] for e in bundle["entry"]}


def _slots_from_second_day(base: str) -> int:
    second = working_days(datetime.now(PARIS).date(), 15)[1]
    return requests.get(f"{base}/Slot", params={"schedule": "sched-martin", "start": f"ge{second.isoformat()}",
                                                "_summary": "count"}).json()["total"]


def _chained_total(base: str) -> int:
    return requests.get(f"{base}/Slot", params={"schedule.actor:PractitionerRole.specialty": f"{R38}|SM54",
                                                "_summary": "count"}).json()["total"]


def _included(base: str) -> set[str]:
    bundle = requests.get(f"{base}/Slot", params=[("schedule", "sched-martin"), ("_count", "3"),
                                                  ("_include", "Slot:schedule"), ("_include", "Schedule:actor")]).json()
    return {e["resource"]["resourceType"] for e in bundle["entry"] if e["resource"]["resourceType"] != "Slot"}


def _documents_of_moreau(base: str) -> int:
    return requests.get(f"{base}/DocumentReference", params={"patient.identifier": f"{INS}|179061305512365"}
                        ).json()["total"]


def _bundle_type(base: str) -> str:
    return requests.get(f"{base}/Slot", params={"_count": "1"}).json()["type"]


def _has_total(base: str) -> bool:
    return "total" in requests.get(f"{base}/Slot", params={"_count": "1"}).json()


def _include_modes(base: str) -> set[str]:
    bundle = requests.get(f"{base}/Slot", params={"schedule": "sched-martin", "_count": "1",
                                                  "_include": "Slot:schedule"}).json()
    return {e["search"]["mode"] for e in bundle["entry"]}


def _has_next(base: str) -> bool:
    bundle = requests.get(f"{base}/Slot", params={"_count": "10"}).json()
    return any(link["relation"] == "next" for link in bundle["link"])


def _expected_order(_base: str = "") -> list[str]:
    return ["List", "DocumentReference", "Binary"]


def _transaction_types(base: str) -> list[str]:
    bundle, _ = provide_bundle()
    answer = requests.post(base, json=bundle).json()
    return [e["response"].get("location", "?").split("/")[0] for e in answer["entry"]]


def _after_failed_transaction(base: str) -> int:
    bundle, _ = provide_bundle()
    bundle["entry"].append({"resource": {"resourceType": "Slot", "status": "free"},
                            "request": {"method": "POST", "url": "Slot"}})
    status = requests.post(base, json=bundle).status_code
    assert status == 422
    return requests.get(f"{base}/List", params={"_summary": "count"}).json()["total"]


def _entry_has_location(base: str) -> bool:
    bundle, _ = provide_bundle()
    answer = requests.post(base, json=bundle).json()
    return all("location" in e["response"] and e["response"]["status"].startswith("201") for e in answer["entry"])


def _slot_has_end(base: str) -> bool:
    day = working_days(datetime.now(PARIS).date(), 15)[0]
    return "end" in requests.get(f"{base}/Slot/slot-martin-{day:%Y%m%d}-0930").json()


def _specialty_system(base: str) -> str:
    return requests.get(f"{base}/Schedule/sched-martin").json()["specialty"][0]["coding"][0]["system"]


def _has_master_identifier(base: str) -> bool:
    return "masterIdentifier" in requests.get(f"{base}/DocumentReference/doc-moreau-cr-cardio").json()


def _slot_search_declared(base: str) -> bool:
    cs = requests.get(f"{base}/metadata").json()
    slot = next(r for r in cs["rest"][0]["resource"] if r["type"] == "Slot")
    return "search-type" in {i["code"] for i in slot["interaction"]}


def _total(base: str, type_: str, params: dict[str, str]) -> int:
    return requests.get(f"{base}/{type_}", params={**params, "_summary": "count"}).json()["total"]


def _appointments_of_priority_99(base: str) -> int:
    return _total(base, "Appointment", {"priority": "99"})


def _slots_of_unknown_identifier(base: str) -> int:
    return _total(base, "Slot", {"identifier": "https://sandbox.pytest-mes.fr/slot|none"})


def _documents_of_unknown_type(base: str) -> int:
    return _total(base, "DocumentReference", {"type": "http://loinc.org|00000-0"})


def _lists_titled_zzz(base: str) -> int:
    return _total(base, "List", {"title": "zzz"})


def _patients_named_upon(base: str) -> int:
    return _total(base, "Patient", {"family": "UPON"})  # inside DUPONT, not at its start


def _dupont_born_before_her_birthday(base: str) -> int:
    return _total(base, "Patient", {"family": "DUPONT", "birthdate": "lt1985-03-12"})


def _gender_after_update(base: str) -> str:
    patient = requests.get(f"{base}/Patient/pat-moreau").json()
    requests.put(f"{base}/Patient/pat-moreau", json={**patient, "gender": "other"})
    return requests.get(f"{base}/Patient/pat-moreau").json()["gender"]


def _update_with_other_id(base: str) -> int:
    return requests.put(f"{base}/Patient/probe-a", json={"resourceType": "Patient", "id": "probe-b"}).status_code


def _device_create(base: str) -> int:
    return requests.post(f"{base}/Device", json={"resourceType": "Device", "status": "active"}).status_code


def _list_read(base: str) -> int:
    return requests.get(f"{base}/List/ss-dupont-1").status_code


def _docref_conditional_update(base: str) -> int:
    target = {"identifier": "urn:ietf:rfc:3986|urn:oid:1.2.250.1.999.1.1.3"}
    stored = requests.get(f"{base}/DocumentReference", params=target).json()["entry"][0]["resource"]
    return requests.put(f"{base}/DocumentReference", params=target, json=stored).status_code


def _status_after_transaction_patch(base: str) -> str:
    patch = {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
        {"name": "type", "valueCode": "replace"}, {"name": "path", "valueString": "DocumentReference.status"},
        {"name": "value", "valueCode": "superseded"}]}]}
    requests.post(base, json={"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": patch, "request": {"method": "PATCH", "url": "DocumentReference/doc-moreau-cr-cardio"}}]})
    return requests.get(f"{base}/DocumentReference/doc-moreau-cr-cardio").json()["status"]


CASES: dict[str, tuple[Probe, Any, Any]] = {
    # defect: (probe, conformant value, defective value)
    "create-returns-200": (_create_status, 201, 200),
    "no-location-header": (_has_location, True, False),
    "non-fhir-content-type": (_content_type, "application/fhir+json", "text/plain"),
    "no-etag": (_has_etag, True, False),
    "deleted-read-404": (_deleted_read, 410, 404),
    "error-without-outcome": (_error_body, "OperationOutcome", "not FHIR"),
    "patch-any-field": (_patch_description, 405, 200),
    "binary-ignores-accept": (_binary_png, 406, 200),
    "conditional-update-duplicates": (_conditional_update, (200, True), (201, False)),
    "ignore-slot-status": (_slot_statuses, {"busy-unavailable"}, {"busy-unavailable", "busy", "free"}),
    "date-prefix-ignored": (_slots_from_second_day, 84, 6),  # ge read as eq: only that day
    "chain-ignored": (_chained_total, 90, 270),
    "ignore-include": (_included, {"Schedule", "PractitionerRole", "Practitioner"}, set()),
    "patient-identifier-ignored": (_documents_of_moreau, 1, 3),
    "wrong-bundle-type": (_bundle_type, "searchset", "collection"),
    "missing-total": (_has_total, True, False),
    "include-as-match": (_include_modes, {"match", "include"}, {"match"}),
    "no-next-link": (_has_next, True, False),
    "transaction-response-reversed": (_transaction_types, _expected_order(),
                                      list(reversed(_expected_order()))),
    "non-atomic-transaction": (_after_failed_transaction, 2, 3),
    "transaction-no-location": (_entry_has_location, True, False),
    "slot-without-end": (_slot_has_end, True, False),
    "specialty-wrong-system": (_specialty_system, R38, "https://mos.esante.gouv.fr/NOS/TRE_R38-SpecialiteOrdinale"),
    "docref-without-masterid": (_has_master_identifier, True, False),
    "capability-without-slot-search": (_slot_search_declared, True, False),
    "appointment-params-ignored": (_appointments_of_priority_99, 0, 4),
    "slot-identifier-ignored": (_slots_of_unknown_identifier, 0, 270),
    "docref-params-ignored": (_documents_of_unknown_type, 0, 3),
    "list-params-ignored": (_lists_titled_zzz, 0, 2),
    "string-matches-anywhere": (_patients_named_upon, 0, 1),
    "date-bound-inclusive": (_dupont_born_before_her_birthday, 0, 1),
    "update-ignored": (_gender_after_update, "other", "male"),
    "update-id-mismatch-accepted": (_update_with_other_id, 400, 201),
    "resource-writes-refused": (_device_create, 201, 405),
    "list-read-refused": (_list_read, 200, 405),
    "docref-conditional-update-refused": (_docref_conditional_update, 200, 405),
    "replacement-keeps-current": (_status_after_transaction_patch, "superseded", "current"),
}


def test_every_defect_has_a_test():
    assert set(CASES) == set(DEFECTS)


@pytest.mark.parametrize("defect", sorted(CASES))
def test_defect_changes_behaviour(defect):
    probe, good, bad = CASES[defect]
    with Sandbox(packages=[SHARED_PACKAGES]) as conformant:
        assert probe(conformant.base_url) == good, "the conformant sandbox does not behave as expected"
    with Sandbox(defects=[defect], packages=[SHARED_PACKAGES]) as broken:
        assert probe(broken.base_url) == bad
