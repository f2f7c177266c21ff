"""A QuestionnaireResponse's items and answers against the questions they answer, as the HL7 validator checks."""

from __future__ import annotations

import copy

import pytest

from tests.fhir.conftest import errors, local_validator

FEELINGS = "http://example.org/CodeSystem/feelings"
VISIT = {
    "resourceType": "Questionnaire", "id": "visit", "url": "http://example.org/Questionnaire/visit",
    "status": "draft", "item": [
        {"linkId": "intro", "type": "display", "text": "About your visit"},
        {"linkId": "weight", "type": "decimal", "text": "Weight (kg)"},
        {"linkId": "feeling", "type": "choice", "answerOption": [
            {"valueCoding": {"system": FEELINGS, "code": "good"}},
            {"valueCoding": {"system": FEELINGS, "code": "bad"}}]},
        {"linkId": "symptoms", "type": "group", "item": [
            {"linkId": "fever", "type": "boolean"}, {"linkId": "notes", "type": "string"}]},
        {"linkId": "medications", "type": "string", "repeats": True}]}

GOOD = {"resourceType": "QuestionnaireResponse", "questionnaire": VISIT["url"], "status": "completed", "item": [
    {"linkId": "intro", "text": "About your visit"},
    {"linkId": "weight", "answer": [{"valueDecimal": 72.5}]},
    {"linkId": "feeling", "answer": [{"valueCoding": {"system": FEELINGS, "code": "good"}}]},
    {"linkId": "symptoms", "item": [{"linkId": "fever", "answer": [{"valueBoolean": False}]}]},
    {"linkId": "medications", "answer": [{"valueString": "aspirin"}, {"valueString": "paracetamol"}]}]}


@pytest.fixture(scope="module")
def validator(fhir_packages_dir, tmp_path_factory):
    return local_validator(fhir_packages_dir, tmp_path_factory.mktemp("qr"), "example.visit", [VISIT])


def _changed(change) -> dict:
    response = copy.deepcopy(GOOD)
    change(response["item"])
    return response


def test_a_response_that_follows_its_questions(validator):
    assert not errors(validator.validate(GOOD))


@pytest.mark.parametrize("change, expected", [
    (lambda items: items.reverse(), {("QR_ITEM_ORDER", f"QuestionnaireResponse.item[{i}]") for i in (1, 2, 3, 4)}),
    (lambda items: items.insert(2, copy.deepcopy(items[1])), {("QR_ITEM_REPEATED", "QuestionnaireResponse.item[2]")}),
    (lambda items: items[0].update(text="Something else"), {("QR_TEXT_DIFFERS", "QuestionnaireResponse.item[0].text")}),
    (lambda items: items[1]["answer"].append({"valueDecimal": 73}),
     {("QR_ANSWER_REPEATED", "QuestionnaireResponse.item[1].answer[1]")}),
    (lambda items: items[0].update(answer=[{"valueString": "x"}]),
     {("QR_ANSWER_NOT_ALLOWED", "QuestionnaireResponse.item[0].answer[0]")}),
    (lambda items: items.__setitem__(3, {"linkId": "symptoms", "answer": [{"valueBoolean": True}]}),
     {("QR_ANSWER_NOT_ALLOWED", "QuestionnaireResponse.item[3].answer[0]")}),
    (lambda items: items[1].update(answer=[{"valueString": "72.5"}]),
     {("QR_ANSWER_TYPE", "QuestionnaireResponse.item[1].answer[0].valueString")}),
    (lambda items: items[2].update(answer=[{"valueCoding": {"system": FEELINGS, "code": "tired"}}]),
     {("QR_ANSWER_NOT_OPTION", "QuestionnaireResponse.item[2].answer[0].valueCoding")}),
    (lambda items: items[2].update(answer=[{"valueBoolean": True}]),
     {("QR_ANSWER_TYPE", "QuestionnaireResponse.item[2].answer[0].valueBoolean")}),
    (lambda items: items.__setitem__(1, {"linkId": "weight", "item": [{"linkId": "x"}]}),
     {("QR_ITEMS_MISPLACED", "QuestionnaireResponse.item[1]")}),
])
def test_a_response_breaking_a_rule_of_its_questions(validator, change, expected):
    found = errors(validator.validate(_changed(change)))
    assert {f for f in found if f[0] != "QR_LINKID_UNKNOWN"} == expected


@pytest.mark.parametrize("change", [
    lambda response: response.update(status=["completed"]),
    lambda response: response["item"][1].update(linkId={"id": "weight"}),
    lambda response: response["item"].append({"answer": [{"valueString": "x"}]}),
])
def test_a_malformed_response_is_reported_not_a_crash(validator, change):
    """A status or a linkId of the wrong JSON type is said where it stands (validate() returning is the
    "no crash"); an item without linkId is not in the questionnaire."""
    response = copy.deepcopy(GOOD)
    change(response)
    assert errors(validator.validate(response))
