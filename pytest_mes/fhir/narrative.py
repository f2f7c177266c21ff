"""The XHTML narrative (``Narrative.div``) against the FHIR rules: txt-1 (allowed elements and attributes,
well-formed, no DTD nor processing instruction), txt-2 (some text or an image), and what the HL7 validator
reports besides (each forbidden element, the language sections).

:func:`narrative_verdict` judges ordinary narratives from their start tags (expat in C, no Python callback),
the rest through expat's events.
"""

from __future__ import annotations

import functools
import re
from html import unescape
from typing import Any
from xml.parsers import expat

_XHTML = "http://www.w3.org/1999/xhtml"
_XML_NS = "http://www.w3.org/XML/1998/namespace"
# The FHIR narrative rules (txt-1), as the HL7 validator's allow-lists: basic HTML 4 formatting,
# lists, tables, <a> (name or href), images; no scripts, forms, frames, objects, styles sheets.
_NARRATIVE_ELEMENTS = frozenset({
    "p", "br", "div", "h1", "h2", "h3", "h4", "h5", "h6", "a", "span", "b", "em", "i", "strong", "small", "big",
    "tt", "dfn", "q", "var", "abbr", "acronym", "cite", "blockquote", "hr", "address", "bdo", "kbd", "sub",
    "sup", "ul", "ol", "li", "dl", "dt", "dd", "pre", "table", "caption", "colgroup", "col", "thead", "tr",
    "tfoot", "tbody", "th", "td", "code", "samp", "img", "map", "area",
})
_NARRATIVE_ATTRIBUTES = frozenset({
    "title", "style", "class", "id", "lang", "dir", "accesskey", "tabindex", "span", "width", "align", "valign",
    "char", "charoff", "abbr", "axis", "headers", "scope", "rowspan", "colspan",
})
_NARRATIVE_ELEMENT_ATTRIBUTES = {
    "a": frozenset({"href", "name", "type", "rel", "hreflang", "shape", "coords"}),
    "img": frozenset({"src", "alt", "height", "border", "usemap", "longdesc", "ismap"}),
    "area": frozenset({"href", "alt", "shape", "coords", "nohref"}),
    "map": frozenset({"name"}),
    "table": frozenset({"summary", "border", "frame", "rules", "cellspacing", "cellpadding", "bgcolor"}),
    "blockquote": frozenset({"cite"}),
    "q": frozenset({"cite"}),
    "ol": frozenset({"type", "start", "compact"}),
    "ul": frozenset({"type", "compact"}),
    "li": frozenset({"type", "value"}),
    "td": frozenset({"nowrap", "bgcolor", "height"}),
    "th": frozenset({"nowrap", "bgcolor", "height"}),
    "tr": frozenset({"bgcolor"}),
    "pre": frozenset({"space"}),
}
# Per element: every attribute it may carry (the common ones, its own, and the XML ones).
_ALLOWED_ATTRIBUTES = {
    name: _NARRATIVE_ATTRIBUTES | _NARRATIVE_ELEMENT_ATTRIBUTES.get(name, frozenset()) | {"xmlns", "xml:lang",
                                                                                           "xml:space"}
    for name in _NARRATIVE_ELEMENTS
}
_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")
_XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})


_XHTML_QNAMES = frozenset(f"{_XHTML} {name}" for name in _NARRATIVE_ELEMENTS)
_SCRIPT_URL = re.compile(r"^[\x00-\x20]*(?:j[\x00-\x20]*a[\x00-\x20]*v[\x00-\x20]*a|v[\x00-\x20]*b)[\x00-\x20]*"
                         r"s[\x00-\x20]*c[\x00-\x20]*r[\x00-\x20]*i[\x00-\x20]*p[\x00-\x20]*t[\x00-\x20]*:",
                         re.IGNORECASE)


_TEXT_RUN = re.compile(r">([^<]*[^\s<][^<]*)<")  # text between two tags with some non-whitespace


def _entity(m: re.Match[str]) -> str:  # HTML named entities (&nbsp;) are accepted, as by the HL7 validator
    from html.entities import name2codepoint

    name = m.group(1)
    if name in _XML_ENTITIES or name not in name2codepoint:
        return m.group(0)
    return f"&#{name2codepoint[name]};"


