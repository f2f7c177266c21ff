"""ValueSet expansion from the loaded packages, enough to judge bindings offline.

An :class:`Expansion` knows the codes it enumerates, and the code systems it includes but cannot
enumerate (not loaded, ``content`` not complete, unsupported filters): a code from such a system
is *not checked* (``None``), never passed and never failed. Why it is not checked is a :class:`NotLoaded`
phrase when a FHIR package would supply what is missing (a ValueSet, or a CodeSystem that is not an
external terminology): that is a check not made, which the loaded packages could make.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pytest_mes.fhir.issues import Phrase
from pytest_mes.fhir.store import PackageStore

# Systems that are never in a package: large external terminologies.
_EXTERNAL = ("http://loinc.org", "http://snomed.info/sct", "urn:ietf:bcp:47", "urn:iso:std:iso:4217",
             "http://unitsofmeasure.org", "urn:ietf:bcp:13", "http://www.nlm.nih.gov/research/umls/rxnorm")


@dataclass(frozen=True, slots=True)
class NotLoaded(Phrase):
    """Why a binding cannot be judged when the ValueSet or CodeSystem it needs is missing from the loaded
    packages (and names the missing packages it may come from) — unlike an external terminology or a
    CodeSystem published without its content, which no package supplies."""


@dataclass
class Expansion:
    """What a ValueSet allows: enumerated codes per system, plus systems that could not be enumerated."""

    url: str
    codes: dict[str, set[str]] = field(default_factory=dict)
    open_systems: dict[str, Phrase] = field(default_factory=dict)  # system -> why it cannot be enumerated
    excluded: dict[str, set[str]] = field(default_factory=dict)
    # system ("*": any) -> why an exclude on it could not be evaluated: its codes are not checked.
    excluded_open: dict[str, Phrase] = field(default_factory=dict)

    def check(self, system: str | None, code: str) -> bool | None:
        """True: in the ValueSet; False: not in it; None: cannot tell offline."""
        if system is None:  # a bare `code`: the system is implied by the binding
            hits = [s for s, codes in self.codes.items() if code in codes and code not in self.excluded.get(s, ())]
            if hits:
                return None if any(self._exclusion_open(s) for s in hits) else True
            return None if self.open_systems else False
        if code in self.excluded.get(system, ()):
            return False
        if code in self.codes.get(system, ()):
            return None if self._exclusion_open(system) else True
        if system in self.open_systems:
            return None
        return False

    def _exclusion_open(self, system: str) -> Phrase | None:
        return self.excluded_open.get(system) or self.excluded_open.get("*")

    def why_open(self, system: str | None) -> Phrase:
        if system and system in self.open_systems:
            return self.open_systems[system]
        excluded = self._exclusion_open(system) if system else None
        if excluded:
            return excluded
        reasons = sorted(set(self.open_systems.values()) | set(self.excluded_open.values()), key=lambda r: r.fr)
        why = NotLoaded if any(isinstance(r, NotLoaded) for r in reasons) else Phrase
        return why("; ".join(r.fr for r in reasons) or "inconnu", "; ".join(r.en for r in reasons) or "unknown")


@dataclass
class _Unavailable:
    """A ValueSet that cannot be expanded at all (not loaded, or an unsupported construct)."""

    url: str
    why: Phrase


class ValueSetExpander:
    """Expands ValueSets from a :class:`PackageStore`, caching each expansion."""

    def __init__(self, store: PackageStore):
        self.store = store
        self._cache: dict[tuple[str, str | None], Expansion | _Unavailable] = {}
        # Keyed by the resolved resource (package, entry): FR Core 2.0.1 and 2.2.0 publish different
        # versions of the same CodeSystem url.
        self._cs_cache: dict[tuple[str, int], tuple[dict[str, list[str]] | None, str, Phrase | None]] = {}

    def expand(self, url: str, context: str | None = None) -> Expansion | _Unavailable:
        key = (url, context)
        found = self._cache.get(key)
        if found is None:
            # guards import cycles
            self._cache[key] = _Unavailable(url, Phrase("définition circulaire", "circular definition"))
            try:
                found = self._expand(url, context)
            finally:
                if found is None:  # interrupted (a RecursionError in a deep walk): not a verdict to keep
                    del self._cache[key]
            self._cache[key] = found
        return found

    def _not_loaded(self, fr: str, en: str, context: str | None) -> NotLoaded:
        """`fr`/`en` said of a missing definition, with the missing packages that `context` (the package
        that refers to it) depends on — directly if any, else through its dependencies: one should have it."""
        missing = [m for m in self.store.missing if m.substitute is None]
        if context:
            closure = set(self.store.closure(context))
            missing = [m for m in missing if context in m.required_by] or \
                [m for m in missing if closure & set(m.required_by)]
        wanted = ", ".join(m.spec for m in missing)
        if not wanted:
            return NotLoaded(fr, en)
        return NotLoaded(f"{fr} ; paquets manquants qui peuvent le fournir : {wanted}",
                         f"{en}; missing packages that may supply it: {wanted}")

    # -- CodeSystems --------------------------------------------------------------------------------
    def _code_system(
        self, system: str, context: str | None, version: str | None = None
    ) -> tuple[dict[str, list[str]] | None, str, Phrase | None]:
        """(code -> children codes) or None, content mode, why-not. `version`: an include's pinned
        version of the CodeSystem; else the one `context` depends on."""
        canonical = f"{system}|{version}" if version else system
        found = self.store.resolve_entry(canonical, context, resource_type="CodeSystem")
        key = (found[0].key, found[1]) if found is not None else None
        cached = self._cs_cache.get(key) if key is not None else None
        if cached is not None:
            return cached
        cs = found[0].read(found[1]) if found is not None else None
        if cs is None:
            if system.startswith(_EXTERNAL):
                return (None, "missing", Phrase("système externe", "external system"))
            return (None, "missing", self._not_loaded(f"CodeSystem {canonical} non chargé",
                                                      f"CodeSystem {canonical} not loaded", context))
        else:
            tree: dict[str, list[str]] = {}

            def walk(concepts: list[dict]) -> None:
                for concept in concepts or ():
                    code = concept.get("code")
                    if not isinstance(code, str):
                        continue
                    tree[code] = [c.get("code") for c in concept.get("concept") or () if isinstance(c, dict)]
                    walk(concept.get("concept") or [])

            walk(cs.get("concept") or [])
            content = cs.get("content", "complete")
            why = None if content == "complete" else Phrase(f"CodeSystem {system} publié partiellement ({content})",
                                                            f"CodeSystem {system} published partially ({content})")
            result = (tree, content, why)
        self._cs_cache[key] = result  # type: ignore[index]
        return result

    # -- ValueSets ----------------------------------------------------------------------------------
    def _expand(self, url: str, context: str | None) -> Expansion | _Unavailable:
        vs = self.store.resolve(url, context, resource_type="ValueSet")
        if vs is None:
            bare = url.split("|")[0]
            return _Unavailable(url, self._not_loaded(f"ValueSet {bare} introuvable dans les paquets chargés",
                                                      f"ValueSet {bare} not found in the loaded packages", context))
        ctx = context
        package = self.store.package_of(url, context)
        if package is not None:
            ctx = package.key
        exp = Expansion(url)
        compose = vs.get("compose")
        if not compose and vs.get("expansion"):
            self._add_contains(exp, vs["expansion"].get("contains") or [])
            return exp
        if not compose:
            return _Unavailable(url, Phrase("ValueSet sans compose ni expansion",
                                            "ValueSet without compose or expansion"))
        for include in compose.get("include") or []:
            problem = self._include(exp, include, ctx, exclude=False)
            if problem:
                return _Unavailable(url, problem)
        for exclude in compose.get("exclude") or []:
            problem = self._include(exp, exclude, ctx, exclude=True)
            if problem:  # an exclude that cannot be evaluated: the codes it might remove are not checked
                exp.excluded_open["*"] = type(problem)(f"exclusion non évaluable ({problem.fr})",
                                                       f"exclusion not evaluable ({problem.en})")
        return exp

    def _add_contains(self, exp: Expansion, contains: list[dict]) -> None:
        for item in contains:
            if item.get("system") and item.get("code"):
                exp.codes.setdefault(item["system"], set()).add(item["code"])
            self._add_contains(exp, item.get("contains") or [])

    def _include(self, exp: Expansion, include: dict, ctx: str | None, *, exclude: bool) -> Phrase | None:
        """Adds what `include` (or an exclude) enumerates to `exp`; returns why it cannot be evaluated at all."""
        target = exp.excluded if exclude else exp.codes
        system = include.get("system")
        imported = include.get("valueSet") or []
        opened = exp.excluded_open if exclude else exp.open_systems
        if imported and not system:
            for vs_url in imported:
                sub = self.expand(vs_url, ctx)
                if isinstance(sub, _Unavailable):
                    return sub.why
                # The imported ValueSet's own excludes apply to its codes only.
                for s, codes in sub.codes.items():
                    target.setdefault(s, set()).update(codes - sub.excluded.get(s, set()))
                opened.update(sub.open_systems)
                if exclude:
                    if sub.excluded_open or sub.excluded:
                        opened["*"] = Phrase("exclusion d'un ValueSet qui a lui-même des exclusions",
                                             "exclusion of a ValueSet that has exclusions of its own")
                else:
                    for s, why in sub.excluded_open.items():
                        exp.excluded_open.setdefault(s, why)
            return None
        if not system:
            return Phrase("include sans système", "include without a system")
        if imported:  # system intersected with other ValueSets: not enumerated here
            opened[system] = Phrase("inclusion croisée avec un autre ValueSet",
                                    "inclusion crossed with another ValueSet")
            return None
        if include.get("concept"):
            target.setdefault(system, set()).update(
                c["code"] for c in include["concept"] if isinstance(c, dict) and isinstance(c.get("code"), str)
            )
            return None
        version = include.get("version") if isinstance(include.get("version"), str) else None
        tree, content, why = self._code_system(system, ctx, version)
        filters = include.get("filter") or []
        if tree is None:
            opened[system] = why  # a missing CodeSystem always says why
            return None
        if filters:
            codes = self._filter(tree, filters)
            if codes is None:
                opened[system] = Phrase("filtre de ValueSet non pris en charge hors ligne",
                                        "ValueSet filter not supported offline")
                return None
            target.setdefault(system, set()).update(codes)
        else:
            target.setdefault(system, set()).update(tree)
        if content != "complete":
            opened[system] = why  # partial content always says why
        return None

    @staticmethod
    def _filter(tree: dict[str, list[str]], filters: list[dict]) -> set[str] | None:
        result: set[str] | None = None
        for f in filters:
            op, prop, value = f.get("op"), f.get("property"), f.get("value")
            if prop != "concept" or op not in ("is-a", "descendent-of") or value not in tree:
                return None
            codes: set[str] = set()
            stack = list(tree[value])
            while stack:
                code = stack.pop()
                if code in codes:
                    continue
                codes.add(code)
                stack.extend(tree.get(code, []))
            if op == "is-a":
                codes.add(value)
            result = codes if result is None else result & codes
        return result
