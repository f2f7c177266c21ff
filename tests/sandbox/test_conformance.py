"""The seed data and the sandbox's answers conform to the profiles (checked by pytest-mes's validator)."""

from __future__ import annotations

import pytest
import requests

from pytest_mes.sandbox.seed import seed_resources

from .conftest import INS, SHARED_PACKAGES

CONTEXTS = (None, "ans.fhir.fr.gap#3.0.0", "ans.fhir.fr.pdsm#3.1.1")

fhir = pytest.importorskip("pytest_mes.fhir", reason="the validator (pytest_mes.fhir) is not available")


@pytest.fixture(scope="module")
def validator():
    return fhir.load_validator([SHARED_PACKAGES], offline=True)


def errors(result) -> list[str]:
    return [f"{i.expression}: {i.message}" for i in result.issues if i.severity in ("error", "fatal")]


def _one_slot_per_schedule(resources: list[dict]) -> list[dict]:
    """All seed resources, but Slots only one per schedule and status (they are built alike)."""
    kept, seen = [], set()
    for resource in resources:
        if resource["resourceType"] == "Slot":
            key = (resource["schedule"]["reference"], resource["status"])
            if key in seen:
                continue
            seen.add(key)
        kept.append(resource)
    return kept


@pytest.mark.parametrize("resource", _one_slot_per_schedule(seed_resources()),
                         ids=lambda r: f"{r['resourceType']}/{r['id']}")
def test_seed_resource_conforms_to_its_profiles(validator, resource):
    """Each seed resource against base R4 and its meta.profile (FR Core, GAP, PDSm, Annuaire), with
    the FR Core version of each IG (GAP pins 2.0.1, PDSm 2.1.0; default: the latest loaded)."""
    for context in CONTEXTS:
        assert errors(validator.validate(resource, context=context)) == [], context


@pytest.mark.parametrize(
    ("type_", "params"),
    [
        ("Slot", [("_include", "Slot:schedule"), ("_include", "Schedule:actor"), ("status", "free"),
                  ("_count", "5")]),
        ("Appointment", [("_include", "Appointment:actor"), ("status", "booked")]),
        ("DocumentReference", [("patient.identifier", f"{INS}|285037511604233"), ("status", "current")]),
        ("List", [("patient", "pat-dupont"), ("status", "current")]),
    ],
)
def test_search_bundles_conform_to_the_gap_and_pdsm_bundle_profiles(validator, sandbox, type_, params):
    bundle = requests.get(f"{sandbox.base_url}/{type_}", params=params).json()
    assert bundle["meta"]["profile"]
    for context in CONTEXTS:
        assert errors(validator.validate(bundle, context=context)) == [], context


def test_transaction_response_conforms(validator, fresh):
    from .test_pdsm import provide_bundle

    bundle, _ = provide_bundle()
    answer = requests.post(fresh.base_url, json=bundle).json()
    assert errors(validator.validate(answer)) == []


def test_capability_statement_is_valid_r4(validator, sandbox):
    assert errors(validator.validate(requests.get(f"{sandbox.base_url}/metadata").json())) == []


def test_the_documented_seed_ids_are_those_seeded():
    """`SEED_IDS` is what test-set authors rely on: every id it names is seeded, with the type it says."""
    from pytest_mes.sandbox.seed import SEED_IDS

    seeded = {f"{r['resourceType']}/{r['id']}" for r in seed_resources()}
    assert set(SEED_IDS) <= seeded, set(SEED_IDS) - seeded
