"""Rules the HL7 validator applies beyond what a StructureDefinition states (issue 10, part 2): each test
has its control, and fails without the rule."""

from __future__ import annotations

import base64

import pytest

from pytest_mes.fhir.store import PackageStore
from pytest_mes.fhir.validator import Validator
from tests.fhir.conftest import errors, local_validator, one

FHIR = "http://hl7.org/fhir/StructureDefinition/"
_DATATYPES = frozenset({"HumanName", "Address", "Identifier", "CodeableConcept", "Quantity"})
LOCAL = "http://example.org/StructureDefinition/"


@pytest.fixture(scope="module")
def core(fhir_packages_dir) -> Validator:
    """R4 core alone, every dependency loaded: as the HL7 validator runs the test suite."""
    return Validator(PackageStore.load([fhir_packages_dir], offline=True, packages=["hl7.fhir.r4.core#4.0.1"]))


def _patient(**extra) -> dict:
    return {"resourceType": "Patient", "name": [{"family": "Martin"}], **extra}


# ---- Bundles -------------------------------------------------------------------------------------------

def _bundle(kind: str, *entries: dict) -> dict:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def test_bundle_entries_need_an_absolute_fullurl_outside_transactions_and_batches(core):
    result = core.validate(_bundle("collection", {"resource": _patient()},
                                   {"fullUrl": "Patient/1", "resource": _patient(id="1")},
                                   {"fullUrl": "urn:uuid:9d9c5e0a-0d5e-4f3e-9d5c-2a8d3e3f8e01",
                                    "resource": _patient()}))
    assert errors(result) == {("BUNDLE_NO_FULLURL", "Bundle.entry[0]"), ("BUNDLE_FULLURL_RELATIVE", "Bundle.entry[1]")}
    for kind in ("transaction", "batch"):  # the server gives the identities
        bundle = _bundle(kind, {"resource": _patient(), "request": {"method": "POST", "url": "Patient"}})
        assert not [e for e in errors(core.validate(bundle)) if e[0].startswith("BUNDLE_")]


def test_a_restful_fullurl_ends_with_the_resource_type_and_id(core):
    result = core.validate(_bundle("collection",
                                   {"fullUrl": "https://example.org/fhir/Patient/a", "resource": _patient(id="b")},
                                   {"fullUrl": "https://example.org/fhir/Patient/c", "resource": _patient(id="c")},
                                   {"fullUrl": "https://example.org/fhir/Patient/d/_history/2",
                                    "resource": _patient(id="d")},
                                   {"fullUrl": "https://example.org/documents/42", "resource": _patient(id="e")}))
    assert {e for e in errors(result) if e[0].startswith("BUNDLE_")} == {("BUNDLE_FULLURL_MISMATCH", "Bundle.entry[0]")}
    assert "/Patient/b" in next(i.message for i in result.issues if i.message_id == "BUNDLE_FULLURL_MISMATCH")


UUID = "5d9588d8-3cd6-4b32-8fb7-ad13694e069d"


def gp_in_collection(target_type: str) -> dict:
    """A collection whose Patient names its GP "Practitioner/<uuid>", the entry "urn:uuid:<uuid>" being a
    `target_type`."""
    return _bundle("collection",
                   {"fullUrl": "urn:uuid:54fc3e09-e279-4b74-a8ff-2649ec968642",
                    "resource": _patient(generalPractitioner=[{"reference": f"Practitioner/{UUID}"}])},
                   {"fullUrl": f"urn:uuid:{UUID}", "resource": {"resourceType": target_type, "name": [{"text": "x"}]
                                                                if target_type == "Practitioner" else "x"}})


def test_a_type_and_id_reference_matches_a_urn_uuid_entry_of_that_type(core):
    assert not errors(core.validate(gp_in_collection("Practitioner")))  # the control
    assert errors(core.validate(gp_in_collection("Organization"))) == {
        ("REF_WRONG_TYPE", "Bundle.entry[0].resource.generalPractitioner[0].reference")}


# ---- extensions ------------------------------------------------------------------------------------------

def _extension(url: str, contexts: list[dict]) -> dict:
    return {"resourceType": "StructureDefinition", "id": url.rsplit("/", 1)[1], "url": url, "name": "X",
            "status": "draft", "kind": "complex-type", "abstract": False, "type": "Extension",
            "baseDefinition": FHIR + "Extension", "derivation": "constraint", "context": contexts,
            "differential": {"element": [
                {"id": "Extension.url", "path": "Extension.url", "fixedUri": url},
                {"id": "Extension.value[x]", "path": "Extension.value[x]", "type": [{"code": "string"}]}]}}


