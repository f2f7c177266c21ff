"""The requirement coverage matrix: each item of the IGs' server CapabilityStatements (read from the FHIR
packages) and each flow / transaction, with the tests that cover it.

`Catalogue` lists the items and checks a test's `capability` references against them (at load, with a
"did you mean"); `coverage_matrix(testsets, store)` is the data `mes coverage` prints and the acceptance
file renders.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_mes.errors import MesError
from pytest_mes.flows import FLOWS
from pytest_mes.testset.loader import find_testset_files, no_testset_at
from pytest_mes.testset.model import SYSTEM_INTERACTIONS, Covers, TestSet, load_testset
from pytest_mes.testset.schema import suggest

if TYPE_CHECKING:
    from pytest_mes.fhir.store import PackageStore

SERVER_STATEMENTS = (
    "https://interop.esante.gouv.fr/ig/fhir/gap/CapabilityStatement/GAP-GestionnaireAgenda",
    "https://interop.esante.gouv.fr/ig/fhir/gap/CapabilityStatement/GAP-GestionnaireRessources",
    "https://interop.esante.gouv.fr/ig/fhir/pdsm/CapabilityStatement/PDSm-GestionnaireDePartageDeDocuments",
)
# CapabilityStatement.rest.resource flags → the conditional interaction they declare.
_CONDITIONAL_FLAGS = {"conditionalCreate": "create", "conditionalUpdate": "update",
                      "conditionalDelete": "delete", "conditionalRead": "read"}
_NOT_SUPPORTED = (None, False, "not-supported")


@dataclass(frozen=True)
class Item:
    """One requirement of a server CapabilityStatement: an interaction, a search parameter or a conditional
    interaction, on a resource (or the whole server for `transaction`)."""

    actor: str
    resource: str | None
    kind: str  # interaction, search, conditional
    name: str  # the interaction code, the searchParam name as the statement writes it, or the conditional one
    code: str | None = None  # a search parameter's wire code (GAP_Slot_earliestStart → start)

    @property
    def label(self) -> str:
        what = {"interaction": self.name, "conditional": f"conditional {self.name}",
                "search": f"search {self.name}" + (f" ({self.code})" if self.code and self.code != self.name else "")}
        return f"{self.actor} {self.resource or 'system'}: {what[self.kind]}"

    def as_dict(self) -> dict[str, Any]:
        return {"actor": self.actor, "resource": self.resource, "kind": self.kind, "name": self.name,
                "code": self.code, "label": self.label}


class Catalogue:
    """The items of the server CapabilityStatements; checks `capability` references against them."""

    def __init__(self, items: Sequence[Item], statements: dict[str, str], missing: Sequence[str] = ()):
        self.items = tuple(items)
        self.statements = statements  # actor (statement id) → canonical URL
        self.missing = tuple(missing)  # canonical URLs not found in the packages

    @classmethod
    def from_store(cls, store: PackageStore) -> Catalogue:
        items: list[Item] = []
        statements: dict[str, str] = {}
        missing = []
        for url in SERVER_STATEMENTS:
            statement = store.resolve(url, resource_type="CapabilityStatement")
            if statement is None:
                missing.append(url)
                continue
            statements[statement["id"]] = url
            items.extend(_items(statement, store))
        return cls(items, statements, missing)

    def matching(self, covers: Covers) -> list[Item]:
        """The items a reference covers (a wire code covers every parameter declared with it)."""
        return [item for item in self.items if item.actor == covers.actor and item.resource == covers.resource
                and _same(item, covers)]

    def problem(self, covers: Covers) -> str | None:
        """Why `covers` names nothing in the statements (with a "did you mean"), or None."""
        if any(url.endswith(f"/{covers.actor}") for url in self.missing):
            return None  # its package is not loaded: nothing to check against
        if covers.actor not in self.statements:
            return _unknown("actor", covers.actor, list(self.statements))
        of_actor = [item for item in self.items if item.actor == covers.actor]
        resources = sorted({item.resource for item in of_actor if item.resource})
        if covers.resource and covers.resource not in resources:
            return _unknown("resource", covers.resource, resources, f" in {covers.actor}")
        if self.matching(covers):
            return None
        kind = next(k for k in ("interaction", "search", "conditional") if getattr(covers, k))
        on = [item for item in of_actor if item.resource == covers.resource and item.kind == kind]
        names = sorted({n for item in on for n in (item.name, item.code) if n})
        where = f"{covers.resource} in {covers.actor}" if covers.resource else f"{covers.actor} (system level)"
        words = {"interaction": "interaction", "search": "search parameter", "conditional": "conditional interaction"}
        return _unknown(words[kind], getattr(covers, kind), names, f" on {where}")


class LazyCatalogue:
    """A Catalogue loaded on the first reference it checks, so that sets without any pay nothing."""

    def __init__(self, load: Callable[[], Catalogue | None]):
        self._load = load

    @cached_property
    def loaded(self) -> Catalogue | None:
        return self._load()

    def problem(self, covers: Covers) -> str | None:
        return self.loaded.problem(covers) if self.loaded else None


def _unknown(what: str, value: str, known: list[str], where: str = "") -> str:
    return f"unknown {what} '{value}'{where}{suggest(value, known)}; declared: {', '.join(known) or 'none'}"


def _same(item: Item, covers: Covers) -> bool:
    if item.kind == "search":
        # A chained or modified parameter (patient.identifier, description:exact) is declared by its first name.
        first = re.split(r"[.:]", covers.search or "")[0]
        return covers.search == item.name or first in (item.name, item.code)
    return getattr(covers, item.kind) == item.name


def _items(statement: dict[str, Any], store: PackageStore) -> Iterable[Item]:
    actor = statement["id"]
    for rest in statement.get("rest", []):
        if rest.get("mode") != "server":
            continue
        for interaction in rest.get("interaction", []):
            if interaction.get("code") in SYSTEM_INTERACTIONS:
                yield Item(actor, None, "interaction", interaction["code"])
        for resource in rest.get("resource", []):
            kind = resource.get("type")
            for interaction in resource.get("interaction", []):
                yield Item(actor, kind, "interaction", interaction.get("code"))
            for flag, name in _CONDITIONAL_FLAGS.items():
                if resource.get(flag) not in _NOT_SUPPORTED:
                    yield Item(actor, kind, "conditional", name)
            for param in resource.get("searchParam", []):
                yield Item(actor, kind, "search", param.get("name"), _wire_code(param, store))


def _wire_code(param: dict[str, Any], store: PackageStore) -> str | None:
    """The code a client sends: the SearchParameter's own `code` when the packages hold it; otherwise read from
    its canonical's tail (…/List-DesignationType → designationType, …#clinical-patient → patient)."""
    definition = param.get("definition") or ""
    found = store.resolve(definition, resource_type="SearchParameter") if definition else None
    if found and found.get("code"):
        return found["code"]
    tail = re.split(r"[/#]", definition)[-1] if definition else ""
    if "-" not in tail:
        return param.get("name")
    code = tail.split("-", 1)[1]
    return code[:1].lower() + code[1:]


