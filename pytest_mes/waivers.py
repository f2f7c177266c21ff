"""Waivers: known failures a publisher justifies, with an author and an expiry date (--mes-waivers FILE).

A waiver names a test (its id or node id), or a pattern of validation messages, or both. A failure it covers is
shown as waived ("dérogation") with its justification; an expired waiver no longer applies and the report says
so; a waiver that covered nothing is listed as unused, and one naming a test no loaded test set has (a typo: it
could never cover anything) is said at start and listed as such, with the test id it probably means.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

from pytest_mes.errors import ConfigError, TestSetError, require_file
from pytest_mes.report.labels import label, lead
from pytest_mes.results import TestRecord
from pytest_mes.testset.loader import EmptyFile, load_yaml
from pytest_mes.testset.schema import check_schema, closest, validator_for

WAIVABLE = ("failed", "advisory")


@dataclass(frozen=True)
class Waiver:
    index: int
    justification: str
    author: str
    expires: date
    source: str  # file:line
    test: str | None = None
    message: re.Pattern[str] | None = None

    def expired(self, today: date) -> bool:
        return self.expires < today

    def covers_test(self, record: TestRecord) -> bool:
        return self.test is None or self.test in (record.id, record.nodeid)

    def covers_message(self, message: str, message_id: str) -> bool:
        return self.message is not None and bool(self.message.search(message) or self.message.search(message_id))

    def shown(self) -> dict[str, Any]:
        return {"index": self.index, "justification": self.justification, "author": self.author,
                "expires": self.expires.isoformat(), "source": self.source}

    def describe(self) -> dict[str, Any]:
        return {**self.shown(), "test": self.test, "message": self.message.pattern if self.message else None}


@cache
def _schema() -> dict[str, Any]:
    return json.loads(resources.files("pytest_mes").joinpath("waivers.schema.json").read_text(encoding="utf-8"))


def load_waivers(path: Path, label: str | None = None) -> list[Waiver]:
    """Read and check a waivers file; raise ConfigError naming file:line and what to write instead."""
    require_file(path, "--mes-waivers")
    try:
        document = load_yaml(path, label)
        check_schema(document, validator_for(_schema()), what="the waivers file",
                     guide="'Waivers'")
    except EmptyFile:
        raise ConfigError(f"{label or path}:1: the file is empty: a waivers file holds 'waivers:' and a list of "
                          "waivers (see the README, 'Waivers')") from None
    except TestSetError as exc:
        raise ConfigError(str(exc)) from None
    waivers = []
    for index, item in enumerate(document.data["waivers"]):
        line = (document.source.position(("waivers", index)) or (0, 0))[0]
        where = f"{document.source.path}:{line}"
        try:
            pattern = re.compile(item["message"]) if "message" in item else None
        except re.error as exc:
            at = ":".join(map(str, document.source.position(("waivers", index, "message")) or (line,)))
            raise ConfigError(f"{document.source.path}:{at}: waivers[{index}].message: \"{item['message']}\" is "
                              f"not a valid regular expression: {exc}") from None
        waivers.append(Waiver(index, item["justification"].strip(), item["author"].strip(),
                              date.fromisoformat(item["expires"]), where, item.get("test"), pattern))
    return waivers


def loaded_test_ids(roots: Sequence[Path], start: Path) -> dict[str, str]:
    """Each test id of the test sets under `roots` (a parametrized test's cases each), with the posix path of
    its file. Each file is read as collection reads it (named relative to `start`, pytest's invocation folder)."""
    from pytest_mes.testset.loader import find_testset_files, shown_path
    from pytest_mes.testset.model import load_testset

    known: dict[str, str] = {}
    for path in find_testset_files(roots):
        try:
            testset = load_testset(path, shown_path(path, start))
        except TestSetError:
            continue  # collection reports the broken file with its line
        known.update((test.id, path.resolve().as_posix()) for test in testset.tests)
    return known


def unknown_tests(waivers: list[Waiver], known: dict[str, str]) -> dict[int, str | None]:
    """The waivers (by index) whose test no loaded test set has, each with the known test id it probably means
    (or None; for a parametrized test, its first case: a waiver names a case). A pytest node id is known
    when its test id is and its file part ends the path of that test's set."""
    meant: dict[str, str] = {}  # each id, and a parametrized test's own id, -> the id to suggest (its first case)
    for known_id in known:
        meant.setdefault(known_id.split("[")[0], known_id)
        meant.setdefault(known_id, known_id)
    unknown: dict[int, str | None] = {}
    for waiver in waivers:
        if waiver.test is None:
            continue
        file, _, test_id = waiver.test.rpartition("::")
        if test_id in known and _ends_with(known[test_id], file):
            continue
        close = closest(test_id, sorted(meant))
        unknown[waiver.index] = meant[close] if close else None
    return unknown


def _ends_with(path: str, file: str) -> bool:
    parts = PurePosixPath(file).parts
    return not parts or PurePosixPath(path).parts[-len(parts):] == parts


def apply_waivers(record: TestRecord, waivers: list[Waiver], today: date, lang: str = "fr") -> None:
    """Turn the failures that a valid waiver covers into waived ones (checks, and the test when all are); the notes
    saying so are in `lang`."""
    if record.verdict not in WAIVABLE:
        return
    covering = [w for w in waivers if w.covers_test(record)]
    record.notes += [label("waiver.expired_note", lang).format(source=w.source, date=w.expires.isoformat())
                     for w in covering if w.expired(today)]
    valid = [w for w in covering if not w.expired(today)]
    whole = next((w for w in valid if w.message is None), None)
    if whole is not None:
        record.verdict, record.waiver = "waived", whole.shown()
        return
    for check in record.failed_checks():
        errors = [g for g in check.issues if g.severity in ("error", "fatal")]
        waiver = next((w for w in valid if errors and all(w.covers_message(g.message, g.message_id)
                                                           for g in errors)), None)
        if waiver is not None:
            check.outcome, check.because = "waived", lead("waiver", lang) + waiver.justification
            record.notes.append(label("waiver.applied_note", lang).format(source=waiver.source, check=check.label))
            record.waiver = record.waiver or waiver.shown()
    if not record.failed_checks() and record.waiver is not None and not _other_failure(record):
        record.verdict = "waived"


def _other_failure(record: TestRecord) -> bool:
    """A failed step whose failure is not a check (a save rule, a 5xx without status check…)."""
    return any(s.outcome == "failed" and not any(c.outcome == "failed" for c in s.checks) and
               not any(c.outcome == "waived" for c in s.checks) for s in record.steps)


def waiver_statuses(waivers: list[Waiver], records: list[TestRecord], today: date,
                    unknown: dict[int, str | None] | None = None) -> list[dict[str, Any]]:
    """Each waiver with its status — used, unused, expired, or unknown (its test is in no loaded test set, see
    `unknown_tests`, with the test id it probably means as `suggestion`) — and the tests it covered."""
    unknown = unknown or {}
    statuses = []
    for waiver in waivers:
        matched = [r.id for r in records if r.waiver and r.waiver["index"] == waiver.index]
        if waiver.index in unknown:
            status = "unknown"
        else:
            status = "expired" if waiver.expired(today) else ("used" if matched else "unused")
        statuses.append({**waiver.describe(), "status": status, "matched": matched,
                         "suggestion": unknown.get(waiver.index)})
    return statuses