@pytest.fixture(scope="module")
def local(fhir_packages_dir, tmp_path_factory) -> Validator:
    """Differential-only definitions, as the HL7 test suite supplies them."""
    inner = _extension(LOCAL + "inner", [{"type": "extension", "expression": FHIR + "patient-nationality"}])
    # A profile of a resource written with a wrong kind (complex-type), as some test profiles are.
    odd_kind = {"resourceType": "StructureDefinition", "id": "odd-kind", "url": LOCAL + "odd-kind", "name": "OddKind",
                "status": "draft", "kind": "complex-type", "abstract": False, "type": "Patient",
                "baseDefinition": FHIR + "Patient", "derivation": "constraint",
                "differential": {"element": [{"id": "Patient.gender", "path": "Patient.gender", "min": 1}]}}
    bundled = _profile_of("Organization", "bundled-endpoint", [
        {"id": "Organization.endpoint", "path": "Organization.endpoint",
         "type": [{"code": "Reference", "aggregation": ["bundled"]}]}])
    bounded = _profile_of("Observation", "bounded", [
        {"id": "Observation.id", "path": "Observation.id",
         "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/minLength", "valueInteger": 8}]},
        {"id": "Observation.valueQuantity", "path": "Observation.valueQuantity",
         "minValueQuantity": {"value": 0, "system": "http://unitsofmeasure.org", "code": "kg"},
         "maxValueQuantity": {"value": 500, "system": "http://unitsofmeasure.org", "code": "kg"}}])
    born = _profile_of("Patient", "born-lately", [
        {"id": "Patient.birthDate", "path": "Patient.birthDate",
         "minValueDuration": {"value": 100, "system": "http://unitsofmeasure.org", "code": "a"},
         "maxValueDuration": {"value": 10, "system": "http://unitsofmeasure.org", "code": "a"}}])
    two = _profile_of("Patient", "two-identifiers", [
        {"id": "Patient.identifier", "path": "Patient.identifier",
         "slicing": {"discriminator": [{"type": "value", "path": "system"}], "rules": "open"}},
        {"id": "Patient.identifier:a", "path": "Patient.identifier", "sliceName": "a", "min": 1},
        {"id": "Patient.identifier:a.system", "path": "Patient.identifier.system", "fixedUri": "urn:a"}])
    role = _profile_of("PractitionerRole", "active-role", [
        {"id": "PractitionerRole.active", "path": "PractitionerRole.active", "min": 1}])
    people = _profile_of("Bundle", "people", [
        {"id": "Bundle.entry.resource", "path": "Bundle.entry.resource",
         "type": [{"code": "Practitioner", "profile": [FHIR + "Practitioner"]},
                  {"code": "PractitionerRole", "profile": [LOCAL + "active-role"]}]}])
    return local_validator(fhir_packages_dir, tmp_path_factory.mktemp("hl7"), "example.hl7",
                           [inner, odd_kind, bundled, bounded, born, two, role, people, QUESTIONNAIRE, MEASURE,
                            LIBRARY])


# A repeated group: "details" is asked only when "smoker" is answered true in the same group.
QUESTIONNAIRE = {
    "resourceType": "Questionnaire", "id": "smoking", "url": "http://example.org/Questionnaire/smoking",
    "version": "2.0", "status": "draft", "item": [{
        "linkId": "habit", "type": "group", "repeats": True, "item": [
            {"linkId": "smoker", "type": "boolean", "required": True},
            {"linkId": "details", "type": "string", "required": True,
             "enableWhen": [{"question": "smoker", "operator": "=", "answerBoolean": True}]}]}]}


def smoking_response(*groups: tuple[bool, str | None], status: str = "completed",
                     questionnaire: str = "http://example.org/Questionnaire/smoking|2.0") -> dict:
    """A response with one "habit" group per (smoker, details) given; details None: not answered."""
    items = []
    for smoker, details in groups:
        group = [{"linkId": "smoker", "answer": [{"valueBoolean": smoker}]}]
        if details is not None:
            group.append({"linkId": "details", "answer": [{"valueString": details}]})
        items.append({"linkId": "habit", "item": group})
    return {"resourceType": "QuestionnaireResponse", "questionnaire": questionnaire, "status": status,
            "item": items}


def _profile_of(type_: str, name: str, elements: list[dict]) -> dict:
    kind = "resource" if type_[0].isupper() and type_ not in _DATATYPES else "complex-type"
    return {"resourceType": "StructureDefinition", "id": name, "url": LOCAL + name, "name": name.title(),
            "status": "draft", "kind": kind, "abstract": False, "type": type_,
            "baseDefinition": FHIR + type_, "derivation": "constraint", "differential": {"element": elements}}


def derived_extension(url: str) -> dict:
    """An extension derived from the local "inner" one, fixing its url to `url`."""
    return {**_extension(url, [{"type": "element", "expression": "Element"}]), "baseDefinition": LOCAL + "inner"}


def test_a_derived_profile_cannot_change_a_fixed_value(local):
    assert not errors(local.validate(derived_extension(LOCAL + "inner")))  # the control: same fixed url
    assert errors(local.validate(derived_extension(LOCAL + "derived"))) == {
        ("FIXED_VALUE_CHANGED", "StructureDefinition")}


def test_extension_context_of_type_extension(local):
    inner = {"url": LOCAL + "inner", "valueString": "x"}
    nested = _patient(extension=[{"url": FHIR + "patient-nationality", "extension": [
        {"url": "code", "valueCodeableConcept": {"text": "FR"}}, inner]}])
    assert not [i for i in local.validate(nested).issues if i.message_id.startswith("EXTENSION_CONTEXT")]
    assert ("EXTENSION_CONTEXT", "Patient.extension[0]") in errors(local.validate(_patient(extension=[inner])))


def test_a_resource_profile_that_says_complex_type_still_takes_resource_type(local):
    result = local.validate(_patient(), [LOCAL + "odd-kind"])
    assert errors(result) == {("CARD_MIN", "Patient")}  # gender; resourceType is not an unknown element


def test_unknown_hl7_extension_is_not_judged_without_the_extensions_pack(core):
    """HL7's extensions outside the R4 core live in its extensions pack, which the HL7 validator always
    has: without it, such an extension is a warning (not checked), another unknown one an error."""
    assert not core.definitions.extensions_pack
    hl7 = core.validate(_patient(extension=[{"url": FHIR + "patient-nope", "valueString": "x"}]))
    assert {(i.message_id, i.severity) for i in hl7.issues} >= {("EXTENSION_UNKNOWN", "warning")}
    other = core.validate(_patient(extension=[{"url": "http://autre.test/nope", "valueString": "x"}]))
    assert ("EXTENSION_NOT_FOUND", "Patient.extension[0]") in errors(other)


# ---- references and contained resources --------------------------------------------------------------------

def test_a_local_reference_must_find_its_contained_resource(core):
    gp = {"reference": "#nurse"}
    result = core.validate(_patient(generalPractitioner=[gp]))
    assert ("REF_CONTAINED_NOT_FOUND", "Patient.generalPractitioner[0]") in errors(result)
    contained = _patient(generalPractitioner=[gp], contained=[{"resourceType": "Practitioner", "id": "nurse"}])
    assert not errors(core.validate(contained))


