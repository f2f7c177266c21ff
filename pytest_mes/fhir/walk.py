"""The walk of one validation: a resource's JSON against compiled element trees.

:class:`Walk` holds the state of one :meth:`Validator.validate` call (issues, the resources being
walked, the Bundles that resolve references) and visits resources, complex elements, primitives,
invariants and extensions; slicing and references are its base classes, one chain (:mod:`.slicing`, on
:mod:`.references`). The definitions it reads come from the validator's :class:`Definitions` (``self.defs``),
the options and the verdicts kept across walks from the :class:`Validator` (``self.v``).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pytest_mes.errors import ProfileError
from pytest_mes.fhir import assertions
from pytest_mes.fhir.bundles import bundle_issues
from pytest_mes.fhir.canonicals import FHIR_BASE, Resolve, Substitution
from pytest_mes.fhir.compiler import (
    PRIMITIVES,
    Constraint,
    ElementDef,
    JsonName,
    PrimitiveCheck,
    PrimitiveRule,
    Schema,
    primitive_check,
)
from pytest_mes.fhir.differentials import loosened, redefined_slicings, unbindable_bindings, unparsable_invariants
from pytest_mes.fhir.invariants import InvariantContext, NotEvaluable, fhirpath_invariant
from pytest_mes.fhir.issues import Issue, Phrase, location_key, make_issue, no_error
from pytest_mes.fhir.measures import LibraryNames, measure_issues, measure_report_issues
from pytest_mes.fhir.narrative import narrative_bad_elements, narrative_sections
from pytest_mes.fhir.operation_definitions import operation_definition_issues
from pytest_mes.fhir.questionnaires import questionnaire_response_issues
from pytest_mes.fhir.references import Conformance, _bundle_index
from pytest_mes.fhir.search_parameters import search_parameter_issues
from pytest_mes.fhir.slicing import Item, SlicingChecks
from pytest_mes.fhir.snapshot import (
    DifferentialOrderError,
    bad_discriminator_paths,
    changed_fixed_values,
    generate_snapshot,
)
from pytest_mes.fhir.valuesets import NotLoaded

if TYPE_CHECKING:
    from pytest_mes.fhir.definitions import Definitions
    from pytest_mes.fhir.validator import Validator

_INT32 = (-(2**31), 2**31 - 1)
# Objects checked one inside the other, beyond which a document is TOO_DEEP (a resource nests a few dozen at most;
# the pure-Python walk reaches Python's recursion limit near 250).
MAX_DEPTH = 200
_SEVERITY_OF_STRENGTH = {"required": "error", "extensible": "warning", "preferred": "information"}
_BINDING_MSG = {"required": "BINDING_REQUIRED", "extensible": "BINDING_EXTENSIBLE", "preferred": "BINDING_PREFERRED"}
_BINDABLE = frozenset({"code", "Coding", "CodeableConcept", "Quantity", "string", "uri"})


def _kind(value: Any) -> Phrase | str:
    if isinstance(value, bool):
        return Phrase("booléen", "boolean")
    if isinstance(value, dict):
        return Phrase("objet", "object")
    if isinstance(value, list):
        return Phrase("tableau", "array")
    if isinstance(value, str):
        return Phrase("chaîne", "string")
    if isinstance(value, int | float | Decimal):
        return Phrase("nombre", "number")
    return "null" if value is None else type(value).__name__


_JSON_KIND_TEXT = {"bool": Phrase("booléen JSON", "JSON boolean"), "int": Phrase("entier JSON", "JSON integer"),
                   "number": Phrase("nombre JSON", "JSON number"), "str": Phrase("chaîne JSON", "JSON string")}


class Walk(SlicingChecks):
    """The state of one validation: issues, the resources being walked, Bundles for reference resolution."""

    __slots__ = ("base_rules", "base_walk", "borrowed", "bundles", "conformance", "container", "defs", "depth", "done",
                 "extension_url", "issues", "origin", "pkg", "repeats", "resource", "resource_loc", "root", "said",
                 "substitute", "v")

    def __init__(self, validator: Validator):
        self.v = validator
        self.defs = validator.definitions  # the compiled definitions: asked for every schema, type and rule
        self.issues: list[Issue] = []
        self.depth = 0  # objects being checked, one inside the other (see MAX_DEPTH)
        self.done: set[tuple[int, str]] = set()  # (resource, profile) pairs walked; (resource, "") checked
        self.repeats = 0  # pairs met again in `done`, so not walked: a walk around them leaves out what they found
        self.borrowed: list[bool] = []  # a conformance walk: the main walk's verdicts it took instead of walking
        self.said: dict[tuple[int, str], Issue] = {}  # the messages said once, by what they are about
        self.conformance = Conformance()  # shared with the walks conforms() starts
        self.bundles: list[dict[str, dict]] = []
        self.resource: dict = {}
        self.resource_loc = ""  # where the resource being walked is: element paths are taken from there
        self.root: dict = {}
        self.pkg: str | None = None  # package of the profile being walked: context for unversioned urls
        self.container: tuple[str, str] = ("", "")  # (element path, type) holding the extensions being checked
        self.extension_url = ""  # url of the extension whose sub-extensions are being checked
        self.origin: str | None = None  # the package whose pins chose the definitions of the resource walked
        self.substitute: Substitution | None = None  # the definitions walked come from a stand-in package
        self.base_walk = False  # walking the base definition beside a stand-in's profile: its own rules stand
        # The resource walked is in a slice item whose sliced element names no profile for it: the HL7 validator
        # validates it against its base definition too (see check_count_unsliced)
        self.base_rules = False

    def add(self, severity: str, message_id: str, expression: str, source: str = "", **values: Any) -> None:
        issue = make_issue(severity, message_id, expression, source, **values)
        if self.substitute is not None and severity == "error" and not (self.base_walk and _core_rule(source)):
            # A rule of a package standing in for a missing pinned one: the pinned version may not have it.
            sub = self.substitute
            issue = issue.noted("warning", Phrase(
                f"(règle de {sub.used}, utilisé à la place de {sub.wanted} requis par {sub.by} : avertissement au "
                "lieu d'erreur)",
                f"(a rule of {sub.used}, standing in for {sub.wanted} required by {sub.by}: a warning instead of an "
                "error)"))
        self.issues.append(issue)

    def substitution(self, schema: Schema, loc: str) -> Substitution | None:
        """The substitution `schema` comes from, relative to the package that pinned the definitions of
        the resource walked (said once per validation), or None."""
        if self.origin is None or schema.package is None:
            return None
        sub = self.v.store.substitutions(self.origin).get(schema.package)
        if sub is not None:
            said = self.said.get((0, sub.used))
            if said is None or location_key(loc) < location_key(said.expression):  # say_once, the issue made once
                self.said[(0, sub.used)] = make_issue("information", "DEPENDENCY_SUBSTITUTED", loc, used=sub.used,
                                                      wanted=sub.wanted, by=sub.by)
        return sub

    def first_visit(self, key: tuple[int, str]) -> bool:
        """Whether `key` (a resource and a definition; "" for the resource's own checks) is met for the first
        time in this walk, now marked as met. Met again, it is not walked again: a repeat."""
        if key in self.done:
            self.repeats += 1
            return False
        self.done.add(key)
        return True

    def say_once(self, about: tuple[int, str], issue: Issue) -> None:
        """Keep one issue per `about`: the first in document order, whatever order the walk takes."""
        said = self.said.get(about)
        if said is None or location_key(issue.expression) < location_key(said.expression):
            self.said[about] = issue

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
        defs = self.defs
        if not isinstance(res, dict) or not isinstance(res.get("resourceType"), str):
            self.add("error", "NOT_A_RESOURCE", loc, found=_kind(res))
            return
        rtype = res["resourceType"]
        if rtype not in defs.resource_types:
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
        if len(slice_profiles) > 1:
            slice_profiles = self.one_of(res, slice_profiles, loc, context)
        wanted = list(slice_profiles)
        if isinstance(meta_profiles, list):
            wanted.extend(p for p in meta_profiles if isinstance(p, str))
        for url in wanted:
            if url.startswith(FHIR_BASE) and url[len(FHIR_BASE):] == rtype:
                continue  # the base definition is checked anyway
            schema = defs.schema(url, context)
            if schema is None:
                self.add("warning", "META_PROFILE_NOT_FOUND", loc, source=defs.broken_reason(url) or "", url=url)
                continue
            if schema.type != rtype:
                self.add("error", "PROFILE_WRONG_TYPE", loc, source=schema.canonical, url=url, expected=schema.type,
                         type=rtype)
                continue
            if schema not in schemas:  # (listed twice, it is walked once)
                schemas.append(schema)
        # A snapshot carries every constraint of the definitions it derives from: walking a profile's
        # ancestor too (gap-fr-appointment and its parent fr-core-appointment, both declared) or the
        # base definition would only repeat the same findings.
        if len(schemas) > 1:
            inherited = set().union(*(defs.ancestors(s) for s in schemas))
            schemas = [s for s in schemas if s.canonical not in inherited]
        saved = (self.resource, self.resource_loc, self.root, self.pkg, self.origin, self.substitute, self.base_walk)
        self.origin = context
        substitutes = {id(s): self.substitution(s, loc) for s in schemas}
        # Under a stand-in package's profile only the base definition's own findings stay errors: walk it
        # too, as the stand-in's companion (what it finds through other definitions, e.g. extensions, is
        # the stand-in's view too).
        stand_in = next((sub for sub in substitutes.values() if sub is not None), None)
        if not any(s.type == rtype and substitutes[id(s)] is None for s in schemas):
            base = defs.type_schema(rtype)
            if base is None:
                self.add("error", "UNKNOWN_RESOURCE_TYPE", loc, type=rtype)
                self.origin = saved[4]
                return
            schemas.insert(0, base)
            substitutes[id(base)] = stand_in
        self.resource, self.resource_loc = res, loc
        if not contained:
            self.root = res
        pushed = False
        if rtype == "Bundle":
            self.bundles.append(_bundle_index(res))
            pushed = True
            if self.first_visit((id(res), "")):
                self.issues.extend(bundle_issues(res, loc, defs.resource_types))
        elif rtype == "StructureDefinition" and "differential" in res and "snapshot" not in res:
            self.check_differential(res, loc, context)
        elif rtype in self.v.against_definition and self.first_visit((id(res), "")):
            resolve = lambda url, wanted: _conformance_resource(defs, url, wanted, context)  # noqa: E731
            self.issues.extend(self.v.against_definition[rtype](res, loc, resolve))
        c = self.conformance
        try:
            for schema in schemas:
                if schema.type != rtype or not self.first_visit((id(res), schema.canonical)):
                    continue
                if schema.package != defs.core_key:
                    self.pkg = schema.package
                    self.substitute = substitutes.get(id(schema)) or saved[5]
                    self.base_walk = False
                else:
                    self.substitute = substitutes.get(id(schema))  # the base beside a stand-in, else None
                    self.base_walk = self.substitute is not None
                    if context is not None:
                        self.pkg = context
                around = self.bundles[:-1] if pushed else self.bundles  # the Bundles around it, not itself
                # A contained resource is walked with the same root either way: its walk is replayed too.
                walk = c.walk_key(res, schema.canonical, self.pkg, around, self.substitute, self.origin)
                replay = c.replay(walk)
                if replay is not None:  # conforms() walked it already, for a slice or a reference
                    issues, said = replay
                    self.issues.extend(relocated(issues, loc))
                    for about, issue in said:
                        self.say_once(about, *relocated([issue], loc))
                    continue
                terms = (walk, self.base_rules)  # beyond the walk key, base_rules adds rules: a verdict's terms
                verdict = c.lend_verdict(terms)
                if verdict is not None:  # the main walk made this walk: a conformance walk takes its verdict
                    self.borrowed.append(verdict)
                    continue
                start, repeats = len(self.issues), self.repeats
                self.check_object(schema.root, res, loc, rtype, schema.root)
                if self.repeats == repeats:  # nothing in it skipped as walked before: a walk of its own
                    c.keep_verdict(terms, self.issues[start:])
        finally:
            if pushed:
                self.bundles.pop()
            self.resource, self.resource_loc, self.root, self.pkg, self.origin, self.substitute, self.base_walk = saved

    def by_bundle_rules(self, elem: ElementDef, rtype: Any, loc: str) -> list[Schema]:
        """The profiles the validator's bundle rules give this Bundle entry's resource."""
        entry = _ENTRY_INDEX.search(loc) if elem.path == "Bundle.entry.resource" and isinstance(rtype, str) else None
        schemas = []
        for url in self.v.bundle_profiles(rtype, int(entry.group(1))) if entry else ():
            schema = self.defs.schema(url, None)
            if schema is None:
                self.add("error", "PROFILE_NOT_FOUND", loc, source=self.defs.broken_reason(url) or "", url=url)
            else:
                schemas.append(schema)
        return schemas

    def check_differential(self, sd: dict, loc: str, context: str | None) -> None:
        """A StructureDefinition without a snapshot must give one: its differential is generated against
        its base, as the HL7 validator does when it validates a profile."""
        resolve = lambda url: self.defs.definition(url, context)  # noqa: E731
        generated = None
        try:
            generated = generate_snapshot(sd, resolve)
        except ProfileError as exc:
            self.add("error", "SNAPSHOT_ERROR", loc, why=str(exc))
            if isinstance(exc, DifferentialOrderError):  # said at the element too, as the HL7 validator
                self.add("error", "DIFF_NO_MATCH", f"{loc}.differential.element[{exc.unmatched}]",
                         element=exc.element_id)
        except (TypeError, KeyError, AttributeError, ValueError) as exc:  # a malformed differential
            self.add("error", "SNAPSHOT_ERROR", loc, why=f"{type(exc).__name__}: {exc}")
        for i, j, key, why in unparsable_invariants(sd):
            self.add("error", "INVARIANT_EXPRESSION", f"{loc}.differential.element[{i}].constraint[{j}]", key=key,
                     why=why)
        # Judged on the types the differential states when no snapshot could be generated; a type whose own
        # snapshot cannot be generated is looked up as found (never an exception here).
        lookup = lambda url: _conformance_resource(self.defs, url, "StructureDefinition", context)  # noqa: E731
        for i, element_id, codes in unbindable_bindings(generated or sd, lookup):
            self.add("error", "BINDING_NOT_BINDABLE", f"{loc}.differential.element[{i}]", element=element_id,
                     types=", ".join(codes))
        if generated is None:
            return
        for element_id, before, after in changed_fixed_values(sd, resolve):
            self.add("error", "FIXED_VALUE_CHANGED", loc, element=element_id, value=_short(after),
                     base=_short(before))
        for i, j, path, sliced in bad_discriminator_paths(generated, self.type_children):
            self.add("error", "DISCRIMINATOR_PATH", f"{loc}.differential.element[{i}].slicing.discriminator[{j}]",
                     path=_short(path), element=sliced)
        for i, element_id, what, value, base in loosened(sd, resolve):
            self.add("error", "BASE_LOOSENED", f"{loc}.differential.element[{i}]", element=element_id, what=what,
                     value=value, base=base)
        for element_id, slicing, slice_id, other in redefined_slicings(sd, resolve):
            self.add("error", "SLICING_REDEFINED", loc, element=element_id, slicing=slicing, slice=slice_id,
                     other=other)

    def type_children(self, code: str) -> set[str] | None:
        """The names of a datatype's elements (``value[x]`` for a choice), or None when it is unknown."""
        schema = self.defs.type_schema(code)
        if schema is None:
            return None
        return {k[len(code) + 1:] for k in schema.by_id if k.startswith(code + ".") and "." not in k[len(code) + 1:]}

    def one_of(self, res: dict, profiles: Sequence[str], loc: str, context: str | None) -> Sequence[str]:
        """Of the profiles an element's type allows, the first the resource conforms to (a type's profiles
        are alternatives); all of them, and TYPE_PROFILE_NO_MATCH, when it conforms to none."""
        for url in profiles:
            if self.conforms(res, url, context):
                return [url]
        self.add("error", "TYPE_PROFILE_NO_MATCH", loc, profiles=", ".join(profiles))
        return profiles

    # ---- complex elements -----------------------------------------------------------------------
    def holder_for(self, elem: ElementDef, type_code: str) -> ElementDef | None:
        """The node whose children describe an instance of `elem`: itself when the snapshot unrolls it,
        else the root of its type's definition."""
        if elem.children:
            return elem
        if elem.content_reference:
            return self.content_target(elem)
        ts = self.defs.type_schema(type_code)
        return ts.root if ts is not None else None

    def unrolled_elsewhere(self, holder: ElementDef, type_code: str, key: str) -> JsonName | None:
        """A child a (hand-made) snapshot left out of a partially unrolled element: its type defines it."""
        if holder.schema.root is holder or type_code in ("BackboneElement", "Element", "") or \
                type_code in self.defs.resource_types:
            return None
        ts = self.defs.type_schema(type_code)
        hit = ts.root.json_names.get(key) if ts is not None else None
        if hit is not None and hit.child.name in holder.children:
            # The profile describes this element (e.g. a sub-extension's value[x] restricted to
            # Coding): a variant it does not list (valueString) is not allowed, the base does not apply.
            return None
        return hit

    def content_target(self, elem: ElementDef) -> ElementDef | None:
        ref = elem.content_reference or ""
        target_id = ref.split("#", 1)[1] if "#" in ref else ref
        node = elem.schema.by_id.get(target_id)
        if node is None:
            ts = self.defs.type_schema(target_id.split(".", 1)[0])
            node = ts.by_id.get(target_id) if ts else None
        return node

    def check_object(self, holder: ElementDef, obj: Any, loc: str, type_code: str, elem: ElementDef) -> None:
        """Check a JSON object against the children of `holder`; `elem` carries the element's own rules."""
        # Counted rather than left to Python's recursion limit: compiled (hatch_build.py), the walk has none,
        # and a document nested thousands deep would overflow the C stack.
        if self.depth >= MAX_DEPTH:
            raise RecursionError(f"objects nested more than {MAX_DEPTH} deep")
        self.depth += 1
        try:
            self.check_members(holder, obj, loc, type_code, elem)
        finally:
            self.depth -= 1

    def check_members(self, holder: ElementDef, obj: Any, loc: str, type_code: str, elem: ElementDef) -> None:
        """check_object's work, at one more level of nesting."""
        if not isinstance(obj, dict):
            self.add("error", "NOT_AN_OBJECT", loc, elem.schema.source(elem), type=type_code, found=_kind(obj))
            return
        if not obj or (len(obj) == 1 and "id" in obj):
            self.add("error", "EMPTY_OBJECT", loc, "ele-1")
            return
        names = holder.json_names
        groups: dict[ElementDef, list[Item]] = {}  # the elements not checked on the spot
        present: set[ElementDef] = set()
        for key, val in obj.items():
            hit = names.get(key)
            if hit is None:
                if key[:1] == "_":
                    base_key = key[1:]
                    hit = names.get(base_key)
                    if hit is None or hit.companion is None:  # not a primitive: no companion
                        self.add("error", "UNKNOWN_ELEMENT", f"{loc}.{key}", holder.schema.source(holder), name=key,
                                 type=holder.path)
                    elif base_key not in obj:
                        self.collect(hit.child, hit.tcode, base_key, None, val, loc, groups)
                    continue
                if key != "resourceType":
                    hit = self.unrolled_elsewhere(holder, type_code, key)
                elif holder.schema.root is holder and (holder.schema.kind == "resource" or
                                                       holder.schema.type in self.defs.resource_types):
                    continue  # (a hand-made profile of a resource may say kind complex-type)
                if hit is None:
                    self.add("error", "UNKNOWN_ELEMENT", f"{loc}.{key}", holder.schema.source(holder), name=key,
                             type=holder.path)
                    continue
            child, tcode, companion_key = hit
            companion = obj.get(companion_key) if companion_key is not None else None
            if companion is None and val is not None:
                # The common shapes: checked on the spot, or grouped when the element is sliced (its items
                # are sorted all at once) or a choice (several keys, one element). Anything else: collect().
                grouped = child.grouped
                if child.is_array:
                    if type(val) is list and val and None not in val:
                        if grouped:
                            groups.setdefault(child, []).extend(
                                [Item(x, None, tcode, f"{loc}.{key}[{i}]") for i, x in enumerate(val)])
                        else:
                            present.add(child)
                            self.check_count(holder, child, len(val), loc)
                            self.check_array(child, val, tcode, f"{loc}.{key}", elem, type_code)
                        continue
                elif type(val) is not list:
                    if grouped:
                        step = f"{child.name}.ofType({tcode})" if child.choice else key  # FHIRPath, as HL7's
                        groups.setdefault(child, []).append(Item(val, None, tcode, f"{loc}.{step}"))
                        continue
                    present.add(child)
                    if child.max == 0 or child.min > 1:
                        self.check_count(holder, child, 1, loc)
                    if companion_key is not None:
                        self.check_primitive(child, val, None, tcode, f"{loc}.{key}")
                    else:
                        self.check_item(child, val, None, tcode, f"{loc}.{key}")
                    continue
            self.collect(child, tcode, key, val, companion, loc, groups)
        for child, items in groups.items():
            if items:
                present.add(child)
            self.check_count(holder, child, len(items), loc)
            if items:
                self.check_items(child, items, loc, elem, type_code)
        for child in holder.required:
            if child not in present and child not in groups:  # in groups without items: counted above
                if child.min > 0:
                    self.add("error", "CARD_MIN", loc, holder.schema.source(child), count=0, name=child.name,
                             min=child.min, max=child.max_text)
                    self.check_count_unsliced(holder, child, 0, loc)
                for s in child.slices:  # a required slice of an absent element: said too, as the HL7 validator
                    if s.min > 0:
                        self.add("error", "SLICE_MIN", loc, s.schema.source(s), slice=s.slice_name, name=child.name,
                                 count=0, min=s.min, max=s.max_text)
        if self.v.must_support and holder.optional_ms and holder.schema.derivation == "constraint":
            for child in holder.optional_ms:
                if child not in present:
                    self.add("information", "MUST_SUPPORT", loc, holder.schema.source(child), name=child.name)
        plans = elem.invariant_plans.get(type_code)
        if plans is None or plans:  # most elements have none but ele-1, checked above
            self.check_invariants(elem, type_code, obj, loc)

    def check_count(self, holder: ElementDef, child: ElementDef, n: int, loc: str) -> None:
        if n < child.min:
            self.add("error", "CARD_MIN", loc, holder.schema.source(child), count=n, name=child.name,
                     min=child.min, max=child.max_text)
            self.check_count_unsliced(holder, child, n, loc)
        elif child.max is not None and n > child.max:
            self.add("error", "CARD_MAX", loc, holder.schema.source(child), count=n, name=child.name,
                     min=child.min, max=child.max_text)
            self.check_count_unsliced(holder, child, n, loc)

    def check_count_unsliced(self, holder: ElementDef, child: ElementDef, n: int, loc: str) -> None:
        """A `child` broke its cardinality. The HL7 validator checks an item of a slice against the sliced
        element too, so the same count breaking the sliced element's own rule for that child is a second
        error, naming that rule (``Parameters.parameter.extension`` beside ``Parameters.parameter:p.extension``);
        and a resource such an item holds under a type profile the sliced element does not name, against its
        base definition too (``Encounter.class`` from the profile, and from ``Encounter``). Looked up only once
        a breach is found."""
        if ":" in holder.id:
            sliced = holder.schema.by_id.get(unsliced_id(holder.id))
            self.check_count_of(sliced, child.name, n, loc)
        if self.base_rules and holder.schema.derivation == "constraint":
            base = self.defs.type_schema(holder.schema.type)
            if base is not None and base is not holder.schema:
                self.check_count_of(base.by_id.get(holder.path), child.name, n, loc)

    def check_count_of(self, holder: ElementDef | None, name: str, n: int, loc: str) -> None:
        """The second error of check_count_unsliced, when `holder`'s rule for its child `name` is broken too."""
        rule = holder.children.get(name) if holder is not None else None
        if rule is not None and (n < rule.min or (rule.max is not None and n > rule.max)):
            self.add("error", "CARD_MIN" if n < rule.min else "CARD_MAX", loc, holder.schema.source(rule), count=n,
                     name=rule.name, min=rule.min, max=rule.max_text)

    def sliced_names_no_profile(self, elem: ElementDef, rtype: Any) -> bool:
        """`elem`, in a slice, names type profiles for a resource of `rtype`; its sliced element names none."""
        sliced = elem.schema.by_id.get(unsliced_id(elem.id))
        if sliced is None:
            return False
        tref = (sliced.type_refs.get(rtype) if isinstance(rtype, str) else None) or sliced.type_refs.get("Resource")
        return tref is None or not tref.profiles

    def check_items(self, child: ElementDef, items: list[Item], loc: str, elem: ElementDef, type_code: str) -> None:
        """Check the occurrences of `child` in the object at `loc` (an `elem` of `type_code`), through its
        slices if it has some."""
        saved = self.enter(child, elem, type_code)
        if child.slices:
            self.check_slices(child, items, loc)
        else:
            for value, ext, tcode, iloc in items:
                if tcode in PRIMITIVES:
                    self.check_primitive(child, value, ext, tcode, iloc)
                else:
                    self.check_item(child, value, ext, tcode, iloc)
        self.container = saved

    def check_array(self, child: ElementDef, values: list, tcode: str, at: str, elem: ElementDef,
                    type_code: str) -> None:
        """Check the values of an array of `child`, neither sliced nor a choice, found at `at` in an `elem` of
        `type_code` (the common case: no items made)."""
        saved = self.enter(child, elem, type_code)
        primitive = tcode in PRIMITIVES
        for i, value in enumerate(values):
            if primitive:
                self.check_primitive(child, value, None, tcode, f"{at}[{i}]")
            else:
                self.check_item(child, value, None, tcode, f"{at}[{i}]")
        self.container = saved

    def enter(self, child: ElementDef, elem: ElementDef, type_code: str) -> tuple[str, str]:
        """Tell the extensions about to be checked where they are used; the previous holder, to restore."""
        saved = self.container
        if child.name in ("extension", "modifierExtension"):
            self.container = (elem.path, type_code)
        return saved

    def collect(
        self, child: ElementDef, tcode: str, key: str, val: Any, companion: Any, loc: str,
        groups: dict[ElementDef, list[Item]],
    ) -> None:
        """Split one JSON property (and its ``_`` companion) into items with their locations."""
        bucket = groups.setdefault(child, [])
        step = f"{child.name}.ofType({tcode})" if child.choice else key  # FHIRPath, as the HL7 validator
        if child.is_array:
            values = val
            if val is not None and not isinstance(val, list):
                self.add("error", "ARRAY_EXPECTED", f"{loc}.{step}", child.schema.source(child), name=key,
                         found=_kind(val))
                values = [val]
            exts = companion
            if companion is not None and not isinstance(companion, list):
                self.add("error", "ARRAY_EXPECTED", f"{loc}._{key}", child.schema.source(child), name="_" + key,
                         found=_kind(companion))
                exts = [companion]
            if values is not None and exts is not None and len(values) != len(exts):
                self.add("error", "COMPANION_MISMATCH", f"{loc}.{step}", child.schema.source(child), name=key)
            size = max(len(values or ()), len(exts or ()))
            if size == 0:
                self.add("error", "EMPTY_ARRAY", f"{loc}.{step}", child.schema.source(child), name=key)
                return
            for i in range(size):
                value = values[i] if values is not None and i < len(values) else None
                ext = exts[i] if exts is not None and i < len(exts) else None
                if value is None and ext is None:
                    self.add("error", "NULL_VALUE", f"{loc}.{step}[{i}]", child.schema.source(child), name=key)
                    continue
                bucket.append(Item(value, ext, tcode, f"{loc}.{step}[{i}]"))
        else:
            if isinstance(val, list) or isinstance(companion, list):
                # Reported once; the values are still checked so that one mistake gives one error.
                self.add("error", "SINGLE_EXPECTED", f"{loc}.{step}", child.schema.source(child), name=key)
                values = val if isinstance(val, list) else [val]
                exts = companion if isinstance(companion, list) else [companion]
                for i in range(max(len(values), len(exts))):
                    value = values[i] if i < len(values) else None
                    ext = exts[i] if i < len(exts) else None
                    if value is not None or ext is not None:
                        bucket.append(Item(value, ext, tcode, f"{loc}.{step}"))
                return
            if val is None and companion is None:
                self.add("error", "NULL_VALUE", f"{loc}.{step}", child.schema.source(child), name=key)
                return
            bucket.append(Item(val, companion, tcode, f"{loc}.{step}"))

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
        if tcode == "Resource" or tcode in self.defs.resource_types:
            # An element of several resource types (Practitioner | PractitionerRole) takes the profiles of
            # the type the resource has.
            rtype = value.get("resourceType") if isinstance(value, dict) else None
            tref = (elem.type_refs.get(rtype) if isinstance(rtype, str) else None) or elem.type_refs.get(tcode)
            saved = self.base_rules
            if tref is not None and tref.profiles and ":" in elem.id:
                self.base_rules = self.sliced_names_no_profile(elem, rtype) or saved
            self.validate_resource(
                value,
                loc,
                explicit=self.by_bundle_rules(elem, rtype, loc) if self.v.bundle_rules else (),
                slice_profiles=tref.profiles if tref else (),
                context=elem.schema.package,
                contained=elem.path.endswith(".contained"),
            )
            self.base_rules = saved
            return
        if not isinstance(value, dict):
            self.add("error", "NOT_AN_OBJECT", loc, elem.schema.source(elem), type=tcode, found=_kind(value))
            return
        if tcode == "Extension":
            self.check_extension(elem, value, loc)
        else:
            tref = elem.type_refs.get(tcode)
            checked = False
            if tref is not None and tref.profiles:
                schemas = []
                for profile in tref.profiles:
                    ps = self.defs.schema(profile, elem.schema.package)
                    if ps is None:
                        self.add("information", "TYPE_PROFILE_NOT_FOUND", loc, elem.schema.source(elem), url=profile)
                    elif ps.derivation == "constraint":
                        schemas.append(ps)
                if schemas:
                    self.check_type_profiles(elem, schemas, value, loc, tcode)
                    checked = not elem.children
            if not checked:
                holder = elem if elem.children else self.holder_for(elem, tcode)
                if holder is not None:
                    self.check_object(holder, value, loc, tcode, elem)
            if tcode == "Reference":
                self.check_reference(elem, tref, value, loc)
            elif tcode == "Narrative" and elem.narrative_languages:
                self.check_narrative_languages(elem, value, loc)
            elif tcode == "Attachment":
                actual = assertions.attachment_size(value)
                if actual is not None and actual != value.get("size"):
                    # An error, as the HL7 validator says (the IG Publisher's run on PDSm 3.1.1's examples
                    # too: package/other/validation-oo.json).
                    self.add("error", "ATTACHMENT_SIZE", loc, elem.schema.source(elem), size=value["size"],
                             actual=actual)
        if elem.fixed is not None or elem.pattern is not None or elem.binding is not None or \
                    elem.base_binding is not None or elem.bounds is not None:
            self.check_value_rules(elem, value, tcode, loc)

    def check_type_profiles(self, elem: ElementDef, schemas: list[Schema], value: Any, loc: str, tcode: str) -> None:
        """A value whose type names profiles must conform to one of them (as the HL7 validator reads
        several type profiles): the issues of the first it conforms to; when none, TYPE_PROFILE_NO_MATCH
        and the issues of each."""
        if len(schemas) == 1:
            self.check_object(schemas[0].root, value, loc, tcode, schemas[0].root)
            return
        found: list[list[Issue]] = []
        saved = self.issues
        try:
            for ps in schemas:
                self.issues = []
                self.check_object(ps.root, value, loc, tcode, ps.root)
                found.append(self.issues)
        finally:
            self.issues = saved
        fitting = [issues for issues in found if no_error(issues)]
        if fitting:
            self.issues.extend(fitting[0])
            return
        self.add("error", "TYPE_PROFILE_NO_MATCH", loc, elem.schema.source(elem),
                 profiles=", ".join(ps.canonical for ps in schemas))
        for issues in found:
            self.issues.extend(issues)

    def check_narrative_languages(self, elem: ElementDef, narrative: dict, loc: str) -> None:
        """The narrative-language-control extension: language sections (``<div lang="…">`` children of the
        root) prohibited (``_no``), required (``_yes``), one for the resource's language (``_resource``), or
        one for each language listed."""
        div = narrative.get("div")
        sections = narrative_sections(div) if isinstance(div, str) else None
        if sections is None:
            return  # a narrative that is not XML: txt-1 says so
        found = ", ".join(sections) or "-"
        for control in elem.narrative_languages:
            language = self.resource.get("language") if control == "_resource" else control
            if control == "_no" and sections:
                self.add("error", "NARRATIVE_SECTIONS_PROHIBITED", loc, elem.schema.source(elem), found=found)
            elif control == "_yes" and not sections:
                self.add("error", "NARRATIVE_SECTIONS_REQUIRED", loc, elem.schema.source(elem))
            elif control not in ("_no", "_yes") and isinstance(language, str) and language not in sections:
                self.add("error", "NARRATIVE_SECTION_MISSING", loc, elem.schema.source(elem), language=language,
                         found=found)

    def check_value_rules(self, elem: ElementDef, value: Any, tcode: str, loc: str) -> None:
        if elem.fixed is not None and not assertions.fixed_matches(elem.fixed, value):
            self.add("error", "FIXED", loc, elem.schema.source(elem), actual=assertions.render(value),
                     expected=assertions.render(elem.fixed))
        if elem.pattern is not None and not assertions.pattern_matches(elem.pattern, value):
            self.add("error", "PATTERN", loc, elem.schema.source(elem), actual=assertions.render(value),
                     expected=assertions.render(elem.pattern))
        if elem.bounds is not None:
            for bound, message_id in zip(elem.bounds, ("VALUE_BELOW_MIN", "VALUE_ABOVE_MAX"), strict=True):
                if bound is not None and assertions.beyond(value, tcode, *bound, below=message_id == "VALUE_BELOW_MIN"):
                    self.add("error", message_id, loc, elem.schema.source(elem), value=assertions.render(value),
                             bound=assertions.render(bound[1]))
        if tcode in _BINDABLE:
            # The base definition's required binding is checked when the profile's could not be (a
            # ValueSet not available offline) or the profile states none: a profile never removes it.
            checked = elem.binding is not None and self.check_binding(elem, value, tcode, loc)
            if not checked and elem.base_binding is not None:
                self.check_binding(elem.base_binding, value, tcode, loc)

    def check_binding(self, elem: ElementDef, value: Any, tcode: str, loc: str) -> bool:
        """Check the value against `elem`'s binding; False when it could not be judged."""
        strength, valueset = elem.binding  # type: ignore[misc]
        severity = _SEVERITY_OF_STRENGTH.get(strength)
        if severity is None:
            return False  # example bindings are not checked, as in the HL7 validator
        pairs = assertions.codings_of(value, tcode)
        if not pairs:
            if tcode == "CodeableConcept" and strength in ("required", "extensible"):
                # Text only: as the HL7 validator, a required (extensible) binding wants a code.
                self.add(severity, "BINDING_NO_CODE", loc, f"{elem.schema.source(elem)} binding {strength} "
                         f"{valueset}", valueset=valueset, strength=strength)
            return True
        key = (valueset, elem.schema.package, pairs)
        cached = self.v.binding_verdicts.get(key)
        if cached is None:
            cached = assertions.binding_verdict(self.v.expander, valueset, elem.schema.package, value, tcode)
            self.v.binding_verdicts[key] = cached
        verdict, rendered, why = cached
        if verdict is False:
            self.add(severity, _BINDING_MSG[strength], loc, f"{elem.schema.source(elem)} binding {strength} {valueset}",
                     code=rendered, valueset=valueset)
        elif verdict is None and strength in ("required", "extensible"):
            # A required binding whose ValueSet or CodeSystem is missing from the loaded packages is a check
            # not made (the check reports it incomplete); other reasons — an external terminology, a
            # CodeSystem published without its codes, a filter only a terminology server evaluates — are
            # stated limits; an extensible binding's verdict is a warning at most, never a failure.
            not_made = strength == "required" and isinstance(why, NotLoaded)
            self.add("information", "BINDING_DEFINITION_NOT_FOUND" if not_made else "BINDING_NOT_CHECKED", loc,
                     f"{elem.schema.source(elem)} binding {strength} {valueset}", code=rendered, valueset=valueset,
                     why=why)
        return verdict is not None

    # ---- primitives -----------------------------------------------------------------------------
    def check_primitive(self, elem: ElementDef, value: Any, ext: Any, tcode: str, loc: str) -> None:
        if value is not None:
            check = elem.primitive_checks.get(tcode) or self.decide_primitive_check(elem, tcode)
            rule = check.rule if check is not None else None
            kind = rule.json_kind if rule is not None else None
            if (kind == "str" and isinstance(value, str)) or (  # most primitives: strings of the right kind
                    kind is not None and self.check_json_kind(rule, value, tcode, loc, elem)):
                if kind == "str":
                    if not value:
                        self.add("error", "EMPTY_STRING", loc, elem.schema.source(elem))
                    elif not (rule.shortcut is not None and rule.shortcut(value)) and \
                            not _format_ok(rule, value, tcode):  # most strings pass the shortcut (none for dates)
                        self.add("error", "BAD_FORMAT", loc, elem.schema.source(elem), value=_short(value),
                                 type=tcode)
                    elif tcode == "xhtml":
                        for name in narrative_bad_elements(value):
                            self.add("error", "XHTML_ELEMENT", loc, elem.schema.source(elem), name=name)
                    elif value.isspace():
                        # A whitespace-only string the format accepts (string, markdown): suspicious, a
                        # warning as in the HL7 validator, not the empty-string error.
                        self.add("warning", "BLANK_STRING", loc, elem.schema.source(elem))
                    elif "<" in value and tcode in ("string", "markdown") and (tag := _HTML_TAG.search(value)):
                        # Rendered as HTML without escaping, it would run: a security risk the HL7 validator
                        # warns of (an error with its security checks on).
                        self.add("error" if self.v.security_checks else "warning", "STRING_HTML", loc,
                                 elem.schema.source(elem), tag=_short(tag.group(), 20))
                    limit = check.max_length
                    if limit and len(value) > limit:
                        self.add("error", "MAX_LENGTH", loc, elem.schema.source(elem), length=len(value), max=limit)
                    if elem.min_length and len(value) < elem.min_length:
                        self.add("error", "MIN_LENGTH", loc, elem.schema.source(elem), length=len(value),
                                 min=elem.min_length)
                elif kind == "int":
                    low = 1 if tcode == "positiveInt" else 0 if tcode == "unsignedInt" else _INT32[0]
                    if not low <= value <= _INT32[1]:
                        self.add("error", "INTEGER_RANGE", loc, elem.schema.source(elem), value=_short(str(value)),
                                 type=tcode)
                elif type(value) is float and not math.isfinite(value):  # 1e400 reads as infinity
                    self.add("error", "BAD_FORMAT", loc, elem.schema.source(elem), value=value, type=tcode)
                if check.value_rules:
                    self.check_value_rules(elem, value, tcode, loc)
        if ext is not None and not (value is not None and isinstance(ext, dict) and ext.keys() == {"id"}):
            # (an id beside a value is a whole element: ele-1 holds)
            ts = self.defs.type_schema(tcode)
            if not isinstance(ext, dict):
                self.add("error", "NOT_AN_OBJECT", loc, elem.schema.source(elem), type="Element", found=_kind(ext))
            elif ts is not None:
                self.check_object(ts.root, ext, loc, tcode, elem)
        elif value is None:
            self.add("error", "EMPTY_OBJECT", loc, "ele-1")
        if value is None:
            if not ext:  # not even an id: the HL7 validator's rule of primitive types is broken too, beside ele-1
                self.add("error", "PRIMITIVE_EMPTY", loc, f"{FHIR_BASE}{tcode}", type=tcode)
            if isinstance(ext, dict) and (elem.must_have_value or elem.value_alternatives):
                urls = {e.get("url") for e in ext.get("extension") or () if isinstance(e, dict)}
                if elem.must_have_value:
                    self.add("error", "VALUE_REQUIRED", loc, elem.schema.source(elem))
                elif not urls & set(elem.value_alternatives):
                    self.add("error", "VALUE_ALTERNATIVE", loc, elem.schema.source(elem),
                             alternatives=", ".join(elem.value_alternatives))
        if elem.has_invariants:
            self.check_invariants(elem, tcode, value, loc)

    def decide_primitive_check(self, elem: ElementDef, tcode: str) -> PrimitiveCheck | None:
        """What to check of `elem`'s values of primitive type `tcode` (None: an unknown type), kept on it."""
        rule = self.defs.primitive(tcode)
        if rule is None:
            return None
        check = elem.primitive_checks[tcode] = primitive_check(elem, rule)
        return check

    def check_json_kind(self, rule: PrimitiveRule, value: Any, tcode: str, loc: str, elem: ElementDef) -> bool:
        kind = rule.json_kind
        if kind == "str":
            ok = isinstance(value, str)
        elif kind == "bool":
            ok = isinstance(value, bool)
        elif kind == "int":
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:  # decimal: JSON parsed with parse_float=Decimal (exact decimals) is fine too
            ok = isinstance(value, int | float | Decimal) and not isinstance(value, bool)
        if not ok:
            self.add("error", "WRONG_JSON_TYPE", loc, elem.schema.source(elem), found=_kind(value), type=tcode,
                     expected=_JSON_KIND_TEXT[kind])
        return ok

    # ---- invariants -----------------------------------------------------------------------------
    def check_invariants(self, elem: ElementDef, tcode: str, value: Any, loc: str) -> None:
        plans = elem.invariant_plans.get(tcode)
        if plans is None:
            plans = self.defs.invariants_for(elem, tcode)
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
                        raise NotEvaluable(Phrase(f"entrée mal formée ({exc.__class__.__name__})",
                                                   f"malformed input ({exc.__class__.__name__})")) from exc
                else:
                    if elem is elem.schema.root and elem.schema.kind == "resource":
                        base = ""  # the resource carries its type; fhirpathpy mis-resolves "Type." with a base
                    elif elem.choice or elem.schema.kind != "resource" or constraint.reads is not None:
                        base = tcode  # a project rule reads its element by its type
                    else:
                        base = elem.path
                    ok = fhirpath_invariant(constraint.expression).evaluate(value, base, ctx)
            except NotEvaluable as exc:
                if constraint.reads is not None:
                    self.add("information", "PROJECT_RULE_NOT_CHECKED", loc, _project_source(constraint),
                             rule=constraint.key, key=constraint.reads, why=exc.why)
                else:
                    self.add("information", "INVARIANT_NOT_CHECKED", loc, f"{constraint.key} ({constraint.source})",
                             key=constraint.key, why=exc.why)
                continue
            if ok:
                continue
            if constraint.reads is not None:  # the project's reading of a rule in words: labelled as such
                self.add(constraint.severity, "PROJECT_RULE", loc, _project_source(constraint), rule=constraint.key,
                         key=constraint.reads, profile=constraint.source, statement=constraint.statement)
            else:
                severity = constraint.severity if constraint.severity in ("error", "information") else "warning"
                self.add(severity, "INVARIANT", loc, f"{constraint.key} ({constraint.source})", key=constraint.key,
                         human=constraint.human or constraint.expression)

    # ---- extensions -----------------------------------------------------------------------------
    def check_extension(self, elem: ElementDef, obj: dict, loc: str) -> None:
        url = obj.get("url")
        if not isinstance(url, str) or ":" not in url:
            if isinstance(url, str) and self.container[1] != "Extension":
                # Only a sub-extension of a complex extension has a relative url.
                self.add("error", "EXTENSION_NO_URL", loc, elem.schema.source(elem), url=url)
            # A sub-extension of a complex extension (relative url): described by the slice itself.
            holder = self.holder_for(elem, "Extension")
            if holder is not None:
                self.check_object(holder, obj, loc, "Extension", elem)
            return
        package = elem.schema.package
        if package == self.defs.core_key and self.pkg is not None:
            package = self.pkg  # e.g. an FR Core extension inside an R4 core extension's Address
        schema = self.defs.schema(url, package)
        if schema is None:
            self.unknown_extension(elem, url, loc)
            holder = self.holder_for(elem, "Extension")
            if holder is not None:
                self.check_object(holder, obj, loc, "Extension", elem)
            return
        # nested extensions change them; siblings need them back
        saved = self.container, self.extension_url, self.substitute
        self.substitute = self.substitution(schema, loc) or self.substitute
        self.check_extension_context(schema, url, obj, loc)
        self.extension_url = url
        self.check_object(schema.root, obj, loc, "Extension", schema.root)
        self.container, self.extension_url, self.substitute = saved

    def unknown_extension(self, elem: ElementDef, url: str, loc: str) -> None:
        """An extension whose definition is not loaded. As in the HL7 validator, it is not allowed
        (an error), except from an example domain (example.org, acme.com…: information). When a package
        some loaded package depends on is missing, or the url is HL7's and its extensions pack is not
        loaded, the definition may be there: a warning (not checked)."""
        if _example_domain(url) and self.v.example_urls:
            self.add("information", "EXTENSION_EXAMPLE_DOMAIN", loc, url=url)
        elif elem.name == "modifierExtension":  # FHIR: an unknown modifier must make the resource rejected
            self.add("error", "MODIFIER_EXTENSION_UNKNOWN", loc, self.defs.broken_reason(url) or "", url=url)
        elif self.defs.dependencies_missing or (url.startswith(FHIR_BASE) and not self.defs.extensions_pack):
            # (HL7's own extensions outside the R4 core are in its extensions pack, which the HL7 validator
            # always loads: without it here, one of them cannot be judged)
            self.add("warning", "EXTENSION_UNKNOWN", loc, url=url)
        else:
            self.add("error", "EXTENSION_NOT_FOUND", loc, self.defs.broken_reason(url) or "", url=url)
        if _example_domain(url) and not self.v.example_urls:
            self.add("error", "EXAMPLE_URL", f"{loc}.url", url=url)

    def check_extension_context(self, schema: Schema, url: str, obj: dict, loc: str) -> None:
        """The extension's declared contexts must include where it is used: element contexts, FHIRPath
        contexts (a plain path such as FR Core's ``Patient.contact`` like an element; any other
        expression evaluated on the resource, the holder of the extension among its results) and
        extension contexts (inside an extension of that url). A context that cannot be evaluated makes
        the use not checked, rather than wrong."""
        contexts = [c for c in schema.context if isinstance(c, dict)]
        if not contexts:
            return
        paths = [c for c in contexts if c.get("type") == "element" or (
            c.get("type") == "fhirpath" and _PLAIN_PATH.fullmatch(str(c.get("expression", ""))))]
        # A context names the element by its path in a resource (Patient.name) or in a datatype
        # (Address.line): both the path from the resource and the one in the definitions walked count.
        # The verdict depends on those two paths and the holder's type only: kept per extension.
        key = (schema.canonical, self.element_path(loc), self.container)
        in_place = self.v.contexts_met.get(key)
        if in_place is None:
            in_place = self.v.contexts_met[key] = self.in_context(paths, url, key[1]) or \
                self.in_context(paths, url, self.container[0])
        if in_place:
            return
        unjudged = []
        for c in contexts:
            expression = str(c.get("expression", ""))
            if c.get("type") == "extension":
                if self.extension_url and expression.split("|")[0] == self.extension_url:
                    return
            elif c.get("type") == "fhirpath" and c not in paths:
                held = self.held_by(expression, obj)
                if held is None:
                    unjudged.append(c)
                elif held:
                    return
        if unjudged:
            self.add("information", "EXTENSION_CONTEXT_NOT_CHECKED", loc, schema.canonical, url=url,
                     contexts=", ".join(f"{c.get('type')} {c.get('expression')}" for c in unjudged))
            return
        self.add("error", "EXTENSION_CONTEXT", loc, schema.canonical, url=url,
                 contexts=", ".join(str(c.get("expression")) for c in contexts))

    def held_by(self, expression: str, extension: dict) -> bool | None:
        """Whether an element that FHIRPath `expression` selects in the resource holds `extension`;
        None when it cannot be evaluated."""
        try:
            nodes = fhirpath_invariant(expression).select(self.resource, "", InvariantContext(self.resource,
                                                                                               self.root))
        except NotEvaluable:
            return None
        return any(isinstance(n, dict) and any(e == extension for key in ("extension", "modifierExtension")
                                               for e in n.get(key) or () if isinstance(n.get(key), list))
                   for n in nodes)

    def element_path(self, extension_loc: str) -> str:
        """The path of the element holding the extension at `extension_loc`, from its resource:
        ``Bundle.entry[0].resource.name[0].extension[1]`` -> ``Patient.name``, whatever definitions
        (a datatype profile, the datatype) the walk went through to get there."""
        holder = extension_loc.rpartition(".")[0]
        steps = _INDEX_OR_TYPE.sub("", holder[len(self.resource_loc):])
        return f"{self.resource.get('resourceType')}{steps}"

    def in_context(self, contexts: list[dict], url: str, path: str) -> bool:
        """Whether the element at `path` holding the extension being checked is one of these contexts."""
        type_code = self.container[1]
        resource_root = "." not in path and type_code in self.defs.resource_types
        # The core specification's own definitions use some of its extensions next to their declared
        # context (structuredefinition-fhir-type on ElementDefinition.type, declared for .type.code);
        # the HL7 validator accepts that, so core extensions match an ancestor or descendant path too.
        core = url.startswith(FHIR_BASE)
        for c in contexts:
            expr = str(c.get("expression", ""))
            if expr in ("Element", "Base", path, type_code) or path.endswith("." + expr):
                return True
            if core and (expr.startswith(path + ".") or path.startswith(expr + ".")):
                return True
            if resource_root and expr in ("Resource", "DomainResource"):
                return True
            if expr.removesuffix("[x]") == path.removesuffix("[x]"):
                return True
        return False


def unsliced_id(element_id: str) -> str:
    """The id of the element an element inside a slice stands for in the sliced element, its innermost slice
    name removed: ``Parameters.parameter:p.part`` -> ``Parameters.parameter.part``."""
    head, _, tail = element_id.rpartition(":")
    name, dot, rest = tail.partition(".")
    if "/" in name:  # a reslice stands for its slice
        return f"{head}:{name.rpartition('/')[0]}{dot}{rest}"
    return head + dot + rest


def _core_rule(source: str) -> bool:
    """Whether an issue's source names a rule of the base R4 definitions (an element, an invariant)."""
    return source.startswith(FHIR_BASE) or f"({FHIR_BASE}" in source or source == "ele-1"


def _project_source(constraint: Constraint) -> str:
    return f"{constraint.key} (règle du projet pytest-mes, lecture de {constraint.reads} de {constraint.source})"


_HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?=[\s/>])")  # "<script", "</b", "<resource "
_ENTRY_INDEX = re.compile(r"\.entry\[(\d+)\]\.resource$")


