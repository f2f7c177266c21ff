"""Rules the HL7 validator applies beyond what a StructureDefinition states (issue 10, part 2): each test
has its control, and fails without the rule."""

from __future__ import annotations

import pytest

from pytest_mes.fhir.packages import PackageStore
from pytest_mes.fhir.validator import Validator
from tests.fhir.conftest import errors, local_validator

FHIR = "http://hl7.org/fhir/StructureDefinition/"
LOCAL = "http://example.org/StructureDefinition/"


@pytest.fixture(scope="module")
def core(fhir_packages_dir) -> Validator:
    """R4 core alone, every dependency loaded: as the HL7 validator runs the test suite."""
    return Validator(PackageStore.load([fhir_packages_dir], offline=True, packages=["hl7.fhir.r4.core#4.0.1"]))


def _patient(**extra) -> dict:
    return {"resourceType": "Patient", "name": [{"family": "Martin"}], **extra}


# ---- Bundles -------------------------------------------------------------------------------------------

def _bundle(kind: str, *entries: dict) -> dict:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def test_bundle_entries_need_an_absolute_fullurl_outside_transactions_and_batches(core):
    result = core.validate(_bundle("collection", {"resource": _patient()},
                                   {"fullUrl": "Patient/1", "resource": _patient(id="1")},
                                   {"fullUrl": "urn:uuid:9d9c5e0a-0d5e-4f3e-9d5c-2a8d3e3f8e01",
                                    "resource": _patient()}))
    assert errors(result) == {("BUNDLE_NO_FULLURL", "Bundle.entry[0]"), ("BUNDLE_FULLURL_RELATIVE", "Bundle.entry[1]")}
    for kind in ("transaction", "batch"):  # the server gives the identities
        bundle = _bundle(kind, {"resource": _patient(), "request": {"method": "POST", "url": "Patient"}})
        assert not [e for e in errors(core.validate(bundle)) if e[0].startswith("BUNDLE_")]


def test_a_restful_fullurl_ends_with_the_resource_type_and_id(core):
    result = core.validate(_bundle("collection",
                                   {"fullUrl": "https://example.org/fhir/Patient/a", "resource": _patient(id="b")},
                                   {"fullUrl": "https://example.org/fhir/Patient/c", "resource": _patient(id="c")},
                                   {"fullUrl": "https://example.org/fhir/Patient/d/_history/2",
                                    "resource": _patient(id="d")},
                                   {"fullUrl": "https://example.org/documents/42", "resource": _patient(id="e")}))
    assert {e for e in errors(result) if e[0].startswith("BUNDLE_")} == {("BUNDLE_FULLURL_MISMATCH", "Bundle.entry[0]")}
    assert "/Patient/b" in next(i.message for i in result.issues if i.message_id == "BUNDLE_FULLURL_MISMATCH")


# ---- extensions ------------------------------------------------------------------------------------------

def _extension(url: str, contexts: list[dict]) -> dict:
    return {"resourceType": "StructureDefinition", "id": url.rsplit("/", 1)[1], "url": url, "name": "X",
            "status": "draft", "kind": "complex-type", "abstract": False, "type": "Extension",
            "baseDefinition": FHIR + "Extension", "derivation": "constraint", "context": contexts,
            "differential": {"element": [
                {"id": "Extension.url", "path": "Extension.url", "fixedUri": url},
                {"id": "Extension.value[x]", "path": "Extension.value[x]", "type": [{"code": "string"}]}]}}


@pytest.fixture(scope="module")
def local(fhir_packages_dir, tmp_path_factory) -> Validator:
    """Differential-only definitions, as the HL7 test suite supplies them."""
    inner = _extension(LOCAL + "inner", [{"type": "extension", "expression": FHIR + "patient-nationality"}])
    # A profile of a resource written with a wrong kind (complex-type), as some test profiles are.
    odd_kind = {"resourceType": "StructureDefinition", "id": "odd-kind", "url": LOCAL + "odd-kind", "name": "OddKind",
                "status": "draft", "kind": "complex-type", "abstract": False, "type": "Patient",
                "baseDefinition": FHIR + "Patient", "derivation": "constraint",
                "differential": {"element": [{"id": "Patient.gender", "path": "Patient.gender", "min": 1}]}}
    return local_validator(fhir_packages_dir, tmp_path_factory.mktemp("hl7"), "example.hl7", [inner, odd_kind])


def test_extension_context_of_type_extension(local):
    inner = {"url": LOCAL + "inner", "valueString": "x"}
    nested = _patient(extension=[{"url": FHIR + "patient-nationality", "extension": [
        {"url": "code", "valueCodeableConcept": {"text": "FR"}}, inner]}])
    assert not [i for i in local.validate(nested).issues if i.message_id.startswith("EXTENSION_CONTEXT")]
    assert ("EXTENSION_CONTEXT", "Patient.extension[0]") in errors(local.validate(_patient(extension=[inner])))


def test_a_resource_profile_that_says_complex_type_still_takes_resource_type(local):
    result = local.validate(_patient(), [LOCAL + "odd-kind"])
    assert errors(result) == {("CARD_MIN", "Patient")}  # gender; resourceType is not an unknown element
