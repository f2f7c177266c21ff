"""The one result model of a run: tests, their steps, checks, exchanges and validation issues, and verdicts.

Every output is a rendering of it — terminal, HTML acceptance file, JSON, FHIR TestReport, JUnit properties,
pytest-html extras — and none parses display text. Records are plain dataclasses that become JSON-ready dicts
(`as_dict`) so that they cross pytest-xdist's wire unchanged. No pytest here.

The document format is "pytest-mes-results/1" (pytest_mes/report/results.schema.json).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields
from functools import cache
from typing import Any, Literal

from pytest_mes.fhir.issues import Phrase
from pytest_mes.report.labels import LANGS, label, phrase

FORMAT = "pytest-mes-results/1"
Verdict = Literal["passed", "failed", "advisory", "incomplete", "skipped", "waived", "error"]
VERDICTS: tuple[Verdict, ...] = ("passed", "failed", "advisory", "incomplete", "skipped", "waived", "error")
# Worst first: the verdict of a requirement is the worst of its tests'.
_SEVERITY: tuple[Verdict, ...] = ("failed", "error", "incomplete", "advisory", "waived", "skipped", "passed")
LEVELS = ("SHALL", "SHOULD", "MAY")

RUN_LABELS = {
    "conformant": {"fr": "conforme", "en": "conformant"},
    "non-conformant": {"fr": "non conforme", "en": "non-conformant"},
    "incomplete": {"fr": "incomplet", "en": "incomplete"},
}
RULE = {lang: label("run.rule", lang) for lang in LANGS}



@dataclass
class IssueGroup:
    """Identical validator issues, said once: how many, the location pattern ([*] where indexes vary) and the
    first locations (capped: `count` says how many there are in all)."""

    severity: str
    code: str
    message_id: str
    message: str
    expression: str
    locations: list[str] = field(default_factory=list)
    count: int = 1
    source: str = ""


@dataclass
class OffendingItem:
    """An item of a collection that made a `.all(…)` FHIRPath check false."""

    index: int
    id: str | None = None


@dataclass
class CheckRecord:
    kind: str
    label: str
    outcome: str  # passed | failed | not_checked | waived
    expected: str = ""
    actual: str = ""
    because: str | None = None
    line: int | None = None
    detail: str = ""
    items: list[OffendingItem] = field(default_factory=list)
    issues: list[IssueGroup] = field(default_factory=list)


@dataclass
class ExchangeRecord:
    id: str
    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str | None
    started_at: str
    elapsed_ms: float
    status: int | None
    reason: str
    response_headers: dict[str, str]
    response_body: str | None
    response_size: int
    body_cap: int
    body_truncated: bool
    error: str | None = None
    redirects: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class StepRecord:
    name: str
    phase: str
    index: int
    line: int | None
    outcome: str  # passed | failed | error | skipped | not_checked
    error: str | None = None
    exchange: str | None = None
    checks: list[CheckRecord] = field(default_factory=list)
    source: list[tuple[int, str]] = field(default_factory=list)  # the YAML of a failed step


@dataclass
class RequirementRef:
    ref: str
    level: str
    url: str | None = None
    text: str | None = None
    transaction: str | None = None


@dataclass
class TestRecord:
    __test__ = False

    index: int
    nodeid: str
    id: str
    verdict: Verdict
    reason: str = ""
    set: str | None = None
    component: str | None = None
    actor: str | None = None
    level: str | None = None
    title: dict[str, str | None] = field(default_factory=dict)
    file: str | None = None
    line: int | None = None
    requirements: list[RequirementRef] = field(default_factory=list)
    duration_ms: float = 0.0
    waiver: dict[str, Any] | None = None
    steps: list[StepRecord] = field(default_factory=list)
    exchanges: list[ExchangeRecord] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)  # shown with a failure, redacted
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return _plain(self)

    def title_in(self, lang: str) -> str:
        return (self.title.get(lang) or self.title.get("fr") or self.id) if self.title else self.id

    def failed_checks(self) -> list[CheckRecord]:
        return [c for s in self.steps for c in s.checks if c.outcome == "failed"]


def _plain(value: Any) -> Any:
    """What `dataclasses.asdict` gives, about three times faster (each test's record is converted once on the
    process that ran it): a record holds only dataclasses, lists, tuples, dicts and immutable values, so nothing
    needs the deep copy `asdict` makes of every leaf."""
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return tuple(_plain(item) for item in value)
    names = _field_names(type(value))
    return {name: _plain(getattr(value, name)) for name in names} if names else value


@cache
def _field_names(kind: type) -> tuple[str, ...]:
    """The dataclass fields of `kind`, in order; none when it is not a dataclass."""
    return tuple(f.name for f in fields(kind)) if hasattr(kind, "__dataclass_fields__") else ()


def record_from_dict(data: dict[str, Any]) -> TestRecord:
    """The inverse of `TestRecord.as_dict` (records cross pytest-xdist's wire as dicts)."""
    data = dict(data)
    data["requirements"] = [RequirementRef(**r) for r in data.get("requirements", [])]
    data["exchanges"] = [ExchangeRecord(**e) for e in data.get("exchanges", [])]
    data["steps"] = [_step_from_dict(s) for s in data.get("steps", [])]
    return TestRecord(**data)


def _step_from_dict(data: dict[str, Any]) -> StepRecord:
    data = dict(data)
    data["source"] = [tuple(line) for line in data.get("source", [])]
    data["checks"] = [_check_from_dict(c) for c in data.get("checks", [])]
    return StepRecord(**data)


def _check_from_dict(data: dict[str, Any]) -> CheckRecord:
    data = dict(data)
    data["items"] = [OffendingItem(**i) for i in data.get("items", [])]
    data["issues"] = [IssueGroup(**i) for i in data.get("issues", [])]
    return CheckRecord(**data)


def worst(verdicts: list[str]) -> str:
    return min(verdicts, key=_SEVERITY.index) if verdicts else "skipped"


@dataclass
class RunVerdict:
    code: str  # conformant | non-conformant | incomplete
    reasons: list[dict[str, str]]

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "label": RUN_LABELS[self.code], "rule": RULE, "reasons": self.reasons}


