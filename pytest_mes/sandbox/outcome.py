"""FHIR errors: an HTTP status plus the OperationOutcome that explains it."""

from __future__ import annotations

from typing import Any


def operation_outcome(
    message: str, *, severity: str = "error", code: str = "processing", expression: str | None = None
) -> dict[str, Any]:
    """An OperationOutcome with one issue."""
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": message}
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


class FhirError(Exception):
    """A request the server refuses; becomes `status` with an OperationOutcome body.

    `code` is an IssueType (http://hl7.org/fhir/ValueSet/issue-type): structure, invalid,
    not-found, deleted, not-supported, conflict, business-rule, too-long, processing…
    """

    def __init__(
        self, status: int, message: str, code: str = "processing", *, expression: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.expression = expression
        self.headers = headers or {}

    def outcome(self) -> dict[str, Any]:
        return operation_outcome(self.message, code=self.code, expression=self.expression)
