"""The runner: steps in order, saved values, stop at the first failed step, cleanup always."""

from __future__ import annotations

import json

import pytest
import responses

from pytest_mes.client import ClientSettings, FhirClient
from pytest_mes.errors import TestSetError
from pytest_mes.testset.model import load_testset
from pytest_mes.testset.runner import Runner

BASE = "http://fhir.test/fhir"

SET = """
id: flow
title: Flow
component: core
variables:
  family: Durand
  greeting: "Bonjour {{family}}"
tests:
  - id: FLOW-01
    title: Create then read
    requirements: [{ref: r, level: SHALL}]
    variables: {marker: "{{uuid}}"}
    steps:
      - name: create
        request:
          method: POST
          path: Patient
          body: {resourceType: Patient, name: [{family: "{{family}}"}], identifier: [{value: "{{marker}}"}]}
        checks:
          - status: 201
        save:
          location: {header: Location}
          new_id: {fhirpath: "Patient.id"}
      - name: read
        request: {url: "{{location}}"}
        checks:
          - status: 200
          - fhirpath: {expression: Patient.id, op: equals, value: "{{new_id}}"}
      - name: never reached when read fails
        request: {path: "Patient/{{new_id}}/_history"}
    cleanup:
      - request: {method: DELETE, path: "Patient/{{new_id}}"}
        checks:
          - status: [200, 204]
"""


def make_runner(lang="fr", **overrides):
    return Runner(FhirClient(ClientSettings(BASE)), overrides=overrides, lang=lang)


@responses.activate
def test_saved_values_feed_later_steps_and_cleanup_runs(write_set):
    testset = load_testset(write_set(SET))
    responses.post(f"{BASE}/Patient", status=201, json={"resourceType": "Patient", "id": "p9"},
                   headers={"Location": f"{BASE}/Patient/p9/_history/1"})
    responses.get(f"{BASE}/Patient/p9/_history/1", json={"resourceType": "Patient", "id": "p9"})
    responses.get(f"{BASE}/Patient/p9/_history", json={"resourceType": "Bundle"})
    responses.delete(f"{BASE}/Patient/p9", status=204)
    runner = make_runner()
    result = runner.run_case(testset.tests[0], runner.set_variables(testset))
    assert result.failed_step is None and result.failed_cleanup is None
    assert [s.exchange.url for s in result.steps + result.cleanup] == [
        f"{BASE}/Patient", f"{BASE}/Patient/p9/_history/1", f"{BASE}/Patient/p9/_history", f"{BASE}/Patient/p9"]
    created = responses.calls[0].request
    body = created.body.decode()
    assert '"family": "Durand"' in body and "{{" not in body


@responses.activate
def test_a_failed_step_stops_the_test_but_not_the_cleanup(write_set):
    testset = load_testset(write_set(SET))
    responses.post(f"{BASE}/Patient", status=201, json={"resourceType": "Patient", "id": "p9"},
                   headers={"Location": f"{BASE}/Patient/p9"})
    responses.get(f"{BASE}/Patient/p9", status=500, body="boom", content_type="text/plain")
    responses.delete(f"{BASE}/Patient/p9", status=200)
    runner = make_runner()
    result = runner.run_case(testset.tests[0], runner.set_variables(testset))
    assert result.failed_step.step.name == "read"
    assert [c.label for c in result.failed_step.checks if c.failed] == ["statut", "fhirpath Patient.id"]
    assert len(result.steps) == 2 and len(result.cleanup) == 1 and not result.cleanup[0].failed


@responses.activate
def test_a_value_that_cannot_be_saved_fails_the_step(write_set):
    testset = load_testset(write_set(SET))
    responses.post(f"{BASE}/Patient", status=201, json={"resourceType": "Patient", "id": "p9"})
    responses.delete(f"{BASE}/Patient/%7B%7Bnew_id%7D%7D", status=404)
    runner = make_runner()
    result = runner.run_case(testset.tests[0], runner.set_variables(testset))
    assert result.failed_step.error == "save 'location' : la réponse n'a pas d'en-tête Location"
    # new_id was never saved, so there is nothing to clean: the cleanup step is skipped, not failed.
    assert result.cleanup[0].skipped.startswith("non exécutée, rien à nettoyer : variable inconnue {{new_id}} ; "
                                                "variables connues : base_url")
    assert result.failed_cleanup is None
    english = make_runner("en")
    result = english.run_case(testset.tests[0], english.set_variables(testset))
    assert result.failed_step.error == "save 'location': the response has no Location header"
    assert result.cleanup[0].skipped.startswith("not run, nothing to clean: unknown variable {{new_id}}")


def test_overrides_replace_set_defaults_and_later_defaults_see_them(write_set):
    testset = load_testset(write_set(SET))
    variables = make_runner(family="Martin", extra="1").set_variables(testset)
    assert variables["family"] == "Martin" and variables["greeting"] == "Bonjour Martin"
    assert variables["extra"] == "1" and variables["base_url"] == BASE


@responses.activate
def test_saved_fhirpath_sees_the_variables(write_set):
    testset = load_testset(write_set("""
id: vars
title: Vars
component: core
variables: {wanted: s2}
tests:
  - id: V-01
    title: t
    requirements: [{ref: r, level: SHALL}]
    steps:
      - request: {path: Slot}
        save: {found: {fhirpath: "Bundle.entry.resource.where(id = %wanted).id"}}
"""))
    responses.get(f"{BASE}/Slot", json={"resourceType": "Bundle", "entry": [
        {"resource": {"resourceType": "Slot", "id": "s1"}}, {"resource": {"resourceType": "Slot", "id": "s2"}}]})
    runner = make_runner()
    result = runner.run_case(testset.tests[0], runner.set_variables(testset))
    assert result.steps[0].saved == {"found": "s2"}


