"""Loading test sets: YAML errors and schema violations name file, line, column, key path and a fix."""

from __future__ import annotations

import pytest

from pytest_mes.errors import TestSetError
from pytest_mes.testset.model import load_testset

MINIMAL = """
id: demo
title: {fr: Démo, en: Demo}
component: core
tests:
  - id: CORE-X-01
    title: Lecture
    requirements: [{ref: "FHIR R4 http.html#read", level: SHALL}]
    steps:
      - request: {path: metadata}
        checks:
          - status: 200
"""


def test_a_minimal_set_loads_with_its_lines(write_set):
    testset = load_testset(write_set(MINIMAL))
    test = testset.tests[0]
    assert (testset.id, testset.component, test.id, test.level) == ("demo", "core", "CORE-X-01", "SHALL")
    assert test.line == 5
    step = test.steps[0]
    assert (step.line, step.end_line, step.name) == (9, 11, "GET metadata")
    assert step.checks[0].kind == "status" and step.checks[0].line == 11
    assert testset.title.get("en") == "Demo" and testset.title.get("fr") == "Démo"


def test_invalid_yaml_names_line_and_column(write_set):
    path = write_set("id: demo\ntitle: [unclosed\ncomponent: core\n")
    with pytest.raises(TestSetError) as info:
        load_testset(path)
    error = info.value
    assert error.path == str(path) and error.line == 3
    assert str(error).startswith(f"{path}:3:") and "invalid YAML" in str(error)


def test_duplicate_keys_are_refused(write_set):
    path = write_set(MINIMAL.replace("component: core", "component: core\ncomponent: gap"))
    with pytest.raises(TestSetError, match=r"duplicate key 'component' \(first at line 3\)") as info:
        load_testset(path)
    assert info.value.line == 4


def test_misspelled_key_gets_a_did_you_mean_with_its_line(write_set):
    path = write_set(MINIMAL.replace("        checks:", "        chekcs:"))
    with pytest.raises(TestSetError) as info:
        load_testset(path)
    message = str(info.value)
    assert f"{path}:10:9: tests[0].steps[0]: unknown key 'chekcs' — did you mean 'checks'?" in message


def test_every_violation_is_listed_not_only_the_first(write_set):
    text = MINIMAL.replace("component: core", "component: gapp").replace("level: SHALL", "level: MUST")
    with pytest.raises(TestSetError) as info:
        load_testset(write_set(text))
    message = str(info.value)
    assert "2 problems" in message
    assert "component: \"gapp\" is not one of: gap, pdsm, core — did you mean 'gap'?" in message
    assert "tests[0].requirements[0].level: \"MUST\" is not one of: SHALL, SHOULD, MAY" in message


def test_missing_required_keys_are_named(write_set):
    with pytest.raises(TestSetError, match=r"\(top level\): missing required key 'component'"):
        load_testset(write_set(MINIMAL.replace("component: core\n", "")))


def test_several_missing_keys_are_one_problem_said_once(write_set, tmp_path):
    """jsonschema reports each missing key apart; the message names them together, once."""
    path = tmp_path / "bare.yaml"
    path.write_text("id: bare\ntitle: Bare\ncomponent: core\ntests:\n  - id: X-01\n", encoding="utf-8")
    with pytest.raises(TestSetError) as info:
        load_testset(path)
    message = str(info.value)
    assert "(1 problem;" in message
    assert message.count("missing required key 'title', 'requirements', 'steps'") == 1


def test_wrong_type_says_what_was_expected(write_set):
    with pytest.raises(TestSetError, match=r"tests\[0\]\.steps: expected a list, got a string"):
        load_testset(write_set(MINIMAL.replace("    steps:\n", "    steps: oops\n    x_steps:\n")))


def test_a_check_holds_exactly_one_kind(write_set):
    path = write_set(MINIMAL.replace("- status: 200", "- status: 200\n            resource_type: Patient"))
    with pytest.raises(TestSetError, match="a check holds exactly one of status, header") as info:
        load_testset(path)
    assert info.value.line == 11


def test_fhirpath_syntax_is_checked_at_collection(write_set):
    path = write_set(MINIMAL.replace("- status: 200", "- fhirpath: \"Bundle.entry.(\""))
    with pytest.raises(TestSetError, match=r"invalid FHIRPath expression 'Bundle.entry.\(': column 14") as info:
        load_testset(path)
    assert info.value.line == 11


def test_comparison_without_value_is_refused(write_set):
    path = write_set(MINIMAL.replace("- status: 200", "- fhirpath: {expression: Bundle.total, op: '>='}"))
    with pytest.raises(TestSetError, match="operator '>=' needs a 'value'"):
        load_testset(path)


