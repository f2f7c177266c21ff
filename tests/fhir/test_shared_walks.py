"""A resource walked by conforms() (to sort a Bundle entry into its ``profile:resource`` slice, or to
judge a reference target) is not walked again: the main walk says the issues found again, at its own
location. The other way round, a conformance check takes the verdict of a walk the main walk has made
already. These tests hold those optimisations to the exact issues of the walks they save."""

from __future__ import annotations

import copy
import itertools

import pytest

from pytest_mes.fhir.references import Conformance
from pytest_mes.fhir.validator import Validator
from pytest_mes.fhir.walk import Walk
from tests.fhir.conftest import errors, local_validator, patch_walk

GAP = "ans.fhir.fr.gap#3.0.0"
CORE21 = "hl7.fhir.fr.core#2.1.0"
GAP_BUNDLE = "https://interop.esante.gouv.fr/ig/fhir/gap/StructureDefinition/gap-bundle-reponse-demande-consult-dispo"
FR_LOCATION = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-location"


def _gap_bundle(examples, slots: int = 3) -> dict:
    entries = []
    for i in range(slots):
        slot, schedule = examples(GAP, "Slot-example.json"), examples(GAP, "Schedule-example.json")
        slot["id"], schedule["id"] = f"r{i}", f"s{i}"
        slot["schedule"] = {"reference": f"Schedule/s{i}"}
        entries += [
            {"fullUrl": f"https://example.org/fhir/Slot/r{i}", "resource": slot, "search": {"mode": "match"}},
            {"fullUrl": f"https://example.org/fhir/Schedule/s{i}", "resource": schedule,
             "search": {"mode": "include"}},
        ]
    return {"resourceType": "Bundle", "type": "searchset", "meta": {"profile": [GAP_BUNDLE]}, "entry": entries}


def _mutants(examples) -> list[tuple[str, dict]]:
    """GAP Bundles broken in ways that make the derived-profile walk fail, or the slice match fail."""
    out = [("valid", _gap_bundle(examples))]
    bundle = _gap_bundle(examples)
    bundle["entry"][0]["resource"]["status"] = "occupé"  # outside the required ValueSet: every profile says so
    out.append(("bad status", bundle))
    bundle = _gap_bundle(examples)
    del bundle["entry"][2]["resource"]["meta"]  # sorted by fr-core-slot alone
    bundle["entry"][3]["resource"]["serviceType"] = [{"text": "0..0 in FR Core"}]
    out.append(("undeclared slot, broken schedule", bundle))
    bundle = _gap_bundle(examples)
    bundle["entry"][4]["request"] = {"method": "GET", "url": "Slot"}
    bundle["entry"][5]["resource"]["unknown"] = 1
    out.append(("request in a slot entry, unknown element", bundle))
    return out


