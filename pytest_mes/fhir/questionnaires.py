"""A QuestionnaireResponse against its Questionnaire (resolved by canonical url, ``url|version`` too), as
the HL7 validator checks it:

- each answered item's ``linkId`` is an item of the Questionnaire at that place;
- an item the Questionnaire's ``enableWhen`` disables has no answer;
- in a completed (or amended) response, each required item that is enabled is answered;
- items come in the Questionnaire's order, an item or an answer repeats only where the question
  ``repeats``, an item's ``text`` (when given) is the question's;
- a group or display item has no answer, and only a group has items of its own (a question's go under
  its answers); an answer's type is the question's (a ``choice`` takes a Coding, a date, a time, an
  integer or a string), and a ``choice`` answer is one of the question's ``answerOption``.

``enableWhen`` reads the answers of the question nearest the item: in its own group first, then in the
groups around it (a repeated group is judged on its own answers), as the HL7 validator does.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from pytest_mes.fhir.canonicals import Resolve, resolve_checked_against
from pytest_mes.fhir.issues import Issue, make_issue
from pytest_mes.fhir.jsonread import as_list, dicts_in

_FINISHED = frozenset({"completed", "amended"})
# R4 item type -> the answer value types it takes (value[x] suffixes); open-choice takes a choice's, or more
_CHOICE = ("Coding", "Date", "Time", "Integer", "String")
_ANSWER_TYPES: dict[str, tuple[str, ...]] = {
    "boolean": ("Boolean",), "decimal": ("Decimal",), "integer": ("Integer",), "date": ("Date",),
    "dateTime": ("DateTime",), "time": ("Time",), "string": ("String",), "text": ("String",), "url": ("Uri",),
    "attachment": ("Attachment",), "reference": ("Reference",), "quantity": ("Quantity",), "choice": _CHOICE,
    "open-choice": _CHOICE,
}
# FHIR enableWhen operators on comparable answers (exists is apart)
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b, "!=": lambda a, b: a != b, ">": lambda a, b: a > b, "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b,
}


def questionnaire_response_issues(response: dict, loc: str, resolve: Resolve) -> list[Issue]:
    """The issues of these rules for `response` at `loc`; `resolve` gives the Questionnaire."""
    questionnaire, issues = resolve_checked_against(
        response, "questionnaire", "Questionnaire", loc, resolve, "QR_QUESTIONNAIRE_NOT_FOUND")
    if questionnaire is None:
        return issues
    status = response.get("status")
    check = _Check(isinstance(status, str) and status in _FINISHED)
    check.items(as_list(questionnaire.get("item")), as_list(response.get("item")), loc, [])
    return check.issues


class _Check:
    def __init__(self, finished: bool):
        self.finished = finished
        self.issues: list[Issue] = []

    def items(self, questions: list, answered: list, loc: str, scopes: list[list]) -> None:
        """`answered` (response items at `loc`) against `questions` (the Questionnaire's items there);
        `scopes`: the response item lists around, innermost last, where enableWhen looks for answers."""
        by_link = {q["linkId"]: q for q in questions if isinstance(q, dict) and isinstance(q.get("linkId"), str)}
        order = {link: k for k, link in enumerate(by_link)}
        scopes = [*scopes, answered]
        last, seen, repeated = -1, set(), set()
        for i, item in enumerate(answered):
            if not isinstance(item, dict):
                continue
            where = f"{loc}.item[{i}]"
            link = item.get("linkId")
            question = by_link.get(link) if isinstance(link, str) else None
            if question is None:
                self.issues.append(make_issue("error", "QR_LINKID_UNKNOWN", where, link=str(item.get("linkId"))))
                continue
            link = str(question["linkId"])
            if order[question["linkId"]] < last:
                self.issues.append(make_issue("error", "QR_ITEM_ORDER", where, link=link))
            if link in seen and question.get("repeats") is not True and link not in repeated:
                repeated.add(link)  # said once, at its second occurrence
                self.issues.append(make_issue("error", "QR_ITEM_REPEATED", where, link=link))
            seen.add(link)
            last = order[question["linkId"]]
            self.item(question, item, where)
            answers = as_list(item.get("answer"))
            if answers and not self.enabled(question, scopes):
                self.issues.append(make_issue("error", "QR_ITEM_NOT_ENABLED", where, link=str(question["linkId"])))
            children = as_list(question.get("item"))
            self.items(children, as_list(item.get("item")), where, scopes)
            for j, answer in enumerate(answers):
                if isinstance(answer, dict) and "item" in answer:
                    self.items(children, as_list(answer["item"]), f"{where}.answer[{j}]", scopes)
        if self.finished:
            self.required(questions, answered, loc, scopes)

    def item(self, question: dict, item: dict, where: str) -> None:
        """One response item against its question: its text, its answers, where its own items are."""
        link, kind = str(question["linkId"]), question.get("type")
        text = item.get("text")
        if isinstance(text, str) and text and text != question.get("text"):
            self.issues.append(make_issue("error", "QR_TEXT_DIFFERS", f"{where}.text", link=link))
        answers = as_list(item.get("answer"))
        if len(answers) > 1 and question.get("repeats") is not True:
            self.issues.append(make_issue("error", "QR_ANSWER_REPEATED", f"{where}.answer[1]", link=link))
        for j, answer in enumerate(answers):
            if isinstance(answer, dict):
                self.answer(question, answer, f"{where}.answer[{j}]")
        if kind not in ("group", None) and as_list(item.get("item")):
            self.issues.append(make_issue("error", "QR_ITEMS_MISPLACED", where, link=link, type=str(kind)))

    def answer(self, question: dict, answer: dict, where: str) -> None:
        link, kind = str(question["linkId"]), question.get("type")
        if kind in ("group", "display"):
            self.issues.append(make_issue("error", "QR_ANSWER_NOT_ALLOWED", where, link=link, type=kind))
            return
        value = next(((k[5:], v) for k, v in answer.items() if k.startswith("value") and k[5:6].isupper()), None)
        allowed = _ANSWER_TYPES.get(str(kind))
        if value is None or allowed is None:
            return
        if value[0] not in allowed:
            self.issues.append(make_issue("error", "QR_ANSWER_TYPE", f"{where}.value{value[0]}", link=link,
                                          found=value[0], expected=", ".join(allowed)))
        elif kind == "choice" and not _among_options(value, question):
            self.issues.append(make_issue("error", "QR_ANSWER_NOT_OPTION", f"{where}.value{value[0]}", link=link,
                                          value=_shown(value[1])))

    def required(self, questions: list, answered: list, loc: str, scopes: list[list]) -> None:
        """Each required, enabled question has a response item: with an answer, or items for a group."""
        for question in questions:
            if not isinstance(question, dict) or question.get("required") is not True:
                continue
            link = question.get("linkId")
            mine = [a for a in answered if isinstance(a, dict) and a.get("linkId") == link]
            given = any(a.get("item") if question.get("type") == "group" else a.get("answer") for a in mine)
            if not given and self.enabled(question, scopes):
                self.issues.append(make_issue("error", "QR_REQUIRED_MISSING", loc, link=str(link)))

    def enabled(self, question: dict, scopes: list[list]) -> bool:
        conditions = dicts_in(question.get("enableWhen"))
        if not conditions:
            return True
        results = [_condition_holds(c, _answers_of(c.get("question"), scopes)) for c in conditions]
        return any(results) if question.get("enableBehavior") == "any" else all(results)


def _among_options(value: tuple[str, Any], question: dict) -> bool:
    """A choice answer (value type, value) is one of the question's answerOption values; without options
    (an answerValueSet, or nothing) it is not judged here."""
    options = dicts_in(question.get("answerOption"))
    if not options:
        return True
    kind, given = value
    for option in options:
        offered = option.get("value" + kind)
        if kind == "Coding" and isinstance(offered, dict) and isinstance(given, dict):
            if offered.get("code") == given.get("code") and offered.get("system") == given.get("system"):
                return True
        elif offered is not None and offered == given:
            return True
    return False


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return f"{value.get('system', '')}#{value.get('code', '')}"
    return str(value)


def _answers_of(link: Any, scopes: list[list]) -> list[dict]:
    """The answers to question `link` in the nearest scope that has it (innermost first)."""
    for scope in reversed(scopes):
        found: list[dict] = []
        _collect(scope, link, found)
        if found:
            return found
    return []


def _collect(items: list, link: Any, found: list[dict]) -> bool:
    """Adds the answers of the items `link` among `items` and their descendants; True if one is there."""
    seen = False
    for item in items:
        if not isinstance(item, dict):
            continue
        answers = dicts_in(item.get("answer"))
        if item.get("linkId") == link:
            seen = True
            found.extend(answers)
        seen = _collect(as_list(item.get("item")), link, found) or seen
        for answer in answers:
            seen = _collect(as_list(answer.get("item")), link, found) or seen
    return seen


def _condition_holds(condition: dict, answers: list[dict]) -> bool:
    operator = condition.get("operator")
    expected = _value(condition, "answer")
    if operator == "exists":
        return bool(answers) == (expected is True)
    compare = _COMPARE.get(str(operator))
    if compare is None or expected is None:
        return False
    for answer in answers:
        given = _value(answer, "value")
        try:
            if given is not None and type(given) is type(expected) and compare(given, expected):
                return True
        except TypeError:  # values of one FHIR type that do not order (codings) only compare for (in)equality
            continue
    return False


def _value(holder: dict, prefix: str) -> Any:
    """The comparable value of ``answer[x]`` / ``value[x]``: numbers as Decimal, codings and quantities
    as tuples, references by their reference, the rest as given."""
    for key, value in holder.items():
        if not key.startswith(prefix) or key == prefix:
            continue
        kind = key[len(prefix):]
        if kind in ("Decimal", "Integer"):
            return _number(value)
        if kind == "Coding" and isinstance(value, dict):
            return _Coding(value.get("system"), value.get("code"))
        if kind == "Quantity" and isinstance(value, dict):
            number = _number(value.get("value"))
            return None if number is None else (number, value.get("code"))
        if kind == "Reference" and isinstance(value, dict):
            return value.get("reference")
        return value
    return None


class _Coding:
    """A Coding as enableWhen compares it: same code, and same system when both give one."""

    def __init__(self, system: Any, code: Any):
        self.system, self.code = system, code

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Coding) and self.code == other.code and (
            self.system is None or other.system is None or self.system == other.system)

    def __hash__(self) -> int:
        return hash(self.code)


def _number(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if isinstance(value, (int, float, str)) else None
    except InvalidOperation:
        return None
