"""Compiling StructureDefinition snapshots into element trees."""

from __future__ import annotations

import copy
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_mes.errors import ProfileError
from pytest_mes.fhir.compiler import _REGEX_SHORTCUTS, compile_structure_definition, describe

FR = "https://hl7.fr/ig/fhir/core/StructureDefinition/"


def test_compiled_profile_tree(store):
    sd = store.structure_definition(FR + "fr-core-patient-ins|2.1.0")
    schema = compile_structure_definition(sd, "hl7.fhir.fr.core#2.1.0")
    assert schema.type == "Patient" and schema.derivation == "constraint"
    root = describe(schema.root, depth=1)
    assert [c["id"] for c in root["children"].values()][:3] == ["Patient.id", "Patient.meta", "Patient.implicitRules"]
    assert "fr-core-1" in root["invariants"] and "dom-6" in root["invariants"]
    identifier = describe(schema.root.children["identifier"], depth=1)
    assert identifier["card"] == "1..*"
    assert identifier["slicing"]["rules"] == "open"
    assert {"INS-NIR", "INS-NIA"} <= set(identifier["slices"])
    gender = describe(schema.root.children["gender"])
    assert gender["binding"].startswith("required https://hl7.fr/ig/fhir/core/ValueSet/fr-core-vs-patient-gender")
    assert gender["mustSupport"] is True


def test_json_names_expand_choice_types(store):
    schema = compile_structure_definition(store.structure_definition("Observation"))
    names = schema.root.json_names
    assert names["valueQuantity"].tcode == "Quantity"
    assert names["effectiveDateTime"].child is schema.root.children["effective"]
    assert names["valueString"].companion == "_valueString" and names["valueQuantity"].companion is None
    assert "value" not in names


def test_json_array_follows_the_base_cardinality(store):
    """FR Core's related person restricts identifier to 1..1, but JSON keeps the base array."""
    schema = compile_structure_definition(store.structure_definition(FR + "fr-core-related-person|2.1.0"))
    identifier = schema.root.children["identifier"]
    assert identifier.max == 1 and identifier.is_array


def test_resource_id_is_an_id(store):
    schema = compile_structure_definition(store.structure_definition("Patient"))
    assert schema.root.children["id"].types[0].code == "id"


def test_broken_profiles_raise_profile_error(store):
    sd = copy.deepcopy(store.structure_definition("Period"))
    no_snapshot = dict(sd, snapshot=None)
    with pytest.raises(ProfileError, match="without a snapshot"):
        compile_structure_definition(no_snapshot)
    bad_card = copy.deepcopy(sd)
    bad_card["snapshot"]["element"][1].update(min=2, max="1")
    with pytest.raises(ProfileError, match="min 2 > max 1"):
        compile_structure_definition(bad_card)
    orphan = copy.deepcopy(sd)
    orphan["snapshot"]["element"].append({"id": "Period.nothing.here", "path": "Period.nothing.here"})
    with pytest.raises(ProfileError, match="no parent"):
        compile_structure_definition(orphan)


def test_validator_reports_a_broken_requested_profile(validator, monkeypatch):
    from pytest_mes.fhir import definitions
    from pytest_mes.fhir.validator import Validator

    def broken(sd, package=None):
        raise ProfileError(f"{sd['url']}: broken on purpose")

    fresh = Validator(validator.store)
    monkeypatch.setattr(definitions, "compile_structure_definition", broken)
    result = fresh.validate({"resourceType": "Basic", "code": {"text": "x"}}, [FR + "fr-core-patient|2.1.0"])
    [issue] = [i for i in result.issues if i.message_id == "PROFILE_NOT_FOUND"]
    assert "broken on purpose" in issue.source


def test_compiled_schema_snapshot(store):
    """Firely-style snapshot of a compiled definition: a change in the compiler shows up here."""
    import json
    from pathlib import Path

    sd = store.structure_definition("https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code|2.2.0")
    expected = json.loads((Path(__file__).parent / "snapshots" / "fr-core-address-insee-code-2.2.0.json").read_text())
    assert describe(compile_structure_definition(sd).root) == expected


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(" \t\n\r\x0b\x0c\xa0\x85\u2028\u200ba-Z:/.0é"), min_size=1, max_size=12)
       | st.text(min_size=1, max_size=12))
def test_regex_shortcuts_accept_only_what_the_r4_regexes_accept(value):
    """A shortcut stands for the FHIR regex (of a non-empty string): it may only say yes where the regex
    says yes; for string and markdown it is the whole test."""
    for pattern, shortcut in _REGEX_SHORTCUTS.items():
        regex = re.compile(pattern, re.ASCII)
        if shortcut(value):
            assert regex.fullmatch(value), (pattern, value)
        if pattern == r"[ \r\n\t\S]+":
            assert shortcut(value) == bool(regex.fullmatch(value)), value


def test_regex_shortcuts_are_those_of_the_r4_primitives(validator):
    """The shortcuts are keyed by the regex text of the R4 package: a different text would silently
    lose them (only speed, never a verdict), so the test names them."""
    shortcut = {code: validator.definitions.primitive(code).shortcut for code in ("string", "markdown", "uri", "url",
                                                                      "canonical", "code", "id", "dateTime")}
    assert all(shortcut[c] is not None for c in ("string", "markdown", "uri", "url", "canonical", "code"))
    assert shortcut["id"] is None and shortcut["dateTime"] is None
