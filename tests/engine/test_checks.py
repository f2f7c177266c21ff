"""Each kind of check, against recorded exchanges: verdicts with expected and actual values."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from pytest_mes.client import Exchange
from pytest_mes.testset.checks import OFFENDERS_SHOWN, CheckContext, implicit_checks, run_check
from pytest_mes.testset.model import Check

BUNDLE = {
    "resourceType": "Bundle", "type": "searchset", "total": 2,
    "entry": [
        {"resource": {"resourceType": "Slot", "id": "s1", "status": "free", "start": "2026-12-01T09:00:00Z"},
         "search": {"mode": "match"}},
        {"resource": {"resourceType": "Slot", "id": "s2", "status": "free", "start": "2026-12-02T09:00:00Z"},
         "search": {"mode": "match"}},
        {"resource": {"resourceType": "Schedule", "id": "sc1"}, "search": {"mode": "include"}},
    ],
}


def exchange(body=BUNDLE, status=200, content_type="application/fhir+json", headers=None, elapsed=12.0, lang="fr"):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response_headers = {"Content-Type": content_type, **(headers or {})}
    return Exchange("GET", "http://x/fhir/Slot", {}, None, "now", status=status, reason="OK",
                    response_headers=response_headers, body=raw, elapsed_ms=elapsed, lang=lang)


def check(kind, spec, ex=None, **context):
    return run_check(Check(kind, spec), CheckContext(ex or exchange(), context.pop("variables", {}), **context))


@pytest.mark.parametrize(("spec", "outcome"), [(200, "passed"), ([200, 201], "passed"), (201, "failed")])
def test_status(spec, outcome):
    result = check("status", spec)
    assert result.outcome == outcome
    assert result.actual == "200 OK"


def test_header_presence_equality_and_pattern():
    ex = exchange(headers={"ETag": 'W/"3"', "Location": "http://x/fhir/Patient/1/_history/3"})
    assert check("header", {"name": "etag", "present": True}, ex).outcome == "passed"
    assert check("header", {"name": "ETag", "equals": 'W/"3"'}, ex).outcome == "passed"
    assert check("header", {"name": "Location", "matches": r"Patient/\w+/_history/\d+$"}, ex).outcome == "passed"
    missing = check("header", {"name": "Last-Modified", "present": True}, ex)
    assert (missing.label, missing.outcome, missing.expected, missing.actual) == (
        "en-tête Last-Modified", "failed", "présent", "absent")
    absent = check("header", {"name": "ETag", "present": False}, ex)
    assert absent.outcome == "failed" and absent.actual == '"W/\\"3\\""'


def test_content_type_ignores_parameters_and_case():
    ex = exchange(content_type="Application/FHIR+JSON; charset=UTF-8")
    assert check("content_type", "application/fhir+json", ex).outcome == "passed"
    wrong = check("content_type", "application/fhir+json", exchange(content_type="application/json"))
    assert (wrong.outcome, wrong.actual) == ("failed", "application/json")


def test_resource_type_on_html_body_says_the_body_is_not_json():
    result = check("resource_type", "Bundle", exchange(b"<html>oops</html>", content_type="text/html"))
    assert result.outcome == "failed"
    assert result.actual.startswith("le corps de la réponse n'est pas un JSON valide (text/html) : ")


def test_bundle_reports_every_mismatch():
    ok = check("bundle", {"type": "searchset", "total": 2, "entries": {"min": 1, "max": 3}, "matches": 2,
                          "entry_types": ["Slot", "Schedule"]})
    assert ok.outcome == "passed"
    bad = check("bundle", {"type": "batch", "total": {"min": 5}, "matches": 1, "entry_types": ["Slot"]})
    assert bad.outcome == "failed"
    assert bad.expected == ("Bundle.type : batch ; Bundle.total : >= 5 ; entrées avec search.mode = match : 1 ; "
                            "types de ressource des entrées : seulement Slot")
    assert bad.actual == ('Bundle.type : "searchset" ; Bundle.total : 2 ; entrées avec search.mode = match : 2 ; '
                          "types de ressource des entrées : Schedule, Slot")
    english = check("bundle", {"type": "batch", "total": {"min": 5, "max": 9}, "matches": 1, "entry_types": ["Slot"]},
                    lang="en")
    assert english.expected == ("Bundle.type: batch; Bundle.total: >= 5 and <= 9; entries with search.mode = match: 1; "
                                "entry resource types: only Slot")
    assert english.actual == ('Bundle.type: "searchset"; Bundle.total: 2; entries with search.mode = match: 2; '
                              "entry resource types: Schedule, Slot")


def test_bundle_without_total():
    body = {**BUNDLE}
    del body["total"]
    result = check("bundle", {"total": {"min": 0}}, exchange(body))
    assert result.outcome == "failed" and result.actual == "Bundle.total : absent"


def test_a_bundle_count_is_an_integer_never_a_boolean():
    result = check("bundle", {"total": 1}, exchange({**BUNDLE, "total": True}), lang="en")
    assert (result.outcome, result.actual) == ("failed", "Bundle.total: true")


SEARCHSET = {"resourceType": "Bundle", "type": "searchset"}


@pytest.mark.parametrize(
    ("entry", "where"),
    [
        ({"x": 1}, "Bundle.entry is not a list"),
        ("match", "Bundle.entry is not a list"),
        (None, "Bundle.entry is not a list"),
        ([{"search": {"mode": "match"}}, "x"], "Bundle.entry[1] is not an object"),
        ([None], "Bundle.entry[0] is not an object"),
        ([{"search": "match", "resource": {"resourceType": "Slot"}}], "Bundle.entry[0].search is not an object"),
        ([{"search": {"mode": "match"}, "resource": ["Slot"]}], "Bundle.entry[0].resource is not an object"),
        ([{"search": {"mode": "match"}, "resource": {"resourceType": ["Slot"]}}],
         "Bundle.entry[0].resource.resourceType is not a string"),
    ],
    ids=["object", "string", "null", "item-string", "item-null", "search-string", "resource-list", "type-list"],
)
def test_a_bundle_check_on_malformed_entries_fails_naming_the_element(entry, where):
    """A server's misbehaviour is a failed check naming what is wrong, never an exception (a traceback)."""
    ex = exchange({**SEARCHSET, "entry": entry})
    result = check("bundle", {"matches": 1, "entry_types": ["Slot"]}, ex, lang="en")
    assert (result.outcome, result.expected, result.actual) == ("failed", "a readable Bundle", where)
    french = check("bundle", {"matches": 1, "entry_types": ["Slot"]}, ex)
    assert french.expected == "un Bundle lisible" and french.actual.startswith("Bundle.entry")
    # Checks that do not read the entries are not about them.
    assert check("bundle", {"type": "searchset"}, ex).outcome == "passed"


