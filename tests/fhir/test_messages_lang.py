"""The validator's messages in French (default) and English: catalogues kept in step, issues rendered
in either language after validation, ``mes validate --lang``."""

from __future__ import annotations

import copy
import io
import json
import re
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from string import Formatter

import pytest

from pytest_mes.cli import main
from pytest_mes.fhir.issues import MSG, Issue, ValidationResult, render
from pytest_mes.fhir.messages_en import MSG_EN
from pytest_mes.fhir.store import PackageStore
from pytest_mes.fhir.validator import Validator
from tests.fhir.conftest import local_validator
from tests.fhir.test_commands import run as validate
from tests.fhir.test_hl7_rules import (
    LIBRARY,
    MEASURE,
    QUESTIONNAIRE,
    _profile_of,
    bound,
    constrained,
    cql_measure,
    derived_extension,
    differential,
    gp_in_collection,
    measure_report,
    observation_differential,
    search_parameter,
    sliced_by,
    sliced_identifier,
    smoking_response,
)
from tests.fhir.test_operation_definitions import AGREEING, _echo_in, _operation, _param
from tests.fhir.test_questionnaire_answers import FEELINGS, GOOD, VISIT
from tests.fhir.test_reference_targets import _gp_target
from tests.fhir.test_slicing import IPP, NIR, OTHER, _blind_slices, _identifier_slices, _profile

GAP = "ans.fhir.fr.gap#3.0.0"
# What gives French away in an English text: French typography (a space before a colon, guillemets),
# accented letters, French words.
FRENCH = re.compile(r"[«»àâçéèêëîïôûùœ]| :|\b(?:de|du|des|la|le|les|un|une|est|non|pour|dans|sans|attendue?s?|"
                    r"trouvé|valeur|erreur|avertissement|illisible|règle|VALIDE|INVALIDE)\b", re.IGNORECASE)


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(template) if name is not None}


def test_both_catalogues_have_the_same_ids_and_placeholders():
    assert set(MSG_EN) == set(MSG)
    assert {i: placeholders(t) for i, t in MSG_EN.items()} == {i: placeholders(t) for i, (_, t) in MSG.items()}


def test_english_templates_are_english():
    french = {i: t for i, t in MSG_EN.items() if FRENCH.search(t)}
    assert not french


@pytest.fixture
def bad_slot(examples) -> dict:
    slot = examples(GAP, "Slot-example.json")
    slot["status"] = "libre"
    slot["foo"] = {}
    slot["start"] = True
    return slot


def test_an_issue_renders_in_either_language_without_validating_again(validator, bad_slot):
    result = validator.validate(bad_slot, context=GAP)
    by_id = {i.message_id: i for i in result.issues}
    assert {"BINDING_REQUIRED", "UNKNOWN_ELEMENT", "WRONG_JSON_TYPE"} <= set(by_id)
    for issue in result.issues:
        values = dict(issue.args)
        assert issue.text() == issue.text("fr") == issue.message == render(issue.message_id, values, "fr")
        assert issue.text("en") == render(issue.message_id, values, "en") != issue.message
    assert by_id["UNKNOWN_ELEMENT"].text("en") == "Unknown element 'foo': it does not exist in Slot."
    # Argument values a person reads (here the JSON kind found) are translated too.
    assert by_id["WRONG_JSON_TYPE"].text("en") == "JSON value of type boolean for a FHIR instant: JSON string expected."
    assert by_id["WRONG_JSON_TYPE"].text("fr") == (
        "Valeur de type JSON booléen pour un instant FHIR : chaîne JSON attendu.")


def test_operation_outcome_takes_a_language(validator, bad_slot):
    result = validator.validate(bad_slot, context=GAP)
    french = [i["details"]["text"] for i in result.to_operation_outcome()["issue"]]
    english = [i["details"]["text"] for i in result.to_operation_outcome("en")["issue"]]
    assert french == [i.message for i in result.issues]
    assert english == [i.text("en") for i in result.issues]
    empty = ValidationResult()
    assert [i["details"]["text"] for i in empty.to_operation_outcome("en")["issue"]] == ["No issue found."]
    assert [i["details"]["text"] for i in empty.to_operation_outcome()["issue"]] == ["Aucun problème détecté."]


# ---- mes validate --lang ---------------------------------------------------------------------------
@pytest.fixture
def bad_slot_file(tmp_path: Path, bad_slot) -> Path:
    path = tmp_path / "bad-slot.json"
    path.write_text(json.dumps(bad_slot), encoding="utf-8")
    return path


