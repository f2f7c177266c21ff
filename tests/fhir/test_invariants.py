"""Native invariants agree with fhirpathpy on the same inputs, and fhirpathpy runs the rest."""

from __future__ import annotations

import pytest

from pytest_mes.fhir.invariants import NATIVE, OPD_3, FhirPathInvariant, InvariantContext, NotEvaluable, native_for
from tests.fhir.test_base_r4 import _invariant_keys

EXT = "http://example.org/ext"
SAMPLES = [
    {},
    {"extension": [{"url": EXT, "valueString": "x"}]},
    {"url": EXT, "valueString": "x"},
    {"url": EXT, "valueString": "x", "extension": [{"url": "a", "valueCode": "b"}]},
    {"url": EXT, "extension": [{"url": "a", "valueCode": "b"}]},
    {"start": "2024-01-01", "end": "2024-01-02"},
    {"start": "2024-01-03", "end": "2024-01-02"},
    {"start": "2024-01-01T10:00:00+01:00"},
    {"value": "0102", "system": "phone"},
    {"value": "0102"},
    {"code": "kg", "system": "http://unitsofmeasure.org", "value": 3},
    {"code": "kg", "value": 3},
    {"code": "min"},
    {"type": "searchset", "total": 2, "entry": [{"search": {"mode": "match"}, "fullUrl": "urn:uuid:1"}]},
    {"type": "collection", "total": 2, "entry": [{"search": {"mode": "match"}}]},
    {"type": "transaction", "entry": [{"fullUrl": "urn:uuid:1", "request": {"method": "POST", "url": "Patient"}}]},
    {"type": "transaction", "entry": [{"fullUrl": "urn:uuid:1"}]},
    {"type": "searchset", "entry": [{"fullUrl": "a"}, {"fullUrl": "a"}]},
    {"type": "searchset", "entry": [{"fullUrl": "a/_history/1"}]},
    {"type": "document", "identifier": {"system": "s", "value": "v"}, "timestamp": "2024-01-01T00:00:00Z",
     "entry": [{"resource": {"resourceType": "Composition"}}]},
    {"type": "document", "entry": [{"resource": {"resourceType": "Patient"}}]},
    {"type": "message", "entry": [{"resource": {"resourceType": "MessageHeader"}}]},
    {"contained": [{"resourceType": "Organization", "id": "o", "meta": {"versionId": "1"}}]},
    {"contained": [{"resourceType": "Organization", "id": "o", "meta": {"security": [{"code": "R"}]}}]},
    {"contained": [{"resourceType": "Organization", "id": "o", "contained": [{"resourceType": "Device"}]}]},
    {"text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}},
    {"use": "home"}, {"use": "work"},
    {"identifier": [{"value": "1"}]}, {"name": "n"},
    {"data": "aGk=", "contentType": "text/plain"}, {"data": "aGk="},
    {"comparator": "<"},
    {"status": "booked", "start": "2024-01-01T10:00:00Z", "end": "2024-01-01T11:00:00Z"},
    {"status": "booked", "start": "2024-01-01T10:00:00Z"},
    {"status": "proposed"},
    {"status": "booked", "cancelationReason": {"text": "x"}},
    {"mode": "working", "entry": [{"date": "2024-01-01"}]},
    {"mode": "snapshot", "entry": [{"date": "2024-01-01", "deleted": True}]},
    {"emptyReason": {"text": "x"}, "entry": [{"item": {"reference": "a"}}]},
    {"telecom": [{"value": "1"}]},
    {"fullUrl": "https://x.org/fhir/Patient/1"}, {"fullUrl": "https://x.org/fhir/Patient/1/_history/2"},
    {"fullUrl": "urn:uuid:1"}, {"reference": "Patient/1"}, {"reference": "#missing"},
    {"reference": "#o", "contained": [{"resourceType": "Organization", "id": "o"}]},
    {"reference": "#o2", "contained": [{"resourceType": "Organization", "id": "o"}]},
    {"extension": [{"url": "http://fhir.fr/StructureDefinition/fr-core-location-type-chambre", "valueCode": "x"}],
     "type": [{"coding": [{"code": "LIT"}]}]},
    {"extension": [{"url": "http://fhir.fr/StructureDefinition/fr-core-location-type-chambre", "valueCode": "x"}],
     "type": [{"coding": [{"code": "CHAMB"}]}]},
]
RELIABILITY = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability"


def _status(*codes: str) -> list[dict]:
    return [{"url": RELIABILITY, "extension": [
        {"url": "identityStatus", "valueCoding": {"system": "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0445",
                                                  "code": code}} for code in codes]}]


def _ins(system_suffix: str, use: str | None = "official", code: str | None = "INS-NIR") -> dict:
    ident: dict = {"system": f"urn:oid:1.2.250.1.213.1.4.{system_suffix}", "value": "1"}
    if use:
        ident["use"] = use
    if code:
        ident["type"] = {"coding": [{"code": code}]}
    return ident


def _birth_place(insee: str) -> dict:
    return {"url": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace", "valueAddress": {"extension": [
        {"url": "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code",
         "valueCoding": {"code": insee}}]}}