def _conformance_resource(defs: Definitions, url: str, resource_type: str, context: str | None) -> dict | None:
    """A conformance resource of `resource_type` by canonical; a StructureDefinition with its snapshot,
    generated if needed (as it was found when none can be)."""
    if resource_type == "StructureDefinition":
        try:
            found = defs.definition(url, context)
        except ProfileError:
            found = None
        if found is not None:
            return found
    return defs.store.resolve(url, context, resource_type=resource_type)


def checks_against_definition() -> dict[str, Callable[[dict, str, Resolve], list[Issue]]]:
    """Per resource type, the check of a resource against the definitions it names (resolved by canonical),
    beyond its StructureDefinition; one table per validator, whose Measure check keeps what each Library
    defines (the Measures of a run name the same few Libraries)."""
    return {
        "OperationDefinition": operation_definition_issues,
        "QuestionnaireResponse": questionnaire_response_issues,
        "MeasureReport": measure_report_issues,
        "Measure": functools.partial(measure_issues, library_names=LibraryNames()),
        "SearchParameter": search_parameter_issues,
    }


_EXAMPLE_DOMAINS = ("example.org", "example.com", "acme.com", "acme.org", "nema.org")


def _example_domain(url: str) -> bool:
    """An extension url the HL7 validator accepts without a definition (examples, DICOM, its tools)."""
    return any(d in url for d in _EXAMPLE_DOMAINS) or url.startswith("http://hl7.org/fhir/tools/StructureDefinition/")


