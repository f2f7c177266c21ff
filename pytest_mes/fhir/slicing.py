"""Slicing: sorting repeated elements into slices by their discriminators, and slice cardinality.

Discriminators: ``value``, ``pattern``, ``type``, ``profile`` and ``exists``; rules ``open``,
``closed``, ``openAtEnd``; ``ordered``. What a slice states at a discriminator path is read once per
(slice, path) from the definitions (see :mod:`.discriminators`, kept by the validator's Definitions). A
discriminator that needs a ValueSet not available offline makes the match undetermined: reported as such,
never guessed.

A base class of the validator's walk (:class:`pytest_mes.fhir.walk.Walk`), on reference checks.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from pytest_mes.fhir import assertions
from pytest_mes.fhir.compiler import PRIMITIVES, ElementDef, _cap
from pytest_mes.fhir.discriminators import split_path
from pytest_mes.fhir.issues import make_issue
from pytest_mes.fhir.jsonread import as_list
from pytest_mes.fhir.references import ReferenceChecks

_VERDICTS_KEPT = 8192
AtPath = tuple[list[tuple[Any, str]], str | None]  # an item's values at a discriminator path, and their JSON key


class Item(NamedTuple):
    """One occurrence of an element in a JSON object, as the walk checks it."""

    value: Any  # the JSON value (None: a primitive with extensions only)
    ext: Any  # its "_" companion (id and extensions of a primitive), or None
    tcode: str  # its type code ("string", "Coding"; "" for a content reference)
    loc: str  # its FHIRPath location


class SlicingChecks(ReferenceChecks):
    """Checks of sliced elements."""

    __slots__ = ()  # Walk's state: see Walk.__slots__

    def check_slices(self, base: ElementDef, items: list[Item], loc: str) -> None:
        slicing = base.slicing
        slices = base.slices
        rules = slicing.rules if slicing else "open"
        counts = dict.fromkeys(range(len(slices)), 0)
        assigned: list[tuple[ElementDef, Item]] = []
        last = -1
        unmatched_seen = False
        maybe = dict.fromkeys(range(len(slices)), 0)  # items that could not be ruled in or out
        index = self.defs.slice_index(base)
        for item in items:
            match = index.match(self, item) if index is not None else self.match_slice(base, item, maybe)
            if match is None:  # undetermined: left on the sliced element, not guessed
                assigned.append((base, item))
                continue
            if match < 0:
                unmatched_seen = True
                if rules == "closed":
                    names = ", ".join([s.slice_name or "?" for s in slices])
                    self.add("error", "SLICE_CLOSED", item.loc, base.schema.source(base), name=base.name, slices=names)
                assigned.append((base, item))
                continue
            if rules == "openAtEnd" and unmatched_seen:
                self.add("error", "SLICE_OPEN_AT_END", item.loc, base.schema.source(base), name=base.name)
            if slicing is not None and slicing.ordered and match < last:
                self.add("error", "SLICE_ORDER", item.loc, base.schema.source(base), slice=slices[match].slice_name,
                         previous=slices[last].slice_name)
            last = max(last, match)
            counts[match] += 1
            assigned.append((slices[match], item))
        for i, s in enumerate(slices):
            n = counts[i]
            if n + maybe[i] < s.min:
                self.add("error", "SLICE_MIN", loc, s.schema.source(s), slice=s.slice_name, name=base.name, count=n,
                         min=s.min, max=s.max_text)
            elif s.max is not None and n > s.max:
                self.add("error", "SLICE_MAX", loc, s.schema.source(s), slice=s.slice_name, name=base.name, count=n,
                         min=s.min, max=s.max_text)
        for node, (value, ext, tcode, iloc) in assigned:
            self.check_item(node, value, ext, tcode, iloc)

    def match_slice(self, base: ElementDef, item: Item, maybe: dict[int, int]) -> int | None:
        """The index of the first slice `item` belongs to, -1 for none, None when it cannot be told
        (counted in `maybe` for the slices it might belong to)."""
        slices = base.slices
        discriminators = base.slicing.discriminators if base.slicing else ()
        match = -1
        candidates: list[int] = []
        values_at: dict[str, AtPath] = {}  # the item's values at each path, for every slice
        for i, s in enumerate(slices):
            verdict = self.slice_matches(s, item, discriminators, base, values_at)
            if verdict is True:
                match = i
                break
            if verdict is None:
                candidates.append(i)
        blind = [i for i in candidates if any(
            self.undeterminable(slices[i], p) for t, p in discriminators if t in ("value", "pattern"))]
        for i in blind:
            maybe[i] += 1  # never told apart: it may hold this item too
        if match >= 0:
            return match
        if candidates and len(blind) == len(candidates):
            return None  # only slices that can never be told apart (said once per slice)
        candidates = [i for i in candidates if i not in blind]
        if len(candidates) == 1:
            # Only one slice is possible; part of its discriminator needs a ValueSet we cannot expand.
            self.add("information", "SLICE_ASSUMED", item.loc, base.schema.source(base), name=base.name,
                     slice=slices[candidates[0]].slice_name)
            return candidates[0]
        if candidates:
            for i in candidates:
                maybe[i] += 1
            self.add("information", "SLICE_NOT_CHECKED", item.loc, base.schema.source(base), name=base.name)
            return None
        return -1

    def slice_matches(self, s: ElementDef, item: Item, discriminators: tuple, base: ElementDef,
                      values_at: dict[str, AtPath]) -> bool | None:
        """True, False, or None when a discriminator cannot be evaluated offline."""
        value, _, tcode, _ = item
        if not discriminators:
            # Type slices of a choice element (value[x]:valueQuantity) carry no discriminator in some snapshots.
            return base.choice and tcode in s.type_codes
        result: bool | None = True
        for dtype, path in discriminators:
            if dtype in ("value", "pattern") and self.undeterminable(s, path):
                # Nothing at the path says what the slice holds (no fixed value, pattern or required
                # binding): the slice can never be told apart. Not checked, said once, never guessed.
                self.say_once((id(s), path), make_issue("information", "SLICE_UNDETERMINABLE", item.loc,
                                                        s.schema.source(s), slice=s.slice_name, name=base.name,
                                                        path=path))
                result = None
                continue
            at = values_at.get(path)
            if at is None:
                values = self.eval_path(value, tcode, path)
                # Their JSON key too (value_discriminator's), written once for all the slices tried.
                at = values_at[path] = (values, assertions.json_key(values) if dtype in ("value", "pattern") else None)
            values, text = at
            if dtype in ("value", "pattern"):
                verdict = self.value_discriminator(s, values, text, dtype, path)
            else:
                verdict = self.discriminator_matches(s, values, dtype, path)
            if verdict is False:
                return False
            if verdict is None:
                result = None
        return result

    def value_discriminator(self, s: ElementDef, values: list[tuple[Any, str]], text: str | None, dtype: str,
                            path: str) -> bool | None:
        """discriminator_matches for a value or pattern discriminator, whose verdict depends on the values
        only: kept per (slice, path, values), the values by their JSON key `text` (None: not kept), as the
        same codings and systems come again and again."""
        if text is None:
            return self.discriminator_matches(s, values, dtype, path)
        key = (id(s), path, dtype, text)
        kept = self.v.slice_verdicts
        if key in kept:
            return kept[key]
        verdict = kept[key] = self.discriminator_matches(s, values, dtype, path)
        if len(kept) > _VERDICTS_KEPT:
            kept.clear()
        return verdict

    def undeterminable(self, s: ElementDef, path: str) -> bool:
        plan = self.defs.discriminator_plan(s, path)
        if plan is None:
            return False  # a missing package: reported by discriminator_matches
        nodes, fixed_values, pattern_values = plan
        return not fixed_values and not pattern_values and not any(
            n.binding and n.binding[0] == "required" for n in nodes)

    def discriminator_matches(self, s: ElementDef, values: list[tuple[Any, str]], dtype: str, path: str
                              ) -> bool | None:
        """Whether the item's `values` at `path` match slice `s` (None: cannot be told offline)."""
        plan = self.defs.discriminator_plan(s, path)
        if plan is None:
            return None  # the slice's type profile is in a package we do not have
        nodes, fixed_values, pattern_values = plan
        if dtype in ("value", "pattern"):
            if fixed_values or pattern_values:
                return any(
                    any(assertions.fixed_matches(e, val) for e in fixed_values)
                    or any(assertions.pattern_matches(e, val) for e in pattern_values)
                    for val, _ in values
                )
            unsure = False
            for node in nodes:  # a required binding can discriminate too
                if node.binding and node.binding[0] == "required":
                    for val, vtype in values:
                        vtype = vtype or (node.type_codes[0] if node.types else "code")
                        if not assertions.codings_of(val, vtype):
                            continue  # nothing coded: cannot be in the slice's ValueSet
                        verdict, _, _ = assertions.binding_verdict(
                            self.v.expander, node.binding[1], node.schema.package, val, vtype
                        )
                        if verdict is True:
                            return True
                        unsure = unsure or verdict is None
            return None if unsure else False
        node = nodes[0] if nodes else None
        if dtype == "exists":
            exists = bool(values)
            if node is None:
                return True
            if node.min >= 1:
                return exists
            if node.max == 0:
                return not exists
            return True
        if dtype == "type":
            if node is None:
                return True
            expected_types = self.discriminating_types(node)
            return any(vt in expected_types for _, vt in values)
        if dtype == "profile":
            if node is None:
                return True
            resolved = path.endswith("resolve()")
            unsure = False
            for val, _ in values:
                if not isinstance(val, dict):
                    continue
                for t in node.types:
                    if not resolved and t.code not in ("Resource", val.get("resourceType")):
                        continue
                    for profile in t.targets if resolved else t.profiles:
                        if self.defs.schema(profile, node.schema.package) is None:
                            unsure = True  # its package is missing: cannot tell, do not guess
                        elif self.conforms(val, profile, node.schema.package):
                            return True
            return None if unsure else False
        return False

    def discriminating_types(self, node: ElementDef) -> set[str]:
        """The types a ``type`` discriminator tells apart at `node`: a ``Resource`` typed by profiles is the
        type of those profiles (a slice of Bundle.entry holding Encounters), as the HL7 validator reads it."""
        types = set()
        for t in node.types:
            profiled = [self.defs.schema(p, node.schema.package) for p in t.profiles] \
                if t.code in ("Resource", "DomainResource") else []
            types.update(ps.type for ps in profiled if ps is not None)
            if not profiled or None in profiled:
                types.add(t.code)
        return types

    def eval_path(self, value: Any, tcode: str, path: str) -> list[tuple[Any, str]]:
        """Evaluate a discriminator path (the FHIRPath subset slicing allows) on one item."""
        current: list[tuple[Any, str]] = [(value, tcode)]
        for segment in split_path(path):
            nxt: list[tuple[Any, str]] = []
            if segment == "$this":
                continue
            if segment == "resolve()":
                for val, _ in current:
                    if isinstance(val, dict) and isinstance(val.get("reference"), str):
                        target, ttype = self.resolve_reference(val["reference"])
                        if target is not None:
                            nxt.append((target, ttype or ""))
            elif segment.startswith("extension(") or segment.startswith("modifierExtension("):
                name, _, arg = segment.partition("(")
                url = arg.rstrip(")").strip("'\"")
                for val, _ in current:
                    if isinstance(val, dict):
                        for e in as_list(val.get(name)):
                            if isinstance(e, dict) and e.get("url") == url:
                                nxt.append((e, "Extension"))
            elif segment.startswith("ofType("):
                wanted = segment[7:-1]
                nxt = [
                    (val, t)
                    for val, t in current
                    if t == wanted or (isinstance(val, dict) and val.get("resourceType") == wanted)
                ]
            else:
                for val, _ in current:
                    if not isinstance(val, dict):
                        continue
                    if segment in val:
                        sub = val[segment]
                        for x in sub if isinstance(sub, list) else [sub]:
                            nxt.append((x, x.get("resourceType", "") if isinstance(x, dict) else ""))
                    else:
                        for key, sub in val.items():
                            if key.startswith(segment) and key[len(segment):len(segment) + 1].isupper():
                                t = key[len(segment):]
                                t = _PRIMITIVE_CAPS.get(t, t)  # valueString -> string, valueQuantity -> Quantity
                                for x in sub if isinstance(sub, list) else [sub]:
                                    nxt.append((x, t))
            current = nxt
        return current


_PRIMITIVE_CAPS = {_cap(p): p for p in PRIMITIVES}
