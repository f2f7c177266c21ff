"""Identical validation issues said once: "× 180 at Bundle.entry[*].resource.status" rather than 180 lines.

Used by every output (terminal, `mes validate`, reports); light on purpose: no validator import."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

LOCATIONS_KEPT = 20  # locations listed per group; the count says how many there are in all
_INDEX = re.compile(r"\[\d+\]")


class Issue(Protocol):  # pytest_mes.fhir.issues.Issue
    severity: str
    code: str
    expression: str
    message: str
    source: str
    message_id: str


@dataclass
class IssueGroup:
    """Issues with the same severity, rule and message at locations of one shape."""

    severity: str
    code: str
    message_id: str
    message: str
    expression: str  # the one location, or a pattern whose varying indexes are [*]
    locations: list[str] = field(default_factory=list)  # the first LOCATIONS_KEPT, in document order
    count: int = 0
    source: str = ""


def group_issues(issues: Iterable[Issue], *, keep: int = LOCATIONS_KEPT) -> list[IssueGroup]:
    """Group in order of first appearance; a group of one keeps its exact location."""
    groups: dict[tuple[str, str, str, str], IssueGroup] = {}
    for issue in issues:
        key = (issue.severity, issue.message_id or issue.code, issue.message, _INDEX.sub("[*]", issue.expression))
        group = groups.get(key)
        if group is None:
            group = groups[key] = IssueGroup(issue.severity, issue.code, issue.message_id, issue.message,
                                             issue.expression, source=issue.source)
        group.count += 1
        if len(group.locations) < keep:
            group.locations.append(issue.expression)
        if group.expression != issue.expression:
            group.expression = key[3]
    return list(groups.values())


def describe_group(group: IssueGroup) -> str:
    """One line: 'error: Bundle.entry[*].resource.status (× 180): message'."""
    times = f" (× {group.count})" if group.count > 1 else ""
    return f"{group.severity}: {group.expression or '(resource)'}{times}: {group.message}"
