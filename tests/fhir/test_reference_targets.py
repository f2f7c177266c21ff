"""A reference whose target profile is in no loaded package is reported 'non vérifié', never passed in silence."""

from __future__ import annotations

import pytest

from pytest_mes.fhir.store import PackageStore
from tests.fhir.conftest import local_validator
from tests.fhir.test_slicing import BASE, _profile

MISSING = "http://missing.example/StructureDefinition/gp"


def _gp_target(elements: list[dict]) -> None:
    gp = next(e for e in elements if e["id"] == "Patient.generalPractitioner")
    gp["type"] = [{"code": "Reference", "targetProfile": [MISSING]}]


def test_unloadable_target_profile_is_not_checked(fhir_packages_dir, tmp_path):
    core_only = PackageStore.load([fhir_packages_dir], offline=True, packages=["hl7.fhir.r4.core#4.0.1"])
    validator = local_validator(fhir_packages_dir, tmp_path, "example.refs",
                                [_profile(core_only, "Patient", "gp-missing", _gp_target)])
    patient = {"resourceType": "Patient", "generalPractitioner": [{"reference": "Practitioner/1"}]}
    result = validator.validate(patient, [BASE + "gp-missing"])
    (issue,) = [i for i in result.issues if i.expression == "Patient.generalPractitioner[0].reference"]
    assert issue.severity == "information"
    assert "non vérifiée" in issue.message and MISSING in issue.message
    assert result.valid


@pytest.mark.parametrize("bad_type", [["Organization"], {"x": 1}, 12])
def test_reference_to_a_resource_with_a_malformed_type_does_not_crash(validator, bad_type):
    """The target's resourceType is reported where it stands (validate() returning is the "no crash");
    the reference to it is not judged."""
    patient = {"resourceType": "Patient", "managingOrganization": {"reference": "#o"},
               "contained": [{"resourceType": bad_type, "id": "o"}]}
    result = validator.validate(patient)
    assert ("NOT_A_RESOURCE", "Patient.contained[0]") in {(i.message_id, i.expression) for i in result.errors}
    assert "REF_TARGET_TYPE" not in {i.message_id for i in result.issues}


def _organization_chain(n: int, broken_last: bool = False) -> dict:
    """n FR Core Organizations, each partOf the next (target profile fr-core-organization)."""
    profile = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-organization|2.2.0"
    entries = [{"fullUrl": f"urn:uuid:o{i}", "resource": {
        "resourceType": "Organization", "id": f"o{i}", "meta": {"profile": [profile]}, "name": f"O{i}",
        **({"partOf": {"reference": f"urn:uuid:o{i + 1}"}} if i + 1 < n else {})}} for i in range(n)]
    if broken_last:
        del entries[-1]["resource"]["name"]  # org-1: a name or an identifier
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def test_a_long_chain_of_references_is_judged_to_its_end(validator):
    """Each target's profile is judged through its own references, a walk inside a walk, 20 deep on one
    stack: the checks cut there are judged from the top of the stack. A Bundle's chain of 300 is judged to
    its end, whose broken Organization makes every other one non-conformant, and it never blows Python's
    stack."""
    result = validator.validate(_organization_chain(300, broken_last=True), context="hl7.fhir.fr.core#2.2.0")
    assert {(i.message_id, i.expression) for i in result.errors if i.message_id == "REF_TARGET_PROFILE"} == {
        ("REF_TARGET_PROFILE", f"Bundle.entry[{k}].resource.partOf.reference") for k in range(299)}
    assert "REF_CHAIN_CUT" not in {i.message_id for i in result.issues}
    whole = validator.validate(_organization_chain(300), context="hl7.fhir.fr.core#2.2.0")
    assert not whole.errors and "REF_CHAIN_CUT" not in {i.message_id for i in whole.issues}
    short = validator.validate(_organization_chain(5, broken_last=True), context="hl7.fhir.fr.core#2.2.0")
    assert ("REF_TARGET_PROFILE", "Bundle.entry[3].resource.partOf.reference") in {
        (i.message_id, i.expression) for i in short.errors}
    assert "REF_CHAIN_CUT" not in {i.message_id for i in short.issues}


def test_a_chain_of_fetched_targets_is_judged_200_deep_then_said_cut(validator):
    """Targets a resolver gives are walked only as targets: each walk follows the chain 20 checks further
    from where it was cut. Broken 190 deep, the head's target is found non-conformant; 300 long, the chain is
    said cut (REF_CHAIN_CUT, its end assumed conformant), never a false error."""
    for n, broken in ((190, True), (300, True), (300, False)):
        chain = {e["fullUrl"]: e["resource"] for e in _organization_chain(n, broken_last=broken)["entry"]}
        result = validator.validate(chain["urn:uuid:o0"], context="hl7.fhir.fr.core#2.2.0", resolver=chain.get)
        said = [(i.message_id, i.expression) for i in result.issues if i.severity in ("error", "fatal")
                or i.message_id == "REF_CHAIN_CUT"]
        assert said == ([("REF_TARGET_PROFILE", "Organization.partOf.reference")] if n < 200 else
                        [("REF_CHAIN_CUT", "Organization")]), (n, broken)