@responses.activate
def test_secret_environment_values_are_masked(write_set, monkeypatch):
    monkeypatch.setenv("PARTNER_API_KEY", "very-secret-value")
    testset = load_testset(write_set(SET.replace("path: Patient\n", "path: \"Patient?k={{env.PARTNER_API_KEY}}\"\n")))
    responses.post(f"{BASE}/Patient", status=500)
    runner = make_runner()
    result = runner.run_case(testset.tests[0], runner.set_variables(testset))
    assert result.steps[0].exchange.url == f"{BASE}/Patient?k=***"
    assert responses.calls[0].request.url == f"{BASE}/Patient?k=very-secret-value"


@responses.activate
def test_a_save_rule_uses_the_ones_before_it_even_without_a_body(write_set):
    testset = load_testset(write_set("""
id: loc
title: Loc
component: core
tests:
  - id: L-01
    title: t
    requirements: [{ref: r, level: SHALL}]
    steps:
      - request: {method: POST, path: Patient, body: {resourceType: Patient}}
        save:
          location: {header: Location}
          pid: {fhirpath: "%location.replaceMatches('^.*Patient/([^/]+).*$', '$1')"}
"""))
    responses.post(f"{BASE}/Patient", status=201, headers={"Location": f"{BASE}/Patient/p7/_history/1"})
    runner = make_runner()
    result = runner.run_case(testset.tests[0], runner.set_variables(testset))
    assert result.steps[0].error is None
    assert result.steps[0].saved == {"location": f"{BASE}/Patient/p7/_history/1", "pid": "p7"}


@responses.activate
@pytest.mark.parametrize(("body", "content_type", "said"), [
    ("<html>proxy error</html>", "text/html", "n'est pas un JSON valide"),
    # A JSON array or null is no resource: said so, not 'found nothing' or a FHIRPath error.
    ("[]", "application/fhir+json", "n'est pas une ressource FHIR (un objet JSON) : []"),
    ("null", "application/fhir+json", "n'est pas une ressource FHIR (un objet JSON) : null"),
])
def test_a_save_rule_on_the_body_says_the_body_is_not_json_even_with_a_variable_inside(write_set, body, content_type,
                                                                                       said):
    """`where(id = %wanted)` reads the body: an HTML answer is said to be one, not a FHIRPath puzzle."""
    testset = load_testset(write_set("""
id: html
title: Html
component: core
variables: {wanted: p7}
tests:
  - id: H-01
    title: t
    requirements: [{ref: r, level: SHALL}]
    steps:
      - request: {method: GET, path: Patient}
        save:
          pid: {fhirpath: "Bundle.entry.resource.where(id = %wanted).id"}
"""))
    responses.get(f"{BASE}/Patient", status=200, body=body, content_type=content_type)
    runner = make_runner()
    result = runner.run_case(testset.tests[0], runner.set_variables(testset))
    assert said in (result.steps[0].error or ""), result.steps[0].error


@responses.activate
def test_the_words_checks_add_are_in_the_runner_language(write_set):
    testset = load_testset(write_set("""
id: words
title: Words
component: core
tests:
  - id: WORDS-01
    title: Free slots
    requirements: [{ref: r, level: SHALL}]
    steps:
      - request: {path: Slot}
        checks:
          - fhirpath: "Bundle.entry.all(resource.status = 'free')"
"""))
    responses.get(f"{BASE}/Slot", json={"resourceType": "Bundle", "type": "searchset", "entry": [
        {"resource": {"resourceType": "Slot", "id": "s1", "status": "busy"}}]})
    actual = {lang: Runner(FhirClient(ClientSettings(BASE)), lang=lang).run_case(testset.tests[0], {})
              .failed_step.checks[0].actual for lang in ("fr", "en")}
    assert actual == {"fr": "faux pour 1 des 1 éléments de Bundle.entry : [0] id=s1",
                      "en": "false for 1 of 1 items of Bundle.entry: [0] id=s1"}


BODY_FILE_SET = """
id: files
title: Files
component: core
variables: {family: Durand}
tests:
  - id: FILE-01
    title: Create from a file
    requirements: [{ref: r, level: SHALL}]
    steps:
      - request: {method: POST, path: Patient, body_file: patient.json}
        checks:
          - status: 201
"""


@responses.activate
def test_a_json_body_file_saved_with_a_byte_order_mark_is_sent(write_set):
    """Windows editors often start UTF-8 files with a BOM: it is no part of the JSON."""
    path = write_set(BODY_FILE_SET)
    (path.parent / "patient.json").write_bytes(b'\xef\xbb\xbf{"resourceType": "Patient", "name": [{"family": '
                                               b'"{{family}}"}]}\r\n')
    testset = load_testset(path)
    responses.post(f"{BASE}/Patient", status=201, json={"resourceType": "Patient", "id": "p1"})
    runner = make_runner()
    result = runner.run_case(testset.tests[0], runner.set_variables(testset))
    assert result.failed_step is None, result.steps[0].error
    assert json.loads(responses.calls[0].request.body) == {"resourceType": "Patient", "name": [{"family": "Durand"}]}


def test_a_json_body_file_that_is_not_json_fails_collection_at_its_line(write_set):
    path = write_set(BODY_FILE_SET)
    (path.parent / "patient.json").write_text('{\n  "resourceType": "Patient",\n  "name": [{"family": "x"}\n}\n')
    with pytest.raises(TestSetError) as info:
        load_testset(path)
    assert info.value.path.endswith("patient.json") and info.value.line == 4
    assert "not valid JSON" in info.value.detail
