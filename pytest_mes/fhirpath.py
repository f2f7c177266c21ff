"""FHIRPath, the one way in for invariants (:mod:`pytest_mes.fhir.invariants`) and test sets (checks, saved
values): an expression is parsed once, its syntax checked (fhirpathpy alone would evaluate a malformed
expression to an empty result), and evaluated with the R4 model and the functions fhirpathpy lacks.

fhirpathpy is imported on first use: a process that validates without evaluating FHIRPath does not pay for it.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

from pytest_mes.errors import MesError

# FHIR primitives directly under Element -> their FHIRPath System type; the others derive from one of them
_SYSTEM_TYPES = {
    "boolean": "Boolean", "string": "String", "uri": "String", "base64Binary": "String", "integer": "Integer",
    "decimal": "Decimal", "date": "Date", "dateTime": "DateTime", "instant": "DateTime", "time": "Time",
}


class FhirPathError(MesError):
    """A FHIRPath expression is malformed or cannot be evaluated; `cause` is fhirpathpy's exception, if any."""

    def __init__(self, message: str, cause: Exception | None = None):
        super().__init__(message)
        self.cause = cause


@functools.cache
def r4_model() -> dict[str, Any]:
    """The R4 model fhirpathpy evaluates with, made to say what the HL7 FHIRPath engine says of types.

    fhirpathpy 2.2.4 types a FHIR primitive only as such (``FHIR.boolean``), so ``answer is Boolean`` (R4
    ``que-7``) is false for an ``answerBoolean``. In FHIRPath a FHIR primitive is also the System type it
    maps to (boolean: Boolean; string, code, uri…: String; integer…: Integer; date, dateTime, instant, time,
    decimal): here each is given that System type as its parent, itself under the primitive's own parent.
    """
    from fhirpathpy.models import models

    base = models["r4"]
    parents = dict(base["type2Parent"])
    for primitive, system in _SYSTEM_TYPES.items():
        parents[system] = parents[primitive]
        parents[primitive] = system
    return {**base, "type2Parent": parents}


def parse(expression: str) -> Any:
    """The parsed expression (fhirpathpy's AST), parsed once per expression (a syntax error too).

    Raises:
        FhirPathError: a syntax error, with its column.
    """
    parsed = _REMEMBERED.get(expression) or _parsed(expression)
    if isinstance(parsed, str):
        raise FhirPathError(parsed)
    return parsed


_REMEMBERED: dict[str, Any] = {}  # ASTs an earlier process parsed (the test-set cache)


def remember(trees: dict[str, Any]) -> None:
    """Take the ASTs of expressions an earlier process parsed (and checked) instead of parsing them again."""
    _REMEMBERED.update(trees)


@functools.lru_cache(maxsize=4096)
def _parsed(expression: str) -> Any:
    """The AST (a dict), or the message saying where the syntax is wrong."""
    from antlr4 import CommonTokenStream, InputStream, Token
    from antlr4.error.ErrorListener import ErrorListener
    from antlr4.tree.Tree import ParseTreeWalker
    from fhirpathpy.parser.ASTPathListener import ASTPathListener
    from fhirpathpy.parser.generated.FHIRPathLexer import FHIRPathLexer
    from fhirpathpy.parser.generated.FHIRPathParser import FHIRPathParser

    class Collect(ErrorListener):
        def __init__(self) -> None:
            self.errors: list[str] = []

        def syntaxError(self, recognizer, offendingSymbol, line, column, msg, e):
            self.errors.append(f"column {column + 1}: {msg}")

    listener = Collect()
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
        return f"invalid FHIRPath expression {expression!r}: {listener.errors[0]}"
    # The checked parse tree is the one evaluated: each expression is parsed once, not twice (ANTLR's Python
    # runtime makes parsing the main cost of collecting test sets).
    ast = ASTPathListener()
    ParseTreeWalker().walk(ast, tree)
    return ast.parentStack[0]


def select(value: Any, expression: str, variables: dict[str, Any] | None = None, *, base: str = "") -> list:
    """What `expression` selects in `value` (FHIR JSON; of the type `base` when given, else read from its
    ``resourceType``): the selected JSON values themselves, not copies, fhirpathpy's own types for the rest.

    Raises:
        FhirPathError: a syntax error, or fhirpathpy cannot evaluate it (unknown function, bad types…).
    """
    return [getattr(x, "data", x) for x in _apply(value, expression, variables, base, raw=True)]


def evaluate(value: Any, expression: str, variables: dict[str, Any] | None = None) -> list[Any]:
    """What `expression` gives on `value` (FHIR JSON), as plain JSON values (copies).

    Raises:
        FhirPathError: a syntax error, or fhirpathpy cannot evaluate it.
    """
    return [_plain(x) for x in _apply(value, expression, variables, "", raw=False)]


def _has_value(inputs: list) -> list:
    # fhirpathpy 2.2.4 lacks hasValue(): a single primitive with a value.
    return [len(inputs) == 1 and inputs[0] is not None and not isinstance(inputs[0], dict | list)]


def _no_trace(*_: Any) -> None:
    return None


_USER_FUNCTIONS = {"hasValue": {"fn": _has_value, "arity": {0: []}}}


def _apply(value: Any, expression: str, variables: dict[str, Any] | None, base: str, *, raw: bool) -> list:
    parsed = parse(expression)
    from fhirpathpy import apply_parsed_path
    from fhirpathpy.engine.nodes import ResourceNode

    try:
        node = ResourceNode.create_node(value, base) if base else value
        # trace() would print to stdout: expressions use it for diagnostics only.
        options = {"userInvocationTable": _USER_FUNCTIONS, "returnRawData": raw, "traceFn": _no_trace}
        return apply_parsed_path(node, parsed, dict(variables or {}), r4_model(), options)
    except Exception as exc:  # fhirpathpy raises bare Exceptions for unknown functions and bad types
        from pytest_mes.report.labels import phrase

        error = FhirPathError.saying(phrase("fhirpath.unevaluable", expression=repr(expression), cause=exc))
        error.cause = exc
        raise error from None


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
