"""A server that holds no test data yet (a publisher's fresh recette server): the bundled read-only GAP set runs
against a loopback server whose Slot searches all answer an empty searchset. The tests that need data are
incomplete — never failed, never passed — each saying which request found nothing and what to do, in every output
and both languages; their remaining steps are not run; the run is incomplet (exit 1).

Run as a publisher would, in a pytest subprocess.
"""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from importlib.resources import files
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from jsonschema import Draft202012Validator

from pytest_mes.report.html import script_json
from pytest_mes.resources import bundled_dir
from pytest_mes.testset.model import load_testset
from tests.support.server import Reply, ScriptedServer, Seen

SLOTS_SET = load_testset(bundled_dir("testsets") / "gap" / "gap-agenda-slots.yaml")
NEEDS_DATA = [test.id for test in SLOTS_SET.tests if any(step.needs_data for step in test.steps)]
EMPTY = {"resourceType": "Bundle", "type": "searchset", "total": 0, "link": [{"relation": "self", "url": "x"}]}


def _resource(kind: str, interactions: list[str], params: list[str] = (), **extra) -> dict:
    return {"type": kind, "interaction": [{"code": code} for code in interactions],
            "searchParam": [{"name": name, "type": "token"} for name in params], **extra}


# What GAP-GA-CAP-01/02 check and the slot tests' preconditions need: a conformant statement, no data.
STATEMENT = {
    "resourceType": "CapabilityStatement", "status": "active", "kind": "instance", "fhirVersion": "4.0.1",
    "date": "2026-01-01", "format": ["json"],
    "rest": [{"mode": "server", "resource": [
        _resource("Slot", ["read", "search-type"], ["start", "status", "identifier", "schedule.actor"]),
        _resource("Appointment", ["create", "update", "read", "search-type"], conditionalUpdate=True),
        _resource("Schedule", ["create", "update", "delete"]),
    ]}],
}
SAID = {
    "fr": ("aucune donnée à tester — étape 1 « ", "GET [base]/Slot?", "aucun Slot ne correspond à la recherche. "
           "À faire : ", "--mes-var=window_start=", "Verdict global : INCOMPLET", "incomplet",
           "aucune donnée à vérifier"),
    "en": ("no data to test — step 1 \"", "GET [base]/Slot?", "no Slot matched the search. To do: ",
           "--mes-var=window_start=", "Overall verdict: INCOMPLETE", "incomplete", "no data to check"),
}


@pytest.fixture
def empty_server() -> Iterator[ScriptedServer]:
    server = ScriptedServer().start()
    server.route("GET /fhir/metadata", Reply(200, STATEMENT))
    server.route("GET /fhir/Slot", Reply(200, EMPTY))
    yield server
    server.stop()


