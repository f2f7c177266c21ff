"""Every example shipped in the official packages validates against its declared profiles.

Unversioned canonicals resolve in the example's own package (GAP examples see FR Core 2.0.1, PDSm's
see 2.1.0). Where an example is truly wrong, EXPECTED names each defect and why the HL7 reference
validator reports it too — the IG Publisher's own run, shipped in each package as
``package/other/validation-oo.json``, shows the same error at the same place — or why it is a
consequence of a missing dependency that the package pins (Annuaire 1.0.1 / 1.1.0).
"""

from __future__ import annotations

import pytest

from conftest import shared_packages_dir
from pytest_mes.fhir.store import PackageStore

IGS = ("hl7.fhir.fr.core", "ans.fhir.fr.gap", "ans.fhir.fr.pdsm", "ans.fhir.fr.annuaire")

INSEE_WRONG_SYSTEM = (
    "the INSEE commune code uses system TRE_R13-Commune, while fr-core-vs-insee-code (FR Core >= 2.1.0) only "
    "includes TRE_R13-CommuneOM: the reference validator reports 'The code provided … was not found in the "
    "value set FR Core ValueSet INSEE code' at the same location"
)
UNVERSIONED_META_PROFILE = (
    "Annuaire 1.2.0-snapshot-2 slices meta.profile with patternCanonical '…|1.2.0-snapshot-2' (a versioned "
    "canonical) and the example declares the unversioned url: the reference validator reports "
    "\"Slice 'Person.meta.profile:as-dr-canonical': a matching slice is required, but not found\""
)
ANNUAIRE_SUBSTITUTE = (
    "PDSm 3.1.1 pins ans.fhir.fr.annuaire 1.1.0, which is not available; 1.2.0-snapshot-2 stands in, and its "
    "as-dp-* profiles require meta.profile to carry the versioned fr-core and as-dp canonicals and "
    "meta.source = https://annuaire.esante.gouv.fr — rules PDSm's examples (written against 1.1.0) predate: "
    "warnings naming the substitution, not errors"
)
CONTAINED_DOM_4 = (
    "contained resources carry meta.versionId/lastUpdated: dom-4 fails, as the reference validator reports "
    "('Constraint failed: dom-4')"
)

# (package, file) -> {(message id, location, source fragment): why}
BIRTH_PLACE_INSEE = "extension[1].value.ofType(Address).extension[0].value.ofType(Coding)"
PERSON_INSEE = "extension[0].value.ofType(Address).extension[0].value.ofType(Coding)"

