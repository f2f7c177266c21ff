"""Every output of a run renders the same records: terminal, acceptance file, JSON, TestReport, JUnit, pytest-html.
Secrets never reach any of them; pytest-xdist keeps every record, in collection order."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pytest_mes.fhir import walk
from tests.plugin.conftest import a_set, create_test, read_test
from tests.support.server import Reply

TOKEN, HEADER_KEY, COOKIE = "tok-7f3a9c1e55", "key-0b8d2e4471", "sess-c4e19a0d33"
PATIENT = {"resourceType": "Patient", "id": "1", "text": {"status": "generated",
           "div": f'<div xmlns="http://www.w3.org/1999/xhtml">Bearer {TOKEN} {HEADER_KEY} {COOKIE}</div>'}}


def test_secrets_never_reach_any_artefact_of_the_run(pytester, add_set, server):
    # The server echoes every secret back, in a body and a Set-Cookie header, and the test fails so that the
    # evidence (requests, responses, variables) is written everywhere.
    server.route("GET /fhir/Patient/1", Reply(200, PATIENT, headers={"Set-Cookie": f"session={COOKIE}"}))
    add_set(a_set(tests=read_test("CORE-S-01", path="Patient/1", checks="- status: 201"),
                  extra=f"variables:\n  api_token: {TOKEN}\n"))
    outputs = {name: pytester.path / name for name in ("r.html", "r.json", "tr.json", "junit.xml", "ph.html")}
    result = pytester.runpytest(
        f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", f"--mes-token={TOKEN}",
        f"--mes-header=X-Api-Key: {HEADER_KEY}", f"--mes-report={outputs['r.html']}",
        f"--mes-report-json={outputs['r.json']}", f"--mes-testreport={outputs['tr.json']}",
        f"--junitxml={outputs['junit.xml']}", f"--html={outputs['ph.html']}", "--self-contained-html")
    result.assert_outcomes(failed=1)
    assert server.requests[-1].headers["Authorization"] == f"Bearer {TOKEN}"  # the control: it was sent
    texts = {name: path.read_text(encoding="utf-8") for name, path in outputs.items()}
    texts["terminal"] = result.stdout.str() + result.stderr.str()
    for name, text in texts.items():
        for secret in (TOKEN, HEADER_KEY, COOKIE):
            assert secret not in text, f"{secret} leaked into {name}"
    assert "Patient/1" in texts["r.json"] and "***" in texts["r.json"]
    # pytest-html got the same evidence as extras, and the run's identification in its environment table.
    assert "mes-record" in texts["ph.html"] and "pytest-mes Cible" in texts["ph.html"]
    assert "--mes-strict non ; --mes-ignore-preconditions non" in texts["ph.html"]
    assert "attendu 201, obtenu 200 OK" in texts["ph.html"]


def test_business_keys_stay_readable_evidence_while_credential_variables_are_masked(pytester, add_set, server):
    """patient_key (an INS), document_key: identifiers a reviewer needs, not credentials; partner_api_key is one."""
    server.route("GET /fhir/Patient", Reply(200, {"resourceType": "Bundle", "type": "searchset", "total": 0}))
    variables = "variables: {patient_key: '2750573190123', document_key: doc-8812, partner_api_key: pk-9f3a1c77}\n"
    add_set(a_set(tests=read_test("CORE-K-01", path="Patient?identifier={{patient_key}}&_tag={{document_key}}",
                                  checks="- status: 201"), extra=variables))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "--mes-report=r.html",
                                "--mes-report-json=r.json")
    result.assert_outcomes(failed=1)
    texts = {name: (pytester.path / name).read_text(encoding="utf-8") for name in ("r.html", "r.json")}
    texts["terminal"] = result.stdout.str()
    for name, text in texts.items():
        assert "pk-9f3a1c77" not in text, name
    test = json.loads(texts["r.json"])["tests"][0]
    assert test["variables"] == {"base_url": f"'{server.base_url}'", "document_key": "'doc-8812'",
                                 "partner_api_key": "***", "patient_key": "'2750573190123'"}
    assert "identifier=2750573190123&_tag=doc-8812" in test["exchanges"][0]["url"]
    assert "document_key='doc-8812', partner_api_key=***, patient_key='2750573190123'" in texts["terminal"]
    assert "2750573190123" in texts["r.html"]


def test_credentials_in_the_base_url_are_sent_as_basic_auth_and_never_shown(pytester, add_set, server):
    """user:password@ in --mes-base-url is HTTP Basic authentication: it reaches the server, and neither the
    password nor the header reaches the terminal or a report (the url is shown without them)."""
    password = "pw-9c41e7d2"
    server.route("GET /fhir/Patient/1", Reply(200, PATIENT))
    add_set(a_set(tests=read_test("CORE-B-01", path="Patient/1", checks="- status: 201")))
    base_url = server.base_url.replace("http://", f"http://alice:{password}@")
    result = pytester.runpytest(f"--mes-base-url={base_url}", "--mes-testsets", "sets", "--mes-report=r.html",
                                "--mes-report-json=r.json", "--mes-testreport=tr.json", "--junitxml=j.xml", "-v")
    result.assert_outcomes(failed=1)
    sent = base64.b64encode(f"alice:{password}".encode()).decode()
    assert {r.headers.get("Authorization") for r in server.requests} == {f"Basic {sent}"}  # the control
    texts = {name: (pytester.path / name).read_text(encoding="utf-8") for name in ("r.html", "r.json", "tr.json",
                                                                                  "j.xml")}
    texts["terminal"] = result.stdout.str() + result.stderr.str()
    for name, text in texts.items():
        assert password not in text and sent not in text, f"the password leaked into {name}"
    assert json.loads(texts["r.json"])["run"]["target"]["base_url"] == server.base_url
    result.stdout.fnmatch_lines([f"mes: cible {server.base_url}"])


FRENCH = ("statut : attendu 201, obtenu 200 OK", "type de contenu", "erreur serveur (statut")
ENGLISH = ("status: expected 201, got 200 OK", "content type", "server error (status")


@pytest.mark.parametrize(("lang", "said", "other"), [("fr", FRENCH, ENGLISH), ("en", ENGLISH, FRENCH)])
def test_the_reason_of_a_verdict_is_in_the_run_language_in_every_output(pytester, add_set, server, lang, said,
                                                                         other):
    """The reason, the names of the checks and their expected values, in the run's language and only in it."""
    server.route("GET /fhir/Patient/1", Reply(503, "down", content_type="text/plain"))
    add_set(a_set(tests=read_test("CORE-L-01", checks="- status: 201\n- content_type: application/xml")
                  + read_test("CORE-L-02", path="Patient/1", checks="- fhirpath: Patient.id.exists()")))
    names = ("r.html", "r.json", "tr.json", "junit.xml", "ph.html")
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", f"--mes-lang={lang}",
                                "--mes-report=r.html", "--mes-report-json=r.json", "--mes-testreport=tr.json",
                                "--junitxml=junit.xml", "--html=ph.html", "--self-contained-html")
    result.assert_outcomes(failed=2)
    texts = {name: (pytester.path / name).read_text(encoding="utf-8") for name in names}
    texts["terminal"] = result.stdout.str()
    for name, text in texts.items():
        for words in said:
            assert words in text, (name, words)
        for words in other:
            assert words not in text, (name, words)
    tests = json.loads(texts["r.json"])["tests"]
    assert tests[0]["reason"] == {"fr": "étape 1 « GET metadata » : ", "en": 'step 1 "GET metadata": '}[lang] + said[0]
    assert [c["label"] for c in tests[0]["steps"][0]["checks"]] == [
        {"fr": "statut", "en": "status"}[lang], said[1]]
    wrote = {"fr": "mes: fichier écrit : r.html", "en": "mes: wrote r.html"}
    assert wrote[lang] in texts["terminal"] and wrote["en" if lang == "fr" else "fr"] not in texts["terminal"]
    assert {"fr": "pytest-mes Options qui changent les verdicts", "en": "pytest-mes Options that change verdicts"}[
        lang] in texts["ph.html"]  # pytest-html's environment table


