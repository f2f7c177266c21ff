"""The reference resolver: targets outside the resource and its Bundle, checked for type and target profile."""

from __future__ import annotations

import pytest

from pytest_mes.fhir.store import PackageStore
from pytest_mes.fhir.validator import Validator
from tests.fhir.conftest import errors, found, local_validator
from tests.fhir.test_slicing import BASE, _profile

SUBJECT = "Observation.subject.reference"


def _dated_patient(elements: list[dict]) -> None:
    next(e for e in elements if e["id"] == "Patient.birthDate")["min"] = 1


def _dated_subject(elements: list[dict]) -> None:
    subject = next(e for e in elements if e["id"] == "Observation.subject")
    subject["type"] = [{"code": "Reference", "targetProfile": [BASE + "dated-patient"]}]


def _linked_patient(elements: list[dict]) -> None:
    """Gender required, and linked patients must conform to this same profile."""
    next(e for e in elements if e["id"] == "Patient.gender")["min"] = 1
    other = next(e for e in elements if e["id"] == "Patient.link.other")
    other["type"] = [{"code": "Reference", "targetProfile": [BASE + "linked-patient"]}]


@pytest.fixture(scope="module")
def store(fhir_packages_dir, tmp_path_factory) -> PackageStore:
    core = PackageStore.load([fhir_packages_dir], offline=True, packages=["hl7.fhir.r4.core#4.0.1"])
    profiles = [_profile(core, "Patient", "dated-patient", _dated_patient),
                _profile(core, "Observation", "dated-subject", _dated_subject),
                _profile(core, "Patient", "linked-patient", _linked_patient)]
    return local_validator(fhir_packages_dir, tmp_path_factory.mktemp("resolution"), "example.resolution",
                           profiles).store


class Server:
    """A resolver over a dict of resources by reference, counting what it is asked."""

    def __init__(self, resources: dict[str, dict]):
        self.resources = resources
        self.asked: list[str] = []

    def __call__(self, ref: str) -> dict | None:
        self.asked.append(ref)
        return self.resources.get(ref)


def _observation(subject: str = "Patient/p1") -> dict:
    return {"resourceType": "Observation", "status": "final", "code": {"text": "weight"},
            "subject": {"reference": subject}}


def _validate(store: PackageStore, resources: dict[str, dict] | None, resource: dict, profile: str):
    resolver = Server(resources) if resources is not None else None
    return Validator(store, resolver=resolver).validate(resource, [BASE + profile]), resolver


def test_without_a_resolver_an_outside_target_is_not_judged(store):
    result, _ = _validate(store, None, _observation(), "dated-subject")
    assert "REF_TARGET_PROFILE" not in {i.message_id for i in result.issues}
    assert result.valid


def test_a_resolved_target_must_conform_to_a_target_profile(store):
    result, server = _validate(store, {"Patient/p1": {"resourceType": "Patient", "id": "p1"}}, _observation(),
                               "dated-subject")
    assert errors(result) == {("REF_TARGET_PROFILE", SUBJECT)}
    assert server.asked == ["Patient/p1"]
    good, _ = _validate(store, {"Patient/p1": {"resourceType": "Patient", "id": "p1", "birthDate": "1970-01-01"}},
                        _observation(), "dated-subject")
    assert good.valid, good


def test_a_resolved_target_of_another_type_than_its_reference_names(store):
    result, _ = _validate(store, {"Patient/p1": {"resourceType": "Group", "id": "p1", "type": "person",
                                                 "actual": True}}, _observation(), "dated-subject")
    assert errors(result) == {("REF_WRONG_TYPE", SUBJECT)}


def test_nothing_resolved_invents_no_error(store):
    result, server = _validate(store, {}, _observation(), "dated-subject")
    assert server.asked == ["Patient/p1"]
    assert result.valid, result


def test_references_inside_the_resource_or_its_bundle_are_not_asked(store):
    patient = {"resourceType": "Patient", "id": "p1"}
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "http://example.org/fhir/Patient/p1", "resource": patient},
        {"fullUrl": "http://example.org/fhir/Observation/o1", "resource": {
            **_observation("Patient/p1"), "meta": {"profile": [BASE + "dated-subject"]}}}]}
    server = Server({"Patient/p1": {**patient, "birthDate": "1970-01-01"}})
    result = Validator(store, resolver=server).validate(bundle)
    assert server.asked == []
    assert ("REF_TARGET_PROFILE", "Bundle.entry[1].resource.subject.reference") in errors(result)


def test_a_failing_resolver_is_said_not_a_crash(store):
    def broken(ref: str) -> dict:
        raise ConnectionError("server down")

    result = Validator(store, resolver=broken).validate(_observation(), [BASE + "dated-subject"])
    assert ("REF_RESOLVE_FAILED", SUBJECT) in found(result, "information")
    assert "server down" in next(i.message for i in result.issues if i.message_id == "REF_RESOLVE_FAILED")
    assert result.valid


def _linked(pid: str, other: str, gender: str | None = "unknown") -> dict:
    return {"resourceType": "Patient", "id": pid, **({"gender": gender} if gender else {}),
            "link": [{"other": {"reference": f"Patient/{other}"}, "type": "seealso"}]}


@pytest.mark.parametrize("far_gender, valid", [("female", True), (None, False)])
def test_a_cycle_of_resolved_targets_is_judged_once_each(store, far_gender, valid):
    """a -> b -> c -> b: each target is fetched once; c without gender breaks b, which breaks a's link."""
    server = Server({"Patient/b": _linked("b", "c"), "Patient/c": _linked("c", "b", far_gender)})
    result = Validator(store, resolver=server).validate(_linked("a", "b"), [BASE + "linked-patient"])
    assert sorted(server.asked) == ["Patient/b", "Patient/c"]
    assert result.valid is valid, result
    if not valid:
        assert errors(result) == {("REF_TARGET_PROFILE", "Patient.link[0].other.reference")}


def test_a_resolver_given_to_one_validation(store):
    """validate(resolver=…) serves that validation only, in place of the validator's."""
    validator = Validator(store, resolver=Server({}))
    undated = Server({"Patient/p1": {"resourceType": "Patient", "id": "p1"}})
    result = validator.validate(_observation(), [BASE + "dated-subject"], resolver=undated)
    assert errors(result) == {("REF_TARGET_PROFILE", SUBJECT)}
    assert undated.asked == ["Patient/p1"] and validator.resolver.asked == []
    assert validator.validate(_observation(), [BASE + "dated-subject"]).valid
    assert validator.resolver.asked == ["Patient/p1"]
