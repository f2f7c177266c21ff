"""Snapshots generated from differentials, as the HL7 validator and the IG Publisher do.

A StructureDefinition published by SUSHI, or handed to ``--ig`` by a test, often has only a
``differential``: the elements it changes. Its ``snapshot`` is its base's snapshot with each
differential element merged onto the element it names (by id, or by path and slice name when the
differential has no ids):

- cardinality, types (with profiles and target profiles), fixed and pattern values, bindings,
  ``mustSupport``, ``maxLength``, ``minValue``/``maxValue``: the differential's replace the base's;
- constraints are added to the base's (a key it redefines replaces the base's); ``condition`` and
  ``alias`` are unions;
- a new slice is a copy of the sliced element and its descendants, placed after the element's other
  slices, with ``min`` 0 unless the differential says otherwise; a slice of a slice (``a:s/r``,
  re-slicing) is placed after the slice it refines;
- a child of an element whose type the base does not unroll (``Patient.identifier.system``) unrolls
  it first, from its type profile when it has exactly one, else from the type's definition (a
  ``contentReference`` unrolls the referenced element);
- a type-renamed choice (``Observation.valueQuantity``) is the type slice ``value[x]:valueQuantity``
  of the choice, sliced by type if it was not.

A specialization (a logical model, a new resource) takes its base's elements under its own type
name and adds the differential's new elements after their parent's. What is not supported raises
:class:`~pytest_mes.errors.ProfileError` naming the profile and the element.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

from pytest_mes.errors import ProfileError
from pytest_mes.fhir.compiler import type_code

# The ElementDefinition properties a differential replaces outright.
_REPLACED = (
    "short", "definition", "comment", "requirements", "label", "code", "meaningWhenMissing", "orderMeaning",
    "min", "max", "type", "maxLength", "mustSupport", "isModifier", "isModifierReason", "isSummary",
    "example", "mapping", "contentReference", "sliceIsConstraining", "representation",
)
_VALUE_PREFIXES = ("fixed", "pattern", "defaultValue", "minValue", "maxValue")

Resolver = Callable[[str], "dict | None"]  # canonical -> StructureDefinition with a snapshot, or None


def generate_snapshot(sd: dict, resolve: Resolver) -> dict:
    """`sd` with a ``snapshot`` made from its base's and its ``differential`` (a new dict; `sd` is kept).

    Args:
        sd: a StructureDefinition with a differential.
        resolve: finds a StructureDefinition, with its snapshot, by canonical (its base, the types and
            type profiles it unrolls).

    Raises:
        ProfileError: the base cannot be found, or an element of the differential matches nothing.
    """
    url = str(sd.get("url") or sd.get("id") or "?")
    base_url = sd.get("baseDefinition")
    if not base_url:
        raise ProfileError(f"{url}: no snapshot and no baseDefinition to generate one from")
    base = resolve(base_url)
    if base is None or not (base.get("snapshot") or {}).get("element"):
        raise ProfileError(f"{url}: base definition {base_url} not found: its snapshot cannot be generated")
    specialization = sd.get("derivation") == "specialization"
    elements = _rooted(base["snapshot"]["element"], str(sd.get("type") or "")) \
        if specialization else copy.deepcopy(base["snapshot"]["element"])
    merger = _Merger(url, elements, resolve, specialization)
    applied = []
    for diff in _with_ids((sd.get("differential") or {}).get("element") or []):
        if diff["path"] not in (_path_of(diff["id"]), _path_of(_TYPE_SLICE.sub(r"\2", diff["id"]))):
            raise ProfileError(f"{url}: differential element {diff['id']!r} has the path {diff['path']!r}")
        applied.append(merger.apply(diff))
    merger.check_order(applied)
    out = dict(sd)
    out["snapshot"] = {"element": merger.elements}
    return out


def changed_fixed_values(sd: dict, resolve: Resolver) -> list[tuple[str, str, str]]:
    """The elements of `sd`'s differential that give another fixed value than their base's, as
    ``(element id, base's value, differential's value)`` (values as JSON text): a derived profile may
    only add rules (the HL7 validator rejects an extension that changes the url its base fixes)."""
    base = resolve(str(sd.get("baseDefinition") or ""))
    if base is None or sd.get("derivation") == "specialization":
        return []
    by_id = {e.get("id"): e for e in (base.get("snapshot") or {}).get("element") or () if isinstance(e, dict)}
    changed = []
    for diff in _with_ids((sd.get("differential") or {}).get("element") or []):
        fixed = _fixed(diff)
        before = _fixed(by_id.get(diff["id"]) or {})
        if fixed is not None and before is not None and fixed != before:
            changed.append((diff["id"], _text(before[1]), _text(fixed[1])))
    return changed


def bad_discriminator_paths(sd: dict, children_of: Callable[[str], set[str] | None]
                            ) -> list[tuple[int, int, str, str]]:
    """The slicing discriminators of `sd`'s differential whose path starts with a name that is not an
    element of the sliced element, as ``(differential index, discriminator index, path, sliced element id)``.
    `sd` has its generated snapshot; `children_of` gives the element names of a datatype. Paths that
    start with ``$this`` or a function (``extension(…)``, ``resolve()``, ``ofType(…)``) are not judged."""
    snapshot = {e.get("id"): e for e in (sd.get("snapshot") or {}).get("element") or () if isinstance(e, dict)}
    bad = []
    for i, diff in enumerate(_with_ids((sd.get("differential") or {}).get("element") or [])):
        slicing = diff.get("slicing")
        element = snapshot.get(diff["id"])
        if not isinstance(slicing, dict) or element is None:
            continue
        sliced = _sliced_id(diff["id"]) if diff.get("sliceName") else None  # a re-slicing: the slice's element
        names = _element_names(snapshot, element, children_of)
        if names is None:
            continue
        discriminators = slicing.get("discriminator")
        for j, discriminator in enumerate(discriminators if isinstance(discriminators, list) else ()):
            path = str(discriminator.get("path", "")) if isinstance(discriminator, dict) else ""
            first = _DISCRIMINATOR_START.match(path)
            if first is not None and not _named(first.group(1), names):
                bad.append((i, j, path, sliced or diff["id"]))
    return bad


def _element_names(snapshot: dict, element: dict, children_of: Callable[[str], set[str] | None]) -> set[str] | None:
    """The names of `element`'s children: its own in the snapshot, else its single type's; None if unknown."""
    prefix = element["id"] + "."
    own = {k[len(prefix):] for k in snapshot if isinstance(k, str) and k.startswith(prefix)}
    own = {name for name in own if "." not in name and ":" not in name}
    if own:
        return own
    codes = {type_code(t) for t in element.get("type") or () if isinstance(t, dict)}
    return children_of(codes.pop()) if len(codes) == 1 else None


def _named(name: str, names: set[str]) -> bool:
    return name in names or any(n.endswith("[x]") and name.startswith(n[:-3]) for n in names)


_DISCRIMINATOR_START = re.compile(r"\s*([A-Za-z][A-Za-z0-9_]*)(?![A-Za-z0-9_]*\s*\()")  # a name, not a function


def _fixed(element: dict) -> tuple[str, Any] | None:
    return next(((k, v) for k, v in element.items() if k.startswith("fixed")), None)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


class DifferentialOrderError(ProfileError):
    """A differential element out of the base's order: the element before it in the differential (the
    `unmatched`-th, `element_id`) is the one the HL7 tools, walking both in order, find no match for."""

    def __init__(self, message: str, *, unmatched: int, element_id: str):
        super().__init__(message)
        self.unmatched = unmatched
        self.element_id = element_id


def _with_ids(differential: list[dict]) -> list[dict]:
    """The differential's elements, each with an id (derived from path and slice names when absent:
    an element is under the last slice declared at its parent's path). A slice whose id does not name it
    (``Bundle.entry`` with sliceName ``encounter``) is read by its path, as the HL7 snapshot generator reads a
    differential: its id is derived, and so are the ids of the elements under it that its wrong id led."""
    current: dict[str, str] = {}  # path -> id of the element that path means now
    misnamed: dict[str, str] = {}  # a slice's wrong id -> its derived id, while that slice is current
    out: list[dict] = []
    for raw in differential:
        if not isinstance(raw, dict) or not isinstance(raw.get("path"), str):
            continue
        element = dict(raw)
        path = element["path"]
        given = element.get("id")
        slice_name = element.get("sliceName")
        for wrong, right in misnamed.items():
            if isinstance(given, str) and given.startswith(wrong + "."):
                given = element["id"] = right + given[len(wrong):]
        if not given or (isinstance(given, str) and isinstance(slice_name, str) and slice_name
                         and (_last(given)[1] or "").rpartition("/")[2] != slice_name.rpartition("/")[2]):
            parent, _, last = path.rpartition(".")
            prefix = (current.get(parent) or parent) + "." if parent else ""
            element["id"] = prefix + last + (f":{slice_name}" if slice_name else "")
            if given:
                misnamed[given] = element["id"]
        elif given in misnamed:
            del misnamed[given]  # the element the wrong id names, declared again: no longer misread
        current[path] = element["id"]
        for known in [p for p in current if p.startswith(path + ".")]:
            del current[known]  # a new element at this path: its children are under it now
        out.append(element)
    return out


def _rooted(elements: list[dict], type_name: str) -> list[dict]:
    """Copies of a snapshot's elements under another root name (a specialization of its base)."""
    out = []
    old_root = str(elements[0].get("path", "")).split(".")[0] if elements else ""
    for e in elements:
        e = copy.deepcopy(e)
        for key in ("id", "path"):
            value = str(e.get(key) or e.get("path"))
            e[key] = type_name + value[len(old_root):] if value.split(".")[0].split(":")[0] == old_root else value
        out.append(e)
    return out


