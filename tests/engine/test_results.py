"""The result model: verdicts of tests and of the run, summaries, the requirement matrix, waivers, redaction."""

from __future__ import annotations

import dataclasses
import json
from datetime import date

import pytest

from pytest_mes.client import Exchange
from pytest_mes.errors import ConfigError
from pytest_mes.fhir.issues import Phrase
from pytest_mes.recording import Policy, Recorder, case_verdict, describe_test, exchange_record
from pytest_mes.redaction import PatientMask
from pytest_mes.report.labels import phrase
from pytest_mes.results import (
    CheckRecord,
    IssueGroup,
    OffendingItem,
    RequirementRef,
    StepRecord,
    TestRecord,
    record_from_dict,
    requirement_matrix,
    run_verdict,
    summary,
)
from pytest_mes.testset.checks import CheckResult
from pytest_mes.testset.model import Check, Request, Requirement, Step, TestCase, TestSet, Text
from pytest_mes.testset.runner import CaseResult, StepResult
from pytest_mes.waivers import apply_waivers, load_waivers, loaded_test_ids, unknown_tests, waiver_statuses

STEP = Step("read", Request(path="Patient/1"), (Check("status", 200, line=9),), (), "test", 0, line=8, end_line=10)


def _test(level: str = "SHALL") -> TestCase:
    return TestCase("CORE-X-01", Text("Lecture", "Read"), (Requirement("FHIR R4 read", level, "https://x"),),
                    (STEP,))


TESTSET = TestSet("core-x", Text("Ensemble"), "core", (_test(),), path=None, text="a\n" * 12, label="sets/x.yaml")


def _exchange(status: int | None = 200, error: str | None = None, body: dict | None = None) -> Exchange:
    return Exchange("GET", "http://h/fhir/Patient/1", {"Accept": "application/fhir+json"}, None, "now",
                    status=status, reason="OK" if status else "", error=error,
                    response_headers={"Content-Type": "application/fhir+json"},
                    body=json.dumps(body or {"resourceType": "Patient", "id": "1"}).encode())


def _case(*checks: CheckResult, exchange: Exchange | None = None, level: str = "SHALL", **step) -> CaseResult:
    result = CaseResult(_test(level))
    result.steps = [StepResult(STEP, exchange or _exchange(), list(checks), **step)]
    return result


PASSED = CheckResult("status", "passed", "200", "200 OK", kind="status")
FAILED = CheckResult("status", "failed", "200", "404 Not Found", kind="status", line=9)
UNMADE = CheckResult("conforms to P", "not_checked", "no error", "not checked: profile P missing", kind="conforms_to")


@pytest.mark.parametrize(("case", "level", "policy", "verdict"), [
    (_case(PASSED), "SHALL", Policy(), "passed"),
    (_case(FAILED), "SHALL", Policy(), "failed"),
    (_case(FAILED, level="SHOULD"), "SHOULD", Policy(), "advisory"),
    (_case(FAILED, level="SHOULD"), "SHOULD", Policy(fail_on="should"), "failed"),
    (_case(PASSED, UNMADE), "SHALL", Policy(), "incomplete"),
    (_case(PASSED, UNMADE), "SHALL", Policy(strict=True), "failed"),
    (_case(CheckResult("request", "failed", "an HTTP response", "refused", kind="request"),
           exchange=_exchange(status=None, error="refused")), "SHALL", Policy(), "error"),
    (_case(error="the request could not be built: unknown variable", harness_error=True), "SHALL", Policy(), "error"),
], ids=["passed", "shall-failed", "should-advisory", "fail-on-should", "incomplete", "strict", "no-answer",
        "harness"])
def test_the_verdict_of_a_test(case, level, policy, verdict):
    assert case_verdict(case, level, policy)[0] == verdict


CLEANUP = Step("delete", Request(method="DELETE", path="Patient/1"), (), (), "cleanup", 0, line=11, end_line=12)


def _cleanup_failed() -> CaseResult:
    result = _case(PASSED)
    result.cleanup = [StepResult(CLEANUP, _exchange(status=500), [CheckResult(
        "status", "failed", "no server error (status < 500)", "500 Server Error", kind="status")])]
    return result


