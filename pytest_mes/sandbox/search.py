"""The search engine: parameters with prefixes and modifiers, chaining, _include, paging.

FHIR R4 search (https://hl7.org/fhir/R4/search.html) over the current resources of a type.
Values of one parameter separated by commas are alternatives (OR); repeated parameters must all
match (AND). Unknown parameters are ignored and reported in an OperationOutcome entry
(`search.mode=outcome`), or refused with 400 under `Prefer: handling=strict`.
"""

from __future__ import annotations

import math
import re
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from pytest_mes.sandbox.outcome import FhirError
from pytest_mes.sandbox.params import CONTROL, Param, param
from pytest_mes.sandbox.store import Store, now_instant

Predicate = Callable[[dict[str, Any]], bool]
Present = Callable[[dict[str, Any]], dict[str, Any]]

DEFAULT_COUNT = 100
MAX_COUNT = 1000

# Bundle profiles the sandbox claims for its searchsets (ci-sis.md §2.1, §2.4).
SEARCHSET_PROFILES = {
    "Slot": "https://interop.esante.gouv.fr/ig/fhir/gap/StructureDefinition/gap-bundle-reponse-demande-consult-dispo",
    "Appointment": "https://interop.esante.gouv.fr/ig/fhir/gap/StructureDefinition/gap-bundle-reponse-demande-consult-rdv",
    "DocumentReference": "https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/"
    "pdsm-find-documentreferences-comprehensive-response",
    "List": "https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/pdsm-find-lists-response",
}


class UnknownParameter(Exception):
    """A parameter (or a link of a chain) the sandbox does not support."""


@dataclass
class SearchRequest:
    type: str
    params: list[tuple[str, str]]
    base: str
    strict: bool = False
    defects: frozenset[str] = field(default_factory=frozenset)


# -- value normalisation ---------------------------------------------------------------------

def _fold(text: str) -> str:
    """Case- and accent-insensitive form, as FHIR string search requires."""
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        found: list[str] = []
        for key in ("text", "family", "given", "prefix", "suffix", "line", "city", "district", "state",
                    "postalCode", "country", "name"):
            item = value.get(key)
            if isinstance(item, str):
                found.append(item)
            elif isinstance(item, list):
                found.extend(x for x in item if isinstance(x, str))
        return found
    return []


def _tokens(value: Any) -> list[tuple[str | None, str]]:
    if isinstance(value, bool):
        return [(None, "true" if value else "false")]
    if isinstance(value, str | int | float):
        return [(None, str(value))]
    if isinstance(value, dict):
        if "coding" in value:
            return [(c.get("system"), str(c.get("code"))) for c in value["coding"] if "code" in c]
        if "code" in value:
            return [(value.get("system"), str(value["code"]))]
        if "value" in value:  # Identifier, ContactPoint
            return [(value.get("system"), str(value["value"]))]
    return []


_DATE = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$"
)
_MIN = datetime.min.replace(tzinfo=UTC)
_MAX = datetime.max.replace(tzinfo=UTC)


@lru_cache(maxsize=65536)
def date_range(text: str) -> tuple[datetime, datetime] | None:
    """The half-open interval [low, high) a FHIR date, dateTime or instant stands for.

    A value without a time zone is taken as UTC (the server's time zone). Cached: searches compare
    the same stored dates again and again, and parsing them is most of a Slot search's cost.
    """
    match = _DATE.match(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    tz = UTC
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    try:
        low = datetime(int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0),
                       int(second or 0), int(float(fraction) * 1_000_000) if fraction else 0, tzinfo=tz)
    except ValueError:
        return None
    if month is None:
        high = low.replace(year=low.year + 1)
    elif day is None:
        high = low.replace(year=low.year + 1, month=1) if low.month == 12 else low.replace(month=low.month + 1)
    elif hour is None:
        high = low + timedelta(days=1)
    elif second is None:
        high = low + timedelta(minutes=1)
    elif fraction is None:
        high = low + timedelta(seconds=1)
    else:
        high = low + timedelta(milliseconds=1)
    return low.astimezone(UTC), high.astimezone(UTC)


def _ranges(value: Any) -> list[tuple[datetime, datetime]]:
    if isinstance(value, str):
        r = date_range(value)
        return [r] if r else []
    if isinstance(value, dict) and ("start" in value or "end" in value):
        start = date_range(value["start"]) if "start" in value else None
        end = date_range(value["end"]) if "end" in value else None
        return [((start[0] if start else _MIN), (end[1] if end else _MAX))]
    return []


_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")


