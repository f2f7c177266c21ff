"""The bundled test sets (testsets/core, gap, pdsm): they load, their ids are unique, they pass against the
reference sandbox, and each named sandbox defect is caught by the tests that claim to catch it.

The end-to-end runs start pytest in a subprocess (pytester), exactly as a publisher would run it:
`pytest --mes-sandbox`. They are skipped, with the reason, when the sandbox cannot be imported.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import pytest

from pytest_mes.coverage import coverage_matrix, load_testsets, with_readme_table
from pytest_mes.failure import explain_test
from pytest_mes.resources import bundled_dir
from pytest_mes.results import record_from_dict
from pytest_mes.testset.loader import find_testset_files
from pytest_mes.testset.model import TestCase, TestSet, load_testset

try:
    from pytest_mes import sandbox as _sandbox
except ImportError as exc:  # the reference server is an optional part of a build
    _sandbox = None
    _SANDBOX_PROBLEM = f"pytest_mes.sandbox cannot be imported ({exc}): the end-to-end runs need it"
else:
    _SANDBOX_PROBLEM = ""

DEFECTS: dict[str, str] = dict(getattr(_sandbox, "DEFECTS", {}))
needs_sandbox = pytest.mark.skipif(_sandbox is None, reason=_SANDBOX_PROBLEM or "sandbox available")

TESTSETS = bundled_dir("testsets")
SET_FILES = list(find_testset_files([TESTSETS]))
TEST_ID = re.compile(r"^(CORE|GAP|PDSM)-[A-Z]{2,4}-[A-Z0-9]{2,8}-\d{2}(\[[A-Za-z0-9._-]+\])?$")

# defect name -> ids of the bundled tests that must fail when the sandbox runs with that defect.
# Each entry names the tests whose requirement the defect breaks; checks based on FHIRPath, status and
# headers are chosen so that the defect is caught even without the profile validator. SHOULD behaviour
# (ETag, OperationOutcome on errors, Prefer: return=representation) is caught by SHOULD tests only.
DEFECT_CATCHERS: dict[str, list[str]] = {
    "create-returns-200": ["CORE-FS-CRUD-01", "GAP-GR-RES-01", "PDSM-GP-ITI105-01"],
    # Without Location the GAP agenda sets cannot even set up (their ids come from it): their tests error.
    "no-location-header": ["CORE-FS-CRUD-01", "GAP-GR-RES-01", "GAP-GR-RES-04", "PDSM-GP-ITI105-01"],
    "non-fhir-content-type": ["CORE-FS-CAP-01", "CORE-FS-SEARCH-01", "GAP-GA-SLOT-01", "PDSM-GP-ITI67-01"],
    "no-etag": ["CORE-FS-CRUD-07"],
    "deleted-read-404": ["CORE-FS-CRUD-05"],
    "error-without-outcome": ["CORE-FS-READ-02", "CORE-FS-ERR-05", "PDSM-GP-ITI65-03"],
    "patch-any-field": ["PDSM-GP-PATCH-02"],
    "binary-ignores-accept": ["PDSM-GP-ITI68-03"],
    "conditional-update-duplicates": ["GAP-GA-APPT-02"],
    "ignore-slot-status": ["GAP-GA-SLOT-03"],
    "date-prefix-ignored": ["GAP-GA-APPT-04"],
    "chain-ignored": ["GAP-GA-SLOT-05", "GAP-GA-APPT-03"],
    "ignore-include": ["GAP-GA-SLOT-04", "GAP-GA-SLOT-05"],
    "patient-identifier-ignored": ["PDSM-GP-ITI67-03", "PDSM-GP-ITI67-05"],
    "wrong-bundle-type": ["CORE-FS-SEARCH-01", "GAP-GA-SLOT-01", "PDSM-GP-ITI67-01", "PDSM-GP-ITI66-01"],
    "missing-total": ["CORE-FS-SEARCH-03", "PDSM-GP-ITI67-01", "PDSM-GP-ITI66-01", "PDSM-GP-ITI66-02"],
    "include-as-match": ["GAP-GA-SLOT-01", "GAP-GA-SLOT-04"],
    "no-next-link": ["CORE-FS-SEARCH-02"],
    "transaction-response-reversed": ["PDSM-GP-ITI65-01"],
    "non-atomic-transaction": ["PDSM-GP-ITI65-03"],
    "transaction-no-location": ["PDSM-GP-ITI65-01", "PDSM-GP-ITI65-02"],
    "slot-without-end": ["GAP-GA-SLOT-06"],
    "specialty-wrong-system": ["GAP-GA-SLOT-05", "GAP-GA-SLOT-06", "GAP-GR-RES-05"],
    "docref-without-masterid": ["PDSM-GP-ITI65-02", "PDSM-GP-DOCREF-01", "PDSM-GP-ITI67-04"],
    "capability-without-slot-search": ["GAP-GA-CAP-01"],
    "appointment-params-ignored": ["GAP-GA-APPT-06[priority-other]", "GAP-GA-APPT-06[description-inside]",
                                   "GAP-GA-APPT-06[created-gt]", "GAP-GA-APPT-06[date-eq-next-day]",
                                   "GAP-GA-APPT-06[service-type-other]", "GAP-GA-APPT-06[supporting-info-other]",
                                   "GAP-GA-APPT-06[actor-other]"],
    "slot-identifier-ignored": ["GAP-GA-SLOT-07[other-value]"],
    "docref-params-ignored": ["PDSM-GP-ITI67-06[type-other]", "PDSM-GP-ITI67-06[category-other]",
                              "PDSM-GP-ITI67-06[setting-other]", "PDSM-GP-ITI67-06[creation-gt-day]",
                              "PDSM-GP-ITI67-06[security-label-other]", "PDSM-GP-ITI67-06[isArchived-true]",
                              "PDSM-GP-ITI67-06[period-start-gt-at]", "PDSM-GP-ITI67-06[period-end-lt-at]",
                              "PDSM-GP-ITI67-06[period-ge-after-end]", "PDSM-GP-ITI67-06[format-other]",
                              "PDSM-GP-ITI67-06[event-other]", "PDSM-GP-ITI67-06[relatesto-none]",
                              "PDSM-GP-ITI67-06[subject-other]", "PDSM-GP-ITI67-06[author-family-other]",
                              "PDSM-GP-ITI65-05"],
    "list-params-ignored": ["PDSM-GP-ITI66-03[date-lt-day]", "PDSM-GP-ITI66-03[designationType-other]",
                            "PDSM-GP-ITI66-03[isArchived-true]", "PDSM-GP-ITI66-03[title-inside]",
                            "PDSM-GP-ITI66-03[sourceId-other]", "PDSM-GP-ITI66-03[source-patient]",
                            "PDSM-GP-ITI66-03[authorOrg-other]"],
    "string-matches-anywhere": ["GAP-GA-APPT-06[description-inside]", "GAP-GA-APPT-06[description-exact-case]",
                                "PDSM-GP-ITI66-03[title-inside]"],
    "date-bound-inclusive": ["GAP-GA-APPT-06[date-gt-at]", "GAP-GA-APPT-06[date-lt-at]",
                             "PDSM-GP-ITI67-06[period-start-gt-at]", "PDSM-GP-ITI67-06[period-start-lt-at]",
                             "PDSM-GP-ITI67-06[period-end-lt-at]"],
    "update-ignored": ["GAP-GA-APPT-07", "GAP-GR-RES-07[Patient]", "GAP-GR-RES-07[Device]"],
    "update-id-mismatch-accepted": ["CORE-FS-ERR-04", "GAP-GR-RES-06[Patient]", "GAP-GR-RES-06[Device]"],
    "resource-writes-refused": ["GAP-GR-RES-06[RelatedPerson]", "GAP-GR-RES-06[HealthcareService]",
                                "GAP-GR-RES-06[Device]"],
    "list-read-refused": ["PDSM-GP-ITI66-04"],
    "docref-conditional-update-refused": ["PDSM-GP-PATCH-03"],
    "replacement-keeps-current": ["PDSM-GP-ITI65-05"],
}

# defect name -> bundled tests that cannot tell it from a server without test data: their read-only search needs
# data (`needs_data`), and the defect empties its answer, as an agenda with no slot in the window would. They must
# be incomplete, saying that no data was found — never passed; the catchers above, which create their own data,
# fail.
DEFECT_LOOKS_LIKE_NO_DATA: dict[str, list[str]] = {
    "date-prefix-ignored": ["GAP-GA-SLOT-02"],  # start=ge…&start=le… read as equalities: nothing in the window
}

# defect name -> a regular expression the failure text of each of its catching tests must contain: the
# failed check that shows the defect (so a test failing for another reason does not count as a catch).
DEFECT_EVIDENCE: dict[str, str] = {
    "create-returns-200": r"status \(line \d+\): expected 201, got 200",
    "no-location-header": r"header Location \(line \d+\): expected .*got absent",
    "non-fhir-content-type": r"content type \(line \d+\): expected application/fhir\+json, got text/plain",
    "no-etag": r"header ETag \(line \d+\): expected .*got absent",
    "deleted-read-404": r"expected 410, got 404",
    "error-without-outcome": r"resource type \(line \d+\): expected OperationOutcome, got",
    "patch-any-field": r"expected 405, got 200",
    "binary-ignores-accept": r"expected 406, got 200",
    "conditional-update-duplicates": r"expected 200, got 201",
    "ignore-slot-status": r"all\(status = 'free'\)",
    "date-prefix-ignored": r"search\.mode = match: >= 1, got entries with search\.mode = match: 0"
                           r"|\.id contains %appointment_id",
    "chain-ignored": r"code = %chain_code|endsWith\('Patient/' \+ %patient_id\)",
    "ignore-include": r"search\.mode = 'include'",
    "patient-identifier-ignored": r"expected Bundle\.total: 0|subject\.reference\.endsWith\('Patient/'",
    "wrong-bundle-type": r'expected Bundle\.type: searchset, got Bundle\.type: "collection"',
    "missing-total": r"got Bundle\.total: absent",
    "include-as-match": r"search\.mode = 'match'\)\.all\(resource is Slot\)|all\(search\.mode = 'include'\)",
    "no-next-link": r"relation = 'next'",
    "transaction-response-reversed": r"contains\('List/'\)",
    "non-atomic-transaction": r"expected entries with search\.mode = match: 0, got",
    "transaction-no-location": r"response\.location",
    "slot-without-end": r"end\.exists\(\)",
    "specialty-wrong-system": r"%specialty_system|search\.mode = match: >= 1, got entries with search\.mode = match: 0",
    "docref-without-masterid": r"masterIdentifier",
    "capability-without-slot-search": r"code = 'search-type'",
    "appointment-params-ignored": r"contains %appointment_id \(line \d+\): expected equals false, got \[true\]",
    "slot-identifier-ignored": r"contains %slot_id \(line \d+\): expected equals false, got \[true\]",
    "docref-params-ignored": r"contains %docref_id \(line \d+\): expected equals false, got \[true\]"
                             r"|expected entries with search\.mode = match: [01], got",
    "list-params-ignored": r"contains \('urn:uuid:' \+ %submission_uuid\) \(line \d+\): expected equals false, "
                           r"got \[true\]",
    "string-matches-anywhere": r"expected equals false, got \[true\]",
    "date-bound-inclusive": r"expected equals false, got \[true\]",
    "update-ignored": r"Appointment\.status = 'booked' and Appointment\.priority = 3"
                      r"|Patient\.telecom\.where\(system = 'phone'\)|Device\.status = 'inactive'",
    "update-id-mismatch-accepted": r"status \(line \d+\): expected 400, got 20[01]",
    "resource-writes-refused": r"status \(line \d+\): expected 201, got 405",
    "list-read-refused": r"status \(line \d+\): expected 200, got 405",
    "docref-conditional-update-refused": r"status \(line \d+\): expected 200, got 405",
    "replacement-keeps-current": r"status = 'superseded'",
}

# test id -> a fragment of its expected skip reason in the run against the sandbox with the FHIR packages.
# Empty: with the packages the sandbox offers everything the sets test, so any skip is a regression.
EXPECTED_SKIPS: dict[str, str] = {}
# test id -> why it is incomplete with ../shared/fhir-packages, which miss dependencies of the IGs (never a pass):
# PDSm's identifiers are typed with IHE MHD profiles and List.code is bound to an MHD ValueSet (ihe.iti.mhd);
# practitioner specialties are bound (required) to a ValueSet over NOS's TRE_R38 CodeSystem (ans.fr.nos).
EXPECTED_INCOMPLETE: dict[str, str] = {
    **{tid: "IHE.MHD" for tid in ("PDSM-GP-ITI67-01", "PDSM-GP-DOCREF-01", "PDSM-GP-XML-01", "PDSM-GP-ITI65-02")},
    **{tid: "MHDlistTypesVS" for tid in ("PDSM-GP-ITI66-01", "PDSM-GP-ITI66-04")},
    **{tid: "TRE-R38-SpecialiteOrdinale" for tid in (
        "GAP-GA-APPT-01", "GAP-GA-APPT-03", "GAP-GA-APPT-07", "GAP-GA-SCHED-05", "GAP-GA-SLOT-01", "GAP-GA-SLOT-06")},
}


@cache
def _bundled_sets() -> list[tuple[Path, TestSet]]:
    """Each bundled set, loaded once for the tests of this module that read them all."""
    return [(path, load_testset(path)) for path in SET_FILES]


def _all_tests() -> list[tuple[Path, TestCase]]:
    return [(path, test) for path, testset in _bundled_sets() for test in testset.tests]


def _run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, tuple[str, str]]]:
    """Run pytest in a subprocess; return the result and test id -> (verdict, text) from its JSON results.

    The text is the reason of the verdict and, for a test that did not pass, its explanation as the terminal
    shows it (rendered from the same record).
    """
    report = pytester.path / "results.json"
    # hypothesis's pytest plugin, when installed, costs over a second of import per run: not needed here.
    result = pytester.runpytest_subprocess(*args, "-p", "no:hypothesispytest", f"--mes-report-json={report}",
                                           "--mes-report=", timeout=600)
    outcomes: dict[str, tuple[str, str]] = {}
    if report.is_file():
        document = json.loads(report.read_text(encoding="utf-8"))
        # The report's verdicts are the terminal's: the same counts, read from pytest's last line.
        terminal = {"errors" if k == "error" else k: v for k, v in document["summary"]["counts"].items() if v}
        shown = {k: v for k, v in result.parseoutcomes().items() if k not in ("deselected", "warnings")}
        assert shown == terminal, (shown, terminal)
        for data in document["tests"]:
            record = record_from_dict(data)
            text = record.reason
            if record.verdict != "passed":
                text += "\n" + explain_test(record, total=len(record.steps), lang="en")  # the evidence regexes
            outcomes[record.id] = (record.verdict, text)
    return result, outcomes


# 1. The sets load, and their ids are unique and well formed.


def test_there_are_bundled_sets_for_every_component():
    components = {testset.component for _, testset in _bundled_sets()}
    assert components == {"core", "gap", "pdsm"}
    assert 150 <= len(_all_tests()) <= 200


@pytest.fixture(scope="module")
def matrix(catalogue) -> dict:
    """The coverage matrix of the bundled sets, built once for the tests that read it."""
    return coverage_matrix(load_testsets([TESTSETS], catalogue), catalogue)


def test_every_server_requirement_is_covered_by_a_test(catalogue, matrix):
    """Each interaction, search parameter and conditional interaction of the IGs' server CapabilityStatements
    (read from the packages) is named by at least one bundled test."""
    assert not catalogue.missing
    assert not matrix["uncovered"]["items"], "server requirements without a test: " + "; ".join(
        matrix["uncovered"]["items"])
    assert matrix["summary"]["items"] >= 80


def test_the_readme_coverage_table_is_up_to_date(matrix):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert with_readme_table(readme, matrix) == readme, (
        "the coverage table in README.md is stale: run "
        "MES_FHIR_PACKAGES=../shared/fhir-packages python scripts/update_readme_coverage.py")


@pytest.mark.parametrize("path", SET_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_bundled_set_loads(path: Path):
    testset = load_testset(path)  # schema, FHIRPath syntax, body files: raises with file:line
    assert testset.tests
    for test in testset.tests:
        assert TEST_ID.match(test.id), f"{path.name}: {test.id} is not COMPONENT-ACTOR-AREA-NN"
        assert test.id.split("-")[0].lower() == testset.component, f"{test.id} is not in a {testset.component} set"
        assert all(r.url for r in test.requirements), f"{test.id}: every requirement names its source URL"
        assert test.title.en, f"{test.id}: an English title is given next to the French one"


def test_test_ids_are_unique_across_all_sets():
    seen: dict[str, Path] = {}
    for path, test in _all_tests():
        assert test.id not in seen, f"{test.id} is used in {seen[test.id].name} and {path.name}"
        seen[test.id] = path
    set_ids = [testset.id for _, testset in _bundled_sets()]
    assert len(set_ids) == len(set(set_ids))


# 2. Against the reference sandbox every bundled test passes or is skipped with its reason.


@needs_sandbox
def test_bundled_sets_pass_against_the_sandbox(pytester: pytest.Pytester, fhir_packages_dir: Path):
    # With the packages: the sandbox then offers FHIR XML (a SHALL of PDSm ITI-65, PDSM-GP-ITI65-04) and the
    # conforms_to checks are made. Without them the fixture skips this test, saying where to put them.
    result, outcomes = _run(pytester, "--mes-sandbox", "-p", "no:cacheprovider",
                            "--mes-packages", str(fhir_packages_dir))
    expected = {test.id for _, test in _all_tests()}
    assert set(outcomes) == expected, result.stdout.str()[-3000:]
    incomplete = {tid: text for tid, (verdict, text) in outcomes.items() if verdict == "incomplete"}
    unexplained = {tid: text for tid, text in incomplete.items()
                   if tid not in EXPECTED_INCOMPLETE or EXPECTED_INCOMPLETE[tid] not in text}
    assert not unexplained, f"incomplete for a reason that is not an expected one: {unexplained}"
    bad = {tid: o for tid, o in outcomes.items() if o[0] not in ("passed", "skipped", "incomplete")}
    assert not bad, result.stdout.str()[-6000:]
    skipped = {tid: reason for tid, (o, reason) in outcomes.items() if o == "skipped"}
    unexpected = {tid: reason for tid, reason in skipped.items()
                  if tid not in EXPECTED_SKIPS or EXPECTED_SKIPS[tid] not in reason}
    assert not unexpected, f"skipped for a reason that is not an expected one: {unexpected}"
    # Incomplete is never a pass: the verdict says so, and so does the exit status.
    assert result.ret == (1 if incomplete else 0)
    result.stdout.fnmatch_lines(["Verdict global : INCOMPLET" if incomplete else "Verdict global : CONFORME"])
    # A stated limit (MIME types, which no package enumerates, in the CapabilityStatement's formats) is said
    # after the verdict, with the tests where it happened, though CORE-FS-CAP-01 passed.
    assert outcomes["CORE-FS-CAP-01"][0] == "passed"
    result.stdout.fnmatch_lines(["Codes non vérifiés — limite déclarée, sans effet sur le verdict* code(s) dans * "
                                 "test(s)):",
                                 "  CORE-FS-CAP-01,*"])
    # The report's coverage of the IGs' server requirements (the CapabilityStatements, loaded on first use).
    coverage = json.loads((pytester.path / "results.json").read_text(encoding="utf-8"))["coverage"]
    assert coverage and len(coverage["items"]) >= 89 and all(i["verdict"] != "not_run" for i in coverage["items"])


# 3. Each named defect of the sandbox is caught by the tests that claim to catch it.


def test_every_sandbox_defect_has_catching_tests():
    if _sandbox is None:
        pytest.skip(_SANDBOX_PROBLEM)
    assert set(DEFECT_EVIDENCE) == set(DEFECT_CATCHERS), "every defect names the evidence of its catch"
    assert set(DEFECT_CATCHERS) == set(DEFECTS), (
        f"defects without catching tests: {sorted(set(DEFECTS) - set(DEFECT_CATCHERS))}; "
        f"unknown defects in the table: {sorted(set(DEFECT_CATCHERS) - set(DEFECTS))}"
    )
    known = {test.id for _, test in _all_tests()}
    for defect, ids in DEFECT_CATCHERS.items():
        assert ids, defect
        assert set(ids) <= known, f"{defect}: unknown test ids {sorted(set(ids) - known)}"
    assert set(DEFECT_LOOKS_LIKE_NO_DATA) <= set(DEFECTS)
    assert {tid for ids in DEFECT_LOOKS_LIKE_NO_DATA.values() for tid in ids} <= known


@needs_sandbox
@pytest.mark.parametrize("defect", sorted(DEFECT_CATCHERS))
def test_defect_is_caught(pytester: pytest.Pytester, defect: str, fhir_packages_dir: Path):
    catchers, no_data = DEFECT_CATCHERS[defect], DEFECT_LOOKS_LIKE_NO_DATA.get(defect, [])
    result, outcomes = _run(
        pytester, "--mes-sandbox", "--mes-sandbox-defect", defect, "--mes-offline", "-p", "no:cacheprovider",
        "--mes-packages", str(fhir_packages_dir), "-k", " or ".join(catchers + no_data), "--mes-lang=en",
    )  # in English, as the regexes
    unsure = {tid: outcomes.get(tid, ("not run", ""))[1][:300] for tid in no_data
              if outcomes.get(tid, ("not run", ""))[0] != "incomplete"
              or not outcomes[tid][1].startswith("no data to test — step 1 ")}
    assert not unsure, f"with the sandbox defect {defect!r} these tests are not incomplete for lack of data: {unsure}"
    # A SHOULD requirement's test catches its defect as an advisory failure.
    missed = [tid for tid in catchers if outcomes.get(tid, ("not run",))[0] not in ("failed", "advisory")]
    assert not missed, (f"with the sandbox defect {defect!r} these tests did not fail: {missed}\n"
                        + result.stdout.str()[-4000:])
    evidence = re.compile(DEFECT_EVIDENCE[defect])
    other_cause = {tid: outcomes[tid][1][-1500:] for tid in catchers if not evidence.search(outcomes[tid][1])}
    assert not other_cause, (f"with the sandbox defect {defect!r} these tests failed, but not on a check showing it "
                             f"(/{DEFECT_EVIDENCE[defect]}/): {other_cause}")
