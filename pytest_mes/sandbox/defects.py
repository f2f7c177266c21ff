"""The named defects: precise, realistic non-conformances the sandbox can be started with.

Each defect lets the project prove that a test catches what it claims to catch: run the bundled
test sets against `mes sandbox --defect NAME` and the tests about that behaviour must fail.
"""

from __future__ import annotations

from collections.abc import Iterable

from pytest_mes.errors import ConfigError

DEFECTS: dict[str, str] = {
    # HTTP behaviour
    "create-returns-200": "create answers 200 OK instead of 201 Created (réponse 200 au lieu de 201)",
    "no-location-header": "create and conditional create omit the Location header (pas d'en-tête Location)",
    "non-fhir-content-type": "responses are served as text/plain instead of application/fhir+json",
    "no-etag": "responses carry no ETag header, so clients cannot use If-Match (pas d'ETag)",
    "deleted-read-404": "reading a deleted resource answers 404 instead of 410 Gone",
    "error-without-outcome": "errors answer with a plain-text body instead of an OperationOutcome",
    "patch-any-field": "conditional PATCH of DocumentReference changes any field instead of answering 405 "
    "(bad status values are still refused with 422)",
    "binary-ignores-accept": "ITI-68 returns the document whatever the Accept header (never 406)",
    "conditional-update-duplicates": "conditional update by identifier creates a new resource instead of "
    "updating the match",
    # search semantics
    "ignore-slot-status": "the Slot `status` search parameter is silently ignored",
    "date-prefix-ignored": "date prefixes (ge, le, gt, lt) are ignored: `start=ge2025-01-01` means equality",
    "chain-ignored": "chained parameters such as `schedule.actor:PractitionerRole.specialty` are ignored",
    "ignore-include": "`_include` is ignored: no Schedule or actor in Slot search results",
    "patient-identifier-ignored": "ITI-67 `patient.identifier` is ignored: every patient's documents match",
    # Bundle structure
    "wrong-bundle-type": "search results are Bundle.type `collection` instead of `searchset`",
    "missing-total": "search Bundles have no `total`",
    "include-as-match": "included resources are marked search.mode `match` instead of `include`",
    "no-next-link": "paged searches return the first page without a `next` link",
    "transaction-response-reversed": "the ITI-65 transaction-response lists entries in reverse order",
    "non-atomic-transaction": "a failing ITI-65 transaction keeps the entries processed before the failure",
    "transaction-no-location": "transaction-response entries answer 200 without `response.location`",
    # profile conformance
    "slot-without-end": "Slot.end (1..1 in fr-core-slot) is dropped from every Slot served",
    "specialty-wrong-system": "specialties are coded with a wrong system (TRE_R38 without its /FHIR/ suffix)",
    "docref-without-masterid": "DocumentReference.masterIdentifier (1..1 in PDSm) is dropped when served",
    "capability-without-slot-search": "the CapabilityStatement does not declare the Slot search-type",
}


def check_defects(names: Iterable[str]) -> frozenset[str]:
    """Return the defect names as a frozenset.

    Raises:
        ConfigError: a name is not a known defect; the message lists the valid names.
    """
    chosen = frozenset(names)
    unknown = sorted(chosen - DEFECTS.keys())
    if unknown:
        raise ConfigError(
            f"unknown sandbox defect(s): {', '.join(unknown)}. Valid names: {', '.join(sorted(DEFECTS))} "
            "(see `mes sandbox --list-defects`)."
        )
    return chosen
