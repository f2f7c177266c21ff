"""Regenerate the requirement coverage table of README.md from the bundled test sets and the FHIR packages.

    MES_FHIR_PACKAGES=../shared/fhir-packages python scripts/update_readme_coverage.py

tests/e2e/test_bundled_sets.py fails when the table in the README is not what this script writes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pytest_mes.coverage import Catalogue, coverage_matrix, load_testsets, with_readme_table
from pytest_mes.fhir.store import PackageStore
from pytest_mes.resources import bundled_dir

README = Path(__file__).resolve().parent.parent / "README.md"


def main() -> int:
    sources = [p for p in os.environ.get("MES_FHIR_PACKAGES", "").split(os.pathsep) if p]
    catalogue = Catalogue.from_store(PackageStore.load(sources, offline=True))
    if catalogue.missing:
        print(f"not found in the FHIR packages: {', '.join(catalogue.missing)}", file=sys.stderr)
        return 2
    matrix = coverage_matrix(load_testsets([bundled_dir("testsets")], catalogue), catalogue)
    text = README.read_text(encoding="utf-8")
    updated = with_readme_table(text, matrix)
    README.write_text(updated, encoding="utf-8")
    print(f"{README}: {'updated' if updated != text else 'already up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