def test_mes_validate_lang_en_prints_english(capsys, fhir_packages_dir, bad_slot_file, tmp_path):
    unreadable, nan = tmp_path / "absent.json", tmp_path / "nan.json"
    nan.write_text('{"resourceType": "Observation", "valueQuantity": {"value": NaN}}', encoding="utf-8")
    code, out, _ = validate(capsys, str(bad_slot_file), str(unreadable), str(nan), "--lang", "en", "--context", GAP,
                            "--packages", str(fhir_packages_dir), "--offline")
    assert code == 2
    lines = out.splitlines()
    assert lines[0] == f"{bad_slot_file}: INVALID (3 errors, 1 information; 1 check(s) not made)"
    assert lines[1] == "  error:"
    assert "      - Unknown element 'foo': it does not exist in Slot." in lines
    gap_slot = "https://interop.esante.gouv.fr/ig/fhir/gap/StructureDefinition/gap-fr-slot|3.0.0"
    assert f"        rule: {gap_slot} (Slot)" in lines
    assert f"{unreadable}: INVALID (1 fatal)" in lines
    assert any(line.startswith("      - Unreadable document: unreadable file: ") for line in lines)
    assert "      - Unreadable document: unreadable JSON: NaN is not a JSON number." in lines
    messages = [line for line in lines if line.startswith("      - ")]
    assert [m for m in messages if FRENCH.search(m)] == []


def test_mes_validate_defaults_to_french_and_reads_mes_lang(capsys, monkeypatch, fhir_packages_dir, bad_slot_file):
    common = (str(bad_slot_file), "--context", GAP, "--packages", str(fhir_packages_dir), "--offline")
    _, french, _ = validate(capsys, *common)
    assert french.startswith(f"{bad_slot_file}: INVALIDE (3 erreurs, 1 information; 1 vérification(s) non faite(s))"
                             "\n  erreur :\n")
    monkeypatch.setenv("MES_LANG", "en")
    _, english, _ = validate(capsys, *common, "--format", "json")
    texts = [i["details"]["text"] for i in json.loads(english)[0]["outcome"]["issue"]]
    assert "Unknown element 'foo': it does not exist in Slot." in texts
    _, explicit, _ = validate(capsys, *common, "--lang", "fr")  # the option wins over the environment
    assert explicit == french


def test_mes_validate_refuses_an_unknown_mes_lang(capsys, monkeypatch, bad_slot_file):
    monkeypatch.setenv("MES_LANG", "de")
    code, out, err = validate(capsys, str(bad_slot_file), "--offline")
    assert code == 2 and out == ""
    assert "MES_LANG='de'" in err and "fr, en" in err


# ---- every message, rendered with real arguments -----------------------------------------------------
# Each message id of the catalogue, and a real resource (official examples of ../shared/fhir-packages,
# mutated; small hand-made profiles) whose validation gives it.
PDSM, CORE22 = "ans.fhir.fr.pdsm#3.1.1", "hl7.fhir.fr.core#2.2.0"
PDSM_DOC = "DocumentReference-exemple-pdsm-documentreference.json"
LOCAL = "http://example.org/StructureDefinition/"
FHIRPATH_CONTEXT = "Patient.where(memberOf('urn:x')).contact"  # memberOf(): not evaluated


def _patient(**extra) -> dict:
    return {"resourceType": "Patient", "name": [{"family": "Martin"}], **extra}


def _nested_extensions(depth: int) -> dict:
    extension: dict = {"url": "urn:x", "valueString": "fin"}
    for _ in range(depth):
        extension = {"url": "urn:x", "extension": [extension]}
    return _patient(extension=[extension])


def _chain_of_organizations(n: int) -> dict:
    profile = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-organization|2.2.0"
    return {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": f"urn:uuid:o{i}", "resource": {
            "resourceType": "Organization", "id": f"o{i}", "meta": {"profile": [profile]}, "name": f"O{i}",
            **({"partOf": {"reference": f"urn:uuid:o{i + 1}"}} if i + 1 < n else {})}} for i in range(n)]}


