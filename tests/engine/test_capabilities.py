"""Preconditions against a CapabilityStatement: met, or the precise reason why not."""

from __future__ import annotations

import pytest

from pytest_mes.capabilities import missing
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