def test_every_output_gives_the_same_verdicts_as_the_terminal(pytester, add_set, server):
    server.route("GET /fhir/Patient/1", Reply(404, {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "not-found"}]}))
    tests = (read_test("CORE-V-01") + read_test("CORE-V-02", path="Patient/1", checks="- status: 200")
             + read_test("CORE-V-03", path="Patient/1", checks="- status: 200", level="SHOULD"))
    add_set(a_set(tests=tests))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "-v",
                                "--mes-report-json=r.json", "--mes-testreport=tr.json", "--junitxml=j.xml")
    assert result.parseoutcomes() == {"passed": 1, "failed": 1, "advisory": 1}
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*CORE-V-01 CONFORME [[]SHALL[]] Test CORE-V-01*",
                                 "*CORE-V-02 NON CONFORME [[]SHALL[]]*",
                                 "*CORE-V-03 NON CONFORME (RECOMMANDATION) [[]SHOULD[]]*",
                                 "Verdict global : NON CONFORME"])
    document = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))
    assert [(t["id"], t["verdict"]) for t in document["tests"]] == [
        ("CORE-V-01", "passed"), ("CORE-V-02", "failed"), ("CORE-V-03", "advisory")]
    assert document["verdict"]["code"] == "non-conformant"
    assert document["summary"]["counts"]["failed"] == 1
    assert [(s["id"], s["tests"], s["title"]["en"]) for s in document["run"]["testsets"]] == [("demo", 3, "Demo")]
    report = json.loads((pytester.path / "tr.json").read_text(encoding="utf-8"))
    assert report["resourceType"] == "TestReport" and report["result"] == "fail"
    junit = {case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
             for case in ET.parse(pytester.path / "j.xml").getroot().iter("testcase")}
    assert {name: props["mes_verdict"] for name, props in junit.items()} == {
        "CORE-V-01": "passed", "CORE-V-02": "failed", "CORE-V-03": "advisory"}
    # --mes-fail-on=should: the advisory failure fails the run too.
    strict = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets",
                                "--mes-fail-on=should", "--mes-report=")
    assert strict.parseoutcomes() == {"passed": 1, "failed": 2}


