"""Running test sets against a real loopback server: verdicts, evidence, set state, preconditions, writes."""

from __future__ import annotations

import json
import time

import pytest

from tests.plugin.conftest import a_set, create_test, read_test
from tests.support.server import Reply, ScriptedServer

SLOT_BUNDLE = {"resourceType": "Bundle", "type": "searchset", "total": 1,
               "entry": [{"resource": {"resourceType": "Slot", "id": "s1", "status": "busy"},
                          "search": {"mode": "match"}}]}


def test_a_failure_lists_every_failed_check_with_request_and_response(pytester, add_set, server):
    server.route("GET /fhir/Slot", Reply(200, SLOT_BUNDLE, content_type="application/json"))
    checks = """
        - status: 200
        - content_type: application/fhir+json
        - bundle: {type: searchset, total: 1}
        - fhirpath: {expression: "Bundle.entry.resource.status", op: in, value: [free]}
          because: status=free must filter the slots
    """
    add_set(a_set(tests=read_test("GAP-GA-SLOT-01", path="Slot?status=free", checks=checks)))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets",
                                "--mes-token", "tok-123456")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([  # French by default, as a reader at the ANS reads it
        "GAP-GA-SLOT-01 — Test GAP-GA-SLOT-01",
        "Exigence : FHIR R4 (SHALL)",
        "Verdict : non conforme — étape 1 « GET Slot?status=free » : type de contenu : attendu *",
        'Étape 1 sur 1 "GET Slot?status=free" (sets/set.yaml:11) en échec :',
        "  ✗ type de contenu (ligne 14) : attendu application/fhir+json, obtenu application/json",
        '  ✗ fhirpath Bundle.entry.resource.status (ligne 16) : attendu parmi ["free"], obtenu ["busy"]',
        "      car : status=free must filter the slots",
        "  (2 autre(s) vérification(s) réussie(s))",
        "Source (sets/set.yaml:11-17) :",
        "Requête :",
        "  GET http://127.0.0.1:*/fhir/Slot?status=free",
        "  Authorization: ***",
        "Réponse : 200 OK en * ms",
        '    "resourceType": "Bundle",',
    ])
    assert "tok-123456" not in result.stdout.str()
    assert server.requests[-1].headers["Authorization"] == "Bearer tok-123456"
    english = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "--mes-lang=en")
    english.stdout.fnmatch_lines(["Requirement: FHIR R4 (SHALL)",
                                  "Verdict: failed — step 1 \"GET Slot?status=free\": content type: expected *",
                                  'Step 1 of 1 "GET Slot?status=free" (sets/set.yaml:11) failed:',
                                  "  ✗ content type (line 14): expected application/fhir+json, got application/json",
                                  '  ✗ fhirpath Bundle.entry.resource.status (line 16): expected in ["free"], '
                                  'got ["busy"]',
                                  "      because: status=free must filter the slots",
                                  "  (2 other check(s) passed)", "Request:", "Response: 200 OK in * ms",
                                  "Overall verdict: NON-CONFORMANT", "Rule: Non-conformant as soon as *"])


def test_set_setup_feeds_every_test_and_teardown_always_runs(pytester, add_set, server):
    server.route("POST /fhir/Patient", Reply(201, {"resourceType": "Patient", "id": "p1"},
                                             headers={"Location": "Patient/p1"}))
    server.route("GET /fhir/Patient/p1", Reply(200, {"resourceType": "Patient", "id": "p1"}))
    server.route("DELETE /fhir/Patient/p1", Reply(204))
    extra = """
setup:
  - request: {method: POST, path: Patient, body: {resourceType: Patient}}
    checks: [{status: 201}]
    save: {pid: {fhirpath: Patient.id}}
teardown:
  - request: {method: DELETE, path: "Patient/{{pid}}"}
    checks: [{status: [200, 204]}]
"""
    tests = read_test("CORE-S-01", path="Patient/{{pid}}") + read_test("CORE-S-02", path="Patient/{{pid}}x")
    add_set(a_set(tests=tests, extra=extra))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets",
                                "--mes-allow-writes")
    result.assert_outcomes(passed=1, failed=1)
    calls = [f"{r.method} {r.path}" for r in server.requests if "metadata" not in r.path]
    assert calls == ["POST /fhir/Patient", "GET /fhir/Patient/p1", "GET /fhir/Patient/p1x",
                     "DELETE /fhir/Patient/p1"]


