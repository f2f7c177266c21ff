"""Compile StructureDefinition snapshots into trees of element nodes, once per profile.

A :class:`Schema` is the compiled form of one StructureDefinition: a tree of :class:`ElementDef`
nodes (children by name, slices, types, cardinality, fixed/pattern, binding, invariants), with
the JSON property names precomputed (choice types expanded) so that validation is a dictionary walk.
Broken profiles raise :class:`~pytest_mes.errors.ProfileError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from pytest_mes.errors import ProfileError
from pytest_mes.fhir.invariants import OPD_3

if TYPE_CHECKING:
    from pytest_mes.fhir.issues import Phrase

FHIRPATH_SYSTEM = "http://hl7.org/fhirpath/System."
_FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
_REGEX_EXT = "http://hl7.org/fhir/StructureDefinition/regex"
_MIN_LENGTH_EXT = "http://hl7.org/fhir/StructureDefinition/minLength"
_LANGUAGE_CONTROL_EXT = "http://hl7.org/fhir/StructureDefinition/narrative-language-control"
_SYSTEM_TYPES = {
    "String": "string", "Boolean": "boolean", "Integer": "integer", "Decimal": "decimal",
    "Date": "date", "DateTime": "dateTime", "Time": "time",
}

PRIMITIVES = frozenset(
    {
        "boolean", "integer", "string", "decimal", "uri", "url", "canonical", "base64Binary", "instant",
        "date", "dateTime", "time", "code", "oid", "id", "markdown", "unsignedInt", "positiveInt", "uuid", "xhtml",
    }
)


@dataclass(slots=True)
class TypeRef:
    """One allowed type of an element: code, profiles (for the value) and target profiles (references)."""

    code: str
    profiles: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    aggregation: tuple[str, ...] = ()


@dataclass(slots=True)
class Constraint:
    key: str
    severity: str
    human: str
    expression: str | None
    source: str
    reads: str | None = None  # a project rule (profiles/rules.yaml): the key of the prose constraint it restates
    statement: Phrase | None = None  # a project rule: what it asks, in each language
    unread: Phrase | None = None  # a prose constraint the project does not restate: why
    best_practice: bool = False  # a recommendation (dom-6…): its severity is the validator's best_practice


@dataclass(slots=True)
class Slicing:
    discriminators: tuple[tuple[str, str], ...]  # (type, path)
    rules: str  # open | closed | openAtEnd
    ordered: bool


class ElementDef:
    """One compiled ElementDefinition. Identity-hashed: nodes are used as dictionary keys.

    A class with slots rather than a dataclass: compiled (hatch_build.py), it is a cdef class (compiler.pxd)
    whose fields the walk reads as C fields, and Cython's dataclasses take no ``slots``."""

    __slots__ = ("base_binding", "base_path", "binding", "bounds", "children", "choice", "constraints",
                 "content_reference", "fixed", "grouped", "has_invariants", "id", "invariant_plans", "is_array",
                 "json_names", "max", "max_length", "max_text", "min", "min_length", "must_have_value",
                 "must_support", "name", "narrative_languages", "optional_ms", "path", "pattern", "primitive_checks",
                 "required", "schema", "slice_name", "slices", "slicing", "type_refs", "types", "value_alternatives")

    def __init__(
        self, *, id: str, path: str, name: str, min: int, max: int | None, is_array: bool, types: list[TypeRef],
        choice: bool, schema: Schema, slice_name: str | None = None, fixed: Any = None, pattern: Any = None,
        binding: tuple[str, str] | None = None, constraints: list[Constraint] | None = None,
        has_invariants: bool = False, slicing: Slicing | None = None, must_support: bool = False,
        content_reference: str | None = None, max_length: int | None = None, min_length: int | None = None,
        narrative_languages: tuple[str, ...] = (), must_have_value: bool = False,
        value_alternatives: tuple[str, ...] = (),
        bounds: tuple[tuple[str, Any] | None, tuple[str, Any] | None] | None = None, max_text: str = "*",
        base_path: str = "",
    ) -> None:
        self.id = id
        self.path = path
        self.name = name  # last path segment, "[x]" removed
        self.min = min
        self.max = max  # None: unbounded
        self.is_array = is_array  # JSON representation: from the base element's max, not the profile's
        self.types = types
        self.choice = choice
        self.schema = schema
        self.slice_name = slice_name
        self.fixed = fixed
        self.pattern = pattern
        self.binding = binding  # (strength, valueSet)
        self.constraints = [] if constraints is None else constraints
        self.has_invariants = has_invariants  # a constraint other than ele-1 (checked structurally) applies
        self.slicing = slicing
        self.must_support = must_support
        self.content_reference = content_reference
        self.max_length = max_length
        self.min_length = min_length  # the minLength extension
        self.narrative_languages = narrative_languages  # narrative-language-control: _no, _yes, _resource or languages
        # R5's mustHaveValue and valueAlternatives (as extensions on R4): a primitive needs its value, or one of
        # these extensions in its place
        self.must_have_value = must_have_value
        self.value_alternatives = value_alternatives
        self.bounds = bounds  # (minValue[x], maxValue[x])
        self.max_text = max_text
        self.base_path = base_path  # ElementDefinition.base.path: where the base definition states this element
        # The first of `types` of each code, looked up on every value the walk checks
        self.type_refs: dict[str, TypeRef] = {}
        for t in reversed(types):
            self.type_refs[t.code] = t
        # The tree, as the whole snapshot is read (compile_structure_definition, _index_json_names)
        self.children: dict[str, ElementDef] = {}
        self.slices: list[ElementDef] = []
        self.json_names: dict[str, JsonName] = {}  # by JSON property name
        self.grouped = False  # a choice or sliced element: its items are checked together
        self.required: list[ElementDef] = []  # children with min > 0
        self.optional_ms: list[ElementDef] = []  # must-support, min 0
        # The base definition's element, when its required binding must be checked too: the profile binds
        # another ValueSet (which may not be expandable offline), or none at all (see inherit_base_rules).
        self.base_binding: ElementDef | None = None
        self.invariant_plans: dict[str, list] = {}  # per type code, see Definitions
        self.primitive_checks: dict[str, PrimitiveCheck] = {}  # per type code, see Walk

    def __repr__(self) -> str:
        return f"ElementDef(id={self.id!r})"

    @property
    def type_codes(self) -> list[str]:
        return [t.code for t in self.types]


