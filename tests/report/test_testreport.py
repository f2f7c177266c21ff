"""The FHIR R4 TestReport of a run: valid by the project's own validator (R4 core), and faithful to the verdicts."""

from __future__ import annotations

import json

import pytest

from pytest_mes.cli import main
from pytest_mes.report import to_testreport, write_testreport
from tests.fhir.conftest import _isolated_fhir_caches, store, validator  # noqa: F401 (fixtures)
from tests.report.factory import HOSTILE, results_document


def by_name(report: dict, test_id: str) -> dict:
    (test,) = [t for t in report["test"] if t["name"].startswith(test_id + " ")]
    return test


def asserts(test: dict) -> list[dict]:
    return [a["assert"] for a in test["action"] if "assert" in a]


def test_the_testreport_is_valid_r4(validator):  # noqa: F811
    doc = results_document()
    doc["tests"][3]["reason"] = "tab\there\x0bvertical tab and \x00 nul"
    result = validator.validate(to_testreport(doc))
    assert result.valid, str(result)
    assert not result.errors


def test_a_target_that_is_not_a_uri_is_no_participant(validator):  # noqa: F811
    doc = results_document()
    doc["run"]["target"]["base_url"] = "reference sandbox (per xdist worker)"
    report = to_testreport(doc)
    assert "participant" not in report
    assert validator.validate(report).valid


def test_the_validator_would_see_a_broken_testreport(validator):  # noqa: F811
    """Control of the test above: the same report with a wrong code is caught."""
    report = to_testreport(results_document())
    report["test"][0]["action"][1]["assert"]["result"] = "maybe"
    assert not validator.validate(report).valid


def test_mes_validate_finds_no_error(tmp_path, fhir_packages_dir, capsys, monkeypatch):
    monkeypatch.setenv("MES_OFFLINE", "1")
    path = tmp_path / "testreport.json"
    write_testreport(results_document(lang="en"), path)
    assert main(["validate", str(path), "--packages", str(fhir_packages_dir), "--format", "json"]) == 0
    (outcome,) = json.loads(capsys.readouterr().out)
    assert outcome["valid"] is True


def test_run_and_test_results_follow_the_verdicts():
    doc = results_document()
    report = to_testreport(doc)
    assert (report["status"], report["result"]) == ("completed", "fail")
    assert report["participant"] == [{"type": "server", "uri": "http://127.0.0.1:4711/fhir", "display": "Agenda+"}]
    assert report["identifier"]["value"] == f"urn:uuid:{doc['run']['id']}"
    assert report["issued"] == "2026-12-05T17:02:23+00:00"
    assert len(report["test"]) == len(doc["tests"])
    failed = asserts(by_name(report, "PDSM-T-0001"))
    assert [a["result"] for a in failed] == ["pass", "pass", "pass", "fail", "fail"]
    assert "attendu : true ; obtenu : [false]" in failed[3]["message"]
    assert "[3] slot-12" in failed[3]["message"]
    assert "BINDING_REQUIRED" in failed[4]["message"] and "× 180" in failed[4]["message"]
    assert failed[3]["detail"] == "testsets/pdsm/set.yaml:44"
    advisory = asserts(by_name(report, "PDSM-T-0007"))
    assert [a["result"] for a in advisory][-2:] == ["warning", "warning"]
    waived = asserts(by_name(report, "PDSM-T-0010"))
    assert waived[-1]["result"] == "warning" and "Correctif prévu en version 4.3" in waived[-1]["message"]
    incomplete = asserts(by_name(report, "CORE-T-0008"))
    assert incomplete[-1]["result"] == "error" and "non vérifié" in incomplete[-1]["message"]
    assert "paquet ans.fhir.fr.gap#3.0.0 absent" in incomplete[-1]["message"]
    (skipped,) = asserts(by_name(report, "GAP-T-0009"))
    assert skipped["result"] == "skip" and "CapabilityStatement: no Slot" in skipped["message"]
    errored = by_name(report, "CORE-T-0011")
    assert errored["action"][-1]["assert"] == {"result": "error", "message": "step 3: no answer within 30 s"}


def test_an_operation_without_answer_is_an_error():
    doc = results_document()
    exchange = doc["tests"][0]["exchanges"][0]
    exchange.update(status=None, error="no answer within 30 s")
    operation = to_testreport(doc)["test"][0]["action"][0]["operation"]
    assert operation["result"] == "error"
    assert operation["message"].endswith("→ pas de réponse (12 ms) — no answer within 30 s")


@pytest.mark.parametrize(("code", "interrupted", "status", "result"), [
    ("conformant", None, "completed", "pass"),
    ("incomplete", None, "completed", "pending"),
    ("incomplete", "Ctrl-C", "stopped", "pending"),
])
def test_run_status_and_result(code, interrupted, status, result):
    doc = results_document()
    doc["verdict"]["code"] = code
    doc["run"]["interrupted"] = interrupted
    report = to_testreport(doc)
    assert (report["status"], report["result"]) == (status, result)


def test_score_is_the_share_of_run_tests_that_passed():
    doc = results_document()
    counts = doc["summary"]["counts"]
    expected = round(100 * counts["passed"] / (len(doc["tests"]) - counts["skipped"]), 1)
    assert to_testreport(doc)["score"] == expected


def test_english_messages_and_escaped_narrative():
    doc = results_document(lang="en")
    doc["run"]["id"] = HOSTILE
    report = to_testreport(doc)
    assert "expected: true; actual: [false]" in asserts(by_name(report, "PDSM-T-0001"))[3]["message"]
    assert "<script>" not in report["text"]["div"] and "&lt;/script&gt;" in report["text"]["div"]
    assert report["identifier"] == {"value": HOSTILE}