def coverage_matrix(testsets: Iterable[TestSet], store: PackageStore | Catalogue) -> dict[str, Any]:
    """Each server item and each flow → the ids of the tests that cover it; the uncovered ones; a summary.

    JSON-ready: {"statements": [{actor, url, found}], "items": [{actor, resource, kind, name, code, label,
    tests}], "flows": [{id, actor, title, url, tests}], "uncovered": {"items": [label], "flows": [id]},
    "summary": {items, items_covered, flows, flows_covered}}.
    """
    catalogue = store if isinstance(store, Catalogue) else Catalogue.from_store(store)
    by_item: dict[Item, list[str]] = {item: [] for item in catalogue.items}
    by_flow: dict[str, list[str]] = {flow.id: [] for flow in FLOWS}
    for testset in testsets:
        for test in testset.tests:
            for requirement in test.requirements:
                for flow in requirement.flows:
                    if test.id not in by_flow[flow]:
                        by_flow[flow].append(test.id)
                for covers in requirement.covers:
                    for item in catalogue.matching(covers):
                        if test.id not in by_item[item]:
                            by_item[item].append(test.id)
    items = [{**item.as_dict(), "tests": tests} for item, tests in by_item.items()]
    flows = [{"id": f.id, "actor": f.actor, "title": f.title, "url": f.url, "tests": by_flow[f.id]} for f in FLOWS]
    found = [{"actor": actor, "url": url, "found": True} for actor, url in catalogue.statements.items()]
    return {
        "statements": found + [{"actor": url.rsplit("/", 1)[-1], "url": url, "found": False}
                               for url in catalogue.missing],
        "items": items,
        "flows": flows,
        "uncovered": {"items": [i["label"] for i in items if not i["tests"]],
                      "flows": [f["id"] for f in flows if not f["tests"]]},
        "summary": {"items": len(items), "items_covered": sum(1 for i in items if i["tests"]),
                    "flows": len(flows), "flows_covered": sum(1 for f in flows if f["tests"])},
    }


def load_testsets(roots: Iterable[Path], catalogue: Catalogue | None = None) -> list[TestSet]:
    """Every test set under `roots`, as collection finds them, in a stable order."""
    return [load_testset(path, catalogue=catalogue) for path in find_testset_files(roots)]


# ---- rendering -----------------------------------------------------------------------------------

def render_text(matrix: dict[str, Any]) -> str:
    lines = []
    for item in matrix["items"]:
        lines.append(f"{'✓' if item['tests'] else '✗'} {item['label']}: {', '.join(_short_ids(item['tests'])) or '—'}")
    for flow in matrix["flows"]:
        lines.append(f"{'✓' if flow['tests'] else '✗'} {flow['id']} {flow['title']}: "
                     f"{', '.join(_short_ids(flow['tests'])) or '—'}")
    for statement in matrix["statements"]:
        if not statement["found"]:
            lines.append(f"? {statement['url']}: not found in the FHIR packages (its items are not listed)")
    lines.append(_summary(matrix))
    return "\n".join(lines)