def test_xdist_brings_every_record_to_one_report_in_collection_order(pytester, add_set, server):
    pytest.importorskip("xdist")
    server.route("GET /fhir/Patient/1", Reply(404, "gone", content_type="text/plain"))
    for n in range(3):
        tests = "".join(read_test(f"CORE-P-{n}{k}", path="Patient/1" if k == 2 else "metadata") for k in range(3))
        add_set(a_set(set_id=f"set{n}", tests=tests), name=f"set{n}.yaml")
    common = [f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "--mes-report="]
    serial = pytester.runpytest(*common, "--mes-report-json=serial.json")
    parallel = pytester.runpytest_subprocess(*common, "-n", "2", "--mes-report-json=parallel.json")
    assert parallel.parseoutcomes() == serial.parseoutcomes() == {"passed": 6, "failed": 3}
    documents = [json.loads((pytester.path / name).read_text(encoding="utf-8"))
                 for name in ("serial.json", "parallel.json")]
    shapes = [[(t["id"], t["verdict"], len(t["exchanges"]), t["steps"][0]["outcome"]) for t in d["tests"]]
              for d in documents]
    assert shapes[0] == shapes[1] and len(shapes[0]) == 9
    assert documents[1]["tests"][2]["exchanges"][0]["status"] == 404
    assert documents[1]["run"]["options"]["workers"] == 2


@pytest.mark.usefixtures("english")
def test_a_worker_that_dies_under_xdist_ends_in_a_report_not_a_run_that_never_ends(pytester, add_set, server):
    """A worker killed mid-test (out of memory, a crash in a C extension): xdist replaces it, and the test set
    scheduling hands the new worker the tests left, which it runs to the end; the test that killed its worker is in
    the report, in error, and the run is incomplete."""
    pytest.importorskip("xdist")
    add_set(a_set(tests="".join(read_test(f"CORE-W-0{n}") for n in range(4))))
    pytester.makeconftest("""
        import os

        def pytest_runtest_call(item):
            if item.name == "CORE-W-01" and os.environ.get("PYTEST_XDIST_WORKER"):
                os._exit(3)  # the worker dies, as when the kernel kills it
    """)
    result = pytester.runpytest_subprocess(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "-n", "2",
                                           "--mes-report-json=r.json", "--mes-report=", timeout=60)
    document = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))
    verdicts = {t["id"]: t["verdict"] for t in document["tests"]}
    assert verdicts == {"CORE-W-00": "passed", "CORE-W-01": "error", "CORE-W-02": "passed", "CORE-W-03": "passed"}
    assert re.fullmatch(r"the test process gw\d died while running this test \(out of memory, a crash in a C "
                        r"extension\?\): nothing was checked",
                        next(t["reason"] for t in document["tests"] if t["id"] == "CORE-W-01"))
    assert [t["id"] for t in document["tests"]] == ["CORE-W-00", "CORE-W-01", "CORE-W-02", "CORE-W-03"]
    assert document["verdict"]["code"] == "incomplete" and result.ret == pytest.ExitCode.TESTS_FAILED


def test_a_run_interrupted_still_writes_its_report_saying_so(pytester, add_set, server):
    tests = read_test("CORE-I-01", path="Patient/9", checks="- status: 200") + read_test("CORE-I-02")
    add_set(a_set(tests=tests))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "-x",
                                "--mes-report-json=r.json", "--mes-report=r.html")
    assert result.ret == 1
    document = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))
    assert document["run"]["interrupted"].startswith("arrêtée avant la fin : ")  # French, the run's language
    assert document["verdict"]["reasons"][-1] == {"fr": f"exécution interrompue : {document['run']['interrupted']}",
                                                  "en": "run interrupted: stopped early: "
                                                        + document["run"]["interrupted"].split(" : ", 1)[1]}
    assert document["verdict"]["code"] == "non-conformant"
    assert (pytester.path / "r.html").stat().st_size > 1000
    assert not list(pytester.path.glob(".r.*.part"))  # written atomically: no half file left behind


