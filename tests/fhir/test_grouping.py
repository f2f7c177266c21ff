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


def test_severity_and_message_keep_issues_apart():
    base = dict(name="oops", type="Basic")
    issues = [
        make_issue("error", "UNKNOWN_ELEMENT", "Basic.oops", "rule-a", **base),
        make_issue("warning", "UNKNOWN_ELEMENT", "Basic.oops", "rule-a", **base),
        make_issue("error", "UNKNOWN_ELEMENT", "Basic.oops", "rule-a", name="oops", type="Patient"),
    ]
    assert [g.count for g in group_issues(issues)] == [1, 1, 1]


def test_one_breach_of_several_rules_is_one_finding_listing_its_rules():
    """A cardinality broken under a slice and under the sliced element: two issues (one per rule, as the HL7
    validator), one finding at each place."""
    card = dict(count=0, name="value", min=1, max="1")
    issues = [make_issue("error", "CARD_MIN", f"Patient.identifier[{n}]", f"p|1 ({rule})", **card)
              for n in (0, 1) for rule in ("Patient.identifier:nir.value", "Patient.identifier.value")]
    (group,) = group_issues(issues)
    assert group.count == 2 and group.locations() == ["Patient.identifier[0]", "Patient.identifier[1]"]
    assert group.rules == ("p|1 (Patient.identifier:nir.value)", "p|1 (Patient.identifier.value)")