def _fetched_chain(validator, n: int) -> tuple[Validator, dict]:
    """The head of a chain of n Organizations, the others given by a reference resolver (walked only as targets,
    20 deeper a pass: beyond 200, said cut), and a validator with that resolver."""
    chain = {e["fullUrl"]: e["resource"] for e in _chain_of_organizations(n)["entry"]}
    return Validator(validator.store, resolver=chain.get), chain["urn:uuid:o0"]


def _gap_slot(examples, **changes) -> dict:
    return {**examples(GAP, "Slot-example.json"), **changes}


def _slot_and_schedule_without_its_profile(examples) -> dict:
    slot, schedule = examples(GAP, "Slot-example.json"), examples(GAP, "Schedule-example.json")
    del schedule["meta"]
    schedule["serviceType"] = [{"text": "0..0 in FR Core"}]
    slot["schedule"] = {"reference": "Schedule/example"}
    return {"resourceType": "Bundle", "type": "searchset", "entry": [
        {"fullUrl": "https://example.org/fhir/Slot/example", "resource": slot, "search": {"mode": "match"}},
        {"fullUrl": "https://example.org/fhir/Schedule/example", "resource": schedule, "search": {"mode": "include"}}]}


def _blood_pressure_in_wrong_units(examples) -> dict:
    observation = examples(CORE22, "Observation-FRCoreObservationBPExample.json")
    observation["component"][0]["valueQuantity"]["code"] = "mmHg"  # FR Core fixes mm[Hg]
    return observation


def _pdsm_patch_bundle() -> dict:
    patch = {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
        {"name": "type", "valueCode": "replace"}, {"name": "path", "valueString": "DocumentReference.status"},
        {"name": "value", "valueCode": "superseded"}]}]}
    return {"resourceType": "Bundle", "type": "transaction", "meta": {"profile": [
        "https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/pdsm-comprehensive-provide-document-bundle"]},
        "entry": [{"fullUrl": "urn:uuid:55555555-1111-1111-1111-111111111111", "resource": patch,
                   "request": {"method": "PATCH", "url": "DocumentReference/1"}}]}


def _fhirpath_context_extension(store) -> dict:
    """An extension (a copy of R4's patient-mothersMaidenName) whose context is a FHIRPath expression
    that is more than a path: pytest-mes says it does not judge it."""
    sd = copy.deepcopy(store.structure_definition("http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName"))
    url = LOCAL + "contact-note"
    sd.update(id="contact-note", url=url, context=[{"type": "fhirpath", "expression": FHIRPATH_CONTEXT}])
    for element in sd["snapshot"]["element"]:
        if element["path"] == "Extension.url":
            element["fixedUri"] = url
    return sd


@pytest.fixture(scope="module")
def local(fhir_packages_dir: Path, tmp_path_factory) -> Validator:
    """Hand-made definitions for what the official packages never give: slicings of every rule, an
    unloadable reference target profile, an extension context that is not a plain path."""
    core = PackageStore.load([fhir_packages_dir], offline=True, packages=["hl7.fhir.r4.core#4.0.1"])
    return local_validator(fhir_packages_dir, tmp_path_factory.mktemp("lang"), "example.lang", [
        _profile(core, "Patient", "closed-ordered", _identifier_slices("closed", True)),
        _profile(core, "Patient", "open-at-end", _identifier_slices("openAtEnd", False)),
        _profile(core, "Patient", "blind", _blind_slices),
        _profile(core, "Patient", "gp-missing", _gp_target),
        _fhirpath_context_extension(core),
        _profile_of("Observation", "bounded", [
            {"id": "Observation.id", "path": "Observation.id",
             "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/minLength", "valueInteger": 8}]},
            {"id": "Observation.valueInteger", "path": "Observation.valueInteger", "minValueInteger": 0}]),
        _profile_of("Patient", "recent", [{"id": "Patient.birthDate", "path": "Patient.birthDate",
                                           "maxValueDate": "2030-01-01"}]),
        _profile_of("HumanName", "one-given", [{"id": "HumanName.given", "path": "HumanName.given", "max": "1"}]),
        _profile_of("HumanName", "no-given", [{"id": "HumanName.given", "path": "HumanName.given", "max": "0"}]),
        _profile_of("Patient", "named", [{"id": "Patient.name", "path": "Patient.name", "type": [
            {"code": "HumanName", "profile": [LOCAL + "one-given", LOCAL + "no-given"]}]}]),
        *(_profile_of("Patient", f"sections-{code}", [{"id": "Patient.text", "path": "Patient.text", "extension": [
            {"url": "http://hl7.org/fhir/StructureDefinition/narrative-language-control", "valueCode": code}]}])
          for code in ("_no", "_yes", "fr")),
        _profile_of("Patient", "active-value", [{"id": "Patient.active", "path": "Patient.active", "extension": [
            {"url": "http://hl7.org/fhir/5.0/StructureDefinition/extension-ElementDefinition.mustHaveValue",
             "valueBoolean": True}]}]),
        _profile_of("Patient", "active-or-absent", [{"id": "Patient.active", "path": "Patient.active", "extension": [
            {"url": "http://hl7.org/fhir/5.0/StructureDefinition/extension-ElementDefinition.valueAlternatives",
             "valueCanonical": "http://hl7.org/fhir/StructureDefinition/data-absent-reason"}]}]),
        _profile_of("Organization", "bundled-endpoint", [
            {"id": "Organization.endpoint", "path": "Organization.endpoint",
             "type": [{"code": "Reference", "aggregation": ["bundled"]}]}]),
        QUESTIONNAIRE,
        MEASURE,
        LIBRARY,
        _echo_in(),
        VISIT,
    ])