def _parent_id(element_id: str) -> str:
    return element_id.rpartition(".")[0]


def _last(element_id: str) -> tuple[str, str | None]:
    name, _, slice_name = element_id.rpartition(".")[2].partition(":")
    return name, slice_name or None


class _Merger:
    """The snapshot being built: a list of element dicts in document order, located by id."""

    def __init__(self, url: str, elements: list[dict], resolve: Resolver, specialization: bool):
        self.url = url
        self.elements = elements
        self.resolve = resolve
        self.specialization = specialization
        self.base_heads = {str(e.get("id")): copy.deepcopy(e) for e in elements}

    def index(self, element_id: str) -> int | None:
        for i, e in enumerate(self.elements):
            if e.get("id") == element_id:
                return i
        return None

    def subtree_end(self, i: int) -> int:
        """The index after element `i`, its descendants and its slices (and theirs)."""
        own = self.elements[i]["id"]
        j = i + 1
        while j < len(self.elements) and str(self.elements[j].get("id")).startswith((own + ".", own + ":",
                                                                                       own + "/")):
            j += 1
        return j

    # ---- locating the element a differential element names ----------------------------------------
    def locate(self, element_id: str) -> int:
        """The index of the snapshot element `element_id` names, creating slices and unrolling types as
        needed."""
        found = self.index(element_id)
        if found is not None:
            return found
        if "." not in element_id:
            raise ProfileError(f"{self.url}: differential root {element_id!r} is not the base's root")
        parent = self.locate(_parent_id(element_id))
        parent_id = self.elements[parent]["id"]  # valueQuantity.system is under value[x]:valueQuantity
        name, slice_name = _last(element_id)
        plain = f"{parent_id}.{name}"
        if slice_name is not None:
            if "/" in slice_name:  # re-slicing: a slice of the slice before the "/"
                return self.new_slice(self.locate(f"{plain}:{slice_name.rpartition('/')[0]}"), element_id,
                                      slice_name)
            sliced = self.locate(plain)
            found = self.index(element_id)  # unrolled with its parent (a slice of a type profile)
            if found is None and name.endswith("[x]"):
                found = self.type_slice(sliced, slice_name)
            return found if found is not None else self.new_slice(sliced, element_id, slice_name)
        if not self.has_children(parent):
            self.unroll(parent)
            found = self.index(plain)
            if found is not None:
                return found
        choice = self.choice_for(parent_id, name)
        if choice is not None:
            return choice
        if self.specialization:
            return self.new_element(parent, plain)
        raise ProfileError(f"{self.url}: differential element {element_id!r} matches no element of the base")

    def has_children(self, i: int) -> bool:
        own = self.elements[i]["id"]
        return i + 1 < len(self.elements) and str(self.elements[i + 1].get("id")).startswith(own + ".")

    def choice_for(self, parent_id: str, name: str) -> int | None:
        """A type-renamed choice (``valueQuantity``): the type slice of ``value[x]``, made if needed."""
        for i, e in enumerate(self.elements):
            eid = str(e.get("id"))
            if not (eid.startswith(parent_id + ".") and eid.endswith("[x]") and _parent_id(eid) == parent_id):
                continue
            if name.startswith(_last(eid)[0][:-3]):
                found = self.type_slice(i, name)
                if found is not None:
                    return found
        return None

    def type_slice(self, choice: int, slice_name: str) -> int | None:
        """The slice ``value[x]:valueQuantity`` of the choice element at `choice`, made if needed (the
        choice then sliced by type); None when no type of the choice has that name."""
        e = self.elements[choice]
        stem = _last(e["id"])[0][:-3]
        matching = [t for t in e.get("type") or () if isinstance(t, dict)
                    and stem + type_code(t)[:1].upper() + type_code(t)[1:] == slice_name]
        if not matching:
            return None
        slice_id = f"{e['id']}:{slice_name}"
        found = self.index(slice_id)
        if found is not None:
            return found
        e.setdefault("slicing", {"discriminator": [{"type": "type", "path": "$this"}], "ordered": False,
                                 "rules": "open"})
        j = self.new_slice(choice, slice_id, slice_name)
        self.elements[j]["type"] = copy.deepcopy(matching)
        return j

    def new_slice(self, sliced: int, slice_id: str, slice_name: str) -> int:
        """A copy of the element at `sliced` and its descendants (not its slices), as slice `slice_id`:
        the element as the base states it (what the differential changes on it, a type profile, stays
        on the unsliced element), its descendants as the differential left them (as the IG Publisher)."""
        own = self.elements[sliced]["id"]
        head = self.base_heads.get(own, self.elements[sliced])  # the element as the base states it
        copies = [copy.deepcopy(head), *self.descendants(self.elements, sliced)]
        for c in copies:
            c["id"] = slice_id + str(c["id"])[len(own):]
        head = copies[0]
        head.pop("slicing", None)
        head["sliceName"] = slice_name
        head["min"] = 0
        at = self.subtree_end(sliced)
        self.elements[at:at] = copies
        return at

    def unroll(self, i: int) -> None:
        """Insert the children of element `i`: from its content reference, else its type profile, else
        (a slice) the children of the element it slices, else its type's definition."""
        element = self.elements[i]
        own, path = element["id"], element["path"]
        ref = element.get("contentReference")
        if isinstance(ref, str):
            target = self.index(ref.partition("#")[2])
            if target is None:
                raise ProfileError(f"{self.url}: {own}: content reference {ref} not found")
            source_id, source_path = self.elements[target]["id"], self.elements[target]["path"]
            children = self.descendants(self.elements, target)
            element.pop("contentReference", None)
            element["type"] = [{"code": "BackboneElement"}]
        else:
            types = [t for t in element.get("type") or () if isinstance(t, dict)]
            if len(types) != 1:
                raise ProfileError(f"{self.url}: {own}: cannot constrain the children of an element of "
                                   f"{len(types)} types")
            profiles = types[0].get("profile") or []
            definition = self.resolve(profiles[0]) if len(profiles) == 1 else None
            sliced = _sliced_id(own)
            at = self.index(sliced) if sliced and definition is None else None
            if at is not None and self.has_children(at):
                source_id, source_path = sliced, self.elements[at]["path"]
                children = self.descendants(self.elements, at)
            else:
                code = type_code(types[0])
                definition = definition or self.resolve("http://hl7.org/fhir/StructureDefinition/" + code)
                snapshot = ((definition or {}).get("snapshot") or {}).get("element") or []
                if not snapshot:
                    raise ProfileError(f"{self.url}: {own}: definition of type {code} not found")
                source_id = source_path = str(snapshot[0].get("id") or snapshot[0]["path"])
                children = [copy.deepcopy(e) for e in snapshot[1:]]
        for c in children:
            c["id"] = own + str(c.get("id") or c["path"])[len(source_id):]
            c["path"] = path + str(c["path"])[len(source_path):]
        self.elements[i + 1:i + 1] = children

    @staticmethod
    def descendants(elements: list[dict], i: int) -> list[dict]:
        """Copies of the descendants of element `i` (not its slices)."""
        own = str(elements[i]["id"])
        out = []
        for e in elements[i + 1:]:
            eid = str(e.get("id"))
            if not eid.startswith((own + ".", own + ":", own + "/")):
                break
            if eid.startswith(own + "."):
                out.append(copy.deepcopy(e))
        return out

    def new_element(self, parent: int, element_id: str) -> int:
        """A specialization's own element, after its parent's other children."""
        at = self.subtree_end(parent)
        self.elements[at:at] = [{"id": element_id, "path": _path_of(element_id)}]
        return at

    def check_order(self, ids: list[str]) -> None:
        """The differential lists its elements in the snapshot's order (the HL7 tools walk both together
        and find nothing for an element out of order)."""
        position = {str(e.get("id")): i for i, e in enumerate(self.elements)}
        last = ("", -1, -1)  # (id, place in the snapshot, index in the differential)
        for index, element_id in enumerate(ids):
            at = position.get(element_id, -1)
            if at < last[1]:
                raise DifferentialOrderError(
                    f"{self.url}: differential element {element_id!r} comes after {last[0]!r}, against the order "
                    "of the base's elements", unmatched=last[2], element_id=last[0])
            last = (element_id, at, index)

    # ---- merging ----------------------------------------------------------------------------------
    def apply(self, diff: dict) -> str:
        """Merge one differential element; the id of the snapshot element it changed."""
        target = self.elements[self.locate(diff["id"])]
        merge_element(target, diff, self.url)
        return str(target["id"])


