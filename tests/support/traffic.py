"""The validator's real traffic: every official example of GAP 3.0.0, FR Core 2.1.0 and PDSm 3.1.1 but Bundles and
Binaries, as their IG judges them. tests/fhir/test_fast_paths.py holds the validator's shortcuts to these, and
bench/validate.py (d) measures them."""

from __future__ import annotations

import copy

from pytest_mes.fhir.store import PackageStore

REAL_TRAFFIC = ("ans.fhir.fr.gap#3.0.0", "hl7.fhir.fr.core#2.1.0", "ans.fhir.fr.pdsm#3.1.1")


def real_traffic_examples(store: PackageStore) -> list[tuple[str, dict, str]]:
    """(file name, example, package key) for every official example of the REAL_TRAFFIC IGs but Bundles and
    Binaries, each ``meta.profile`` pinned to the version its IG depends on (``url|version``), as the IG's own
    validation judges it."""
    out = []
    for key in REAL_TRAFFIC:
        for name, resource in store.package(key).examples():
            if resource["resourceType"] in ("Bundle", "Binary"):
                continue
            resource = copy.deepcopy(resource)
            meta = resource.get("meta") or {}
            meta["profile"] = [f"{url}|{store.entry(url, key)['v']}" for url in meta.get("profile", ())]
            out.append((name, resource, key))
    return out
