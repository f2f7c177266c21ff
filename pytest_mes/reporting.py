"""pytest hooks of the result model: a record on each test's report, verdicts in pytest's terms, the summary,
and the report files. Registered only when pytest-mes has a server to test.

A record travels on its TestReport as a plain dict (`report.mes_record`), so pytest-xdist carries every worker's
records to the controller, which alone writes the reports.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from pytest_mes.fhir.issues import Phrase
from pytest_mes.printable import printable
from pytest_mes.report.labels import label, phrase
from pytest_mes.results import TestRecord, record_from_dict
from pytest_mes.run import MesRun

_LETTERS = {"passed": ".", "failed": "F", "advisory": "a", "incomplete": "I", "skipped": "s", "waived": "w",
            "error": "E"}
_COLOURS = {"passed": "green", "failed": "red", "advisory": "yellow", "incomplete": "yellow", "skipped": "yellow",
            "waived": "cyan", "error": "red"}
_NOT_FAILING = ("advisory", "waived")  # shown, but not counted as failures by pytest (xfail-like)


class ResultsPlugin:
    def __init__(self, config: pytest.Config, run: MesRun):
        self.config = config
        self.run = run
        self.records: dict[str, dict[str, Any]] = {}
        self.started = datetime.now(UTC)
        self.clock = time.monotonic()
        self.document: dict[str, Any] | None = None
        self.written: list[str] = []
        self.write_problems: list[str] = []
        self.collection_errors: list[str] = []  # one line each, naming the file

    # --- on every process that runs tests -------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for index, item in enumerate(session.items):
            item.mes_index = index  # the same on every xdist worker: they all collect everything

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = yield
        record = self._record(item, call, report)
        if record is not None:
            record.duration_ms = round(report.duration * 1000, 1)
            self._as_verdict(report, record)
            report.mes_record = record.as_dict()
            # junitxml reads an item's properties from its teardown report, made from the item's list.
            item.user_properties.append(("mes_verdict", record.verdict))
        elif call.when == "teardown" and report.failed:
            report.mes_teardown_failure = _first_line(report)
        return report

    def _record(self, item: pytest.Item, call: pytest.CallInfo, report: pytest.TestReport) -> TestRecord | None:
        from pytest_mes.nodes import MesItem

        index = getattr(item, "mes_index", 0)
        if (call.when == "setup" and report.passed) or call.when == "teardown":
            return None
        if not isinstance(item, MesItem):
            return _plain_record(item, report, index)
        if call.when == "call" and item.record is not None:
            return item.record
        if report.skipped:
            return item.describe("skipped", _skip_reason(report))
        verdict = item.setup_verdict if call.when == "setup" else "error"
        return item.describe(verdict, _first_line(report))

    def _as_verdict(self, report: pytest.TestReport, record: TestRecord) -> None:
        """Advisory failures and waived ones do not fail the run: pytest sees them like xfail."""
        if record.verdict in _NOT_FAILING and report.failed:
            report.outcome = "skipped"
            lang = self.run.config.lang
            report.wasxfail = printable(f"{label(record.verdict, lang)}{label('colon', lang)}{record.reason}")

    def pytest_report_teststatus(self, report: pytest.TestReport, config: pytest.Config):
        record = getattr(report, "mes_record", None)
        if record is None:
            return None
        verdict = record["verdict"]
        word = label(verdict, self.run.config.lang).upper()
        if config.option.verbose > 0 and record.get("level"):
            title = record["title"].get(self.run.config.lang) or record["title"].get("fr") or ""
            word = printable(f"{word} [{record['level']}] {title}")
        # The verdict is the category: pytest's own where one fits (passed, failed, skipped, error), so that its
        # sections (FAILURES, ERRORS, -rs) keep working; the others get their own count in the last line.
        return verdict, _LETTERS[verdict], (word, {_COLOURS[verdict]: True})

    # --- where reports are gathered (the only process without xdist, the controller with it) ------------

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:  # a malformed test set (or a Python file that cannot be imported)
            error = _first_line(report)
            where = report.nodeid or str(report.fspath)
            self.collection_errors.append(error if error.startswith(where) else f"{where}: {error}")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record = getattr(report, "mes_record", None)
        if record is not None:
            self.records[report.nodeid] = record
        failure = getattr(report, "mes_teardown_failure", None)
        if failure and report.nodeid in self.records:
            kept = self.records[report.nodeid]
            note = label("reason.teardown", self.run.config.lang).format(failure=failure)
            kept["notes"] = [*kept.get("notes", []), note]
            if kept["verdict"] in ("passed", "skipped"):
                kept["verdict"], kept["reason"] = "error", note

    @pytest.hookimpl(optionalhook=True)
    def pytest_handlecrashitem(self, crashitem: str, report: pytest.TestReport, sched) -> None:
        """pytest-xdist (controller): the worker running this test died, so no record of it came; nothing was checked,
        which the run must not take for a pass."""
        collection = getattr(sched, "collection", None) or []
        worker = getattr(getattr(getattr(report, "node", None), "gateway", None), "id", "?")
        reason = label("reason.worker_died", self.run.config.lang).format(worker=worker)
        self.records[crashitem] = TestRecord(
            index=collection.index(crashitem) if crashitem in collection else len(collection),
            nodeid=crashitem, id=crashitem.rpartition("::")[2], verdict="error", reason=reason,
            file=crashitem.partition("::")[0]).as_dict()

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if hasattr(self.config, "workerinput"):
            return  # an xdist worker: its records went to the controller
        try:
            self._conclude(session, exitstatus)
        except KeyboardInterrupt as exc:  # Ctrl-C once the tests are over: what was written and what not, no traceback
            lang = self.run.config.lang
            left = ", ".join(str(p) for p in self.run.config.reports.paths()) or "-"
            self.written, self.write_problems = getattr(
                exc, "mes_reports", ([], [label("write_interrupted", lang).format(paths=left)]))
            session.exitstatus = pytest.ExitCode.INTERRUPTED

    def _conclude(self, session: pytest.Session, exitstatus: int) -> None:
        """The run's verdict (the results document), its reports written, and the exit status that follows."""
        from pytest_mes.acceptance import build_document, write_reports

        tests = sorted((record_from_dict(r) for r in self.records.values()), key=lambda t: t.index)
        interrupted = _interruption(session, exitstatus, self.collection_errors)
        uncollected = None  # a run that went on without them (xdist, --continue-on-collection-errors)
        if self.collection_errors and exitstatus != pytest.ExitCode.INTERRUPTED:
            uncollected = phrase("run.uncollected", n=len(self.collection_errors),
                                 errors="; ".join(self.collection_errors))
        self.document = build_document(self.run, tests, started=self.started,
                                       duration_s=time.monotonic() - self.clock, interrupted=interrupted,
                                       workers=getattr(self.config.option, "numprocesses", None) or 1,
                                       uncollected=uncollected)
        self.written, self.write_problems = write_reports(self.document, self.run.config.reports, self.run.config.lang)
        if self.document["verdict"]["code"] != "conformant" and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED  # e.g. nothing could run: nothing is proven
        if self.write_problems and session.exitstatus == pytest.ExitCode.OK:
            # (a full disk, mostly: the paths were checked at start) a CI job must not pass without its file
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self.document is None and not self.write_problems:
            return
        from pytest_mes.terminal import summary_lines

        terminalreporter.section("pytest-mes", sep="=")
        for line, markup in summary_lines(self.document, self.run.config.lang) if self.document else []:
            terminalreporter.write_line(printable(line), **markup)  # reasons quote the server
        for path in self.written:
            terminalreporter.write_line(label("wrote", self.run.config.lang).format(path=path))
        for problem in self.write_problems:
            terminalreporter.write_line(f"mes: {problem}", red=True)