def _sliced_id(element_id: str) -> str | None:
    """The element a slice slices (``A.b:s`` -> ``A.b``; a re-slice ``A.b:s/r`` -> ``A.b:s``), else None."""
    head, _, last = element_id.rpartition(".")
    name, _, slice_name = last.partition(":")
    if not slice_name:
        return None
    parent = f"{head}.{name}" if head else name
    return f"{parent}:{slice_name.rpartition('/')[0]}" if "/" in slice_name else parent


_TYPE_SLICE = re.compile(r"([^.:]+)\[x\]:(\1[A-Z][^.:]*)")  # value[x]:valueQuantity, as a path says valueQuantity


def _path_of(element_id: str) -> str:
    return ".".join(part.partition(":")[0] for part in element_id.split("."))


def merge_element(target: dict, diff: dict, source: str) -> None:
    """Merge a differential element onto its snapshot element, in place."""
    for key in _REPLACED:
        if key in diff:
            target[key] = copy.deepcopy(diff[key])
    if "sliceName" in diff:
        target["sliceName"] = diff["sliceName"]
    values = [k for k in diff if k.startswith(_VALUE_PREFIXES)]
    for key in values:
        prefix = next(p for p in _VALUE_PREFIXES if key.startswith(p))
        for old in [k for k in target if k.startswith(prefix)]:
            del target[old]
        target[key] = copy.deepcopy(diff[key])
    if "binding" in diff and (target.get("binding") or diff["binding"].get("strength")):
        binding = dict(target.get("binding") or {})
        binding.update(copy.deepcopy(diff["binding"]))
        target["binding"] = binding
    if "slicing" in diff and (target.get("slicing") or diff["slicing"].get("discriminator")):
        # (a slicing without discriminator on an element the base does not slice says nothing: dropped,
        # as the IG Publisher does)
        slicing = dict(target.get("slicing") or {})
        closed = slicing.get("rules") == "closed"
        slicing.update(copy.deepcopy(diff["slicing"]))
        if closed:
            slicing["rules"] = "closed"  # a derived profile cannot open what its base closed
        target["slicing"] = slicing
    if "constraint" in diff:
        constraints = {c.get("key"): c for c in target.get("constraint") or () if isinstance(c, dict)}
        for c in diff["constraint"]:
            if isinstance(c, dict):
                constraints[c.get("key")] = {**c, "source": c.get("source") or source}
        target["constraint"] = list(constraints.values())
    for key in ("condition", "alias"):
        if key in diff:
            merged = list(target.get(key) or [])
            merged.extend(x for x in diff[key] if x not in merged)
            target[key] = merged
    if "extension" in diff:
        target["extension"] = copy.deepcopy(diff["extension"])

