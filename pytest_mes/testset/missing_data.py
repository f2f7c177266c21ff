"""Steps that need the server's test data (`needs_data:`): whether a search found enough, and the data inside its
results that the checks read, and what to say when not.

When the data a test reads is missing, nothing is learnt about the server's conformance: the test is incomplete,
never failed and never passed. An empty answer from a broken search looks the same as an empty server, so the
checks of the answer's form are still made (a wrong status or content type fails whatever the data), while those
of its content wait for data and are shown as not made.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from pytest_mes.client import Exchange
from pytest_mes.fhirpath import evaluate
from pytest_mes.report.labels import label

_NOT_RESULTS = ("include", "outcome")  # search.mode of the entries that are not what the search found
_RESOURCE_TYPE = re.compile(r"^[A-Z][A-Za-z]+$")


def too_few_matches(exchange: Exchange, base_url: str, lang: str, minimum: int = 1) -> str | None:
    """What is missing when the answer is a successful searchset Bundle holding fewer than `minimum` results ("no
    Slot matched the search"; "the search found only 1 Patient, at least 2 are needed"), else None. The results
    counted are those of the answer (its page), which the step's checks read. Entries the search did not flag (no
    search.mode) count as results: the checks judge how a server marks its matches, and a malformed Bundle is
    theirs to report."""
    body = _successful_answer(exchange)
    if body is None or body.get("resourceType") != "Bundle" or body.get("type") != "searchset":
        return None
    entries = body.get("entry", [])
    if not isinstance(entries, list):
        return None
    found = sum(_is_result(entry) for entry in entries)
    if found >= minimum:
        return None
    searched = _searched_type(exchange.url, base_url)
    if found:
        what = searched or label("no_data.results", lang)
        missing = label("no_data.too_few", lang).format(found=found, what=what)
    elif searched is None:
        missing = label("no_data.nothing_matched", lang)
    else:
        missing = label("no_data.no_match", lang).format(type=searched)
    return missing + label("no_data.needed", lang).format(needed=minimum) if minimum > 1 else missing


def too_few_found(exchange: Exchange, expression: str, variables: dict[str, Any], lang: str,
                  minimum: int = 1) -> str | None:
    """What is missing when `expression`, the data inside a successful answer that the step's checks read (the
    specialties of the slots found), gives fewer than `minimum` values, else None: an `.all(…)` over none holds
    without testing anything. A failed or unreadable answer is the checks' to judge. Raises FhirPathError when the
    expression cannot be evaluated on the answer."""
    body = _successful_answer(exchange)
    if body is None:
        return None
    found = len(evaluate(body, expression, variables))
    if found >= minimum:
        return None
    return label("no_data.too_few_found", lang).format(expression=expression, found=found, needed=minimum)


def _successful_answer(exchange: Exchange) -> dict[str, Any] | None:
    """The body of a 2xx answer that is a JSON resource, else None (its checks say what is wrong with it)."""
    body, problem = exchange.resource
    if problem or not 200 <= (exchange.status or 0) < 300:
        return None
    return body


def _is_result(entry: Any) -> bool:
    if not isinstance(entry, dict):
        return True
    search, resource = entry.get("search"), entry.get("resource")
    mode = search.get("mode") if isinstance(search, dict) else None
    outcome = isinstance(resource, dict) and resource.get("resourceType") == "OperationOutcome"
    return mode not in _NOT_RESULTS and not outcome


def _searched_type(url: str, base_url: str) -> str | None:
    """The resource type a search URL is about: `Slot` in [base]/Slot?… and [base]/Slot/_search."""
    path = _after_base(url.split("?")[0], base_url)
    first = path.strip("/").split("/")[0] if path is not None else ""
    return first if _RESOURCE_TYPE.match(first) else None


def request_line(exchange: Exchange, base_url: str) -> str:
    """The request as a reader finds it again: `GET [base]/Slot?start=ge2026-12-01T08:00:00Z` (its URL was
    recorded redacted; decoded here, as a reader writes it)."""
    path = _after_base(exchange.url, base_url)
    return f"{exchange.method} {unquote(exchange.url if path is None else f'[base]{path}')}"


def _after_base(url: str, base_url: str) -> str | None:
    """What `url` adds to the base URL (`/Slot?…`), or None when it is elsewhere."""
    base = base_url.rstrip("/")
    return url[len(base):] if url.startswith(base) else None
