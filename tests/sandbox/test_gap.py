"""GAP flows against the sandbox: availability search (4a), appointments (4b, 6a, 6b), agendas (2, 3)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import requests

from pytest_mes.sandbox.seed import PARIS, working_days

from .conftest import FHIR_JSON, INS, R38
from .test_pdsm import post_bundle

SLOT_SYSTEM = "https://sandbox.pytest-mes.fr/slot"
APPOINTMENT_SYSTEM = "https://sandbox.pytest-mes.fr/appointment"


def days() -> list:
    return working_days(datetime.now(PARIS).date(), 15)


def search(base: str, type_: str, params) -> dict:
    response = requests.get(f"{base}/{type_}", params=params, headers={"Accept": FHIR_JSON})
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
    return bundle


def resources(bundle: dict, mode: str = "match") -> list[dict]:
    return [e["resource"] for e in bundle.get("entry", []) if e["search"]["mode"] == mode]


def test_availability_search_like_the_gap_example(sandbox):
    first, last = days()[0], days()[4]
    bundle = search(sandbox.base_url, "Slot", [
        ("_include", "Slot:schedule"), ("_include", "Schedule:actor"),
        ("start", f"ge{first.isoformat()}"), ("start", f"le{last.isoformat()}"),
        ("schedule.actor:PractitionerRole.specialty", f"{R38}|SM54"),
        ("status", "free"),
    ])
    slots = resources(bundle)
    assert slots and bundle["total"] == len(slots)
    assert all(s["status"] == "free" and s["schedule"]["reference"] == "Schedule/sched-martin" for s in slots)
    assert all(first.isoformat() <= s["start"][:10] <= last.isoformat() for s in slots)
    included = {(r["resourceType"], r["id"]) for r in resources(bundle, "include")}
    expected = {("Schedule", "sched-martin"), ("PractitionerRole", "role-martin"), ("Practitioner", "pr-martin")}
    assert expected <= included
    assert bundle["meta"]["profile"] == [
        "https://interop.esante.gouv.fr/ig/fhir/gap/StructureDefinition/gap-bundle-reponse-demande-consult-dispo"
    ]
    assert all(e["fullUrl"].startswith(sandbox.base_url) for e in bundle["entry"])


def test_start_prefixes(sandbox):
    day = days()[1]
    base = sandbox.base_url
    schedule = ("schedule", "Schedule/sched-bernard")
    same_day = search(base, "Slot", [schedule, ("start", day.isoformat())])
    assert same_day["total"] == 6
    after = search(base, "Slot", [schedule, ("start", f"gt{day.isoformat()}")])
    from_day = search(base, "Slot", [schedule, ("start", f"ge{day.isoformat()}")])
    before = search(base, "Slot", [schedule, ("start", f"lt{day.isoformat()}")])
    up_to = search(base, "Slot", [schedule, ("start", f"le{day.isoformat()}")])
    assert from_day["total"] == after["total"] + 6
    assert up_to["total"] == before["total"] + 6
    assert before["total"] + from_day["total"] == 90
    exact = datetime.combine(day, datetime.min.time().replace(hour=10), PARIS).isoformat()
    at_ten = search(base, "Slot", [schedule, ("start", exact)])
    assert [s["start"] for s in resources(at_ten)] == [exact]


def test_slot_identifier_status_and_schedule_identifier_chain(sandbox):
    base = sandbox.base_url
    slot_id = f"slot-petit-{days()[0]:%Y%m%d}-0900"
    found = search(base, "Slot", {"identifier": f"{SLOT_SYSTEM}|{slot_id}"})
    assert [s["id"] for s in resources(found)] == [slot_id]
    unavailable = search(base, "Slot", {"status": "busy-unavailable", "schedule": "sched-petit"})
    assert unavailable["total"] == 3 and all(s["status"] == "busy-unavailable" for s in resources(unavailable))
    by_practitioner = search(base, "Slot", {"schedule.actor:Practitioner.identifier":
                                            "https://rpps.esante.gouv.fr|10003622153", "_count": "200"})
    assert by_practitioner["total"] == 90
    by_location = search(base, "Slot", {"schedule.actor:PractitionerRole.location.address": "Nantes",
                                        "_summary": "count"})
    assert by_location["total"] == 90 and "entry" not in by_location


def test_paging_with_count_and_next_links(sandbox):
    bundle = search(sandbox.base_url, "Slot", {"schedule": "sched-martin", "_count": "40"})
    assert bundle["total"] == 90 and len(bundle["entry"]) == 40
    seen = [e["resource"]["id"] for e in bundle["entry"]]
    while any(link["relation"] == "next" for link in bundle["link"]):
        next_url = next(link["url"] for link in bundle["link"] if link["relation"] == "next")
        bundle = requests.get(next_url).json()
        seen += [e["resource"]["id"] for e in bundle["entry"]]
    assert len(seen) == len(set(seen)) == 90


def test_unknown_parameter_is_reported_or_refused(sandbox):
    bundle = search(sandbox.base_url, "Slot", {"schedule": "sched-martin", "colour": "blue"})
    assert bundle["total"] == 90
    outcomes = resources(bundle, "outcome")
    assert outcomes and "colour" in outcomes[0]["issue"][0]["diagnostics"]
    strict = requests.get(f"{sandbox.base_url}/Slot", params={"colour": "blue"},
                          headers={"Prefer": "handling=strict"})
    assert strict.status_code == 400 and strict.json()["resourceType"] == "OperationOutcome"


def test_appointment_search_parameters(sandbox):
    base = sandbox.base_url
    by_identifier = search(base, "Appointment", {"identifier": f"{APPOINTMENT_SYSTEM}|RDV-0001"})
    assert [a["id"] for a in resources(by_identifier)] == ["rdv-dupont-martin"]
    assert by_identifier["meta"]["profile"][0].endswith("gap-bundle-reponse-demande-consult-rdv")
    by_patient = search(base, "Appointment", {"patient.identifier": f"{INS}|285037511604233", "status": "booked"})
    assert [a["id"] for a in resources(by_patient)] == ["rdv-dupont-martin"]
    by_actor = search(base, "Appointment", {"actor:Practitioner.identifier": "https://rpps.esante.gouv.fr|10003627782"})
    assert {a["id"] for a in resources(by_actor)} >= {"rdv-lefebvre-petit", "rdv-dupont-petit"}
    assert resources(search(base, "Appointment", {"description": "consultation", "priority": "5",
                                                  "identifier": f"{APPOINTMENT_SYSTEM}|RDV-0002"}))
    dated = search(base, "Appointment", [("date", f"ge{days()[0].isoformat()}"), ("identifier", "RDV-0003"),
                                         ("_include", "Appointment:actor")])
    assert resources(dated) and {r["resourceType"] for r in resources(dated, "include")} >= {"Patient", "Practitioner"}


def _appointment(slot: dict, number: str, status: str = "booked") -> dict:
    return {
        "resourceType": "Appointment",
        "meta": {"profile": ["https://interop.esante.gouv.fr/ig/fhir/gap/StructureDefinition/gap-fr-appointment"]},
        "identifier": [{"system": APPOINTMENT_SYSTEM, "value": number}],
        "status": status,
        "start": slot["start"], "end": slot["end"],
        "slot": [{"reference": f"Slot/{slot['id']}"}],
        "participant": [
            {"actor": {"reference": "Patient/pat-moreau"}, "status": "accepted"},
            {"actor": {"reference": "PractitionerRole/role-martin"}, "status": "accepted"},
        ],
    }


def test_book_update_and_cancel_an_appointment(fresh):
    base = fresh.base_url
    slot = resources(search(base, "Slot", {"schedule": "sched-martin", "status": "free", "_count": "1"}))[0]
    created = requests.post(f"{base}/Appointment", json=_appointment(slot, "RDV-NEW-1"))
    assert created.status_code == 201 and "Location" in created.headers
    assert requests.get(f"{base}/Slot/{slot['id']}").json()["status"] == "busy"

    # Flow 6b: conditional update by identifier -> 200 on the same resource.
    changed = _appointment(slot, "RDV-NEW-1", status="cancelled")
    updated = requests.put(f"{base}/Appointment", params={"identifier": f"{APPOINTMENT_SYSTEM}|RDV-NEW-1"},
                           json=changed)
    assert updated.status_code == 200
    assert updated.json()["id"] == created.json()["id"] and updated.json()["meta"]["versionId"] == "2"
    assert requests.get(f"{base}/Slot/{slot['id']}").json()["status"] == "free"

    fresh_one = requests.put(f"{base}/Appointment", params={"identifier": f"{APPOINTMENT_SYSTEM}|RDV-NEW-2"},
                             json=_appointment(slot, "RDV-NEW-2", status="proposed"))
    assert fresh_one.status_code == 201
    requests.post(f"{base}/Appointment", json=_appointment(slot, "RDV-NEW-2", status="proposed"))
    ambiguous = requests.put(f"{base}/Appointment", params={"identifier": f"{APPOINTMENT_SYSTEM}|RDV-NEW-2"},
                             json=_appointment(slot, "RDV-NEW-2", status="proposed"))
    assert ambiguous.status_code == 412 and ambiguous.json()["resourceType"] == "OperationOutcome"


def test_schedule_lifecycle_and_availability_patch(fresh):
    base = fresh.base_url
    schedule = requests.get(f"{base}/Schedule/sched-petit").json()
    schedule.pop("id")
    created = requests.post(f"{base}/Schedule", json=schedule)
    assert created.status_code == 201
    sid = created.json()["id"]
    start = datetime.combine(days()[5], datetime.min.time().replace(hour=14), PARIS)
    availability = {
        "url": "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-schedule-availability-time",
        "extension": [
            {"url": "identifier", "valueIdentifier": {"value": "indispo-1"}},
            {"url": "type", "valueCoding": {"system": "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-schedule-type",
                                            "code": "busy-unavailable"}},
            {"url": "start", "valueDateTime": start.isoformat()},
            {"url": "end", "valueDateTime": (start + timedelta(hours=2)).isoformat()},
        ],
    }
    patched = requests.patch(f"{base}/Schedule/{sid}", json=[{"op": "add", "path": "/extension/-",
                                                             "value": availability}],
                             headers={"Content-Type": "application/json-patch+json"})
    assert patched.status_code == 200
    assert patched.json()["extension"][-1]["extension"][0]["valueIdentifier"]["value"] == "indispo-1"
    fhirpath_patch = {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
        {"name": "type", "valueCode": "delete"},
        {"name": "path", "valueString": "Schedule.extension.where(url='https://hl7.fr/ig/fhir/core/"
                                        "StructureDefinition/fr-core-service-type-duration')"},
    ]}]}
    removed = requests.patch(f"{base}/Schedule/{sid}", json=fhirpath_patch, headers={"Content-Type": FHIR_JSON})
    assert removed.status_code == 200 and len(removed.json()["extension"]) == 2
    incomplete = dict(availability, extension=availability["extension"][:2])
    refused = requests.patch(f"{base}/Schedule/{sid}", json=[{"op": "add", "path": "/extension/-",
                                                             "value": incomplete}],
                             headers={"Content-Type": "application/json-patch+json"})
    assert refused.status_code == 422
    assert requests.delete(f"{base}/Schedule/{sid}").status_code in (200, 204)
    assert requests.get(f"{base}/Schedule/{sid}").status_code == 410


def test_gap_resource_manager_types(fresh):
    """Flow 1a/1b/1c: create, update, delete of each agenda resource type."""
    base = fresh.base_url
    for type_, seed_id in [("Practitioner", "pr-martin"), ("PractitionerRole", "role-martin"),
                           ("Organization", "org-cds-pasteur"), ("Location", "loc-pasteur-rdc"),
                           ("HealthcareService", "hs-pasteur-mg"), ("RelatedPerson", "rp-lefebvre-mere"),
                           ("Device", "dev-ecg-parc"), ("Patient", "pat-moreau")]:
        body = requests.get(f"{base}/{type_}/{seed_id}").json()
        body.pop("id")
        created = requests.post(f"{base}/{type_}", json=body)
        assert created.status_code == 201, (type_, created.text)
        new = created.json()
        assert requests.put(f"{base}/{type_}/{new['id']}", json=new).status_code == 200
        assert requests.delete(f"{base}/{type_}/{new['id']}").status_code in (200, 204)


def test_search_modifiers_sort_elements_revinclude_and_near(sandbox):
    base = sandbox.base_url
    assert resources(search(base, "Patient", {"family:exact": "MOREAU"}))[0]["id"] == "pat-moreau"
    assert not resources(search(base, "Patient", {"family:exact": "moreau"}))
    assert resources(search(base, "Patient", {"name:contains": "febv"}))[0]["id"] == "pat-lefebvre"
    assert resources(search(base, "Patient", {"given": "chloe"}))[0]["id"] == "pat-lefebvre"  # accents folded
    assert search(base, "Appointment", {"status:not": "booked"})["total"] == 1
    assert search(base, "Device", {"patient:missing": "true"})["total"] == 1
    newest_first = resources(search(base, "Patient", {"_sort": "-birthdate"}))
    assert [p["id"] for p in newest_first][:3] == ["pat-lefebvre", "pat-dupont", "pat-moreau"]
    trimmed = resources(search(base, "Patient", {"_id": "pat-dupont", "_elements": "gender"}))[0]
    assert set(trimmed) <= {"resourceType", "id", "meta", "gender"}
    with_slots = search(base, "Schedule", {"_id": "sched-bernard", "_revinclude": "Slot:schedule"})
    assert len(resources(with_slots, "include")) == 90
    near_lyon = search(base, "Location", {"near": "45.75|4.85|5|km"})
    assert {r["id"] for r in resources(near_lyon)} == {"loc-pasteur-rdc", "loc-pasteur-etage1"}
    assert search(base, "Slot", {"schedule.actor:HealthcareService.name": "x", "_summary": "count"})["total"] == 0


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


def test_deleting_an_appointment_frees_its_slot_in_a_transaction_too(fresh):
    """A DELETE entry of a transaction has the side effects of DELETE [base]/Appointment/id."""
    base = fresh.base_url
    for way in ("direct", "transaction"):
        slot = _free_slot(base)
        booked = requests.post(f"{base}/Appointment", json=_appointment(slot, f"RDV-DEL-{way}")).json()
        assert requests.get(f"{base}/Slot/{slot['id']}").json()["status"] == "busy"
        if way == "direct":
            assert requests.delete(f"{base}/Appointment/{booked['id']}").status_code == 204
        else:
            bundle = {"resourceType": "Bundle", "type": "transaction",
                      "entry": [{"request": {"method": "DELETE", "url": f"Appointment/{booked['id']}"}}]}
            assert post_bundle(base, bundle).status_code == 200
        assert requests.get(f"{base}/Appointment/{booked['id']}").status_code == 410
        assert requests.get(f"{base}/Slot/{slot['id']}").json()["status"] == "free", way


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
