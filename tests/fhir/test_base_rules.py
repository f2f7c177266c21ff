"""A profile constrains its base and never removes its rules: the base R4 definitions' bindings,
cardinalities and invariants are checked whatever the profile states or fails to resolve."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from tests.fhir.conftest import errors, local_validator, one

PDSM = "ans.fhir.fr.pdsm#3.1.1"
BASE_STATUS = "http://hl7.org/fhir/StructureDefinition/DocumentReference|4.0.1 (DocumentReference.status)"


def test_base_required_binding_applies_when_the_profiles_valueset_is_not_loaded(validator, examples):
    """PDSm binds status to IHE MHD's DocumentReferenceStats, not available offline: its own binding is a
    check not made (naming the missing package), and R4's required document-reference-status still rejects a
    code outside it."""
    doc = examples(PDSM, "DocumentReference-exemple-pdsm-documentreference.json")
    doc["status"] = "not-a-status"
    result = validator.validate(doc, context=PDSM)
    issue = one(result, "BINDING_REQUIRED", "DocumentReference.status")
    assert issue.severity == "error" and issue.source.startswith(BASE_STATUS)
    note = one(result, "BINDING_DEFINITION_NOT_FOUND", "DocumentReference.status")
    assert "profiles.ihe.net/ITI/MHD/ValueSet/DocumentReferenceStats" in note.source
    assert "ihe.iti.mhd#4.2.3" in note.message
    # The control: a code of the base ValueSet is left to the profile's (unverifiable) binding.
    doc["status"] = "superseded"
    result = validator.validate(doc, context=PDSM)
    assert ("BINDING_REQUIRED", "DocumentReference.status") not in errors(result)
    one(result, "BINDING_DEFINITION_NOT_FOUND", "DocumentReference.status")


LAX = "http://example.org/StructureDefinition/lax-patient"


def _lax_patient_profile(core_patient: dict) -> dict:
    """A constraint profile whose (hand-made) snapshot drops base rules: pat-1 on Patient.contact, the
    required binding of Patient.gender, the 1..1 of Patient.link.other; and allows two birth dates."""
    elements = copy.deepcopy(core_patient["snapshot"]["element"])
    for element in elements:
        if element["id"] == "Patient.contact":
            element["constraint"] = [c for c in element.get("constraint", ()) if c["key"] != "pat-1"]
        elif element["id"] == "Patient.gender":
            element.pop("binding")
        elif element["id"] == "Patient.link.other":
            element["min"] = 0
        elif element["id"] == "Patient.birthDate":
            element["max"] = "2"
    return {"resourceType": "StructureDefinition", "id": "lax-patient", "url": LAX, "version": "1.0.0",
            "name": "LaxPatient", "status": "draft", "kind": "resource", "abstract": False, "type": "Patient",
            "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Patient", "derivation": "constraint",
            "snapshot": {"element": elements}}


@pytest.fixture
def lax(fhir_packages_dir: Path, tmp_path: Path, store):
    profile = _lax_patient_profile(store.structure_definition("Patient"))
    return local_validator(fhir_packages_dir, tmp_path, "example.lax", [profile])


def test_a_snapshot_that_drops_base_rules_does_not_remove_them(lax):
    patient = {"resourceType": "Patient", "meta": {"profile": [LAX]}, "gender": "x",
               "contact": [{"gender": "male"}], "link": [{"type": "seealso"}]}
    result = lax.validate(patient)
    assert one(result, "INVARIANT", "Patient.contact[0]").source.startswith("pat-1 ")
    assert one(result, "BINDING_REQUIRED", "Patient.gender").source.startswith(
        "http://hl7.org/fhir/StructureDefinition/Patient|4.0.1 (Patient.gender)")
    assert one(result, "CARD_MIN", "Patient.link[0]").severity == "error"


def test_a_conformant_resource_is_still_valid_under_the_merged_rules(lax):
    patient = {"resourceType": "Patient", "meta": {"profile": [LAX]}, "gender": "female", "birthDate": "1970-01-01",
               "contact": [{"name": {"family": "Martin"}}],
               "link": [{"type": "seealso", "other": {"reference": "Patient/2"}}]}
    assert not errors(lax.validate(patient))


def test_a_profile_never_widens_the_base_cardinality(lax):
    """birthDate is 0..1 in R4 (and a single JSON value): the profile's 0..2 does not make it 0..2."""
    schema = lax.definitions.schema(LAX)
    assert (schema.by_id["Patient.birthDate"].min, schema.by_id["Patient.birthDate"].max) == (0, 1)
    assert schema.by_id["Patient.link.other"].min == 1
