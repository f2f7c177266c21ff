"""Storage guarantees: concurrent requests never corrupt the store; `--db` survives a restart."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests

from pytest_mes.sandbox import Sandbox
from pytest_mes.sandbox.store import Store


def test_concurrent_writes_and_reads(fresh):
    base = fresh.base_url

    def worker(n: int) -> tuple[int, int, int]:
        with requests.Session() as http:
            created = http.post(f"{base}/Patient", json={"resourceType": "Patient",
                                                        "identifier": [{"system": "urn:test", "value": f"C{n}"}]})
            pid = created.json()["id"]
            body = created.json()
            body["active"] = True
            updated = http.put(f"{base}/Patient/{pid}", json=body)
            searched = http.get(f"{base}/Slot", params={"schedule": "sched-martin", "_count": "5"})
            return created.status_code, updated.status_code, searched.status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(worker, range(40)))
    assert all(r == (201, 200, 200) for r in results)
    total = requests.get(f"{base}/Patient", params={"identifier": "urn:test|", "_summary": "count"}).json()["total"]
    assert total == 40
    versions = requests.get(f"{base}/Patient", params={"identifier": "urn:test|", "_count": "100"}).json()
    assert {e["resource"]["meta"]["versionId"] for e in versions["entry"]} == {"2"}


def test_concurrent_updates_of_one_resource_keep_every_version(fresh):
    base = fresh.base_url
    url = f"{base}/Patient/pat-moreau"

    def bump(_n: int) -> int:
        body = requests.get(url).json()
        return requests.put(url, json=body).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(bump, range(24))) == {200}
    history = requests.get(f"{url}/_history").json()
    assert history["total"] == 25
    assert sorted(int(e["resource"]["meta"]["versionId"]) for e in history["entry"]) == list(range(1, 26))


def test_data_persists_across_restarts(tmp_path):
    db = tmp_path / "sandbox.db"
    with Sandbox(db=db) as first:
        created = requests.post(f"{first.base_url}/Patient", json={"resourceType": "Patient", "gender": "other"})
        pid = created.json()["id"]
        requests.delete(f"{first.base_url}/Patient/pat-lefebvre")
    with Sandbox(db=db) as second:
        again = requests.get(f"{second.base_url}/Patient/{pid}")
        assert again.status_code == 200 and again.json()["gender"] == "other"
        assert requests.get(f"{second.base_url}/Patient/pat-lefebvre").status_code == 410  # not re-seeded
        assert requests.get(f"{second.base_url}/Patient/{pid}/_history/1").status_code == 200


def test_failed_store_transaction_leaves_nothing(tmp_path):
    store = Store(tmp_path / "t.db")
    try:
        with store.transaction():
            store.put("Patient", "a", {"resourceType": "Patient"})
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert store.get("Patient", "a") is None
    store.close()
    assert Store(tmp_path / "t.db").get("Patient", "a") is None


def test_concurrent_conditional_creates_make_one_resource(fresh):
    base = fresh.base_url
    system = "https://sandbox.pytest-mes.fr/relatedperson"
    for _round in range(8):  # the race is probabilistic: several rounds, each with new criteria
        value = f"RP-{uuid.uuid4()}"
        body = {"resourceType": "RelatedPerson", "patient": {"reference": "Patient/pat-dupont"},
                "identifier": [{"system": system, "value": value}]}
        barrier = threading.Barrier(5)  # within the server's listen backlog
        statuses: list[int] = []

        def create(body: dict = body, value: str = value, barrier: threading.Barrier = barrier,
                   statuses: list[int] = statuses) -> None:
            with requests.Session() as http:
                barrier.wait()
                statuses.append(http.post(f"{base}/RelatedPerson", json=body,
                                          headers={"If-None-Exist": f"identifier={system}|{value}"}).status_code)

        threads = [threading.Thread(target=create) for _ in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        found = requests.get(f"{base}/RelatedPerson", params={"identifier": f"{system}|{value}"}).json()
        assert found["total"] == 1, statuses
        assert sorted(statuses) == [200, 200, 200, 200, 201]


def test_reads_do_not_see_uncommitted_writes():
    store = Store()
    written, seen = threading.Event(), []

    def writer() -> None:
        try:
            with store.transaction():
                store.put("Patient", "p1", {"resourceType": "Patient"})
                written.set()
                threading.Event().wait(0.3)
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass

    thread = threading.Thread(target=writer)
    thread.start()
    written.wait(5)
    seen.append(store.get("Patient", "p1"))
    seen.append(store.resource("Patient", "p1"))
    thread.join()
    assert seen == [None, None]
