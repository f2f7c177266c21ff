from pytest_mes.fhir.issues import Issue
from pytest_mes.grouping import describe_group, group_issues


def _issue(expression: str, message: str = "Code absent du jeu de valeurs.", severity: str = "error") -> Issue:
    return Issue(severity, "code-invalid", expression, message, "http://x/sd#Slot.status", "BINDING_REQUIRED")


def test_identical_issues_at_locations_of_one_shape_are_one_group_with_a_count():
    issues = [_issue(f"Bundle.entry[{n}].resource.status") for n in range(180)]
    [group] = group_issues(issues)
    assert group.count == 180
    assert group.expression == "Bundle.entry[*].resource.status"
    assert group.locations[:2] == ["Bundle.entry[0].resource.status", "Bundle.entry[1].resource.status"]
    assert len(group.locations) == 20
    assert describe_group(group).startswith("error: Bundle.entry[*].resource.status (× 180): Code absent")


def test_other_messages_severities_or_shapes_are_other_groups_in_order_of_first_appearance():
    issues = [_issue("Slot.status"), _issue("Slot.status", severity="warning"), _issue("Slot.status", "Autre."),
              _issue("Slot.serviceType[0]"), _issue("Slot.status")]
    groups = group_issues(issues)
    assert [(g.severity, g.expression, g.count) for g in groups] == [
        ("error", "Slot.status", 2), ("warning", "Slot.status", 1), ("error", "Slot.status", 1),
        ("error", "Slot.serviceType[0]", 1)]
    assert describe_group(groups[3]) == "error: Slot.serviceType[0]: Code absent du jeu de valeurs."
