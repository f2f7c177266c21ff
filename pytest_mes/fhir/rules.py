"""The project's own rules (``profiles/rules.yaml``): requirements the IGs state in words only, restated.

A constraint without a FHIRPath expression (PDSm's ``constr-bind-*``) cannot be evaluated: without a
rule it is reported "non vérifiée". A :class:`ProjectRule` restates one as FHIRPath for the profiles
(``url|version``) where it stands; :meth:`ProjectRules.apply` puts it in the compiled profile in place
of the constraint it reads, labelled as the project's reading. A constraint the project does not
restate keeps its "non vérifiée" information, with the reason (:class:`NotRestated`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pytest_mes.errors import ProfileError
from pytest_mes.fhir.compiler import Constraint, Schema
from pytest_mes.fhir.issues import Phrase

SEVERITIES = ("error", "warning", "information")


@dataclass(frozen=True)
class ProjectRule:
    """A constraint stated in words only, restated by the project as FHIRPath."""

    id: str
    reads: str  # the key of the package's constraint it restates
    profiles: tuple[str, ...]  # url|version
    element: str  # element id in those profiles' snapshots
    severity: str
    source: str  # the constraint's text, quoted from the package
    statement: Phrase  # what the rule asks
    expression: str


@dataclass(frozen=True)
class NotRestated:
    """A constraint stated in words only that the project does not restate, and why."""

    reads: str
    profile: str
    element: str | None  # None: wherever the constraint stands in the profile
    why: Phrase


@dataclass(frozen=True)
class ProjectRules:
    rules: tuple[ProjectRule, ...] = ()
    not_restated: tuple[NotRestated, ...] = ()

    def apply(self, schema: Schema) -> None:
        """Replace, in a compiled profile, the constraints the rules read; mark those not restated."""
        for rule in self.rules:
            element = schema.by_id.get(rule.element) if schema.canonical in rule.profiles else None
            if element is None:
                continue
            element.constraints = [
                Constraint(rule.id, rule.severity, rule.statement.fr, rule.expression, schema.canonical,
                           reads=rule.reads, statement=rule.statement) if c.key == rule.reads and not c.expression
                else c
                for c in element.constraints
            ]
        for entry in self.not_restated:
            if entry.profile != schema.canonical:
                continue
            for element in schema.by_id.values():
                if entry.element in (None, element.id):
                    element.constraints = [replace(c, unread=entry.why) if c.key == entry.reads and not c.expression
                                           else c for c in element.constraints]


def load_rules(path: Path) -> ProjectRules:
    """Read a rules file (the format of ``profiles/rules.yaml``).

    Raises:
        ProfileError: the file is unreadable or an entry is malformed (said with the file and the entry).
    """
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ProfileError(f"{path}: unreadable rules file: {exc}") from None
    rules = tuple(_rule(path, i, item) for i, item in enumerate(_entries(path, data, "rules")))
    ids = [r.id for r in rules]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise ProfileError(f"{path}: rule ids must be unique: {', '.join(twice)}")
    not_restated = tuple(_not_restated(path, i, item) for i, item in enumerate(_entries(path, data, "not_restated")))
    return ProjectRules(rules, not_restated)


@functools.cache
def bundled_rules() -> ProjectRules:
    """The project's rules shipped in ``profiles/rules.yaml``, read once."""
    from pytest_mes.resources import bundled_dir

    return load_rules(bundled_dir("profiles") / "rules.yaml")


def _entries(path: Path, data: Any, key: str) -> list:
    items = data.get(key, []) if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ProfileError(f"{path}: '{key}' must be a list")
    return items


def _text(path: Path, where: str, item: Any, key: str) -> str:
    value = item.get(key) if isinstance(item, dict) else None
    if not isinstance(value, str) or not value.strip():
        raise ProfileError(f"{path}: {where}: '{key}' must be a non-empty string")
    return value.strip()


def _phrase(path: Path, where: str, item: dict, key: str) -> Phrase:
    value = item.get(key)
    if not isinstance(value, dict):
        raise ProfileError(f"{path}: {where}: '{key}' must give 'fr' and 'en'")
    return Phrase(_text(path, f"{where}.{key}", value, "fr"), _text(path, f"{where}.{key}", value, "en"))


def _rule(path: Path, i: int, item: Any) -> ProjectRule:
    where = f"rules[{i}]"
    rule_id = _text(path, where, item, "id")
    where = f"rules[{i}] ({rule_id})"
    profiles = item.get("profiles")
    if not isinstance(profiles, list) or not profiles or not all(isinstance(p, str) and "|" in p for p in profiles):
        raise ProfileError(f"{path}: {where}: 'profiles' must list profile canonicals with their version (url|version)")
    severity = _text(path, where, item, "severity")
    if severity not in SEVERITIES:
        raise ProfileError(f"{path}: {where}: severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    return ProjectRule(
        id=rule_id, reads=_text(path, where, item, "reads"), profiles=tuple(profiles),
        element=_text(path, where, item, "element"), severity=severity, source=_text(path, where, item, "source"),
        statement=_phrase(path, where, item, "statement"), expression=" ".join(_text(path, where, item,
                                                                                       "expression").split()),
    )


def _not_restated(path: Path, i: int, item: Any) -> NotRestated:
    where = f"not_restated[{i}]"
    element = item.get("element") if isinstance(item, dict) else None
    if element is not None and not isinstance(element, str):
        raise ProfileError(f"{path}: {where}: 'element' must be an element id")
    return NotRestated(_text(path, where, item, "reads"), _text(path, where, item, "profile"), element,
                       _phrase(path, where, item, "why"))
