"""Fixtures of the sandbox tests: real servers on loopback ports, driven with `requests`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from pytest_mes.sandbox import Sandbox
from tests.support.packages import shared_packages_dir

SHARED_PACKAGES = shared_packages_dir() or Path("no-fhir-packages")  # _packages skips the tests without them
FHIR_JSON = "application/fhir+json"
INS = "urn:oid:1.2.250.1.213.1.4.10"
R38 = "https://mos.esante.gouv.fr/NOS/TRE_R38-SpecialiteOrdinale/FHIR/TRE-R38-SpecialiteOrdinale"


@pytest.fixture(autouse=True)
def _packages(fhir_packages_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sandbox does not start without hl7.fhir.r4.core: every test here needs the shared packages (also
    for `mes sandbox` in a subprocess), offline."""
    monkeypatch.setenv("MES_FHIR_PACKAGES", str(fhir_packages_dir))
    monkeypatch.setenv("MES_OFFLINE", "1")


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """One sandbox without defects, shared by the tests that do not care about other writes."""
    with Sandbox(packages=[SHARED_PACKAGES]) as server:
        yield server


@pytest.fixture
def fresh() -> Iterator[Sandbox]:
    """A sandbox of its own, freshly seeded, for tests that count or change things."""
    with Sandbox(packages=[SHARED_PACKAGES]) as server:
        yield server


@pytest.fixture(scope="session")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers["Accept"] = FHIR_JSON
        yield session


def start_with(*defects: str) -> Sandbox:
    server = Sandbox(defects=defects, packages=[SHARED_PACKAGES])
    server.start()
    return server
