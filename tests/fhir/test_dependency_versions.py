"""An example from an IG is judged with the versions that IG depends on; where a pinned dependency is
missing and another version stands in, the outcome says so once, and the stand-in's rules are warnings."""

from __future__ import annotations

from pytest_mes.fhir.canonicals import Substitution
from tests.fhir.conftest import errors, one

PDSM = "ans.fhir.fr.pdsm#3.1.1"
GAP = "ans.fhir.fr.gap#3.0.0"
ANNUAIRE = "ans.fhir.fr.annuaire#1.2.0-snapshot-2"
NOTE = f"(règle de {ANNUAIRE}, utilisé à la place de ans.fhir.fr.annuaire#1.1.0 requis par {PDSM} : avertissement"


def test_the_store_names_each_stand_in_relative_to_the_pinning_package(store):
    assert store.substitutions(PDSM) == {ANNUAIRE: Substitution(ANNUAIRE, "ans.fhir.fr.annuaire#1.1.0", PDSM)}
    assert store.substitutions(GAP) == {ANNUAIRE: Substitution(ANNUAIRE, "ans.fhir.fr.annuaire#1.0.1", GAP)}
    assert ANNUAIRE not in store.substitutions(ANNUAIRE)  # in its own context it is the version pinned


def test_rules_of_a_stand_in_are_warnings_naming_the_substitution(validator, examples):
    org = examples(PDSM, "Organization-org-example.json")
    result = validator.validate(org, context=PDSM)
    assert result.valid, result
    pattern = one(result, "PATTERN", "Organization.meta.source")
    assert pattern.severity == "warning" and NOTE in pattern.message
    assert pattern.text("en").endswith(f"(a rule of {ANNUAIRE}, standing in for ans.fhir.fr.annuaire#1.1.0 required "
                                       f"by {PDSM}: a warning instead of an error)")
    said = [i for i in result.issues if i.message_id == "DEPENDENCY_SUBSTITUTED"]
    assert len(said) == 1 and said[0].severity == "information" and said[0].expression == "Organization"
    assert said[0].message.startswith(f"Dépendance ans.fhir.fr.annuaire#1.1.0 (requise par {PDSM}) absente : "
                                      f"{ANNUAIRE} est utilisé à sa place")
    # The control: judged in the Annuaire's own context, the same rules are errors.
    own = validator.validate(org, context=ANNUAIRE)
    assert ("PATTERN", "Organization.meta.source") in errors(own)
    assert not [i for i in own.issues if i.message_id == "DEPENDENCY_SUBSTITUTED"]


def test_base_rules_stay_errors_under_a_stand_in_and_are_said_once(validator, examples):
    org = examples(PDSM, "Organization-org-example.json")
    org["active"] = "yes"
    result = validator.validate(org, context=PDSM)
    found = [i for i in result.issues if i.message_id == "WRONG_JSON_TYPE" and i.expression == "Organization.active"]
    assert [i.severity for i in found] == ["error"]
    assert found[0].note is None
