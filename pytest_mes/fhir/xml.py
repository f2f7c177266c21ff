"""Read and write FHIR R4 XML, driven by the StructureDefinitions of the base types.

FHIR defines one content model and two syntaxes. This module converts between them so that an
XML response is validated exactly like its JSON form:

- :func:`parse_xml` turns FHIR XML into the dict ``json.loads`` would give for the JSON form;
- :func:`to_xml` turns that dict into FHIR XML (namespace ``http://hl7.org/fhir``).

Nothing is hand-written per resource. For each type the needed facts are compiled once from its
base StructureDefinition (snapshot) and cached per package store:

- element order (FHIR XML is ordered, https://hl7.org/fhir/R4/xml.html);
- which elements repeat (``base.max`` != "1") and so become JSON arrays;
- which elements are XML attributes (``representation: xmlAttr``: ``id``, ``Extension.url``,
  the ``value`` of primitives);
- choice types (``value[x]`` read from ``valueString``, ``valueQuantity``…);
- inline (backbone) elements and ``contentReference`` (``Questionnaire.item.item``);
- nested resources (``contained``, ``Bundle.entry.resource``): elements of type ``Resource``;
- the JSON type of each primitive (boolean, integer and its descendants, decimal, string),
  found by following ``baseDefinition`` up to ``boolean``/``integer``/``decimal``;
- the ``xhtml`` narrative ``div``, kept as a string in JSON.

Primitive values follow https://hl7.org/fhir/R4/json.html#primitive: the value goes under the
name, its ``id`` and extensions under ``_name``; in repeating primitives both arrays have the
same length with ``null`` where an item has no value or no extension.

Numbers. ``parse_xml`` converts a number the way ``json.loads`` converts the JSON text: an
integer literal becomes ``int``, any other JSON number becomes ``parse_float(text)`` (``float`` by
default, so ``1.50`` becomes ``1.5``). Pass ``parse_float=decimal.Decimal`` — and parse JSON with
``json.loads(..., parse_float=Decimal)`` — to keep decimals exact: ``to_xml`` writes a
``Decimal`` with ``str()``, so ``1.50`` survives the round trip. A value that is not a valid
boolean or JSON number is kept as the string found in the XML, so that the validator reports it
at its FHIRPath location rather than the parser hiding it.

Narrative. The ``div`` becomes the XML text of the div: the exact source slice when it stands on
its own (it declares the XHTML namespace itself and the document is UTF-8), otherwise a
canonical serialization with ``xmlns="http://www.w3.org/1999/xhtml"`` on the div.
``to_xml`` embeds the JSON string as is, after checking that it is a well-formed XHTML div.

Safety. Parsing uses the standard library's expat with no DTD: a document with a DOCTYPE is
refused (no entity expansion, no external entities), nesting deeper than
:data:`MAX_DEPTH` is refused, and every problem raises :class:`FhirXmlError` with its line.
"""

from __future__ import annotations

import json
import math
import re
import weakref
import xml.parsers.expat as expat
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pytest_mes.errors import MesError
from pytest_mes.fhir.compiler import type_code

__all__ = ["FHIR_NS", "MAX_DEPTH", "XHTML_NS", "FhirXmlError", "parse_xml", "to_xml"]

FHIR_NS = "http://hl7.org/fhir"
XHTML_NS = "http://www.w3.org/1999/xhtml"
XML_NS = "http://www.w3.org/XML/1998/namespace"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

MAX_DEPTH = 200
"""Deepest element nesting accepted; real resources stay far below (protects the recursion)."""

_JSON_INT = re.compile(r"-?(?:0|[1-9][0-9]*)\Z")
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z")
_XML_INVALID_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ATTR_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\t": "&#9;", "\n": "&#10;", "\r": "&#13;"}
)
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})