@functools.lru_cache(maxsize=1)
def narrative_verdict(div: str) -> tuple[bool, bool]:
    """(txt-1 holds, txt-2 holds) for a narrative div (cached for one div: txt-1 and txt-2 read the
    same one). Ordinary narratives are judged by their start tags (:func:`_narrative_by_tags`); the
    rest by expat's events (:func:`_narrative_by_events`, namespace-aware :func:`_narrative_events`)."""
    text = _ENTITY.sub(_entity, div) if "&" in div else div
    content = any(not unescape(run.group(1)).isspace() for run in _TEXT_RUN.finditer(div))
    if "xmlns:" in div:
        return _narrative_events(text, content)
    verdict = _narrative_by_tags(text, content)
    return verdict if verdict is not None else _narrative_by_events(text, content)


# A start tag (well-formed XML has no "<" in text nor in attribute values, so without comments, CDATA
# and processing instructions every "<" not followed by "/" opens one), its parts, its attributes.
# "<!" and "<?" are found too: no start tag has that form, so they send the narrative to the events.
_START_TAG = re.compile(r"<(?:[^/!?][^>]*>|[!?])")
_TAG_PARTS = re.compile(r"<([^\s/>]+)((?:\s+[^\s=/>]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*)\s*/?>")
_ATTRIBUTE = re.compile(r"([^\s=/>]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_IMG_TAG = re.compile(r"<img[\s/>]")
_PLAIN_ROOT = f'<div xmlns="{_XHTML}">'

_ALLOWED_TAGS: set[str] = set()  # start tags already judged allowed: a narrative repeats a few dozen
_ALLOWED_TAGS_LIMIT = 20_000


def _narrative_by_tags(text: str, content: bool) -> tuple[bool, bool] | None:
    """The verdict of :func:`_narrative_by_events` from a bare well-formedness parse (expat in C, no
    Python callback) and a scan of the start tags; None when the scan cannot be sure (comments, CDATA,
    an entity or a ">" in an attribute value…) and the events must decide."""
    tags = _START_TAG.findall(text)
    distinct = set(tags)
    if "<!" in distinct or "<?" in distinct:
        return None  # a DTD or a processing instruction: the events say why it is refused
    try:
        expat.ParserCreate().Parse(text, True)
    except expat.ExpatError:
        return False, True  # not well-formed: txt-1; txt-2 is then not the matter
    if not tags:
        return None
    txt_2 = content or _IMG_TAG.search(text) is not None
    if tags[0] != _PLAIN_ROOT:
        root = _tag_attributes(tags[0])
        if root is None:
            return None
        if root[0] != "div" or root[1].get("xmlns") != _XHTML:
            return False, txt_2
    for tag in distinct.difference(_ALLOWED_TAGS):
        verdict = _tag_allowed(tag)
        if verdict is not True:
            return None if verdict is None else (False, txt_2)
        if len(_ALLOWED_TAGS) < _ALLOWED_TAGS_LIMIT:
            _ALLOWED_TAGS.add(tag)
    return True, txt_2


def _tag_attributes(tag: str) -> tuple[str, dict[str, str]] | None:
    """(element name, attributes) of a start tag; None when a value holds an entity (expat would decode
    it) or the tag is not in the plain form."""
    m = _TAG_PARTS.fullmatch(tag)
    if m is None:
        return None
    attributes = {}
    for name, double, single in _ATTRIBUTE.findall(m.group(2)):
        value = double or single
        if "&" in value:
            return None
        attributes[name] = value
    return m.group(1), attributes


def _tag_allowed(tag: str) -> bool | None:
    """The start handler of :func:`_narrative_by_events` on one start tag; None: not judged here."""
    parsed = _tag_attributes(tag)
    if parsed is None:
        return None
    name, attrs = parsed
    if name not in _NARRATIVE_ELEMENTS:
        return False
    return not attrs or _attributes_allowed(name, attrs)


def _attributes_allowed(name: str, attrs: dict[str, str]) -> bool:
    # Set inclusion rules out unknown and on* attributes at once; values with a ':' may be URLs.
    allowed = _ALLOWED_ATTRIBUTES.get(name)
    return allowed is not None and attrs.keys() <= allowed and attrs.get("xmlns", _XHTML) == _XHTML and \
        not any(":" in value and _SCRIPT_URL.match(unescape(value)) for value in attrs.values())


def _narrative_by_events(text: str, content: bool) -> tuple[bool, bool]:
    """One expat pass (no DTD, no entity declaration, no processing instruction) checking the elements
    and attributes against the allow-lists."""
    state = [True, False, True]  # txt-1 holds, an image was seen, next element is the root

    def start(name: str, attrs: dict[str, str]) -> None:
        if state[2]:
            state[2] = False
            if name != "div" or attrs.get("xmlns") != _XHTML:
                state[0] = False  # the root is a div declaring the XHTML namespace
        if name not in _NARRATIVE_ELEMENTS:
            state[0] = False
        elif name == "img":
            state[1] = True
        if attrs and not _attributes_allowed(name, attrs):
            state[0] = False

    parser = expat.ParserCreate()
    parser.StartElementHandler = start
    return _parse_narrative(parser, text, state, content)


def _parse_narrative(parser: Any, text: str, state: list[bool], content: bool) -> tuple[bool, bool]:
    """Run `parser` (its element handler set, writing [txt-1 holds, an image was seen] into `state`)
    with no DTD, entity declaration nor processing instruction allowed."""

    def forbidden(*_: Any) -> None:
        state[0] = False

    parser.StartDoctypeDeclHandler = forbidden
    parser.EntityDeclHandler = forbidden
    parser.ProcessingInstructionHandler = forbidden
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(text, True)
    except expat.ExpatError:
        return False, True  # not well-formed: txt-1; txt-2 is then not the matter
    return state[0], content or state[1]


def narrative_bad_elements(div: str) -> list[str]:
    """The names of the elements a narrative may not hold (``script``, ``form``…), each once, in document
    order: the HL7 validator reports each besides txt-1. Empty for a narrative txt-1 accepts."""
    if narrative_verdict(div)[0]:
        return []
    found: dict[str, None] = {}

    def start(name: str, _attrs: dict[str, str]) -> None:
        local = name.rpartition(" ")[2]
        if local not in _NARRATIVE_ELEMENTS:
            found.setdefault(local)

    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler = start
    _parse_narrative(parser, _ENTITY.sub(_entity, div) if "&" in div else div, [True, False], False)
    return list(found)


def narrative_sections(div: str) -> list[str] | None:
    """The languages of a narrative's language sections (the root div's children carrying ``lang`` or
    ``xml:lang``), in document order; None when the div is not well-formed XML."""
    depth, found = [0], []

    def start(_name: str, attrs: dict[str, str]) -> None:
        depth[0] += 1
        lang = attrs.get("lang") or attrs.get(f"{_XML_NS} lang")
        if depth[0] == 2 and lang and lang not in found:
            found.append(lang)

    def end(_name: str) -> None:
        depth[0] -= 1

    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    state = [True, False]
    _parse_narrative(parser, _ENTITY.sub(_entity, div) if "&" in div else div, state, False)
    return found if state[0] or found else None


def _narrative_events(text: str, content: bool) -> tuple[bool, bool]:
    """The namespace-aware check of :func:`narrative_verdict`, through expat's events."""
    state = [True, False]  # txt-1 holds, an image was seen

    def attributes(name: str, attrs: dict[str, str]) -> None:
        local = name.rpartition(" ")[2]
        allowed = _NARRATIVE_ELEMENT_ATTRIBUTES.get(local, frozenset())
        for attr, value in attrs.items():
            ans, _, alocal = attr.rpartition(" ")
            if ans == _XML_NS and alocal in ("lang", "space"):
                continue
            known = alocal in _NARRATIVE_ATTRIBUTES or alocal in allowed
            if ans or alocal[:2].lower() == "on" or not known or _SCRIPT_URL.match(unescape(value)):
                state[0] = False

    def start(name: str, attrs: dict[str, str]) -> None:
        if name not in _XHTML_QNAMES:
            state[0] = False
        elif name.endswith(" img"):
            state[1] = True
        if attrs:
            attributes(name, attrs)

    def root(name: str, attrs: dict[str, str]) -> None:
        if name != f"{_XHTML} div":
            state[0] = False
        parser.StartElementHandler = start
        start(name, attrs)

    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler = root
    return _parse_narrative(parser, text, state, content)
