"""What a slice states at a discriminator path, read once from the compiled definitions.

:func:`discriminator_plan` gives, for one slice and one discriminator path, the element definitions found
there and the fixed and pattern values they state (through re-slices, the slice's type profile, its
ancestors' patterns and its descendants'); :func:`slice_index` turns a slicing whose slices state only
strings into lookup tables (:class:`SliceIndex`). :class:`~pytest_mes.fhir.definitions.Definitions` keeps
both; the walk's slicing checks (:mod:`.slicing`) use them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

from pytest_mes.fhir.compiler import ElementDef, Schema

if TYPE_CHECKING:
    from pytest_mes.fhir.slicing import Item, SlicingChecks

SchemaOf = Callable[[str, "str | None"], "Schema | None"]  # (canonical, package) -> the compiled profile


class DiscriminatorPlan(NamedTuple):
    """What a slice states at a discriminator path."""

    nodes: list[ElementDef]  # the element definitions at the path (re-slices included)
    fixed: list[Any]  # their fixed values
    patterns: list[Any]  # their pattern values, and those carried by an ancestor's or made of descendants'


def discriminator_plan(s: ElementDef, path: str, schema: SchemaOf) -> DiscriminatorPlan | None:
    """What slice `s` states at a discriminator path; None when the slice's type profile, where it would
    be stated, cannot be had (`schema` gives a compiled profile by canonical and package)."""
    nodes, carried = _slice_definition(s, path)
    missing = False
    if not nodes and not carried and path not in ("$this", "url", "resource", "resolve()"):
        # The discriminating element may be constrained by the slice's type profile, not unrolled here.
        for t in s.types:
            for profile in t.profiles:
                ps = schema(profile, s.schema.package)
                if ps is None:
                    missing = True
                    continue
                more, more_carried = _slice_definition(ps.root, path)
                nodes.extend(more)
                carried.extend(more_carried)
    if missing and not nodes and not carried:
        return None
    fixed_values = [n.fixed for n in nodes if n.fixed is not None]
    pattern_values = carried + [n.pattern for n in nodes if n.pattern is not None]
    if not fixed_values and not pattern_values and path in ("url", "$this.url"):
        # Extension slices rarely unroll `url`: the extension's profile is its url.
        pattern_values = [p.split("|")[0] for t in s.types for p in t.profiles]
    if not fixed_values and not pattern_values and not any(
            n.binding and n.binding[0] == "required" for n in nodes):
        # As the HL7 validator: the fixed and pattern values of the element's descendants make its
        # pattern (FR Core's identifier:finess fixes type.coding.system only).
        pattern_values = [p for p in (_descendant_pattern(n) for n in nodes) if p]
    return DiscriminatorPlan(nodes, fixed_values, pattern_values)


def slice_index(base: ElementDef, plan_of: Callable[[ElementDef, str], DiscriminatorPlan | None]
                ) -> SliceIndex | None:
    """The lookup table of a slicing whose slices all state string values at every discriminator path
    (extensions by url, identifiers by system…), or None; `plan_of` gives a slice's plan at a path."""
    discriminators = base.slicing.discriminators if base.slicing else ()
    if not discriminators or any(t not in ("value", "pattern") for t, _ in discriminators):
        return None
    tables: list[dict[str, set[int]]] = [{} for _ in discriminators]
    for i, s in enumerate(base.slices):
        for table, (_, path) in zip(tables, discriminators, strict=True):
            plan = plan_of(s, path)
            stated = plan.fixed + plan.patterns if plan is not None else []
            if not stated or any(type(x) is not str for x in stated):
                return None  # a slice states nothing or more than strings there: tried one by one
            for x in stated:
                table.setdefault(x, set()).add(i)
    return SliceIndex(tuple(p for _, p in discriminators), tables)