def test_a_run_stopped_by_a_malformed_test_set_names_the_collection_error(pytester, add_set, server):
    """Not 'Ctrl-C or a fatal error': the verdict says that collection stopped the run, which file and what is
    wrong with it, in the run's language."""
    add_set(a_set(tests=read_test("CORE-G-01")), name="good.yaml")
    add_set(a_set("bad", tests=read_test("CORE-B-01").replace("  title:", "  titel:")), name="bad.yaml")
    said = {"fr": "exécution interrompue : arrêtée à la collecte, aucun test n'a été exécuté (1 erreur(s)) : ",
            "en": "run interrupted: stopped at collection, no test ran (1 error(s)): "}
    error = ("sets/bad.yaml:7: the test set does not follow the format (2 problems; see the README, 'Writing test "
             "sets'): sets/bad.yaml:7:5: tests[0]: missing required key 'title'")
    for lang in ("fr", "en"):
        result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets",
                                    f"--mes-lang={lang}", "--mes-report-json=r.json", "--mes-report=")
        assert result.ret == pytest.ExitCode.INTERRUPTED
        document = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))
        assert document["verdict"]["reasons"][0] == {"fr": said["fr"] + error, "en": said["en"] + error}
        assert document["run"]["interrupted"] == said[lang].split(" : " if lang == "fr" else ": ", 1)[1] + error
        result.stdout.fnmatch_lines([f"  - {said[lang]}{error}"])
        assert "Ctrl-C" not in result.stdout.str()


@pytest.mark.parametrize("going_on", [["-n", "2"], ["--continue-on-collection-errors"]], ids=["xdist", "continue"])
def test_a_run_that_goes_on_without_a_malformed_test_set_is_incomplete_naming_it(pytester, add_set, server,
                                                                                 going_on):
    """pytest-xdist (or --continue-on-collection-errors) runs the sets it could read: the others' tests never ran,
    so the run is not conforme, and says which file could not be read and why."""
    add_set(a_set(tests=read_test("CORE-G-01")), name="good.yaml")
    add_set(a_set("bad", tests=read_test("CORE-B-01").replace("  title:", "  titel:")), name="bad.yaml")
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", *going_on,
                                "--mes-report-json=r.json", "--mes-report=")
    document = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))
    assert [t["verdict"] for t in document["tests"]] == ["passed"]
    assert document["verdict"]["code"] == "incomplete" and document["run"]["interrupted"] is None
    assert document["verdict"]["reasons"] == [{
        "fr": "1 fichier(s) de tests illisible(s), leurs tests n'ont pas été exécutés : sets/bad.yaml:7: the test "
              "set does not follow the format (2 problems; see the README, 'Writing test sets'): sets/bad.yaml:7:5: "
              "tests[0]: missing required key 'title'",
        "en": "1 unreadable test file(s), whose tests did not run: sets/bad.yaml:7: the test set does not follow "
              "the format (2 problems; see the README, 'Writing test sets'): sets/bad.yaml:7:5: tests[0]: missing "
              "required key 'title'"}]
    assert "jeu de tests illisible" in document["verdict"]["rule"]["fr"]
    result.stdout.fnmatch_lines(["Verdict global : INCOMPLET", "  - 1 fichier(s) de tests illisible(s)*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_without_a_capability_statement_preconditions_leave_tests_incomplete_unless_ignored(pytester, add_set,
                                                                                           server):
    # A server that answers /metadata with something else escapes nothing by not describing itself.
    server.route("GET /fhir/metadata", Reply(200, {"resourceType": "Bundle", "type": "searchset"}))
    server.route("GET /fhir/Slot", Reply(200, {"resourceType": "Bundle", "type": "searchset"}))
    test = read_test("GAP-GA-SLOT-02", path="Slot") + """  preconditions:
    - capability: {resource: Slot, interaction: search-type}
"""
    add_set(a_set(tests=test))
    base = [f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "--mes-report-json=r.json"]
    result = pytester.runpytest(*base)
    assert result.parseoutcomes() == {"incomplete": 1} and result.ret == 1
    result.stdout.fnmatch_lines(["*GAP-GA-SLOT-02: précondition non vérifiable : GET [[]base[]]/metadata n'a pas "
                                 "renvoyé de CapabilityStatement ; lancez avec --mes-ignore-preconditions pour "
                                 "exécuter tous les tests malgré tout"])
    english = pytester.runpytest(*base, "--mes-lang=en", "--mes-report-json=en.json")
    english.stdout.fnmatch_lines(["*GAP-GA-SLOT-02: precondition not verifiable: GET [[]base[]]/metadata did not "
                                  "return a CapabilityStatement; run with --mes-ignore-preconditions to run every "
                                  "test anyway"])
    [test] = json.loads((pytester.path / "en.json").read_text(encoding="utf-8"))["tests"]
    assert test["reason"].startswith("precondition not verifiable: GET [base]/metadata did not return")
    ignored = pytester.runpytest(*base, "--mes-ignore-preconditions")
    ignored.assert_outcomes(passed=1)
    document = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))
    assert document["run"]["options"]["ignore_preconditions"] is True  # the report states it was used


