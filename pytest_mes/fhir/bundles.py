"""Rules of a Bundle's entries that its StructureDefinition does not state, as the HL7 validator checks them.

- Each entry with a resource has a ``fullUrl`` (its identity), except in a transaction or a batch,
  where the server gives identities.
- A ``fullUrl`` is an absolute URI (``urn:uuid:…``, ``https://server/fhir/Patient/1``), never a
  relative reference such as ``Patient/1``.
- A ``fullUrl`` that looks like a RESTful server URL (``…/Patient/1``) ends with the type and id of the
  entry's resource.
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
    return issues


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
