"""ValueSet expansion offline: enumerated codes, whole CodeSystems, excludes, is-a filters, and
"cannot tell" (None) whenever a part cannot be enumerated — never a silent pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_mes.client import Exchange
from pytest_mes.fhir.store import PackageStore
from pytest_mes.fhir.valuesets import Expansion, NotLoaded, ValueSetExpander
from pytest_mes.testset.checks import CheckContext, run_check
from pytest_mes.testset.model import Check
from tests.fhir.conftest import errors, one

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


def test_code_system_versions_do_not_share_a_cache_entry(store):
    """fr-core-cs-mode-validation-identity has code AC in FR Core 2.2.0, not in 2.0.1: the verdict must
    not depend on which version was expanded first."""
    from pytest_mes.fhir.valuesets import ValueSetExpander

    vs = "https://hl7.fr/ig/fhir/core/ValueSet/fr-core-vs-mode-validation-identity"
    cs = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-mode-validation-identity"
    for order in (("2.0.1", "2.2.0"), ("2.2.0", "2.0.1")):
        expander = ValueSetExpander(store)
        verdicts = {v: expander.expand(f"{vs}|{v}", f"hl7.fhir.fr.core#{v}").check(cs, "AC") for v in order}
        assert verdicts == {"2.0.1": False, "2.2.0": True}, order


def _expander_with(store, monkeypatch, valuesets: dict[str, dict]):
    from pytest_mes.fhir.valuesets import ValueSetExpander

    real = store.resolve

    def resolve(canonical, context=None, *, resource_type):
        return valuesets.get(canonical) or real(canonical, context, resource_type=resource_type)

    monkeypatch.setattr(store, "resolve", resolve)
    return ValueSetExpander(store)


GENDER = "http://hl7.org/fhir/administrative-gender"


def test_imported_valueset_keeps_its_exclude(store, monkeypatch):
    inner = {"resourceType": "ValueSet", "url": "urn:test:inner", "compose": {
        "include": [{"system": GENDER}], "exclude": [{"system": GENDER, "concept": [{"code": "other"}]}]}}
    outer = {"resourceType": "ValueSet", "url": "urn:test:outer",
             "compose": {"include": [{"valueSet": ["urn:test:inner"]}]}}
    expander = _expander_with(store, monkeypatch, {"urn:test:inner": inner, "urn:test:outer": outer})
    expansion = expander.expand("urn:test:outer")
    assert expansion.check(GENDER, "male") is True
    assert expansion.check(GENDER, "other") is False
    assert expansion.check(None, "other") is False


def test_exclude_that_cannot_be_evaluated_makes_the_binding_not_checked(store, monkeypatch):
    vs = {"resourceType": "ValueSet", "url": "urn:test:vs", "compose": {
        "include": [{"system": GENDER}],
        "exclude": [{"valueSet": ["urn:test:missing"]}]}}
    vs2 = {"resourceType": "ValueSet", "url": "urn:test:vs2", "compose": {
        "include": [{"system": GENDER}],
        "exclude": [{"system": GENDER, "filter": [{"property": "status", "op": "=", "value": "x"}]}]}}
    expander = _expander_with(store, monkeypatch, {"urn:test:vs": vs, "urn:test:vs2": vs2})
    for url in ("urn:test:vs", "urn:test:vs2"):
        expansion = expander.expand(url)
        assert expansion.check(GENDER, "male") is None, url
        assert expansion.check(None, "male") is None, url
        assert expansion.check(GENDER, "nonsense") is False, url


def test_coding_without_system_is_not_in_the_valueset_but_a_bare_code_is(validator):
    patient = {"resourceType": "Patient", "maritalStatus": {"coding": [{"code": "M"}]},
               "contact": [{"gender": "male"}]}
    result = validator.validate(patient)
    issue = one(result, "BINDING_EXTENSIBLE", "Patient.maritalStatus")
    assert "sans system" in issue.message
    # A bare code takes its system from the binding: still accepted.
    assert ("BINDING_REQUIRED", "Patient.contact[0].gender") not in errors(result)


def test_coding_without_system_fails_a_required_binding(validator):
    allergy = {"resourceType": "AllergyIntolerance", "patient": {"reference": "Patient/1"},
               "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                                              "code": "active"}]}}
    assert errors(validator.validate(allergy)) == set()
    del allergy["clinicalStatus"]["coding"][0]["system"]
    issue = one(validator.validate(allergy), "BINDING_REQUIRED", "AllergyIntolerance.clinicalStatus")
    assert issue.severity == "error"


# A required binding that cannot be judged: a check not made when a package would supply what is missing,
# a stated limit (information "not checked") for a terminology no package carries.

def test_why_a_binding_is_not_checked_tells_a_missing_definition_from_a_limit(expander):
    missing_system = expander.expand("http://example.org/vs/missing-system")
    assert isinstance(missing_system.why_open("http://example.org/absent"), NotLoaded)
    assert isinstance(expander.expand("http://example.org/vs/nope").why, NotLoaded)
    # An external terminology, a CodeSystem published in part, a filter offline: no package would help.
    assert not isinstance(expander.expand("http://example.org/vs/mixed").why_open("http://loinc.org"), NotLoaded)
    assert not isinstance(expander.expand("http://example.org/vs/fragment").why_open("http://example.org/frag"),
                          NotLoaded)
    assert not isinstance(expander.expand("http://example.org/vs/regex").why_open(CS), NotLoaded)


def test_required_binding_to_a_valueset_of_a_missing_package_makes_the_check_not_made(validator, examples):
    """PDSm binds List.code to IHE MHD's MHDlistTypesVS; ihe.iti.mhd is not among the packages: the
    conforms_to check is incomplete, naming the ValueSet and the package, never a pass."""
    folder = examples("ans.fhir.fr.pdsm#3.1.1", "List-ExampleFolder.json")
    result = validator.validate(folder, context="ans.fhir.fr.pdsm#3.1.1")
    issue = one(result, "BINDING_DEFINITION_NOT_FOUND", "List.code")
    assert "MHDlistTypesVS" in issue.message and "ihe.iti.mhd#4.2.3" in issue.message
    checked = _conforms_to(validator, folder, "ans.fhir.fr.pdsm#3.1.1")
    assert checked.outcome == "not_checked"
    assert "MHDlistTypesVS" in checked.actual and "ihe.iti.mhd#4.2.3" in checked.actual


def test_extensible_binding_to_a_missing_valueset_is_information_only(validator, examples):
    """A code outside an extensible binding is a warning at most: not judging it hides no failure."""
    doc = examples("ans.fhir.fr.pdsm#3.1.1", "DocumentReference-exemple-pdsm-documentreference.json")
    result = validator.validate(doc, context="ans.fhir.fr.pdsm#3.1.1")
    notes = [i for i in result.issues if "JDV-J08-XdsConfidentialityCode-CISIS" in i.source]
    assert notes and {i.message_id for i in notes} == {"BINDING_NOT_CHECKED"}
    assert all("binding extensible" in i.source for i in notes)


def test_external_terminology_is_a_stated_limit_not_an_unmade_check(validator):
    """R4 binds Binary.contentType (required) to all MIME types (urn:ietf:bcp:13), which no package
    enumerates: "not checked" information on a check that passes; a wrong code elsewhere still fails it."""
    binary = {"resourceType": "Binary", "contentType": "text/plain", "data": "aGk="}
    note = one(validator.validate(binary), "BINDING_NOT_CHECKED", "Binary.contentType")
    assert note.severity == "information" and "système externe" in note.message
    checked = _conforms_to(validator, binary, None)
    assert checked.outcome == "passed" and [i.message_id for i in checked.issues] == ["BINDING_NOT_CHECKED"]
    binary["securityContext"] = {"reference": "Patient/1"}
    binary["contentType"] = ""
    assert _conforms_to(validator, binary, None).outcome == "failed"


def _conforms_to(validator, resource: dict, package: str | None):
    exchange = Exchange("GET", "http://x/fhir/R/1", {}, None, "now", status=200, reason="OK",
                        response_headers={"Content-Type": "application/fhir+json"},
                        body=json.dumps(resource).encode(), elapsed_ms=1.0)
    profile = f"http://hl7.org/fhir/StructureDefinition/{resource['resourceType']}"
    if package:
        profile = resource["meta"]["profile"][0]
    return run_check(Check("conforms_to", profile), CheckContext(exchange, {}, validator=validator, package=package))
