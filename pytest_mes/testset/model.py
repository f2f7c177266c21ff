"""The test-set model: frozen dataclasses built from a schema-valid YAML document."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from pytest_mes.errors import TestSetError
from pytest_mes.flows import FLOW_IDS
from pytest_mes.report.labels import label
from pytest_mes.testset.loader import JsonPath, LoadedDocument, parse_yaml, read_text
from pytest_mes.testset.schema import check_schema, suggest
from pytest_mes.testset.templating import fill
from pytest_mes.testset.variables import check_placeholders

CHECK_KINDS = ("status", "header", "content_type", "resource_type", "bundle", "fhirpath", "max_time_ms",
               "conforms_to")
READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SYSTEM_INTERACTIONS = frozenset({"transaction", "batch", "search-system", "history-system"})
LEVELS = ("SHALL", "SHOULD", "MAY")


@dataclass(frozen=True)
class Text:
    """A text in French, with an optional English version."""

    fr: str
    en: str | None = None

    @classmethod
    def of(cls, value: str | dict[str, str] | None) -> Text | None:
        if value is None:
            return None
        if isinstance(value, str):
            return cls(value)
        return cls(value["fr"], value.get("en"))

    def get(self, lang: str = "fr") -> str:
        return self.en if lang == "en" and self.en else self.fr


@dataclass(frozen=True)
class NeedsData:
    """What server data a step reads (`needs_data:`): how to provide it, and how many results its search must hold
    for its checks to test anything (an `.all(…)` over no match holds; paging needs a second match). Data inside
    the matches (a specialty no slot has to carry) is named by a FHIRPath on the answer, which must find at least
    `min_found` values: an `.all(…)` over those holds of none too."""

    advice: Text
    min_matches: int = 1
    fhirpath: str | None = None
    min_found: int = 1

    @classmethod
    def of(cls, value: str | dict[str, Any]) -> NeedsData:
        if isinstance(value, str):
            return cls(Text(value))
        return cls(Text(value["fr"], value.get("en")), value.get("min_matches", 1), value.get("fhirpath"),
                   value.get("min_found", 1))


@dataclass(frozen=True)
class Covers:
    """A checked reference to one item of a server CapabilityStatement of the IGs: an interaction, a search
    parameter (by wire code or by its name in the statement) or a conditional interaction."""

    actor: str
    resource: str | None = None
    interaction: str | None = None
    search: str | None = None
    conditional: str | None = None

    def shape_problem(self) -> str | None:
        kinds = [kind for kind in ("interaction", "search", "conditional") if getattr(self, kind)]
        if len(kinds) != 1:
            return f"name exactly one of interaction, search, conditional (found {', '.join(kinds) or 'none'})"
        system_level = self.interaction in SYSTEM_INTERACTIONS
        if not self.resource and not system_level:
            return f"{kinds[0]} belongs to a resource: add 'resource: <Type>'"
        return None


class CapabilityCatalogue(Protocol):
    """The server CapabilityStatements a `Covers` is checked against (see pytest_mes.coverage)."""

    def problem(self, covers: Covers) -> str | None: ...


@dataclass(frozen=True)
class Requirement:
    ref: str
    level: str
    url: str | None = None
    transaction: str | None = None  # as written: flow or transaction ids, comma-separated
    text: str | None = None
    covers: tuple[Covers, ...] = ()
    flows: tuple[str, ...] = ()  # the flow and transaction ids (pytest_mes.flows), checked


@dataclass(frozen=True)
class Capability:
    """Something the server's CapabilityStatement must declare for a test to make sense."""

    resource: str | None = None
    interaction: str | None = None
    search_param: str | None = None
    operation: str | None = None
    conditional_update: bool | None = None
    format: str | None = None
    include: str | None = None

    def describe(self, lang: str = "fr") -> str:
        """What is needed, in `lang`: "le paramètre de recherche 'start' pour Slot"."""
        parts = [label(f"need.{key}", lang).format(value=value) for key, value in (
            ("include", self.include), ("interaction", self.interaction), ("search_param", self.search_param),
            ("operation", self.operation)) if value]
        if self.conditional_update:
            parts.append(label("need.conditional_update", lang))
        if self.format:
            parts.append(label("need.format", lang).format(value=self.format))
        what = label("check.and", lang).join(parts) or label("need.support", lang)
        if self.resource:
            return label("need.on", lang).format(what=what, resource=self.resource)
        return label("need.system", lang).format(what=what)


