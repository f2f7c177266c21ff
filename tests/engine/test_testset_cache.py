"""The on-disk cache of checked test sets: a hit skips parsing, schema and FHIRPath; an edit, another version of
the code, a damaged or half-written entry is a miss that gives the same test set; racing writers leave a whole
entry."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pytest_mes import fhirpath
from pytest_mes.errors import TestSetError
from pytest_mes.testset import cache, model
from pytest_mes.testset.model import load_testset

SET = """
id: cached
title: {fr: Mis en cache, en: Cached}
component: core
variables: {wanted: Patient}
tests:
  - id: CORE-C-01
    title: Lecture
    requirements: [{ref: "FHIR R4 http.html#read", level: SHALL}]
    steps:
      - request: {path: metadata}
        checks:
          - status: 200
          - fhirpath: "CapabilityStatement.rest.resource.where(type = 'Patient').exists()"
        save: {kind: {fhirpath: "CapabilityStatement.kind"}}
      - request: {path: "{{wanted}}"}
        checks:
          - fhirpath: {expression: "Bundle.total", op: ">=", value: 0}
"""


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MES_CACHE_DIR", str(tmp_path / "mes-cache"))
    monkeypatch.delenv("MES_TESTSET_CACHE", raising=False)
    return tmp_path / "mes-cache" / "testsets"


def shape(testset) -> list:
    """What a test set says, down to the lines its messages point at."""
    return [testset.id, testset.title, testset.variables, testset.label,
            [(t.id, t.line, [(s.name, s.line, s.end_line, s.request.path, [(c.kind, c.spec, c.line) for c in s.checks],
                              s.save) for s in t.steps]) for t in testset.tests]]


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def forbid_checking(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make parsing, the schema check and FHIRPath parsing fail: only a cache hit can load a set."""
    def refused(*args, **kwargs):
        raise AssertionError("checked again despite the cache")

    monkeypatch.setattr(model, "parse_yaml", refused)
    monkeypatch.setattr(model, "check_schema", refused)
    monkeypatch.setattr(fhirpath, "_parsed", refused)
    monkeypatch.setattr(fhirpath, "_REMEMBERED", {})


def test_a_hit_gives_the_same_set_without_parsing_checking_or_compiling(write_set, cache_dir, monkeypatch):
    path = write_set(SET)
    first = load_testset(path, "sets/set.yaml")
    assert len(entries(cache_dir)) == 1
    forbid_checking(monkeypatch)
    again = load_testset(path, "elsewhere/set.yaml")  # the label is the caller's, not the cache's
    assert shape(again)[1:3] == shape(first)[1:3] and shape(again)[4] == shape(first)[4]
    assert again.label == "elsewhere/set.yaml" and again.text == first.text
    # The remembered syntax trees evaluate: the set's checks can run.
    statement = {"resourceType": "CapabilityStatement", "kind": "instance"}
    assert fhirpath.evaluate(statement, "CapabilityStatement.kind") == ["instance"]


def test_an_edited_set_is_a_miss_and_is_read_as_edited(write_set, cache_dir):
    path = write_set(SET)
    load_testset(path)
    path.write_text(path.read_text(encoding="utf-8").replace("title: Lecture", "title: Lecture modifiée"),
                    encoding="utf-8")
    assert load_testset(path).tests[0].title.fr == "Lecture modifiée"
    assert len(entries(cache_dir)) == 2


def test_a_set_with_errors_gets_no_entry_and_keeps_failing(write_set, cache_dir):
    path = write_set(SET.replace("        checks:\n          - status", "        chekcs:\n          - status"))
    for _ in range(2):
        with pytest.raises(TestSetError, match="unknown key 'chekcs'"):
            load_testset(path)
    assert entries(cache_dir) == []