SAMPLES += [  # Patients for the FR Core identity invariants (fr-core-1, -2, -3 in their three versions)
    {"extension": _status("VALI"), "identifier": [_ins("8")]},
    {"extension": _status("VALI"), "identifier": [_ins("8", code=None)]},
    {"extension": _status("VALI"), "identifier": [_ins("8", use="usual")]},
    {"extension": _status("VALI"), "identifier": [_ins("9", code=None)]},
    {"extension": _status("VALI"), "identifier": [_ins("10", use=None)]},
    {"extension": _status("VALI"), "identifier": [_ins("11")]},
    {"extension": _status("VALI"), "identifier": [_ins("99")]},
    {"extension": _status("VALI"), "identifier": [_ins("8"), _ins("9")]},
    {"extension": _status("VALI")},
    {"extension": _status("PROV"), "identifier": [_ins("99")]},
    {"extension": [*_status("VALI"), _birth_place("99999")], "identifier": [_ins("8")]},
    {"extension": [*_status("VALI"), _birth_place("75056")], "identifier": [_ins("8")]},
    {"extension": [_birth_place("99999")], "identifier": [_ins("8")]},
    {"identifier": [_ins("99")]},
]

LOINC = "http://loinc.org"
SAMPLES += [  # Observations for the R4 / vital signs invariants (obs-6, obs-7, vs-2, vs-3)
    {"code": {"coding": [{"system": LOINC, "code": "85354-9"}]}, "valueQuantity": {"value": 1},
     "component": [{"code": {"coding": [{"system": LOINC, "code": "8480-6"}]}, "valueQuantity": {"value": 120}}]},
    {"code": {"coding": [{"system": LOINC, "code": "85354-9"}]}, "valueQuantity": {"value": 1},
     "component": [{"code": {"coding": [{"system": LOINC, "code": "85354-9"}]}}]},
    {"code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
     "component": [{"code": {"coding": [{"system": LOINC, "code": "85354-9"}]}, "valueQuantity": {"value": 1}}]},
    {"code": {"text": "x"}, "valueString": "x", "dataAbsentReason": {"text": "unknown"}},
    {"code": {"text": "x"}, "dataAbsentReason": {"text": "unknown"}},
    {"code": {"text": "x"}, "_valueString": {"extension": [{"url": EXT, "valueString": "x"}]}},
    {"code": {"text": "x"}, "hasMember": [{"reference": "Observation/1"}]},
    {"code": {"text": "x"}},
]