def _unreachable(ref: str) -> dict:
    """A reference resolver whose server does not answer."""
    raise ConnectionError(f"{ref}: connection refused")


def _pdsm_doc_against_the_project_rules(examples) -> dict:
    """A document type outside the terminologies a project rule reads, and a relatesTo target one
    cannot be evaluated on (a number for a reference)."""
    doc = examples(PDSM, PDSM_DOC)
    doc["type"]["coding"][0]["system"] = "http://snomed.info/sct"
    doc["relatesTo"] = [{"code": "replaces", "target": {"reference": 123}}]
    return doc


def validator_issues(validator, local, examples) -> list[Issue]:
    """The issues of validating each case (a real resource, the profiles and package context it is
    validated with) with the official packages, or with the hand-made ones (`local`)."""
    cases = [
        (validator, _patient(foo=1, name=["Martin"], gender=["male"], telecom=[], birthDate=None, address=[{}],
                             active="yes", deceasedDateTime="1974-13-01", maritalStatus={"text": "Marié"},
                             multipleBirthInteger=2**31, language="xx",
                             photo={"title": "x"}, communication=[{"language": {"text": " "}}]), [], None),
        (validator, _patient(name=[{"family": "", "given": ["A", "B"], "_given": [None]}], deceasedBoolean=False,
                             deceasedDateTime="2020", _active={}), [], None),
        (validator, _patient(name=[{"family": "x" * 1_048_577}]), [], None),
        (validator, _patient(managingOrganization={"reference": "Practitioner/1"},
                             extension=[{"url": "foo", "valueString": "x"},
                                        {"url": "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-slot-date",
                                         "valueDateTime": "2024-05-01"}],
                             modifierExtension=[{"url": "http://autre.test/mod", "valueBoolean": True}],
                             meta={"profile": ["http://example.org/StructureDefinition/nowhere"]}),
         ["https://example.org/nope"], CORE22),
        (validator, _patient(contained=[{"resourceType": "Patiente", "id": "x"}]), [], "ans.fhir.fr.gap#9.9.9"),
        (validator, ["not a resource"], [], None),
        (validator, _gap_slot(examples, status="libre", schedule=None, comment=" "), [], GAP),
        (validator, examples(GAP, "Slot-example.json"),
         ["https://interop.esante.gouv.fr/ig/fhir/gap/StructureDefinition/gap-fr-schedule"], GAP),
        (validator, _slot_and_schedule_without_its_profile(examples), [], GAP),
        (validator, examples(PDSM, PDSM_DOC), [], PDSM),
        (validator, _pdsm_doc_against_the_project_rules(examples), [], PDSM),
        (validator, dict(examples(PDSM, "DocumentReference-PDSmSimplifiedExample.json"), status="superseded"), [],
         PDSM),
        (validator, examples(PDSM, "List-ExampleFolder.json"), [], PDSM),
        (validator, _pdsm_patch_bundle(), [], PDSM),
        (validator, _blood_pressure_in_wrong_units(examples), [], CORE22),
        (*_fetched_chain(validator, 300), [], CORE22),
        (validator, _nested_extensions(3000), [], None),
        (local, _patient(identifier=[IPP, NIR, IPP, OTHER]), [LOCAL + "closed-ordered"], None),
        (local, _patient(identifier=[NIR, NIR]), [LOCAL + "closed-ordered"], None),
        (local, _patient(identifier=[OTHER, NIR]), [LOCAL + "open-at-end"], None),
        (local, _patient(identifier=[{"type": {"text": "x"}, "value": "1"}]), [LOCAL + "blind"], None),
        (local, _patient(generalPractitioner=[{"reference": "Practitioner/1"}],
                         extension=[{"url": LOCAL + "contact-note", "valueString": "x"}]), [LOCAL + "gp-missing"],
         None),
        (validator, {"resourceType": "Bundle", "type": "collection", "entry": [
            {"resource": _patient()}, {"fullUrl": "Patient/1", "resource": _patient(id="1")},
            {"fullUrl": "https://example.org/fhir/Patient/2", "resource": _patient(id="3")}]}, [], None),
        (local, {"resourceType": "Observation", "id": "short", "status": "final", "code": {"text": "x"},
                 "valueInteger": -1}, [LOCAL + "bounded"], None),
        (local, _patient(birthDate="2100-01-01", generalPractitioner=[{"reference": "#nobody"}]),
         [LOCAL + "recent"], None),
        (local, {"resourceType": "Organization", "endpoint": [{"reference": "Endpoint/e"}]},
         [LOCAL + "bundled-endpoint"], None),
        (local, _patient(text={"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">'
                                                           '<script>alert(1)</script></div>'},
                         name=[{"family": "Martin", "given": ["A", "B"]}]), [LOCAL + "named"], None),
        (local, {"resourceType": "StructureDefinition", "url": LOCAL + "broken", "name": "Broken", "status": "draft",
                 "kind": "resource", "abstract": False, "type": "Patient", "derivation": "constraint",
                 "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Patient",
                 "differential": {"element": [{"id": "Patient.nickname", "path": "Patient.nickname"}]}}, [], None),
        (local, {"resourceType": "StructureDefinition", "url": LOCAL + "swapped", "name": "Swapped", "status": "draft",
                 "kind": "resource", "abstract": False, "type": "Patient", "derivation": "constraint",
                 "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Patient",
                 "differential": {"element": [{"id": "Patient.gender", "path": "Patient.gender"},
                                              {"id": "Patient.name", "path": "Patient.name"}]}}, [], None),
        (validator, {"resourceType": "Media", "status": "completed",
                     "content": {"contentType": "text/plain", "data": "aGVsbG8=", "size": 100}}, [], None),
        (validator, {"resourceType": "Bundle", "type": "document", "entry": [
            {"fullUrl": "urn:uuid:30551ce1-5a28-4356-b684-1e639094ad4d",
             "resource": {"resourceType": "Composition", "subject": {"reference": "Patient/p"}}},
            {"fullUrl": "urn:uuid:2b90dd2b-2dab-4c75-9bb9-a355e07401e8", "resource": _patient(id="p")}]}, [], None),
        (Validator(validator.store, example_urls=False),
         _patient(name=[{"text": "<b>Martin</b>"}],
                  extension=[{"url": "http://example.org/fhir/StructureDefinition/x", "valueString": "x"}]), [], None),
        *((local, _patient(text={"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{div}</div>'}),
           [LOCAL + f"sections-{code}"], None)
          for code, div in (("_no", '<div lang="de"><p>x</p></div>'), ("_yes", "<p>x</p>"),
                            ("fr", '<div lang="de"><p>x</p></div>'))),
        *((local, _patient(_active={"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/iso21090-nullFlavor",
                                                    "valueCode": "MSK"}]}), [LOCAL + name], None)
          for name in ("active-value", "active-or-absent")),
        (local, {**derived_extension(LOCAL + "changed"), "baseDefinition": LOCAL + "contact-note"}, [], None),
        (validator, gp_in_collection("Organization"), [], None),
        (local, cql_measure("Screening.Child"), [], None),
        (validator, sliced_by("sytem", "url"), [], None),
        (validator, search_parameter("Patient", "Organization.name"), [], None),
        (local, measure_report("summary", "numerator", subjects=True), [], None),
        (local, measure_report("summary", "numerator", measure="http://example.org/Measure/absent"), [], None),
        (local, smoking_response((False, "x"), (True, None)), [], None),
        (local, smoking_response((False, None), questionnaire="http://example.org/Questionnaire/absent"), [], None),
        (local, {"resourceType": "QuestionnaireResponse", "status": "completed", "questionnaire": QUESTIONNAIRE["url"],
                 "item": [{"linkId": "alcohol"}]}, [], None),
        (local, _patient(extension=[{"url": "http://autre.test/ext", "valueString": "x"},
                                    {"url": "http://example.org/ext", "valueString": "x"}]), [], None),
        (validator, differential(bound("Patient.birthDate")), [], None),
        (validator, constrained("family.exists() or"), [], None),
        (validator, observation_differential({"id": "Observation.status", "path": "Observation.status", "min": 0}), [],
         None),
        (validator, sliced_identifier({"discriminator": [{"type": "value", "path": "use"}], "rules": "open"}), [],
         None),
        (local, _operation(_param("text", "integer", 0, "*"), _param("count", "integer", 0),
                           _param("source", "Reference", 0, targetProfile=[LOCAL + "other"]),
                           outputProfile=LOCAL + "absent"), [], None),
        (local, _operation(*AGREEING, outputProfile="http://hl7.org/fhir/StructureDefinition/Patient"), [], None),
        (local, {**GOOD, "item": [
            {"linkId": "intro", "text": "Other", "answer": [{"valueString": "x"}]},
            {"linkId": "feeling", "answer": [{"valueCoding": {"system": FEELINGS, "code": "tired"}},
                                             {"valueInteger": 1}]},
            {"linkId": "weight", "item": [{"linkId": "x"}]}, {"linkId": "weight", "answer": [{"valueString": "1"}]}]},
         [], None),
        (Validator(validator.store, resolver=_unreachable),
         _patient(generalPractitioner=[{"reference": "Practitioner/1"}]), [], None),
    ]
    return [issue for v, resource, profiles, context in cases
            for issue in v.validate(resource, profiles, context=context).issues]



