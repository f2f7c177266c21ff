"""Renderers of the results document ("pytest-mes-results/1"): the HTML acceptance file, the JSON results and a
FHIR R4 TestReport. Each writer replaces its file atomically, so an interrupted run never leaves half a file.

The renderers load on first use (PEP 562): the processes that only label verdicts (`pytest_mes.report.labels`,
imported by every xdist worker) do not pay for the HTML and TestReport renderers, which only the process writing
the reports needs.
"""

from __future__ import annotations

import json
from importlib import import_module
from pathlib import Path
from typing import Any

__all__ = ["render_html", "to_testreport", "write_html", "write_json", "write_testreport"]

_LAZY = {"render_html": "html", "write_html": "html", "to_testreport": "testreport"}  # name -> its module


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)


def write_json(results: dict, path: str | Path) -> None:
    """The results document itself (its JSON Schema: ``pytest_mes/report/results.schema.json``)."""
    from pytest_mes.report.files import write_atomic
    from pytest_mes.report.masking import mask_credentials

    write_atomic(path, json.dumps(mask_credentials(results), ensure_ascii=False, indent=1) + "\n")


def write_testreport(results: dict, path: str | Path) -> None:
    from pytest_mes.report.files import write_atomic
    from pytest_mes.report.testreport import to_testreport

    write_atomic(path, json.dumps(to_testreport(results), ensure_ascii=False, indent=1) + "\n")
