"""The results document of a run ("pytest-mes-results/1"): what was tested, against what, with which verdicts.

It is built once, at the end of the run, from the test records; every report file is a rendering of it.
"""

from __future__ import annotations

import platform
import uuid
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from pytest_mes import __version__
from pytest_mes.config import Reports
from pytest_mes.errors import MesError
from pytest_mes.fhir import validator_build
from pytest_mes.fhir.issues import Phrase
from pytest_mes.fhir.sources import MissingPackage
from pytest_mes.report.files import file_sha256
from pytest_mes.report.labels import label
from pytest_mes.resources import bundled_dir
from pytest_mes.results import FORMAT, TestRecord, requirement_matrix, run_verdict, summary, worst
from pytest_mes.run import MesRun
from pytest_mes.testset.model import TestSet
from pytest_mes.waivers import waiver_statuses


def build_document(run: MesRun, tests: list[TestRecord], *, started: datetime, duration_s: float,
                   interrupted: Phrase | None, workers: int, uncollected: Phrase | None = None) -> dict[str, Any]:
    config = run.config
    verdict = run_verdict(tests, interrupted, uncollected)
    testsets = _ran_testsets(run, tests)
    document = {
        "format": FORMAT,
        "run": {
            "id": str(uuid.uuid4()), "started": started.isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"), "duration_s": round(duration_s, 2),
            "lang": config.lang,
            "target": {"base_url": config.base_url or run.sandbox_url or label("sandbox", config.lang),
                       "sandbox": config.sandbox, "defects": list(config.sandbox_defects)},
            "tool": {"name": "pytest-mes", "version": __version__, "python": platform.python_version(),
                     "pytest": pytest.__version__},
            "identification": dict(config.identification),
            "testsets": _testsets(run, tests, testsets),
            **_profile_set(run),
            "options": {"fail_on": config.fail_on, "strict": config.strict,
                        "ignore_preconditions": config.ignore_preconditions, "allow_writes": config.allow_writes,
                        "redact_patient": config.redact_patient, "components": sorted(config.components),
                        "waivers": str(config.waivers) if config.waivers else None, "workers": workers},
            "interrupted": interrupted.get(config.lang) if interrupted else None,
        },
        "verdict": verdict.as_dict(),
        "summary": summary(tests),
        "requirements": requirement_matrix(tests),
        "coverage": _coverage(run, tests, testsets),
        "waivers": waiver_statuses(run.waivers, tests, date.today(), run.unknown_waivers),
        "tests": [test.as_dict() for test in tests],
    }
    # The setting is asked first: an xdist controller that masks nothing needs no Recorder, nor what it imports
    # (the HTTP client, requests): its workers made the requests.
    if run.config.redact_patient:
        document = _masked(document, run.recorder.mask)
    return document


def _ran_testsets(run: MesRun, tests: list[TestRecord]) -> dict[str, TestSet | None]:
    """Each test-set file that gave a test (as the records name it), read once more for the report: None when
    it changed or went away since it ran (the records still say which set it was)."""
    from pytest_mes.testset.model import load_testset

    testsets: dict[str, TestSet | None] = {}
    for file in dict.fromkeys(t.file for t in tests if t.set is not None and t.file):
        try:
            testsets[file] = load_testset(Path(run.invocation_dir, file), file, catalogue=run.catalogue)
        except (OSError, MesError):
            testsets[file] = None
    return testsets


def _coverage(run: MesRun, tests: list[TestRecord], testsets: dict[str, TestSet | None]) -> dict[str, Any] | None:
    """The `mes coverage` matrix of the test sets that ran, each item and flow with its verdict in this run."""
    from pytest_mes.coverage import coverage_matrix

    catalogue = run.catalogue.loaded
    if catalogue is None or None in testsets.values():
        return None  # no CapabilityStatements, or a set changed since it ran: the requirement matrix says what ran
    matrix = coverage_matrix(testsets.values(), catalogue)
    verdicts: dict[str, list[str]] = {}
    for test in tests:
        verdicts.setdefault(test.id.split("[")[0], []).append(test.verdict)
        verdicts.setdefault(test.id, []).append(test.verdict)

    def row(entry: dict[str, Any], **shown: Any) -> dict[str, Any]:
        ran = [v for test_id in entry["tests"] for v in verdicts.get(test_id, [])]
        return {**shown, "url": entry.get("url"), "tests": entry["tests"], "verdict": worst(ran) if ran else "not_run"}

    return {"items": [row(i, actor=i["actor"], label=i["label"]) for i in matrix["items"]],
            "flows": [row(f, actor=f["actor"], id=f["id"], title=f["title"]) for f in matrix["flows"]],
            "summary": matrix["summary"]}


