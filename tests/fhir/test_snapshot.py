"""Snapshot generation from differentials (pytest_mes.fhir.snapshot).

The strong test: the published FR Core and GAP profiles, stripped of their snapshot, give back the
published snapshot (element ids and order, cardinalities, types and their profiles, bindings, fixed and
pattern values, slicing, must-support) from their differential and the real R4 base definitions.
"""

from __future__ import annotations

import copy

import pytest

from pytest_mes.errors import ProfileError
from pytest_mes.fhir.compiler import type_code
from pytest_mes.fhir.snapshot import generate_snapshot

FHIR = "http://hl7.org/fhir/StructureDefinition/"


def _strip_version(url: str) -> str:
    return url.split("|")[0]


def _view(element: dict) -> dict:
    """What a snapshot element says that validation relies on, canonicals without their version (the IG
    Publisher pins the core's |4.0.1 when it publishes)."""
    binding = element.get("binding") or {}
    slicing = element.get("slicing") or {}
    resource_id = (element.get("base") or {}).get("path") == "Resource.id"
    return {
        "min": element.get("min"),
        "max": element.get("max"),
        "types": sorted(("id" if resource_id else type_code(t),
                         sorted(map(_strip_version, t.get("profile") or ())),
                         sorted(map(_strip_version, t.get("targetProfile") or ())))
                        for t in element.get("type") or ()),
        "binding": (binding.get("strength"), _strip_version(binding.get("valueSet") or "")) if binding else None,
        "slicing": ([(d.get("type"), d.get("path")) for d in slicing.get("discriminator") or ()],
                    slicing.get("rules"), bool(slicing.get("ordered"))) if slicing else None,
        "values": {k: v for k, v in element.items() if k.startswith(("fixed", "pattern"))},
        "mustSupport": bool(element.get("mustSupport")),
    }


def _publisher_only(element: dict, key: str, published: dict, generated: dict) -> bool:
    """Differences that come from the IG Publisher, not from the differential:
    - it states the default slicing of every extension element (by url, open);
    - it applies the R4 technical correction of the vital signs profiles (ucum-vitals-common extensible);
    - a new slice of an element its base profile unrolled takes its non-required bindings from the type,
      not from the base profile (documented in docs/validation.md: only required bindings are compared)."""
    if key == "slicing" and element["id"].rpartition(".")[2].startswith(("extension", "modifierExtension")):
        return published["slicing"] == ([("value", "url")], "open", False)
    if key == "binding" and published["binding"] is not None:
        return published["binding"][1] == "http://hl7.org/fhir/ValueSet/ucum-vitals-common" or \
            published["binding"][0] != "required" != (generated["binding"] or ("",))[0]
    return False


def _constraint_profiles(store, key: str) -> list[dict]:
    package = store.package(key)
    return [package.read(i) for i, e in enumerate(package.entries)
            if e.get("t") == "StructureDefinition" and e.get("d") == "constraint"]


@pytest.mark.parametrize("package_key", ["hl7.fhir.fr.core#2.2.0", "ans.fhir.fr.gap#3.0.0"])
def test_published_profiles_regenerated_from_their_differential(store, package_key):
    compared = 0
    for published in _constraint_profiles(store, package_key):
        differential_only = {k: v for k, v in published.items() if k != "snapshot"}
        generated = generate_snapshot(differential_only, lambda url: store.structure_definition(url, package_key))
        ours = {e["id"]: e for e in generated["snapshot"]["element"]}
        theirs = published["snapshot"]["element"]
        missing = [e["id"] for e in theirs if e["id"] not in ours]
        assert not missing, f"{published['url']}: elements not generated: {missing[:5]}"
        order = [eid for eid in ours if eid in {e['id'] for e in theirs}]
        assert order == [e["id"] for e in theirs], f"{published['url']}: elements out of order"
        unresolved = _under_unresolved_profiles(generated["snapshot"]["element"], store, package_key)
        for element in theirs:
            if element["id"] in unresolved:
                continue
            mine, expected = _view(ours[element["id"]]), _view(element)
            for key in expected:
                if mine[key] != expected[key] and not _publisher_only(element, key, expected, mine):
                    pytest.fail(f"{published['url']} {element['id']} {key}: generated {mine[key]!r}, "
                                f"published {expected[key]!r}")
            compared += 1
    assert compared > 1000 if package_key.startswith("hl7") else compared > 200