def render_markdown(matrix: dict[str, Any]) -> str:
    """The README's coverage table (generated: scripts/update_readme_coverage.py)."""
    lines = [_summary(matrix) + ".", "", "| actor | resource | requirement | tests |", "|---|---|---|---|"]
    for item in matrix["items"]:
        what = {"interaction": item["name"], "conditional": f"conditional {item['name']}",
                "search": f"search `{item['code'] or item['name']}`"
                + (f" ({item['name']})" if item["code"] and item["code"] != item["name"] else "")}[item["kind"]]
        tests = ", ".join(_short_ids(item["tests"], counted=True)) or "**none**"
        lines.append(f"| {item['actor']} | {item['resource'] or '(system)'} | {what} | {tests} |")
    lines += ["", "| flow / transaction | title | tests |", "|---|---|---|"]
    for flow in matrix["flows"]:
        tests = ", ".join(_short_ids(flow["tests"], counted=True)) or "**none**"
        lines.append(f"| {flow['id']} | {flow['title']} | {tests} |")
    return "\n".join(lines)


README_BEGIN = "<!-- coverage table: generated by scripts/update_readme_coverage.py, do not edit -->"
README_END = "<!-- end of coverage table -->"


def with_readme_table(readme: str, matrix: dict[str, Any]) -> str:
    """`readme` with the text between its coverage-table markers replaced by the table of `matrix`."""
    start, end = readme.find(README_BEGIN), readme.find(README_END)
    if start < 0 or end < start:
        raise MesError(f"the README has no coverage table markers ({README_BEGIN} … {README_END})")
    return readme[:start + len(README_BEGIN)] + "\n" + render_markdown(matrix) + "\n" + readme[end:]


def _short_ids(test_ids: list[str], counted: bool = False) -> list[str]:
    """Test ids with the cases of one parametrized test folded: GAP-X-01[a], GAP-X-01[b] → GAP-X-01[a, b]
    (or, `counted`, GAP-X-01 (2 cases))."""
    folded: dict[str, list[str]] = {}
    for test_id in test_ids:
        base, _, case = test_id.partition("[")
        folded.setdefault(base, [])
        if case:
            folded[base].append(case.rstrip("]"))
    if counted:
        return [f"{base} ({len(cases)} case{'s' if len(cases) > 1 else ''})" if cases else base
                for base, cases in folded.items()]
    return [f"{base}[{', '.join(cases)}]" if cases else base for base, cases in folded.items()]


def _summary(matrix: dict[str, Any]) -> str:
    s = matrix["summary"]
    return (f"{s['items_covered']}/{s['items']} server requirements covered, "
            f"{s['flows_covered']}/{s['flows']} flows and transactions covered")


# ---- mes coverage --------------------------------------------------------------------------------

def register(subparsers: Any) -> None:
    from pytest_mes.fhir.commands import package_options

    parser = subparsers.add_parser(
        "coverage", parents=[package_options()],
        help="which tests cover each item of the server CapabilityStatements and each flow",
        description="The requirement coverage matrix of the test sets. Exit 0: every server item is covered; "
                    "1: some are not; 2: could not run (malformed test set, no FHIR packages).",
    )
    parser.add_argument("--format", choices=("text", "json", "markdown"), default="text", help="output format")
    parser.add_argument("--testsets", action="append", default=[], metavar="PATH",
                        help="folder or file of test sets (repeatable); default: the bundled sets")
    parser.set_defaults(func=run_coverage)


def run_coverage(args: argparse.Namespace) -> int:
    from pytest_mes.fhir.commands import package_sources
    from pytest_mes.fhir.store import PackageStore
    from pytest_mes.resources import bundled_dir

    roots = [Path(p) for p in args.testsets] or [bundled_dir("testsets")]
    for root in roots:
        problem = no_testset_at(root)
        if problem:
            print(f"mes coverage: --testsets {root}: {problem}", file=sys.stderr)
            return 2
    try:  # the packages' own missing dependencies do not matter here: they are not printed
        store = PackageStore.load(package_sources(args), offline=args.offline, cache_dir=args.cache_dir,
                                  registry_url=args.registry)
        for problem in store.problems:  # what could not be read: a --packages typo, a damaged .tgz
            print(f"mes coverage: warning: {problem}", file=sys.stderr)
        catalogue = Catalogue.from_store(store)
        testsets = load_testsets(roots, catalogue)
    except MesError as exc:
        print(f"mes coverage: {exc}", file=sys.stderr)
        return 2
    matrix = coverage_matrix(testsets, catalogue)
    if args.format == "json":
        print(json.dumps(matrix, ensure_ascii=False, indent=2))
    else:
        print(render_markdown(matrix) if args.format == "markdown" else render_text(matrix))
    return 1 if matrix["uncovered"]["items"] or catalogue.missing else 0
