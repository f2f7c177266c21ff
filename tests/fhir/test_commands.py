"""``mes validate``: exit codes, JSON and text output, package sources, XML hookup."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_mes.cli import main
from pytest_mes.fhir.validator import Validator

GAP = "ans.fhir.fr.gap#3.0.0"


@pytest.fixture
def slot_file(tmp_path: Path, examples) -> Path:
    """GAP's Slot example without its specialty, whose required binding draws on a NOS CodeSystem that
    ../shared/fhir-packages lacks: every check of this Slot can be made there."""
    slot = examples(GAP, "Slot-example.json")
    del slot["specialty"]
    path = tmp_path / "slot.json"
    path.write_text(json.dumps(slot), encoding="utf-8")
    return path


@pytest.fixture
def bad_slot_file(tmp_path: Path, examples) -> Path:
    slot = examples(GAP, "Slot-example.json")
    slot["status"] = "libre"
    slot["foo"] = 1
    path = tmp_path / "bad-slot.json"
    path.write_text(json.dumps(slot), encoding="utf-8")
    return path


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["validate", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_valid_file_exits_0(capsys, fhir_packages_dir, slot_file):
    code, out, err = run(capsys, str(slot_file), "--packages", str(fhir_packages_dir), "--offline",
                         "--context", GAP)
    assert code == 0
    assert out.startswith(f"{slot_file}: VALIDE")
    assert err.count("ihe.iti.mhd#4.2.3") == 1  # missing dependencies: said once, on stderr


def test_a_dash_validates_the_standard_input(capsys, monkeypatch, fhir_packages_dir, slot_file, bad_slot_file):
    """`… | mes validate -`: the resource piped in, JSON or XML, named `-` in the output."""
    for source, expected in ((slot_file, 0), (bad_slot_file, 1)):
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(source.read_bytes())))
        code, out, _ = run(capsys, "-", "--packages", str(fhir_packages_dir), "--offline", "--context", GAP)
        assert code == expected and out.startswith("-: VALIDE" if expected == 0 else "-: INVALIDE"), out


def test_invalid_file_exits_1_with_json_outcome(capsys, fhir_packages_dir, slot_file, bad_slot_file):
    code, out, _ = run(capsys, str(slot_file), str(bad_slot_file), "--packages", str(fhir_packages_dir),
                       "--offline", "--format", "json")
    assert code == 1
    reports = json.loads(out)
    assert [r["file"] for r in reports] == [str(slot_file), str(bad_slot_file)]
    assert [r["valid"] for r in reports] == [True, False]
    outcome = reports[1]["outcome"]
    assert outcome["resourceType"] == "OperationOutcome"
    errors = {(i["expression"][0], i["code"]) for i in outcome["issue"] if i["severity"] == "error"}
    assert errors == {("Slot.status", "code-invalid"), ("Slot.foo", "structure")}


def test_text_output_grouped_by_severity_and_location(capsys, fhir_packages_dir, bad_slot_file):
    code, out, _ = run(capsys, str(bad_slot_file), "--packages", str(fhir_packages_dir), "--offline")
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == f"{bad_slot_file}: INVALIDE (2 erreurs, 1 information; 1 vérification(s) non faite(s))"
    assert lines[1] == "  erreur :"
    assert lines[2] == "    Slot.foo"
    assert lines[3].startswith("      - Élément inconnu « foo »")
    assert "  information :" in lines


def test_a_check_not_made_is_incomplete_not_valid(capsys, fhir_packages_dir, tmp_path, examples, slot_file):
    """The published Slot's specialty is bound (required) to a ValueSet over a CodeSystem of ans.fr.nos, not
    among ../shared/fhir-packages: no error is found, but "valid" would claim a check that was not made."""
    published = tmp_path / "published-slot.json"
    published.write_text(json.dumps(examples(GAP, "Slot-example.json")), encoding="utf-8")
    code, out, _ = run(capsys, str(published), "--packages", str(fhir_packages_dir), "--offline")
    assert code == 3
    assert out.startswith(f"{published}: INCOMPLET (1 information; 1 vérification(s) non faite(s))")
    assert "TRE-R38-SpecialiteOrdinale non chargé" in out

    code, out, _ = run(capsys, str(slot_file), str(published), "--packages", str(fhir_packages_dir), "--offline",
                       "--format", "json", "--lang", "en")
    assert code == 3
    reports = json.loads(out)
    assert [(r["valid"], r["verdict"], r["checks_not_made"]) for r in reports] == [(True, "valid", 0),
                                                                                     (True, "incomplete", 1)]


def test_an_error_outweighs_a_check_not_made(capsys, fhir_packages_dir, bad_slot_file, tmp_path, examples):
    published = tmp_path / "published-slot.json"
    published.write_text(json.dumps(examples(GAP, "Slot-example.json")), encoding="utf-8")
    code, _, _ = run(capsys, str(published), str(bad_slot_file), "--packages", str(fhir_packages_dir), "--offline")
    assert code == 1


def test_requested_profile(capsys, fhir_packages_dir, slot_file):
    profile = "https://interop.esante.gouv.fr/ig/fhir/gap/StructureDefinition/gap-fr-schedule"
    code, out, _ = run(capsys, str(slot_file), "--profile", profile, "--packages", str(fhir_packages_dir),
                       "--offline", "--format", "json")
    assert code == 1
    [report] = json.loads(out)
    [issue] = [i for i in report["outcome"]["issue"] if i["severity"] == "error"]
    assert issue["expression"] == ["Slot"]
    assert "s'applique aux ressources Schedule, pas à Slot" in issue["details"]["text"]


def test_unknown_profile_exits_2(capsys, fhir_packages_dir, slot_file):
    code, out, err = run(capsys, str(slot_file), "--profile", "https://example.org/nope",
                         "--packages", str(fhir_packages_dir), "--offline")
    assert code == 2
    assert "profile not found: https://example.org/nope" in err
    assert out == ""


def test_unreadable_and_malformed_files_exit_2(capsys, fhir_packages_dir, tmp_path, slot_file):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    code, out, _ = run(capsys, str(tmp_path / "absent.json"), str(broken), str(slot_file),
                       "--packages", str(fhir_packages_dir), "--offline", "--format", "json")
    assert code == 2
    reports = json.loads(out)
    assert [r["valid"] for r in reports] == [False, False, True]
    assert "illisible" in reports[0]["outcome"]["issue"][0]["details"]["text"]
    assert reports[1]["outcome"]["issue"][0]["severity"] == "fatal"


def test_packages_from_environment(capsys, monkeypatch, fhir_packages_dir, slot_file):
    monkeypatch.setenv("MES_FHIR_PACKAGES", str(fhir_packages_dir))
    code, _, _ = run(capsys, str(slot_file), "--offline")
    assert code == 0


def test_missing_core_exits_2(capsys, tmp_path, slot_file):
    code, _, err = run(capsys, str(slot_file), "--packages", str(tmp_path), "--offline",
                       "--cache-dir", str(tmp_path / "cache"))
    assert code == 2
    assert "hl7.fhir.r4.core#4.0.1" in err


def test_xml_file_is_validated_through_the_xml_reader(capsys, fhir_packages_dir, tmp_path, store, examples):
    xml = pytest.importorskip("pytest_mes.fhir.xml")
    slot = examples(GAP, "Slot-example.json")
    slot["status"] = "libre"
    path = tmp_path / "slot.xml"
    path.write_text(xml.to_xml(slot, store), encoding="utf-8")
    code, out, _ = run(capsys, str(path), "--packages", str(fhir_packages_dir), "--offline", "--format", "json")
    assert code == 1
    issues = json.loads(out)[0]["outcome"]["issue"]
    assert any(i["expression"] == ["Slot.status"] and i["severity"] == "error" for i in issues)


_PROFILE_XML = """<StructureDefinition xmlns="http://hl7.org/fhir">
  <url value="http://example.org/StructureDefinition/patient-other"/>
  <name value="PatientOther"/>
  <status value="draft"/>
  <kind value="resource"/>
  <abstract value="false"/>
  <type value="Patient"/>
  <baseDefinition value="http://hl7.org/fhir/StructureDefinition/Patient"/>
  <derivation value="constraint"/>
  <differential>
    <element><path value="Patient.gender"/><fixedCode value="other"/></element>
    <element><path value="Patient.birthDate"/><min value="1"/></element>
  </differential>