def test_a_failed_set_teardown_errors_the_last_test_in_the_run_language(pytester, add_set, server):
    server.route("DELETE /fhir/Patient/p1", Reply(500, {"resourceType": "OperationOutcome"}))
    extra = """
teardown:
  - request: {method: DELETE, path: "Patient/p1"}
    checks: [{status: [200, 204]}]
"""
    add_set(a_set(tests=read_test("CORE-T-01"), extra=extra))
    # The reason carries what failed, not only that something did.
    for lang, reason in (("fr", "erreur après le test : le nettoyage du jeu a échoué (des données peuvent rester "
                                "sur le serveur) : étape 1 « DELETE Patient/p1 » : statut : attendu 200 ou 204, "
                                "obtenu 500 Internal Server Error"),
                         ("en", "teardown failed: set teardown failed (data may be left on the server): step 1 "
                                "\"DELETE Patient/p1\": status: expected 200 or 204, got 500 Internal Server Error")):
        pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "--mes-allow-writes",
                           f"--mes-lang={lang}", "--mes-report-json=r.json", "--mes-report=")
        [test] = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))["tests"]
        assert (test["verdict"], test["reason"], test["notes"]) == ("error", reason, [reason])


def test_a_failed_set_setup_errors_its_tests_and_says_why(pytester, add_set, server):
    extra = """
setup:
  - name: create the patient
    request: {method: POST, path: Patient, body: {resourceType: Patient}}
    checks: [{status: 201}]
"""
    add_set(a_set(tests=read_test("CORE-S-01") + read_test("CORE-S-02"), extra=extra))
    base = [f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "--mes-allow-writes", "--mes-report=",
            "--mes-report-json=r.json"]
    result = pytester.runpytest(*base)
    result.assert_outcomes(errors=2)
    output = result.stdout.str()
    cause = "étape 1 « create the patient » : statut : attendu 201, obtenu 404 Not Found"
    said = f"la préparation du jeu a échoué, ses tests ne peuvent pas s'exécuter : {cause}"
    full = [line for line in output.splitlines() if line.startswith(said)]
    assert len(full) == 1  # in full once (the short summary may quote it too), then by name
    see = f"la préparation du jeu a échoué : {cause} (détail : voir l'erreur de sets/set.yaml::CORE-S-01)"
    result.stdout.fnmatch_lines([said, 'Étape 1 (setup) "create the patient" (sets/set.yaml:7) en échec :'])
    # The short summary reads like every other failure's: pytest's 'Failed:', no Python class path.
    result.stdout.fnmatch_lines(["ERREUR sets/set.yaml::CORE-S-01 - Failed: la préparation du jeu a échoué*"])
    assert "pytest_mes." not in output
    tests = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))["tests"]
    assert [t["reason"] for t in tests] == [said, see]
    english = pytester.runpytest(*base, "--mes-lang=en").stdout
    cause = 'step 1 "create the patient": status: expected 201, got 404 Not Found'
    english.fnmatch_lines([f"set setup failed, so its tests cannot run: {cause}",
                           'Setup step 1 "create the patient" (sets/set.yaml:7) failed:'])
    tests = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))["tests"]
    assert [t["reason"] for t in tests] == [
        f"set setup failed, so its tests cannot run: {cause}",
        f"set setup failed: {cause} (details: see the error of sets/set.yaml::CORE-S-01)"]


WRITES = {"fr": "modifie des données sur le serveur : relancez avec --mes-allow-writes sur un serveur de test",
          "en": "writes data on the server: rerun with --mes-allow-writes on a test server"}