def test_waivers_turn_a_covered_failure_into_a_waived_one_and_list_the_others(pytester, add_set, server):
    server.route("GET /fhir/Patient/1", Reply(404, "gone", content_type="text/plain"))
    add_set(a_set(tests=read_test("CORE-W-01", path="Patient/1") + read_test("CORE-W-02", path="Patient/1")
                  + read_test("CORE-W-03")))

    def waiver(test: str, why: str) -> str:
        return f"  - test: {test}\n    justification: {why}\n    author: Marie Martin\n    expires: 2099-01-31\n"

    (pytester.path / "waivers.yaml").write_text(
        "waivers:\n" + waiver("CORE-W-01", "Correctif livré en version 4.3")
        + waiver("sets/set.yaml::CORE-W-03", "Peut échouer sur la recette")  # a node id; the test passes
        + waiver("CORE-W-2", "Faute de frappe"), encoding="utf-8")
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets",
                                "--mes-waivers=waivers.yaml", "--mes-report-json=r.json", "--mes-report=r.html")
    assert result.parseoutcomes() == {"failed": 1, "passed": 1, "waived": 1}
    # The typo is said at start, with file, line and the test id it probably means; it covered nothing.
    result.stdout.fnmatch_lines(["mes: attention, la dérogation waivers.yaml:10 nomme le test CORE-W-2, qu'aucun jeu "
                                 "de tests chargé n'a : elle ne couvrira rien — vouliez-vous dire 'CORE-W-02' ?",
                                 "collected 3 items"])
    result.stdout.fnmatch_lines(["dérogation (1):", "  CORE-W-01: Correctif livré en version 4.3 (Marie Martin, "
                                 "waivers.yaml:2)", "Dérogations:",
                                 "  waivers.yaml:6 (inutilisée, 2099-01-31): sets/set.yaml::CORE-W-03",
                                 "  waivers.yaml:10 (test inconnu (aucun jeu de tests chargé ne l'a), 2099-01-31): "
                                 "CORE-W-2 — vouliez-vous dire 'CORE-W-02' ?"])
    document = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))
    assert [(w["status"], w["suggestion"]) for w in document["waivers"]] == [
        ("used", None), ("unused", None), ("unknown", "CORE-W-02")]
    assert "test inconnu (aucun jeu de tests chargé ne l'a) — vouliez-vous dire 'CORE-W-02' ?" in html.unescape(
        (pytester.path / "r.html").read_text(encoding="utf-8"))
    # A test deselected (-k, --mes-component) is still a test of a loaded set: no warning; in English, said so.
    english = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "--mes-lang=en",
                                 "--mes-waivers=waivers.yaml", "--mes-report=", "-k", "CORE-W-01")
    assert [line for line in english.outlines if "warning: waiver" in line] == [
        "mes: warning: waiver waivers.yaml:10 names the test CORE-W-2, which no loaded test set has: it will cover "
        "nothing — did you mean 'CORE-W-02'?"]
    # A malformed waivers file stops the run before any test, naming file and line.
    sent = len(server.requests)
    (pytester.path / "waivers.yaml").write_text("waivers:\n  - test: X\n    author: A\n", encoding="utf-8")
    bad = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets",
                             "--mes-waivers=waivers.yaml")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*waivers.yaml:2:*justification*"])
    assert not any("Patient/1" in r.path for r in server.requests[sent:])


def test_a_server_that_stops_answering_mid_run_makes_the_run_incomplete_saying_why(pytester, add_set, server):
    server.route("GET /fhir/Patient/2", Reply(drop=True))
    add_set(a_set(tests=read_test("CORE-D-01") + read_test("CORE-D-02", path="Patient/2")))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets",
                                "--mes-report-json=r.json")
    assert result.parseoutcomes() == {"passed": 1, "errors": 1}
    document = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))
    assert document["verdict"]["code"] == "incomplete"
    assert "en erreur" in document["verdict"]["reasons"][0]["fr"]
    assert "a fermé la connexion sans répondre" in document["tests"][1]["reason"]


