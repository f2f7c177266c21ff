"""A last guard before a report is written: credential-like header and variable values are masked, whatever the
document says (the result model masks them already; a report must never be the place where one leaks)."""

from __future__ import annotations

from pytest_mes.redaction import Redactor

_HEADERS = ("request_headers", "response_headers")


def mask_credentials(results: dict) -> dict:
    """The document with every credential-like header or variable value replaced by ``***`` (a shallow copy:
    only what changes is copied)."""
    redactor = Redactor()

    def exchange(e: dict) -> dict:
        return {**e, **{key: redactor.headers(e[key]) for key in _HEADERS if isinstance(e.get(key), dict)}}

    def test(t: dict) -> dict:
        masked = {**t, "exchanges": [exchange(e) for e in t.get("exchanges") or []]}
        if isinstance(t.get("variables"), dict):
            masked["variables"] = redactor.variables(t["variables"])
        return masked

    return {**results, "tests": [test(t) for t in results.get("tests") or []]}
