"""Masking of secrets (tokens, credentials, cookies) before anything is shown, logged or written."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

MASK = "***"
# Names whose values are credentials wherever they appear: headers, and variables shown in failures.
_SECRET_NAME = re.compile(r"auth|cookie|token|secret|passw|key|session|credential|signature|jwt|bearer", re.I)


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


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
            self._secrets.append(secret)
            self._secrets.sort(key=len, reverse=True)  # a secret containing another is masked whole

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        return {name: MASK if is_secret_name(name) else self.text(str(value)) for name, value in headers.items()}

    def text(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text