SET_WRITES = {"fr": "la préparation ou le nettoyage du jeu modifie des données sur le serveur : relancez avec "
                    "--mes-allow-writes sur un serveur de test",
              "en": "set setup/teardown writes data on the server: rerun with --mes-allow-writes on a test server"}


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_tests_that_write_are_skipped_without_allow_writes(pytester, add_set, server, lang):
    add_set(a_set(tests=create_test("CORE-W-01") + read_test("CORE-R-01")))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "-rs",
                                f"--mes-lang={lang}", "--mes-report-json=r.json", "--mes-report=r.html")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines([f"*{WRITES[lang]}*"])
    assert not any(r.method == "POST" for r in server.requests)
    tests = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))["tests"]
    assert [(t["id"], t["verdict"], t["reason"]) for t in tests] == [("CORE-W-01", "skipped", WRITES[lang]),
                                                                    ("CORE-R-01", "passed", "")]
    html = (pytester.path / "r.html").read_text(encoding="utf-8")
    assert WRITES[lang] in html and WRITES["en" if lang == "fr" else "fr"] not in html


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_a_set_whose_setup_writes_is_skipped_without_allow_writes(pytester, add_set, server, lang):
    extra = """
setup:
  - request: {method: POST, path: Patient, body: {resourceType: Patient}}
"""
    add_set(a_set(tests=read_test("CORE-S-01"), extra=extra))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "-rs",
                                f"--mes-lang={lang}", "--mes-report-json=r.json", "--mes-report=")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines([f"*{SET_WRITES[lang]}*"])
    [test] = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))["tests"]
    assert (test["verdict"], test["reason"]) == ("skipped", SET_WRITES[lang])
    assert not any(r.method == "POST" for r in server.requests)


def test_skips_say_which_test_and_where_in_its_set(pytester, add_set, server):
    add_set(a_set(tests=create_test("CORE-W-01") + create_test("CORE-W-02")))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "-rs")
    result.assert_outcomes(skipped=2)
    output = result.stdout.str()
    assert f"[1] sets/set.yaml:7: {WRITES['fr']}" in output  # line 7: "- id: CORE-W-01"
    assert f"[1] sets/set.yaml:13: {WRITES['fr']}" in output
    assert "nodes.py" not in output


def test_preconditions_skip_with_the_reason(pytester, add_set, server):
    test = read_test("GAP-GA-SLOT-02", path="Slot") + """  preconditions:
    - capability: {resource: Slot, search_param: schedule}
"""
    test_ok = read_test("GAP-GA-SLOT-03", path="metadata") + """  preconditions:
    - capability: {resource: Slot, search_param: start, interaction: search-type}
    - capability: {interaction: transaction}
"""
    add_set(a_set(tests=test + test_ok))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "-rs",
                                "--mes-report-json=r.json")
    result.assert_outcomes(passed=1, skipped=1)
    french = ("précondition non remplie : la CapabilityStatement du serveur ne déclare pas le paramètre de recherche "
              "'schedule' pour Slot — le paramètre de recherche 'schedule' n'est pas déclaré pour Slot")
    result.stdout.fnmatch_lines([f"*{french}*"])
    assert sum("metadata" in r.path for r in server.requests) == 2  # read once for preconditions, once by the test
    assert json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))["tests"][0]["reason"] == french
    english = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "-rs",
                                 "--mes-lang=en", "--mes-report=")
    english.stdout.fnmatch_lines(["*precondition not met: the server's CapabilityStatement does not declare search "
                                  "parameter 'schedule' on Slot — search parameter 'schedule' is not declared on "
                                  "Slot*"])
    assert "précondition" not in english.stdout.str()


def test_without_the_r4_package_the_run_stops_at_start_saying_how_to_fix_it(pytester, add_set, server,
                                                                             monkeypatch, tmp_path,
                                                                             fhir_packages_dir):
    monkeypatch.delenv("MES_FHIR_PACKAGES")
    monkeypatch.setenv("FHIR_PACKAGE_CACHE", str(tmp_path / "empty-cache"))
    add_set(a_set(tests=read_test("CORE-V-01")))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = result.stderr.str()
    assert "hl7.fhir.r4.core#4.0.1" in errors and str(tmp_path / "empty-cache") in errors
    assert "mes packages install" in errors and "--mes-packages" in errors and "MES_FHIR_PACKAGES" in errors
    assert "Traceback" not in errors + result.stdout.str()
    assert not server.requests  # nothing was sent
    # With the package, the same run goes.
    monkeypatch.setenv("MES_FHIR_PACKAGES", str(fhir_packages_dir))
    pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets").assert_outcomes(passed=1)


