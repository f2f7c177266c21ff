"""PATCH: JSON Patch (RFC 6902) and FHIRPath Patch (a Parameters resource).

FHIRPath Patch (https://hl7.org/fhir/R4/fhirpatch.html) paths are handled for the subset real
clients send: `Type.element(.element)*`, `[index]`, `.where(url='…')`, `.first()`.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from pytest_mes.sandbox.outcome import FhirError


def _unprocessable(message: str) -> FhirError:
    return FhirError(422, message, "processing")


# -- JSON Patch ---------------------------------------------------------------------------------

def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str):
        raise FhirError(400, f"Invalid JSON Pointer {path!r}: a string is expected", "structure")
    if path == "":
        return []
    if not path.startswith("/"):
        raise _unprocessable(f"Invalid JSON Pointer {path!r}: it must start with '/'")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


_ARRAY_INDEX = re.compile(r"[0-9]+")  # ASCII digits: "²" is a digit to str.isdigit but not to int()


def _index(token: str, size: int) -> int | None:
    """The array index `token` names, when it is one below `size`; else None."""
    return int(token) if _ARRAY_INDEX.fullmatch(token) and int(token) < size else None


def _walk(doc: Any, tokens: list[str], path: str) -> Any:
    for token in tokens:
        if isinstance(doc, dict) and token in doc:
            doc = doc[token]
        elif isinstance(doc, list) and (index := _index(token, len(doc))) is not None:
            doc = doc[index]
        else:
            raise _unprocessable(f"JSON Patch path {path!r} does not exist in the resource")
    return doc


def apply_json_patch(resource: dict[str, Any], operations: Any) -> dict[str, Any]:
    """Apply RFC 6902 operations to a copy of `resource`."""
    if not isinstance(operations, list):
        raise FhirError(400, "A JSON Patch body must be a JSON array of operations", "structure")
    doc = copy.deepcopy(resource)
    for index, op in enumerate(operations):
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise FhirError(400, f"JSON Patch operation #{index} needs 'op' and 'path'", "structure")
        kind, path = op["op"], op["path"]
        tokens = _pointer(path)
        if kind == "test":
            if _walk(doc, tokens, path) != op.get("value"):
                raise _unprocessable(f"JSON Patch test failed at {path!r}")
            continue
        if kind in ("move", "copy"):
            from_tokens = _pointer(op.get("from", ""))
            value = copy.deepcopy(_walk(doc, from_tokens, op.get("from", "")))
            if kind == "move":
                _remove(doc, from_tokens, op.get("from", ""))
            _add(doc, tokens, path, value)
            continue
        if kind == "remove":
            _remove(doc, tokens, path)
        elif kind == "add":
            if "value" not in op:
                raise FhirError(400, f"JSON Patch operation #{index} (add) needs a 'value'", "structure")
            _add(doc, tokens, path, op["value"])
        elif kind == "replace":
            if "value" not in op:
                raise FhirError(400, f"JSON Patch operation #{index} (replace) needs a 'value'", "structure")
            _walk(doc, tokens, path)  # must exist
            _remove(doc, tokens, path)
            _add(doc, tokens, path, op["value"])
        else:
            raise FhirError(400, f"Unknown JSON Patch operation {kind!r}", "structure")
    return doc


def _add(doc: Any, tokens: list[str], path: str, value: Any) -> None:
    if not tokens:
        raise _unprocessable("JSON Patch cannot replace the whole resource")
    parent = _walk(doc, tokens[:-1], path)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        elif (index := _index(last, len(parent) + 1)) is not None:
            parent.insert(index, value)
        else:
            raise _unprocessable(f"JSON Patch index in {path!r} is out of range")
    else:
        raise _unprocessable(f"JSON Patch path {path!r} does not name a container")


def _remove(doc: Any, tokens: list[str], path: str) -> None:
    if not tokens:
        raise _unprocessable("JSON Patch cannot remove the whole resource")
    parent = _walk(doc, tokens[:-1], path)
    last = tokens[-1]
    if isinstance(parent, dict) and last in parent:
        del parent[last]
    elif isinstance(parent, list) and (index := _index(last, len(parent))) is not None:
        del parent[index]
    else:
        raise _unprocessable(f"JSON Patch path {path!r} does not exist in the resource")


# -- FHIRPath Patch -----------------------------------------------------------------------------

_STEP = re.compile(r"\.where\((\w+)\s*=\s*'([^']*)'\)|\.first\(\)|\.([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?|\[(\d+)\]")

# A location: (container, key) where container is a dict and key a field name, or a list and an index.
Location = tuple[Any, Any]


def _locate(resource: dict[str, Any], path: str) -> list[Location]:
    """The nodes a simple FHIRPath expression selects, as (container, key) pairs."""
    type_ = resource.get("resourceType", "")
    if not path.startswith(type_):
        raise _unprocessable(f"FHIRPath Patch path {path!r} must start with {type_!r}")
    rest = path[len(type_):]
    nodes: list[Location] = [({"root": resource}, "root")]
    position = 0
    while position < len(rest):
        match = _STEP.match(rest, position)
        if not match:
            raise _unprocessable(f"Unsupported FHIRPath in patch: {path!r} (near {rest[position:]!r})")
        position = match.end()
        where_key, where_value, name, index, bare_index = match.groups()
        following: list[Location] = []
        if name:
            for container, key in nodes:
                value = container[key]
                if isinstance(value, dict) and name in value:
                    child = value[name]
                    if isinstance(child, list):
                        following.extend((child, i) for i in range(len(child)))
                    else:
                        following.append((value, name))
            if index is not None:
                following = following[int(index):int(index) + 1]
        elif where_key:
            following = [(c, k) for c, k in nodes
                         if isinstance(c[k], dict) and str(c[k].get(where_key)) == where_value]
        elif bare_index is not None:
            following = nodes[int(bare_index):int(bare_index) + 1]
        else:  # first()
            following = nodes[:1]
        nodes = following
    return nodes


def _part_value(part: dict[str, Any]) -> Any:
    for key, value in part.items():
        if key.startswith("value"):
            return copy.deepcopy(value)
    if "part" in part:  # a complex value given as parts, each named for its element
        parts = part["part"]
        if not isinstance(parts, list) or not all(isinstance(p, dict) and isinstance(p.get("name"), str)
                                                  for p in parts):
            raise FhirError(400, "FHIRPath Patch value: each of its parts needs a name (the element it gives)",
                            "structure")
        return {p["name"]: _part_value(p) for p in parts}
    raise FhirError(400, "FHIRPath Patch operation has no value", "structure")


def apply_fhirpath_patch(resource: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """Apply the `operation` parameters of a FHIRPath Patch to a copy of `resource`."""
    if parameters.get("resourceType") != "Parameters":
        raise FhirError(400, "A FHIRPath Patch body must be a Parameters resource", "structure")
    doc = copy.deepcopy(resource)
    operations = parameters.get("parameter", [])
    if not isinstance(operations, list) or not all(isinstance(o, dict) for o in operations):
        raise FhirError(400, "Parameters.parameter must be a list of parameters", "structure",
                        expression="Parameters.parameter")
    for index, operation in enumerate(operations):
        if operation.get("name") != "operation":
            continue
        raw_parts = operation.get("part", [])
        if not isinstance(raw_parts, list) or not all(isinstance(p, dict) for p in raw_parts):
            raise FhirError(400, f"FHIRPath Patch operation #{index}: part must be a list of parameters",
                            "structure", expression=f"Parameters.parameter[{index}].part")
        parts = {p.get("name"): p for p in raw_parts}
        kind = parts.get("type", {}).get("valueCode")
        path = parts.get("path", {}).get("valueString")
        if not kind or not path:
            raise FhirError(400, f"FHIRPath Patch operation #{index} needs a type and a path", "structure")
        if not isinstance(kind, str) or not isinstance(path, str):
            raise FhirError(400, f"FHIRPath Patch operation #{index}: type and path must be strings", "structure",
                            expression=f"Parameters.parameter[{index}].part")
        nodes = _locate(doc, path)
        if kind == "delete":
            if len(nodes) > 1:
                raise _unprocessable(f"FHIRPath Patch delete: {path!r} selects {len(nodes)} elements")
            for container, key in nodes:
                del container[key]
                _prune(doc)
        elif kind == "replace":
            if len(nodes) != 1:
                raise _unprocessable(f"FHIRPath Patch replace: {path!r} selects {len(nodes)} elements, not 1")
            container, key = nodes[0]
            container[key] = _part_value(parts.get("value", {}))
        elif kind in ("add", "insert"):
            if len(nodes) != 1:
                raise _unprocessable(f"FHIRPath Patch {kind}: {path!r} selects {len(nodes)} elements, not 1")
            container, key = nodes[0]
            target = container[key]
            name = parts.get("name", {}).get("valueString")
            value = _part_value(parts.get("value", {}))
            if kind == "add":
                if not name or not isinstance(target, dict):
                    raise _unprocessable(f"FHIRPath Patch add at {path!r} needs a name and an element")
                existing = target.get(name)
                if isinstance(existing, list):
                    existing.append(value)
                elif existing is None and name in _LIST_ELEMENTS:
                    target[name] = [value]
                else:
                    target[name] = value
            else:
                raise _unprocessable("FHIRPath Patch insert is not supported by the sandbox")
        else:
            raise FhirError(400, f"Unsupported FHIRPath Patch operation type {kind!r}", "not-supported")
    return doc


# Elements that are arrays in R4 and that clients commonly `add` to.
_LIST_ELEMENTS = frozenset({
    "extension", "identifier", "securityLabel", "category", "telecom", "address", "name", "actor",
    "participant", "slot", "specialty", "serviceType", "contained", "entry", "author", "relatesTo",
})


def _prune(node: Any) -> None:
    """Remove empty lists and objects left behind by a delete."""
    if isinstance(node, dict):
        for key in list(node):
            _prune(node[key])
            if node[key] in ([], {}):
                del node[key]
    elif isinstance(node, list):
        for item in node:
            _prune(item)