@pytest.mark.parametrize("body", [[{"resourceType": "Patient"}], "Patient", None, 3])
@pytest.mark.parametrize(("kind", "spec"), [
    ("resource_type", "Bundle"),
    ("bundle", {"type": "searchset"}),
    ("fhirpath", "Bundle.entry.all(resource.exists())"),  # would hold of nothing, and so pass, on a list
    ("fhirpath", {"expression": "id", "op": "empty"}),
])
def test_a_body_that_is_no_json_object_fails_every_check_that_reads_it(body, kind, spec):
    result = check(kind, spec, exchange(body, lang="en"), lang="en")
    assert result.outcome == "failed"
    assert result.actual.startswith("the response body is not a FHIR resource (a JSON object): ")


@pytest.mark.parametrize(
    ("spec", "outcome"),
    [
        ("Bundle.entry.where(search.mode='match').all(resource.is(Slot))", "passed"),
        ("Bundle.total = 3", "failed"),
        ({"expression": "Bundle.total", "op": "equals", "value": 2}, "passed"),
        ({"expression": "Bundle.total", "op": "equals", "value": "2"}, "passed"),
        ({"expression": "Bundle.total", "op": "not_equals", "value": 2}, "failed"),
        ({"expression": "Bundle.total", "op": ">=", "value": 2}, "passed"),
        ({"expression": "Bundle.total", "op": "<", "value": 2}, "failed"),
        ({"expression": "Bundle.entry.resource.ofType(Slot).status", "op": "in", "value": ["free"]}, "passed"),
        ({"expression": "Bundle.entry.resource.ofType(Slot).status", "op": "in", "value": ["busy"]}, "failed"),
        ({"expression": "Bundle.entry.resource.ofType(Slot).status", "op": "not_in", "value": ["busy"]}, "passed"),
        ({"expression": "Bundle.entry.resource.id", "op": "contains", "value": "sc1"}, "passed"),
        ({"expression": "Bundle.entry.resource.id", "op": "not_contains", "value": "sc1"}, "failed"),
        ({"expression": "Bundle.entry.resource.ofType(Patient)", "op": "empty"}, "passed"),
        ({"expression": "Bundle.entry.resource.ofType(Patient)", "op": "exists"}, "failed"),
        ({"expression": "Bundle.entry.first().resource.start", "op": "matches", "value": "^2026-12"}, "passed"),
        ({"expression": "Bundle.entry.first().resource.start", "op": ">=", "value": "2026-12-02"}, "failed"),
        ({"expression": "Bundle.entry.resource.ofType(Slot).id", "op": "equals", "value": ["s1", "s2"]}, "passed"),
        ({"expression": "Bundle.entry.resource.id", "op": "not_in", "value": ["s1"]}, "failed"),
        ({"expression": "Bundle.entry.resource.id", "op": "not_in", "value": ["x"]}, "passed"),
        ({"expression": "Bundle.entry.resource.ofType(Patient).id", "op": "in", "value": ["x"]}, "passed"),
        ({"expression": "Bundle.entry.first().resource.start", "op": ">", "value": "2026-12-01T09:30:00+01:00"},
         "passed"),
        ({"expression": "Bundle.entry.first().resource.start", "op": "<", "value": "2026-12-01T08:30:00-02:00"},
         "passed"),
        ({"expression": "Bundle.entry.first().resource.start", "op": ">=", "value": "2026-12-01"}, "passed"),
        ({"expression": "Bundle.entry.first().resource.start", "op": ">", "value": "2026-12-01"}, "failed"),
        ({"expression": "Bundle.entry.first().resource.start", "op": "matches", "value": "["}, "failed"),
    ],
)
def test_fhirpath_operators(spec, outcome):
    assert check("fhirpath", spec).outcome == outcome


