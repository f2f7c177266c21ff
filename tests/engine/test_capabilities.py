"""Preconditions against a CapabilityStatement: met, or the precise reason why not."""

from __future__ import annotations

import pytest

from pytest_mes.capabilities import missing
from pytest_mes.shape import WrongShape
from pytest_mes.testset.model import Capability
from tests.support.server import CAPABILITY_STATEMENT


@pytest.mark.parametrize(
    ("need", "reason"),
    [
        (Capability(resource="Patient", interaction="read"), None),
        (Capability(resource="Patient", search_param="identifier"), None),
        (Capability(resource="Patient", search_param="identifier:of-type"), None),
        (Capability(resource="Slot", search_param="start"), None),
        (Capability(interaction="transaction"), None),
        (Capability(format="json"), None),
        (Capability(format="application/fhir+json", resource="Patient"), None),
        (Capability(format="xml"), "format 'xml' is not among CapabilityStatement.format"),
        (Capability(interaction="batch"), "system interaction 'batch' is not declared"),
        (Capability(resource="Appointment"), "resource type Appointment is not declared"),
        (Capability(resource="Patient", interaction="delete"), "interaction 'delete' is not declared on Patient"),
        (Capability(resource="Slot", search_param="schedule.actor:Practitioner.identifier"),
         "search parameter 'schedule.actor:Practitioner.identifier' is not declared on Slot"),
        (Capability(resource="Patient", conditional_update=True), "conditionalUpdate is not declared on Patient"),
        (Capability(resource="Patient", operation="$match"), "operation '$match' is not declared on Patient"),
        (Capability(operation="$export"), "operation '$export' is not declared"),
    ],
)
def test_preconditions(need, reason):
    found = missing(CAPABILITY_STATEMENT, need)
    assert (found and found.en) == reason


@pytest.mark.parametrize(("need", "french"), [
    (Capability(format="xml"), "le format 'xml' n'est pas dans CapabilityStatement.format"),
    (Capability(interaction="batch"), "l'interaction système 'batch' n'est pas déclarée"),
    (Capability(resource="Appointment"), "le type de ressource Appointment n'est pas déclaré"),
    (Capability(resource="Patient", interaction="delete"), "l'interaction 'delete' n'est pas déclarée pour Patient"),
    (Capability(resource="Slot", search_param="x"), "le paramètre de recherche 'x' n'est pas déclaré pour Slot"),
    (Capability(resource="Patient", conditional_update=True), "conditionalUpdate n'est pas déclaré pour Patient"),
    (Capability(resource="Patient", operation="$match"), "l'opération '$match' n'est pas déclarée pour Patient"),
    (Capability(operation="$export"), "l'opération '$export' n'est pas déclarée"),
    (Capability(resource="Slot", include="Slot:x"), "l'_include 'Slot:x' n'est pas dans Slot.searchInclude"),
])
def test_a_precondition_not_met_is_said_in_french_too(need, french):
    assert missing(CAPABILITY_STATEMENT, need).fr == french


def test_a_statement_without_a_server_rest_entry():
    statement = {"resourceType": "CapabilityStatement", "rest": [{"mode": "client"}]}
    reason = missing(statement, Capability(resource="Patient"))
    assert (reason.en, reason.fr) == ("the CapabilityStatement has no rest entry with mode 'server'",
                                      "la CapabilityStatement n'a pas d'entrée rest de mode 'server'")


def test_descriptions_for_skip_messages():
    slot_start = Capability(resource="Slot", search_param="start")
    assert slot_start.describe("en") == "search parameter 'start' on Slot"
    assert slot_start.describe() == "le paramètre de recherche 'start' pour Slot"
    assert Capability(interaction="transaction").describe("en") == "interaction 'transaction' (system level)"
    assert Capability(interaction="transaction").describe("fr") == "l'interaction 'transaction' (niveau système)"
    both = Capability(resource="Slot", interaction="search-type", include="Slot:schedule", format="xml")
    assert both.describe("en") == "_include 'Slot:schedule' and interaction 'search-type' and format 'xml' on Slot"
    assert both.describe("fr") == ("l'_include 'Slot:schedule' et l'interaction 'search-type' et le format 'xml' "
                                   "pour Slot")


@pytest.mark.parametrize(
    ("statement", "need", "where"),
    [
        ({"rest": "oops"}, Capability(resource="Patient"), "CapabilityStatement.rest is not a list"),
        ({"rest": ["server"]}, Capability(resource="Patient"), "CapabilityStatement.rest[0] is not an object"),
        ({"format": 3}, Capability(format="json"), "CapabilityStatement.format is not a list"),
        ({"format": [3]}, Capability(format="json"), "CapabilityStatement.format[0] is not a string"),
        ({"rest": [{"mode": "server", "resource": {"type": "Slot"}}]}, Capability(resource="Slot"),
         "CapabilityStatement.rest[0].resource is not a list"),
        ({"rest": [{"mode": "server", "resource": [{"type": "Slot", "interaction": [None]}]}]},
         Capability(resource="Slot", interaction="read"),
         "CapabilityStatement.rest[0].resource[0].interaction[0] is not an object"),
        # A string is not the list of includes: 'Slot:schedule' must not be found inside it as a substring.
        ({"rest": [{"mode": "server", "resource": [{"type": "Slot", "searchInclude": "Slot:schedule,x"}]}]},
         Capability(resource="Slot", include="Slot:schedule"),
         "CapabilityStatement.rest[0].resource[0].searchInclude is not a list"),
        # A code that is a list, not a string: named, not an unhashable-type exception.
        ({"rest": [{"mode": "server", "resource": [{"type": "Slot", "interaction": [{"code": ["read"]}]}]}]},
         Capability(resource="Slot", interaction="read"),
         "CapabilityStatement.rest[0].resource[0].interaction[0].code is not a string"),
    ],
)
def test_a_malformed_statement_names_the_element_it_cannot_read(statement, need, where):
    with pytest.raises(WrongShape) as raised:
        missing({"resourceType": "CapabilityStatement", **statement}, need)
    assert raised.value.said.en == where
    french = where.replace("is not a list", "n'est pas une liste").replace("is not an object", "n'est pas un objet")
    assert raised.value.said.fr == french.replace("is not a string", "n'est pas une chaîne")
