"""Check a loaded test set against the bundled JSON Schema and explain each violation in plain words.

jsonschema is imported on first use: a process that finds its test sets in the test-set cache does not pay for it.
"""

from __future__ import annotations

import difflib
import json
import re
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from pytest_mes.errors import TestSetError
from pytest_mes.report.labels import did_you_mean
from pytest_mes.testset.loader import LoadedDocument

if TYPE_CHECKING:
    import jsonschema
    from jsonschema.exceptions import ValidationError

SCHEMA_FILE = "testset.schema.json"


@cache
def schema() -> dict[str, Any]:
    """The test-set JSON Schema shipped in the package."""
    return json.loads(resources.files("pytest_mes.testset").joinpath(SCHEMA_FILE).read_text(encoding="utf-8"))


@cache
def _validator() -> jsonschema.protocols.Validator:
    return validator_for(schema())


def validator_for(document_schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    import jsonschema

    cls = jsonschema.validators.validator_for(document_schema)
    return cls(document_schema, format_checker=cls.FORMAT_CHECKER)


def check_schema(document: LoadedDocument, validator: jsonschema.protocols.Validator | None = None, *,
                 what: str = "the test set", guide: str = "'Writing test sets'") -> None:
    """Raise one TestSetError listing every schema violation, each with its line, key path and a hint."""
    validator = validator or _validator()
    errors = sorted(validator.iter_errors(document.data), key=lambda e: _sort_key(e, document))
    if not errors:
        return
    lines = []
    first_line = None
    for error in errors:
        error = _most_relevant(error)
        position = document.source.position(_offending_path(error))
        line, column = position or (None, None)
        first_line = first_line or line
        where = f"{document.source.path}:{line}:{column}" if line else document.source.path
        lines.append(f"{where}: {_key_path(error)}: {_explain(error)}{_hint(error)}")
    lines = list(dict.fromkeys(lines))  # jsonschema reports each missing key apart; they are said together, once
    count = f"{len(lines)} problems" if len(lines) > 1 else "1 problem"
    raise TestSetError(
        f"{what} does not follow the format ({count}; see the README, {guide}):\n  "
        + "\n  ".join(lines),
        path=document.source.path,
        line=first_line,
    )


def _sort_key(error: ValidationError, document: LoadedDocument) -> tuple[int, int]:
    return document.source.position(_offending_path(error)) or (0, 0)


def _offending_path(error: ValidationError) -> tuple:
    """Where to point: at an unknown key itself rather than at the mapping that holds it."""
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        if unknown:
            return (*path, unknown[0])
    return path


def _most_relevant(error: ValidationError) -> ValidationError:
    """For a value allowed in several shapes (anyOf), explain the shape it is written in, if any."""
    from jsonschema.exceptions import best_match

    while error.validator == "anyOf" and error.context:
        fitting = [n for n, branch in enumerate(error.validator_value) if _fits(branch, error.instance)]
        if len(fitting) != 1:
            return error  # explained as "expected A or B, got C"
        inside = [sub for sub in error.context if sub.relative_schema_path[0] == fitting[0]]
        if not inside:
            return error
        error = best_match(inside)
    return error


def _fits(branch: dict[str, Any], value: Any) -> bool:
    import jsonschema

    kinds = branch.get("type")
    if kinds is None:
        return True
    checker = jsonschema.Draft202012Validator.TYPE_CHECKER
    return any(checker.is_type(value, kind) for kind in ([kinds] if isinstance(kinds, str) else kinds))


def _hint(error: ValidationError) -> str:
    """What to write instead, where the schema says it (`x-hint` on the value's definition, or on the value
    allowed in several shapes the error was found in): a wrong shape alone does not tell the fix."""
    while error is not None:
        hint = error.schema.get("x-hint") if isinstance(error.schema, dict) else None
        if hint:
            return f" — {hint}"
        error = error.parent
    return ""


def _key_path(error: ValidationError) -> str:
    parts = []
    for part in error.absolute_path:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(f".{part}" if parts else str(part))
    return "".join(parts) or "(top level)"


def _explain(error: ValidationError) -> str:
    kind = error.validator
    if kind == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        return "; ".join(_unknown_key(key, allowed) for key in unknown)
    if kind == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        return "missing required key " + ", ".join(f"'{name}'" for name in missing)
    if kind == "enum":
        return _not_one_of(error.instance, error.validator_value)
    if kind == "const":
        return f"must be {json.dumps(error.validator_value)}, got {json.dumps(error.instance)}"
    if kind == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return f"expected {_article(expected)}, got {_type_name(error.instance)} {_short(error.instance)}"
    if kind == "pattern":
        wanted = error.schema.get("description")
        if wanted:  # what the form means, rather than its regular expression
            return f"{_short(error.instance)}: expected {wanted[0].lower()}{wanted[1:]}"
        return f"{_short(error.instance)} does not match the expected form {error.validator_value}"
    if kind == "format":
        return _bad_format(error.instance, error.validator_value)
    if kind == "minLength" and error.validator_value > 1:
        return f"{_short(error.instance)} is too short: at least {error.validator_value} characters"
    if kind in {"minItems", "minProperties"}:
        return "must not be empty" if error.validator_value == 1 else error.message
    if kind == "maxProperties" and error.validator_value == 1:
        return f"choose one of {', '.join(sorted(error.instance))}, not several"
    if kind == "dependentRequired":
        needing = [(key, needed) for key, needs in error.validator_value.items() if key in error.instance
                   for needed in needs if needed not in error.instance]
        return "; ".join(f"'{key}' needs '{needed}' beside it" for key, needed in needing)
    if kind == "not":
        return "'path' and 'url', or 'body' and 'body_file', cannot be used together: keep one"
    if kind == "anyOf" and all(set(branch) == {"required"} for branch in error.validator_value):
        names = [name for branch in error.validator_value for name in branch["required"]]
        return "needs " + " or ".join(f"'{name}'" for name in names)
    if kind == "anyOf":
        shapes = " or ".join(_shape(branch) for branch in error.validator_value)
        return f"expected {shapes}, got {_type_name(error.instance)} {_short(error.instance)}"
    if kind == "propertyNames":
        return f"{error.message}: names are letters, digits and '_' and do not start with a digit"
    return error.message


def _bad_format(value: Any, form: str) -> str:
    if form == "regex":
        try:
            re.compile(value)
        except re.error as exc:
            return f"{_short(value)} is not a valid regular expression: {exc}"
        return f"{_short(value)} is not a regular expression of the schema's dialect (ECMA-262)"
    if form == "date":
        return f"{_short(value)} is not a date: write YYYY-MM-DD"
    return f"{_short(value)} is not a valid {form}"


def _unknown_key(key: str, allowed: list[str]) -> str:
    hint = suggest(key, allowed) or f" (allowed: {', '.join(allowed)})"
    return f"unknown key '{key}'{hint}"


def _not_one_of(value: Any, options: list[Any]) -> str:
    choices = ", ".join(str(option) for option in options)
    return f"{_short(value)} is not one of: {choices}{suggest(str(value), [str(o) for o in options])}"


def suggest(word: str, candidates: list[str]) -> str:
    """" — did you mean 'X'?" for the candidate `word` was probably meant to be, ignoring case (GAP for
    gap, get for GET, {{Family}} for {{family}}), or ""."""
    return did_you_mean(closest(word, candidates), "en")  # the messages of a test set's format are English


def closest(word: str, candidates: list[str]) -> str | None:
    """The candidate `word` was probably meant to be, ignoring case, or None."""
    lowered = {candidate.lower(): candidate for candidate in candidates}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[close[0]] if close else None


def _shape(branch: dict[str, Any]) -> str:
    kinds = branch.get("type", "a value")
    if isinstance(kinds, list):
        return " or ".join(_article(kind) for kind in kinds)
    if kinds == "array" and "items" in branch:
        return f"a list of {_plural(branch['items'])}"
    return _article(kinds)


def _plural(items: dict[str, Any]) -> str:
    kinds = items.get("type", "value")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    names = {"integer": "whole numbers", "string": "strings", "number": "numbers", "boolean": "booleans",
             "object": "mappings"}
    return " or ".join(names.get(kind, kind) for kind in kinds)


def _type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "nothing"}.get(type(value), type(value).__name__)


def _article(expected: str) -> str:
    names = {"object": "a mapping", "array": "a list", "string": "a string", "integer": "a whole number",
             "number": "a number", "boolean": "true or false"}
    return names.get(expected, expected)


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."