@pytest.mark.parametrize(("kind", "spec", "ex", "french", "english"), [
    ("status", [201, 204], None, ("statut", "201 ou 204", "200 OK"), ("status", "201 or 204", "200 OK")),
    ("header", {"name": "ETag", "matches": "^W/"}, None, ("en-tête ETag", "correspondant à /^W//", "absent"),
     ("header ETag", "matching /^W//", "absent")),
    ("content_type", "application/fhir+json", "no content type",
     ("type de contenu", "application/fhir+json", "(pas de Content-Type)"),
     ("content type", "application/fhir+json", "(no Content-Type)")),
    ("resource_type", "Patient", None, ("type de ressource", "Patient", '"Bundle"'),
     ("resource type", "Patient", '"Bundle"')),
    ("bundle", {"type": "searchset"}, "not a bundle", ("bundle type", "un Bundle", '"Patient"'),
     ("bundle type", "a Bundle", '"Patient"')),
    ("bundle", {"entries": 1}, None, ("bundle entries", "nombre d'entrées : 1", "nombre d'entrées : 3"),
     ("bundle entries", "number of entries: 1", "number of entries: 3")),
    ("fhirpath", {"expression": "Bundle.id", "op": "exists"}, None,
     ("fhirpath Bundle.id", "non vide", "[]"), ("fhirpath Bundle.id", "not empty", "[]")),
    ("fhirpath", {"expression": "Bundle.type", "op": "empty"}, None,
     ("fhirpath Bundle.type", "vide", '["searchset"]'), ("fhirpath Bundle.type", "empty", '["searchset"]')),
    ("fhirpath", {"expression": "Bundle.type", "op": "not_equals", "value": "searchset"}, None,
     ("fhirpath Bundle.type", 'différent de "searchset"', '["searchset"]'),
     ("fhirpath Bundle.type", 'not equals "searchset"', '["searchset"]')),
    ("fhirpath", {"expression": "Bundle.type", "op": "in", "value": ["batch"]}, None,
     ("fhirpath Bundle.type", 'parmi ["batch"]', '["searchset"]'),
     ("fhirpath Bundle.type", 'in ["batch"]', '["searchset"]')),
    ("fhirpath", {"expression": "Bundle.total", "op": ">", "value": 5}, None,
     ("fhirpath Bundle.total", "> 5", "[2]"), ("fhirpath Bundle.total", "> 5", "[2]")),
    ("max_time_ms", 10, None, ("temps de réponse", "<= 10 ms", "12 ms"), ("response time", "<= 10 ms", "12 ms")),
])
def test_what_a_check_says_is_in_the_run_language(kind, spec, ex, french, english):
    """The name of a check and the words of its expected and obtained values follow --mes-lang; what the
    server sent and what the test set wrote stay as they are."""
    ex = {None: None, "no content type": exchange(content_type=""),
          "not a bundle": exchange({"resourceType": "Patient"})}[ex]
    for lang, said in (("fr", french), ("en", english)):
        result = check(kind, spec, ex, lang=lang)
        assert result.outcome == "failed"
        assert (result.label, result.expected, result.actual) == said, lang


