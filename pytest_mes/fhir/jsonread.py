"""Reading a JSON document to validate: what a plain parser hides.

``json.loads`` and orjson keep the last of duplicate keys silently (``{"gender": "male", "gender":
"x"}`` reads as ``"x"``); the HL7 validator rejects such a document. :func:`loads_checked` parses
with the standard library, records each duplicate with its location, and drops a UTF-8 BOM. A
document nested deeper than the parser's stack allows raises :class:`TooDeep` (a ValueError), not
a RecursionError.
"""

from __future__ import annotations

import json
from typing import Any

from pytest_mes.fhir.issues import Phrase

_BOM = "\ufeff"


class TooDeep(ValueError):
    """JSON nested deeper than Python's stack allows (hundreds of levels): it cannot be read."""


class NotJsonNumber(ValueError):
    """NaN or Infinity: Python's JSON reader takes them, JSON has no such numbers. ``why`` says it in
    each language."""

    def __init__(self, name: str):
        self.why = Phrase(f"{name} n'est pas un nombre JSON", f"{name} is not a JSON number")
        super().__init__(self.why.fr)


def as_list(value: Any) -> list:
    """A JSON array as a list; anything else (absent, wrong shape) as no items — shape errors are reported
    by the walk, helpers must not crash on them."""
    return value if isinstance(value, list) else []


def dicts_in(value: Any) -> list[dict]:
    """The objects of a JSON array (see :func:`as_list`), its other items left out."""
    return [v for v in as_list(value) if isinstance(v, dict)]


def strings_in(value: Any) -> list[str]:
    """The strings of a JSON array (see :func:`as_list`), its other items left out."""
    return [v for v in as_list(value) if isinstance(v, str)]


def _no_constant(name: str) -> Any:
    raise NotJsonNumber(name)


def loads_checked(data: bytes | str) -> tuple[Any, list[tuple[str, str]]]:
    """(parsed JSON, [(location, duplicated key)]). Raises ValueError when it is not JSON.

    Locations are FHIRPath-like, from the resource type: ``Patient.name[0].family``.
    """
    if isinstance(data, bytes | bytearray):
        data = bytes(data).decode("utf-8")  # UnicodeDecodeError is a ValueError
    if data.startswith(_BOM):
        data = data[1:]
    duplicates: dict[int, list[str]] = {}

    def hook(pairs: list[tuple[str, Any]]) -> dict:
        obj: dict = {}
        for key, value in pairs:
            if key in obj:
                duplicates.setdefault(id(obj), []).append(key)
            obj[key] = value
        return obj

    try:
        value = json.loads(data, object_pairs_hook=hook, parse_constant=_no_constant)
        found: list[tuple[str, str]] = []
        if duplicates:
            root = value.get("resourceType") if isinstance(value, dict) else None
            _locate(value, root if isinstance(root, str) else "$", duplicates, found)
    except RecursionError:
        raise TooDeep("JSON imbriqué trop profondément pour être lu") from None
    return value, found


def _locate(value: Any, loc: str, duplicates: dict[int, list[str]], found: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for key in duplicates.get(id(value), ()):
            found.append((f"{loc}.{key}", key))
        for key, item in value.items():
            _locate(item, f"{loc}.{key}", duplicates, found)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _locate(item, f"{loc}[{i}]", duplicates, found)
