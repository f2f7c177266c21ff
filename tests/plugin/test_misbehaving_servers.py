"""A misbehaving server fails the affected test with a precise message; the run goes on."""

from __future__ import annotations

import gzip
import json
import socket
import time

import pytest

from tests.conftest import tls_context
from tests.plugin.conftest import a_set, create_test, read_test
from tests.support.server import CAPABILITY_STATEMENT, HungServer, Reply, ScriptedServer

pytestmark = pytest.mark.usefixtures("english")  # the messages below are matched in English

PATIENT = {"resourceType": "Patient", "id": "1"}
CHECKS = "- status: 200\n- resource_type: Patient"


@pytest.mark.parametrize(
    ("reply", "message", "verdict"),
    [
        (Reply(200, "<html><body>Welcome</body></html>", content_type="text/html"),
         "✗ resource type (line 14): expected Patient, got the response body is not valid JSON (text/html)*",
         "failed"),
        (Reply(200, '{"resourceType": "Patient", ', content_type="application/fhir+json"),
         "✗ resource type (line 14): expected Patient, got the response body is not valid JSON "
         "(application/fhir+json)*", "failed"),
        (Reply(200, '{"resourceType": "Patient", "extension": ' + "[" * 5000 + "]" * 5000 + "}",
               content_type="application/fhir+json"),
         "✗ resource type (line 14): expected Patient, got the response body (application/fhir+json) is JSON nested "
         "too deeply to be read*", "failed"),
        (Reply(503, "Service Unavailable", content_type="text/plain"),
         "✗ status (line 13): expected 200, got 503 Service Unavailable", "failed"),
        (Reply(200, PATIENT, truncate=True),
         "✗ request: expected an HTTP response, got the response from 127.0.0.1:* was cut off before its end*",
         "failed"),
        # Content-Encoding: gzip over a body that is not: a server or proxy compressing wrongly, said so.
        (Reply(200, b'{"resourceType": "Patient"}', headers={"Content-Encoding": "gzip"}),
         "✗ request: expected an HTTP response, got the response from 127.0.0.1:* declares a compression "
         "(Content-Encoding: gzip) its body does not follow (*): the server or a proxy in front of it compresses "
         "it wrongly", "failed"),
        # A compression the request did not accept (Accept-Encoding): its bytes are no text, and not said to be.
        (Reply(200, gzip.compress(b'{"resourceType": "Patient"}'), headers={"Content-Encoding": "br"}),
         "✗ resource type (line 14): expected Patient, got the response body is compressed (Content-Encoding: br) in "
         "a way the request did not accept (Accept-Encoding: gzip, deflate*): it cannot be read", "failed"),
        # No answer at all: the server could not run the test, which is an error, not a verdict on it.
        (Reply(200, PATIENT, delay=1.5),
         "✗ request: expected an HTTP response, got 127.0.0.1:* accepted the connection but sent no complete "
         "answer within 0.5 s (--mes-timeout)", "errors"),
        # Each byte in time for the socket's read timeout, but the whole answer far too late (it would take
        # 12 s): cut at the timeout, as a body cut off is.
        (Reply(200, PATIENT, trickle=0.2),
         "✗ request: expected an HTTP response, got 127.0.0.1:* accepted the connection but sent no complete "
         "answer within 0.5 s (--mes-timeout)", "failed"),
    ],
    ids=["html", "invalid-json", "too-deep", "5xx", "truncated", "bad-gzip", "unasked-encoding", "timeout", "trickle"],
)
def test_each_misbehaviour_fails_its_test_precisely_and_the_run_goes_on(pytester, add_set, server, reply, message,
                                                                        verdict):
    server.route("GET /fhir/Patient/1", reply)
    add_set(a_set(tests=read_test("CORE-M-01", path="Patient/1", checks=CHECKS) + read_test("CORE-M-02")))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets",
                                "--mes-timeout", "0.5")
    result.assert_outcomes(passed=1, **{verdict: 1})
    result.stdout.fnmatch_lines([f"  {message}"])
    assert "Traceback" not in result.stdout.str()


@pytest.mark.parametrize(("entry", "where"), [({"x": 1}, "Bundle.entry is not a list"),
                                             (["x"], "Bundle.entry[0] is not an object")])