def test_fhirpath_reads_test_set_variables():
    result = check("fhirpath", "Bundle.entry.resource.id contains %slot_id", variables={"slot_id": "s2"})
    assert result.outcome == "passed"


def test_a_fhirpath_that_cannot_be_evaluated_is_a_check_not_made_with_the_cause():
    """Neither a pass nor a failure of the server: the check could not be made (the run is then incomplet)."""
    result = check("fhirpath", "Bundle.entry.nosuchfunction()")
    assert result.outcome == "not_checked"
    assert result.actual.startswith("non vérifié : FHIRPath 'Bundle.entry.nosuchfunction()' ne peut pas être évalué : ")
    english = check("fhirpath", "Bundle.entry.nosuchfunction()", lang="en")
    assert english.actual.startswith("not checked: cannot evaluate FHIRPath 'Bundle.entry.nosuchfunction()': ")


def test_response_time():
    assert check("max_time_ms", 1000, exchange(elapsed=999.0)).outcome == "passed"
    slow = check("max_time_ms", 1000, exchange(elapsed=1500.5))
    assert (slow.label, slow.outcome, slow.expected, slow.actual) == ("temps de réponse", "failed", "<= 1000 ms",
                                                                      "1500.5 ms")


def test_conforms_to_without_validator_is_not_checked_never_passed():
    result = check("conforms_to", "http://example.org/StructureDefinition/x", validator=None)
    assert result.outcome == "not_checked"
    assert result.actual == "non vérifié : aucun validateur n'est chargé"
    english = check("conforms_to", "http://example.org/StructureDefinition/x", validator=None,
                    validator_problem="the packages are missing", lang="en")
    assert (english.label, english.actual) == ("conforms to http://example.org/StructureDefinition/x",
                                               "not checked: the packages are missing")


@dataclass
class FakeIssue:
    severity: str
    expression: str
    message: str
    message_id: str = ""
    code: str = "invalid"
    source: str = ""

    def text(self, lang="fr"):
        return self.message if lang == "fr" else f"(en) {self.message}"


@dataclass
class FakeResult:
    issues: list = field(default_factory=list)


class RecordingValidator:
    def __init__(self, issues):
        self.issues = issues
        self.calls = []

    def validate(self, resource, profiles=(), *, context=None):
        self.calls.append((resource["resourceType"], list(profiles), context))
        return FakeResult(self.issues)


def test_conforms_to_delegates_to_the_validator_and_lists_issues():
    validator = RecordingValidator([FakeIssue("error", "Bundle.total", "absent"),
                                    FakeIssue("warning", "Bundle.entry[0]", "hmm")])
    result = check("conforms_to", ["http://p/1", "http://p/2"], validator=validator, package="ans.fhir.fr.gap#3.0.0")
    assert validator.calls == [("Bundle", ["http://p/1", "http://p/2"], "ans.fhir.fr.gap#3.0.0")]
    assert (result.outcome, result.expected, result.actual) == ("failed", "aucune erreur", "1 erreur(s)")
    assert [(i.severity, i.expression, i.message) for i in result.issues] == [
        ("error", "Bundle.total", "absent"), ("warning", "Bundle.entry[0]", "hmm")]
    ranked = check("conforms_to", "http://p/1", validator=RecordingValidator(
        [FakeIssue("information", "a", "must-support"), FakeIssue("error", "b", "broken")]))
    assert ranked.issues[0].message == "broken"
    clean = check("conforms_to", "http://p/1", validator=RecordingValidator([FakeIssue("warning", "x", "y")]))
    assert clean.outcome == "passed"


def test_conforms_to_is_not_checked_when_only_definitions_are_missing_and_failed_beside_real_errors():
    missing = FakeIssue("error", "Bundle", "Profil introuvable : http://p/1", "PROFILE_NOT_FOUND")
    alone = check("conforms_to", "http://p/1", validator=RecordingValidator([missing]))
    assert (alone.outcome, alone.actual) == ("not_checked", "non vérifié : Profil introuvable : http://p/1")
    english = check("conforms_to", "http://p/1", validator=RecordingValidator([missing]), lang="en")
    assert english.actual == "not checked: (en) Profil introuvable : http://p/1"  # the issue in the run's language
    type_profile = FakeIssue("information", "List.identifier[0]", "Profil de type absent", "TYPE_PROFILE_NOT_FOUND")
    partial = check("conforms_to", "http://p/1", validator=RecordingValidator([type_profile]))
    assert partial.outcome == "not_checked"
    both = check("conforms_to", "http://p/1", validator=RecordingValidator(
        [missing, FakeIssue("error", "Bundle.type", "wrong", "BINDING_REQUIRED")]))
    assert (both.outcome, both.actual) == ("failed", "1 erreur(s)")


