"""The `mes` command's own surface: version and help."""

from __future__ import annotations

import subprocess
import sys

from pytest_mes import __version__
from pytest_mes.cli import main


def test_version_and_help(capsys):
    assert main([]) == 0
    help_text = capsys.readouterr().out
    assert "usage: mes" in help_text and "pytest --mes-sandbox" in help_text
    for command in ("validate", "packages", "sandbox"):
        assert command in help_text
    done = subprocess.run([sys.executable, "-m", "pytest_mes.cli", "--version"], capture_output=True, text=True)
    assert (done.returncode, done.stdout.strip()) == (0, f"pytest-mes {__version__}")
