"""Mutation tests: a valid official example broken in one precise way gives one precise issue.

Each case starts from an example shipped in the FR Core, GAP or PDSm package (validated against its
declared profile, versions pinned by its own package), changes one thing, and asserts the issue
(catalogue id) and its FHIRPath location — and, where it matters, the rule it comes from.
"""

from __future__ import annotations

import pytest

from pytest_mes.fhir.rules import ProjectRules
from pytest_mes.fhir.store import PackageStore
from pytest_mes.fhir.validator import Validator
from tests.fhir.conftest import errors, found, one

GAP = "ans.fhir.fr.gap#3.0.0"
PDSM = "ans.fhir.fr.pdsm#3.1.1"
CORE21 = "hl7.fhir.fr.core#2.1.0"
CORE22 = "hl7.fhir.fr.core#2.2.0"
FR_PATIENT = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient"
PDSM_SD = "https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/"
GAP_SD = "https://interop.esante.gouv.fr/ig/fhir/gap/StructureDefinition/"


def _slot_unknown_element(r):
    r["foo"] = 1


def _slot_wrong_json_type(r):
    r["overbooked"] = "yes"


def _slot_bad_instant(r):
    r["start"] = "2024-13-01T10:00:00+02:00"


def _slot_instant_without_zone(r):
    r["end"] = "2024-05-01T10:00:00"


def _slot_status_outside_required_vs(r):
    r["status"] = "busy-ish"


def _slot_single_as_array(r):
    r["status"] = [r["status"]]


def _slot_array_as_single(r):
    r["specialty"] = r["specialty"][0]


def _slot_schedule_to_patient(r):
    r["schedule"] = {"reference": "Patient/1"}


def _slot_empty_string(r):
    r["comment"] = ""


def _slot_empty_array(r):
    r["identifier"] = []


def _slot_companion_on_complex(r):
    r["_schedule"] = {"extension": []}


def _slot_primitive_extension_ok_but_value_bad(r):
    r["_status"] = {"id": "x1"}
    r["status"] = 42


def _slot_extension_wrong_value_type(r):
    r["extension"] = [
        {"url": "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-slot-date", "valueString": "demain"}
    ]


def _slot_extension_value_and_children(r):
    r["extension"] = [
        {
            "url": "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-slot-date",
            "valueDateTime": "2024-05-01",
            "extension": [{"url": "x", "valueString": "y"}],
        }
    ]


def _simplified_missing_subject(r):
    del r["subject"]


def _bp_wrong_fixed_unit(r):
    r["component"][0]["valueQuantity"]["code"] = "mmHg"


def _bp_missing_diastolic(r):
    del r["component"][1]


def _folder_wrong_pattern(r):
    r["mode"] = "snapshot"


def _folder_missing_title(r):
    del r["title"]


def _patient_ins_without_ins_identifier(r):
    r["identifier"][0]["system"] = "urn:oid:1.2.250.1.213.1.4.99"


def _docref_with_attachment_data(r):
    r["content"][0]["attachment"]["data"] = "aGVsbG8="


def _simplified_bad_base64(r):
    r["content"][0]["attachment"]["data"] = "pas du base64 !"


def _obs_choice_unknown_type(r):
    r["valueFoo"] = {"value": 1}


def _obs_two_choices(r):
    del r["meta"]  # base R4: value[x] allows string too, but one value only
    r["valueString"] = "72 kg"


def _patient_contained_unreferenced(r):
    r["contained"] = [{"resourceType": "Organization", "id": "orphan", "name": "Orpheline"}]


def _patient_local_reference_missing(r):
    r["managingOrganization"] = {"reference": "#absent"}


def _patient_ref_local_to_wrong_type(r):
    r["contained"] = [{"resourceType": "Device", "id": "d1"}]
    r["managingOrganization"] = {"reference": "#d1"}


def _patient_bad_gender(r):
    r["gender"] = "homme"


def _schedule_unknown_resource_in_contained(r):
    r["contained"] = [{"resourceType": "Foo", "id": "f"}]


