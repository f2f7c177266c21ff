"""Agreement with the HL7 Java validator on the public FHIR validator test cases.

Run: ``python bench/agreement.py [CASES_DIR] [--packages DIR] [--verbose]`` (default
``../shared/fhir-test-cases`` and ``../shared/fhir-packages``).

The reference ran with the HL7 validator's own environment: the R4 core and its extensions pack
(``hl7.fhir.uv.extensions.r4``, with the terminology package it depends on), which it always loads. The
measure loads them too, from ``--packages`` or the FHIR package cache, else downloads them once (the FHIR
registry, else registry.npmjs.org, which publishes them too; not with ``MES_OFFLINE=1``); it says which it
used, and prints the agreement with the R4 core alone beside it.

Each case of ``manifest.json`` has a ``base`` step (validate the file against its resource type, with
the case's supporting conformance resources loaded, as ``--ig``) and maybe a ``profile`` step (the
same, plus the profile the case supplies, loaded with its own supporting files, and validated
against). For every step it compares our error count (errors and fatal issues) with the reference
validator's and prints, per step kind: verdict agreement (both valid, or both invalid), exact error
count agreement, and crashes (a Python exception, or an internal error of the validator). With
``--verbose``, every disagreement: file, expected and found counts, and our errors.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT))  # after site-packages: an installed (compiled) pytest-mes is the one measured

from pytest_mes.environment import env_flag  # noqa: E402
from pytest_mes.errors import PackageError  # noqa: E402
from pytest_mes.fhir import cache, validator_build  # noqa: E402
from pytest_mes.fhir.commands import _read_resource  # noqa: E402
from pytest_mes.fhir.issues import ValidationResult, make_issue, sort_issues  # noqa: E402
from pytest_mes.fhir.local import with_conformance  # noqa: E402
from pytest_mes.fhir.package import CORE_ID, CORE_VERSION  # noqa: E402
from pytest_mes.fhir.registry import registry_base  # noqa: E402
from pytest_mes.fhir.resolution import Resolver  # noqa: E402
from pytest_mes.fhir.sources import download_package  # noqa: E402
from pytest_mes.fhir.store import PackageStore  # noqa: E402
from pytest_mes.fhir.validator import Validator  # noqa: E402

DEFAULT_CASES = ROOT.parent / "shared" / "fhir-test-cases"
DEFAULT_PACKAGES = ROOT.parent / "shared" / "fhir-packages"
CORE = f"{CORE_ID}#{CORE_VERSION}"
# The HL7 validator's extensions pack for R4 and the terminology package it depends on (6.5.0; the FHIR registry
# has it, registry.npmjs.org only later versions, which stand in for it): (id, the versions to try, in order).
HL7_ENVIRONMENT = (("hl7.fhir.uv.extensions.r4", ("5.3.0-ballot-tc1",)), ("hl7.terminology.r4", ("6.5.0", "7.0.1")))
NPM_REGISTRY = "https://registry.npmjs.org"


# The harness's best-practice levels (its default: Ignore, as no reference outcome says dom-6 without one)
_BEST_PRACTICE = {"ignore": "ignore", "hint": "information", "warning": "warning", "error": "error"}


@dataclass
class Step:
    case: str
    kind: str  # base | profile
    file: str
    expected: int
    found: int | None = None  # None: crashed
    errors: list[str] = field(default_factory=list)

    @property
    def verdict_agrees(self) -> bool:
        return self.found is not None and (self.found > 0) == (self.expected > 0)

    @property
    def exact(self) -> bool:
        return self.found == self.expected


def steps_of(case: dict) -> list[tuple[str, int, list[str], str | None]]:
    """(kind, expected errors, conformance files to load, profile file) of each step of a case."""
    entry = case["manifest_entry"]
    base_files = [*entry.get("supporting", []), *entry.get("profiles", [])]
    profile = entry.get("profile") or {}
    out = []
    for expectation in case["expectations"]:
        counts = expectation["counts"]
        expected = counts.get("error", 0) + counts.get("fatal", 0)
        if expectation["step"] == "profile":
            files = [*base_files, *profile.get("supporting", []), profile["source"]]
            out.append(("profile", expected, files, profile["source"]))
        else:
            out.append(("base", expected, base_files, None))
    return out


def run_step(store: PackageStore, folder: Path, case: dict, kind: str, expected: int, files: list[str],
             profile_file: str | None) -> Step:
    step = Step(case["name"], kind, case["file"], expected)
    try:
        local = with_conformance(store, [folder / f for f in files]) if files else store
        entry = case["manifest_entry"]  # the options the HL7 harness sets for the case, set here too
        bundle_param = entry.get("bundle-param") or {}
        fetching = entry.get("validateReference", "IGNORE") != "IGNORE"  # the harness's reference policy
        validator = Validator(local, security_checks=bool(entry.get("security-checks")),
                              example_urls=entry.get("examples", True) is not False,
                              bundle_rules=[(bundle_param["rule"], bundle_param["profile"])] if bundle_param else (),
                              resolver=harness_fetcher(folder, local) if fetching else None,
                              best_practice=_BEST_PRACTICE[str(entry.get("best-practice", "Ignore")).lower()])
        profiles = []
        if profile_file is not None:
            from pytest_mes.fhir.local import read_resource_file

            profiles.append(read_resource_file(folder / profile_file, local)["url"])
        resource, problem, read_issues = _read_resource(folder / case["file"], local)
        if problem is not None:
            result = ValidationResult([make_issue("fatal", "NOT_JSON", "", why=problem)])
        else:
            result = validator.validate(resource, profiles)
            result = ValidationResult(sort_issues(read_issues + result.issues))
        errors = result.errors
        if any(i.message_id == "INTERNAL_ERROR" for i in errors):
            step.errors = [i.message for i in errors]
            return step
        step.found = len(errors)
        step.errors = [f"{i.expression}: {i.message_id} {i.message}" for i in errors]
    except Exception:  # a crash is a figure of this bench, not its end
        step.errors = traceback.format_exc().strip().splitlines()[-3:]
    return step


def harness_fetcher(folder: Path, store: PackageStore) -> Resolver:
    """A reference's target as the HL7 test harness fetches it: the file of the suite named by the reference
    with "/" as "-", lower-cased, ``.json`` then ``.xml``; else the same for what follows its first "/"
    (``Patient/x`` -> ``patient-x.json``, ``x.json``); ``Patient/test``, an empty Patient."""
    def fetch(ref: str) -> dict | None:
        if ref == "Patient/test":
            return {"resourceType": "Patient"}
        for name in (ref, ref.partition("/")[2]):
            for suffix in (".json", ".xml"):
                path = folder / (name.replace("/", "-").lower() + suffix)
                if name and path.is_file():
                    resource, problem, _ = _read_resource(path, store)
                    return resource if problem is None else None
        return None

    return fetch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", nargs="?", default=str(DEFAULT_CASES), help="folder holding manifest.json")
    parser.add_argument("--packages", default=str(DEFAULT_PACKAGES), help="folder holding hl7.fhir.r4.core")
    parser.add_argument("--verbose", "-v", action="store_true", help="list every disagreement")
    args = parser.parse_args(argv)
    manifest_path = Path(args.cases) / "manifest.json"
    if not manifest_path.is_file():
        print(f"agreement: no {manifest_path}: give the folder of the FHIR validator test cases", file=sys.stderr)
        return 2
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    folder = Path(args.cases) / "validator"
    environment = hl7_environment(Path(args.packages))
    store = PackageStore.load([args.packages], offline=True, packages=[CORE, *environment])
    started = time.perf_counter()
    results = [run_step(store, folder, case, *step) for case in manifest["cases"] for step in steps_of(case)]
    elapsed = time.perf_counter() - started
    print(f"packages: {', '.join(p.key for p in store.packages)}" + ("" if environment else
          " (the HL7 validator's extensions pack could not be had: measured on the R4 core alone)"))
    alone = []
    if environment:
        core = PackageStore.load([args.packages], offline=True, packages=[CORE])
        alone = [run_step(core, folder, case, *step) for case in manifest["cases"] for step in steps_of(case)]
    report(results, elapsed, args.verbose, alone)
    return 0


def hl7_environment(packages: Path) -> list[str]:
    """``id#version`` of the HL7_ENVIRONMENT packages found in `packages` or the FHIR cache, downloaded there
    when missing (unless offline); empty when the extensions pack cannot be had."""
    fhir_cache = cache.fhir_package_cache(None)
    found = []
    for pid, versions in HL7_ENVIRONMENT:
        have = next((v for v in versions if _available(pid, v, packages, fhir_cache)), None)
        if have is None and not env_flag("MES_OFFLINE"):
            have = next((v for v in versions if _download(pid, v, fhir_cache)), None)
        if have is None:
            if not found:  # no extensions pack: the core alone
                why = "MES_OFFLINE=1: not downloaded" if env_flag("MES_OFFLINE") else "not downloadable"
                print(f"{pid}: not in {packages} nor in {fhir_cache}; {why}", file=sys.stderr)
                return []
            continue  # the pack without its terminology package: said in the packages' warnings
        found.append(f"{pid}#{have}")
    return found


def _available(pid: str, version: str, packages: Path, fhir_cache: Path) -> bool:
    return (packages / f"{pid}-{version}.tgz").is_file() or (fhir_cache / f"{pid}#{version}" / "package").is_dir()


def _download(pid: str, version: str, fhir_cache: Path) -> bool:
    for registry in dict.fromkeys((registry_base(), NPM_REGISTRY)):
        try:
            download_package(pid, version, fhir_cache, registry_url=registry, pins={})
            return True
        except (PackageError, OSError) as exc:  # not there, no network, a FHIR cache that cannot be written
            print(f"{pid}#{version}: {exc}", file=sys.stderr)
    return False


def report(results: list[Step], elapsed: float, verbose: bool, core_only: list[Step]) -> None:
    by_kind: dict[str, list[Step]] = defaultdict(list)
    for step in results:
        by_kind[step.kind].append(step)
    print(f"{len(results)} steps in {elapsed:.1f} s (HL7 Java validator = reference; validator: {validator_build()})")
    print(f"{'step':<9} {'n':>4} {'verdict agrees':>15} {'exact errors':>13} {'crashes':>8}")  # share (steps)
    for kind in ("base", "profile"):
        steps = by_kind.get(kind, [])
        if steps:
            print(_row(kind, steps))
    print(_row("all", results))
    if core_only:
        print(_row("core only", core_only) + "   (all steps, without the extensions pack)")
    if verbose:
        print("\ndisagreements (expected errors vs found):")
        for step in results:
            if step.exact:
                continue
            mark = "CRASH" if step.found is None else ("verdict" if not step.verdict_agrees else "count")
            print(f"  [{mark}] {step.kind:<7} {step.case} ({step.file}): expected {step.expected}, found "
                  f"{'crash' if step.found is None else step.found}")
            for line in step.errors:
                print(f"      {line}")


def _row(kind: str, steps: list[Step]) -> str:
    n = len(steps)
    verdict = sum(s.verdict_agrees for s in steps)
    exact = sum(s.exact for s in steps)
    crashes = sum(s.found is None for s in steps)
    return f"{kind:<9} {n:>4} {verdict / n:>7.1%} ({verdict:>3}) {exact / n:>6.1%} ({exact:>3}) {crashes:>8}"


if __name__ == "__main__":
    sys.exit(main())
