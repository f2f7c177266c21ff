"""Base FHIR R4 checks on hand-written resources: JSON shape, primitives, choice types, companions,
contained resources, references, Bundles, invariants — and arbitrary JSON never crashes the validator."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_mes.fhir.issues import sort_issues
from tests.fhir.conftest import errors, found, one


def patient(**extra):
    resource = {"resourceType": "Patient", "id": "p1", "name": [{"family": "Durand", "given": ["Pierre"]}]}
    resource.update(extra)
    return resource


def test_minimal_patient_is_valid_with_narrative_warning(validator):
    result = validator.validate(patient())
    assert result.valid
    assert found(result, "warning") == {("INVARIANT", "Patient")}  # dom-6: no narrative
    assert "dom-6" in result.issues[0].source


@pytest.mark.parametrize(("field", "value", "message_id"), [
    ("birthDate", "1974-02-30x", "BAD_FORMAT"),
    ("birthDate", "74-12-25", "BAD_FORMAT"),
    ("birthDate", 19741225, "WRONG_JSON_TYPE"),
    ("active", "true", "WRONG_JSON_TYPE"),
    ("multipleBirthInteger", True, "WRONG_JSON_TYPE"),
    ("multipleBirthInteger", 2.5, "WRONG_JSON_TYPE"),
    ("multipleBirthInteger", 2**31, "INTEGER_RANGE"),
    ("id", "not valid!", "BAD_FORMAT"),
    ("gender", "M", "BINDING_REQUIRED"),
    ("implicitRules", "has space", "BAD_FORMAT"),
    ("deceasedDateTime", "2020-01-01T10:00", "BAD_FORMAT"),
])
def test_primitive_formats(validator, field, value, message_id):
    result = validator.validate(patient(**{field: value}))
    # Choice elements are located the FHIRPath way, as the HL7 validator does.
    location = {"multipleBirthInteger": "multipleBirth.ofType(integer)",
                "deceasedDateTime": "deceased.ofType(dateTime)"}.get(field, field)
    one(result, message_id, f"Patient.{location}")


@pytest.mark.parametrize(("field", "value"), [
    ("birthDate", "1974"), ("birthDate", "1974-12"), ("deceasedDateTime", "2020-01-01T10:00:00.123+01:00"),
    ("multipleBirthInteger", 2), ("id", "A-b.9"),
])
def test_valid_primitives(validator, field, value):
    assert errors(validator.validate(patient(**{field: value}))) == set()


def test_primitive_extension_companion(validator):
    ext = {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]}
    result = validator.validate(patient(_birthDate=ext))
    assert errors(result) == set()
    result = validator.validate(patient(_birthDate={"foo": 1}))
    one(result, "UNKNOWN_ELEMENT", "Patient.birthDate.foo")


def test_primitive_array_with_nulls_and_companions(validator):
    absent = {"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "masked"}
    name = {"family": "Durand", "given": ["Pierre", None], "_given": [None, {"extension": [absent]}]}
    assert errors(validator.validate(patient(name=[name]))) == set()
    name = {"family": "Durand", "given": ["Pierre", None]}
    one(validator.validate(patient(name=[name])), "NULL_VALUE", "Patient.name[0].given[1]")


def test_choice_types(validator):
    assert errors(validator.validate(patient(deceasedBoolean=False))) == set()
    one(validator.validate(patient(deceasedString="oui")), "UNKNOWN_ELEMENT", "Patient.deceasedString")
    one(validator.validate(patient(deceasedBoolean=False, deceasedDateTime="2020")), "CARD_MAX", "Patient")


def test_nested_unknown_element_and_empty_object(validator):
    one(validator.validate(patient(name=[{"family": "D", "nom": "x"}])), "UNKNOWN_ELEMENT", "Patient.name[0].nom")
    one(validator.validate(patient(maritalStatus={})), "EMPTY_OBJECT", "Patient.maritalStatus")
    one(validator.validate(patient(name=[{"id": "only-id"}])), "EMPTY_OBJECT", "Patient.name[0]")


def test_not_a_resource(validator):
    result = validator.validate(["not", "a", "resource"])
    assert [(i.severity, i.message_id) for i in result.issues] == [("fatal", "NOT_A_RESOURCE")]
    one(validator.validate({"resourceType": "Patients"}), "UNKNOWN_RESOURCE_TYPE", "Patients")


def test_contained_resources(validator):
    org = {"resourceType": "Organization", "id": "o1", "name": "Clinique"}
    result = validator.validate(patient(contained=[org], managingOrganization={"reference": "#o1"}))
    assert errors(result) == set()
    bad = dict(org, meta={"versionId": "2"}, nom="x")
    result = validator.validate(patient(contained=[bad], managingOrganization={"reference": "#o1"}))
    assert {("UNKNOWN_ELEMENT", "Patient.contained[0].nom"), ("INVARIANT", "Patient")} <= errors(result)
    assert any("dom-4" in i.source for i in result.issues)
    nested = dict(org, contained=[{"resourceType": "Device", "id": "d"}])
    result = validator.validate(patient(contained=[nested], managingOrganization={"reference": "#o1"}))
    assert any("dom-2" in i.source for i in result.errors)


def test_reference_target_types(validator):
    one(validator.validate(patient(managingOrganization={"reference": "Practitioner/1"})), "REF_TARGET_TYPE",
        "Patient.managingOrganization.reference")
    ok = validator.validate(patient(managingOrganization={"reference": "https://x.org/fhir/Organization/1/_history/2"}))
    assert errors(ok) == set()
    typed = validator.validate(patient(managingOrganization={"reference": "urn:uuid:1", "type": "Device"}))
    one(typed, "REF_TARGET_TYPE", "Patient.managingOrganization.reference")


def test_bundle_invariants_and_entries(validator):
    bundle = {
        "resourceType": "Bundle", "type": "searchset", "total": 2,
        "entry": [
            {"fullUrl": "https://x.org/fhir/Patient/1", "resource": patient(id="1"), "search": {"mode": "match"}},
            {"fullUrl": "https://x.org/fhir/Patient/1", "resource": patient(id="1", gender="x")},
        ],
    }
    result = validator.validate(bundle)
    assert any("bdl-7" in i.source for i in result.errors)  # duplicate fullUrl
    one(result, "BINDING_REQUIRED", "Bundle.entry[1].resource.gender")
    bundle["type"] = "collection"
    result = validator.validate(bundle)
    assert {"bdl-1", "bdl-2"} <= {i.source.split()[0] for i in result.errors}


def test_period_invariant_native(validator):
    encounter = {"resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"},
                 "period": {"start": "2024-05-02", "end": "2024-05-01"}}
    result = validator.validate(encounter)
    issue = one(result, "INVARIANT", "Encounter.period")
    assert issue.source.startswith("per-1")


def test_narrative_html_checks(validator):
    text = {"status": "generated", "div": "<p>pas de div</p>"}
    result = validator.validate(patient(text=text))
    assert any(i.source.startswith("txt-1") for i in result.errors)
    text = {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml"><script>x</script></div>'}
    assert not validator.validate(patient(text=text)).valid


def test_issue_order_is_stable(validator):
    resource = patient(gender="x", foo=1, birthDate="bad", name=[{"nom": 1}] * 11)
    first = validator.validate(resource).issues
    assert first == sort_issues(reversed(first))
    locations = [i.expression for i in first if i.expression.startswith("Patient.name[")]
    assert locations.index("Patient.name[2].nom") < locations.index("Patient.name[10].nom")


def test_operation_outcome(validator):
    outcome = validator.validate(patient(gender="x")).to_operation_outcome()
    assert outcome["resourceType"] == "OperationOutcome"
    issue = next(i for i in outcome["issue"] if i["severity"] == "error")
    assert issue["code"] == "code-invalid"
    assert issue["expression"] == ["Patient.gender"]
    assert "administrative-gender" in issue["diagnostics"]
    assert issue["details"]["text"].startswith("Code x absent")
    empty = validator.validate({"resourceType": "Basic", "code": {"text": "x"},
                                "text": {"status": "generated",
                                         "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'}})
    assert empty.to_operation_outcome()["issue"][0]["severity"] == "information"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["id", "extension", "url", "value", "valueString", "name", "given",
                                       "family", "_given", "coding", "system", "code", "reference", "contained",
                                       "resourceType", "entry", "resource", "meta", "profile", "text", "div",
                                       "x", "_x", "", "_"]), children, max_size=5),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.dictionaries(st.sampled_from(["id", "name", "gender", "birthDate", "contained", "extension",
                                             "managingOrganization", "identifier", "meta", "text", "_gender",
                                             "deceasedBoolean", "link", "entry", "foo"]), json_values, max_size=6),
       rtype=st.sampled_from(["Patient", "Bundle", "Slot", "Observation", "Nope"]))
def test_arbitrary_json_never_crashes(validator, body, rtype):
    resource = dict(body, resourceType=rtype)
    result = validator.validate(resource)
    assert isinstance(result.issues, list)
    assert all(i.severity in ("fatal", "error", "warning", "information") for i in result.issues)
    result.to_operation_outcome()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(anything=json_values)
def test_arbitrary_json_against_profiles_never_crashes(validator, anything):
    resource = {"resourceType": "Patient", "identifier": anything, "name": anything, "extension": anything,
                "meta": {"profile": ["https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient-ins"]}}
    validator.validate(resource)
    validator.validate(anything)


def test_fhir_regexes_are_java_regexes(validator):
    """A non-breaking space is not whitespace for the FHIR (Java) string regex `[ \\r\\n\\t\\S]+`."""
    assert errors(validator.validate(patient(name=[{"family": "Le\u00a0Gall"}]))) == set()
    one(validator.validate(patient(name=[{"family": "   "}])), "BLANK_STRING", "Patient.name[0].family")


def test_whitespace_only_string_is_a_warning_not_the_empty_string_error(validator):
    result = validator.validate(patient(name=[{"family": " \t "}]))
    assert one(result, "BLANK_STRING", "Patient.name[0].family").severity == "warning"
    assert errors(result) == set()
    one(validator.validate(patient(name=[{"family": ""}])), "EMPTY_STRING", "Patient.name[0].family")
    one(validator.validate(patient(gender=" ")), "BAD_FORMAT", "Patient.gender")  # code: the regex refuses it


def test_base64_is_checked_without_catastrophic_backtracking(validator):
    import time
    photo = {"contentType": "image/png", "data": "JVBE\n" * 24 + "!"}
    start = time.perf_counter()
    result = validator.validate(patient(photo=[photo]))
    assert time.perf_counter() - start < 0.5
    one(result, "BAD_FORMAT", "Patient.photo[0].data")
    for good in ("JVBERi0xLjQK", "JVBE\nRi0x\n", "QQ==", "QUI="):
        assert errors(validator.validate(patient(photo=[{"contentType": "image/png", "data": good}]))) == set(), good
    for bad in ("QQ=", "Q===", "QQ==QQ==", "JVB", "é123"):
        one(validator.validate(patient(photo=[{"contentType": "image/png", "data": bad}])), "BAD_FORMAT",
            "Patient.photo[0].data")


def test_other_primitive_regexes_are_linear_on_long_invalid_values(validator):
    import time
    start = time.perf_counter()
    for field, value in (("gender", "a b " * 5000 + " "), ("id", "a" * 10000 + "!"),
                         ("implicitRules", "x" * 10000 + " y")):
        validator.validate(patient(**{field: value}))
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize(("field", "value"), [
    ("birthDate", "2021-02-30"), ("birthDate", "2023-02-29"), ("birthDate", "2021-04-31"),
    ("deceasedDateTime", "2021-02-30T10:00:00Z"),
])
def test_impossible_calendar_dates_are_rejected(validator, field, value):
    location = {"deceasedDateTime": "deceased.ofType(dateTime)"}.get(field, field)
    one(validator.validate(patient(**{field: value})), "BAD_FORMAT", f"Patient.{location}")
    assert errors(validator.validate(patient(birthDate="2024-02-29"))) == set()


def test_control_characters_are_escaped_in_messages(validator):
    issue = one(validator.validate(patient(birthDate="19\n74")), "BAD_FORMAT", "Patient.birthDate")
    assert "\n" not in issue.message and "19\\n74" in issue.message


def test_exact_decimals_are_numbers(validator):
    """JSON parsed with parse_float=Decimal (as the XML reader can produce) keeps decimals exact."""
    from decimal import Decimal

    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "poids"},
                   "valueQuantity": {"value": Decimal("72.50"), "unit": "kg"}}
    assert errors(validator.validate(observation)) == set()
    observation["valueQuantity"]["value"] = "72.50"
    one(validator.validate(observation), "WRONG_JSON_TYPE", "Observation.value.ofType(Quantity).value")


def test_text_only_concept_under_a_required_binding(validator):
    patient_with_status = patient(maritalStatus={"text": "Marié"})  # extensible binding in R4
    issue = one(validator.validate(patient_with_status), "BINDING_NO_CODE", "Patient.maritalStatus")
    assert issue.severity == "warning"
    obs = {"resourceType": "Observation", "status": "final", "code": {"text": "poids"}}
    assert errors(validator.validate(obs)) == set()  # Observation.code: example binding


def test_invariant_through_fhirpathpy(validator):
    """obs-3 has no native implementation: fhirpathpy evaluates it."""
    from pytest_mes.fhir.invariants import native_for

    assert native_for("obs-3", OBS_3) is None
    obs = {"resourceType": "Observation", "status": "final", "code": {"text": "poids"},
           "valueQuantity": {"value": 72}, "referenceRange": [{"type": {"text": "normal"}}]}
    issue = one(validator.validate(obs), "INVARIANT", "Observation.referenceRange[0]")
    assert issue.source.startswith("obs-3")
    obs["referenceRange"][0]["text"] = "50-90 kg"
    assert errors(validator.validate(obs)) == set()


OBS_3 = "low.exists() or high.exists() or text.exists()"


def test_invariant_fhirpathpy_cannot_evaluate_is_not_checked(validator, monkeypatch):
    from pytest_mes.fhir import invariants

    monkeypatch.setitem(invariants._COMPILED, OBS_3, invariants.FhirPathInvariant("low.noSuchFunction()"))
    obs = {"resourceType": "Observation", "status": "final", "code": {"text": "poids"},
           "referenceRange": [{"type": {"text": "normal"}}]}
    issue = one(validator.validate(obs), "INVARIANT_NOT_CHECKED", "Observation.referenceRange[0]")
    assert issue.severity == "information" and "obs-3" in issue.source


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
    from pytest_mes.fhir.narrative import _narrative_by_events, _narrative_by_tags

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
