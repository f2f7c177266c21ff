"""Reference targets outside the resource validated: the resolver a caller gives the validator.

The HL7 validator asks its host to fetch the target of a literal reference that is neither contained
nor in the Bundle being validated; when the host finds it, the target's type is checked against the
reference's and, when the reference's element names target profiles, the target must conform to one
of them ("Unable to find a profile match"). A :data:`Resolver` is that host, given as
``Validator(store, resolver=...)`` or ``validate(..., resolver=...)``: a callable taking the reference
string (``Patient/123``, an absolute url, ``urn:uuid:…``) and returning the resource (parsed JSON) or
None. Without a resolver, or when it finds nothing, the target is not judged (only the type its
reference names is), as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Resolver = Callable[[str], Any]


class Fetched:
    """The targets a resolver gave during one validation, by reference string.

    Each reference is asked once, and the same object is given back each time: conformance verdicts are
    kept per object, so a chain or a cycle of references between fetched resources is judged once."""

    __slots__ = ("found", "resolver")

    def __init__(self, resolver: Resolver):
        self.resolver = resolver
        self.found: dict[str, dict | None] = {}

    def get(self, ref: str) -> tuple[dict | None, str | None]:
        """(the target, or None; why the resolver failed, or None)."""
        if ref in self.found:
            return self.found[ref], None
        self.found[ref] = None  # a resolver failing once is not asked again
        try:
            target = self.resolver(ref)
        except Exception as exc:  # the caller's code: its failure is said where the reference is, not a crash
            return None, f"{type(exc).__name__}: {exc}"
        if isinstance(target, dict) and isinstance(target.get("resourceType"), str):
            self.found[ref] = target
            return target, None
        return None, None
