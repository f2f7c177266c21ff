"""The build hook (hatch_build.py) and the choice of build at import (pytest_mes.fhir.compiled): what is compiled
exists, an editable install compiles in place only when its modules are not current, and compiled modules that no
longer match their sources never run (CI also checks that its wheel says "validator: compiled")."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_mes.fhir import compiled

ROOT = Path(__file__).resolve().parent.parent


def _hook_module():
    spec = importlib.util.spec_from_file_location("hatch_build", ROOT / "hatch_build.py")
    assert spec is not None and spec.loader is not None
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    return hook


def test_every_module_the_build_compiles_exists():
    missing = [path for path in compiled.COMPILED if not (ROOT / path).is_file()]
    assert compiled.COMPILED and not missing
    assert "pytest_mes/fhir/walk.pxd" in compiled.inputs(ROOT), "a .pxd changes the compiled code: it is hashed"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A source tree holding the compiled modules' sources and .pxd files (not their contents)."""
    for path in compiled.inputs(ROOT):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(f"# {path}\n")
    return tmp_path


@pytest.fixture
def hook(tree: Path, monkeypatch):
    """The build hook over `tree`, its Cython step replaced by one that writes a file per module and counts."""
    module = _hook_module()
    calls: list[Path] = []

    def compile_modules(root: Path, out: Path) -> dict[str, Path]:
        calls.append(root)
        built = {}
        for path in compiled.COMPILED:
            target = compiled.extension(Path(), path)
            (out / target).parent.mkdir(parents=True, exist_ok=True)
            (out / target).write_text(f"built from {(root / path).read_text()}")
            built[str(target)] = out / target
        return built

    monkeypatch.setattr(module, "compile_modules", compile_modules)
    monkeypatch.delenv("MES_PURE_PYTHON", raising=False)
    instance = module.CustomBuildHook(str(tree), {}, None, None, str(tree / "dist"), "wheel")
    instance.calls, instance.module, instance.fake = calls, module, compile_modules
    return instance


def test_an_editable_install_compiles_in_place_and_only_when_not_current(hook, tree):
    hook.initialize("editable", {})
    assert len(hook.calls) == 1 and compiled.in_place_build_is_current(tree)
    walk = compiled.extension(tree, "pytest_mes/fhir/walk.py")
    assert walk.read_text() == "built from # pytest_mes/fhir/walk.py\n"
    assert json.loads((tree / compiled.MANIFEST).read_text())["sources"] == compiled.digests(tree)

    hook.initialize("editable", {})
    assert len(hook.calls) == 1, "current modules are not compiled again"

    (tree / "pytest_mes/fhir/slicing.pxd").write_text("# declarations changed\n")
    assert not compiled.in_place_build_is_current(tree)
    hook.initialize("editable", {})
    assert len(hook.calls) == 2 and compiled.in_place_build_is_current(tree)

    walk.unlink()
    assert not compiled.in_place_build_is_current(tree), "a module missing is not current"


def test_a_failed_or_refused_in_place_build_leaves_no_compiled_module(hook, tree, monkeypatch):
    def built_leaves_nothing() -> bool:
        modules = [path for path in compiled.COMPILED if compiled.extension(tree, path).exists()]
        return not modules and not (tree / compiled.MANIFEST).exists()

    hook.initialize("editable", {})
    (tree / "pytest_mes/fhir/walk.py").write_text("# edited\n")

    def no_compiler(root: Path, out: Path) -> dict[str, Path]:
        raise OSError("command 'gcc' failed: No such file or directory")

    monkeypatch.setattr(hook.module, "compile_modules", no_compiler)
    hook.initialize("editable", {})  # a warning, no exception: the install goes on, pure Python
    assert built_leaves_nothing()

    monkeypatch.setattr(hook.module, "compile_modules", hook.fake)
    hook.initialize("editable", {})
    assert not built_leaves_nothing()
    monkeypatch.setenv("MES_PURE_PYTHON", "1")
    hook.initialize("editable", {})
    assert built_leaves_nothing()


def test_a_wheel_carries_the_compiled_modules_and_leaves_the_tree_alone(hook, tree):
    build_data: dict = {"force_include": {}}
    hook.initialize("standard", build_data)
    assert build_data["pure_python"] is False and build_data["infer_tag"] is True
    assert sorted(build_data["force_include"].values()) == sorted(
        str(compiled.extension(Path(), path)) for path in compiled.COMPILED)
    assert not (tree / compiled.MANIFEST).exists()
    hook.finalize("standard", build_data, "")


def test_a_wheel_reuses_the_modules_compiled_in_place_when_they_are_current(hook, tree):
    hook.initialize("editable", {})
    build_data: dict = {"force_include": {}}
    hook.initialize("standard", build_data)
    assert len(hook.calls) == 1, "not compiled again"
    assert sorted(build_data["force_include"]) == sorted(
        str(compiled.extension(tree, path)) for path in compiled.COMPILED)

    (tree / "pytest_mes/fhir/walk.py").write_text("# edited\n")
    hook.initialize("standard", {"force_include": {}})
    assert len(hook.calls) == 2, "sources changed since: compiled afresh"


