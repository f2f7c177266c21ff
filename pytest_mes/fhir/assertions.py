"""Value assertions shared by the validator: fixed and pattern matching, binding checks, short renderings."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from pytest_mes.fhir.issues import Phrase
from pytest_mes.fhir.valuesets import Expansion, ValueSetExpander, _Unavailable


def fixed_matches(expected: Any, actual: Any) -> bool:
    """``fixed[x]``: exact equality (numbers compare by value: 1.0 equals 1)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or set(expected) != set(actual):
            return False
        return all(fixed_matches(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(expected) != len(actual):
            return False
        return all(fixed_matches(e, a) for e, a in zip(expected, actual, strict=True))
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    return expected == actual


def beyond(value: Any, tcode: str, bound_type: str, bound: Any, *, below: bool) -> bool:
    """Whether `value` is below a ``minValue[x]`` (`below`) or above a ``maxValue[x]`` of type
    `bound_type`; values that cannot be compared (other units, malformed) are not said beyond.

    Numbers compare by value; dates, times and instants on their common precision; Quantities of the
    same unit by value; a Duration bound on a date means now minus (min) or plus (max) that duration."""
    if bound_type == "Quantity" or (bound_type in _QUANTITIES and isinstance(value, dict)):
        if not isinstance(value, dict) or not isinstance(bound, dict) or \
                any(bound.get(k) is not None and value.get(k) != bound.get(k) for k in ("system", "code")):
            return False
        value, bound = value.get("value"), bound.get("value")
    elif bound_type == "Duration" and tcode in ("date", "dateTime", "instant") and isinstance(bound, dict):
        bound = _shifted_today(bound, -1 if below else 1)
        if bound is None:
            return False
    if isinstance(value, str) and isinstance(bound, str):
        n = min(len(value), len(bound))
        value, bound = value[:n], bound[:n]
    elif isinstance(value, bool) or isinstance(bound, bool) or not isinstance(value, int | float | Decimal) or \
            not isinstance(bound, int | float | Decimal):
        return False
    return value < bound if below else value > bound


_QUANTITIES = frozenset({"Quantity", "Age", "Count", "Distance", "Duration", "Money", "SimpleQuantity"})
_DAYS_PER_UNIT = {"a": 365.25, "mo": 30.4375, "wk": 7, "d": 1, "h": 1 / 24, "min": 1 / 1440, "s": 1 / 86400}


def _shifted_today(duration: dict, sign: int) -> str | None:
    """Today moved by a UCUM Duration (``{"value": 100, "code": "a"}``), as a date string."""
    days = _DAYS_PER_UNIT.get(str(duration.get("code") or duration.get("unit")))
    amount = duration.get("value")
    if days is None or isinstance(amount, bool) or not isinstance(amount, int | float | Decimal):
        return None
    try:
        return (date.today() + timedelta(days=sign * float(amount) * days)).isoformat()
    except OverflowError:
        return None


def attachment_size(attachment: dict) -> int | None:
    """The size in bytes of an Attachment's ``data``, when it states a ``size`` to compare with and its
    data is base64 (a malformed one is reported by its format check)."""
    data, size = attachment.get("data"), attachment.get("size")
    if not isinstance(data, str) or isinstance(size, bool) or not isinstance(size, int):
        return None
    try:
        return len(base64.b64decode(data, validate=False))
    except (ValueError, binascii.Error):
        return None


def pattern_matches(expected: Any, actual: Any) -> bool:
    """``pattern[x]``: every property of the pattern is present with a matching value; each item of a
    pattern array matches some item of the instance array."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return False
        return all(k in actual and pattern_matches(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, list):
        items = actual if isinstance(actual, list) else [actual]
        return all(any(pattern_matches(e, a) for a in items) for e in expected)
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    return expected == actual


KEY_LIMIT = 4096  # a longer value (a whole resource) is seldom met twice: not worth a key
_KEY_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)  # json.dumps would make one per call
_RENDER_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str)


# The C encoder behind _KEY_ENCODER.encode, made once: encode() builds one per call, which costs more than
# encoding a Coding (json_key runs for every discriminator value and kept invariant verdict).
_C_KEY_ENCODER = (json.encoder.c_make_encoder(None, _KEY_ENCODER.default, json.encoder.c_encode_basestring, None,
                                              ":", ",", False, False, True)
                  if json.encoder.c_make_encoder is not None else None)


def json_key(value: Any) -> str | None:
    """The value as exact JSON, a key for verdicts that depend on the value only; None for a Decimal or
    another object JSON does not write, or a value longer than KEY_LIMIT."""
    try:
        if _C_KEY_ENCODER is not None and isinstance(value, dict | list):
            text = "".join(_C_KEY_ENCODER(value, 0))
        else:
            text = _KEY_ENCODER.encode(value)
    except (TypeError, ValueError, RecursionError):
        return None
    return text if len(text) <= KEY_LIMIT else None


def render(value: Any, limit: int = 160) -> str:
    """A short JSON rendering for messages."""
    text = _RENDER_ENCODER.encode(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def codings_of(value: Any, type_code: str) -> tuple[tuple[str | None, str], ...]:
    """(system, code) pairs carried by a bound element of the given type (a tuple: every bound value of a
    validation asks, and a generator costs more than the pairs)."""
    if type_code in ("code", "string", "uri"):
        return ((None, value),) if isinstance(value, str) else ()
    if type_code in ("Coding", "Quantity"):
        if isinstance(value, dict) and isinstance(value.get("code"), str):
            return ((_system(value), value["code"]),)
        return ()
    if type_code == "CodeableConcept" and isinstance(value, dict) and isinstance(value.get("coding"), list):
        return tuple((_system(coding), coding["code"]) for coding in value["coding"]
                     if isinstance(coding, dict) and isinstance(coding.get("code"), str))
    return ()


def _system(coding: dict) -> str | None:
    system = coding.get("system")
    return system if isinstance(system, str) else None


def binding_verdict(
    expander: ValueSetExpander, valueset: str, context: str | None, value: Any, type_code: str
) -> tuple[bool | None, Phrase, Phrase | None]:
    """Judge a bound value: (True/False/None for not checkable, the codes as a message shows them — empty
    when in the ValueSet —, why not checkable)."""
    pairs = codings_of(value, type_code)
    if not pairs:
        return True, _NO_CODES, None
    expansion = expander.expand(valueset, context)
    if isinstance(expansion, _Unavailable):
        return None, _rendered(pairs, type_code), expansion.why
    assert isinstance(expansion, Expansion)
    # Only a bare code/string/uri takes its system from the binding. A Coding (CodeableConcept,
    # Quantity) without a system is not in any ValueSet, as the HL7 validator reports it.
    bare = type_code in ("code", "string", "uri")
    verdicts = [expansion.check(s, c) if s is not None or bare else False for s, c in pairs]
    if any(v is True for v in verdicts):
        return True, _NO_CODES, None
    if any(v is None for v in verdicts):
        open_system = next((s for (s, _), v in zip(pairs, verdicts, strict=True) if v is None), None)
        return None, _rendered(pairs, type_code), expansion.why_open(open_system)
    return False, _rendered(pairs, type_code), None


_NO_CODES = Phrase("", "")


def _rendered(pairs: list[tuple[str | None, str]], type_code: str) -> Phrase:
    """``system#code, …``; a Coding without a system says so."""
    bare = type_code in ("code", "string", "uri")
    return Phrase(*(", ".join(f"{s}#{c}" if s else c if bare else f"{no_system}#{c}" for s, c in pairs)
                    for no_system in ("(sans system)", "(no system)")))
