from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

# pytester's in-process runs forget the modules a run imports. The plugin imports its HTTP client only when a
# run needs it, so without this the first in-process run would import requests and then drop it, and later
# runs would mix two copies of http.cookiejar ("You can only merge into CookieJar").
import pytest_mes.client  # noqa: F401  (imported for its side effect on sys.modules)


@pytest.fixture(autouse=True)
def _fhir_packages(fhir_packages_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run with a target stops at start without the FHIR R4 base package: give every run the shared
    packages, offline (tests never touch the network)."""
    monkeypatch.setenv("MES_FHIR_PACKAGES", str(fhir_packages_dir))
    monkeypatch.setenv("MES_OFFLINE", "1")


@pytest.fixture
def english(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs in English (--mes-lang=en through its environment variable), for tests that match English text."""
    monkeypatch.setenv("MES_LANG", "en")


@pytest.fixture
def add_set(pytester: pytest.Pytester):
    """Write a test set into <pytester>/sets/NAME and return the folder."""

    def add(text: str, name: str = "set.yaml") -> Path:
        folder = pytester.path / "sets"
        folder.mkdir(exist_ok=True)
        (folder / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return folder

    return add


def a_set(set_id: str = "demo", component: str = "core", tests: str = "", extra: str = "") -> str:
    """A small test set; `tests` is YAML for the list items, indented by two spaces."""
    return f"""
id: {set_id}
title: {{fr: Démo, en: Demo}}
component: {component}
actor: fhir-server
{extra}
tests:
{textwrap.indent(textwrap.dedent(tests).strip(), '  ')}
"""


def read_test(test_id: str, path: str = "metadata", checks: str = "- status: 200", level: str = "SHALL") -> str:
    return f"""
- id: {test_id}
  title: {{fr: Test {test_id}, en: Test {test_id}}}
  requirements: [{{ref: "FHIR R4", level: {level}}}]
  steps:
    - request: {{path: "{path}"}}
      checks:
{textwrap.indent(textwrap.dedent(checks).strip(), '        ')}
"""


def create_test(test_id: str, checks: str = "") -> str:
    """A test with one step that creates a Patient (so it writes), with optional checks."""
    step_checks = f"\n      checks: {checks}" if checks else ""
    return f"""
- id: {test_id}
  title: Create
  requirements: [{{ref: r, level: SHALL}}]
  steps:
    - request: {{method: POST, path: Patient, body: {{resourceType: Patient}}}}{step_checks}
"""
