"""Run the steps of a test set against a server. No pytest here: the plugin and the CLI both drive it."""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from pytest_mes.client import Exchange, FhirClient, run_refusal
from pytest_mes.errors import MesError
from pytest_mes.fhirpath import evaluate
from pytest_mes.redaction import is_secret_name, is_secret_variable
from pytest_mes.report.labels import label
from pytest_mes.testset.checks import (
    CONTENT_CHECKS,
    CheckContext,
    CheckResult,
    ProfileValidator,
    fhirpath_variables,
    implicit_checks,
    not_made,
    run_check,
)
from pytest_mes.testset.missing_data import request_line, too_few_found, too_few_matches
from pytest_mes.testset.model import Check, Request, SaveRule, Step, TestCase, TestSet
from pytest_mes.testset.templating import Deferred, TemplateError, as_text, render

_ENV_REFERENCE = re.compile(r"\{\{\s*env\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# Returns (validator, None) or (None, why there is none); called only when a step needs it.
ValidatorProvider = Callable[[], tuple[ProfileValidator | None, str]]


@dataclass
class StepResult:
    step: Step
    exchange: Exchange | None = None
    checks: list[CheckResult] = field(default_factory=list)
    saved: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    skipped: str | None = None  # a cleanup step with nothing to clean
    no_data: str | None = None  # a step that needs data found none: the request, what is missing, what to do
    # The step could not run as written: the test set's fault, or the run's (refused credentials), not the server's.
    harness_error: bool = False

    @property
    def failed(self) -> bool:
        return self.error is not None or any(check.failed for check in self.checks)

    @property
    def not_checked(self) -> list[CheckResult]:
        return [check for check in self.checks if check.outcome == "not_checked"]


@dataclass
class CaseResult:
    test: TestCase
    steps: list[StepResult] = field(default_factory=list)
    cleanup: list[StepResult] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)  # as they stood at the end

    @property
    def failed_step(self) -> StepResult | None:
        return next((s for s in self.steps if s.failed), None)

    @property
    def failed_cleanup(self) -> StepResult | None:
        return next((s for s in self.cleanup if s.failed), None)

    @property
    def no_data_step(self) -> StepResult | None:
        return next((s for s in self.steps if s.no_data), None)

    @property
    def not_checked(self) -> list[CheckResult]:
        """The checks not made, but for those that waited for data the server lacks (`no_data_step` says it)."""
        return [check for step in self.steps if not step.no_data for check in step.not_checked]