def run_verdict(tests: list[TestRecord], interrupted: Phrase | None = None,
                uncollected: Phrase | None = None) -> RunVerdict:
    """The overall verdict, by the rule stated in RULE (advisory failures never decide it here: with
    --mes-fail-on=should they are recorded as failed in the first place). `uncollected`: the test files that
    could not be read in a run that went on without them (pytest-xdist, --continue-on-collection-errors)."""
    counts = Counter(t.verdict for t in tests)
    reasons = [_in_every_language(phrase(f"run.{verdict}", n=counts[verdict]))
               for verdict in ("failed", "incomplete", "error") if counts[verdict]]
    if interrupted:
        reasons.append(_in_every_language(phrase("interruption.reason", why=interrupted)))
    if uncollected:
        reasons.append(_in_every_language(uncollected))
    # The user's own Python tests may run beside the test sets, but they verify no MES requirement.
    mes_tested = any(t.set is not None and t.verdict != "skipped" for t in tests)
    if not mes_tested:
        reasons.append(_in_every_language(phrase("run.no_mes_test")))
    if counts["failed"]:
        code = "non-conformant"
    elif counts["incomplete"] or counts["error"] or interrupted or uncollected or not mes_tested:
        code = "incomplete"
    else:
        code = "conformant"
    return RunVerdict(code, reasons)


def _in_every_language(said: Phrase) -> dict[str, str]:
    return {lang: said.get(lang) for lang in LANGS}


def summary(tests: list[TestRecord]) -> dict[str, Any]:
    """Counts by verdict, and rows per component, actor and level."""
    rows: dict[tuple, Counter] = {}
    for test in tests:
        key = (test.component or "", test.actor or "", test.level or "")
        rows.setdefault(key, Counter())[test.verdict] += 1
    order = {level: n for n, level in enumerate(LEVELS)}
    return {
        "counts": _counts(Counter(t.verdict for t in tests)),
        "rows": [{"component": c, "actor": a, "level": lv, "counts": _counts(counter)}
                 for (c, a, lv), counter in sorted(rows.items(), key=lambda kv: (kv[0][0], kv[0][1],
                                                                               order.get(kv[0][2], 9)))],
    }


def _counts(counter: Counter) -> dict[str, int]:
    return {verdict: counter.get(verdict, 0) for verdict in VERDICTS}


def requirement_matrix(tests: list[TestRecord]) -> list[dict[str, Any]]:
    """Requirement → the tests that verify it → the worst of their verdicts, in order of first appearance."""
    matrix: dict[tuple[str, str], dict[str, Any]] = {}
    for test in tests:
        for req in test.requirements:
            row = matrix.setdefault((req.ref, req.level), {"ref": req.ref, "level": req.level, "url": req.url,
                                                           "tests": [], "verdicts": []})
            row["tests"].append(test.id)
            row["verdicts"].append(test.verdict)
    return [{**{k: v for k, v in row.items() if k != "verdicts"}, "verdict": worst(row["verdicts"])}
            for row in matrix.values()]
