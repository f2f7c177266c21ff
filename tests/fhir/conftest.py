"""Fixtures of the FHIR validator tests: the official packages, loaded once per session, offline."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_mes.fhir import validator as validator_module
from pytest_mes.fhir.issues import Issue, ValidationResult
from pytest_mes.fhir.store import PackageStore
from pytest_mes.fhir.validator import Validator


@pytest.fixture(scope="session", autouse=True)
def _isolated_fhir_caches(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Never read the developer's ~/.fhir/packages nor write to ~/.cache: both caches go to tmp."""
    saved = {k: os.environ.get(k) for k in ("MES_CACHE_DIR", "FHIR_PACKAGE_CACHE", "MES_FHIR_PACKAGES")}
    os.environ["MES_CACHE_DIR"] = str(tmp_path_factory.mktemp("mes-index"))
    os.environ["FHIR_PACKAGE_CACHE"] = str(tmp_path_factory.mktemp("fhir-packages"))
    os.environ.pop("MES_FHIR_PACKAGES", None)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def store(fhir_packages_dir: Path) -> PackageStore:
    return PackageStore.load([fhir_packages_dir], offline=True)


@pytest.fixture(scope="session")
def validator(store: PackageStore) -> Validator:
    return Validator(store)


@pytest.fixture(scope="session")
def examples(store: PackageStore):
    """``examples(package_key, file_name)``: a fresh copy of an official example."""
    cache: dict[str, dict[str, dict]] = {}

    def get(key: str, name: str) -> dict:
        if key not in cache:
            package = store.package(key)
            assert package is not None, key
            cache[key] = dict(package.examples())
        return copy.deepcopy(cache[key][name])

    return get


def local_validator(fhir_packages_dir: Path, folder: Path, name: str, resources: list[dict]) -> Validator:
    """A validator over R4 core and a package ``name#1.0.0`` of hand-made ``resources``, written under
    ``folder``."""
    package = folder / name / "package"
    package.mkdir(parents=True)
    (package / "package.json").write_text(json.dumps(
        {"name": name, "version": "1.0.0", "dependencies": {"hl7.fhir.r4.core": "4.0.1"}}))
    for resource in resources:
        (package / f"{resource['resourceType']}-{resource['id']}.json").write_text(json.dumps(resource))
    store = PackageStore.load([fhir_packages_dir, package.parent], offline=True,
                              packages=["hl7.fhir.r4.core#4.0.1", f"{name}#1.0.0"])
    return Validator(store)


def patch_walk(monkeypatch: pytest.MonkeyPatch, **methods) -> None:
    """Replace methods of the validator's walk (its own, or of its base classes SlicingChecks and ReferenceChecks)
    for a test: validations use a subclass of Walk that has them. Compiled (hatch_build.py), Walk and its bases
    are cdef classes, whose methods cannot be set; a subclass's override theirs in either build, on every call,
    the walk's calls to itself and the walks it starts (``type(self)(...)``) included."""
    monkeypatch.setattr(validator_module, "Walk", type("PatchedWalk", (validator_module.Walk,), methods))


def found(result: ValidationResult, severity: str | None = None) -> set[tuple[str, str]]:
    """(message id, expression) of the issues of a result, optionally of one severity."""
    return {(i.message_id, i.expression) for i in result.issues if severity is None or i.severity == severity}


def errors(result: ValidationResult) -> set[tuple[str, str]]:
    return {(i.message_id, i.expression) for i in result.issues if i.severity in ("error", "fatal")}


def one(result: ValidationResult, message_id: str, expression: str) -> Issue:
    matches = [i for i in result.issues if i.message_id == message_id and i.expression == expression]
    assert matches, f"no {message_id} at {expression}; got:\n{result}"
    return matches[0]