CASES = [
    # (example package, file, mutation, expected message id, expected location, rule source fragment)
    (GAP, "Slot-example.json", _slot_unknown_element, "UNKNOWN_ELEMENT", "Slot.foo", "gap-fr-slot"),
    (GAP, "Slot-example.json", _slot_wrong_json_type, "WRONG_JSON_TYPE", "Slot.overbooked", "Slot.overbooked"),
    (GAP, "Slot-example.json", _slot_bad_instant, "BAD_FORMAT", "Slot.start", "Slot.start"),
    (GAP, "Slot-example.json", _slot_instant_without_zone, "BAD_FORMAT", "Slot.end", "Slot.end"),
    (GAP, "Slot-example.json", _slot_status_outside_required_vs, "BINDING_REQUIRED", "Slot.status",
     "binding required http://hl7.org/fhir/ValueSet/slotstatus"),
    (GAP, "Slot-example.json", _slot_single_as_array, "SINGLE_EXPECTED", "Slot.status", "Slot.status"),
    (GAP, "Slot-example.json", _slot_array_as_single, "ARRAY_EXPECTED", "Slot.specialty", "Slot.specialty"),
    (GAP, "Slot-example.json", _slot_schedule_to_patient, "REF_TARGET_TYPE", "Slot.schedule.reference",
     "Slot.schedule"),
    (GAP, "Slot-example.json", _slot_empty_string, "EMPTY_STRING", "Slot.comment", "Slot.comment"),
    (GAP, "Slot-example.json", _slot_empty_array, "EMPTY_ARRAY", "Slot.identifier", "Slot.identifier"),
    (GAP, "Slot-example.json", _slot_companion_on_complex, "UNKNOWN_ELEMENT", "Slot._schedule", "gap-fr-slot"),
    (GAP, "Slot-example.json", _slot_primitive_extension_ok_but_value_bad, "WRONG_JSON_TYPE", "Slot.status",
     "Slot.status"),
    (GAP, "Slot-example.json", _slot_extension_wrong_value_type, "UNKNOWN_ELEMENT", "Slot.extension[0].valueString",
     "fr-core-slot-date"),
    (GAP, "Slot-example.json", _slot_extension_value_and_children, "INVARIANT", "Slot.extension[0]", "ext-1"),
    (PDSM, "DocumentReference-PDSmSimplifiedExample.json", _simplified_missing_subject, "CARD_MIN",
     "DocumentReference", "pdsm-simplified-publish|3.1.1 (DocumentReference.subject)"),
    (PDSM, "DocumentReference-PDSmSimplifiedExample.json", _simplified_bad_base64, "BAD_FORMAT",
     "DocumentReference.content[0].attachment.data", "attachment.data"),
    (CORE22, "Observation-FRCoreObservationBPExample.json", _bp_wrong_fixed_unit, "FIXED",
     "Observation.component[0].value.ofType(Quantity).code", "Observation.component:SystolicBP.value[x].code"),
    (CORE22, "Observation-FRCoreObservationBPExample.json", _bp_missing_diastolic, "SLICE_MIN", "Observation",
     "Observation.component:DiastolicBP"),
    (CORE22, "Observation-FRCoreObservationBodyWeightExample.json", _obs_choice_unknown_type, "UNKNOWN_ELEMENT",
     "Observation.valueFoo", "Observation"),
    (CORE22, "Observation-FRCoreObservationBodyWeightExample.json", _obs_two_choices, "CARD_MAX", "Observation",
     "Observation.value[x]"),
    (PDSM, "List-ExampleFolder.json", _folder_wrong_pattern, "PATTERN", "List.mode",
     "pdsm-folder-comprehensive|3.1.1 (List.mode)"),
    (PDSM, "List-ExampleFolder.json", _folder_missing_title, "CARD_MIN", "List", "(List.title)"),
    (CORE21, "Patient-ExampleFRCorePatient001.json", _patient_ins_without_ins_identifier, "INVARIANT", "Patient",
     "fr-core-1"),
    (PDSM, "DocumentReference-exemple-pdsm-documentreference.json", _docref_with_attachment_data, "CARD_MAX",
     "DocumentReference.content[0].attachment", "(DocumentReference.content.attachment.data)"),
    (CORE22, "Patient-FRCorePatientExample.json", _patient_contained_unreferenced, "INVARIANT", "Patient", "dom-3"),
    (CORE22, "Patient-FRCorePatientExample.json", _patient_local_reference_missing, "INVARIANT",
     "Patient.managingOrganization", "ref-1"),
    (CORE22, "Patient-FRCorePatientExample.json", _patient_ref_local_to_wrong_type, "REF_TARGET_TYPE",
     "Patient.managingOrganization.reference", "Patient.managingOrganization"),
    (CORE22, "Patient-FRCorePatientExample.json", _patient_bad_gender, "BINDING_REQUIRED", "Patient.gender",
     "fr-core-vs-patient-gender"),
    (GAP, "Schedule-example.json", _schedule_unknown_resource_in_contained, "UNKNOWN_RESOURCE_TYPE",
     "Schedule.contained[0]", ""),
]