def test_the_header_names_the_missing_packages_once(pytester, add_set, server):
    add_set(a_set(tests=read_test("CORE-V-01")))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "-p", "no:warnings")
    header = [line for line in result.outlines if line.startswith("mes: paquets FHIR manquants, les vérifications "
                                                                  "qui en ont besoin ne sont pas faites : ")]
    assert len(header) == 1
    assert "ihe.iti.mhd#4.2.3" in header[0] and "(`mes packages list` dit qui en a besoin)" in header[0]
    english = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "-p", "no:warnings",
                                 "--mes-lang=en")
    assert len([line for line in english.outlines if line.startswith(
        "mes: FHIR packages missing, checks that need them are not made: ")]) == 1


def test_under_xdist_the_registry_is_asked_once_per_missing_package_not_once_per_worker(pytester, add_set, server,
                                                                                         monkeypatch, tmp_path):
    registry = ScriptedServer(fallback=Reply(404, "no such package", content_type="text/plain")).start()
    try:
        monkeypatch.delenv("MES_OFFLINE")
        monkeypatch.setenv("MES_FHIR_REGISTRY", registry.base_url)
        monkeypatch.setenv("MES_CACHE_DIR", str(tmp_path / "mes-cache"))  # no failure remembered yet
        monkeypatch.setenv("FHIR_PACKAGE_CACHE", str(tmp_path / "fhir-cache"))
        checks = "- conforms_to: http://hl7.org/fhir/StructureDefinition/CapabilityStatement"  # workers load too
        add_set(a_set(tests=read_test("CORE-V-01", checks=checks) + read_test("CORE-V-02", checks=checks)))
        base = [f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "-n", "2"]
        for _ in range(2):
            outcomes = pytester.runpytest(*base).parseoutcomes()
            assert outcomes.get("passed", 0) + outcomes.get("failed", 0) == 2
        asked = [r.path for r in registry.requests]
        assert "/fhir/ihe.iti.mhd/4.2.3" in asked
        # Each missing package asked once, by the first run's controller; its workers and the second run's
        # processes read the failures it remembered.
        assert len(asked) == len(set(asked))
    finally:
        registry.stop()


def test_a_check_that_cannot_be_made_leaves_the_test_incomplete_and_fails_it_under_strict(pytester, add_set, server):
    server.route("GET /fhir/Patient/1", Reply(200, {"resourceType": "Patient", "id": "1"}))
    checks = "- conforms_to: https://example.org/StructureDefinition/not-in-any-package"
    add_set(a_set(tests=read_test("CORE-V-01", path="Patient/1", checks=checks)))
    base = [f"--mes-base-url={server.base_url}", "--mes-testsets", "sets"]
    result = pytester.runpytest(*base)
    # Never a pass: the test is incomplete, the run too, and the exit status says so.
    assert result.parseoutcomes() == {"incomplete": 1}
    assert result.ret == 1
    result.stdout.fnmatch_lines(["Verdict global : INCOMPLET", "incomplet (1):",
                                 "  CORE-V-01: conformité à https://example.org/StructureDefinition/not-in-any-package"
                                 " : non vérifié : *not-in-any-package*"])
    strict = pytester.runpytest(*base, "--mes-strict")
    strict.assert_outcomes(failed=1)
    strict.stdout.fnmatch_lines(["*vérifications non faites, et --mes-strict est actif : conformité à *"])
    english = pytester.runpytest(*base, "--mes-strict", "--mes-lang=en")
    english.stdout.fnmatch_lines(["*checks not made, and --mes-strict is on: conforms to *: not checked: *"])


