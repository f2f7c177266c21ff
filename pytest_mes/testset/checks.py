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
from pytest_mes.report.labels import LABELS, label
from pytest_mes.shape import WrongShape, a_string, an_object, objects
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
    validator_problem: str = ""  # why there is no validator (default: none is loaded)
    package: str | None = None  # the IG the test is about, for unversioned profile URLs
    lang: str = "fr"  # of the words a check adds to what it found (--mes-lang)

    def say(self, key: str, **values: Any) -> str:
        """A word of the label table in the run's language, its placeholders filled."""
        return label(key, self.lang).format(**values)


def run_check(check: Check, context: CheckContext) -> CheckResult:
    try:
        spec = render(check.spec, context.variables)  # expected values may come from saved ones
    except TemplateError as exc:
        return CheckResult(check.kind, "failed", "", exc.text(context.lang), because=check.because, line=check.line)
    try:
        result = _EVALUATORS[check.kind](spec, context)
    except (re.error, TypeError, ValueError) as exc:  # a bad regex or value in the test set, not a server fault
        result = CheckResult(check.kind, "failed", "", context.say("check.unevaluable", error=exc))
    return replace(result, because=check.because, line=check.line, kind=check.kind)


def not_made(check: Check, context: CheckContext, why: str) -> CheckResult:
    """A check of the answer's content that cannot be made (the answer holds no data to check): said as not made,
    under the name it has when made."""
    try:
        spec = render(check.spec, context.variables)
    except TemplateError:
        spec = check.spec
    return CheckResult(_CONTENT_NAMES[check.kind](spec, context), "not_checked",
                       actual=context.say("check.not_made", why=why), because=check.because, line=check.line,
                       kind=check.kind)


def implicit_checks(checks: tuple[Check, ...], context: CheckContext) -> list[CheckResult]:
    """Checks every step gets: the request went through, and no server error unless a status was expected."""
    exchange = context.exchange
    if exchange.error:
        return [CheckResult(context.say("check.request"), "failed", context.say("check.an_answer"), exchange.error,
                            kind="request")]
    if not any(c.kind == "status" for c in checks) and exchange.status and exchange.status >= 500:
        return [CheckResult(context.say("check.status"), "failed", context.say("check.no_server_error"),
                            f"{exchange.status} {exchange.reason}".strip(), kind="status")]
    return []


def _status(spec: int | list[int], context: CheckContext) -> CheckResult:
    allowed = spec if isinstance(spec, list) else [spec]
    actual = context.exchange.status
    expected = context.say("check.or").join(str(code) for code in allowed)
    return _verdict(context.say("check.status"), actual in allowed, expected,
                    f"{actual} {context.exchange.reason}".strip())


def _header(spec: dict[str, Any], context: CheckContext) -> CheckResult:
    value = context.exchange.header(spec["name"])
    name, absent = context.say("check.header", name=spec["name"]), context.say("check.absent")
    if spec.get("present") is False:
        return _verdict(name, value is None, absent, _shown(value, context))
    if "equals" in spec:
        expected, ok = repr(spec["equals"]), value == spec["equals"]
    elif "matches" in spec:
        expected = context.say("check.matching", pattern=spec["matches"])
        ok = value is not None and re.search(spec["matches"], value)
    else:
        expected, ok = context.say("check.present"), value is not None
    return _verdict(name, bool(ok), expected, absent if value is None else repr(value))


def _content_type(spec: str, context: CheckContext) -> CheckResult:
    actual = context.exchange.content_type
    expected = spec.split(";")[0].strip().lower()
    return _verdict(context.say("check.content_type"), actual == expected, expected,
                    actual or context.say("check.no_content_type"))


def _resource_type(spec: str, context: CheckContext) -> CheckResult:
    body, problem = context.exchange.resource
    name = context.say("check.resource_type")
    if problem:
        return CheckResult(name, "failed", spec, problem)
    actual = body.get("resourceType")
    return _verdict(name, actual == spec, spec, _shown(actual, context))


