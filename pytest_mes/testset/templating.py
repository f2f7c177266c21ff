"""`{{name}}` substitution in test-set values, from variables and a few built-ins. Never executes code."""

from __future__ import annotations

import os
import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pytest_mes.errors import MesError
from pytest_mes.report.labels import phrase
from pytest_mes.testset.schema import closest

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_OFFSET = re.compile(r"^(today|now)\s*(?:([+-])\s*(\d+)\s*([wdhm]))?$")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}
BUILTINS = ("today", "now", "uuid", "random_id", "env.NAME", "today+7d", "now-2h")
BUILTIN_VARIABLES = ("base_url",)  # given by the runner to every set


class TemplateError(MesError):
    """A `{{...}}` placeholder names no known variable or built-in."""


@dataclass(frozen=True)
class Deferred:
    """A test variable that uses a value the test's own steps save (a parametrized case's request body that
    names the id the test creates): it is rendered where it is used, once that value exists."""

    template: Any

    def __repr__(self) -> str:
        return f"{self.template!r} (evaluated where used)"


def render(value: Any, variables: Mapping[str, Any]) -> Any:
    """Return `value` with every `{{...}}` in its strings replaced, recursively.

    A string that is exactly one placeholder takes the variable's own value (a number stays a number,
    a saved resource stays a mapping); elsewhere values are turned into text.
    """
    if isinstance(value, str):
        return _render_string(value, variables)
    if isinstance(value, list):
        return [render(item, variables) for item in value]
    if isinstance(value, dict):
        return {render(key, variables): render(item, variables)
                for key, item in value.items()}
    return value


def fill(value: Any, variables: Mapping[str, Any]) -> Any:
    """Like `render`, but only for the names in `variables`: other placeholders and built-ins stay as they are
    (a parametrized test's case values are put in its title and requirements this way, at load)."""
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: as_text(variables[m.group(1)]) if m.group(1) in variables else m.group(0),
                                value)
    if isinstance(value, list):
        return [fill(item, variables) for item in value]
    if isinstance(value, dict):
        return {key: fill(item, variables) for key, item in value.items()}
    return value


def _render_string(text: str, variables: Mapping[str, Any]) -> Any:
    whole = PLACEHOLDER.fullmatch(text)
    if whole:
        return resolve(whole.group(1), variables)
    return PLACEHOLDER.sub(lambda m: as_text(resolve(m.group(1), variables)), text)


def resolve(name: str, variables: Mapping[str, Any]) -> Any:
    if name in variables:
        value = variables[name]
        return render(value.template, variables) if isinstance(value, Deferred) else value
    if name == "uuid":
        return str(uuid.uuid4())
    if name == "random_id":
        return "mes-" + secrets.token_hex(6)
    if name.startswith("env."):
        env_name = name[4:]
        if env_name not in os.environ:
            raise TemplateError.saying(phrase("template.no_env", env=env_name, placeholder=f"{{{{{name}}}}}"))
        return os.environ[env_name]
    moment = _OFFSET.match(name)
    if moment:
        try:
            return _moment(*moment.groups())
        except OverflowError:  # beyond the calendar (year 9999) or beyond what an offset can hold
            raise TemplateError.saying(phrase("template.out_of_range", placeholder=f"{{{{{name}}}}}")) from None
    known = sorted(variables)
    close = closest(name, known)
    hint = phrase("did_you_mean", name=close) if close else ""
    raise TemplateError.saying(phrase("template.unknown", placeholder=f"{{{{{name}}}}}", hint=hint,
                                      known=", ".join(known) or phrase("none"), builtins=", ".join(BUILTINS)))


def is_builtin(name: str) -> bool:
    """Whether `{{name}}` is a built-in: a date or instant (with an offset), a fresh id, or `env.NAME`."""
    return name in ("uuid", "random_id") or name.startswith("env.") or _OFFSET.match(name) is not None


def _moment(base: str, sign: str | None, amount: str | None, unit: str | None) -> str:
    now = datetime.now(UTC).replace(microsecond=0)
    delta = timedelta(**{_UNITS[unit]: int(amount)}) if unit else timedelta()
    if sign == "-":
        delta = -delta
    if base == "today":
        return (now.date() + delta).isoformat()
    return (now + delta).isoformat().replace("+00:00", "Z")  # a '+' in a query string would read as a space


def as_text(value: Any) -> str:
    """A value as it stands in a string, a query or a header: booleans as JSON writes them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