def relocated(issues: list[Issue], loc: str) -> list[Issue]:
    """Issues found at the placeholder location "x", moved under `loc`."""
    return [i.moved(loc + i.expression[1:]) for i in issues]


_INDEX_OR_TYPE = re.compile(r"\[\d+\]|\.ofType\([^)]*\)")
_PLAIN_PATH = re.compile(r"[A-Z][A-Za-z]*(\.[a-z][A-Za-z]*(\[x\])?)*")  # a FHIRPath context that is an element path
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}", re.ASCII)
_WHITESPACE = re.compile(r"\s+", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _format_ok(rule: PrimitiveRule, value: str, tcode: str) -> bool:
    """The FHIR format of a primitive string its type's shortcut did not accept. base64Binary is checked
    natively: R4's regex ``(\\s*([0-9a-zA-Z\\+/=]){4}\\s*)+`` backtracks exponentially on a long invalid
    value. Full dates are checked on the calendar too (the regex takes 2021-02-30)."""
    if tcode == "base64Binary":
        data = _WHITESPACE.sub("", value)
        return len(data) % 4 == 0 and _BASE64.fullmatch(data) is not None
    if rule.regex is not None and rule.regex.fullmatch(value) is None:
        return False
    if tcode in _DATED and len(value) >= 10:
        try:
            date(int(value[0:4]), int(value[5:7]), int(value[8:10]))
        except ValueError:
            return False
    return True


_DATED = frozenset({"date", "dateTime", "instant"})


def _short(value: str, limit: int = 80) -> str:
    """A value for a message: control characters escaped (a newline must not break the report), cut."""
    value = _CONTROL.sub(lambda m: repr(m.group())[1:-1], value)
    return value if len(value) <= limit else value[: limit - 1] + "…"
