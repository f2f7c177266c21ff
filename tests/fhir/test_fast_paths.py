"""The validator's shortcuts, held to the exact issues of the path each one replaces, on every official
example of GAP 3.0.0, FR Core 2.1.0 and PDSm 3.1.1 (``tests/support/traffic.py``, the traffic
``bench/validate.py`` (d) measures) and on mutants of them that break their slices."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest

from pytest_mes.fhir import assertions
from pytest_mes.fhir.validator import Validator
from pytest_mes.fhir.walk import Walk
from tests.fhir.conftest import patch_walk
from tests.support.traffic import real_traffic_examples


def _mutated(value: Any) -> Any:
    """The value with every code and system changed: each item of a sliced element lands elsewhere."""
    if isinstance(value, list):
        return [_mutated(x) for x in value]
    if not isinstance(value, dict):
        return value
    return {k: (v + "-x" if k in ("code", "system") and isinstance(v, str) else _mutated(v)) for k, v in value.items()}


@pytest.fixture(scope="module")
def traffic(store) -> list[tuple[str, dict, str]]:
    cases = real_traffic_examples(store)
    if not cases:
        pytest.skip("no official example of GAP, FR Core 2.1.0 or PDSm in ../shared/fhir-packages")
    return cases + [(f"{name} mutated", _mutated(resource), key) for name, resource, key in cases]


def _issues(validator: Validator, cases) -> list[list]:
    return [validator.validate(copy.deepcopy(resource), context=key).issues for _, resource, key in cases]


def test_slice_verdicts_by_json_key_give_the_issues_of_judging_each_slice(store, traffic, monkeypatch):
    """value_discriminator keeps verdicts per (slice, path, JSON key of the values), the key written
    once per item for every slice tried: the same issues as judging every slice on the values."""
    keys = []
    real_key = assertions.json_key

    def counting_key(value):
        keys.append(value)
        return real_key(value)

    monkeypatch.setattr(assertions, "json_key", counting_key)
    kept = _issues(Validator(store), traffic)
    tried = []
    real_matches = Walk.discriminator_matches

    def counting_matches(self, s, values, dtype, path):
        tried.append(dtype)
        return real_matches(self, s, values, dtype, path)

    patch_walk(monkeypatch, discriminator_matches=counting_matches,
               value_discriminator=lambda self, s, values, text, dtype, path: self.discriminator_matches(
                   s, values, dtype, path))
    judged = _issues(Validator(store), traffic)
    assert len(keys) < tried.count("value") + tried.count("pattern"), "no key served several slices"
    for (name, _, _), one, other in zip(traffic, kept, judged, strict=True):
        assert one == other, name


def test_mutants_break_slices(store, traffic):
    """The mutants above do exercise other slice verdicts: many of them are found wrong."""
    issues = _issues(Validator(store), traffic)
    half = len(traffic) // 2
    changed = [name for (name, _, _), before, after in zip(traffic[:half], issues[:half], issues[half:], strict=True)
               if {i.message_id for i in before if i.severity == "error"} !=
               {i.message_id for i in after if i.severity == "error"}]
    assert len(changed) > half // 2, changed


@pytest.mark.parametrize("value", [
    {"system": "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203", "code": "IDNST", "display": "é\n\"x\""},
    [{"a": [1, 2.5, True, None]}, "\u2028", {}], [], "texte", 3, 1e300, None, {"x": float("nan")},
])
def test_json_key_is_the_exact_json_of_the_value(value):
    assert assertions.json_key(value) == json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize("value", [{"value": Decimal("1.50")}, [object()], {"big": "x" * assertions.KEY_LIMIT}])
def test_json_key_is_none_for_what_json_does_not_write_or_a_value_too_long(value):
    assert assertions.json_key(value) is None
