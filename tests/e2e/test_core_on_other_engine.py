"""The core sets pass on a conformant R4 server that is not the sandbox: tests/support/other_engine.py makes the
other choices R4 allows (UUID ids, no body on create, 204 on delete, 404 on a deleted read, cursor paging,
charset in Content-Type) and answers /metadata with a searchset Bundle instead of a CapabilityStatement.

Run as a publisher would, in a pytest subprocess, reading the verdicts from --mes-report-json.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_mes.resources import bundled_dir
from pytest_mes.testset.model import load_testset
from tests.e2e.test_bundled_sets import _run
from tests.support.other_engine import OtherEngine

CORE_TESTS = {test.id: test for path in sorted(bundled_dir("testsets").joinpath("core").glob("*.yaml"))
              for test in load_testset(path).tests}
# The engine's one non-conformance, on purpose: http.html#capabilities "Servers SHALL provide a Capability
# Statement"; its /metadata is a Bundle, and the test that checks it must say so.
EXPECTED_FAILURES = {"CORE-FS-CAP-01": r"resource type \(line \d+\): expected CapabilityStatement, got \"Bundle\""}
# SHOULD tests the engine fails by a choice R4 allows: "Systems that do not track deleted records will treat
# deleted records as an unknown resource" (http.html#read), so a deleted Patient reads as 404, not 410.
EXPECTED_ADVISORY = {"CORE-FS-CRUD-05": r"expected 410, got 404"}


@pytest.fixture
def engine() -> Iterator[OtherEngine]:
    other = OtherEngine().start()
    yield other
    other.stop()


def _core_run(pytester: pytest.Pytester, engine: OtherEngine, packages: Path, *extra: str):
    return _run(pytester, f"--mes-base-url={engine.base_url}", "--mes-component=core", "--mes-allow-writes",
                "--mes-packages", str(packages), "--mes-offline", "-p", "no:cacheprovider", *extra)


def test_core_sets_pass_on_another_conformant_engine(pytester: pytest.Pytester, engine: OtherEngine,
                                                     fhir_packages_dir: Path):
    result, outcomes = _core_run(pytester, engine, fhir_packages_dir, "--mes-ignore-preconditions")
    assert set(outcomes) == set(CORE_TESTS), result.stdout.str()[-3000:]
    expected = {tid: "passed" for tid in CORE_TESTS} | dict.fromkeys(EXPECTED_FAILURES, "failed") \
        | dict.fromkeys(EXPECTED_ADVISORY, "advisory")
    verdicts = {tid: verdict for tid, (verdict, _) in outcomes.items()}
    assert verdicts == expected, {tid: outcomes[tid][1][-1500:] for tid in verdicts if verdicts[tid] != expected[tid]}
    for tid, evidence in (EXPECTED_FAILURES | EXPECTED_ADVISORY).items():
        assert re.search(evidence, outcomes[tid][1]), (tid, outcomes[tid][1][-1500:])
    assert all(CORE_TESTS[tid].level == "SHOULD" for tid in EXPECTED_ADVISORY)
    # The engine was really written to: the Patients the tests created are gone again (their cleanup ran).
    assert len(engine.store.versions) == 3


def test_without_ignore_preconditions_tests_with_preconditions_are_incomplete(
        pytester: pytest.Pytester, engine: OtherEngine, fhir_packages_dir: Path):
    result, outcomes = _core_run(pytester, engine, fhir_packages_dir)
    with_preconditions = {tid for tid, test in CORE_TESTS.items() if test.preconditions}
    assert with_preconditions, "the core sets have tests with preconditions"
    verdicts = {tid: verdict for tid, (verdict, _) in outcomes.items()}
    assert {tid: verdicts.get(tid) for tid in with_preconditions} == dict.fromkeys(with_preconditions, "incomplete")
    assert all("précondition non vérifiable" in outcomes[tid][1] for tid in with_preconditions)
    # The tests without preconditions ran as with the option: none escapes by the server not describing itself.
    others = {tid: verdicts[tid] for tid in CORE_TESTS if tid not in with_preconditions}
    assert others == {tid: "failed" if tid in EXPECTED_FAILURES else "passed" for tid in others}
    assert result.ret == 1