def test_a_contained_resource_may_refer_to_its_container_and_be_linked_from_the_narrative(core):
    to_container = _patient(contained=[{"resourceType": "Observation", "id": "o", "status": "final",
                                        "code": {"text": "x"}, "subject": {"reference": "#"}}])
    assert not errors(core.validate(to_container))  # ref-1 (a reference to "#") and dom-3 hold
    linked = _patient(text={"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">'
                                                          '<img src="#pic" alt="x"/></div>'},
                      contained=[{"resourceType": "Binary", "id": "pic", "contentType": "image/png"}])
    assert not errors(core.validate(linked))
    linked["text"]["div"] = '<div xmlns="http://www.w3.org/1999/xhtml"><p>no link</p></div>'  # the control
    assert ("INVARIANT", "Patient") in errors(core.validate(linked))


def test_aggregation_bundled_wants_the_target_in_the_bundle(local):
    organization = {"resourceType": "Organization", "id": "o", "meta": {"profile": [LOCAL + "bundled-endpoint"]},
                    "endpoint": [{"reference": "Endpoint/missing"}]}
    bundle = _bundle("collection", {"fullUrl": "https://example.org/fhir/Organization/o", "resource": organization})
    assert ("REF_NOT_BUNDLED", "Bundle.entry[0].resource.endpoint[0].reference") in errors(local.validate(bundle))
    organization["endpoint"] = [{"reference": "Endpoint/e"}]
    bundle["entry"].append({"fullUrl": "https://example.org/fhir/Endpoint/e", "resource": {
        "resourceType": "Endpoint", "id": "e", "status": "active", "connectionType": {"code": "hl7-fhir-rest"},
        "payloadType": [{"text": "x"}], "address": "https://example.org/fhir"}})
    assert not [e for e in errors(local.validate(bundle)) if e[0] == "REF_NOT_BUNDLED"]


# ---- what profiles state beyond cardinality ---------------------------------------------------------------------

def test_min_and_max_values_and_min_length(local):
    observation = {"resourceType": "Observation", "meta": {"profile": [LOCAL + "bounded"]}, "id": "short",
                   "status": "final", "code": {"text": "x"},
                   "valueQuantity": {"value": -1, "system": "http://unitsofmeasure.org", "code": "kg"}}
    assert errors(local.validate(observation)) == {("VALUE_BELOW_MIN", "Observation.value.ofType(Quantity)"),
                                                   ("MIN_LENGTH", "Observation.id")}
    observation.update(id="long-enough-id", valueQuantity={"value": 70, "system": "http://unitsofmeasure.org",
                                                           "code": "kg"})
    assert not errors(local.validate(observation))
    observation["valueQuantity"]["value"] = 700
    assert errors(local.validate(observation)) == {("VALUE_ABOVE_MAX", "Observation.value.ofType(Quantity)")}
    observation["valueQuantity"]["code"] = "g"  # another unit: not compared
    assert not errors(local.validate(observation))


def test_a_date_bounded_by_durations_from_today(local):
    patient = _patient(meta={"profile": [LOCAL + "born-lately"]}, birthDate="1850-01-01")
    assert errors(local.validate(patient)) == {("VALUE_BELOW_MIN", "Patient.birthDate")}
    patient["birthDate"] = "2100-01-01"
    assert errors(local.validate(patient)) == {("VALUE_ABOVE_MAX", "Patient.birthDate")}
    patient["birthDate"] = "2000-01-01"
    assert not errors(local.validate(patient))


def test_required_slices_of_an_absent_element(local):
    patient = _patient(meta={"profile": [LOCAL + "two-identifiers"]})
    assert errors(local.validate(patient)) == {("SLICE_MIN", "Patient")}
    patient["identifier"] = [{"system": "urn:a", "value": "1"}]
    assert not errors(local.validate(patient))


def test_a_resource_element_of_several_types_takes_the_profile_of_the_type_present(local):
    role = {"resourceType": "PractitionerRole", "id": "r", "active": True}
    bundle = {"resourceType": "Bundle", "type": "collection", "meta": {"profile": [LOCAL + "people"]},
              "entry": [{"fullUrl": "urn:uuid:6f1f7b0e-9a43-4a43-9d0c-1d4f5e6a7b8c", "resource": role}]}
    assert not errors(local.validate(bundle))
    del role["active"]  # the PractitionerRole profile wants it
    assert ("CARD_MIN", "Bundle.entry[0].resource") in errors(local.validate(bundle))


# ---- alternatives, narratives, differentials ---------------------------------------------------------------

@pytest.fixture(scope="module")
def alternatives(fhir_packages_dir, tmp_path_factory) -> Validator:
    profiles = [
        _profile_of("HumanName", "one-given", [{"id": "HumanName.given", "path": "HumanName.given", "max": "1"}]),
        _profile_of("HumanName", "no-given", [{"id": "HumanName.given", "path": "HumanName.given", "max": "0"}]),
        _profile_of("Patient", "named", [{"id": "Patient.name", "path": "Patient.name", "type": [
            {"code": "HumanName", "profile": [LOCAL + "one-given", LOCAL + "no-given"]}]}]),
        _profile_of("Patient", "female", [{"id": "Patient.gender", "path": "Patient.gender", "fixedCode": "female"}]),
        _profile_of("Patient", "male", [{"id": "Patient.gender", "path": "Patient.gender", "fixedCode": "male"}]),
        _profile_of("Bundle", "female-or-male", [{"id": "Bundle.entry.resource", "path": "Bundle.entry.resource",
                                                   "type": [{"code": "Patient", "profile": [LOCAL + "female",
                                                                                             LOCAL + "male"]}]}]),
    ]
    return local_validator(fhir_packages_dir, tmp_path_factory.mktemp("alt"), "example.alt", profiles)


def test_the_profiles_of_a_type_are_alternatives(alternatives):
    patient = _patient(meta={"profile": [LOCAL + "named"]}, name=[{"family": "Martin", "given": ["Jeanne"]}])
    assert not errors(alternatives.validate(patient))  # one-given fits, no-given does not: enough
    patient["name"][0]["given"].append("Marie")
    assert errors(alternatives.validate(patient)) == {("TYPE_PROFILE_NO_MATCH", "Patient.name[0]"),
                                                      ("CARD_MAX", "Patient.name[0]")}
    # each profile's own finding is said, even when the two read alike
    assert len([i for i in alternatives.validate(patient).issues if i.message_id == "CARD_MAX"]) == 2


