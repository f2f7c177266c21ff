"""FHIR XML reading and writing (pytest_mes.fhir.xml), against the official R4 definitions."""

from __future__ import annotations

import json
import os
import time
from decimal import Decimal

import pytest

from pytest_mes.errors import MesError
from pytest_mes.fhir.store import PackageStore
from pytest_mes.fhir.xml import MAX_DEPTH, FhirXmlError, parse_xml, to_xml
from tests.fhir.test_commands import _at, _validate_file

F = 'xmlns="http://hl7.org/fhir"'
XHTML = 'xmlns="http://www.w3.org/1999/xhtml"'

# Round trips: every example of every package; every Nth conformance resource (all of them with
# MES_TEST_XML_ALL=1: ~5,100 resources, about 30 s), plus the first of each resource type.
CORE_SAMPLE_STEP = 8
IG_SAMPLE_STEP = 3


def sample(resources, step: int) -> list[tuple[str, dict]]:
    """Every `step`-th resource in a stable order, plus the first of each resource type."""
    ordered = sorted(resources, key=lambda r: (r["resourceType"], str(r.get("id"))))
    everything = os.environ.get("MES_TEST_XML_ALL") == "1"
    seen_types: set[str] = set()
    chosen = []
    for i, resource in enumerate(ordered):
        if everything or i % step == 0 or resource["resourceType"] not in seen_types:
            chosen.append((f"{resource['resourceType']}/{resource.get('id')}", resource))
            seen_types.add(resource["resourceType"])
    return chosen


@pytest.fixture(scope="module")
def store(fhir_packages_dir, tmp_path_factory) -> PackageStore:
    """The shared FHIR packages, indexed in a private cache (never the user's)."""
    cache_dir = tmp_path_factory.mktemp("xml-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MES_CACHE_DIR", str(cache_dir / "index"))
        return PackageStore.load(sources=[fhir_packages_dir], cache_dir=cache_dir / "fhir", offline=True)


def roundtrip(resource: dict, store) -> dict:
    return parse_xml(to_xml(resource, store), store)