@pytest.mark.parametrize(("case", "policy", "french", "english"), [
    (_case(FAILED), Policy(), "étape 1 « read » : status : attendu 200, obtenu 404 Not Found",
     'step 1 "read": status: expected 200, got 404 Not Found'),
    (_case(error="unknown variable x", harness_error=True), Policy(),
     "le test n'a pas pu s'exécuter : unknown variable x", "the test could not run: unknown variable x"),
    (_case(CheckResult("request", "failed", "an HTTP response", "refused", kind="request"),
           exchange=_exchange(status=None, error="refused")), Policy(),
     "pas de réponse HTTP du serveur : refused", "no HTTP answer from the server: refused"),
    (_cleanup_failed(), Policy(),
     "nettoyage en échec, des données peuvent rester sur le serveur : status : attendu no server error "
     "(status < 500), obtenu 500 Server Error",
     "cleanup failed, data may be left on the server: status: expected no server error (status < 500), "
     "got 500 Server Error"),
    (_case(PASSED, UNMADE, UNMADE), Policy(),
     "conforms to P : not checked: profile P missing ; conforms to P : not checked: profile P missing",
     "conforms to P: not checked: profile P missing; conforms to P: not checked: profile P missing"),
    (_case(PASSED, UNMADE), Policy(strict=True),
     "vérifications non faites, et --mes-strict est actif : conforms to P : not checked: profile P missing",
     "checks not made, and --mes-strict is on: conforms to P: not checked: profile P missing"),
], ids=["failed-check", "harness", "no-answer", "cleanup", "incomplete", "strict"])
def test_the_reason_of_a_verdict_is_in_the_run_language(case, policy, french, english):
    # French by default (--mes-lang's default); the server's and the check's own words stay as said.
    assert case_verdict(case, "SHALL", policy)[1] == french
    assert case_verdict(case, "SHALL", policy, "en")[1] == english


def test_a_body_that_cannot_be_shown_is_said_in_the_run_language():
    png = Exchange("GET", "http://h/fhir/Binary/1", {}, None, "now", status=200, reason="OK",
                   response_headers={"Content-Type": "image/png"}, body=b"\x89PNG\r\n\x1a\n\xff")
    undecodable = dataclasses.replace(png, response_headers={})
    assert exchange_record(png, "e1").response_body == "(9 octets de image/png, non affichés)"
    assert exchange_record(png, "e1", lang="en").response_body == "(9 bytes of image/png, not shown)"
    assert exchange_record(undecodable, "e1").response_body == "(9 octets de données binaires, non affichés)"
    assert exchange_record(undecodable, "e1", lang="en").response_body == "(9 bytes of binary data, not shown)"


def _record(verdict: str, *, id: str = "T-1", component: str = "core", level: str = "SHALL",
            ref: str = "R1") -> TestRecord:
    return TestRecord(index=0, nodeid=f"x::{id}", id=id, verdict=verdict, set="demo", component=component,
                      actor="a", level=level, requirements=[RequirementRef(ref, level)])


def _own(verdict: str) -> TestRecord:
    """A user's own Python test of the run, as reporting records it: no test set, no requirement."""
    return TestRecord(index=0, nodeid="test_mine.py::test_x", id="test_x", verdict=verdict)


@pytest.mark.parametrize(("verdicts", "interrupted", "code"), [
    (["passed", "skipped", "waived", "advisory"], None, "conformant"),
    (["passed", "failed", "incomplete"], None, "non-conformant"),
    (["passed", "incomplete"], None, "incomplete"),
    (["passed", "error"], None, "incomplete"),
    (["passed"], Phrase("arrêt", "stop"), "incomplete"),
    (["skipped", "skipped"], None, "incomplete"),  # nothing ran: nothing is proven
    ([], None, "incomplete"),
])
def test_the_run_verdict_follows_its_stated_rule(verdicts, interrupted, code):
    verdict = run_verdict([_record(v) for v in verdicts], interrupted)
    assert verdict.code == code
    document = verdict.as_dict()
    assert document["label"]["fr"] in ("conforme", "non conforme", "incomplet")
    assert "SHALL" in document["rule"]["fr"] and "SHALL" in document["rule"]["en"]
    assert (code == "conformant") == (not verdict.reasons)


NO_MES_TEST = {"fr": "aucune exigence MES n'a été testée : aucun test d'un jeu de tests n'a été exécuté (tous non "
                     "exécutés, désélectionnés ou absents ; vos propres tests Python ne comptent pas)",
               "en": "no MES requirement was tested: no test of a test set ran (all skipped, deselected or absent; "
                     "your own Python tests do not count)"}


