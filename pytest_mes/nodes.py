"""pytest nodes for test sets: one File per YAML set, one Item per test."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from pytest_mes.capabilities import missing
from pytest_mes.errors import MesError, TestSetError
from pytest_mes.failure import explain_step, explain_test
from pytest_mes.printable import printable
from pytest_mes.recording import describe_test, exchange_record, step_failure, step_record
from pytest_mes.report.labels import label
from pytest_mes.results import TestRecord
from pytest_mes.run import MesRun
from pytest_mes.shape import WrongShape
from pytest_mes.testset.loader import shown_path
from pytest_mes.testset.model import TestCase, TestSet, load_testset
from pytest_mes.testset.runner import StepResult


class SetSetupFailure:
    """The set-level setup failed. pytest reports it on every test of the set: in full once, then by name; each
    test's reason carries what failed (`reason`, one line)."""

    def __init__(self, reason: str, explanation: str, lang: str):
        self.reason = reason
        self.explanation = explanation
        self.lang = lang
        self.first_reported: str | None = None

    def raised(self) -> pytest.fail.Exception:
        """pytest's own failure, which its summary shows as it shows every other ('Failed: …'), carrying this."""
        text = label("set.setup_failed", self.lang).format(reason=self.reason)
        error = pytest.fail.Exception(printable(f"{text}\n{self.explanation}"), pytrace=False)
        error.mes_set_setup = self
        return error

    def see_first(self) -> str:
        """What the tests after the first say: what failed, and where the full explanation is."""
        return printable(label("set.setup_see", self.lang).format(reason=self.reason, nodeid=self.first_reported))


class TestSetFile(pytest.File):
    """A YAML test set. Its set-level setup runs once before its tests; its teardown always runs."""

    __test__ = False
    testset: TestSet
    variables: dict[str, Any]

    def __init__(self, *, run: MesRun, **kwargs: Any):
        super().__init__(**kwargs)
        self.run = run

    def collect(self):
        # Errors name the file as the user typed it, relative to where pytest was started.
        path = Path(self.path)
        self.testset = load_testset(path, shown_path(path, self.config.invocation_params.dir),
                                    catalogue=self.run.catalogue)
        for test in self.testset.tests:
            self._claim_id(test)
            yield MesItem.from_parent(self, name=test.id, test=test)

    def _claim_id(self, test: TestCase) -> None:
        """A test id names its test in every report, waiver and link of the acceptance file: one test per id in a
        run. A set checks its own ids; this finds one another set already gives (a bundled test copied)."""
        where = f"{self.testset.label}:{test.line}"
        first = self.run.test_ids.setdefault(test.id, where)
        if first != where:
            raise TestSetError(f"test id '{test.id}' is already given to the test at {first}: a test id must be "
                               "unique in a run (it names the test in reports and waivers)",
                               path=self.testset.label, line=test.line)

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, TestSetError):
            return str(excinfo.value)  # the user's mistake: file:line and what to do, no traceback
        return super().repr_failure(excinfo)

    def setup(self) -> None:
        testset, lang = self.testset, self.run.config.lang
        self.variables = {}
        writes = any(step.request.writes for step in (*testset.setup, *testset.teardown))
        if writes and not self.run.config.allow_writes:
            pytest.skip(label("skip.set_writes", lang))
        try:
            self.variables = self.run.runner.set_variables(testset)
        except MesError as exc:
            pytest.fail(label("set.variables_failed", lang).format(set=testset.id, file=testset.label,
                                                                    error=exc.text(lang)),
                        pytrace=False)
        if testset.teardown:
            self.addfinalizer(self._teardown)
        for result in self.run.runner.run_steps(testset.setup, self.variables):
            self.variables.update(result.saved)
            if result.failed:
                reason = self.run.recorder.mask(step_failure(result, lang))
                raise SetSetupFailure(reason, self._explain([result]), lang).raised()

    def _teardown(self) -> None:
        results = self.run.runner.run_steps(self.testset.teardown, self.variables, best_effort=True)
        failed, lang = [r for r in results if r.failed], self.run.config.lang
        if failed:
            reason = self.run.recorder.mask(label("semicolon", lang).join(step_failure(r, lang) for r in failed))
            text = f"{label('set.teardown_failed', lang).format(reason=reason)}\n{self._explain(failed)}"
            pytest.fail(printable(text), pytrace=False)

    def _explain(self, results: Iterable[StepResult]) -> str:
        """Set-level steps, told like a test's (redacted records, then text)."""
        texts, lang = [], self.run.config.lang
        for n, result in enumerate(results):
            exchange = None
            if result.exchange is not None:
                exchange = exchange_record(result.exchange, f"{self.testset.id}/{result.step.phase}{n}",
                                           self.run.recorder.mask, lang=lang)
            step = step_record(result, exchange and exchange.id, self.testset, with_source=True, lang=lang,
                               mask=self.run.recorder.mask)
            texts.append("\n".join(explain_step(step, exchange, file=self.testset.label, lang=lang)))
        return "\n\n".join(texts)


