"""Regression tests for problems a review found: each test fails without its fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_mes.fhir.packages import PackageStore
from pytest_mes.fhir.validator import Validator
from tests.fhir.conftest import errors, one

CORE22 = "hl7.fhir.fr.core#2.2.0"


def test_sub_extension_choice_variant_outside_profile_types_is_unknown(validator, examples):
    """fr-core-identity-reliability restricts its identityStatus sub-extension to valueCoding: the
    base Extension's value[x] (which allows valueString) must not be used as a fall back."""
    patient = examples(CORE22, "Patient-FRCorePatientExample.json")
    ext = next(e for e in patient["extension"] if e["url"].endswith("fr-core-identity-reliability"))
    index = patient["extension"].index(ext)
    sub = next(s for s in ext["extension"] if s["url"] == "identityStatus")
    sub_index = ext["extension"].index(sub)
    assert errors(validator.validate(patient, context=CORE22)) == set()
    del sub["valueCoding"]
    sub["valueString"] = "VALI"
    result = validator.validate(patient, context=CORE22)
    one(result, "UNKNOWN_ELEMENT", f"Patient.extension[{index}].extension[{sub_index}].valueString")


def test_code_system_versions_do_not_share_a_cache_entry(store):
    """fr-core-cs-mode-validation-identity has code AC in FR Core 2.2.0, not in 2.0.1: the verdict must
    not depend on which version was expanded first."""
    from pytest_mes.fhir.valuesets import ValueSetExpander

    vs = "https://hl7.fr/ig/fhir/core/ValueSet/fr-core-vs-mode-validation-identity"
    cs = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-mode-validation-identity"
    for order in (("2.0.1", "2.2.0"), ("2.2.0", "2.0.1")):
        expander = ValueSetExpander(store)
        verdicts = {v: expander.expand(f"{vs}|{v}", f"hl7.fhir.fr.core#{v}").check(cs, "AC") for v in order}
        assert verdicts == {"2.0.1": False, "2.2.0": True}, order


def _expander_with(store, monkeypatch, valuesets: dict[str, dict]):
    from pytest_mes.fhir.valuesets import ValueSetExpander

    real = store.resolve

    def resolve(canonical, context=None):
        return valuesets.get(canonical) or real(canonical, context)

    monkeypatch.setattr(store, "resolve", resolve)
    return ValueSetExpander(store)


GENDER = "http://hl7.org/fhir/administrative-gender"


def test_imported_valueset_keeps_its_exclude(store, monkeypatch):
    inner = {"resourceType": "ValueSet", "url": "urn:test:inner", "compose": {
        "include": [{"system": GENDER}], "exclude": [{"system": GENDER, "concept": [{"code": "other"}]}]}}
    outer = {"resourceType": "ValueSet", "url": "urn:test:outer",
             "compose": {"include": [{"valueSet": ["urn:test:inner"]}]}}
    expander = _expander_with(store, monkeypatch, {"urn:test:inner": inner, "urn:test:outer": outer})
    expansion = expander.expand("urn:test:outer")
    assert expansion.check(GENDER, "male") is True
    assert expansion.check(GENDER, "other") is False
    assert expansion.check(None, "other") is False


def test_exclude_that_cannot_be_evaluated_makes_the_binding_not_checked(store, monkeypatch):
    vs = {"resourceType": "ValueSet", "url": "urn:test:vs", "compose": {
        "include": [{"system": GENDER}],
        "exclude": [{"valueSet": ["urn:test:missing"]}]}}
    vs2 = {"resourceType": "ValueSet", "url": "urn:test:vs2", "compose": {
        "include": [{"system": GENDER}],
        "exclude": [{"system": GENDER, "filter": [{"property": "status", "op": "=", "value": "x"}]}]}}
    expander = _expander_with(store, monkeypatch, {"urn:test:vs": vs, "urn:test:vs2": vs2})
    for url in ("urn:test:vs", "urn:test:vs2"):
        expansion = expander.expand(url)
        assert expansion.check(GENDER, "male") is None, url
        assert expansion.check(None, "male") is None, url
        assert expansion.check(GENDER, "nonsense") is False, url