def test_user_python_tests_get_the_client_and_config_fixtures(pytester, server):
    pytester.makepyfile(test_mine="""
        def test_metadata(mes_client, mes_config, mes_base_url, mes_capabilities):
            assert mes_config.base_url == mes_base_url
            exchange = mes_client.capabilities()
            assert exchange.status == 200 and exchange.json()["fhirVersion"] == "4.0.1"
            assert mes_capabilities["resourceType"] == "CapabilityStatement"

        def test_validator(mes_validator):
            assert mes_validator.validate({"resourceType": "Patient", "gender": "female"}).valid
            assert not mes_validator.validate({"resourceType": "Patient", "gender": "f"}).valid
    """)
    pytester.runpytest(f"--mes-base-url={server.base_url}", "test_mine.py").assert_outcomes(passed=2)
    # Without a target the fixtures that need a server skip instead of failing an unrelated run; the validator
    # needs none.
    pytester.runpytest("test_mine.py").assert_outcomes(passed=1, skipped=1)


def test_xdist_keeps_a_set_with_shared_setup_on_one_worker(pytester, add_set, server):
    counter = {"n": 0}

    def create(seen):
        counter["n"] += 1
        return Reply(201, {"resourceType": "Patient", "id": f"p{counter['n']}"})

    server.route("POST /fhir/Patient", create)
    extra = """
setup:
  - request: {method: POST, path: Patient, body: {resourceType: Patient}}
    save: {pid: {fhirpath: Patient.id}}
"""
    tests = "".join(read_test(f"CORE-X-{n:02d}", checks="- fhirpath: \"%pid = 'p1'\"") for n in range(1, 7))
    add_set(a_set(tests=tests, extra=extra), "shared.yaml")
    add_set(a_set("other", tests="".join(read_test(f"CORE-Y-{n:02d}") for n in range(1, 5))), "other.yaml")
    result = pytester.runpytest_subprocess(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets",
                                           "--mes-allow-writes", "-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=10)
    assert counter["n"] == 1  # the set's setup ran once: all its tests were on one worker
    # A set without setup or teardown is not kept together: its tests (and cases) spread like 'load'.
    from pytest_mes.distribution import _shares_state

    folder = pytester.path / "sets"
    assert _shares_state(folder / "shared.yaml") and not _shares_state(folder / "other.yaml")


def test_xdist_workers_test_the_one_sandbox_their_controller_started(pytester, add_set):
    pytest.importorskip("xdist")
    for name in ("a", "b"):
        add_set(a_set(name, tests="".join(read_test(f"CORE-{name.upper()}-{n}") for n in range(4))), f"{name}.yaml")
    pytester.makeconftest("""
        import sys
        def pytest_unconfigure(config):
            if not hasattr(config, "workerinput"):  # the controller
                open("controller-modules.txt", "w").write(" ".join(sys.modules))
    """)
    result = pytester.runpytest_subprocess("--mes-sandbox", "--mes-testsets", "sets", "-n", "2", "-v",
                                           "-p", "no:cacheprovider", "--mes-report-json=r.json", "--mes-report=")
    result.assert_outcomes(passed=8)
    assert "[gw0]" in result.stdout.str() and "[gw1]" in result.stdout.str()  # both workers ran tests
    document = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))
    base_url = document["run"]["target"]["base_url"]
    assert base_url.startswith("http://127.0.0.1:")  # the controller's sandbox, named in the report
    urls = [exchange["url"] for test in document["tests"] for exchange in test["exchanges"]]
    assert len(urls) == 8 and all(url.startswith(base_url + "/") for url in urls)
    # The controller serves and reports; the workers made the requests: it never loads the HTTP client.
    controller_modules = (pytester.path / "controller-modules.txt").read_text(encoding="utf-8").split()
    assert "pytest_mes.acceptance" in controller_modules and "pytest_mes.client" not in controller_modules