def _plain_record(item: pytest.Item, report: pytest.TestReport, index: int) -> TestRecord:
    """A user's own Python test in a pytest-mes run: its outcome, in the same model."""
    if report.skipped:
        verdict, reason = "skipped", _skip_reason(report)
    elif report.failed:
        verdict, reason = ("failed" if report.when == "call" else "error"), _first_line(report)
    else:
        verdict, reason = "passed", ""
    return TestRecord(index=index, nodeid=item.nodeid, id=item.name, verdict=verdict, reason=reason,
                      file=str(item.location[0]), line=(item.location[1] or 0) + 1)


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr or "")
    return reason.removeprefix("Skipped: ")


def _first_line(report: pytest.TestReport | pytest.CollectReport) -> str:
    text = report.longreprtext or ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    # A Python traceback ends with the error; a pytest-mes message starts with it, and a first line that
    # announces a list ("…: 4 problems:") is nothing without the first item of it.
    if lines[0].startswith(("Traceback", "self =", "def ")):
        return lines[-1][:500]
    return (f"{lines[0]} {lines[1]}" if lines[0].endswith(":") and len(lines) > 1 else lines[0])[:500]


def _interruption(session: pytest.Session, exitstatus: int, collection_errors: list[str]) -> Phrase | None:
    """Why the run stopped before its end, in every language (pytest's own words about it, and the collection
    errors, stay as said)."""
    if exitstatus == pytest.ExitCode.INTERRUPTED and collection_errors:
        return phrase("interruption.collection", n=len(collection_errors), errors="; ".join(collection_errors))
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        return phrase("interruption.signal")
    if session.shouldstop:
        return phrase("interruption.stopped", why=session.shouldstop)
    if session.shouldfail:
        return phrase("interruption.stopped", why=session.shouldfail)
    return None



