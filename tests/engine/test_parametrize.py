"""Data-driven tests: a `parametrize` table makes one test per case, its values as variables, its id in the
test id and title; a malformed table fails at load with the line of the case."""

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
id: demo
title: Demo
component: gap
tests:
  - id: GAP-X-01
    title: {fr: "Le paramètre {{param}} filtre", en: "The {{param}} parameter filters"}
    requirements:
      - ref: "GAP flux 4b"
        level: SHALL
        transaction: GAP-4b
        capability: {actor: GAP-GestionnaireAgenda, resource: Appointment, search: "{{param}}"}
    variables: {expected: "{{value}}"}
    parametrize:
      - {id: priority-match, param: priority, value: "5"}
      - {id: status-match, param: status, value: booked}
    steps:
      - request: {path: Appointment, params: {"{{param}}": "{{value}}"}}
        checks:
          - status: 200
          - fhirpath: {expression: "Bundle.entry.resource.ofType(Appointment).id", op: equals, value: "{{expected}}"}
  - id: GAP-X-02
    title: Sans gabarit
    requirements: [{ref: r, level: SHOULD}]
    parametrize:
      - {code: SM54, exact: true}
      - {code: "a b/c", exact: false}
    steps:
      - request: {path: metadata}
"""


def test_each_case_is_a_test_with_its_id_title_and_values(write_set):
    tests = load_testset(write_set(SET)).tests
    assert [t.id for t in tests] == ["GAP-X-01[priority-match]", "GAP-X-01[status-match]",
                                     "GAP-X-02[SM54-true]", "GAP-X-02[a_b_c-false]"]
    first = tests[0]
    assert first.case == "priority-match" and first.line == 5
    assert (first.title.fr, first.title.en) == ("Le paramètre priority filtre", "The priority parameter filters")
    assert first.variables == {"param": "priority", "value": "5", "expected": "{{value}}"}
    covers = first.requirements[0].covers[0]
    assert (covers.resource, covers.search) == ("Appointment", "priority")
    assert tests[1].requirements[0].covers[0].search == "status"
    # A title without placeholders shows the case id.
    assert tests[2].title.fr == "Sans gabarit [SM54-true]" and tests[2].variables == {"code": "SM54", "exact": True}


@responses.activate
def test_the_case_values_reach_the_request_and_the_checks(write_set):
    test = load_testset(write_set(SET)).tests[1]
    responses.get(f"{BASE}/Appointment?status=booked",
                  json={"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Appointment",
                                                                          "id": "other"}}]})
    result = Runner(FhirClient(ClientSettings(BASE))).run_case(test, {})
    step = result.failed_step
    assert step is not None and responses.calls[0].request.url.endswith("/Appointment?status=booked")
    failed = [c for c in step.checks if c.failed]
    assert len(failed) == 1 and "booked" in str(failed[0].expected)


@pytest.mark.parametrize(("case", "message"), [
    ("      - {id: a, param: priority, value: x}\n      - {id: b, param: status}",
     r"set.yaml:30:9: case 'b' has no 'value': every case of a parametrize table gives the same variables"),
    ("      - {id: a, param: priority, value: x}\n      - {id: b, param: status, value: y, more: 1}",
     r"set.yaml:30:9: case 'b' has 'more', which case 'a' has not"),
    ("      - {id: a, param: priority, value: x}\n      - {id: a, param: status, value: y}",
     r"set.yaml:30:9: case id 'a' is used twice \(first at line 29\)"),
    ("      - {id: a, param: priority, value: x, expected: z}",
     r"set.yaml:29:9: case 'a': variable 'expected' is set by the case and by the test's variables"),
    ("      - {id: a, param: priorty, value: x}",
     r"set.yaml:29:9: case 'a': capability: unknown search parameter 'priorty' on Appointment"),
])
def test_a_malformed_table_names_the_case_and_its_line(write_set, catalogue, case, message):
    table = ("      - {id: priority-match, param: priority, value: \"5\"}\n"
             "      - {id: status-match, param: status, value: booked}")
    path = write_set("\n".join(["# padding"] * 15) + "\n" + SET.strip().replace(table, case))
    with pytest.raises(TestSetError, match=message):
        load_testset(path, catalogue=catalogue)


def test_a_case_with_a_bad_id_is_a_schema_error(write_set):
    path = write_set(SET.replace("id: priority-match", "id: 'priority match'"))
    with pytest.raises(TestSetError, match=r"tests\[0\]\.parametrize\[0\]\.id: \"priority match\" does not match"):
        load_testset(path)


def test_an_unknown_flow_gets_a_did_you_mean(write_set):
    with pytest.raises(TestSetError, match=r"unknown flow or transaction 'GAP-4B' — did you mean 'GAP-4b'\?"):
        load_testset(write_set(SET.replace("transaction: GAP-4b", "transaction: GAP-4B")))


DEFERRED = """
id: d
title: D
component: core
tests:
  - id: CORE-D-01
    title: A body naming the id the test creates
    requirements: [{ref: r, level: SHALL}]
    parametrize:
      - {id: ok, body: {resourceType: Patient, id: "{{new_id}}"}}
    steps:
      - request: {method: POST, path: Patient, body: {resourceType: Patient}}
        save: {new_id: {fhirpath: Patient.id}}
      - request: {method: PUT, path: "Patient/{{new_id}}", body: "{{body}}"}
"""


@responses.activate
def test_a_case_value_may_use_a_value_the_steps_save(write_set):
    (ok,) = load_testset(write_set(DEFERRED)).tests
    responses.post(f"{BASE}/Patient", status=201, json={"resourceType": "Patient", "id": "p7"})
    responses.put(f"{BASE}/Patient/p7", json={"resourceType": "Patient", "id": "p7"})
    runner = Runner(FhirClient(ClientSettings(BASE)))
    assert runner.run_case(ok, {}).failed_step is None
    assert json.loads(responses.calls[1].request.body) == {"resourceType": "Patient", "id": "p7"}