def test_the_resource_profiles_of_a_type_are_alternatives(alternatives):
    bundle = {"resourceType": "Bundle", "type": "collection", "meta": {"profile": [LOCAL + "female-or-male"]},
              "entry": [{"fullUrl": "urn:uuid:0c1b7a6e-5a4f-4b3e-8d2c-1f0e9d8c7b6a",
                         "resource": _patient(gender="male")}]}
    assert not errors(alternatives.validate(bundle))
    bundle["entry"][0]["resource"]["gender"] = "other"
    assert ("TYPE_PROFILE_NO_MATCH", "Bundle.entry[0].resource") in errors(alternatives.validate(bundle))


def test_each_element_a_narrative_may_not_hold_is_said(core):
    div = '<div xmlns="http://www.w3.org/1999/xhtml"><p>x</p><script>alert(1)</script><form/></div>'
    patient = _patient(text={"status": "generated", "div": div})
    result = errors(core.validate(patient))
    assert {("XHTML_ELEMENT", "Patient.text.div"), ("INVARIANT", "Patient.text.div")} <= result
    messages = [i.message for i in core.validate(patient).issues if i.message_id == "XHTML_ELEMENT"]
    assert len(messages) == 2 and "script" in messages[0] and "form" in messages[1]
    patient["text"]["div"] = '<div xmlns="http://www.w3.org/1999/xhtml"><p>x</p></div>'
    assert not errors(core.validate(patient))


def differential(*elements: dict) -> dict:
    return {"resourceType": "StructureDefinition", "url": LOCAL + "d", "name": "D", "status": "draft",
            "kind": "resource", "abstract": False, "type": "Patient", "derivation": "constraint",
            "baseDefinition": FHIR + "Patient", "differential": {"element": list(elements)}}


def sliced_by(identifier_path: str, extension_path: str) -> dict:
    """A differential slicing Patient.identifier and Patient.extension by these discriminator paths."""
    return differential(
        {"id": "Patient.extension", "path": "Patient.extension",
         "slicing": {"discriminator": [{"type": "value", "path": extension_path}], "rules": "open"}},
        {"id": "Patient.identifier", "path": "Patient.identifier",
         "slicing": {"discriminator": [{"type": "value", "path": identifier_path}], "rules": "open"}})


def test_a_discriminator_path_names_an_element_of_the_sliced_element(core):
    assert not errors(core.validate(sliced_by("system", "url")))  # the control
    assert not errors(core.validate(sliced_by("type.coding.code", "value.ofType(Coding).code")))
    assert not errors(core.validate(sliced_by("$this", "extension('http://example.org/x').value")))
    assert errors(core.validate(sliced_by("sytem", "type"))) == {
        ("DISCRIMINATOR_PATH", f"StructureDefinition.differential.element[{i}].slicing.discriminator[0]")
        for i in (0, 1)}


def bound(element_id: str, **extra) -> dict:
    return {"id": element_id, "path": element_id, **extra,
            "binding": {"strength": "required", "valueSet": "http://example.org/ValueSet/x"}}


def test_a_binding_applies_to_coded_types_only(core):
    """code, Coding, CodeableConcept, Quantity, string, uri and their derivatives (Age from Quantity, id from
    string…) bind; a date or a boolean does not: its types stated, or (none stated) its base's."""
    coded = differential(bound("Patient.gender"), bound("Patient.maritalStatus"),
                          bound("Patient.generalPractitioner.identifier.system"),
                          bound("Patient.link.other.display", type=[{"code": "markdown"}]))
    assert not errors(core.validate(coded))
    not_coded = differential(bound("Patient.active"), bound("Patient.birthDate", type=[{"code": "date"}]))
    assert errors(core.validate(not_coded)) == {
        ("BINDING_NOT_BINDABLE", f"StructureDefinition.differential.element[{i}]") for i in (0, 1)}
    # judged on the types the differential states when its snapshot cannot be generated
    broken = differential(bound("Patient.birthDate", type=[{"code": "date"}]), {"id": "Patient.x", "path": "Patient.x"})
    assert errors(core.validate(broken)) == {("SNAPSHOT_ERROR", "StructureDefinition"),
                                            ("BINDING_NOT_BINDABLE", "StructureDefinition.differential.element[0]")}


def constrained(expression: str) -> dict:
    """A differential adding an invariant of this FHIRPath expression to Patient.name."""
    return differential({"id": "Patient.name", "path": "Patient.name", "constraint": [
        {"key": "nm-1", "severity": "error", "human": "A family name", "expression": expression}]})


def test_an_invariant_s_expression_must_parse(core):
    assert not errors(core.validate(constrained("family.exists() or text.exists()")))
    assert errors(core.validate(constrained("family.exists() or"))) == {
        ("INVARIANT_EXPRESSION", "StructureDefinition.differential.element[0].constraint[0]")}


def sliced_identifier(slice_slicing: dict | None) -> dict:
    slicing = {"discriminator": [{"type": "value", "path": "system"}], "ordered": False, "rules": "open"}
    nir = {"id": "Patient.identifier:nir", "path": "Patient.identifier", "sliceName": "nir"}
    return differential({"id": "Patient.identifier", "path": "Patient.identifier", "slicing": slicing},
                         {**nir, **({"slicing": slice_slicing} if slice_slicing else {})})


@pytest.mark.parametrize("slice_slicing, redefined", [
    (None, False),
    ({"discriminator": [{"type": "value", "path": "system"}], "ordered": False, "rules": "open"}, False),
    ({"discriminator": [{"type": "value", "path": "system"}], "rules": "open"}, False),  # ordered left out
    ({"discriminator": [{"type": "value", "path": "use"}], "rules": "open"}, True),
    ({"discriminator": [{"type": "value", "path": "system"}], "rules": "closed"}, True),
])
def test_a_slice_keeps_the_slicing_its_element_introduces(core, slice_slicing, redefined):
    found = errors(core.validate(sliced_identifier(slice_slicing)))
    assert found == ({("SLICING_REDEFINED", "StructureDefinition")} if redefined else set())