</StructureDefinition>
"""


def test_ig_folder_of_xml_differentials(capsys, fhir_packages_dir, tmp_path):
    """--ig: a folder holding a FHIR XML profile without a snapshot; the resource names it in meta.profile."""
    ig = tmp_path / "ig"
    ig.mkdir()
    (ig / "patient-other.xml").write_text(_PROFILE_XML, encoding="utf-8")
    (ig / "notes.xml").write_text("<not-fhir/>", encoding="utf-8")
    patient = tmp_path / "patient.json"
    patient.write_text(json.dumps({"resourceType": "Patient", "gender": "male",
                                   "meta": {"profile": ["http://example.org/StructureDefinition/patient-other"]}}))
    code, out, err = run(capsys, str(patient), "--packages", str(fhir_packages_dir), "--offline", "--ig", str(ig),
                         "--format", "json")
    assert code == 1
    issues = json.loads(out)[0]["outcome"]["issue"]
    assert {(i["extension"][0]["valueString"], i["expression"][0]) for i in issues} >= {
        ("FIXED", "Patient.gender"), ("CARD_MIN", "Patient")}
    assert f"--ig {ig / 'notes.xml'}: not read" in err  # what cannot be read is named, the rest is loaded
    assert err.count("notes.xml: not read") == 1 and err.count("FHIR packages missing") <= 1, "each said once"
    patient.write_text(json.dumps({"resourceType": "Patient", "gender": "other", "birthDate": "2000-01-01"}))
    code, _, _ = run(capsys, str(patient), "--packages", str(fhir_packages_dir), "--offline",
                     "--ig", str(ig / "patient-other.xml"), "--profile",
                     "http://example.org/StructureDefinition/patient-other")
    assert code == 0


def test_ig_path_that_does_not_exist_exits_2(capsys, fhir_packages_dir, slot_file, tmp_path):
    code, _, err = run(capsys, str(slot_file), "--packages", str(fhir_packages_dir), "--offline",
                       "--ig", str(tmp_path / "missing"))
    assert code == 2 and "missing: no such file or folder" in err



def test_a_folder_is_validated_file_by_file(capsys, fhir_packages_dir, tmp_path, slot_file, bad_slot_file):
    folder = tmp_path / "resources"
    (folder / "nested").mkdir(parents=True)
    (folder / "nested" / "bad.json").write_bytes(bad_slot_file.read_bytes())
    (folder / "good.json").write_bytes(slot_file.read_bytes())
    (folder / "notes.txt").write_text("not a resource")
    (folder / ".hidden.json").write_text("{")
    code, out, _ = run(capsys, str(folder), "--packages", str(fhir_packages_dir), "--offline", "--format", "json")
    assert code == 1
    assert [(r["file"], r["valid"]) for r in json.loads(out)] == [
        (str(folder / "good.json"), True), (str(folder / "nested" / "bad.json"), False)]


def test_a_folder_without_resources_exits_2(capsys, fhir_packages_dir, tmp_path):
    (tmp_path / "readme.txt").write_text("nothing here")
    code, _, err = run(capsys, str(tmp_path), "--packages", str(fhir_packages_dir), "--offline")
    assert code == 2 and f"{tmp_path}: no .json or .xml file in this folder" in err


def test_the_same_issue_in_many_entries_is_printed_once_with_its_count(capsys, fhir_packages_dir, tmp_path):
    entries = [{"fullUrl": f"urn:uuid:{n:08d}-0000-4000-8000-000000000000",
                "resource": {"resourceType": "Basic", "code": {"text": "x"}, "oops": n}} for n in range(40)]
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}))
    code, out, _ = run(capsys, str(bundle), "--packages", str(fhir_packages_dir), "--offline")
    assert code == 1
    assert "    Bundle.entry[*].resource.oops  × 40" in out
    assert ("à : Bundle.entry[0].resource.oops, Bundle.entry[1].resource.oops, Bundle.entry[2].resource.oops"
            " … et 37 autres (--max-issues 0 les montre toutes)") in out
    assert len(out.splitlines()) < 20
    code, every, _ = run(capsys, str(bundle), "--packages", str(fhir_packages_dir), "--offline", "--max-issues", "0")
    assert all(f"Bundle.entry[{n}].resource.oops" in every for n in range(40)) and "autres" not in every


def test_max_issues_must_be_a_whole_number(capsys):
    with pytest.raises(SystemExit) as info:
        main(["validate", "x.json", "--max-issues", "many"])
    assert info.value.code == 2 and "give a whole number" in capsys.readouterr().err


def test_mes_validate_turns_an_unexpected_exception_into_a_fatal_issue(tmp_path, capsys, fhir_packages_dir,
                                                                       monkeypatch):
    import json as _json

    from pytest_mes.cli import main

    good = tmp_path / "p.json"
    good.write_text(_json.dumps({"resourceType": "Patient"}))

    def boom(self, *args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(Validator, "validate", boom)
    code = main(["validate", str(good), "--packages", str(fhir_packages_dir), "--offline", "--format", "json"])
    out = capsys.readouterr().out
    assert code == 2
    issue = _json.loads(out)[0]["outcome"]["issue"][0]
    assert issue["severity"] == "fatal" and "RuntimeError: boom" in _json.dumps(issue, ensure_ascii=False)


# ---- mes validate: reading the documents ------------------------------------------------------------
def _validate_file(capsys, packages: Path, path: Path) -> tuple[int, list[dict]]:
    from pytest_mes.cli import main

    code = main(["validate", str(path), "--packages", str(packages), "--offline", "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    return code, out[0]["outcome"]["issue"]


def _at(issues: list[dict], severity: str) -> set[str]:
    return {i["expression"][0] for i in issues if i["severity"] == severity and i.get("expression")}


def test_duplicate_json_keys_are_errors_with_their_location(capsys, fhir_packages_dir, tmp_path):
    path = tmp_path / "dup.json"
    path.write_text('{"resourceType": "Patient", "gender": "xx", "gender": "male", '
                    '"name": [{"family": "a", "given": ["b"], "family": "c"}]}', encoding="utf-8")
    code, issues = _validate_file(capsys, fhir_packages_dir, path)
    assert code == 1
    assert {"Patient.gender", "Patient.name[0].family"} <= _at(issues, "error")
    assert "en double" in json.dumps(issues, ensure_ascii=False)


def test_duplicate_keys_reader():
    from pytest_mes.fhir.jsonread import loads_checked

    value, dups = loads_checked(
        b'\xef\xbb\xbf{"resourceType": "Bundle", "entry": [{"resource": {"id": "1", "id": "2"}}]}')
    assert value["entry"][0]["resource"]["id"] == "2"
    assert dups == [("Bundle.entry[0].resource.id", "id")]
    with pytest.raises(ValueError):
        loads_checked('{"a": NaN}')


def test_utf8_bom_is_not_a_reading_error(capsys, fhir_packages_dir, tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"resourceType": "Patient", "gender": "male"}).encode())
    code, issues = _validate_file(capsys, fhir_packages_dir, path)
    assert code == 0, issues
    path = tmp_path / "bom.xml"
    path.write_bytes(b'\xef\xbb\xbf<Patient xmlns="http://hl7.org/fhir"><gender value="male"/></Patient>')
    code, issues = _validate_file(capsys, fhir_packages_dir, path)
    assert code == 0, issues


def test_ig_takes_a_fhir_package_and_a_bundle_of_definitions(capsys, fhir_packages_dir, tmp_path):
    """--ig also takes an unpacked FHIR package, and a file holding a Bundle of definitions."""
    profile = {"resourceType": "StructureDefinition", "id": "p", "url": "http://example.org/StructureDefinition/p",
               "name": "P", "status": "draft", "kind": "resource", "abstract": False, "type": "Patient",
               "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Patient", "derivation": "constraint",
               "differential": {"element": [{"id": "Patient.gender", "path": "Patient.gender", "min": 1}]}}
    package = tmp_path / "pkg" / "package"
    package.mkdir(parents=True)
    (package / "package.json").write_text(json.dumps({"name": "example.p", "version": "1.0.0",
                                                      "dependencies": {"hl7.fhir.r4.core": "4.0.1"}}))
    (package / "StructureDefinition-p.json").write_text(json.dumps(profile))
    bundle = tmp_path / "definitions.json"
    bundle.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "http://example.org/StructureDefinition/q", "resource": {**profile, "id": "q",
                                                                           "url": "http://example.org/StructureDefinition/q"}}]}))
    patient = tmp_path / "patient.json"
    patient.write_text(json.dumps({"resourceType": "Patient"}))
    for ig, url in ((tmp_path / "pkg", "p"), (bundle, "q")):
        code, out, _ = run(capsys, str(patient), "--packages", str(fhir_packages_dir), "--offline", "--ig", str(ig),
                           "--profile", f"http://example.org/StructureDefinition/{url}", "--format", "json")
        assert code == 1, out
        assert [i["expression"][0] for i in json.loads(out)[0]["outcome"]["issue"] if i["severity"] == "error"] == \
            ["Patient"]


def test_bundle_rule_validates_the_entries_it_selects_against_a_profile(capsys, fhir_packages_dir, tmp_path):
    """--bundle TYPE:INDEX URL, as the HL7 validator's -bundle: only the entries the rule selects."""
    url = "http://example.org/StructureDefinition/gendered"
    (tmp_path / "gendered.json").write_text(json.dumps({
        "resourceType": "StructureDefinition", "id": "gendered", "url": url, "name": "Gendered", "status": "draft",
        "kind": "resource", "abstract": False, "type": "Patient", "derivation": "constraint",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Patient",
        "differential": {"element": [{"id": "Patient.gender", "path": "Patient.gender", "min": 1}]}}))
    entries = [{"fullUrl": f"urn:uuid:0c2a5b8e-6a4e-4c55-9d1e-7f3b1c2d4e5{i}",
                "resource": {"resourceType": "Patient", "active": True}} for i in range(2)]
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}))
    common = (str(bundle), "--ig", str(tmp_path / "gendered.json"), "--packages", str(fhir_packages_dir),
              "--offline", "--format", "json")
    assert run(capsys, *common)[0] == 0  # the control: no rule, no profile
    for rule, at in (("Patient:1", ["Bundle.entry[1].resource"]),
                     ("Patient:", ["Bundle.entry[0].resource", "Bundle.entry[1].resource"]), ("Practitioner:", [])):
        code, out, _ = run(capsys, *common, "--bundle", rule, url)
        errors = [i for i in json.loads(out)[0]["outcome"]["issue"] if i["severity"] == "error"]
        assert [i["expression"][0] for i in errors] == at and code == (1 if at else 0)
    code, out, err = run(capsys, *common, "--bundle", "Patient-0", url)
    assert code == 2 and out == "" and "--bundle Patient-0: a rule is TYPE:INDEX" in err