def _date_test(prefix: str, q: tuple[datetime, datetime], r: tuple[datetime, datetime]) -> bool:
    qlo, qhi = q
    lo, hi = r
    equal = qlo <= lo and hi <= qhi
    if prefix == "eq":
        return equal
    if prefix == "ne":
        return not equal
    if prefix == "gt":
        return hi > qhi
    if prefix == "lt":
        return lo < qlo
    if prefix == "ge":
        return hi > qhi or equal
    if prefix == "le":
        return lo < qlo or equal
    if prefix == "sa":
        return lo >= qhi
    if prefix == "eb":
        return hi <= qlo
    return lo < qhi and qlo < hi  # ap: overlap


def split_values(text: str) -> list[str]:
    """Split on commas not escaped by a backslash (FHIR search escaping)."""
    parts, current, escaped = [], "", False
    for ch in text:
        if escaped:
            current += ch
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts


def reference_key(reference: str) -> tuple[str, str] | None:
    """("Type", "id") from a relative or absolute literal reference (history suffix ignored)."""
    ref = reference.split("/_history/")[0].rstrip("/")
    pieces = ref.split("/")
    if len(pieces) < 2 or not pieces[-2][:1].isupper():
        return None
    return pieces[-2], pieces[-1]


# -- compiling parameters into predicates -----------------------------------------------------