def test_a_shared_sandbox_that_cannot_load_refuses_connections_and_says_why(tmp_path, monkeypatch):
    import requests

    from pytest_mes.config import MesConfig
    from pytest_mes.run import MesRun

    monkeypatch.delenv("MES_FHIR_PACKAGES", raising=False)
    monkeypatch.setenv("MES_OFFLINE", "1")
    monkeypatch.setenv("FHIR_PACKAGE_CACHE", str(tmp_path / "cache"))
    run = MesRun(MesConfig(sandbox=True, packages=(tmp_path,)))  # no R4 base package anywhere
    url = run.share_sandbox()
    assert url.startswith("http://127.0.0.1:")  # known at once, for the workers
    deadline = time.monotonic() + 30
    while not run.sandbox_problem and time.monotonic() < deadline:  # the loading fails in the background
        time.sleep(0.05)
    assert "sandbox needs hl7.fhir.r4.core" in run.sandbox_problem
    try:  # its port is closed as the loading fails, not at the end of the run: a worker's request fails at once
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{url}/metadata", timeout=(5, 2))
    finally:
        run.close()


def test_a_run_with_a_target_skips_pythons_last_garbage_collection_at_exit(pytester, add_set, server):
    # Registered before the plugin's handler, so it runs after it (atexit runs handlers last in, first out).
    pytester.makeconftest("""
        import atexit, gc, sys
        atexit.register(lambda: sys.stdout.write(f"frozen at exit: {gc.get_freeze_count() > 0}\\n"))
    """)
    add_set(a_set(tests=read_test("CORE-G-01")))
    active = pytester.runpytest_subprocess(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets",
                                           "-p", "no:cacheprovider")
    active.assert_outcomes(passed=1)
    assert "frozen at exit: True" in active.stdout.str()
    unrelated = pytester.runpytest_subprocess("-p", "no:cacheprovider")  # no target: no change to the interpreter
    assert "frozen at exit: False" in unrelated.stdout.str()


def test_request_bodies_from_files_and_repeated_parameters(pytester, add_set, server):
    server.route("POST /fhir/Bundle", Reply(200, {"resourceType": "Bundle", "type": "transaction-response"}))
    folder = add_set(a_set(tests="""
- id: CORE-B-01
  title: Body file
  requirements: [{ref: r, level: SHALL}]
  steps:
    - request:
        method: POST
        path: Bundle
        body_file: bundle.json
        params: {start: ["ge{{today}}", "le{{today+7d}}"], _include: Slot:schedule}
      checks: [{status: 200}]
"""))
    (folder / "bundle.json").write_text(json.dumps({"resourceType": "Bundle", "id": "{{random_id}}"}))
    pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets",
                       "--mes-allow-writes").assert_outcomes(passed=1)
    seen = server.requests[-1]
    assert seen.path.count("start=") == 2 and "_include=Slot%3Aschedule" in seen.path
    assert json.loads(seen.body)["id"].startswith("mes-")
    assert seen.headers["Content-Type"] == "application/fhir+json"


@pytest.mark.usefixtures("english")
def test_sandbox_option_starts_the_reference_server_and_allows_writes(pytester, add_set):
    add_set(a_set(tests=read_test("CORE-SB-01", checks="- resource_type: CapabilityStatement") + """
- id: CORE-SB-02
  title: Create
  requirements: [{ref: r, level: SHALL}]
  steps:
    - request: {method: POST, path: Device, body: {resourceType: Device, status: active}}
      checks: [{status: 201}]
"""))
    result = pytester.runpytest("--mes-sandbox", "--mes-testsets", "sets", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["mes: target reference sandbox (in-process, loopback)",
                                 "mes: test sets *; components core, gap, pdsm; writes allowed"])
    defective = pytester.runpytest("--mes-sandbox", "--mes-sandbox-defect", "create-returns-200",
                                   "--mes-testsets", "sets", "-p", "no:cacheprovider")
    defective.assert_outcomes(passed=1, failed=1)
    defective.stdout.fnmatch_lines(["mes: target reference sandbox (in-process, loopback) with defects "
                                    "create-returns-200", "*✗ status (line *): expected 201, got 200 OK"])
    french = pytester.runpytest("--mes-sandbox", "--mes-sandbox-defect", "create-returns-200", "--mes-lang=fr",
                                "--mes-testsets", "sets", "-p", "no:cacheprovider")
    french.stdout.fnmatch_lines(["mes: cible serveur de référence (dans le processus, en boucle locale) avec les "
                                 "défauts create-returns-200",
                                 "mes: jeux de tests *; composants core, gap, pdsm ; écritures autorisées",
                                 "*✗ statut (ligne *) : attendu 201, obtenu 200 OK"])


