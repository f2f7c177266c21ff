"""What the sandbox takes from the FHIR R4 base definitions: XML, and structural validation of writes.

Both need the R4 base StructureDefinitions (`hl7.fhir.r4.core`), loaded once, offline, from the
given package folders, `MES_FHIR_PACKAGES` and the FHIR package cache:

- XML (PDSm requires JSON and XML) through `pytest_mes.fhir.xml`. Without the package, XML is
  unavailable: requests in XML get 415 and `Accept: application/fhir+xml` gets 406, each with an
  OperationOutcome.
- Every resource written is checked against base R4 with `pytest_mes.fhir`'s validator (its
  `meta.profile` set aside: a server stores what is valid FHIR, profiles are the tests' business),
  so that malformed JSON shapes (a string where an array is due, an unknown element, a number
  for a string) are refused with 400 instead of being stored. Without the package the check is
  skipped and the sandbox relies on its own GAP/PDSm checks.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pytest_mes.errors import MesError
from pytest_mes.sandbox.outcome import FhirError

_CORE = "hl7.fhir.r4.core#4.0.1"
# Issue codes of the validator that mean "this JSON is not FHIR": wrong JSON kinds, unknown
# elements, malformed primitives. Cardinality, bindings and invariants are not enforced on writes.
_SHAPE_CODES = frozenset({"structure", "value"})


class R4Support:
    """Lazily loaded XML codec and base validator; `available` is False without the R4 base package."""

    def __init__(self, sources: Sequence[str | Path] = ()):
        self._sources = [Path(s) for s in sources]
        env = os.environ.get("MES_FHIR_PACKAGES")
        if env:
            self._sources += [Path(p) for p in env.split(os.pathsep) if p]
        self._lock = threading.Lock()
        self._loaded = False
        self._store: Any = None
        self._codec: Any = None
        self._validator: Any = None
        self.problem = ""

    def _load(self) -> None:
        with self._lock:
            if self._loaded:
                return
            try:
                from pytest_mes.fhir import xml as codec
                from pytest_mes.fhir.packages import PackageStore

                self._store = PackageStore.load(self._sources, offline=True, packages=[_CORE])
                self._codec = codec
                try:
                    from pytest_mes.fhir.validator import Validator

                    self._validator = Validator(self._store)
                except ImportError:  # the validator is optional for the sandbox
                    self._validator = None
            except (ImportError, MesError, OSError) as exc:
                self.problem = f"FHIR XML is not available in this sandbox ({exc})"
                self._store = None
            self._loaded = True

    @property
    def available(self) -> bool:
        self._load()
        return self._store is not None

    def parse(self, data: bytes) -> dict[str, Any]:
        """The JSON form of an XML resource; 415 when XML is unavailable, 400 when malformed."""
        if not self.available:
            raise FhirError(415, self.problem + "; send application/fhir+json", "not-supported")
        try:
            return self._codec.parse_xml(data, self._store)
        except MesError as exc:
            raise FhirError(400, f"Malformed FHIR XML: {exc}", "structure") from None

    def structure_errors(self, resource: dict[str, Any]) -> list[tuple[str, str]]:
        """(FHIRPath, message) of the JSON-shape errors of `resource` against base R4; [] if unchecked."""
        if not self.available or self._validator is None:
            return []
        bare = dict(resource)
        meta = bare.get("meta")
        if isinstance(meta, dict) and "profile" in meta:
            bare["meta"] = {k: v for k, v in meta.items() if k != "profile"}
            if not bare["meta"]:
                del bare["meta"]
        result = self._validator.validate(bare)
        return [(issue.expression, issue.message) for issue in result.issues
                if issue.severity in ("error", "fatal") and issue.code in _SHAPE_CODES]

    def dump(self, resource: dict[str, Any]) -> str:
        if not self.available:
            raise FhirError(406, self.problem + "; ask for application/fhir+json", "not-supported")
        return self._codec.to_xml(resource, self._store)
