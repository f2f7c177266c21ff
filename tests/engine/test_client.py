"""The FHIR HTTP client at unit level (HTTP mocked with `responses`)."""

from __future__ import annotations

import json

import pytest
import requests
import responses

from pytest_mes.client import ClientSettings, FhirClient
from pytest_mes.redaction import Redactor, is_secret_name, is_secret_variable

BASE = "https://fhir.example.fr/fhir"


@pytest.fixture
def client():
    """A client that speaks English (--mes-lang=en); French is the default, tested beside."""
    return FhirClient(ClientSettings(BASE, token="s3cr3t-token-value", headers=(("X-Tenant", "t1"),
                                                                                ("X-Api-Key", "k3y-value"))),
                      lang="en")


@responses.activate
def test_joins_paths_sends_fhir_accept_token_and_headers(client):
    responses.get(f"{BASE}/Patient/1", json={"resourceType": "Patient", "id": "1"},
                  content_type="application/fhir+json")
    exchange = client.read("Patient", "1")
    sent = responses.calls[0].request
    assert sent.url == f"{BASE}/Patient/1"
    assert sent.headers["Accept"] == "application/fhir+json"
    assert sent.headers["Authorization"] == "Bearer s3cr3t-token-value"
    assert sent.headers["X-Tenant"] == "t1"
    assert exchange.status == 200 and exchange.json()["id"] == "1"
    assert exchange.content_type == "application/fhir+json"
    assert list(client.exchanges) == [exchange]


@pytest.mark.parametrize(("target", "url"), [
    ("metadata", f"{BASE}/metadata"), ("/Slot", f"{BASE}/Slot"), ("", BASE),
    ("https://other.example/x", "https://other.example/x"),
])
def test_url_joining(client, target, url):
    assert client.url_for(target) == url


@responses.activate
def test_repeated_query_parameters_are_kept(client):
    responses.get(f"{BASE}/Slot", json={"resourceType": "Bundle"})
    client.search("Slot", [("start", "ge2026-01-01"), ("start", "le2026-01-31"), ("status", "free")])
    assert responses.calls[0].request.url == f"{BASE}/Slot?start=ge2026-01-01&start=le2026-01-31&status=free"


@responses.activate
def test_secrets_are_masked_in_what_is_shown_but_checks_see_the_real_answer(client):
    responses.post(f"{BASE}/Patient", json={"echo": "s3cr3t-token-value", "total": 1234}, status=201,
                   headers={"Set-Cookie": "session=abc", "X-Session-Id": "s-42"})
    exchange = client.create({"resourceType": "Patient", "note": "k3y-value"})
    assert exchange.request_headers["Authorization"] == "***"
    assert exchange.request_headers["X-Api-Key"] == "***"
    assert exchange.request_headers["X-Tenant"] == "t1"
    assert exchange.request_headers["Content-Type"] == "application/fhir+json"
    assert "k3y-value" not in exchange.request_body
    # What checks and saved values read is what the server sent...
    assert exchange.json()["echo"] == "s3cr3t-token-value" and exchange.header("Set-Cookie") == "session=abc"
    # ...and what is printed or recorded is masked.
    shown = exchange.shown()
    recorded = json.dumps(shown.__dict__, default=str)
    assert "s3cr3t-token-value" not in recorded and "k3y-value" not in recorded and "session=abc" not in recorded
    assert shown.response_headers["Set-Cookie"] == "***" and shown.response_headers["X-Session-Id"] == "***"
    assert "s3cr3t" not in repr(exchange) and "s3cr3t" not in repr(client.settings)


@responses.activate
def test_excerpt_for_assertion_messages_is_masked_and_cut(client):
    """`exchange.excerpt()`, as the README's own-test example uses it."""
    responses.get(f"{BASE}/Patient", body='{"echo": "s3cr3t-token-value", "pad": "' + "x" * 50 + '"}')
    exchange = client.search("Patient")
    assert "s3cr3t" not in exchange.excerpt() and exchange.excerpt().startswith('{"echo": "***"')
    cut = exchange.excerpt(limit=20)
    assert cut.startswith('{"echo": "***"') and cut.endswith(f"\n… ({len(exchange.body)} bytes in all)")


@responses.activate
def test_credentials_go_only_to_the_server_under_test(client):
    responses.get("https://elsewhere.example/fhir/Patient/1", json={"resourceType": "Patient"})
    exchange = client.request("GET", "https://elsewhere.example/fhir/Patient/1")
    sent = responses.calls[0].request.headers
    assert "Authorization" not in sent and "X-Api-Key" not in sent and sent["X-Tenant"] == "t1"
    assert exchange.notes == ["credentials not sent: elsewhere.example is not the server under test"]


@responses.activate
def test_cookies_do_not_carry_over_between_requests(client):
    responses.get(f"{BASE}/a", json={}, headers={"Set-Cookie": "sid=123; Path=/"})
    responses.get(f"{BASE}/b", json={})
    client.request("GET", "a")
    client.request("GET", "b")
    assert "Cookie" not in responses.calls[1].request.headers


def test_a_request_that_cannot_be_written_is_an_error_not_a_crash(client):
    exchange = client.request("GET", "Patient", headers={"X-Bad": "a\nb"})
    assert exchange.error.startswith("the request could not be sent as written")


@responses.activate
def test_body_larger_than_the_cap_is_an_error():
    client = FhirClient(ClientSettings(BASE, max_response_bytes=1000))
    responses.get(f"{BASE}/Binary/1", body=b"x" * 5000)
    exchange = client.read("Binary", "1")
    assert exchange.error.startswith("la réponse dépasse 1000 octets ; lecture arrêtée")
    english = FhirClient(ClientSettings(BASE, max_response_bytes=1000), lang="en").read("Binary", "1")
    assert english.error.startswith("the response is larger than 1000 bytes")