def _under_unresolved_profiles(elements: list[dict], store, context: str) -> set[str]:
    """Ids beneath an element whose type profile is in a package not loaded (the extensions pack):
    the publisher unrolled that profile, which we cannot."""
    out: set[str] = set()
    heads = [e["id"] for e in elements for t in e.get("type") or () for p in t.get("profile") or ()
             if store.structure_definition(p, context) is None]
    for e in elements:
        if any(e["id"].startswith(h + ".") for h in heads):
            out.add(e["id"])
    return out


# ---- small differentials, written for these tests ------------------------------------------------------

def _profile(elements: list[dict], base: str = FHIR + "Patient", type_: str = "Patient", **extra) -> dict:
    return {"resourceType": "StructureDefinition", "url": "http://example.org/StructureDefinition/p",
            "type": type_, "baseDefinition": base, "derivation": "constraint",
            "differential": {"element": elements}, **extra}


def _generate(store, sd: dict) -> dict[str, dict]:
    result = generate_snapshot(sd, lambda url: store.structure_definition(url))
    return {e["id"]: e for e in result["snapshot"]["element"]}


def test_elements_without_ids_are_placed_under_the_last_slice_of_their_path(store):
    elements = _generate(store, _profile([
        {"path": "Patient.identifier", "slicing": {"discriminator": [{"type": "value", "path": "system"}],
                                                   "rules": "closed"}, "min": 1},
        {"path": "Patient.identifier", "sliceName": "nir", "max": "1"},
        {"path": "Patient.identifier.system", "fixedUri": "urn:oid:1.2.250.1.213.1.4.8"},
        {"path": "Patient.identifier", "sliceName": "local"},
        {"path": "Patient.identifier.system", "min": 1},
    ]))
    ids = list(elements)
    nir, local = ids.index("Patient.identifier:nir"), ids.index("Patient.identifier:local")
    assert ids.index("Patient.identifier") < nir < ids.index("Patient.identifier:nir.system") < local
    assert elements["Patient.identifier:nir"]["min"] == 0 and elements["Patient.identifier:nir"]["max"] == "1"
    assert elements["Patient.identifier:nir.system"]["fixedUri"] == "urn:oid:1.2.250.1.213.1.4.8"
    assert "fixedUri" not in elements["Patient.identifier:local.system"]
    assert elements["Patient.identifier:local.system"]["min"] == 1
    assert elements["Patient.identifier"]["slicing"]["rules"] == "closed"
    assert ids.index("Patient.identifier:local.system") < ids.index("Patient.active")  # slices end before


def test_a_slice_whose_id_does_not_name_it_is_read_by_its_path(store):
    """A slice with the sliced element's id (as the HL7 test case aggregation-profile-bundle has): a slice all
    the same, and the elements its wrong id led are under it, as the HL7 snapshot generator reads them."""
    elements = _generate(store, _profile([
        {"id": "Patient.identifier", "path": "Patient.identifier",
         "slicing": {"discriminator": [{"type": "value", "path": "system"}], "rules": "open"}},
        {"id": "Patient.identifier", "path": "Patient.identifier", "sliceName": "nir"},
        {"id": "Patient.identifier.system", "path": "Patient.identifier.system", "fixedUri": "urn:nir"},
        {"id": "Patient.gender", "path": "Patient.gender", "min": 1},
    ]))
    assert elements["Patient.identifier:nir"]["sliceName"] == "nir"
    assert elements["Patient.identifier:nir.system"]["fixedUri"] == "urn:nir"
    assert "fixedUri" not in elements.get("Patient.identifier.system", {})
    assert elements["Patient.gender"]["min"] == 1


