"""Build hook: the validator's hot modules compiled with Cython, beside their unchanged sources.

The same Python files, compiled as they are (annotations not enforced), so that both builds behave alike; the
compiled modules are imported first when they are there. The ``.pxd`` files beside walk, slicing, references and
compiler, which only Cython reads, make the walk's classes and ElementDef cdef classes: their fields are C fields
and the walk's hot methods call one another in C.

A wheel carries the compiled modules. An editable install (the README's quick start) compiles them in place, beside
the sources, with the hashes of what they were made from (``pytest_mes/fhir/_compiled.json``): a source edited since
sets them all aside at import until ``pip install -e .`` compiles them again, which it skips when they are current.
``MES_PURE_PYTHON=1``, or a machine without Cython or a C compiler, gets the pure-Python build: the same verdicts,
slower.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


def _compiled_module() -> ModuleType:
    """pytest_mes/fhir/compiled.py (what is compiled, the in-place manifest), loaded by its path: the package's
    dependencies are not installed while it builds."""
    path = Path(__file__).parent / "pytest_mes/fhir/compiled.py"
    spec = importlib.util.spec_from_file_location("_mes_compiled", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


compiled = _compiled_module()


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        if version == "editable":
            self.compile_in_place(root)
        elif not compiled.pure_python_asked():
            self.compile_into_wheel(root, build_data)

    def compile_into_wheel(self, root: Path, build_data: dict[str, Any]) -> None:
        if compiled.in_place_build_is_current(root):  # an editable install's, made from these very files: reused
            built = {str(compiled.extension(Path(), path).as_posix()): compiled.extension(root, path)
                     for path in compiled.COMPILED}
        else:
            self.build_dir = Path(tempfile.mkdtemp(prefix="pytest-mes-build-"))
            built = self.compile(root, self.build_dir)
        if built is None:
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True  # cpXY-cpXY-platform: the modules are for this interpreter
        for target, path in built.items():
            build_data["force_include"][str(path)] = target
        self.app.display_info(f"pytest-mes: {len(built)} validator modules compiled with Cython")

    def compile_in_place(self, root: Path) -> None:
        if compiled.pure_python_asked():
            remove_in_place_build(root)
            return
        if compiled.in_place_build_is_current(root):
            self.app.display_info("pytest-mes: the validator's compiled modules match their sources")
            return
        try:
            remove_in_place_build(root)  # never modules of another revision beside these sources, even if this fails
            with tempfile.TemporaryDirectory(prefix="pytest-mes-build-") as out:
                built = self.compile(root, Path(out))
                if built is None:
                    return
                for target, path in built.items():
                    shutil.copyfile(path, root / target)
            manifest = root / compiled.MANIFEST
            manifest.write_text(json.dumps({"sources": compiled.digests(root)}, indent=1) + "\n", encoding="utf-8")
        except OSError as exc:  # a read-only checkout, a full disk: the sources run, as without a compiler
            with contextlib.suppress(OSError):
                remove_in_place_build(root)  # what was copied (at import, a partial set runs as Python anyway)
            self.app.display_warning(f"pytest-mes: the compiled validator could not be written beside its sources "
                                     f"({exc}); it runs as pure Python (same verdicts, slower)")
            return
        self.app.display_info(f"pytest-mes: {len(built)} validator modules compiled with Cython, in place")

    def compile(self, root: Path, out: Path) -> dict[str, Path] | None:
        try:
            return compile_modules(root, out)
        except Exception as exc:  # no Cython, no C compiler…: the pure-Python build works the same
            self.app.display_warning(f"pytest-mes: validator not compiled ({type(exc).__name__}: {exc}); "
                                     "it runs as pure Python (same verdicts, slower)")
            return None

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        if getattr(self, "build_dir", None) is not None:  # the wheel holds the modules now
            shutil.rmtree(self.build_dir, ignore_errors=True)


def remove_in_place_build(root: Path) -> None:
    modules = compiled.set_aside(root)  # those compiled by an earlier revision too, which the manifest names
    (root / compiled.MANIFEST).unlink(missing_ok=True)  # first: without it, no module is trusted as current
    for path in modules:
        compiled.extension(root, path).unlink(missing_ok=True)


def compile_modules(root: Path, out: Path) -> dict[str, Path]:
    """Compile the COMPILED modules of `root` in `out`: {path in the package: built extension}."""
    from Cython.Build import cythonize
    from setuptools import Distribution, Extension

    flags = [] if sys.platform == "win32" else ["-g0"]  # no debug symbols: a wheel a tenth of the size
    extensions = [Extension(path[:-3].replace("/", "."), [str(root / path)], extra_compile_args=flags)
                  for path in compiled.COMPILED]
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
