"""The named defects: precise, realistic non-conformances the sandbox can be started with.

Each defect lets the project prove that a test catches what it claims to catch: run the bundled
test sets against `mes sandbox --defect NAME` and the tests about that behaviour must fail.
The sandbox's modules test a `Defect` member (`Defect.NO_ETAG in defects`), never a string, so that a
misspelt defect is an AttributeError at import rather than a defect that silently never applies.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from pytest_mes.errors import ConfigError


class Defect(StrEnum):
    """A named defect; its value is the name users give (`--defect NAME`)."""

    CREATE_RETURNS_200 = "create-returns-200"
    NO_LOCATION_HEADER = "no-location-header"
    NON_FHIR_CONTENT_TYPE = "non-fhir-content-type"
    NO_ETAG = "no-etag"
    DELETED_READ_404 = "deleted-read-404"
    ERROR_WITHOUT_OUTCOME = "error-without-outcome"
    PATCH_ANY_FIELD = "patch-any-field"
    BINARY_IGNORES_ACCEPT = "binary-ignores-accept"
    CONDITIONAL_UPDATE_DUPLICATES = "conditional-update-duplicates"
    IGNORE_SLOT_STATUS = "ignore-slot-status"
    DATE_PREFIX_IGNORED = "date-prefix-ignored"
    CHAIN_IGNORED = "chain-ignored"
    IGNORE_INCLUDE = "ignore-include"
    PATIENT_IDENTIFIER_IGNORED = "patient-identifier-ignored"
    WRONG_BUNDLE_TYPE = "wrong-bundle-type"
    MISSING_TOTAL = "missing-total"
    INCLUDE_AS_MATCH = "include-as-match"
    NO_NEXT_LINK = "no-next-link"
    TRANSACTION_RESPONSE_REVERSED = "transaction-response-reversed"
    NON_ATOMIC_TRANSACTION = "non-atomic-transaction"
    TRANSACTION_NO_LOCATION = "transaction-no-location"
    SLOT_WITHOUT_END = "slot-without-end"
    SPECIALTY_WRONG_SYSTEM = "specialty-wrong-system"
    DOCREF_WITHOUT_MASTERID = "docref-without-masterid"
    CAPABILITY_WITHOUT_SLOT_SEARCH = "capability-without-slot-search"
    APPOINTMENT_PARAMS_IGNORED = "appointment-params-ignored"
    SLOT_IDENTIFIER_IGNORED = "slot-identifier-ignored"
    DOCREF_PARAMS_IGNORED = "docref-params-ignored"
    LIST_PARAMS_IGNORED = "list-params-ignored"
    STRING_MATCHES_ANYWHERE = "string-matches-anywhere"
    DATE_BOUND_INCLUSIVE = "date-bound-inclusive"
    UPDATE_IGNORED = "update-ignored"
    UPDATE_ID_MISMATCH_ACCEPTED = "update-id-mismatch-accepted"
    RESOURCE_WRITES_REFUSED = "resource-writes-refused"
    LIST_READ_REFUSED = "list-read-refused"
    DOCREF_CONDITIONAL_UPDATE_REFUSED = "docref-conditional-update-refused"
    REPLACEMENT_KEEPS_CURRENT = "replacement-keeps-current"


DEFECTS: dict[Defect, str] = {
    # HTTP behaviour
    Defect.CREATE_RETURNS_200: "create answers 200 OK instead of 201 Created (réponse 200 au lieu de 201)",
    Defect.NO_LOCATION_HEADER: "create and conditional create omit the Location header (pas d'en-tête Location)",
    Defect.NON_FHIR_CONTENT_TYPE: "responses are served as text/plain instead of application/fhir+json",
    Defect.NO_ETAG: "responses carry no ETag header, so clients cannot use If-Match (pas d'ETag)",
    Defect.DELETED_READ_404: "reading a deleted resource answers 404 instead of 410 Gone",
    Defect.ERROR_WITHOUT_OUTCOME: "errors answer with a plain-text body instead of an OperationOutcome",
    Defect.PATCH_ANY_FIELD: "conditional PATCH of DocumentReference changes any field instead of answering 405 "
    "(bad status values are still refused with 422)",
    Defect.BINARY_IGNORES_ACCEPT: "ITI-68 returns the document whatever the Accept header (never 406)",
    Defect.CONDITIONAL_UPDATE_DUPLICATES: "conditional update by identifier creates a new resource instead of "
    "updating the match",
    # search semantics
    Defect.IGNORE_SLOT_STATUS: "the Slot `status` search parameter is silently ignored",
    Defect.DATE_PREFIX_IGNORED: "date prefixes (ge, le, gt, lt) are ignored: `start=ge2025-01-01` means equality",
    Defect.CHAIN_IGNORED: "chained parameters such as `schedule.actor:PractitionerRole.specialty` are ignored",
    Defect.IGNORE_INCLUDE: "`_include` is ignored: no Schedule or actor in Slot search results",
    Defect.PATIENT_IDENTIFIER_IGNORED: "ITI-67 `patient.identifier` is ignored: every patient's documents match",
    # Bundle structure
    Defect.WRONG_BUNDLE_TYPE: "search results are Bundle.type `collection` instead of `searchset`",
    Defect.MISSING_TOTAL: "search Bundles have no `total`",
    Defect.INCLUDE_AS_MATCH: "included resources are marked search.mode `match` instead of `include`",
    Defect.NO_NEXT_LINK: "paged searches return the first page without a `next` link",
    Defect.TRANSACTION_RESPONSE_REVERSED: "the ITI-65 transaction-response lists entries in reverse order",
    Defect.NON_ATOMIC_TRANSACTION: "a failing ITI-65 transaction keeps the entries processed before the failure",
    Defect.TRANSACTION_NO_LOCATION: "transaction-response entries answer 200 without `response.location`",
    # search semantics of the CapabilityStatements' other parameters
    Defect.APPOINTMENT_PARAMS_IGNORED: "the Appointment parameters priority, description, created, date, "
    "service-type, supporting-info and actor are silently ignored",
    Defect.SLOT_IDENTIFIER_IGNORED: "the Slot `identifier` search parameter is silently ignored",
    Defect.DOCREF_PARAMS_IGNORED: "the DocumentReference parameters type, category, setting, creation, "
    "security-label, isArchived, period(-start/-end), format, event, relatesto, subject and author are ignored",
    Defect.LIST_PARAMS_IGNORED: "the List parameters date, designationType, isArchived, title, sourceId, source "
    "and authorOrg are silently ignored",
    Defect.STRING_MATCHES_ANYWHERE: "string parameters match anywhere in the value instead of at its start, and "
    ":exact ignores case",
    Defect.DATE_BOUND_INCLUSIVE: "the gt and lt date prefixes include their bound (read as ge and le)",
    # writes and reads the statements declare
    Defect.UPDATE_IGNORED: "an update answers 200 but keeps the stored resource as it was",
    Defect.UPDATE_ID_MISMATCH_ACCEPTED: "an update whose body id differs from the URL is accepted (stored under "
    "the URL's id) instead of answering 400",
    Defect.RESOURCE_WRITES_REFUSED: "create, update and delete of RelatedPerson, HealthcareService and Device "
    "answer 405, though the CapabilityStatement declares them",
    Defect.LIST_READ_REFUSED: "reading a List (GET [base]/List/[id]) answers 405",
    Defect.DOCREF_CONDITIONAL_UPDATE_REFUSED: "the conditional update of a DocumentReference (metadata update by "
    "PUT) answers 405, though the CapabilityStatement declares conditionalUpdate",
    Defect.REPLACEMENT_KEEPS_CURRENT: "an ITI-65 replacement leaves the replaced document `current` (its PATCH "
    "entry is answered 200 but not applied)",
    # profile conformance
    Defect.SLOT_WITHOUT_END: "Slot.end (1..1 in fr-core-slot) is dropped from every Slot served",
    Defect.SPECIALTY_WRONG_SYSTEM: "specialties are coded with a wrong system (TRE_R38 without its /FHIR/ suffix)",
    Defect.DOCREF_WITHOUT_MASTERID: "DocumentReference.masterIdentifier (1..1 in PDSm) is dropped when served",
    Defect.CAPABILITY_WITHOUT_SLOT_SEARCH: "the CapabilityStatement does not declare the Slot search-type",
}


def check_defects(names: Iterable[str]) -> frozenset[Defect]:
    """The defects named, checked once when the sandbox starts.

    Raises:
        ConfigError: a name is not a known defect; the message lists the valid names.
    """
    chosen = frozenset(names)
    unknown = sorted(name for name in chosen if name not in Defect._value2member_map_)
    if unknown:
        raise ConfigError(
            f"unknown sandbox defect(s): {', '.join(unknown)}. Valid names: {', '.join(sorted(DEFECTS))} "
            "(see `mes sandbox --list-defects`)."
        )
    return frozenset(Defect(name) for name in chosen)
