"""Reading a server's JSON where FHIR fixes its shape (a list of objects, a string): the wrong shape is said with
its location (`Bundle.entry[2]`), in every language, so that a misbehaving server fails a check instead of
raising a traceback."""

from __future__ import annotations

from typing import Any

from pytest_mes.fhir.issues import Phrase
from pytest_mes.report.labels import phrase


class WrongShape(ValueError):
    """An element read from the server's JSON has the wrong JSON type; `said` names it, in every language."""

    def __init__(self, said: Phrase):
        super().__init__(str(said))
        self.said = said


def items(node: dict[str, Any], key: str, where: str, kind: type, not_kind: str) -> list[Any]:
    """node[key] as a list of `kind` (empty when absent); anything else, null included, raises WrongShape naming it."""
    value = node.get(key, [])
    if not isinstance(value, list):
        raise WrongShape(phrase("unreadable.not_list", where=f"{where}.{key}"))
    for n, item in enumerate(value):
        if not isinstance(item, kind):
            raise WrongShape(phrase(not_kind, where=f"{where}.{key}[{n}]"))
    return value


def objects(node: dict[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    return items(node, key, where, dict, "unreadable.not_object")


def strings(node: dict[str, Any], key: str, where: str) -> list[str]:
    return items(node, key, where, str, "unreadable.not_string")


def an_object(node: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    """node[key] as an object (empty when absent); anything else, null included, raises WrongShape naming it."""
    value = node.get(key, {})
    if not isinstance(value, dict):
        raise WrongShape(phrase("unreadable.not_object", where=f"{where}.{key}"))
    return value


def a_string(node: dict[str, Any], key: str, where: str) -> str | None:
    """node[key] as a string (None when absent); anything else, null included, raises WrongShape naming it."""
    if key not in node:
        return None
    if not isinstance(node[key], str):
        raise WrongShape(phrase("unreadable.not_string", where=f"{where}.{key}"))
    return node[key]