class Engine:
    """Compiles the parameters of one search request and runs them over the store."""

    def __init__(self, store: Store, defects: frozenset[str] = frozenset()):
        self.store = store
        self.defects = defects
        self._resolved: dict[str, dict[str, Any] | None] = {}

    def resolve(self, reference: dict[str, Any], container: dict[str, Any] | None) -> dict[str, Any] | None:
        """The resource a Reference points to: contained (#id) or in this server."""
        ref = reference.get("reference") if isinstance(reference, dict) else reference
        if not isinstance(ref, str):
            return None
        if ref.startswith("#"):
            for contained in (container or {}).get("contained", []):
                if contained.get("id") == ref[1:]:
                    return contained
            return None
        if ref not in self._resolved:
            key = reference_key(ref)
            self._resolved[ref] = self.store.resource(*key) if key else None
        return self._resolved[ref]

    def compile(self, type_: str, name: str, value: str) -> Predicate:
        """A predicate for one `name=value` pair on resources of `type_`.

        Raises:
            UnknownParameter: the parameter, a modifier, or a link of its chain is not supported.
            FhirError: the value is malformed (400).
        """
        head, _, chain = name.partition(".")
        code, _, modifier = head.partition(":")
        definition = param(type_, code)
        if definition is None:
            raise UnknownParameter(name)
        if chain:
            if definition.type != "reference":
                raise UnknownParameter(name)
            targets = (modifier,) if modifier else definition.targets
            if not targets:
                raise UnknownParameter(name)
            if "chain-ignored" in self.defects:
                return lambda resource: True
            # The chain applies to the target types that support it (`author.given` reaches
            # Practitioner, not Organization); unknown on all of them, the parameter is unknown.
            inner = {}
            for target in targets:
                try:
                    inner[target] = self.compile(target, chain, value)
                except UnknownParameter:
                    continue
            if not inner:
                raise UnknownParameter(name)
            return self._chained(definition, inner, chain)
        if modifier == "missing":
            want_missing = value == "true"
            return lambda resource: (not definition.get(resource)) == want_missing
        alternatives = [self._leaf(type_, code, definition, modifier, v) for v in split_values(value)]
        if len(alternatives) == 1:
            return alternatives[0]
        return lambda resource: any(test(resource) for test in alternatives)

    def _chained(self, definition: Param, inner: dict[str, Predicate], chain: str) -> Predicate:
        chained_on_identifier = chain.split(":")[0] == "identifier"

        def test(resource: dict[str, Any]) -> bool:
            for ref in definition.get(resource):
                if not isinstance(ref, dict):
                    continue
                target = self.resolve(ref, resource)
                if target is not None:
                    check = inner.get(target.get("resourceType", ""))
                    if check is not None and check(target):
                        return True
                elif chained_on_identifier and "identifier" in ref:
                    # A logical reference: match the chained identifier on the Reference itself.
                    probe = {"identifier": [ref["identifier"]]}
                    if any(check(probe) for check in inner.values()):
                        return True
            return False

        return test

    def _leaf(self, type_: str, code: str, definition: Param, modifier: str, value: str) -> Predicate:
        get = definition.get
        kind = definition.type
        if kind == "token":
            return self._token(get, modifier, value, code)
        if kind in ("string", "uri"):
            return self._string(get, modifier, value, exact_default=kind == "uri")
        if kind == "date":
            return self._date(get, modifier, value, code)
        if kind == "reference":
            return self._reference(get, definition.targets, modifier, value)
        if kind == "special" and code == "near":
            return self._near(get, value)
        raise UnknownParameter(code)

    @staticmethod
    def _token(get: Callable, modifier: str, value: str, code: str) -> Predicate:
        if modifier not in ("", "not", "text"):
            raise UnknownParameter(f"{code}:{modifier}")
        if modifier == "text":
            wanted = _fold(value)

            def text_test(resource: dict[str, Any]) -> bool:
                for v in get(resource):
                    texts = [v.get("text", "")] + [c.get("display", "") for c in v.get("coding", [])] \
                        if isinstance(v, dict) else []
                    if any(_fold(t).startswith(wanted) for t in texts if t):
                        return True
                return False

            return text_test
        if "|" in value:
            system, code_value = value.split("|", 1)
        else:
            system, code_value = None, value

        def match(candidate: tuple[str | None, str]) -> bool:
            cs, cc = candidate
            if system is None:
                return cc == code_value
            if system == "":
                return cs is None and cc == code_value
            if code_value == "":
                return cs == system
            return cs == system and cc == code_value

        def test(resource: dict[str, Any]) -> bool:
            return any(match(t) for v in get(resource) for t in _tokens(v))

        if modifier == "not":
            return lambda resource: not test(resource)
        return test

    @staticmethod
    def _string(get: Callable, modifier: str, value: str, exact_default: bool = False) -> Predicate:
        if modifier == "exact" or (exact_default and not modifier):
            return lambda resource: any(s == value for v in get(resource) for s in _strings(v))
        if modifier not in ("", "contains"):
            raise UnknownParameter(f":{modifier}")
        wanted = _fold(value)
        if modifier == "contains":
            return lambda resource: any(wanted in _fold(s) for v in get(resource) for s in _strings(v))
        return lambda resource: any(_fold(s).startswith(wanted) for v in get(resource) for s in _strings(v))

    def _date(self, get: Callable, modifier: str, value: str, code: str) -> Predicate:
        if modifier:
            raise UnknownParameter(f"{code}:{modifier}")
        prefix = "eq"
        if value[:2] in _PREFIXES and value[2:3].isdigit():
            prefix, value = value[:2], value[2:]
        query = date_range(value)
        if query is None:
            raise FhirError(400, f"Invalid date in search parameter {code}: {value!r}", "invalid")
        if "date-prefix-ignored" in self.defects:
            prefix = "eq"
        return lambda resource: any(_date_test(prefix, query, r) for v in get(resource) for r in _ranges(v))

    @staticmethod
    def _reference(get: Callable, targets: tuple[str, ...], modifier: str, value: str) -> Predicate:
        wanted_type = modifier or None
        if modifier and not modifier[:1].isupper():
            if modifier == "identifier":
                token = Engine._token(lambda r: r.get("identifier", []), "", value, "identifier")
                return lambda resource: any(
                    isinstance(ref, dict) and "identifier" in ref and token({"identifier": [ref["identifier"]]})
                    for ref in get(resource)
                )
            raise UnknownParameter(f":{modifier}")
        key = reference_key(value)
        if key:
            wanted_type, wanted_id = key
        else:
            wanted_id = value

        def test(resource: dict[str, Any]) -> bool:
            for ref in get(resource):
                text = ref.get("reference") if isinstance(ref, dict) else ref
                if not isinstance(text, str):
                    continue
                found = reference_key(text)
                if not found:
                    continue
                found_type, found_id = found
                if found_id != wanted_id:
                    continue
                if wanted_type and found_type != wanted_type:
                    continue
                if targets and found_type not in targets:
                    continue
                return True
            return False

        return test

    @staticmethod
    def _near(get: Callable, value: str) -> Predicate:
        parts = value.split("|")
        try:
            lat, lon = float(parts[0]), float(parts[1])
            distance = float(parts[2]) if len(parts) > 2 and parts[2] else 50.0
        except (ValueError, IndexError):
            raise FhirError(400, f"Invalid near value {value!r}: expected latitude|longitude|distance|unit",
                            "invalid") from None
        unit = parts[3] if len(parts) > 3 and parts[3] else "km"
        limit_km = distance / 1000 if unit == "m" else distance

        def test(resource: dict[str, Any]) -> bool:
            for pos in get(resource):
                if not isinstance(pos, dict) or "latitude" not in pos or "longitude" not in pos:
                    continue
                p1, p2 = math.radians(lat), math.radians(pos["latitude"])
                dphi = p2 - p1
                dl = math.radians(pos["longitude"] - lon)
                a = math.sin(dphi / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
                if 6371 * 2 * math.asin(math.sqrt(a)) <= limit_km:
                    return True
            return False

        return test


# -- the search itself ----------------------------------------------------------------------

def _sort_key(resource: dict[str, Any], type_: str) -> tuple:
    if type_ in ("Slot", "Appointment"):
        r = date_range(resource.get("start", "")) if resource.get("start") else None
        return (r[0] if r else _MAX, resource.get("id", ""))
    return (resource.get("id", ""),)


def _apply_sort(resources: list[dict[str, Any]], type_: str, spec: str) -> None:
    for item in reversed([s for s in spec.split(",") if s]):
        descending = item.startswith("-")
        code = item.lstrip("-")
        definition = param(type_, code)
        if definition is None:
            raise UnknownParameter(f"_sort={item}")

        def key(resource: dict[str, Any], definition: Param = definition) -> tuple:
            values = definition.get(resource)
            if not values:
                return (1, "")
            v = values[0]
            if definition.type == "date":
                ranges = _ranges(v)
                return (0, ranges[0][0].isoformat()) if ranges else (1, "")
            strings = _strings(v) or [t[1] for t in _tokens(v)]
            return (0, _fold(strings[0]) if strings else "")

        resources.sort(key=key, reverse=descending)
        if descending:  # keep resources without a value at the end
            resources.sort(key=lambda r, k=key: k(r)[0])


def _include_specs(values: list[str]) -> list[tuple[str, str, str | None]]:
    specs = []
    for value in values:
        pieces = value.split(":")
        if len(pieces) < 2:
            raise FhirError(400, f"Invalid _include/_revinclude {value!r}: expected Type:parameter[:Target]",
                            "invalid")
        specs.append((pieces[0], pieces[1], pieces[2] if len(pieces) > 2 else None))
    return specs


def search(store: Store, request: SearchRequest, present: Present) -> dict[str, Any]:
    """Run a search; returns a searchset Bundle (raises FhirError on a bad request)."""
    type_ = request.type
    defects = request.defects
    engine = Engine(store, defects)
    predicates: list[Predicate] = []
    used: list[tuple[str, str]] = []
    unknown: list[str] = []
    controls: dict[str, list[str]] = {}
    for name, value in request.params:
        base_name = name.split(":")[0]
        if base_name in CONTROL:
            controls.setdefault(base_name if base_name != "_include" or ":" not in name else "_include:iterate",
                                []).append(value)
            continue
        if type_ == "Slot" and name == "status" and "ignore-slot-status" in defects:
            continue
        if type_ == "DocumentReference" and name == "patient.identifier" and "patient-identifier-ignored" in defects:
            continue
        try:
            predicates.append(engine.compile(type_, name, value))
            used.append((name, value))
        except UnknownParameter:
            unknown.append(name)
    if unknown and request.strict:
        raise FhirError(400, f"Unknown or unsupported search parameter(s): {', '.join(unknown)} "
                        "(refused because of Prefer: handling=strict)", "not-supported")

    matches = [e.resource for e in store.all(type_) if all(p(e.resource) for p in predicates)]
    sort_spec = ",".join(controls.get("_sort", []))
    try:
        if sort_spec:
            _apply_sort(matches, type_, sort_spec)
            used.append(("_sort", sort_spec))
        else:
            matches.sort(key=lambda r: _sort_key(r, type_))
    except UnknownParameter as exc:
        unknown.append(str(exc))
    total = len(matches)

    count = _int_control(controls, "_count", DEFAULT_COUNT)
    count = min(count, MAX_COUNT)
    offset = _int_control(controls, "_offset", 0)
    summary_count = controls.get("_summary", [""])[-1] == "count"
    page = [] if summary_count else matches[offset:offset + count]

    includes = _include_specs(controls.get("_include", []) + controls.get("_include:iterate", []))
    revincludes = _include_specs(controls.get("_revinclude", []))
    if "ignore-include" in defects:
        includes, revincludes = [], []
    _check_includes(includes, "_include")
    _check_includes(revincludes, "_revinclude")
    included = _collect_includes(engine, store, type_, page, includes, revincludes) if page else []
    for value in controls.get("_include", []):
        used.append(("_include", value))
    for value in controls.get("_include:iterate", []):
        used.append(("_include:iterate", value))
    for value in controls.get("_revinclude", []):
        used.append(("_revinclude", value))

    elements = controls.get("_elements")
    keep = {e.strip() for v in elements for e in v.split(",")} if elements else None

    def entry(resource: dict[str, Any], mode: str) -> dict[str, Any]:
        shown = present(resource)
        if keep is not None and mode == "match":
            shown = {k: v for k, v in shown.items() if k in keep or k in ("resourceType", "id", "meta")}
        return {
            "fullUrl": f"{request.base}/{resource['resourceType']}/{resource['id']}",
            "resource": shown,
            "search": {"mode": mode},
        }

    include_mode = "match" if "include-as-match" in defects else "include"
    entries = [entry(r, "match") for r in page] + [entry(r, include_mode) for r in included]
    if unknown:
        entries.append({
            "fullUrl": f"urn:uuid:{uuid.uuid4()}",
            "resource": {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "warning", "code": "not-supported",
                           "diagnostics": f"Unknown or unsupported search parameter {name!r} ignored"}
                          for name in unknown],
            },
            "search": {"mode": "outcome"},
        })

    def link(off: int) -> str:
        query = [*used, ("_count", str(count))]
        if off:
            query.append(("_offset", str(off)))
        return f"{request.base}/{type_}?{urlencode(query)}"

    links = [{"relation": "self", "url": link(offset)}]
    if not summary_count and offset + count < total and "no-next-link" not in defects:
        links.append({"relation": "next", "url": link(offset + count)})
    if offset > 0 and not summary_count:
        links.append({"relation": "previous", "url": link(max(0, offset - count))})

    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": now_instant()},
        "type": "collection" if "wrong-bundle-type" in defects else "searchset",
        "total": total,
        "link": links,
    }
    if type_ in SEARCHSET_PROFILES and not unknown:
        bundle["meta"]["profile"] = [SEARCHSET_PROFILES[type_]]
    if "missing-total" in defects:
        del bundle["total"]
    if entries:
        bundle["entry"] = entries
    return bundle