@dataclass(eq=False, slots=True)
class Schema:
    """A compiled StructureDefinition."""

    url: str
    version: str
    name: str
    type: str
    kind: str
    derivation: str
    base_definition: str | None
    package: str | None  # key of the package it comes from: context for unversioned canonicals
    context: list[dict]  # extension contexts
    root: ElementDef = field(init=False, repr=False)
    by_id: dict[str, ElementDef] = field(default_factory=dict, repr=False)
    canonical: str = field(init=False)  # url|version: read on every resource walked

    def __post_init__(self) -> None:
        self.canonical = f"{self.url}|{self.version}" if self.version else self.url

    def source(self, element: ElementDef) -> str:
        return f"{self.canonical} ({element.id})"


def type_code(raw: dict) -> str:
    """The FHIR type code of an ElementDefinition.type (System.String in R4 snapshots -> string)."""
    code = raw.get("code", "")
    if code.startswith(FHIRPATH_SYSTEM):
        for ext in raw.get("extension") or ():
            if ext.get("url") == _FHIR_TYPE_EXT:
                return ext.get("valueUrl") or ext.get("valueUri") or "string"
        return _SYSTEM_TYPES.get(code[len(FHIRPATH_SYSTEM):], "string")
    return code


def _value_of(element: dict, prefix: str) -> Any:
    for key, value in element.items():
        if key.startswith(prefix) and key != prefix:
            return value
    return None


_BEST_PRACTICE = "http://hl7.org/fhir/StructureDefinition/elementdefinition-bestpractice"

# Invariants of R4 4.0.1 whose expression is known to be wrong (fixed in R4B and R5), read as corrected, as the
# HL7 validator does: que-12 wants enableBehavior from the second enableWhen on, not the third; opd-3 lets a
# parameter whose type is a resource name target profiles too (R5: "of type Reference, Canonical, or a Resource").
_CORRECTED = {
    ("que-12", "enableWhen.count() > 2 implies enableBehavior.exists()"):
        "enableWhen.count() > 1 implies enableBehavior.exists()",
    ("opd-3", "targetProfile.exists() implies (type = 'Reference' or type = 'canonical')"): OPD_3,
}


def _typed_value(element: dict, prefix: str) -> tuple[str, Any] | None:
    """(type suffix, value) of a typed property such as ``minValueQuantity``, or None."""
    for key, value in element.items():
        if key.startswith(prefix) and key != prefix:
            return key[len(prefix):], value
    return None


