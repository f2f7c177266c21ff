"""The results document's JSON Schema, and the writers: the same content, written atomically."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from pytest_mes.report import write_html, write_json, write_testreport
from pytest_mes.report.files import write_atomic
from tests.report.factory import results_document


@pytest.fixture(scope="module")
def schema() -> Draft202012Validator:
    document = json.loads(files("pytest_mes.report").joinpath("results.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(document)
    return Draft202012Validator(document)


def test_a_realistic_document_follows_the_schema(schema):
    errors = [f"{e.json_path}: {e.message}" for e in schema.iter_errors(results_document(tests=30))]
    assert errors == []


def test_what_a_run_may_not_know_is_null(schema):
    """A test set file gone since the run has no title nor hash; a test may state no level."""
    doc = results_document()
    doc["run"]["testsets"][0].update(title=None, sha256=None)
    doc["tests"][0]["level"] = doc["summary"]["rows"][0]["level"] = ""
    doc["tests"][1]["level"] = None
    assert [e.message for e in schema.iter_errors(doc)] == []


@pytest.mark.parametrize(("where", "value", "path"), [
    (("tests", 0, "verdict"), "maybe", "$.tests[0].verdict"),
    (("verdict", "code"), "conforme", "$.verdict.code"),
    (("run", "testsets", 0, "sha256"), "not-a-hash", "$.run.testsets[0].sha256"),
    (("tests", 1, "steps", 2, "checks", 2, "issues", 0, "severity"), "bad",
     "$.tests[1].steps[2].checks[2].issues[0].severity"),
    (("summary", "counts", "failed"), -1, "$.summary.counts.failed"),
])
def test_the_schema_rejects_a_wrong_value_where_it_is(schema, where, value, path):
    doc = results_document()
    node = doc
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    assert [e.json_path for e in schema.iter_errors(doc)] == [path]


def test_write_json_round_trips(tmp_path):
    doc = results_document()
    write_json(doc, tmp_path / "results.json")
    assert json.loads((tmp_path / "results.json").read_text(encoding="utf-8")) == doc


@pytest.mark.parametrize("writer", [write_json, write_html, write_testreport])
def test_an_interrupted_write_leaves_the_previous_file(tmp_path, monkeypatch, writer):
    target = tmp_path / "report"
    target.write_text("previous run", encoding="utf-8")

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        writer(results_document(), target)
    assert target.read_text(encoding="utf-8") == "previous run"
    assert [p.name for p in tmp_path.iterdir()] == ["report"], "no temporary file left behind"


@pytest.mark.parametrize("writer", [write_json, write_html, write_testreport])
def test_text_that_is_not_unicode_is_written_anyway(tmp_path, writer):
    doc = results_document()
    doc["tests"][0]["exchanges"][0]["response_body"] = "caf\udce9"  # a byte the server sent, kept as a surrogate
    doc["tests"][0]["reason"] = "caf\udce9"
    writer(doc, tmp_path / "out")
    assert "caf?" in (tmp_path / "out").read_text(encoding="utf-8")


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_a_report_is_readable_like_any_new_file(tmp_path):
    """The temporary file must not keep a private mode (0600): colleagues and CI servers read the report."""
    previous = os.umask(0o022)
    try:
        write_atomic(tmp_path / "mes-report.html", "x")
    finally:
        os.umask(previous)
    assert (tmp_path / "mes-report.html").stat().st_mode & 0o777 == 0o644


def test_write_atomic_creates_the_folder_and_replaces(tmp_path):
    target = tmp_path / "a" / "b" / "file.txt"
    write_atomic(target, "one")
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two"


def test_the_renderers_need_no_pytest(tmp_path):
    """pytest_mes.report is a library: other tools render a results document without pytest installed."""
    code = ("import sys, json; sys.modules['pytest'] = None\n"
            "from pytest_mes.report import write_html, write_testreport\n"
            "doc = json.load(open(sys.argv[1], encoding='utf-8'))\n"
            "write_html(doc, sys.argv[2]); write_testreport(doc, sys.argv[3])")
    source = tmp_path / "results.json"
    write_json(results_document(), source)
    subprocess.run([sys.executable, "-c", code, str(source), str(tmp_path / "r.html"), str(tmp_path / "tr.json")],
                   check=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    assert (tmp_path / "r.html").stat().st_size > 0 and json.loads((tmp_path / "tr.json").read_text())["test"]


def test_a_process_that_only_records_results_loads_no_renderer():
    """An xdist worker records and labels verdicts but writes no report: the HTML and TestReport renderers and the
    acceptance document load only in the process that writes the reports."""
    code = ("import sys, pytest_mes.reporting, pytest_mes.nodes, pytest_mes.html_extras, pytest_mes.failure\n"
            "print(' '.join(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    loaded = set(done.stdout.split())
    assert "pytest_mes.report.labels" in loaded
    assert not loaded & {"pytest_mes.report.html", "pytest_mes.report.testreport", "pytest_mes.acceptance"}


@pytest.mark.parametrize("writer", [write_json, write_html])
def test_credentials_never_reach_a_report(tmp_path, writer):
    """Even from a document that forgot to mask them: header and variable values with credential-like names."""
    doc = results_document()
    exchange = doc["tests"][1]["exchanges"][0]
    exchange["request_headers"].update({"Authorization": "Bearer s3cr3t-t0ken", "X-Api-Key": "k3y-v4lue"})
    exchange["response_headers"]["Set-Cookie"] = "SESSION=c00kie-v4lue"
    doc["tests"][1]["variables"].update({"client_secret": "cl1ent-s3cret", "partner_api_key": "p4rtner-k3y",
                                         "patient_key": "2750573190123"})
    writer(doc, tmp_path / "out")
    text = (tmp_path / "out").read_text(encoding="utf-8")
    for secret in ("s3cr3t-t0ken", "k3y-v4lue", "c00kie-v4lue", "cl1ent-s3cret", "p4rtner-k3y"):
        assert secret not in text
    assert "2750573190123" in text  # a business key (an INS) is evidence a reviewer reads
    assert doc["tests"][1]["variables"]["client_secret"] == "cl1ent-s3cret", "the caller's document is left as is"