def test_a_type_renamed_choice_is_a_type_slice(store):
    elements = _generate(store, _profile([
        {"path": "Observation.valueQuantity", "min": 1},
        {"path": "Observation.valueQuantity.system", "fixedUri": "http://unitsofmeasure.org"},
    ], base=FHIR + "Observation", type_="Observation"))
    choice = elements["Observation.value[x]"]
    assert choice["slicing"]["discriminator"] == [{"type": "type", "path": "$this"}]
    assert len(choice["type"]) > 1  # the other types stay allowed
    typed = elements["Observation.value[x]:valueQuantity"]
    assert [t["code"] for t in typed["type"]] == ["Quantity"] and typed["min"] == 1
    assert elements["Observation.value[x]:valueQuantity.system"]["path"] == "Observation.value[x].system"


def test_reslicing_and_inherited_constraints(store):
    base = _generate(store, _profile([
        {"id": "Patient.identifier", "path": "Patient.identifier",
         "slicing": {"discriminator": [{"type": "value", "path": "system"}], "rules": "closed"}},
        {"id": "Patient.identifier:a", "path": "Patient.identifier", "sliceName": "a"},
    ]))
    parent = {"resourceType": "StructureDefinition", "url": "http://example.org/StructureDefinition/parent",
              "snapshot": {"element": list(base.values())}}
    derived = _profile([
        {"id": "Patient", "path": "Patient", "constraint": [
            {"key": "ex-1", "severity": "error", "human": "a name", "expression": "name.exists()"}]},
        {"id": "Patient.identifier", "path": "Patient.identifier", "slicing": {"rules": "open"}},
        {"id": "Patient.identifier:a/b", "path": "Patient.identifier", "sliceName": "a/b", "min": 1},
    ], base=parent["url"])
    resolved = {parent["url"]: parent}
    result = generate_snapshot(derived, lambda url: resolved.get(url) or store.structure_definition(url))
    elements = {e["id"]: e for e in result["snapshot"]["element"]}
    ids = list(elements)
    assert ids.index("Patient.identifier:a") < ids.index("Patient.identifier:a/b") < ids.index("Patient.active")
    assert elements["Patient.identifier:a/b"]["min"] == 1
    assert elements["Patient.identifier"]["slicing"]["rules"] == "closed"  # a base's closed slicing stays closed
    keys = {c["key"]: c for c in elements["Patient"]["constraint"]}
    assert {"dom-2", "ex-1"} <= set(keys) and keys["ex-1"]["source"] == derived["url"]


def test_content_reference_is_unrolled(store):
    elements = _generate(store, _profile([
        {"path": "Questionnaire.item.item.linkId", "maxLength": 10},
    ], base=FHIR + "Questionnaire", type_="Questionnaire"))
    nested = elements["Questionnaire.item.item"]
    assert "contentReference" not in nested and nested["type"] == [{"code": "BackboneElement"}]
    assert elements["Questionnaire.item.item.linkId"]["maxLength"] == 10
    assert "maxLength" not in elements["Questionnaire.item.linkId"]


def test_an_extension_slice_unrolls_its_profile(store):
    elements = _generate(store, _profile([
        {"path": "Patient.extension", "sliceName": "nation",
         "type": [{"code": "Extension", "profile": [FHIR + "patient-nationality"]}]},
        {"path": "Patient.extension.extension", "sliceName": "code", "min": 1},
    ]))
    # the nationality extension's own definition is unrolled: its "code" slice and fixed url
    assert elements["Patient.extension:nation.extension:code"]["min"] == 1
    assert elements["Patient.extension:nation.url"]["fixedUri"] == FHIR + "patient-nationality"


def test_what_cannot_be_generated_is_a_profile_error(store):
    with pytest.raises(ProfileError, match="matches no element"):
        _generate(store, _profile([{"path": "Patient.nickname", "max": "0"}]))
    with pytest.raises(ProfileError, match="not found"):
        _generate(store, _profile([], base="http://example.org/StructureDefinition/missing"))


def test_the_input_is_left_unchanged(store):
    sd = _profile([{"path": "Patient.gender", "fixedCode": "other"}])
    before = copy.deepcopy(sd)
    assert _generate(store, sd)["Patient.gender"]["fixedCode"] == "other"
    assert sd == before
    assert store.structure_definition(FHIR + "Patient")["snapshot"]["element"][0]["id"] == "Patient"