# Expressions whose fhirpathpy evaluation is not a fair judge: unsupported functions (htmlChecks,
# children() of primitives), or %resource-wide searches checked in the validator tests instead.
SKIP = {"htmlChecks()", "hasValue() or (children().count() > id.count())",
        "$this is dateTime implies $this.toString().length() >= 10",  # on strings: test_native_vs_1
        OPD_3}  # memberOf: test_operation_definitions

_BASES = {
    "extension.exists() != value.exists()": "Extension",
    # value[x] is found through the model: fhirpathpy needs the type
    "dataAbsentReason.empty() or value.empty()": "Observation",
    "value.empty() or component.code.where(coding.intersect(%resource.code.coding).exists()).empty()": "Observation",
    "(component.empty() and hasMember.empty()) implies (dataAbsentReason.exists() or value.exists())": "Observation",
    "value.exists() or dataAbsentReason.exists()": "Observation.component",
}


def _base(expression: str) -> str:
    return _BASES.get(expression, "")


@pytest.mark.parametrize("expression", sorted(e for e in NATIVE if e not in SKIP))
def test_native_invariant_agrees_with_fhirpathpy(expression):
    fhirpath = FhirPathInvariant(expression)
    native = NATIVE[expression]
    compared = 0
    for sample in SAMPLES:
        root = dict(sample, resourceType="Basic", id="r")
        ctx = InvariantContext(root, root)
        if expression.startswith("Appointment."):
            sample = dict(sample, resourceType="Appointment")  # the expression names its type
        try:
            expected = fhirpath.evaluate_raw(sample, _base(expression), ctx)
        except NotEvaluable:
            continue
        if expected is None:
            continue  # empty: outside the expression's domain (e.g. a Bundle without type); natives decide
        assert native(sample, ctx) == expected, (expression, sample)
        compared += 1
    assert compared >= 3


def test_native_fr_core_1_sees_every_identity_status():
    """FHIRPath's extension(url) returns every matching extension; fhirpathpy 2.2.4 returns the first
    only, so a PROV then VALI status escapes it. The native check follows the specification."""
    fr_core_1 = next(f for e, f in NATIVE.items() if e.startswith("(extension('" + RELIABILITY) and "4.11" in e)
    patient = {"extension": _status("PROV", "VALI"), "identifier": [_ins("99")]}
    assert fr_core_1(patient, InvariantContext(patient, patient)) is False
    patient["identifier"] = [_ins("8")]
    assert fr_core_1(patient, InvariantContext(patient, patient)) is True


def test_dom_3_matched_by_key_and_prefix():
    expression = ("contained.where((('#'+id in (%resource.descendants().reference | %resource.descendants()"
                  ".as(canonical) | %resource.descendants().as(uri) | %resource.descendants().as(url))) or "
                  "descendants().where(reference = '#').exists()).not()).trace('unmatched', id).empty()")
    dom_3 = native_for("dom-3", expression)
    assert dom_3 is not None
    resource = {"resourceType": "Patient", "contained": [{"resourceType": "Organization", "id": "o"}]}
    assert dom_3(resource, InvariantContext(resource, resource)) is False
    resource["managingOrganization"] = {"reference": "#o"}
    assert dom_3(resource, InvariantContext(resource, resource)) is True
    assert native_for("dom-3", "something else") is None


def test_fhirpath_invariant_with_has_value_and_bad_syntax():
    per_1 = FhirPathInvariant("start.hasValue().not() or end.hasValue().not() or (start <= end)")
    ctx = InvariantContext({}, {})
    assert per_1.evaluate({"start": "2024-01-01", "end": "2024-01-02"}, "Period", ctx) is True
    assert per_1.evaluate({"start": "2024-01-03", "end": "2024-01-02"}, "Period", ctx) is False
    with pytest.raises(NotEvaluable):
        FhirPathInvariant("start.noSuchFunction()").evaluate({"start": "x"}, "Period", ctx)
    with pytest.raises(NotEvaluable):
        FhirPathInvariant("$$$").evaluate({}, "Period", ctx)