@pytest.mark.parametrize(("tests", "code"), [
    ([_own("passed")], "incomplete"),  # only the user's own Python tests ran
    ([_own("passed"), _record("skipped")], "incomplete"),  # every test of the sets skipped (or deselected)
    ([_own("failed"), _record("skipped")], "non-conformant"),
    ([], "incomplete"),
], ids=["own-tests-only", "sets-skipped", "own-test-failed", "nothing"])
def test_a_run_that_tested_no_mes_requirement_is_never_conformant_and_says_so(tests, code):
    verdict = run_verdict(tests)
    assert verdict.code == code
    assert verdict.reasons[-1] == NO_MES_TEST
    assert "aucune exigence MES n'a été testée" in verdict.as_dict()["rule"]["fr"]
    assert "no MES requirement was tested" in verdict.as_dict()["rule"]["en"]


def test_own_python_tests_beside_a_set_that_ran_leave_the_verdict_to_the_set():
    assert run_verdict([_own("passed"), _record("passed"), _record("skipped")]).code == "conformant"
    assert run_verdict([_own("passed"), _record("waived")]).code == "conformant"


def test_an_interrupted_run_says_why_in_each_language():
    why = phrase("interruption.stopped", why="stopping after 1 failures")
    assert (why.fr, why.en) == ("arrêtée avant la fin : stopping after 1 failures",
                                "stopped early: stopping after 1 failures")
    assert run_verdict([_record("passed")], why).reasons == [
        {"fr": "exécution interrompue : arrêtée avant la fin : stopping after 1 failures",
         "en": "run interrupted: stopped early: stopping after 1 failures"}]


def test_summary_rows_per_component_actor_and_level_and_the_requirement_matrix():
    tests = [_record("passed", id="A"), _record("failed", id="B"), _record("advisory", id="C", level="SHOULD",
                                                                           ref="R2"),
             _record("passed", id="D", component="gap", ref="R2")]
    data = summary(tests)
    assert data["counts"]["passed"] == 2 and data["counts"]["failed"] == 1 and data["counts"]["advisory"] == 1
    assert [(r["component"], r["level"]) for r in data["rows"]] == [("core", "SHALL"), ("core", "SHOULD"),
                                                                    ("gap", "SHALL")]
    matrix = {(row["ref"], row["level"]): row for row in requirement_matrix(tests)}
    assert matrix[("R1", "SHALL")]["tests"] == ["A", "B"] and matrix[("R1", "SHALL")]["verdict"] == "failed"
    assert matrix[("R2", "SHOULD")]["verdict"] == "advisory" and matrix[("R2", "SHALL")]["verdict"] == "passed"


def test_a_record_survives_its_dict_form_unchanged():
    record = describe_test(_test(), TESTSET, index=3, nodeid="sets/x.yaml::CORE-X-01", verdict="failed",
                           reason="why")
    issue = IssueGroup("error", "code-invalid", "BINDING", "msg", "Bundle.entry[*].x", ["Bundle.entry[0].x"], 2)
    record.steps = [StepRecord("read", "test", 0, 8, "failed", exchange="CORE-X-01/e1",
                               checks=[CheckRecord("conforms_to", "conforms to P", "failed", issues=[issue],
                                                   items=[OffendingItem(1, "p1")])],
                               source=[(8, "- request: …")])]
    record.exchanges = [exchange_record(_exchange(), "CORE-X-01/e1")]
    record.waiver = {"justification": "why", "author": "QA", "tests": ["CORE-X-01"]}
    assert record.as_dict() == dataclasses.asdict(record)  # down to the tuples of the step's source
    data = json.loads(json.dumps(record.as_dict()))  # as it crosses xdist's wire or a JSON file
    assert record_from_dict(data) == record


def test_records_are_redacted_and_capped(tmp_path):
    recorder = Recorder(Policy(), secrets=lambda text: text.replace("s3cret", "***"))
    exchange = _exchange(status=404, body={"resourceType": "OperationOutcome", "note": "s3cret" + "x" * 70_000})
    record = recorder.case(_case(FAILED, exchange=exchange), TESTSET, describe_test(
        _test(), TESTSET, index=0, nodeid="n", verdict="passed"))
    [shown] = record.exchanges
    assert "s3cret" not in json.dumps(record.as_dict())
    assert shown.body_truncated and len(shown.response_body) <= shown.body_cap < shown.response_size
    assert record.steps[0].source and record.steps[0].exchange == shown.id


