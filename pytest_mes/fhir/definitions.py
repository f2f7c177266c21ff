"""The StructureDefinitions of a package store, resolved, compiled once and kept: compile once, validate many.

:class:`Definitions` resolves a canonical (``url`` or ``url|version``, in a package's context), generates a
snapshot from the differential where a definition has none (see :mod:`pytest_mes.fhir.snapshot`), compiles
it (see :mod:`pytest_mes.fhir.compiler`) with the project's rules and the base definition's, and keeps the
result for every later walk. The walk (:mod:`pytest_mes.fhir.walk`) asks it, never the store, for definitions.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from pytest_mes.errors import ProfileError
from pytest_mes.fhir.canonicals import FHIR_BASE
from pytest_mes.fhir.compiler import (
    PRIMITIVES,
    Constraint,
    ElementDef,
    PrimitiveRule,
    Schema,
    TypeRef,
    compile_structure_definition,
    inherit_base_rules,
    primitive_rule,
)
from pytest_mes.fhir.discriminators import DiscriminatorPlan, SliceIndex, discriminator_plan, slice_index
from pytest_mes.fhir.invariants import NotEvaluable, native_for
from pytest_mes.fhir.issues import Phrase
from pytest_mes.fhir.package import CORE_ID
from pytest_mes.fhir.rules import ProjectRules
from pytest_mes.fhir.snapshot import generate_snapshot
from pytest_mes.fhir.store import PackageStore

_TEXT_ONLY = Phrase("règle énoncée en texte seulement, sans expression FHIRPath : à vérifier à la main",
                    "rule stated in words only, without a FHIRPath expression: to check by hand")


def _text_only(value: Any, ctx: object) -> bool:
    """A constraint stated in words only (PDSm's constr-bind-*): it cannot be evaluated, so it is said."""
    raise NotEvaluable(_TEXT_ONLY)


def _not_restated(why: Phrase) -> Callable[[Any, object], bool]:
    """A constraint in words only that the project's rules do not restate: said, with the reason."""
    reason = Phrase(f"{_TEXT_ONLY.fr} ; non reprise par les règles du projet pytest-mes : {why.fr}",
                    f"{_TEXT_ONLY.en}; not restated by the pytest-mes project rules: {why.en}")

    def unread(value: Any, ctx: object) -> bool:
        raise NotEvaluable(reason)

    return unread


class Definitions:
    """The compiled definitions of `store`, with `rules` (the project's own) applied to the profiles they name,
    and the invariants HL7 marks as best practice given the severity `best_practice` (``"ignore"``: left out).

    A definition is compiled under one lock: threads sharing the validator compile each once.
    """

    def __init__(self, store: PackageStore, rules: ProjectRules, best_practice: str = "warning"):
        self.store = store
        self.rules = rules
        self.best_practice = best_practice
        self._lock = threading.RLock()
        self._schemas: dict[tuple[str, str | None], Schema | None] = {}
        self._compiled: dict[str, Schema] = {}  # "package#index" -> schema: one compile per definition
        self._broken: dict[str, str] = {}
        self._snapshots: dict[str, dict] = {}  # "package#index" -> the definition with a generated snapshot
        self._generating: set[str] = set()
        self._types: dict[str, Schema | None] = {}
        self._primitives: dict[str, PrimitiveRule] = {}
        self._profile_types: dict[tuple[str, str | None], str | None] = {}
        self._ancestors: dict[str, frozenset[str]] = {}
        self._targets: dict[tuple[int, str | None], dict[str, list[str]] | None] = {}
        self._plans: dict[tuple[int, str], DiscriminatorPlan | None] = {}  # (slice, path) -> what it states
        self._slice_indexes: dict[ElementDef, SliceIndex | None] = {}
        # A package that a loaded one depends on is missing: a definition not found may be in it.
        self.dependencies_missing = any(store.package(dep) is None for p in store.packages for dep in p.dependencies)
        self.extensions_pack = any(p.id.startswith("hl7.fhir.uv.extensions") for p in store.packages)
        core = store.package(CORE_ID)
        self.core_key = core.key if core else None  # the R4 core package, where the base definitions are
        self.resource_types: frozenset[str] = frozenset(
            e["ty"]
            for e in (core.entries if core else ())
            if e.get("t") == "StructureDefinition" and e.get("k") == "resource" and e.get("d") == "specialization"
        )

    @property
    def compiled_count(self) -> int:
        """How many definitions have been compiled so far."""
        return len(self._compiled)

    def schema(self, canonical: str, context: str | None = None) -> Schema | None:
        """The compiled StructureDefinition for a canonical (``url`` or ``url|version``), or None."""
        key = (canonical, context)
        if key in self._schemas:
            return self._schemas[key]
        with self._lock:
            found = self.store.resolve_entry(canonical, context, resource_type="StructureDefinition")
            schema = None
            if found is not None:
                package, index = found
                ckey = f"{package.key}#{index}"
                schema = self._compiled.get(ckey)
                if schema is None and ckey not in self._broken:
                    try:
                        sd = self.with_snapshot(package.read(index), package.key, ckey)
                        schema = compile_structure_definition(sd, package.key)
                        self.rules.apply(schema)
                        inherit_base_rules(schema, self.base_element)
                        self._compiled[ckey] = schema
                    except ProfileError as exc:
                        self._broken[ckey] = str(exc)
            self._schemas[key] = schema
            return schema

    def discriminator_plan(self, s: ElementDef, path: str) -> DiscriminatorPlan | None:
        """What slice `s` states at a discriminator path (see :func:`.discriminators.discriminator_plan`)."""
        key = (id(s), path)
        if key not in self._plans:
            self._plans[key] = discriminator_plan(s, path, self.schema)
        return self._plans[key]

    def slice_index(self, base: ElementDef) -> SliceIndex | None:
        """The lookup tables of the slicing of `base`, when its slices state only strings (see
        :func:`.discriminators.slice_index`), else None."""
        if base not in self._slice_indexes:
            self._slice_indexes[base] = slice_index(base, self.discriminator_plan)
        return self._slice_indexes[base]

    def with_snapshot(self, sd: dict, package: str, key: str) -> dict:
        """`sd`, with a snapshot generated from its differential when it has none (kept per definition).

        Raises:
            ProfileError: it cannot be generated (a base not found, a circular derivation…).
        """
        if (sd.get("snapshot") or {}).get("element"):
            return sd
        found = self._snapshots.get(key)
        if found is not None:
            return found
        if key in self._generating:
            raise ProfileError(f"{sd.get('url')}: circular baseDefinition")
        self._generating.add(key)
        try:
            found = self._snapshots[key] = generate_snapshot(sd, lambda url: self.definition(url, package))
        finally:
            self._generating.discard(key)
        return found

    def definition(self, canonical: str, context: str | None) -> dict | None:
        """A StructureDefinition with its snapshot (generated if needed), or None."""
        found = self.store.resolve_entry(canonical, context, resource_type="StructureDefinition")
        if found is None:
            return None
        package, index = found
        return self.with_snapshot(package.read(index), package.key, f"{package.key}#{index}")

    def base_element(self, path: str) -> ElementDef | None:
        """The element of the base R4 definitions at `path` (``DocumentReference.status``,
        ``Attachment.contentType``): where a profile's element is stated first."""
        ts = self.type_schema(path.split(".", 1)[0])
        return ts.by_id.get(path) if ts is not None else None

    def broken_reason(self, canonical: str) -> str | None:
        found = self.store.resolve_entry(canonical)
        return self._broken.get(f"{found[0].key}#{found[1]}") if found else None

    def type_schema(self, code: str) -> Schema | None:
        """The base R4 definition of a type or resource (``"HumanName"``, ``"Patient"``)."""
        schema = self._types.get(code, False)
        if schema is False:
            schema = self.schema(FHIR_BASE + code, self.core_key) if code else None
            self._types[code] = schema
        return schema  # type: ignore[return-value]

    def primitive(self, code: str) -> PrimitiveRule | None:
        rule = self._primitives.get(code)
        if rule is None:
            sd = self.store.structure_definition(code, self.core_key)
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
            if (c.key, c.expression) in seen or c.key == "ele-1":
                continue  # ele-1 is checked structurally
            seen.add((c.key, c.expression))
            if c.best_practice:
                if self.best_practice == "ignore":
                    continue
                c = replace(c, severity=self.best_practice)
            if c.expression:
                native = native_for(c.key, c.expression)
            else:
                native = _not_restated(c.unread) if c.unread is not None else _text_only
            result.append((c, native))
        elem.invariant_plans[type_code] = result
        return result
