"""The wheel carries the plugin, the console script, the schemas, the report assets, the bundled test sets and the
profile set."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    pytest.importorskip("hatchling", reason="hatchling builds the wheel (pip install '.[test]')")
    out = tmp_path_factory.mktemp("dist")
    # Its contents, not the compiled validator (which CI checks on its own wheel): the pure-Python build, which
    # takes a second where compiling takes a minute.
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(ROOT)], check=True, capture_output=True, env={**os.environ, "MES_PURE_PYTHON": "1"})
    (built,) = out.glob("pytest_mes-*.whl")
    assert built.name.endswith("-py3-none-any.whl"), built.name  # MES_PURE_PYTHON=1: no compiled module
    with zipfile.ZipFile(built) as archive:
        # nor those an editable install compiled in place beside the sources, nor their manifest
        assert not [n for n in archive.namelist() if n.endswith((".so", ".pyd", "_compiled.json"))]
        yield archive


def test_wheel_ships_testsets_profiles_and_schema(wheel):
    names = set(wheel.namelist())
    assert "pytest_mes/testset/testset.schema.json" in names
    assert {"pytest_mes/report/results.schema.json", "pytest_mes/report/report.js",
            "pytest_mes/report/report.css"} <= names, "the report's schema, script and style ship in the wheel"
    for component in ("core", "gap", "pdsm"):
        shipped = {n for n in names if n.startswith(f"pytest_mes/testsets/{component}/") and n.endswith(".yaml")}
        in_repo = {f"pytest_mes/testsets/{component}/{p.name}" for p in (ROOT / "testsets" / component).glob("*.yaml")}
        assert shipped == in_repo and shipped, component
    profiles = {n for n in names if n.startswith("pytest_mes/profiles/")}
    assert profiles == {f"pytest_mes/profiles/{p.relative_to(ROOT / 'profiles')}"
                        for p in (ROOT / "profiles").rglob("*") if p.is_file()}
    assert not any(n.endswith(".tgz") for n in names), "FHIR packages are loaded at run time, never shipped"


def test_wheel_declares_the_plugin_and_the_command(wheel):
    (entry_points,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    text = wheel.read(entry_points).decode()
    assert "[pytest11]\nmes = pytest_mes.plugin" in text
    assert "[console_scripts]\nmes = pytest_mes.cli:main" in text