class Runner:
    """Sends the requests of steps, evaluates their checks and carries saved values forward."""

    def __init__(self, client: FhirClient, validator: ValidatorProvider | None = None,
                 overrides: Mapping[str, Any] | None = None, lang: str = "fr"):
        self.client = client
        self.validator_provider = validator
        self.overrides = dict(overrides or {})
        self.lang = lang  # of the words checks add to what they found

    def set_variables(self, testset: TestSet) -> dict[str, Any]:
        """Variables of a set: built-ins, then the set's defaults (each may use the ones before), then overrides."""
        variables: dict[str, Any] = {"base_url": self.client.base_url.rstrip("/")}
        return self._layer(variables, testset.variables)

    def _layer(self, variables: dict[str, Any], defaults: Mapping[str, Any], *, defer: bool = False) -> dict[str, Any]:
        variables = dict(variables)
        for name, value in defaults.items():
            if name in self.overrides:
                variables[name] = self.overrides[name]
                continue
            try:
                variables[name] = render(value, variables)
            except TemplateError:
                if not defer:
                    raise
                variables[name] = Deferred(value)  # it uses a value the test's steps save: rendered where used
        for name, value in self.overrides.items():
            variables.setdefault(name, value)
        return variables

    def run_case(self, test: TestCase, set_variables: Mapping[str, Any]) -> CaseResult:
        """Run the steps of a test until one fails, then its cleanup, which always runs."""
        result = CaseResult(test)
        try:
            variables = self._layer(dict(set_variables), test.variables, defer=True)
        except MesError as exc:
            error = self._say("step.test_variables", error=exc.text(self.lang))
            result.steps.append(StepResult(test.steps[0], error=error, harness_error=True))
            return result
        result.variables = variables
        result.steps = self.run_steps(test.steps, variables)
        result.cleanup = self.run_steps(test.cleanup, variables, best_effort=True)
        return result

    def run_steps(self, steps: Iterable[Step], variables: dict[str, Any], *,
                  best_effort: bool = False) -> list[StepResult]:
        """Run steps in order; saved values go into `variables` for the steps after.

        Test steps stop at the first failure, or at a step that finds none of the data it needs. Cleanup and
        teardown (`best_effort`) run every step, and skip a step that names a value never saved: what it would
        delete was never created.
        """
        results = []
        for step in steps:
            outcome = self.run_step(step, variables, best_effort=best_effort)
            results.append(outcome)
            variables.update(outcome.saved)
            if (outcome.failed or outcome.no_data) and not best_effort:
                break
        return results

    def run_step(self, step: Step, variables: Mapping[str, Any], *, best_effort: bool = False) -> StepResult:
        result = StepResult(step)
        self._mask_secret_variables(variables)
        try:
            method, target, options = self._render_request(step.request, variables)
        except TemplateError as exc:
            if best_effort:
                result.skipped = self._say("step.nothing_to_clean", error=exc.text(self.lang))
            else:
                result.error, result.harness_error = self._say("step.unbuildable", error=exc.text(self.lang)), True
            return result
        except (MesError, OSError, ValueError, TypeError) as exc:
            result.error, result.harness_error = self._say("step.unbuildable", error=exc), True
            return result
        result.exchange = self.client.request(method, target, **options)
        self._read_xml(result.exchange)
        fault = _fault_of_the_run(step, result.exchange, self.lang)
        if fault:
            result.error, result.harness_error = fault, True
        context = self._context(step, result.exchange, variables)
        result.checks = implicit_checks(step.checks, context)
        empty = self._too_few_matches(step, result.exchange)
        inside, unmade = self._missing_inside(step, context) if not empty else (None, [])
        if not result.exchange.error:
            result.checks += [self._check(check, context, empty, inside) for check in step.checks] + unmade
        if result.failed:
            return result
        missing = empty or inside
        if missing:
            result.no_data = self._no_data(step, result.exchange, missing, variables)
        else:
            self._save(step.save, result, context.variables)
        return result

    def _read_xml(self, exchange: Exchange) -> None:
        """A FHIR XML answer is read once into its JSON form (with the R4 definitions of the validator's packages),
        so that every check, `needs_data` and `save` reads it as `conforms_to` does, rather than as JSON it is not."""
        if exchange.error or not exchange.content_type.endswith("xml") or not exchange.body.strip():
            return
        validator, _ = self.validator_provider() if self.validator_provider is not None else (None, "")
        if validator is None:
            return  # no definitions to read it with: said as not JSON, as before
        from pytest_mes.fhir.xml import parse_xml  # only when an answer is XML

        try:
            exchange.read_as(parse_xml(exchange.body, getattr(validator, "store", None)), None)
        except Exception as exc:  # the XML reader's own error type carries the line and the cause
            exchange.read_as(None, self._say("check.unreadable_xml", error=exc))

    def _too_few_matches(self, step: Step, exchange: Exchange) -> str | None:
        """What a step that needs data did not find, if its search matched too little to test anything."""
        if step.needs_data is None or exchange.error:
            return None
        return too_few_matches(exchange, self.client.base_url, self.lang, step.needs_data.min_matches)

    def _missing_inside(self, step: Step, context: CheckContext) -> tuple[str | None, list[CheckResult]]:
        """What a step that needs data did not find inside its matches (its `fhirpath` found too few values). When
        that FHIRPath cannot be evaluated on the answer, nothing says the checks had data to test: a check not
        made."""
        needs = step.needs_data
        if needs is None or needs.fhirpath is None or context.exchange.error:
            return None, []
        try:
            expression = str(render(needs.fhirpath, context.variables))
            return too_few_found(context.exchange, expression, fhirpath_variables(context.variables), self.lang,
                                 needs.min_found), []
        except MesError as exc:  # a FHIRPath that fails on this answer, a value never saved
            return None, [CheckResult(f"needs_data fhirpath {needs.fhirpath}", "not_checked",
                                      actual=context.say("check.not_made", why=exc.text(self.lang)),
                                      kind="needs_data")]

    def _check(self, check: Check, context: CheckContext, empty: str | None, inside: str | None) -> CheckResult:
        """A check of the step's answer, as far as its data allows. Too few matches: the answer's content is not
        checked. Matches lacking the data inside them: a content check is made on what is there, and fails on
        wrong data, but one that holds may hold of the missing data (an `.all(…)` over none): not made."""
        if check.kind not in CONTENT_CHECKS or not (empty or inside):
            return run_check(check, context)
        if not empty:
            made = run_check(check, context)
            if made.outcome != "passed":
                return made
        return not_made(check, context, self._say("no_data.none"))

    def _no_data(self, step: Step, exchange: Exchange, missing: str, variables: Mapping[str, Any]) -> str:
        advice = step.needs_data.advice.get(self.lang) if step.needs_data else ""
        with contextlib.suppress(TemplateError):  # a value not set (unsaved, unset env.X): shown as written
            advice = str(render(advice, variables))
        return self._say("step.no_data", request=request_line(exchange, self.client.base_url), missing=missing,
                         advice=advice)

    def _context(self, step: Step, exchange: Exchange, variables: Mapping[str, Any]) -> CheckContext:
        validator, problem = None, ""  # no provider: the check says no validator is loaded
        if self.validator_provider is not None and any(check.kind == "conforms_to" for check in step.checks):
            validator, problem = self.validator_provider()
        return CheckContext(exchange, dict(variables), validator, problem, step.package, self.lang)

    def _render_request(self, request: Request, variables: Mapping[str, Any]) -> tuple[str, str, dict[str, Any]]:
        self._mask_secret_environment(request)
        if request.url is not None:
            # An absolute URL, or one relative to the server's root such as a Location header's '/fhir/X/1'.
            target = urljoin(self.client.base_url, str(render(request.url, variables)))
        else:
            target = render(request.path or "", variables)
        params = [(render(name, variables), as_text(render(value, variables))) for name, value in request.params]
        headers = {name: as_text(render(value, variables)) for name, value in request.headers}
        if request.accept:
            headers["Accept"] = render(request.accept, variables)
        body, content_type = self._body(request, variables)
        return request.method, str(target), {"params": params or None, "headers": headers, "body": body,
                                             "content_type": content_type}

    def _mask_secret_variables(self, variables: Mapping[str, Any]) -> None:
        """The value of a credential-like variable (a db_password default or --mes-var, a session_token saved from an
        answer) is masked wherever the step puts it: a query, a header of any name, a body, a check's expression."""
        for name, value in variables.items():
            if is_secret_variable(name) and isinstance(value, str | int | float) and not isinstance(value, bool):
                self.client.redactor.add(str(value))

    def _mask_secret_environment(self, request: Request) -> None:
        """A {{env.API_TOKEN}} in a request is a secret: keep its value out of what is shown."""
        for name in _ENV_REFERENCE.findall(repr(request)):
            if is_secret_name(name) and os.environ.get(name):
                self.client.redactor.add(os.environ[name])

    def _body(self, request: Request, variables: Mapping[str, Any]) -> tuple[Any, str | None]:
        content_type = render(request.content_type, variables) if request.content_type else None
        if request.body_file is None:
            return render(request.body, variables), content_type
        text = request.body_file.read_text(encoding="utf-8-sig")  # a BOM (Windows editors) is no part of the body
        suffix = request.body_file.suffix.lower()
        if suffix == ".json":
            return render(json.loads(text), variables), content_type or "application/fhir+json"
        default = "application/fhir+xml" if suffix == ".xml" else "text/plain"
        return render(text, variables), content_type or default

    def _save(self, rules: tuple[SaveRule, ...], result: StepResult, variables: dict[str, Any]) -> None:
        exchange = result.exchange
        for rule in rules:
            try:
                # In order: a rule may use the values saved before it (%location in a FHIRPath).
                result.saved[rule.name] = _extract(rule, exchange, {**variables, **result.saved}, self.lang)
            except (MesError, ValueError) as exc:
                error = exc.text(self.lang) if isinstance(exc, MesError) else exc
                said = self._say("step.save", name=rule.name, error=error)
                if isinstance(exc, _FoundNothing) and result.step.needs_data:
                    result.no_data = self._no_data(result.step, exchange, said, {**variables, **result.saved})
                else:
                    result.error = said
                return

    def _say(self, key: str, **values: Any) -> str:
        """What the runner says about a step, in the run's language."""
        return label(key, self.lang).format(**values)


