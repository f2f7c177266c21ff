"""Invariants (ElementDefinition.constraint): native Python for the common ones, fhirpathpy for the rest.

The base R4 invariants run on nearly every element (ele-1, ext-1, dom-*, ref-1, bdl-*…): through
fhirpathpy they would cost tens of microseconds each, hundreds of times per resource. They are
matched by their exact expression text (keys are reused with different expressions, e.g. ``inv-1``)
and evaluated natively. Anything else goes through :mod:`pytest_mes.fhirpath` (parsed once per expression).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pytest_mes import fhirpath
from pytest_mes.fhir.assertions import json_key
from pytest_mes.fhir.issues import Phrase
from pytest_mes.fhir.narrative import narrative_verdict
from pytest_mes.fhirpath import FhirPathError

Native = Callable[[Any, "InvariantContext"], bool]


class InvariantContext:
    """What an invariant may look at besides the element: %resource and %rootResource."""

    __slots__ = ("resource", "root_resource")

    def __init__(self, resource: dict, root_resource: dict):
        self.resource = resource
        self.root_resource = root_resource


class NotEvaluable(Exception):
    """The expression cannot be evaluated here (unsupported FHIRPath); reported as not checked, saying
    ``why`` in the reader's language."""

    def __init__(self, why: Phrase):
        super().__init__(why.fr)
        self.why = why


def _has(obj: Any, key: str) -> bool:
    return isinstance(obj, dict) and (obj.get(key) not in (None, [], {}) or obj.get("_" + key) is not None)


def _has_choice(obj: Any, name: str) -> bool:
    """A choice element (``value[x]``) is present: ``valueString``, ``_valueCode``…"""
    if not isinstance(obj, dict):
        return False
    for key in obj:
        bare = key[1:] if key[:1] == "_" else key
        if bare.startswith(name) and bare[len(name):len(name) + 1].isupper():
            return True
    return False


