"""Identical validation issues, grouped: the same mistake in each of 24,000 Bundle entries is one group with a
count and a few of its locations, not 24,000 paragraphs.

Two issues are identical when they have the same severity, message id and rule (``source``), and the same
location and message once every index is replaced by ``[*]``::

    groups = group_issues(result.issues)
    for group in groups:
        print(group.count, group.pattern, group.message, group.locations(3))

Used by ``mes validate``; meant for every place that prints many issues (test failures, reports).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from pytest_mes.fhir.issues import Issue, Lang

_INDEX = re.compile(r"\[\d+\]")


def normalise(text: str) -> str:
    """``Bundle.entry[12].resource.name[0]`` -> ``Bundle.entry[*].resource.name[*]``."""
    return _INDEX.sub("[*]", text)


@dataclass(frozen=True)
class IssueGroup:
    """Issues that differ only by their indexes, in the order they came.

    ``pattern`` is their location with ``[*]`` for every index; ``message`` the first one's text in the
    language asked, its indexes normalised the same way.
    """

    severity: str
    message_id: str
    pattern: str
    message: str
    issues: tuple[Issue, ...]

    @property
    def count(self) -> int:
        return len(self.issues)

    @property
    def first(self) -> Issue:
        return self.issues[0]

    def locations(self, limit: int | None = None) -> list[str]:
        """The exact locations of the first `limit` issues (all when None)."""
        chosen = self.issues if limit is None else self.issues[:limit]
        return [issue.expression for issue in chosen]


def group_issues(issues: Iterable[Issue], lang: Lang = "fr") -> list[IssueGroup]:
    """Group identical issues; groups keep the order of their first issue (sort the issues first)."""
    grouped: dict[tuple[str, str, str, str, str], list[Issue]] = {}
    for issue in issues:
        key = (issue.severity, issue.message_id or issue.code, normalise(issue.expression),
               normalise(issue.text(lang)), normalise(issue.source))
        grouped.setdefault(key, []).append(issue)
    return [IssueGroup(severity, members[0].message_id, pattern, message, tuple(members))
            for (severity, _, pattern, message, _), members in grouped.items()]