def test_a_structure_definition_without_snapshot_must_give_one(core):
    good = differential({"id": "Patient.identifier", "path": "Patient.identifier", "min": 1},
                         {"id": "Patient.birthDate", "path": "Patient.birthDate", "min": 1})
    assert not errors(core.validate(good))
    out_of_order = differential(*reversed(good["differential"]["element"]))
    # the HL7 tools walk differential and base in order: the element before one that comes earlier in the base
    # finds no match, said at that element and for the profile (ai8)
    result = core.validate(out_of_order)
    assert errors(result) == {("SNAPSHOT_ERROR", "StructureDefinition"),
                              ("DIFF_NO_MATCH", "StructureDefinition.differential.element[0]")}
    assert "Patient.birthDate" in one(result, "DIFF_NO_MATCH", "StructureDefinition.differential.element[0]").message
    wrong_path = differential({"id": "Patient.birthDate", "path": "Patient.deathDate"})
    assert errors(core.validate(wrong_path)) == {("SNAPSHOT_ERROR", "StructureDefinition")}


def test_an_attachment_states_the_size_of_its_data(core):
    media = {"resourceType": "Media", "status": "completed",
             "content": {"contentType": "text/plain", "data": "aGVsbG8=", "size": 100}}  # "hello": 5 bytes
    assert {(i.message_id, i.severity) for i in core.validate(media).issues} >= {("ATTACHMENT_SIZE", "error")}
    media["content"]["size"] = 5
    assert "ATTACHMENT_SIZE" not in {i.message_id for i in core.validate(media).issues}


def test_a_questionnaire_response_follows_its_questionnaire_and_enable_when(local):
    assert not errors(local.validate(smoking_response((True, "10 a day"), (False, None))))  # the control
    result = local.validate(smoking_response((True, "10 a day"), (False, "none"), (True, None)))
    assert errors(result) == {("QR_ITEM_NOT_ENABLED", "QuestionnaireResponse.item[1].item[1]"),
                              ("QR_REQUIRED_MISSING", "QuestionnaireResponse.item[2]")}
    assert not errors(local.validate(smoking_response((True, None), status="in-progress")))  # not finished yet
    unknown = smoking_response((True, "x"))
    unknown["item"][0]["item"].append({"linkId": "alcohol", "answer": [{"valueBoolean": False}]})
    assert errors(local.validate(unknown)) == {("QR_LINKID_UNKNOWN", "QuestionnaireResponse.item[0].item[2]")}


def test_a_questionnaire_response_whose_questionnaire_is_not_loaded_is_said_not_checked(local):
    result = local.validate(smoking_response((False, "x"), questionnaire="http://example.org/Questionnaire/smoking|3.0"))
    assert not errors(result)
    assert ("QR_QUESTIONNAIRE_NOT_FOUND", "QuestionnaireResponse.questionnaire") in {
        (i.message_id, i.expression) for i in result.issues}


POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"
MEASURE = {"resourceType": "Measure", "id": "screened", "url": "http://example.org/Measure/screened",
           "status": "active", "group": [{"population": [
               {"code": {"coding": [{"system": POPULATION, "code": "initial-population"}]},
                "criteria": {"language": "text/cql", "expression": "Screened.InInitialPopulation"}}]}]}


_CQL = ('library Screening\ncontext Patient\ndefine "Initial Population":\n  true\n'
        'define function Adult(a Integer):\n  a > 17\n')
LIBRARY = {"resourceType": "Library", "id": "screening", "url": "http://example.org/Library/screening",
           "name": "Screening", "status": "active", "type": {"text": "logic-library"},
           "content": [{"contentType": "text/cql", "data": base64.b64encode(_CQL.encode()).decode()}]}


def cql_measure(*expressions: str) -> dict:
    """A Measure on the Screening library, a population per CQL expression."""
    return {"resourceType": "Measure", "status": "draft", "library": [LIBRARY["url"]], "group": [{"population": [
        {"code": {"coding": [{"system": POPULATION, "code": "initial-population"}]},
         "criteria": {"language": "text/cql", "expression": e}} for e in expressions]}]}


def test_a_measure_names_definitions_of_its_library(local):
    assert not errors(local.validate(cql_measure('Screening."Initial Population"', "Screening.Adult",
                                                 "Other.Unknown")))  # the control: another library is not judged
    assert errors(local.validate(cql_measure("Screening.Child"))) == {
        ("MEASURE_CQL_UNKNOWN", "Measure.group[0].population[0].criteria")}


def test_a_library_is_decoded_once_per_url_and_version(fhir_packages_dir, tmp_path, monkeypatch):
    """The names a Library defines are read once per url|version, however many Measures name it; another version
    of the same url is read on its own (it may define other names)."""
    from pytest_mes.fhir import measures

    first = dict(LIBRARY, id="screening-1", version="1.0.0")
    second = dict(LIBRARY, id="screening-2", version="2.0.0", content=[{"contentType": "text/cql", "data": (
        base64.b64encode(b'library Screening\ndefine "Child":\n  true\n').decode())}])
    validator = local_validator(fhir_packages_dir, tmp_path, "example.libraries", [first, second])
    real, decoded = measures.defined_names, []
    monkeypatch.setattr(measures, "defined_names", lambda library: decoded.append(library["version"]) or real(library))

    def on(version: str, expression: str) -> dict:
        return dict(cql_measure(expression), library=[f"{LIBRARY['url']}|{version}"])

    for _ in range(3):
        assert not errors(validator.validate(on("1.0.0", "Screening.Adult")))
    assert errors(validator.validate(on("1.0.0", "Screening.Child"))) == {
        ("MEASURE_CQL_UNKNOWN", "Measure.group[0].population[0].criteria")}
    assert decoded == ["1.0.0"]
    assert errors(validator.validate(on("2.0.0", "Screening.Adult"))) == {
        ("MEASURE_CQL_UNKNOWN", "Measure.group[0].population[0].criteria")}
    assert not errors(validator.validate(on("2.0.0", "Screening.Child")))
    assert decoded == ["1.0.0", "2.0.0"]


