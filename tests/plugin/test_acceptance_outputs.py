"""Every output of a run renders the same records: terminal, acceptance file, JSON, TestReport, JUnit, pytest-html.
Secrets never reach any of them; pytest-xdist keeps every record, in collection order."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from tests.plugin.conftest import a_set, read_test
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


def test_a_run_interrupted_still_writes_its_report_saying_so(pytester, add_set, server):
    tests = read_test("CORE-I-01", path="Patient/9", checks="- status: 200") + read_test("CORE-I-02")
    add_set(a_set(tests=tests))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "-x",
                                "--mes-report-json=r.json", "--mes-report=r.html")
    assert result.ret == 1
    document = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))
    assert document["run"]["interrupted"].startswith("stopped early")
    assert document["verdict"]["code"] == "non-conformant"
    assert (pytester.path / "r.html").stat().st_size > 1000
    assert not list(pytester.path.glob(".r.*.part"))  # written atomically: no half file left behind