@pytest.mark.parametrize("given", ["fr-core-patient", "FR-Core-Patient", "fr-core-patien",
                                   "https://hl7.fr/ig/fhir/core/fr-core-patient"])
def test_an_unknown_profile_names_the_loaded_one_it_probably_means(capsys, fhir_packages_dir, slot_file, given):
    """A profile given by its name, or a url with a typo, points at the canonical url to write."""
    code, _, err = run(capsys, str(slot_file), "--profile", given, "--packages", str(fhir_packages_dir), "--offline")
    assert code == 2
    assert (f"profile not found: {given} — did you mean "
            "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient?") in err


@pytest.mark.parametrize(("content", "said"), [
    (b"", "Document illisible : fichier vide."),
    (b"  \r\n", "Document illisible : fichier vide."),
    ('{"resourceType": "Patient"}'.encode("utf-16"),
     "Document illisible : JSON illisible : le fichier n'est pas en UTF-8 (l'encodage de FHIR) : réenregistrez-le "
     "en UTF-8."),
    (b'{"resourceType": "Patient", "name": [{"family": "L\xe9vy"}]}',
     "Document illisible : JSON illisible : le fichier n'est pas en UTF-8 (l'encodage de FHIR) : réenregistrez-le "
     "en UTF-8."),
])
def test_an_empty_or_non_utf8_file_says_so(capsys, fhir_packages_dir, tmp_path, content, said):
    path = tmp_path / "resource.json"
    path.write_bytes(content)
    code, out, _ = run(capsys, str(path), "--packages", str(fhir_packages_dir), "--offline", "--format", "json")
    assert code == 2
    [report] = json.loads(out)
    assert report["outcome"]["issue"][0]["details"]["text"] == said


