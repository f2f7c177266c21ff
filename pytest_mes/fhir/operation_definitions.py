"""An OperationDefinition against its ``inputProfile`` and ``outputProfile``, as the HL7 validator checks them.

Each profile (resolved by canonical) constrains ``Parameters``; its ``parameter`` slices, named by the
fixed or pattern value of their ``name``, must agree with the operation's parameters of that use (``in``
or ``out``): the same ``min`` and ``max``; the types its ``value[x]`` or ``resource`` allows (whichever is
used) those the parameter allows (``type``, or the ``operationdefinition-allowed-type`` extension); the
same target profiles. A slice without such a parameter, or a parameter without a slice, is a warning.
"""

from __future__ import annotations

from collections.abc import Iterator

from pytest_mes.fhir.canonicals import Resolve, resolve_checked_against
from pytest_mes.fhir.issues import Issue, make_issue
from pytest_mes.fhir.jsonread import as_list, strings_in

ALLOWED_TYPE = "http://hl7.org/fhir/StructureDefinition/operationdefinition-allowed-type"
_USES = (("in", "inputProfile"), ("out", "outputProfile"))


def operation_definition_issues(od: dict, loc: str, resolve: Resolve) -> list[Issue]:
    """The issues of these rules for `od` at `loc`; `resolve` gives its profiles (StructureDefinitions with
    their snapshot)."""
    def with_snapshot(canonical: str, resource_type: str) -> dict | None:
        found = resolve(canonical, resource_type)
        return found if found is not None and _elements(found) else None  # else nothing to compare with either

    issues: list[Issue] = []
    for use, key in _USES:
        sd, not_found = resolve_checked_against(od, key, "StructureDefinition", loc, with_snapshot,
                                                "OPDEF_PROFILE_NOT_FOUND", use=use)
        issues.extend(not_found)
        if sd is not None:
            issues.extend(_against_profile(od, f"{loc}.{key}", loc, od[key], use, sd))
    return issues


def _against_profile(od: dict, where: str, loc: str, url: str, use: str, sd: dict) -> Iterator[Issue]:
    if sd.get("type") != "Parameters":
        yield make_issue("error", "OPDEF_PROFILE_NOT_PARAMETERS", where, use=use, url=url, type=str(sd.get("type")))
        return
    elements = _elements(sd)
    params = [(i, p) for i, p in enumerate(as_list(od.get("parameter"))) if isinstance(p, dict) and p.get("use") == use]
    matched: set[int] = set()
    for slice_id, name in _named_slices(elements):
        found = next(((i, p) for i, p in params if p.get("name") == name), None)
        if found is None:
            yield make_issue("warning", "OPDEF_SLICE_NOT_IN_OPERATION", where, use=use, url=url, name=name)
            continue
        matched.add(found[0])
        yield from _compare(elements, slice_id, found[1], f"{loc}.parameter[{found[0]}]", use, name)
    for i, p in params:
        if i not in matched:
            yield make_issue("warning", "OPDEF_PARAMETER_NOT_IN_PROFILE", f"{loc}.parameter[{i}]", use=use, url=url,
                             name=str(p.get("name")))


def _compare(elements: dict[str, dict], slice_id: str, param: dict, where: str, use: str, name: str
             ) -> Iterator[Issue]:
    """The parameter's definition in the operation against its slice in the profile."""
    element = elements[slice_id]
    for field in ("min", "max"):
        stated, profiled = param.get(field), element.get(field)
        if stated is not None and profiled is not None and str(stated) != str(profiled):
            yield make_issue("error", "OPDEF_PARAMETER_DIFFERS", where, use=use, name=name, field=field,
                             operation=str(stated), profile=str(profiled))
    allowed = _allowed_types(param)
    targets = strings_in(param.get("targetProfile"))
    value, resource, part = (elements.get(f"{slice_id}.{child}") or {} for child in ("value[x]", "resource", "part"))
    profile_types: list[str] = []
    profile_targets: list[str] = []
    for used, others in ((value, (resource, part)), (resource, (value, part))):
        if not _used(used, *others):
            continue
        for t in used.get("type") or ():
            code = t.get("code") if isinstance(t, dict) else None
            if not isinstance(code, str):
                continue
            profile_types.append(code)
            profile_targets.extend(p for p in t.get("targetProfile") or () if isinstance(p, str))
            if code not in allowed:
                yield make_issue("error", "OPDEF_TYPE_NOT_IN_OPERATION", where, use=use, name=name, type=code,
                                 allowed=", ".join(allowed))
    for code in allowed:
        if code not in profile_types:
            yield make_issue("error", "OPDEF_TYPE_NOT_IN_PROFILE", where, use=use, name=name, type=code,
                             allowed=", ".join(profile_types))
    for target in targets:
        if target not in profile_targets:
            yield make_issue("error", "OPDEF_TARGET_NOT_IN_PROFILE", where, use=use, name=name, target=target)
    for target in profile_targets:
        if target not in targets:
            yield make_issue("error", "OPDEF_TARGET_NOT_IN_OPERATION", where, use=use, name=name, target=target)


def _allowed_types(param: dict) -> list[str]:
    extended = [e.get("valueUri") or e.get("valueCode") for e in as_list(param.get("extension"))
                if isinstance(e, dict) and e.get("url") == ALLOWED_TYPE]
    if extended:
        return [t for t in extended if isinstance(t, str)]
    return [param["type"]] if isinstance(param.get("type"), str) else []


def _used(focus: dict, *others: dict) -> bool:
    """A slice's value[x] or resource carries the parameter: not prohibited, and no sibling required."""
    return bool(focus) and str(focus.get("max")) != "0" and all(_min(o) == 0 for o in others)


def _min(element: dict) -> int:
    found = element.get("min", 0)
    return found if isinstance(found, int) else 0


def _named_slices(elements: dict[str, dict]) -> Iterator[tuple[str, str]]:
    """(slice id, parameter name) of the profile's ``parameter`` slices whose name is fixed."""
    for element_id in elements:
        head, _, slice_name = element_id.partition(":")
        if head != "Parameters.parameter" or not slice_name or "." in slice_name or "/" in slice_name:
            continue
        name = elements.get(f"{element_id}.name") or {}
        fixed = name.get("fixedString", name.get("patternString"))
        if isinstance(fixed, str):
            yield element_id, fixed


def _elements(sd: dict) -> dict[str, dict]:
    found = (sd.get("snapshot") or {}).get("element")
    return {e["id"]: e for e in found if isinstance(e, dict) and isinstance(e.get("id"), str)} \
        if isinstance(found, list) else {}