def test_a_bundle_with_malformed_entries_fails_its_check_naming_the_element(pytester, add_set, server, entry, where):
    server.route("GET /fhir/Slot", Reply(200, {"resourceType": "Bundle", "type": "searchset", "entry": entry}))
    add_set(a_set(tests=read_test("CORE-B-01", path="Slot", checks="- bundle: {matches: {min: 1}}")))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"  ✗ bundle matches (line 13): expected a readable Bundle, got {where}"])
    assert "Traceback" not in result.stdout.str() and "AttributeError" not in result.stdout.str()


def test_a_request_the_server_may_have_received_is_never_sent_twice(pytester, add_set, server):
    server.route("POST /fhir/Patient", Reply(drop=True))
    add_set(a_set(tests=create_test("CORE-D-01")))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "--mes-allow-writes")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*127.0.0.1:* closed the connection without answering (the request was not sent "
                                 "again)"])
    assert [r.method for r in server.requests] == ["POST"]


def test_wrong_content_type_is_caught_by_the_content_type_check(pytester, add_set, server):
    server.route("GET /fhir/Patient/1", Reply(200, PATIENT, content_type="application/json"))
    add_set(a_set(tests=read_test("CORE-M-01", path="Patient/1",
                                  checks="- content_type: application/fhir+json")))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["  ✗ content type (line 13): expected application/fhir+json, got application/json"])


def test_connection_refused(pytester, add_set):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    add_set(a_set(tests=read_test("CORE-M-01")))
    result = pytester.runpytest(f"--mes-base-url=http://127.0.0.1:{port}/fhir", "--mes-testsets", "sets")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"  ✗ request: expected an HTTP response, got cannot connect to 127.0.0.1:{port}: "
                                 "*Is the server running, and is --mes-base-url right?"])


def test_a_hung_server_costs_two_timeouts_then_every_other_request_ends_at_once(pytester, add_set):
    tests = "".join(read_test(f"CORE-H-{n:02}", path=f"Patient/{n}") for n in range(1, 7))
    add_set(a_set(tests=tests))
    with HungServer() as hung:
        started = time.monotonic()
        result = pytester.runpytest(f"--mes-base-url={hung.base_url}", "--mes-testsets", "sets",
                                    "--mes-timeout", "0.5")
        elapsed = time.monotonic() - started
        assert hung.connections == 2  # the third request and the next were never sent
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) + outcomes.get("errors", 0) == 6 and not outcomes.get("passed")
    result.stdout.fnmatch_lines(["*accepted the connection but sent no complete answer within 0.5 s*"])
    result.stdout.fnmatch_lines(["*server unresponsive since *UTC (2 requests in a row without an answer, "
                                 "the last: *): not sent*"])
    assert "Traceback" not in result.stdout.str()
    assert elapsed < 2 * 0.5 + 15  # two timeouts, then no waiting (generous for a loaded machine)


@pytest.fixture
def tls_server(tls_ca):
    srv = ScriptedServer(tls=tls_context(tls_ca)).start()
    srv.route("GET /fhir/metadata", Reply(200, CAPABILITY_STATEMENT))
    yield srv
    srv.stop()


def test_tls_with_a_self_signed_authority(pytester, add_set, tls_server, tls_ca, tmp_path):
    add_set(a_set(tests=read_test("CORE-T-01")))
    base = [f"--mes-base-url={tls_server.base_url}", "--mes-testsets", "sets"]
    refused = pytester.runpytest(*base)
    refused.assert_outcomes(errors=1)
    refused.stdout.fnmatch_lines(["  ✗ request: expected an HTTP response, got TLS failure talking to 127.0.0.1:*"
                                  "CERTIFICATE_VERIFY_FAILED*Check --mes-ca-bundle*"])
    ca_file = tmp_path / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(ca_file))
    pytester.runpytest(*base, "--mes-ca-bundle", str(ca_file)).assert_outcomes(passed=1)