def test_the_slots_set_marks_its_discovery_steps():
    """The control: the tests below are the slot tests whose data the server must hold (not the capability ones)."""
    assert NEEDS_DATA == ["GAP-GA-SLOT-01", "GAP-GA-SLOT-02", "GAP-GA-SLOT-03", "GAP-GA-SLOT-04", "GAP-GA-SLOT-05",
                          "GAP-GA-SLOT-06", "GAP-GA-SLOT-07[system-value]", "GAP-GA-SLOT-07[value]",
                          "GAP-GA-SLOT-07[other-value]"]


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_a_server_without_test_data_is_incomplete_in_every_output_never_non_conformant(
        pytester: pytest.Pytester, empty_server: ScriptedServer, fhir_packages_dir: Path, lang: str):
    names = ("r.html", "r.json", "tr.json", "j.xml", "ph.html")
    result = pytester.runpytest_subprocess(
        f"--mes-base-url={empty_server.base_url}", "--mes-component=gap", f"--mes-lang={lang}", "-p",
        "no:cacheprovider", "-p", "no:hypothesispytest", f"--mes-packages={fhir_packages_dir}", "--mes-offline",
        "--mes-report=r.html", "--mes-report-json=r.json", "--mes-testreport=tr.json", "--junitxml=j.xml",
        "--html=ph.html", "--self-contained-html", timeout=600)
    lead, request, missing, advice, overall, word, not_made = SAID[lang]

    # Nothing was learnt about conformance: incomplete, and so is the run (exit 1), with no failure.
    document = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))
    verdicts = {t["id"]: t["verdict"] for t in document["tests"] if t["set"] == "gap-agenda-slots"}
    assert verdicts == {"GAP-GA-CAP-01": "passed", "GAP-GA-CAP-02": "passed",
                        **{tid: "incomplete" for tid in NEEDS_DATA}}
    assert document["summary"]["counts"]["failed"] == 0 and document["verdict"]["code"] == "incomplete"
    schema = json.loads(files("pytest_mes.report").joinpath("results.schema.json").read_text(encoding="utf-8"))
    assert [error.message for error in Draft202012Validator(schema).iter_errors(document)] == []
    assert result.ret == 1
    result.stdout.fnmatch_lines([overall])
    assert "FAILED" not in result.stdout.str() and "Traceback" not in result.stdout.str()

    # Each reason names the step, the request (its window), what was missing and what to do.
    tests = {t["id"]: t for t in document["tests"]}
    for tid in NEEDS_DATA:
        reason = tests[tid]["reason"]
        for words in (lead, request, missing, advice):
            assert words in reason, (tid, words, reason)
    assert "status=free" in tests["GAP-GA-SLOT-01"]["reason"]
    # The step that found nothing: its form was checked, its content waits for data (not made, never passed).
    step = tests["GAP-GA-SLOT-01"]["steps"][0]
    outcomes = {check["kind"]: check["outcome"] for check in step["checks"]}
    assert step["outcome"] == "not_checked" and missing in step["error"]
    assert outcomes == {"status": "passed", "content_type": "passed", "max_time_ms": "passed",
                        "bundle": "not_checked", "fhirpath": "not_checked", "conforms_to": "not_checked"}
    assert all(not_made in c["actual"] for c in step["checks"] if c["outcome"] == "not_checked")
    # The remaining steps were not run: one search per test (GAP-GA-SLOT-03, -05, -06 and -07 have more steps).
    assert [len(tests[tid]["steps"]) for tid in NEEDS_DATA] == [1] * len(NEEDS_DATA)
    assert sum(r.path.startswith("/fhir/Slot") for r in empty_server.requests) == len(NEEDS_DATA)

    # The same verdict and reason in the acceptance file, the TestReport, JUnit and pytest-html.
    texts = {name: (pytester.path / name).read_text(encoding="utf-8") for name in names}
    reason = tests["GAP-GA-SLOT-02"]["reason"]
    assert script_json(reason) in texts["r.html"]  # the tests' data, as the page's script reads it
    # pytest-html: the record's table (HTML) in its JSON data, in an HTML attribute.
    assert html.escape(json.dumps(f"<td>{html.escape(reason)}</td>")[1:-1]) in texts["ph.html"]
    report = json.loads(texts["tr.json"])
    assert report["result"] == "pending"  # the TestReport's word for a run that is neither pass nor fail
    slot = next(t for t in report["test"] if t["name"].startswith("GAP-GA-SLOT-02 "))
    assert slot["description"].startswith(f"{word} — {reason}")
    junit = {case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
             for case in ET.parse(pytester.path / "j.xml").getroot().iter("testcase")}
    assert {tid: junit[tid]["mes_verdict"] for tid in NEEDS_DATA} == {tid: "incomplete" for tid in NEEDS_DATA}


# A server holding too little data: one slot, free, in the window — the first type its statement searches, so the
# core search tests probe it too. Paging needs a second match and _count=2 a third; the busy half of the status
# filter needs a busy slot. Those tests are incomplete, saying how many were found and needed; what one slot does
# test still passes (CORE-FS-SEARCH-03), and a failure of the free half still fails GAP-GA-SLOT-03.
THIN_TESTS = ("CORE-FS-SEARCH-01", "CORE-FS-SEARCH-02", "CORE-FS-SEARCH-03", "GAP-GA-SLOT-03")


def _one_slot_server(status_of_the_free_answer: str) -> Callable[[Seen], Reply]:
    """Slot searches: status=busy matches nothing, any other finds the one slot (with the status given, to make the
    free search answer a busy slot: a broken filter)."""
    slot = {"resourceType": "Slot", "id": "only", "status": status_of_the_free_answer,
            "schedule": {"reference": "Schedule/s"}, "start": "2030-01-07T09:00:00Z", "end": "2030-01-07T09:30:00Z"}

    def answer(seen: Seen) -> Reply:
        if parse_qs(urlsplit(seen.path).query).get("status") == ["busy"]:
            return Reply(200, EMPTY)
        return Reply(200, {**EMPTY, "total": 1, "entry": [
            {"fullUrl": "http://x/fhir/Slot/only", "resource": slot, "search": {"mode": "match"}}]})
    return answer


def _run_thin(pytester: pytest.Pytester, server: ScriptedServer, packages: Path, lang: str) -> dict[str, dict]:
    pytester.runpytest_subprocess(
        f"--mes-base-url={server.base_url}", f"--mes-lang={lang}", "-p", "no:cacheprovider", "-p",
        "no:hypothesispytest", f"--mes-packages={packages}", "--mes-offline", "--mes-report=",
        "--mes-report-json=r.json", "-k", " or ".join(THIN_TESTS), timeout=600)
    document = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))
    return {t["id"]: t for t in document["tests"]}