def _int_control(controls: dict[str, list[str]], name: str, default: int) -> int:
    values = controls.get(name)
    if not values:
        return default
    try:
        number = int(values[-1])
    except ValueError:
        raise FhirError(400, f"Invalid {name} value {values[-1]!r}: expected a non-negative integer",
                        "invalid") from None
    if number < 0:
        raise FhirError(400, f"Invalid {name} value {number}: expected a non-negative integer", "invalid")
    return number


def _check_includes(specs: list[tuple[str, str, str | None]], name: str) -> None:
    for source_type, code, _target in specs:
        definition = param(source_type, code)
        if definition is None or definition.type != "reference":
            raise FhirError(400, f"Unsupported {name} {source_type}:{code}: not a reference search parameter of "
                            f"{source_type}", "not-supported")


def _collect_includes(
    engine: Engine, store: Store, type_: str, page: Sequence[dict[str, Any]],
    includes: list[tuple[str, str, str | None]], revincludes: list[tuple[str, str, str | None]],
) -> list[dict[str, Any]]:
    """Resources named by _include / _revinclude, each once, matches excluded.

    An _include whose source type is not the searched type is applied to included resources,
    as if `:iterate` were given: GAP's own example (`_include=Slot:schedule&_include=Schedule:actor`)
    expects the Schedules' actors in the Bundle.
    """
    seen = {(r["resourceType"], r["id"]) for r in page}
    included: list[dict[str, Any]] = []
    pool: list[dict[str, Any]] = list(page)

    def add(resource: dict[str, Any] | None) -> bool:
        if resource is None:
            return False
        key = (resource["resourceType"], resource["id"])
        if key in seen:
            return False
        seen.add(key)
        included.append(resource)
        pool.append(resource)
        return True

    changed = True
    rounds = 0
    while changed and rounds < 5:
        changed = False
        rounds += 1
        for source_type, code, target in includes:
            definition = param(source_type, code)
            assert definition is not None
            for resource in list(pool):
                if resource["resourceType"] != source_type:
                    continue
                for ref in definition.get(resource):
                    text = ref.get("reference") if isinstance(ref, dict) else None
                    if not isinstance(text, str) or text.startswith("#"):
                        continue
                    key = reference_key(text)
                    if key is None or (target and key[0] != target):
                        continue
                    if definition.targets and key[0] not in definition.targets:
                        continue
                    changed |= add(store.resource(*key))
    for source_type, code, _target in revincludes:
        definition = param(source_type, code)
        assert definition is not None
        wanted = {(r["resourceType"], r["id"]) for r in page}
        for entry in store.all(source_type):
            for ref in definition.get(entry.resource):
                text = ref.get("reference") if isinstance(ref, dict) else None
                if isinstance(text, str) and reference_key(text) in wanted:
                    add(entry.resource)
                    break
    return included