def test_mutual_tls_with_a_client_certificate(pytester, add_set, tls_ca, tmp_path):
    srv = ScriptedServer(tls=tls_context(tls_ca, require_client_cert=True)).start()
    srv.route("GET /fhir/metadata", Reply(200, CAPABILITY_STATEMENT))
    try:
        ca_file, cert_file, key_file = tmp_path / "ca.pem", tmp_path / "client.pem", tmp_path / "client.key"
        tls_ca.cert_pem.write_to_path(str(ca_file))
        client = tls_ca.issue_cert("editeur.example.fr")
        client.cert_chain_pems[0].write_to_path(str(cert_file))
        client.private_key_pem.write_to_path(str(key_file))
        add_set(a_set(tests=read_test("CORE-T-01")))
        base = [f"--mes-base-url={srv.base_url}", "--mes-testsets", "sets", "--mes-ca-bundle", str(ca_file)]
        without = pytester.runpytest(*base)
        without.assert_outcomes(errors=1)
        without.stdout.fnmatch_lines(["  ✗ request: expected an HTTP response, got *"])
        pytester.runpytest(*base, "--mes-client-cert", str(cert_file),
                           "--mes-client-key", str(key_file)).assert_outcomes(passed=1)
    finally:
        srv.stop()


def test_credentials_are_not_forwarded_on_a_redirect_to_another_host(pytester, add_set, server):
    other = ScriptedServer().start()
    try:
        elsewhere = other.base_url.replace("127.0.0.1", "localhost") + "/Patient/1"
        other.route("GET /fhir/Patient/1", Reply(200, PATIENT))
        server.route("GET /fhir/Patient/1", Reply(302, "", headers={"Location": elsewhere}))
        add_set(a_set(tests=read_test("CORE-R-01", path="Patient/1", checks=CHECKS)))
        pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "--mes-token",
                           "tok-abcdef", "--mes-header", "X-Api-Key: key-123456",
                           "--mes-header", "X-Tenant: t1").assert_outcomes(passed=1)
        first, second = server.requests[-1], other.requests[-1]
        assert first.headers["Authorization"] == "Bearer tok-abcdef" and first.headers["X-Api-Key"] == "key-123456"
        assert "Authorization" not in second.headers and "X-Api-Key" not in second.headers
        assert second.headers["X-Tenant"] == "t1"
    finally:
        other.stop()


def test_a_malformed_capability_statement_leaves_preconditions_not_verifiable(pytester, add_set, server):
    """A statement whose parts are of the wrong JSON type cannot say what the server declares: the test is
    incomplete, naming the element, never an internal error."""
    server.route("GET /fhir/metadata", Reply(200, {"resourceType": "CapabilityStatement", "rest": "oops"}))
    test = read_test("CORE-P-01", path="metadata") + """  preconditions:
    - capability: {resource: Patient, interaction: read}
"""
    add_set(a_set(tests=test))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets")
    assert result.parseoutcomes() == {"incomplete": 1}
    result.stdout.fnmatch_lines(["*CORE-P-01: precondition not verifiable: GET [[]base]/metadata returned a "
                                 "malformed CapabilityStatement: CapabilityStatement.rest is not a list;*"])
    french = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "--mes-lang=fr")
    french.stdout.fnmatch_lines(["*CORE-P-01: précondition non vérifiable : GET [[]base]/metadata a renvoyé une "
                                 "CapabilityStatement mal formée : CapabilityStatement.rest n'est pas une liste ;*"])
    assert "Traceback" not in result.stdout.str() and "AttributeError" not in result.stdout.str()


def test_refused_credentials_are_an_error_of_the_run_not_a_verdict_on_the_server(pytester, add_set, server):
    """A 401 to a step that does not expect one means the run's credentials were refused: nothing about the
    server's conformance was learnt, so the test is in error saying what to check, and the run is incomplete,
    not non-conformant. A step that expects the 401 still passes."""
    server.route("GET /fhir/Patient/1", Reply(401, {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "login"}]}, headers={"WWW-Authenticate": "Bearer"}))
    add_set(a_set(tests=read_test("CORE-A-01", path="Patient/1", checks="- status: 200")
                  + read_test("CORE-A-02", path="Patient/1", checks="- status: [401, 403]")))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets",
                                "--mes-token=tok-refused-1")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["Overall verdict*INCOMPLETE*",
                                 "*CORE-A-01: the test could not run: the server refused the run's credentials "
                                 "(401 Unauthorized): check --mes-token, --mes-header, --mes-client-cert and the "
                                 "user:password of --mes-base-url*"])
    french = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "--mes-lang=fr",
                                "--mes-token=tok-refused-1")
    french.stdout.fnmatch_lines(["*CORE-A-01: le test n'a pas pu s'exécuter : le serveur a refusé les identifiants de "
                                 "l'exécution (401 Unauthorized) : vérifiez --mes-token, --mes-header, "
                                 "--mes-client-cert et l'utilisateur:mot de passe de --mes-base-url*"])


