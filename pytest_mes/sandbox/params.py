"""The search parameters the sandbox supports, per resource type (ci-sis.md §3.1, §3.2, §3.3).

Each parameter names a FHIR search type and a getter that returns the raw element values
(Identifiers, Codings, strings, Periods, References…) it searches on. The search engine
(`search.py`) turns the values into comparable forms; the CapabilityStatement (`capability.py`)
declares exactly this table, so what is declared is what is implemented.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Getter = Callable[[dict[str, Any]], list[Any]]

IS_ARCHIVED_URL = "https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/pdsm-ext-is-archived"
DESIGNATION_TYPE_URL = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-designationType"
SOURCE_ID_URL = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourceId"
MHD_LIST_TYPES = "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes"
AUTHOR_ORG_URL = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-authorOrg"

_R4 = "http://hl7.org/fhir/SearchParameter/"
_GAP = "https://interop.esante.gouv.fr/ig/fhir/gap/SearchParameter/"
_PDSM = "https://interop.esante.gouv.fr/ig/fhir/pdsm/SearchParameter/"
_MHD = "https://profiles.ihe.net/ITI/MHD/SearchParameter/"


@dataclass(frozen=True)
class Param:
    """One search parameter: its FHIR type, how to get its values, and reference targets."""

    type: str  # token | string | date | reference | uri | special
    get: Getter
    targets: tuple[str, ...] = ()
    definition: str = ""
    # Shown as searchParam.documentation in the CapabilityStatement (e.g. the second GAP definition).
    documentation: str = ""


def path(expr: str) -> Getter:
    """A getter for a dotted path; lists are flattened at every step (FHIRPath-like)."""
    parts = expr.split(".")

    def get(resource: dict[str, Any]) -> list[Any]:
        current: list[Any] = [resource]
        for part in parts:
            following: list[Any] = []
            for item in current:
                if isinstance(item, dict) and part in item:
                    value = item[part]
                    if isinstance(value, list):
                        following.extend(value)
                    else:
                        following.append(value)
            current = following
        return current

    return get


def paths(*exprs: str) -> Getter:
    getters = [path(e) for e in exprs]
    return lambda resource: [v for g in getters for v in g(resource)]


def extension_value(url: str, under: str = "") -> Getter:
    """A getter for the value[x] of the extensions with `url` (on the resource or on `under`)."""
    holders = path(under) if under else (lambda r: [r])

    def get(resource: dict[str, Any]) -> list[Any]:
        found = []
        for holder in holders(resource):
            if not isinstance(holder, dict):
                continue
            for ext in holder.get("extension", []):
                if ext.get("url") == url:
                    found.extend(v for k, v in ext.items() if k.startswith("value"))
        return found

    return get


def _token(expr: str, definition: str = "") -> Param:
    return Param("token", path(expr), definition=definition)


def _string(getter: Getter, definition: str = "") -> Param:
    return Param("string", getter, definition=definition)


def _date(getter: Getter, definition: str = "", documentation: str = "") -> Param:
    return Param("date", getter, definition=definition, documentation=documentation)


def _ref(expr: str, *targets: str, definition: str = "") -> Param:
    return Param("reference", path(expr), targets, definition=definition)


_ALL_ACTORS = (
    "Patient", "Practitioner", "PractitionerRole", "RelatedPerson", "Device", "HealthcareService", "Location",
)
_NAME = path("name")

COMMON: dict[str, Param] = {
    "_id": Param("token", path("id"), definition=_R4 + "Resource-id"),
    "_lastUpdated": _date(path("meta.lastUpdated"), _R4 + "Resource-lastUpdated"),
    "_profile": Param("uri", path("meta.profile"), definition=_R4 + "Resource-profile"),
}

PARAMS: dict[str, dict[str, Param]] = {
    "Patient": {
        "identifier": _token("identifier", _R4 + "Patient-identifier"),
        "family": _string(path("name.family"), _R4 + "individual-family"),
        "given": _string(path("name.given"), _R4 + "individual-given"),
        "name": _string(_NAME, _R4 + "Patient-name"),
        "birthdate": _date(path("birthDate"), _R4 + "individual-birthdate"),
        "gender": _token("gender", _R4 + "individual-gender"),
        "active": _token("active", _R4 + "Patient-active"),
        "address": _string(path("address"), _R4 + "individual-address"),
        "telecom": _token("telecom", _R4 + "individual-telecom"),
    },
    "Practitioner": {
        "identifier": _token("identifier", _R4 + "Practitioner-identifier"),
        "family": _string(path("name.family"), _R4 + "individual-family"),
        "given": _string(path("name.given"), _R4 + "individual-given"),
        "name": _string(_NAME, _R4 + "Practitioner-name"),
        "active": _token("active", _R4 + "Practitioner-active"),
        "telecom": _token("telecom", _R4 + "individual-telecom"),
        "address": _string(path("address"), _R4 + "individual-address"),
    },
    "PractitionerRole": {
        "identifier": _token("identifier", _R4 + "PractitionerRole-identifier"),
        "practitioner": _ref("practitioner", "Practitioner", definition=_R4 + "PractitionerRole-practitioner"),
        "organization": _ref("organization", "Organization", definition=_R4 + "PractitionerRole-organization"),
        "location": _ref("location", "Location", definition=_R4 + "PractitionerRole-location"),
        "service": _ref("healthcareService", "HealthcareService", definition=_R4 + "PractitionerRole-service"),
        "role": _token("code", _R4 + "PractitionerRole-role"),
        "specialty": _token("specialty", _R4 + "PractitionerRole-specialty"),
        "telecom": _token("telecom", _R4 + "PractitionerRole-telecom"),
        "active": _token("active", _R4 + "PractitionerRole-active"),
    },
    "RelatedPerson": {
        "identifier": _token("identifier", _R4 + "RelatedPerson-identifier"),
        "patient": _ref("patient", "Patient", definition=_R4 + "RelatedPerson-patient"),
        "name": _string(_NAME, _R4 + "RelatedPerson-name"),
        "address": _string(path("address"), _R4 + "individual-address"),
        "telecom": _token("telecom", _R4 + "individual-telecom"),
        "relationship": _token("relationship", _R4 + "RelatedPerson-relationship"),
    },
    "Location": {
        "identifier": _token("identifier", _R4 + "Location-identifier"),
        "name": _string(paths("name", "alias"), _R4 + "Location-name"),
        "address": _string(path("address"), _R4 + "Location-address"),
        "address-city": _string(path("address.city"), _R4 + "Location-address-city"),
        "address-postalcode": _string(path("address.postalCode"), _R4 + "Location-address-postalcode"),
        "type": _token("type", _R4 + "Location-type"),
        "status": _token("status", _R4 + "Location-status"),
        "organization": _ref("managingOrganization", "Organization", definition=_R4 + "Location-organization"),
        "near": Param("special", path("position"), definition=_R4 + "Location-near"),
    },
    "Device": {
        "identifier": _token("identifier", _R4 + "Device-identifier"),
        "type": _token("type", _R4 + "Device-type"),
        "device-name": _string(paths("deviceName.name", "type.text"), _R4 + "Device-device-name"),
        "model": _string(path("modelNumber"), _R4 + "Device-model"),
        "manufacturer": _string(path("manufacturer"), _R4 + "Device-manufacturer"),
        "organization": _ref("owner", "Organization", definition=_R4 + "Device-organization"),
        "patient": _ref("patient", "Patient", definition=_R4 + "Device-patient"),
        "status": _token("status", _R4 + "Device-status"),
    },
    "HealthcareService": {
        "identifier": _token("identifier", _R4 + "HealthcareService-identifier"),
        "name": _string(path("name"), _R4 + "HealthcareService-name"),
        "service-type": _token("type", _R4 + "HealthcareService-service-type"),
        "service-category": _token("category", _R4 + "HealthcareService-service-category"),
        "specialty": _token("specialty", _R4 + "HealthcareService-specialty"),
        "organization": _ref("providedBy", "Organization", definition=_R4 + "HealthcareService-organization"),
        "location": _ref("location", "Location", definition=_R4 + "HealthcareService-location"),
        "active": _token("active", _R4 + "HealthcareService-active"),
    },
    "Organization": {
        "identifier": _token("identifier", _R4 + "Organization-identifier"),
        "name": _string(paths("name", "alias"), _R4 + "Organization-name"),
        "address": _string(path("address"), _R4 + "Organization-address"),
        "type": _token("type", _R4 + "Organization-type"),
        "active": _token("active", _R4 + "Organization-active"),
        "partof": _ref("partOf", "Organization", definition=_R4 + "Organization-partof"),
    },
    "Schedule": {
        "identifier": _token("identifier", _R4 + "Schedule-identifier"),
        "actor": _ref("actor", *_ALL_ACTORS, definition=_R4 + "Schedule-actor"),
        "active": _token("active", _R4 + "Schedule-active"),
        "date": _date(path("planningHorizon"), _R4 + "Schedule-date"),
        "specialty": _token("specialty", _R4 + "Schedule-specialty"),
        "service-category": _token("serviceCategory", _R4 + "Schedule-service-category"),
    },
    "Slot": {
        "identifier": _token("identifier", _R4 + "Slot-identifier"),
        "status": _token("status", _R4 + "Slot-status"),
        # GAP defines two SearchParameters with the code `start` (earliestStart: gt/ge, latestStart:
        # lt/le). A CapabilityStatement's searchParam names must be unique within a resource, so
        # `start` is declared once, with the earliestStart definition, and the documentation names
        # the other; the sandbox accepts every date prefix on it.
        "start": _date(path("start"), _GAP + "GAP-Slot-earliestStart",
                       "GAP-Slot-earliestStart (gt, ge) and " + _GAP + "GAP-Slot-latestStart (lt, le); "
                       "every date prefix (eq ne gt ge lt le sa eb ap) is supported"),
        "schedule": _ref("schedule", "Schedule", definition=_R4 + "Slot-schedule"),
        "service-type": _token("serviceType", _R4 + "Slot-service-type"),
        "service-category": _token("serviceCategory", _R4 + "Slot-service-category"),
        "specialty": _token("specialty", _R4 + "Slot-specialty"),
        "appointment-type": _token("appointmentType", _R4 + "Slot-appointment-type"),
    },
    "Appointment": {
        "identifier": _token("identifier", _R4 + "Appointment-identifier"),
        "status": _token("status", _R4 + "Appointment-status"),
        "date": _date(path("start"), _R4 + "Appointment-date"),
        "start": _date(path("start"), _GAP + "GAP-Appointment-earliestStart",
                       "GAP-Appointment-earliestStart (gt, ge) and " + _GAP + "GAP-Appointment-latestStart "
                       "(lt, le); every date prefix (eq ne gt ge lt le sa eb ap) is supported"),
        "created": _date(path("created"), _GAP + "GAP-Appointment-created"),
        "description": _string(paths("comment", "description"), _GAP + "GAP-Appointment-description"),
        "priority": _token("priority", _GAP + "GAP-Appointment-priority"),
        "service-type": _token("serviceType", _R4 + "Appointment-service-type"),
        "service-category": _token("serviceCategory", _R4 + "Appointment-service-category"),
        "specialty": _token("specialty", _R4 + "Appointment-specialty"),
        "appointment-type": _token("appointmentType", _R4 + "Appointment-appointment-type"),
        "reason-code": _token("reasonCode", _R4 + "Appointment-reason-code"),
        "part-status": _token("participant.status", _R4 + "Appointment-part-status"),
        "supporting-info": _ref("supportingInformation", definition=_R4 + "Appointment-supporting-info"),
        "based-on": _ref("basedOn", "ServiceRequest", definition=_R4 + "Appointment-based-on"),
        "slot": _ref("slot", "Slot", definition=_R4 + "Appointment-slot"),
        "actor": _ref("participant.actor", *_ALL_ACTORS, definition=_R4 + "Appointment-actor"),
        "patient": _ref("participant.actor", "Patient", definition=_R4 + "Appointment-patient"),
        "practitioner": _ref("participant.actor", "Practitioner", definition=_R4 + "Appointment-practitioner"),
        "location": _ref("participant.actor", "Location", definition=_R4 + "Appointment-location"),
    },
    "DocumentReference": {
        "identifier": Param("token", paths("masterIdentifier", "identifier"),
                            definition=_R4 + "DocumentReference-identifier"),
        "patient": _ref("subject", "Patient", definition=_R4 + "DocumentReference-patient"),
        "subject": _ref("subject", "Patient", "Group", "Device", definition=_R4 + "DocumentReference-subject"),
        "status": _token("status", _R4 + "DocumentReference-status"),
        "type": _token("type", _R4 + "DocumentReference-type"),
        "category": _token("category", _R4 + "DocumentReference-category"),
        "facility": _token("context.facilityType", _R4 + "DocumentReference-facility"),
        "setting": _token("context.practiceSetting", _R4 + "DocumentReference-setting"),
        "event": _token("context.event", _R4 + "DocumentReference-event"),
        "period": _date(path("context.period"), _R4 + "DocumentReference-period"),
        "period-start": _date(path("context.period.start"), _PDSM + "PDSm-DocumentReference-period-start"),
        "period-end": _date(path("context.period.end"), _PDSM + "PDSm-DocumentReference-period-end"),
        "creation": _date(path("content.attachment.creation"), _MHD + "DocumentReference-Creation"),
        "date": _date(path("date"), _R4 + "DocumentReference-date"),
        "security-label": _token("securityLabel", _R4 + "DocumentReference-security-label"),
        "format": _token("content.format", _R4 + "DocumentReference-format"),
        "contenttype": _token("content.attachment.contentType", _R4 + "DocumentReference-contenttype"),
        "language": _token("content.attachment.language", _R4 + "DocumentReference-language"),
        "relatesto": _ref("relatesTo.target", "DocumentReference", definition=_R4 + "DocumentReference-relatesto"),
        "relation": _token("relatesTo.code", _R4 + "DocumentReference-relation"),
        "related": _ref("context.related", definition=_R4 + "DocumentReference-related"),
        "author": _ref(
            "author", "Practitioner", "PractitionerRole", "Organization", "Device", "Patient", "RelatedPerson",
            definition=_R4 + "DocumentReference-author",
        ),
        "custodian": _ref("custodian", "Organization", definition=_R4 + "DocumentReference-custodian"),
        "description": _string(path("description"), _R4 + "DocumentReference-description"),
        "isArchived": Param("token", extension_value(IS_ARCHIVED_URL), definition=_PDSM + "PDSm-isArchived"),
    },
    "List": {
        "identifier": _token("identifier", _R4 + "List-identifier"),
        "patient": _ref("subject", "Patient", definition=_R4 + "List-patient"),
        "subject": _ref("subject", "Patient", "Group", "Device", "Location", definition=_R4 + "List-subject"),
        "code": _token("code", _R4 + "List-code"),
        "status": _token("status", _R4 + "List-status"),
        "date": _date(path("date"), _R4 + "List-date"),
        "title": _string(path("title"), _R4 + "List-title"),
        "item": _ref("entry.item", definition=_R4 + "List-item"),
        "source": _ref(
            "source", "Patient", "PractitionerRole", "Practitioner", "Device", definition=_R4 + "List-source",
        ),
        "designationType": Param("token", extension_value(DESIGNATION_TYPE_URL),
                                 definition=_MHD + "List-DesignationType"),
        "sourceId": Param("token", extension_value(SOURCE_ID_URL), definition=_MHD + "List-SourceId"),
        "isArchived": Param("token", extension_value(IS_ARCHIVED_URL), definition=_PDSM + "PDSm-isArchived"),
        "authorOrg": Param(
            "reference", extension_value(AUTHOR_ORG_URL, "source"), ("Organization",),
            definition=_PDSM + "PDSm-List-authorOrg",
        ),
    },
    "Binary": {},
}

# Search result parameters and other controls the engine handles itself.
CONTROL = frozenset({
    "_count", "_offset", "_include", "_revinclude", "_sort", "_total", "_summary", "_format", "_pretty",
    "_elements",
})


def param(type_: str, code: str) -> Param | None:
    """The definition of search parameter `code` on `type_`, or None if not supported."""
    return PARAMS.get(type_, {}).get(code) or COMMON.get(code)
