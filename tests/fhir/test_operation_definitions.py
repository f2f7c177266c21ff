"""An OperationDefinition against its input and output Parameters profiles; R4's opd-3 read as corrected."""

from __future__ import annotations

import pytest

from tests.fhir.conftest import errors, found, local_validator
from tests.fhir.test_hl7_rules import FHIR, LOCAL, _profile_of

PATIENT_PROFILE = LOCAL + "adult"


def _slice(name: str, value: list[dict] | None = None, resource: list[dict] | None = None, card=(1, "1")) -> list[dict]:
    """A parameter slice named `name`, carried by value[x] (of these types) or resource (of these)."""
    sid = f"Parameters.parameter:{name}"
    return [{"id": sid, "path": "Parameters.parameter", "sliceName": name, "min": card[0], "max": card[1]},
            {"id": f"{sid}.name", "path": "Parameters.parameter.name", "fixedString": name},
            {"id": f"{sid}.value[x]", "path": "Parameters.parameter.value[x]",
             **({"type": value} if value else {"max": "0"})},
            {"id": f"{sid}.resource", "path": "Parameters.parameter.resource",
             **({"type": resource} if resource else {"max": "0"})}]


def _echo_in() -> dict:
    """Input: text, a string (1..1); subject, a Patient (0..1); source, a Reference to an adult Patient."""
    return _profile_of("Parameters", "echo-in", [
        {"id": "Parameters.parameter", "path": "Parameters.parameter",
         "slicing": {"discriminator": [{"type": "value", "path": "name"}], "rules": "open"}},
        *_slice("text", value=[{"code": "string"}]),
        *_slice("subject", resource=[{"code": "Patient"}], card=(0, "1")),
        *_slice("source", value=[{"code": "Reference", "targetProfile": [PATIENT_PROFILE]}], card=(0, "1"))])


@pytest.fixture(scope="module")
def local(fhir_packages_dir, tmp_path_factory):
    adult = _profile_of("Patient", "adult", [{"id": "Patient.birthDate", "path": "Patient.birthDate", "min": 1}])
    return local_validator(fhir_packages_dir, tmp_path_factory.mktemp("opdef"), "example.opdef",
                           [_echo_in(), adult])


def _operation(*parameters: dict, **extra) -> dict:
    return {"resourceType": "OperationDefinition", "url": "http://example.org/OperationDefinition/echo",
            "name": "Echo", "status": "draft", "kind": "operation", "code": "echo", "system": True,
            "type": False, "instance": False, "inputProfile": LOCAL + "echo-in", "parameter": list(parameters),
            **extra}


def _param(name: str, type_: str, min_: int = 1, max_: str = "1", use: str = "in", **extra) -> dict:
    return {"name": name, "use": use, "min": min_, "max": max_, "type": type_, **extra}


AGREEING = (_param("text", "string"), _param("subject", "Patient", 0),
            _param("source", "Reference", 0, targetProfile=[PATIENT_PROFILE]))


def test_an_operation_agreeing_with_its_input_profile(local):
    assert not errors(local.validate(_operation(*AGREEING)))


def test_cardinalities_types_and_target_profiles_must_agree(local):
    operation = _operation(_param("text", "integer", 0, "*"), _param("subject", "Patient", 0),
                           _param("source", "Reference", 0, targetProfile=[LOCAL + "other"]))
    at = "OperationDefinition.parameter"
    assert sorted((i.message_id, i.expression) for i in local.validate(operation).errors) == sorted([
        ("OPDEF_PARAMETER_DIFFERS", f"{at}[0]"), ("OPDEF_PARAMETER_DIFFERS", f"{at}[0]"),
        ("OPDEF_TYPE_NOT_IN_OPERATION", f"{at}[0]"), ("OPDEF_TYPE_NOT_IN_PROFILE", f"{at}[0]"),
        ("OPDEF_TARGET_NOT_IN_PROFILE", f"{at}[2]"), ("OPDEF_TARGET_NOT_IN_OPERATION", f"{at}[2]")])


def test_a_parameter_or_a_slice_without_its_counterpart_is_a_warning(local):
    result = local.validate(_operation(_param("text", "string"), _param("subject", "Patient", 0),
                                       _param("count", "integer", 0), _param("text", "string", use="out")))
    assert not errors(result)
    assert found(result, "warning") >= {("OPDEF_SLICE_NOT_IN_OPERATION", "OperationDefinition.inputProfile"),
                                        ("OPDEF_PARAMETER_NOT_IN_PROFILE", "OperationDefinition.parameter[2]")}


def test_a_profile_not_found_or_not_of_parameters(local):
    missing = local.validate(_operation(*AGREEING, outputProfile=LOCAL + "absent"))
    assert not errors(missing)
    assert ("OPDEF_PROFILE_NOT_FOUND", "OperationDefinition.outputProfile") in found(missing, "information")
    patient = local.validate(_operation(*AGREEING, outputProfile=FHIR + "Patient"))
    assert errors(patient) == {("OPDEF_PROFILE_NOT_PARAMETERS", "OperationDefinition.outputProfile")}


@pytest.mark.parametrize("type_, allowed", [("Reference", True), ("canonical", True), ("Patient", True),
                                            ("string", False), ("CodeableConcept", False)])
def test_opd_3_lets_a_parameter_typed_by_a_resource_target_profiles(local, type_, allowed):
    """R4's opd-3 names Reference and canonical only; R5 (and the HL7 validator) also a resource type."""
    operation = _operation(_param("x", type_, 0, targetProfile=[PATIENT_PROFILE]))
    del operation["inputProfile"]
    opd_3 = {i.expression for i in local.validate(operation).errors
             if i.message_id == "INVARIANT" and dict(i.args)["key"] == "opd-3"}
    assert opd_3 == (set() if allowed else {"OperationDefinition.parameter[0]"})