@pytest.mark.parametrize("damage", [
    lambda raw: raw[: len(raw) // 2],  # half written
    lambda raw: b"not json at all",
    lambda raw: raw.replace(b'"CORE-C-01"', b'"CORE-X-99"'),  # changed after it was written
    lambda raw: _signed(b'{"data": {"id": "x"}, "nodes": [["id", 1, 1, 1]], "fhirpath": {}}'),  # wrong shape
    lambda raw: _signed(b'{"data": [], "nodes": [], "fhirpath": {}}'),
    lambda raw: b"",
], ids=["truncated", "garbage", "tampered", "wrong-node-shape", "not-a-mapping", "empty"])
def test_a_damaged_entry_is_ignored_and_written_again(write_set, cache_dir, damage):
    path = write_set(SET)
    expected = shape(load_testset(path))
    [entry] = entries(cache_dir)
    entry.write_bytes(damage(entry.read_bytes()))
    assert shape(load_testset(path)) == expected
    assert cache.lookup(path.read_text(encoding="utf-8")) is not None  # rewritten whole


def _signed(body: bytes) -> bytes:
    return hashlib.sha256(body).hexdigest().encode("ascii") + b"\n" + body


def test_another_version_of_the_code_does_not_read_old_entries(write_set, cache_dir, monkeypatch):
    path = write_set(SET)
    load_testset(path)
    text = path.read_text(encoding="utf-8")
    assert cache.lookup(text) is not None
    monkeypatch.setattr(cache, "FORMAT", cache.FORMAT + 1)
    assert cache.lookup(text) is None
    load_testset(path)
    assert len(entries(cache_dir)) == 2  # one per version; the old one is pruned in time
    monkeypatch.setattr(cache, "_code_fingerprint", lambda: "another release")
    assert cache.lookup(text) is None


def test_the_cache_can_be_turned_off(write_set, cache_dir, monkeypatch):
    monkeypatch.setenv("MES_TESTSET_CACHE", "0")
    path = write_set(SET)
    load_testset(path)
    assert entries(cache_dir) == []


def test_an_unwritable_cache_only_costs_time(write_set, tmp_path, monkeypatch):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache folder would be")
    monkeypatch.setenv("MES_CACHE_DIR", str(blocker / "cache"))
    path = write_set(SET)
    assert load_testset(path).tests[0].id == load_testset(path).tests[0].id == "CORE-C-01"


def test_yaml_that_json_cannot_carry_unchanged_is_not_cached(write_set, cache_dir):
    path = write_set(SET.replace("{path: metadata}", "{path: metadata, body: {resourceType: Basic, 1: one}}")
                     .replace("path: metadata", "method: POST, path: Basic"))
    first = load_testset(path)
    assert first.tests[0].steps[0].request.body == {"resourceType": "Basic", 1: "one"}
    assert entries(cache_dir) == []  # its key 1 would come back as "1"
    assert load_testset(path).tests[0].steps[0].request.body == {"resourceType": "Basic", 1: "one"}


def test_old_entries_are_removed_beyond_the_limit(write_set, cache_dir, monkeypatch):
    monkeypatch.setattr(cache, "KEPT_ENTRIES", 2)
    for n in range(4):
        load_testset(write_set(SET.replace("id: cached", f"id: cached{n}"), f"set{n}.yaml"))
        time.sleep(0.01)  # distinct modification times
    kept = entries(cache_dir)
    assert len(kept) == 2
    newest = [cache.lookup((cache_dir.parent.parent / "sets" / f"set{n}.yaml").read_text(encoding="utf-8"))
              for n in (2, 3)]
    assert all(entry is not None for entry in newest)


WRITER = """
import sys
from pathlib import Path
from pytest_mes.testset import cache
from pytest_mes.testset.model import load_testset
path = Path(sys.argv[1])
for _ in range(int(sys.argv[2])):
    cache._entry_path(path.read_text(encoding="utf-8")).unlink(missing_ok=True)  # a miss every time: a write
    load_testset(path)
"""


def test_processes_racing_to_write_one_entry_leave_it_whole(write_set, cache_dir, tmp_path):
    path = write_set(SET)
    text = path.read_text(encoding="utf-8")
    entry = cache._entry_path(text)
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(WRITER), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2]), *sys.path])}
    writers = [subprocess.Popen([sys.executable, str(script), str(path), "40"], env=env) for _ in range(3)]
    seen = 0
    while any(writer.poll() is None for writer in writers):
        try:
            raw = entry.read_bytes()
        except FileNotFoundError:
            continue
        digest, _, body = raw.partition(b"\n")
        assert digest.decode() == hashlib.sha256(body).hexdigest(), "a reader saw a half-written entry"
        seen += 1
    assert [writer.returncode for writer in writers] == [0, 0, 0]
    assert seen > 0
    assert cache.lookup(text) is not None
    assert [p.name for p in cache_dir.iterdir() if p.suffix != ".json"] == []  # no temporary file left


def test_a_process_that_finds_its_sets_in_the_cache_imports_no_schema_or_fhirpath_engine(write_set, tmp_path):
    path = write_set(SET)
    load_testset(path)  # the entry
    script = ("import sys; from pathlib import Path; from pytest_mes.testset.model import load_testset; "
              f"load_testset(Path({str(path)!r})); print(sorted({{'jsonschema', 'fhirpathpy'}} & set(sys.modules)))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2]), *sys.path])}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_checked_data_reads_a_hit_without_parsing_and_parses_a_miss(write_set, cache_dir, monkeypatch):
    """What xdist's controller reads to schedule (a set's setup and teardown): the workers' entry when there is one."""
    path = write_set(SET)
    parsed = cache.checked_data(path)  # a miss: parsed
    assert parsed["variables"] == {"wanted": "Patient"} and not entries(cache_dir)
    load_testset(path)  # a worker's collection writes the entry
    monkeypatch.setattr(cache, "parse_yaml", lambda *args: pytest.fail("parsed again despite the cache"))
    assert cache.checked_data(path) == parsed