def _bundle(spec: dict[str, Any], context: CheckContext) -> CheckResult:
    body, problem = context.exchange.resource
    name = _bundle_name(spec, context)
    if problem:
        return CheckResult(name, "failed", context.say("check.a_bundle"), problem)
    if body.get("resourceType") != "Bundle":
        return CheckResult(name, "failed", context.say("check.a_bundle"), _shown(body.get("resourceType"), context))
    try:
        failures = _bundle_failures(spec, body, context)
    except WrongShape as exc:  # the server's Bundle is malformed where the check reads it
        return CheckResult(name, "failed", context.say("check.a_readable_bundle"), exc.said.get(context.lang))
    if not failures:
        return CheckResult(name, "passed")
    colon, semicolon = label("colon", context.lang), label("semicolon", context.lang)
    return CheckResult(name, "failed", semicolon.join(f"{what}{colon}{exp}" for what, exp, _ in failures),
                       semicolon.join(f"{what}{colon}{act}" for what, _, act in failures))


def _bundle_failures(spec: dict[str, Any], body: dict[str, Any], context: CheckContext) -> list[tuple[str, str, str]]:
    """(what, expected, actual) of each unmet part of a bundle check. Raises WrongShape where the Bundle's entries
    are not what FHIR makes them (a list of objects), when the check reads them."""
    failures: list[tuple[str, str, str]] = []
    if "type" in spec and body.get("type") != spec["type"]:
        failures.append(("Bundle.type", spec["type"], _shown(body.get("type"), context)))
    if "total" in spec:
        _count_check("Bundle.total", spec["total"], body.get("total"), failures, context)
    if not {"entries", "matches", "entry_types"} & spec.keys():
        return failures
    entries = objects(body, "entry", "Bundle")
    if "entries" in spec:
        _count_check(context.say("check.entries"), spec["entries"], len(entries), failures, context)
    if "matches" in spec:
        modes = [an_object(e, "search", f"Bundle.entry[{n}]").get("mode") for n, e in enumerate(entries)]
        _count_check(context.say("check.matches"), spec["matches"], modes.count("match"), failures, context)
    if "entry_types" in spec:
        found = sorted({a_string(an_object(e, "resource", f"Bundle.entry[{n}]"), "resourceType",
                                 f"Bundle.entry[{n}].resource") or "?" for n, e in enumerate(entries)})
        if any(t not in spec["entry_types"] for t in found):
            failures.append((context.say("check.entry_types"),
                             context.say("check.only", types=", ".join(spec["entry_types"])), ", ".join(found)))
    return failures


def _count_check(what: str, spec: int | dict[str, int], actual: Any, failures: list, context: CheckContext) -> None:
    if isinstance(spec, int):
        if not _is_integer(actual) or actual != spec:
            failures.append((what, str(spec), _shown(actual, context)))
        return
    low, high = spec.get("min"), spec.get("max")
    ok = _is_integer(actual) and (low is None or actual >= low) and (high is None or actual <= high)
    if not ok:
        bounds = context.say("check.and").join(filter(None, [f">= {low}" if low is not None else "",
                                                             f"<= {high}" if high is not None else ""]))
        failures.append((what, bounds, _shown(actual, context)))


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # JSON true is no count, though Python says 1


def _fhirpath(spec: str | dict[str, Any], context: CheckContext) -> CheckResult:
    expression = spec if isinstance(spec, str) else spec["expression"]
    op = None if isinstance(spec, str) else spec.get("op")
    expected_value = None if isinstance(spec, str) else spec.get("value")
    name = _fhirpath_name(spec, context)
    expected = _describe_expectation(op, expected_value, context)
    body, problem = context.exchange.resource  # on anything else, `X.all(…)` would hold of nothing
    if problem:
        return CheckResult(name, "failed", expected, problem)
    variables = fhirpath_variables(context.variables)
    try:
        result = evaluate(body, expression, variables)
    except FhirPathError as exc:  # (an unknown function, a type the answer's data does not fit): a check not made
        return CheckResult(name, "not_checked", expected, context.say("check.not_made", why=exc.text(context.lang)))
    verdict = _verdict(name, _compare(result, op, expected_value), expected, _shown(result, context))
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
    found = resource.get("id") or item.get("fullUrl")
    return found if isinstance(found, str) else None  # a server's id of the wrong type names nothing


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