class MesItem(pytest.Item):
    """One test of a set: preconditions, steps, cleanup; a failure lists every failed check."""

    def __init__(self, *, test: TestCase, **kwargs: Any):
        super().__init__(**kwargs)
        self.test = test
        self.record: TestRecord | None = None  # the result of the test, once it ran
        self.setup_verdict = "error"  # what a failure of setup() means: 'incomplete' for a precondition
        self.mes_index = 0  # position in the collected items (set once collected), for reports in that order
        testset = self.parent.testset
        self.add_marker(testset.component)
        self.add_marker(test.level.lower())
        if test.actor:
            self.add_marker(test.actor.replace("-", "_"))
        if test.writes:
            self.add_marker("mes_writes")
        # Traceability in --junit-xml and other reporters: which requirement each test verifies.
        self.user_properties.append(("mes_set", testset.id))
        self.user_properties += [("mes_requirement", f"{r.ref} ({r.level})") for r in test.requirements]

    @property
    def testset(self) -> TestSet:
        return self.parent.testset

    @property
    def run(self) -> MesRun:
        return self.parent.run

    def setup(self) -> None:
        if self.test.writes and not self.run.config.allow_writes:
            pytest.skip(label("skip.writes", self.run.config.lang))
        if self.test.preconditions and not self.run.config.ignore_preconditions:
            self._check_preconditions()

    def _check_preconditions(self) -> None:
        statement, problem = self.run.capabilities()
        lang = self.run.config.lang
        if statement is None:
            self._not_verifiable(problem)
        for need in self.test.preconditions:
            try:
                reason, malformed = missing(statement, need), None
            except WrongShape as exc:
                reason, malformed = None, exc.said.get(lang)
            if malformed:  # said outside the except block, so that pytest shows no exception chain
                self._not_verifiable(label("metadata.malformed", lang).format(error=malformed))
            if reason:
                pytest.skip(printable(label("precondition.unmet", lang).format(need=need.describe(lang),
                                                                reason=reason.get(lang))))

    def _not_verifiable(self, problem: str) -> None:
        # Not a skip: the server escapes nothing by not describing itself (--mes-ignore-preconditions).
        self.setup_verdict = "incomplete"
        pytest.fail(printable(label("precondition.unverifiable", self.run.config.lang).format(problem=problem)),
                    pytrace=False)

    def describe(self, verdict: str, reason: str = "") -> TestRecord:
        return describe_test(self.test, self.testset, index=self.mes_index, nodeid=self.nodeid, verdict=verdict,
                             reason=reason)

    def runtest(self) -> None:
        result = self.run.runner.run_case(self.test, self.parent.variables)
        self.record = record = self.run.recorder.case(result, self.testset, self.describe("passed"))
        if record.verdict != "passed":
            pytest.fail(printable(explain_test(record, total=len(self.test.steps), lang=self.run.config.lang)),
                        pytrace=False)

    def reportinfo(self):
        return self.path, (self.test.line or 1) - 1, printable(f"{self.test.id}: {self.test.title.get()}")
