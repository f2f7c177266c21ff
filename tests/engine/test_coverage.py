"""The coverage matrix: items read from the IGs' server CapabilityStatements, references checked against them,
and `mes coverage`."""

from __future__ import annotations

import json

import pytest

from pytest_mes.cli import main
from pytest_mes.coverage import SERVER_STATEMENTS, Catalogue, coverage_matrix
from pytest_mes.errors import TestSetError
from pytest_mes.testset.model import Covers, load_testset

SET = """
id: demo
title: Demo
component: gap
tests:
  - id: GAP-X-01
    title: Slots by start
    requirements:
      - ref: "GAP flux 4a"
        level: SHALL
        transaction: GAP-4a
        capability:
          - {actor: GAP-GestionnaireAgenda, resource: Slot, search: start}
          - {actor: GAP-GestionnaireAgenda, resource: Slot, interaction: search-type}
    steps:
      - request: {path: Slot}
  - id: PDSM-X-01
    title: Provide
    requirements:
      - ref: "ITI-65"
        level: SHALL
        transaction: ITI-65
        capability: {actor: PDSm-GestionnaireDePartageDeDocuments, interaction: transaction}
      - ref: "conditional update"
        level: SHALL
        capability: {actor: PDSm-GestionnaireDePartageDeDocuments, resource: DocumentReference, conditional: update}
    steps:
      - request: {path: metadata}
"""


def test_the_items_come_from_the_three_server_statements(catalogue):
    assert sorted(catalogue.statements.values()) == sorted(SERVER_STATEMENTS) and not catalogue.missing
    labels = {item.label for item in catalogue.items}
    assert "GAP-GestionnaireAgenda Slot: search GAP_Slot_earliestStart (start)" in labels
    assert "GAP-GestionnaireAgenda Appointment: conditional update" in labels
    assert "PDSm-GestionnaireDePartageDeDocuments system: transaction" in labels
    assert "GAP-GestionnaireRessources Device: delete" in labels
    # Wire codes: from the package's SearchParameter, or from the canonical when the package is absent (MHD).
    codes = {(i.resource, i.name): i.code for i in catalogue.items if i.kind == "search"}
    assert codes[("List", "PDSm_isArchived")] == "isArchived"
    assert codes[("List", "DesignationType")] == "designationType"
    assert codes[("DocumentReference", "PDSm_DocumentReference_period-start")] == "period-start"
    assert codes[("List", "patient")] == "patient"


@pytest.mark.parametrize(("covers", "message"), [
    (Covers("GAP-GestionaireAgenda", "Slot", search="start"),
     "unknown actor 'GAP-GestionaireAgenda' — did you mean 'GAP-GestionnaireAgenda'?"),
    (Covers("GAP-GestionnaireAgenda", "Slots", search="start"),
     "unknown resource 'Slots' in GAP-GestionnaireAgenda — did you mean 'Slot'?"),
    (Covers("GAP-GestionnaireAgenda", "Slot", search="statut"),
     "unknown search parameter 'statut' on Slot in GAP-GestionnaireAgenda — did you mean 'status'?"),
    (Covers("GAP-GestionnaireAgenda", "Slot", interaction="create"),
     "declared: read, search-type"),
])
def test_a_reference_to_nothing_says_what_is_declared(catalogue, covers, message):
    assert message in catalogue.problem(covers)


def test_a_wrong_reference_fails_the_load_at_its_line(write_set, catalogue):
    path = write_set(SET.replace("search: start}", "search: begin}"))
    with pytest.raises(TestSetError, match=r"set.yaml:12:13: capability: unknown search parameter 'begin'"):
        load_testset(path, catalogue=catalogue)
    # Without the packages, only the form is checked.
    load_testset(path)
    with pytest.raises(TestSetError, match="name exactly one of interaction, search, conditional"):
        load_testset(write_set(SET.replace("resource: Slot, search: start", "resource: Slot")))


def test_the_matrix_lists_each_item_and_flow_with_its_tests(write_set, catalogue):
    matrix = coverage_matrix([load_testset(write_set(SET), catalogue=catalogue)], catalogue)
    items = {item["label"]: item["tests"] for item in matrix["items"]}
    assert items["GAP-GestionnaireAgenda Slot: search GAP_Slot_earliestStart (start)"] == ["GAP-X-01"]
    assert items["GAP-GestionnaireAgenda Slot: search GAP_Slot_latestStart (start)"] == ["GAP-X-01"]
    assert items["GAP-GestionnaireAgenda Slot: search status"] == []
    assert items["PDSm-GestionnaireDePartageDeDocuments DocumentReference: conditional update"] == ["PDSM-X-01"]
    assert items["PDSm-GestionnaireDePartageDeDocuments system: transaction"] == ["PDSM-X-01"]
    flows = {flow["id"]: flow["tests"] for flow in matrix["flows"]}
    assert flows["GAP-4a"] == ["GAP-X-01"] and flows["ITI-65"] == ["PDSM-X-01"] and flows["ITI-67"] == []
    summary = matrix["summary"]
    assert summary["items_covered"] == 5 and summary["items"] == len(catalogue.items)
    assert "GAP-GestionnaireAgenda Slot: search status" in matrix["uncovered"]["items"]


def test_mes_coverage_prints_the_matrix_as_json_and_exits_1_when_items_are_uncovered(
        write_set, fhir_packages_dir, capsys):
    path = write_set(SET)
    code = main(["coverage", "--offline", f"--packages={fhir_packages_dir}", f"--testsets={path}",
                 "--format=json"])
    matrix = json.loads(capsys.readouterr().out)
    assert code == 1 and matrix["summary"]["items_covered"] == 5


def test_mes_coverage_says_which_test_set_is_malformed(write_set, fhir_packages_dir, capsys):
    path = write_set(SET.replace("search: start}", "search: begin}"))
    assert main(["coverage", "--offline", f"--packages={fhir_packages_dir}", f"--testsets={path}"]) == 2
    assert "set.yaml:12:13: capability: unknown search parameter 'begin'" in capsys.readouterr().err


@pytest.mark.parametrize(("name", "said"), [("nowhere", "no such file or folder"),
                                            ("empty", "no test set (.yaml, .yml) in this folder")])
def test_mes_coverage_of_test_sets_it_cannot_find_says_so_rather_than_reporting_nothing_covered(
        tmp_path, fhir_packages_dir, capsys, name, said):
    (tmp_path / "empty").mkdir()
    where = tmp_path / name
    assert main(["coverage", "--offline", f"--packages={fhir_packages_dir}", f"--testsets={where}"]) == 2
    out = capsys.readouterr()
    assert f"mes coverage: --testsets {where}: {said}" in out.err and "covered" not in out.out


def test_a_statement_missing_from_the_packages_is_named_not_guessed(catalogue):
    partial = Catalogue(catalogue.items[:1], {}, [SERVER_STATEMENTS[0]])
    assert partial.problem(Covers("GAP-GestionnaireAgenda", "Slot", search="anything")) is None


def test_mes_coverage_says_which_package_source_it_could_not_read(write_set, fhir_packages_dir, tmp_path, capsys):
    """A --packages typo beside the right folder: said, as mes validate and pytest say it, not silently dropped."""
    path = write_set(SET)
    typo = tmp_path / "fhir-pakages"
    main(["coverage", "--offline", f"--packages={typo}", f"--packages={fhir_packages_dir}", f"--testsets={path}"])
    err = capsys.readouterr().err
    assert f"mes coverage: warning: package source {typo} does not exist" in err
    assert "FHIR packages missing" not in err, "the packages' own missing dependencies do not matter here"