@pytest.mark.parametrize(("package", "name", "mutate", "message_id", "expression", "source"), CASES,
                         ids=[c[2].__name__.lstrip("_") for c in CASES])
def test_one_mutation_one_precise_issue(validator, examples, package, name, mutate, message_id, expression, source):
    original = examples(package, name)
    before = errors(validator.validate(original, context=package))
    mutated = examples(package, name)
    mutate(mutated)
    result = validator.validate(mutated, context=package)
    issue = one(result, message_id, expression)
    assert issue.severity == "error"
    assert source in issue.source
    assert (message_id, expression) not in before
    assert not result.valid


def test_mutation_introduces_nothing_else(validator, examples):
    """The unknown-element mutation adds exactly one error to the example's findings."""
    slot = examples(GAP, "Slot-example.json")
    before = errors(validator.validate(slot, context=GAP))
    slot["foo"] = 1
    after = errors(validator.validate(slot, context=GAP))
    assert after - before == {("UNKNOWN_ELEMENT", "Slot.foo")}


def test_messages_are_french_and_precise(validator, examples):
    slot = examples(GAP, "Slot-example.json")
    slot["status"] = "busy-ish"
    issue = one(validator.validate(slot, context=GAP), "BINDING_REQUIRED", "Slot.status")
    assert issue.message == (
        "Code busy-ish absent du jeu de valeurs obligatoire http://hl7.org/fhir/ValueSet/slotstatus "
        "(binding required)."
    )
    slot = examples(GAP, "Slot-example.json")
    del slot["status"]
    issue = one(validator.validate(slot, context=GAP), "CARD_MIN", "Slot")
    assert issue.message == "0 occurrence(s) de « status », au moins 1 attendue(s) (cardinalité 1..1)."
    assert issue.code == "required"


# ---- Bundles ---------------------------------------------------------------------------------------
def _gap_bundle(examples, **slot_entry_extra):
    slot = examples(GAP, "Slot-example.json")
    schedule = examples(GAP, "Schedule-example.json")
    entry = {"fullUrl": "https://example.org/fhir/Slot/example", "resource": slot, "search": {"mode": "match"}}
    entry.update(slot_entry_extra)
    return {
        "resourceType": "Bundle",
        "meta": {"profile": [GAP_SD + "gap-bundle-reponse-demande-consult-dispo"]},
        "type": "searchset",
        "total": 1,
        "entry": [
            entry,
            {"fullUrl": "https://example.org/fhir/Schedule/example", "resource": schedule,
             "search": {"mode": "include"}},
        ],
    }


def test_gap_bundle_of_valid_entries_is_valid(validator, examples):
    result = validator.validate(_gap_bundle(examples), context=GAP)
    assert errors(result) == set()


def test_gap_bundle_slice_forbids_request(validator, examples):
    """GAP's Bundle slices (discriminator profile:resource) set entry.request 0..0."""
    result = validator.validate(_gap_bundle(examples, request={"method": "GET", "url": "Slot"}), context=GAP)
    issue = one(result, "CARD_MAX", "Bundle.entry[0]")
    assert "gap-bundle-reponse-demande-consult-dispo" in issue.source
    assert "Bundle.entry:Slot.request" in issue.source


def test_gap_bundle_entry_validated_against_its_slice_profile(validator, examples):
    bundle = _gap_bundle(examples)
    bundle["entry"][0]["resource"]["status"] = "occupé"
    result = validator.validate(bundle, context=GAP)
    assert ("BINDING_REQUIRED", "Bundle.entry[0].resource.status") in errors(result)


def test_reference_resolved_inside_bundle_by_full_url(validator, examples):
    """A urn:uuid reference says nothing of its type: the Bundle entry it designates does."""
    slot = examples(GAP, "Slot-example.json")
    slot["schedule"] = {"reference": "urn:uuid:44444444-1111-1111-1111-111111111111"}
    patient = examples(CORE22, "Patient-FRCorePatientExample.json")
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {"fullUrl": "https://example.org/fhir/Slot/example", "resource": slot, "search": {"mode": "match"}},
            {"fullUrl": "urn:uuid:44444444-1111-1111-1111-111111111111", "resource": patient,
             "search": {"mode": "include"}},
        ],
    }
    result = validator.validate(bundle, context=GAP)
    one(result, "REF_TARGET_TYPE", "Bundle.entry[0].resource.schedule.reference")
    bundle["entry"][1]["resource"] = examples(GAP, "Schedule-example.json")
    assert ("REF_TARGET_TYPE", "Bundle.entry[0].resource.schedule.reference") not in errors(
        validator.validate(bundle, context=GAP)
    )