def test_a_rate_limited_request_is_an_error_of_the_run_not_a_verdict_on_the_server(pytester, add_set, server):
    """A 429 (an API gateway limiting the pace of the run) processed nothing: the test is in error, saying to slow
    down, and the run is incomplete — not non-conformant. A step that expects the 429 still passes."""
    server.route("GET /fhir/Patient/1", Reply(429, "Too Many Requests", content_type="text/plain",
                                              headers={"Retry-After": "30"}))
    add_set(a_set(tests=read_test("CORE-Q-01", path="Patient/1", checks="- status: 200")
                  + read_test("CORE-Q-02", path="Patient/1", checks="- status: 429")))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["Overall verdict*INCOMPLETE*",
                                 "*CORE-Q-01: the test could not run: the server limits the pace of requests (429 Too "
                                 "Many Requests, Retry-After: 30): nothing was checked; run again later, with fewer "
                                 "workers (-n), or ask for a higher limit for the test platform*"])


def test_a_response_over_the_size_cap_is_a_limit_of_the_run_not_a_failure_of_the_server(pytester, add_set, server):
    """--mes-max-response-bytes protects the run's memory: a bigger answer could not be checked, which says
    nothing against the server (the test is in error, the run incomplete), and the message says how to raise it."""
    big = {**PATIENT, "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">'
                               + "x" * 3000 + "</div>"}}
    server.route("GET /fhir/Patient/1", Reply(200, big))
    add_set(a_set(tests=read_test("CORE-C-01", path="Patient/1", checks=CHECKS)))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets",
                                "--mes-max-response-bytes=1000")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["Overall verdict*INCOMPLETE*", "*CORE-C-01: the test could not run: the response "
                                 "is larger than 1000 bytes; reading stopped (raise the limit with "
                                 "--mes-max-response-bytes if this is expected)*"])


def test_unusable_tls_files_stop_the_run_at_start_naming_the_option(pytester, tls_server, tls_ca, tmp_path):
    """A CA bundle or client certificate that cannot be read is the user's to fix: said once, at start, with its
    option, rather than as a TLS failure of the server on every test. An encrypted key is said to be one (and no
    password is ever asked for on the terminal)."""
    serialization = pytest.importorskip("cryptography.hazmat.primitives.serialization")  # trustme's dependency
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    client = tls_ca.issue_cert("editeur.example.fr")
    cert_file, encrypted_key = tmp_path / "client.pem", tmp_path / "client.key"
    client.cert_chain_pems[0].write_to_path(str(cert_file))
    key = serialization.load_pem_private_key(client.private_key_pem.bytes(), password=None)
    encrypted_key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.BestAvailableEncryption(b"secret-pass")))
    base = [f"--mes-base-url={tls_server.base_url}"]
    for options, said in [
        ([f"--mes-ca-bundle={garbage}"], f"--mes-ca-bundle {garbage}: no PEM certificate authority could be read*"),
        ([f"--mes-client-cert={garbage}"], f"--mes-client-cert {garbage}: not a PEM certificate with its private*"),
        ([f"--mes-client-cert={cert_file}", f"--mes-client-key={encrypted_key}"],
         f"--mes-client-cert {cert_file} / --mes-client-key {encrypted_key}: *the key is encrypted*"),
        ([f"--mes-ca-bundle={tmp_path}"], f"--mes-ca-bundle {tmp_path}: this is a folder; give the file itself"),
        ([f"--mes-waivers={tmp_path}"], f"--mes-waivers {tmp_path}: this is a folder; give the file itself"),
    ]:
        result = pytester.runpytest(*base, *options)
        assert result.ret == pytest.ExitCode.USAGE_ERROR, options
        result.stderr.fnmatch_lines([f"*pytest-mes: {said}"])
        assert not tls_server.requests


def test_a_base_url_without_its_path_is_pointed_at(pytester, add_set, server):
    """/metadata answering 404 is most often a base URL that misses its path (…/fhir): the reason says to check it."""
    server.route("GET /fhir/metadata", Reply(404, {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "not-found"}]}))
    add_set(a_set(tests=read_test("CORE-U-01", path="Patient") + """  preconditions:
    - capability: {resource: Patient, interaction: search-type}
"""))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets")
    assert result.parseoutcomes() == {"incomplete": 1}
    result.stdout.fnmatch_lines(["*CORE-U-01: *GET [[]base]/metadata answered 404 Not Found: check the base URL "
                                 "(--mes-base-url; it often ends in /fhir)*"])