@responses.activate
def test_network_failures_are_recorded_not_raised(client):
    responses.get(f"{BASE}/a", body=requests.exceptions.ConnectTimeout("timed out"))
    responses.get(f"{BASE}/b", body=requests.exceptions.ReadTimeout("read timed out"))
    responses.get(f"{BASE}/c", body=requests.exceptions.SSLError("CERTIFICATE_VERIFY_FAILED"))
    responses.get(f"{BASE}/d", body=requests.exceptions.ConnectionError("Connection refused"))
    exchanges = [FhirClient(client.settings, lang="en").request("GET", name) for name in "abcd"]  # each a fresh one
    errors = [e.error for e in exchanges]
    assert [e.unreachable for e in exchanges] == [True, True, False, True]  # TLS: the server answered, wrongly
    assert errors[0] == "no connection to fhir.example.fr within 10 s (connect timeout)"
    assert errors[1] == ("fhir.example.fr accepted the connection but sent no complete answer within 30 s "
                         "(--mes-timeout)")
    assert errors[2].startswith("TLS failure talking to fhir.example.fr: CERTIFICATE_VERIFY_FAILED")
    assert errors[3].startswith("cannot connect to fhir.example.fr: Connection refused")
    assert all(e.elapsed_ms >= 0 for e in exchanges)
    french = [FhirClient(client.settings).request("GET", name).error for name in "abcd"]  # the default language
    assert french[0] == "pas de connexion à fhir.example.fr en 10 s (délai de connexion)"
    assert french[1] == ("fhir.example.fr a accepté la connexion mais n'a pas envoyé de réponse complète en 30 s "
                         "(--mes-timeout)")
    assert french[2].startswith("échec TLS avec fhir.example.fr : CERTIFICATE_VERIFY_FAILED")
    assert french[3].startswith("connexion impossible à fhir.example.fr : Connection refused. Le serveur est-il "
                                "démarré")


@responses.activate
def test_after_two_requests_in_a_row_without_an_answer_the_next_are_not_sent(client):
    responses.get(f"{BASE}/ok", json={"resourceType": "Patient"})
    responses.get(f"{BASE}/slow", body=requests.exceptions.ReadTimeout("read timed out"))
    responses.get(f"{BASE}/refused", body=requests.exceptions.ConnectionError("Connection refused"))
    responses.get("https://other.example.org/x", json={})
    # One silence, then an answer (even an error status would do): the count starts again.
    assert [client.request("GET", p).unreachable for p in ("slow", "ok", "refused")] == [True, False, True]
    assert not client.silence.unresponsive
    second = client.request("GET", "slow")
    assert second.unreachable and client.silence.unresponsive
    skipped = client.request("GET", "ok")
    assert skipped.unreachable and skipped.status is None
    assert skipped.error.startswith(f"server unresponsive since {client.exchanges[-3].started_at[11:19]} UTC "
                                    "(2 requests in a row without an answer, the last: fhir.example.fr accepted")
    assert skipped.error.endswith(": not sent")
    assert len(responses.calls) == 4  # the skipped request never left
    # Another host is not the server under test: still asked.
    assert client.request("GET", "https://other.example.org/x").status == 200


@responses.activate
def test_invalid_json_is_explained(client):
    responses.get(f"{BASE}/Patient/1", body="{not json", content_type="application/fhir+json")
    exchange = client.read("Patient", "1")
    value, problem = exchange.parsed
    assert value is None and problem.startswith("the response body is not valid JSON (application/fhir+json)")
    french = FhirClient(ClientSettings(BASE)).read("Patient", "1").parsed[1]
    assert french.startswith("le corps de la réponse n'est pas un JSON valide (application/fhir+json) : ")


def test_redactor_masks_longest_secrets_first():
    redactor = Redactor(["abcd", "abcdef", "x"])  # too short secrets are ignored: they would mask everything
    assert redactor.text("token=abcdef and abcd and x") == "token=*** and *** and x"
    assert redactor.headers({"Cookie": "a=b", "Accept": "abcd"}) == {"Cookie": "***", "Accept": "***"}


CREDENTIALS = ("api_key", "apikey", "apiKey", "X-Api-Key", "partner_api_key", "client_key", "access_key",
               "private_key", "subscription-key", "secret", "client_secret", "token", "access_token", "password",
               "db_passwd", "db_pwd", "smtpPwd", "session_id", "jwt", "Authorization", "Cookie")
IDENTIFIERS = ("patient_key", "document_key", "appointment_key", "schedule_key", "first_key", "key", "patientKey",
               "patient_ins", "rpps")


@pytest.mark.parametrize("name", CREDENTIALS)
def test_a_credential_like_variable_is_masked(name):
    assert is_secret_variable(name) and is_secret_name(name)
    assert Redactor().variables({name: "tok-4f1e9a", "n": "1"}) == {name: "***", "n": "1"}


@pytest.mark.parametrize("name", IDENTIFIERS)
def test_a_variable_naming_a_business_key_is_shown(name):
    """patient_key holds an INS or an identifier a reviewer must read: `key` after a word that is no credential
    qualifier is a business key."""
    assert not is_secret_variable(name)
    assert Redactor().variables({name: "1234567890123"}) == {name: "1234567890123"}


@pytest.mark.parametrize("name", ["X-Tenant-Key", "X-Key", "STRIPE_KEY"])
def test_a_header_or_environment_name_with_key_is_still_a_credential(name):
    """Transport settings have no business keys: any `key` there is a credential (sent only to the server)."""
    assert is_secret_name(name)
