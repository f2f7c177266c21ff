"""An on-disk cache of checked test sets, so that a set whose text has not changed is not parsed, checked against
the schema and its FHIRPath compiled again by every pytest process (each xdist worker, the controller writing the
report, the next run, a CI job).

An entry holds what those steps produce: the YAML data, the line and column of each of its nodes, and the
syntax tree of each FHIRPath expression of the set. It lives in ``<MES_CACHE_DIR>/testsets/`` (by default
``~/.cache/pytest-mes/testsets/``), named by the sha256 of the file's text and of the code that made it (the
loader, the schema, the FHIRPath front end and the versions of the libraries behind them): an edited set, or
another version of pytest-mes, reads no stale entry. Only a set that passed every check gets an entry.

Entries are written whole (a temporary file renamed over the entry), so that a process racing another reads
either none or a complete one; each carries the sha256 of its content, and one that does not match, does not
parse, or is not of the expected shape is ignored and written again: a damaged cache costs time, never a verdict.
``MES_TESTSET_CACHE=0`` turns the cache off; deleting the folder clears it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from pytest_mes.environment import is_true
from pytest_mes.fhir.cache import dumps, index_cache_dir, loads
from pytest_mes.report.files import write_atomic
from pytest_mes.testset.loader import LoadedDocument, SourceMap, parse_yaml, read_text

FORMAT = 1  # bump when an entry's layout changes
KEPT_ENTRIES = 400  # beyond, the oldest entries are removed when one is written
_CODE = ("testset/loader.py", "testset/schema.py", "testset/testset.schema.json", "fhirpath.py",
         "testset/cache.py")  # the code that makes an entry, under pytest_mes/


@dataclass(frozen=True)
class CheckedSet:
    """A test set's text as loaded and checked by an earlier process."""

    data: dict[str, Any]
    nodes: list[list[Any]]  # [json path, line, column, end line] of each node
    fhirpath: dict[str, dict]  # expression -> syntax tree

    def document(self, text: str, where: str) -> LoadedDocument:
        source = SourceMap(where)
        for json_path, line, column, end_line in self.nodes:
            key = tuple(json_path)
            source.positions[key] = (line, column)
            source.end_lines[key] = end_line
        return LoadedDocument(data=self.data, source=source, text=text)


def enabled() -> bool:
    value = os.environ.get("MES_TESTSET_CACHE", "").strip()
    return not value or is_true(value)


def lookup(text: str) -> CheckedSet | None:
    """The entry for this text, or None (no entry, cache off, or an entry that cannot be trusted)."""
    if not enabled():
        return None
    try:
        raw = _entry_path(text).read_bytes()
    except OSError:
        return None
    digest, _, body = raw.partition(b"\n")
    if digest.decode("ascii", "replace") != hashlib.sha256(body).hexdigest():
        return None  # truncated, damaged, or not written by us
    try:
        content = loads(body)
        checked = CheckedSet(content["data"], content["nodes"], content["fhirpath"])
    except (ValueError, TypeError, KeyError):
        return None
    return checked if _well_formed(checked) else None


def checked_data(path: Path, where: str | None = None) -> Any:
    """The YAML data of the file (shown as `where`): from its entry when an earlier process checked this text
    (each xdist worker has, before the controller schedules), else parsed. TestSetError when it cannot be read
    or parsed."""
    where = where or str(path)
    text = read_text(path, where)
    checked = lookup(text)
    return checked.data if checked is not None else parse_yaml(text, where).data


def store(text: str, document: LoadedDocument, fhirpath: dict[str, dict]) -> None:
    """Keep what checking `text` produced (best effort: a cache that cannot be written is only slower)."""
    if not enabled():
        return
    nodes = [[list(path), *position, document.source.end_lines.get(path, position[0])]
             for path, position in document.source.positions.items()]
    try:
        body = dumps({"data": document.data, "nodes": nodes, "fhirpath": fhirpath})
        if loads(body)["data"] != document.data:
            return  # YAML that JSON cannot carry unchanged (keys that are not strings, NaN): not cached
    except (TypeError, ValueError, OverflowError):
        return
    path = _entry_path(text)
    try:
        write_atomic(path, hashlib.sha256(body).hexdigest().encode("ascii") + b"\n" + body)
        _prune(path.parent)
    except OSError:
        return


def folder() -> Path:
    return index_cache_dir() / "testsets"


def _entry_path(text: str) -> Path:
    key = hashlib.sha256(f"{FORMAT}|{_code_fingerprint()}|".encode() + text.encode("utf-8")).hexdigest()
    return folder() / f"{key}.json"


@cache
def _code_fingerprint() -> str:
    """Changes with the code and the libraries whose output an entry holds."""
    import yaml

    from pytest_mes import __version__

    digest = hashlib.sha256(f"{__version__}|{yaml.__version__}|{_installed('jsonschema')}|"
                            f"{_installed('fhirpathpy')}".encode())
    package = Path(__file__).parent.parent
    for name in _CODE:
        digest.update((package / name).read_bytes())
    return digest.hexdigest()


def _installed(module: str) -> int:
    """When `module` was installed: it stands for its version, which only its metadata (slow to read) or an
    import (which a cache hit must not need) would tell."""
    spec = find_spec(module)
    return Path(spec.origin).stat().st_mtime_ns if spec is not None and spec.origin else 0


def _well_formed(checked: CheckedSet) -> bool:
    return (isinstance(checked.data, dict) and isinstance(checked.fhirpath, dict)
            and all(isinstance(tree, dict) for tree in checked.fhirpath.values())
            and isinstance(checked.nodes, list)
            and all(isinstance(node, list) and len(node) == 4 and isinstance(node[0], list)
                    and all(isinstance(n, int) for n in node[1:]) for node in checked.nodes))


def _prune(entries: Path) -> None:
    """Keep the folder small: sets are edited, and each version of a set got its own entry."""
    found = sorted(entries.glob("*.json"), key=lambda p: p.stat().st_mtime)
    for stale in found[:max(0, len(found) - KEPT_ENTRIES)]:
        stale.unlink(missing_ok=True)
