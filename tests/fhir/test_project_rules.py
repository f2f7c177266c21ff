"""The project's own rules (profiles/rules.yaml): each one quotes its package, passes on a conformant
example and fails on a mutated one, labelled as the project's reading in every language."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_mes.errors import ProfileError
from pytest_mes.fhir.rules import bundled_rules, load_rules
from tests.fhir.conftest import one

PDSM = "ans.fhir.fr.pdsm#3.1.1"
COMPREHENSIVE = "DocumentReference-exemple-pdsm-documentreference.json"
SIMPLIFIED = "DocumentReference-PDSmSimplifiedExample.json"
SUBMISSION_SET = "List-ExampleSubmissionSet.json"
ELSEWHERE = "http://snomed.info/sct"


def _system(path: Callable[[dict], dict], system: str = ELSEWHERE) -> Callable[[dict], None]:
    def mutate(resource: dict) -> None:
        path(resource)["system"] = system
    return mutate


def _replaces(target: str) -> Callable[[dict], None]:
    def mutate(resource: dict) -> None:
        resource["relatesTo"] = [{"code": "replaces", "target": {"reference": target}}]
    return mutate


def _nothing(resource: dict) -> None:
    return None


# rule id -> [(example, make it conformant, mutate it, where the rule then fails)]
CASES: dict[str, list[tuple[str, Callable, Callable, str]]] = {
    "mes-pdsm-type-terminologie": [
        (name, _system(lambda r: r["type"]["coding"][0], "urn:oid:1.2.250.1.213.1.1.4.12"),
         _system(lambda r: r["type"]["coding"][0]), "DocumentReference.type")
        for name in (COMPREHENSIVE, SIMPLIFIED)
    ],
    "mes-pdsm-category-terminologie": [
        (name, _nothing, _system(lambda r: r["category"][0]["coding"][0]), "DocumentReference.category[0]")
        for name in (COMPREHENSIVE, SIMPLIFIED)
    ],
    "mes-pdsm-format-terminologie": [
        (name, _system(lambda r: r["content"][0]["format"], system), _system(lambda r: r["content"][0]["format"]),
         "DocumentReference.content[0].format")
        for name in (COMPREHENSIVE, SIMPLIFIED)
        for system in ("https://mos.esante.gouv.fr/NOS/TRE_A11-IheFormatCode/FHIR/TRE-A11-IheFormatCode",
                       "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode")
    ],
    "mes-pdsm-facilitytype-terminologie": [
        (COMPREHENSIVE, _system(lambda r: r["context"]["facilityType"]["coding"][0], "urn:oid:1.2.250.1.213.1.1.4.6"),
         _system(lambda r: r["context"]["facilityType"]["coding"][0]), "DocumentReference.context.facilityType"),
    ],
    "mes-pdsm-facilitytype-recommandee": [
        (SIMPLIFIED, _nothing, _system(lambda r: r["context"]["facilityType"]["coding"][0],
                                       "https://mos.esante.gouv.fr/NOS/TRE_A00-ProducteurDocNonPS/FHIR/TRE-A00-"
                                       "ProducteurDocNonPS"), "DocumentReference.context.facilityType"),
    ],
    "mes-pdsm-designationtype-terminologie": [
        (SUBMISSION_SET, _nothing, _system(lambda r: r["extension"][0]["valueCodeableConcept"]["coding"][0]),
         "List.extension[0]"),
    ],
    "mes-pdsm-relatesto-cible": [
        (COMPREHENSIVE, _replaces("https://example.org/fhir/DocumentReference/old-1/_history/2"),
         _replaces("Patient/old-1"), "DocumentReference.relatesTo[0].target"),
    ],
}


def _normalized(text: str) -> str:
    return " ".join(text.split())


def test_every_rule_has_cases():
    assert set(CASES) == {r.id for r in bundled_rules().rules}


@pytest.mark.parametrize("rule", bundled_rules().rules, ids=lambda r: r.id)
def test_each_rule_quotes_the_constraint_it_reads(store, rule):
    for profile in rule.profiles:
        sd = store.structure_definition(profile)
        assert sd is not None, profile
        element = next(e for e in sd["snapshot"]["element"] if e["id"] == rule.element)
        stated = [c for c in element.get("constraint", ()) if c["key"] == rule.reads]
        assert stated and not stated[0].get("expression"), (profile, rule.reads)
        assert _normalized(stated[0]["human"]) == _normalized(rule.source)


@pytest.mark.parametrize(("rule_id", "case"), [(r, c) for r, cases in CASES.items() for c in cases],
                         ids=lambda x: x if isinstance(x, str) else x[0])
def test_each_rule_passes_on_a_conformant_example_and_fails_on_a_mutated_one(validator, examples, rule_id, case):
    name, conformant, mutate, where = case
    rule = next(r for r in bundled_rules().rules if r.id == rule_id)
    resource = examples(PDSM, name)
    conformant(resource)
    passed = validator.validate(resource, context=PDSM)
    assert not [i for i in passed.issues if i.source.startswith(rule_id + " ")], passed
    # Read by the rule: no longer "non vérifiée" there.
    assert not [i for i in passed.issues if i.expression == where and i.source.startswith(rule.reads + " ")], passed
    mutate(resource)
    issue = one(validator.validate(resource, context=PDSM), "PROJECT_RULE", where)
    assert issue.severity == rule.severity
    assert issue.source.startswith(f"{rule_id} (règle du projet pytest-mes, lecture de {rule.reads} de ")
    assert issue.message.startswith(f"Règle du projet pytest-mes {rule_id} non respectée — lecture de la contrainte "
                                    f"{rule.reads}")
    assert rule.statement.fr in issue.message
    english = issue.text("en")
    assert english.startswith(f"pytest-mes project rule {rule_id} not satisfied") and rule.statement.en in english


@pytest.mark.parametrize("entry", bundled_rules().not_restated, ids=lambda e: f"{e.reads}-{e.profile[-30:]}")
def test_each_constraint_not_restated_is_in_its_profile(store, entry):
    sd = store.structure_definition(entry.profile)
    elements = [e for e in sd["snapshot"]["element"] if entry.element in (None, e["id"])
                and any(c["key"] == entry.reads and not c.get("expression") for c in e.get("constraint", ()))]
    assert elements, (entry.profile, entry.reads, entry.element)


def test_a_constraint_not_restated_is_still_said_not_checked_with_the_reason(validator, examples):
    result = validator.validate(examples(PDSM, COMPREHENSIVE), context=PDSM)
    issue = one(result, "INVARIANT_NOT_CHECKED", "DocumentReference.content[0].attachment.url")
    assert issue.severity == "information" and issue.source.startswith("constr-bind-attachmenturl")
    assert "non reprise par les règles du projet pytest-mes : elle dépend du flux" in issue.message


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("rules: {}", "'rules' must be a list"),
        ("rules: [{id: r1}]", "rules[0] (r1): 'profiles' must list profile canonicals with their version"),
        ("rules: [{id: r1, profiles: ['http://x|1'], severity: fatal}]", "rules[0] (r1): severity 'fatal'"),
        ("rules: [{id: r1, profiles: ['http://x|1'], severity: error, reads: k, element: E, source: s,"
         " statement: {fr: x}, expression: 'true'}]", "rules[0] (r1).statement: 'en' must be a non-empty string"),
        ("not_restated: [{reads: k, profile: p}]", "not_restated[0]: 'why' must give 'fr' and 'en'"),
        ("rules: [{", "unreadable rules file"),
    ],
)
def test_a_malformed_rules_file_is_a_clear_error(tmp_path: Path, text, problem):
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError) as info:
        load_rules(path)
    assert str(info.value).startswith(f"{path}: ") and problem in str(info.value)
