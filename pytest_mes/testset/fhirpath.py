"""FHIRPath for checks and saved values: syntax checked up front, compiled once, results as plain JSON."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache
from typing import Any

import fhirpathpy
from antlr4 import CommonTokenStream, InputStream, Token
from antlr4.error.ErrorListener import ErrorListener
from antlr4.tree.Tree import ParseTreeWalker
from fhirpathpy.engine.util import set_paths
from fhirpathpy.parser.ASTPathListener import ASTPathListener
from fhirpathpy.parser.generated.FHIRPathLexer import FHIRPathLexer
from fhirpathpy.parser.generated.FHIRPathParser import FHIRPathParser

from pytest_mes.errors import MesError
from pytest_mes.fhir.fhirpath_model import R4_MODEL as _R4


class FhirPathError(MesError):
    """A FHIRPath expression is malformed or cannot be evaluated."""


class _Collect(ErrorListener):
    def __init__(self) -> None:
        self.errors: list[str] = []

    def syntaxError(self, recognizer, offendingSymbol, line, column, msg, e):
        self.errors.append(f"column {column + 1}: {msg}")


def check_syntax(expression: str) -> Any:
    """Parse once; raise FhirPathError for a syntax error (fhirpathpy itself silently returns an empty result).
    Returns the parse tree."""
    listener = _Collect()
    lexer = FHIRPathLexer(InputStream(expression))
    lexer.removeErrorListeners()
    lexer.addErrorListener(listener)
    tokens = CommonTokenStream(lexer)
    parser = FHIRPathParser(tokens)
    parser.removeErrorListeners()
    parser.addErrorListener(listener)
    tree = parser.expression()
    if not listener.errors and tokens.LA(1) != Token.EOF:
        listener.errors.append(f"unexpected '{tokens.LT(1).text}' at column {tokens.LT(1).column + 1}")
    if listener.errors:
        raise FhirPathError(f"invalid FHIRPath expression {expression!r}: {listener.errors[0]}")
    return tree


@lru_cache(maxsize=2048)
def compile_expression(expression: str) -> Callable[[Any, dict], list]:
    # The checked parse tree is the one fhirpathpy evaluates: each expression is parsed once, not twice
    # (ANTLR's Python runtime makes parsing the main cost of collecting test sets).
    listener = ASTPathListener()
    ParseTreeWalker().walk(listener, check_syntax(expression))
    return set_paths(fhirpathpy.apply_parsed_path, parsedPath=listener.parentStack[0], model=_R4)


def evaluate(resource: Any, expression: str, variables: dict[str, Any] | None = None) -> list[Any]:
    """Evaluate `expression` on a FHIR JSON value; return a list of JSON-like values."""
    compiled = compile_expression(expression)
    try:
        result = compiled(resource, dict(variables or {}))
    except Exception as exc:  # fhirpathpy raises bare Exception for unknown functions and bad types
        raise FhirPathError(f"cannot evaluate FHIRPath {expression!r}: {exc}") from None
    return [_plain(value) for value in result]


def _plain(value: Any) -> Any:
    """fhirpathpy returns its own node and date types; turn them back into JSON values."""
    if isinstance(value, bool | int | float | str | dict | list) or value is None:
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    data = getattr(value, "data", None)  # ResourceNode
    if data is not None:
        return data
    return str(value)
