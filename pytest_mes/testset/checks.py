"""Evaluate the checks of a step against its Exchange. Every check gives a verdict; none raises."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal, Protocol

from pytest_mes.client import Exchange
from pytest_mes.fhir.issues import UNMADE_CHECKS
from pytest_mes.fhirpath import FhirPathError, evaluate
from pytest_mes.report.labels import label
from pytest_mes.testset.model import Check
from pytest_mes.testset.templating import TemplateError, render

Outcome = Literal["passed", "failed", "not_checked"]
_SEVERITY_RANK = {"fatal": 0, "error": 1, "warning": 2, "information": 3}
_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")


class ProfileValidator(Protocol):
    """What the 'conforms_to' check needs from a validator (pytest_mes.fhir provides it)."""

    def validate(self, resource: dict, profiles: Any = (), *, context: str | None = None) -> Any: ...


@dataclass(frozen=True)
class CheckResult:
    label: str
    outcome: Outcome
    expected: str = ""
    actual: str = ""
    detail: str = ""
    because: str | None = None
    line: int | None = None
    kind: str = ""
    items: tuple[tuple[int, str | None], ...] = ()  # (index, id) of the first items a `.all(…)` rejected
    issues: tuple[Any, ...] = ()  # the validator's Issues of a conforms_to check, errors first

    @property
    def failed(self) -> bool:
        return self.outcome == "failed"


@dataclass(frozen=True)
class CheckContext:
    exchange: Exchange
    variables: dict[str, Any]
    validator: ProfileValidator | None = None
    validator_problem: str = "no validator is loaded"
    package: str | None = None  # the IG the test is about, for unversioned profile URLs
    lang: str = "fr"  # of the words a check adds to what it found (--mes-lang)


def run_check(check: Check, context: CheckContext) -> CheckResult:
    try:
        spec = render(check.spec, context.variables)  # expected values may come from saved ones
    except TemplateError as exc:
        return CheckResult(check.kind, "failed", "", str(exc), because=check.because, line=check.line)
    try:
        result = _EVALUATORS[check.kind](spec, context)
    except (re.error, TypeError, ValueError) as exc:  # a bad regex or value in the test set, not a server fault
        result = CheckResult(check.kind, "failed", "", f"the check could not be evaluated: {exc}")
    return replace(result, because=check.because, line=check.line, kind=check.kind)


def implicit_checks(checks: tuple[Check, ...], context: CheckContext) -> list[CheckResult]:
    """Checks every step gets: the request went through, and no server error unless a status was expected."""
    exchange = context.exchange
    if exchange.error:
        return [CheckResult("request", "failed", "an HTTP response", exchange.error, kind="request")]
    if not any(c.kind == "status" for c in checks) and exchange.status and exchange.status >= 500:
        return [CheckResult("status", "failed", "no server error (status < 500)",
                            f"{exchange.status} {exchange.reason}".strip(), kind="status")]
    return []


def _status(spec: int | list[int], context: CheckContext) -> CheckResult:
    allowed = spec if isinstance(spec, list) else [spec]
    actual = context.exchange.status
    expected = " or ".join(str(code) for code in allowed)
    return _verdict("status", actual in allowed, expected, f"{actual} {context.exchange.reason}".strip())


def _header(spec: dict[str, Any], context: CheckContext) -> CheckResult:
    value = context.exchange.header(spec["name"])
    label = f"header {spec['name']}"
    if spec.get("present") is False:
        return _verdict(label, value is None, "absent", _shown(value))
    if "equals" in spec:
        expected, ok = repr(spec["equals"]), value == spec["equals"]
    elif "matches" in spec:
        expected, ok = f"matching /{spec['matches']}/", value is not None and re.search(spec["matches"], value)
    else:
        expected, ok = "present", value is not None
    return _verdict(label, bool(ok), expected, "absent" if value is None else repr(value))


def _content_type(spec: str, context: CheckContext) -> CheckResult:
    actual = context.exchange.content_type
    expected = spec.split(";")[0].strip().lower()
    return _verdict("content type", actual == expected, expected, actual or "(no Content-Type)")


def _resource_type(spec: str, context: CheckContext) -> CheckResult:
    body, problem = context.exchange.parsed
    if problem:
        return CheckResult("resource type", "failed", spec, problem)
    actual = body.get("resourceType") if isinstance(body, dict) else None
    return _verdict("resource type", actual == spec, spec, _shown(actual))


def _bundle(spec: dict[str, Any], context: CheckContext) -> CheckResult:
    body, problem = context.exchange.parsed
    if problem:
        return CheckResult("bundle", "failed", "a Bundle", problem)
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        kind = body.get("resourceType") if isinstance(body, dict) else type(body).__name__
        return CheckResult("bundle", "failed", "a Bundle", _shown(kind))
    entries = body.get("entry") or []
    failures: list[tuple[str, str, str]] = []
    if "type" in spec and body.get("type") != spec["type"]:
        failures.append(("Bundle.type", spec["type"], _shown(body.get("type"))))
    if "total" in spec:
        _count_check("Bundle.total", spec["total"], body.get("total"), failures)
    if "entries" in spec:
        _count_check("number of entries", spec["entries"], len(entries), failures)
    if "matches" in spec:
        matches = sum(1 for e in entries if (e.get("search") or {}).get("mode") == "match")
        _count_check("entries with search.mode = match", spec["matches"], matches, failures)
    if "entry_types" in spec:
        found = sorted({(e.get("resource") or {}).get("resourceType", "?") for e in entries})
        unexpected = [t for t in found if t not in spec["entry_types"]]
        if unexpected:
            failures.append(("entry resource types", "only " + ", ".join(spec["entry_types"]), ", ".join(found)))
    label = "bundle " + ", ".join(sorted(spec))
    if not failures:
        return CheckResult(label, "passed")
    return CheckResult(label, "failed", "; ".join(f"{what}: {exp}" for what, exp, _ in failures),
                       "; ".join(f"{what}: {act}" for what, _, act in failures))


def _count_check(what: str, spec: int | dict[str, int], actual: Any, failures: list) -> None:
    if isinstance(spec, int):
        if actual != spec:
            failures.append((what, str(spec), _shown(actual)))
        return
    low, high = spec.get("min"), spec.get("max")
    ok = isinstance(actual, int) and (low is None or actual >= low) and (high is None or actual <= high)
    if not ok:
        bounds = " and ".join(filter(None, [f">= {low}" if low is not None else "",
                                            f"<= {high}" if high is not None else ""]))
        failures.append((what, bounds, _shown(actual)))


def _fhirpath(spec: str | dict[str, Any], context: CheckContext) -> CheckResult:
    expression = spec if isinstance(spec, str) else spec["expression"]
    op = None if isinstance(spec, str) else spec.get("op")
    expected_value = None if isinstance(spec, str) else spec.get("value")
    label = f"fhirpath {expression}"
    body, problem = context.exchange.parsed
    if problem:
        return CheckResult(label, "failed", _describe_expectation(op, expected_value), problem)
    variables = fhirpath_variables(context.variables)
    try:
        result = evaluate(body, expression, variables)
    except FhirPathError as exc:
        return CheckResult(label, "failed", _describe_expectation(op, expected_value), str(exc))
    verdict = _verdict(label, _compare(result, op, expected_value), _describe_expectation(op, expected_value),
                       _shown(result))
    if verdict.failed and op is None and result == [False]:
        verdict = _name_offenders(verdict, body, expression, variables, context.lang)
    return verdict


_ALL_CALL = re.compile(r"^(?P<collection>.+)\.all\((?P<criteria>.+)\)$", re.S)
OFFENDERS_SHOWN = 5


def _name_offenders(verdict: CheckResult, body: Any, expression: str, variables: dict[str, Any],
                    lang: str) -> CheckResult:
    """A false `X.all(criteria)`: say which items of X failed the criteria (index and id), not only 'false'."""
    match = _ALL_CALL.match(expression.strip())
    if match is None or not _balanced(match["criteria"]):
        return verdict
    try:
        items = evaluate(body, match["collection"], variables)
        offenders = [(n, _item_id(item)) for n, item in enumerate(items)
                     if evaluate(item, match["criteria"], variables) != [True]]
    except FhirPathError:
        return verdict  # the criteria need the whole resource ($this is not the root): keep the plain verdict
    if not offenders:
        return verdict
    shown = ", ".join(f"[{n}]" + (f" id={item_id}" if item_id else "") for n, item_id in offenders[:OFFENDERS_SHOWN])
    if len(offenders) > OFFENDERS_SHOWN:
        shown += label("offenders.more", lang).format(n=len(offenders) - OFFENDERS_SHOWN)
    actual = label("offenders", lang).format(n=len(offenders), total=len(items), collection=match["collection"],
                                             shown=shown)
    return replace(verdict, actual=actual, items=tuple(offenders[:OFFENDERS_SHOWN]))


def _balanced(text: str) -> bool:
    """Whether `text` closes every parenthesis it opens (so `.all(` really wraps the whole tail)."""
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def _item_id(item: Any) -> str | None:
    if not isinstance(item, dict):
        return None
    resource = item.get("resource") if isinstance(item.get("resource"), dict) else item
    return resource.get("id") or item.get("fullUrl")


def fhirpath_variables(variables: dict[str, Any]) -> dict[str, Any]:
    # Test-set variables are reachable as %name; only JSON-like values make sense there.
    return {k: v for k, v in variables.items() if isinstance(v, str | int | float | bool | dict | list)}


def _compare(result: list[Any], op: str | None, expected: Any) -> bool:
    if op is None:
        return result == [True]
    if op == "exists":
        return bool(result)
    if op == "empty":
        return not result
    if op in {"equals", "not_equals"}:
        same = result == (expected if isinstance(expected, list) else [expected])
        same = same or (len(result) == 1 and _loosely_equal(result[0], expected))
        return same if op == "equals" else not same
    if op in {"contains", "not_contains"}:
        found = any(_loosely_equal(item, expected) for item in result)
        return found if op == "contains" else not found
    if op in {"in", "not_in"}:
        # Every value in (or none in) the list; true of an empty result, as FHIRPath's all() is.
        options = expected if isinstance(expected, list) else [expected]
        found = [any(_loosely_equal(item, option) for option in options) for item in result]
        return all(found) if op == "in" else not any(found)
    if op == "matches":
        return len(result) == 1 and isinstance(result[0], str) and re.search(str(expected), result[0]) is not None
    if len(result) != 1:
        return False
    return _ordered(result[0], op, expected)


def _ordered(actual: Any, op: str, expected: Any) -> bool:
    """Numbers as numbers; FHIR dates and instants in time order (time zones included); else no order."""
    if isinstance(actual, str) and isinstance(expected, str):
        pair = _moments(actual, expected)
        if pair is None:
            return False
        a, b = pair
    else:
        try:
            a, b = float(actual), float(expected)
        except (TypeError, ValueError):
            return False
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _moments(actual: str, expected: str) -> tuple[Any, Any] | None:
    """Two FHIR date/dateTime/instant texts made comparable, or None (not dates, or precisions differ)."""
    if _DATE.fullmatch(actual) and _DATE.fullmatch(expected):
        return actual, expected  # YYYY[-MM[-DD]] orders as text
    if _DATE.fullmatch(actual) or _DATE.fullmatch(expected):
        size = min(len(actual), len(expected), 10)  # a date against a dateTime: compare the days
        return actual[:size], expected[:size]
    try:
        a = datetime.fromisoformat(actual.replace("Z", "+00:00"))
        b = datetime.fromisoformat(expected.replace("Z", "+00:00"))
    except ValueError:
        return None
    if (a.tzinfo is None) != (b.tzinfo is None):
        return None
    return a, b


def _loosely_equal(actual: Any, expected: Any) -> bool:
    if actual == expected:
        return True
    # YAML gives 1 for '1' written unquoted, and FHIR ids are strings: compare their text.
    if isinstance(actual, int | float | str) and isinstance(expected, int | float | str):
        return str(actual) == str(expected)
    return False


def _describe_expectation(op: str | None, value: Any) -> str:
    if op is None:
        return "true"
    if op in {"exists", "empty"}:
        return "not empty" if op == "exists" else "empty"
    return f"{op.replace('_', ' ')} {_shown(value)}"


def _max_time(spec: float, context: CheckContext) -> CheckResult:
    actual = context.exchange.elapsed_ms
    return _verdict("response time", actual <= spec, f"<= {spec:g} ms", f"{actual:g} ms")


def _conforms_to(spec: str | list[str], context: CheckContext) -> CheckResult:
    profiles = spec if isinstance(spec, list) else [spec]
    label = "conforms to " + ", ".join(profiles)
    if context.validator is None:
        return CheckResult(label, "not_checked", "no error from the validator",
                           f"not checked: {context.validator_problem}")
    body, problem = _resource_for_validation(context)
    if problem:
        return CheckResult(label, "failed", "a FHIR resource", problem)
    result = context.validator.validate(body, profiles, context=context.package)
    # Errors first: must-support information on every resource would otherwise bury them.
    ranked = tuple(sorted(result.issues, key=lambda i: _SEVERITY_RANK.get(i.severity, 9)))
    unmade = [i for i in ranked if i.message_id in UNMADE_CHECKS]
    # "Profile not found" says what could not be checked, not what the server got wrong.
    errors = [i for i in ranked if i.severity in {"error", "fatal"} and i.message_id not in UNMADE_CHECKS]
    if errors:
        return CheckResult(label, "failed", "no error", f"{len(errors)} error(s)", issues=ranked)
    if unmade:
        why = "; ".join(dict.fromkeys(i.message for i in unmade))
        return CheckResult(label, "not_checked", "no error", f"not checked: {why}", issues=ranked)
    return CheckResult(label, "passed", "no error", "no error", issues=ranked)


def _resource_for_validation(context: CheckContext) -> tuple[Any, str | None]:
    exchange = context.exchange
    if exchange.content_type.endswith("xml") and not exchange.error:
        try:
            from pytest_mes.fhir.xml import parse_xml
        except ImportError:
            return None, "the response is FHIR XML, which this version cannot read yet"
        try:
            return parse_xml(exchange.body, getattr(context.validator, "store", None)), None
        except Exception as exc:  # the XML reader's own error type carries the line and the cause
            return None, f"the XML response cannot be read: {exc}"
    return exchange.parsed


def _verdict(label: str, ok: bool, expected: str, actual: str) -> CheckResult:
    return CheckResult(label, "passed" if ok else "failed", expected, actual)


def _shown(value: Any) -> str:
    if value is None:
        return "absent"
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (RecursionError, ValueError):  # nested too deeply, or an integer too long to print
        return "(a value too deeply nested to show)"
    return text if len(text) <= 300 else text[:297] + "..."


_EVALUATORS: dict[str, Callable[[Any, CheckContext], CheckResult]] = {
    "status": _status,
    "header": _header,
    "content_type": _content_type,
    "resource_type": _resource_type,
    "bundle": _bundle,
    "fhirpath": _fhirpath,
    "max_time_ms": _max_time,
    "conforms_to": _conforms_to,
}