class FhirXmlError(MesError):
    """A document is not FHIR XML, or a resource cannot be written as FHIR XML."""

    def __init__(
        self, message: str, *, line: int | None = None, column: int | None = None, location: str | None = None
    ):
        self.detail = message
        self.line = line
        self.column = column
        self.location = location
        where = []
        if line is not None:
            where.append(f"line {line}" + (f", column {column}" if column is not None else ""))
        if location:
            where.append(f"at {location}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


# --------------------------------------------------------------------------------------------
# Compiled definitions


@dataclass(frozen=True)
class _Slot:
    """One element of a container, as written in XML (``xml_name``) and in JSON (``json_name``)."""

    xml_name: str  # valueString for value[x]
    json_name: str  # same as xml_name in R4
    base_name: str  # value[x], for messages
    index: int  # position in the definitions: the XML order
    repeats: bool  # base max != "1": a JSON array
    kind: str  # attribute | primitive | complex | resource | xhtml
    type_code: str  # string, HumanName, Resource… ("" for inline elements)
    inline: tuple[str, str] | None = None  # (type name, path) of a backbone element's children


@dataclass
class _Container:
    """What may appear inside one element: a type's root or a backbone element."""

    label: str
    attributes: dict[str, _Slot] = field(default_factory=dict)
    elements: dict[str, _Slot] = field(default_factory=dict)  # by XML name
    by_json: dict[str, _Slot] = field(default_factory=dict)  # by JSON name (no "_")


@dataclass(frozen=True)
class _TypeInfo:
    name: str
    kind: str  # primitive-type | complex-type | resource | logical
    abstract: bool
    json_kind: str  # boolean | integer | decimal | string (primitives only)


class _Definitions:
    """Facts compiled once per type from one store's base StructureDefinitions."""

    def __init__(self, store: Any):
        self._store = store
        self._sds: dict[str, dict | None] = {}
        self._children: dict[str, dict[str, list[dict]]] = {}
        self._types: dict[str, _TypeInfo | None] = {}
        self._containers: dict[tuple[str, str], _Container] = {}

    def _sd(self, name: str) -> dict | None:
        if name not in self._sds:
            try:
                sd = self._store.structure_definition(name)
            except (KeyError, LookupError, MesError):
                sd = None
            # Only a base definition of that very type describes the syntax (not a profile).
            if sd is not None and (sd.get("type") != name or not (sd.get("snapshot") or {}).get("element")):
                sd = None
            self._sds[name] = sd
        return self._sds[name]

    def type_info(self, name: str) -> _TypeInfo | None:
        if name in self._types:
            return self._types[name]
        sd = self._sd(name)
        info = None
        if sd is not None:
            kind = sd.get("kind", "")
            info = _TypeInfo(
                name, kind, bool(sd.get("abstract")), self._json_kind(sd) if kind == "primitive-type" else ""
            )
        self._types[name] = info
        return info

    def _json_kind(self, sd: dict) -> str:
        seen = set()
        while sd is not None and sd.get("type") not in seen:
            name = sd.get("type")
            if name in ("boolean", "integer", "decimal"):
                return name
            seen.add(name)
            base = sd.get("baseDefinition", "").rsplit("/", 1)[-1]
            sd = self._sd(base) if base and base not in ("Element", "") else None
        return "string"

    def container(self, type_name: str, path: str | None = None) -> _Container:
        """The container of ``path`` (default: the root) in the definition of ``type_name``."""
        path = path or type_name
        key = (type_name, path)
        cont = self._containers.get(key)
        if cont is None:
            cont = self._compile(type_name, path)
            self._containers[key] = cont
        return cont

    def _child_index(self, type_name: str) -> dict[str, list[dict]]:
        index = self._children.get(type_name)
        if index is None:
            index = {}
            sd = self._sd(type_name) or {}
            for element in sd.get("snapshot", {}).get("element", []):
                if element.get("sliceName") or "." not in element["path"] or ":" in element.get("id", ""):
                    continue
                parent, _, _ = element["path"].rpartition(".")
                index.setdefault(parent, []).append(element)
            self._children[type_name] = index
        return index

    def _compile(self, type_name: str, path: str) -> _Container:
        index = self._child_index(type_name)
        cont = _Container(label=path)
        for position, element in enumerate(index.get(path, [])):
            if element.get("max") == "0":
                continue  # prohibited here (xhtml.extension)
            base_name = element["path"].rpartition(".")[2]
            repeats = (element.get("base") or {}).get("max", element.get("max", "1")) != "1"
            if "xmlAttr" in element.get("representation", []):
                slot = _Slot(base_name, base_name, base_name, position, repeats, "attribute", "string")
                cont.attributes[base_name] = slot
                cont.by_json[base_name] = slot
                continue
            inline = None
            if element["path"] in index:
                inline = (type_name, element["path"])
            elif element.get("contentReference"):
                inline = (type_name, element["contentReference"].partition("#")[2])
            codes = [type_code(t) for t in element.get("type", [])] or [""]
            choice = base_name.endswith("[x]")
            stem = base_name[:-3]
            for code in codes:
                xml_name = stem + code[:1].upper() + code[1:] if choice else base_name
                slot = _Slot(
                    xml_name,
                    xml_name,
                    base_name,
                    position,
                    repeats,
                    "complex" if inline else self._kind(code),
                    code,
                    inline,
                )
                cont.elements[xml_name] = slot
                cont.by_json[xml_name] = slot
        return cont

    def _kind(self, code: str) -> str:
        if code == "xhtml":
            return "xhtml"
        info = self.type_info(code)
        if info is None:
            raise FhirXmlError(
                f"the definition of type '{code}' is not in the FHIR packages loaded; load hl7.fhir.r4.core 4.0.1"
            )
        if info.kind == "primitive-type":
            return "primitive"
        if info.kind == "resource":
            return "resource"
        return "complex"

    def slot_container(self, slot: _Slot) -> _Container:
        if slot.inline:
            return self.container(*slot.inline)
        return self.container(slot.type_code)

    def resource_info(self, name: str) -> _TypeInfo | None:
        info = self.type_info(name)
        if info is None or info.kind != "resource" or info.abstract:
            return None
        return info


_CACHE: weakref.WeakKeyDictionary[Any, _Definitions] = weakref.WeakKeyDictionary()


def _definitions(store: Any) -> _Definitions:
    """The compiled definitions of ``store``, built on first use and cached with the store."""
    try:
        defs = _CACHE.get(store)
    except TypeError:  # a store that cannot be weakly referenced: no cache
        return _Definitions(store)
    if defs is None:
        defs = _Definitions(store)
        _CACHE[store] = defs
    return defs


# --------------------------------------------------------------------------------------------
# Safe XML reading


class _Node:
    """One XML element with mixed content: children are ``_Node`` or text (``str``)."""

    __slots__ = ("attrs", "children", "column", "end", "line", "name", "ns", "start")

    def __init__(self, ns: str, name: str, attrs: dict[tuple[str, str], str], line: int, column: int, start: int):
        self.ns = ns
        self.name = name
        self.attrs = attrs
        self.children: list[_Node | str] = []
        self.line = line
        self.column = column
        self.start = start
        self.end = -1

    def elements(self) -> list[_Node]:
        return [c for c in self.children if isinstance(c, _Node)]


def _split(name: str) -> tuple[str, str]:
    ns, _, local = name.rpartition(" ")
    return ns, local


def _read_tree(data: bytes, *, force_utf8: bool) -> tuple[_Node, bool]:
    """Parse ``data`` into a tree of ``_Node``; returns the root and whether the bytes are UTF-8."""
    parser = expat.ParserCreate("UTF-8" if force_utf8 else None, namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[_Node] = []
    state: dict[str, Any] = {"root": None, "encoding": None}
    names: dict[str, tuple[str, str]] = {}  # "ns local" -> (ns, local), memoised: names repeat

    def split(name: str) -> tuple[str, str]:
        found = names.get(name)
        if found is None:
            found = names[name] = _split(name)
        return found

    def refuse_dtd(*_args: Any) -> None:
        raise FhirXmlError(
            "a DOCTYPE is not allowed in FHIR XML (entities and DTDs are refused)",
            line=parser.CurrentLineNumber,
            column=parser.CurrentColumnNumber + 1,
        )

    def xml_decl(_version: str, encoding: str | None, _standalone: int) -> None:
        state["encoding"] = encoding

    def start(name: str, attrs: dict[str, str]) -> None:
        if len(stack) >= MAX_DEPTH:
            raise FhirXmlError(f"elements are nested more than {MAX_DEPTH} deep", line=parser.CurrentLineNumber)
        ns, local = split(name)
        node = _Node(
            ns,
            local,
            {split(k): v for k, v in attrs.items()},
            parser.CurrentLineNumber,
            parser.CurrentColumnNumber + 1,
            parser.CurrentByteIndex,
        )
        if stack:
            stack[-1].children.append(node)
        else:
            state["root"] = node
        stack.append(node)

    def end(_name: str) -> None:
        stack.pop().end = parser.CurrentByteIndex

    def text(chunk: str) -> None:
        if stack:
            children = stack[-1].children
            if children and isinstance(children[-1], str):
                children[-1] += chunk
            else:
                children.append(chunk)

    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_dtd
    parser.XmlDeclHandler = xml_decl
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise FhirXmlError(
            f"malformed XML: {expat.ErrorString(exc.code)}", line=exc.lineno, column=exc.offset + 1
        ) from None
    encoding = (state["encoding"] or "utf-8").lower().replace("_", "-")
    utf8 = force_utf8 or (
        encoding in ("utf-8", "utf8") and b"\x00" not in data[:4] and not data.startswith((b"\xff\xfe", b"\xfe\xff"))
    )
    return state["root"], utf8


# --------------------------------------------------------------------------------------------
# XML -> JSON


class _Reader:
    def __init__(self, defs: _Definitions, data: bytes, utf8: bool, parse_float: Callable[[str], Any]):
        self.defs = defs
        self.data = data
        self.utf8 = utf8
        self.parse_float = parse_float
        # When a list: structural problems of a well-formed document (unknown element, out of order,
        # repeated single element) are recorded here as (message id, FHIRPath location, values) and
        # reading goes on, so that they are reported as validation issues; else they raise.
        self.problems: list[tuple[str, str, dict[str, Any]]] | None = None

    def problem(self, error: FhirXmlError, message_id: str, location: str, **values: Any) -> None:
        if self.problems is None:
            raise error
        self.problems.append((message_id, location, values))

    @staticmethod
    def fail(message: str, node: _Node, location: str | None = None) -> FhirXmlError:
        return FhirXmlError(message, line=node.line, column=node.column, location=location)

    def resource(self, node: _Node, location: str) -> dict:
        if node.ns != FHIR_NS:
            raise self.fail(
                f"element '{node.name}' is in namespace '{node.ns or '(none)'}'; "
                f"a FHIR resource must be in '{FHIR_NS}'",
                node,
                location or None,
            )
        if self.defs.resource_info(node.name) is None:
            raise self.fail(f"'{node.name}' is not a FHIR R4 resource type", node, location or None)
        result = {"resourceType": node.name}
        result.update(self.container(node, self.defs.container(node.name), location or node.name))
        return result

    def container(self, node: _Node, cont: _Container, location: str) -> dict:
        values: dict[str, tuple[_Slot, list]] = {}
        for (ans, aname), value in node.attrs.items():
            if ans == XSI_NS:
                continue  # xsi:schemaLocation, as the official examples carry
            slot = None if ans else cont.attributes.get(aname)
            if slot is None:
                shown = ("xml:" if ans == XML_NS else f"{{{ans}}}" if ans else "") + aname
                self.problem(self.fail(f"attribute '{shown}' is not allowed on {cont.label}", node, location),
                             "XML_ATTRIBUTE", location, name=shown, type=cont.label)
                continue
            values[slot.json_name] = (slot, [value])
        last: _Slot | None = None
        for child in node.children:
            if isinstance(child, str):
                if child.strip():
                    raise self.fail(
                        f"text content {child.strip()[:40]!r} is not allowed in "
                        f"{cont.label}: FHIR XML carries values in 'value' attributes",
                        node,
                        location,
                    )
                continue
            slot = cont.elements.get(child.name)
            expected_ns = XHTML_NS if slot is not None and slot.kind == "xhtml" else FHIR_NS
            if child.ns != expected_ns:
                raise self.fail(
                    f"element '{child.name}' is in namespace '{child.ns or '(none)'}', expected '{expected_ns}'",
                    child,
                    location,
                )
            if slot is None:
                self.problem(self.fail(f"unknown element '{child.name}': not defined in {cont.label}", child,
                                       location), "UNKNOWN_ELEMENT", f"{location}.{child.name}", name=child.name,
                             type=cont.label)
                continue
            if last is not None and slot.index <= last.index:
                if slot.index < last.index:
                    self.problem(self.fail(
                        f"element '{child.name}' is out of order: it must come before "
                        f"'{last.xml_name}' (FHIR XML follows the order of the definitions)",
                        child,
                        location,
                    ), "XML_ORDER", f"{location}.{slot.json_name}", name=child.name, before=last.xml_name)
                elif slot.xml_name != last.xml_name:
                    self.problem(self.fail(
                        f"only one of the choices of '{slot.base_name}' is allowed, found "
                        f"'{last.xml_name}' and '{slot.xml_name}'",
                        child,
                        location,
                    ), "XML_CHOICE", f"{location}.{slot.base_name.removesuffix('[x]')}",
                        name=slot.base_name.removesuffix("[x]"), first=last.xml_name,
                        second=slot.xml_name)
                    continue
            if slot.json_name in values and not slot.repeats:  # repeated (in order or not): the first is kept
                self.problem(self.fail(
                    f"element '{child.name}' appears more than once but allows at most 1", child, location
                ), "XML_REPEATED", f"{location}.{slot.json_name}", name=child.name)
                continue
            last = slot if last is None or slot.index > last.index else last
            items = values.setdefault(slot.json_name, (slot, []))[1]
            here = f"{location}.{slot.json_name}" + (f"[{len(items)}]" if slot.repeats else "")
            items.append(self.item(child, slot, here))
        return self.assemble(values)

    def item(self, node: _Node, slot: _Slot, location: str) -> Any:
        if slot.kind == "primitive":
            return self.primitive(node, slot, location)
        if slot.kind == "xhtml":
            return self.xhtml(node)
        if slot.kind == "resource":
            if node.attrs:
                raise self.fail(f"'{slot.xml_name}' takes no attributes, only one resource element", node, location)
            inner = node.elements()
            if len(inner) != 1 or any(isinstance(c, str) and c.strip() for c in node.children):
                raise self.fail(
                    f"'{slot.xml_name}' must hold exactly one resource element, found {len(inner)}", node, location
                )
            return self.resource(inner[0], location)
        return self.container(node, self.defs.slot_container(slot), location)

    def primitive(self, node: _Node, slot: _Slot, location: str) -> tuple[Any, dict | None]:
        kind = self.defs.type_info(slot.type_code).json_kind
        if not node.children and len(node.attrs) == 1 and ("", "value") in node.attrs:
            return self.convert(node.attrs["", "value"], kind), None  # the common case, fast
        parts = self.container(node, self.defs.container(slot.type_code), location)
        raw = parts.pop("value", None)
        if raw is None and not parts:
            if self.problems is None:
                raise self.fail(f"element '{slot.xml_name}' has no value attribute, id or extension "
                                "(FHIR does not allow empty elements)", node, location)
            return None, {}  # read as an empty element, which the validator reports (ele-1)
        return (None if raw is None else self.convert(raw, kind)), (parts or None)

    def convert(self, raw: str, kind: str) -> Any:
        if kind == "boolean":
            return {"true": True, "false": False}.get(raw, raw)
        if kind in ("integer", "decimal") and _JSON_NUMBER.match(raw):
            return int(raw) if _JSON_INT.match(raw) else self.parse_float(raw)
        return raw

    def xhtml(self, node: _Node) -> str:
        if node.name != "div":
            raise self.fail(f"the narrative must be an XHTML 'div', found '{node.name}'", node)
        if self.utf8 and node.children and self.data[node.end : node.end + 2] == b"</":
            close = self.data.find(b">", node.end)
            try:
                raw = self.data[node.start : close + 1].decode("utf-8")
            except UnicodeDecodeError:
                raw = ""
            if raw.startswith("<div") and _standalone_div(raw):
                return raw
        return _serialize_xhtml(node)

    @staticmethod
    def assemble(values: dict[str, tuple[_Slot, list]]) -> dict:
        out: dict[str, Any] = {}
        for name, (slot, items) in sorted(values.items(), key=lambda kv: kv[1][0].index):
            if slot.kind == "attribute":
                out[name] = items[0]
            elif slot.kind == "primitive":
                vals = [v for v, _ in items]
                extras = [e for _, e in items]
                if slot.repeats:
                    if any(v is not None for v in vals):
                        out[name] = vals
                    if any(e is not None for e in extras):
                        out["_" + name] = extras
                else:
                    if vals[0] is not None:
                        out[name] = vals[0]
                    if extras[0] is not None:
                        out["_" + name] = extras[0]
            else:
                out[name] = items if slot.repeats else items[0]
        return out


def _standalone_div(text: str) -> bool:
    """Whether ``text`` parses on its own as an XHTML div (no prefix borrowed from ancestors)."""
    try:
        root, _ = _read_tree(text.encode("utf-8"), force_utf8=True)
    except FhirXmlError:
        return False
    return root.ns == XHTML_NS and root.name == "div"


def _serialize_xhtml(node: _Node) -> str:
    """Canonical XML of an XHTML subtree: XHTML unprefixed, its namespace declared on the root."""
    out: list[str] = []
    prefixes: dict[str, str] = {XML_NS: "xml"}

    def qname(ns: str, name: str, declare: list[str]) -> str:
        if not ns:
            return name
        if ns not in prefixes:
            prefixes[ns] = f"ns{len(prefixes)}"
            declare.append(f' xmlns:{prefixes[ns]}="{ns.translate(_ATTR_ESCAPES)}"')
        return f"{prefixes[ns]}:{name}"

    def write(n: _Node, default_ns: str) -> None:
        declare: list[str] = []
        if n.ns == default_ns:
            tag = n.name
        elif n.ns == XHTML_NS:
            tag = n.name
            declare.append(f' xmlns="{XHTML_NS}"')
            default_ns = XHTML_NS
        else:
            tag = qname(n.ns, n.name, declare)
        attrs = "".join(
            f' {qname(ans, aname, declare)}="{value.translate(_ATTR_ESCAPES)}"'
            for (ans, aname), value in n.attrs.items()
        )
        out.append(f"<{tag}{''.join(declare)}{attrs}")
        if not n.children:
            out.append("/>")
            return
        out.append(">")
        for child in n.children:
            if isinstance(child, str):
                out.append(child.translate(_TEXT_ESCAPES))
            else:
                write(child, default_ns)
        out.append(f"</{tag}>")

    write(node, "")
    return "".join(out)


def parse_xml(data: bytes | str, store: Any, *, parse_float: Callable[[str], Any] = float) -> dict:
    """Read a FHIR XML resource into its JSON form, as ``json.loads`` would give it.

    Args:
        data: the XML document (bytes in the declared encoding, UTF-8 by default, or text).
        store: a package store offering ``structure_definition(type_name)`` (base R4 types).
        parse_float: called with the text of a non-integer number, as in ``json.loads``; pass
            ``decimal.Decimal`` to keep decimals such as ``1.50`` exact.

    Returns:
        The resource as a dict, starting with ``resourceType``.

    Raises:
        FhirXmlError: malformed XML, a DOCTYPE, a wrong namespace, an unknown or misplaced element
            or attribute; the message gives the line and the FHIRPath location.
    """
    return _read(data, store, parse_float, None)


def read_xml(
    data: bytes | str, store: Any, *, parse_float: Callable[[str], Any] = float
) -> tuple[dict, list[tuple[str, str, dict[str, Any]]]]:
    """As :func:`parse_xml`, but the structural problems of a well-formed document — an unknown
    element (skipped), an element out of order, a single element repeated (the first kept) — are
    returned as ``(message id, FHIRPath location, message values)`` for the validator to report as
    issues, instead of raised. Still raises FhirXmlError for a document that is not well-formed XML
    or not a FHIR resource."""
    problems: list[tuple[str, str, dict[str, Any]]] = []
    return _read(data, store, parse_float, problems), problems


def _read(data: bytes | str, store: Any, parse_float: Callable[[str], Any],
          problems: list[tuple[str, str, dict[str, Any]]] | None) -> dict:
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    root, utf8 = _read_tree(raw, force_utf8=isinstance(data, str))
    if root is None:  # pragma: no cover - expat reports "no element found" first
        raise FhirXmlError("the document has no root element")
    reader = _Reader(_definitions(store), raw, utf8, parse_float)
    reader.problems = problems
    return reader.resource(root, "")


# --------------------------------------------------------------------------------------------
# JSON -> XML


class _Writer:
    def __init__(self, defs: _Definitions, pretty: bool):
        self.defs = defs
        self.pretty = pretty
        self.out: list[str] = []

    def newline(self, depth: int) -> None:
        if self.pretty:
            self.out.append("\n" + "  " * depth)

    def resource(self, obj: Any, location: str, depth: int, root: bool = False) -> None:
        if not isinstance(obj, dict):
            raise FhirXmlError(f"a resource must be a JSON object, found {_json_type(obj)}", location=location)
        rtype = obj.get("resourceType")
        if not isinstance(rtype, str) or self.defs.resource_info(rtype) is None:
            raise FhirXmlError(
                f"'resourceType' must name a FHIR R4 resource type, found {rtype!r}", location=location or None
            )
        here = location or rtype
        extra = f' xmlns="{FHIR_NS}"' if root else ""
        self.element(rtype, obj, self.defs.container(rtype), here, depth, extra, skip="resourceType")

    def element(
        self, tag: str, obj: Any, cont: _Container, location: str, depth: int, extra: str = "", skip: str = ""
    ) -> None:
        if not isinstance(obj, dict):
            raise FhirXmlError(f"expected a JSON object, found {_json_type(obj)}", location=location)
        if depth >= MAX_DEPTH:
            raise FhirXmlError(f"elements are nested more than {MAX_DEPTH} deep", location=location)
        present: dict[int, list[_Slot]] = {}
        for key in obj:
            if key == skip:
                continue
            slot = cont.by_json.get(key[1:] if key.startswith("_") else key)
            if slot is None or (key.startswith("_") and slot.kind != "primitive"):
                raise FhirXmlError(f"unknown element '{key}': not defined in {cont.label}", location=location)
            same = present.setdefault(slot.index, [])
            if slot not in same:
                same.append(slot)
        attrs = []
        for index in sorted(present):
            for slot in present[index]:
                if slot.kind == "attribute":
                    value = obj[slot.json_name]
                    if not isinstance(value, str):
                        raise FhirXmlError(
                            f"'{slot.json_name}' must be a string, found {_json_type(value)}",
                            location=f"{location}.{slot.json_name}",
                        )
                    attrs.append(f' {slot.xml_name}="{_attr(value, location)}"')
        self.out.append(f"<{tag}{extra}{''.join(attrs)}")
        children = [s for i in sorted(present) for s in present[i] if s.kind != "attribute"]
        if not children:
            self.out.append("/>")
            return
        self.out.append(">")
        for slot in children:
            same = present[slot.index]
            if len(same) > 1:
                names = "', '".join(s.json_name for s in same)
                raise FhirXmlError(
                    f"only one of the choices of '{slot.base_name}' is allowed, found '{names}'", location=location
                )
            self.slot(obj, slot, location, depth + 1)
        self.newline(depth)
        self.out.append(f"</{tag}>")

    def slot(self, obj: dict, slot: _Slot, location: str, depth: int) -> None:
        name = slot.json_name
        here = f"{location}.{name}"
        if slot.kind == "primitive":
            values, extras = obj.get(name), obj.get("_" + name)
            if slot.repeats:
                for label, seq in ((name, values), ("_" + name, extras)):
                    if seq is not None and (not isinstance(seq, list) or not seq):
                        raise FhirXmlError(f"'{label}' must be a non-empty array", location=here)
                if values is not None and extras is not None and len(values) != len(extras):
                    raise FhirXmlError(
                        f"'{name}' and '_{name}' must have the same length ({len(values)} and {len(extras)})",
                        location=here,
                    )
                count = len(values if values is not None else extras)
                for i in range(count):
                    self.primitive(
                        slot, values[i] if values else None, extras[i] if extras else None, f"{here}[{i}]", depth
                    )
            else:
                self.primitive(slot, values, extras, here, depth)
            return
        value = obj[name]
        items = value if slot.repeats else [value]
        if slot.repeats and (not isinstance(value, list) or not value):
            raise FhirXmlError(f"'{name}' must be a non-empty array", location=here)
        if not slot.repeats and isinstance(value, list):
            raise FhirXmlError(f"'{name}' must not be an array (it allows at most 1)", location=here)
        for i, item in enumerate(items):
            where = f"{here}[{i}]" if slot.repeats else here
            self.newline(depth)
            if slot.kind == "xhtml":
                self.out.append(_checked_div(item, where))
            elif slot.kind == "resource":
                self.out.append(f"<{slot.xml_name}>")
                self.newline(depth + 1)
                self.resource(item, where, depth + 1)
                self.newline(depth)
                self.out.append(f"</{slot.xml_name}>")
            else:
                self.element(slot.xml_name, item, self.defs.slot_container(slot), where, depth)

    def primitive(self, slot: _Slot, value: Any, extra: Any, location: str, depth: int) -> None:
        if value is None and extra is None:
            raise FhirXmlError(f"'{slot.json_name}' is null and has no id or extension", location=location)
        if extra is not None and not isinstance(extra, dict):
            raise FhirXmlError(f"'_{slot.json_name}' must be an object, found {_json_type(extra)}", location=location)
        parts = dict(extra or {})
        if "value" in parts:
            raise FhirXmlError(f"'_{slot.json_name}' must not hold a 'value'", location=location)
        if value is not None:
            parts["value"] = _lexical(value, self.defs.type_info(slot.type_code), location)
        self.newline(depth)
        self.element(slot.xml_name, parts, self.defs.container(slot.type_code), location, depth)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float | Decimal):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _lexical(value: Any, info: _TypeInfo, location: str) -> str:
    """The text of the ``value`` attribute for a JSON primitive value."""
    if isinstance(value, str):
        return value  # written verbatim, even for a number type: the validator judges it
    kind = info.json_kind
    if isinstance(value, bool):
        if kind == "boolean":
            return "true" if value else "false"
    elif isinstance(value, int) and kind in ("integer", "decimal"):
        return str(value)
    elif isinstance(value, float | Decimal) and kind in ("integer", "decimal"):
        if not math.isfinite(value):
            raise FhirXmlError(f"{value} is not a FHIR number", location=location)
        return json.dumps(value) if isinstance(value, float) else str(value)
    expected = {"boolean": "a boolean", "integer": "a number", "decimal": "a number"}.get(kind, "a string")
    raise FhirXmlError(f"expected {expected} (FHIR {info.name}), found {_json_type(value)}", location=location)


def _attr(value: str, location: str) -> str:
    if _XML_INVALID_CHARS.search(value):
        raise FhirXmlError("the value holds a character that XML 1.0 cannot carry", location=location)
    return value.translate(_ATTR_ESCAPES)


def _checked_div(value: Any, location: str) -> str:
    if not isinstance(value, str):
        raise FhirXmlError(f"the narrative 'div' must be a string, found {_json_type(value)}", location=location)
    if not value.startswith("<div") or not _standalone_div(value):
        raise FhirXmlError(
            f"the narrative 'div' must be a well-formed <div> in the XHTML namespace (xmlns=\"{XHTML_NS}\")",
            location=location,
        )
    return value


def to_xml(resource: dict, store: Any, *, pretty: bool = False) -> str:
    """Write a resource given in its JSON form as FHIR XML.

    Elements are written in the order of the definitions, primitives as ``value`` attributes with
    their ``_name`` companions merged back, the narrative ``div`` as is.

    Args:
        resource: the JSON form (a dict as ``json.loads`` gives; ``Decimal`` numbers allowed).
        store: a package store offering ``structure_definition(type_name)`` (base R4 types).
        pretty: indent nested elements (the narrative is never re-indented).

    Returns:
        The XML document, without an XML declaration (encode it as UTF-8).

    Raises:
        FhirXmlError: the resource uses an unknown element, a wrong JSON shape (an array where one
            value is expected, mismatched ``name``/``_name`` arrays), a value of the wrong JSON
            type, or a narrative that is not a well-formed XHTML div.
    """
    writer = _Writer(_definitions(store), pretty)
    writer.resource(resource, "", 0, root=True)
    return "".join(writer.out) + ("\n" if pretty else "")
