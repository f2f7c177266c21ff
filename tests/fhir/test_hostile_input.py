"""Any input gives issues, never a traceback: nesting deeper than Python's stack, huge arrays and
numbers, invalid UTF-8, XML entities — through the validator, ``mes validate`` and a test's checks."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_mes.cli import main
from pytest_mes.client import Exchange
from pytest_mes.fhir.jsonread import TooDeep, loads_checked
from pytest_mes.fhir.walk import MAX_DEPTH, Walk
from pytest_mes.testset.checks import CheckContext, run_check
from pytest_mes.testset.model import Check


def nested_items(depth: int) -> dict:
    """A Questionnaire whose items nest `depth` deep (two JSON levels each), built without recursion."""
    item: dict = {"linkId": "leaf", "type": "string"}
    for i in range(depth):
        item = {"linkId": f"g{i}", "type": "group", "item": [item]}
    return {"resourceType": "Questionnaire", "status": "draft", "item": [item]}


def nested_extensions(depth: int) -> dict:
    ext: dict = {"url": "http://example.org/leaf", "valueString": "x"}
    for _ in range(depth):
        ext = {"url": "http://example.org/complex", "extension": [ext]}
    return {"resourceType": "Patient", "extension": [ext]}


def extensions_text(depth: int) -> str:
    """The JSON text of nested_extensions(depth), written without recursion."""
    opening = '{"url": "http://example.org/complex", "extension": ['
    return ('{"resourceType": "Patient", "extension": [' + opening * depth
            + '{"url": "http://example.org/leaf", "valueString": "x"}' + "]}" * depth + "]}")


def deep_text(depth: int) -> str:
    return '{"resourceType": "Patient", "extension": ' + "[" * depth + "]" * depth + "}"


def at_depth(frames: int, fn):
    """Call `fn` under `frames` Python frames: as pytest, the plugin and the runner do in a test run."""
    if frames == 0:
        return fn()
    return at_depth(frames - 1, fn)


@pytest.mark.parametrize("text", [deep_text(5_000), deep_text(100_000), extensions_text(1_000), "[" * 100_000],
                         ids=["arrays", "arrays-100k", "objects", "unclosed"])
def test_json_nested_deeper_than_the_stack_is_too_deep_not_a_recursion_error(text):
    with pytest.raises(TooDeep):  # a ValueError: callers that say "not JSON" keep working
        loads_checked(text)


@pytest.mark.parametrize("build", [nested_items, nested_extensions])
@pytest.mark.parametrize("depth", [400, 2_000])
@pytest.mark.parametrize("frames", [0, 600])
def test_a_walk_deeper_than_the_stack_gives_one_fatal_issue(validator, build, depth, frames):
    result = at_depth(frames, lambda: validator.validate(build(depth)))
    assert [(i.severity, i.message_id) for i in result.issues] == [("fatal", "TOO_DEEP")]
    assert not result.valid
    # The validator is still sound afterwards: the same shape, shallow, validates as usual.
    assert validator.validate(build(3)).issues != result.issues


@pytest.mark.parametrize("build", [nested_items, nested_extensions])
def test_the_walk_counts_its_depth_whatever_the_stack_allows(validator, build):
    """Compiled (hatch_build.py), the walk has no Python recursion limit: MAX_DEPTH stops it before the C stack
    overflows. With a limit high enough for the pure-Python walk to go on, both stop at the same depth."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(50_000)
    try:
        beyond = validator.validate(build(MAX_DEPTH + 5))
        within = validator.validate(build(MAX_DEPTH - 10))
    finally:
        sys.setrecursionlimit(limit)
    assert [i.message_id for i in beyond.issues] == ["TOO_DEEP"]
    assert "TOO_DEEP" not in {i.message_id for i in within.issues} and within.issues
    # The message says where the limit is and what is likely wrong with the document
    assert f"plus de {MAX_DEPTH} objets" in beyond.issues[0].message and "en boucle" in beyond.issues[0].message


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(depth=st.integers(min_value=1, max_value=1_500), shape=st.sampled_from(["items", "extensions", "arrays"]))
def test_any_nesting_depth_gives_issues(validator, depth, shape):
    if shape == "arrays":
        try:
            resource, _ = loads_checked(deep_text(depth))
        except TooDeep:
            return
    else:
        resource = nested_items(depth) if shape == "items" else nested_extensions(depth)
    result = validator.validate(resource)
    assert all(i.severity in ("fatal", "error", "warning", "information") for i in result.issues)
    result.to_operation_outcome()


def test_a_missing_node_in_the_walk_is_an_attribute_error_not_a_crash(validator):
    """Compiled, the walk's nodes are C types (walk.pxd): a None in their place must raise as in Python
    (hatch_build.py's nonecheck), not read through a null pointer and kill the process."""
    walk = Walk(validator)
    node = validator.definitions.type_schema("Patient").root
    with pytest.raises(AttributeError):
        walk.check_count(node, None, 0, "Patient")
    with pytest.raises(AttributeError):
        walk.check_item(None, {}, None, "HumanName", "Patient.name[0]")


def test_huge_arrays_are_validated_item_by_item(validator):
    given_names = ["Jean"] * 50_000 + [""]
    result = validator.validate({"resourceType": "Patient", "name": [{"given": given_names}]})
    assert ("error", "EMPTY_STRING", "Patient.name[0].given[50000]") in {
        (i.severity, i.message_id, i.expression) for i in result.issues}


@pytest.mark.parametrize("value", [10**30, -(10**30), 10**4000])
def test_huge_integers_are_out_of_range(validator, value):
    result = validator.validate({"resourceType": "Patient", "multipleBirthInteger": value})
    issue = next(i for i in result.errors if i.message_id == "INTEGER_RANGE")
    assert issue.expression == "Patient.multipleBirth.ofType(integer)"
    assert len(issue.message) < 200  # the value is cut in the message


