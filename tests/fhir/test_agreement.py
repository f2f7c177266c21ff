"""bench/agreement.py over the FHIR validator test cases (../shared/fhir-test-cases), when present."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT.parent / "shared" / "fhir-test-cases"


@pytest.fixture(scope="module")
def steps(fhir_packages_dir: Path):
    if not (CASES / "manifest.json").is_file():
        pytest.skip(f"FHIR validator test cases not found at {CASES}")
    spec = importlib.util.spec_from_file_location("agreement", ROOT / "bench" / "agreement.py")
    agreement = importlib.util.module_from_spec(spec)
    sys.modules["agreement"] = agreement  # its dataclasses look their module up
    spec.loader.exec_module(agreement)

    from pytest_mes.fhir.packages import CORE_ID, CORE_VERSION, PackageStore

    manifest = json.loads((CASES / "manifest.json").read_text(encoding="utf-8"))
    store = PackageStore.load([fhir_packages_dir], offline=True, packages=[f"{CORE_ID}#{CORE_VERSION}"])
    return [agreement.run_step(store, CASES / "validator", case, *step)
            for case in manifest["cases"] for step in agreement.steps_of(case)]


def test_no_step_crashes(steps):
    assert [s.case for s in steps if s.found is None] == []


def test_every_profile_step_runs(steps):
    """Every supplied profile (FHIR XML or JSON, differential only) is loaded and usable."""
    profile_steps = [s for s in steps if s.kind == "profile"]
    assert profile_steps
    assert [s.case for s in profile_steps if any("PROFILE_NOT_FOUND" in e for e in s.errors)] == []
