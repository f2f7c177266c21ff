"""Collection: only with a target, only test-set folders, errors with file:line, markers, selection."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_mes.testset.loader import parse_yaml
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
    # libyaml says "did not find expected", PyYAML's own parser "expected": pytest-mes uses either.
    assert re.search(r"sets/worse.yaml:3:1: invalid YAML: (did not find )?expected ',' or ']'", output)
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
    for suffix in ("?_format=json", "#top"):  # paths are appended to the base: these would break every request
        result = pytester.runpytest(f"--mes-base-url={server.base_url}{suffix}")
        result.stderr.fnmatch_lines([f"*pytest-mes: --mes-base-url '{server.base_url}{suffix}': a base URL has no "
                                     "query (?…) nor fragment (#…)*"])
        assert result.ret == pytest.ExitCode.USAGE_ERROR
    result = pytester.runpytest("--mes-base-url=ftp://user:pw-77c1@x/fhir")
    result.stderr.fnmatch_lines(["*pytest-mes: --mes-base-url 'ftp://x/fhir' is not an http(s) URL*"])
    assert "pw-77c1" not in result.stderr.str()
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-header", "NoColon")
    result.stderr.fnmatch_lines(["*--mes-header 'NoColon': write it as 'Name: value'*"])
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "missing")
    result.stderr.fnmatch_lines(["*--mes-testsets */missing: no such file or folder*"])
    with_password = server.base_url.replace("http://", "http://u:pw-e5a1@")
    result = pytester.runpytest(f"--mes-base-url={with_password}", "--mes-token=tok-1234")
    result.stderr.fnmatch_lines(["*--mes-token and a user:password@ in --mes-base-url both authenticate: keep one*"])
    assert "pw-e5a1" not in result.stderr.str() + result.stdout.str()
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-timeout", "soon")
    result.stderr.fnmatch_lines(["*--mes-timeout 'soon': give seconds*"])
    for endless in ("inf", "nan", "5,1e400", "1e10"):  # no limit, or one the sockets cannot take: no traceback later
        result = pytester.runpytest(f"--mes-base-url={server.base_url}", f"--mes-timeout={endless}")
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines([f"*--mes-timeout '{endless}': give seconds, READ or CONNECT,READ (e.g. 30 or "
                                     "5,60), each at most 86400 (a day)*"])


@pytest.mark.parametrize(("given", "said"), [
    ("notes.txt", "--mes-testsets */notes.txt: not a test set (a .yaml or .yml file)"),
    ("empty", "--mes-testsets */empty: no test set (.yaml, .yml) in this folder"),
])
def test_a_testsets_path_that_holds_no_test_set_is_a_usage_error(pytester, server, given, said):
    """Not a run that tests nothing and ends 'no tests ran' without saying why."""
    (pytester.path / "notes.txt").write_text("id: x\n", encoding="utf-8")
    (pytester.path / "empty").mkdir()
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", f"--mes-testsets={given}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*pytest-mes: {said}"])
    assert not server.requests


@pytest.mark.parametrize("value", ["maybe", "enabled"])
def test_a_yes_no_environment_variable_that_says_neither_is_a_usage_error(pytester, server, monkeypatch, value):
    """MES_STRICT=enabled was read as false, silently: the run went on without what the user asked for."""
    monkeypatch.setenv("MES_STRICT", value)
    result = pytester.runpytest(f"--mes-base-url={server.base_url}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*pytest-mes: MES_STRICT={value!r}: write 1, true, yes, on or oui (0, false, no, "
                                 "off or non for no)*"])


def test_options_come_from_env_and_ini(pytester, add_set, server, monkeypatch):
    add_set(a_set(tests=read_test("CORE-A-01", path="Patient/{{pid}}"), extra="variables: {pid: '0'}"))
    server.route("GET /fhir/Patient/42", Reply(200, {"resourceType": "Patient", "id": "42"}))
    pytester.makeini("[pytest]\nmes_testsets = sets\nmes_var =\n    pid=42\nmes_base_url = http://127.0.0.1:9/fhir\n")
    monkeypatch.setenv("MES_BASE_URL", server.base_url)  # the environment wins over the ini file
    pytester.runpytest().assert_outcomes(passed=1)
    pytester.runpytest("--mes-var", "pid=41").assert_outcomes(failed=1)  # the command line wins over both


def test_a_misspelt_mes_var_stops_the_run_with_did_you_mean(pytester, add_set, server):
    add_set(a_set(tests=read_test("CORE-A-01", path="Patient/{{patient_key}}"),
                  extra="variables: {patient_key: '0'}"))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets=sets",
                                "--mes-var=patient_kye=42")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--mes-var patient_kye: no test set to run declares this variable — did you mean "
                                 "'patient_key'?*"])
    assert "Traceback" not in result.stderr.str() and not server.requests
    # Under xdist the check is made once, by the controller, before any worker starts.
    assert pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets=sets", "--mes-var=patient_kye=42",
                              "-n", "2").ret == pytest.ExitCode.USAGE_ERROR


def test_the_mes_var_check_and_collection_parse_each_set_file_once(pytester, add_set, server, monkeypatch):
    """The check at start reads the files as collection does; collection (and the report) find them parsed."""
    monkeypatch.setenv("MES_TESTSET_CACHE", "0")  # what one process shares, without the on-disk cache
    add_set(a_set(tests=read_test("CORE-A-01", path="Patient/{{patient_key}}"),
                  extra="variables: {patient_key: '0'}"))
    server.route("GET /fhir/Patient/42", Reply(200, {"resourceType": "Patient", "id": "42"}))
    parse_yaml.cache_clear()
    result = pytester.runpytest_inprocess(f"--mes-base-url={server.base_url}", "--mes-testsets=sets",
                                          "--mes-var=patient_key=42")
    result.assert_outcomes(passed=1)
    parsed = parse_yaml.cache_info()
    assert (parsed.misses, parsed.hits) == (1, 2)  # parsed by the check; found by collection and the report


def test_an_unknown_variable_in_a_test_set_fails_collection_with_its_line(pytester, add_set, server):
    add_set(a_set(tests=read_test("CORE-A-01", path="Patient/{{patient_idd}}") + read_test("CORE-A-02"),
                  extra="variables: {patient_id: '1'}"))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets=sets")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*set.yaml:11:*unknown variable {{patient_idd}}: no variable, parametrize value or "
                                 "saved value of this set has this name — did you mean 'patient_id'?*"])
    assert not server.requests


def test_without_a_target_one_header_line_says_how_to_set_one_when_mes_options_are_given(pytester):
    pytester.makepyfile(test_user="def test_user():\n    assert True\n")
    result = pytester.runpytest("--mes-component=gap")
    result.assert_outcomes(passed=1)
    hints = [line for line in result.outlines if line.startswith("mes:")]
    assert hints == ["mes: aucun serveur à tester, donc aucun jeu de tests n'est collecté (--mes-component donné) : "
                     "ajoutez --mes-base-url=URL (ou MES_BASE_URL) ou --mes-sandbox"]
    english = pytester.runpytest("--mes-component=gap", "--mes-lang=en")
    assert [line for line in english.outlines if line.startswith("mes:")] == [
        "mes: no server to test, so no test set is collected (--mes-component given): add "
        "--mes-base-url=URL (or MES_BASE_URL) or --mes-sandbox"]


@pytest.mark.parametrize(("lang", "said"), [
    ("fr", "aucun serveur à tester : indiquez --mes-base-url=URL ou --mes-sandbox"),
    ("en", "no server to test: pass --mes-base-url=URL or --mes-sandbox")])
def test_the_fixtures_skip_a_test_without_a_server_saying_so_in_the_run_language(pytester, lang, said):
    pytester.makepyfile(test_user="def test_user(mes_client):\n    assert False\n")
    result = pytester.runpytest("-rs", f"--mes-lang={lang}")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines([f"SKIPPED * {said}"])


def test_loading_the_plugin_imports_no_http_library_and_no_engine():
    """Every pytest run of a project with pytest-mes installed loads the plugin: it must stay light."""
    heavy = {"requests", "urllib3", "yaml", "jsonschema", "fhirpathpy", "pytest_mes.nodes", "pytest_mes.fhir"}
    script = f"import sys, pytest_mes.plugin; print(sorted(set({sorted(heavy)!r}) & set(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2]), *sys.path])}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_an_unrelated_xdist_run_is_left_alone(pytester):
    pytester.makepyfile(test_x="""
        import pytest

        @pytest.mark.xdist_group("g")
        def test_a():
            pass
    """)
    result = pytester.runpytest_subprocess("-n", "2", "-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["scheduling tests via LoadScheduling", "*PASSED test_x.py::test_a*"])
    assert "@g" not in result.stdout.str()


def test_sets_with_setup_collect_under_strict_markers_without_xdist(pytester, add_set, server):
    extra = "setup:\n  - request: {path: metadata}\n"
    add_set(a_set(tests=read_test("CORE-A-01"), extra=extra))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets=sets", "--strict-markers",
                                "-p", "no:xdist")
    result.assert_outcomes(passed=1)


def test_a_yaml_file_or_a_copied_node_id_on_the_command_line_runs_just_that(pytester, add_set, server):
    add_set(a_set(tests=read_test("CORE-A-01") + read_test("CORE-A-02")), "a.yaml")
    add_set(a_set("other", tests=read_test("CORE-B-01")), "b.yaml")
    base = [f"--mes-base-url={server.base_url}"]
    pytester.runpytest(*base, "sets/a.yaml").assert_outcomes(passed=2)
    pytester.runpytest(*base, "--mes-testsets=sets", "sets/a.yaml::CORE-A-02").assert_outcomes(passed=1)


def test_the_command_line_target_beats_the_environment(pytester, add_set, server, monkeypatch):
    add_set(a_set(tests=read_test("CORE-A-01")))
    monkeypatch.setenv("MES_BASE_URL", "http://127.0.0.1:9/fhir")
    result = pytester.runpytest("--mes-sandbox", "--mes-testsets=sets", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["mes: cible serveur de référence*"])
    monkeypatch.setenv("MES_SANDBOX", "1")
    both = pytester.runpytest("--mes-testsets=sets")
    both.stderr.fnmatch_lines(["*MES_BASE_URL and MES_SANDBOX both name a server to test: keep one*"])


def test_bundled_in_the_ini_file_names_the_bundled_sets(pytester, server):
    pytester.makeini("[pytest]\nmes_testsets = bundled\n")
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--collect-only", "-q", "-m", "core")
    result.stdout.fnmatch_lines(["*core-capabilities.yaml::CORE-FS-CAP-01*"])


def test_a_token_with_a_trailing_newline_is_trimmed_and_control_characters_refused(pytester, add_set, server):
    add_set(a_set(tests=read_test("CORE-A-01")))
    base = [f"--mes-base-url={server.base_url}", "--mes-testsets=sets"]
    pytester.runpytest(*base, "--mes-token=tok-123456\n").assert_outcomes(passed=1)
    assert server.requests[-1].headers["Authorization"] == "Bearer tok-123456"
    # A token copied with its scheme (from an HTTP client's Authorization header) is sent once, not 'Bearer Bearer'.
    pytester.runpytest(*base, "--mes-token=bearer  tok-654321").assert_outcomes(passed=1)
    assert server.requests[-1].headers["Authorization"] == "Bearer tok-654321"
    result = pytester.runpytest(*base, "--mes-token=tok-1\n23456")
    result.stderr.fnmatch_lines(["*the token (--mes-token / MES_TOKEN) contains control characters*"])
    assert "23456" not in result.stderr.str() + result.stdout.str()


def test_a_test_id_used_by_two_sets_stops_the_run_naming_both(pytester, add_set, server):
    """A test id names the test in every report, in waivers and in the acceptance file's links: two tests with
    one id (a copied bundled test) would be mixed up there."""
    add_set(a_set("one", tests=read_test("CORE-D-01") + read_test("CORE-D-02")), name="one.yaml")
    add_set(a_set("two", tests=read_test("CORE-D-03") + read_test("CORE-D-01")), name="two.yaml")
    for workers in ([], ["-n", "2"]):
        result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", *workers)
        # Without xdist pytest stops at a collection error; pytest-xdist runs the other sets and fails the run.
        assert result.ret == (pytest.ExitCode.TESTS_FAILED if workers else pytest.ExitCode.INTERRUPTED)
        result.stdout.fnmatch_lines(["*sets/two.yaml:15: test id 'CORE-D-01' is already given to the test at "
                                     "sets/one.yaml:7: a test id must be unique in a run*"])
        assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    assert not [r for r in server.requests if "metadata" not in r.path]


def test_the_header_says_when_the_validator_runs_as_pure_python(pytester, add_set, monkeypatch):
    """The compiled modules set aside (MES_PURE_PYTHON, or out of date after an edit: tests/test_build.py) is said
    before the run: the same verdicts, slower, and what to do about it."""
    add_set(a_set(tests=read_test("CORE-A-01")))
    args = ("--mes-sandbox", "--mes-testsets=sets", "--collect-only", "-p", "no:cacheprovider")
    monkeypatch.setenv("MES_PURE_PYTHON", "1")
    result = pytester.runpytest_subprocess(*args)
    result.stdout.fnmatch_lines(["mes: validateur en Python pur, plus lent (MES_PURE_PYTHON)"])
    monkeypatch.delenv("MES_PURE_PYTHON")
    result = pytester.runpytest_subprocess(*args)
    result.stdout.fnmatch_lines(["mes: cible serveur de référence*"])
    assert "MES_PURE_PYTHON" not in result.stdout.str()
