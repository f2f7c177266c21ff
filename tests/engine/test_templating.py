"""Templating: variables and built-ins, never code."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from pytest_mes.testset.templating import TemplateError, render


def test_variables_are_substituted_recursively_and_keep_their_type_when_whole():
    variables = {"pid": "123", "count": 3, "resource": {"resourceType": "Patient"}}
    value = {"path": "Patient/{{pid}}", "n": "{{count}}", "text": "{{ count }} items", "r": ["{{resource}}"]}
    assert render(value, variables) == {"path": "Patient/123", "n": 3, "text": "3 items",
                                        "r": [{"resourceType": "Patient"}]}


def test_dates_with_offsets():
    today = datetime.now(UTC).date()
    assert render("{{today}}", {}) == today.isoformat()
    assert render("ge{{today+7d}}", {}) == "ge" + (today + timedelta(days=7)).isoformat()
    assert render("{{today-2w}}", {}) == (today - timedelta(weeks=2)).isoformat()
    now = datetime.fromisoformat(render("{{now-2h}}", {}))
    assert abs((datetime.now(UTC) - timedelta(hours=2) - now).total_seconds()) < 5


def test_uuid_and_random_id_are_new_each_time():
    first, second = render("{{uuid}}", {}), render("{{uuid}}", {})
    assert uuid.UUID(first) and first != second
    assert re.fullmatch(r"mes-[0-9a-f]{12}", render("{{random_id}}", {}))


def test_environment_variables(monkeypatch):
    monkeypatch.setenv("MES_TEST_INS", "1234567890123")
    assert render("{{env.MES_TEST_INS}}", {}) == "1234567890123"
    monkeypatch.delenv("MES_TEST_INS")
    with pytest.raises(TemplateError, match="environment variable MES_TEST_INS is not set"):
        render("{{env.MES_TEST_INS}}", {})


def test_unknown_variable_suggests_the_close_one():
    with pytest.raises(TemplateError, match=r"unknown variable \{\{patient_idd\}\} — did you mean 'patient_id'\?"):
        render("Patient/{{patient_idd}}", {"patient_id": "1", "other": 2})
    with pytest.raises(TemplateError, match=r"\{\{Family\}\} — did you mean 'family'\?"):  # as YAML keys: any case
        render("{{Family}}", {"family": "Dupont"})


def test_nothing_is_executed():
    with pytest.raises(TemplateError):
        render("{{__import__('os').system('true')}}", {})
    assert render("{not a placeholder}", {}) == "{not a placeholder}"
