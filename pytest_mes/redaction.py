"""Masking of secrets (tokens, credentials, cookies) before anything is shown, logged or written."""

from __future__ import annotations

import bisect
import contextlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "***"
_CREDENTIAL_WORDS = r"auth|cookie|token|secret|passw|pwd|session|credential|signature|jwt|bearer"
# Header and environment variable names whose values are credentials: those words, or `key` anywhere (X-Tenant-Key,
# STRIPE_KEY): transport settings have no business keys.
_SECRET_NAME = re.compile(rf"{_CREDENTIAL_WORDS}|key", re.I)
# Test-set variable names: the same words, but `key` only right after a credential qualifier (api_key, apiKey,
# client-key); any other key is a business key, an identifier a reviewer must see (patient_key, document_key). A
# value read from a secret environment variable ({{env.API_TOKEN}}) is masked by its value wherever it goes.
_SECRET_VARIABLE = re.compile(rf"{_CREDENTIAL_WORDS}|(?:api|access|private|client|signing|subscription)[^a-z0-9]?key",
                              re.I)


def is_secret_name(name: str) -> bool:
    """A header or environment variable whose value is a credential."""
    return bool(_SECRET_NAME.search(name))


def is_secret_variable(name: str) -> bool:
    """A test-set variable whose value is a credential."""
    return bool(_SECRET_VARIABLE.search(name))


class Redactor:
    """Masks secret header values, and every known secret value wherever it appears in text."""

    def __init__(self, secrets: Iterable[str] = ()):
        self._secrets: list[str] = []
        for secret in secrets:
            self.add(secret)

    @property
    def active(self) -> bool:
        return bool(self._secrets)

    def add(self, secret: str) -> None:
        """Mask `secret` from now on (values shorter than 4 characters would mask everything)."""
        secret = secret.strip()
        if len(secret) >= 4 and secret not in self._secrets:
            _insert_longest_first(self._secrets, secret)

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        return {name: MASK if is_secret_name(name) else self.text(str(value)) for name, value in headers.items()}

    def variables(self, variables: Mapping[str, str]) -> dict[str, str]:
        return {name: MASK if is_secret_variable(name) else self.text(str(value)) for name, value in variables.items()}

    def text(self, text: str) -> str:
        return _masked(text, self._secrets)


# The OIDs of French patient identifiers: INS-NIR (8), its test range (10), INS-NIA (9), NIR test (11).
_INS_SYSTEM = re.compile(r"1\.2\.250\.1\.213\.1\.4\.(?:8|9|10|11)\b")
_INS_IN_TEXT = re.compile(r"1\.2\.250\.1\.213\.1\.4\.(?:8|9|10|11)(?:%7C|\|)([0-9A-Za-z]{6,})")
_PATIENT_TYPES = frozenset({"Patient", "RelatedPerson"})


class PatientMask:
    """--mes-redact-patient: learns patient identifiers, names and birth dates from the bodies exchanged, then
    masks those values wherever they appear (bodies, URLs, headers, messages)."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._ordered: list[str] = []

    def learn_text(self, text: str | None) -> None:
        """Learn from a body as text (JSON is walked; INS/NIR identifiers are found in any text)."""
        if not text:
            return
        for match in _INS_IN_TEXT.finditer(text):
            self._add(match[1])
        if text.lstrip()[:1] in ("{", "["):
            with contextlib.suppress(ValueError, RecursionError):
                self.learn(json.loads(text))

    def learn(self, value: Any) -> None:
        stack = [value]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                if item.get("resourceType") in _PATIENT_TYPES:
                    self._learn_person(item)
                if isinstance(item.get("system"), str) and _INS_SYSTEM.search(item["system"]):
                    self._add(item.get("value"))
                stack.extend(v for v in item.values() if isinstance(v, dict | list))

    def _learn_person(self, person: dict) -> None:
        for identifier in _listed(person.get("identifier")):
            if isinstance(identifier, dict):
                self._add(identifier.get("value"))
        for name in _listed(person.get("name")):
            if isinstance(name, dict):
                for part in [name.get("family"), name.get("text"), *_listed(name.get("given"))]:
                    self._add(part)
        self._add(person.get("birthDate"))

    def _add(self, value: Any) -> None:
        if isinstance(value, str) and len(value.strip()) >= 3 and value not in self._values:
            self._values.add(value)
            _insert_longest_first(self._ordered, value)

    def text(self, text: str) -> str:
        return _masked(text, self._ordered)


def _listed(value: Any) -> list[Any]:
    """A FHIR list as a list, whatever the server sent: a lone object or string where FHIR wants a list of them is
    still a patient's data to mask (a number or a boolean is no name: it is ignored later)."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _insert_longest_first(values: list[str], value: str) -> None:
    """Insert `value` into `values`, kept longest first (a value containing another is masked whole; values of one
    length in the order learnt), without sorting them all again: a run learns hundreds of patient values."""
    bisect.insort(values, value, key=lambda v: -len(v))


def _masked(text: str, values: list[str]) -> str:
    """`text` with each of `values` replaced by the mask (longest first: a value containing another is masked
    whole)."""
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text
