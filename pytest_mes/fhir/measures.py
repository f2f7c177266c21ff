"""A MeasureReport against its Measure, a Measure against its Libraries (resolved by canonical), as the
HL7 validator checks them:

- each population of a report group has a code among its Measure group's population codes;
- only a report of type ``subject-list`` lists subjects (``population.subjectResults``);
- a Measure's CQL criterion ``Library.Name`` names a definition of that Library (by the Library's
  ``name``), read from its ELM (XML or JSON) or, without ELM, its CQL text.

A report group goes with the Measure group of the same code, or with the only group when both have one.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from typing import Any

from pytest_mes.fhir.canonicals import Resolve, resolve_checked_against
from pytest_mes.fhir.issues import Issue, make_issue
from pytest_mes.fhir.jsonread import as_list, dicts_in


def measure_report_issues(report: dict, loc: str, resolve: Resolve) -> list[Issue]:
    """The issues of these rules for `report` at `loc`; `resolve` gives the Measure."""
    measure, issues = resolve_checked_against(report, "measure", "Measure", loc, resolve, "MR_MEASURE_NOT_FOUND")
    if measure is None:
        return issues
    groups = dicts_in(measure.get("group"))
    report_groups = dicts_in(report.get("group"))
    for i, group in enumerate(as_list(report.get("group"))):
        if not isinstance(group, dict):
            continue
        where = f"{loc}.group[{i}]"
        defined = groups[0] if len(groups) == 1 and len(report_groups) == 1 else _by_code(groups, group)
        for j, population in enumerate(as_list(group.get("population"))):
            if not isinstance(population, dict):
                continue
            at = f"{where}.population[{j}]"
            if defined is not None and population.get("code") is not None and \
                    _by_code(dicts_in(defined.get("population")), population) is None:
                issues.append(make_issue("error", "MR_POPULATION_UNKNOWN", at, code=_code_text(population)))
            if "subjectResults" in population and report.get("type") != "subject-list":
                issues.append(make_issue("error", "MR_SUBJECTS_NOT_LISTED", at, type=str(report.get("type"))))
    return issues


class LibraryNames:
    """The names each Library defines, decoded from its ELM or CQL once per Library url and version: the
    Measures of a package (or of a run) name the same few Libraries again and again."""

    def __init__(self) -> None:
        self._decoded: dict[tuple[str, str | None], set[str] | None] = {}

    def of(self, library: dict) -> set[str] | None:
        """The names `library` defines (see `defined_names`)."""
        url, version = library.get("url"), library.get("version")
        if not isinstance(url, str) or not isinstance(version, str | None):
            return defined_names(library)  # no url|version to know it again by
        key = (url, version)
        if key not in self._decoded:
            self._decoded[key] = defined_names(library)
        return self._decoded[key]


def measure_issues(measure: dict, loc: str, resolve: Resolve, library_names: LibraryNames) -> list[Issue]:
    """The issues of the CQL rule for `measure` at `loc`; `resolve` gives its Libraries, `library_names` the
    names they define."""
    libraries: dict[str, tuple[str, set[str]]] = {}  # Library.name -> (url, names it defines)
    for url in as_list(measure.get("library")):
        library = resolve(url, "Library") if isinstance(url, str) else None
        names = library_names.of(library) if library is not None else None
        if names is not None and isinstance(library.get("name"), str):
            libraries[library["name"]] = (url, names)
    issues = []
    for where, criteria in _criteria(measure, loc):
        expression = criteria.get("expression")
        if criteria.get("language") != "text/cql" or not isinstance(expression, str):
            continue
        prefix, _, name = expression.partition(".")
        found = libraries.get(prefix)
        if found is not None and name and name.strip('"') not in found[1]:
            issues.append(make_issue("error", "MEASURE_CQL_UNKNOWN", f"{where}.criteria", name=name, url=found[0]))
    return issues


def _criteria(measure: dict, loc: str) -> Iterator[tuple[str, dict]]:
    """(location, criteria) of the Measure's populations, stratifiers (and components), supplemental data."""
    for i, group in enumerate(as_list(measure.get("group"))):
        if not isinstance(group, dict):
            continue
        for key in ("population", "stratifier"):
            for j, item in enumerate(as_list(group.get(key))):
                if not isinstance(item, dict):
                    continue
                at = f"{loc}.group[{i}].{key}[{j}]"
                if isinstance(item.get("criteria"), dict):
                    yield at, item["criteria"]
                for k, part in enumerate(dicts_in(item.get("component"))):
                    if isinstance(part.get("criteria"), dict):
                        yield f"{at}.component[{k}]", part["criteria"]
    for i, item in enumerate(as_list(measure.get("supplementalData"))):
        if isinstance(item, dict) and isinstance(item.get("criteria"), dict):
            yield f"{loc}.supplementalData[{i}]", item["criteria"]


_ELM_XML_DEF = re.compile(r'<def\b[^>]*?\bname="([^"]+)"')
_CQL_DEFINE = re.compile(r'\bdefine\s+(?:(?:public|private)\s+)?(?:fluent\s+)?(?:function\s+)?(?:"([^"]+)"|(\w+))')


def defined_names(library: dict) -> set[str] | None:
    """The names a Library defines, from its ELM (XML or JSON), else its CQL; None when it gives none."""
    texts = {}
    for content in dicts_in(library.get("content")):
        try:
            texts[content.get("contentType")] = base64.b64decode(str(content.get("data", "")), validate=True
                                                                 ).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
    if "application/elm+xml" in texts:
        return set(_ELM_XML_DEF.findall(texts["application/elm+xml"]))
    if "application/elm+json" in texts:
        try:
            statements = json.loads(texts["application/elm+json"])["library"]["statements"]["def"]
            return {d["name"] for d in statements if isinstance(d, dict) and isinstance(d.get("name"), str)}
        except (ValueError, KeyError, TypeError):
            return None
    if "text/cql" in texts:
        return {a or b for a, b in _CQL_DEFINE.findall(texts["text/cql"])}
    return None


def _by_code(candidates: list[dict], item: dict) -> dict | None:
    """The candidate whose code shares a coding (system and code) with `item`'s."""
    wanted = _codings(item)
    return next((c for c in candidates if wanted & _codings(c)), None)


def _codings(item: dict) -> set[tuple[Any, Any]]:
    code = item.get("code")
    return {(c.get("system"), c.get("code")) for c in dicts_in(code.get("coding") if isinstance(code, dict) else None)}


def _code_text(item: dict) -> str:
    return ", ".join(f"{system}|{code}" for system, code in sorted(_codings(item), key=str)) or "?"
