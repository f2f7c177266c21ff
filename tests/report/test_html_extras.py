"""The pytest-html extra of a test: the same record as every other output, its words in the run's language."""

from __future__ import annotations

import re
from html import unescape

from pytest_mes.html_extras import summary_table
from pytest_mes.results import CheckRecord, IssueGroup, RequirementRef, StepRecord, TestRecord


def _failed_record() -> TestRecord:
    issue = IssueGroup("error", "code-invalid", "BINDING_REQUIRED", "Code « busy » absent", "Bundle.entry[*].status",
                       count=3)
    checks = [CheckRecord("status", "status", "failed", "200", "404 Not Found", line=9),
              CheckRecord("conforms_to", "conforms to P", "failed", "no error", "3 error(s)", because="GAP says so",
                          issues=[issue]),
              CheckRecord("status", "status", "passed", "200", "200 OK")]
    return TestRecord(index=0, nodeid="n", id="GAP-1", verdict="waived", reason="étape 1 « read » : status : …",
                      requirements=[RequirementRef("GAP flux 4a", "SHALL")],
                      steps=[StepRecord("read", "test", 0, 8, "failed", checks=checks)],
                      waiver={"justification": "known", "author": "QA"})


def _rows(table: str) -> list[tuple[str, str]]:
    return [(unescape(name), unescape(value)) for name, value in re.findall(r"<tr><th>(.*?)</th><td>(.*?)</td></tr>",
                                                                            table, re.S)]


def test_the_rows_are_named_in_the_run_language():
    record = _failed_record()
    french, english = _rows(summary_table(record, "fr")), _rows(summary_table(record, "en"))
    assert [name for name, _ in french] == ["Verdict", "Motif", "Exigence", "Contrôle", "Contrôle", "Dérogation"]
    assert [name for name, _ in english] == ["Verdict", "Reason", "Requirement", "Check", "Check", "Waiver"]
    assert (french[0][1], english[0][1]) == ("dérogation", "waived")
    assert french[2][1] == english[2][1] == "GAP flux 4a (SHALL)"
    assert french[5][1] == english[5][1] == "known (QA)"


def test_a_failed_check_reads_as_in_the_terminal_with_its_issues():
    fr_checks = [value for name, value in _rows(summary_table(_failed_record(), "fr")) if name == "Contrôle"]
    en_checks = [value for name, value in _rows(summary_table(_failed_record(), "en")) if name == "Check"]
    assert fr_checks[0] == "<pre>✗ status (ligne 9) : attendu 200, obtenu 404 Not Found</pre>"
    assert en_checks[0] == "<pre>✗ status (line 9): expected 200, got 404 Not Found</pre>"
    assert en_checks[1] == ("<pre>✗ conforms to P: expected no error, got 3 error(s)\n"
                            "    because: GAP says so\n"
                            "    error: Bundle.entry[*].status (× 3): Code « busy » absent</pre>")
    assert "car : GAP says so" in fr_checks[1]
    assert "erreur : Bundle.entry[*].status (× 3) : Code « busy » absent" in fr_checks[1]


def test_what_a_server_sends_is_escaped():
    record = _failed_record()
    record.steps[0].checks[0].actual = "<script>alert(1)</script>"
    assert "<script>" not in summary_table(record, "en") and "&lt;script&gt;" in summary_table(record, "en")
