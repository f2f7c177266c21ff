"""The end-of-run summary in the terminal (pytest_mes.terminal), from a results document."""

from __future__ import annotations

import copy

import pytest

from pytest_mes.terminal import summary_lines
from tests.report.factory import results_document


def _with_stated_limits(document: dict, counts: dict[str, int]) -> dict:
    """`document` with codes left not checked by a stated limit: `counts[test id]` of them in that test."""
    document = copy.deepcopy(document)
    for test in document["tests"]:
        if test["id"] in counts:
            issue = {"severity": "information", "code": "informational", "message_id": "BINDING_NOT_CHECKED",
                     "message": "Code non vérifié", "expression": "CapabilityStatement.format[0]",
                     "locations": ["CapabilityStatement.format[0]"], "count": counts[test["id"]], "profile": None}
            test["steps"][0]["checks"].append({"kind": "conforms_to", "label": "conforms_to", "outcome": "passed",
                                               "expected": "", "actual": "", "because": None, "line": 1,
                                               "detail": "", "items": [], "issues": [issue]})
    return document


@pytest.mark.parametrize(("lang", "count"), [("fr", "(23 code(s) dans 2 test(s)):"),
                                            ("en", "(23 code(s) in 2 test(s)):")])
def test_the_stated_limits_line_says_how_many_codes_in_how_many_tests(lang, count):
    """The ids listed under it are tests, not codes: the count says both, so neither reads as the other."""
    document = results_document(lang=lang)
    first, second = (t["id"] for t in document["tests"][:2])
    lines = [text for text, _ in summary_lines(_with_stated_limits(document, {first: 20, second: 3}), lang)]
    heading = next(n for n, text in enumerate(lines) if text.endswith(count))
    assert lines[heading + 1] == f"  {first}, {second}"