def test_patient_mask_learns_identifiers_names_and_birth_dates_then_masks_them_everywhere():
    mask = PatientMask()
    mask.learn_text(json.dumps({"resourceType": "Bundle", "entry": [{"resource": {
        "resourceType": "Patient", "identifier": [{"system": "urn:oid:1.2.250.1.213.1.4.8", "value": "1234567890123"}],
        "name": [{"family": "Dupont", "given": ["Jeanne"]}], "birthDate": "1970-05-01"}}]}))
    mask.learn_text("GET /fhir/Slot?patient.identifier=urn:oid:1.2.250.1.213.1.4.10|2750573190123")
    shown = mask.text("Jeanne Dupont née le 1970-05-01, INS 1234567890123, NIR 2750573190123; Slot libre")
    assert shown == "*** *** née le ***, INS ***, NIR ***; Slot libre"


def test_patient_mask_learns_from_a_patient_whose_lists_are_lone_values():
    """A server that sends an object or a string where FHIR wants a list still has its patient's data masked
    (and a number there is ignored, not an exception)."""
    mask = PatientMask()
    mask.learn({"resourceType": "Patient", "identifier": 42, "name": {"family": "Dupont", "given": "Jeanne"}})
    mask.learn({"resourceType": "Patient", "identifier": {"value": "1234567890123"}, "name": 7})
    assert mask.text("Jeanne Dupont, INS 1234567890123") == "*** ***, INS ***"


def test_patient_mask_masks_a_value_learnt_later_whole_when_it_contains_one_learnt_before():
    mask = PatientMask()
    for family in ("Martin", "Martin-Durand", "Durand"):  # the longest in the middle: kept longest first anyway
        mask.learn({"resourceType": "Patient", "name": [{"family": family}]})
    assert mask.text("Mme Martin-Durand, M. Martin, Mme Durand") == "Mme ***, M. ***, Mme ***"


WAIVERS = """\
waivers:
  - test: CORE-X-01
    justification: Correctif prévu en version 4.3 (ticket 1234)
    author: Marie Martin
    expires: 2099-12-31
  - message: "Code .* absent"
    justification: Terminologie locale en cours de publication
    author: Paul Durand
    expires: 2099-12-31
  - test: CORE-X-02
    justification: Ancienne dérogation, plus valable
    author: Paul Durand
    expires: 2020-01-01
"""


def test_waivers_cover_tests_and_messages_expire_and_unused_ones_are_listed(tmp_path):
    path = tmp_path / "waivers.yaml"
    path.write_text(WAIVERS, encoding="utf-8")
    waivers = load_waivers(path, "waivers.yaml")
    today = date(2026, 12, 5)
    whole = _record("failed", id="CORE-X-01")
    apply_waivers(whole, waivers, today)
    assert whole.verdict == "waived" and whole.waiver["source"] == "waivers.yaml:2"
    issue = IssueGroup("error", "code-invalid", "BINDING_REQUIRED", "Code ZZ absent du jeu de valeurs", "Slot.status")
    by_message = _record("failed", id="CORE-X-03")
    by_message.steps = [StepRecord("s", "test", 0, 1, "failed",
                                   checks=[CheckRecord("conforms_to", "conforms to P", "failed", issues=[issue])])]
    apply_waivers(by_message, waivers, today)
    assert by_message.verdict == "waived" and by_message.steps[0].checks[0].outcome == "waived"
    assert by_message.steps[0].checks[0].because.startswith("Dérogation : ")
    assert by_message.notes == ["dérogation waivers.yaml:6 appliquée à conforms to P"]
    expired = _record("failed", id="CORE-X-02")
    apply_waivers(expired, waivers, today)
    assert expired.verdict == "failed" and expired.notes == ["dérogation waivers.yaml:10 expirée le 2020-01-01 : elle "
                                                             "ne s'applique plus"]
    english = _record("failed", id="CORE-X-02")
    apply_waivers(english, waivers, today, "en")
    assert english.notes == ["waiver waivers.yaml:10 expired on 2020-01-01: it no longer applies"]
    statuses = waiver_statuses(waivers, [whole, by_message, expired], today)
    assert [s["status"] for s in statuses] == ["used", "used", "expired"]
    assert waiver_statuses(waivers, [expired], today)[0]["status"] == "unused"


