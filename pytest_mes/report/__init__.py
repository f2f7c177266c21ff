"""Renderers of the results document ("pytest-mes-results/1"): the HTML acceptance file, the JSON results and a
FHIR R4 TestReport. Each writer replaces its file atomically, so an interrupted run never leaves half a file."""

from __future__ import annotations

import json
from pathlib import Path

from pytest_mes.report.files import write_atomic
from pytest_mes.report.html import render_html, write_html
from pytest_mes.report.masking import mask_credentials
from pytest_mes.report.testreport import to_testreport

__all__ = ["render_html", "to_testreport", "write_html", "write_json", "write_testreport"]


def write_json(results: dict, path: str | Path) -> None:
    """The results document itself (its JSON Schema: ``pytest_mes/report/results.schema.json``)."""
    write_atomic(path, json.dumps(mask_credentials(results), ensure_ascii=False, indent=1) + "\n")


def write_testreport(results: dict, path: str | Path) -> None:
    write_atomic(path, json.dumps(to_testreport(results), ensure_ascii=False, indent=1) + "\n")
