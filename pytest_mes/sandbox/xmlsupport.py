"""FHIR XML for the sandbox, on top of `pytest_mes.fhir.xml` (PDSm requires JSON and XML).

The XML codec needs the R4 base StructureDefinitions (element order, arrays, attributes); they are
loaded once, offline, from the given package folders, `MES_FHIR_PACKAGES` and the FHIR package
cache. When they cannot be found, XML is simply unavailable: requests in XML get 415 and
`Accept: application/fhir+xml` gets 406, each with an OperationOutcome.
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


class XmlSupport:
    """Lazily loaded XML codec; `available` is False when the R4 base package is missing."""

    def __init__(self, sources: Sequence[str | Path] = ()):
        self._sources = [Path(s) for s in sources]
        env = os.environ.get("MES_FHIR_PACKAGES")
        if env:
            self._sources += [Path(p) for p in env.split(os.pathsep) if p]
        self._lock = threading.Lock()
        self._loaded = False
        self._store: Any = None
        self._codec: Any = None
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

    def dump(self, resource: dict[str, Any]) -> str:
        if not self.available:
            raise FhirError(406, self.problem + "; ask for application/fhir+json", "not-supported")
        return self._codec.to_xml(resource, self._store)
