"""One FHIR exchange as the sandbox sees it: the Request the HTTP layer parses and the Response the API
answers, and the media types both speak. Its own module so that the API and the PDSm and GAP modules all
use them without importing one another."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

JSON_TYPES = ("application/fhir+json", "application/json", "text/json")
XML_TYPES = ("application/fhir+xml", "application/xml", "text/xml")
JSON_PATCH = "application/json-patch+json"
FORM = "application/x-www-form-urlencoded"


@dataclass
class Request:
    """One HTTP request, as the API sees it."""

    method: str
    path: list[str]  # segments after the base, e.g. ["Slot", "abc"]
    query: list[tuple[str, str]]
    headers: Mapping[str, str]
    body: bytes
    base: str  # e.g. http://127.0.0.1:8080/fhir

    def header(self, name: str) -> str:
        return self.headers.get(name) or ""

    @property
    def content_type(self) -> str:
        return self.header("Content-Type").split(";")[0].strip().lower()

    @property
    def strict(self) -> bool:
        return "handling=strict" in self.header("Prefer").replace(" ", "")


@dataclass
class Response:
    """What to answer: a resource (serialised by the server in the negotiated format) or raw bytes."""

    status: int
    resource: dict[str, Any] | None = None
    raw: bytes | None = None
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
