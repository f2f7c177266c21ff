"""Preconditions: does the server's CapabilityStatement declare what a test needs?"""

from __future__ import annotations

from typing import Any

from pytest_mes.testset.model import SYSTEM_INTERACTIONS, Capability


def missing(statement: dict[str, Any], need: Capability) -> str | None:
    """Why `statement` does not meet `need`, or None when it does."""
    if need.format and not _has_format(statement, need.format):
        return f"format '{need.format}' is not among CapabilityStatement.format"
    if not (need.resource or need.interaction or need.operation):
        return None  # a format alone
    rest = _server_rest(statement)
    if rest is None:
        return "the CapabilityStatement has no rest entry with mode 'server'"
    if need.interaction in SYSTEM_INTERACTIONS and not need.resource:
        codes = {i.get("code") for i in rest.get("interaction", [])}
        return None if need.interaction in codes else f"system interaction '{need.interaction}' is not declared"
    if need.operation and not need.resource:
        names = {o.get("name") for o in rest.get("operation", [])}
        return None if need.operation.lstrip("$") in names else f"operation '{need.operation}' is not declared"
    resource = next((r for r in rest.get("resource", []) if r.get("type") == need.resource), None)
    if resource is None:
        return f"resource type {need.resource} is not declared"
    if need.interaction and need.interaction not in {i.get("code") for i in resource.get("interaction", [])}:
        return f"interaction '{need.interaction}' is not declared on {need.resource}"
    if need.search_param:
        # A chained or modified parameter (patient.identifier, actor:Patient.x) is declared by its first name.
        base = need.search_param.split(".")[0].split(":")[0]
        names = {p.get("name") for p in resource.get("searchParam", [])}
        if base not in names and need.search_param not in names:
            return f"search parameter '{need.search_param}' is not declared on {need.resource}"
    if need.operation:
        names = {o.get("name") for o in resource.get("operation", [])}
        if need.operation.lstrip("$") not in names:
            return f"operation '{need.operation}' is not declared on {need.resource}"
    if need.include and need.include not in resource.get("searchInclude", []):
        return f"_include '{need.include}' is not among {need.resource}.searchInclude"
    if need.conditional_update and not resource.get("conditionalUpdate"):
        return f"conditionalUpdate is not declared on {need.resource}"
    return None


def _server_rest(statement: dict[str, Any]) -> dict[str, Any] | None:
    return next((r for r in statement.get("rest", []) if r.get("mode") == "server"), None)


def _has_format(statement: dict[str, Any], wanted: str) -> bool:
    formats = {f.lower() for f in statement.get("format", [])}
    short = wanted.lower().removeprefix("application/fhir+")
    return bool(formats & {wanted.lower(), short, f"application/fhir+{short}"})
