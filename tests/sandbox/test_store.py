"""Storage guarantees: concurrent requests never corrupt the store; `--db` survives a restart."""

from __future__ import annotations

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
