"""The R4 model fhirpathpy evaluates with, made to say what the HL7 FHIRPath engine says of types.

fhirpathpy 2.2.4 types a FHIR primitive only as such (``FHIR.boolean``), so ``answer is Boolean`` (R4
``que-7``) is false for an ``answerBoolean``. In FHIRPath a FHIR primitive is also the System type it
maps to (boolean: Boolean; string, code, uri…: String; integer…: Integer; date, dateTime, instant, time,
decimal): here each is given that System type as its parent, itself under the primitive's own parent.
"""

from __future__ import annotations

from typing import Any

from fhirpathpy.models import models

# FHIR primitives directly under Element -> their FHIRPath System type; the others derive from one of them
_SYSTEM_TYPES = {
    "boolean": "Boolean", "string": "String", "uri": "String", "base64Binary": "String", "integer": "Integer",
    "decimal": "Decimal", "date": "Date", "dateTime": "DateTime", "instant": "DateTime", "time": "Time",
}


def _r4_model() -> dict[str, Any]:
    base = models["r4"]
    parents = dict(base["type2Parent"])
    for primitive, system in _SYSTEM_TYPES.items():
        parents[system] = parents[primitive]
        parents[primitive] = system
    return {**base, "type2Parent": parents}


R4_MODEL = _r4_model()