def test_a_false_all_names_the_first_offending_items_by_index_and_id():
    entries = [{"resource": {"resourceType": "Slot", "id": f"s{n}", "status": "busy" if n in (1, 3) else "free"}}
               for n in range(4)]
    body = {"resourceType": "Bundle", "type": "searchset", "entry": entries}
    result = check("fhirpath", "Bundle.entry.all(resource.status = 'free')", exchange(body))
    assert result.outcome == "failed"
    assert result.actual == "faux pour 2 des 4 éléments de Bundle.entry : [1] id=s1, [3] id=s3"  # French by default
    assert result.items == ((1, "s1"), (3, "s3"))
    english = check("fhirpath", "Bundle.entry.all(resource.status = 'free')", exchange(body), lang="en")
    assert english.actual == "false for 2 of 4 items of Bundle.entry: [1] id=s1, [3] id=s3"
    many = {**body, "entry": [{"resource": {"resourceType": "Slot", "id": f"b{n}", "status": "busy"}}
                              for n in range(OFFENDERS_SHOWN + 2)]}
    cut = check("fhirpath", "Bundle.entry.all(resource.status = 'free')", exchange(many), lang="en")
    assert cut.actual.endswith(f"[{OFFENDERS_SHOWN - 1}] id=b{OFFENDERS_SHOWN - 1} and 2 more")
    assert check("fhirpath", "Bundle.entry.all(resource.status = 'free')", exchange(many)).actual.endswith(
        " et 2 de plus")
    passing = check("fhirpath", "Bundle.entry.all(resource.status.exists())", exchange(body))
    assert passing.outcome == "passed" and passing.items == ()


def test_implicit_checks_fail_transport_errors_and_unexpected_server_errors():
    failed = Exchange("GET", "http://x", {}, None, "now", error="cannot connect to x: refused")
    assert [r.actual for r in implicit_checks((), CheckContext(failed, {}))] == ["cannot connect to x: refused"]
    server_error = exchange(status=503)
    [french] = implicit_checks((), CheckContext(server_error, {}))
    assert (french.label, french.expected) == ("statut", "pas d'erreur serveur (statut < 500)")
    [english] = implicit_checks((), CheckContext(server_error, {}, lang="en"))
    assert (english.label, english.expected) == ("status", "no server error (status < 500)")
    [unanswered] = implicit_checks((), CheckContext(failed, {}, lang="en"))
    assert (unanswered.label, unanswered.expected) == ("request", "an HTTP response")
    assert implicit_checks((), CheckContext(failed, {}))[0].expected == "une réponse HTTP"
    assert implicit_checks((Check("status", 503),), CheckContext(server_error, {})) == []


def test_a_bad_regex_fails_the_check_with_the_reason():
    result = check("fhirpath", {"expression": "Bundle.type", "op": "matches", "value": "["})
    assert result.outcome == "failed"
    assert result.actual.startswith("la vérification n'a pas pu être évaluée : unterminated character set")


@pytest.mark.parametrize("expression", [
    "Bundle.entry.resource.ofType(Slot).status", "Bundle.entry.where(search.mode = 'match').count() > 0",
    "Bundle.total.exists() and Bundle.type = 'searchset'", "Bundle.entry.all(resource is Slot)",
    "Bundle.link.where(relation = 'self').url.startsWith(%base_url)", "(1 + 2) * 3 = 9", "'a' | 'b'",
    "Bundle.entry.resource.select(id + '-' + status).first()", "today() > @2020-01-01",
])
def test_one_parse_evaluates_as_fhirpathpy_parsing_again_would(expression):
    import fhirpathpy

    from pytest_mes.fhirpath import evaluate, r4_model

    variables = {"base_url": "http://x/fhir"}
    ours = evaluate(json.loads(json.dumps(BUNDLE)), expression, variables)
    theirs = fhirpathpy.compile(expression, r4_model())(json.loads(json.dumps(BUNDLE)), dict(variables))
    assert ours == theirs