def test_body_file_must_exist_next_to_the_set(write_set):
    path = write_set(MINIMAL.replace("{path: metadata}", "{method: POST, path: Patient, body_file: p.json}"))
    with pytest.raises(TestSetError, match=r"body file 'p\.json' not found") as info:
        load_testset(path)
    assert info.value.line == 9
    (path.parent / "p.json").write_text('{"resourceType": "Patient"}')
    assert load_testset(path).tests[0].steps[0].request.body_file == path.parent / "p.json"


@pytest.mark.parametrize(("name", "make", "said"), [
    ("folder.json", lambda p: p.mkdir(), r"body file 'folder\.json' is a folder, not a file"),
    ("latin1.xml", lambda p: p.write_bytes("<Patient><name value='Hélène'/></Patient>".encode("latin-1")),
     r"body file 'latin1\.xml' is not UTF-8 text \(invalid continuation byte at byte 23\): save it as UTF-8"),
], ids=["a folder", "not UTF-8"])
def test_a_body_file_that_cannot_be_sent_is_said_at_load_naming_it(write_set, name, make, said):
    """Not at run time, as an error of the test without the file's name."""
    path = write_set(MINIMAL.replace("{path: metadata}", f"{{method: POST, path: Patient, body_file: {name}}}"))
    make(path.parent / name)
    with pytest.raises(TestSetError, match=said) as info:
        load_testset(path)
    assert info.value.line == 9


def test_path_and_url_together_are_refused(write_set):
    with pytest.raises(TestSetError, match=r"'path' and 'url'.*cannot be used together"):
        load_testset(write_set(MINIMAL.replace("{path: metadata}", "{path: metadata, url: 'http://x/metadata'}")))


def test_duplicate_test_ids_are_refused(write_set):
    doubled = MINIMAL + MINIMAL[MINIMAL.index("  - id: CORE-X-01"):]
    with pytest.raises(TestSetError, match="test id 'CORE-X-01' is used twice"):
        load_testset(write_set(doubled))


@pytest.mark.parametrize(
    ("request_yaml", "writes"),
    [
        ("{path: metadata}", False),
        ("{method: POST, path: Patient, body: {resourceType: Patient}}", True),
        ("{method: POST, path: DocumentReference/_search}", False),
        ("{method: DELETE, path: Patient/1}", True),
        ("{method: PATCH, url: 'http://x/fhir/DocumentReference?identifier=a|b'}", True),
    ],
)
def test_writes_are_inferred_from_methods(write_set, request_yaml, writes):
    testset = load_testset(write_set(MINIMAL.replace("{path: metadata}", request_yaml)))
    assert testset.tests[0].writes is writes


def test_set_setup_that_writes_makes_every_test_a_writer(write_set):
    text = MINIMAL.replace("tests:", "setup:\n  - request: {method: POST, path: Patient, body: {}}\ntests:")
    testset = load_testset(write_set(text))
    assert testset.setup and testset.tests[0].writes


def test_empty_and_non_utf8_files(write_set, tmp_path):
    with pytest.raises(TestSetError, match="the file is empty"):
        load_testset(write_set("# nothing\n"))
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"id: \xff\xfe")
    with pytest.raises(TestSetError, match="not UTF-8"):
        load_testset(binary)


def test_yaml_values_mean_what_a_fhir_author_means(write_set):
    text = MINIMAL.replace("{path: metadata}", "{path: metadata, params: {birthdate: 1970-01-01, "
                                               "telecom: 0612345670, flag: no, count: 10, ok: true}}")
    params = dict(load_testset(write_set(text)).tests[0].steps[0].request.params)
    assert params == {"birthdate": "1970-01-01", "telecom": "0612345670", "flag": "no", "count": 10, "ok": True}


def test_recursive_anchor_is_a_clear_error(write_set):
    with pytest.raises(TestSetError, match="an alias refers to itself"):
        load_testset(write_set(MINIMAL.replace("component: core", "component: core\nvariables: &v {self: *v}")))


def test_x_keys_hold_anchors(write_set):
    text = "x-status: &ok {status: 200}\n" + MINIMAL.replace("- status: 200", "- *ok")
    assert load_testset(write_set(text)).tests[0].steps[0].checks[0].spec == 200


def test_shapes_and_case_are_explained(write_set):
    text = (MINIMAL.replace("component: core", "component: GAP").replace("- status: 200", "- status: \"200\"")
            .replace("level: SHALL", "level: shall"))
    with pytest.raises(TestSetError) as info:
        load_testset(write_set(text))
    message = str(info.value)
    assert "component: \"GAP\" is not one of: gap, pdsm, core — did you mean 'gap'?" in message
    assert "level: \"shall\" is not one of: SHALL, SHOULD, MAY — did you mean 'SHALL'?" in message
    assert "status: expected a whole number or a list of whole numbers, got a string \"200\"" in message