def test_pdsm_provide_bundle_closed_slicing(validator, examples):
    """PDSm's provide bundle slices entry by profile:resource + value:request.method, rules closed."""
    bundle = {
        "resourceType": "Bundle",
        "meta": {"profile": [PDSM_SD + "pdsm-comprehensive-provide-document-bundle"]},
        "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:11111111-1111-1111-1111-111111111111",
             "resource": examples(PDSM, "List-ExampleFolder.json"), "request": {"method": "POST", "url": "List"}},
            {"fullUrl": "urn:uuid:22222222-1111-1111-1111-111111111111",
             "resource": examples(PDSM, "Binary-6789.json"), "request": {"method": "POST", "url": "Binary"}},
            {"fullUrl": "urn:uuid:33333333-1111-1111-1111-111111111111",
             "resource": examples(CORE22, "Observation-FRCoreObservationBodyWeightExample.json"),
             "request": {"method": "POST", "url": "Observation"}},
        ],
    }
    result = validator.validate(bundle, context=PDSM)
    assert errors(result) == {("SLICE_CLOSED", "Bundle.entry[2]"), ("SLICE_MIN", "Bundle")}
    assert "SubmissionSet" in one(result, "SLICE_MIN", "Bundle").message


def test_unknown_extension_is_a_warning_not_a_pass_when_a_dependency_is_missing(validator, examples):
    """The MES set misses ihe.iti.mhd (a PDSm dependency): a definition not found may be there."""
    assert validator.definitions.dependencies_missing
    slot = examples(GAP, "Slot-example.json")
    slot["extension"] = [{"url": "https://autre.test/fhir/StructureDefinition/inconnue", "valueString": "x"}]
    result = validator.validate(slot, context=GAP)
    issue = one(result, "EXTENSION_UNKNOWN", "Slot.extension[0]")
    assert issue.severity == "warning"
    assert result.valid


def test_required_binding_over_a_codesystem_of_a_missing_package_is_a_check_not_made(validator, examples):
    """fr-core-vs-practitioner-specialty includes all of TRE_R38, whose CodeSystem is in ans.fr.nos, which FR
    Core 2.0.1 depends on and which is not loaded: the check is not made, and says which package is missing."""
    result = validator.validate(examples(GAP, "Slot-example.json"), context=GAP)
    issue = one(result, "BINDING_DEFINITION_NOT_FOUND", "Slot.specialty[0]")
    assert issue.severity == "information" and result.valid
    assert "TRE-R38-SpecialiteOrdinale" in issue.message and "ans.fr.nos#1.2.0" in issue.message
    assert "fr-core-vs-practitioner-specialty" in issue.message


def test_extensible_binding_gives_a_warning(validator, examples):
    bp = examples(CORE22, "Observation-FRCoreObservationBPExample.json")
    bp["component"][0]["valueQuantity"]["code"] = "mmHg"
    result = validator.validate(bp, context=CORE22)
    issue = one(result, "BINDING_EXTENSIBLE", "Observation.component[0].value.ofType(Quantity)")
    assert issue.severity == "warning"


def test_must_support_absent_is_information(validator, examples):
    folder = examples(PDSM, "List-ExampleFolder.json")
    result = validator.validate(folder, context=PDSM)
    assert result.valid
    del folder["date"]  # date is 1..1 and must-support
    result = validator.validate(folder, context=PDSM)
    one(result, "CARD_MIN", "List")
    document = examples(PDSM, "DocumentReference-PDSmSimplifiedExample.json")
    infos = {(i.message_id, i.severity) for i in validator.validate(document, context=PDSM).issues}
    assert ("MUST_SUPPORT", "information") in infos


def test_requested_profile_checked_besides_meta_profile(validator, examples):
    patient = examples(CORE22, "Patient-FRCorePatientExample.json")
    del patient["meta"]
    assert validator.validate(patient).valid
    del patient["birthDate"]
    result = validator.validate(patient, ["https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient-ins|2.2.0"])
    issue = one(result, "CARD_MIN", "Patient")
    assert "fr-core-patient-ins|2.2.0 (Patient.birthDate)" in issue.source