def _items(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _ext_1(obj: Any, _: InvariantContext) -> bool:
    return _has(obj, "extension") != _has_choice(obj, "value")


def _hash_references(value: Any, out: set[str]) -> None:
    if isinstance(value, dict):
        for v in value.values():
            _hash_references(v, out)
    elif isinstance(value, list):
        for v in value:
            _hash_references(v, out)
    elif isinstance(value, str) and value.startswith("#"):
        out.add(value)
    elif isinstance(value, str) and value.startswith("<div"):
        # A narrative's own links to contained resources (<img src="#id">) refer to them too, as the
        # HL7 validator counts them.
        out.update("#" + m for m in _NARRATIVE_LINK.findall(value))


_NARRATIVE_LINK = re.compile(r"""(?:src|href)\s*=\s*["']#([^"']+)["']""")


def _dom_3(obj: Any, ctx: InvariantContext) -> bool:
    contained = _items(obj.get("contained"))
    if not contained:
        return True
    refs: set[str] = set()
    _hash_references(ctx.resource, refs)
    if "#" in refs:
        return True
    return all(("#" + str(c.get("id"))) in refs for c in contained if isinstance(c, dict))


def _dom_4(obj: Any, _: InvariantContext) -> bool:
    for c in _items(obj.get("contained")):
        meta = c.get("meta") if isinstance(c, dict) else None
        if isinstance(meta, dict) and (_has(meta, "versionId") or _has(meta, "lastUpdated")):
            return False
    return True


def _dom_5(obj: Any, _: InvariantContext) -> bool:
    for c in _items(obj.get("contained")):
        meta = c.get("meta") if isinstance(c, dict) else None
        if isinstance(meta, dict) and _has(meta, "security"):
            return False
    return True


def _ref_1(obj: Any, ctx: InvariantContext) -> bool:
    ref = obj.get("reference") if isinstance(obj, dict) else None
    if not isinstance(ref, str) or not ref.startswith("#"):
        return True
    if ref == "#" and ctx.root_resource is not ctx.resource:
        return True  # a contained resource's reference to its container
    ids = {c.get("id") for c in _items(ctx.root_resource.get("contained")) if isinstance(c, dict)}
    return ref[1:] in ids


def _div_of(obj: Any) -> Any:
    return obj.get("div") if isinstance(obj, dict) else obj  # on Narrative.div itself (R4) or its parent


def _txt_1(obj: Any, _: InvariantContext) -> bool:
    div = _div_of(obj)
    return narrative_verdict(div)[0] if isinstance(div, str) else True  # a missing div is a cardinality matter


def _txt_2(obj: Any, _: InvariantContext) -> bool:
    div = _div_of(obj)
    return narrative_verdict(div)[1] if isinstance(div, str) else True


def _html_checks(obj: Any, ctx: InvariantContext) -> bool:
    """htmlChecks() under another key: both narrative rules."""
    return _txt_1(obj, ctx) and _txt_2(obj, ctx)


def _as_instant(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _date_fields(text: str, utc: bool) -> tuple | None:
    """The fields of a FHIR date/dateTime down to its precision: (year[, month[, day[, hour, minute,
    seconds]]]); with `utc`, a timed value is first brought to UTC."""
    if "T" in text:
        moment = _as_instant(text)
        if moment is None:
            return None
        if utc and moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
        if not utc:
            return (moment.year, moment.month, moment.day)
        return (moment.year, moment.month, moment.day, moment.hour, moment.minute,
                moment.second + moment.microsecond / 1e6)
    try:
        return tuple(int(part) for part in text.split("-"))
    except ValueError:
        return None


def _per_1(obj: Any, _: InvariantContext) -> bool:
    """start <= end the FHIRPath way: field by field down to the shared precision; equal shared fields
    with different precisions compare as empty, so the invariant holds ("2021" vs "2021-06")."""
    start, end = obj.get("start"), obj.get("end")
    if not isinstance(start, str) or not isinstance(end, str):
        return True
    timed = "T" in start and "T" in end
    a, b = _date_fields(start, timed), _date_fields(end, timed)
    if a is None or b is None:
        return True  # a bad format is reported by the primitive check
    for x, y in zip(a, b, strict=False):
        if x != y:
            return x < y
    return True


def _bdl_7(obj: Any, _: InvariantContext) -> bool:
    if obj.get("type") == "history":
        return True
    seen: set[str] = set()
    for entry in _items(obj.get("entry")):
        if not isinstance(entry, dict) or not isinstance(entry.get("fullUrl"), str):
            continue
        resource = entry.get("resource")
        meta = resource.get("meta") if isinstance(resource, dict) else None
        version = meta.get("versionId", "") if isinstance(meta, dict) else ""
        key = entry["fullUrl"] + str(version or "")
        if key in seen:
            return False
        seen.add(key)
    return True


def _bdl_3(obj: Any, _: InvariantContext) -> bool:
    if not isinstance(obj.get("type"), str):
        return not _items(obj.get("entry"))  # FHIRPath: comparing with an empty type gives empty, not true
    needs = obj.get("type") in ("batch", "transaction", "history")
    return all(_has(e, "request") == needs for e in _items(obj.get("entry")) if isinstance(e, dict))


def _bdl_4(obj: Any, _: InvariantContext) -> bool:
    if not isinstance(obj.get("type"), str):
        return not _items(obj.get("entry"))
    needs = obj.get("type") in ("batch-response", "transaction-response", "history")
    return all(_has(e, "response") == needs for e in _items(obj.get("entry")) if isinstance(e, dict))


def _first_resource_type(obj: Any) -> str | None:
    entries = _items(obj.get("entry"))
    first = entries[0] if entries else None
    resource = first.get("resource") if isinstance(first, dict) else None
    return resource.get("resourceType") if isinstance(resource, dict) else None


NATIVE: dict[str, Native] = {
    "hasValue() or (children().count() > id.count())": lambda obj, _: not isinstance(obj, dict)
    or any(k != "id" for k in obj),
    "extension.exists() != value.exists()": _ext_1,
    "contained.contained.empty()": lambda obj, _: not any(
        _has(c, "contained") for c in _items(obj.get("contained"))
    ),
    "contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()": _dom_4,
    "contained.meta.security.empty()": _dom_5,
    "text.`div`.exists()": lambda obj, _: isinstance(obj.get("text"), dict) and _has(obj["text"], "div"),
    (
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))"
    ): _ref_1,
    "htmlChecks()": _html_checks,
    "value.empty() or system.exists()": lambda obj, _: not _has(obj, "value") or _has(obj, "system"),
    "code.empty() or system.exists()": lambda obj, _: not _has(obj, "code") or _has(obj, "system"),
    "start.hasValue().not() or end.hasValue().not() or (start <= end)": _per_1,
    "total.empty() or (type = 'searchset') or (type = 'history')": lambda obj, _: not _has(obj, "total")
    or obj.get("type") in ("searchset", "history"),
    "entry.search.empty() or (type = 'searchset')": lambda obj, _: obj.get("type") == "searchset"
    or not any(_has(e, "search") for e in _items(obj.get("entry"))),
    (
        "entry.all(request.exists() = (%resource.type = 'batch' or %resource.type = 'transaction' "
        "or %resource.type = 'history'))"
    ): _bdl_3,
    (
        "entry.all(response.exists() = (%resource.type = 'batch-response' or %resource.type = "
        "'transaction-response' or %resource.type = 'history'))"
    ): _bdl_4,
    "resource.exists() or request.exists() or response.exists()": lambda obj, _: _has(obj, "resource")
    or _has(obj, "request")
    or _has(obj, "response"),
    "fullUrl.contains('/_history/').not()": lambda obj, _: "/_history/" not in str(obj.get("fullUrl", "")),
    "(type = 'history') or entry.where(fullUrl.exists()).select(fullUrl&resource.meta.versionId).isDistinct()": _bdl_7,
    (
        "type = 'document' implies (identifier.system.exists() and identifier.value.exists())"
    ): lambda obj, _: obj.get("type")
    != "document"
    or (
        isinstance(obj.get("identifier"), dict)
        and _has(obj["identifier"], "system")
        and _has(obj["identifier"], "value")
    ),
    "type = 'document' implies (timestamp.hasValue())": lambda obj, _: obj.get("type") != "document"
    or _has(obj, "timestamp"),
    "type = 'document' implies entry.first().resource.is(Composition)": lambda obj, _: obj.get("type") != "document"
    or _first_resource_type(obj) == "Composition",
    "type = 'message' implies entry.first().resource.is(MessageHeader)": lambda obj, _: obj.get("type") != "message"
    or _first_resource_type(obj) == "MessageHeader",
    "where(use = 'home').empty()": lambda obj, _: not (isinstance(obj, dict) and obj.get("use") == "home"),
    "(identifier.count() + name.count()) > 0": lambda obj, _: _has(obj, "identifier") or _has(obj, "name"),
    "data.empty() or contentType.exists()": lambda obj, _: not _has(obj, "data") or _has(obj, "contentType"),
    "comparator.empty()": lambda obj, _: not _has(obj, "comparator"),
    "start.exists() = end.exists()": lambda obj, _: _has(obj, "start") == _has(obj, "end"),
    "type.exists() or actor.exists()": lambda obj, _: _has(obj, "type") or _has(obj, "actor"),
    "emptyReason.empty() or entry.empty()": lambda obj, _: not _has(obj, "emptyReason") or not _has(obj, "entry"),
    "mode = 'changes' or entry.deleted.empty()": lambda obj, _: obj.get("mode") == "changes"
    or not any(_has(e, "deleted") for e in _items(obj.get("entry"))),
    "mode = 'working' or entry.date.empty()": lambda obj, _: obj.get("mode") == "working"
    or not any(_has(e, "date") for e in _items(obj.get("entry"))),
    "name.exists() or telecom.exists() or address.exists() or organization.exists()": lambda obj, _: any(
        _has(obj, k) for k in ("name", "telecom", "address", "organization")
    ),
    # drt-1 (Duration), app-3, app-4 (Appointment): on every GAP appointment and slot duration.
    "code.exists() implies ((system = %ucum) and value.exists())": lambda obj, _: not _has(obj, "code")
    or (obj.get("system") == "http://unitsofmeasure.org" and _has(obj, "value")),
    "(start.exists() and end.exists()) or (status in ('proposed' | 'cancelled' | 'waitlist'))": lambda obj, _: (
        _has(obj, "start") and _has(obj, "end")
    )
    or obj.get("status") in ("proposed", "cancelled", "waitlist"),
    (
        "Appointment.cancelationReason.exists() implies (Appointment.status='no-show' or "
        "Appointment.status='cancelled')"
    ): lambda obj, _: not _has(obj, "cancelationReason")
    or obj.get("status") in ("no-show", "cancelled"),
    # FR Core Location (2.2.0): a room or bed extension implies the matching type code.
    (
        "extension('http://fhir.fr/StructureDefinition/fr-core-location-type-chambre').exists() "
        "implies type.coding.where(code = 'CHAMB').exists()"
    ): lambda obj, _: _location_kind(
        obj, "http://fhir.fr/StructureDefinition/fr-core-location-type-chambre", "CHAMB"
    ),
    (
        "extension('http://fhir.fr/StructureDefinition/fr-core-location-position-lit').exists() "
        "implies type.coding.where(code = 'LIT').exists()"
    ): lambda obj, _: _location_kind(
        obj, "http://fhir.fr/StructureDefinition/fr-core-location-position-lit", "LIT"
    ),
}


