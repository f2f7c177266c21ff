"""References: resolution (contained, Bundle fullUrl), allowed target types and target profiles.

The first class of the validator's walk (:class:`pytest_mes.fhir.walk.Walk`, through
:class:`~pytest_mes.fhir.slicing.SlicingChecks`): it uses ``self.v`` (the Validator), ``self.defs`` (its
compiled definitions), ``self.add``, ``self.root`` and ``self.bundles``.
"""

from __future__ import annotations

from collections.abc import Callable

from pytest_mes.fhir.canonicals import FHIR_BASE
from pytest_mes.fhir.compiler import ElementDef, Schema, TypeRef
from pytest_mes.fhir.issues import Issue, no_error
from pytest_mes.fhir.jsonread import as_list
from pytest_mes.fhir.resolution import Fetched

MAX_CHAIN = 20  # references followed in a chain on one stack to judge targets' profiles (each one is a nested walk)


class ReferenceChecks:
    """Checks of Reference elements."""

    __slots__ = ()  # Walk's state: see Walk.__slots__

    def resolve_reference(self, ref: str) -> tuple[dict | None, str | None]:
        """(resolved resource or None, type) of a reference string, within the resource or its Bundles."""
        if ref.startswith("#"):
            for c in as_list(self.root.get("contained")):
                if isinstance(c, dict) and c.get("id") == ref[1:]:
                    return c, _type_of(c)
            return None, None
        for index in reversed(self.bundles):
            found = index.get(ref)
            if found is None and not ref.startswith(("urn:", "http:", "https:")):
                # "Patient/x" is the entry of that type and id, else, as the HL7 validator matches it, the
                # entry "urn:uuid:x" (whose type check_reference compares)
                found = index.get("/" + ref) or index.get("urn:uuid:" + ref.rpartition("/")[2])
            if found is not None:
                return found, _type_of(found)
        if ref.startswith("urn:"):
            return None, None
        parts = ref.split("/")
        if "_history" in parts:
            parts = parts[: parts.index("_history")]
        if len(parts) >= 2 and parts[-2] in self.defs.resource_types:
            return None, parts[-2]
        return None, None

    def check_reference(self, elem: ElementDef, tref: TypeRef | None, obj: dict, loc: str) -> None:
        ref = obj.get("reference")
        if not isinstance(ref, str):
            return
        if ref.startswith("#") and ref != "#" and self.resolve_reference(ref)[0] is None:
            self.add("error", "REF_CONTAINED_NOT_FOUND", loc, elem.schema.source(elem), reference=ref)
        if tref is None:
            return
        if tref.aggregation == ("contained",) and not ref.startswith("#"):
            self.add("error", "REF_NOT_CONTAINED", f"{loc}.reference", elem.schema.source(elem), reference=ref)
        target, ttype = self.resolve_reference(ref)
        bundled = target is not None
        if target is None and self.conformance.fetched is not None and not ref.startswith("#"):
            target = self.fetch_target(ref, loc)
            if target is not None:
                ttype = target["resourceType"]
        named = ref.split("/")[-2] if ref.count("/") == 1 else None  # "Type/id"
        if target is not None and named in self.defs.resource_types and ttype != named:
            self.add("error", "REF_WRONG_TYPE", f"{loc}.reference", elem.schema.source(elem), reference=ref,
                     type=str(ttype))
            return
        if "bundled" in tref.aggregation and "referenced" not in tref.aggregation and not ref.startswith("#") \
                and not bundled:
            self.add("error", "REF_NOT_BUNDLED", f"{loc}.reference", elem.schema.source(elem), reference=ref)
        if ttype is None and isinstance(obj.get("type"), str):
            ttype = obj["type"]
        if not tref.targets or ttype is None:
            return
        allowed = self.defs.reference_targets(tref, elem.schema.package)
        if allowed is None:  # any resource will do, or a target profile cannot be loaded: say which
            missing = [c for c in tref.targets if self.defs.type_of_profile(c, elem.schema.package) is None]
            if missing:
                self.add("information", "REF_NOT_CHECKED", f"{loc}.reference", elem.schema.source(elem),
                         reference=ref, profiles=", ".join(missing))
            return
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

    def fetch_target(self, ref: str, loc: str) -> dict | None:
        """The target of `ref` from the validation's resolver (see :mod:`.resolution`), or None."""
        target, failure = self.conformance.fetched.get(ref)  # type: ignore[union-attr]  # checked by the caller
        if failure is not None:
            self.add("information", "REF_RESOLVE_FAILED", f"{loc}.reference", reference=ref, why=failure)
        return target

    def conforms(self, resource: dict, profile: str, context: str | None) -> bool:
        """Whether `resource` conforms to `profile` (a reference target, a ``profile`` discriminator)."""
        c = self.conformance
        schema = self.defs.schema(profile, context)
        # By the definition it resolves to: "…/as-organization" and "…/as-organization|1.2.0" are one check.
        key = (id(resource), schema.canonical if schema is not None else profile)
        if key in c.verdicts:
            found = c.verdicts[key]
            if found is None:  # being checked (a reference cycle) or cut from a chain: assumed conformant
                c.assume(key)
                return True
            # Conformant while assumptions hold: what takes it rests on them too. (Not conformant, it stays so
            # if they fail: an assumption of conformance can hide an error, not make one.)
            for head in tuple(c.heads.get(key, ())) if found else ():
                c.assume(head)
            return found
        c.verdicts[key] = None
        judge = self.judge_later(resource, profile, context)
        if len(c.open) >= MAX_CHAIN:
            # A chain of references this long (each target judged through its own references) is not followed
            # further on this stack: the check is assumed conformant, and judged from the top once the walk is
            # over, as are those open if their verdicts, resting on it, are dropped (Conformance.judge_cuts).
            c.assume(key)
            c.cuts.update(c.open)
            c.cuts[key] = judge
            c.cut = True
            return True
        c.open[key] = judge
        try:
            found = self.judge_conformance(resource, profile, context, key)
        finally:
            c.open.popitem()
        c.settle(key, found)
        return found

    def judge_later(self, resource: dict, profile: str, context: str | None) -> Callable[[], bool]:
        """conforms() as this walk would ask it (in its Bundles, beside its root), from the top of the stack."""
        bundles, root, substitute = list(self.bundles), self.root, self.substitute

        def judge() -> bool:
            top = type(self)(self.v)
            top.conformance, top.bundles, top.root, top.substitute = self.conformance, bundles, root, substitute
            return top.conforms(resource, profile, context)
        return judge

    def judge_conformance(self, resource: dict, profile: str, context: str | None, key: tuple) -> bool:
        schema = self.defs.schema(profile, context)
        if schema is None:
            return True  # not loadable: cannot be judged here (reported where the profile is used)
        if schema.type != resource.get("resourceType"):
            return False
        # A resource declaring a profile derived from this one (gap-fr-slot from fr-core-slot) conforms
        # to it when it conforms to the derived one, whose walk the main walk then replays.
        derived = self.declared_derivation(resource, schema, context)
        if derived is not None and self.walk_for_conformance(resource, derived, context, key) and \
                not self.conformance.heads.get(key):
            return True
        return self.walk_for_conformance(resource, schema, context, key)

    def declared_derivation(self, resource: dict, schema: Schema, context: str | None) -> Schema | None:
        """A profile in the resource's ``meta.profile`` that derives from `schema`, if any."""
        meta = resource.get("meta")
        for url in as_list(meta.get("profile")) if isinstance(meta, dict) else ():
            declared = self.defs.schema(url, context) if isinstance(url, str) else None
            if declared is not None and declared.type == schema.type and \
                    schema.canonical in self.defs.ancestors(declared):
                return declared
        return None

    def walk_for_conformance(self, resource: dict, schema: Schema, context: str | None, key: tuple
                             ) -> bool:
        """Validate `resource` against `schema` in a walk of its own; keep its issues for a replay when
        they do not depend on an assumption."""
        sub = type(self)(self.v)  # a fresh walk of the same kind
        sub.bundles = self.bundles
        sub.conformance = c = self.conformance
        sub.substitute = self.substitute  # reached from a stand-in package's definitions: its view still
        sub.depth = self.depth  # as deep in the document (and the stack) as this walk
        contained = any(resource is x for x in as_list(self.root.get("contained")))
        sub.root = self.root if contained else resource
        sub.validate_resource(resource, "x", explicit=[schema], context=context, contained=contained, declared=False)
        ok = all(sub.borrowed) and no_error(sub.issues)
        # A cycle's first check assumed itself conformant: its walk stands only if it is.
        # What it said once is kept with it when it is only the substitutions met (said again on a replay).
        # A walk that borrowed the main walk's verdicts has not their issues: nothing to replay (nor needed).
        said_again = all(about[0] == 0 for about in sub.said)
        if not sub.borrowed and said_again and not c.heads.get(key) and (ok or key not in c.dependents):
            pkg = schema.package if schema.package != self.defs.core_key else context
            stand_in = self.stand_in(schema, context)
            c.walked[c.walk_key(resource, schema.canonical, pkg, self.bundles, stand_in, context)] = (
                sub.issues, list(sub.said.items()))
        return ok

    def stand_in(self, schema: Schema, context: str | None) -> object:
        """The substitution under which `schema` is walked from here (as validate_resource decides it)."""
        if schema.package == self.defs.core_key:
            return None
        found = self.v.store.substitutions(context).get(schema.package) if context and schema.package else None
        return found or self.substitute