@pytest.mark.parametrize("text", ["1e400", "-1e400"])
def test_a_decimal_beyond_a_double_is_not_a_number(validator, text):
    observation, _ = loads_checked('{"resourceType": "Observation", "status": "final", "code": {"text": "x"}, '
                                   f'"valueQuantity": {{"value": {text}}}}}')
    result = validator.validate(observation)
    assert any(i.message_id == "BAD_FORMAT" and i.expression == "Observation.value.ofType(Quantity).value"
               for i in result.errors), result


# ---- mes validate ---------------------------------------------------------------------------------
BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE Patient [<!ENTITY a "aaaaaaaaaa">'
    + "".join(f'<!ENTITY {chr(98 + i)} "' + f"&{chr(97 + i)};" * 10 + '">' for i in range(9))
    + ']><Patient xmlns="http://hl7.org/fhir"><id value="&j;"/></Patient>'
)


@pytest.mark.parametrize(
    ("content", "message_id", "text"),
    [
        (deep_text(5_000).encode(), "TOO_DEEP", "trop profondément imbriqué"),
        (extensions_text(300).encode(), "TOO_DEEP", "trop profondément imbriqué"),
        (b'{"resourceType": "Patient", "multipleBirthInteger": ' + b"9" * 5_000 + b"}", "NOT_JSON", "JSON illisible"),
        (b'{"resourceType": "Patient", "id": "\xff\xfe"}', "NOT_JSON", "JSON illisible"),
        (b'<Patient xmlns="http://hl7.org/fhir"><id value="\xff"/></Patient>', "NOT_JSON", "XML illisible"),
        (BILLION_LAUGHS.encode(), "NOT_JSON", "XML illisible"),
        (b'<!DOCTYPE Patient [<!ENTITY x SYSTEM "file:///etc/passwd">]><Patient xmlns="http://hl7.org/fhir">'
         b'<id value="&x;"/></Patient>', "NOT_JSON", "XML illisible"),
    ],
    ids=["deep-json", "deep-walk", "huge-integer", "invalid-utf8", "invalid-utf8-xml", "billion-laughs", "xxe"],
)
def test_mes_validate_reports_hostile_files_as_not_validated(capsys, tmp_path, fhir_packages_dir, content,
                                                             message_id, text):
    path = tmp_path / "hostile.json"
    path.write_bytes(content)
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps({"resourceType": "Basic", "code": {"text": "x"}}), encoding="utf-8")
    code = main(["validate", str(path), str(ok), "--packages", str(fhir_packages_dir), "--offline",
                 "--format", "json"])
    out = capsys.readouterr()
    assert code == 2, out.err
    assert "Traceback" not in out.err
    report = {Path(r["file"]).name: r for r in json.loads(out.out)}
    issue = report["hostile.json"]["outcome"]["issue"][0]
    assert issue["severity"] == "fatal"
    assert issue["extension"][0]["valueString"] == message_id
    assert text in issue["details"]["text"]
    assert report["ok.json"]["valid"]  # the other files are still validated


# ---- a test run's checks --------------------------------------------------------------------------
def exchange(body: bytes) -> Exchange:
    return Exchange("GET", "http://x/fhir/Patient/1", {}, None, "now", status=200, reason="OK",
                    response_headers={"Content-Type": "application/fhir+json"}, body=body, elapsed_ms=1.0)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (deep_text(5_000).encode(), "JSON trop imbriqué"),
        (b'{"resourceType": "Patient", "multipleBirthInteger": ' + b"9" * 5_000 + b"}", "n'est pas un JSON valide"),
        (b'{"resourceType": "Patient", "id": "\xff"}', "n'est pas en UTF-8, l'encodage qu'exige FHIR (octet 0xff"),
    ],
    ids=["deep", "huge-integer", "invalid-utf8"],
)
def test_checks_on_an_unreadable_body_fail_with_the_reason(body, why):
    for kind, spec in (("resource_type", "Patient"), ("fhirpath", "Patient.id.exists()")):
        result = run_check(Check(kind, spec), CheckContext(exchange(body), {}))
        assert result.outcome == "failed"
        assert why in result.actual


def test_conforms_to_on_a_walk_deeper_than_the_stack_is_not_checked(validator):
    body = extensions_text(300).encode()  # readable JSON, too deep to walk
    result = at_depth(300, lambda: run_check(Check("conforms_to", "http://hl7.org/fhir/StructureDefinition/Patient"),
                                             CheckContext(exchange(body), {}, validator=validator)))
    assert result.outcome == "not_checked"
    assert "trop profondément" in result.actual


def test_a_fhirpath_result_too_deep_to_evaluate_is_a_check_not_made_without_a_traceback():
    ex = exchange(extensions_text(200).encode())
    assert ex.parsed[1] is None  # readable here; the check below runs with little stack left, as in a deep run
    result = at_depth(700, lambda: run_check(Check("fhirpath", {"expression": "Patient.extension", "op": "equals",
                                                                  "value": 1}), CheckContext(ex, {})))
    assert result.outcome == "not_checked"  # neither passed nor the server's failure: the run says incomplet
    assert result.actual.startswith("non vérifié : ")


def test_nesting_deeper_than_the_stack_is_a_fatal_issue_not_a_crash(validator):
    extension: dict = {"url": "urn:x", "valueString": "fin"}
    for _ in range(3000):
        extension = {"url": "urn:x", "extension": [extension]}
    result = validator.validate({"resourceType": "Patient", "extension": [extension]})
    assert [(i.severity, i.message_id) for i in result.issues] == [("fatal", "TOO_DEEP")]