def _locations_in_a_cycle(broken: bool) -> dict:
    """FR Core 2.1.0 Locations a and b, each partOf the other (target profile fr-core-location), and c
    partOf a, first: judging c walks a, which walks b, which finds a being judged and assumes it
    conforms. b's walk leaned on that assumption: replayed, it would hide that a does not conform."""
    def location(own: str, other: str) -> dict:
        return {"resourceType": "Location", "id": own, "meta": {"profile": [FR_LOCATION + "|2.1.0"]}, "name": own,
                "partOf": {"reference": f"Location/{other}"}}
    c, a, b = location("c", "a"), location("a", "b"), location("b", "a")
    if broken:
        b["status"] = "fermé"
    return {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": f"https://example.org/fhir/Location/{r['id']}", "resource": r} for r in (c, a, b)]}


def _cases(examples) -> list[tuple[str, dict, str]]:
    cases = [(name, bundle, GAP) for name, bundle in _mutants(examples)]
    cases += [(f"location cycle {broken}", _locations_in_a_cycle(broken), CORE21) for broken in (False, True)]
    # Contained resources judged through references (and under a stand-in Annuaire): replayed too.
    pdsm = [examples(PDSM, name) for name in PDSM_CONTAINING]
    cases += [(name, resource, PDSM) for name, resource in zip(PDSM_CONTAINING, pdsm, strict=True)]
    cases.append(("PDSm searchset", {"resourceType": "Bundle", "type": "searchset", "entry": [
        {"fullUrl": f"https://example.org/fhir/{r['resourceType']}/{r['id']}", "resource": r} for r in pdsm]}, None))
    return cases


PDSM = "ans.fhir.fr.pdsm#3.1.1"
PDSM_CONTAINING = ("List-ExampleSubmissionSet.json", "DocumentReference-exemple-pdsm-documentreference.json",
                   "List-ExampleFolder.json")


def test_replayed_walks_give_the_issues_of_walking_again(validator, examples, monkeypatch):
    cases = _cases(examples)
    hits = []
    real_replay = Conformance.replay

    def counting_replay(self, *args):
        found = real_replay(self, *args)
        hits.append(found is not None)
        return found

    monkeypatch.setattr(Conformance, "replay", counting_replay)
    shared = [validator.validate(copy.deepcopy(bundle), context=ctx).issues for _, bundle, ctx in cases]
    assert sum(hits) >= 6, "the valid GAP Bundle's entries are not walked twice"
    monkeypatch.setattr(Conformance, "replay", lambda self, *args: None)
    monkeypatch.setattr(Conformance, "lend_verdict", lambda self, terms: None)
    patch_walk(monkeypatch, declared_derivation=lambda self, resource, schema, context: None)
    again = [Validator(validator.store).validate(copy.deepcopy(bundle), context=ctx).issues
             for _, bundle, ctx in cases]
    for (name, _, _), one, other in zip(cases, shared, again, strict=True):
        assert one == other, name


def test_mutants_are_found(validator, examples):
    """The cases above do exercise failures: each mutant has errors, at the entry it broke."""
    found = {name: errors(validator.validate(bundle, context=GAP)) for name, bundle in _mutants(examples)}
    assert found["valid"] == set()
    assert ("BINDING_REQUIRED", "Bundle.entry[0].resource.status") in found["bad status"]
    assert any(e.startswith("Bundle.entry[3]") for _, e in found["undeclared slot, broken schedule"])
    assert ("UNKNOWN_ELEMENT", "Bundle.entry[5].resource.unknown") in found["request in a slot entry, unknown element"]


def _walks_of(resource: dict, monkeypatch) -> list[str]:
    """The definitions `resource` is walked against from its root, one item per walk (any walk: main or
    conformance), from now on."""
    walks = []
    real = Walk.check_object

    def spied(self, holder, obj, loc, type_code, elem):
        if obj is resource and holder is holder.schema.root:
            walks.append(holder.schema.url)
        return real(self, holder, obj, loc, type_code, elem)

    patch_walk(monkeypatch, check_object=spied)
    return walks


AS_DP_ROLE = "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-dp-practitionerrole"


@pytest.mark.parametrize("broken", [False, True])
def test_a_target_the_main_walk_walked_is_judged_from_that_walk(validator, examples, monkeypatch, broken):
    """The SubmissionSet's contained PractitionerRole is walked against its as-dp-practitionerrole (main
    walk), then judged as List.source's target through that profile: from the main walk's verdict, whether
    it conforms or not, with the issues of walking it again."""
    submission = examples(PDSM, "List-ExampleSubmissionSet.json")
    role = submission["contained"][0]
    assert submission["source"]["reference"] == "#" + role["id"] and AS_DP_ROLE in str(role["meta"]["profile"])
    if broken:
        role["active"] = "yes"
    walks = _walks_of(role, monkeypatch)
    shared = validator.validate(submission, context=PDSM).issues
    assert walks.count(AS_DP_ROLE) == 1
    walks.clear()
    monkeypatch.setattr(Conformance, "lend_verdict", lambda self, terms: None)
    again = Validator(validator.store).validate(submission, context=PDSM).issues
    assert walks.count(AS_DP_ROLE) == 2  # the control: without the main walk's verdict, a second walk
    assert shared == again
    found = {(i.message_id, i.expression) for i in shared if i.severity == "error"}
    assert (("REF_TARGET_PROFILE", "List.source.reference") in found) is broken
    assert (("WRONG_JSON_TYPE", "List.contained[0].active") in found) is broken


def test_a_walk_under_other_pins_lends_no_verdict(validator, examples, monkeypatch):
    """The SubmissionSet's contained Organization, first this time, with its Annuaire as-ext-data-trace
    broken. The main walk walks it against fr-core-organization as PDSm pins it: Annuaire stands in there,
    its rules give warnings. The PractitionerRole's organization (fr-core-practitioner-role) judges it
    against the same definition as FR Core pins it: no stand-in, an error, so not from the main walk."""
    submission = examples(PDSM, "List-ExampleSubmissionSet.json")
    submission["contained"].reverse()
    organization, role = submission["contained"]
    assert role["organization"]["reference"] == "#" + organization["id"]
    trace = organization["meta"]["extension"][0]["extension"][0]
    trace["valueString"] = trace.pop("valueCode")
    result = validator.validate(submission, context=PDSM)
    assert ("REF_TARGET_PROFILE", "List.contained[1].organization.reference") in errors(result)
    monkeypatch.setattr(Conformance, "lend_verdict", lambda self, terms: None)
    assert result.issues == Validator(validator.store).validate(submission, context=PDSM).issues


def test_a_walk_under_other_pins_is_not_replayed(validator, examples, monkeypatch):
    """The SubmissionSet's contained Organization, its Annuaire as-ext-data-trace broken, is first walked as
    the PractitionerRole's organization, under the Annuaire's own pins (its rules: errors). The main walk then
    reaches it under PDSm's pins, where the Annuaire stands in (its rules: warnings): it walks it again
    rather than replay the other view, and says what walking it afresh says."""
    submission = examples(PDSM, "List-ExampleSubmissionSet.json")
    role, organization = submission["contained"]
    assert role["organization"]["reference"] == "#" + organization["id"]
    trace = organization["meta"]["extension"][0]["extension"][0]
    trace["valueString"] = trace.pop("valueCode")
    shared = validator.validate(submission, context=PDSM).issues
    where = "List.contained[1].meta.extension[0].extension[0].valueString"
    assert {i.severity for i in shared if i.message_id == "UNKNOWN_ELEMENT" and i.expression == where} == {"warning"}
    monkeypatch.setattr(Conformance, "replay", lambda self, *args: None)
    assert shared == Validator(validator.store).validate(submission, context=PDSM).issues


LOCAL = "http://example.org/StructureDefinition/"


def _local_profile(type_: str, name: str, elements: list[dict]) -> dict:
    return {"resourceType": "StructureDefinition", "id": name, "url": LOCAL + name, "name": name.title(),
            "status": "draft", "kind": "resource", "abstract": False, "type": type_,
            "baseDefinition": f"http://hl7.org/fhir/StructureDefinition/{type_}", "derivation": "constraint",
            "differential": {"element": elements}}


def test_a_walk_that_left_out_a_resource_walked_before_lends_no_verdict(fhir_packages_dir, tmp_path):
    """A declares "one" and "two"; its contained Organization is broken. The main walk walks A against
    "one" (and its contained one), then against "two" without walking the contained one again: that second
    walk found no error, but walking A against "two" does. B's partOf (target "two") judges A by walking.
    (The Bundle's profile is of the same package as "child": A's definitions are chosen as B's are.)"""
    named = [{"id": "Organization.name", "path": "Organization.name", "min": 1}]
    profiles = [_local_profile("Organization", "one", named), _local_profile("Organization", "two", named),
                _local_profile("Organization", "child", [{"id": "Organization.partOf", "path": "Organization.partOf",
                                                          "type": [{"code": "Reference",
                                                                    "targetProfile": [LOCAL + "two"]}]}]),
                _local_profile("Bundle", "entries", [{"id": "Bundle.entry", "path": "Bundle.entry", "min": 1}])]
    validator = local_validator(fhir_packages_dir, tmp_path, "example.shared", profiles)
    a = {"resourceType": "Organization", "id": "a", "meta": {"profile": [LOCAL + "one", LOCAL + "two"]}, "name": "A",
         "contained": [{"resourceType": "Organization", "id": "n", "name": "N", "active": "yes"}],
         "partOf": {"reference": "#n"}}
    b = {"resourceType": "Organization", "id": "b", "meta": {"profile": [LOCAL + "child"]}, "name": "B",
         "partOf": {"reference": "urn:uuid:a"}}
    bundle = {"resourceType": "Bundle", "type": "collection", "meta": {"profile": [LOCAL + "entries"]}, "entry": [
        {"fullUrl": "urn:uuid:a", "resource": a}, {"fullUrl": "urn:uuid:b", "resource": b}]}
    assert errors(validator.validate(bundle)) == {("WRONG_JSON_TYPE", "Bundle.entry[0].resource.contained[0].active"),
                                                  ("REF_TARGET_PROFILE", "Bundle.entry[1].resource.partOf.reference")}


@pytest.mark.parametrize("broken", [False, True])
def test_reference_cycle_is_judged_without_replaying_an_assumption(validator, broken):
    found = errors(validator.validate(_locations_in_a_cycle(broken), context=CORE21))
    assert (("BINDING_REQUIRED", "Bundle.entry[2].resource.status") in found) is broken
    # b does not conform, so neither does a (its parent), which b's partOf names.
    assert (("REF_TARGET_PROFILE", "Bundle.entry[1].resource.partOf.reference") in found) is broken
    assert (("REF_TARGET_PROFILE", "Bundle.entry[2].resource.partOf.reference") in found) is broken


# ---- found by review: replays and verdicts must not depend on what was walked first ------------------
FR = "https://hl7.fr/ig/fhir/core/StructureDefinition/"
CORE22 = "hl7.fhir.fr.core#2.2.0"


def _member(reference: str) -> dict:
    return {"url": FR + "fr-core-organization-member", "valueReference": {"reference": reference}}


def _ref_errors(result) -> set[tuple[str, str]]:
    return {(m, e) for m, e in errors(result) if m.startswith("REF_")}


def test_a_walk_replayed_only_under_the_same_bundles(validator):
    """A Location walked (as a reference target) from inside a nested Bundle sees that Bundle's entries;
    from the outer Bundle its managingOrganization does not resolve: the inner walk is not replayed."""
    encounter = {"resourceType": "Encounter", "id": "enc", "meta": {"profile": [FR + "fr-core-encounter|2.1.0"]},
                 "status": "finished", "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                                 "code": "AMB"},
                 "location": [{"location": {"reference": "urn:uuid:loc"}}]}
    location = {"resourceType": "Location", "id": "loc", "meta": {"profile": [FR_LOCATION + "|2.1.0"]}, "name": "L",
                "managingOrganization": {"reference": "urn:uuid:org"}}
    inner = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:enc", "resource": encounter},
        {"fullUrl": "urn:uuid:org", "resource": {"resourceType": "Organization", "id": "org", "active": "yes"}}]}
    outer = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:inner", "resource": inner}, {"fullUrl": "urn:uuid:loc", "resource": location}]}
    assert _ref_errors(validator.validate(outer, context=CORE21)) == {
        ("REF_TARGET_PROFILE", "Bundle.entry[0].resource.entry[0].resource.location[0].location.reference")}