def test_misspelled_key_inside_an_alternative_shape(write_set):
    with pytest.raises(TestSetError, match="fhirpath: unknown key 'expresion' — did you mean 'expression'"):
        load_testset(write_set(MINIMAL.replace("- status: 200", "- fhirpath: {expresion: Bundle.total}")))


def test_save_fhirpath_is_checked_at_collection(write_set):
    text = MINIMAL.replace("- status: 200", "- status: 200\n        save: {x: {fhirpath: 'Bundle.entry[0'}}")
    with pytest.raises(TestSetError, match="invalid FHIRPath expression"):
        load_testset(write_set(text))


def test_resource_level_preconditions_need_a_resource(write_set):
    text = MINIMAL.replace("    steps:", "    preconditions: [{capability: {interaction: read}}]\n    steps:")
    with pytest.raises(TestSetError, match="interaction belongs to a resource: add 'resource: <Type>'"):
        load_testset(write_set(text))


def test_steps_know_the_ig_of_their_set(write_set):
    specs = ("specifications:\n  - {name: FHIR R4, package: hl7.fhir.r4.core, version: 4.0.1}\n"
             "  - {name: GAP, package: ans.fhir.fr.gap, version: 3.0.0}\n")
    testset = load_testset(write_set(MINIMAL.replace("tests:", specs + "tests:")))
    assert testset.tests[0].steps[0].package == "ans.fhir.fr.gap#3.0.0"
    assert load_testset(write_set(MINIMAL, "plain.yaml")).tests[0].steps[0].package is None


def test_an_unknown_variable_is_found_at_load_with_its_line_and_did_you_mean(write_set):
    text = MINIMAL.replace("tests:", "variables: {patient_id: '1'}\ntests:").replace(
        "request: {path: metadata}", 'request: {path: "Patient/{{patient_idd}}"}')
    with pytest.raises(TestSetError) as info:
        load_testset(write_set(text))
    assert info.value.line == 10
    assert "unknown variable {{patient_idd}}" in info.value.detail and "did you mean 'patient_id'?" in info.value.detail


def test_variables_saved_declared_parametrized_or_built_in_are_known(write_set):
    text = MINIMAL.replace("tests:", "variables: {window: '{{today+7d}}'}\ntests:").replace(
        "    steps:\n", "    parametrize: [{kind: a}]\n    steps:\n").replace(
        "          - status: 200\n",
        "          - status: 200\n        save: {found: {status: true}}\n"
        '      - request: {path: "{{kind}}/{{found}}/{{window}}/{{uuid}}/{{env.HOME}}/{{now-2h}}/{{base_url}}"}\n')
    assert load_testset(write_set(text)).tests[0].id == "CORE-X-01[a]"


def test_an_unknown_variable_in_a_json_body_file_is_found_at_load(write_set):
    path = write_set(MINIMAL.replace("request: {path: metadata}",
                                     "request: {method: POST, path: Patient, body_file: patient.json}"))
    (path.parent / "patient.json").write_text('{\n  "resourceType": "Patient",\n  "id": "{{patient_idd}}"\n}\n')
    with pytest.raises(TestSetError) as info:
        load_testset(path)
    assert info.value.path.endswith("patient.json") and info.value.line == 3


@pytest.mark.parametrize("broken", ["le{{window_end}", "le{window_end}}", "{{ window_end"])
def test_a_half_written_placeholder_is_found_at_load_with_its_line(write_set, broken):
    """Sent as typed, '{{window_end}' would reach the server and the server would be blamed for the answer."""
    text = MINIMAL.replace("tests:", "variables: {window_end: '2026-01-01'}\ntests:").replace(
        "request: {path: metadata}", f'request: {{path: Slot, params: {{start: "{broken}"}}}}')
    with pytest.raises(TestSetError) as info:
        load_testset(write_set(text))
    assert info.value.line == 10
    assert f"'{broken}'" in info.value.detail and "{{name}}" in info.value.detail


def test_a_half_written_placeholder_in_a_json_body_file_is_found_at_load(write_set):
    path = write_set(MINIMAL.replace("request: {path: metadata}",
                                     "request: {method: POST, path: Patient, body_file: patient.json}"))
    (path.parent / "patient.json").write_text('{\n  "resourceType": "Patient",\n  "meta": {"tag": [{"code": "x"}]},'
                                              '\n  "id": "{{uuid}"\n}\n')
    with pytest.raises(TestSetError) as info:
        load_testset(path)
    assert info.value.path.endswith("patient.json") and info.value.line == 4