def test_what_the_http_library_logs_about_a_bad_answer_shows_no_traceback_and_no_secret(pytester, add_set, server,
                                                                                        monkeypatch):
    """urllib3 logs a malformed header line, and a retry, with the request's URL and a traceback; pytest shows
    captured logs with a failed test. pytest-mes says what went wrong itself, redacted: those records are not
    shown, so a secret in the query string never reaches the terminal."""
    monkeypatch.setenv("PARTNER_TOKEN", "tok-s3cr3t-in-query")
    # A header line without a colon: urllib3 logs "Failed to parse headers (url=…)" with its traceback.
    server.route("GET /fhir/Patient", Reply(200, PATIENT, headers={"X-Broken\r\nNo-Colon-Line": "x"}))
    with socket.socket() as sock:  # a port nobody listens on: urllib3 logs "Retrying … after connection broken"
        sock.bind(("127.0.0.1", 0))
        refused = f"http://localhost:{sock.getsockname()[1]}/fhir/Patient"
    server.route("GET /fhir/Moved", Reply(302, "", headers={"Location": refused}))
    query = "?access_token={{env.PARTNER_TOKEN}}"
    add_set(a_set(tests=read_test("CORE-L-01", path="Patient" + query, checks="- status: 200\n- max_time_ms: 1")
                  + read_test("CORE-L-02", path="Moved" + query)))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "-rA",
                                "--mes-timeout", "1")
    result.assert_outcomes(failed=1, errors=1)
    output = result.stdout.str() + result.stderr.str()
    assert "tok-s3cr3t-in-query" not in output
    assert "Traceback" not in output and "urllib3" not in output


def test_a_failure_after_a_redirect_names_the_host_that_failed(pytester, add_set, server):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server.route("GET /fhir/Patient/1", Reply(302, "", headers={"Location": f"http://localhost:{port}/fhir/Patient/1"}))
    add_set(a_set(tests=read_test("CORE-R-02", path="Patient/1", checks=CHECKS)))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"  ✗ request: expected an HTTP response, got cannot connect to localhost:{port}: *"])


def test_a_service_that_is_not_http_is_said_to_answer_in_something_else(pytester, add_set):
    """An SSH banner on the port (a wrong port in --mes-base-url): it answered, so "is the server running?" would send
    the user looking in the wrong place."""
    add_set(a_set(tests=read_test("CORE-N-01")))
    with HungServer(says=b"SSH-2.0-OpenSSH_9.6\r\n") as ssh:
        result = pytester.runpytest(f"--mes-base-url={ssh.base_url}", "--mes-testsets", "sets")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["  ✗ request: expected an HTTP response, got 127.0.0.1:* answered, but not in HTTP "
                                 "(*SSH-2.0-OpenSSH_9.6*): does --mes-base-url name the FHIR server (scheme and "
                                 "port)?"])
    assert "Is the server running" not in result.stdout.str()


def test_an_answer_http_cannot_read_and_a_redirect_loop_are_named_as_such(pytester, add_set, server):
    server.route("GET /fhir/Patient/1", Reply(200, PATIENT, headers={f"X-H{n}": "v" for n in range(120)}))
    server.route("GET /fhir/Patient/2", Reply(302, "", headers={"Location": server.base_url + "/Patient/2"}))
    add_set(a_set(tests=read_test("CORE-N-02", path="Patient/1", checks=CHECKS)
                  + read_test("CORE-N-03", path="Patient/2", checks=CHECKS)))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets")
    result.assert_outcomes(errors=2)
    # An HTTP answer beyond http.client's limits: not "not in HTTP, check the URL", which would mislead
    result.stdout.fnmatch_lines(["  ✗ request: expected an HTTP response, got 127.0.0.1:* answered with headers "
                                 "Python's HTTP client refuses to read (got more than 100 headers; its limits: 100 "
                                 "headers, 64 KiB a line): the answer is not checked"])
    assert "not in HTTP" not in result.stdout.str()
    result.stdout.fnmatch_lines(["  ✗ request: expected an HTTP response, got too many redirects from 127.0.0.1:* "
                                 "(more than 30): a loop? Check --mes-base-url and the server's redirects"])