@dataclass(frozen=True)
class Request:
    method: str = "GET"
    path: str | None = None
    url: str | None = None
    params: tuple[tuple[str, Any], ...] = ()
    headers: tuple[tuple[str, Any], ...] = ()
    body: Any = None
    body_file: Path | None = None
    content_type: str | None = None
    accept: str | None = None

    @property
    def writes(self) -> bool:
        """Whether the request may change data: any unsafe method but a POST search."""
        if self.method in READ_ONLY_METHODS:
            return False
        target = (self.path or self.url or "").split("?")[0].rstrip("/")
        return not (self.method == "POST" and target.endswith("_search"))


@dataclass(frozen=True)
class Check:
    kind: str
    spec: Any
    because: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class SaveRule:
    name: str
    source: str  # "fhirpath", "header" or "status"
    expression: Any


@dataclass(frozen=True)
class Step:
    name: str
    request: Request
    checks: tuple[Check, ...]
    save: tuple[SaveRule, ...]
    phase: str  # setup, test, cleanup, teardown
    index: int
    line: int | None = None
    end_line: int | None = None
    package: str | None = None  # "id#version" of the set's IG: which FR Core an unversioned profile means
    needs_data: NeedsData | None = None  # what test data the step reads, and how to provide it (`needs_data:`)


@dataclass(frozen=True)
class TestCase:
    __test__ = False  # a model class, not a pytest test

    id: str
    title: Text
    requirements: tuple[Requirement, ...]
    steps: tuple[Step, ...]
    cleanup: tuple[Step, ...] = ()
    preconditions: tuple[Capability, ...] = ()
    variables: dict[str, Any] = field(default_factory=dict)
    description: Text | None = None
    actor: str | None = None
    writes: bool = False
    line: int | None = None
    case: str | None = None  # the case id of a parametrized test

    @property
    def level(self) -> str:
        """The strongest requirement level the test verifies."""
        return min((r.level for r in self.requirements), key=LEVELS.index)


@dataclass(frozen=True)
class TestSet:
    __test__ = False

    id: str
    title: Text
    component: str
    tests: tuple[TestCase, ...]
    path: Path
    text: str
    label: str = ""  # the path as shown to the user
    actor: str | None = None
    description: Text | None = None
    specifications: tuple[dict[str, str], ...] = ()
    variables: dict[str, Any] = field(default_factory=dict)
    setup: tuple[Step, ...] = ()
    teardown: tuple[Step, ...] = ()

    def source_lines(self, start: int | None, end: int | None) -> list[tuple[int, str]]:
        if start is None:
            return []
        lines = self.text.splitlines()
        end = min(end or start, len(lines), start + 40)
        return [(number, lines[number - 1]) for number in range(start, end + 1)]


def load_testset(path: Path, label: str | None = None, catalogue: CapabilityCatalogue | None = None) -> TestSet:
    """Read, check and build a test set; raise TestSetError naming file (as `label`), line and what to do.

    With a `catalogue`, the requirements' `capability` references are checked against the IGs' server
    CapabilityStatements too (without one, only their form is). A text checked by an earlier process is taken
    from the test-set cache: not parsed, schema-checked or its FHIRPath compiled again."""
    from pytest_mes import fhirpath
    from pytest_mes.testset import cache

    where = label or str(path)
    text = read_text(path, where)
    checked = cache.lookup(text)
    if checked is not None:
        document = checked.document(text, where)
        fhirpath.remember(checked.fhirpath)
    else:
        document = parse_yaml(text, where)
        if not isinstance(document.data, dict):
            raise TestSetError("a test set is a mapping with id, title, component and tests",
                               path=document.source.path, line=1)
        check_schema(document)
    check_placeholders(document, path.parent)  # not cached: it reads the set's body files too
    builder = _Builder(document, path, catalogue)
    testset = builder.build()
    if checked is None:
        cache.store(text, document, {expression: fhirpath.parse(expression) for expression in builder.expressions})
    return testset