class Conformance:
    """What the walks of one validation know of conformance, shared by the main walk and the walks
    conforms() starts.

    ``verdicts``: per (resource, profile), True/False, or None while being checked. A check re-entered
    while open (a reference cycle) is assumed conformant; the checks opened since then depend on that
    assumption: their verdicts are kept while it holds (so that the rest of the cycle does not judge
    them again), become final when the check they depend on ends conformant, and are dropped, to be
    judged again if asked, when it does not. A check met MAX_CHAIN deep (``cuts``) is assumed the same
    way, by every check open, until it is judged from the top of the stack (those open too, if their
    verdicts are dropped). A check that takes a conformant verdict resting on assumptions rests on them
    too. ``walked``: the issues of the walks done to reach a final verdict, which the main walk says
    again instead of walking the same resource against the same profile, in the same Bundles, a second
    time (a Bundle profile's ``profile:resource`` slices validate each entry to sort it).
    ``main_verdicts``: whether the main walk's walks found no error, by walk key and the other terms of
    a walk (see Walk.validate_resource), which a conformance check needing the same walk takes as its
    verdict instead of walking again (a contained resource walked against its ``meta.profile``, then
    judged as a reference target through it)."""

    __slots__ = ("cut", "cuts", "dependents", "fetched", "heads", "main_verdicts", "open", "verdicts", "walked")

    def __init__(self) -> None:
        self.verdicts: dict[tuple, bool | None] = {}
        self.open: dict[tuple, Callable[[], bool]] = {}  # the checks being judged, in order: how to judge each
        self.heads: dict[tuple, set[tuple]] = {}  # check -> open checks it assumed
        self.dependents: dict[tuple, set[tuple]] = {}  # assumed check -> checks relying on it
        self.walked: dict[tuple, tuple[list[Issue], list[tuple[tuple, Issue]]]] = {}
        self.main_verdicts: dict[tuple, bool] = {}
        self.cuts: dict[tuple, Callable[[], bool]] = {}  # checks cut from chains, or open then: how to judge each
        self.cut = False  # a check cut from a chain is assumed conformant, not judged yet
        self.fetched: Fetched | None = None  # the targets the validation's resolver gave; None: no resolver

    def assume(self, head: tuple) -> None:
        """`head` is assumed conformant: every check opened after it depends on that."""
        opened = list(self.open)
        above = opened[opened.index(head) + 1:] if head in self.open else opened
        self.dependents.setdefault(head, set()).update(above)
        for key in above:
            self.heads.setdefault(key, set()).add(head)

    def settle(self, key: tuple, found: bool) -> None:
        """`key` is judged: keep its verdict, and settle the checks that assumed it conformant."""
        self.verdicts[key] = found
        own = self.heads.get(key, set())
        for dependent in self.dependents.pop(key, ()):
            heads = self.heads.get(dependent)
            if heads is None or dependent not in self.verdicts:
                continue  # dropped already
            heads.discard(key)
            if not found:
                self.drop(dependent)
            else:
                heads.update(own)  # it now rests on what `key` rests on
                for head in own:
                    self.dependents[head].add(dependent)
                if not heads:
                    del self.heads[dependent]

    def judge_cuts(self) -> bool:
        """Judge from the top of the stack the checks cut from chains, or open there, that have no verdict
        (assumed, or dropped since), the deepest first: the verdicts resting on them become final or are dropped
        (see settle), and those dropped are judged next. Those cut meanwhile wait for the next call. False when
        none was judged."""
        self.cut = False
        judged = False
        for key in reversed(list(self.cuts)):
            if self.verdicts.get(key) is None:
                self.verdicts.pop(key, None)
                self.cuts[key]()
                judged = True
        return judged

    def drop(self, key: tuple) -> None:
        del self.verdicts[key]
        for head in self.heads.pop(key, ()):
            self.dependents.get(head, set()).discard(key)

    @staticmethod
    def walk_key(resource: dict, canonical: str, pkg: str | None, bundles: list[dict], stand_in: object,
                 origin: str | None) -> tuple:
        # The Bundles open around the resource resolve its references, and a stand-in package reached on
        # the way makes its rules warnings; the package whose pins chose the definitions (origin) decides
        # which packages stand in for the extensions and profiles met inside: all part of the key.
        return id(resource), canonical, pkg, tuple(map(id, bundles)), stand_in, origin

    def replay(self, walk: tuple) -> tuple[list[Issue], list[tuple[tuple, Issue]]] | None:
        """(issues, what was said once) of a walk done already for a conformance check (by walk_key), or None."""
        return self.walked.get(walk)

    def keep_verdict(self, terms: tuple, issues: list[Issue]) -> None:
        """Keep whether a walk found no error in its `issues`, when it is the main walk's (no check is open):
        it then rests on no assumption (a cycle's last only while its check is open), unless a chain was cut
        (its checks are judged, and the main walk done again, once it is over)."""
        if not self.open and not self.cut:
            self.main_verdicts[terms] = no_error(issues)

    def lend_verdict(self, terms: tuple) -> bool | None:
        """The main walk's verdict of a walk, for a conformance walk (a check is open); None if not made.
        Never to the main walk, which needs the walk's issues (made again in the next pass)."""
        return self.main_verdicts.get(terms) if self.open else None


def _bundle_index(bundle: dict) -> dict[str, dict]:
    """fullUrl -> resource for the entries of a Bundle; also keyed by "/Type/id" for relative references."""
    index: dict[str, dict] = {}
    for entry in as_list(bundle.get("entry")):
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


def _type_of(resource: dict) -> str | None:
    """A resource's type, when it has a usable one (a malformed one is reported where it stands)."""
    rtype = resource.get("resourceType")
    return rtype if isinstance(rtype, str) else None
