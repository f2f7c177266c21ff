"""pytest nodes for test sets: one File per YAML set, one Item per test."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import pytest

from pytest_mes.capabilities import missing
from pytest_mes.errors import MesError, TestSetError
from pytest_mes.failure import explain_step
from pytest_mes.run import MesRun
from pytest_mes.testset.model import TestCase, TestSet, load_testset
from pytest_mes.testset.runner import CaseResult

WRITES_SKIP = ("writes data on the server (modifie des données sur le serveur): "
               "rerun with --mes-allow-writes on a test server")


class MesNotCheckedWarning(UserWarning):
    """A check of a test could not be made (for example no validator): the test proves less than it says."""


class SetSetupFailed(pytest.fail.Exception):
    """The set-level setup failed. pytest reports it on every test of the set: in full once, then by name."""

    def __init__(self, message: str):
        super().__init__(message, pytrace=False)
        self.first_reported: str | None = None


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
        self.testset = load_testset(path, os.path.relpath(path, self.config.invocation_params.dir),
                                    catalogue=self.run.catalogue)
        for test in self.testset.tests:
            yield MesItem.from_parent(self, name=test.id, test=test)

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, TestSetError):
            return str(excinfo.value)  # the user's mistake: file:line and what to do, no traceback
        return super().repr_failure(excinfo)

    def setup(self) -> None:
        testset = self.testset
        self.variables = {}
        writes = any(step.request.writes for step in (*testset.setup, *testset.teardown))
        if writes and not self.run.config.allow_writes:
            pytest.skip(f"set setup/teardown {WRITES_SKIP}")
        try:
            self.variables = self.run.runner.set_variables(testset)
        except MesError as exc:
            pytest.fail(f"the variables of set {testset.id} ({testset.label}): {exc}", pytrace=False)
        if testset.teardown:
            self.addfinalizer(self._teardown)
        for result in self.run.runner.run_steps(testset.setup, self.variables):
            self.variables.update(result.saved)
            if result.failed:
                raise SetSetupFailed("set setup failed, so its tests cannot run:\n"
                                     + explain_step(testset, result, variables=self.variables))

    def _teardown(self) -> None:
        results = self.run.runner.run_steps(self.testset.teardown, self.variables, best_effort=True)
        failed = [r for r in results if r.failed]
        if failed:
            pytest.fail("set teardown failed (data may be left on the server):\n"
                        + "\n\n".join(explain_step(self.testset, r) for r in failed), pytrace=False)


class MesItem(pytest.Item):
    """One test of a set: preconditions, steps, cleanup; a failure lists every failed check."""

    def __init__(self, *, test: TestCase, **kwargs: Any):
        super().__init__(**kwargs)
        self.test = test
        self.result: CaseResult | None = None
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
            pytest.skip(WRITES_SKIP)
        if self.test.preconditions:
            self._check_preconditions()

    def _check_preconditions(self) -> None:
        statement, problem = self.run.capabilities()
        if statement is None:
            pytest.skip(f"precondition not verifiable (précondition non vérifiable): {problem}")
        for need in self.test.preconditions:
            reason = missing(statement, need)
            if reason:
                pytest.skip(f"precondition not met (précondition non remplie): the server's CapabilityStatement "
                            f"does not declare {need.describe()} — {reason}")

    def runtest(self) -> None:
        self.result = result = self.run.runner.run_case(self.test, self.parent.variables)
        failed = result.failed_step
        problems = []
        if failed is not None:
            problems.append(explain_step(self.testset, failed, test=self.test, total=len(self.test.steps),
                                         variables=result.variables))
        if result.failed_cleanup is not None:
            problems.append("cleanup failed (data may be left on the server):\n"
                            + explain_step(self.testset, result.failed_cleanup))
        not_checked = result.not_checked
        if not_checked and self.run.config.strict:
            problems.append("checks not made, and --mes-strict is on:\n"
                            + "\n".join(f"  ? {c.label}: {c.actual}" for c in not_checked))
        if problems:
            pytest.fail("\n\n".join(problems), pytrace=False)
        for check in not_checked:
            warnings.warn(MesNotCheckedWarning(f"{self.test.id}: {check.label}: {check.actual}"), stacklevel=1)

    def reportinfo(self):
        return self.path, (self.test.line or 1) - 1, f"{self.test.id}: {self.test.title.get()}"
