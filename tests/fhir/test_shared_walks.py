"""A resource walked by conforms() (to sort a Bundle entry into its ``profile:resource`` slice, or to
judge a reference target) is not walked again: the main walk says the issues found again, at its own
location. These tests hold that optimisation to the exact issues of the walk it saves."""

from __future__ import annotations

import copy

import pytest

from pytest_mes.fhir.references import ReferenceChecks
from pytest_mes.fhir.validator import Validator
from pytest_mes.fhir.walk import Replays
from tests.fhir.conftest import errors

GAP = "ans.fhir.fr.gap#3.0.0"
CORE21 = "hl7.fhir.fr.core#2.1.0"
GAP_BUNDLE = "https://interop.esante.gouv.fr/ig/fhir/gap/StructureDefinition/gap-bundle-reponse-demande-consult-dispo"
FR_LOCATION = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-location"


def _gap_bundle(examples, slots: int = 3) -> dict:
    entries = []
    for i in range(slots):
        slot, schedule = examples(GAP, "Slot-example.json"), examples(GAP, "Schedule-example.json")
        slot["id"], schedule["id"] = f"r{i}", f"s{i}"
        slot["schedule"] = {"reference": f"Schedule/s{i}"}
        entries += [
            {"fullUrl": f"https://example.org/fhir/Slot/r{i}", "resource": slot, "search": {"mode": "match"}},
            {"fullUrl": f"https://example.org/fhir/Schedule/s{i}", "resource": schedule,
             "search": {"mode": "include"}},
        ]
    return {"resourceType": "Bundle", "type": "searchset", "meta": {"profile": [GAP_BUNDLE]}, "entry": entries}


def _mutants(examples) -> list[tuple[str, dict]]:
    """GAP Bundles broken in ways that make the derived-profile walk fail, or the slice match fail."""
    out = [("valid", _gap_bundle(examples))]
    bundle = _gap_bundle(examples)
    bundle["entry"][0]["resource"]["status"] = "occupé"  # outside the required ValueSet: every profile says so
    out.append(("bad status", bundle))
    bundle = _gap_bundle(examples)
    del bundle["entry"][2]["resource"]["meta"]  # sorted by fr-core-slot alone
    bundle["entry"][3]["resource"]["serviceType"] = [{"text": "0..0 in FR Core"}]
    out.append(("undeclared slot, broken schedule", bundle))
    bundle = _gap_bundle(examples)
    bundle["entry"][4]["request"] = {"method": "GET", "url": "Slot"}
    bundle["entry"][5]["resource"]["unknown"] = 1
    out.append(("request in a slot entry, unknown element", bundle))
    return out


def _locations_in_a_cycle(broken: bool) -> dict:
    """FR Core 2.1.0 Locations a and b, each partOf the other (target profile fr-core-location), and c
    partOf a, first: judging c walks a, which walks b, which finds a being judged and assumes it
    conforms. b's walk leaned on that assumption: replayed, it would hide that a does not conform."""
    def location(own: str, other: str) -> dict:
        return {"resourceType": "Location", "id": own, "meta": {"profile": [FR_LOCATION + "|2.1.0"]}, "name": own,
                "partOf": {"reference": f"Location/{other}"}}
    c, a, b = location("c", "a"), location("a", "b"), location("b", "a")
    if broken:
        b["status"] = "fermé"
    return {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": f"https://example.org/fhir/Location/{r['id']}", "resource": r} for r in (c, a, b)]}


def _cases(examples) -> list[tuple[str, dict, str]]:
    cases = [(name, bundle, GAP) for name, bundle in _mutants(examples)]
    cases += [(f"location cycle {broken}", _locations_in_a_cycle(broken), CORE21) for broken in (False, True)]
    return cases


def test_replayed_walks_give_the_issues_of_walking_again(validator, examples, monkeypatch):
    cases = _cases(examples)
    hits = []
    real_get = Replays.get

    def counting_get(self, res, canonical, pkg):
        found = real_get(self, res, canonical, pkg)
        hits.append(found is not None)
        return found

    monkeypatch.setattr(Replays, "get", counting_get)
    shared = [validator.validate(copy.deepcopy(bundle), context=ctx).issues for _, bundle, ctx in cases]
    assert sum(hits) >= 6, "the valid GAP Bundle's entries are not walked twice"
    monkeypatch.setattr(Replays, "get", lambda self, res, canonical, pkg: None)
    monkeypatch.setattr(ReferenceChecks, "declared_derivation", lambda self, resource, schema, context: None)
    again = [Validator(validator.store).validate(copy.deepcopy(bundle), context=ctx).issues
             for _, bundle, ctx in cases]
    for (name, _, _), one, other in zip(cases, shared, again, strict=True):
        assert one == other, name


def test_mutants_are_found(validator, examples):
    """The cases above do exercise failures: each mutant has errors, at the entry it broke."""
    found = {name: errors(validator.validate(bundle, context=GAP)) for name, bundle in _mutants(examples)}
    assert found["valid"] == set()
    assert ("BINDING_REQUIRED", "Bundle.entry[0].resource.status") in found["bad status"]
    assert any(e.startswith("Bundle.entry[3]") for _, e in found["undeclared slot, broken schedule"])
    assert ("UNKNOWN_ELEMENT", "Bundle.entry[5].resource.unknown") in found["request in a slot entry, unknown element"]


@pytest.mark.parametrize("broken", [False, True])
def test_reference_cycle_is_judged_without_replaying_an_assumption(validator, broken):
    found = errors(validator.validate(_locations_in_a_cycle(broken), context=CORE21))
    assert (("BINDING_REQUIRED", "Bundle.entry[2].resource.status") in found) is broken
    # b does not conform, so neither does a (its parent), which b's partOf names.
    assert (("REF_TARGET_PROFILE", "Bundle.entry[1].resource.partOf.reference") in found) is broken
    assert (("REF_TARGET_PROFILE", "Bundle.entry[2].resource.partOf.reference") in found) is broken