def test_a_derived_profile_decides_only_without_assumption(validator):
    """A (declares fr-core-organization-uac) is partOf B, B is a member of A, and B fails org-1. Judging A
    against fr-core-organization through uac leans on B being assumed conformant: not decisive."""
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "http://ex.org/fhir/Organization/A", "resource": {
            "resourceType": "Organization", "id": "A", "meta": {"profile": [FR + "fr-core-organization-uac"]},
            "name": "UAC 01 Dialyse", "partOf": {"reference": "urn:uuid:1"}}},
        {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Organization",
                                               "extension": [_member("Organization/A")]}}]}
    assert _ref_errors(validator.validate(bundle, context=CORE22)) == {
        ("REF_TARGET_PROFILE", "Bundle.entry[0].resource.partOf.reference"),
        ("REF_TARGET_PROFILE", "Bundle.entry[1].resource.extension[0].value.ofType(Reference).reference")}


def test_verdicts_in_a_reference_cycle_do_not_depend_on_the_order_of_the_walk(validator):
    """A is a member of B and partOf C; B is partOf C; C (no name: org-1) is a member of B. Whichever of
    A's references is followed first, B is judged from C's final verdict, not from an assumption."""
    org = FR + "fr-core-organization|2.2.0"
    a = {"resourceType": "Organization", "id": "A", "meta": {"profile": [org]}, "name": "A",
         "extension": [_member("urn:uuid:B")], "partOf": {"reference": "urn:uuid:C"}}
    b = {"resourceType": "Organization", "id": "B", "name": "B", "partOf": {"reference": "urn:uuid:C"}}
    c = {"resourceType": "Organization", "id": "C", "extension": [_member("urn:uuid:B")]}
    expected = {("REF_TARGET_PROFILE", "Bundle.entry[0].resource.extension[0].value.ofType(Reference).reference"),
                ("REF_TARGET_PROFILE", "Bundle.entry[0].resource.partOf.reference"),
                ("REF_TARGET_PROFILE", "Bundle.entry[2].resource.extension[0].value.ofType(Reference).reference")}
    for first in ("extension", "partOf"):
        a_ordered = {k: a[k] for k in sorted(a, key=lambda k: k != first)}  # dicts keep insertion order
        bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
            {"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in (a_ordered, b, c)]}
        assert _ref_errors(Validator(validator.store).validate(bundle, context=CORE22)) == expected, first


def _organizations(links: dict[int, tuple[list[int], int | None]], bad: set[int] = frozenset()) -> dict:
    """FR Core 2.2.0 Organizations: i -> (members, partOf); the `bad` ones have no name (org-1)."""
    entries = []
    for i, (members, part) in links.items():
        org = {"resourceType": "Organization", "id": f"o{i}", "meta": {"profile": [FR + "fr-core-organization"]}}
        if i not in bad:
            org["name"] = f"O{i}"
        if members:
            org["extension"] = [_member(f"urn:uuid:o{m}") for m in members]
        if part is not None:
            org["partOf"] = {"reference": f"urn:uuid:o{part}"}
        entries.append({"fullUrl": f"urn:uuid:o{i}", "resource": org})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


@pytest.mark.parametrize(("n", "bad"), [(10, {3, 7}), (40, {39})])
def test_a_dense_web_of_references_is_judged_in_linear_work(validator, monkeypatch, n, bad):
    """Each Organization is a member of the next two and partOf the next: cycles everywhere. Verdicts
    resting on an assumption are kept while it holds: the number of walks grows with the Bundle, not
    exponentially (the first version of this judged 6,239 walks for these 10 Organizations). Each reaches
    a broken one, so each of the 3n references names a non-conformant target; in a ring of 40, every check
    is cut 20 deep on some walk, and the checks cut are judged from the top."""
    walks = []
    real = Walk.walk_for_conformance

    def counted(self, *args):
        walks.append(1)
        return real(self, *args)

    patch_walk(monkeypatch, walk_for_conformance=counted)
    links = {i: ([(i + 1) % n, (i + 2) % n], (i + 1) % n) for i in range(n)}
    result = Validator(validator.store).validate(_organizations(links, bad=bad), context=CORE22)
    assert len(walks) <= 10 * n, len(walks)
    member = "extension[{}].value.ofType(Reference).reference"
    assert _ref_errors(result) == {("REF_TARGET_PROFILE", f"Bundle.entry[{i}].resource.{path}") for i in range(n)
                                   for path in (member.format(0), member.format(1), "partOf.reference")}


def test_a_chain_longer_than_the_cut_is_judged_whatever_the_entry_order(validator):
    """o0 -> o1 -> ... -> o29 (partOf), o29 broken: every partOf points to a non-conformant parent, in
    whichever order the entries come; the walk is done again beyond each cut."""
    n = 30
    links = {i: ([], i + 1 if i + 1 < n else None) for i in range(n)}
    found = []
    for order in (list(range(n)), list(reversed(range(n)))):
        bundle = _organizations({i: links[i] for i in order}, bad={n - 1})
        result = Validator(validator.store).validate(bundle, context=CORE22)
        position = {f"Bundle.entry[{k}]": f"o{i}" for k, i in enumerate(order)}
        found.append({(m, position[e.split(".resource")[0]]) for m, e in _ref_errors(result)})
        assert "REF_CHAIN_CUT" not in {i.message_id for i in result.issues}
    assert found[0] == found[1] == {("REF_TARGET_PROFILE", f"o{i}") for i in range(n - 1)}


def test_a_walk_under_a_chain_cut_lends_no_verdict(validator, monkeypatch):
    """Contained Organizations o0 -> o1 -> ... -> o29 (partOf), o29 broken. The main walk walks o0 first: the
    chain is cut, o1... are assumed conformant, and the walks of o1, o2... that the main walk then makes rest
    on that. Walked again beyond the cut, the partOf of each judges the next by walking it, not from those."""
    n = 30
    contained = [{"resourceType": "Organization", "id": f"o{i}", "meta": {"profile": [FR + "fr-core-organization"]},
                  "name": f"O{i}", "partOf": {"reference": f"#o{i + 1}"}} for i in range(n)]
    del contained[-1]["name"], contained[-1]["partOf"]
    x = {"resourceType": "Organization", "meta": {"profile": [FR + "fr-core-organization"]}, "name": "X",
         "contained": contained, "partOf": {"reference": "#o0"}}
    result = Validator(validator.store).validate(x, context=CORE22)
    assert {("REF_TARGET_PROFILE", f"Organization.contained[{i}].partOf.reference") for i in range(1, n - 1)} <= \
        _ref_errors(result)
    monkeypatch.setattr(Conformance, "lend_verdict", lambda self, terms: None)
    assert result.issues == Validator(validator.store).validate(x, context=CORE22).issues


# ---- chains longer than the cut (MAX_CHAIN = 20 checks on one stack) --------------------------------
@pytest.fixture(scope="module")
def chain_store(fhir_packages_dir, tmp_path_factory):
    """A local profile "chain": a name, and partOf an Organization of the same profile."""
    chain = _local_profile("Organization", "chain", [
        {"id": "Organization.name", "path": "Organization.name", "min": 1},
        {"id": "Organization.partOf", "path": "Organization.partOf",
         "type": [{"code": "Reference", "targetProfile": [LOCAL + "chain"]}]}])
    return local_validator(fhir_packages_dir, tmp_path_factory.mktemp("chain"), "example.chain", [chain]).store


def _chain(n: int, shape: str, reverse: bool, x_last: bool) -> tuple[dict, dict[str, str]]:
    """X partOf o0, o0 partOf o1, ... o(n-1), which has no name: (the resource, where each one is). o0...
    are X's contained resources, or entries of a Bundle beside X; in order or the other way round; walked
    before X's partOf (X's contained first, X the last entry) or after it."""
    def org(own: str, parent: str | None) -> dict:
        found = {"resourceType": "Organization", "id": own, "meta": {"profile": [LOCAL + "chain"]}, "name": own}
        if parent is not None:
            found["partOf"] = {"reference": ("#" if shape == "contained" else "urn:uuid:") + parent}
        return found
    links = [org(f"o{i}", f"o{i + 1}" if i + 1 < n else None) for i in range(n)]
    del links[-1]["name"]
    if reverse:
        links.reverse()
    x = org("x", "o0")
    if shape == "contained":
        x["contained"] = links
        if x_last:
            x["partOf"] = x.pop("partOf")  # after contained: the walk follows the order of the members
        return x, {"x": "Organization", **{o["id"]: f"Organization.contained[{k}]" for k, o in enumerate(links)}}
    entries = [*links, x] if x_last else [x, *links]
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"fullUrl": f"urn:uuid:{o['id']}", "resource": o} for o in entries]}
    return bundle, {o["id"]: f"Bundle.entry[{k}].resource" for k, o in enumerate(entries)}