def measure_report(kind: str, *codes: str, subjects: bool = False,
                   measure: str = "http://example.org/Measure/screened") -> dict:
    """A report of `kind` with one group whose populations have these codes (each listing its subjects
    when `subjects`)."""
    populations = [{"code": {"coding": [{"system": POPULATION, "code": code}]}, "count": 1,
                    **({"subjectResults": {"reference": "List/l"}} if subjects else {})} for code in codes]
    return {"resourceType": "MeasureReport", "status": "complete", "type": kind, "measure": measure,
            "period": {"start": "2026-01-01", "end": "2026-03-31"}, "group": [{"population": populations}]}


def test_a_measure_report_follows_its_measure(local):
    assert not errors(local.validate(measure_report("summary", "initial-population")))  # the control
    assert not errors(local.validate(measure_report("subject-list", "initial-population", subjects=True)))
    result = local.validate(measure_report("summary", "initial-population", "numerator", subjects=True))
    assert errors(result) == {("MR_SUBJECTS_NOT_LISTED", "MeasureReport.group[0].population[0]"),
                              ("MR_SUBJECTS_NOT_LISTED", "MeasureReport.group[0].population[1]"),
                              ("MR_POPULATION_UNKNOWN", "MeasureReport.group[0].population[1]")}
    absent = local.validate(measure_report("summary", "numerator", measure="http://example.org/Measure/absent"))
    assert not errors(absent)
    assert ("MR_MEASURE_NOT_FOUND", "MeasureReport.measure") in {(i.message_id, i.expression) for i in absent.issues}


def search_parameter(base: str, expression: str) -> dict:
    """A search parameter derived from R4's Organization-name."""
    return {"resourceType": "SearchParameter", "url": "http://example.org/SearchParameter/name", "name": "Name",
            "status": "draft", "description": "x", "code": "name", "base": [base], "type": "string",
            "derivedFrom": "http://hl7.org/fhir/SearchParameter/Organization-name", "expression": expression}


def test_a_search_parameter_keeps_its_parents_bases_and_its_expression_starts_from_them(core):
    assert not errors(core.validate(search_parameter("Organization", "Organization.name | Organization.alias")))
    assert not errors(core.validate(search_parameter("Organization", "(Resource.id as string) | name")))
    assert errors(core.validate(search_parameter("Patient", "Organization.name | Patient.name"))) == {
        ("SP_BASE_NOT_DERIVED", "SearchParameter"), ("SP_EXPRESSION_TYPE", "SearchParameter.expression")}


@pytest.mark.parametrize("shape", [None, 5, "x", {}, [5], [None, "x"], [{"linkId": 5, "answer": "x", "item": 3}]])
def test_malformed_definitions_and_answers_give_issues_never_a_crash(shape):
    """Shapes the walk reports elsewhere (or a malformed --ig definition) do not break these rules."""
    from pytest_mes.fhir.measures import measure_report_issues
    from pytest_mes.fhir.questionnaires import questionnaire_response_issues
    from pytest_mes.fhir.search_parameters import search_parameter_issues

    questionnaire = {"resourceType": "Questionnaire", "item": shape}
    assert isinstance(questionnaire_response_issues({"questionnaire": "q", "status": "completed", "item": shape},
                                                    "QR", lambda *_: questionnaire), list)
    measure = {"resourceType": "Measure", "group": shape}
    assert isinstance(measure_report_issues({"measure": "m", "type": shape, "group": shape}, "MR", lambda *_: measure),
                      list)
    parent = {"resourceType": "SearchParameter", "base": shape}
    assert search_parameter_issues({"base": shape, "derivedFrom": "p", "expression": "(x"}, "SP", lambda *_: parent) \
        == []


def test_a_fhir_primitive_is_its_fhirpath_system_type_too(core):
    """R4 que-7: ``operator = 'exists' implies (answer is Boolean)``: an answerBoolean is a Boolean."""
    question = {"resourceType": "Questionnaire", "status": "draft", "item": [
        {"linkId": "a", "type": "boolean"},
        {"linkId": "b", "type": "string",
         "enableWhen": [{"question": "a", "operator": "exists", "answerBoolean": True}]}]}
    assert not errors(core.validate(question))
    question["item"][1]["enableWhen"][0] = {"question": "a", "operator": "exists", "answerString": "x"}  # the control
    assert errors(core.validate(question)) == {("INVARIANT", "Questionnaire.item[1].enableWhen[0]")}


def test_que_12_is_read_as_corrected(core):
    """R4's que-12 says count() > 2; R4B and R5 (and the HL7 validator) say > 1: two enableWhen need an
    enableBehavior."""
    when = [{"question": "a", "operator": "=", "answerInteger": 1},
            {"question": "b", "operator": "=", "answerInteger": 1}]
    questionnaire = {"resourceType": "Questionnaire", "status": "draft", "item": [
        {"linkId": "a", "type": "integer"}, {"linkId": "b", "type": "integer"},
        {"linkId": "c", "type": "string", "enableWhen": when}]}
    assert ("INVARIANT", "Questionnaire.item[2]") in errors(core.validate(questionnaire))
    questionnaire["item"][2]["enableBehavior"] = "all"
    assert not errors(core.validate(questionnaire))


