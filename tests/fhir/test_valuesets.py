"""ValueSet expansion offline: enumerated codes, whole CodeSystems, excludes, is-a filters, and
"cannot tell" (None) whenever a part cannot be enumerated — never a silent pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_mes.fhir.packages import PackageStore
from pytest_mes.fhir.valuesets import Expansion, ValueSetExpander

CS = "http://example.org/cs"


def _write(folder: Path, resource: dict) -> None:
    (folder / f"{resource['resourceType']}-{resource['id']}.json").write_text(json.dumps(resource))


@pytest.fixture
def expander(tmp_path: Path) -> ValueSetExpander:
    core = tmp_path / "core" / "package"
    core.mkdir(parents=True)
    (core / "package.json").write_text(json.dumps({"name": "hl7.fhir.r4.core", "version": "4.0.1"}))
    ig = tmp_path / "ig" / "package"
    ig.mkdir(parents=True)
    (ig / "package.json").write_text(json.dumps({"name": "example.ig", "version": "1.0.0"}))
    _write(ig, {"resourceType": "CodeSystem", "id": "cs", "url": CS, "content": "complete", "concept": [
        {"code": "animal", "concept": [{"code": "dog", "concept": [{"code": "puppy"}]}, {"code": "cat"}]},
        {"code": "plant"},
    ]})
    _write(ig, {"resourceType": "CodeSystem", "id": "frag", "url": "http://example.org/frag", "content": "fragment",
                "concept": [{"code": "a"}]})

    def vs(vid: str, compose: dict) -> None:
        _write(ig, {"resourceType": "ValueSet", "id": vid, "url": f"http://example.org/vs/{vid}", "compose": compose})

    vs("listed", {"include": [{"system": CS, "concept": [{"code": "dog"}, {"code": "cat"}]}]})
    vs("whole", {"include": [{"system": CS}], "exclude": [{"system": CS, "concept": [{"code": "plant"}]}]})
    vs("isa", {"include": [{"system": CS, "filter": [{"property": "concept", "op": "is-a", "value": "dog"}]}]})
    vs("regex", {"include": [{"system": CS, "filter": [{"property": "code", "op": "regex", "value": "d.*"}]}]})
    vs("missing-system", {"include": [{"system": "http://example.org/absent"}]})
    vs("mixed", {"include": [{"system": CS, "concept": [{"code": "cat"}]}, {"system": "http://loinc.org"}]})
    vs("imports", {"include": [{"valueSet": ["http://example.org/vs/listed"]}]})
    vs("fragment", {"include": [{"system": "http://example.org/frag"}]})
    store = PackageStore.load([tmp_path / "core", tmp_path / "ig"], offline=True,
                              packages=["hl7.fhir.r4.core#4.0.1", "example.ig#1.0.0"])
    return ValueSetExpander(store)


def check(expander: ValueSetExpander, vid: str, system: str | None, code: str):
    expansion = expander.expand(f"http://example.org/vs/{vid}")
    assert isinstance(expansion, Expansion), expansion
    return expansion.check(system, code)


@pytest.mark.parametrize(("vid", "system", "code", "verdict"), [
    ("listed", CS, "dog", True),
    ("listed", CS, "plant", False),
    ("listed", "http://other", "dog", False),
    ("listed", None, "cat", True),
    ("whole", CS, "puppy", True),
    ("whole", CS, "plant", False),
    ("isa", CS, "dog", True),
    ("isa", CS, "puppy", True),
    ("isa", CS, "cat", False),
    ("regex", CS, "dog", None),
    ("missing-system", "http://example.org/absent", "x", None),
    ("missing-system", CS, "dog", False),
    ("mixed", "http://loinc.org", "1234-5", None),
    ("mixed", CS, "cat", True),
    ("mixed", CS, "dog", False),
    ("imports", CS, "dog", True),
    ("imports", CS, "plant", False),
    ("fragment", "http://example.org/frag", "a", True),
    ("fragment", "http://example.org/frag", "b", None),
])
def test_expansion_verdicts(expander, vid, system, code, verdict):
    assert check(expander, vid, system, code) is verdict


def test_unknown_value_set_is_unavailable(expander):
    result = expander.expand("http://example.org/vs/nope")
    assert not isinstance(result, Expansion)
    assert "introuvable" in result.why.fr and "not found" in result.why.en


def test_real_required_value_sets(store):
    expander = ValueSetExpander(store)
    gender = expander.expand("http://hl7.org/fhir/ValueSet/administrative-gender|4.0.1")
    assert gender.check("http://hl7.org/fhir/administrative-gender", "female") is True
    assert gender.check("http://hl7.org/fhir/administrative-gender", "F") is False
    specialty = expander.expand("https://hl7.fr/ig/fhir/core/ValueSet/fr-core-vs-practitioner-specialty",
                                "hl7.fhir.fr.core#2.1.0")
    system = "https://mos.esante.gouv.fr/NOS/TRE_R38-SpecialiteOrdinale/FHIR/TRE-R38-SpecialiteOrdinale"
    assert specialty.check(system, "SM54") is None  # ans.fr.nos is not available offline
    assert "non chargé" in specialty.why_open(system).fr


def test_an_expansion_interrupted_leaves_no_verdict_behind(store, monkeypatch):
    """A RecursionError in the middle of an expansion (a walk nested too deep) must not leave the
    cycle guard as the ValueSet's verdict for the rest of the process."""
    expander = ValueSetExpander(store)
    real = ValueSetExpander._expand
    monkeypatch.setattr(ValueSetExpander, "_expand", lambda self, url, context: (_ for _ in ()).throw(RecursionError))
    with pytest.raises(RecursionError):
        expander.expand("http://hl7.org/fhir/ValueSet/administrative-gender")
    monkeypatch.setattr(ValueSetExpander, "_expand", real)
    assert isinstance(expander.expand("http://hl7.org/fhir/ValueSet/administrative-gender"), Expansion)
