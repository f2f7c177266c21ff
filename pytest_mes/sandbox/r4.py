"""What the sandbox takes from the FHIR R4 base definitions: XML, and structural validation of writes.

Both need the R4 base StructureDefinitions (`hl7.fhir.r4.core`), loaded when the sandbox starts from
the given package folders, `MES_FHIR_PACKAGES`, the FHIR package cache and (unless MES_OFFLINE) the
registry. Without them the sandbox does not start: a reference server that answered XML with 415 would
fail its own tests.

- XML (PDSm requires JSON and XML) through `pytest_mes.fhir.xml`.
- Every resource written is checked against base R4 with `pytest_mes.fhir`'s validator (its
  `meta.profile` set aside: a server stores what is valid FHIR, profiles are the tests' business),
  so that malformed JSON shapes (a string where an array is due, an unknown element, a number
  for a string) are refused with 400 instead of being stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pytest_mes.environment import env_flag, env_packages
from pytest_mes.errors import MesError, PackageError
from pytest_mes.sandbox.outcome import FhirError

_CORE = "hl7.fhir.r4.core#4.0.1"
# Issue codes of the validator that mean "this JSON is not FHIR": wrong JSON kinds, unknown
# elements, malformed primitives. Cardinality, bindings and invariants are not enforced on writes.
_SHAPE_CODES = frozenset({"structure", "value"})


class R4Support:
    """The XML codec and the base validator over `hl7.fhir.r4.core`, without which the sandbox does not start.

    Raises:
        PackageError: the R4 base package is in none of the folders, nor in the FHIR package cache, nor
            (unless MES_OFFLINE) on the FHIR package registry.
    """

    def __init__(self, sources: Sequence[str | Path] = ()):
        from pytest_mes.fhir import xml as codec
        from pytest_mes.fhir.store import PackageStore
        from pytest_mes.fhir.validator import Validator

        try:
            self._store = PackageStore.load([*(Path(s) for s in sources), *env_packages()],
                                            offline=env_flag("MES_OFFLINE"), packages=[_CORE])
        except PackageError as exc:
            raise PackageError(f"the sandbox needs {_CORE} (FHIR XML, structure checks of writes): {exc}") from None
        self._codec = codec
        self._validator = Validator(self._store)

    def parse(self, data: bytes) -> dict[str, Any]:
        """The JSON form of an XML resource; 400 when malformed."""
        try:
            return self._codec.parse_xml(data, self._store)
        except MesError as exc:
            raise FhirError(400, f"Malformed FHIR XML: {exc}", "structure") from None

    def structure_errors(self, resource: dict[str, Any]) -> list[tuple[str, str]]:
        """(FHIRPath, message) of the JSON-shape errors of `resource` against base R4."""
        bare = dict(resource)
        meta = bare.get("meta")
        if isinstance(meta, dict) and "profile" in meta:
            bare["meta"] = {k: v for k, v in meta.items() if k != "profile"}
            if not bare["meta"]:
                del bare["meta"]
        result = self._validator.validate(bare)
        return [(issue.expression, issue.message) for issue in result.issues
                if issue.severity in ("error", "fatal") and issue.code in _SHAPE_CODES]

    def check_structure(self, resource: dict[str, Any], what: str, *, status: int = 400,
                        expression: str | None = None) -> None:
        """Refuse (`status`) a resource whose JSON is not FHIR R4: "`what`: the first problem (and N more)",
        the OperationOutcome pointing at `expression` (default: that problem's location)."""
        problems = self.structure_errors(resource)
        if problems:
            first, message = problems[0]
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise FhirError(status, f"{what}: {first}: {message}{more}", "structure", expression=expression or first)

    def dump(self, resource: dict[str, Any]) -> str:
        return self._codec.to_xml(resource, self._store)
