"""GAP (Gestion d'Agendas Partagés) rules: what a Gestionnaire d'agenda checks and keeps consistent.

The checks are the structural rules of FR Core / GAP a server cannot store without (cardinality
1..1 of Slot.schedule, status, start, end; Appointment.participant; Schedule.actor), required
bindings of status codes, and the order of start and end. Violations answer 422 with an
OperationOutcome whose expression names the element (ci-sis.md §2.1, §2.2).
"""

from __future__ import annotations

import copy
from typing import Any

from pytest_mes.sandbox.matching import date_range, dicts, reference_key
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
        for i, ext in enumerate(resource.get("extension") or []):
            if isinstance(ext, dict) and ext.get("url") == AVAILABILITY_TIME_URL:
                names = {e.get("url") for e in dicts(ext.get("extension"))}
                missing = {"type", "start", "end", "identifier"} - names
                if missing:
                    raise _invalid(f"The availabilityTime extension lacks {', '.join(sorted(missing))} "
                                   "(fr-core-schedule-availability-time)", f"Schedule.extension[{i}]")


def _slot_ids(resource: dict[str, Any] | None) -> set[str]:
    if not resource or resource.get("status") not in _HOLDS_SLOT:
        return set()
    ids = set()
    for ref in resource.get("slot") or []:
        key = _local_key(ref)
        if key and key[0] == "Slot":
            ids.add(key[1])
    return ids


def _local_key(ref: Any) -> tuple[str, str] | None:
    """(type, id) of a relative literal reference (`Slot/x`), None for anything else."""
    text = ref.get("reference") if isinstance(ref, dict) else None
    if not isinstance(text, str) or "://" in text or text.startswith(("#", "urn:")):
        return None
    return reference_key(text)


def check_references(store: Store, type_: str, resource: dict[str, Any]) -> None:
    """422 when an Appointment names a local Slot or Patient that does not exist (referential integrity).

    Only relative references (`Slot/x`, `Patient/y`) are checked: they can only mean this server.
    """
    if type_ != "Appointment":
        return
    refs = [(f"Appointment.slot[{i}]", ref) for i, ref in enumerate(resource.get("slot") or [])]
    refs += [(f"Appointment.participant[{i}].actor", p.get("actor"))
             for i, p in enumerate(resource.get("participant") or []) if isinstance(p, dict)]
    for where, ref in refs:
        key = _local_key(ref)
        if key and key[0] in ("Slot", "Patient") and store.resource(*key) is None:
            raise FhirError(422, f"{where} references {key[0]}/{key[1]}, which does not exist on this server",
                            "not-found", expression=where)


def _holders(store: Store, slot_id: str, exclude: str) -> list[str]:
    """Ids of the Appointments, other than `exclude`, that hold the Slot."""
    return [e.id for e in store.all("Appointment") if e.id != exclude and slot_id in _slot_ids(e.resource)]


def after_write(store: Store, entry: Entry, previous: Entry | None) -> None:
    """Keep Slot.status consistent with the Appointments that book it.

    Booking (a holding status: booked, pending, arrived, checked-in, fulfilled) makes the Slots
    busy; a Slot that is not free cannot be booked: 422 with an OperationOutcome (code
    `business-rule`, expression Appointment.slot[i]). FHIR R4 (http.html) keeps 409 / 412 for
    version conflicts and gives 422 to "server business rules"; GAP names no status.
    Cancelling or deleting the Appointment frees its Slots again, unless another holding
    Appointment still references them, as a Gestionnaire d'agenda does so that availability
    searches (flow 4a) stay truthful.
    """
    if entry.type != "Appointment":
        return
    before = _slot_ids(previous.resource if previous else None)
    after = _slot_ids(entry.resource)
    for slot_id in sorted(after - before):
        slot = store.resource("Slot", slot_id)
        if slot is None:
            continue  # a missing local Slot is refused by check_references
        if slot.get("status") != "free":
            assert entry.resource is not None
            index = next((i for i, ref in enumerate(entry.resource.get("slot") or [])
                          if _local_key(ref) == ("Slot", slot_id)), 0)
            raise FhirError(422, f"Slot/{slot_id} is {slot.get('status')}, not free: an Appointment with status "
                            f"{entry.resource.get('status')} cannot book it", "business-rule",
                            expression=f"Appointment.slot[{index}]")
        changed = copy.deepcopy(slot)
        changed["status"] = "busy"
        store.put("Slot", slot_id, changed)
    for slot_id in sorted(before - after):
        slot = store.resource("Slot", slot_id)
        if slot is None or slot.get("status") != "busy" or _holders(store, slot_id, entry.id):
            continue
        changed = copy.deepcopy(slot)
        changed["status"] = "free"
        store.put("Slot", slot_id, changed)
