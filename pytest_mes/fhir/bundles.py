"""Rules of a Bundle's entries that its StructureDefinition does not state, as the HL7 validator checks them.

- Each entry with a resource has a ``fullUrl`` (its identity), except in a transaction or a batch,
  where the server gives identities.
- A ``fullUrl`` is an absolute URI (``urn:uuid:…``, ``https://server/fhir/Patient/1``), never a
  relative reference such as ``Patient/1``.
- A ``fullUrl`` that looks like a RESTful server URL (``…/Patient/1``) ends with the type and id of the
  entry's resource.
- A document is self-contained: its references to other entries resolve by the ``fullUrl`` rules (a
  relative ``Patient/1`` against a RESTful ``fullUrl``'s base, never against a ``urn:uuid:``), and every
  entry is reachable from the Composition through them.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from pytest_mes.fhir.issues import Issue, make_issue

_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")
_WITHOUT_FULLURL = frozenset({"transaction", "batch"})


def bundle_issues(bundle: dict, loc: str, resource_types: Collection[str]) -> list[Issue]:
    """The issues of these rules for `bundle` (a parsed Bundle at location `loc`)."""
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        return []
    kind = bundle.get("type")
    issues: list[Issue] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
            continue
        where = f"{loc}.entry[{i}]"
        full_url = entry.get("fullUrl")
        if full_url is None:
            if kind not in _WITHOUT_FULLURL:
                issues.append(make_issue("error", "BUNDLE_NO_FULLURL", where, "Bundle.entry.fullUrl"))
            continue
        if not isinstance(full_url, str):
            continue  # a wrong JSON type: reported by the walk
        if not _ABSOLUTE.fullmatch(full_url):
            issues.append(make_issue("error", "BUNDLE_FULLURL_RELATIVE", where, "Bundle.entry.fullUrl", url=full_url))
            continue
        expected = _restful_tail(full_url, entry["resource"], resource_types)
        if expected is not None:
            issues.append(make_issue("error", "BUNDLE_FULLURL_MISMATCH", where, "Bundle.entry.fullUrl",
                                     url=full_url, expected=expected))
    if kind == "document":
        issues.extend(_document_issues(entries, loc))
    return issues


def _document_issues(entries: list, loc: str) -> list[Issue]:
    """A document is self-contained: its references within the Bundle resolve by the fullUrl rules, and
    every entry is reachable from the Composition (the first entry) through them."""
    urls = {e["fullUrl"]: i for i, e in enumerate(entries) if isinstance(e, dict) and isinstance(e.get("fullUrl"), str)}
    issues: list[Issue] = []
    edges: dict[int, set[int]] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
            continue
        base = _restful_base(entry.get("fullUrl"))
        for where, ref in _references(entry["resource"], f"{loc}.entry[{i}].resource"):
            if ref.startswith("#"):
                continue
            target = urls.get(ref)
            if target is None and base is not None and not _ABSOLUTE.fullmatch(ref):
                target = urls.get(base + ref)
            if target is not None:
                edges.setdefault(i, set()).add(target)
            elif ref.startswith("urn:") or not _ABSOLUTE.fullmatch(ref):
                issues.append(make_issue("error", "BUNDLE_REF_NOT_FOUND", where, "Bundle (document)", reference=ref))
    reached, todo = {0}, [0]
    while todo:
        for target in edges.get(todo.pop(), ()):
            if target not in reached:
                reached.add(target)
                todo.append(target)
    for i, entry in enumerate(entries):
        if i not in reached and isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
            issues.append(make_issue("error", "BUNDLE_ENTRY_UNREACHABLE", f"{loc}.entry[{i}]", "Bundle (document)",
                                     url=str(entry.get("fullUrl") or "")))
    return issues


def _restful_base(full_url: object) -> str | None:
    """``https://server/fhir/`` of a RESTful fullUrl ``https://server/fhir/Patient/1``, else None."""
    if not isinstance(full_url, str) or not full_url.startswith(("http://", "https://")):
        return None
    parts = full_url.split("/")
    return "/".join(parts[:-2]) + "/" if len(parts) > 4 else None


def _references(value: Any, path: str) -> list[tuple[str, str]]:
    """(location, reference string) of every Reference.reference under `value`."""
    out: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for key, child in value.items():
            if key == "reference" and isinstance(child, str):
                out.append((path, child))
            elif key not in ("contained", "text"):
                out.extend(_references(child, f"{path}.{key}"))
    elif isinstance(value, list):
        for n, child in enumerate(value):
            out.extend(_references(child, f"{path}[{n}]"))
    return out


def _restful_tail(full_url: str, resource: dict[str, Any], resource_types: Collection[str]) -> str | None:
    """``/Type/id`` a RESTful `full_url` should end with but does not, else None (not a RESTful url, or
    it agrees, or the resource has no id to compare)."""
    if not full_url.startswith(("http://", "https://")):
        return None
    parts = full_url.rstrip("/").split("/")
    if "_history" in parts:
        parts = parts[:parts.index("_history")]
    if len(parts) < 2 or parts[-2] not in resource_types:
        return None
    rtype, rid = resource.get("resourceType"), resource.get("id")
    if not isinstance(rid, str) or not isinstance(rtype, str):
        return None
    return None if parts[-2:] == [rtype, rid] else f"/{rtype}/{rid}"
