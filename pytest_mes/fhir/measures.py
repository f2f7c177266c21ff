"""A MeasureReport against its Measure (resolved by canonical), as the HL7 validator checks it:

- each population of a report group has a code among its Measure group's population codes;
- only a report of type ``subject-list`` lists subjects (``population.subjectResults``).

A report group goes with the Measure group of the same code, or with the only group when both have one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pytest_mes.fhir.issues import Issue, make_issue


def measure_report_issues(report: dict, loc: str, resolve: Callable[[str], dict | None]) -> list[Issue]:
    """The issues of these rules for `report` at `loc`; `resolve` gives a Measure by canonical."""
    canonical = report.get("measure")
    if not isinstance(canonical, str):
        return []
    measure = resolve(canonical)
    if measure is None or measure.get("resourceType") != "Measure":
        return [make_issue("information", "MR_MEASURE_NOT_FOUND", f"{loc}.measure", url=canonical)]
    issues: list[Issue] = []
    groups = _dicts(measure.get("group"))
    report_groups = _dicts(report.get("group"))
    for i, group in enumerate(report.get("group") if isinstance(report.get("group"), list) else []):
        if not isinstance(group, dict):
            continue
        where = f"{loc}.group[{i}]"
        defined = groups[0] if len(groups) == 1 and len(report_groups) == 1 else _by_code(groups, group)
        for j, population in enumerate(group.get("population") if isinstance(group.get("population"), list) else []):
            if not isinstance(population, dict):
                continue
            at = f"{where}.population[{j}]"
            if defined is not None and population.get("code") is not None and \
                    _by_code(_dicts(defined.get("population")), population) is None:
                issues.append(make_issue("error", "MR_POPULATION_UNKNOWN", at, code=_code_text(population)))
            if "subjectResults" in population and report.get("type") != "subject-list":
                issues.append(make_issue("error", "MR_SUBJECTS_NOT_LISTED", at, type=str(report.get("type"))))
    return issues


def _by_code(candidates: list[dict], item: dict) -> dict | None:
    """The candidate whose code shares a coding (system and code) with `item`'s."""
    wanted = _codings(item)
    return next((c for c in candidates if wanted & _codings(c)), None)


def _codings(item: dict) -> set[tuple[Any, Any]]:
    code = item.get("code")
    return {(c.get("system"), c.get("code")) for c in _dicts(code.get("coding") if isinstance(code, dict) else None)}


def _code_text(item: dict) -> str:
    return ", ".join(f"{system}|{code}" for system, code in sorted(_codings(item), key=str)) or "?"


def _dicts(value: Any) -> list[dict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