def test_unknown_requested_profile_is_an_error(validator, examples):
    result = validator.validate(examples(GAP, "Slot-example.json"), ["https://example.org/nope"])
    issue = one(result, "PROFILE_NOT_FOUND", "Slot")
    assert issue.severity == "error"


def test_profile_of_another_type(validator, examples):
    result = validator.validate(examples(GAP, "Slot-example.json"), [GAP_SD + "gap-fr-schedule"])
    one(result, "PROFILE_WRONG_TYPE", "Slot")


def test_extension_used_outside_its_context(validator, examples):
    """fr-core-slot-date is defined for Slot; on a Schedule it is an error."""
    schedule = examples(GAP, "Schedule-example.json")
    schedule["extension"] = [
        {"url": "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-slot-date", "valueDateTime": "2024-05-01"}
    ]
    issue = one(validator.validate(schedule, context=GAP), "EXTENSION_CONTEXT", "Schedule.extension[0]")
    assert "fr-core-slot-date" in issue.source
    slot = examples(GAP, "Slot-example.json")
    slot["extension"] = schedule["extension"]
    assert ("EXTENSION_CONTEXT", "Slot.extension[0]") not in errors(validator.validate(slot, context=GAP))


def test_reference_target_must_conform_to_the_target_profile(validator, examples):
    """Slot.schedule targets fr-core-schedule: a Schedule in the same Bundle that breaks it is reported."""
    slot = examples(GAP, "Slot-example.json")
    schedule = examples(GAP, "Schedule-example.json")
    del schedule["meta"]
    schedule["serviceType"] = [{"text": "interdit par FR Core (0..0)"}]
    bundle = {
        "resourceType": "Bundle", "type": "searchset",
        "entry": [
            {"fullUrl": "https://example.org/fhir/Slot/example", "resource": slot, "search": {"mode": "match"}},
            {"fullUrl": "https://example.org/fhir/Schedule/example", "resource": schedule,
             "search": {"mode": "include"}},
        ],
    }
    slot["schedule"] = {"reference": "Schedule/example"}
    result = validator.validate(bundle, context=GAP)
    issue = one(result, "REF_TARGET_PROFILE", "Bundle.entry[0].resource.schedule.reference")
    assert "fr-core-schedule" in issue.message
    del schedule["serviceType"]
    assert ("REF_TARGET_PROFILE", "Bundle.entry[0].resource.schedule.reference") not in errors(
        validator.validate(bundle, context=GAP)
    )


def test_slice_whose_profile_is_missing_is_assumed_not_silently_matched(validator, examples):
    """UpdateDocumentRefs' resource profile (IHE.MHD.Patch.Parameters) is in the missing MHD package:
    a Parameters entry can only be that slice, and the report says the match was not fully checked."""
    patch = {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
        {"name": "type", "valueCode": "replace"}, {"name": "path", "valueString": "DocumentReference.status"},
        {"name": "value", "valueCode": "superseded"}]}]}
    bundle = {
        "resourceType": "Bundle",
        "meta": {"profile": [PDSM_SD + "pdsm-comprehensive-provide-document-bundle"]},
        "type": "transaction",
        "entry": [{"fullUrl": "urn:uuid:55555555-1111-1111-1111-111111111111", "resource": patch,
                   "request": {"method": "PATCH", "url": "DocumentReference/1"}}],
    }
    result = validator.validate(bundle, context=PDSM)
    issue = one(result, "SLICE_ASSUMED", "Bundle.entry[0]")
    assert issue.severity == "information" and "UpdateDocumentRefs" in issue.message
    assert ("SLICE_CLOSED", "Bundle.entry[0]") not in errors(result)


FR_COMMENT = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-comment"


def _patient_with_comment(on_contact: bool) -> dict:
    comment = [{"url": FR_COMMENT, "valueString": "joignable le matin"}]
    patient = {"resourceType": "Patient", "name": [{"family": "Martin"}],
               "contact": [{"name": {"family": "Martin"}}]}
    if on_contact:
        patient["contact"][0]["extension"] = comment
    else:
        patient["extension"] = comment
    return patient


def test_extension_with_a_fhirpath_context_that_is_a_path(validator):
    """FR Core 2.1.0's fr-core-comment has the FHIRPath context Patient.contact, a plain path: judged
    like an element context."""
    assert ("EXTENSION_CONTEXT", "Patient.contact[0].extension[0]") not in errors(
        validator.validate(_patient_with_comment(True), context=CORE21))
    issue = one(validator.validate(_patient_with_comment(False), context=CORE21), "EXTENSION_CONTEXT",
                "Patient.extension[0]")
    assert "Patient.contact" in issue.message