def test_braces_of_json_and_fhirpath_are_not_placeholders(write_set):
    path = write_set(MINIMAL.replace("request: {path: metadata}",
                                     "request: {method: POST, path: Patient, body_file: patient.json}").replace(
        "- status: 200", "- status: 200\n          - fhirpath: \"({} | {}).empty()\""))
    (path.parent / "patient.json").write_text('{"resourceType": "Patient", "meta": {"tag": [{"code": "{{uuid}}"}]}}')
    assert load_testset(path).tests[0].id == "CORE-X-01"


def test_a_bad_regex_says_what_is_wrong_with_it(write_set):
    text = MINIMAL.replace("- status: 200", "- header: {name: ETag, matches: '^W/(\"'}")
    with pytest.raises(TestSetError) as info:
        load_testset(write_set(text))
    assert ("header.matches: \"^W/(\\\"\" is not a valid regular expression: missing ), unterminated subpattern"
            in str(info.value))


def test_a_bad_regex_of_a_fhirpath_matches_check_is_said_at_collection_too(write_set):
    """Not at run time as a failure of the server (non conforme) for a mistake of the test set."""
    text = MINIMAL.replace("- status: 200", "- fhirpath: {expression: CapabilityStatement.id, op: matches, "
                                            "value: '^(['}")
    with pytest.raises(TestSetError) as info:
        load_testset(write_set(text))
    assert "checks[0].fhirpath.value: \"^([\" is not a valid regular expression" in str(info.value)
    good = MINIMAL.replace("- status: 200", "- fhirpath: {expression: CapabilityStatement.id, op: matches, "
                                            "value: '^[a-z]+$'}")
    assert load_testset(write_set(good)).tests[0].steps[0].checks[0].kind == "fhirpath"


@pytest.mark.parametrize("profile", ["fr-core-patient", "StructureDefinition/fr-core-patient"])
def test_conforms_to_takes_a_canonical_url(write_set, profile):
    """A profile by its name only would be 'not found' at run time, leaving the test incomplete."""
    text = MINIMAL.replace("- status: 200", f"- conforms_to: {profile}")
    with pytest.raises(TestSetError) as info:
        load_testset(write_set(text))
    assert f"checks[0].conforms_to: \"{profile}\": expected a profile's canonical url, e.g. https://" in str(info.value)


@pytest.mark.parametrize("profile", ["https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient",
                                     "http://hl7.org/fhir/StructureDefinition/Patient|4.0.1", "urn:oid:1.2.3",
                                     "{{profile}}"])
def test_conforms_to_accepts_urls_and_placeholders(write_set, profile):
    text = MINIMAL.replace("tests:", "variables: {profile: x}\ntests:").replace(
        "- status: 200", f"- conforms_to: [\"{profile}\"]")
    assert load_testset(write_set(text)).tests[0].id == "CORE-X-01"


def test_a_did_you_mean_ends_its_sentence(write_set):
    text = MINIMAL.replace("tests:", "variables: {patient_id: '1'}\ntests:").replace(
        "request: {path: metadata}", 'request: {path: "Patient/{{patient_idd}}"}')
    with pytest.raises(TestSetError) as info:
        load_testset(write_set(text))
    assert "did you mean 'patient_id'? (known: base_url, patient_id; built-ins: today" in info.value.detail


def test_aliases_that_multiply_are_refused_naming_the_line_not_expanded(write_set):
    """Anchors nested in anchors (a "billion laughs") expand to millions of values from a few lines: every step
    after parsing (indexing lines, schema, templates, the test-set cache) would walk them all, for minutes, with the
    memory growing. Refused with the file and line, like any YAML error."""
    levels = ["x-l0: &l0 [a, b, c, d, e, f, g, h, i, j]"]
    levels += [f"x-l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]" for n in range(1, 7)]  # 10^7 values
    text = "\n".join(levels) + "\n" + MINIMAL.replace("{path: metadata}", "{path: metadata, body: *l6}")
    with pytest.raises(TestSetError, match=r"aliases .*expand to more than [\d,]+ values") as info:
        load_testset(write_set(text))
    assert info.value.path.endswith("set.yaml") and info.value.line is not None


def test_aliases_used_as_meant_load(write_set):
    shared = "x-body: &body {resourceType: Patient, name: [{family: Martin, given: [Anne, Marie]}]}\n"
    step = "      - request: {method: POST, path: Patient, body: *body}\n        checks: [{status: 201}]"
    steps = "\n".join([step] * 200)
    text = shared + MINIMAL.replace("      - request: {path: metadata}\n        checks:\n          - status: 200\n",
                                    steps + "\n")
    assert len(load_testset(write_set(text)).tests[0].steps) == 200
