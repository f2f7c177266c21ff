"""Wheel build hook: the validator's hot modules compiled with Cython, beside their unchanged sources.

The same Python files, compiled as they are (annotations not enforced), so that both builds behave alike; the
compiled modules are imported first when they are there. The ``.pxd`` files beside walk, slicing, references and
compiler, which only Cython reads, make the walk's classes and ElementDef cdef classes: their fields are C fields
and the walk's hot methods call one another in C. An editable install, ``MES_PURE_PYTHON=1``, or a
machine without Cython or a C compiler gets the pure-Python wheel, which gives the same verdicts, slower.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

# The walk of a validation and what it calls for every element (bench/validate.py: (d) 0.77 -> 1.0x).
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


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable" or _flag("MES_PURE_PYTHON"):
            return
        out = self.build_dir = Path(tempfile.mkdtemp(prefix="pytest-mes-build-"))
        try:
            built = compile_modules(Path(self.root), out)
        except Exception as exc:  # no Cython, no C compiler…: the pure-Python wheel works the same
            self.app.display_warning(f"pytest-mes: validator not compiled ({type(exc).__name__}: {exc}); "
                                     "building a pure-Python wheel (same verdicts, slower)")
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True  # cpXY-cpXY-platform: the modules are for this interpreter
        for target, path in built.items():
            build_data["force_include"][str(path)] = target
        self.app.display_info(f"pytest-mes: {len(built)} validator modules compiled with Cython")

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        if getattr(self, "build_dir", None) is not None:  # the wheel holds the modules now
            shutil.rmtree(self.build_dir, ignore_errors=True)


def _flag(name: str) -> bool:  # as pytest_mes.environment.env_flag reads one (not importable while building)
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def compile_modules(root: Path, out: Path) -> dict[str, Path]:
    """Compile the COMPILED modules of `root` in `out`: {path in the wheel: built extension}."""
    from Cython.Build import cythonize
    from setuptools import Distribution, Extension

    flags = [] if sys.platform == "win32" else ["-g0"]  # no debug symbols: a wheel a tenth of the size
    extensions = [Extension(path[:-3].replace("/", "."), [str(root / path)], extra_compile_args=flags)
                  for path in COMPILED]
    # nonecheck: a None where the .pxd files declare a node (ElementDef) raises AttributeError, as in Python, instead
    # of reading through a null pointer (callgrind, (d): no measurable cost)
    directives = {"language_level": 3, "annotation_typing": False, "binding": True, "nonecheck": True}
    # include_path: the .pxd files beside the modules (walk.pxd…) cimport one another by their package names
    modules = cythonize(extensions, build_dir=str(out / "c"), compiler_directives=directives, quiet=True,
                        include_path=[str(root)])
    command = Distribution({"ext_modules": modules, "script_name": "hatch_build.py"}).get_command_obj("build_ext")
    command.build_lib, command.build_temp = str(out / "lib"), str(out / "tmp")
    command.parallel = os.cpu_count() or 1
    command.ensure_finalized()
    command.run()
    return {command.get_ext_filename(m.name): out / "lib" / command.get_ext_filename(m.name) for m in modules}
