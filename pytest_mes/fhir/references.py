"""References: resolution (contained, Bundle fullUrl), allowed target types and target profiles.

A mixin of the validator's walk (:class:`pytest_mes.fhir.walk.Walk`): it uses ``self.v`` (the
Validator), ``self.add``, ``self.root`` and ``self.bundles``.
"""

from __future__ import annotations

from typing import Any

from pytest_mes.fhir.compiler import ElementDef, TypeRef
from pytest_mes.fhir.packages import FHIR_BASE


class ReferenceChecks:
    """Checks of Reference elements."""

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
        if allowed is None:  # any resource will do, or a target profile cannot be loaded: say which
            missing = [c for c in tref.targets if self.v.type_of_profile(c, elem.schema.package) is None]
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
                sub = type(self)(self.v)  # a fresh walk of the same kind
                sub.bundles = self.bundles
                sub.conf_memo = self.conf_memo
                sub.root = self.root if any(resource is c for c in _as_list(self.root.get("contained"))) else resource
                sub.validate_resource(resource, "x", explicit=[schema], context=context,
                                      contained=sub.root is not resource, declared=False)
                found = not any(i.severity in ("error", "fatal") for i in sub.issues)
            self.conf_memo[key] = found
        return found


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
