"""The FHIR HTTP client at unit level (HTTP mocked with `responses`)."""

from __future__ import annotations

import json

import pytest
import requests
import responses

from pytest_mes.client import ClientSettings, FhirClient
from pytest_mes.redaction import Redactor

BASE = "https://fhir.example.fr/fhir"


@pytest.fixture
def client():
    return FhirClient(ClientSettings(BASE, token="s3cr3t-token-value", headers=(("X-Tenant", "t1"),
                                                                                ("X-Api-Key", "k3y-value"))))


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
    assert client.exchanges == [exchange]


@pytest.mark.parametrize(("target", "url"), [
    ("metadata", f"{BASE}/metadata"), ("/Slot", f"{BASE}/Slot"), ("", f"{BASE}/"),
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
def test_secrets_never_reach_the_exchange(client):
    responses.post(f"{BASE}/Patient", json={"echo": "s3cr3t-token-value"}, status=201,
                   headers={"Set-Cookie": "session=abc"})
    exchange = client.create({"resourceType": "Patient", "note": "k3y-value"})
    recorded = json.dumps(exchange.__dict__, default=str)
    assert "s3cr3t-token-value" not in recorded and "k3y-value" not in recorded
    assert exchange.request_headers["Authorization"] == "***"
    assert exchange.request_headers["X-Api-Key"] == "***"
    assert exchange.response_headers["Set-Cookie"] == "***"
    assert exchange.request_headers["X-Tenant"] == "t1"
    assert exchange.request_headers["Content-Type"] == "application/fhir+json"


@responses.activate
def test_body_larger_than_the_cap_is_an_error():
    client = FhirClient(ClientSettings(BASE, max_response_bytes=1000))
    responses.get(f"{BASE}/Binary/1", body=b"x" * 5000)
    exchange = client.read("Binary", "1")
    assert exchange.error.startswith("the response is larger than 1000 bytes")


@responses.activate
def test_network_failures_are_recorded_not_raised(client):
    responses.get(f"{BASE}/a", body=requests.exceptions.ConnectTimeout("timed out"))
    responses.get(f"{BASE}/b", body=requests.exceptions.ReadTimeout("read timed out"))
    responses.get(f"{BASE}/c", body=requests.exceptions.SSLError("CERTIFICATE_VERIFY_FAILED"))
    responses.get(f"{BASE}/d", body=requests.exceptions.ConnectionError("Connection refused"))
    errors = [client.request("GET", name).error for name in "abcd"]
    assert errors[0] == "no connection to fhir.example.fr within 10 s (connect timeout)"
    assert errors[1] == ("fhir.example.fr accepted the connection but sent no complete answer within 30 s "
                         "(--mes-timeout)")
    assert errors[2].startswith("TLS failure talking to fhir.example.fr: CERTIFICATE_VERIFY_FAILED")
    assert errors[3].startswith("cannot connect to fhir.example.fr: Connection refused")
    assert all(e.elapsed_ms >= 0 for e in client.exchanges)


@responses.activate
def test_invalid_json_is_explained(client):
    responses.get(f"{BASE}/Patient/1", body="{not json", content_type="application/fhir+json")
    exchange = client.read("Patient", "1")
    value, problem = exchange.parsed
    assert value is None and problem.startswith("the response body is not valid JSON (application/fhir+json)")


def test_redactor_masks_longest_secrets_first():
    redactor = Redactor(["abcd", "abcdef", "x"])  # too short secrets are ignored: they would mask everything
    assert redactor.text("token=abcdef and abcd and x") == "token=*** and *** and x"
    assert redactor.headers({"Cookie": "a=b", "Accept": "abcd"}) == {"Cookie": "***", "Accept": "***"}
