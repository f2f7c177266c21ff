"""Where the project's tests find the published FHIR packages (never copied into the project)."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_SHARED_PACKAGES = Path(__file__).resolve().parents[3] / "shared" / "fhir-packages"


def shared_packages_dir() -> Path | None:
    """The folder of published FHIR packages (.tgz) used in development and CI, if present:
    MES_TEST_FHIR_PACKAGES, else ../shared/fhir-packages beside the repository."""
    configured = os.environ.get("MES_TEST_FHIR_PACKAGES")
    path = Path(configured) if configured else DEFAULT_SHARED_PACKAGES
    return path if (path / "hl7.fhir.r4.core-4.0.1.tgz").is_file() else None