EXPECTED: dict[tuple[str, str], dict[tuple[str, str, str], str]] = {
    ("hl7.fhir.fr.core#2.1.0", "Patient-ExampleFRCorePatient001.json"): {
        ("BINDING_REQUIRED", f"Patient.{BIRTH_PLACE_INSEE}", "fr-core-vs-insee-code"):
            INSEE_WRONG_SYSTEM,
    },
    **{
        ("ans.fhir.fr.annuaire#1.2.0-snapshot-2", f"{rtype}-{rid}.json"): {
            ("BINDING_REQUIRED", f"{rtype}.address[0].extension[0].value.ofType(Coding)", "fr-core-vs-insee-code"):
                INSEE_WRONG_SYSTEM,
        }
        for rtype, rid in (
            ("Organization", "158480"), ("Organization", "158480DP"), ("Organization", "example-organization-fictive"),
            ("Organization", "example-organization-nancy"), ("Practitioner", "334081"), ("Practitioner", "3719500"),
        )
    },
    **{
        ("ans.fhir.fr.annuaire#1.2.0-snapshot-2", f"Person-{pid}-person.json"): {
            ("BINDING_REQUIRED", f"Person.{PERSON_INSEE}", "fr-core-vs-insee-code"):
                INSEE_WRONG_SYSTEM,
            ("SLICE_MIN", "Person.meta", "Person.meta.profile:as-dr-canonical"): UNVERSIONED_META_PROFILE,
        }
        for pid in ("pp16dr", "pp19dr")
    },
    ("ans.fhir.fr.pdsm#3.1.1", "DocumentReference-exemple-pdsm-documentreference.json"): {
        ("INVARIANT", "DocumentReference", "dom-4"): CONTAINED_DOM_4,
        ("INVARIANT", "DocumentReference", "dom-3"):
            "the contained Practitioner is referenced by nothing: the reference validator reports dom-3 on "
            "contained[0]",
        ("REF_NOT_CONTAINED", "DocumentReference.authenticator.reference", "DocumentReference.authenticator"):
            "PDSm sets aggregation 'contained' and the example points outside: the reference validator reports "
            "'Reference is external which isn't supported by the specified aggregation mode(s)'",
        ("REF_NOT_CONTAINED", "DocumentReference.context.sourcePatientInfo.reference",
         "DocumentReference.context.sourcePatientInfo"):
            "same aggregation 'contained' rule, same reference-validator error",
        ("REF_NOT_CONTAINED", "DocumentReference.author[0].reference", "DocumentReference.author"):
            "author must be contained; the reference validator reports 'Bundled or contained reference not found "
            "within the bundle/resource PractitionerRole/practitionerrole-example'",
        ("SLICE_MIN", "DocumentReference.contained[0].meta", "meta.profile:as-dp-canonical"): ANNUAIRE_SUBSTITUTE,
        ("SLICE_MIN", "DocumentReference.contained[0].meta", "meta.profile:fr-canonical"): ANNUAIRE_SUBSTITUTE,
        ("PATTERN", "DocumentReference.contained[0].meta.source", "meta.source"): ANNUAIRE_SUBSTITUTE,
    },
    ("ans.fhir.fr.pdsm#3.1.1", "DocumentReference-PDSmSimplifiedExample.json"): {
        ("ATTACHMENT_SIZE", "DocumentReference.content[0].attachment", "DocumentReference.content.attachment"):
            "size 250000 for 11 bytes of data: the reference validator reports 'Stated Attachment Size 250,000 does "
            "not match actual attachment size 11'",
    },
    ("ans.fhir.fr.pdsm#3.1.1", "List-ExampleSubmissionSet.json"): {
        ("INVARIANT", "List", "dom-4"): CONTAINED_DOM_4,
        **{
            (kind, f"List.contained[{i}].{where}", rule): ANNUAIRE_SUBSTITUTE
            for i in (0, 1)
            for kind, where, rule in (
                ("SLICE_MIN", "meta", "meta.profile:as-dp-canonical"),
                ("SLICE_MIN", "meta", "meta.profile:fr-canonical"),
                ("PATTERN", "meta.source", "meta.source"),
            )
        },
    },
    ("ans.fhir.fr.pdsm#3.1.1", "Organization-org-example.json"): {
        ("SLICE_MIN", "Organization.meta", "meta.profile:as-dp-canonical"): ANNUAIRE_SUBSTITUTE,
        ("SLICE_MIN", "Organization.meta", "meta.profile:fr-canonical"): ANNUAIRE_SUBSTITUTE,
        ("PATTERN", "Organization.meta.source", "meta.source"): ANNUAIRE_SUBSTITUTE,
    },
}


def _example_ids() -> list[tuple[str, str]]:
    folder = shared_packages_dir()
    if folder is None:
        return []
    store = PackageStore.load([folder], offline=True)
    return [
        (package.key, name)
        for package in store.packages
        if package.id in IGS
        for name, _ in package.examples()
    ]


EXAMPLES = _example_ids()


def test_every_ig_ships_examples():
    if not EXAMPLES:
        pytest.skip("FHIR packages not available")
    packages = {key.split("#")[0] for key, _ in EXAMPLES}
    assert packages == set(IGS)
    assert len(EXAMPLES) >= 80