def _mes_validate_json(*args: str) -> list[dict]:
    """The OperationOutcome issues of ``mes validate --format json`` (output captured here: the fixture
    that calls it outlives pytest's capsys)."""
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(io.StringIO()):
        main(["validate", *args, "--format", "json"])
    return [issue for report in json.loads(out.getvalue()) for issue in report["outcome"]["issue"]]


def reading_issues(fhir_packages_dir: Path, folder: Path) -> list[tuple[dict, dict]]:
    """(French issue, English issue) pairs of `mes validate` on files whose reading finds problems:
    FHIR XML structure, a duplicate JSON key, unreadable files; and on a validator failure
    (INTERNAL_ERROR exists for validator bugs: that one is provoked)."""
    files = {
        "order.xml": '<Patient xmlns="http://hl7.org/fhir"><gender value="male"/><id value="a"/></Patient>',
        "choice.xml": '<Patient xmlns="http://hl7.org/fhir"><deceasedBoolean value="true"/>'
                      '<deceasedDateTime value="2020"/></Patient>',
        "repeated.xml": '<Patient xmlns="http://hl7.org/fhir"><gender value="male"/><gender value="female"/>'
                        '</Patient>',
        "duplicate.json": '{"resourceType": "Patient", "gender": "male", "gender": "x"}',
        "attribute.xml": '<Patient xmlns="http://hl7.org/fhir"><gender value="male" colour="blue"/></Patient>',
        "broken.json": "{not json",
    }
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    paths = [str(folder / name) for name in files] + [str(folder / "absent.json")]
    common = ("--packages", str(fhir_packages_dir), "--offline")
    pairs = list(zip(_mes_validate_json(*paths, *common, "--lang", "fr"),
                     _mes_validate_json(*paths, *common, "--lang", "en"), strict=True))
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(Validator, "validate", lambda *args, **kwargs: 1 / 0)
        pairs += zip(_mes_validate_json(paths[0], *common, "--lang", "fr"),
                     _mes_validate_json(paths[0], *common, "--lang", "en"), strict=True)
    return pairs