class _FoundNothing(ValueError):
    """A save rule's FHIRPath found nothing in an answer it could read."""


def _fault_of_the_run(step: Step, exchange: Exchange, lang: str) -> str | None:
    """Why the run, not the server, kept the step from being checked, if it did: nothing is then learnt about the
    server's conformance. An answer over the size cap was not read; an answer that refuses the run's credentials or
    its pace, when the step does not expect that refusal (a step that tests it checks its status), tested nothing
    else."""
    if exchange.over_cap:
        return exchange.error
    refusal = run_refusal(exchange, lang)
    expected = [c.spec for c in step.checks if c.kind == "status"]
    if refusal is None or any(exchange.status in (spec if isinstance(spec, list) else [spec]) for spec in expected):
        return None
    return refusal


def _extract(rule: SaveRule, exchange: Exchange, variables: dict[str, Any], lang: str) -> Any:
    if rule.source == "status":
        return exchange.status
    if rule.source == "header":
        value = exchange.header(rule.expression)
        if value is None:
            raise ValueError(label("step.no_header", lang).format(name=rule.expression))
        return value
    expression = str(render(rule.expression, variables))  # a parametrized test may build it from its case
    body, problem = exchange.resource
    if problem and not expression.lstrip().startswith("%"):  # on variables alone: no body needed
        raise ValueError(problem)
    values = evaluate(body if body is not None else {}, expression, fhirpath_variables(variables))
    if not values:
        raise _FoundNothing(label("step.found_nothing", lang).format(expression=repr(expression)))
    return values[0] if len(values) == 1 else values
