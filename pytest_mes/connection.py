"""How to reach the server under test (auth, TLS, timeouts, size limit): the settings of the FHIR client, apart
from it, so that reading the options of a run does not import an HTTP library (pytest starts faster, with or
without a server to test)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from pytest_mes.redaction import is_secret_name

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
# Answers that mean the run, not the server's conformance, is at fault — its credentials were refused, or its pace
# (a gateway's rate limit): the key of what to say about each in pytest_mes.report.labels (imported only when a run
# needs it).
RUN_REFUSED = {401: "credentials.401", 407: "credentials.407", 429: "pace.429"}


@dataclass(frozen=True)
class ClientSettings:
    """How to reach the server under test. Secrets stay here: repr() never shows them."""

    base_url: str
    token: str | None = field(default=None, repr=False)
    basic_auth: tuple[str, str] | None = field(default=None, repr=False)  # user:password@ of the base URL
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    client_cert: str | None = None
    client_key: str | None = None
    ca_bundle: str | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    max_response_bytes: int = DEFAULT_MAX_BYTES

    def secrets(self) -> list[str]:
        values = [self.token or "", self.basic_auth[1] if self.basic_auth else ""]
        values += [value for name, value in self.headers if is_secret_name(name)]
        return values

    def credential_headers(self) -> dict[str, str]:
        """Headers that prove who we are: sent only to the server under test."""
        headers = {name: value for name, value in self.headers if is_secret_name(name)}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        elif self.basic_auth:
            user, password = self.basic_auth
            headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        return headers
