"""The search engine: parameters with prefixes and modifiers, chaining, _include, paging.

FHIR R4 search (https://hl7.org/fhir/R4/search.html) over the current resources of a type.
Values of one parameter separated by commas are alternatives (OR); repeated parameters must all
match (AND). Unknown parameters are ignored and reported in an OperationOutcome entry
(`search.mode=outcome`), or refused with 400 under `Prefer: handling=strict`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from pytest_mes.sandbox.defects import Defect
from pytest_mes.sandbox.matching import (
    MAX_INSTANT,
    Engine,
    Predicate,
    UnknownParameter,
    date_range,
    fold,
    ranges_of,
    reference_key,
    strings_of,
    tokens_of,
)
from pytest_mes.sandbox.outcome import FhirError
from pytest_mes.sandbox.params import CONTROL, Param, param
from pytest_mes.sandbox.store import Store, now_instant

Present = Callable[[dict[str, Any]], dict[str, Any]]

DEFAULT_COUNT = 100
MAX_COUNT = 1000

# Bundle profiles the sandbox claims for its searchsets (ci-sis.md §2.1, §2.4).
SEARCHSET_PROFILES = {
    "Slot": "https://interop.esante.gouv.fr/ig/fhir/gap/StructureDefinition/gap-bundle-reponse-demande-consult-dispo",
    "Appointment": "https://interop.esante.gouv.fr/ig/fhir/gap/StructureDefinition/gap-bundle-reponse-demande-consult-rdv",
    "DocumentReference": "https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/"
    "pdsm-find-documentreferences-comprehensive-response",
    "List": "https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/pdsm-find-lists-response",
}


@dataclass
class SearchRequest:
    type: str
    params: list[tuple[str, str]]
    base: str
    strict: bool = False
    defects: frozenset[Defect] = field(default_factory=frozenset)


# -- the search itself ----------------------------------------------------------------------

def _sort_key(resource: dict[str, Any], type_: str) -> tuple:
    start = resource.get("start")
    if type_ in ("Slot", "Appointment"):
        r = date_range(start) if isinstance(start, str) else None
        return (r[0] if r else MAX_INSTANT, resource.get("id", ""))
    return (resource.get("id", ""),)


def _apply_sort(resources: list[dict[str, Any]], type_: str, spec: str) -> None:
    for item in reversed([s for s in spec.split(",") if s]):
        descending = item.startswith("-")
        code = item.lstrip("-")
        definition = param(type_, code)
        if definition is None:
            raise UnknownParameter(f"_sort={item}")

        def key(resource: dict[str, Any], definition: Param = definition) -> tuple:
            values = definition.get(resource)
            if not values:
                return (1, "")
            v = values[0]
            if definition.type == "date":
                ranges = ranges_of(v)
                return (0, ranges[0][0].isoformat()) if ranges else (1, "")
            strings = strings_of(v) or [t[1] for t in tokens_of(v)]
            return (0, fold(strings[0]) if strings else "")

        resources.sort(key=key, reverse=descending)
        if descending:  # keep resources without a value at the end
            resources.sort(key=lambda r, k=key: k(r)[0])


def _include_specs(values: list[str]) -> list[tuple[str, str, str | None]]:
    specs = []
    for value in values:
        pieces = value.split(":")
        if len(pieces) < 2:
            raise FhirError(400, f"Invalid _include/_revinclude {value!r}: expected Type:parameter[:Target]",
                            "invalid")
        specs.append((pieces[0], pieces[1], pieces[2] if len(pieces) > 2 else None))
    return specs


# Defects that make the engine skip a parameter: (defect, resource type, parameter names without modifier).
_IGNORED: tuple[tuple[Defect, str, frozenset[str]], ...] = (
    (Defect.IGNORE_SLOT_STATUS, "Slot", frozenset({"status"})),
    (Defect.PATIENT_IDENTIFIER_IGNORED, "DocumentReference", frozenset({"patient.identifier"})),
    (Defect.SLOT_IDENTIFIER_IGNORED, "Slot", frozenset({"identifier"})),
    (Defect.APPOINTMENT_PARAMS_IGNORED, "Appointment",
     frozenset({"priority", "description", "created", "date", "service-type", "supporting-info", "actor"})),
    (Defect.DOCREF_PARAMS_IGNORED, "DocumentReference",
     frozenset({"type", "category", "setting", "creation", "security-label", "isArchived", "period",
                "period-start", "period-end", "format", "event", "relatesto", "subject", "author.family",
                "author.given"})),
    (Defect.LIST_PARAMS_IGNORED, "List",
     frozenset({"date", "designationType", "isArchived", "title", "sourceId", "source", "authorOrg"})),
)


@dataclass
class _Query:
    """A search request parsed: a predicate per parameter, the result controls, what was used and ignored."""

    predicates: list[Predicate] = field(default_factory=list)
    used: list[tuple[str, str]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    controls: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class _Page:
    """The matches shown (one page of them) and the resources their _include / _revinclude bring."""

    total: int
    offset: int
    count: int
    summary_count: bool
    matches: list[dict[str, Any]]
    included: list[dict[str, Any]]


def search(store: Store, request: SearchRequest, present: Present) -> dict[str, Any]:
    """Run a search: parse the request, select and sort the matches, cut the page with its includes, and
    build the searchset Bundle. Raises FhirError on a bad request."""
    engine = Engine(store, request.defects)
    query = _parse(engine, request)
    matches = _select(store, request, query)
    page = _page(store, request, query, matches)
    return _bundle(request, query, page, present)


def _parse(engine: Engine, request: SearchRequest) -> _Query:
    query = _Query()
    ignored = {name for defect, type_, names in _IGNORED if defect in request.defects and type_ == request.type
               for name in names}
    for name, value in request.params:
        base_name = name.split(":")[0]
        if base_name in CONTROL:
            control = base_name if base_name != "_include" or ":" not in name else "_include:iterate"
            query.controls.setdefault(control, []).append(value)
            continue
        if base_name in ignored:
            continue
        try:
            query.predicates.append(engine.compile(request.type, name, value))
            query.used.append((name, value))
        except UnknownParameter:
            query.unknown.append(name)
    return query


def _select(store: Store, request: SearchRequest, query: _Query) -> list[dict[str, Any]]:
    """The current resources of the type that match every predicate, sorted (by _sort, or by start / id)."""
    type_ = request.type
    matches = [e.resource for e in store.all(type_) if _matches(e.resource, query.predicates)]
    sort_spec = ",".join(query.controls.get("_sort", []))
    try:
        if sort_spec:
            _apply_sort(matches, type_, sort_spec)
            query.used.append(("_sort", sort_spec))
        else:
            matches.sort(key=lambda r: _sort_key(r, type_))
    except UnknownParameter as exc:
        query.unknown.append(str(exc))
    if query.unknown and request.strict:
        raise FhirError(400, f"Unknown or unsupported search parameter(s): {', '.join(query.unknown)} "
                        "(refused because of Prefer: handling=strict)", "not-supported")
    return matches


def _page(store: Store, request: SearchRequest, query: _Query, matches: list[dict[str, Any]]) -> _Page:
    """_count, _offset and _summary=count cut the page; _include and _revinclude add to it."""
    controls = query.controls
    count = min(_int_control(controls, "_count", DEFAULT_COUNT), MAX_COUNT)
    offset = _int_control(controls, "_offset", 0)
    summary_count = controls.get("_summary", [""])[-1] == "count"
    shown = [] if summary_count else matches[offset:offset + count]
    includes = _include_specs(controls.get("_include", []) + controls.get("_include:iterate", []))
    revincludes = _include_specs(controls.get("_revinclude", []))
    if Defect.IGNORE_INCLUDE in request.defects:
        includes, revincludes = [], []
    _check_includes(includes, "_include")
    _check_includes(revincludes, "_revinclude")
    included = _collect_includes(store, shown, includes, revincludes) if shown else []
    for name in ("_include", "_include:iterate", "_revinclude"):
        query.used += [(name, value) for value in controls.get(name, [])]
    return _Page(len(matches), offset, count, summary_count, shown, included)


def _bundle(request: SearchRequest, query: _Query, page: _Page, present: Present) -> dict[str, Any]:
    """The searchset Bundle: match, include and outcome entries, total, and self / next / previous links."""
    type_, defects, controls = request.type, request.defects, query.controls
    elements = controls.get("_elements")
    keep = {e.strip() for v in elements for e in v.split(",")} if elements else None

    def entry(resource: dict[str, Any], mode: str) -> dict[str, Any]:
        shown = present(resource)
        if keep is not None and mode == "match":
            shown = {k: v for k, v in shown.items() if k in keep or k in ("resourceType", "id", "meta")}
        return {
            "fullUrl": f"{request.base}/{resource['resourceType']}/{resource['id']}",
            "resource": shown,
            "search": {"mode": mode},
        }

    include_mode = "match" if Defect.INCLUDE_AS_MATCH in defects else "include"
    entries = [entry(r, "match") for r in page.matches] + [entry(r, include_mode) for r in page.included]
    if query.unknown:
        entries.append({
            "fullUrl": f"urn:uuid:{uuid.uuid4()}",
            "resource": {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "warning", "code": "not-supported",
                           "diagnostics": f"Unknown or unsupported search parameter {name!r} ignored"}
                          for name in query.unknown],
            },
            "search": {"mode": "outcome"},
        })

    # _elements and _summary shape the pages: the self / next / previous links keep them.
    shaping = [(name, value) for name in ("_elements", "_summary") for value in controls.get(name, [])]

    def link(off: int) -> str:
        params = [*query.used, *shaping, ("_count", str(page.count))]
        if off:
            params.append(("_offset", str(off)))
        return f"{request.base}/{type_}?{urlencode(params)}"

    # _count=0 asks for no entries, like _summary=count: there is no page to go to (a next link
    # with _count=0 would point at the same empty page forever).
    paged = not page.summary_count and page.count > 0
    links = [{"relation": "self", "url": link(page.offset)}]
    if paged and page.offset + page.count < page.total and Defect.NO_NEXT_LINK not in defects:
        links.append({"relation": "next", "url": link(page.offset + page.count)})
    if page.offset > 0 and paged:
        links.append({"relation": "previous", "url": link(max(0, page.offset - page.count))})

    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": now_instant()},
        "type": "collection" if Defect.WRONG_BUNDLE_TYPE in defects else "searchset",
        "total": page.total,
        "link": links,
    }
    # pdsm-find-lists-response slices its entries closed (SubmissionSet, Folder): an outcome entry
    # would break it, so the claim is dropped then; the other searchset profiles slice open.
    if type_ in SEARCHSET_PROFILES and not (query.unknown and type_ == "List"):
        bundle["meta"]["profile"] = [SEARCHSET_PROFILES[type_]]
    if Defect.MISSING_TOTAL in defects:
        del bundle["total"]
    if entries:
        bundle["entry"] = entries
    return bundle


def _matches(resource: dict[str, Any], predicates: list[Predicate]) -> bool:
    try:
        return all(p(resource) for p in predicates)
    except (TypeError, AttributeError, KeyError, ValueError):
        # A stored resource of an odd shape (possible when the R4 base package was not found to
        # check writes) simply does not match, rather than breaking everyone's searches.
        return False


def _int_control(controls: dict[str, list[str]], name: str, default: int) -> int:
    values = controls.get(name)
    if not values:
        return default
    try:
        number = int(values[-1])
    except ValueError:
        raise FhirError(400, f"Invalid {name} value {values[-1]!r}: expected a non-negative integer",
                        "invalid") from None
    if number < 0:
        raise FhirError(400, f"Invalid {name} value {number}: expected a non-negative integer", "invalid")
    return number


def _check_includes(specs: list[tuple[str, str, str | None]], name: str) -> None:
    for source_type, code, _target in specs:
        definition = param(source_type, code)
        if definition is None or definition.type != "reference":
            raise FhirError(400, f"Unsupported {name} {source_type}:{code}: not a reference search parameter of "
                            f"{source_type}", "not-supported")


def _collect_includes(
    store: Store, page: Sequence[dict[str, Any]],
    includes: list[tuple[str, str, str | None]], revincludes: list[tuple[str, str, str | None]],
) -> list[dict[str, Any]]:
    """Resources named by _include / _revinclude, each once, matches excluded.

    An _include whose source type is not the searched type is applied to included resources,
    as if `:iterate` were given: GAP's own example (`_include=Slot:schedule&_include=Schedule:actor`)
    expects the Schedules' actors in the Bundle.
    """
    seen = {(r["resourceType"], r["id"]) for r in page}
    included: list[dict[str, Any]] = []

    def add(resource: dict[str, Any]) -> None:
        key = (resource["resourceType"], resource["id"])
        if key not in seen:
            seen.add(key)
            included.append(resource)

    for _ in range(5):  # included resources' own includes, five levels deep at most
        before = len(included)
        for source_type, code, target in includes:
            definition = param(source_type, code)
            assert definition is not None  # _check_includes refused the others
            for resource in [r for r in (*page, *included) if r["resourceType"] == source_type]:
                for found in _referenced(store, definition, resource, target):
                    add(found)
        if len(included) == before:
            break
    wanted = {(r["resourceType"], r["id"]) for r in page}
    for source_type, code, _target in revincludes:
        definition = param(source_type, code)
        assert definition is not None
        for entry in store.all(source_type):
            if any(isinstance(ref, dict) and isinstance(ref.get("reference"), str)
                   and reference_key(ref["reference"]) in wanted for ref in definition.get(entry.resource)):
                add(entry.resource)
    return included


def _referenced(store: Store, definition: Param, resource: dict[str, Any],
                target: str | None) -> Iterator[dict[str, Any]]:
    """The stored resources `resource` refers to through reference parameter `definition` (of type `target`
    when given); contained ones (`#id`) are not included."""
    for ref in definition.get(resource):
        text = ref.get("reference") if isinstance(ref, dict) else None
        key = reference_key(text) if isinstance(text, str) and not text.startswith("#") else None
        if key is None or (target and key[0] != target) or (definition.targets and key[0] not in definition.targets):
            continue
        found = store.resource(*key)
        if found is not None:
            yield found