def test_coding_without_system_is_not_in_the_valueset_but_a_bare_code_is(validator):
    patient = {"resourceType": "Patient", "maritalStatus": {"coding": [{"code": "M"}]},
               "contact": [{"gender": "male"}]}
    result = validator.validate(patient)
    issue = one(result, "BINDING_EXTENSIBLE", "Patient.maritalStatus")
    assert "sans system" in issue.message
    # A bare code takes its system from the binding: still accepted.
    assert ("BINDING_REQUIRED", "Patient.contact[0].gender") not in errors(result)


def test_coding_without_system_fails_a_required_binding(validator):
    allergy = {"resourceType": "AllergyIntolerance", "patient": {"reference": "Patient/1"},
               "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                                              "code": "active"}]}}
    assert errors(validator.validate(allergy)) == set()
    del allergy["clinicalStatus"]["coding"][0]["system"]
    issue = one(validator.validate(allergy), "BINDING_REQUIRED", "AllergyIntolerance.clinicalStatus")
    assert issue.severity == "error"


# ---- damaged index cache, stale folder index ------------------------------------------------------
def _lib_store(folder, cache_dir):
    from pytest_mes.fhir.packages import PackageStore

    return PackageStore.load([folder], offline=True, cache_dir=cache_dir, pins={},  # a fake core: no pins
                             packages=["hl7.fhir.r4.core#4.0.1", "example.lib#1.0.0"])


def _blob_files(index_root):
    return list(index_root.rglob("resources.bin"))


def test_missing_or_truncated_resources_bin_is_rebuilt(tmp_path, monkeypatch):
    import json as _json

    from tests.fhir.test_packages import make_tgz, value_set

    monkeypatch.setenv("MES_CACHE_DIR", str(tmp_path / "index"))
    folder = tmp_path / "pkgs"
    folder.mkdir()
    (folder / "core.tgz").write_bytes(make_tgz("hl7.fhir.r4.core", "4.0.1"))
    (folder / "lib.tgz").write_bytes(make_tgz("example.lib", "1.0.0", resources=[value_set("shared", "1.0.0")]))
    url = "http://example.org/ValueSet/shared"
    assert _lib_store(folder, tmp_path / "fc").resolve(url)["version"] == "1.0.0"
    blobs = [b for b in _blob_files(tmp_path / "index") if b.stat().st_size > 0]
    assert blobs
    for damage in ("truncate", "delete"):
        for blob in blobs:
            if damage == "truncate":
                blob.write_bytes(blob.read_bytes()[:10])
            else:
                blob.unlink()
        assert _lib_store(folder, tmp_path / "fc").resolve(url)["version"] == "1.0.0", damage
    # Damaged after the store was loaded: the package itself is read again.
    store = _lib_store(folder, tmp_path / "fc")
    for blob in blobs:
        blob.write_bytes(b"")
    assert store.resolve(url)["version"] == "1.0.0"
    assert _json.dumps(store.resolve(url))


def test_unpacked_folder_index_follows_in_place_edits(tmp_path, monkeypatch):
    import json as _json
    import os

    from pytest_mes.fhir.packages import PackageStore
    from tests.fhir.test_packages import make_tgz, value_set

    monkeypatch.setenv("MES_CACHE_DIR", str(tmp_path / "index"))
    (tmp_path / "core.tgz").write_bytes(make_tgz("hl7.fhir.r4.core", "4.0.1"))
    pkg = tmp_path / "lib" / "package"
    (pkg / "example").mkdir(parents=True)
    (pkg / "package.json").write_text(_json.dumps({"name": "example.lib", "version": "1.0.0"}))
    vs_file = pkg / "ValueSet-shared.json"
    vs_file.write_text(_json.dumps(value_set("shared", "1.0.0")))
    ex_file = pkg / "example" / "Basic-ex.json"
    ex_file.write_text(_json.dumps({"resourceType": "Basic", "id": "ex"}))
    folder_mtime = os.stat(pkg).st_mtime_ns

    def load():
        return PackageStore.load([tmp_path], offline=True, cache_dir=tmp_path / "fc", pins={},  # a fake core
                                 packages=["hl7.fhir.r4.core#4.0.1", "example.lib#1.0.0"])

    assert load().resolve("http://example.org/ValueSet/shared")["version"] == "1.0.0"
    vs_file.write_text(_json.dumps(value_set("shared", "1.0.1")))  # in place: same folder mtime
    ex_file.write_text(_json.dumps({"resourceType": "Basic", "id": "ex", "code": {"text": "edited!"}}))
    os.utime(pkg, ns=(folder_mtime, folder_mtime))
    store = load()
    assert store.resolve("http://example.org/ValueSet/shared")["version"] == "1.0.1"
    assert dict(store.package("example.lib#1.0.0").examples())["example/Basic-ex.json"]["code"]["text"] == "edited!"


def test_mes_validate_turns_an_unexpected_exception_into_a_fatal_issue(tmp_path, capsys, fhir_packages_dir,
                                                                       monkeypatch):
    import json as _json

    from pytest_mes.cli import main
    from pytest_mes.fhir.validator import Validator

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


# ---- narrative (txt-1, txt-2) and per-1 ---------------------------------------------------------------
_NS = 'xmlns="http://www.w3.org/1999/xhtml"'


def _with_div(div: str) -> dict:
    return {"resourceType": "Patient", "text": {"status": "generated", "div": div}}


def _invariant_keys(result) -> set[str]:
    return {i.source.split(" ")[0] for i in result.issues if i.message_id == "INVARIANT" and i.severity == "error"}


@pytest.mark.parametrize("div", [
    f'<div {_NS}><p onclick="alert(1)">x</p></div>',
    f'<div {_NS}><a href=" JavaScript:alert(1)">x</a></div>',
    f'<div {_NS}><p>x</div>',
    "<div>http://www.w3.org/1999/xhtml</div>",
    f'<span {_NS}>x</span>',
    f'<div {_NS}><svg xmlns="http://www.w3.org/2000/svg"/>x</div>',
    f'<div {_NS}><p foo="1">x</p></div>',
    f'<div {_NS}><p style="x">x<script>1</script></p></div>',
    f'<!DOCTYPE div [<!ENTITY e "x">]><div {_NS}>&e;</div>',
    f'<div {_NS}><p title=">" onclick="x">a</p></div>',
    f'<div {_NS}><!-- c --><p onmouseover="x">a</p></div>',
    f'<div {_NS}><x:script xmlns:x="http://www.w3.org/1999/xhtml">1</x:script>a</div>',
    f'<div {_NS}><a href="&#106;avascript:alert(1)">x</a></div>',
    '<div><p>no namespace</p></div>',
])
def test_txt_1_rejects_active_or_foreign_content(validator, div):
    assert "txt-1" in _invariant_keys(validator.validate(_with_div(div)))


def test_txt_1_accepts_ordinary_narratives_and_txt_2_wants_content(validator):
    good = f'<div {_NS} xml:lang="fr"><p class="a">Pierre&nbsp;D &amp; <a href="#x">lien</a></p>' \
           '<table border="1"><tr><td colspan="2">x</td></tr></table></div>'
    assert _invariant_keys(validator.validate(_with_div(good))) == set()
    prefixed = f'<div {_NS}><!-- c --><x:p xmlns:x="http://www.w3.org/1999/xhtml">a</x:p></div>'
    assert _invariant_keys(validator.validate(_with_div(prefixed))) == set()
    assert _invariant_keys(validator.validate(_with_div(f'<div {_NS}><img src="#p" alt=""/></div>'))) == set()
    assert _invariant_keys(validator.validate(_with_div(f'<div {_NS}> <p> </p></div>'))) == {"txt-2"}


@pytest.mark.parametrize(("start", "end", "violated"), [
    ("2021", "2020-06", True),
    ("2021-01-01", "2020-06-01T10:00:00Z", True),
    ("2021-03", "2021-02-15", True),
    ("2021", "2021-06", False),
    ("2020", "2021-01", False),
    ("2021-06-01", "2021-06-01T10:00:00Z", False),
])
def test_per_1_compares_field_by_field_across_precisions(validator, start, end, violated):
    patient = {"resourceType": "Patient", "name": [{"family": "x", "period": {"start": start, "end": end}}]}
    assert ("per-1" in _invariant_keys(validator.validate(patient))) is violated


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


@pytest.mark.parametrize(("xml", "location", "words"), [
    ('<Patient xmlns="http://hl7.org/fhir"><id value="a"/><foo value="x"/><gender value="male"/></Patient>',
     "Patient.foo", "inconnu"),
    ('<Patient xmlns="http://hl7.org/fhir"><gender value="male"/><id value="a"/></Patient>', "Patient.id",
     "mal placé"),
    ('<Patient xmlns="http://hl7.org/fhir"><id value="a"/><gender value="male"/><gender value="female"/></Patient>',
     "Patient.gender", "répété"),
    ('<Patient xmlns="http://hl7.org/fhir"><deceasedBoolean value="true"/><deceasedDateTime value="2020"/>'
     '</Patient>', "Patient.deceased", "Un seul type"),
])
def test_fhir_xml_structure_problems_are_validation_issues(capsys, fhir_packages_dir, tmp_path, xml, location,
                                                            words):
    path = tmp_path / "r.xml"
    path.write_text(xml, encoding="utf-8")
    code, issues = _validate_file(capsys, fhir_packages_dir, path)
    assert code == 1
    assert location in _at(issues, "error")
    assert words in json.dumps(issues, ensure_ascii=False)


def test_xml_that_is_not_well_formed_still_cannot_be_validated(capsys, fhir_packages_dir, tmp_path):
    path = tmp_path / "r.xml"
    path.write_text('<Patient xmlns="http://hl7.org/fhir"><gender value="male"></Patient>', encoding="utf-8")
    code, issues = _validate_file(capsys, fhir_packages_dir, path)
    assert code == 2 and issues[0]["severity"] == "fatal"


def test_parse_xml_still_raises_on_structure_problems(store):
    from pytest_mes.fhir.xml import FhirXmlError, parse_xml

    with pytest.raises(FhirXmlError):
        parse_xml('<Patient xmlns="http://hl7.org/fhir"><gender value="male"/><id value="a"/></Patient>', store)


# ---- extension urls -----------------------------------------------------------------------------------
def test_top_level_extension_with_relative_url_is_an_error(validator):
    patient = {"resourceType": "Patient", "extension": [{"url": "foo", "valueString": "x"}]}
    assert one(validator.validate(patient), "EXTENSION_NO_URL", "Patient.extension[0]").severity == "error"
    # A sub-extension of a complex extension has a relative url: fine.
    nested = {"resourceType": "Patient", "extension": [
        {"url": "http://hl7.org/fhir/StructureDefinition/patient-nationality",
         "extension": [{"url": "code", "valueCodeableConcept": {"text": "FR"}}]}]}
    assert not [i for i in validator.validate(nested).issues if i.message_id == "EXTENSION_NO_URL"]


def test_unknown_modifier_extension_is_an_error(validator):
    patient = {"resourceType": "Patient",
               "modifierExtension": [{"url": "http://autre.test/mod", "valueBoolean": True}]}
    issue = one(validator.validate(patient), "MODIFIER_EXTENSION_UNKNOWN", "Patient.modifierExtension[0]")
    assert issue.severity == "error"
    plain = {"resourceType": "Patient", "extension": [{"url": "http://autre.test/ext", "valueBoolean": True}]}
    assert one(validator.validate(plain), "EXTENSION_UNKNOWN", "Patient.extension[0]").severity == "warning"


def test_unknown_extension_is_an_error_when_every_dependency_is_loaded(fhir_packages_dir):
    """As the HL7 validator: an extension whose definition cannot be found is not allowed, except from an
    example domain (accepted, said as information), modifier extensions too."""
    core = Validator(PackageStore.load([fhir_packages_dir], offline=True, packages=["hl7.fhir.r4.core#4.0.1"]))
    assert not core.dependencies_missing
    patient = {"resourceType": "Patient", "extension": [{"url": "http://autre.test/ext", "valueBoolean": True}]}
    assert one(core.validate(patient), "EXTENSION_NOT_FOUND", "Patient.extension[0]").severity == "error"
    for url in ("http://example.org/fhir/StructureDefinition/x", "http://acme.com/ext"):
        for key in ("extension", "modifierExtension"):
            result = core.validate({"resourceType": "Patient", key: [{"url": url, "valueBoolean": True}]})
            assert result.valid
            assert one(result, "EXTENSION_EXAMPLE_DOMAIN", f"Patient.{key}[0]").severity == "information"


# ---- unknown --context ---------------------------------------------------------------------------------
def test_unknown_context_is_reported(validator, capsys, fhir_packages_dir, tmp_path):
    from pytest_mes.cli import main

    result = validator.validate({"resourceType": "Patient"}, context="ans.fhir.fr.gap#9.9.9")
    assert [i.severity for i in result.issues if i.message_id == "CONTEXT_UNKNOWN"] == ["warning"]
    assert not [i for i in validator.validate({"resourceType": "Patient"}, context="ans.fhir.fr.gap#3.0.0").issues
                if i.message_id == "CONTEXT_UNKNOWN"]
    path = tmp_path / "p.json"
    path.write_text('{"resourceType": "Patient"}', encoding="utf-8")
    code = main(["validate", str(path), "--packages", str(fhir_packages_dir), "--offline",
                 "--context", "ans.fhir.fr.gap#9.9.9"])
    assert code == 2
    assert "--context ans.fhir.fr.gap#9.9.9" in capsys.readouterr().err


_TRICKY_DIVS = [
    f'<div {_NS}><p title="a > b">x</p></div>',
    f'<div {_NS}><p title=\'it"s\'>x</p><br/><br /></div>',
    f'<div {_NS}><a href="java\tscript:alert(1)">x</a></div>',
    f'<div {_NS}><a href="javascript&#58;alert(1)">x</a></div>',
    f'<div {_NS}><a href="&amp;#106;avascript:alert(1)">x</a></div>',
    f'<div {_NS}><![CDATA[<script>1</script>]]></div>',
    f'<div {_NS}><?php echo 1 ?></div>',
    f'<div {_NS}><P>upper case</P></div>',
    f'<div {_NS}><p\n class="a"\tid=\'b\' >x</p></div>',
    f'<div {_NS} ><img src="x.png" alt="x" /></div>',
    f'<div {_NS}><img/></div>',
    f'<div {_NS}><imgx>x</imgx></div>',
    f'<div {_NS}><p xmlns="http://www.w3.org/1999/xhtml">x</p></div>',
    f'<div {_NS}><p xmlns="urn:other">x</p></div>',
    f'<div {_NS}><a href="http://x" name="n" onclick="y">x</a></div>',
    f'<div {_NS}><td colspan="2">x</td><p href="x">y</p></div>',
    f'<div {_NS}><p xml:lang="fr" xml:space="preserve">x</p></div>',
    f' \n<div {_NS}><p>leading space</p></div>',
    '<div xmlns="http://www.w3.org/1999/xhtml "><p>x</p></div>',
    "<div xmlns='http://www.w3.org/1999/xhtml'><p>x</p></div>",
    f'<div {_NS}><p>é – ’ 💊</p><span style="x:y">&lt;b&gt;</span></div>',
    f'<div {_NS}><p>x</p></div><p>second root</p>',
    f'<div {_NS}><p a="1" a="2">x</p></div>',
    f'<div {_NS}>',
    f'<div {_NS}></div>',
    '',
]


def test_narratives_judged_by_their_tags_as_by_expat_events(store):
    """The start-tag scan is a shortcut only: wherever it answers, the expat walk answers the same, for
    every narrative of the loaded packages and for tricky ones; and it answers for ordinary narratives."""
    from pytest_mes.fhir.invariants import _narrative_by_events, _narrative_by_tags

    corpus = [r["text"]["div"] for p in store.packages for r in p.resources()
              if isinstance(r.get("text"), dict) and isinstance(r["text"].get("div"), str)
              and "xmlns:" not in r["text"]["div"]]
    corpus += [div for p in store.packages for _, r in p.examples() for div in [(r.get("text") or {}).get("div")]
               if isinstance(div, str) and "xmlns:" not in div]
    assert len(corpus) > 400
    answered = 0
    for div in corpus + _TRICKY_DIVS:
        for content in (True, False):
            fast = _narrative_by_tags(div, content)
            if fast is not None:
                answered += 1
                assert fast == _narrative_by_events(div, content), div
    assert answered > 0.9 * 2 * len(corpus)


@pytest.mark.parametrize("bad_type", [["Organization"], {"x": 1}, 12])
def test_reference_to_a_resource_with_a_malformed_type_does_not_crash(validator, bad_type):
    """The target's resourceType is reported where it stands (validate() returning is the "no crash");
    the reference to it is not judged."""
    patient = {"resourceType": "Patient", "managingOrganization": {"reference": "#o"},
               "contained": [{"resourceType": bad_type, "id": "o"}]}
    result = validator.validate(patient)
    assert ("NOT_A_RESOURCE", "Patient.contained[0]") in {(i.message_id, i.expression) for i in result.errors}
    assert "REF_TARGET_TYPE" not in {i.message_id for i in result.issues}


def _organization_chain(n: int, broken_last: bool = False) -> dict:
    """n FR Core Organizations, each partOf the next (target profile fr-core-organization)."""
    profile = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-organization|2.2.0"
    entries = [{"fullUrl": f"urn:uuid:o{i}", "resource": {
        "resourceType": "Organization", "id": f"o{i}", "meta": {"profile": [profile]}, "name": f"O{i}",
        **({"partOf": {"reference": f"urn:uuid:o{i + 1}"}} if i + 1 < n else {})}} for i in range(n)]
    if broken_last:
        del entries[-1]["resource"]["name"]  # org-1: a name or an identifier
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def test_a_long_chain_of_references_is_cut_and_said(validator):
    """Each target's profile is judged through its own references, a walk inside a walk: a chain of 300
    is followed 20 deep per walk, walked again from the cut up to 200 deep, the rest said once, and it
    never blows Python's stack."""
    result = validator.validate(_organization_chain(300), context="hl7.fhir.fr.core#2.2.0")
    assert [i.message_id for i in result.issues if i.message_id == "REF_CHAIN_CUT"] == ["REF_CHAIN_CUT"]
    assert not result.errors
    short = validator.validate(_organization_chain(5, broken_last=True), context="hl7.fhir.fr.core#2.2.0")
    assert ("REF_TARGET_PROFILE", "Bundle.entry[3].resource.partOf.reference") in {
        (i.message_id, i.expression) for i in short.errors}
    assert "REF_CHAIN_CUT" not in {i.message_id for i in short.issues}


def test_nesting_deeper_than_the_stack_is_a_fatal_issue_not_a_crash(validator):
    extension: dict = {"url": "urn:x", "valueString": "fin"}
    for _ in range(3000):
        extension = {"url": "urn:x", "extension": [extension]}
    result = validator.validate({"resourceType": "Patient", "extension": [extension]})
    assert [(i.severity, i.message_id) for i in result.issues] == [("fatal", "TOO_DEEP")]
