"""`needs_data:` — a step that reads the server's test data. When its search matches nothing, or a value it saves
is not there, the test is incomplete (not failed, not passed): the reason names the request, what was missing and
what to do; the next steps do not run. The answer's form is still checked: a broken answer fails as before."""

from __future__ import annotations

import json

import pytest
import responses

from pytest_mes.client import ClientSettings, Exchange, FhirClient
from pytest_mes.errors import TestSetError
from pytest_mes.recording import Policy, case_verdict, step_record
from pytest_mes.testset.missing_data import too_few_found, too_few_matches
from pytest_mes.testset.model import load_testset
from pytest_mes.testset.runner import Runner

BASE = "http://fhir.test/fhir"
NEEDS_DATA = ('needs_data: {fr: "créez un créneau libre avant le {{window_end}}", '
              'en: "create a free slot before {{window_end}}"}')
SET = """
id: slots
title: Slots
component: gap
variables: {window_end: "2026-12-20"}
tests:
  - id: ND-01
    title: Free slots
    requirements: [{ref: r, level: SHALL}]
    steps:
      - name: find a free slot
        request: {path: Slot, params: {status: free, start: "le{{window_end}}", key: "{{env.API_TOKEN}}"}}
        NEEDS_DATA
        checks:
          - status: 200
          - content_type: application/fhir+json
          - bundle: {type: searchset, matches: {min: 1}}
          - fhirpath: "Bundle.entry.resource.all(status = 'free')"
        save:
          slot_id: {fhirpath: "Bundle.entry.where(search.mode = 'match').resource.where(identifier.exists()).id"}
      - name: read it
        request: {path: "Slot/{{slot_id}}"}
        checks: [{status: 200}]
    cleanup:
      - request: {path: metadata}
"""
URL = f"{BASE}/Slot"
FHIR_JSON = "application/fhir+json"
OUTCOME = {"search": {"mode": "outcome"}, "resource": {"resourceType": "OperationOutcome", "issue": []}}


def _slot(mode: str | None = "match", **fields) -> dict:
    entry = {"resource": {"resourceType": "Slot", "id": "s1", "status": "free", **fields}}
    return {**entry, "search": {"mode": mode}} if mode else entry


