"""The FHIR R4 validator: compiled StructureDefinitions walked over JSON resources.

:class:`Validator` compiles each StructureDefinition once (see :mod:`pytest_mes.fhir.compiler`) and
keeps it; :meth:`Validator.validate` walks a resource against its base definition, its
``meta.profile`` and the requested profiles, and returns a :class:`ValidationResult` of
:class:`Issue` with FHIRPath locations such as ``Bundle.entry[2].resource.identifier[0].system``.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from typing import Any

from pytest_mes.errors import ProfileError
from pytest_mes.fhir import assertions
from pytest_mes.fhir.compiler import (
    PRIMITIVES,
    Constraint,
    ElementDef,
    PrimitiveRule,
    Schema,
    TypeRef,
    compile_structure_definition,
    primitive_rule,
)
from pytest_mes.fhir.invariants import (
    InvariantContext,
    NotEvaluable,
    fhirpath_invariant,
    native_for,
)
from pytest_mes.fhir.issues import Issue, ValidationResult, make_issue, sort_issues
from pytest_mes.fhir.packages import CORE_ID, FHIR_BASE, PackageStore
from pytest_mes.fhir.valuesets import ValueSetExpander

__all__ = ["Issue", "ValidationResult", "Validator"]

_INT32 = (-(2**31), 2**31 - 1)
_SEVERITY_OF_STRENGTH = {"required": "error", "extensible": "warning", "preferred": "information"}
_BINDING_MSG = {"required": "BINDING_REQUIRED", "extensible": "BINDING_EXTENSIBLE", "preferred": "BINDING_PREFERRED"}
_BINDABLE = frozenset({"code", "Coding", "CodeableConcept", "Quantity", "string", "uri"})


class Validator:
    """Validates FHIR R4 JSON resources against base R4 and the profiles of a :class:`PackageStore`.

    Args:
        store: the loaded packages.
        must_support: report absent must-support elements as information issues.
    """

    def __init__(self, store: PackageStore, *, must_support: bool = True):
        self.store = store
        self.must_support = must_support
        self.expander = ValueSetExpander(store)
        self._lock = threading.RLock()
        self._schemas: dict[tuple[str, str | None], Schema | None] = {}
        self._compiled: dict[str, Schema] = {}  # "package#index" -> schema: one compile per definition
        self._broken: dict[str, str] = {}
        self._types: dict[str, Schema | None] = {}
        self._primitives: dict[str, PrimitiveRule] = {}
        self._profile_types: dict[tuple[str, str | None], str | None] = {}
        self._ancestors: dict[str, frozenset[str]] = {}
        self._targets: dict[tuple[int, str | None], dict[str, list[str]] | None] = {}
        self._bindings: dict[tuple, tuple[bool | None, str, str]] = {}  # verdict per (ValueSet, codes)
        self._discriminators: dict[tuple[int, str], tuple[list[ElementDef], list[Any], list[Any]]] = {}
        core = store.package(CORE_ID)
        self._core_key = core.key if core else None
        self.resource_types: frozenset[str] = frozenset(
            e["ty"]
            for e in (core.entries if core else ())
            if e.get("t") == "StructureDefinition" and e.get("k") == "resource" and e.get("d") == "specialization"
        )

    # ---- definitions ----------------------------------------------------------------------------
    def schema(self, canonical: str, context: str | None = None) -> Schema | None:
        """The compiled StructureDefinition for a canonical (``url`` or ``url|version``), or None."""
        key = (canonical, context)
        if key in self._schemas:
            return self._schemas[key]
        with self._lock:
            found = self.store.resolve_entry(canonical, context)
            schema = None
            if found is not None:
                package, index = found
                ckey = f"{package.key}#{index}"
                schema = self._compiled.get(ckey)
                if schema is None and ckey not in self._broken:
                    sd = package.read(index)
                    if sd.get("resourceType") == "StructureDefinition":
                        try:
                            schema = compile_structure_definition(sd, package.key)
                            self._compiled[ckey] = schema
                        except ProfileError as exc:
                            self._broken[ckey] = str(exc)
            self._schemas[key] = schema
            return schema

    def broken_reason(self, canonical: str) -> str | None:
        found = self.store.resolve_entry(canonical)
        return self._broken.get(f"{found[0].key}#{found[1]}") if found else None

    def type_schema(self, code: str) -> Schema | None:
        """The base R4 definition of a type or resource (``"HumanName"``, ``"Patient"``)."""
        schema = self._types.get(code, False)
        if schema is False:
            schema = self.schema(FHIR_BASE + code, self._core_key) if code else None
            self._types[code] = schema
        return schema  # type: ignore[return-value]

    def primitive(self, code: str) -> PrimitiveRule | None:
        rule = self._primitives.get(code)
        if rule is None:
            sd = self.store.structure_definition(code, self._core_key)
            if sd is None:
                return None
            rule = self._primitives[code] = primitive_rule(sd)
        return rule

    def reference_targets(self, tref: TypeRef, context: str | None) -> dict[str, list[str]] | None:
        """Allowed target type -> target profiles of a Reference type; None when any type will do or a
        target profile cannot be loaded."""
        key = (id(tref), context)
        if key in self._targets:
            return self._targets[key]
        allowed: dict[str, list[str]] | None = {}
        for canonical in tref.targets:
            t = self.type_of_profile(canonical, context)
            if t is None or t == "Resource":
                allowed = None
                break
            allowed.setdefault(t, []).append(canonical)  # type: ignore[union-attr]
        self._targets[key] = allowed
        return allowed

    def ancestors(self, schema: Schema) -> frozenset[str]:
        """Canonicals (``url|version``) of the definitions `schema` derives from, through baseDefinition."""
        found = self._ancestors.get(schema.canonical)
        if found is not None:
            return found
        chain: set[str] = set()
        base, context = schema.base_definition, schema.package
        while base and len(chain) < 20:
            located = self.store.resolve_entry(base, context)
            if located is None:
                break
            package, index = located
            sd = package.read(index)
            canonical = f"{sd.get('url')}|{sd.get('version')}" if sd.get("version") else str(sd.get("url"))
            if canonical in chain:
                break
            chain.add(canonical)
            base, context = sd.get("baseDefinition"), package.key
        found = self._ancestors[schema.canonical] = frozenset(chain)
        return found

    def type_of_profile(self, canonical: str, context: str | None = None) -> str | None:
        """The resource or data type a profile constrains, from the package index (no parsing)."""
        if canonical.startswith(FHIR_BASE) and "|" not in canonical:
            return canonical[len(FHIR_BASE):]
        key = (canonical, context)
        if key not in self._profile_types:
            entry = self.store.entry(canonical, context)
            self._profile_types[key] = entry.get("ty") if entry else None
        return self._profile_types[key]

    def invariants_for(self, elem: ElementDef, type_code: str) -> list[tuple[Constraint, Any]]:
        """Invariants that apply to an element of this type: its own plus its type's root ones, each with
        a native implementation when there is one (else None: fhirpathpy)."""
        found = elem.invariant_plans.get(type_code)
        if found is not None:
            return found
        constraints = list(elem.constraints)
        if type_code and type_code not in PRIMITIVES and elem.schema.root is not elem:
            ts = self.type_schema(type_code)
            if ts is not None:
                constraints.extend(ts.root.constraints)
        seen: set[tuple[str, str | None]] = set()
        result: list[tuple[Constraint, Any]] = []
        for c in constraints:
            if (c.key, c.expression) in seen or c.key == "ele-1" or not c.expression:
                continue  # ele-1 is checked structurally; text-only constraints cannot be enforced
            seen.add((c.key, c.expression))
            native = native_for(c.key, c.expression) if c.expression else None
            result.append((c, native))
        elem.invariant_plans[type_code] = result
        return result

    # ---- front door -----------------------------------------------------------------------------
    def validate(self, resource: Any, profiles: Sequence[str] = (), *, context: str | None = None
                 ) -> ValidationResult:
        """Validate one resource (parsed JSON) against base R4, its ``meta.profile`` and `profiles`.

        Args:
            resource: the resource, parsed JSON.
            profiles: canonical urls (``url`` or ``url|version``) it must also conform to. An unknown
                one gives an error issue "profil introuvable".
            context: a package key (``"ans.fhir.fr.gap#3.0.0"``) whose dependencies pin the version of
                unversioned canonicals (``meta.profile``, ``profiles``); default: the latest loaded.
        """
        run = _Run(self)
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            run.add("fatal", "NOT_A_RESOURCE", "", found=_kind(resource))
            return ValidationResult(run.issues)
        rtype = resource["resourceType"]
        explicit: list[Schema] = []
        for url in profiles:
            schema = self.schema(url, context)
            if schema is None:
                reason = self.broken_reason(url)
                run.add("error", "PROFILE_NOT_FOUND", rtype, source=reason or "", url=url)
            else:
                explicit.append(schema)
        run.validate_resource(resource, rtype, explicit=explicit, context=context, contained=False)
        return ValidationResult(sort_issues(run.issues))

    def conforms(self, resource: dict, profile: str, context: str | None = None) -> bool:
        """True when `resource` has no error against `profile` (and base R4)."""
        schema = self.schema(profile, context)
        if schema is None:
            return False
        run = _Run(self)
        run.validate_resource(resource, resource.get("resourceType", ""), explicit=[schema], contained=False)
        return not any(i.severity in ("error", "fatal") for i in run.issues)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "booléen"
    if isinstance(value, dict):
        return "objet"
    if isinstance(value, list):
        return "tableau"
    if isinstance(value, str):
        return "chaîne"
    if isinstance(value, int | float):
        return "nombre"
    return "null" if value is None else type(value).__name__


def _cap(code: str) -> str:
    return code[:1].upper() + code[1:]


_JSON_KIND_TEXT = {"bool": "booléen JSON", "int": "entier JSON", "number": "nombre JSON", "str": "chaîne JSON"}


class _Run:
    """The state of one validation: issues, the resources being walked, Bundles for reference resolution."""

    __slots__ = ("bundles", "conf_memo", "container", "done", "issues", "pkg", "resource", "root", "v")

    def __init__(self, validator: Validator):
        self.v = validator
        self.issues: list[Issue] = []
        self.done: set[tuple[int, str]] = set()
        self.conf_memo: dict[tuple[int, str], bool] = {}
        self.bundles: list[dict[str, dict]] = []
        self.resource: dict = {}
        self.root: dict = {}
        self.pkg: str | None = None  # package of the profile being walked: context for unversioned urls
        self.container: tuple[str, str] = ("", "")  # (element path, type) holding the extensions being checked

    def add(self, severity: str, message_id: str, expression: str, source: str = "", **values: Any) -> None:
        self.issues.append(make_issue(severity, message_id, expression, source, **values))

    # ---- resources ------------------------------------------------------------------------------
    def validate_resource(
        self,
        res: Any,
        loc: str,
        *,
        explicit: Sequence[Schema] = (),
        slice_profiles: Sequence[str] = (),
        context: str | None = None,
        contained: bool = False,
        declared: bool = True,
    ) -> None:
        """Validate a resource against its base definition (unless a profile of it applies), the
        profiles a slice or type demands, and (when `declared`) its ``meta.profile``."""
        v = self.v
        if not isinstance(res, dict) or not isinstance(res.get("resourceType"), str):
            self.add("error", "NOT_A_RESOURCE", loc, found=_kind(res))
            return
        rtype = res["resourceType"]
        if rtype not in v.resource_types:
            self.add("error", "UNKNOWN_RESOURCE_TYPE", loc, type=rtype)
            return
        schemas: list[Schema] = []
        for schema in explicit:
            if schema.type != rtype:
                self.add("error", "PROFILE_WRONG_TYPE", loc, source=schema.canonical, url=schema.canonical,
                         expected=schema.type, type=rtype)
            else:
                schemas.append(schema)
        meta = res.get("meta")
        meta_profiles = meta.get("profile") if isinstance(meta, dict) and declared else None
        wanted: list[tuple[str, bool]] = [(p, False) for p in slice_profiles]
        if isinstance(meta_profiles, list):
            wanted.extend((p, True) for p in meta_profiles if isinstance(p, str))
        for url, from_meta in wanted:
            if url.startswith(FHIR_BASE) and url[len(FHIR_BASE):] == rtype:
                continue  # the base definition is checked anyway
            schema = v.schema(url, context)
            if schema is None:
                self.add("warning", "META_PROFILE_NOT_FOUND", loc, source=v.broken_reason(url) or "", url=url)
                continue
            if schema.type != rtype:
                self.add("error", "PROFILE_WRONG_TYPE", loc, source=schema.canonical, url=url, expected=schema.type,
                         type=rtype)
                continue
            if from_meta or schema not in schemas:
                schemas.append(schema)
        # A snapshot carries every constraint of the definitions it derives from: walking a profile's
        # ancestor too (gap-fr-appointment and its parent fr-core-appointment, both declared) or the
        # base definition would only repeat the same findings.
        if len(schemas) > 1:
            inherited = set().union(*(v.ancestors(s) for s in schemas))
            schemas = [s for s in schemas if s.canonical not in inherited]
        if not any(s.type == rtype for s in schemas):
            base = v.type_schema(rtype)
            if base is None:
                self.add("error", "UNKNOWN_RESOURCE_TYPE", loc, type=rtype)
                return
            schemas.insert(0, base)
        saved = (self.resource, self.root, self.pkg)
        self.resource = res
        if not contained:
            self.root = res
        pushed = False
        if rtype == "Bundle":
            self.bundles.append(_bundle_index(res))
            pushed = True
        try:
            for schema in schemas:
                key = (id(res), schema.canonical)
                if key in self.done or schema.type != rtype:
                    continue
                self.done.add(key)
                if schema.package != v._core_key:
                    self.pkg = schema.package
                elif context is not None:
                    self.pkg = context
                self.check_object(schema.root, res, loc, rtype, schema.root)
        finally:
            if pushed:
                self.bundles.pop()
            self.resource, self.root, self.pkg = saved

    # ---- complex elements -----------------------------------------------------------------------
    def holder_for(self, elem: ElementDef, type_code: str) -> ElementDef | None:
        """The node whose children describe an instance of `elem`: itself when the snapshot unrolls it,
        else the root of its type's definition."""
        if elem.children:
            return elem
        if elem.content_reference:
            return self.content_target(elem)
        ts = self.v.type_schema(type_code)
        return ts.root if ts is not None else None

    def unrolled_elsewhere(self, holder: ElementDef, type_code: str, key: str) -> tuple[ElementDef, str] | None:
        """A child a (hand-made) snapshot left out of a partially unrolled element: its type defines it."""
        if holder.schema.root is holder or type_code in ("BackboneElement", "Element", "") or \
                type_code in self.v.resource_types:
            return None
        ts = self.v.type_schema(type_code)
        return ts.root.json_names.get(key) if ts is not None else None

    def content_target(self, elem: ElementDef) -> ElementDef | None:
        ref = elem.content_reference or ""
        target_id = ref.split("#", 1)[1] if "#" in ref else ref
        node = elem.schema.by_id.get(target_id)
        if node is None:
            ts = self.v.type_schema(target_id.split(".", 1)[0])
            node = ts.by_id.get(target_id) if ts else None
        return node

    def check_object(self, holder: ElementDef, obj: Any, loc: str, type_code: str, elem: ElementDef) -> None:
        """Check a JSON object against the children of `holder`; `elem` carries the element's own rules."""
        if not isinstance(obj, dict):
            self.add("error", "NOT_AN_OBJECT", loc, elem.schema.source(elem), type=type_code, found=_kind(obj))
            return
        if not obj or (len(obj) == 1 and "id" in obj):
            self.add("error", "EMPTY_OBJECT", loc, "ele-1")
            return
        names = holder.json_names
        is_root = holder.schema.root is holder and holder.schema.kind == "resource"
        groups: dict[ElementDef, list[tuple[Any, Any, str, str]]] = {}
        for key, val in obj.items():
            if key[0] == "_":
                base_key = key[1:]
                hit = names.get(base_key)
                if hit is None or hit[1] not in PRIMITIVES:
                    self.add("error", "UNKNOWN_ELEMENT", f"{loc}.{key}", holder.schema.source(holder), name=key,
                             type=holder.path)
                elif base_key not in obj:
                    self.collect(hit[0], hit[1], base_key, None, val, loc, groups)
                continue
            hit = names.get(key)
            if hit is None and key != "resourceType":
                hit = self.unrolled_elsewhere(holder, type_code, key)
            if hit is None:
                if key == "resourceType" and is_root:
                    continue
                self.add("error", "UNKNOWN_ELEMENT", f"{loc}.{key}", holder.schema.source(holder), name=key,
                         type=holder.path)
                continue
            child, tcode = hit
            companion = obj.get("_" + key) if tcode in PRIMITIVES else None
            # Fast paths for the common shapes; anything unusual goes through collect().
            if companion is None and val is not None:
                if child.is_array:
                    if type(val) is list and val and None not in val:
                        bucket = groups.setdefault(child, [])
                        for i, x in enumerate(val):
                            bucket.append((x, None, tcode, f"{loc}.{key}[{i}]"))
                        continue
                elif type(val) is not list:
                    groups.setdefault(child, []).append((val, None, tcode, f"{loc}.{key}"))
                    continue
            self.collect(child, tcode, key, val, companion, loc, groups)

        saved_container = self.container
        for child, items in groups.items():
            n = len(items)
            if n < child.min:
                self.add("error", "CARD_MIN", loc, holder.schema.source(child), count=n, name=child.name,
                         min=child.min, max=child.max_text)
            elif child.max is not None and n > child.max:
                self.add("error", "CARD_MAX", loc, holder.schema.source(child), count=n, name=child.name,
                         min=child.min, max=child.max_text)
            if not n:
                continue
            if child.name in ("extension", "modifierExtension"):
                self.container = (elem.path, type_code)
            if child.slices:
                self.check_slices(child, items, loc)
            else:
                for value, ext, tcode, iloc in items:
                    if tcode in PRIMITIVES:
                        self.check_primitive(child, value, ext, tcode, iloc)
                    else:
                        self.check_item(child, value, ext, tcode, iloc)
        for child in holder.required:
            if child not in groups:
                self.add("error", "CARD_MIN", loc, holder.schema.source(child), count=0, name=child.name,
                         min=child.min, max=child.max_text)
        if self.v.must_support and holder.optional_ms and holder.schema.derivation == "constraint":
            for child in holder.optional_ms:
                if not groups.get(child):
                    self.add("information", "MUST_SUPPORT", loc, holder.schema.source(child), name=child.name)
        self.container = saved_container
        self.check_invariants(elem, type_code, obj, loc)

    def collect(
        self, child: ElementDef, tcode: str, key: str, val: Any, companion: Any, loc: str,
        groups: dict[ElementDef, list[tuple[Any, Any, str, str]]],
    ) -> None:
        """Split one JSON property (and its ``_`` companion) into items with their locations."""
        bucket = groups.setdefault(child, [])
        if child.is_array:
            values = val
            if val is not None and not isinstance(val, list):
                self.add("error", "ARRAY_EXPECTED", f"{loc}.{key}", child.schema.source(child), name=key,
                         found=_kind(val))
                values = [val]
            exts = companion
            if companion is not None and not isinstance(companion, list):
                self.add("error", "ARRAY_EXPECTED", f"{loc}._{key}", child.schema.source(child), name="_" + key,
                         found=_kind(companion))
                exts = [companion]
            if values is not None and exts is not None and len(values) != len(exts):
                self.add("error", "COMPANION_MISMATCH", f"{loc}.{key}", child.schema.source(child), name=key)
            size = max(len(values or ()), len(exts or ()))
            if size == 0:
                self.add("error", "EMPTY_ARRAY", f"{loc}.{key}", child.schema.source(child), name=key)
                return
            for i in range(size):
                value = values[i] if values is not None and i < len(values) else None
                ext = exts[i] if exts is not None and i < len(exts) else None
                if value is None and ext is None:
                    self.add("error", "NULL_VALUE", f"{loc}.{key}[{i}]", child.schema.source(child), name=key)
                    continue
                bucket.append((value, ext, tcode, f"{loc}.{key}[{i}]"))
        else:
            if isinstance(val, list) or isinstance(companion, list):
                # Reported once; the values are still checked so that one mistake gives one error.
                self.add("error", "SINGLE_EXPECTED", f"{loc}.{key}", child.schema.source(child), name=key)
                values = val if isinstance(val, list) else [val]
                exts = companion if isinstance(companion, list) else [companion]
                for i in range(max(len(values), len(exts))):
                    value = values[i] if i < len(values) else None
                    ext = exts[i] if i < len(exts) else None
                    if value is not None or ext is not None:
                        bucket.append((value, ext, tcode, f"{loc}.{key}"))
                return
            if val is None and companion is None:
                self.add("error", "NULL_VALUE", f"{loc}.{key}", child.schema.source(child), name=key)
                return
            bucket.append((val, companion, tcode, f"{loc}.{key}"))

    def check_item(self, elem: ElementDef, value: Any, ext: Any, tcode: str, loc: str) -> None:
        """Check one occurrence of `elem` (type `tcode`) at `loc`."""
        if not tcode and elem.content_reference:
            target = self.content_target(elem)
            if target is None:
                return
            tcode = target.types[0].code if target.types else "BackboneElement"
            self.check_object(target, value, loc, tcode, target)
            return
        if tcode in PRIMITIVES:
            self.check_primitive(elem, value, ext, tcode, loc)
            return
        if tcode == "Resource" or tcode in self.v.resource_types:
            tref = elem.type_ref(tcode)
            self.validate_resource(
                value,
                loc,
                slice_profiles=tref.profiles if tref else (),
                context=elem.schema.package,
                contained=elem.path.endswith(".contained"),
            )
            return
        if not isinstance(value, dict):
            self.add("error", "NOT_AN_OBJECT", loc, elem.schema.source(elem), type=tcode, found=_kind(value))
            return
        if tcode == "Extension":
            self.check_extension(elem, value, loc)
        else:
            tref = elem.type_ref(tcode)
            checked = False
            if tref is not None and tref.profiles:
                for profile in tref.profiles:
                    ps = self.v.schema(profile, elem.schema.package)
                    if ps is None:
                        self.add("information", "TYPE_PROFILE_NOT_FOUND", loc, elem.schema.source(elem), url=profile)
                    elif ps.derivation == "constraint":
                        self.check_object(ps.root, value, loc, tcode, ps.root)
                        checked = checked or not elem.children
            if not checked:
                holder = self.holder_for(elem, tcode)
                if holder is not None:
                    self.check_object(holder, value, loc, tcode, elem)
            if tcode == "Reference":
                self.check_reference(elem, tref, value, loc)
        self.check_value_rules(elem, value, tcode, loc)

    def check_value_rules(self, elem: ElementDef, value: Any, tcode: str, loc: str) -> None:
        if elem.fixed is not None and not assertions.fixed_matches(elem.fixed, value):
            self.add("error", "FIXED", loc, elem.schema.source(elem), actual=assertions.render(value),
                     expected=assertions.render(elem.fixed))
        if elem.pattern is not None and not assertions.pattern_matches(elem.pattern, value):
            self.add("error", "PATTERN", loc, elem.schema.source(elem), actual=assertions.render(value),
                     expected=assertions.render(elem.pattern))
        if elem.binding is not None and tcode in _BINDABLE:
            self.check_binding(elem, value, tcode, loc)

    def check_binding(self, elem: ElementDef, value: Any, tcode: str, loc: str) -> None:
        strength, valueset = elem.binding  # type: ignore[misc]
        severity = _SEVERITY_OF_STRENGTH.get(strength)
        if severity is None:
            return  # example bindings are not checked, as in the HL7 validator
        pairs = tuple(assertions.codings_of(value, tcode))
        key = (valueset, elem.schema.package, pairs)
        cached = self.v._bindings.get(key)
        if cached is None:
            cached = assertions.binding_verdict(self.v.expander, valueset, elem.schema.package, value, tcode)
            self.v._bindings[key] = cached
        verdict, rendered, why = cached
        source = f"{elem.schema.source(elem)} binding {strength} {valueset}"
        if verdict is False:
            self.add(severity, _BINDING_MSG[strength], loc, source, code=rendered, valueset=valueset)
        elif verdict is None and strength in ("required", "extensible"):
            self.add("information", "BINDING_NOT_CHECKED", loc, source, code=rendered, valueset=valueset, why=why)

    # ---- primitives -----------------------------------------------------------------------------
    def check_primitive(self, elem: ElementDef, value: Any, ext: Any, tcode: str, loc: str) -> None:
        if value is not None:
            rule = self.v._primitives.get(tcode) or self.v.primitive(tcode)
            if rule is not None and self.check_json_kind(rule, value, tcode, loc, elem):
                if rule.json_kind == "str":
                    if not value or (tcode != "xhtml" and value.isspace()):
                        self.add("error", "EMPTY_STRING", loc, elem.schema.source(elem))
                    elif rule.regex is not None and rule.regex.fullmatch(value) is None:
                        self.add("error", "BAD_FORMAT", loc, elem.schema.source(elem), value=_short(value),
                                 type=tcode)
                    limit = elem.max_length or rule.max_length
                    if limit and len(value) > limit:
                        self.add("error", "MAX_LENGTH", loc, elem.schema.source(elem), length=len(value), max=limit)
                elif rule.json_kind == "int":
                    low = 1 if tcode == "positiveInt" else 0 if tcode == "unsignedInt" else _INT32[0]
                    if not low <= value <= _INT32[1]:
                        self.add("error", "INTEGER_RANGE", loc, elem.schema.source(elem), value=value, type=tcode)
                if elem.fixed is not None or elem.pattern is not None or elem.binding is not None:
                    self.check_value_rules(elem, value, tcode, loc)
        if ext is not None:
            ts = self.v.type_schema(tcode)
            if not isinstance(ext, dict):
                self.add("error", "NOT_AN_OBJECT", loc, elem.schema.source(elem), type="Element", found=_kind(ext))
            elif ts is not None:
                self.check_object(ts.root, ext, loc, tcode, elem)
        elif value is None:
            self.add("error", "EMPTY_OBJECT", loc, "ele-1")
        if elem.has_invariants:
            self.check_invariants(elem, tcode, value, loc)

    def check_json_kind(self, rule: PrimitiveRule, value: Any, tcode: str, loc: str, elem: ElementDef) -> bool:
        kind = rule.json_kind
        if kind == "str":
            ok = isinstance(value, str)
        elif kind == "bool":
            ok = isinstance(value, bool)
        elif kind == "int":
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok:
            self.add("error", "WRONG_JSON_TYPE", loc, elem.schema.source(elem), found=_kind(value), type=tcode,
                     expected=_JSON_KIND_TEXT[kind])
        return ok

    # ---- invariants -----------------------------------------------------------------------------
    def check_invariants(self, elem: ElementDef, tcode: str, value: Any, loc: str) -> None:
        plans = elem.invariant_plans.get(tcode)
        if plans is None:
            plans = self.v.invariants_for(elem, tcode)
        if not plans:
            return
        ctx = None
        for constraint, native in plans:
            if ctx is None:
                ctx = InvariantContext(self.resource, self.root)
            try:
                if native is not None:
                    try:
                        ok = native(value, ctx)
                    except (AttributeError, TypeError, KeyError) as exc:  # malformed input the walk reports
                        raise NotEvaluable(f"entrée mal formée ({exc.__class__.__name__})") from exc
                else:
                    if elem is elem.schema.root and elem.schema.kind == "resource":
                        base = ""  # the resource carries its type; fhirpathpy mis-resolves "Type." with a base
                    elif elem.choice or elem.schema.kind != "resource":
                        base = tcode
                    else:
                        base = elem.path
                    ok = fhirpath_invariant(constraint.expression).evaluate(value, base, ctx)
            except NotEvaluable as exc:
                self.add("information", "INVARIANT_NOT_CHECKED", loc, f"{constraint.key} ({constraint.source})",
                         key=constraint.key, why=str(exc))
                continue
            if not ok:
                severity = "error" if constraint.severity == "error" else "warning"
                self.add(severity, "INVARIANT", loc, f"{constraint.key} ({constraint.source})", key=constraint.key,
                         human=constraint.human or constraint.expression)

    # ---- extensions -----------------------------------------------------------------------------
    def check_extension(self, elem: ElementDef, obj: dict, loc: str) -> None:
        url = obj.get("url")
        if not isinstance(url, str) or ":" not in url:
            # A sub-extension of a complex extension (relative url): described by the slice itself.
            holder = self.holder_for(elem, "Extension")
            if holder is not None:
                self.check_object(holder, obj, loc, "Extension", elem)
            return
        package = elem.schema.package
        if package == self.v._core_key and self.pkg is not None:
            package = self.pkg  # e.g. an FR Core extension inside an R4 core extension's Address
        schema = self.v.schema(url, package)
        if schema is None:
            self.add("warning", "EXTENSION_UNKNOWN", loc, url=url)
            holder = self.holder_for(elem, "Extension")
            if holder is not None:
                self.check_object(holder, obj, loc, "Extension", elem)
            return
        self.check_extension_context(schema, url, loc)
        saved = self.container  # nested extensions change it; siblings need it back
        self.check_object(schema.root, obj, loc, "Extension", schema.root)
        self.container = saved

    def check_extension_context(self, schema: Schema, url: str, loc: str) -> None:
        """The extension's declared contexts (type "element") must include where it is used."""
        contexts = [c for c in schema.context if isinstance(c, dict)]
        if not contexts or any(c.get("type") != "element" for c in contexts):
            return  # fhirpath / extension contexts are not judged here
        path, type_code = self.container
        resource_root = "." not in path and type_code in self.v.resource_types
        for c in contexts:
            expr = str(c.get("expression", ""))
            if expr in ("Element", "Base", path, type_code) or path.endswith("." + expr):
                return
            if resource_root and expr in ("Resource", "DomainResource"):
                return
            if expr.removesuffix("[x]") == path.removesuffix("[x]"):
                return
        self.add("error", "EXTENSION_CONTEXT", loc, schema.canonical, url=url,
                 contexts=", ".join(str(c.get("expression")) for c in contexts))

    # ---- references -----------------------------------------------------------------------------
    def resolve_reference(self, ref: str) -> tuple[dict | None, str | None]:
        """(resolved resource or None, type) of a reference string, within the resource or its Bundles."""
        if ref.startswith("#"):
            for c in _as_list(self.root.get("contained")):
                if isinstance(c, dict) and c.get("id") == ref[1:]:
                    return c, c.get("resourceType")
            return None, None
        for index in reversed(self.bundles):
            found = index.get(ref)
            if found is None and not ref.startswith(("urn:", "http:", "https:")):
                found = index.get("/" + ref)
            if found is not None:
                return found, found.get("resourceType")
        if ref.startswith("urn:"):
            return None, None
        parts = ref.split("/")
        if "_history" in parts:
            parts = parts[: parts.index("_history")]
        if len(parts) >= 2 and parts[-2] in self.v.resource_types:
            return None, parts[-2]
        return None, None

    def check_reference(self, elem: ElementDef, tref: TypeRef | None, obj: dict, loc: str) -> None:
        ref = obj.get("reference")
        if not isinstance(ref, str) or tref is None:
            return
        if tref.aggregation == ("contained",) and not ref.startswith("#"):
            self.add("error", "REF_NOT_CONTAINED", f"{loc}.reference", elem.schema.source(elem), reference=ref)
        target, ttype = self.resolve_reference(ref)
        if ttype is None and isinstance(obj.get("type"), str):
            ttype = obj["type"]
        if not tref.targets or ttype is None:
            return
        allowed = self.v.reference_targets(tref, elem.schema.package)
        if allowed is None:
            return  # a target profile we cannot load, or any resource: the type cannot be judged
        if ttype not in allowed:
            self.add("error", "REF_TARGET_TYPE", f"{loc}.reference", elem.schema.source(elem), type=ttype,
                     allowed=", ".join(sorted(allowed)))
            return
        if target is None:
            return
        profiles = [p for p in allowed[ttype] if p.split("|")[0] != FHIR_BASE + ttype]
        if not profiles or len(profiles) < len(allowed[ttype]):
            return  # the base type is allowed: any instance of it will do
        if not any(self.conforms(target, p, elem.schema.package) for p in profiles):
            self.add("error", "REF_TARGET_PROFILE", f"{loc}.reference", elem.schema.source(elem), target=ref,
                     profiles=", ".join(profiles))

    def conforms(self, resource: dict, profile: str, context: str | None) -> bool:
        key = (id(resource), profile)
        found = self.conf_memo.get(key)
        if found is None:
            self.conf_memo[key] = True  # assume conformance while checking: breaks reference cycles
            schema = self.v.schema(profile, context)
            if schema is None:
                found = True  # not loadable: cannot be judged here (reported where the profile is used)
            elif schema.type != resource.get("resourceType"):
                found = False
            else:
                sub = _Run(self.v)
                sub.bundles = self.bundles
                sub.conf_memo = self.conf_memo
                sub.root = self.root if any(resource is c for c in _as_list(self.root.get("contained"))) else resource
                sub.validate_resource(resource, "x", explicit=[schema], context=context,
                                      contained=sub.root is not resource, declared=False)
                found = not any(i.severity in ("error", "fatal") for i in sub.issues)
            self.conf_memo[key] = found
        return found

    # ---- slicing --------------------------------------------------------------------------------
    def check_slices(self, base: ElementDef, items: list[tuple[Any, Any, str, str]], loc: str) -> None:
        slicing = base.slicing
        slices = base.slices
        discriminators = slicing.discriminators if slicing else ()
        rules = slicing.rules if slicing else "open"
        counts = dict.fromkeys(range(len(slices)), 0)
        assigned: list[tuple[ElementDef, tuple[Any, Any, str, str]]] = []
        last = -1
        unmatched_seen = False
        maybe = dict.fromkeys(range(len(slices)), 0)  # items that could not be ruled in or out
        for item in items:
            match = -1
            candidates: list[int] = []
            for i, s in enumerate(slices):
                verdict = self.slice_matches(s, item, discriminators, base)
                if verdict is True:
                    match = i
                    break
                if verdict is None:
                    candidates.append(i)
            if match < 0 and len(candidates) == 1:
                # Only one slice is possible; part of its discriminator needs a ValueSet we cannot expand.
                match = candidates[0]
                self.add("information", "SLICE_ASSUMED", item[3], base.schema.source(base), name=base.name,
                         slice=slices[match].slice_name)
            elif match < 0 and candidates:
                for i in candidates:
                    maybe[i] += 1
                self.add("information", "SLICE_NOT_CHECKED", item[3], base.schema.source(base), name=base.name)
                assigned.append((base, item))
                continue
            if match < 0:
                unmatched_seen = True
                if rules == "closed":
                    names = ", ".join(s.slice_name or "?" for s in slices)
                    self.add("error", "SLICE_CLOSED", item[3], base.schema.source(base), name=base.name, slices=names)
                assigned.append((base, item))
                continue
            if rules == "openAtEnd" and unmatched_seen:
                self.add("error", "SLICE_OPEN_AT_END", item[3], base.schema.source(base), name=base.name)
            if slicing is not None and slicing.ordered and match < last:
                self.add("error", "SLICE_ORDER", item[3], base.schema.source(base), slice=slices[match].slice_name,
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
            if node is not base and node.slices:
                self.check_slices(node, [(value, ext, tcode, iloc)], iloc.rsplit(".", 1)[0])
            else:
                self.check_item(node, value, ext, tcode, iloc)

    def slice_matches(self, s: ElementDef, item: tuple[Any, Any, str, str], discriminators: tuple, base: ElementDef
                      ) -> bool | None:
        """True, False, or None when a discriminator cannot be evaluated offline."""
        value, _, tcode, _ = item
        if not discriminators:
            # Type slices of a choice element (value[x]:valueQuantity) carry no discriminator in some snapshots.
            return base.choice and tcode in s.type_codes
        result: bool | None = True
        for dtype, path in discriminators:
            verdict = self.discriminator_matches(s, value, tcode, dtype, path)
            if verdict is False:
                return False
            if verdict is None:
                result = None
        return result

    def discriminator_matches(self, s: ElementDef, value: Any, tcode: str, dtype: str, path: str) -> bool | None:
        plan = self.discriminator_plan(s, path)
        if plan is None:
            return None  # the slice's type profile is in a package we do not have
        nodes, fixed_values, pattern_values = plan
        values = self.eval_path(value, tcode, path)
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
                        verdict, _, _ = assertions.binding_verdict(
                            self.v.expander, node.binding[1], node.schema.package, val, vtype or node.type_codes[0]
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
            expected_types = set(node.type_codes)
            return any(vt in expected_types for _, vt in values)
        if dtype == "profile":
            if node is None:
                return True
            resolved = path.endswith("resolve()")
            for val, _ in values:
                if not isinstance(val, dict):
                    continue
                for t in node.types:
                    for profile in t.targets if resolved else t.profiles:
                        if self.conforms(val, profile, node.schema.package):
                            return True
            return False
        return False

    def discriminator_plan(self, s: ElementDef, path: str) -> tuple[list[ElementDef], list[Any], list[Any]] | None:
        """(definitions, fixed values, pattern values) a slice states at a discriminator path; computed once."""
        key = (id(s), path)
        plan = self.v._discriminators.get(key)
        if plan is not None or key in self.v._discriminators:
            return plan
        nodes, carried = _slice_definition(s, path)
        missing = False
        if not nodes and not carried and path not in ("$this", "url", "resource", "resolve()"):
            # The discriminating element may be constrained by the slice's type profile, not unrolled here.
            for t in s.types:
                for profile in t.profiles:
                    ps = self.v.schema(profile, s.schema.package)
                    if ps is None:
                        missing = True
                        continue
                    more, more_carried = _slice_definition(ps.root, path)
                    nodes.extend(more)
                    carried.extend(more_carried)
        if missing and not nodes and not carried:
            self.v._discriminators[key] = None  # type: ignore[assignment]
            return None
        fixed_values = [n.fixed for n in nodes if n.fixed is not None]
        pattern_values = carried + [n.pattern for n in nodes if n.pattern is not None]
        if not fixed_values and not pattern_values and path in ("url", "$this.url"):
            # Extension slices rarely unroll `url`: the extension's profile is its url.
            pattern_values = [p.split("|")[0] for t in s.types for p in t.profiles]
        plan = (nodes, fixed_values, pattern_values)
        self.v._discriminators[key] = plan
        return plan

    def eval_path(self, value: Any, tcode: str, path: str) -> list[tuple[Any, str]]:
        """Evaluate a discriminator path (the FHIRPath subset slicing allows) on one item."""
        current: list[tuple[Any, str]] = [(value, tcode)]
        for segment in _split_path(path):
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
                        for e in _as_list(val.get(name)):
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
                                t = t if t[:1].isupper() and t not in _PRIMITIVE_CAPS else _PRIMITIVE_CAPS.get(t, t)
                                for x in sub if isinstance(sub, list) else [sub]:
                                    nxt.append((x, t))
            current = nxt
        return current


_PRIMITIVE_CAPS = {_cap(p): p for p in PRIMITIVES}


@functools.lru_cache(maxsize=4096)
def _split_path(path: str) -> list[str]:
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
    parts = [p for p in _split_path(path) if p != "$this"]
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


def _extract(value: Any, parts: list[str]) -> Any:
    for part in parts:
        if isinstance(value, list):
            value = value[0] if value else None
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _bundle_index(bundle: dict) -> dict[str, dict]:
    """fullUrl -> resource for the entries of a Bundle; also keyed by "/Type/id" for relative references."""
    index: dict[str, dict] = {}
    for entry in _as_list(bundle.get("entry")):
        if not isinstance(entry, dict):
            continue
        resource = entry.get("resource")
        if not isinstance(resource, dict):
            continue
        full = entry.get("fullUrl")
        if isinstance(full, str):
            index[full] = resource
        rtype, rid = resource.get("resourceType"), resource.get("id")
        if isinstance(rtype, str) and isinstance(rid, str):
            index.setdefault(f"/{rtype}/{rid}", resource)
    return index


def _as_list(value: Any) -> list:
    """A JSON array as a list; anything else (absent, wrong shape) as no items — shape errors are reported
    by the walk, helpers must not crash on them."""
    return value if isinstance(value, list) else []


def _short(value: str, limit: int = 80) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"