def _obs_7(obj: Any, ctx: InvariantContext) -> bool:
    """No component carries the Observation's own code when it has a value (FHIRPath intersect: equal
    Codings)."""
    if not _has_choice(obj, "value"):
        return True
    code = ctx.resource.get("code")
    own = _items(code.get("coding")) if isinstance(code, dict) else []
    for component in _items(obj.get("component")):
        concept = component.get("code") if isinstance(component, dict) else None
        if any(c in own for c in _items(concept.get("coding") if isinstance(concept, dict) else None)):
            return False
    return True


def _at_least_a_date(value: Any, _: InvariantContext) -> bool:
    # A dateTime value is a JSON string (a Period an object, outside the "is dateTime" antecedent).
    return not isinstance(value, str) or len(value) >= 10


# FHIR R4 Observation and the vital signs profiles (FR Core's): on every vital-sign Observation.
NATIVE.update({
    "dataAbsentReason.empty() or value.empty()": lambda obj, _: not (_has(obj, "dataAbsentReason")
                                                                     and _has_choice(obj, "value")),
    "value.empty() or component.code.where(coding.intersect(%resource.code.coding).exists()).empty()": _obs_7,
    "(component.empty() and hasMember.empty()) implies (dataAbsentReason.exists() or value.exists())":
        lambda obj, _: any(_has(obj, k) for k in ("component", "hasMember", "dataAbsentReason"))
        or _has_choice(obj, "value"),
    "value.exists() or dataAbsentReason.exists()": lambda obj, _: _has_choice(obj, "value")
    or _has(obj, "dataAbsentReason"),
    "$this is dateTime implies $this.toString().length() >= 10": _at_least_a_date,
})


