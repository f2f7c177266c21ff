"""GAP (Gestion d'Agendas Partagés) rules: what a Gestionnaire d'agenda checks and keeps consistent.

The checks are the structural rules of FR Core / GAP a server cannot store without (cardinality
1..1 of Slot.schedule, status, start, end; Appointment.participant; Schedule.actor), required
bindings of status codes, and the order of start and end. Violations answer 422 with an
OperationOutcome whose expression names the element (ci-sis.md §2.1, §2.2).
"""

from __future__ import annotations

import copy
from typing import Any

from pytest_mes.sandbox.matching import date_range, reference_key
from pytest_mes.sandbox.outcome import FhirError
from pytest_mes.sandbox.store import Entry, Store

SLOT_STATUS = frozenset({"busy", "free", "busy-unavailable", "busy-tentative", "entered-in-error"})
APPOINTMENT_STATUS = frozenset({
    "proposed", "pending", "booked", "arrived", "fulfilled", "cancelled", "noshow", "entered-in-error",
    "checked-in", "waitlist",
})
PARTICIPATION_STATUS = frozenset({"accepted", "declined", "tentative", "needs-action"})
AVAILABILITY_TIME_URL = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-schedule-availability-time"

# Appointment statuses that hold their slots (http://hl7.org/fhir/R4/appointment.html#statuses).
_HOLDS_SLOT = frozenset({"booked", "arrived", "fulfilled", "checked-in", "pending"})


def _invalid(message: str, expression: str) -> FhirError:
    return FhirError(422, message, "invalid", expression=expression)


def _require(resource: dict[str, Any], type_: str, *elements: str) -> None:
    for element in elements:
        if resource.get(element) in (None, "", []):
            raise FhirError(422, f"{type_}.{element} is required (1..)", "required", expression=f"{type_}.{element}")


def _check_period(resource: dict[str, Any], type_: str) -> None:
    start, end = resource.get("start"), resource.get("end")
    for name, value in (("start", start), ("end", end)):
        if value is not None and (not isinstance(value, str) or date_range(value) is None):
            raise _invalid(f"{type_}.{name} is not a valid instant: {value!r}", f"{type_}.{name}")
    if start and end and date_range(end)[0] < date_range(start)[0]:  # type: ignore[index]
        raise _invalid(f"{type_}.end ({end}) is before {type_}.start ({start})", f"{type_}.end")


def validate(type_: str, resource: dict[str, Any]) -> None:
    """Refuse (422) a GAP resource the server cannot meaningfully store."""
    if type_ == "Slot":
        _require(resource, "Slot", "schedule", "status", "start", "end")
        if resource["status"] not in SLOT_STATUS:
            raise _invalid(f"Slot.status {resource['status']!r} is not in http://hl7.org/fhir/ValueSet/slotstatus",
                           "Slot.status")
        _check_period(resource, "Slot")
    elif type_ == "Appointment":
        _require(resource, "Appointment", "status", "participant")
        if resource["status"] not in APPOINTMENT_STATUS:
            raise _invalid(f"Appointment.status {resource['status']!r} is not in "
                           "http://hl7.org/fhir/ValueSet/appointmentstatus", "Appointment.status")
        for i, participant in enumerate(resource["participant"]):
            if participant.get("status") not in PARTICIPATION_STATUS:
                raise _invalid("Appointment.participant.status is required, one of "
                               f"{', '.join(sorted(PARTICIPATION_STATUS))}",
                               f"Appointment.participant[{i}].status")
        _check_period(resource, "Appointment")
    elif type_ == "Schedule":
        _require(resource, "Schedule", "actor")
        if resource.get("serviceType"):
            raise _invalid("Schedule.serviceType is 0..0 in fr-core-schedule: use the "
                           "fr-core-service-type-duration extension", "Schedule.serviceType")
        for i, ext in enumerate(resource.get("extension", [])):
            if ext.get("url") == AVAILABILITY_TIME_URL:
                names = {e.get("url") for e in ext.get("extension", [])}
                missing = {"type", "start", "end", "identifier"} - names
                if missing:
                    raise _invalid(f"The availabilityTime extension lacks {', '.join(sorted(missing))} "
                                   "(fr-core-schedule-availability-time)", f"Schedule.extension[{i}]")


def _slot_ids(resource: dict[str, Any] | None) -> set[str]:
    if not resource or resource.get("status") not in _HOLDS_SLOT:
        return set()
    ids = set()
    for ref in resource.get("slot", []):
        key = reference_key(ref.get("reference", "")) if isinstance(ref, dict) else None
        if key and key[0] == "Slot":
            ids.add(key[1])
    return ids


def after_write(store: Store, entry: Entry, previous: Entry | None) -> None:
    """Keep Slot.status consistent with the Appointments that book it.

    A booked Appointment makes its free Slots busy; cancelling or deleting it frees them again,
    as a Gestionnaire d'agenda does so that availability searches (flow 4a) stay truthful.
    """
    if entry.type != "Appointment":
        return
    before = _slot_ids(previous.resource if previous else None)
    after = _slot_ids(entry.resource)
    for slot_id, status_from, status_to in (
        *((s, "free", "busy") for s in after - before),
        *((s, "busy", "free") for s in before - after),
    ):
        slot = store.resource("Slot", slot_id)
        if slot is not None and slot.get("status") == status_from:
            changed = copy.deepcopy(slot)
            changed["status"] = status_to
            store.put("Slot", slot_id, changed)
