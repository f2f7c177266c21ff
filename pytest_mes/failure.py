"""Plain-text explanation of a failed step: every failed check, the YAML source, the request and the response."""

from __future__ import annotations

import contextlib
import json

from pytest_mes.client import Exchange
from pytest_mes.redaction import MASK, is_secret_name
from pytest_mes.testset.checks import CheckResult
from pytest_mes.testset.model import TestCase, TestSet
from pytest_mes.testset.runner import StepResult

BODY_EXCERPT = 1500


def explain_step(testset: TestSet, step_result: StepResult, *, test: TestCase | None = None, total: int = 0,
                 variables: dict | None = None) -> str:
    step = step_result.step
    where = f"{testset.label}:{step.line}" if step.line else testset.label
    position = f"step {step.index + 1} of {total}" if total else f"{step.phase} step {step.index + 1}"
    lines = []
    if test is not None:
        lines.append(f"{test.id} — {test.title.get()}")
        lines += [f"Requirement: {r.ref} ({r.level})" + (f" — {r.text}" if r.text else "")
                  for r in test.requirements]
    lines.append(f"{position.capitalize()} \"{step.name}\" ({where}) failed:")
    if step_result.error:
        lines.append(f"  ✗ {step_result.error}")
    lines += [_check_line(check) for check in step_result.checks if check.outcome != "passed"]
    passed = sum(1 for check in step_result.checks if check.outcome == "passed")
    if passed:
        lines.append(f"  ({passed} other check{'s' if passed > 1 else ''} passed)")
    source = testset.source_lines(step.line, step.end_line)
    if source:
        lines.append(f"Source ({testset.label}:{source[0][0]}-{source[-1][0]}):")
        lines += [f"  {number:4d} | {text}" for number, text in source]
    if step_result.exchange is not None:
        lines += explain_exchange(step_result.exchange)
    if variables:
        lines.append("Variables: " + _variables(variables, step_result.exchange))
    return "\n".join(lines)


def _variables(variables: dict, exchange: Exchange | None) -> str:
    shown = []
    for name, value in sorted(variables.items()):
        if not isinstance(value, str | int | float | bool):
            continue
        text = repr(value)
        if is_secret_name(name):
            text = MASK
        elif exchange is not None:
            text = exchange.redactor.text(text)
        shown.append(f"{name}={text}")
    return ", ".join(shown)


def _check_line(check: CheckResult) -> str:
    mark = "✗" if check.outcome == "failed" else "?"
    where = f" (line {check.line})" if check.line else ""
    if check.outcome == "not_checked":
        text = f"  {mark} {check.label}{where}: {check.actual}"
    else:
        text = f"  {mark} {check.label}{where}: expected {check.expected}, got {check.actual}"
    if check.because:
        text += f"\n      because: {check.because}"
    if check.detail:
        text += "\n" + "\n".join(f"      {line}" for line in check.detail.splitlines())
    return text


def explain_exchange(exchange: Exchange) -> list[str]:
    """The request and the response as a reader wants them: redacted, bodies cut to an excerpt."""
    exchange = exchange.shown()
    lines = ["Request:", f"  {exchange.method} {exchange.url}"]
    lines += [f"  {name}: {value}" for name, value in exchange.request_headers.items()
              if name.lower() not in ("user-agent", "accept-encoding", "connection", "content-length")]
    if exchange.request_body:
        lines += ["", *_indent(_pretty(exchange.request_body))]
    lines += [f"  ({note})" for note in exchange.notes]
    if exchange.error and exchange.status is None:
        lines.append(f"Response: none after {exchange.elapsed_ms:g} ms (see above)")
        return lines
    lines += [f"Redirected: {hop}" for hop in exchange.redirects]
    lines.append(f"Response: {exchange.status} {exchange.reason} in {exchange.elapsed_ms:g} ms")
    lines += [f"  {name}: {value}" for name, value in exchange.response_headers.items()]
    if exchange.body:
        lines += ["", *_indent(_body(exchange))]
    return lines


def _body(exchange: Exchange) -> str:
    kind = exchange.content_type
    textual = not kind or kind.startswith("text/") or kind.endswith(("json", "xml")) or "x-www-form" in kind
    try:
        text = exchange.body.decode("utf-8")
    except UnicodeDecodeError:
        textual = False
    if not textual:
        return f"({len(exchange.body)} bytes of {kind or 'binary data'}, not shown)"
    return _pretty(text)


def _pretty(text: str) -> str:
    with contextlib.suppress(ValueError, RecursionError):  # shown as received when it cannot be re-indented
        text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    if len(text) > BODY_EXCERPT:
        text = text[:BODY_EXCERPT] + f"\n… ({len(text) - BODY_EXCERPT} more characters)"
    return text


def _indent(text: str) -> list[str]:
    return [f"  {line}" for line in text.splitlines()]
