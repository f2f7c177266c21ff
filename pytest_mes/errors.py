"""The family of errors pytest-mes raises for a user's mistake or a server's fault."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from pytest_mes.fhir.issues import Phrase


class MesError(Exception):
    """Base of every error pytest-mes reports to a user without a Python traceback. Its text is English, or, for
    an error made with `saying`, known in every language: `text(lang)` says it in a run's language."""

    said: Phrase | None = None

    @classmethod
    def saying(cls, said: Phrase) -> Self:
        error = cls(said.en)
        error.said = said
        return error

    def text(self, lang: str = "fr") -> str:
        return self.said.get(lang) if self.said is not None else str(self)


class TestSetError(MesError):
    """A test-set file is unreadable, malformed or violates the test-set schema."""

    __test__ = False  # not a test class, despite its name

    def __init__(self, message: str, *, path: str = "", line: int | None = None, column: int | None = None):
        self.path = path
        self.line = line
        self.column = column
        self.detail = message
        where = path
        if line is not None:
            where += f":{line}"
            if column is not None:
                where += f":{column}"
        super().__init__(f"{where}: {message}" if where else message)


class PackageError(MesError):
    """A FHIR package is missing, unreadable or inconsistent."""


class ProfileError(MesError):
    """A StructureDefinition is broken and cannot be compiled into checks."""


class ConfigError(MesError):
    """An option or environment variable has an invalid value."""


def require_file(path: str | os.PathLike[str], flag: str) -> None:
    """Raise ConfigError unless `path`, given with option `flag`, is a file: a folder is said as one."""
    if Path(path).is_dir():
        raise ConfigError(f"{flag} {path}: this is a folder; give the file itself")
    if not Path(path).is_file():
        raise ConfigError(f"{flag} {path}: file not found")