def test_https_to_a_port_that_speaks_plain_http_says_so(pytester, add_set, server):
    """Not 'check --mes-ca-bundle': no certificate is involved, the URL's scheme is wrong."""
    add_set(a_set(tests=read_test("CORE-T-02")))
    result = pytester.runpytest(f"--mes-base-url={server.base_url.replace('http://', 'https://')}", "--mes-testsets",
                                "sets")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["  ✗ request: expected an HTTP response, got 127.0.0.1:* does not speak TLS on this "
                                 "port (*WRONG_VERSION_NUMBER*): does --mes-base-url start with https:// where the "
                                 "server wants http://?"])
    assert "--mes-ca-bundle" not in result.stdout.str()


def test_informational_answers_before_the_final_one_are_skipped(pytester, add_set, server):
    """A 1xx (102 Processing, 103 Early Hints from a CDN) is not the answer (RFC 9110 §15.2): the final one is
    checked, not the interim one as a wrong status."""
    server.route("GET /fhir/Patient/1", Reply(200, PATIENT, interim=(102, 103)))
    server.route("POST /fhir/Patient", Reply(201, PATIENT, headers={"Location": "Patient/1/_history/1"},
                                             interim=(103,)))
    add_set(a_set(tests=read_test("CORE-I-01", path="Patient/1", checks=CHECKS)
                  + create_test("CORE-I-02", checks="[{status: 201}, {header: {name: Location}}]")))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "--mes-allow-writes")
    result.assert_outcomes(passed=2)


def test_control_characters_from_the_server_never_reach_the_terminal_raw(pytester, add_set, server):
    """A reason phrase, header or body holding terminal escapes (clear the screen, colours, a bell) or a bidi override
    is shown with them written out, never sent to the terminal or the CI log as they are."""
    server.route("GET /fhir/Patient/1", Reply(500, "boom \x1b[31mred\x07\r\u202egnp.exe", content_type="text/plain",
                                              reason="Oops\x1b[2J", headers={"X-Debug": "a\x1b]0;title\x07b"}))
    add_set(a_set(tests=read_test("CORE-C-01", path="Patient/1", checks=CHECKS)
                  + read_test("CORE-C-02", path="Patient/1", level="SHOULD")))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "-v")
    assert result.parseoutcomes() == {"failed": 1, "advisory": 1}
    out = result.stdout.str()
    assert not [c for c in out if c in "\x1b\x07\r\u202e"], "raw control characters reached the terminal"
    result.stdout.fnmatch_lines(["  ✗ status (line 13): expected 200, got 500 Oops\\x1b[[]2J",
                                 "  X-Debug: a\\x1b]0;title\\x07b", "  boom \\x1b[[]31mred\\x07", "  \\u202egnp.exe",
                                 "failed (advisory) (1):", "  CORE-C-02: *got 500 Oops\\x1b[[]2J"])


def test_a_body_that_is_not_utf8_is_said_so_and_shown(pytester, add_set, server):
    """FHIR bodies are UTF-8 (R4 http.html): a server answering in ISO-8859-1, or in UTF-16, fails the checks that read
    the body, in words that say so, and the evidence still shows the body (undecodable bytes as �)."""
    patient = '{"resourceType": "Patient", "id": "1", "name": [{"family": "Hélène"}]}'
    server.route("GET /fhir/Patient/1", Reply(200, patient.encode("iso-8859-1"),
                                              content_type="application/fhir+json; charset=iso-8859-1"))
    server.route("GET /fhir/Patient/2", Reply(200, patient.encode("utf-16"),
                                              content_type="application/fhir+json; charset=utf-16"))
    add_set(a_set(tests=read_test("CORE-U-01", path="Patient/1", checks=CHECKS)
                  + read_test("CORE-U-02", path="Patient/2", checks=CHECKS)))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets",
                                "--mes-report-json=results.json")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines([
        "  ✗ resource type (line 14): expected Patient, got the response body is not UTF-8, the encoding FHIR "
        "requires (byte 0xe9 at position 61; Content-Type: application/fhir+json; charset=iso-8859-1)",
        '        "family": "H�l�ne"',
        "  ✗ resource type (line 23): expected Patient, got the response body is not UTF-8, the encoding FHIR "
        "requires (byte 0xff at position 0; Content-Type: application/fhir+json; charset=utf-16)"])
    results = json.loads((pytester.path / "results.json").read_text(encoding="utf-8"))
    assert "H\ufffdl\ufffdne" in results["tests"][0]["exchanges"][0]["response_body"]
    french = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "--mes-lang=fr")
    french.stdout.fnmatch_lines(["*obtenu le corps de la réponse n'est pas en UTF-8, l'encodage qu'exige FHIR (octet "
                                 "0xe9 à la position 61 ; Content-Type : application/fhir+json; charset=iso-8859-1)"])


