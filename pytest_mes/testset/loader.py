"""Read a YAML test-set file, keeping where every key and item stands in the file."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from pytest_mes.errors import TestSetError

JsonPath = tuple[str | int, ...]


@dataclass(frozen=True)
class SourceMap:
    """Line and column (1-based) of each node of a document, by its path of keys and indexes."""

    path: str
    positions: dict[JsonPath, tuple[int, int]] = field(default_factory=dict)
    end_lines: dict[JsonPath, int] = field(default_factory=dict)

    def position(self, json_path: JsonPath) -> tuple[int, int] | None:
        """Position of `json_path`, or of its nearest ancestor that has one."""
        for size in range(len(json_path), -1, -1):
            found = self.positions.get(tuple(json_path[:size]))
            if found:
                return found
        return None

    def line_range(self, json_path: JsonPath) -> tuple[int, int] | None:
        start = self.positions.get(json_path)
        if start is None:
            return None
        return start[0], self.end_lines.get(json_path, start[0])


@dataclass(frozen=True)
class LoadedDocument:
    data: Any
    source: SourceMap
    text: str


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser when PyYAML has it: 5x faster
    """YAML with the values a FHIR test author means: 1970-01-01 stays a string (FHIR dates are strings),
    0612345670 stays a phone number, and only true/false are booleans (not yes/no/on/off)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int",
                           "tag:yaml.org,2002:float")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))
_Loader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"),
                              list("-+0123456789"))
_Loader.add_implicit_resolver("tag:yaml.org,2002:float",
                              re.compile(r"^[-+]?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?$"),
                              list("-+0123456789"))


def find_testset_files(roots: Iterable[Path]) -> Iterator[Path]:
    """The YAML test-set files under `roots`, as collection finds them (names starting with _ left out), in a
    stable order."""
    for root in roots:
        candidates = [root] if root.is_file() else sorted(root.rglob("*.y*ml")) if root.is_dir() else []
        yield from (p for p in candidates if p.suffix in (".yaml", ".yml") and not p.name.startswith("_"))


def no_testset_at(root: Path) -> str | None:
    """Why `root`, given as test sets, holds none to run, or None: else a run or a coverage matrix of nothing,
    without saying why."""
    if not root.exists():
        return "no such file or folder"
    if any(find_testset_files([root])):
        return None
    return "no test set (.yaml, .yml) in this folder" if root.is_dir() else "not a test set (a .yaml or .yml file)"


def shown_path(path: Path, start: Path) -> str:
    """How messages name a test-set file: relative to where pytest was started (`start`)."""
    return os.path.relpath(path, start)


class EmptyFile(TestSetError):
    """A YAML file with no document: its reader says what it should hold."""


def load_yaml(path: Path, label: str | None = None) -> LoadedDocument:
    """Parse one YAML document; raise TestSetError with file:line:column (file shown as `label`) on any problem.

    The same text read again under the same label in this process is not parsed again (see parse_yaml):
    callers only read the document.
    """
    where = label or str(path)
    return parse_yaml(read_text(path, where), where)


def read_text(path: Path, where: str) -> str:
    """The file's text; TestSetError (naming it as `where`) when it cannot be read as UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise TestSetError(f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})", path=where) from None
    except OSError as exc:
        raise TestSetError(f"cannot read the file: {exc.strerror}", path=where) from None


@lru_cache(maxsize=256)
def parse_yaml(text: str, where: str) -> LoadedDocument:
    """Parse the YAML `text` of the file shown as `where`, keeping the position of every node."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise EmptyFile("the file is empty: a test set needs at least id, title, component and tests",
                            path=where, line=1)
        source = SourceMap(where)
        _index(node, (), source, _Walk(where, _expansion_limit(text)))
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "invalid YAML"
        if exc.context:
            problem = f"{problem} ({exc.context})"
        if "expected a single document" in str(exc):
            problem = "a test-set file holds one YAML document; remove the extra '---' separators"
        raise TestSetError(f"invalid YAML: {problem}", path=where,
                           line=mark.line + 1 if mark else None,
                           column=mark.column + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise TestSetError(f"invalid YAML: {exc}", path=where) from None
    except RecursionError:
        raise TestSetError("invalid YAML: an alias refers to itself (recursive anchor)", path=where) from None
    finally:
        loader.dispose()
    return LoadedDocument(data=data, source=source, text=text)


def _expansion_limit(text: str) -> int:
    """How many values a document may hold once its aliases are expanded: far more than any test set written by
    hand or generated (the bundled ones hold under 2,000), far fewer than anchors nested in anchors reach."""
    return max(100_000, 20 * len(text))


class _Walk:
    """One walk of a document's nodes: the file it is, the values met so far against the limit, and each node's
    last line once known (an aliased node is met once per alias)."""

    def __init__(self, where: str, limit: int) -> None:
        self.where, self.limit, self.met = where, limit, 0
        self.last_lines: dict[int, int] = {}

    def meet(self, node: yaml.Node) -> None:
        self.met += 1
        if self.met > self.limit:
            raise TestSetError(f"invalid YAML: its aliases (*name) expand to more than {self.limit:,} values — "
                               "anchors nested in anchors multiply; write the repeated parts out, or nest fewer "
                               "aliases", path=self.where, line=node.start_mark.line + 1,
                               column=node.start_mark.column + 1)

    def last_line(self, node: yaml.Node) -> int:
        """Last line (1-based) holding part of `node`; a block node's own end mark lies on the next token."""
        known = self.last_lines.get(id(node))
        if known is None:
            if node.id == "scalar" or getattr(node, "flow_style", False) or not node.value:
                end = node.end_mark
                known = end.line if end.column == 0 and end.line > node.start_mark.line else end.line + 1
            else:
                children = [value for pair in node.value for value in pair] if node.id == "mapping" else node.value
                known = max(self.last_line(child) for child in children)
            self.last_lines[id(node)] = known
        return known


def _index(node: yaml.Node, json_path: JsonPath, source: SourceMap, walk: _Walk) -> None:
    """Record positions of `node` and its children; reject duplicate keys, which YAML would silently merge."""
    walk.meet(node)
    where = walk.where
    source.positions[json_path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    source.end_lines[json_path] = walk.last_line(node)
    # Node kinds by their `id`, not isinstance: libyaml's parser builds nodes from the classes of the yaml module
    # it first saw, which an in-process re-import (pytester) replaces.
    if node.id == "mapping":
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if key_node.id == "scalar" else repr(key_node.value)
            if key == "<<":  # merge key: its children land under the mapping's own keys
                continue
            line = key_node.start_mark.line + 1
            if key in seen:
                raise TestSetError(f"duplicate key '{key}' (first at line {seen[key]}): keep only one",
                                   path=where, line=line, column=key_node.start_mark.column + 1)
            seen[key] = line
            _index(value_node, (*json_path, key), source, walk)
            # Point at the key rather than its value: that is where a user looks.
            source.positions[(*json_path, key)] = (line, key_node.start_mark.column + 1)
    elif node.id == "sequence":
        for index, item in enumerate(node.value):
            _index(item, (*json_path, index), source, walk)
