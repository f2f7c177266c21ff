"""FHIR packages and the FHIR R4 profile validator.

Example::

    from pytest_mes.fhir import load_validator

    validator = load_validator(["../shared/fhir-packages"], offline=True)  # once per process
    result = validator.validate(patient, ["https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient"])
    result.valid, result.issues, result.to_operation_outcome()
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_mes.fhir.compiled import choose_build

if TYPE_CHECKING:
    from pytest_mes.fhir.issues import Issue, ValidationResult
    from pytest_mes.fhir.store import PackageStore
    from pytest_mes.fhir.validator import Validator

__all__ = ["Issue", "PackageStore", "ValidationResult", "Validator", "load_validator"]
# The public names are imported on first use, so that a light submodule (issues, cache) does not pay for
# the validator: the xdist controller and the terminal summary read issue ids without validating anything.
_LAZY = {"Issue": "issues", "ValidationResult": "issues", "PackageStore": "store", "Validator": "validator"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)


# Before any module of the validator is imported: compiled modules that no longer match their sources, or that
# MES_PURE_PYTHON sets aside, never run (see pytest_mes.fhir.compiled).
PURE_PYTHON_BECAUSE = choose_build(Path(__file__).resolve().parents[2])


def validator_build() -> str:
    """"compiled" when the validator runs from modules compiled with Cython (hatch_build.py: a wheel, or an
    editable install compiled in place), else "pure Python": same verdicts, the compiled one faster (README,
    Performance). Found without importing it."""
    spec = importlib.util.find_spec(f"{__name__}.walk")
    return "compiled" if spec is not None and spec.origin and not spec.origin.endswith(".py") else "pure Python"


_VALIDATORS: dict[tuple, Validator] = {}
_LOCK = threading.Lock()


def load_validator(
    sources: Iterable[str | os.PathLike[str]] = (),
    *,
    offline: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
    igs: Iterable[str | os.PathLike[str]] = (),
) -> Validator:
    """A validator over the MES profile set plus the packages in `sources` and the conformance
    resources in `igs` (folders or files, JSON or XML: see :mod:`pytest_mes.fhir.local`), one per process.

    Equal arguments return the same (already warmed) :class:`Validator`; loading the packages and
    compiling profiles happens once per process.

    Raises:
        PackageError: hl7.fhir.r4.core cannot be found, or a path of `igs` does not exist.
    """
    key = (tuple(str(Path(s).expanduser().resolve()) for s in sources), bool(offline),
           str(cache_dir) if cache_dir else None, tuple(str(Path(p).expanduser().resolve()) for p in igs))
    from pytest_mes.fhir.local import with_conformance
    from pytest_mes.fhir.store import PackageStore
    from pytest_mes.fhir.validator import Validator

    with _LOCK:
        validator = _VALIDATORS.get(key)
        if validator is None:
            store = PackageStore.load(key[0], offline=offline, cache_dir=cache_dir)
            if key[3]:
                store = with_conformance(store, key[3], option="--mes-ig")
            validator = _VALIDATORS[key] = Validator(store)
        return validator