def test_extension_context_verdicts_kept_per_place_agree_with_judging_again(validator):
    """Where an extension is allowed is kept per (extension, path, holder): in any order of use, each
    place gets the verdict a fresh validator gives it."""
    places = [True, False, True, False, False, True]
    kept = [errors(validator.validate(_patient_with_comment(p), context=CORE21)) for p in places]
    fresh = [errors(type(validator)(validator.store).validate(_patient_with_comment(p), context=CORE21))
             for p in places]
    assert kept == fresh
    assert ("EXTENSION_CONTEXT", "Patient.extension[0]") in kept[1]
    assert ("EXTENSION_CONTEXT", "Patient.contact[0].extension[0]") not in kept[2]


def test_extension_with_a_fhirpath_context_is_judged_by_evaluating_it(validator):
    """A FHIRPath context beyond a path is evaluated on the resource: the extension must sit on an element
    it selects; one that cannot be evaluated is said not checked, never passed in silence."""
    fresh = type(validator)(validator.store)
    schema = fresh.definitions.schema(FR_COMMENT, CORE21)
    schema.context = [{"type": "fhirpath", "expression": "Patient.contact.where(relationship.exists())"}]
    on_patient = fresh.validate(_patient_with_comment(False), context=CORE21)
    assert "where(relationship.exists())" in one(on_patient, "EXTENSION_CONTEXT", "Patient.extension[0]").message
    on_contact = _patient_with_comment(True)
    on_contact["contact"][0]["relationship"] = [{"text": "voisin"}]
    assert not [i for i in fresh.validate(on_contact, context=CORE21).issues
                if i.message_id.startswith("EXTENSION_CONTEXT")]
    del on_contact["contact"][0]["relationship"]  # the control: a contact the expression does not select
    one(fresh.validate(on_contact, context=CORE21), "EXTENSION_CONTEXT", "Patient.contact[0].extension[0]")
    schema.context = [{"type": "fhirpath", "expression": "Patient.contact.where(relationship.memberOf('urn:x'))"}]
    result = fresh.validate(_patient_with_comment(False), context=CORE21)
    issue = one(result, "EXTENSION_CONTEXT_NOT_CHECKED", "Patient.extension[0]")
    assert issue.severity == "information" and "memberOf" in issue.message
    assert ("EXTENSION_CONTEXT", "Patient.extension[0]") not in errors(result)


def test_constraint_stated_in_words_only_is_said_not_checked(validator, examples):
    """PDSm's constr-bind-* rules have no FHIRPath expression: without a project rule restating one, each
    one that applies is reported as not checked (information), where it applies, never passed in silence
    nor failed."""
    without_rules = Validator(validator.store, rules=ProjectRules())
    doc = examples(PDSM, "DocumentReference-exemple-pdsm-documentreference.json")
    result = without_rules.validate(doc, context=PDSM)
    issue = one(result, "INVARIANT_NOT_CHECKED", "DocumentReference.type")
    assert issue.severity == "information" and issue.source.startswith("constr-bind-type")
    assert "texte seulement" in issue.message
    del doc["type"]
    assert ("INVARIANT_NOT_CHECKED", "DocumentReference.type") not in found(without_rules.validate(doc, context=PDSM))


@pytest.mark.parametrize("core", [CORE21, CORE22])
def test_extension_context_judged_where_a_datatype_profile_walks(validator, core):
    """Patient.name is checked through FR Core's HumanName profile: the birth-list given name extension,
    allowed on Patient.name, is judged at Patient.name, not at the profile's HumanName."""
    version = core.split("#")[1]
    given = [{"url": "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient-birth-list-given-name",
              "valueString": "Jeanne Marie"}]
    patient = {"resourceType": "Patient", "meta": {"profile": [FR_PATIENT + "|" + version]},
               "name": [{"family": "Martin", "given": ["Jeanne"], "extension": given}]}
    result = validator.validate(patient, context=core)
    assert not [i for i in result.issues if i.message_id.startswith("EXTENSION_CONTEXT")], result.issues
    # The control: on the Patient itself the same extension is out of its context.
    patient["extension"] = given
    one(validator.validate(patient, context=core), "EXTENSION_CONTEXT", "Patient.extension[0]")


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
    assert not core.definitions.dependencies_missing
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