@pytest.mark.parametrize(("lang", "total"), [("fr", "Total : 3 fichiers — 1 VALIDE, 2 INVALIDES"),
                                             ("en", "Total: 3 files — 1 VALID, 2 INVALID")])
def test_several_files_end_with_their_total(capsys, fhir_packages_dir, slot_file, bad_slot_file, tmp_path, lang,
                                            total):
    """After a folder of a thousand files a reader wants the count, not to scroll back through them."""
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    code, out, _ = run(capsys, str(slot_file), str(bad_slot_file), str(broken), "--packages", str(fhir_packages_dir),
                       "--offline", "--context", GAP, "--lang", lang)
    assert code == 2
    assert out.rstrip().splitlines()[-1] == total
    _, one, _ = run(capsys, str(slot_file), "--packages", str(fhir_packages_dir), "--offline", "--context", GAP)
    assert "Total" not in one  # one file: its verdict is the first line already


def test_control_characters_of_a_file_are_written_out_not_sent_to_the_terminal(capsys, fhir_packages_dir, tmp_path):
    """A value quoted in a message (a wrong code, an id) may hold terminal escapes: shown as escapes."""
    path = tmp_path / "esc.json"
    path.write_text('{"resourceType": "Patient", "gender": "ma\\u001b[2Jle\\u202e"}', encoding="utf-8")
    assert main(["validate", str(path), "--packages", str(fhir_packages_dir), "--offline"]) == 1
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out
    assert "ma\\x1b[2Jle\\u202e" in out