def test_native_per_1_compares_instants_across_time_zones():
    """10:00+01:00 is 09:00Z, before 09:30Z (fhirpathpy 2.2.4 compares these wrongly, hence native)."""
    per_1 = NATIVE["start.hasValue().not() or end.hasValue().not() or (start <= end)"]
    ctx = InvariantContext({}, {})
    assert per_1({"start": "2024-01-01T10:00:00+01:00", "end": "2024-01-01T09:30:00Z"}, ctx) is True
    assert per_1({"start": "2024-01-01T10:00:00Z", "end": "2024-01-01T09:30:00+01:00"}, ctx) is False
    assert per_1({"start": "2024-01", "end": "2024-01-15"}, ctx) is True  # different precisions: not comparable


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


@pytest.mark.parametrize("value", ["2024", "2024-05", "2024-05-01", "2024-05-01T10:00:00+02:00",
                                   {"start": "2024-05-01"}])
def test_native_vs_1_agrees_with_fhirpathpy(value):
    """FR Core's vs-1 on Observation.effective[x]: a dateTime is at least a full date."""
    expression = "$this is dateTime implies $this.toString().length() >= 10"
    ctx = InvariantContext({}, {})
    base = "dateTime" if isinstance(value, str) else "Period"
    assert NATIVE[expression](value, ctx) == FhirPathInvariant(expression).evaluate(value, base, ctx)


MEMO_EXPRESSIONS = [
    "coding.where(system = 'http://loinc.org' or system.startsWith('https://mos.esante.gouv.fr/NOS/TRE_A05-'))"
    ".exists()",
    "system = 'urn:oid:1.3.6.1.4.1.19376.1.2.3' or system.startsWith('https://mos.esante.gouv.fr/NOS/TRE_A11-')",
    "start.exists() = end.exists()",
    "value.exists() or dataAbsentReason.exists()",
]
CODINGS = [
    {"coding": [{"system": "http://loinc.org", "code": "1"}]},
    {"coding": [{"system": "http://snomed.info/sct", "code": "1"}]},
    {"coding": [{"system": "https://mos.esante.gouv.fr/NOS/TRE_A05-X/FHIR/TRE-A05-X", "code": "1"}]},
    {"system": "urn:oid:1.3.6.1.4.1.19376.1.2.3", "code": "x"}, {"system": "http://x", "code": "x"},
    {"start": "2024"}, {"start": "2024", "end": "2025"}, {"valueQuantity": {"value": 1}}, {"text": "x"},
]


@pytest.mark.parametrize("expression", MEMO_EXPRESSIONS)
def test_verdicts_kept_by_value_agree_with_a_fresh_evaluation(expression):
    """An invariant that reads only its value keeps its verdict per value: each kept verdict is the one
    a fresh evaluation gives, whatever the order the values come in."""
    ctx = InvariantContext({}, {})
    kept = FhirPathInvariant(expression)
    for base in ("CodeableConcept", "Coding", "Period", "Observation.component"):
        for value in CODINGS + CODINGS[::-1]:
            fresh = FhirPathInvariant(expression).evaluate_raw(value, base, ctx) is True
            assert kept.evaluate(value, base, ctx) == fresh, (base, value)
    assert kept._verdicts  # the verdicts were kept


def test_verdicts_that_depend_on_the_resource_are_not_kept():
    expression = "reference.startsWith('#').not() or (reference.substring(1) in %rootResource.contained.id)"
    inv = FhirPathInvariant(expression)
    value = {"reference": "#o"}
    with_o = {"resourceType": "Basic", "contained": [{"resourceType": "Organization", "id": "o"}]}
    without = {"resourceType": "Basic"}
    assert inv.evaluate(value, "Reference", InvariantContext(with_o, with_o)) is True
    assert inv.evaluate(value, "Reference", InvariantContext(without, without)) is False
    assert inv._verdicts is None