def test_a_document_is_self_contained_and_reachable_from_its_composition(core):
    composition = {"resourceType": "Composition", "id": "c", "status": "final", "type": {"text": "x"},
                   "date": "2024-01-01", "author": [{"display": "Dr"}], "title": "t",
                   "subject": {"reference": "urn:uuid:2b90dd2b-2dab-4c75-9bb9-a355e07401e8"}}
    document = {"resourceType": "Bundle", "type": "document", "timestamp": "2024-01-01T00:00:00Z",
                "identifier": {"system": "urn:ietf:rfc:3986", "value": "urn:uuid:7c4a5a3e-9c1b-4d7e-8f6a-1b2c3d4e5f60"},
                "entry": [{"fullUrl": "urn:uuid:30551ce1-5a28-4356-b684-1e639094ad4d", "resource": composition},
                          {"fullUrl": "urn:uuid:2b90dd2b-2dab-4c75-9bb9-a355e07401e8", "resource": _patient(id="p")}]}
    assert not {e for e in errors(core.validate(document)) if e[0].startswith("BUNDLE_")}
    composition["subject"] = {"reference": "Patient/p"}  # relative: never resolved against a urn:uuid fullUrl
    assert {e for e in errors(core.validate(document)) if e[0].startswith("BUNDLE_")} == {
        ("BUNDLE_REF_NOT_FOUND", "Bundle.entry[0].resource.subject"), ("BUNDLE_ENTRY_UNREACHABLE", "Bundle.entry[1]")}
    document["entry"][1]["fullUrl"] = "https://example.org/fhir/Patient/p"
    document["entry"][0]["fullUrl"] = "https://example.org/fhir/Composition/c"  # same base: resolved
    assert not {e for e in errors(core.validate(document)) if e[0].startswith("BUNDLE_")}


def test_fhir_xml_with_an_unknown_attribute_and_an_empty_primitive_is_still_validated(core):
    from pytest_mes.fhir.xml import read_xml

    xml = (b'<Observation xmlns="http://hl7.org/fhir"><status id="s" colour="blue" value="final"/>'
           b'<code><text value="x"/></code><valueInteger><value value="0"/></valueInteger></Observation>')
    resource, problems = read_xml(xml, core.store)
    assert [(p[0], p[1]) for p in problems] == [("XML_ATTRIBUTE", "Observation.status"),
                                                ("UNKNOWN_ELEMENT", "Observation.valueInteger.value")]
    # the id beside the status value is fine; the empty valueInteger is not: ele-1, and the rule of primitive
    # types (a value, or extensions in its place), one error each as the HL7 validator (Observation-ex-pain)
    assert errors(core.validate(resource)) == {("EMPTY_OBJECT", "Observation.value.ofType(integer)"),
                                               ("PRIMITIVE_EMPTY", "Observation.value.ofType(integer)")}


def test_a_primitive_with_only_an_id_breaks_ele_1_only(core):
    """An id is a child: the rule of primitive types holds, ele-1 does not (the HL7 validator's patient-id-only)."""
    patient = {"resourceType": "Patient", "_implicitRules": {"id": "i1"}}
    assert errors(core.validate(patient)) == {("EMPTY_OBJECT", "Patient.implicitRules")}
    assert errors(core.validate({"resourceType": "Patient", "_implicitRules": {}})) == {
        ("EMPTY_OBJECT", "Patient.implicitRules"), ("PRIMITIVE_EMPTY", "Patient.implicitRules")}


def test_html_in_a_string_or_markdown_is_a_security_warning_or_error(core):
    patient = _patient(name=[{"family": "Martin", "text": "<script>alert(1)</script>"}])
    issue = next(i for i in core.validate(patient).issues if i.message_id == "STRING_HTML")
    assert issue.severity == "warning" and issue.expression == "Patient.name[0].text" and "<script" in issue.message
    strict = Validator(core.store, security_checks=True)
    assert ("STRING_HTML", "Patient.name[0].text") in errors(strict.validate(patient))
    note = {"resourceType": "Communication", "status": "completed", "note": [{"text": "see <resource type>"}]}
    assert ("STRING_HTML", "Communication.note[0].text") in errors(strict.validate(note))
    patient["name"][0]["text"] = "a < b and c > d"  # no tag: nothing said
    assert "STRING_HTML" not in {i.message_id for i in strict.validate(patient).issues}


def test_example_urls_can_be_refused(core):
    patient = _patient(extension=[{"url": "http://example.org/fhir/StructureDefinition/x", "valueString": "x"}])
    assert core.validate(patient).valid
    refusing = Validator(core.store, example_urls=False)
    assert errors(refusing.validate(patient)) == {("EXTENSION_NOT_FOUND", "Patient.extension[0]"),
                                                  ("EXAMPLE_URL", "Patient.extension[0].url")}


def _language_control(name: str, code: str) -> dict:
    return _profile_of("Patient", name, [{"id": "Patient.text", "path": "Patient.text", "extension": [
        {"url": "http://hl7.org/fhir/StructureDefinition/narrative-language-control", "valueCode": code}]}])


@pytest.fixture(scope="module")
def languages(fhir_packages_dir, tmp_path_factory) -> Validator:
    profiles = [_language_control("no-sections", "_no"), _language_control("sections", "_yes"),
                _language_control("resource-section", "_resource")]
    return local_validator(fhir_packages_dir, tmp_path_factory.mktemp("lang-ctl"), "example.langs", profiles)