def _split_id(element_id: str) -> tuple[str, str, str | None]:
    """``"A.b:s.c:t"`` -> (parent id ``"A.b:s"``, name ``"c"``, slice ``"t"``)."""
    parent, _, last = element_id.rpartition(".")
    name, _, slice_name = last.partition(":")
    return parent, name, (slice_name or None)


def compile_structure_definition(sd: dict, package: str | None = None) -> Schema:
    """Compile a StructureDefinition (with a snapshot) into a :class:`Schema`."""
    url = sd.get("url", "")
    snapshot = (sd.get("snapshot") or {}).get("element")
    if not snapshot:
        raise ProfileError(f"{url}: StructureDefinition without a snapshot nor a differential")
    schema = Schema(
        url=url,
        version=str(sd.get("version") or ""),
        name=str(sd.get("name") or sd.get("id") or ""),
        type=str(sd.get("type") or ""),
        kind=str(sd.get("kind") or ""),
        derivation=str(sd.get("derivation") or "specialization"),
        base_definition=sd.get("baseDefinition"),
        package=package,
        context=list(sd.get("context") or []),
    )
    for raw in snapshot:
        element_id = raw.get("id") or raw.get("path")
        if not element_id or "path" not in raw:
            raise ProfileError(f"{url}: element without id/path in the snapshot")
        node = _build_element(raw, element_id, schema)
        schema.by_id[element_id] = node
        if "." not in element_id:
            if ":" in element_id:
                raise ProfileError(f"{url}: a sliced root element {element_id!r}")
            schema.root = node
            continue
        parent_id, name, slice_name = _split_id(element_id)
        if slice_name is not None:
            base = schema.by_id.get(f"{parent_id}.{name}" if parent_id else name)
            if base is None:
                raise ProfileError(f"{url}: slice {element_id!r} comes before its sliced element")
            base.slices.append(node)
        else:
            parent = schema.by_id.get(parent_id)
            if parent is None:
                raise ProfileError(f"{url}: element {element_id!r} has no parent {parent_id!r} in the snapshot")
            parent.children[name.removesuffix("[x]")] = node
    if not hasattr(schema, "root"):
        raise ProfileError(f"{url}: snapshot without a root element")
    for node in schema.by_id.values():
        _index_json_names(node)
    return schema


