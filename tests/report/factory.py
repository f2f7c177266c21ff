"""Synthetic results documents ("pytest-mes-results/1", notes of RESULTS-FORMAT) for the renderers' tests and bench.

Bodies look like the reference sandbox's answers (searchset Bundles of GAP Schedules and Slots, pretty-printed),
so sizes and compression ratios are realistic. Test 1 fails with validator issues, test 2 carries hostile text.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

BASE = "http://127.0.0.1:4711/fhir"
HOSTILE = '</script><script>window.PWNED=1</script><img src=x onerror="window.PWNED=2"><!--'
VERDICT_CYCLE = ["passed"] * 6 + ["failed", "advisory", "incomplete", "skipped", "waived", "error"]
COMPONENTS = [("gap", "gap-gestionnaire-agenda"), ("pdsm", "pdsm-gestionnaire-partage"), ("core", "fhir-server")]
LEVELS = ["SHALL", "SHALL", "SHOULD", "MAY"]
EMPTY_COUNTS = dict.fromkeys(("passed", "failed", "advisory", "incomplete", "skipped", "waived", "error"), 0)


def slot(n: int, day: datetime) -> dict:
    start = day + timedelta(minutes=30 * n)
    return {
        "resourceType": "Slot", "id": f"slot-{n}",
        "meta": {"profile": ["https://interop.esante.gouv.fr/ig/fhir/gap/StructureDefinition/gap-fr-slot"],
                 "versionId": "1", "lastUpdated": "2026-12-05T16:38:50.866Z"},
        "identifier": [{"system": "https://sandbox.pytest-mes.fr/slot", "value": f"CRENEAU-{n:05d}"}],
        "serviceType": [{"coding": [{
            "system": "https://mos.esante.gouv.fr/NOS/TRE_R38-SpecialiteOrdinale/FHIR/TRE-R38-SpecialiteOrdinale",
            "code": "SM04", "display": "Cardiologie et maladies vasculaires (SM)"}]}],
        "schedule": {"reference": "Schedule/sched-bernard"}, "status": "free",
        "start": start.isoformat(), "end": (start + timedelta(minutes=30)).isoformat(),
        "comment": "Créneau de consultation", "text": {
            "status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><p>Slot slot-{n}</p></div>'},
    }


def bundle(first: int, count: int, day: datetime) -> dict:
    return {
        "resourceType": "Bundle", "id": str(uuid.UUID(int=first * 7919 + count)), "type": "searchset",
        "meta": {"lastUpdated": "2026-12-05T16:39:07.262Z"}, "total": count * 4,
        "link": [{"relation": "self", "url": f"{BASE}/Slot?status=free&_count={count}"}],
        "entry": [{"fullUrl": f"{BASE}/Slot/slot-{first + i}", "resource": slot(first + i, day),
                   "search": {"mode": "match"}} for i in range(count)],
    }


def pretty(resource: dict) -> str:
    return json.dumps(resource, indent=2, ensure_ascii=False)


def exchange(test_id: str, k: int, n: int, day: datetime) -> dict:
    """A search (about 9 KB), a read (about 1.5 KB) or a create, in turn."""
    kind = k % 3
    body = bundle(n * 10, 8, day) if kind == 0 else slot(n * 10 + k, day)
    request_body = pretty(slot(n * 10 + k, day)) if kind == 2 else None
    text = pretty(body)
    return {
        "id": f"{test_id}/e{k + 1}", "method": ["GET", "GET", "POST"][kind],
        "url": [f"{BASE}/Slot?status=free&_count=8", f"{BASE}/Slot/slot-{n * 10 + k}", f"{BASE}/Slot"][kind],
        "request_headers": {"Accept": "application/fhir+json", "Authorization": "***"},
        "request_body": request_body, "started_at": (day + timedelta(seconds=n)).isoformat(),
        "elapsed_ms": 12.5 + k, "status": [200, 200, 201][kind], "reason": ["OK", "OK", "Created"][kind],
        "response_headers": {"Content-Type": "application/fhir+json; charset=utf-8", "ETag": 'W/"1"'},
        "response_body": text, "response_size": len(text.encode()), "body_cap": 65536, "body_truncated": False,
        "error": None, "redirects": [], "notes": [],
    }


def check_passed(label: str, line: int) -> dict:
    return {"kind": "status", "label": label, "outcome": "passed", "expected": "200", "actual": "200",
            "because": None, "line": line, "detail": "", "items": [], "issues": []}


def failing_checks(verdict: str) -> list[dict]:
    outcome = "waived" if verdict == "waived" else "failed"
    if verdict in ("failed", "advisory", "waived"):
        return [
            {"kind": "fhirpath", "label": "fhirpath Bundle.entry.all(resource.status = 'free')", "outcome": outcome,
             "expected": "true", "actual": "[false]", "because": None, "line": 44, "detail": "",
             "items": [{"index": 3, "id": "slot-12"}], "issues": []},
            {"kind": "conforms_to", "label": "conforms_to gap-fr-slot", "outcome": outcome, "expected": "no error",
             "actual": "181 errors", "because": None, "line": 45, "detail": "", "items": [], "issues": [
                 {"severity": "error", "code": "code-invalid", "message_id": "BINDING_REQUIRED",
                  "message": "Le code 'busy-tentative' n'est pas dans le ValueSet requis SlotStatus",
                  "expression": "Bundle.entry[*].resource.status",
                  "locations": [f"Bundle.entry[{i}].resource.status" for i in range(20)], "count": 180,
                  "profile": "https://interop.esante.gouv.fr/ig/fhir/gap/StructureDefinition/gap-fr-slot",
                  "source": "gap-fr-slot#Slot.status"},
                 {"severity": "warning", "code": "informational", "message_id": "MS_MISSING",
                  "message": "Élément Must Support absent : Slot.comment", "expression": "Bundle.entry[0].resource",
                  "locations": ["Bundle.entry[0].resource"], "count": 1, "profile": None}]},
        ]
    if verdict == "incomplete":
        return [{"kind": "conforms_to", "label": "conforms_to gap-fr-slot", "outcome": "not_checked",
                 "expected": "no error", "actual": "", "because": "paquet ans.fhir.fr.gap#3.0.0 absent", "line": 45,
                 "detail": "", "items": [], "issues": []}]
    return []


def make_test(n: int, exchanges: int, day: datetime) -> dict:
    component, actor = COMPONENTS[n % len(COMPONENTS)]
    verdict = "failed" if n == 1 else VERDICT_CYCLE[n % len(VERDICT_CYCLE)]
    level = "SHOULD" if verdict == "advisory" else ("SHALL" if verdict == "failed" else LEVELS[n % len(LEVELS)])
    test_id = f"{component.upper()}-T-{n:04d}"
    title = {"fr": f"Recherche des créneaux libres n°{n}", "en": f"Free slot search #{n}"}
    if n == 2:
        title = {"fr": f"Titre {HOSTILE}\u202egnp.exe", "en": f"Title {HOSTILE}\u202egnp.exe"}
    exchange_list = [] if verdict == "skipped" else [exchange(test_id, k, n, day) for k in range(exchanges)]
    if n == 2 and exchange_list:
        exchange_list[0]["response_body"] = f"<html><body>{HOSTILE}\u202egnp.exe</body></html>"
        exchange_list[0]["url"] = f"{BASE}/Slot?q={HOSTILE}"
    steps = [{"name": f"step {k + 1}", "phase": "test", "index": k, "line": 31 + 5 * k,
              "outcome": "passed", "error": None, "exchange": e["id"],
              "checks": [check_passed("status 200", 32 + 5 * k)]} for k, e in enumerate(exchange_list)]
    if steps and (extra := failing_checks(verdict)):
        steps[-1]["checks"] += extra
        steps[-1]["outcome"] = "not_checked" if verdict == "incomplete" else "failed"
        steps[-1]["source"] = [[41, "      - name: step 3"], [44, "          - fhirpath: Bundle.entry.all(…)"]]
    if verdict == "error" and steps:
        steps[-1].update(outcome="error", error="no answer within 30 s")
    reasons = {"failed": "fhirpath Bundle.entry.all(resource.status = 'free'): expected true, got [false]",
               "advisory": "SHOULD: fhirpath Bundle.entry.all(…) not met", "skipped": "CapabilityStatement: no Slot",
               "incomplete": "conforms_to gap-fr-slot not checked: package ans.fhir.fr.gap#3.0.0 missing",
               "waived": "waived: known status binding issue", "error": "no answer within 30 s"}
    return {
        "index": n, "nodeid": f"testsets/{component}/set.yaml::{test_id}", "id": test_id, "set": f"{component}-set",
        "component": component, "actor": actor, "level": level, "title": title,
        "file": f"testsets/{component}/set.yaml", "line": 30 + n,
        "requirements": [{"ref": f"{component.upper()} — flux {n % 7 + 1}", "level": level,
                          "url": f"https://interop.esante.gouv.fr/ig/fhir/{component}/flux.html#f{n % 7 + 1}",
                          "text": "Le serveur DOIT renvoyer les créneaux libres.", "transaction": None}],
        "verdict": verdict, "reason": reasons.get(verdict, ""), "duration_ms": 40.0 + n % 50,
        "waiver": ({"index": 0, "justification": "Correctif prévu en version 4.3", "author": "QA Éditeur",
                    "expires": "2027-01-31", "source": "waivers.yaml:3"} if verdict == "waived" else None),
        "steps": steps, "exchanges": exchange_list,
        "variables": {"window_end": "2026-12-21", "token": "***"} if verdict == "failed" else {},
        "notes": ["CapabilityStatement: Slot search declared"] if verdict == "failed" else [],
    }


def summarize(tests: list[dict]) -> dict:
    counts = dict(EMPTY_COUNTS)
    rows: dict[tuple, dict] = {}
    for t in tests:
        counts[t["verdict"]] += 1
        key = (t["component"], t["actor"], t["level"])
        row = rows.setdefault(key, {"component": key[0], "actor": key[1], "level": key[2],
                                    "counts": dict(EMPTY_COUNTS)})
        row["counts"][t["verdict"]] += 1
    return {"counts": counts, "rows": [rows[k] for k in sorted(rows)]}


def requirements(tests: list[dict]) -> list[dict]:
    order = ["passed", "skipped", "waived", "advisory", "incomplete", "error", "failed"]
    found: dict[str, dict] = {}
    for t in tests:
        for r in t["requirements"]:
            entry = found.setdefault(r["ref"], {"ref": r["ref"], "level": r["level"], "url": r["url"],
                                                "tests": [], "verdict": "passed"})
            entry["tests"].append(t["id"])
            entry["verdict"] = max(entry["verdict"], t["verdict"], key=order.index)
    return list(found.values())


def results_document(tests: int = 14, exchanges: int = 3, lang: str = "fr") -> dict:
    """A complete results document of ``tests`` tests (verdicts in turn), ``exchanges`` exchanges per test run."""
    day = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    entries = [make_test(n, exchanges, day) for n in range(tests)]
    summary = summarize(entries)
    failed = summary["counts"]["failed"]
    return {
        "format": "pytest-mes-results/1",
        "run": {
            "id": "8c0e5d7a-1b2c-4d3e-9f40-123456789abc", "started": "2026-12-05T17:02:11+00:00",
            "finished": "2026-12-05T17:02:23.300000+00:00", "duration_s": 12.3, "lang": lang,
            "target": {"base_url": BASE, "sandbox": True, "defects": ["missing-total"]},
            "tool": {"name": "pytest-mes", "version": "0.2.0", "python": "3.11.7", "pytest": "9.2.0"},
            "identification": {"publisher": "Éditeur SA", "solution": "Agenda+", "solution_version": "4.2",
                               "convergence_id": "CONV-123"},
            "testsets": [{"id": f"{c}-set", "title": {"fr": f"Jeu {c}", "en": f"{c} set"}, "version": "1.0",
                          "component": c, "actor": a, "path": f"testsets/{c}/set.yaml", "sha256": "ab" * 32,
                          "tests": sum(t["component"] == c for t in entries)} for c, a in COMPONENTS],
            "packages": [{"id": "hl7.fhir.r4.core", "version": "4.0.1", "sha256": "cd" * 32,
                          "source": "../shared/fhir-packages/hl7.fhir.r4.core-4.0.1.tgz"},
                         {"id": "ans.fhir.fr.gap", "version": "3.0.0", "sha256": None, "source": "registry"}],
            "missing_packages": ["ans.fhir.fr.annuaire#1.0.1 (needed by ans.fhir.fr.pdsm#3.1.1)"],
            "validator": {"name": "pytest-mes FHIR R4 validator", "version": "0.2.0", "available": True,
                          "problem": ""},
            "options": {"fail_on": "shall", "strict": False, "ignore_preconditions": False, "allow_writes": True,
                        "redact_patient": False, "components": ["core", "gap", "pdsm"], "waivers": "waivers.yaml",
                        "workers": 1},
            "interrupted": None,
        },
        "verdict": {
            "code": "non-conformant" if failed else "conformant",
            "label": {"fr": "non conforme", "en": "non-conformant"} if failed else
                     {"fr": "conforme", "en": "conformant"},
            "rule": {"fr": "Conforme si aucune exigence SHALL n'échoue et si tout a pu être vérifié.",
                     "en": "Conformant when no SHALL requirement fails and everything could be checked."},
            "reasons": [{"fr": f"{failed} test(s) SHALL non conforme(s)", "en": f"{failed} SHALL test(s) failed"}],
        },
        "summary": summary,
        "requirements": requirements(entries),
        "waivers": [
            {"index": 0, "test": "GAP-T-0010", "message": None, "justification": "Correctif prévu en version 4.3",
             "author": "QA Éditeur", "expires": "2027-01-31", "status": "used", "source": "waivers.yaml:3",
             "matched": [t["id"] for t in entries if t["verdict"] == "waived"]},
            {"index": 1, "test": None, "message": "MS_MISSING.*", "justification": "Élément facultatif",
             "author": "QA Éditeur", "expires": "2026-01-01", "status": "expired", "source": "waivers.yaml:8",
             "matched": []},
        ],
        "tests": entries,
    }