def _describe_expectation(op: str | None, value: Any, context: CheckContext) -> str:
    if op is None:
        return "true"  # the FHIRPath value, as the result beside it is shown
    if op in {"exists", "empty"}:
        return context.say("check.not_empty" if op == "exists" else "check.empty")
    words = context.say(f"check.op.{op}") if f"check.op.{op}" in LABELS else op  # <, <=, >, >= as they are
    return f"{words} {_shown(value, context)}"


def _max_time(spec: float, context: CheckContext) -> CheckResult:
    actual = context.exchange.elapsed_ms
    return _verdict(context.say("check.response_time"), actual <= spec, f"<= {spec:g} ms", f"{actual:g} ms")


def _conforms_to(spec: str | list[str], context: CheckContext) -> CheckResult:
    profiles = spec if isinstance(spec, list) else [spec]
    name = _conforms_to_name(spec, context)
    no_error = context.say("check.no_error")
    if context.validator is None:
        why = context.validator_problem or context.say("check.no_validator")
        return CheckResult(name, "not_checked", context.say("check.no_error_from_validator"),
                           context.say("check.not_made", why=why))
    body, problem = context.exchange.resource  # a FHIR XML answer in its JSON form (the runner read it)
    if problem:
        return CheckResult(name, "failed", context.say("check.a_resource"), problem)
    result = context.validator.validate(body, profiles, context=context.package)
    # Errors first: must-support information on every resource would otherwise bury them.
    ranked = tuple(sorted(result.issues, key=lambda i: _SEVERITY_RANK.get(i.severity, 9)))
    unmade = [i for i in ranked if i.message_id in UNMADE_CHECKS]
    # "Profile not found" says what could not be checked, not what the server got wrong.
    errors = [i for i in ranked if i.severity in {"error", "fatal"} and i.message_id not in UNMADE_CHECKS]
    if errors:
        return CheckResult(name, "failed", no_error, context.say("check.errors", n=len(errors)), issues=ranked)
    if unmade:
        why = label("semicolon", context.lang).join(dict.fromkeys(i.text(context.lang) for i in unmade))
        return CheckResult(name, "not_checked", no_error, context.say("check.not_made", why=why), issues=ranked)
    return CheckResult(name, "passed", no_error, no_error, issues=ranked)


def _verdict(label: str, ok: bool, expected: str, actual: str) -> CheckResult:
    return CheckResult(label, "passed" if ok else "failed", expected, actual)


def _shown(value: Any, context: CheckContext) -> str:
    if value is None:
        return context.say("check.absent")
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (RecursionError, ValueError):  # nested too deeply, or an integer too long to print
        return context.say("check.too_deep")
    return text if len(text) <= 300 else text[:297] + "..."


def _bundle_name(spec: dict[str, Any], context: CheckContext) -> str:
    return "bundle " + ", ".join(sorted(spec))  # the test set's own keys


def _fhirpath_name(spec: str | dict[str, Any], context: CheckContext) -> str:
    return f"fhirpath {spec if isinstance(spec, str) else spec['expression']}"


def _conforms_to_name(spec: str | list[str], context: CheckContext) -> str:
    return context.say("check.conforms_to", profiles=", ".join(spec if isinstance(spec, list) else [spec]))


# The checks of an answer's content, by the name each gives itself; the others check its form.
_CONTENT_NAMES: dict[str, Callable[[Any, CheckContext], str]] = {
    "bundle": _bundle_name,
    "fhirpath": _fhirpath_name,
    "conforms_to": _conforms_to_name,
}
CONTENT_CHECKS = frozenset(_CONTENT_NAMES)

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
