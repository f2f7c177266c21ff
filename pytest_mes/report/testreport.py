"""A FHIR R4 TestReport of a run: one per run, each test a TestReport.test, each exchange an operation and each
check an assert (pass / fail / warning / skip / error), in the run's language."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import escape
from typing import Any

from pytest_mes.report.labels import document_title, label, lead, pick, run_lang

RUN_RESULT = {"conformant": "pass", "non-conformant": "fail", "incomplete": "pending"}
# A check that could not be made is an "error" of the assert (it was not evaluated), never a pass.
CHECK_RESULT = {"passed": "pass", "failed": "fail", "not_checked": "error", "error": "error", "skipped": "skip",
                "waived": "warning"}
# A test without any check or exchange still gets one assert saying its verdict.
TEST_RESULT = {"passed": "pass", "failed": "fail", "advisory": "warning", "incomplete": "error", "skipped": "skip",
               "waived": "warning", "error": "error"}
MAX_ISSUES = 10
_URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_NOT_FHIR_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def fhir_text(value: Any) -> str:
    """A FHIR string: no control characters, no surrounding blanks, never empty."""
    text = _NOT_FHIR_TEXT.sub(" ", "" if value is None else str(value)).strip()
    return text or "-"


def to_testreport(results: dict) -> dict:
    lang = run_lang(results)
    run = results.get("run") or {}
    verdict = results.get("verdict") or {}
    tool = run.get("tool") or {}
    identification = run.get("identification") or {}
    base_url = (run.get("target") or {}).get("base_url")
    report: dict[str, Any] = {
        "resourceType": "TestReport",
        "text": {"status": "generated", "div": _narrative(results, lang)},
        "identifier": _identifier(run.get("id")),
        "name": fhir_text(document_title(results, lang)),
        "status": "stopped" if run.get("interrupted") else "completed",
        "testScript": {"display": fhir_text(_testsets_display(run.get("testsets") or [], lang))},
        "result": RUN_RESULT.get(verdict.get("code"), "pending"),
        "score": _score((results.get("summary") or {}).get("counts") or {}),
        "tester": fhir_text(f"{tool.get('name', 'pytest-mes')} {tool.get('version', '')}"),
        "issued": _datetime(run.get("finished") or run.get("started")),
        "participant": [{"type": "server", "uri": fhir_text(base_url),
                         "display": fhir_text(identification.get("solution") or base_url)}]
        if base_url and _URI.match(base_url) else None,
        "test": [_test(t, lang) for t in results.get("tests") or []] or None,
    }
    return {key: value for key, value in report.items() if value is not None}


def _identifier(run_id: Any) -> dict | None:
    if not run_id:
        return None
    if _UUID.match(str(run_id)):
        return {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{str(run_id).lower()}"}
    return {"value": fhir_text(run_id)}


def _testsets_display(testsets: list[dict], lang: str) -> str:
    names = ", ".join(f"{s.get('id')} {s.get('version') or ''}".strip() for s in testsets)
    return f"pytest-mes — {lead('testsets', lang)}{names or label('none', lang)}"


def _score(counts: dict) -> float | None:
    """Percentage of the tests that ran (all but skipped) that passed."""
    ran = sum(int(n) for v, n in counts.items() if v != "skipped")
    return round(100 * int(counts.get("passed", 0)) / ran, 1) if ran else None


def _datetime(value: Any) -> str | None:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat(timespec="seconds")


def _narrative(results: dict, lang: str) -> str:
    run = results.get("run") or {}
    verdict = results.get("verdict") or {}
    counts = (results.get("summary") or {}).get("counts") or {}
    count_text = ", ".join(f"{lead(v, lang)}{n}" for v, n in counts.items() if n and v in TEST_RESULT)
    lines = [f"{lead('overall_verdict', lang)}{pick(verdict.get('label') or verdict.get('code'), lang)}",
             *(f"{lead('reason', lang)}{pick(reason, lang)}" for reason in verdict.get("reasons") or []),
             f"{lead('base_url', lang)}{(run.get('target') or {}).get('base_url') or '-'}",
             f"{lead('run_id', lang)}{run.get('id') or '-'}", count_text or label("none", lang)]
    paragraphs = "".join(f"<p>{escape(fhir_text(line), quote=False)}</p>" for line in lines)
    return f'<div xmlns="http://www.w3.org/1999/xhtml">{paragraphs}</div>'


def _test(test: dict, lang: str) -> dict:
    verdict = test.get("verdict", "error")
    exchanges = {e.get("id"): e for e in test.get("exchanges") or []}
    actions: list[dict] = []
    for step in test.get("steps") or []:
        actions += _step_actions(step, exchanges.get(step.get("exchange")), verdict, test, lang)
    if not actions:
        actions.append({"assert": {"result": TEST_RESULT.get(verdict, "error"),
                                   "message": fhir_text(f"{label(verdict, lang)} — {test.get('reason') or ''}"),
                                   "detail": fhir_text(test.get("nodeid") or test.get("id"))}})
    requirements = "; ".join(f"{r.get('ref')} ({r.get('level')})" for r in test.get("requirements") or [])
    description = " — ".join(filter(None, [label(verdict, lang), test.get("reason"), requirements]))
    return {"name": fhir_text(f"{test.get('id')} — {pick(test.get('title'), lang)}"),
            "description": fhir_text(description), "action": actions}


def _step_actions(step: dict, exchange: dict | None, verdict: str, test: dict, lang: str) -> list[dict]:
    actions = [{"operation": _operation(exchange, lang)}] if exchange is not None else []
    actions += [{"assert": _assert(check, verdict, test, lang)} for check in step.get("checks") or []]
    outcome = step.get("outcome")
    if step.get("error"):
        actions.append({"assert": {"result": "error", "message": fhir_text(f"{step.get('name')}: {step['error']}")}})
    elif not step.get("checks") and outcome not in (None, "passed"):
        actions.append({"assert": {"result": CHECK_RESULT.get(outcome, "error"),
                                   "message": fhir_text(f"{step.get('name')}: {_outcome(outcome, lang)}")}})
    return actions


def _outcome(outcome: Any, lang: str) -> str:
    return label(f"check.{outcome}", lang) if outcome in CHECK_RESULT else str(outcome)


def _operation(exchange: dict, lang: str) -> dict:
    status = exchange.get("status")
    answer = f"{status} {exchange.get('reason') or ''}".strip() if status is not None else label("no_answer", lang)
    elapsed = exchange.get("elapsed_ms")
    message = f"{exchange.get('method')} {exchange.get('url')} → {answer}"
    if isinstance(elapsed, int | float):
        message += f" ({elapsed:.0f} ms)"
    if exchange.get("error"):
        message += f" — {exchange['error']}"
    return {"result": "error" if status is None or exchange.get("error") else "pass", "message": fhir_text(message)}


def _assert(check: dict, verdict: str, test: dict, lang: str) -> dict:
    result = CHECK_RESULT.get(check.get("outcome"), "error")
    if result == "fail" and verdict in ("advisory", "waived"):
        result = "warning"  # shown, but it does not fail the test: a SHOULD/MAY requirement or a waived failure
    parts = [f"**{check.get('label') or check.get('kind')}** — {_outcome(check.get('outcome'), lang)}",
             f"{lead('expected', lang)}{check.get('expected')}{label('semicolon', lang)}"
             f"{lead('actual', lang)}{check.get('actual')}"]
    if check.get("because"):
        parts.append(f"{lead('because', lang)}{check['because']}")
    if check.get("items"):
        parts.append(f"{lead('items', lang)}"
                     + ", ".join(f"[{i.get('index')}] {i.get('id') or ''}".strip() for i in check["items"]))
    issues = check.get("issues") or []
    parts += [_issue_line(i) for i in issues[:MAX_ISSUES]]
    if len(issues) > MAX_ISSUES:
        parts.append(f"… +{len(issues) - MAX_ISSUES}")
    if verdict == "waived" and isinstance(test.get("waiver"), dict):
        parts.append(f"{lead('waiver', lang)}{pick(test['waiver'].get('justification'), lang)}")
    detail = f"{test.get('file') or ''}:{check['line']}" if check.get("line") else None
    assertion = {"result": result, "message": fhir_text("\n\n".join(parts))}
    if detail:
        assertion["detail"] = fhir_text(detail)
    return assertion


def _issue_line(issue: dict) -> str:
    count = issue.get("count") or 1
    where = issue.get("expression") or ""
    return (f"- {str(issue.get('severity', '')).upper()} {issue.get('message') or ''} [{issue.get('message_id')}] "
            f"@ {where}" + (f" × {count}" if count > 1 else ""))
