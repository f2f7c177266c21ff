"""The index of canonical resources across loaded FHIR packages: which package holds ``url`` or ``url|version``.

An unversioned canonical resolves to the version pinned by the referencing package's dependencies
(its :meth:`Canonicals.closure`), else to the latest loaded; a pinned dependency that is missing is stood
in for by the loaded version, and :meth:`Canonicals.substitutions` says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pytest_mes.fhir.issues import Issue, make_issue
from pytest_mes.fhir.package import Package, best_match, split_spec, version_key, version_matches

FHIR_BASE = "http://hl7.org/fhir/StructureDefinition/"

Resolve = Callable[[str, str], dict | None]  # (canonical, resource type) -> the resource, or None


def resolve_checked_against(
    resource: dict, element: str, resource_type: str, loc: str, resolve: Resolve, not_found: str, **values: str
) -> tuple[dict | None, list[Issue]]:
    """The `resource_type` that `resource` names in `element` (a canonical) and is checked against, with no
    issue; else None, with an informational `not_found` issue when the canonical does not resolve (the
    check is then not made) and none when `element` holds no canonical. The issue's message gets the
    canonical as ``url`` and `values` (what else it names)."""
    canonical = resource.get(element)
    if not isinstance(canonical, str):
        return None, []
    target = resolve(canonical, resource_type)
    if target is None:
        return None, [make_issue("information", not_found, f"{loc}.{element}", url=canonical, **values)]
    return target, []


@dataclass(frozen=True)
class Substitution:
    """A pinned dependency that is missing, and the loaded version used in its place."""

    used: str  # id#version loaded
    wanted: str  # id#version pinned
    by: str  # the package that pins it


class Canonicals:
    """Canonical resolution across `packages` (``.packages``, in the order given)."""

    def __init__(self, packages: Sequence[Package]):
        self.packages: list[Package] = list(packages)
        self._by_key = {p.key: p for p in self.packages}
        # url -> [(package, entry index)] ; versions disambiguated at resolve time
        self._by_url: dict[str, list[tuple[Package, int]]] = {}
        for package in self.packages:
            for i, entry in enumerate(package.entries):
                url = entry.get("u")
                if url:
                    self._by_url.setdefault(url, []).append((package, i))
        self._closure_cache: dict[str, list[str]] = {}
        self._substitutions: dict[str, dict[str, Substitution]] = {}

    def package(self, key: str) -> Package | None:
        """The loaded package ``id#version`` (or the latest ``id``), or None."""
        pid, version = split_spec(key)
        if version:
            return self._by_key.get(f"{pid}#{version}")
        candidates = [p for p in self.packages if p.id == pid]
        return max(candidates, key=lambda p: version_key(p.version)) if candidates else None

    def closure(self, package: Package | str) -> list[str]:
        """Keys of `package` and of its loaded dependencies, nearest first (itself, direct deps, …)."""
        key = package if isinstance(package, str) else package.key
        if key in self._closure_cache:
            return self._closure_cache[key]
        order: list[str] = []
        queue = [key]
        while queue:
            current = queue.pop(0)
            if current in order:
                continue
            order.append(current)
            pkg = self._by_key.get(current)
            if pkg is None:
                continue
            for dep_id, dep_version in pkg.dependencies.items():
                match = self._match_loaded(dep_id, dep_version)
                if match is not None and match.key not in order:
                    queue.append(match.key)
        self._closure_cache[key] = order
        return order

    def substitutions(self, context: str) -> dict[str, Substitution]:
        """The packages of `context`'s closure loaded in place of a pinned dependency that is missing:
        key of the package used -> :class:`Substitution`."""
        found = self._substitutions.get(context)
        if found is None:
            found = {}
            for key in self.closure(context):
                package = self._by_key.get(key)
                for dep_id, dep_version in (package.dependencies.items() if package else ()):
                    match = self._match_loaded(dep_id, dep_version)
                    if match is not None and not version_matches(dep_version, match.version):
                        found.setdefault(match.key, Substitution(match.key, f"{dep_id}#{dep_version}", key))
            self._substitutions[context] = found
        return found

    def _match_loaded(self, pid: str, version: str) -> Package | None:
        # pinned version missing: the latest loaded one stands in (named in the warnings)
        return best_match(self._by_key, pid, version) or self.package(pid)

    def resolve_entry(self, canonical: str, context: Package | str | None = None, *,
                      resource_type: str | None = None) -> tuple[Package, int] | None:
        """Where the resource with this canonical is: ``(package, entry index)``, or None (also when it is not
        a `resource_type`, when given)."""
        found = self._locate(canonical, context)
        if found is not None and resource_type is not None and found[0].entries[found[1]].get("t") != resource_type:
            return None
        return found

    def _locate(self, canonical: str, context: Package | str | None) -> tuple[Package, int] | None:
        url, _, version = canonical.partition("|")
        candidates = self._by_url.get(url)
        if not candidates:
            return None
        if version:
            for package, i in candidates:
                if package.entries[i].get("v") == version:
                    return package, i
            # FHIR allows a partial version ("2.1" for "2.1.0"); take the best match of the prefix.
            partial = [(p, i) for p, i in candidates if str(p.entries[i].get("v", "")).startswith(version + ".")]
            if partial:
                return max(partial, key=lambda c: version_key(str(c[0].entries[c[1]].get("v", ""))))
            return None
        if len(candidates) == 1:
            return candidates[0]
        if context is not None:
            # An unversioned reference means the version the referencing package depends on.
            for key in self.closure(context):
                for package, i in candidates:
                    if package.key == key:
                        return package, i
        return max(
            candidates,
            key=lambda c: (version_key(str(c[0].entries[c[1]].get("v", ""))), version_key(c[0].version)),
        )

    def resolve(self, canonical: str, context: Package | str | None = None, *, resource_type: str) -> dict | None:
        """The `resource_type` (``"ValueSet"``…) with canonical ``url`` or ``url|version`` (parsed JSON), or None
        (also when the canonical names a resource of another type).

        An unversioned url resolves to the version pinned by `context`'s dependencies when given,
        else to the latest loaded version.
        """
        found = self.resolve_entry(canonical, context, resource_type=resource_type)
        return found[0].read(found[1]) if found else None

    def package_of(self, canonical: str, context: Package | str | None = None) -> Package | None:
        found = self.resolve_entry(canonical, context)
        return found[0] if found else None

    def structure_definition(self, type_or_url: str, context: Package | str | None = None) -> dict | None:
        """A StructureDefinition: ``"Patient"`` gives the base R4 one; otherwise a canonical url."""
        canonical = type_or_url if ":" in type_or_url else FHIR_BASE + type_or_url
        return self.resolve(canonical, context, resource_type="StructureDefinition")

    def entry(self, canonical: str, context: Package | str | None = None) -> dict | None:
        """The index entry (``t`` type, ``ty`` SD type, ``u``, ``v``…) without parsing the resource."""
        found = self.resolve_entry(canonical, context)
        return found[0].entries[found[1]] if found else None
