"""Collection: only with a target, only test-set folders, errors with file:line, markers, selection."""

from __future__ import annotations

import pytest

from tests.plugin.conftest import a_set, read_test
from tests.support.server import Reply


def test_without_a_target_nothing_is_collected_and_other_yaml_is_left_alone(pytester, add_set):
    add_set(a_set(tests=read_test("CORE-A-01")))
    pytester.makefile(".yaml", config="not: [a, test, set")  # a user's own broken YAML: not our business
    pytester.makepyfile(test_user="def test_user():\n    assert True\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "mes:" not in result.stdout.str()


def test_with_a_target_yaml_outside_test_set_folders_is_ignored(pytester, add_set, server):
    add_set(a_set(tests=read_test("CORE-A-01")))
    pytester.makefile(".yaml", config="not: [a, test, set")
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", ".")
    result.assert_outcomes(passed=1)


def test_node_ids_carry_the_test_ids(pytester, add_set, server):
    add_set(a_set(tests=read_test("CORE-A-01") + read_test("CORE-A-02")))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "--collect-only",
                                "-q")
    result.stdout.fnmatch_lines(["sets/set.yaml::CORE-A-01", "sets/set.yaml::CORE-A-02"])


def test_a_broken_file_fails_collection_with_file_line_and_the_others_still_collect(pytester, add_set, server):
    add_set(a_set(tests=read_test("CORE-A-01")), "good.yaml")
    add_set(a_set(tests=read_test("CORE-B-01")).replace("component: core", "componnent: core"), "bad.yaml")
    add_set("id: x\ntitle: [oops\n", "worse.yaml")
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets",
                                "--continue-on-collection-errors")
    output = result.stdout.str()
    assert "sets/bad.yaml:3:1: (top level): unknown key 'componnent' — did you mean 'component'?" in output
    assert "sets/bad.yaml:1:1: (top level): missing required key 'component'" in output
    assert "sets/worse.yaml:3:1: invalid YAML: expected ',' or ']'" in output
    assert "Traceback" not in output and "site-packages" not in output
    result.assert_outcomes(passed=1, errors=2)


def test_markers_select_by_component_level_and_actor(pytester, add_set, server):
    add_set(a_set("s1", "core", read_test("CORE-A-01") + read_test("CORE-A-02", level="SHOULD")), "core.yaml")
    add_set(a_set("s2", "gap", read_test("GAP-A-01")).replace("actor: fhir-server",
                                                              "actor: gap-gestionnaire-agenda"), "gap.yaml")
    base = [f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "--strict-markers"]
    pytester.runpytest(*base, "-m", "gap").assert_outcomes(passed=1, deselected=2)
    pytester.runpytest(*base, "-m", "core and should").assert_outcomes(passed=1, deselected=2)
    pytester.runpytest(*base, "-m", "gap_gestionnaire_agenda").assert_outcomes(passed=1, deselected=2)
    pytester.runpytest(*base, "-k", "CORE-A-01").assert_outcomes(passed=1, deselected=2)
    pytester.runpytest(*base, "--mes-component", "core").assert_outcomes(passed=2, deselected=1)


def test_last_failed_and_exitfirst_work(pytester, add_set, server):
    tests = read_test("CORE-A-01") + read_test("CORE-A-02", path="nowhere") + read_test("CORE-A-03")
    add_set(a_set(tests=tests))
    base = [f"--mes-base-url={server.base_url}", "--mes-testsets", "sets"]
    pytester.runpytest(*base).assert_outcomes(passed=2, failed=1)
    pytester.runpytest(*base, "--lf").assert_outcomes(failed=1)
    pytester.runpytest(*base, "-x", "-p", "no:randomly").assert_outcomes(passed=1, failed=1)


def test_bad_options_are_usage_errors(pytester, server):
    result = pytester.runpytest("--mes-base-url=ftp://x")
    result.stderr.fnmatch_lines(["*pytest-mes: --mes-base-url 'ftp://x' is not an http(s) URL*"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-header", "NoColon")
    result.stderr.fnmatch_lines(["*--mes-header 'NoColon': write it as 'Name: value'*"])
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "missing")
    result.stderr.fnmatch_lines(["*--mes-testsets */missing: no such file or folder*"])
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-timeout", "soon")
    result.stderr.fnmatch_lines(["*--mes-timeout 'soon': give seconds*"])


def test_options_come_from_env_and_ini(pytester, add_set, server, monkeypatch):
    add_set(a_set(tests=read_test("CORE-A-01", path="Patient/{{pid}}")))
    server.route("GET /fhir/Patient/42", Reply(200, {"resourceType": "Patient", "id": "42"}))
    pytester.makeini("[pytest]\nmes_testsets = sets\nmes_var =\n    pid=42\nmes_base_url = http://127.0.0.1:9/fhir\n")
    monkeypatch.setenv("MES_BASE_URL", server.base_url)  # the environment wins over the ini file
    pytester.runpytest().assert_outcomes(passed=1)
    pytester.runpytest("--mes-var", "pid=41").assert_outcomes(failed=1)  # the command line wins over both