def _build_element(raw: dict, element_id: str, schema: Schema) -> ElementDef:
    path = raw["path"]
    last = path.rsplit(".", 1)[-1]
    min_ = raw.get("min", 0)
    max_text = str(raw.get("max", "*"))
    if max_text == "*":
        max_ = None
    else:
        try:
            max_ = int(max_text)
        except ValueError as exc:
            raise ProfileError(f"{schema.url}: {element_id}: max {max_text!r} is neither a number nor '*'") from exc
        if not isinstance(min_, int) or min_ > max_:
            raise ProfileError(f"{schema.url}: {element_id}: min {min_} > max {max_text}")
    base_max = str((raw.get("base") or {}).get("max", max_text))
    types = [
        TypeRef(
            code=type_code(t),
            profiles=tuple(t.get("profile") or ()),
            targets=tuple(t.get("targetProfile") or ()),
            aggregation=tuple(t.get("aggregation") or ()),
        )
        for t in raw.get("type") or ()
    ]
    if (raw.get("base") or {}).get("path") == "Resource.id" and types:
        types[0].code = "id"  # R4 snapshots say System.String/"string"; a resource id is an `id` (64 chars max)
    binding = None
    raw_binding = raw.get("binding")
    if raw_binding and raw_binding.get("valueSet"):
        binding = (raw_binding.get("strength", "example"), raw_binding["valueSet"])
    constraints = [
        Constraint(
            key=c.get("key", "?"),
            severity=c.get("severity", "error"),
            human=c.get("human", ""),
            expression=_CORRECTED.get((c.get("key"), c.get("expression")), c.get("expression")),
            source=c.get("source") or schema.url,
            best_practice=any(isinstance(x, dict) and x.get("url") == _BEST_PRACTICE and x.get("valueBoolean") is True
                              for x in c.get("extension") or ()),
        )
        for c in raw.get("constraint") or ()
    ]
    slicing = None
    if raw.get("slicing"):
        s = raw["slicing"]
        slicing = Slicing(
            discriminators=tuple(
                (d.get("type", "value"), d.get("path", "$this")) for d in s.get("discriminator") or ()
            ),
            rules=s.get("rules", "open"),
            ordered=bool(s.get("ordered", False)),
        )
    max_length = raw.get("maxLength")
    bounds = (_typed_value(raw, "minValue"), _typed_value(raw, "maxValue"))
    return ElementDef(
        id=element_id,
        path=path,
        name=last.removesuffix("[x]"),
        min=min_ if isinstance(min_, int) else 0,
        max=max_,
        is_array=base_max != "1" and base_max != "0" and "." in path,
        types=types,
        choice=last.endswith("[x]"),
        schema=schema,
        slice_name=_split_id(element_id)[2] if "." in element_id else None,
        fixed=_value_of(raw, "fixed"),
        pattern=_value_of(raw, "pattern"),
        binding=binding,
        constraints=constraints,
        has_invariants=any(c.key != "ele-1" for c in constraints),
        slicing=slicing,
        must_support=bool(raw.get("mustSupport", False)),
        content_reference=raw.get("contentReference"),
        max_length=max_length if isinstance(max_length, int) else None,
        min_length=next((e.get("valueInteger") for e in raw.get("extension") or ()
                         if isinstance(e, dict) and e.get("url") == _MIN_LENGTH_EXT), None),
        bounds=bounds if bounds != (None, None) else None,
        narrative_languages=tuple(str(e.get("valueCode")) for e in raw.get("extension") or ()
                                  if isinstance(e, dict) and e.get("url") == _LANGUAGE_CONTROL_EXT),
        must_have_value=any(isinstance(e, dict) and str(e.get("url")).endswith(".mustHaveValue") and
                            e.get("valueBoolean") is True for e in raw.get("extension") or ()),
        value_alternatives=tuple(str(e.get("valueCanonical")).split("|")[0] for e in raw.get("extension") or ()
                                 if isinstance(e, dict) and str(e.get("url")).endswith(".valueAlternatives")),
        max_text=max_text,
        base_path=str((raw.get("base") or {}).get("path") or path),
    )


def inherit_base_rules(schema: Schema, base_element: Callable[[str], ElementDef | None]) -> None:
    """A profile constrains its base and never removes its rules: merge into each element of a
    constraint profile what its base definition's element (``base_element(base.path)``) states and the
    profile's snapshot lacks — a narrower cardinality, invariants by key — and keep the base's required
    binding beside the profile's own when they differ (checked when the profile's cannot be)."""
    if schema.derivation != "constraint":
        return
    for node in schema.by_id.values():
        base = base_element(node.base_path)
        if base is None or base is node:
            continue
        if node.slice_name is None:  # a slice holds some of the occurrences the base counts
            node.min = max(node.min, base.min)
            if base.max is not None and (node.max is None or node.max > base.max):
                node.max, node.max_text = base.max, base.max_text
        keys = {c.key for c in node.constraints}
        missing = [c for c in base.constraints if c.key not in keys]
        if missing:
            node.constraints = [*node.constraints, *missing]
            node.has_invariants = any(c.key != "ele-1" for c in node.constraints)
        if base.binding is not None and base.binding[0] == "required" and base.binding != node.binding:
            node.base_binding = base
    for node in schema.by_id.values():
        node.required = _required(node)


def _required(node: ElementDef) -> list[ElementDef]:
    """Children that must be present: their minimum, or one of their slices', is above 0."""
    return [c for c in node.children.values() if c.min > 0 or any(s.min > 0 for s in c.slices)]


def _cap(code: str) -> str:
    return code[:1].upper() + code[1:]


class JsonName(NamedTuple):
    """What a JSON property of an object names: the walk looks each property of each object up."""

    child: ElementDef  # the element
    tcode: str  # its type under this name (a choice element has one name per type: valueQuantity…)
    companion: str | None  # the "_" property beside a primitive (its id and extensions), else None


def _index_json_names(node: ElementDef) -> None:
    names: dict[str, JsonName] = {}
    for name, child in node.children.items():
        codes = [(name + _cap(t.code), t.code) for t in child.types] if child.choice else \
            [(name, child.types[0].code if child.types else "")]
        for key, code in codes:
            names[key] = JsonName(child, code, "_" + key if code in PRIMITIVES else None)
    node.json_names = names
    node.grouped = node.choice or bool(node.slices)
    node.required = _required(node)
    node.optional_ms = [c for c in node.children.values() if c.must_support and c.min == 0 and c.max != 0]