def _message_id(fhir_issue: dict) -> str:
    return next(e["valueString"] for e in fhir_issue.get("extension", ()) if e["url"].endswith("message-id"))


@pytest.fixture(scope="module")
def renders(validator, local, examples, fhir_packages_dir, tmp_path_factory) -> dict[str, tuple[str, str]]:
    """message id -> (French text, English text) of the first issue of that id met in the cases."""
    out: dict[str, tuple[str, str]] = {}
    for issue in validator_issues(validator, local, examples):
        note = (f" {issue.note.fr}", f" {issue.note.en}") if issue.note is not None else ("", "")
        assert issue.message == issue.text("fr") == render(issue.message_id, dict(issue.args), "fr") + note[0]
        assert issue.text("en") == render(issue.message_id, dict(issue.args), "en") + note[1]
        if issue.note is None:  # a noted issue (a stand-in package's rule) is checked apart
            out.setdefault(issue.message_id, (issue.text("fr"), issue.text("en")))
    for fr, en in reading_issues(fhir_packages_dir, tmp_path_factory.mktemp("reading")):
        assert _message_id(fr) == _message_id(en)
        out.setdefault(_message_id(fr), (fr["details"]["text"], en["details"]["text"]))
    return out


def filled(template: str) -> re.Pattern[str]:
    """A pattern of the texts `template` gives: its words as they are, each placeholder some text (the
    same text wherever the placeholder repeats)."""
    pattern, seen = "", set()
    for literal, name, _, _ in Formatter().parse(template):
        pattern += re.escape(literal)
        if name is not None:
            pattern += f"(?P={name})" if name in seen else f"(?P<{name}>.+?)"
            seen.add(name)
    return re.compile(pattern, re.DOTALL)