def _searchset(*entries: dict) -> dict:
    return {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": list(entries)}


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("API_TOKEN", "tok-5521")
    return "tok-5521"


def _run(write_set, lang: str = "fr", needs_data: str = NEEDS_DATA):
    testset = load_testset(write_set(SET.replace("NEEDS_DATA", needs_data)))
    runner = Runner(FhirClient(ClientSettings(BASE)), lang=lang)
    responses.get(f"{BASE}/metadata", json={"resourceType": "CapabilityStatement"}, content_type=FHIR_JSON)
    return runner.run_case(testset.tests[0], runner.set_variables(testset)), testset


@responses.activate
@pytest.mark.parametrize(("lang", "said"), [
    ("fr", "GET [base]/Slot?status=free&start=le2026-12-20&key=*** : aucun Slot ne correspond à la recherche. "
           "À faire : créez un créneau libre avant le 2026-12-20"),
    ("en", "GET [base]/Slot?status=free&start=le2026-12-20&key=***: no Slot matched the search. "
           "To do: create a free slot before 2026-12-20"),
])
def test_a_search_that_matches_nothing_leaves_the_test_incomplete_saying_what_to_do(write_set, token, lang, said):
    responses.get(URL, json=_searchset(OUTCOME), content_type=FHIR_JSON)  # an outcome entry is no result
    result, testset = _run(write_set, lang)
    step = result.steps[0]
    assert step.no_data == said and step.error is None and result.failed_step is None
    # The form of the answer was checked; its content waits for data: not made, never passed.
    assert [(c.kind, c.outcome) for c in step.checks] == [
        ("status", "passed"), ("content_type", "passed"), ("bundle", "not_checked"), ("fhirpath", "not_checked")]
    not_made = {"fr": "non vérifié : aucune donnée à vérifier", "en": "not checked: no data to check"}[lang]
    assert {c.actual for c in step.not_checked} == {not_made}
    assert [c.label for c in step.not_checked] == ["bundle matches, type", "fhirpath Bundle.entry.resource.all("
                                                                          "status = 'free')"]
    # The next step does not run; the cleanup does.
    assert len(result.steps) == 1 and len(result.cleanup) == 1
    verdict, reason = case_verdict(result, "SHALL", Policy(), lang)
    lead = {"fr": "aucune donnée à tester — étape 1 « find a free slot » : ",
            "en": 'no data to test — step 1 "find a free slot": '}[lang]
    assert (verdict, reason) == ("incomplete", lead + said)
    # Missing data says nothing about the server: --mes-strict does not make it a failure.
    assert case_verdict(result, "SHALL", Policy(strict=True), lang)[0] == "incomplete"
    record = step_record(step, "e1", testset, with_source=False, lang=lang)
    assert (record.outcome, record.error) == ("not_checked", said)
    assert token not in said


@responses.activate
def test_a_value_to_save_that_is_not_there_is_missing_data_too(write_set, token):
    responses.get(URL, json=_searchset(_slot()), content_type=FHIR_JSON)  # a free slot, but none with an identifier
    result, _ = _run(write_set)
    assert result.steps[0].no_data == (
        "GET [base]/Slot?status=free&start=le2026-12-20&key=*** : save 'slot_id' : FHIRPath \"Bundle.entry.where("
        "search.mode = 'match').resource.where(identifier.exists()).id\" n'a rien trouvé dans la réponse. "
        "À faire : créez un créneau libre avant le 2026-12-20")
    assert [c.outcome for c in result.steps[0].checks] == ["passed"] * 4  # made on real data
    assert len(result.steps) == 1 and case_verdict(result, "SHALL", Policy())[0] == "incomplete"


@responses.activate
def test_advice_naming_a_value_not_set_is_given_as_written(write_set, token, monkeypatch):
    monkeypatch.delenv("SLOT_OWNER", raising=False)
    responses.get(URL, json=_searchset(), content_type=FHIR_JSON)
    result, _ = _run(write_set, "en", 'needs_data: "create a free slot for {{env.SLOT_OWNER}}"')
    assert result.steps[0].no_data.endswith("To do: create a free slot for {{env.SLOT_OWNER}}"), result.steps[0].no_data


@responses.activate
def test_with_the_data_there_the_test_goes_on(write_set, token):
    responses.get(URL, json=_searchset(_slot(identifier=[{"value": "x"}])), content_type=FHIR_JSON)
    responses.get(f"{URL}/s1", json={"resourceType": "Slot", "id": "s1"}, content_type=FHIR_JSON)
    result, _ = _run(write_set)
    assert [s.no_data for s in result.steps] == [None, None]
    assert case_verdict(result, "SHALL", Policy()) == ("passed", "")


@responses.activate
@pytest.mark.parametrize(("reply", "failed"), [
    # An empty answer in the wrong form: a failure whatever the data.
    ({"json": _searchset(), "content_type": "application/json"}, "content_type"),
    ({"json": _searchset(), "status": 404}, "status"),
    # Not a search answer at all: no word about data, the checks judge it.
    ({"json": {"resourceType": "Bundle", "type": "collection"}}, "bundle"),
    # Results the server did not flag as matches are data: the matches check fails on them.
    ({"json": _searchset(_slot(mode=None, identifier=[{"value": "x"}]))}, "bundle"),
    # Results that break a check of their content.
    ({"json": _searchset(_slot(status="busy", identifier=[{"value": "x"}]))}, "fhirpath"),
], ids=["content-type", "status", "not-a-searchset", "unflagged-results", "wrong-content"])
def test_a_broken_answer_still_fails(write_set, token, reply, failed):
    responses.get(URL, **{"content_type": FHIR_JSON, **reply})
    result, _ = _run(write_set)
    assert result.failed_step is result.steps[0] and result.steps[0].no_data is None
    assert failed in [c.kind for c in result.steps[0].checks if c.failed]
    assert case_verdict(result, "SHALL", Policy())[0] == "failed"


@responses.activate
def test_without_needs_data_an_empty_search_fails_as_before(write_set, token):
    responses.get(URL, json=_searchset(), content_type=FHIR_JSON)
    result, _ = _run(write_set, needs_data="")
    assert result.failed_step is result.steps[0] and result.steps[0].no_data is None
    assert case_verdict(result, "SHALL", Policy()) == (
        "failed", "étape 1 « find a free slot » : bundle matches, type : attendu entrées avec search.mode = match : "
                  ">= 1, obtenu entrées avec search.mode = match : 0")


def _exchange(url: str, body: dict, method: str = "GET") -> Exchange:
    return Exchange(method, url, {}, None, "now", status=200, response_headers={"Content-Type": FHIR_JSON},
                    body=json.dumps(body).encode())


@pytest.mark.parametrize(("method", "url", "missing"), [
    ("POST", f"{BASE}/DocumentReference/_search", "no DocumentReference matched the search"),
    ("GET", f"{BASE}/Slot/", "no Slot matched the search"),
    ("GET", f"{BASE}?_type=Slot,Schedule", "no resource matched the search"),
    ("GET", "http://elsewhere.test/fhir/Slot", "no resource matched the search"),
])
def test_what_is_missing_names_the_type_searched(method, url, missing):
    assert too_few_matches(_exchange(url, _searchset()), BASE, "en") == missing
    assert too_few_matches(_exchange(url, _searchset(_slot())), BASE, "en") is None
    assert too_few_matches(_exchange(url, _searchset({"search": {"mode": "include"}, "resource": {}})), BASE,
                           "en") == missing


@pytest.mark.parametrize(("entry", "counted"), [
    ({"resource": {"resourceType": "OperationOutcome", "issue": []}}, False),  # a warning, even without search.mode
    ("not an entry", True),  # a malformed Bundle: its checks say what is wrong, not "no data"
])
def test_an_outcome_is_no_result_and_a_malformed_entry_is_one(entry, counted):
    missing = too_few_matches(_exchange(URL, _searchset(entry)), BASE, "en")
    assert (missing is None) is counted, missing


BAD_PLACES = {
    "setup": ("setup:\n  - request: {path: Patient}\n    needs_data: create a patient\n", "steps:\n"
              "      - request: {path: Patient}\n", "needs_data belongs to a test's steps, not to a setup step"),
    "cleanup": ("", "steps:\n      - request: {path: Patient}\n    cleanup:\n      - request: {path: Patient}\n"
                "        needs_data: create a patient\n",
                "needs_data belongs to a test's steps, not to a cleanup step"),
    "post": ("", "steps:\n      - request: {method: POST, path: Patient}\n        needs_data: create a patient\n",
             "needs_data is for a step that reads the server's data (a search or a read), not a POST that writes"),
}


@pytest.mark.parametrize("where", BAD_PLACES)
def test_needs_data_where_it_means_nothing_is_refused_at_its_line(write_set, where):
    before, steps, error = BAD_PLACES[where]
    text = (f"id: bad\ntitle: Bad\ncomponent: core\n{before}tests:\n  - id: B-01\n    title: t\n"
            f"    requirements: [{{ref: r, level: SHALL}}]\n    {steps}")
    path = write_set(text)
    line = text.splitlines().index(next(row for row in text.splitlines() if "needs_data" in row)) + 1
    with pytest.raises(TestSetError) as info:
        load_testset(path)
    assert str(info.value).startswith(f"{path}:{line}:") and error in str(info.value), str(info.value)


def test_needs_data_is_a_text_in_one_or_two_languages(write_set):
    testset = load_testset(write_set(SET.replace("NEEDS_DATA", 'needs_data: "create a free slot"')))
    assert testset.tests[0].steps[0].needs_data.advice.get("fr") == "create a free slot"
    path = write_set(SET.replace("NEEDS_DATA", "needs_data: true"))
    with pytest.raises(TestSetError) as info:
        load_testset(path)
    assert f"{path}:12:9: tests[0].steps[0].needs_data: expected a string or a mapping, got a boolean true — write " \
           "a text saying what data the step needs and how to provide it (needs_data: \"create a free slot in the " \
           "window\"), or {fr: \"…\", en: \"…\", min_matches: N} when its search must find at least N results " \
           "(default 1)" in str(info.value)



# How much data: `min_matches: N` — a search whose answer holds fewer results tests nothing (paging needs a second
# match, a filter's `.all(…)` holds of none), so the test is incomplete, saying how many were found and needed.
AT_LEAST_TWO = 'needs_data: {min_matches: 2, fr: "créez deux créneaux libres", en: "create two free slots"}'


@responses.activate
@pytest.mark.parametrize(("entries", "lang", "missing"), [
    ([_slot(identifier=[{"value": "x"}]), OUTCOME], "fr", "la recherche ne trouve que 1 Slot, il en faut au moins 2"),
    ([_slot(identifier=[{"value": "x"}]), OUTCOME], "en", "the search found only 1 Slot, at least 2 are needed"),
    ([OUTCOME], "fr", "aucun Slot ne correspond à la recherche, il en faut au moins 2"),
    ([OUTCOME], "en", "no Slot matched the search, at least 2 are needed"),
], ids=["one-fr", "one-en", "none-fr", "none-en"])
def test_a_search_with_fewer_matches_than_needed_leaves_the_test_incomplete(write_set, token, entries, lang,
                                                                            missing):
    responses.get(URL, json=_searchset(*entries), content_type=FHIR_JSON)
    result, _ = _run(write_set, lang, AT_LEAST_TWO)
    step = result.steps[0]
    advice = {"fr": "À faire : créez deux créneaux libres", "en": "To do: create two free slots"}[lang]
    assert step.no_data.endswith(f"{missing}. {advice}"), step.no_data
    # The one match is not enough to test anything: the content checks are not made (the fhirpath one would pass).
    assert [(c.kind, c.outcome) for c in step.checks] == [
        ("status", "passed"), ("content_type", "passed"), ("bundle", "not_checked"), ("fhirpath", "not_checked")]
    assert len(result.steps) == 1 and step.saved == {}
    verdict, reason = case_verdict(result, "SHALL", Policy(strict=True), lang)
    assert verdict == "incomplete" and missing in reason


@responses.activate
def test_with_as_many_matches_as_needed_the_test_goes_on(write_set, token):
    second = {**_slot(identifier=[{"value": "y"}]), "resource": {"resourceType": "Slot", "id": "s2", "status": "free"}}
    responses.get(URL, json=_searchset(_slot(identifier=[{"value": "x"}]), second), content_type=FHIR_JSON)
    responses.get(f"{URL}/s1", json={"resourceType": "Slot", "id": "s1"}, content_type=FHIR_JSON)
    result, testset = _run(write_set, needs_data=AT_LEAST_TWO)
    assert testset.tests[0].steps[0].needs_data.min_matches == 2
    assert [s.no_data for s in result.steps] == [None, None]
    assert case_verdict(result, "SHALL", Policy()) == ("passed", "")


@responses.activate
def test_with_enough_matches_a_broken_content_still_fails(write_set, token):
    busy = {**_slot(), "resource": {"resourceType": "Slot", "id": "s2", "status": "busy"}}
    responses.get(URL, json=_searchset(_slot(identifier=[{"value": "x"}]), busy), content_type=FHIR_JSON)
    result, _ = _run(write_set, needs_data=AT_LEAST_TWO)
    assert result.steps[0].no_data is None
    assert case_verdict(result, "SHALL", Policy())[0] == "failed"


def test_the_default_is_one_match(write_set):
    for needs_data in ('needs_data: "create a free slot"', 'needs_data: {fr: "créez", en: "create"}'):
        step = load_testset(write_set(SET.replace("NEEDS_DATA", needs_data))).tests[0].steps[0]
        assert step.needs_data.min_matches == 1


@pytest.mark.parametrize(("url", "entries", "missing"), [
    (f"{BASE}/Patient", [_slot()], "the search found only 1 Patient, at least 3 are needed"),
    (f"{BASE}?_type=Slot", [_slot(), _slot(mode=None)], "the search found only 2 result(s), at least 3 are needed"),
    (f"{BASE}?_type=Slot", [], "no resource matched the search, at least 3 are needed"),
])
def test_what_is_missing_says_how_many_were_found_and_needed(url, entries, missing):
    assert too_few_matches(_exchange(url, _searchset(*entries)), BASE, "en", 3) == missing
    assert too_few_matches(_exchange(url, _searchset(*entries, _slot(), _slot(), _slot())), BASE, "en", 3) is None


@pytest.mark.parametrize(("written", "said"), [
    ("{min_matches: 0, fr: créez}", "needs_data.min_matches: 0 is less than the minimum of 1 — write a text"),
    ("2", "needs_data: expected a string or a mapping, got a number 2 — write a text"),
    ("{min: 2, fr: créez}", "needs_data: unknown key 'min' (allowed: en, fhirpath, fr, min_found, min_matches) — "
                            "write a text"),
    ("{min_matches: 2}", "needs_data: missing required key 'fr' — write a text"),
])
def test_a_wrong_needs_data_says_what_to_write_instead(write_set, written, said):
    path = write_set(SET.replace("NEEDS_DATA", f"needs_data: {written}"))
    with pytest.raises(TestSetError) as info:
        load_testset(path)
    assert f"{path}:12:" in str(info.value) and said in str(info.value), str(info.value)
    assert "{fr: \"…\", en: \"…\", min_matches: N}" in str(info.value)


# The data inside the matches: `fhirpath:` names what the checks read, on the answer. A slot search that matches,
# but whose slots, schedules and roles carry no specialty, tests nothing of `.specialty.all(…)`: incomplete.
SPECIALTY_SET = """
id: specialties
title: Specialties
component: gap
variables: {system: "urn:tre-r38", kind: Slot}
tests:
  - id: SP-01
    title: Specialties
    requirements: [{ref: r, level: SHALL}]
    steps:
      - name: find slots
        request: {path: Slot}
        needs_data:
          fhirpath: "Bundle.entry.resource.where(is({{kind}}) or is(Schedule)).specialty.where(%system.exists())"
          fr: "donnez une spécialité aux créneaux"
          en: "give the slots a specialty"
          MIN_FOUND
        checks:
          - status: 200
          - fhirpath: "Bundle.entry.resource.ofType(Slot).all(status = 'free')"
          - fhirpath: "Bundle.entry.resource.ofType(Slot).specialty.all(coding.where(system = %system).exists())"
      - name: read one
        request: {path: "Slot/s1"}
        checks: [{status: 200}]
"""
SPECIALTY = {"coding": [{"system": "urn:tre-r38", "code": "SM26"}]}
WRONG_SPECIALTY = {"coding": [{"system": "urn:other", "code": "x"}]}


def _run_specialties(write_set, slots: list[dict], lang: str = "fr", min_found: str = "", strict: bool = False):
    testset = load_testset(write_set(SPECIALTY_SET.replace("MIN_FOUND", min_found)))
    runner = Runner(FhirClient(ClientSettings(BASE)), lang=lang)
    responses.get(URL, json=_searchset(*slots), content_type=FHIR_JSON)
    responses.get(f"{URL}/s1", json={"resourceType": "Slot", "id": "s1"}, content_type=FHIR_JSON)
    result = runner.run_case(testset.tests[0], runner.set_variables(testset))
    return result, case_verdict(result, "SHALL", Policy(strict=strict), lang)


@responses.activate
@pytest.mark.parametrize(("lang", "said"), [
    ("fr", "GET [base]/Slot : l'expression FHIRPath « Bundle.entry.resource.where(is(Slot) or is(Schedule))."
           "specialty.where(%system.exists()) » trouve 0 valeur(s) dans la réponse, il en faut au moins 1. "
           "À faire : donnez une spécialité aux créneaux"),
    ("en", "GET [base]/Slot: the FHIRPath expression \"Bundle.entry.resource.where(is(Slot) or is(Schedule))."
           "specialty.where(%system.exists())\" found 0 value(s) in the answer, at least 1 needed. "
           "To do: give the slots a specialty"),
])
def test_matches_without_the_data_inside_leave_the_test_incomplete(write_set, lang, said):
    result, (verdict, reason) = _run_specialties(write_set, [_slot()], lang)
    step = result.steps[0]
    assert step.no_data == said and verdict == "incomplete" and reason.endswith(said), reason
    # The `.all(…)` would hold of no specialty: not made, never passed; the form is still checked.
    assert [(c.kind, c.outcome) for c in step.checks] == [
        ("status", "passed"), ("fhirpath", "not_checked"), ("fhirpath", "not_checked")]
    assert len(result.steps) == 1
    # Missing data says nothing about the server, even with --mes-strict.
    assert _run_specialties(write_set, [_slot()], lang, strict=True)[1][0] == "incomplete"


@responses.activate
def test_with_the_data_inside_the_checks_are_made_on_it(write_set):
    result, verdict = _run_specialties(write_set, [_slot(specialty=[SPECIALTY])])
    assert verdict == ("passed", "") and [s.no_data for s in result.steps] == [None, None]
    result, (verdict, reason) = _run_specialties(write_set, [_slot(specialty=[WRONG_SPECIALTY])])
    assert verdict == "failed" and "specialty.all(coding" in reason and result.steps[0].no_data is None


@responses.activate
def test_matches_without_the_data_inside_still_fail_on_the_data_they_hold(write_set):
    """The matches are there: a check they break fails the test, though a specialty is missing."""
    result, (verdict, reason) = _run_specialties(write_set, [_slot(status="busy")], "en")
    assert verdict == "failed" and "all(status = 'free')" in reason, reason
    assert [(c.kind, c.outcome) for c in result.steps[0].checks] == [
        ("status", "passed"), ("fhirpath", "failed"), ("fhirpath", "not_checked")]
    assert result.steps[0].no_data is None and len(result.steps) == 1


@responses.activate
@pytest.mark.parametrize(("slots", "verdict", "found"), [
    ([_slot(specialty=[SPECIALTY])], "incomplete", "found 1 value(s) in the answer, at least 2 needed"),
    ([_slot(specialty=[SPECIALTY, SPECIALTY])], "passed", None),
])
def test_min_found_says_how_many_values_are_needed(write_set, slots, verdict, found):
    (got, reason) = _run_specialties(write_set, slots, "en", "min_found: 2")[1]
    assert got == verdict and (found is None or found in reason), reason


@responses.activate
def test_a_data_fhirpath_that_cannot_be_evaluated_is_a_check_not_made(write_set):
    testset = load_testset(write_set(SPECIALTY_SET.replace("%system.exists()", "%never_saved.exists()")
                                     .replace("MIN_FOUND", "")))
    runner = Runner(FhirClient(ClientSettings(BASE)), lang="en")
    responses.get(URL, json=_searchset(_slot(specialty=[SPECIALTY])), content_type=FHIR_JSON)
    responses.get(f"{URL}/s1", json={"resourceType": "Slot", "id": "s1"}, content_type=FHIR_JSON)
    result = runner.run_case(testset.tests[0], runner.set_variables(testset))
    unmade = result.steps[0].not_checked
    assert [(c.kind, c.label) for c in unmade] == [("needs_data", "needs_data fhirpath Bundle.entry.resource.where("
                                                    "is({{kind}}) or is(Schedule)).specialty.where(%never_saved."
                                                    "exists())")]
    assert unmade[0].actual.startswith("not checked: ") and "never_saved" in unmade[0].actual
    assert case_verdict(result, "SHALL", Policy(), "en")[0] == "incomplete"  # not a pass
    assert case_verdict(result, "SHALL", Policy(strict=True), "en")[0] == "failed"


def test_too_few_found_leaves_a_failed_or_unreadable_answer_to_the_checks():
    empty = _searchset(_slot())
    assert too_few_found(_exchange(URL, empty), "Bundle.entry.resource.specialty", {}, "en") == (
        'the FHIRPath expression "Bundle.entry.resource.specialty" found 0 value(s) in the answer, at least 1 '
        "needed")
    failed = Exchange("GET", URL, {}, None, "now", status=404, response_headers={"Content-Type": FHIR_JSON},
                      body=json.dumps(empty).encode())
    assert too_few_found(failed, "Bundle.entry.resource.specialty", {}, "en") is None
    unreadable = Exchange("GET", URL, {}, None, "now", status=200, response_headers={"Content-Type": FHIR_JSON},
                          body=b"not json")
    assert too_few_found(unreadable, "Bundle.entry.resource.specialty", {}, "en") is None


def test_the_data_fhirpath_is_compiled_at_load_with_its_line(write_set):
    written = SPECIALTY_SET.replace("MIN_FOUND", "").replace("is({{kind}})", "is(Slot)")
    load_testset(write_set(written))  # the control: it compiles
    path = write_set(written.replace(".specialty.where(", ".specialty.where(("))
    with pytest.raises(TestSetError) as info:
        load_testset(path)
    assert str(info.value).startswith(f"{path}:13:"), str(info.value)


@pytest.mark.parametrize(("written", "said"), [
    ("{fhirpath: x, min_found: 0, fr: créez}", "needs_data.min_found: 0 is less than the minimum of 1 — write how "
                                               "many values the fhirpath must find"),
    ("{min_found: 2, fr: créez}", "needs_data: 'min_found' needs 'fhirpath' beside it — write a text"),
    ("{fhirpath: 3, fr: créez}", "needs_data.fhirpath: expected a string, got a number 3 — write the FHIRPath of the "
                                 "data the checks read"),
])
def test_a_wrong_data_fhirpath_says_what_to_write_instead(write_set, written, said):
    path = write_set(SET.replace("NEEDS_DATA", f"needs_data: {written}"))
    with pytest.raises(TestSetError) as info:
        load_testset(path)
    assert f"{path}:12:" in str(info.value) and said in str(info.value), str(info.value)
