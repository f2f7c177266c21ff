"""Configuration of pytest-mes's own test suite."""

from pathlib import Path

import pytest
import yaml  # noqa: F401 - before pytester's in-process runs forget the modules they import (libyaml's nodes)

from tests.support.packages import DEFAULT_SHARED_PACKAGES, shared_packages_dir


@pytest.fixture(scope="session")
def fhir_packages_dir() -> Path:
    """Folder of the official FHIR packages; tests that need it are skipped when it is absent."""
    path = shared_packages_dir()
    if path is None:
        pytest.skip(
            f"FHIR packages not found at {DEFAULT_SHARED_PACKAGES} (set MES_TEST_FHIR_PACKAGES to a folder "
            "holding hl7.fhir.r4.core-4.0.1.tgz and the FR Core, GAP, PDSm and Annuaire packages)"
        )
    return path


@pytest.fixture(scope="session")
def catalogue(fhir_packages_dir: Path):
    """The items of the IGs' server CapabilityStatements, read from the FHIR packages (offline)."""
    from pytest_mes.coverage import Catalogue
    from pytest_mes.fhir.store import PackageStore

    return Catalogue.from_store(PackageStore.load([fhir_packages_dir], offline=True))
