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


def test_a_placeholder_that_cannot_be_filled_is_said_in_every_language(monkeypatch):
    monkeypatch.delenv("MES_NOT_SET", raising=False)
    with pytest.raises(TemplateError) as unset:
        render("{{env.MES_NOT_SET}}", {})
    assert unset.value.text("fr") == ("la variable d'environnement MES_NOT_SET n'est pas définie (utilisée comme "
                                      "{{env.MES_NOT_SET}})")
    assert unset.value.text("en") == str(unset.value) == ("environment variable MES_NOT_SET is not set (used as "
                                                          "{{env.MES_NOT_SET}})")
    with pytest.raises(TemplateError) as unknown:
        render("{{patient_idd}}", {"patient_id": "p1"})
    assert unknown.value.text("fr").startswith("variable inconnue {{patient_idd}} — vouliez-vous dire 'patient_id' ? ; "
                                               "variables connues : patient_id ; intégrées : today")
    assert unknown.value.text("en").startswith("unknown variable {{patient_idd}} — did you mean 'patient_id'?; known "
                                               "variables: patient_id; built-ins: today")


@pytest.mark.parametrize("placeholder", ["{{today+99999999d}}", "{{now+999999999999h}}", "{{today-9999999999999999w}}"])
def test_a_date_offset_beyond_the_calendar_is_said_not_a_python_error(placeholder):
    with pytest.raises(TemplateError) as far:
        render(f"ge{placeholder}", {})
    assert far.value.text("en") == f"{placeholder}: a date out of range (years 1 to 9999): give a smaller offset"
    assert far.value.text("fr") == (f"{placeholder} : date hors limites (années 1 à 9999) : donnez un décalage plus "
                                    "petit")