def first_difference(a, b, path="$") -> str | None:
    """Where two JSON values first differ, for a readable failure message."""
    if type(a) is not type(b):
        return f"{path}: {a!r} != {b!r}"
    if isinstance(a, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                return f"{path}.{key}: present on one side only"
            found = first_difference(a[key], b[key], f"{path}.{key}")
            if found:
                return found
    elif isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
    elif a != b:
        return f"{path}: {a!r} != {b!r}"
    return None


def assert_roundtrips(items, store) -> int:
    failures = []
    count = 0
    for name, resource in items:
        count += 1
        try:
            back = roundtrip(resource, store)
        except FhirXmlError as exc:
            failures.append(f"{name}: {exc}")
            continue
        if back != resource:
            failures.append(f"{name}: {first_difference(resource, back)}")
    assert not failures, f"{len(failures)} of {count} resources do not round-trip:\n" + "\n".join(failures[:20])
    return count


# ----------------------------------------------------------------------------------------------
# Round trips on the official packages


@pytest.mark.parametrize(
    "package_key",
    [
        "ans.fhir.fr.pdsm#3.1.1",
        "ans.fhir.fr.gap#3.0.0",
        "ans.fhir.fr.annuaire#1.2.0-snapshot-2",
        "hl7.fhir.fr.core#2.0.1",
        "hl7.fhir.fr.core#2.1.0",
        "hl7.fhir.fr.core#2.2.0",
    ],
)
def test_roundtrip_french_packages(store, package_key):
    """The examples and the conformance resources of the French IGs: JSON -> XML -> JSON is equal."""
    package = store.package(package_key)
    assert package is not None, f"{package_key} not loaded: {store.warnings}"
    items = list(package.examples()) + sample(package.resources(), IG_SAMPLE_STEP)
    assert assert_roundtrips(items, store) == len(items) > 0


def test_roundtrip_r4_core(store):
    """hl7.fhir.r4.core carries no example folder: its conformance resources (StructureDefinitions,
    ValueSets, CodeSystems, SearchParameters…, full of primitive extensions and narratives) are the
    official sample."""
    items = sample(store.package("hl7.fhir.r4.core#4.0.1").resources(), CORE_SAMPLE_STEP)
    assert assert_roundtrips(items, store) == len(items) > 500


def test_official_examples_parse_the_same_pretty_or_compact(store):
    """Indentation between elements is not data: pretty and compact XML read back the same."""
    package = store.package("ans.fhir.fr.pdsm#3.1.1")
    for name, resource in package.examples():
        pretty = to_xml(resource, store, pretty=True)
        assert pretty.count("\n") > 3, name
        assert parse_xml(pretty, store) == parse_xml(to_xml(resource, store), store) == resource, name


def test_no_official_xml_examples_are_shipped(fhir_packages_dir):
    """Documented fact behind the tests above: the packages carry JSON only, so XML is compared
    with its JSON twin through our own writer and the hand-written documents below."""
    import tarfile

    for tgz in sorted(fhir_packages_dir.glob("*.tgz")):
        with tarfile.open(tgz) as tar:
            assert not [n for n in tar.getnames() if n.endswith(".xml")], tgz.name


# ----------------------------------------------------------------------------------------------
# Hand-written FHIR XML, in the style of the specification, against the expected JSON


def test_patient_tricky_cases(store):
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- comments are not data -->
<Patient {F} xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://hl7.org/fhir ../../schema/patient.xsd">
  <id value="pat-1"/>
  <meta><profile value="https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient"/></meta>
  <text>
    <status value="generated"/>
    <div {XHTML}><p>Jos&#233; &amp; <b>Marie</b>  Dupont</p></div>
  </text>
  <extension url="http://example.org/ext-decimal"><valueDecimal value="1.50"/></extension>
  <identifier><system value="urn:oid:1.2.250.1.213.1.4.8"/><value value="1234"/></identifier>
  <active value="true"/>
  <name id="n1">
    <family value="Dupont"/>
    <given value="Jean"/>
    <given id="g2"><extension url="http://example.org/x"><valueString value="y"/></extension></given>
    <given value="Paul"/>
  </name>
  <birthDate value="1970-01-01">
    <extension url="http://hl7.org/fhir/StructureDefinition/patient-birthTime">
      <valueDateTime value="1970-01-01T10:00:00+01:00"/>
    </extension>
  </birthDate>
  <deceasedBoolean value="false"/>
  <multipleBirthInteger value="2"/>
</Patient>"""
    expected = {
        "resourceType": "Patient",
        "id": "pat-1",
        "meta": {"profile": ["https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient"]},
        "text": {
            "status": "generated",
            "div": f"<div {XHTML}><p>Jos&#233; &amp; <b>Marie</b>  Dupont</p></div>",
        },
        "extension": [{"url": "http://example.org/ext-decimal", "valueDecimal": 1.5}],
        "identifier": [{"system": "urn:oid:1.2.250.1.213.1.4.8", "value": "1234"}],
        "active": True,
        "name": [
            {
                "id": "n1",
                "family": "Dupont",
                "given": ["Jean", None, "Paul"],
                "_given": [
                    None,
                    {"id": "g2", "extension": [{"url": "http://example.org/x", "valueString": "y"}]},
                    None,
                ],
            }
        ],
        "birthDate": "1970-01-01",
        "_birthDate": {
            "extension": [
                {
                    "url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                    "valueDateTime": "1970-01-01T10:00:00+01:00",
                }
            ]
        },
        "deceasedBoolean": False,
        "multipleBirthInteger": 2,
    }
    parsed = parse_xml(xml, store)
    assert parsed == expected
    assert next(iter(parsed)) == "resourceType"
    assert parse_xml(xml.encode("utf-8"), store) == expected
    assert roundtrip(expected, store) == expected


def test_writer_follows_definition_order_not_json_order(store):
    resource = {
        "multipleBirthBoolean": True,
        "name": [{"given": ["A"], "family": "B"}],
        "id": "x",
        "active": False,
        "resourceType": "Patient",
    }
    xml = to_xml(resource, store)
    assert xml == (
        f'<Patient {F}><id value="x"/><active value="false"/>'
        '<name><family value="B"/><given value="A"/></name>'
        '<multipleBirthBoolean value="true"/></Patient>'
    )
    assert parse_xml(xml, store) == resource


def test_attributes_id_url_and_escaping(store):
    text = 'a "quoted" <tag> & tab\there\nline two\r\nwindows'
    resource = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"id": "c1", "text": text},
        "extension": [
            {"id": "e1", "url": "http://example.org/a?b=1&c=2", "extension": [{"url": "inner", "valueCode": "z"}]}
        ],
    }
    xml = to_xml(resource, store)
    assert '<code id="c1">' in xml
    assert '<extension id="e1" url="http://example.org/a?b=1&amp;c=2">' in xml
    assert "&#9;" in xml and "&#10;" in xml and "&#13;" in xml
    assert roundtrip(resource, store) == resource


def test_choice_types(store):
    xml = f"""<Observation {F}>
  <status value="final"/>
  <code><coding><system value="http://loinc.org"/><code value="29463-7"/></coding></code>
  <effectiveDateTime value="2024-05-01T10:00:00+02:00"/>
  <valueQuantity><value value="72.50"/><unit value="kg"/><system value="http://unitsofmeasure.org"/>
    <code value="kg"/></valueQuantity>
  <component><code><text value="t"/></code><valueString value="s"/></component>
  <component><code><text value="u"/></code><valueCodeableConcept><text value="cc"/></valueCodeableConcept>
  </component>
</Observation>"""
    parsed = parse_xml(xml, store)
    assert parsed["effectiveDateTime"] == "2024-05-01T10:00:00+02:00"
    assert parsed["valueQuantity"] == {"value": 72.5, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}
    assert [c.get("valueString") or c.get("valueCodeableConcept") for c in parsed["component"]] == ["s", {"text": "cc"}]
    assert roundtrip(parsed, store) == parsed
    assert '<valueQuantity><value value="72.5"/>' in to_xml(parsed, store)


def test_content_reference_questionnaire_item_item(store):
    xml = f"""<Questionnaire {F}><status value="draft"/>
  <item><linkId value="1"/><type value="group"/>
    <item><linkId value="1.1"/><type value="group"/>
      <item><linkId value="1.1.1"/><text value="deep"/><type value="string"/>
        <enableWhen><question value="1"/><operator value="exists"/><answerBoolean value="true"/></enableWhen>
      </item>
    </item>
  </item>
</Questionnaire>"""
    parsed = parse_xml(xml, store)
    deep = parsed["item"][0]["item"][0]["item"][0]
    assert deep == {
        "linkId": "1.1.1",
        "text": "deep",
        "type": "string",
        "enableWhen": [{"question": "1", "operator": "exists", "answerBoolean": True}],
    }
    assert roundtrip(parsed, store) == parsed


def test_nested_resources_bundle_contained_parameters(store):
    xml = f"""<Bundle {F}><type value="transaction"/>
  <entry><fullUrl value="urn:uuid:1"/>
    <resource><Patient><id value="p"/>
      <contained><Organization><id value="o"/><name value="Org"/></Organization></contained>
      <managingOrganization><reference value="#o"/></managingOrganization>
    </Patient></resource>
    <request><method value="POST"/><url value="Patient"/></request>
  </entry>
  <entry><resource><Parameters>
    <parameter><name value="a"/><part><name value="b"/><valueInteger value="-3"/></part></parameter>
    <parameter><name value="r"/><resource><Binary><contentType value="text/plain"/></Binary></resource></parameter>
  </Parameters></resource></entry>
</Bundle>"""
    parsed = parse_xml(xml, store)
    patient = parsed["entry"][0]["resource"]
    assert patient["contained"] == [{"resourceType": "Organization", "id": "o", "name": "Org"}]
    assert patient["managingOrganization"] == {"reference": "#o"}
    params = parsed["entry"][1]["resource"]
    assert params["parameter"][0]["part"] == [{"name": "b", "valueInteger": -3}]
    assert params["parameter"][1]["resource"] == {"resourceType": "Binary", "contentType": "text/plain"}
    assert roundtrip(parsed, store) == parsed


def test_primitive_with_only_id_or_only_extensions(store):
    resource = {
        "resourceType": "Patient",
        "_active": {"id": "a1"},
        "name": [{"given": [None, "B"], "_given": [{"extension": [{"url": "u", "valueBoolean": True}]}, None]}],
        "address": [{"line": [None, None], "_line": [{"id": "l1"}, {"id": "l2"}]}],
    }
    xml = to_xml(resource, store)
    assert '<active id="a1"/>' in xml
    assert '<line id="l1"/><line id="l2"/>' in xml
    assert parse_xml(xml, store) == {
        "resourceType": "Patient",
        "_active": {"id": "a1"},
        "name": [{"given": [None, "B"], "_given": [{"extension": [{"url": "u", "valueBoolean": True}]}, None]}],
        # no item has a value: the value array is left out, as the reference implementation does
        "address": [{"_line": [{"id": "l1"}, {"id": "l2"}]}],
    }


# ----------------------------------------------------------------------------------------------
# Primitive types and numbers


@pytest.mark.parametrize(
    ("element", "xml_value", "expected"),
    [
        ("active", "true", True),
        ("active", "false", False),
        ("active", "yes", "yes"),  # not a boolean: kept so the validator reports it
        ("multipleBirthInteger", "2", 2),
        ("multipleBirthInteger", "-0", 0),
        ("multipleBirthInteger", "1.0", 1.0),  # a number, but not an integer: the validator's call
        ("multipleBirthInteger", "two", "two"),
        ("multipleBirthInteger", "01", "01"),  # not a JSON number
        ("birthDate", "1970", "1970"),
        ("gender", "unknown", "unknown"),
    ],
)
def test_primitive_values_take_their_json_type(store, element, xml_value, expected):
    parsed = parse_xml(f'<Patient {F}><{element} value="{xml_value}"/></Patient>', store)
    assert parsed[element] == expected
    assert type(parsed[element]) is type(expected)


def test_integer_descendants_are_integers(store):
    xml = f"""<Appointment {F}><status value="booked"/><priority value="0"/><minutesDuration value="15"/>
      <participant><status value="accepted"/></participant></Appointment>"""
    parsed = parse_xml(xml, store)  # unsignedInt and positiveInt derive from integer
    assert parsed["priority"] == 0 and parsed["minutesDuration"] == 15
    assert type(parsed["minutesDuration"]) is int


@pytest.mark.parametrize(
    ("text", "as_float", "as_decimal"),
    [
        ("1.50", 1.5, Decimal("1.50")),
        ("72", 72, 72),
        ("-0.001", -0.001, Decimal("-0.001")),
        ("1.2e3", 1200.0, Decimal("1.2e3")),
        ("1.", "1.", "1."),
    ],
)
def test_decimals_like_json_loads(store, text, as_float, as_decimal):
    xml = (
        f'<Observation {F}><status value="final"/><code/>'
        f'<valueQuantity><value value="{text}"/></valueQuantity></Observation>'
    )
    assert parse_xml(xml, store)["valueQuantity"]["value"] == as_float
    exact = parse_xml(xml, store, parse_float=Decimal)["valueQuantity"]["value"]
    assert exact == as_decimal and type(exact) is type(as_decimal)
    if text != "1.":  # the same choice as json.loads on the JSON text
        js = json.loads(f'{{"value": {text}}}', parse_float=Decimal)["value"]
        assert exact == js and type(exact) is type(js)


def test_decimal_precision_survives_with_decimal(store):
    resource = json.loads(
        '{"resourceType": "Observation", "status": "final", "code": {"text": "w"}, "valueQuantity": {"value": 1.50}}',
        parse_float=Decimal,
    )
    xml = to_xml(resource, store)
    assert '<value value="1.50"/>' in xml
    assert parse_xml(xml, store, parse_float=Decimal) == resource
    assert parse_xml(xml, store)["valueQuantity"]["value"] == 1.5


# ----------------------------------------------------------------------------------------------
# Narrative


def test_div_kept_verbatim(store):
    div = f'<div {XHTML}>\n  <table class="grid"><tr><td>a&lt;b</td><td>&#160;é</td></tr></table>\n</div>'
    resource = {"resourceType": "Patient", "text": {"status": "generated", "div": div}}
    xml = to_xml(resource, store, pretty=True)
    assert div in xml
    assert parse_xml(xml, store) == resource
    assert parse_xml(xml.encode("utf-8"), store) == resource


def test_prefixed_div_becomes_canonical(store):
    xml = f"""<Patient {F} xmlns:h="http://www.w3.org/1999/xhtml"><text><status value="generated"/>
      <h:div><h:p class="x">Caf&#233; <h:b>&amp;</h:b></h:p></h:div></text></Patient>"""
    div = parse_xml(xml, store)["text"]["div"]
    assert div == f'<div {XHTML}><p class="x">Café <b>&amp;</b></p></div>'


def test_div_in_latin1_document(store):
    xml = (
        f'<?xml version="1.0" encoding="ISO-8859-1"?><Patient {F}><text><status value="generated"/>'
        f'<div {XHTML} xml:lang="fr"><p>Hôpital</p></div></text></Patient>'
    ).encode("iso-8859-1")
    div = parse_xml(xml, store)["text"]["div"]
    assert div == f'<div {XHTML} xml:lang="fr"><p>Hôpital</p></div>'


# ----------------------------------------------------------------------------------------------
# Definitions are compiled once per store; any object with structure_definition() will do


class CountingStore:
    def __init__(self, store):
        self.store = store
        self.calls = 0

    def structure_definition(self, name):
        self.calls += 1
        return self.store.structure_definition(name)


def test_definitions_compiled_once_per_store(store):
    counting = CountingStore(store)
    xml = f'<Patient {F}><name><given value="A"/></name><birthDate value="2000"/></Patient>'
    parse_xml(xml, counting)
    first = counting.calls
    assert first > 0
    for _ in range(3):
        parse_xml(xml, counting)
        to_xml({"resourceType": "Patient", "name": [{"given": ["A"]}]}, counting)
    assert counting.calls == first


def test_speed_of_a_large_bundle(store):
    patient = {
        "resourceType": "Patient",
        "id": "p",
        "name": [{"family": "D", "given": ["A", "B"]}],
        "birthDate": "1970-01-01",
        "identifier": [{"system": "urn:oid:1.2", "value": "1"}],
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": 2000,
        "entry": [{"fullUrl": f"urn:uuid:{i}", "resource": dict(patient, id=str(i))} for i in range(2000)],
    }
    start = time.perf_counter()
    assert roundtrip(bundle, store) == bundle
    assert time.perf_counter() - start < 10


# ----------------------------------------------------------------------------------------------
# Errors when reading


def error_of(xml, store) -> FhirXmlError:
    with pytest.raises(FhirXmlError) as info:
        parse_xml(xml, store)
    return info.value


@pytest.mark.parametrize(
    ("xml", "line", "words"),
    [
        (f'<Patient {F}>\n<id value="x">\n</Patient>', 3, ["malformed XML", "mismatched tag"]),
        ("", 1, ["malformed XML", "no element found"]),
        ('<Patient>\n<id value="x"/></Patient>', 1, ["namespace '(none)'", "http://hl7.org/fhir"]),
        ('<Patient xmlns="http://hl7.org/fhir/x"/>', 1, ["namespace 'http://hl7.org/fhir/x'"]),
        (f'<Patient {F}>\n  <id value="x"/>\n  <foo value="1"/></Patient>', 3, ["unknown element 'foo'", "Patient"]),
        (
            f'<Patient {F}><name>\n<famly value="x"/></name></Patient>',
            2,
            ["unknown element 'famly'", "HumanName", "Patient.name[0]"],
        ),
        (
            f'<Patient {F}><active value="true"/>\n<id value="x"/></Patient>',
            2,
            ["'id' is out of order", "before 'active'"],
        ),
        (
            f'<Patient {F}><active value="true"/>\n<active value="false"/></Patient>',
            2,
            ["'active' appears more than once", "at most 1"],
        ),
        (
            f'<Patient {F}><deceasedBoolean value="true"/>\n<deceasedDateTime value="2020"/></Patient>',
            2,
            ["only one of the choices of 'deceased[x]'"],
        ),
        (f'<Patient {F}>\n<active value="true" foo="1"/></Patient>', 2, ["attribute 'foo' is not allowed"]),
        (f'<Patient {F}>\n<active value="true" xml:lang="fr"/></Patient>', 2, ["attribute 'xml:lang' is not allowed"]),
        (f'<Patient {F}>\n<active value="true">yes</active></Patient>', 2, ["text content 'yes'", "value"]),
        (f"<Patient {F}>\n<active/></Patient>", 2, ["'active' has no value attribute", "empty"]),
        (f'<Patient {F}><birthDate value="2000"><foo/></birthDate></Patient>', 1, ["unknown element 'foo'"]),
        (f"<Foo {F}/>", 1, ["'Foo' is not a FHIR R4 resource type"]),
        (f"<DomainResource {F}/>", 1, ["'DomainResource' is not a FHIR R4 resource type"]),
        (f"<HumanName {F}/>", 1, ["'HumanName' is not a FHIR R4 resource type"]),
        (f"<Patient {F}><contained/></Patient>", 1, ["exactly one resource element, found 0"]),
        (f"<Patient {F}><contained><Basic/><Basic/></contained></Patient>", 1, ["exactly one", "found 2"]),
        (f'<Patient {F}><contained id="c"><Basic/></contained></Patient>', 1, ["takes no attributes"]),
        (f"<Patient {F}><contained><HumanName/></contained></Patient>", 1, ["'HumanName' is not a FHIR R4"]),
        (
            f'<Patient {F}><text><status value="generated"/>\n<div><p>x</p></div></text></Patient>',
            2,
            ["'div' is in namespace 'http://hl7.org/fhir'", "http://www.w3.org/1999/xhtml"],
        ),
        (
            f'<Patient {F}><text><status value="generated"/>\n<p {XHTML}>x</p></text></Patient>',
            2,
            ["'p' is in namespace 'http://www.w3.org/1999/xhtml'", "expected 'http://hl7.org/fhir'"],
        ),
        (
            f'<Patient {F}><text><status value="generated"/><div {XHTML}>\n&nbsp;</div></text></Patient>',
            2,
            ["malformed XML", "undefined entity"],
        ),
    ],
)
def test_read_errors(store, xml, line, words):
    error = error_of(xml, store)
    assert isinstance(error, MesError)
    assert error.line == line, str(error)
    for word in words:
        assert word in str(error), str(error)
    assert str(error).startswith(f"line {line}")


@pytest.mark.parametrize(
    "doctype",
    [
        # billion laughs: entity expansion
        '<!DOCTYPE Patient [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>',
        # XXE: an external entity
        '<!DOCTYPE Patient [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
        # an external DTD
        '<!DOCTYPE Patient SYSTEM "http://example.org/evil.dtd">',
    ],
)
def test_doctype_refused(store, doctype):
    xml = f'<?xml version="1.0"?>\n{doctype}\n<Patient {F}><id value="&d;"/></Patient>'
    error = error_of(xml, store)
    assert "DOCTYPE is not allowed" in str(error)
    assert error.line == 2


def nested_items(depth: int) -> str:
    item = "<item><linkId value='a'/><type value='group'/>"
    return f"<Questionnaire {F}><status value='draft'/>" + item * depth + "</item>" * depth + "</Questionnaire>"


def test_nesting_depth_limited(store):
    # the root, MAX_DEPTH - 2 items and the innermost linkId: MAX_DEPTH levels
    deepest = parse_xml(nested_items(MAX_DEPTH - 2), store)
    assert to_xml(deepest, store).count("<item>") == MAX_DEPTH - 2
    assert f"nested more than {MAX_DEPTH}" in str(error_of(nested_items(MAX_DEPTH - 1), store))
    deepest["item"][0]["item"] = [{"linkId": "b", "type": "group", "item": deepest["item"]}]
    with pytest.raises(FhirXmlError, match=f"nested more than {MAX_DEPTH}"):
        to_xml(deepest, store)


def test_error_carries_location_fields(store):
    error = error_of(f'<Patient {F}>\n<name>\n  <given value="a"/>\n  <bad/>\n</name></Patient>', store)
    assert (error.line, error.column, error.location) == (4, 3, "Patient.name[0]")
    assert error.detail == "unknown element 'bad': not defined in HumanName"


# ----------------------------------------------------------------------------------------------
# Errors when writing


@pytest.mark.parametrize(
    ("resource", "words"),
    [
        ({"id": "x"}, ["'resourceType' must name a FHIR R4 resource type", "None"]),
        ({"resourceType": "Foo"}, ["'Foo'"]),
        ({"resourceType": "Resource"}, ["'Resource'"]),
        ([], ["must be a JSON object"]),
        ({"resourceType": "Patient", "foo": 1}, ["unknown element 'foo'", "Patient"]),
        ({"resourceType": "Patient", "_name": {}}, ["unknown element '_name'"]),
        ({"resourceType": "Patient", "name": {"family": "x"}}, ["'name' must be a non-empty array"]),
        ({"resourceType": "Patient", "name": []}, ["'name' must be a non-empty array"]),
        ({"resourceType": "Patient", "gender": ["male"]}, ["expected a string (FHIR code), found an array"]),
        ({"resourceType": "Patient", "maritalStatus": [{}]}, ["'maritalStatus' must not be an array"]),
        (
            {"resourceType": "Patient", "name": [{"given": ["a", "b"], "_given": [None]}]},
            ["'given' and '_given' must have the same length (2 and 1)"],
        ),
        ({"resourceType": "Patient", "name": [{"given": [None]}]}, ["'given' is null and has no id or extension"]),
        ({"resourceType": "Patient", "active": "true", "_active": "x"}, ["'_active' must be an object"]),
        ({"resourceType": "Patient", "_active": {"value": True}}, ["must not hold a 'value'"]),
        ({"resourceType": "Patient", "active": 1}, ["expected a boolean (FHIR boolean), found a number"]),
        ({"resourceType": "Patient", "gender": True}, ["expected a string (FHIR code), found a boolean"]),
        (
            {"resourceType": "Patient", "multipleBirthInteger": True},
            ["expected a number (FHIR integer), found a boolean"],
        ),
        ({"resourceType": "Patient", "multipleBirthInteger": float("nan")}, ["not a FHIR number"]),
        (
            {"resourceType": "Patient", "deceasedBoolean": True, "deceasedDateTime": "2020"},
            ["only one of the choices of 'deceased[x]'"],
        ),
        ({"resourceType": "Patient", "id": 3}, ["expected a string (FHIR string), found a number"]),
        ({"resourceType": "Patient", "name": [{"id": 3}]}, ["'id' must be a string"]),
        ({"resourceType": "Patient", "gender": "a\x01b"}, ["character that XML 1.0 cannot carry"]),
        (
            {"resourceType": "Patient", "text": {"status": "generated", "div": "<div>x</div>"}},
            ["well-formed <div> in the XHTML namespace"],
        ),
        (
            {"resourceType": "Patient", "text": {"status": "generated", "div": f"<div {XHTML}>x<br></div>"}},
            ["well-formed"],
        ),
        ({"resourceType": "Patient", "text": {"status": "generated", "div": f"<p {XHTML}>x</p>"}}, ["<div>"]),
        ({"resourceType": "Patient", "text": {"status": "generated", "div": 1}}, ["must be a string"]),
        ({"resourceType": "Patient", "contained": [{"resourceType": "HumanName"}]}, ["'HumanName'"]),
    ],
)
def test_write_errors(store, resource, words):
    with pytest.raises(FhirXmlError) as info:
        to_xml(resource, store)
    for word in words:
        assert word in str(info.value), str(info.value)


def test_write_error_location(store):
    with pytest.raises(FhirXmlError) as info:
        to_xml(
            {
                "resourceType": "Bundle",
                "type": "batch",
                "entry": [{}, {"resource": {"resourceType": "Patient", "name": [{"famly": "x"}]}}],
            },
            store,
        )
    assert info.value.location == "Bundle.entry[1].resource.name[0]"
    assert info.value.line is None


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