@pytest.mark.parametrize("n", [2, 19, 20, 21, 22, 30, 40, 41, 45])
@pytest.mark.parametrize("shape", ["contained", "bundle"])
def test_the_broken_end_of_a_chain_makes_every_resource_before_it_non_conformant(chain_store, n, shape,
                                                                                  monkeypatch):
    """Each resource whose partOf chain reaches the broken o(n-1) does not conform to "chain": every partOf
    (X's and o0's to o(n-2)'s) names a non-conformant target, however long the chain, whatever the order in
    which the resources come. Chains cut at 20 are judged from the cut, as walking each link would judge them."""
    for reverse, x_last in itertools.product((False, True), repeat=2):
        resource, where = _chain(n, shape, reverse, x_last)
        result = Validator(chain_store).validate(resource)
        referring = ["x", *(f"o{i}" for i in range(n - 1))]  # all but the broken one have a partOf
        expected = {("REF_TARGET_PROFILE", f"{where[own]}.partOf.reference") for own in referring}
        assert _ref_errors(result) == expected, (reverse, x_last)
        assert "REF_CHAIN_CUT" not in {i.message_id for i in result.issues}
        with monkeypatch.context() as m:
            m.setattr(Conformance, "replay", lambda self, *args: None)
            assert Validator(chain_store).validate(resource).issues == result.issues, (reverse, x_last)
            m.setattr(Conformance, "lend_verdict", lambda self, terms: None)
            assert Validator(chain_store).validate(resource).issues == result.issues, (reverse, x_last)