def test_patient_data_is_masked_in_every_output_with_redact_patient(pytester, add_set, server):
    patient = {"resourceType": "Patient", "id": "p1", "birthDate": "1961-07-14", "name": [
        {"family": "Lefebvre", "given": ["Aurélie"]}],
        "identifier": [{"system": "urn:oid:1.2.250.1.213.1.4.8", "value": "2610714123456"}]}
    server.route("GET /fhir/Patient/p1", Reply(200, patient))
    add_set(a_set(tests=read_test("CORE-R-01", path="Patient/p1", checks="- status: 404")))
    base = [f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "--mes-report-json=r.json",
            "--mes-report=r.html"]
    plain = pytester.runpytest(*base)
    assert "Lefebvre" in (pytester.path / "r.json").read_text(encoding="utf-8")  # the control
    assert "Lefebvre" in plain.stdout.str()
    masked = pytester.runpytest(*base, "--mes-redact-patient")
    outputs = [masked.stdout.str(), *((pytester.path / name).read_text(encoding="utf-8")
                                      for name in ("r.json", "r.html"))]
    for text in outputs:
        for value in ("Lefebvre", "Aurélie", "1961-07-14", "2610714123456"):
            assert value not in text
    assert json.loads(outputs[1])["run"]["options"]["redact_patient"] is True


def test_ctrl_c_mid_run_still_writes_the_report_saying_the_run_was_interrupted(pytester, add_set, server):
    import signal
    import time

    server.route("GET /fhir/Patient/slow", Reply(200, {"resourceType": "Patient", "id": "slow"}, delay=20))
    add_set(a_set(tests=read_test("CORE-C-01") + read_test("CORE-C-02", path="Patient/slow")
                  + read_test("CORE-C-03")))
    process = pytester.popen([sys.executable, "-m", "pytest", f"--mes-base-url={server.base_url}",
                              "--mes-testsets", "sets", "--mes-report-json=r.json", "--mes-report=r.html",
                              "-p", "no:cacheprovider"], stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not any(r.path.endswith("/Patient/slow") for r in server.requests) and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    output = process.communicate(timeout=60)[0].decode()
    assert process.returncode == pytest.ExitCode.INTERRUPTED, output
    document = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))
    assert document["verdict"]["code"] == "incomplete"
    assert document["run"]["interrupted"] == "interrompue (Ctrl-C ou erreur fatale) avant que tous les tests aient " \
                                             "été exécutés"
    assert [t["id"] for t in document["tests"]] == ["CORE-C-01"]
    assert (pytester.path / "r.html").is_file() and "Traceback" not in output


@pytest.mark.usefixtures("english")
def test_ctrl_c_while_the_reports_are_written_names_those_not_written_without_a_traceback(pytester, add_set, server):
    """The run is over, the reports are being written when Ctrl-C comes: the ones written are said, the others are
    named as not written (an earlier run's file is left as it was, never half a file), exit 2."""
    add_set(a_set(tests=read_test("CORE-K-01")))
    (pytester.path / "r.json").write_text("an earlier run's results", encoding="utf-8")
    pytester.makeconftest("""
        import pytest_mes.report

        def ctrl_c(document, path):
            raise KeyboardInterrupt

        pytest_mes.report.write_json = ctrl_c
    """)
    result = pytester.runpytest_subprocess(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets",
                                           "--mes-report=r.html", "--mes-report-json=r.json", "--mes-testreport=t.json")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["mes: wrote r.html", "mes: not written, the run was interrupted (Ctrl-C) while its "
                                 "reports were written: r.json, t.json (a file of an earlier run is left as it was)"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str() and not (pytester.path / "t.json").exists()
    assert (pytester.path / "r.json").read_text(encoding="utf-8") == "an earlier run's results"


def test_listing_the_tests_leaves_the_acceptance_file_of_the_last_run_alone(pytester, add_set, server):
    """`pytest --co` runs nothing: it must not replace the last run's acceptance file with an empty one, state a
    verdict, nor exit 1 as if a run had failed."""
    add_set(a_set(tests=read_test("CORE-L-01")))
    previous = {name: pytester.path / name for name in ("mes-report.html", "r.json", "tr.json")}
    for path in previous.values():
        path.write_text("the last run's file", encoding="utf-8")
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "--co",
                                f"--mes-report-json={previous['r.json']}", f"--mes-testreport={previous['tr.json']}")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*CORE-L-01*", "*1 test collected*"])
    assert "Verdict" not in result.stdout.str() and "mes: fichier écrit" not in result.stdout.str()
    assert all(path.read_text(encoding="utf-8") == "the last run's file" for path in previous.values())
    assert not server.requests  # nothing was sent either


NO_MES_TEST = {"fr": "aucune exigence MES n'a été testée : aucun test d'un jeu de tests n'a été exécuté",
               "en": "no MES requirement was tested: no test of a test set ran"}


