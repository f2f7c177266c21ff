"""Matching resources against search parameters: value forms, date ranges, prefixes, modifiers, chains.

FHIR R4 search semantics (https://hl7.org/fhir/R4/search.html): string search is case- and
accent-insensitive "starts with" (`:exact`, `:contains`); tokens compare `[system|]code`
(`:not`, `:text`); dates are ranges compared with the prefixes eq, ne, gt, lt, ge, le, sa, eb, ap;
references match `[Type/]id` or an absolute URL, and chain (`schedule.actor:PractitionerRole.specialty`)
by resolving the reference (contained ones included) and testing the rest on the target.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from pytest_mes.sandbox.defects import Defect
from pytest_mes.sandbox.outcome import FhirError
from pytest_mes.sandbox.params import Param, param
from pytest_mes.sandbox.store import Store

Predicate = Callable[[dict[str, Any]], bool]


class UnknownParameter(Exception):
    """A parameter (or a link of a chain) the sandbox does not support."""


# -- value normalisation ---------------------------------------------------------------------

def fold(text: str) -> str:
    """Case- and accent-insensitive form, as FHIR string search requires."""
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def strings_of(value: Any) -> list[str]:
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


def tokens_of(value: Any) -> list[tuple[str | None, str]]:
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
MIN_INSTANT = datetime.min.replace(tzinfo=UTC)
MAX_INSTANT = datetime.max.replace(tzinfo=UTC)


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
    try:
        tz = UTC
        if zone and zone != "Z":
            sign = 1 if zone[0] == "+" else -1
            tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
        low = datetime(int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0),
                       int(second or 0), int(float(fraction) * 1_000_000) if fraction else 0, tzinfo=tz)
    except ValueError:  # a day or a time that does not exist, an offset beyond ±24 h
        return None
    return _in_utc(low), _in_utc(_period_end(low, month, day, hour, second, fraction))


def _period_end(low: datetime, *given: str | None) -> datetime | None:
    """The end of the period that starts at `low`, as long as its precision says (month, day, hour, second and
    fraction: the parts given); None past the last instant Python can hold (the end of the year 9999)."""
    month, day, hour, second, fraction = given
    try:
        if month is None:
            return low.replace(year=low.year + 1)
        if day is None:
            return low.replace(year=low.year + 1, month=1) if low.month == 12 else low.replace(month=low.month + 1)
        step = (timedelta(days=1) if hour is None else timedelta(minutes=1) if second is None
                else timedelta(seconds=1) if fraction is None else timedelta(milliseconds=1))
        return low + step
    except (ValueError, OverflowError):
        return None


def _in_utc(instant: datetime | None) -> datetime:
    """`instant` in UTC, held within the first and last instants Python can hold (None: past the last)."""
    if instant is None:
        return MAX_INSTANT
    try:
        return instant.astimezone(UTC)
    except OverflowError:  # the year 1 ahead of UTC, or the year 9999 behind it
        return MIN_INSTANT if instant.year == 1 else MAX_INSTANT


def ranges_of(value: Any) -> list[tuple[datetime, datetime]]:
    if isinstance(value, str):
        r = date_range(value)
        return [r] if r else []
    if isinstance(value, dict) and ("start" in value or "end" in value):
        start = date_range(value["start"]) if "start" in value else None
        end = date_range(value["end"]) if "end" in value else None
        return [((start[0] if start else MIN_INSTANT), (end[1] if end else MAX_INSTANT))]
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


def dicts(value: Any) -> list[dict[str, Any]]:
    """The objects of a JSON array; anything else (absent, malformed) as none: shapes are judged elsewhere."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def reference_key(reference: str) -> tuple[str, str] | None:
    """("Type", "id") from a relative or absolute literal reference (history suffix ignored)."""
    ref = reference.split("/_history/")[0].rstrip("/")
    pieces = ref.split("/")
    if len(pieces) < 2 or not pieces[-2][:1].isupper():
        return None
    return pieces[-2], pieces[-1]


# -- compiling parameters into predicates -----------------------------------------------------

# Distance units of `near` (UCUM codes, plus the usual short forms), in kilometres.
_KM_PER_UNIT = {"km": 1.0, "m": 0.001, "mi": 1.609344, "[mi_i]": 1.609344, "[mi_us]": 1.609347}


class Engine:
    """Compiles the parameters of one search request and runs them over the store."""

    def __init__(self, store: Store, defects: frozenset[Defect] = frozenset()):
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
            if Defect.CHAIN_IGNORED in self.defects:
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
            if value not in ("true", "false"):
                raise FhirError(400, f"Invalid {name} value {value!r}: :missing takes true or false", "invalid")
            want_missing = value == "true"
            return lambda resource: (not definition.get(resource)) == want_missing
        alternatives = [self._leaf(code, definition, modifier, v) for v in split_values(value)]
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

    def _leaf(self, code: str, definition: Param, modifier: str, value: str) -> Predicate:
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
            wanted = fold(value)

            def text_test(resource: dict[str, Any]) -> bool:
                for v in get(resource):
                    texts = [v.get("text", "")] + [c.get("display", "") for c in v.get("coding", [])] \
                        if isinstance(v, dict) else []
                    if any(fold(t).startswith(wanted) for t in texts if t):
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
            return any(match(t) for v in get(resource) for t in tokens_of(v))

        if modifier == "not":
            return lambda resource: not test(resource)
        return test

    def _string(self, get: Callable, modifier: str, value: str, exact_default: bool = False) -> Predicate:
        anywhere = Defect.STRING_MATCHES_ANYWHERE in self.defects
        if modifier == "exact" or (exact_default and not modifier):
            if anywhere:
                return lambda resource: any(fold(s) == fold(value) for v in get(resource) for s in strings_of(v))
            return lambda resource: any(s == value for v in get(resource) for s in strings_of(v))
        if modifier not in ("", "contains"):
            raise UnknownParameter(f":{modifier}")
        wanted = fold(value)
        if modifier == "contains" or anywhere:
            return lambda resource: any(wanted in fold(s) for v in get(resource) for s in strings_of(v))
        return lambda resource: any(fold(s).startswith(wanted) for v in get(resource) for s in strings_of(v))

    def _date(self, get: Callable, modifier: str, value: str, code: str) -> Predicate:
        if modifier:
            raise UnknownParameter(f"{code}:{modifier}")
        prefix = "eq"
        if value[:2] in _PREFIXES and value[2:3].isdigit():
            prefix, value = value[:2], value[2:]
        query = date_range(value)
        if query is None:
            raise FhirError(400, f"Invalid date in search parameter {code}: {value!r}", "invalid")
        if Defect.DATE_PREFIX_IGNORED in self.defects:
            prefix = "eq"
        if Defect.DATE_BOUND_INCLUSIVE in self.defects:
            prefix = {"gt": "ge", "lt": "le"}.get(prefix, prefix)
        return lambda resource: any(_date_test(prefix, query, r) for v in get(resource) for r in ranges_of(v))

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
        if unit not in _KM_PER_UNIT:
            raise FhirError(400, f"Invalid near unit {unit!r}: use km, m or mi ([mi_i])", "invalid")
        limit_km = distance * _KM_PER_UNIT[unit]

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
