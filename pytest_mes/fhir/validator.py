"""The FHIR R4 validator: compiled StructureDefinitions walked over JSON resources.

:class:`Validator` holds the compiled definitions (:class:`~pytest_mes.fhir.definitions.Definitions`: each
StructureDefinition compiled once and kept) and the verdicts kept across walks; :meth:`Validator.validate`
walks a resource (see :mod:`pytest_mes.fhir.walk`) against its base definition, its ``meta.profile`` and the
requested profiles, and returns a :class:`ValidationResult` of :class:`Issue` with FHIRPath locations such as
``Bundle.entry[2].resource.identifier[0].system``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pytest_mes.fhir.compiler import Schema
from pytest_mes.fhir.definitions import Definitions
from pytest_mes.fhir.issues import Issue, ValidationResult, make_issue, sort_issues
from pytest_mes.fhir.references import MAX_CHAIN
from pytest_mes.fhir.resolution import Fetched, Resolver
from pytest_mes.fhir.rules import ProjectRules, bundled_rules
from pytest_mes.fhir.store import PackageStore
from pytest_mes.fhir.valuesets import ValueSetExpander
from pytest_mes.fhir.walk import MAX_DEPTH, Walk, _kind, checks_against_definition

__all__ = ["Issue", "ValidationResult", "Validator"]

BEST_PRACTICE = ("ignore", "information", "warning", "error")  # severities a best-practice invariant may take
MAX_PASSES = 10  # walks of one resource when chains of references are cut: MAX_CHAIN deeper at least each time


class Validator:
    """Validates FHIR R4 JSON resources against base R4 and the profiles of a :class:`PackageStore`.

    Args:
        store: the loaded packages.
        must_support: report absent must-support elements as information issues.
        rules: the project's own rules, applied with the profiles they name (default:
            ``profiles/rules.yaml``; ``ProjectRules()`` for none).
        security_checks: what looks like an HTML tag in a string is an error (STRING_HTML), not a warning.
        example_urls: extensions from example domains (example.org, acme.com…) are accepted without a
            definition (information); False makes them an error (EXAMPLE_URL).
        bundle_rules: ``(rule, profile url)`` pairs: the Bundle entries a rule ``TYPE:INDEX`` selects
            (``Patient:0``, ``Patient:``, ``:2``) are validated against that profile too.
        best_practice: the severity of the invariants HL7 marks as best practice (dom-6, a resource should
            have a narrative…): ``"warning"`` (the default), ``"error"``, ``"information"``, or ``"ignore"`` (not
            checked), as the HL7 validator's ``-best-practice``.
        resolver: gives the target of a literal reference found neither in the resource (contained) nor in
            its Bundle, or None (see :mod:`pytest_mes.fhir.resolution`): a target found must be of the type
            its reference names and conform to one of the element's target profiles. Default: none, such
            targets are not judged.
    """

    def __init__(self, store: PackageStore, *, must_support: bool = True, rules: ProjectRules | None = None,
                 security_checks: bool = False, example_urls: bool = True,
                 bundle_rules: Sequence[tuple[str, str]] = (), resolver: Resolver | None = None,
                 best_practice: str = "warning"):
        if best_practice not in BEST_PRACTICE:
            raise ValueError(f"best_practice must be one of {', '.join(BEST_PRACTICE)}, not {best_practice!r}")
        self.store = store
        self.resolver = resolver
        # (rule, profile): the Bundle entries the rule selects ("Type:index", either part may be empty, as
        # the HL7 validator's -bundle) are validated against that profile too
        self.bundle_rules = tuple(bundle_rules)
        # (type, index, profile) of each rule, split once rather than for every entry of every Bundle
        self._bundle_selectors = tuple((*rule.partition(":")[::2], profile) for rule, profile in self.bundle_rules)
        self.must_support = must_support
        self.security_checks = security_checks  # HTML in a string or markdown: an error, not a warning
        self.example_urls = example_urls  # extensions from example domains accepted without a definition
        self.definitions = Definitions(store, bundled_rules() if rules is None else rules, best_practice)
        self.expander = ValueSetExpander(store)
        self.against_definition = checks_against_definition()
        # Verdicts that depend on the values only, kept across walks (the same codings, systems and
        # extensions come again and again): a required binding's per (ValueSet, codes), see
        # Walk.check_binding; a value or pattern discriminator's per (slice, path, values), see
        # SlicingChecks.value_discriminator; an extension's contexts per (extension, path, holder), see
        # Walk.check_extension_context.
        self.binding_verdicts: dict[tuple, tuple[bool | None, str, str]] = {}
        self.slice_verdicts: dict[tuple[int, str, str, str], bool | None] = {}
        self.contexts_met: dict[tuple[str, str, tuple[str, str]], bool] = {}

    def bundle_profiles(self, rtype: str, index: int) -> list[str]:
        """The profiles `bundle_rules` give the entry `index` of a Bundle, a `rtype`."""
        position = str(index)
        return [profile for wanted_type, wanted_index, profile in self._bundle_selectors
                if wanted_type in ("", rtype) and wanted_index in ("", position)]

    # ---- front door -----------------------------------------------------------------------------
    def validate(self, resource: Any, profiles: Sequence[str] = (), *, context: str | None = None,
                 resolver: Resolver | None = None) -> ValidationResult:
        """Validate one resource (parsed JSON) against base R4, its ``meta.profile`` and `profiles`.

        Args:
            resource: the resource, parsed JSON.
            profiles: canonical urls (``url`` or ``url|version``) it must also conform to. An unknown
                one gives an error issue "profil introuvable".
            context: a package key (``"ans.fhir.fr.gap#3.0.0"``) whose dependencies pin the version of
                unversioned canonicals (``meta.profile``, ``profiles``); default: the latest loaded. A
                package that is not loaded gives one warning issue (CONTEXT_UNKNOWN) and is ignored.
            resolver: for this validation, instead of the validator's (see :class:`Validator`).
        """
        run = Walk(self)
        resolver = resolver or self.resolver
        if resolver is not None:
            run.conformance.fetched = Fetched(resolver)
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            run.add("fatal", "NOT_A_RESOURCE", "", found=_kind(resource))
            return ValidationResult(run.issues)
        rtype = resource["resourceType"]
        if context is not None and self.store.package(context) is None:
            # Validated anyway (unversioned canonicals then resolve to the latest loaded version), but
            # said: the caller asked for a package that is not there.
            run.add("warning", "CONTEXT_UNKNOWN", rtype, context=context)
            context = None
        explicit: list[Schema] = []
        for url in profiles:
            schema = self.definitions.schema(url, context)
            if schema is None:
                reason = self.definitions.broken_reason(url)
                run.add("error", "PROFILE_NOT_FOUND", rtype, source=reason or "", url=url)
            else:
                explicit.append(schema)
        found_before = run.issues
        for _ in range(MAX_PASSES):
            run.issues = list(found_before)
            try:
                run.validate_resource(resource, rtype, explicit=explicit, context=context, contained=False)
            except RecursionError:
                # Objects nested more than walk.MAX_DEPTH deep, or deeper than Python's stack: said, not a crash.
                return ValidationResult([make_issue("fatal", "TOO_DEEP", rtype, limit=MAX_DEPTH)])
            # A chain of references cut at MAX_CHAIN assumed the check it cut conformant: that check is judged
            # from the top of the stack, and the walk done again, now knowing its verdict.
            if not run.conformance.judge_cuts():
                break
            run.done.clear()
            run.said.clear()
        else:
            run.add("information", "REF_CHAIN_CUT", rtype, depth=MAX_CHAIN * MAX_PASSES)
        return ValidationResult(sort_issues(_unshadowed([*run.issues, *run.said.values()])))


def _unshadowed(issues: list[Issue]) -> list[Issue]:
    """Without the warnings a stand-in package's rules gave (see Walk.add) that another definition reports
    as errors at the same place: the finding stands as an error, once."""
    noted = [i for i in issues if i.note is not None]
    if not noted:
        return issues
    errors = {(i.message_id, i.expression, i.args) for i in issues if i.severity in ("error", "fatal")}
    return [i for i in issues if i.note is None or (i.message_id, i.expression, i.args) not in errors]
