"""Which build of the validator runs: its hot modules compiled with Cython, or their Python sources.

Both builds are made from the same files (``hatch_build.py``). A wheel ships each compiled module beside its source;
an editable install compiles them in place, beside the sources, and writes ``_compiled.json``: the hash of every
file they were compiled from. Python imports an extension module before a source file of the same name, so a module
compiled before an edit would run the code as it was: when a source no longer matches its hash, or when
``MES_PURE_PYTHON`` asks for it, every compiled module is set aside and the sources run. All of them, never a mix:
the compiled walk's classes derive from one another in C, across modules.

Standard library only: ``hatch_build.py`` loads this file by its path while building, when nothing else is
importable.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
from pathlib import Path

# The walk of a validation and what it calls for every element (bench/validate.py, (d): 0.75 -> 1.1x fhir.resources).
# The .pxd files beside four of them, which only Cython reads, declare the walk's classes and its element nodes as
# C types.
COMPILED = (
    "pytest_mes/fhir/walk.py",
    "pytest_mes/fhir/slicing.py",
    "pytest_mes/fhir/references.py",
    "pytest_mes/fhir/discriminators.py",
    "pytest_mes/fhir/issues.py",
    "pytest_mes/fhir/assertions.py",
    "pytest_mes/fhir/invariants.py",
    "pytest_mes/fhir/narrative.py",
    "pytest_mes/fhir/bundles.py",
    "pytest_mes/fhir/validator.py",
    "pytest_mes/fhir/jsonread.py",
    "pytest_mes/fhir/compiler.py",
    "pytest_mes/fhir/definitions.py",
)
MANIFEST = "pytest_mes/fhir/_compiled.json"
# Why the compiled modules are set aside (choose_build), as `mes --version` says it; the run's header in both languages
# (pytest_mes.report.labels, header.pure_python.*).
WHY = {"asked": "MES_PURE_PYTHON set",
       "out_of_date": "compiled modules out of date: pip install -e . compiles them again"}


def pure_python_asked() -> bool:
    """MES_PURE_PYTHON: when building, make no compiled module; when running, set them aside. Its yes words are those
    of every other variable (pytest_mes.environment, which this file cannot import while the package builds)."""
    return os.environ.get("MES_PURE_PYTHON", "").strip().lower() in ("1", "true", "yes", "on", "oui")


def inputs(root: Path) -> list[str]:
    """What the compiled modules are made from, relative to `root`: the sources and their .pxd declarations."""
    declarations = [path[:-3] + ".pxd" for path in COMPILED if (root / path[:-3]).with_suffix(".pxd").is_file()]
    return sorted([*COMPILED, *declarations])


def digests(root: Path) -> dict[str, str]:
    return {path: hashlib.sha256((root / path).read_bytes()).hexdigest() for path in inputs(root)}


def _recorded(root: Path) -> dict | None:
    """The in-place manifest: {"sources": {path: sha256}}, or None when there is none or it is unreadable."""
    try:
        recorded = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return recorded if isinstance(recorded, dict) and isinstance(recorded.get("sources"), dict) else None


def in_place_build_is_current(root: Path) -> bool:
    """An editable install's compiled modules exist for this interpreter and match their sources."""
    recorded = _recorded(root)
    current = recorded is not None and recorded["sources"] == digests(root)
    return current and all(extension(root, path).is_file() for path in COMPILED)


def set_aside(root: Path) -> list[str]:
    """The sources whose compiled modules may lie beside them: COMPILED, and the modules the in-place manifest names.
    A change (a git pull) that stops compiling a module leaves the extension of the last in-place build beside its
    source, which Python would import first."""
    recorded = (_recorded(root) or {"sources": {}})["sources"]
    compiled_before = [path for path in recorded
                       if path.startswith("pytest_mes/") and path.endswith(".py") and ".." not in path]
    return sorted({*COMPILED, *compiled_before})


def _current(root: Path) -> bool:
    """The compiled modules beside the sources may run: those of an editable install match their sources; without
    the manifest (a wheel, or nothing compiled) they are all there or none is: never a mix."""
    if (root / MANIFEST).is_file():
        return in_place_build_is_current(root)
    return len({extension(root, path).is_file() for path in COMPILED}) == 1


def extension(root: Path, source: str) -> Path:
    """Where this interpreter imports the compiled module of `source` from, beside it."""
    return root / (source[:-3] + importlib.machinery.EXTENSION_SUFFIXES[0])


class _Sources:  # a sys.meta_path finder (not importlib.abc's class: importing it costs 6 ms at every start)
    """Imports the compiled modules' Python sources, ahead of the extension modules beside them."""

    def __init__(self, sources: dict[str, Path]) -> None:
        self.sources = sources

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec:
        source = self.sources.get(fullname)
        return None if source is None else importlib.util.spec_from_file_location(fullname, source)


def choose_build(root: Path) -> str | None:
    """Set the compiled modules of the package under `root` aside when they must not run; why (a key of WHY), or
    None.

    Called once, by ``pytest_mes.fhir`` before any of them is imported."""
    if pure_python_asked():
        reason = "asked"
    elif not _current(root):
        reason = "out_of_date"
    else:
        return None
    sources = {path[:-3].replace("/", "."): root / path for path in set_aside(root)}
    if not any(isinstance(finder, _Sources) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Sources(sources))
    return reason
