"""Rules a StructureDefinition's differential must keep, which the HL7 validator checks when it validates a
profile and generates its snapshot: bindings only on types that can be bound, the slices of an element
keeping the slicing their element declares, invariants whose FHIRPath expression parses, and no rule of
the base loosened (a smaller min, a larger max, must-support dropped, a required binding weakened)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from pytest_mes.fhir.canonicals import FHIR_BASE
from pytest_mes.fhir.snapshot import Resolver, _with_ids
from pytest_mes.fhirpath import FhirPathError, parse

# The types a binding applies to (and those deriving from them: code, id, markdown from string; url,
# canonical, oid, uuid from uri; Age, Duration… from Quantity), as the HL7 validator lists them.
BINDABLE = frozenset({"code", "Coding", "CodeableConcept", "Quantity", "CodeableReference", "string", "uri"})


def unbindable_bindings(sd: dict, resolve: Resolver) -> Iterator[tuple[int, str, list[str]]]:
    """``(differential index, element id, type codes)`` of each element of `sd`'s differential with a
    binding whose types (its own, else those of its snapshot element) cannot be bound. `sd` has its
    snapshot; `resolve` gives a definition by url. An element whose types are unknown is not judged."""
    snapshot = _by_id(sd)
    for i, element in enumerate(_with_ids(_differential(sd))):
        if not isinstance(element.get("binding"), dict):
            continue
        types = element.get("type") or (snapshot.get(element["id"]) or {}).get("type") or ()
        codes = [t["code"] for t in types if isinstance(t, dict) and isinstance(t.get("code"), str)]
        if codes and not any(_bindable(code, resolve) for code in codes):
            yield i, element["id"], codes


def _bindable(code: str, resolve: Resolver) -> bool:
    """`code` or a type it derives from (through baseDefinition) is one a binding applies to; a type whose
    definition is not found (a logical model's, by url) is given the benefit of the doubt."""
    seen: set[str] = set()
    current = code
    while current not in seen:
        if current in BINDABLE:
            return True
        seen.add(current)
        definition = resolve(current if ":" in current else FHIR_BASE + current)
        if definition is None:
            return True  # not found: not judged
        base = str(definition.get("baseDefinition") or "")
        if not base:
            return False  # the root of the types (Element, Base): nothing bindable reached
        current = base[len(FHIR_BASE):] if base.startswith(FHIR_BASE) else base
    return False


def redefined_slicings(sd: dict, resolve: Resolver) -> Iterator[tuple[str, str, str, str]]:
    """``(element id, its slicing, slice id, the slice's slicing)`` for each slice of `sd`'s differential
    that states a slicing other than the one its element introduces there (on an element its base does
    not slice yet): a slice may repeat its element's slicing, or leave out its ``ordered`` and ``rules``,
    not change it."""
    base = _by_id(resolve(str(sd.get("baseDefinition") or "")) or {})
    elements = _with_ids(_differential(sd))
    for intro in elements:
        slicing = intro.get("slicing")
        if intro.get("sliceName") or not isinstance(slicing, dict) or (base.get(intro["id"]) or {}).get("slicing"):
            continue
        prefix = intro["id"] + ":"
        for element in elements:
            other = element.get("slicing")
            if element["id"].startswith(prefix) and "." not in element["id"][len(prefix):] and \
                    isinstance(other, dict) and not _same_slicing(slicing, other):
                yield intro["id"], _summary(slicing), element["id"], _summary(other)


def unparsable_invariants(sd: dict) -> Iterator[tuple[int, int, str, str]]:
    """``(differential index, constraint index, key, why)`` of each invariant of `sd`'s differential whose
    FHIRPath expression does not parse (the HL7 validator also checks it against the element's types)."""
    for i, element in enumerate(_differential(sd)):
        constraints = element.get("constraint") if isinstance(element, dict) else None
        for j, constraint in enumerate(constraints if isinstance(constraints, list) else ()):
            expression = constraint.get("expression") if isinstance(constraint, dict) else None
            if not isinstance(expression, str):
                continue
            try:
                parse(expression)
            except FhirPathError as exc:
                yield i, j, str(constraint.get("key")), str(exc)


def loosened(sd: dict, resolve: Resolver) -> Iterator[tuple[int, str, str, str, str]]:
    """``(differential index, element id, what, its value, the base's)`` for each rule of its base that
    `sd`'s differential loosens, compared with the base's element of the same id (or, for a slice of its
    own or inside one, the element it slices). A slice may lower min (its element's min still holds);
    elements the base's snapshot does not list (inside a datatype) are not judged here."""
    base = _by_id(resolve(str(sd.get("baseDefinition") or "")) or {})
    if not base or sd.get("derivation") == "specialization":
        return
    for i, element in enumerate(_with_ids(_differential(sd))):
        before = base.get(element["id"]) or base.get(_SLICE_NAMES.sub("", element["id"]))
        if before is None:
            continue
        if isinstance(element.get("min"), int) and isinstance(before.get("min"), int) and \
                element["min"] < before["min"] and not element.get("sliceName"):
            yield i, element["id"], "min", str(element["min"]), str(before["min"])
        if _larger_max(element.get("max"), before.get("max")):
            yield i, element["id"], "max", str(element["max"]), str(before["max"])
        if element.get("mustSupport") is False and before.get("mustSupport") is True:
            yield i, element["id"], "mustSupport", "false", "true"
        strength = _strength(element)
        if strength is not None and strength != "required" and _strength(before) == "required":
            yield i, element["id"], "binding.strength", strength, "required"


_SLICE_NAMES = re.compile(r":[^.]+")


def _strength(element: dict) -> str | None:
    binding = element.get("binding")
    strength = binding.get("strength") if isinstance(binding, dict) else None
    return strength if isinstance(strength, str) else None


def _larger_max(derived: object, base: object) -> bool:
    if not isinstance(derived, str) or not isinstance(base, str) or base == "*":
        return False
    if derived == "*":
        return True
    return derived.isdigit() and base.isdigit() and int(derived) > int(base)


def _same_slicing(first: dict, then: dict) -> bool:
    """As the HL7 snapshot generator compares them: `then` may omit `ordered` and `rules`, not add or change
    them; the discriminators must be the same."""
    for key in ("ordered", "rules"):
        if key in then and (key not in first or first[key] != then[key]):
            return False
    return (first.get("discriminator") or []) == (then.get("discriminator") or [])


def _summary(slicing: dict) -> str:
    ordered = {True: "ordered", False: "unordered"}.get(slicing.get("ordered"), "??")  # type: ignore[arg-type]
    discriminators = slicing.get("discriminator") if isinstance(slicing.get("discriminator"), list) else []
    named = ", ".join(f"{d.get('type')}={d.get('path')}" for d in discriminators if isinstance(d, dict))
    return f"{ordered}/{slicing.get('rules') or '??'} [{named}]"


def _by_id(sd: dict) -> dict[str, dict]:
    return {e.get("id"): e for e in _elements(sd, "snapshot") if isinstance(e, dict)}


def _differential(sd: dict) -> list:
    return _elements(sd, "differential")


def _elements(sd: dict, part: str) -> list:
    """The elements of `sd`'s snapshot or differential; none when malformed (reported by the walk)."""
    holder = sd.get(part)
    elements = holder.get("element") if isinstance(holder, dict) else None
    return elements if isinstance(elements, list) else []
