"""Identical validation issues, grouped: the same mistake in each of 24,000 Bundle entries is one group with a
count and a few of its locations, not 24,000 paragraphs.

Two issues are identical when they have the same severity and message id, and the same location and message
once every index is replaced by ``[*]``. Their rules (``source``) may differ: the same breach of a rule stated by
a profile and by its base, or by a slice and by the sliced element, is one issue per rule (as the HL7 validator
says it) but one finding, with its rules listed::

    groups = group_issues(result.issues)
    for group in groups:
        print(group.count, group.pattern, group.message, group.locations(3), group.rules)

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
    """Issues that differ only by their indexes or their rules, in the order they came.

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
        """How many places the finding is at."""
        return len(self.places)

    @property
    def places(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(issue.expression for issue in self.issues))

    @property
    def rules(self) -> tuple[str, ...]:
        """The rules broken (``source``), each once, in order."""
        return tuple(dict.fromkeys(issue.source for issue in self.issues if issue.source))

    @property
    def first(self) -> Issue:
        return self.issues[0]

    def locations(self, limit: int | None = None) -> list[str]:
        """The first `limit` exact locations (all when None)."""
        return list(self.places if limit is None else self.places[:limit])


def group_issues(issues: Iterable[Issue], lang: Lang = "fr") -> list[IssueGroup]:
    """Group identical issues; groups keep the order of their first issue (sort the issues first)."""
    grouped: dict[tuple[str, str, str, str], list[Issue]] = {}
    for issue in issues:
        key = (issue.severity, issue.message_id or issue.code, normalise(issue.expression),
               normalise(issue.text(lang)))
        grouped.setdefault(key, []).append(issue)
    return [IssueGroup(severity, members[0].message_id, pattern, message, tuple(members))
            for (severity, _, pattern, message), members in grouped.items()]
