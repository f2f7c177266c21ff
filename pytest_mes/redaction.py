"""Masking of secrets (tokens, credentials, cookies) before anything is shown, logged or written."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

MASK = "***"
# Header names whose values are credentials wherever they appear.
_SECRET_HEADER = re.compile(r"authorization|cookie|token|secret|password|api[-_]?key|session|credential", re.I)


def is_secret_header(name: str) -> bool:
    return bool(_SECRET_HEADER.search(name))


class Redactor:
    """Masks secret header values, and every known secret value wherever it appears in text."""

    def __init__(self, secrets: Iterable[str] = ()):
        # Longest first, so that a secret containing another is masked whole.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        return {name: MASK if is_secret_header(name) else self.text(str(value)) for name, value in headers.items()}

    def text(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text