def _no_whitespace(value: str) -> bool:
    return value.isprintable() and " " not in value  # \t \n \r \v \f are not printable


# Plain-Python tests that accept exactly what some R4 regexes accept (of a non-empty string), without
# the cost of a regex match on every string, code and uri; when they say no, the regex decides.
_REGEX_SHORTCUTS: dict[str, Callable[[str], bool]] = {
    r"[ \r\n\t\S]+": lambda value: "\x0b" not in value and "\x0c" not in value,  # string, markdown
    r"\S*": _no_whitespace,  # uri, url, canonical
    r"[^\s]+(\s[^\s]+)*": _no_whitespace,  # code: no whitespace at all is the common case
}


# FHIR primitive formats: the regexes of the R4 primitive StructureDefinitions, compiled once.
@dataclass(frozen=True, slots=True)
class PrimitiveRule:
    json_kind: str  # "bool" | "int" | "number" | "str"
    regex: re.Pattern[str] | None
    max_length: int | None
    shortcut: Callable[[str], bool] | None = None  # accepts a subset of what the regex accepts, fast


@dataclass(frozen=True, slots=True)
class PrimitiveCheck:
    """What the walk checks of a value of one primitive type in one element, decided once per element."""

    rule: PrimitiveRule
    max_length: int | None  # the element's maxLength, else the type's
    value_rules: bool  # fixed, pattern, binding (the base's too) or bounds apply: check_value_rules


def primitive_check(elem: ElementDef, rule: PrimitiveRule) -> PrimitiveCheck:
    return PrimitiveCheck(rule, elem.max_length or rule.max_length, elem.fixed is not None or
                          elem.pattern is not None or elem.binding is not None or elem.base_binding is not None or
                          elem.bounds is not None)


def primitive_rule(sd: dict) -> PrimitiveRule:
    code = sd.get("type", "")
    regex = None
    max_length = None
    for element in (sd.get("snapshot") or {}).get("element") or ():
        if element.get("path") == f"{code}.value":
            max_length = element.get("maxLength")
            for t in element.get("type") or ():
                for ext in t.get("extension") or ():
                    if ext.get("url") == _REGEX_EXT and ext.get("valueString"):
                        # The FHIR regexes are Java/XML Schema ones: \s and \S are ASCII there (a
                        # non-breaking space is not whitespace), so compile them with re.ASCII.
                        regex = re.compile(ext["valueString"], re.ASCII)
    if code == "boolean":
        kind = "bool"
    elif code in ("integer", "positiveInt", "unsignedInt"):
        kind = "int"
    elif code == "decimal":
        kind = "number"
    else:
        kind = "str"
    if kind != "str" or regex is None:
        return PrimitiveRule(kind, None, max_length)
    return PrimitiveRule(kind, regex, max_length, _REGEX_SHORTCUTS.get(regex.pattern))


def describe(node: ElementDef, depth: int = 99) -> dict:
    """A JSON-able view of a compiled element tree: for debugging and snapshot tests."""
    out: dict[str, Any] = {"id": node.id, "card": f"{node.min}..{node.max_text}"}
    if node.types:
        out["types"] = [
            t.code + (f"({'|'.join(t.profiles)})" if t.profiles else "")
            + (f"->({'|'.join(t.targets)})" if t.targets else "")
            for t in node.types
        ]
    if node.fixed is not None:
        out["fixed"] = node.fixed
    if node.pattern is not None:
        out["pattern"] = node.pattern
    if node.binding:
        out["binding"] = f"{node.binding[0]} {node.binding[1]}"
    keys = [c.key for c in node.constraints if c.key != "ele-1"]
    if keys:
        out["invariants"] = keys
    if node.must_support:
        out["mustSupport"] = True
    if node.slicing:
        out["slicing"] = {
            "discriminator": [f"{t}:{p}" for t, p in node.slicing.discriminators],
            "rules": node.slicing.rules,
            "ordered": node.slicing.ordered,
        }
    if depth > 0:
        if node.slices:
            out["slices"] = {s.slice_name: describe(s, depth - 1) for s in node.slices}
        if node.children:
            out["children"] = {name: describe(c, depth - 1) for name, c in node.children.items()}
    return out
