"""ValueSet expansion from the loaded packages, enough to judge bindings offline.

An :class:`Expansion` knows the codes it enumerates, and the code systems it includes but cannot
enumerate (not loaded, ``content`` not complete, unsupported filters): a code from such a system
is *not checked* (``None``), never passed and never failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pytest_mes.fhir.packages import PackageStore

# Systems that are never in a package: large external terminologies.
_EXTERNAL = ("http://loinc.org", "http://snomed.info/sct", "urn:ietf:bcp:47", "urn:iso:std:iso:4217",
             "http://unitsofmeasure.org", "urn:ietf:bcp:13", "http://www.nlm.nih.gov/research/umls/rxnorm")


@dataclass
class Expansion:
    """What a ValueSet allows: enumerated codes per system, plus systems that could not be enumerated."""

    url: str
    codes: dict[str, set[str]] = field(default_factory=dict)
    open_systems: dict[str, str] = field(default_factory=dict)  # system -> why it cannot be enumerated
    excluded: dict[str, set[str]] = field(default_factory=dict)

    def check(self, system: str | None, code: str) -> bool | None:
        """True: in the ValueSet; False: not in it; None: cannot tell offline."""
        if system is None:  # a bare `code`: the system is implied by the binding
            if any(code in codes for codes in self.codes.values()):
                return True
            return None if self.open_systems else False
        if code in self.excluded.get(system, ()):
            return False
        if code in self.codes.get(system, ()):
            return True
        if system in self.open_systems:
            return None
        return False

    def why_open(self, system: str | None) -> str:
        if system and system in self.open_systems:
            return self.open_systems[system]
        return "; ".join(sorted(set(self.open_systems.values()))) or "inconnu"


@dataclass
class _Unavailable:
    """A ValueSet that cannot be expanded at all (not loaded, or an unsupported construct)."""

    url: str
    why: str


class ValueSetExpander:
    """Expands ValueSets from a :class:`PackageStore`, caching each expansion."""

    def __init__(self, store: PackageStore):
        self.store = store
        self._cache: dict[tuple[str, str | None], Expansion | _Unavailable] = {}
        self._cs_cache: dict[str, tuple[dict[str, list[str]] | None, str, str]] = {}

    def expand(self, url: str, context: str | None = None) -> Expansion | _Unavailable:
        key = (url, context)
        found = self._cache.get(key)
        if found is None:
            self._cache[key] = _Unavailable(url, "définition circulaire")  # guards import cycles
            found = self._expand(url, context)
            self._cache[key] = found
        return found

    # -- CodeSystems --------------------------------------------------------------------------------
    def _code_system(self, system: str, context: str | None) -> tuple[dict[str, list[str]] | None, str, str]:
        """(code -> children codes) or None, content mode, why-not."""
        cached = self._cs_cache.get(system)
        if cached is not None:
            return cached
        cs = self.store.resolve(system, context)
        if cs is None or cs.get("resourceType") != "CodeSystem":
            why = "système externe" if system.startswith(_EXTERNAL) else f"CodeSystem {system} non chargé"
            result: tuple[dict[str, list[str]] | None, str, str] = (None, "missing", why)
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
            why = "" if content == "complete" else f"CodeSystem {system} publié partiellement ({content})"
            result = (tree, content, why)
        self._cs_cache[system] = result
        return result

    # -- ValueSets ----------------------------------------------------------------------------------
    def _expand(self, url: str, context: str | None) -> Expansion | _Unavailable:
        vs = self.store.resolve(url, context)
        if vs is None or vs.get("resourceType") != "ValueSet":
            return _Unavailable(url, f"ValueSet {url.split('|')[0]} introuvable dans les paquets chargés")
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
            return _Unavailable(url, "ValueSet sans compose ni expansion")
        for include in compose.get("include") or []:
            problem = self._include(exp, include, ctx, exclude=False)
            if problem:
                return _Unavailable(url, problem)
        for exclude in compose.get("exclude") or []:
            self._include(exp, exclude, ctx, exclude=True)
        return exp

    def _add_contains(self, exp: Expansion, contains: list[dict]) -> None:
        for item in contains:
            if item.get("system") and item.get("code"):
                exp.codes.setdefault(item["system"], set()).add(item["code"])
            self._add_contains(exp, item.get("contains") or [])

    def _include(self, exp: Expansion, include: dict, ctx: str | None, *, exclude: bool) -> str:
        target = exp.excluded if exclude else exp.codes
        system = include.get("system")
        imported = include.get("valueSet") or []
        if imported and not system:
            for vs_url in imported:
                sub = self.expand(vs_url, ctx)
                if isinstance(sub, _Unavailable):
                    if exclude:
                        continue
                    return sub.why
                for s, codes in sub.codes.items():
                    target.setdefault(s, set()).update(codes)
                if not exclude:
                    exp.open_systems.update(sub.open_systems)
            return ""
        if not system:
            return "include sans système"
        if imported:  # system intersected with other ValueSets: not enumerated here
            if not exclude:
                exp.open_systems[system] = "inclusion croisée avec un autre ValueSet"
            return ""
        if include.get("concept"):
            target.setdefault(system, set()).update(
                c["code"] for c in include["concept"] if isinstance(c, dict) and isinstance(c.get("code"), str)
            )
            return ""
        tree, content, why = self._code_system(system, ctx)
        filters = include.get("filter") or []
        if tree is None:
            if not exclude:
                exp.open_systems[system] = why
            return ""
        if filters:
            codes = self._filter(tree, filters)
            if codes is None:
                if not exclude:
                    exp.open_systems[system] = "filtre de ValueSet non pris en charge hors ligne"
                return ""
            target.setdefault(system, set()).update(codes)
        else:
            target.setdefault(system, set()).update(tree)
        if content != "complete" and not exclude:
            exp.open_systems[system] = why
        return ""

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
