"""Text from a server made safe to print: what a terminal or a CI log would obey (escape sequences that clear the
screen or retitle the window, a bell, a carriage return that overwrites the line, a bidi override that reverses it)
is written out as an escape, never sent as it is. The reports keep the text itself: they show it as text."""

from __future__ import annotations

_C0_C1 = [*range(0x20), 0x7F, *range(0x80, 0xA0)]
_BIDI = [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]  # embeddings, overrides and isolates
_BIDI_ESCAPES = {c: f"\\u{c:04x}" for c in _BIDI}
_ESCAPES = {c: f"\\x{c:02x}" for c in _C0_C1 if c not in (0x09, 0x0A)} | _BIDI_ESCAPES


def printable(text: str) -> str:
    """`text` with its control characters written as escapes (`\\x1b`, `\\u202e`); tabs and line breaks kept."""
    return text.translate(_ESCAPES)


def bidi_written_out(text: str) -> str:
    """`text` with its bidi embeddings, overrides and isolates written as escapes: what the acceptance file shows, where
    a browser drops other control characters but would obey these and reorder the evidence around them."""
    return text.translate(_BIDI_ESCAPES)
