"""Preconditions: does the server's CapabilityStatement declare what a test needs?"""

from __future__ import annotations

from typing import Any

from pytest_mes.fhir.issues import Phrase
from pytest_mes.report.labels import phrase
from pytest_mes.shape import a_string, objects, strings
from pytest_mes.testset.model import SYSTEM_INTERACTIONS, Capability

_STATEMENT = "CapabilityStatement"


def missing(statement: dict[str, Any], need: Capability) -> Phrase | None:
    """Why `statement` does not meet `need` (in every language), or None when it does. Raises WrongShape,
    naming the element, when the statement is malformed where the precondition reads it."""
    if need.format and not _has_format(statement, need.format):
        return phrase("lacks.format", format=need.format)
    if not (need.resource or need.interaction or need.operation):
        return None  # a format alone
    found = _server_rest(statement)
    if found is None:
        return phrase("lacks.server_rest")
    rest, where = found
    if need.interaction in SYSTEM_INTERACTIONS and not need.resource:
        codes = _values(rest, "interaction", "code", where)
        return None if need.interaction in codes else phrase("lacks.system_interaction", interaction=need.interaction)
    if need.operation and not need.resource:
        names = _values(rest, "operation", "name", where)
        return None if need.operation.lstrip("$") in names else phrase("lacks.system_operation",
                                                                       operation=need.operation)
    resources = objects(rest, "resource", where)
    index = next((n for n, r in enumerate(resources) if r.get("type") == need.resource), None)
    if index is None:
        return phrase("lacks.resource", resource=need.resource)
    resource, where = resources[index], f"{where}.resource[{index}]"
    if need.interaction and need.interaction not in _values(resource, "interaction", "code", where):
        return phrase("lacks.interaction", interaction=need.interaction, resource=need.resource)
    if need.search_param:
        # A chained or modified parameter (patient.identifier, actor:Patient.x) is declared by its first name.
        base = need.search_param.split(".")[0].split(":")[0]
        names = _values(resource, "searchParam", "name", where)
        if base not in names and need.search_param not in names:
            return phrase("lacks.search_param", param=need.search_param, resource=need.resource)
    if need.operation and need.operation.lstrip("$") not in _values(resource, "operation", "name", where):
        return phrase("lacks.operation", operation=need.operation, resource=need.resource)
    if need.include and need.include not in strings(resource, "searchInclude", where):
        return phrase("lacks.include", include=need.include, resource=need.resource)
    if need.conditional_update and not resource.get("conditionalUpdate"):
        return phrase("lacks.conditional_update", resource=need.resource)
    return None


def _server_rest(statement: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    """The rest entry with mode 'server', and its location."""
    rests = objects(statement, "rest", _STATEMENT)
    return next(((r, f"{_STATEMENT}.rest[{n}]") for n, r in enumerate(rests) if r.get("mode") == "server"), None)


def _has_format(statement: dict[str, Any], wanted: str) -> bool:
    formats = {f.lower() for f in strings(statement, "format", _STATEMENT)}
    short = wanted.lower().removeprefix("application/fhir+")
    return bool(formats & {wanted.lower(), short, f"application/fhir+{short}"})


def _values(node: dict[str, Any], key: str, field: str, where: str) -> set[Any]:
    """The `field` of each object of node[key]: the codes of interactions, the names of search parameters."""
    return {a_string(item, field, f"{where}.{key}[{n}]") for n, item in enumerate(objects(node, key, where))}