def _location_kind(obj: Any, url: str, code: str) -> bool:
    if not any(isinstance(e, dict) and e.get("url") == url for e in _items(obj.get("extension"))):
        return True
    for concept in _items(obj.get("type")):
        if isinstance(concept, dict):
            for coding in _items(concept.get("coding")):
                if isinstance(coding, dict) and coding.get("code") == code:
                    return True
    return False
# dom-3's expression is long and shared by every DomainResource: matched by its key and prefix.
_DOM_3_PREFIX = "contained.where((('#'+id in (%resource.descendants().reference"


# R4's opd-3 as R5 states it (see compiler._CORRECTED): a parameter typed by a resource may target profiles
OPD_3 = ("targetProfile.exists() implies (type = 'Reference' or type = 'canonical' or "
         "type.memberOf('http://hl7.org/fhir/ValueSet/resource-types'))")


def _opd_3(obj: Any, _: InvariantContext) -> bool:
    kind = obj.get("type")
    return not _has(obj, "targetProfile") or kind in ("Reference", "canonical") or _is_resource_type(kind)


def _is_resource_type(name: Any) -> bool:
    from pytest_mes.fhirpath import r4_model  # with fhirpathpy: loaded when first needed

    parents = r4_model()["type2Parent"]
    seen: set[str] = set()
    while isinstance(name, str) and name not in seen:
        if name == "Resource":
            return True
        seen.add(name)
        name = parents.get(name)
    return False


NATIVE[OPD_3] = _opd_3


def native_for(key: str, expression: str) -> Native | None:
    if expression == "htmlChecks()" and key in ("txt-1", "txt-2"):
        return _txt_1 if key == "txt-1" else _txt_2
    native = NATIVE.get(expression)
    if native is None and key == "dom-3" and expression.startswith(_DOM_3_PREFIX):
        return _dom_3
    return native



# --------------------------------------------------------------------------------------------------
# FR Core identity (INS) invariants: on every Patient a MES server returns, ~0.2-0.6 ms each through
# fhirpathpy. FHIRPath three-valued logic is kept: ``{} implies false`` is empty, which fails.

