"""How stored resources are shown on the wire: absolute document URLs, and the output defects."""

from __future__ import annotations

import copy
from typing import Any

from pytest_mes.sandbox.defects import Defect
from pytest_mes.sandbox.seed import R38

_WRONG_R38 = "https://mos.esante.gouv.fr/NOS/TRE_R38-SpecialiteOrdinale"

_OUTPUT_DEFECTS = frozenset({Defect.SLOT_WITHOUT_END, Defect.SPECIALTY_WRONG_SYSTEM, Defect.DOCREF_WITHOUT_MASTERID})


def present(resource: dict[str, Any], base: str, defects: frozenset[Defect]) -> dict[str, Any]:
    """The resource as served; never mutates the stored dict.

    DocumentReference.content.attachment.url is stored relative (`Binary/id`) so that a database
    survives a change of host or port, and served absolute: ITI-68 consumers GET that URL as is.
    """
    type_ = resource.get("resourceType")
    relevant = defects & _OUTPUT_DEFECTS
    if type_ != "DocumentReference" and not relevant:
        return resource
    shown = copy.deepcopy(resource)
    if type_ == "DocumentReference":
        for content in shown.get("content", []):
            attachment = content.get("attachment", {})
            url = attachment.get("url")
            if isinstance(url, str) and url.startswith("Binary/"):
                attachment["url"] = f"{base}/{url}"
        if Defect.DOCREF_WITHOUT_MASTERID in relevant:
            shown.pop("masterIdentifier", None)
    if type_ == "Slot" and Defect.SLOT_WITHOUT_END in relevant:
        shown.pop("end", None)
    if Defect.SPECIALTY_WRONG_SYSTEM in relevant:
        for concept in shown.get("specialty", []):
            for coding in concept.get("coding", []):
                if coding.get("system") == R38:
                    coding["system"] = _WRONG_R38
    return shown


def stored_form(resource: dict[str, Any], base: str) -> dict[str, Any]:
    """The inverse of `present` for a DocumentReference a client sends back (a metadata update by PUT):
    its document URLs under this server's base are stored relative again."""
    stored = copy.deepcopy(resource)
    for content in stored.get("content", []) if isinstance(stored.get("content"), list) else []:
        attachment = content.get("attachment") if isinstance(content, dict) else None
        url = attachment.get("url") if isinstance(attachment, dict) else None
        if isinstance(url, str) and url.startswith(f"{base}/Binary/"):
            attachment["url"] = url.removeprefix(f"{base}/")
    return stored