def _testsets(run: MesRun, tests: list[TestRecord], testsets: dict[str, TestSet | None]) -> list[dict[str, Any]]:
    """Each test set that gave a test: id, title, component, path and the sha256 of the file as run."""
    sets: dict[str, dict[str, Any]] = {}
    bundled = bundled_dir("testsets")
    for test in tests:
        if test.file in sets:
            sets[test.file]["tests"] += 1
            continue
        if test.file is None or test.set is None:
            continue
        path = Path(run.invocation_dir, test.file)
        entry: dict[str, Any] = {"id": test.set, "title": None, "version": None, "component": test.component,
                                 "actor": test.actor, "path": test.file, "sha256": None, "tests": 1}
        testset = testsets.get(test.file)
        if testset is not None:  # else the file changed or went away since: the id and path still say which set
            entry["sha256"] = _sha256(path)
            entry["title"] = {"fr": testset.title.fr, "en": testset.title.en}
            entry["actor"] = testset.actor
        if bundled in path.resolve().parents:  # shown as shipped, not as a path into site-packages
            entry["version"] = __version__  # the bundled sets are versioned with pytest-mes
            entry["path"] = f"pytest-mes {__version__}: testsets/{path.resolve().relative_to(bundled).as_posix()}"
        sets[test.file] = entry
    return list(sets.values())


def _profile_set(run: MesRun) -> dict[str, Any]:
    """The FHIR packages the verdicts rest on, each with its sha256, and what was missing."""
    validator, problem = run.validator()
    info = {"name": "pytest-mes FHIR R4 validator", "version": __version__, "build": validator_build(),
            "available": validator is not None, "problem": problem}
    store = getattr(validator, "store", None)
    if store is None:
        return {"packages": [], "missing_packages": [], "validator": info}
    # The sha256 of each .tgz was taken when it was indexed (and checked against the pins): not hashed again.
    packages = [{"id": p.id, "version": p.version, "source": str(p.path), "sha256": p.sha256} for p in store.packages]
    missing = [_missing_package(m, run.config.lang) for m in store.missing]
    return {"packages": packages, "missing_packages": [*missing, *store.problems], "validator": info}


def _missing_package(missing: MissingPackage, lang: str) -> str:
    """What a reviewer needs of a missing package, in the file's language: it, who needs it, what stands in."""
    said = [label("missing_by", lang).format(by=", ".join(missing.required_by))] if missing.required_by else []
    if missing.substitute:
        said.append(label("missing_substitute", lang).format(substitute=missing.substitute))
    return f"{missing.spec} ({label('semicolon', lang).join(said)})" if said else missing.spec


_sha256 = cache(file_sha256)  # a test set is hashed once per process, however many reports


def _masked(value: Any, mask) -> Any:
    """Every string of the document through the patient mask (values learnt late are masked everywhere)."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, list):
        return [_masked(v, mask) for v in value]
    if isinstance(value, dict):
        return {k: _masked(v, mask) for k, v in value.items()}
    return value


def write_reports(document: dict[str, Any], reports: Reports, lang: str = "fr") -> tuple[list[str], list[str]]:
    """Write every report asked for; return (paths written, problems in `lang`). A report that cannot be written is
    said, never a traceback, and the others are still written."""
    from pytest_mes import report

    written, problems = [], []
    asked = [(path, writer) for path, writer in ((reports.html, report.write_html), (reports.json, report.write_json),
                                                 (reports.testreport, report.write_testreport)) if path is not None]
    for n, (path, writer) in enumerate(asked):
        try:
            writer(document, path)
            written.append(str(path))
        except OSError as exc:
            problems.append(label("write_failed", lang).format(path=path, error=exc.strerror or exc))
        except KeyboardInterrupt as exc:  # each file is written whole or not at all: say which were not
            left = ", ".join(str(p) for p, _ in asked[n:])
            exc.mes_reports = (written, [*problems, label("write_interrupted", lang).format(paths=left)])
            raise
    return written, problems