_RELIABILITY = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability"
_BIRTH_PLACE = "http://hl7.org/fhir/StructureDefinition/patient-birthPlace"
_INSEE = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code"


def _ext_values(obj: Any, url: str) -> list[tuple[str, Any]]:
    """(json key, value) of the value[x] of the extensions with this url."""
    out = []
    for e in _items(obj.get("extension") if isinstance(obj, dict) else None):
        if isinstance(e, dict) and e.get("url") == url:
            out.extend((k, v) for k, v in e.items() if k.startswith("value") and k[5:6].isupper())
    return out


def _sub_extensions(obj: Any, url: str) -> list[dict]:
    return [e for e in _items(obj.get("extension") if isinstance(obj, dict) else None)
            if isinstance(e, dict) and e.get("url") == url]


def _identity_status_codes(obj: Any) -> list[Any]:
    """``…identity-reliability…extension(identityStatus).value.code``: codes of Coding values."""
    codes = []
    for reliability in _sub_extensions(obj, _RELIABILITY):
        for key, value in _ext_values(reliability, "identityStatus"):
            if key == "valueCoding" and isinstance(value, dict) and "code" in value:
                codes.append(value["code"])
    return codes


def _vali_exists(obj: Any) -> bool:
    return "VALI" in _identity_status_codes(obj)


def _vali_equals(obj: Any) -> bool | None:
    codes = _identity_status_codes(obj)
    if not codes:
        return None
    return len(codes) == 1 and codes[0] == "VALI"


def _implies(antecedent: bool | None, consequent: bool | None) -> bool:
    # true/empty implies false/empty gives false or empty: both fail
    return antecedent is False or consequent is True


def _has_identifier(obj: Any, system: str, *, official: bool = False, ins_nir: bool = False) -> bool:
    for ident in _items(obj.get("identifier")):
        if not isinstance(ident, dict) or ident.get("system") != system:
            continue
        if official and ident.get("use") != "official":
            continue
        if ins_nir:
            codings = _items(ident.get("type", {}).get("coding") if isinstance(ident.get("type"), dict) else None)
            if not any(isinstance(c, dict) and c.get("code") == "INS-NIR" for c in codings):
                continue
        return True
    return False


def _fr_core_1_v22(obj: Any, _: InvariantContext) -> bool:
    ins = (
        _has_identifier(obj, "urn:oid:1.2.250.1.213.1.4.8", official=True, ins_nir=True)
        or any(_has_identifier(obj, f"urn:oid:1.2.250.1.213.1.4.{n}", official=True) for n in (9, 10, 11))
    )
    return _implies(_vali_exists(obj), ins)


def _fr_core_1_v21(obj: Any, _: InvariantContext) -> bool:
    ins = any(_has_identifier(obj, f"urn:oid:1.2.250.1.213.1.4.{n}") for n in (8, 9, 10))
    return _implies(_vali_equals(obj), ins)


def _fr_core_1_v20(obj: Any, _: InvariantContext) -> bool:
    ins = any(_has_identifier(obj, f"urn:oid:1.2.250.1.213.1.4.{n}") for n in (8, 9))
    return _implies(_vali_equals(obj), ins)


def _fr_core_2(obj: Any, _: InvariantContext) -> bool:
    official = [i for i in _items(obj.get("identifier")) if isinstance(i, dict) and i.get("use") == "official"]
    return _implies(_vali_exists(obj), len(official) == 1)


def _fr_core_3(obj: Any, _: InvariantContext) -> bool:
    codes = []
    for key, place in _ext_values(obj, _BIRTH_PLACE):
        if key == "valueAddress":
            for k, value in _ext_values(place, _INSEE):
                if k == "valueCoding" and isinstance(value, dict) and "code" in value:
                    codes.append(value["code"])
    consequent = None if not codes else not (len(codes) == 1 and codes[0] == "99999")
    return _implies(_vali_exists(obj), consequent)