@pytest.mark.parametrize(("args", "lang"), [
    (["test_mine.py"], "fr"),  # only the user's own Python tests
    (["test_mine.py", "--mes-testsets=sets", "-k", "test_mine"], "en"),  # the sets' tests deselected
    (["test_mine.py", "--mes-testsets=sets"], "fr"),  # the sets' tests skipped (they write)
], ids=["own-tests-only", "sets-deselected", "sets-skipped"])
def test_a_run_that_tests_no_mes_requirement_is_incomplete_in_every_output(pytester, add_set, server, args, lang):
    """A verdict is only as strong as the checks made: the user's own tests passing prove nothing of MES."""
    pytester.makepyfile(test_mine="def test_mine(mes_client):\n    assert mes_client.capabilities().status == 200\n")
    add_set(a_set(tests=create_test("CORE-W-01")))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", f"--mes-lang={lang}", *args,
                                "--mes-report=r.html", "--mes-report-json=r.json", "--mes-testreport=tr.json")
    assert result.parseoutcomes()["passed"] == 1
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # nothing of MES is proven: not a green run
    said = NO_MES_TEST[lang]
    result.stdout.fnmatch_lines([{"fr": "Verdict global : INCOMPLET", "en": "Overall verdict: INCOMPLETE"}[lang],
                                 f"  - {said}*"])
    document = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))
    assert document["verdict"]["code"] == "incomplete"
    assert [r[lang] for r in document["verdict"]["reasons"] if r[lang].startswith(said)]
    assert said in html.unescape((pytester.path / "r.html").read_text(encoding="utf-8"))
    report = json.loads((pytester.path / "tr.json").read_text(encoding="utf-8"))
    assert report["result"] == "pending" and said in html.unescape(report["text"]["div"])


@pytest.mark.parametrize("where", ["ini", "env", "command line"])
def test_an_empty_report_setting_writes_no_acceptance_file_wherever_it_is_given(pytester, add_set, server,
                                                                                monkeypatch, where):
    """'--mes-report=' means none; so do 'mes_report =' in the ini file and MES_REPORT= in the environment."""
    add_set(a_set(tests=read_test("CORE-E-01")))
    args = [f"--mes-base-url={server.base_url}", "--mes-testsets", "sets"]
    if where == "ini":
        pytester.makeini("[pytest]\nmes_report =\n")
    elif where == "env":
        monkeypatch.setenv("MES_REPORT", "")
    else:
        args.append("--mes-report=")
    result = pytester.runpytest(*args)
    result.assert_outcomes(passed=1)
    assert not (pytester.path / "mes-report.html").exists() and "mes: fichier écrit" not in result.stdout.str()
    pytester.makeini("[pytest]\n")
    monkeypatch.delenv("MES_REPORT", raising=False)
    pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets").assert_outcomes(passed=1)
    assert (pytester.path / "mes-report.html").exists()  # the control: by default it is written


@pytest.mark.parametrize(("lang", "said"), [("fr", "ans.fr.nos#1.2.0 (requis par hl7.fhir.fr.core#2.0.1)"),
                                            ("en", "ans.fr.nos#1.2.0 (required by hl7.fhir.fr.core#2.0.1)")])
def test_the_acceptance_file_names_each_missing_package_in_the_run_language(pytester, add_set, server, lang, said):
    """A reviewer reads which packages were missing and what needs each, in the file's language; where the
    developer's machine looked for them and which command to type are for the terminal only."""
    add_set(a_set(tests=read_test("CORE-P-01")))
    pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", f"--mes-lang={lang}",
                       "--mes-report-json=r.json").assert_outcomes(passed=1)
    run = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))["run"]
    missing = run["missing_packages"]
    assert said in missing
    assert not [m for m in missing if "looked in" in m or "mes packages" in m or "/" in m], missing
    # Each package loaded from a .tgz is named with the sha256 of that very file (a reviewer can check it).
    tgz = [p for p in run["packages"] if p["source"].endswith(".tgz")]
    assert tgz and all(p["sha256"] == hashlib.sha256(Path(p["source"]).read_bytes()).hexdigest() for p in tgz), tgz


@pytest.mark.parametrize(("lang", "words"), [("fr", {"compiled": "compilé", "pure Python": "Python pur"}),
                                             ("en", {"compiled": "compiled", "pure Python": "pure Python"})])
