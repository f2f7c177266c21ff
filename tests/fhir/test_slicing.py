"""Slicing kinds on small hand-made profiles: value, pattern, exists and type discriminators;
closed, ordered and openAtEnd rules; slice cardinality."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from pytest_mes.fhir.commands import render_text
from pytest_mes.fhir.definitions import Definitions
from pytest_mes.fhir.discriminators import SliceIndex
from pytest_mes.fhir.store import PackageStore
from pytest_mes.fhir.validator import Validator
from tests.fhir.conftest import errors, found, local_validator

BASE = "http://example.org/StructureDefinition/"


def _profile(store: PackageStore, rtype: str, pid: str, edit) -> dict:
    base = copy.deepcopy(store.structure_definition(rtype))
    elements = base["snapshot"]["element"]
    edit(elements)
    return {"resourceType": "StructureDefinition", "id": pid, "url": BASE + pid, "version": "1.0.0",
            "name": pid, "status": "active", "kind": "resource", "abstract": False, "type": rtype,
            "baseDefinition": f"http://hl7.org/fhir/StructureDefinition/{rtype}", "derivation": "constraint",
            "snapshot": {"element": elements}}


def _insert_after(elements: list[dict], element_id: str, new: list[dict]) -> None:
    index = next(i for i, e in enumerate(elements) if e["id"] == element_id)
    # after the element and all its descendants
    end = index + 1
    while end < len(elements) and elements[end]["id"].startswith(element_id + "."):
        end += 1
    elements[end:end] = new


def _identifier_slices(rules: str, ordered: bool):
    def edit(elements: list[dict]) -> None:
        ident = next(e for e in elements if e["id"] == "Patient.identifier")
        ident["slicing"] = {"discriminator": [{"type": "value", "path": "system"}], "rules": rules, "ordered": ordered}
        new = []
        for name, system, card in (("nir", "urn:oid:1.2.250.1.213.1.4.8", ("1", "1")), ("ipp", "urn:ipp", ("0", "*"))):
            new.append({"id": f"Patient.identifier:{name}", "path": "Patient.identifier", "sliceName": name,
                        "min": int(card[0]), "max": card[1], "base": {"path": "Patient.identifier", "min": 0,
                                                                       "max": "*"}, "type": [{"code": "Identifier"}]})
            new.append({"id": f"Patient.identifier:{name}.system", "path": "Patient.identifier.system", "min": 1,
                        "max": "1", "base": {"path": "Identifier.system", "min": 0, "max": "1"},
                        "type": [{"code": "uri"}], "fixedUri": system})
            new.append({"id": f"Patient.identifier:{name}.value", "path": "Patient.identifier.value", "min": 1,
                        "max": "1", "base": {"path": "Identifier.value", "min": 0, "max": "1"},
                        "type": [{"code": "string"}]})
        _insert_after(elements, "Patient.identifier", new)
    return edit


def _identifier_values(elements: list[dict]) -> None:
    """Open nir / ipp slices, and every identifier needs a value: the slices and the sliced element say so."""
    _insert_after(elements, "Patient.identifier", [
        {"id": "Patient.identifier.value", "path": "Patient.identifier.value", "min": 1, "max": "1",
         "base": {"path": "Identifier.value", "min": 0, "max": "1"}, "type": [{"code": "string"}]}])
    _identifier_slices("open", False)(elements)


def _address_exists(elements: list[dict]) -> None:
    addr = next(e for e in elements if e["id"] == "Patient.address")
    addr["slicing"] = {"discriminator": [{"type": "exists", "path": "period"}], "rules": "open"}
    new = []
    for name, card in (("dated", (1, "*")), ("undated", (0, "0"))):
        new.append({"id": f"Patient.address:{name}", "path": "Patient.address", "sliceName": name, "min": 0,
                    "max": "*", "base": {"path": "Patient.address", "min": 0, "max": "*"},
                    "type": [{"code": "Address"}]})
        new.append({"id": f"Patient.address:{name}.period", "path": "Patient.address.period", "min": card[0],
                    "max": card[1], "base": {"path": "Address.period", "min": 0, "max": "1"},
                    "type": [{"code": "Period"}]})
    new[0]["max"] = "1"  # at most one dated address
    _insert_after(elements, "Patient.address", new)


def _value_type_slices(elements: list[dict]) -> None:
    value = next(e for e in elements if e["id"] == "Observation.value[x]")
    value["slicing"] = {"discriminator": [{"type": "type", "path": "$this"}], "rules": "closed"}
    _insert_after(elements, "Observation.value[x]", [
        {"id": "Observation.value[x]:valueQuantity", "path": "Observation.value[x]", "sliceName": "valueQuantity",
         "min": 0, "max": "1", "base": {"path": "Observation.value[x]", "min": 0, "max": "1"},
         "type": [{"code": "Quantity"}]},
    ])


def _blind_slices(elements: list[dict]) -> None:
    """identifier sliced by value:type; slice "blind" states nothing at type, slice "finess" only a
    pattern on its descendant type.coding.system (as FR Core's Organization.identifier:finess)."""
    ident = next(e for e in elements if e["id"] == "Patient.identifier")
    ident["slicing"] = {"discriminator": [{"type": "value", "path": "type"}], "rules": "open"}
    base = {"path": "Patient.identifier", "min": 0, "max": "*"}
    _insert_after(elements, "Patient.identifier", [
        {"id": "Patient.identifier:blind", "path": "Patient.identifier", "sliceName": "blind", "min": 1,
         "max": "1", "base": base, "type": [{"code": "Identifier"}]},
        {"id": "Patient.identifier:blind.type", "path": "Patient.identifier.type", "min": 0, "max": "1",
         "base": {"path": "Identifier.type", "min": 0, "max": "1"}, "type": [{"code": "CodeableConcept"}]},
        {"id": "Patient.identifier:finess", "path": "Patient.identifier", "sliceName": "finess", "min": 0,
         "max": "1", "base": base, "type": [{"code": "Identifier"}]},
        {"id": "Patient.identifier:finess.type", "path": "Patient.identifier.type", "min": 0, "max": "1",
         "base": {"path": "Identifier.type", "min": 0, "max": "1"}, "type": [{"code": "CodeableConcept"}]},
        {"id": "Patient.identifier:finess.type.coding", "path": "Patient.identifier.type.coding", "min": 0,
         "max": "*", "base": {"path": "CodeableConcept.coding", "min": 0, "max": "*"}, "type": [{"code": "Coding"}]},
        {"id": "Patient.identifier:finess.type.coding.system", "path": "Patient.identifier.type.coding.system",
         "min": 0, "max": "1", "base": {"path": "Coding.system", "min": 0, "max": "1"}, "type": [{"code": "uri"}],
         "patternUri": "urn:finess"},
    ])


def _coding_slices(elements: list[dict]) -> None:
    """Observation.code.coding sliced by system *and* code: slices a (urn:s|1), b (urn:s|2), c (urn:t|1),
    and d (urn:s|1 again: an item of a is never counted in d, the first matching slice takes it)."""
    coding = next(e for e in elements if e["id"] == "Observation.code.coding") if any(
        e["id"] == "Observation.code.coding" for e in elements) else None
    if coding is None:
        coding = {"id": "Observation.code.coding", "path": "Observation.code.coding", "min": 0, "max": "*",
                  "base": {"path": "CodeableConcept.coding", "min": 0, "max": "*"}, "type": [{"code": "Coding"}]}
        _insert_after(elements, "Observation.code", [coding])
    coding["slicing"] = {"discriminator": [{"type": "value", "path": "system"}, {"type": "value", "path": "code"}],
                         "rules": "closed"}
    new = []
    for name, system, code in (("a", "urn:s", "1"), ("b", "urn:s", "2"), ("c", "urn:t", "1"), ("d", "urn:s", "1")):
        new.append({"id": f"Observation.code.coding:{name}", "path": "Observation.code.coding", "sliceName": name,
                    "min": 0, "max": "1", "base": {"path": "CodeableConcept.coding", "min": 0, "max": "*"},
                    "type": [{"code": "Coding"}]})
        for element, value in (("system", {"fixedUri": system}), ("code", {"fixedCode": code})):
            new.append({"id": f"Observation.code.coding:{name}.{element}", "path": f"Observation.code.coding.{element}",
                        "min": 0, "max": "1", "base": {"path": f"Coding.{element}", "min": 0, "max": "1"},
                        "type": [{"code": "uri" if element == "system" else "code"}], **value})
    _insert_after(elements, "Observation.code.coding", new)


@pytest.fixture(scope="module")
def slicing_validator(fhir_packages_dir: Path, tmp_path_factory) -> Validator:
    core_only = PackageStore.load([fhir_packages_dir], offline=True, packages=["hl7.fhir.r4.core#4.0.1"])
    profiles = [
        _profile(core_only, "Patient", "closed-ordered", _identifier_slices("closed", True)),
        _profile(core_only, "Patient", "open-at-end", _identifier_slices("openAtEnd", False)),
        _profile(core_only, "Patient", "identifier-values", _identifier_values),
        _profile(core_only, "Patient", "exists", _address_exists),
        _profile(core_only, "Observation", "value-type", _value_type_slices),
        _profile(core_only, "Patient", "blind", _blind_slices),
        _profile(core_only, "Observation", "coded", _coding_slices),
    ]
    return local_validator(fhir_packages_dir, tmp_path_factory.mktemp("slicing"), "example.slicing", profiles)


NIR = {"system": "urn:oid:1.2.250.1.213.1.4.8", "value": "1"}
IPP = {"system": "urn:ipp", "value": "42"}
OTHER = {"system": "urn:other", "value": "x"}


def patient(**extra) -> dict:
    return {"resourceType": "Patient", "name": [{"family": "D"}], **extra}


def test_value_discriminator_closed_and_ordered(slicing_validator):
    profile = [BASE + "closed-ordered"]
    assert errors(slicing_validator.validate(patient(identifier=[NIR, IPP, IPP]), profile)) == set()
    result = slicing_validator.validate(patient(identifier=[IPP, NIR]), profile)
    assert errors(result) == {("SLICE_ORDER", "Patient.identifier[1]")}
    result = slicing_validator.validate(patient(identifier=[NIR, OTHER]), profile)
    assert errors(result) == {("SLICE_CLOSED", "Patient.identifier[1]")}


def test_slice_cardinality(slicing_validator):
    profile = [BASE + "closed-ordered"]
    assert errors(slicing_validator.validate(patient(identifier=[IPP]), profile)) == {("SLICE_MIN", "Patient")}
    assert errors(slicing_validator.validate(patient(identifier=[NIR, NIR]), profile)) == {("SLICE_MAX", "Patient")}


def test_matched_item_is_checked_against_its_slice(slicing_validator):
    result = slicing_validator.validate(patient(identifier=[{"system": NIR["system"]}]), [BASE + "closed-ordered"])
    assert errors(result) == {("CARD_MIN", "Patient.identifier[0]")}  # the nir slice requires a value


def test_a_rule_of_the_slice_and_of_the_sliced_element_broken_is_one_error_each(slicing_validator):
    """As the HL7 validator, which checks an item of a slice against the slice and the sliced element: each
    rule broken is an error naming it; an item of no slice breaks the sliced element's rule only."""
    result = slicing_validator.validate(patient(identifier=[{"system": NIR["system"]}, {"system": "urn:other"}]),
                                        [BASE + "identifier-values"])
    rules = sorted((i.expression, i.source.rpartition(" ")[2]) for i in result.errors)
    assert rules == [("Patient.identifier[0]", "(Patient.identifier.value)"),
                     ("Patient.identifier[0]", "(Patient.identifier:nir.value)"),
                     ("Patient.identifier[1]", "(Patient.identifier.value)")]
    result = slicing_validator.validate(patient(identifier=[{"system": NIR["system"]}]), [BASE + "identifier-values"])
    text = render_text([("p.json", result, False)]).splitlines()  # read by a person: one finding, its two rules
    at = text.index("    Patient.identifier[0]")
    assert text[at + 1].startswith("      - ") and sorted(line.rsplit(" ", 1)[1] for line in text[at + 2:at + 4]) == [
        "(Patient.identifier.value)", "(Patient.identifier:nir.value)"]


def test_a_resource_in_a_slice_under_a_type_profile_is_held_to_its_base_rules_too(fhir_packages_dir,
                                                                                     tmp_path_factory):
    """A Bundle profile whose slice of entry (told apart by type) names an Encounter profile the sliced entry
    does not: the HL7 validator validates the entry against the profile and its base definition, so a rule
    both state (Encounter.class 1..1) broken is an error from each; a resource validated against the same
    profile outside a slice is held to the profile only."""
    enc = {"resourceType": "StructureDefinition", "id": "enc", "url": BASE + "enc", "name": "Enc",
           "status": "active", "kind": "resource", "abstract": False, "type": "Encounter",
           "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Encounter", "derivation": "constraint",
           "differential": {"element": [{"id": "Encounter.subject", "path": "Encounter.subject", "min": 1}]}}
    bundle = {"resourceType": "StructureDefinition", "id": "bun", "url": BASE + "bun", "name": "Bun",
              "status": "active", "kind": "resource", "abstract": False, "type": "Bundle",
              "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Bundle", "derivation": "constraint",
              "differential": {"element": [
                  {"id": "Bundle.entry", "path": "Bundle.entry", "slicing": {
                      "discriminator": [{"type": "type", "path": "resource"}], "rules": "open"}},
                  {"id": "Bundle.entry:enc", "path": "Bundle.entry", "sliceName": "enc"},
                  {"id": "Bundle.entry:enc.resource", "path": "Bundle.entry.resource",
                   "type": [{"code": "Resource", "profile": [BASE + "enc"]}]}]}}
    validator = local_validator(fhir_packages_dir, tmp_path_factory.mktemp("base-rules"), "example.base", [enc, bundle])
    encounter = {"resourceType": "Encounter", "status": "finished", "subject": {"display": "x"}}
    result = validator.validate({"resourceType": "Bundle", "type": "collection",
                                 "entry": [{"fullUrl": "urn:uuid:1", "resource": encounter}]}, [BASE + "bun"])
    def rule(issue):  # the profile that states it
        return issue.source.split("|")[0].split(" ")[0]

    sources = sorted(rule(i) for i in result.errors
                     if i.message_id == "CARD_MIN" and i.expression == "Bundle.entry[0].resource")
    assert sources == [BASE + "enc", "http://hl7.org/fhir/StructureDefinition/Encounter"]
    assert [rule(i) for i in validator.validate(encounter, [BASE + "enc"]).errors] == [BASE + "enc"]
    without_subject = dict(encounter, subject=None)
    del without_subject["subject"]
    result = validator.validate({"resourceType": "Bundle", "type": "collection",  # the profile's rule only: once
                                 "entry": [{"fullUrl": "urn:uuid:1", "resource": dict(without_subject,
                                                                                      **{"class": {"code": "AMB"}})}]},
                                [BASE + "bun"])
    assert [(i.message_id, rule(i)) for i in result.errors] == [("CARD_MIN", BASE + "enc")]


def test_open_at_end(slicing_validator):
    profile = [BASE + "open-at-end"]
    assert errors(slicing_validator.validate(patient(identifier=[NIR, OTHER]), profile)) == set()
    result = slicing_validator.validate(patient(identifier=[OTHER, NIR]), profile)
    assert errors(result) == {("SLICE_OPEN_AT_END", "Patient.identifier[1]")}


def test_exists_discriminator(slicing_validator):
    profile = [BASE + "exists"]
    dated = {"city": "Paris", "period": {"start": "2020-01-01"}}
    undated = {"city": "Lyon"}
    assert errors(slicing_validator.validate(patient(address=[dated, undated]), profile)) == set()
    result = slicing_validator.validate(patient(address=[dated, dated, undated]), profile)
    assert errors(result) == {("SLICE_MAX", "Patient")}


def test_type_discriminator_on_a_choice(slicing_validator):
    obs = {"resourceType": "Observation", "status": "final", "code": {"text": "poids"}}
    profile = [BASE + "value-type"]
    assert errors(slicing_validator.validate(dict(obs, valueQuantity={"value": 72}), profile)) == set()
    result = slicing_validator.validate(dict(obs, valueString="72 kg"), profile)
    assert errors(result) == {("SLICE_CLOSED", "Observation.value.ofType(string)")}
    assert ("SLICE_CLOSED", "Observation.value.ofType(string)") in found(result, "error")


def test_slice_that_can_never_be_told_apart_is_reported_not_checked_once(slicing_validator):
    """A value discriminator with nothing to compare (no fixed value, pattern nor required binding) in
    the slice: never matching would give a false SLICE_MIN; it is "non déterminée", said once."""
    profile = [BASE + "blind"]
    other = {"type": {"coding": [{"system": "urn:x", "code": "a"}]}, "value": "1"}
    result = slicing_validator.validate(patient(identifier=[other, dict(other, value="2")]), profile)
    assert errors(result) == set()
    blind = [i for i in result.issues if i.message_id == "SLICE_UNDETERMINABLE"]
    assert [(i.severity, i.expression) for i in blind] == [("information", "Patient.identifier[0]")]
    assert "blind" in blind[0].message


def test_descendant_patterns_make_the_slice_pattern(slicing_validator):
    profile = [BASE + "blind"]
    finess = {"type": {"coding": [{"system": "urn:finess", "code": "x"}]}, "value": "1"}
    result = slicing_validator.validate(patient(identifier=[finess, finess]), profile)
    assert ("SLICE_MAX", "Patient") in errors(result)


def test_slices_told_apart_by_two_values_need_both(slicing_validator):
    """Several discriminators: an item is in a slice when every one of them matches that same slice."""
    profile = [BASE + "coded"]

    def obs(*codings: tuple[str, str]) -> dict:
        return {"resourceType": "Observation", "status": "final",
                "code": {"coding": [{"system": s, "code": c} for s, c in codings]}}

    assert errors(slicing_validator.validate(obs(("urn:t", "1"), ("urn:s", "1"), ("urn:s", "2")), profile)) == set()
    # urn:t and 2 are both known values, but of different slices: no slice holds urn:t|2.
    result = slicing_validator.validate(obs(("urn:s", "1"), ("urn:t", "2")), profile)
    assert errors(result) == {("SLICE_CLOSED", "Observation.code.coding[1]")}
    result = slicing_validator.validate(obs(("urn:s", "2"), ("urn:s", "2")), profile)
    assert errors(result) == {("SLICE_MAX", "Observation.code")}
    result = slicing_validator.validate(obs(("urn:s", "1"), ("urn:s", "1")), profile)
    assert [i.source.rpartition("(")[2] for i in result.issues if i.message_id == "SLICE_MAX"] == [
        "Observation.code.coding:a)"]
    coding = slicing_validator.definitions.schema(profile[0]).by_id["Observation.code.coding"]
    assert slicing_validator.definitions.slice_index(coding) is not None, "this slicing is matched by lookup"


def test_slices_matched_by_lookup_or_one_by_one_give_the_same_issues(validator, examples, monkeypatch):
    """The lookup table of string-valued slicings is an optimisation only: every official example gets
    exactly the same issues when each item is tried against each slice instead."""
    from tests.fhir.test_examples import EXAMPLES

    if not EXAMPLES:
        pytest.skip("FHIR packages not available")
    lookups = []
    real_match = SliceIndex.match
    monkeypatch.setattr(SliceIndex, "match", lambda self, walk, item: lookups.append(1) or real_match(self, walk, item))
    fast = [Validator(validator.store).validate(examples(key, name), context=key).issues for key, name in EXAMPLES]
    assert lookups, "some slicings of the examples are matched by lookup"
    slow_validator = Validator(validator.store)
    monkeypatch.setattr(Definitions, "slice_index", lambda self, base: None)
    slow = [slow_validator.validate(examples(key, name), context=key).issues for key, name in EXAMPLES]
    assert fast == slow


def test_a_message_said_once_is_said_at_the_first_place_in_the_document(validator):
    """SLICE_UNDETERMINABLE is said once per slice: at the first place in document order, whatever order
    the walk meets the places in (a null in `contained` makes it walk that array last)."""
    profile = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient|2.1.0"
    contact = {"relationship": [{"coding": [{"system": "http://example.org/cs", "code": "x"}]}],
               "name": {"family": "A"}}
    inner = {"resourceType": "Patient", "id": "p2", "meta": {"profile": [profile]}, "contact": [contact]}
    said = []
    for contained in ([inner, None], [inner]):
        for first in ("contained", "contact"):
            fields = {"contained": contained, "contact": [contact]}
            patient = {"resourceType": "Patient", "meta": {"profile": [profile]},
                       **{k: fields[k] for k in sorted(fields, key=lambda k: k != first)}}
            said.append(sorted((i.expression, i.source) for i in validator.validate(patient).issues
                               if i.message_id == "SLICE_UNDETERMINABLE"))
    assert said[0] and all(s == said[0] for s in said), said
    assert {e for e, _ in said[0]} == {"Patient.contact[0].relationship[0]"}
