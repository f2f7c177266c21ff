"""The FHIR R4 validator: compiled StructureDefinitions walked over JSON resources.

:class:`Validator` compiles each StructureDefinition once (see :mod:`pytest_mes.fhir.compiler`) and
keeps it; :meth:`Validator.validate` walks a resource against its base definition, its
``meta.profile`` and the requested profiles, and returns a :class:`ValidationResult` of
:class:`Issue` with FHIRPath locations such as ``Bundle.entry[2].resource.identifier[0].system``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
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
from pytest_mes.fhir.invariants import NotEvaluable, native_for
from pytest_mes.fhir.issues import Issue, Phrase, ValidationResult, make_issue, sort_issues
from pytest_mes.fhir.package import CORE_ID
from pytest_mes.fhir.references import MAX_CHAIN
from pytest_mes.fhir.resolution import Fetched, Resolver
from pytest_mes.fhir.rules import ProjectRules, bundled_rules
from pytest_mes.fhir.slicing import SliceDecision, SliceIndex
from pytest_mes.fhir.snapshot import generate_snapshot
from pytest_mes.fhir.store import PackageStore
from pytest_mes.fhir.valuesets import ValueSetExpander
from pytest_mes.fhir.walk import Walk, _kind

__all__ = ["Issue", "ValidationResult", "Validator"]

BEST_PRACTICE = ("ignore", "information", "warning", "error")  # severities a best-practice invariant may take
MAX_PASSES = 10  # walks of one resource when chains of references are cut: MAX_CHAIN deeper each time


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


class Validator:
    """Validates FHIR R4 JSON resources against base R4 and the profiles of a :class:`PackageStore`.

    Args:
        store: the loaded packages.
        must_support: report absent must-support elements as information issues.
        rules: the project's own rules, applied with the profiles they name (default:
            ``profiles/rules.yaml``; ``ProjectRules()`` for none).
        security_checks: what looks like an HTML tag in a string is an error (STRING_HTML), not a warning.
        example_urls: extensions from example domains (example.org, acme.com…) are accepted without a
            definition (information); False makes them an error (EXAMPLE_URL).
        bundle_rules: ``(rule, profile url)`` pairs: the Bundle entries a rule ``TYPE:INDEX`` selects
            (``Patient:0``, ``Patient:``, ``:2``) are validated against that profile too.
        best_practice: the severity of the invariants HL7 marks as best practice (dom-6, a resource should
            have a narrative…): ``"warning"`` (the default), ``"error"``, ``"information"``, or ``"ignore"`` (not
            checked), as the HL7 validator's ``-best-practice``.
        resolver: gives the target of a literal reference found neither in the resource (contained) nor in
            its Bundle, or None (see :mod:`pytest_mes.fhir.resolution`): a target found must be of the type
            its reference names and conform to one of the element's target profiles. Default: none, such
            targets are not judged.
    """

    def __init__(self, store: PackageStore, *, must_support: bool = True, rules: ProjectRules | None = None,
                 security_checks: bool = False, example_urls: bool = True,
                 bundle_rules: Sequence[tuple[str, str]] = (), resolver: Resolver | None = None,
                 best_practice: str = "warning"):
        if best_practice not in BEST_PRACTICE:
            raise ValueError(f"best_practice must be one of {', '.join(BEST_PRACTICE)}, not {best_practice!r}")
        self.best_practice = best_practice
        self.store = store
        self.resolver = resolver
        # (rule, profile): the Bundle entries the rule selects ("Type:index", either part may be empty, as
        # the HL7 validator's -bundle) are validated against that profile too
        self.bundle_rules = tuple(bundle_rules)
        self.must_support = must_support
        self.security_checks = security_checks  # HTML in a string or markdown: an error, not a warning
        self.example_urls = example_urls  # extensions from example domains accepted without a definition
        self.rules = bundled_rules() if rules is None else rules
        self.expander = ValueSetExpander(store)
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
        self._bindings: dict[tuple, tuple[bool | None, str, str]] = {}  # verdict per (ValueSet, codes)
        self._discriminators: dict[tuple[int, str], tuple[list[ElementDef], list[Any], list[Any]]] = {}
        self._slice_verdicts: dict[tuple[int, str, str, str], bool | None] = {}  # see value_discriminator
        self._slice_decisions: dict[tuple, SliceDecision] = {}  # see match_slice
        self._contexts_met: dict[tuple[str, str, tuple[str, str]], bool] = {}  # see check_extension_context
        self._slice_indexes: dict[ElementDef, SliceIndex | None] = {}
        # A package that a loaded one depends on is missing: a definition not found may be in it.
        self.dependencies_missing = any(store.package(dep) is None for p in store.packages for dep in p.dependencies)
        self.extensions_pack = any(p.id.startswith("hl7.fhir.uv.extensions") for p in store.packages)
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
                            sd = self.with_snapshot(sd, package.key, ckey)
                            schema = compile_structure_definition(sd, package.key)
                            self.rules.apply(schema)
                            inherit_base_rules(schema, self.base_element)
                            self._compiled[ckey] = schema
                        except ProfileError as exc:
                            self._broken[ckey] = str(exc)
            self._schemas[key] = schema
            return schema

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
        found = self.store.resolve_entry(canonical, context)
        if found is None:
            return None
        package, index = found
        sd = package.read(index)
        if sd.get("resourceType") != "StructureDefinition":
            return None
        return self.with_snapshot(sd, package.key, f"{package.key}#{index}")

    def bundle_profiles(self, rtype: str, index: int) -> list[str]:
        """The profiles `bundle_rules` give the entry `index` of a Bundle, a `rtype`."""
        found = []
        for rule, profile in self.bundle_rules:
            wanted_type, _, wanted_index = rule.partition(":")
            if wanted_type in ("", rtype) and wanted_index in ("", str(index)):
                found.append(profile)
        return found

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

    # ---- front door -----------------------------------------------------------------------------
    def validate(self, resource: Any, profiles: Sequence[str] = (), *, context: str | None = None,
                 resolver: Resolver | None = None) -> ValidationResult:
        """Validate one resource (parsed JSON) against base R4, its ``meta.profile`` and `profiles`.

        Args:
            resource: the resource, parsed JSON.
            profiles: canonical urls (``url`` or ``url|version``) it must also conform to. An unknown
                one gives an error issue "profil introuvable".
            context: a package key (``"ans.fhir.fr.gap#3.0.0"``) whose dependencies pin the version of
                unversioned canonicals (``meta.profile``, ``profiles``); default: the latest loaded. A
                package that is not loaded gives one warning issue (CONTEXT_UNKNOWN) and is ignored.
            resolver: for this validation, instead of the validator's (see :class:`Validator`).
        """
        run = Walk(self)
        resolver = resolver or self.resolver
        if resolver is not None:
            run.conformance.fetched = Fetched(resolver)
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            run.add("fatal", "NOT_A_RESOURCE", "", found=_kind(resource))
            return ValidationResult(run.issues)
        rtype = resource["resourceType"]
        if context is not None and self.store.package(context) is None:
            # Validated anyway (unversioned canonicals then resolve to the latest loaded version), but
            # said: the caller asked for a package that is not there.
            run.add("warning", "CONTEXT_UNKNOWN", rtype, context=context)
            context = None
        explicit: list[Schema] = []
        for url in profiles:
            schema = self.schema(url, context)
            if schema is None:
                reason = self.broken_reason(url)
                run.add("error", "PROFILE_NOT_FOUND", rtype, source=reason or "", url=url)
            else:
                explicit.append(schema)
        found_before = run.issues
        for _ in range(MAX_PASSES):
            run.issues = list(found_before)
            try:
                run.validate_resource(resource, rtype, explicit=explicit, context=context, contained=False)
            except RecursionError:
                # Nesting deeper than Python's stack (thousands of levels): said, not a crash.
                return ValidationResult([make_issue("fatal", "TOO_DEEP", rtype)])
            # A chain of references cut at MAX_CHAIN assumed its end conformant: the verdicts resting on
            # that are forgotten and the walk done again, now knowing the far end's verdicts.
            if not run.conformance.forget_cut():
                break
            run.done.clear()
            run.said.clear()
        else:
            run.add("information", "REF_CHAIN_CUT", rtype, depth=MAX_CHAIN * MAX_PASSES)
        return ValidationResult(sort_issues(_unshadowed([*run.issues, *run.said.values()])))


def _unshadowed(issues: list[Issue]) -> list[Issue]:
    """Without the warnings a stand-in package's rules gave (see Walk.add) that another definition reports
    as errors at the same place: the finding stands as an error, once."""
    noted = [i for i in issues if i.note is not None]
    if not noted:
        return issues
    errors = {(i.message_id, i.expression, i.args) for i in issues if i.severity in ("error", "fatal")}
    return [i for i in issues if i.note is None or (i.message_id, i.expression, i.args) not in errors]