@pytest.mark.parametrize("command", [["validate", "{file}", "--offline"], ["coverage", "--offline"],
                                     ["packages", "list", "--offline"]])
def test_a_reader_that_stops_reading_ends_the_command_quietly(fhir_packages_dir, slot_file, command):
    """`mes validate … | head`: the reader closes the pipe before the output is written; the command stops without a
    traceback, with the status a shell gives a command stopped by a closed pipe (128 + SIGPIPE)."""
    args = [part.format(file=slot_file) for part in command]
    process = subprocess.Popen([sys.executable, "-m", "pytest_mes.cli", *args, "--packages", str(fhir_packages_dir)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # before anything is written: the first write finds no reader
    err = process.communicate(timeout=120)[1].decode()
    assert "Traceback" not in err and "BrokenPipeError" not in err
    assert process.returncode == 141


def test_mes_lang_is_read_as_pytest_reads_it(capsys, monkeypatch, fhir_packages_dir, slot_file):
    """MES_LANG=EN (or ' en ') is English for `mes validate` as for pytest, not a language it does not know."""
    monkeypatch.setenv("MES_LANG", " EN ")
    code, out, err = run(capsys, str(slot_file), "--packages", str(fhir_packages_dir), "--offline", "--context", GAP)
    assert code == 0 and out.startswith(f"{slot_file}: VALID"), err


def test_a_file_of_a_folder_that_cannot_be_read_is_said_not_skipped(capsys, fhir_packages_dir, tmp_path, slot_file):
    """A link to a file that is gone (moved, an unmounted share) is a resource not validated: said, exit 2, never
    left out of the count as if the folder held only the others."""
    folder = tmp_path / "resources"
    folder.mkdir()
    (folder / "good.json").write_bytes(slot_file.read_bytes())
    (folder / "gone.json").symlink_to(tmp_path / "moved-away.json")
    code, out, _ = run(capsys, str(folder), "--packages", str(fhir_packages_dir), "--offline", "--lang", "en")
    assert code == 2
    assert f"{folder / 'gone.json'}: INVALID" in out and "unreadable file: No such file or directory" in out


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_a_yes_no_variable_that_says_neither_stops_the_command_as_it_stops_pytest(capsys, monkeypatch, slot_file,
                                                                                 value):
    """MES_OFFLINE=maybe read as "no" would download what the user meant to forbid: said, exit 2, nothing done."""
    monkeypatch.setenv("MES_OFFLINE", value)
    code, out, err = run(capsys, str(slot_file))
    assert (code, out) == (2, "")
    assert err == f"mes: MES_OFFLINE='{value}': write 1, true, yes, on or oui (0, false, no, off or non for no)\n"
