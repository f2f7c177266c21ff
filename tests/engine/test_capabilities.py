"""Preconditions against a CapabilityStatement: met, or the precise reason why not."""

from __future__ import annotations

import re

import pytest

from pytest_mes.capabilities import UnreadableStatement, missing
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
    assert missing(CAPABILITY_STATEMENT, need) == reason


def test_a_statement_without_a_server_rest_entry():
    statement = {"resourceType": "CapabilityStatement", "rest": [{"mode": "client"}]}
    assert missing(statement, Capability(resource="Patient")) == (
        "the CapabilityStatement has no rest entry with mode 'server'")


def test_descriptions_for_skip_messages():
    assert Capability(resource="Slot", search_param="start").describe() == "search parameter 'start' on Slot"
    assert Capability(interaction="transaction").describe() == "interaction 'transaction' (system level)"


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
    ],
)
def test_a_malformed_statement_names_the_element_it_cannot_read(statement, need, where):
    with pytest.raises(UnreadableStatement, match=re.escape(where)):
        missing({"resourceType": "CapabilityStatement", **statement}, need)