@functools.lru_cache(maxsize=4096)
def split_path(path: str) -> list[str]:
    """A discriminator path's segments, split at the dots outside parentheses (``extension('…').value``)."""
    parts: list[str] = []
    depth = 0
    start = 0
    for i, ch in enumerate(path):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "." and depth == 0:
            parts.append(path[start:i])
            start = i + 1
    parts.append(path[start:])
    return [p for p in parts if p]


def _slice_definition(s: ElementDef, path: str) -> tuple[list[ElementDef], list[Any]]:
    """The slice's definitions at a discriminator path, and values taken from an ancestor's fixed or
    pattern value when the snapshot states them there (``patternIdentifier`` on the slice, discriminator
    ``system``). Re-slices are followed: ``code.coding.code`` finds the fixed codes of ``code.coding:X``."""
    nodes: list[ElementDef] = [s]
    parts = [p for p in split_path(path) if p != "$this"]
    carried: list[Any] = []
    for i, part in enumerate(parts):
        nxt: list[ElementDef] = []
        for node in nodes:
            carrier = node.fixed if node.fixed is not None else node.pattern
            if carrier is not None:
                value = _extract(carrier, parts[i:])
                if value is not None:
                    carried.append(value)
                continue
            if part.startswith(("extension(", "modifierExtension(")):
                name, _, arg = part.partition("(")
                url = arg.rstrip(")").strip("'\"")
                ext_base = node.children.get(name)
                for sl in ext_base.slices if ext_base else ():
                    urls = {p.split("|")[0] for t in sl.types for p in t.profiles}
                    fixed_url = sl.children["url"].fixed if "url" in sl.children else None
                    if url in urls or fixed_url == url:
                        nxt.append(sl)
                continue
            if part == "resolve()" or part.startswith("ofType("):
                nxt.append(node)
                continue
            child = node.children.get(part)
            if child is None:
                continue
            nxt.append(child)
            nxt.extend(child.slices)
        nodes = nxt
    return nodes, carried


def _descendant_pattern(node: ElementDef, depth: int = 0) -> dict | None:
    """A pattern made of the fixed and pattern values stated on `node`'s descendants, or None."""
    if depth > 4:
        return None
    out: dict[str, Any] = {}
    for name, child in node.children.items():
        if child.choice:
            continue
        value = child.fixed if child.fixed is not None else child.pattern
        if value is None:
            value = _descendant_pattern(child, depth + 1)
        if value is not None:
            out[name] = [value] if child.is_array and not isinstance(value, list) else value
    return out or None


def _extract(value: Any, parts: list[str]) -> Any:
    for part in parts:
        if isinstance(value, list):
            value = value[0] if value else None
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


class SliceIndex:
    """Which slices an item belongs to, found by looking its values up rather than trying each slice.

    Valid when every slice states only strings at every discriminator path: a slice then matches
    exactly when, at each path, one of the item's values equals one of its strings (``fixed_matches``
    and ``pattern_matches`` of a string are string equality), so the first match is the lowest index
    found at every path."""

    __slots__ = ("paths", "tables")

    def __init__(self, paths: tuple[str, ...], tables: list[dict[str, set[int]]]):
        self.paths = paths
        self.tables = tables

    def match(self, walk: SlicingChecks, item: Item) -> int:
        value, _, tcode, _ = item
        found: set[int] | None = None
        for path, table in zip(self.paths, self.tables, strict=True):
            hits: set[int] = set()
            for val in _values_at(walk, value, tcode, path):
                if type(val) is str and val in table:
                    hits |= table[val]
            found = hits if found is None else found & hits
            if not found:
                return -1
        return min(found) if found else -1


def _values_at(walk: SlicingChecks, value: Any, tcode: str, path: str) -> Iterable[Any]:
    """The values eval_path finds at `path`, read directly for the common paths (``$this``, an element of
    the item such as ``url`` or ``system``): most sliced items are extensions and identifiers."""
    if path == "$this":
        return (value,)
    if type(value) is dict and path in value and path.isalnum():
        found = value[path]
        return found if type(found) is list else (found,)
    return [val for val, _ in walk.eval_path(value, tcode, path)]
