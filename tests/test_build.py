"""The wheel's build hook (hatch_build.py): what it compiles exists, so that a rename cannot silently give a
pure-Python wheel (CI also checks that its wheel says "validator: compiled")."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_module_the_wheel_compiles_exists():
    spec = importlib.util.spec_from_file_location("hatch_build", ROOT / "hatch_build.py")
    assert spec is not None and spec.loader is not None
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    missing = [path for path in hook.COMPILED if not (ROOT / path).is_file()]
    assert hook.COMPILED and not missing