class _Builder:
    """Turns the validated data into the model; checks what the schema cannot express."""

    def __init__(self, document: LoadedDocument, path: Path, catalogue: CapabilityCatalogue | None = None):
        self.document = document
        self.path = path
        self.catalogue = catalogue
        self.package = _package_context(document.data.get("specifications", []))
        self.expressions: set[str] = set()  # the FHIRPath compiled here, for the test-set cache

    def error(self, json_path: JsonPath, message: str) -> TestSetError:
        line, column = self.document.source.position(json_path) or (None, None)
        return TestSetError(message, path=self.document.source.path, line=line, column=column)

    def build(self) -> TestSet:
        data = self.document.data
        setup = self.steps(data.get("setup", []), ("setup",), "setup")
        teardown = self.steps(data.get("teardown", []), ("teardown",), "teardown")
        set_writes = any(step.request.writes for step in (*setup, *teardown))
        tests = tuple(case for index, item in enumerate(data["tests"])
                      for case in self.test(item, ("tests", index), data, set_writes))
        self.check_unique_ids(tests)
        return TestSet(
            id=data["id"], title=Text.of(data["title"]), component=data["component"], tests=tests,
            path=self.path, text=self.document.text, label=self.document.source.path, actor=data.get("actor"),
            description=Text.of(data.get("description")),
            specifications=tuple(data.get("specifications", [])),
            variables=dict(data.get("variables", {})), setup=setup, teardown=teardown,
        )

    def check_unique_ids(self, tests: tuple[TestCase, ...]) -> None:
        seen: dict[str, int | None] = {}
        for index, test in enumerate(tests):
            if test.id in seen:
                first = seen[test.id]
                raise self.error(("tests", index, "id"),
                                 f"test id '{test.id}' is used twice (first at line {first}): ids must be unique")
            seen[test.id] = test.line

    def test(self, item: dict, json_path: JsonPath, data: dict, set_writes: bool) -> list[TestCase]:
        """The test, or one test per case of its `parametrize` table."""
        steps = self.steps(item["steps"], (*json_path, "steps"), "test")
        cleanup = self.steps(item.get("cleanup", []), (*json_path, "cleanup"), "cleanup")
        inferred = set_writes or any(step.request.writes for step in (*steps, *cleanup))
        test = TestCase(
            id=item["id"], title=Text.of(item["title"]), requirements=(),
            steps=steps, cleanup=cleanup,
            variables=dict(item.get("variables", {})), description=Text.of(item.get("description")),
            actor=item.get("actor", data.get("actor")), writes=item.get("writes", inferred),
            line=self.document.source.position(json_path)[0],
        )
        if "parametrize" not in item:
            return [replace(test, requirements=self.requirements(item["requirements"], json_path, {}, ""),
                            preconditions=self.preconditions(item, json_path, {}))]
        return [self.case(test, item, json_path, *case) for case in self.cases(item, json_path)]

    def cases(self, item: dict, json_path: JsonPath) -> list[tuple[str, dict[str, Any], JsonPath]]:
        """The (case id, values, where) of a parametrize table; every case gives the same variables."""
        table = item["parametrize"]
        first_id, first_names = None, set()
        seen: dict[str, int | None] = {}
        cases = []
        for index, case in enumerate(table):
            where = (*json_path, "parametrize", index)
            values = {name: value for name, value in case.items() if name != "id"}
            case_id = str(case["id"]) if "id" in case else _case_id(values, index)
            if index == 0:
                first_id, first_names = case_id, set(values)
            elif set(values) != first_names:
                lacking, extra = sorted(first_names - set(values)), sorted(set(values) - first_names)
                what = (f"has no {', '.join(map(repr, lacking))}" if lacking
                        else f"has {', '.join(map(repr, extra))}, which case '{first_id}' has not")
                names = ", ".join(sorted(first_names))
                raise self.error(where, f"case '{case_id}' {what}: every case of a parametrize table gives the "
                                        f"same variables (those of case '{first_id}': {names})")
            clash = sorted(set(values) & set(item.get("variables", {})))
            if clash:
                raise self.error(where, f"case '{case_id}': variable '{clash[0]}' is set by the case and by the "
                                        "test's variables: keep one")
            if case_id in seen:
                raise self.error(where, f"case id '{case_id}' is used twice (first at line {seen[case_id]}): "
                                        "give each case its own 'id'")
            seen[case_id] = self.document.source.position(where)[0]
            cases.append((case_id, values, where))
        return cases

    def case(self, test: TestCase, item: dict, json_path: JsonPath, case_id: str, values: dict,
             case_path: JsonPath) -> TestCase:
        """One case of a parametrized test: its id and title show the case; its values are variables."""
        title = Text(fill(test.title.fr, values), fill(test.title.en, values))
        if title == test.title:
            title = Text(f"{title.fr} [{case_id}]", f"{title.en} [{case_id}]" if title.en else None)
        description = Text(fill(test.description.fr, values), fill(test.description.en, values)) \
            if test.description else None
        return replace(
            test, id=f"{test.id}[{case_id}]", title=title, description=description, case=case_id,
            steps=tuple(replace(step, name=fill(step.name, values)) for step in test.steps),
            preconditions=self.preconditions(item, json_path, values),
            variables={**values, **test.variables},
            requirements=self.requirements(item["requirements"], json_path, values, f"case '{case_id}'",
                                           case_path),
        )

    def requirements(self, items: list[dict], json_path: JsonPath, values: dict[str, Any], case: str,
                     case_path: JsonPath | None = None) -> tuple[Requirement, ...]:
        """The requirements, with the case's values in them; flow ids and capability references checked."""
        built = []
        for index, spec in enumerate(items):
            where = (*json_path, "requirements", index)
            spec = fill(spec, values)
            flows = spec.get("transaction", [])
            flows = [flows] if isinstance(flows, str) else flows
            unknown = next((flow for flow in flows if flow not in FLOW_IDS), None)
            if unknown is not None:
                raise self.error((*where, "transaction"), _prefixed(case, (
                    f"unknown flow or transaction '{unknown}'{suggest(unknown, list(FLOW_IDS))}; "
                    f"known: {', '.join(FLOW_IDS)}")))
            specs = spec.get("capability", [])
            paths = [(*where, "capability")] if isinstance(specs, dict) else \
                [(*where, "capability", n) for n in range(len(specs))]
            specs = [specs] if isinstance(specs, dict) else specs
            covers = tuple(self.covers(c, path, case, case_path) for c, path in zip(specs, paths, strict=True))
            built.append(Requirement(ref=spec["ref"], level=spec["level"], url=spec.get("url"),
                                     transaction=", ".join(flows) or None, text=spec.get("text"), covers=covers,
                                     flows=tuple(flows)))
        return tuple(built)

    def covers(self, spec: dict, json_path: JsonPath, case: str, case_path: JsonPath | None) -> Covers:
        covers = Covers(**spec)
        unfilled = next((v for v in spec.values() if "{{" in v), None)
        if unfilled:
            problem = f"{unfilled!r} uses a variable that is not one of the case's: only case values fill it here"
        else:
            problem = covers.shape_problem() or (self.catalogue.problem(covers) if self.catalogue else None)
        if problem:
            # A case's problem is reported at the case (its line names which one), the others where written.
            raise self.error(case_path or json_path, _prefixed(case, f"capability: {problem}"))
        return covers

    def preconditions(self, item: dict, json_path: JsonPath, values: dict[str, Any]) -> tuple[Capability, ...]:
        """The preconditions, with a parametrized test's case values in them."""
        return tuple(self.precondition(fill(p["capability"], values), (*json_path, "preconditions", n))
                     for n, p in enumerate(item.get("preconditions", [])))

    def precondition(self, spec: dict, json_path: JsonPath) -> Capability:
        need = Capability(**spec)
        if need.resource and "{{" in need.resource:
            raise self.error((*json_path, "capability", "resource"),
                             f"{need.resource!r} names no case value: only a parametrized test's case values "
                             "fill a precondition")
        resource_level = [key for key in ("search_param", "include", "conditional_update") if key in spec]
        if need.interaction and need.interaction not in SYSTEM_INTERACTIONS:
            resource_level.append("interaction")
        if resource_level and not need.resource:
            raise self.error(json_path, f"{', '.join(resource_level)} belongs to a resource: add 'resource: <Type>'")
        return need

    def steps(self, items: list[dict], json_path: JsonPath, phase: str) -> tuple[Step, ...]:
        return tuple(self.step(item, (*json_path, index), phase, index) for index, item in enumerate(items))

    def step(self, item: dict, json_path: JsonPath, phase: str, index: int) -> Step:
        request = self.request(item["request"], (*json_path, "request"))
        checks = tuple(self.check(check, (*json_path, "checks", n)) for n, check in enumerate(item.get("checks", [])))
        save = tuple(SaveRule(name, *next(iter(rule.items()))) for name, rule in item.get("save", {}).items())
        for rule in save:
            if rule.source == "fhirpath":
                self.compile_fhirpath(rule.expression, (*json_path, "save", rule.name))
        target = request.path if request.path is not None else request.url
        line_range = self.document.source.line_range(json_path) or (None, None)
        return Step(
            name=item.get("name") or f"{request.method} {target or '[base]'}", request=request, checks=checks,
            save=save, phase=phase, index=index, line=line_range[0], end_line=line_range[1], package=self.package,
            needs_data=self.needs_data(item, json_path, phase, request),
        )

    def needs_data(self, item: dict, json_path: JsonPath, phase: str, request: Request) -> NeedsData | None:
        """A step's `needs_data`: only a test's step that reads can find the server's test data missing."""
        if "needs_data" not in item:
            return None
        where = (*json_path, "needs_data")
        if phase != "test":
            raise self.error(where, f"needs_data belongs to a test's steps, not to a {phase} step: a {phase} step "
                                    "that finds nothing fails as before")
        if request.writes:
            raise self.error(where, f"needs_data is for a step that reads the server's data (a search or a read), "
                                    f"not a {request.method} that writes: remove it, or make the step a search")
        needs = NeedsData.of(item["needs_data"])
        if needs.fhirpath is not None:
            self.compile_fhirpath(needs.fhirpath, (*where, "fhirpath"))
        return needs

    def request(self, spec: dict, json_path: JsonPath) -> Request:
        if "path" not in spec and "url" not in spec:
            raise self.error(json_path, "a request needs 'path' (relative to the base URL) or 'url' (absolute)")
        body_file = None
        if "body_file" in spec:
            body_file = (self.path.parent / spec["body_file"]).resolve()
            problem = _unsendable(body_file)
            if problem:
                raise self.error((*json_path, "body_file"), f"body file '{spec['body_file']}' {problem}")
        params = []
        for name, value in spec.get("params", {}).items():
            params.extend((name, item) for item in (value if isinstance(value, list) else [value]))
        return Request(
            method=spec.get("method", "GET"), path=spec.get("path"), url=spec.get("url"), params=tuple(params),
            headers=tuple(spec.get("headers", {}).items()), body=spec.get("body"), body_file=body_file,
            content_type=spec.get("content_type"), accept=spec.get("accept"),
        )

    def check(self, spec: dict, json_path: JsonPath) -> Check:
        kinds = [key for key in spec if key != "because"]
        if len(kinds) != 1:
            what = "nothing but 'because'" if not kinds else ", ".join(kinds)
            raise self.error(json_path, f"a check holds exactly one of {', '.join(CHECK_KINDS)}; found {what}")
        kind = kinds[0]
        value = spec[kind]
        if kind == "fhirpath":
            self.compile_fhirpath(value if isinstance(value, str) else value["expression"], (*json_path, kind))
            if isinstance(value, dict) and value.get("op") not in (None, "exists", "empty") and "value" not in value:
                raise self.error((*json_path, kind), f"operator '{value['op']}' needs a 'value' to compare with")
        if kind == "header" and len(value) == 1:
            value = {**value, "present": True}
        return Check(kind=kind, spec=value, because=spec.get("because"),
                     line=self.document.source.position(json_path)[0])

    def compile_fhirpath(self, expression: str, json_path: JsonPath) -> None:
        """Catch FHIRPath syntax errors at collection, where the line number is known."""
        if "{{" in expression:
            return  # compiled once its variables are known
        from pytest_mes.fhirpath import FhirPathError, parse

        try:
            parse(expression)
        except FhirPathError as exc:
            raise self.error(json_path, str(exc)) from None
        self.expressions.add(expression)