@pytest.mark.parametrize(("method", "status"), [("HEAD", 200), ("GET", 204), ("GET", 304)])
def test_a_body_sent_after_an_answer_that_has_none_is_never_read_as_the_next_answer(pytester, add_set, server, method,
                                                                                    status):
    """A server that sends a body anyway after a HEAD, a 204 or a 304 (whose answers end with their headers) leaves
    it on the connection: the next request goes on a new one, not blamed for the stray bytes ('not in HTTP')."""
    server.route(f"{method} /fhir/Patient/3", Reply(status, PATIENT, trickle=0.005))
    server.route("GET /fhir/Patient/1", Reply(200, PATIENT))
    stray = f"""
- id: CORE-S-01
  title: Stray
  requirements: [{{ref: r, level: SHALL}}]
  steps:
    - request: {{method: {method}, path: Patient/3}}
      checks: [{{status: {status}}}]
"""
    add_set(a_set(tests=stray + read_test("CORE-S-02", path="Patient/1", checks=CHECKS)))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets")
    result.assert_outcomes(passed=2)


def test_a_malformed_chunked_body_is_named_as_such(pytester, add_set):
    """A chunk size that is no hexadecimal number: the server (or a proxy) writes chunked encoding wrongly; not
    Python's int() error, not 'cut off'."""
    add_set(a_set(tests=read_test("CORE-K-01")))
    answer = (b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"zz\r\n{}\r\n0\r\n\r\n")
    with HungServer(says=answer) as chunked:
        result = pytester.runpytest(f"--mes-base-url={chunked.base_url}", "--mes-testsets", "sets")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["  ✗ request: expected an HTTP response, got the response from 127.0.0.1:* is not "
                                 "valid chunked transfer encoding (a chunk size reads 'zz'): the server or a proxy in "
                                 "front of it writes it wrongly"])
    assert "int()" not in result.stdout.str()


def test_control_characters_of_a_test_set_title_are_written_out_too(pytester, add_set, server):
    """A title pasted with an escape sequence in it (YAML "\\e[2J"): the -v line and the failure heading show it
    written out, as they show the server's."""
    test = read_test("CORE-C-03", checks="- status: 201").replace("title: {fr: Test CORE-C-03, en: Test CORE-C-03}",
                                                                   'title: {fr: "A\\e[2J", en: "A\\e[2J\\u202e"}')
    add_set(a_set(tests=test))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets", "-v")
    result.assert_outcomes(failed=1)
    assert "\x1b" not in result.stdout.str() and "\u202e" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*CORE-C-03: A\\x1b[[]2J *", "CORE-C-03 — A\\x1b[[]2J\\u202e",
                                 "FAILED [[]SHALL[]] A\\x1b[[]2J\\u202e sets/set.yaml::CORE-C-03 - *"])


def test_a_utf8_header_value_is_read_as_the_server_wrote_it(pytester, add_set, server):
    """http.client reads header bytes as Latin-1: a server's UTF-8 "Créneau réservé" would be checked and shown as
    "CrÃ©neau rÃ©servÃ©". Bytes that are not UTF-8 (a real Latin-1 "é") stay as Latin-1 reads them."""
    as_sent = "Créneau réservé ✓".encode().decode("latin-1")  # (send_header writes Latin-1: these are UTF-8 bytes)
    server.route("GET /fhir/Patient/1", Reply(200, PATIENT, headers={"X-Message": as_sent, "X-Old": "caf\xe9"}))
    checks = ('[{status: 200}, {header: {name: X-Message, equals: "Créneau réservé ✓"}}, '
              '{header: {name: X-Old, equals: "café"}}, {header: {name: X-Message, equals: "nope"}}]')
    add_set(a_set(tests=read_test("CORE-U-01", path="Patient/1", checks=checks)))
    result = pytester.runpytest(f"--mes-base-url={server.base_url}", "--mes-testsets", "sets")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "expected 'nope', got 'Créneau réservé ✓'" in out and "X-Message: Créneau réservé ✓" in out
    assert "Ã" not in out and "X-Old: café" in out