def test_junit_xml_carries_the_requirements(pytester, add_set, server):
    add_set(a_set(tests=read_test("CORE-J-01")))
    pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "--junit-xml=out.xml")
    xml = (pytester.path / "out.xml").read_text()
    assert 'name="CORE-J-01"' in xml
    assert '<property name="mes_requirement" value="FHIR R4 (SHALL)" />' in xml


def test_an_absolute_url_to_another_host_gets_no_credentials(pytester, add_set, server):
    other_url = server.base_url.replace("127.0.0.1", "localhost")
    other = read_test("CORE-U-01", path="metadata").replace('path: "metadata"', f'url: "{other_url}/metadata"')
    add_set(a_set(tests=read_test("CORE-U-02", path="metadata") + other))  # the same host first: the control
    pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets=sets",
                       "--mes-token=tok-abcdef").assert_outcomes(passed=2)
    same_host, other_host = server.requests[-2:]
    assert same_host.headers.get("Authorization") == "Bearer tok-abcdef"
    assert "Authorization" not in other_host.headers


@pytest.mark.usefixtures("english")
def test_a_redirected_post_is_reported_not_replayed(pytester, add_set, server):
    server.route("POST /fhir/Patient", Reply(302, "", headers={"Location": "/fhir/Patient/1"}))
    add_set(a_set(tests=create_test("CORE-P-01", checks="[{status: 201}]")))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets=sets", "--mes-allow-writes")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["  ✗ status (line *): expected 201, got 302 Found"])
    assert [r.method for r in server.requests if "metadata" not in r.path] == ["POST"]


@pytest.mark.usefixtures("english")
def test_secret_values_are_masked_in_the_failure_output_but_checked_for_real(pytester, add_set, server):
    server.route("GET /fhir/echo", Reply(200, {"resourceType": "Parameters", "id": "key-123456"}))
    checks = "- fhirpath: {expression: Parameters.id, op: equals, value: key-123456}\n- status: 404"
    add_set(a_set(tests=read_test("CORE-E-01", path="echo", checks=checks), extra="variables: {client_secret: x}"))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets=sets",
                                "--mes-header=X-Api-Key: key-123456", "--mes-var=client_secret=hunter2-xyz")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "(1 other check(s) passed)" in output  # the FHIRPath check saw the real value
    assert "key-123456" not in output.replace("value: key-123456", "") and "hunter2-xyz" not in output
    assert '"id": "***"' in output and "client_secret=***" in output


def test_conforms_to_a_local_profile_given_with_mes_ig(pytester, add_set, server, fhir_packages_dir):
    """--mes-ig: a profile without a snapshot, in a plain folder, judges the server's answers."""
    profile = {"resourceType": "StructureDefinition", "url": "http://example.org/StructureDefinition/cs-json-only",
               "name": "CsJsonOnly", "status": "draft", "kind": "resource", "abstract": False,
               "type": "CapabilityStatement", "derivation": "constraint",
               "baseDefinition": "http://hl7.org/fhir/StructureDefinition/CapabilityStatement",
               "differential": {"element": [{"id": "CapabilityStatement.kind", "path": "CapabilityStatement.kind",
                                             "fixedCode": "requirements"}]}}
    (pytester.path / "ig").mkdir()
    (pytester.path / "ig" / "cs.json").write_text(json.dumps(profile), encoding="utf-8")
    checks = "- conforms_to: http://example.org/StructureDefinition/cs-json-only"
    add_set(a_set(tests=read_test("CORE-V-01", checks=checks)))
    base = [f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", f"--mes-packages={fhir_packages_dir}",
            "--mes-offline"]
    result = pytester.runpytest(*base, "--mes-ig=ig")
    result.assert_outcomes(failed=1)  # (the scripted statement also breaks base rules: cpb-14…)
    result.stdout.fnmatch_lines(["*CapabilityStatement.kind : *fixée \"requirements\"*"])
    profile["differential"]["element"][0]["fixedCode"] = "instance"  # what the server says
    (pytester.path / "ig2").mkdir()  # another folder: the validator of "ig" is kept for the process
    (pytester.path / "ig2" / "cs.json").write_text(json.dumps(profile), encoding="utf-8")
    control = pytester.runpytest(*base, "--mes-ig=ig2")
    control.stdout.fnmatch_lines(["*conformité à http://example.org/StructureDefinition/cs-json-only*"])
    control.stdout.no_fnmatch_line("*CapabilityStatement.kind : *fixée*")