def test_the_acceptance_file_names_the_validator_build_that_judged(pytester, add_set, server, lang, words):
    """The same verdicts either way, but a reviewer (and support) reads which build of the validator ran: the
    one imported, compiled from a wheel or from its Python sources."""
    add_set(a_set(tests=read_test("CORE-P-01")))
    pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", f"--mes-lang={lang}",
                       "--mes-report-json=r.json", "--mes-report=r.html").assert_outcomes(passed=1)
    build = "pure Python" if walk.__file__.endswith(".py") else "compiled"
    assert json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))["run"]["validator"]["build"] == build
    assert f"({words[build]})" in (pytester.path / "r.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(("args", "said"), [
    (["--mes-report=sets/set.yaml"], "--mes-report sets/set.yaml is the test set *set.yaml, which this run reads: the "
                                     "report would overwrite it; write the report elsewhere"),
    (["--mes-report-json=waivers.yaml", "--mes-waivers=waivers.yaml"],
     "--mes-report-json waivers.yaml is the --mes-waivers file, which this run reads*"),
    (["--mes-report=out.html", "--mes-testreport=out.html"],
     "--mes-testreport and --mes-report both name out.html: the second report would replace the first; give each "
     "its own file"),
    (["--mes-report=reports"], "--mes-report reports: this is a folder; give the path of a file, e.g. "
                               "--mes-report=reports/mes-report.html"),
    (["--mes-report-json=waivers.yaml/r.json"], "--mes-report-json waivers.yaml/r.json: *waivers.yaml is a file, not a "
                                                "folder; give a path in a folder"),
], ids=["a test set", "the waivers", "two reports", "a folder", "under a file"])
def test_a_report_path_that_would_lose_a_file_or_the_report_stops_the_run_at_start(pytester, add_set, server, args,
                                                                                   said):
    """The run would end without its acceptance file, or with one of its inputs replaced by a report: said at start,
    before any request, naming the option; nothing is overwritten."""
    add_set(a_set(tests=read_test("CORE-O-01")))
    (pytester.path / "reports").mkdir()
    waivers = pytester.path / "waivers.yaml"
    waivers.write_text("waivers: []\n", encoding="utf-8")
    inputs = {path: path.read_bytes() for path in (pytester.path / "sets" / "set.yaml", waivers)}
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets=sets", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: pytest-mes: {said}"])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()
    assert not server.requests
    assert all(path.read_bytes() == data for path, data in inputs.items())
    assert not (pytester.path / "out.html").exists()


def test_the_value_of_a_credential_variable_is_masked_wherever_it_is_used(pytester, add_set, server):
    """A credential-like variable (a default, a --mes-var, or a value saved from an answer) used in a query, a
    header of any name, a body or a check's expression: its value never reaches the terminal or a report."""
    server.route("POST /fhir/$login", Reply(200, {"resourceType": "Parameters",
                                                  "parameter": [{"name": "t", "valueString": "saved-tok-4455"}]}))
    tests = """
    - id: CORE-V-01
      title: Secrets in use
      requirements: [{ref: r, level: SHALL}]
      steps:
        - request: {method: POST, path: $login, body: {resourceType: Parameters}}
          save: {session_token: {fhirpath: "Parameters.parameter.value"}}
        - request:
            path: Patient
            params: {pw: "{{db_password}}", s: "{{session_token}}"}
            headers: {X-Trace: "{{client_secret}}"}
          checks:
            - status: 201
            - fhirpath: "'{{client_secret}}' = 'other'"
        - request: {method: POST, path: Patient, body: {resourceType: Patient, id: "{{db_password}}"}}
    """
    add_set(a_set(tests=tests, extra="variables: {db_password: changeme-default, client_secret: cs-default-77}\n"))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "--mes-allow-writes",
                                "--mes-var=db_password=pw-0f9e8d7c", "--mes-report=r.html", "--mes-report-json=r.json",
                                "--mes-testreport=tr.json", "--junitxml=junit.xml", "-rA")
    result.assert_outcomes(failed=1)
    sent = server.requests[1]
    assert "pw=pw-0f9e8d7c" in sent.path and "s=saved-tok-4455" in sent.path  # the control: the values were sent
    assert sent.headers["X-Trace"] == "cs-default-77"
    texts = {name: (pytester.path / name).read_text(encoding="utf-8")
             for name in ("r.html", "r.json", "tr.json", "junit.xml")}
    texts["terminal"] = result.stdout.str() + result.stderr.str()
    for name, text in texts.items():
        for secret in ("pw-0f9e8d7c", "saved-tok-4455", "cs-default-77"):
            assert secret not in text, f"{secret} leaked into {name}"
    assert "pw=***" in texts["terminal"] and "Patient" in texts["r.json"]


def test_an_acceptance_file_that_cannot_be_written_at_the_end_does_not_exit_0(pytester, add_set, server,
                                                                                monkeypatch):
    """A disk that fills during the run: a CI job must not pass green without the file it attaches."""
    import errno

    from pytest_mes import report

    def disk_full(document, path):
        raise OSError(errno.ENOSPC, "No space left on device")

    add_set(a_set(tests=read_test("CORE-L-01")))
    args = (f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "--mes-report-json=r.json")
    assert pytester.runpytest(*args).ret == pytest.ExitCode.OK  # the same run, its files written
    monkeypatch.setattr(report, "write_html", disk_full)
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.INTERNAL_ERROR
    result.stdout.fnmatch_lines(["*impossible d'écrire*mes-report.html*No space left on device*"])
    assert json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))["verdict"]["code"] == "conformant"
