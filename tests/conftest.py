"""Fixtures shared by pytest-mes's own tests: a scripted loopback server, TLS material, test-set writers."""

from __future__ import annotations

import ssl
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import CAPABILITY_STATEMENT, Reply, ScriptedServer


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    """A plain-HTTP loopback server that answers /metadata; add routes per test."""
    srv = ScriptedServer().start()
    srv.route("GET /fhir/metadata", Reply(200, CAPABILITY_STATEMENT))
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def tls_ca():
    trustme = pytest.importorskip("trustme", reason="trustme is needed to make test certificates")
    return trustme.CA()


@pytest.fixture
def write_set(tmp_path: Path):
    """Write a YAML test set (dedented) under tmp_path/sets and return its path."""

    def write(text: str, name: str = "set.yaml") -> Path:
        folder = tmp_path / "sets"
        folder.mkdir(exist_ok=True)
        path = folder / name
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return path

    return write


def tls_context(ca, *, require_client_cert: bool = False) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        ca.configure_trust(context)
    return context