@pytest.mark.parametrize(("package", "name"), EXAMPLES, ids=[f"{k}/{n}" for k, n in EXAMPLES])
def test_official_example(validator, examples, package, name):
    result = validator.validate(examples(package, name), context=package)
    expected = {k: why for k, why in EXPECTED.get((package, name), {}).items() if why != ANNUAIRE_SUBSTITUTE}
    substituted = [k for k, why in EXPECTED.get((package, name), {}).items() if why == ANNUAIRE_SUBSTITUTE]
    for message_id, expression, rule in substituted:
        assert any(
            i.severity == "warning" and i.message_id == message_id and i.expression == expression and rule in i.source
            and "utilisé à la place de ans.fhir.fr.annuaire#1.1.0 requis par ans.fhir.fr.pdsm#3.1.1" in i.message
            for i in result.issues
        ), f"expected warning naming the substitution: {message_id} at {expression} ({rule}); got:\n{result}"
    if substituted:
        said = [i for i in result.issues if i.message_id == "DEPENDENCY_SUBSTITUTED"]
        assert len(said) == 1 and said[0].severity == "information", result
        assert "ans.fhir.fr.annuaire#1.2.0-snapshot-2 est utilisé à sa place" in said[0].message
    actual = [i for i in result.issues if i.severity in ("error", "fatal")]
    for message_id, expression, rule in expected:
        assert any(
            i.message_id == message_id and i.expression == expression and rule in i.source for i in actual
        ), f"expected defect not found: {message_id} at {expression} ({rule}); got:\n{result}"
    unexpected = [
        i for i in actual
        if not any(i.message_id == m and i.expression == e and r in i.source for m, e, r in expected)
    ]
    assert not unexpected, "\n".join(f"{i.expression}: {i.message} [{i.source}]" for i in unexpected)


def test_expectations_name_real_examples():
    """A stale expectation (file renamed, package bumped) must not pass silently."""
    if not EXAMPLES:
        pytest.skip("FHIR packages not available")
    assert set(EXPECTED) <= set(EXAMPLES)


def test_fr_core_2_0_1_insee_binding_is_not_checked_rather_than_failed(validator, examples):
    """FR Core 2.0.1's fr-core-vs-insee-code includes all of TRE_R13-Commune, whose CodeSystem is in the
    missing ans.fr.nos package: the code cannot be judged offline, so it is reported as a check not made
    (the reference validator, online, could not load it either and made it an error)."""
    result = validator.validate(examples("hl7.fhir.fr.core#2.0.1", "Patient-ExamplefrCorePatient001.json"),
                                context="hl7.fhir.fr.core#2.0.1")
    assert result.valid
    notes = [i for i in result.issues if i.message_id == "BINDING_DEFINITION_NOT_FOUND"]
    assert notes and notes[0].severity == "information"
    assert notes[0].expression == "Patient.extension[1].value.ofType(Address).extension[0].value.ofType(Coding)"


def test_conformance_resources_of_the_igs_are_valid(validator, store):
    """The IGs' own ValueSets, CodeSystems, SearchParameters, CapabilityStatements… (not their
    StructureDefinitions: slow, and their differentials are partial by design) validate against R4."""
    checked = 0
    for package in store.packages:
        if package.id not in IGS:
            continue
        for resource in package.resources():
            if resource["resourceType"] == "StructureDefinition":
                continue
            result = validator.validate(resource, context=package.key)
            assert result.valid, f"{package.key} {resource['resourceType']}/{resource.get('id')}:\n{result}"
            checked += 1
    assert checked > 200


def test_a_profile_snapshot_validates_as_a_structure_definition(validator, store):
    """A big, deeply nested resource: GAP's Slot profile (snapshot, extensions on types, slicing)."""
    sd = store.structure_definition("https://interop.esante.gouv.fr/ig/fhir/gap/StructureDefinition/gap-fr-slot|3.0.0")
    assert validator.validate(sd, context="ans.fhir.fr.gap#3.0.0").valid
