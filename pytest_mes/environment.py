"""How pytest-mes reads its environment variables, the same way in pytest, `mes` and the sandbox."""

from __future__ import annotations

import os
from pathlib import Path

_TRUE = ("1", "true", "yes", "on", "oui")
_FALSE = ("", "0", "false", "no", "off", "non")


def is_true(text: str) -> bool:
    """A boolean environment value: 1, true, yes, on, oui (any case) are true."""
    return text.strip().lower() in _TRUE


def yes_or_no(text: str) -> bool | None:
    """A boolean environment value read strictly: True, False, or None when it says neither."""
    word = text.strip().lower()
    return True if word in _TRUE else False if word in _FALSE else None


def env_flag(name: str) -> bool:
    return is_true(os.environ.get(name, ""))


def split_paths(text: str) -> list[Path]:
    """A path-separated list (``:`` on POSIX, ``;`` on Windows), empty parts ignored."""
    return [Path(p) for p in text.split(os.pathsep) if p]


def env_packages() -> list[Path]:
    """The FHIR package folders of ``MES_FHIR_PACKAGES``."""
    return split_paths(os.environ.get("MES_FHIR_PACKAGES", ""))