@pytest.mark.parametrize(("lang", "said"), [
    ("fr", {"CORE-FS-SEARCH-01": "la recherche ne trouve que 1 Slot, il en faut au moins 3. À faire : le serveur "
                                 "doit détenir au moins trois ressources Slot",
            "CORE-FS-SEARCH-02": "la recherche ne trouve que 1 Slot, il en faut au moins 2. À faire : le serveur "
                                 "doit détenir au moins deux ressources Slot",
            "GAP-GA-SLOT-03": "aucun Slot ne correspond à la recherche. À faire : la moitié busy du filtre n'est pas "
                              "testée (status=free l'a été)"}),
    ("en", {"CORE-FS-SEARCH-01": "the search found only 1 Slot, at least 3 are needed. To do: the server must hold "
                                 "at least three Slot resources",
            "CORE-FS-SEARCH-02": "the search found only 1 Slot, at least 2 are needed. To do: the server must hold "
                                 "at least two Slot resources",
            "GAP-GA-SLOT-03": "no Slot matched the search. To do: the busy half of the filter is not tested "
                              "(status=free was)"}),
])
def test_a_server_with_too_little_data_leaves_what_it_cannot_test_incomplete(
        pytester: pytest.Pytester, fhir_packages_dir: Path, lang: str, said: dict[str, str]):
    server = ScriptedServer().start()
    try:
        server.route("GET /fhir/metadata", Reply(200, STATEMENT))
        server.route("GET /fhir/Slot", _one_slot_server("free"))
        tests = _run_thin(pytester, server, fhir_packages_dir, lang)
    finally:
        server.stop()
    assert {tid: tests[tid]["verdict"] for tid in THIN_TESTS} == {
        "CORE-FS-SEARCH-01": "incomplete", "CORE-FS-SEARCH-02": "incomplete", "CORE-FS-SEARCH-03": "passed",
        "GAP-GA-SLOT-03": "incomplete"}
    for tid, words in said.items():
        assert words in tests[tid]["reason"], (tid, tests[tid]["reason"])
    # Paging stopped at the search that found one: the page of one result, which would hold no next link, was not
    # asked for. The free half of the filter was tested on real data, then the busy half found nothing.
    assert [s["outcome"] for s in tests["CORE-FS-SEARCH-02"]["steps"]] == ["passed", "not_checked"]
    assert [s["outcome"] for s in tests["GAP-GA-SLOT-03"]["steps"]] == ["passed", "not_checked"]
    busy_step = SAID[lang][0].replace(" 1 ", " 2 ") + "GET [base]/Slot?status=busy"  # no data to test — step 2 "…
    assert tests["GAP-GA-SLOT-03"]["reason"].startswith(busy_step), tests["GAP-GA-SLOT-03"]["reason"]


def test_without_busy_slots_a_broken_free_filter_still_fails(pytester: pytest.Pytester, fhir_packages_dir: Path):
    server = ScriptedServer().start()
    try:
        server.route("GET /fhir/metadata", Reply(200, STATEMENT))
        server.route("GET /fhir/Slot", _one_slot_server("busy"))  # status=free answers a busy slot
        tests = _run_thin(pytester, server, fhir_packages_dir, "en")
    finally:
        server.stop()
    slot03 = tests["GAP-GA-SLOT-03"]
    assert slot03["verdict"] == "failed" and "all(status = 'free')" in json.dumps(slot03["steps"][0]), slot03
    assert len(slot03["steps"]) == 1


# Data missing inside the matches: slots in the window, their agenda and its actor's role, none with a specialty
# (FR Core allows that). GAP-GA-SLOT-06's `.specialty.all(… TRE-R38 …)` would hold of none: it is incomplete, saying
# which data was missing; with specialties of another system, it still fails.
SPECIALTY_DATA = "Bundle.entry.resource.where(is(Slot) or is(Schedule) or is(PractitionerRole)).specialty"