@pytest.mark.parametrize("message_id", sorted(MSG))
def test_every_message_renders_in_both_languages_with_real_arguments(renders, message_id):
    assert message_id in renders, f"no case gives {message_id}: add a real resource that does to validator_issues()"
    fr, en = renders[message_id]
    assert filled(MSG[message_id][1]).fullmatch(fr), fr
    assert filled(MSG_EN[message_id]).fullmatch(en), en
    assert en != fr


# Messages whose arguments are the validator's own words (kinds, reasons) or names from the resource:
# their English render must be English through and through.
ENGLISH_THROUGH = ["ARRAY_EXPECTED", "BAD_FORMAT", "BINDING_NOT_CHECKED", "CARD_MIN", "EMPTY_STRING",
                   "INVARIANT_NOT_CHECKED", "NOT_AN_OBJECT", "NOT_A_RESOURCE", "NOT_JSON", "SLICE_CLOSED",
                   "UNKNOWN_ELEMENT", "WRONG_JSON_TYPE"]


@pytest.mark.parametrize("message_id", ENGLISH_THROUGH)
def test_english_render_has_no_french_leftovers(renders, message_id):
    fr, en = renders[message_id]
    assert FRENCH.search(fr)  # the control: the detector sees the French text
    assert not FRENCH.search(en), en


# Messages that say plainly what is wrong and what to do, in both languages (their rendering on real cases).
PLAIN = {
    "PRIMITIVE_EMPTY": (
        "Élément boolean sans valeur ni extension : un élément de type primitif doit avoir une valeur, ou une "
        "extension à sa place.",
        "A boolean element with neither a value nor an extension: an element of a primitive type needs a value, "
        "or an extension in its place."),
    "SP_EXPRESSION_TYPE": (
        "L'expression de recherche commence par Organization : le premier élément de l'expression doit être l'un "
        "des types de ressource de base du paramètre (Patient).",
        "The search expression starts with Organization: the expression's first step must be one of the "
        "parameter's base resource types (Patient)."),
    "STRING_HTML": (
        "Texte contenant ce qui ressemble à une balise HTML (« <b ») : affiché comme HTML sans échappement, il "
        "serait interprété ; échappez ce balisage (&lt; pour <) ou retirez-le.",
        "Text holding what looks like an HTML tag ('<b'): shown as HTML without escaping, it would be "
        "interpreted; escape the markup (&lt; for <) or remove it."),
}


@pytest.mark.parametrize("message_id", sorted(PLAIN))
def test_a_message_says_plainly_what_is_wrong_and_what_to_do(renders, message_id):
    assert renders[message_id] == PLAIN[message_id]


def test_a_required_binding_not_checked_says_it_once_and_which_package_to_load(renders):
    fr, en = renders["BINDING_DEFINITION_NOT_FOUND"]
    assert fr.startswith("Jeu de valeurs obligatoire ") and "non vérifié : " in fr
    assert fr.endswith(". Chargez le paquet FHIR qui définit ce ValueSet ou son CodeSystem.")
    assert en.startswith("Required value set ") and "not checked: " in en
    assert en.endswith(". Load the FHIR package that defines the ValueSet or its CodeSystem.")
    assert "vérification non faite" not in fr and "check not made" not in en  # the same idea, said once
