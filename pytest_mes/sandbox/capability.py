"""What the sandbox supports, and the CapabilityStatement that declares exactly that.

The router consults `INTERACTIONS` before doing anything, and `/metadata` is generated from the
same table and from `params.PARAMS`: the statement cannot drift from the behaviour.
"""

from __future__ import annotations

from typing import Any

from pytest_mes import __version__
from pytest_mes.sandbox.defects import Defect
from pytest_mes.sandbox.params import COMMON, PARAMS

GAP_CANONICAL = "https://interop.esante.gouv.fr/ig/fhir/gap"
PDSM_CANONICAL = "https://interop.esante.gouv.fr/ig/fhir/pdsm"

INSTANTIATES = (
    f"{GAP_CANONICAL}/CapabilityStatement/GAP-GestionnaireAgenda",
    f"{GAP_CANONICAL}/CapabilityStatement/GAP-GestionnaireRessources",
    f"{PDSM_CANONICAL}/CapabilityStatement/PDSm-GestionnaireDePartageDeDocuments",
    "https://profiles.ihe.net/ITI/MHD/CapabilityStatement/IHE.MHD.DocumentRecipient.Comprehensive",
    "https://profiles.ihe.net/ITI/MHD/CapabilityStatement/IHE.MHD.DocumentRecipient.Simplified",
    "https://profiles.ihe.net/ITI/MHD/CapabilityStatement/IHE.MHD.DocumentResponder",
)

_FULL = frozenset({"read", "vread", "update", "patch", "delete", "history-instance", "create", "search-type"})

# GAP Gestionnaire de ressources and d'agenda: full CRUD (flows 1a-1c, 2a-2c, 3a-3c, 6a-6b), plus
# read and search so that consumers (and test sets) can check what was written. PDSm documents are
# immutable except for the metadata PATCH (flux 03/04): no update or delete of DocumentReference,
# List or Binary, which are created through ITI-65 (or ITI-105 for DocumentReference).
INTERACTIONS: dict[str, frozenset[str]] = {
    **{t: _FULL for t in (
        "Patient", "Practitioner", "PractitionerRole", "RelatedPerson", "Location", "HealthcareService",
        "Organization", "Device", "Schedule", "Slot", "Appointment",
    )},
    "DocumentReference": frozenset({"read", "vread", "history-instance", "search-type", "create", "patch"}),
    "List": frozenset({"read", "vread", "history-instance", "search-type"}),
    "Binary": frozenset({"read", "vread"}),
}

SUPPORTED_PROFILES: dict[str, list[str]] = {
    "Patient": ["https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient",
                "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient-ins"],
    "Practitioner": ["https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-practitioner"],
    "PractitionerRole": ["https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-practitionerrole"],
    "Organization": ["https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-organization"],
    "RelatedPerson": ["https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-related-person"],
    "Location": ["https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-location"],
    "HealthcareService": ["https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-healthcare-service"],
    "Schedule": [f"{GAP_CANONICAL}/StructureDefinition/gap-fr-schedule"],
    "Slot": [f"{GAP_CANONICAL}/StructureDefinition/gap-fr-slot"],
    "Appointment": [f"{GAP_CANONICAL}/StructureDefinition/gap-fr-appointment"],
    "DocumentReference": [f"{PDSM_CANONICAL}/StructureDefinition/pdsm-comprehensive-document-reference",
                          f"{PDSM_CANONICAL}/StructureDefinition/pdsm-simplified-publish"],
    "List": [f"{PDSM_CANONICAL}/StructureDefinition/pdsm-submissionset-comprehensive",
             f"{PDSM_CANONICAL}/StructureDefinition/pdsm-folder-comprehensive"],
}

SEARCH_INCLUDES: dict[str, list[str]] = {
    "Slot": ["Slot:schedule", "Schedule:actor"],
    "Appointment": ["Appointment:actor", "Appointment:patient", "Appointment:practitioner",
                    "Appointment:location", "Appointment:slot"],
    "Schedule": ["Schedule:actor"],
    "PractitionerRole": ["PractitionerRole:practitioner", "PractitionerRole:organization",
                         "PractitionerRole:location"],
    "DocumentReference": ["DocumentReference:patient", "DocumentReference:subject"],
    "List": ["List:patient", "List:subject", "List:item"],
}


def allowed(type_: str, interaction: str) -> bool:
    return interaction in INTERACTIONS.get(type_, frozenset())


def capability_statement(base: str, defects: frozenset[Defect]) -> dict[str, Any]:
    """The CapabilityStatement served at /metadata."""
    resources = [_resource_capability(type_, interactions, defects) for type_, interactions in INTERACTIONS.items()]
    return {
        "resourceType": "CapabilityStatement",
        "id": "mes-sandbox",
        "url": f"{base}/metadata",
        "version": __version__,
        "name": "MesSandbox",
        "title": "pytest-mes reference sandbox (GAP + PDSm)",
        "status": "active",
        "experimental": True,
        "date": "2026-01-01",
        "publisher": "pytest-mes",
        "description": "Reference FHIR R4 server of pytest-mes, playing the GAP Gestionnaire d'agenda and "
        "Gestionnaire de ressources and the PDSm Gestionnaire de partage de documents actors.",
        "kind": "instance",
        "instantiates": list(INSTANTIATES),
        "software": {"name": "pytest-mes sandbox", "version": __version__},
        "implementation": {"description": "pytest-mes reference sandbox", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json", "application/fhir+xml", "xml"],
        "patchFormat": ["application/json-patch+json", "application/fhir+json"],
        "implementationGuide": [GAP_CANONICAL, PDSM_CANONICAL],
        "rest": [{
            "mode": "server",
            "documentation": "Named defects active: " + (", ".join(sorted(defects)) or "none"),
            "resource": resources,
            "interaction": [
                {"code": "transaction",
                 "documentation": f"{PDSM_CANONICAL}/StructureDefinition/pdsm-comprehensive-provide-document-bundle"},
                {"code": "batch"},
            ],
        }],
    }


def _resource_capability(type_: str, interactions: frozenset[str], defects: frozenset[Defect]) -> dict[str, Any]:
    """One rest.resource of the statement: what the sandbox does with `type_`, as implemented."""
    declared = set(interactions)
    if type_ == "Slot" and Defect.CAPABILITY_WITHOUT_SLOT_SEARCH in defects:
        declared.discard("search-type")
    entry: dict[str, Any] = {
        "type": type_,
        "interaction": [{"code": code} for code in sorted(declared)],
        "versioning": "versioned",
        "readHistory": True,
        "updateCreate": "update" in interactions,
        "conditionalCreate": "create" in interactions,
        # DocumentReference: PDSm declares conditionalUpdate without update: a PUT by identifier that,
        # like the conditional PATCH of flux 03/04, changes status, securityLabel or isArchived only.
        "conditionalUpdate": "update" in interactions or type_ == "DocumentReference",
        "conditionalDelete": "single" if "delete" in interactions else "not-supported",
    }
    if type_ in SUPPORTED_PROFILES:
        entry["supportedProfile"] = SUPPORTED_PROFILES[type_]
    if "search-type" in declared:
        if type_ in SEARCH_INCLUDES:
            entry["searchInclude"] = SEARCH_INCLUDES[type_]
        entry["searchParam"] = [
            {"name": code, "definition": p.definition, "type": p.type,
             **({"documentation": p.documentation} if p.documentation else {})}
            for code, p in {**COMMON, **PARAMS.get(type_, {})}.items()
            if p.definition
        ]
    return entry
