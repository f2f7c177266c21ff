"""The core sets pass on conformant R4 servers that are not the sandbox: tests/support/other_engine.py makes the
other choices R4 allows (UUID ids, no body on create, 204 on delete, 404 on a deleted read, cursor paging,
charset in Content-Type; versioned or not), and by default answers /metadata with a searchset Bundle instead
of a CapabilityStatement, as some third-party engines do.

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
WITH_PRECONDITIONS = {tid for tid, test in CORE_TESTS.items() if test.preconditions}
# The engine's one non-conformance, on purpose: http.html#capabilities "Servers SHALL provide a Capability
# Statement"; its /metadata is a Bundle, and the test that checks it must say so.
NO_STATEMENT = {"CORE-FS-CAP-01": r"type de ressource : attendu CapabilityStatement, obtenu \"Bundle\""}
# SHOULD tests the engine fails by a choice R4 allows: "Systems that do not track deleted records will treat
# deleted records as an unknown resource" (http.html#read), so a deleted Patient reads as 404, not 410.
DELETED_IS_UNKNOWN = {"CORE-FS-CRUD-05": r"attendu 410, obtenu 404"}
# Unversioned, R4 allows it ("servers are allowed to not provide versioning support", http.html#versions): no
# ETag (a SHOULD "if versioning is supported") and If-Match ignored, so the SHOULD tests of both are advisory.
UNVERSIONED = {"CORE-FS-CRUD-06": r"attendu 412, obtenu 200",
               "CORE-FS-CRUD-07": r"en-tête ETag : attendu .*obtenu absent"}


@pytest.fixture
def engine() -> Iterator[OtherEngine]:
    other = OtherEngine().start()
    yield other
    other.stop()


def _core_run(pytester: pytest.Pytester, engine: OtherEngine, packages: Path, *extra: str):
    return _run(pytester, f"--mes-base-url={engine.base_url}", "--mes-component=core", "--mes-allow-writes",
                "--mes-packages", str(packages), "--mes-offline", "-p", "no:cacheprovider", *extra)


def _assert_verdicts(outcomes: dict[str, tuple[str, str]], expected: dict[str, str], evidence: dict[str, str]):
    verdicts = {tid: verdict for tid, (verdict, _) in outcomes.items()}
    assert verdicts == expected, {tid: outcomes[tid][1][-1500:] for tid in verdicts if verdicts[tid] != expected[tid]}
    for tid, pattern in evidence.items():
        assert re.search(pattern, outcomes[tid][1]), (tid, outcomes[tid][1][-1500:])


def test_core_sets_pass_on_an_engine_without_capability_statement(pytester: pytest.Pytester, engine: OtherEngine,
                                                                  fhir_packages_dir: Path):
    result, outcomes = _core_run(pytester, engine, fhir_packages_dir, "--mes-ignore-preconditions")
    expected = dict.fromkeys(CORE_TESTS, "passed") | dict.fromkeys(NO_STATEMENT, "failed") \
        | dict.fromkeys(DELETED_IS_UNKNOWN, "advisory")
    _assert_verdicts(outcomes, expected, NO_STATEMENT | DELETED_IS_UNKNOWN)
    assert all(CORE_TESTS[tid].level == "SHOULD" for tid in DELETED_IS_UNKNOWN)
    assert result.ret == 1  # CORE-FS-CAP-01
    # The tests wrote for real, and cleaned up: only the three seeded Patients are left.
    assert len(engine.resources) == 3


def test_without_ignore_preconditions_tests_with_preconditions_are_incomplete(
        pytester: pytest.Pytester, engine: OtherEngine, fhir_packages_dir: Path):
    result, outcomes = _core_run(pytester, engine, fhir_packages_dir)
    assert WITH_PRECONDITIONS, "the core sets have tests with preconditions"
    expected = dict.fromkeys(CORE_TESTS, "passed") | dict.fromkeys(NO_STATEMENT, "failed") \
        | dict.fromkeys(WITH_PRECONDITIONS, "incomplete")
    _assert_verdicts(outcomes, expected, NO_STATEMENT)
    assert all("précondition non vérifiable" in outcomes[tid][1] for tid in WITH_PRECONDITIONS)
    assert result.ret == 1


def test_core_sets_pass_on_an_unversioned_engine(pytester: pytest.Pytester, fhir_packages_dir: Path):
    """An unversioned engine with a CapabilityStatement that says so: no vread, so CORE-FS-CRUD-02 is skipped."""
    engine = OtherEngine(versioned=False, capability_statement=True).start()
    try:
        result, outcomes = _core_run(pytester, engine, fhir_packages_dir)
    finally:
        engine.stop()
    expected = dict.fromkeys(CORE_TESTS, "passed") | {"CORE-FS-CRUD-02": "skipped"} \
        | dict.fromkeys(DELETED_IS_UNKNOWN | UNVERSIONED, "advisory")
    _assert_verdicts(outcomes, expected, DELETED_IS_UNKNOWN | UNVERSIONED)
    assert "l'interaction 'vread' n'est pas déclarée pour Patient" in outcomes["CORE-FS-CRUD-02"][1]
    assert all(CORE_TESTS[tid].level == "SHOULD" for tid in DELETED_IS_UNKNOWN | UNVERSIONED)
    assert result.ret == 0  # advisory failures do not fail the run