def _with_sections(*langs: str) -> dict:
    body = "".join(f'<div lang="{lang}" xml:lang="{lang}"><p>{lang}</p></div>' for lang in langs) or "<p>x</p>"
    return _patient(language="en", text={"status": "generated",
                                         "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{body}</div>'})


@pytest.mark.parametrize(("profile", "langs", "expected"), [
    ("no-sections", (), set()), ("no-sections", ("pt", "de"), {"NARRATIVE_SECTIONS_PROHIBITED"}),
    ("sections", ("pt",), set()), ("sections", (), {"NARRATIVE_SECTIONS_REQUIRED"}),
    ("resource-section", ("en", "de"), set()), ("resource-section", ("pt", "de"), {"NARRATIVE_SECTION_MISSING"}),
])
def test_narrative_language_control(languages, profile, langs, expected):
    result = languages.validate(_with_sections(*langs), [LOCAL + profile])
    assert {e[0] for e in errors(result)} == expected


@pytest.fixture(scope="module")
def values(fhir_packages_dir, tmp_path_factory) -> Validator:
    r5 = "http://hl7.org/fhir/5.0/StructureDefinition/extension-ElementDefinition."
    profiles = [
        _profile_of("Patient", "active-value", [{"id": "Patient.active", "path": "Patient.active", "min": 1,
                                                 "extension": [{"url": r5 + "mustHaveValue", "valueBoolean": True}]}]),
        _profile_of("Patient", "active-or-absent", [{"id": "Patient.active", "path": "Patient.active", "extension": [
            {"url": r5 + "valueAlternatives", "valueCanonical": FHIR + "data-absent-reason"}]}]),
    ]
    return local_validator(fhir_packages_dir, tmp_path_factory.mktemp("values"), "example.values", profiles)


def _active(url: str | None = None) -> dict:
    if url is None:
        return _patient(active=True)
    return _patient(_active={"extension": [{"url": url, "valueCode": "unknown"}]})


def test_must_have_value_and_value_alternatives(values):
    absent = FHIR + "data-absent-reason"
    assert not errors(values.validate(_active(), [LOCAL + "active-value"]))
    assert errors(values.validate(_active(absent), [LOCAL + "active-value"])) == {("VALUE_REQUIRED", "Patient.active")}
    assert not errors(values.validate(_active(absent), [LOCAL + "active-or-absent"]))
    null_flavor = FHIR + "iso21090-nullFlavor"
    assert ("VALUE_ALTERNATIVE", "Patient.active") in errors(values.validate(_active(null_flavor),
                                                                             [LOCAL + "active-or-absent"]))


@pytest.mark.parametrize("level, severity", [("warning", "warning"), ("error", "error"),
                                             ("information", "information"), ("ignore", None)])
def test_best_practice_invariants_take_the_validator_s_severity(core, level, severity):
    """dom-6 (a resource should have a narrative) is a best-practice invariant: its severity is chosen, as
    with the HL7 validator's -best-practice; other invariants keep theirs (dom-3: error)."""
    validator = Validator(core.store, best_practice=level)
    patient = _patient(contained=[{"resourceType": "Organization", "id": "o", "name": "x"}])
    found = {(dict(i.args)["key"], i.severity) for i in validator.validate(patient).issues
             if i.message_id == "INVARIANT"}
    assert found == {("dom-3", "error"), *((("dom-6", severity),) if severity else ())}


def test_an_unknown_best_practice_level_is_refused(core):
    with pytest.raises(ValueError, match="best_practice must be one of"):
        Validator(core.store, best_practice="hint")


def observation_differential(*elements: dict) -> dict:
    return {**differential(*elements), "type": "Observation", "baseDefinition": FHIR + "Observation"}


@pytest.mark.parametrize("element, loosening", [
    ({"id": "Observation.status", "path": "Observation.status", "min": 0}, True),
    ({"id": "Observation.status", "path": "Observation.status", "min": 1}, False),
    ({"id": "Observation.subject", "path": "Observation.subject", "max": "2"}, True),
    ({"id": "Observation.subject", "path": "Observation.subject", "max": "*"}, True),
    ({"id": "Observation.focus", "path": "Observation.focus", "max": "3"}, False),
    ({"id": "Observation.status", "path": "Observation.status",
      "binding": {"strength": "extensible", "valueSet": "http://hl7.org/fhir/ValueSet/observation-status"}}, True),
    ({"id": "Observation.status", "path": "Observation.status",
      "binding": {"strength": "required", "valueSet": "http://example.org/ValueSet/final-only"}}, False),
])
def test_a_profile_may_not_loosen_its_base(core, element, loosening):
    """min below the base's, max above it, a required binding made weaker: errors, as when the HL7 validator
    generates the snapshot."""
    found = errors(core.validate(observation_differential(element)))
    assert found == ({("BASE_LOOSENED", "StructureDefinition.differential.element[0]")} if loosening else set())


def test_a_slice_may_lower_min_and_must_support_stays(fhir_packages_dir, tmp_path):
    """A slice's min may be below its element's (the element's min still holds); must-support, once set by
    the base, cannot be dropped."""
    composition = {**differential(
        {"id": "Composition.author", "path": "Composition.author",
         "slicing": {"discriminator": [{"type": "type", "path": "$this"}], "rules": "open"}},
        {"id": "Composition.author:device", "path": "Composition.author", "sliceName": "device", "min": 0}),
        "type": "Composition", "baseDefinition": FHIR + "Composition"}
    supported = _profile_of("Patient", "supported", [{"id": "Patient.gender", "path": "Patient.gender",
                                                      "mustSupport": True}])
    validator = local_validator(fhir_packages_dir, tmp_path, "example.supported", [supported])
    assert not errors(validator.validate(composition))
    dropped = {**differential({"id": "Patient.gender", "path": "Patient.gender", "mustSupport": False}),
               "baseDefinition": LOCAL + "supported"}
    assert errors(validator.validate(dropped)) == {("BASE_LOOSENED", "StructureDefinition.differential.element[0]")}


def test_a_binding_on_a_logical_model_s_type_is_not_judged(fhir_packages_dir, tmp_path):
    """A type defined outside FHIR core (a logical model's), unknown or whose own definition is broken (a base
    found nowhere), is given the benefit of the doubt: no error, and no crash."""
    broken = {"resourceType": "StructureDefinition", "id": "broken", "url": LOCAL + "Broken", "name": "Broken",
              "status": "draft", "kind": "logical", "abstract": False, "type": LOCAL + "Broken",
              "baseDefinition": LOCAL + "Nowhere", "derivation": "specialization",
              "differential": {"element": [{"id": "Broken", "path": "Broken"}]}}
    validator = local_validator(fhir_packages_dir, tmp_path, "example.logical", [broken])
    for code in (LOCAL + "Broken", LOCAL + "Unknown"):
        assert not errors(validator.validate(differential(bound("Patient.gender", type=[{"code": code}]))))


@pytest.mark.parametrize("part", [True, [], {"element": {"id": "Patient"}}])
def test_a_malformed_differential_is_reported_not_a_crash(core, part):
    assert errors(core.validate({**differential(), "differential": part}))