_VALI = "(extension('" + _RELIABILITY + "').extension('identityStatus').value.exists(code = 'VALI')) implies "
_VALI_21 = (
    "(extension.where(url= '" + _RELIABILITY + "').extension.where(url = 'identityStatus').value.code = 'VALI') "
    "implies "
)
NATIVE.update({
    _VALI + "(identifier.where(system = 'urn:oid:1.2.250.1.213.1.4.8' and use = 'official' and "
    "type.coding.exists(code = 'INS-NIR')).exists() or identifier.where(system = 'urn:oid:1.2.250.1.213.1.4.9' "
    "and use = 'official').exists() or identifier.where(system = 'urn:oid:1.2.250.1.213.1.4.10' and use = "
    "'official').exists() or identifier.where(system = 'urn:oid:1.2.250.1.213.1.4.11' and use = "
    "'official').exists())": _fr_core_1_v22,
    _VALI + "(identifier.where(use = 'official').count() = 1)": _fr_core_2,
    _VALI + "extension('" + _BIRTH_PLACE + "').value.extension('" + _INSEE + "').value.code != '99999'": _fr_core_3,
    _VALI_21 + "(identifier.where(system = 'urn:oid:1.2.250.1.213.1.4.8').exists() or identifier.where(system = "
    "'urn:oid:1.2.250.1.213.1.4.9').exists() or identifier.where(system = 'urn:oid:1.2.250.1.213.1.4.10').exists() "
    "or identifier.where(system = 'urn:oid:1.2.250.1.213.1.4.10').exists())": _fr_core_1_v21,
    _VALI_21 + "(identifier.where(system = 'urn:oid:1.2.250.1.213.1.4.8').exists() or identifier.where(system = "
    "'urn:oid:1.2.250.1.213.1.4.9').exists())": _fr_core_1_v20,
})

# --------------------------------------------------------------------------------------------------
# fhirpathpy for everything else


class FhirPathInvariant:
    """A FHIRPath expression evaluated against elements (parsed once, see :func:`pytest_mes.fhirpath.parse`)."""

    def __init__(self, expression: str):
        self.expression = expression
        # Its verdicts by (type, JSON of the value), when nothing but the value decides them: codings,
        # identifiers and periods repeat across the resources of a server.
        self._verdicts: dict[tuple[str, str], bool] | None = None if _IMPURE.search(expression) else {}

    def evaluate(self, value: Any, base: str, ctx: InvariantContext) -> bool:
        """True when satisfied; an empty result is not satisfied (as in the HL7 validator).

        Raises NotEvaluable when fhirpathpy cannot evaluate it."""
        verdicts = self._verdicts
        text = json_key(value) if verdicts is not None else None
        if text is None:
            return self.evaluate_raw(value, base, ctx) is True
        key = (base, text)
        verdict = verdicts.get(key)
        if verdict is None:
            verdict = self.evaluate_raw(value, base, ctx) is True
            if len(verdicts) >= _VERDICTS_KEPT:
                verdicts.clear()
            verdicts[key] = verdict
        return verdict

    def evaluate_raw(self, value: Any, base: str, ctx: InvariantContext) -> bool | None:
        """The boolean result, or None when the expression evaluates to empty."""
        result = self.select(value, base, ctx)
        if not result:
            return None
        return result[0] is not False

    def select(self, value: Any, base: str, ctx: InvariantContext) -> list:
        """What the expression selects (JSON values). Raises NotEvaluable."""
        try:
            return fhirpath.select(value, self.expression, {"resource": ctx.resource,
                                                            "rootResource": ctx.root_resource}, base=base)
        except FhirPathError as exc:  # "not checked", never a crash or a pass
            if exc.cause is None:
                raise NotEvaluable(Phrase(f"expression FHIRPath non prise en charge ({exc})",
                                          f"FHIRPath expression not supported ({exc})")) from exc
            detail = f"{exc.cause.__class__.__name__}: {str(exc.cause)[:80]}"
            raise NotEvaluable(Phrase(f"évaluation FHIRPath impossible ({detail})",
                                      f"FHIRPath evaluation failed ({detail})")) from exc


# What makes a verdict depend on more than the value: the resource around it, other resources, the clock.
_IMPURE = re.compile(r"%|resolve\(|now\(|today\(|timeOfDay\(")
_VERDICTS_KEPT = 4096


_COMPILED: dict[str, FhirPathInvariant] = {}


def fhirpath_invariant(expression: str) -> FhirPathInvariant:
    inv = _COMPILED.get(expression)
    if inv is None:
        inv = _COMPILED.setdefault(expression, FhirPathInvariant(expression))
    return inv