def test_mes_ig_keeps_the_missing_packages_said_and_says_what_it_could_not_read(pytester, add_set, server,
                                                                              fhir_packages_dir):
    """With --mes-ig the run still names the missing packages (header, acceptance file), and a file of the folder
    that cannot be read is said at start instead of leaving the user's profiles silently unloaded."""
    (pytester.path / "ig-broken").mkdir()
    (pytester.path / "ig-broken" / "profile.json").write_text('{"resourceType": "StructureDefinition", ',
                                                              encoding="utf-8")
    add_set(a_set(tests=read_test("CORE-V-02")))
    args = [f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", f"--mes-packages={fhir_packages_dir}",
            "--mes-offline", "--mes-report-json=r.json"]
    without = pytester.runpytest(*args)
    result = pytester.runpytest(*args, "--mes-ig=ig-broken")
    result.assert_outcomes(passed=1)
    header = [line for line in result.stdout.lines if line.startswith("mes:")]
    assert [line for line in without.stdout.lines if line.startswith("mes: paquets FHIR manquants")] == [
        line for line in header if line.startswith("mes: paquets FHIR manquants")] != []
    assert any(line.startswith("mes: attention, non lu : --mes-ig ") and "ig-broken/profile.json: not read" in line
               for line in header), header
    missing = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))["run"]["missing_packages"]
    assert any(item.startswith("ans.fr.nos#1.2.0 (requis par") for item in missing), missing


def test_the_checks_of_a_fhir_xml_answer_read_it_as_its_json_form(pytester, add_set, server):
    """A server that answers FHIR XML where the step asks for it is read as FHIR XML by every check and save, as by
    conforms_to: not failed as 'not valid JSON'. XML that cannot be read fails, saying why and where."""
    xml = ('<Patient xmlns="http://hl7.org/fhir"><id value="p-42"/><gender value="female"/>'
           '<birthDate value="1970-01-01"/></Patient>')
    server.route("GET /fhir/Patient/p-42", Reply(200, xml, content_type="application/fhir+xml"))
    server.route("GET /fhir/Patient/broken", Reply(200, xml[:-10], content_type="application/fhir+xml"))
    tests = """
    - id: CORE-X-01
      title: XML
      requirements: [{ref: r, level: SHALL}]
      steps:
        - request: {path: Patient/p-42, accept: application/fhir+xml}
          checks:
            - resource_type: Patient
            - fhirpath: "Patient.gender = 'female'"
            - fhirpath: {expression: Patient.birthDate, op: "<", value: "2000-01-01"}
            - conforms_to: http://hl7.org/fhir/StructureDefinition/Patient
          save: {pid: {fhirpath: Patient.id}}
        - request: {path: "Patient/{{pid}}", accept: application/fhir+xml}
          checks: [{resource_type: Patient}]
    - id: CORE-X-02
      title: broken XML
      requirements: [{ref: r, level: SHALL}]
      steps:
        - request: {path: Patient/broken, accept: application/fhir+xml}
          checks: [{resource_type: Patient}]
    """
    add_set(a_set(tests=tests))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "--mes-lang=en")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["  ✗ resource type (line *): expected Patient, got the XML response cannot be read: "
                                 "line 1, *"])
    assert "not valid JSON" not in result.stdout.str()