def _agenda_server(specialty: list[dict] | None, actor: str = "PractitionerRole/r") -> ScriptedServer:
    """Slot searches answer one free slot with its agenda and, when on this server, the agenda's actor (`actor`), each
    with `specialty` when given; the slot is read back."""
    given = {"specialty": specialty} if specialty else {}
    slot = {"resourceType": "Slot", "id": "only", "status": "free", "schedule": {"reference": "Schedule/s"},
            "start": "2030-01-07T09:00:00Z", "end": "2030-01-07T09:30:00Z", **given}
    schedule = {"resourceType": "Schedule", "id": "s", "actor": [{"reference": actor}], **given}
    role = {"resourceType": "PractitionerRole", "id": "r", **given}
    found = ((slot, "match"), (schedule, "include"), *(((role, "include"),) if "://" not in actor else ()))
    entries = [{"fullUrl": f"http://x/fhir/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": mode}}
               for r, mode in found]
    server = ScriptedServer().start()
    server.route("GET /fhir/metadata", Reply(200, STATEMENT))
    server.route("GET /fhir/Slot", Reply(200, {**EMPTY, "total": 1, "entry": entries}))
    server.route("GET /fhir/Slot/only", Reply(200, slot))
    return server


def _run_one(pytester: pytest.Pytester, server: ScriptedServer, test_id: str, packages: Path, lang: str) -> dict:
    try:
        pytester.runpytest_subprocess(
            f"--mes-base-url={server.base_url}", f"--mes-lang={lang}", "-p", "no:cacheprovider", "-p",
            "no:hypothesispytest", f"--mes-packages={packages}", "--mes-offline", "--mes-report=",
            "--mes-report-json=r.json", "-k", test_id, timeout=600)
    finally:
        server.stop()
    document = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))
    return next(t for t in document["tests"] if t["id"] == test_id)


def _run_slot06(pytester: pytest.Pytester, specialty: list[dict] | None, packages: Path, lang: str) -> dict:
    return _run_one(pytester, _agenda_server(specialty), "GAP-GA-SLOT-06", packages, lang)


@pytest.mark.parametrize(("lang", "said"), [
    ("fr", f"l'expression FHIRPath « {SPECIALTY_DATA} » trouve 0 valeur(s) dans la réponse, il en faut au moins 1. "
           "À faire : l'agenda de test doit avoir des créneaux dans la fenêtre, et une spécialité"),
    ("en", f"the FHIRPath expression \"{SPECIALTY_DATA}\" found 0 value(s) in the answer, at least 1 needed. "
           "To do: the test agenda must hold slots in the window, and a specialty"),
])
def test_slots_without_a_specialty_leave_the_specialty_test_incomplete(
        pytester: pytest.Pytester, fhir_packages_dir: Path, lang: str, said: str):
    slot06 = _run_slot06(pytester, None, fhir_packages_dir, lang)
    assert slot06["verdict"] == "incomplete" and said in slot06["reason"], slot06["reason"]
    assert slot06["reason"].startswith(SAID[lang][0]) and "GET [base]/Slot?" in slot06["reason"]
    # The slots' form was checked on real data; the specialty check had none to test: not made, never passed.
    outcomes = {c["label"]: c["outcome"] for c in slot06["steps"][0]["checks"]}
    assert [label for label, outcome in outcomes.items() if outcome == "passed" and "specialty" in label] == []
    assert outcomes[next(label for label in outcomes if "specialty.all(" in label)] == "not_checked"
    assert len(slot06["steps"]) == 1


def test_slots_with_specialties_of_another_system_still_fail_the_specialty_test(
        pytester: pytest.Pytester, fhir_packages_dir: Path):
    slot06 = _run_slot06(pytester, [{"coding": [{"system": "urn:other", "code": "x"}]}], fhir_packages_dir, "en")
    assert slot06["verdict"] == "failed" and "specialty.all(coding.where(system = %specialty_system)" in \
        slot06["reason"], slot06["reason"]


# GAP-GA-SLOT-04's `_include:iterate=Schedule:actor` check reads the agendas' actors on this server: an agenda whose
# actor is on another server (an absolute reference) gives nothing to include, and the check held of none.
@pytest.mark.parametrize(("actor", "verdict"), [
    ("https://annuaire.example/fhir/PractitionerRole/r", "incomplete"),
    ("PractitionerRole/r", "passed"),  # the control: the same agenda, its actor here and included
], ids=["actor-elsewhere", "actor-here"])
def test_agendas_without_an_actor_here_leave_the_include_test_incomplete(
        pytester: pytest.Pytester, fhir_packages_dir: Path, actor: str, verdict: str):
    slot04 = _run_one(pytester, _agenda_server(None, actor), "GAP-GA-SLOT-04", fhir_packages_dir, "en")
    assert slot04["verdict"] == verdict, slot04
    if verdict == "incomplete":
        assert "Bundle.entry.resource.ofType(Schedule).actor.reference.where($this.contains('://').not())\" found 0 " \
               "value(s) in the answer, at least 1 needed. To do: the test agenda must offer" in slot04["reason"]