def _prefixed(case: str, message: str) -> str:
    return f"{case}: {message}" if case else message


def _case_id(values: dict[str, Any], index: int) -> str:
    """A case id made of its values, as pytest makes ids: scalars joined by '-', others by position."""
    parts = [str(value).lower() if isinstance(value, bool) else str(value)
             for value in values.values() if isinstance(value, str | int | float | bool)]
    text = re.sub(r"[^A-Za-z0-9._-]+", "_", "-".join(parts)).strip("_")
    return text[:60] if text and len(parts) == len(values) else f"case{index}"


def _package_context(specifications: list[dict[str, str]]) -> str | None:
    """The IG the set is about (its first specification other than the R4 base), as "id#version"."""
    for spec in specifications:
        if spec.get("package") and spec.get("version") and spec["package"] != "hl7.fhir.r4.core":
            return f"{spec['package']}#{spec['version']}"
    return None


def _unsendable(body_file: Path) -> str | None:
    """Why a body file cannot be sent as the runner sends it (UTF-8 text), or None."""
    if body_file.is_dir():
        return "is a folder, not a file"
    if not body_file.is_file():
        return f"not found (looked at {body_file}); paths are relative to the test-set file"
    try:
        body_file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        return f"is not UTF-8 text ({exc.reason} at byte {exc.start}): save it as UTF-8"
    except OSError as exc:
        return f"cannot be read: {exc.strerror}"
    return None
