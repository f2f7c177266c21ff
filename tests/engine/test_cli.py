"""The `mes` command's own surface: version and help."""

from __future__ import annotations

import subprocess
import sys

from pytest_mes import __version__
from pytest_mes.cli import main
from pytest_mes.fhir import walk


def test_version_and_help(capsys, tmp_path):
    assert main([]) == 0
    help_text = capsys.readouterr().out
    assert "usage: mes" in help_text and "pytest --mes-sandbox" in help_text
    for command in ("validate", "packages", "sandbox"):
        assert command in help_text
    # (from another folder: "-m" imports from the current one first, where a source tree may be)
    done = subprocess.run([sys.executable, "-m", "pytest_mes.cli", "--version"], capture_output=True, text=True,
                          cwd=tmp_path)
    # The build it names is the one imported: the compiled walk of a wheel (hatch_build.py) or its source
    build = "pure Python" if walk.__file__.endswith(".py") else "compiled"
    assert (done.returncode, done.stdout.strip()) == (0, f"pytest-mes {__version__} (validator: {build})")
