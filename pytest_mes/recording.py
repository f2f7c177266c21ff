"""From what the runner did to the result model: records of tests, steps, checks and exchanges, and verdicts.

Everything recorded here is already redacted (secrets, and patient data with --mes-redact-patient) and capped,
so any rendering of a record may be written or printed as it is.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date

from pytest_mes.client import Exchange
from pytest_mes.redaction import MASK, PatientMask, is_secret_variable
from pytest_mes.report.labels import label
from pytest_mes.results import (
    CheckRecord,
    ExchangeRecord,
    IssueGroup,
    OffendingItem,
    RequirementRef,
    StepRecord,
    TestRecord,
    Verdict,
)
from pytest_mes.testset.checks import CheckResult
from pytest_mes.testset.model import TestCase, TestSet
from pytest_mes.testset.runner import CaseResult, StepResult
from pytest_mes.waivers import apply_waivers

BODY_CAP = 64 * 1024  # characters of a body kept in a record; the cap is stated where it cuts
LOCATIONS_KEPT = 20  # locations listed per group of identical issues; its count says how many in all


@dataclass(frozen=True)
class Policy:
    """The options that turn check outcomes into verdicts."""

    fail_on: str = "shall"  # shall | should: which failures are failures rather than advisory
    strict: bool = False  # a check not made fails the test instead of leaving it incomplete


def describe_test(test: TestCase, testset: TestSet, *, index: int, nodeid: str, verdict: Verdict,
                  reason: str = "") -> TestRecord:
    """A record of a test with what is known before it runs (skipped, or stopped before its steps)."""
    return TestRecord(
        index=index, nodeid=nodeid, id=test.id, verdict=verdict, reason=reason, set=testset.id,
        component=testset.component, actor=test.actor, level=test.level,
        title={"fr": test.title.fr, "en": test.title.en}, file=testset.label, line=test.line,
        requirements=[RequirementRef(r.ref, r.level, r.url, r.text, r.transaction) for r in test.requirements],
    )


def record_case(result: CaseResult, testset: TestSet, record: TestRecord, policy: Policy,
                mask: Callable[[str], str] = str, lang: str = "fr") -> TestRecord:
    """Fill `record` (from describe_test) with the steps, exchanges and verdict of a run test."""
    record.verdict, record.reason = case_verdict(result, record.level or "SHALL", policy, lang)
    for step_result in (*result.steps, *result.cleanup):
        exchange_id = None
        if step_result.exchange is not None:
            exchange_id = f"{record.id}/e{len(record.exchanges) + 1}"
            record.exchanges.append(exchange_record(step_result.exchange, exchange_id, mask, lang=lang))
        record.steps.append(step_record(step_result, exchange_id, testset, with_source=step_result.failed,
                                        lang=lang, mask=mask))
    if record.verdict != "passed":
        record.variables = shown_variables(result.variables, mask)
    record.reason = mask(record.reason)
    return record


def case_verdict(result: CaseResult, level: str, policy: Policy, lang: str = "fr") -> tuple[Verdict, str]:
    """The verdict of a run test and its reason, in `lang`."""
    failed = result.failed_step
    if failed is not None:
        if failed.harness_error:
            return "error", label("reason.not_run", lang).format(error=failed.error)
        if _unanswered(failed):
            return "error", label("reason.no_answer", lang).format(error=failed.exchange.error)
        advisory = level != "SHALL" and policy.fail_on != "should"
        return ("advisory" if advisory else "failed"), step_failure(failed, lang)
    if result.failed_cleanup is not None:
        cleanup = result.failed_cleanup
        reason = cleanup.error or _first_failure(cleanup, lang, otherwise=label("evidence.failed", lang))
        return "error", label("reason.cleanup", lang).format(reason=reason)
    unmade = result.not_checked
    reason = label("semicolon", lang).join(label("reason.check", lang).format(label=c.label, actual=c.actual)
                                           for c in unmade)
    if unmade and policy.strict:
        return "failed", label("reason.strict", lang).format(reason=reason)
    # Missing test data says nothing of the server: incomplete, even with --mes-strict.
    no_data = result.no_data_step
    if no_data is not None:
        return "incomplete", label("reason.no_data", lang).format(n=no_data.step.index + 1, name=no_data.step.name,
                                                                  what=no_data.no_data)
    return ("incomplete", reason) if unmade else ("passed", "")


def step_failure(step: StepResult, lang: str) -> str:
    """What made a step fail, in one line: 'step 1 "create": status: expected 201, got 404 Not Found'."""
    reason = _first_failure(step, lang, otherwise=str(step.error))
    return label("reason.step", lang).format(n=step.step.index + 1, name=step.step.name, reason=reason)


def _unanswered(step: StepResult) -> bool:
    """The request got no HTTP answer at all (refused, timeout, TLS): the server could not run the step."""
    return step.exchange is not None and step.exchange.status is None and bool(step.exchange.error)


def _first_failure(step: StepResult, lang: str, otherwise: str) -> str:
    """What the first failed check of `step` found, or `otherwise` when none failed."""
    check = next((c for c in step.checks if c.failed), None)
    return _check_reason(check, lang) if check else otherwise


def _check_reason(check: CheckResult, lang: str) -> str:
    if check.kind == "request" or not check.expected:
        return label("reason.check", lang).format(label=check.label, actual=check.actual)
    return label("reason.expected", lang).format(label=check.label, expected=check.expected, actual=check.actual)


def step_record(result: StepResult, exchange_id: str | None, testset: TestSet, *, with_source: bool,
                lang: str = "fr", mask: Callable[[str], str] = str) -> StepRecord:
    """The step as it may be shown: what its checks say is masked like the exchanges (a secret or a patient's
    identifier rendered into a check's expression or expected value)."""
    step = result.step
    if result.skipped:
        outcome = "skipped"
    elif result.harness_error or _unanswered(result):
        outcome = "error"
    elif result.failed:
        outcome = "failed"
    else:
        outcome = "not_checked" if result.not_checked or result.no_data else "passed"
    return StepRecord(
        name=step.name, phase=step.phase, index=step.index, line=step.line, outcome=outcome,
        error=_masked(result.error or result.skipped or result.no_data, mask), exchange=exchange_id,
        checks=[check_record(c, lang, mask) for c in result.checks],
        source=testset.source_lines(step.line, step.end_line) if with_source else [],
    )


def check_record(check: CheckResult, lang: str = "fr", mask: Callable[[str], str] = str) -> CheckRecord:
    return CheckRecord(
        kind=check.kind, label=mask(check.label), outcome=check.outcome, expected=mask(check.expected),
        actual=mask(check.actual), because=_masked(check.because, mask), line=check.line, detail=mask(check.detail),
        items=[OffendingItem(index, item_id) for index, item_id in check.items],
        issues=[replace(group, message=mask(group.message)) for group in issue_groups(check.issues, lang)],
    )


def _masked(text: str | None, mask: Callable[[str], str]) -> str | None:
    return mask(text) if text else text


def issue_groups(issues: tuple, lang: str) -> list[IssueGroup]:
    """The validator's issues, grouped as every output shows them, in the run's language."""
    if not issues:
        return []
    from pytest_mes.fhir.grouping import group_issues  # the validator is loaded whenever there are issues

    return [IssueGroup(g.severity, g.first.code, g.message_id, g.message,
                       g.pattern if g.count > 1 else g.first.expression, g.locations(LOCATIONS_KEPT), g.count,
                       "; ".join(g.rules)) for g in group_issues(issues, lang)]


def exchange_record(exchange: Exchange, exchange_id: str, mask: Callable[[str], str] = str,
                    lang: str = "fr") -> ExchangeRecord:
    shown = exchange.shown()  # secrets of the response masked; the request side was recorded masked
    body, truncated = _body_text(shown, lang)
    request_body = _capped(_pretty(shown.request_body))[0] if shown.request_body else None
    return ExchangeRecord(
        id=exchange_id, method=shown.method, url=mask(shown.url),
        request_headers={k: mask(v) for k, v in shown.request_headers.items()},
        request_body=mask(request_body) if request_body else None,
        started_at=shown.started_at, elapsed_ms=shown.elapsed_ms, status=shown.status, reason=shown.reason,
        response_headers={k: mask(v) for k, v in shown.response_headers.items()},
        response_body=mask(body) if body else body, response_size=len(exchange.body), body_cap=BODY_CAP,
        body_truncated=truncated, error=mask(shown.error) if shown.error else None,
        redirects=[mask(r) for r in shown.redirects], notes=list(shown.notes),
    )


def _body_text(exchange: Exchange, lang: str) -> tuple[str | None, bool]:
    if not exchange.body:
        return None, False
    kind = exchange.content_type
    textual = not kind or kind.startswith("text/") or kind.endswith(("json", "xml")) or "x-www-form" in kind
    try:
        text = exchange.body.decode("utf-8")
    except UnicodeDecodeError:  # text in another encoding (FHIR's is UTF-8) is still evidence: its bytes as �
        text = exchange.body.decode("utf-8", "replace") if kind and textual else None
    if text is None or not textual:
        return label("body_not_shown", lang).format(size=len(exchange.body),
                                                     kind=kind or label("binary_data", lang)), False
    return _capped(_pretty(text))


def _pretty(text: str) -> str:
    if len(text) > 5 * 1024 * 1024:
        return text  # not worth parsing what will be cut anyway
    with contextlib.suppress(ValueError, RecursionError):
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    return text


def _capped(text: str) -> tuple[str, bool]:
    return (text, False) if len(text) <= BODY_CAP else (text[:BODY_CAP], True)


def shown_variables(variables: dict, mask: Callable[[str], str] = str) -> dict[str, str]:
    """The scalar variables of a test as they may be shown: credential-like names masked."""
    shown = {}
    for name, value in sorted(variables.items()):
        if isinstance(value, str | int | float | bool):
            shown[name] = MASK if is_secret_variable(name) else mask(repr(value))
    return shown


class Recorder:
    """Makes the records of one process's tests: verdict policy, waivers and redaction in one place."""

    def __init__(self, policy: Policy, waivers: list | None = None, mask_patients: bool = False,
                 secrets: Callable[[str], str] = str, lang: str = "fr"):
        self.policy = policy
        self.lang = lang
        self.waivers = waivers or []
        self.patients = PatientMask() if mask_patients else None
        self.secrets = secrets

    def mask(self, text: str) -> str:
        text = self.secrets(text)
        return self.patients.text(text) if self.patients is not None else text

    def case(self, result: CaseResult, testset: TestSet, record: TestRecord) -> TestRecord:
        if self.patients is not None:
            self._learn(result)
        record = record_case(result, testset, record, self.policy, self.mask, self.lang)
        apply_waivers(record, self.waivers, date.today(), self.lang)
        return record

    def _learn(self, result: CaseResult) -> None:
        for step in (*result.steps, *result.cleanup):
            if step.exchange is not None:
                self.patients.learn_text(step.exchange.request_body)
                self.patients.learn_text(step.exchange.url)
                self.patients.learn_text(step.exchange.text)
