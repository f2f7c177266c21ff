"""A reference whose target profile is in no loaded package is reported 'non vérifié', never passed in silence."""

from __future__ import annotations

from pytest_mes.fhir.packages import PackageStore
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