def test_the_manifest_is_not_current_when_it_is_unreadable(tree):
    (tree / compiled.MANIFEST).write_text("[1, 2")
    assert not compiled.in_place_build_is_current(tree)
    (tree / compiled.MANIFEST).write_text("[]")
    assert not compiled.in_place_build_is_current(tree)


# The real package, as the editable install built it: which modules Python imports, in a fresh process.
IN_PLACE = compiled.in_place_build_is_current(ROOT)
needs_in_place = pytest.mark.skipif(not IN_PLACE, reason="this checkout's validator is not compiled in place "
                                    "(MES_PURE_PYTHON, no C compiler, or a source edited since pip install -e .)")


def _run(package_root: Path, code: str, **env: str) -> str:
    """What `code` prints, run with the pytest_mes of `package_root`."""
    environ = {k: v for k, v in os.environ.items() if k != "MES_PURE_PYTHON"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=package_root,
                          env={**environ, "PYTHONPATH": str(package_root), **env}, check=True).stdout


def _imported(package_root: Path, **env: str) -> list[str]:
    code = ("import pytest_mes.fhir as f, pytest_mes.fhir.walk as w, pytest_mes.fhir.validator as v\n"
            "print(w.__file__); print(v.__file__); print(f.validator_build()); print(f.PURE_PYTHON_BECAUSE)")
    return _run(package_root, code, **env).splitlines()


@needs_in_place
def test_modules_compiled_in_place_run_until_a_source_changes(tmp_path):
    copy = tmp_path / "checkout"
    shutil.copytree(ROOT / "pytest_mes", copy / "pytest_mes", ignore=shutil.ignore_patterns("__pycache__"))
    walk, validator, build, why = _imported(copy)
    assert not walk.endswith(".py") and not validator.endswith(".py") and (build, why) == ("compiled", "None")

    with (copy / "pytest_mes/fhir/references.py").open("a") as source:
        source.write("# edited after pip install -e .\n")
    walk, validator, build, why = _imported(copy)
    assert walk.endswith("walk.py") and validator.endswith("validator.py"), "all set aside, never a mix"
    assert (build, why) == ("pure Python", "out_of_date")
    version = _run(copy, "from pytest_mes.cli import main; main(['--version'])", COLUMNS="40")
    assert version.endswith("(validator: pure Python; compiled modules out of date: pip install -e . compiles them "
                            "again)\n") and version.count("\n") == 1, "said on one line, whatever the terminal"


@needs_in_place
def test_mes_pure_python_sets_the_compiled_modules_aside_at_run_time():
    walk, _, build, why = _imported(ROOT, MES_PURE_PYTHON="1")
    assert walk.endswith("walk.py") and (build, why) == ("pure Python", "asked")


def test_a_partial_set_of_compiled_modules_never_runs(tree):
    """Without the manifest (a wheel) the compiled modules run when they are all there; a copy cut short leaves
    some: the sources run."""
    assert compiled._current(tree), "nothing compiled: nothing to set aside"
    for path in compiled.COMPILED:
        compiled.extension(tree, path).write_text("")
    assert compiled._current(tree)
    compiled.extension(tree, compiled.COMPILED[-1]).unlink()
    assert not compiled._current(tree)


def test_an_in_place_build_that_cannot_be_written_leaves_nothing_half_done(hook, tree, monkeypatch):
    copies = []

    def copy_then_fail(source, target):
        if copies:
            raise PermissionError(13, "Permission denied", str(target))
        Path(target).write_bytes(Path(source).read_bytes())
        copies.append(target)

    monkeypatch.setattr(shutil, "copyfile", copy_then_fail)
    hook.initialize("editable", {})  # a warning, no exception
    assert copies and not [path for path in compiled.COMPILED if compiled.extension(tree, path).exists()]
    assert not (tree / compiled.MANIFEST).exists()


def test_a_module_no_longer_compiled_never_runs_from_the_extension_left_beside_it(hook, tree, monkeypatch):
    """A change (a git pull) that stops compiling a module leaves its extension of the last `pip install -e .` beside
    its source, and Python imports an extension first: it is set aside with the others, then removed by the next
    build, never run as the code of a source it no longer matches."""
    hook.initialize("editable", {})
    dropped = "pytest_mes/fhir/definitions.py"
    stale = compiled.extension(tree, dropped)
    assert stale.is_file()
    for module in (compiled, hook.module.compiled):
        monkeypatch.setattr(module, "COMPILED", tuple(path for path in compiled.COMPILED if path != dropped))

    assert dropped in compiled.set_aside(tree), "imported from its source while its old extension is there"
    assert not compiled.in_place_build_is_current(tree)
    hook.initialize("editable", {})
    assert not stale.exists() and compiled.in_place_build_is_current(tree)
    assert dropped not in compiled.set_aside(tree)


@pytest.mark.parametrize(("value", "asked"), [("1", True), ("oui", True), (" Yes ", True), ("0", False), ("non", False),
                                              ("", False)])
def test_mes_pure_python_takes_the_yes_words_of_every_other_variable(monkeypatch, value, asked):
    monkeypatch.setenv("MES_PURE_PYTHON", value)
    assert compiled.pure_python_asked() is asked
