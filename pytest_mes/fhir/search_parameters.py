"""A SearchParameter's consistency, as the HL7 validator checks it:

- each resource type of its ``base`` is a base of the SearchParameter it is ``derivedFrom`` (when loaded);
- each path of its ``expression`` (the terms of a ``|`` union) that starts with a type name starts with
  one of its bases (or ``Resource`` / ``DomainResource``, which every base is).
"""

from __future__ import annotations

import re

from pytest_mes.fhir.canonicals import Resolve
from pytest_mes.fhir.issues import Issue, make_issue
from pytest_mes.fhir.jsonread import strings_in

_TYPE_START = re.compile(r"\(*\s*([A-Z][A-Za-z]*)\b(?!\s*\()")  # a term starting with a type name, not a call
_ANY_RESOURCE = frozenset({"Resource", "DomainResource"})


def search_parameter_issues(sp: dict, loc: str, resolve: Resolve) -> list[Issue]:
    """The issues of these rules for `sp` at `loc`; `resolve` gives the SearchParameter it derives from."""
    bases = strings_in(sp.get("base"))
    issues: list[Issue] = []
    expression = sp.get("expression")
    if isinstance(expression, str) and bases and not _ANY_RESOURCE & set(bases):
        names = {m.group(1) for term in _terms(expression) if (m := _TYPE_START.match(term.strip()))}
        wrong = sorted(names - set(bases) - _ANY_RESOURCE)
        if wrong:
            issues.append(make_issue("error", "SP_EXPRESSION_TYPE", f"{loc}.expression", types=", ".join(wrong),
                                     bases=", ".join(bases)))
    derived = sp.get("derivedFrom")
    parent = resolve(derived, "SearchParameter") if isinstance(derived, str) else None
    if parent is not None:
        allowed = set(strings_in(parent.get("base")))
        for base in bases:
            if base not in allowed and not _ANY_RESOURCE & allowed:
                issues.append(make_issue("error", "SP_BASE_NOT_DERIVED", loc, type=base, url=derived))
    return issues


def _terms(expression: str) -> list[str]:
    """The terms of the top-level ``|`` unions of `expression` (outside parentheses and strings)."""
    terms, depth, quoted, start = [], 0, False, 0
    for i, char in enumerate(expression):
        if char == "'" and (i == 0 or expression[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and char in "([":
            depth += 1
        elif not quoted and char in ")]":
            depth -= 1
        elif not quoted and depth == 0 and char == "|":
            terms.append(expression[start:i])
            start = i + 1
    terms.append(expression[start:])
    return terms
