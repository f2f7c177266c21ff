"""How pytest-mes reads its environment variables, the same way in pytest, `mes` and the sandbox."""

from __future__ import annotations

import os
from pathlib import Path

from pytest_mes.errors import ConfigError

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
    """A yes/no environment variable, unset or empty for no, read strictly as pytest reads its options' variables.

    Raises:
        ConfigError: the value says neither yes nor no (read as no, it would drop what the user asked for).
    """
    text = os.environ.get(name, "")
    value = yes_or_no(text)
    if value is None:
        raise ConfigError(f"{name}={text!r}: write 1, true, yes, on or oui (0, false, no, off or non for no)")
    return value


def split_paths(text: str) -> list[Path]:
    """A path-separated list (``:`` on POSIX, ``;`` on Windows), empty parts ignored."""
    return [Path(p) for p in text.split(os.pathsep) if p]


def env_packages() -> list[Path]:
    """The FHIR package folders of ``MES_FHIR_PACKAGES``."""
    return split_paths(os.environ.get("MES_FHIR_PACKAGES", ""))
