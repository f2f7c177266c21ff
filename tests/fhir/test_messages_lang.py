"""The validator's messages in French (default) and English: catalogues kept in step, issues rendered
in either language after validation, ``mes validate --lang``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from string import Formatter

import pytest

from pytest_mes.fhir.issues import MSG, ValidationResult, render
from pytest_mes.fhir.messages_en import MSG_EN
from tests.fhir.test_commands import run as validate

GAP = "ans.fhir.fr.gap#3.0.0"
# What gives French away in an English text: French typography, accented letters, French words.
FRENCH = re.compile(r"[«»àâçéèêëîïôûùœ]|\b(?:de|du|des|la|le|les|un|une|est|non|pour|dans|sans|attendue?s?|"
                    r"trouvé|valeur|erreur|avertissement|règle|VALIDE|INVALIDE)\b", re.IGNORECASE)


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(template) if name is not None}


def test_both_catalogues_have_the_same_ids_and_placeholders():
    assert set(MSG_EN) == set(MSG)
    assert {i: placeholders(t) for i, t in MSG_EN.items()} == {i: placeholders(t) for i, (_, t) in MSG.items()}


def test_english_templates_are_english():
    french = {i: t for i, t in MSG_EN.items() if FRENCH.search(t)}
    assert not french


@pytest.fixture
def bad_slot(examples) -> dict:
    slot = examples(GAP, "Slot-example.json")
    slot["status"] = "libre"
    slot["foo"] = {}
    slot["start"] = True
    return slot


def test_an_issue_renders_in_either_language_without_validating_again(validator, bad_slot):
    result = validator.validate(bad_slot, context=GAP)
    by_id = {i.message_id: i for i in result.issues}
    assert {"BINDING_REQUIRED", "UNKNOWN_ELEMENT", "WRONG_JSON_TYPE"} <= set(by_id)
    for issue in result.issues:
        values = dict(issue.args)
        assert issue.text() == issue.text("fr") == issue.message == render(issue.message_id, values, "fr")
        assert issue.text("en") == render(issue.message_id, values, "en") != issue.message
    assert by_id["UNKNOWN_ELEMENT"].text("en") == "Unknown element 'foo': it does not exist in Slot."
    # Argument values a person reads (here the JSON kind found) are translated too.
    assert by_id["WRONG_JSON_TYPE"].text("en") == "JSON value of type boolean for a FHIR instant: JSON string expected."
    assert by_id["WRONG_JSON_TYPE"].text("fr") == (
        "Valeur de type JSON booléen pour un instant FHIR : chaîne JSON attendu.")


def test_operation_outcome_takes_a_language(validator, bad_slot):
    result = validator.validate(bad_slot, context=GAP)
    french = [i["details"]["text"] for i in result.to_operation_outcome()["issue"]]
    english = [i["details"]["text"] for i in result.to_operation_outcome("en")["issue"]]
    assert french == [i.message for i in result.issues]
    assert english == [i.text("en") for i in result.issues]
    empty = ValidationResult()
    assert [i["details"]["text"] for i in empty.to_operation_outcome("en")["issue"]] == ["No issue found."]
    assert [i["details"]["text"] for i in empty.to_operation_outcome()["issue"]] == ["Aucun problème détecté."]


# ---- mes validate --lang ---------------------------------------------------------------------------
@pytest.fixture
def bad_slot_file(tmp_path: Path, bad_slot) -> Path:
    path = tmp_path / "bad-slot.json"
    path.write_text(json.dumps(bad_slot), encoding="utf-8")
    return path


def test_mes_validate_lang_en_prints_english(capsys, fhir_packages_dir, bad_slot_file, tmp_path):
    unreadable = tmp_path / "absent.json"
    code, out, _ = validate(capsys, str(bad_slot_file), str(unreadable), "--lang", "en", "--context", GAP,
                            "--packages", str(fhir_packages_dir), "--offline")
    assert code == 2
    lines = out.splitlines()
    assert lines[0] == f"{bad_slot_file}: INVALID (3 errors, 1 information)"
    assert lines[1] == "  error:"
    assert "      - Unknown element 'foo': it does not exist in Slot." in lines
    gap_slot = "https://interop.esante.gouv.fr/ig/fhir/gap/StructureDefinition/gap-fr-slot|3.0.0"
    assert f"        rule: {gap_slot} (Slot)" in lines
    assert f"{unreadable}: INVALID (1 fatal)" in lines
    assert any(line.startswith("      - Unreadable document: unreadable file: ") for line in lines)
    messages = [line for line in lines if line.startswith("      - ")]
    assert [m for m in messages if FRENCH.search(m)] == []


def test_mes_validate_defaults_to_french_and_reads_mes_lang(capsys, monkeypatch, fhir_packages_dir, bad_slot_file):
    common = (str(bad_slot_file), "--context", GAP, "--packages", str(fhir_packages_dir), "--offline")
    _, french, _ = validate(capsys, *common)
    assert french.startswith(f"{bad_slot_file}: INVALIDE (3 erreurs, 1 information)\n  erreur :\n")
    monkeypatch.setenv("MES_LANG", "en")
    _, english, _ = validate(capsys, *common, "--format", "json")
    texts = [i["details"]["text"] for i in json.loads(english)[0]["outcome"]["issue"]]
    assert "Unknown element 'foo': it does not exist in Slot." in texts
    _, explicit, _ = validate(capsys, *common, "--lang", "fr")  # the option wins over the environment
    assert explicit == french


def test_mes_validate_refuses_an_unknown_mes_lang(capsys, monkeypatch, bad_slot_file):
    monkeypatch.setenv("MES_LANG", "de")
    code, out, err = validate(capsys, str(bad_slot_file), "--offline")
    assert code == 2 and out == ""
    assert "MES_LANG='de'" in err and "fr, en" in err