def test_a_waiver_naming_no_loaded_test_is_unknown_with_the_id_it_probably_means(tmp_path, write_set):
    """A typo covers nothing: it is told apart from a waiver of an existing test that simply did not fail."""
    write_set("""
        id: demo
        title: Démo
        component: core
        tests:
          - id: CORE-X-01
            title: Lecture
            requirements: [{ref: r, level: SHALL}]
            steps: [{request: {path: metadata}}]
          - id: CORE-X-04
            title: Par cas
            requirements: [{ref: r, level: SHALL}]
            parametrize: [{id: a, n: "1"}, {id: b, n: "2"}]
            steps: [{request: {path: "Patient/{{n}}"}}]
    """)
    known = loaded_test_ids([tmp_path / "sets"], tmp_path)
    assert set(known) == {"CORE-X-01", "CORE-X-04[a]", "CORE-X-04[b]"}
    path = tmp_path / "waivers.yaml"
    path.write_text(WAIVERS + "".join(
        f"  - test: {test}\n    justification: Une raison valable\n    author: A\n    expires: 2099-12-31\n"
        for test in ("CORE-X-1", "sets/set.yaml::CORE-X-04[b]", "other/set.yaml::CORE-X-01", "CORE-X-04")),
        encoding="utf-8")
    waivers = load_waivers(path, "waivers.yaml")
    unknown = unknown_tests(waivers, known)
    # CORE-X-01: known; the message waiver names no test; CORE-X-02: expired, and unknown too (as close to
    # CORE-X-01 as to CORE-X-04, whose first case is suggested). A parametrized test is waived case by case.
    assert unknown == {2: "CORE-X-04[a]", 3: "CORE-X-01", 5: "CORE-X-01", 6: "CORE-X-04[a]"}
    statuses = waiver_statuses(waivers, [], date(2026, 12, 5), unknown)
    assert [(s["status"], s["suggestion"]) for s in statuses] == [
        ("unused", None), ("unused", None), ("unknown", "CORE-X-04[a]"), ("unknown", "CORE-X-01"), ("unused", None),
        ("unknown", "CORE-X-01"), ("unknown", "CORE-X-04[a]")]


@pytest.mark.parametrize(("text", "error"), [
    ("waivers:\n  - test: X\n    author: A\n    expires: 2027-01-01\n", "waivers.yaml:2:*justification*"),
    ("waivers:\n  - test: X\n    justification: une raison valable\n    author: A\n    expires: 31/01/2027\n",
     "waivers.yaml:5:*expires*"),
    ("waivers:\n  - message: '[unclosed'\n    justification: une raison valable\n    author: A\n"
     "    expires: 2027-01-01\n",
     'waivers.yaml:2:5: waivers[[]0].message: "[[]unclosed" is not a valid regular expression: unterminated*'),
    # Each says what to write, in words.
    ("waivers:\n  - test: X\n    justification: une raison valable\n    author: A\n    expires: 2027-31-01\n",
     'waivers.yaml:5:5: waivers[[]0].expires: "2027-31-01" is not a date: write YYYY-MM-DD'),
    ("waivers:\n  - test: X\n    justification: oui\n    author: A\n    expires: 2027-01-31\n",
     'waivers.yaml:3:5: waivers[[]0].justification: "oui" is too short: at least 10 characters'),
    ("waivers:\n  - tset: X\n    justification: une raison valable\n    author: A\n    expires: 2027-01-31\n",
     "waivers.yaml:2:5: waivers[[]0]: needs 'test' or 'message'"),
    ("", "waivers.yaml:1: the file is empty: a waivers file holds 'waivers:' and a list of waivers*"),
])
def test_a_malformed_waivers_file_is_an_error_naming_file_and_line(tmp_path, text, error):
    path = tmp_path / "waivers.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_waivers(path, "waivers.yaml")
    from fnmatch import fnmatch

    assert any(fnmatch(line.strip(), error) for line in str(raised.value).splitlines()), str(raised.value)


@pytest.mark.parametrize(("lang", "words"), [("fr", ("erreur : ", "avertissement : ", " : ")),
                                             ("en", ("error: ", "warning: ", ": "))])
def test_a_validation_issue_in_a_failure_names_its_severity_in_the_run_language(lang, words):
    from pytest_mes.failure import describe_group

    error = IssueGroup("error", "code-invalid", "BINDING_REQUIRED", "Code ZZ absent", "Slot.status", count=2)
    warning = IssueGroup("warning", "informational", "MS", "Élément absent", "Slot")
    assert describe_group(error, lang) == f"{words[0]}Slot.status (× 2){words[2]}Code ZZ absent"
    assert describe_group(warning, lang) == f"{words[1]}Slot{words[2]}Élément absent"
