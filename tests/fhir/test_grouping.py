"""Grouping identical validation issues (pytest_mes.fhir.grouping)."""

from __future__ import annotations

from pytest_mes.fhir.grouping import group_issues, normalise
from pytest_mes.fhir.issues import make_issue


def test_indexes_are_normalised():
    assert normalise("Bundle.entry[12].resource.name[0].given[3]") == "Bundle.entry[*].resource.name[*].given[*]"
    assert normalise("Patient.name") == "Patient.name"


def test_issues_differing_only_by_their_indexes_form_one_group_in_order():
    issues = [make_issue("error", "UNKNOWN_ELEMENT", f"Bundle.entry[{n}].resource.oops", "r", name="oops",
                         type="Basic") for n in range(5)]
    issues.insert(2, make_issue("error", "UNKNOWN_ELEMENT", "Bundle.entry[1].resource.other", "r", name="other",
                                type="Basic"))
    groups = group_issues(issues)
    assert [(g.pattern, g.count) for g in groups] == [("Bundle.entry[*].resource.oops", 5),
                                                       ("Bundle.entry[*].resource.other", 1)]
    first = groups[0]
    assert first.severity == "error" and first.message_id == "UNKNOWN_ELEMENT"
    assert first.locations(2) == ["Bundle.entry[0].resource.oops", "Bundle.entry[1].resource.oops"]
    assert len(first.locations()) == 5
    assert first.message == "Élément inconnu « oops » : il n'existe pas dans Basic."
    assert group_issues(issues, "en")[0].message == "Unknown element 'oops': it does not exist in Basic."


def test_severity_message_and_rule_keep_issues_apart():
    base = dict(name="oops", type="Basic")
    issues = [
        make_issue("error", "UNKNOWN_ELEMENT", "Basic.oops", "rule-a", **base),
        make_issue("warning", "UNKNOWN_ELEMENT", "Basic.oops", "rule-a", **base),
        make_issue("error", "UNKNOWN_ELEMENT", "Basic.oops", "rule-b", **base),
        make_issue("error", "UNKNOWN_ELEMENT", "Basic.oops", "rule-a", name="oops", type="Patient"),
    ]
    assert [g.count for g in group_issues(issues)] == [1, 1, 1, 1]
