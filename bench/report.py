"""Benchmark of the HTML acceptance file (run: ``python bench/report.py [TESTS]``, default 1,000 tests).

Measured in one run, on a synthetic results document of TESTS tests with 3 exchanges each (bodies shaped like the
reference sandbox's answers: an 8-entry searchset Bundle, a read, a create):

* generation: ``write_html`` (render + atomic write), median of 3; baseline: ``write_json`` of the same document;
* file size, against the JSON results document's;
* load in headless Chromium, median of 3, each in a fresh browser:
  - list drawn: the page's own ``performance.now()`` when its script has drawn the first rows and the filters
    (``data-ready``, from navigation start), real time;
  - bodies decoded: ``data-bodies-ready``, when the background decompression of the exchange bodies has finished
    (measured in a run with ``--virtual-time-budget``, which lets the page finish its asynchronous work; timers
    are skipped, script time is real);
  - wall time of ``chromium --screenshot`` on the report minus the same on an empty page (the baseline);
Targets: generation < 2 s, file < 10 MB, load (list drawn) < 2 s.

Then the same figures (one run each) for a stress case: every test's first response a 56-entry searchset cut at
the 64 KiB recording cap (about 70 MB of bodies).
"""

from __future__ import annotations

import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pytest_mes.report import write_html, write_json  # noqa: E402
from tests.report.browser import WHY_ABSENT, chromium_path, dump_dom, run_chromium  # noqa: E402
from tests.report.factory import bundle, pretty, results_document  # noqa: E402

RUNS = 3


def median_time(action) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def marker(dom: str, name: str) -> float | None:
    found = re.search(rf'{name}="([\d.]+)"', dom)
    return float(found.group(1)) if found else None


def screenshot_wall(url: str, out: Path) -> float:
    return median_time(lambda: run_chromium(["--window-size=1280,900", f"--screenshot={out}", url]))


def at_cap(doc: dict, cap: int = 65536) -> dict:
    """Every test's first response body replaced by a large searchset cut at the recording cap."""
    day = datetime(2026, 12, 7, tzinfo=UTC)
    for test in doc["tests"]:
        for exchange in test["exchanges"][:1]:
            text = pretty(bundle(test["index"] * 100, 56, day))
            exchange.update(response_body=text[:cap], response_size=len(text.encode()), body_truncated=True)
    return doc


def verdict(value: float, target: float) -> str:
    return "ok" if value < target else "OVER TARGET"


def main() -> None:
    tests = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    doc = results_document(tests=tests, exchanges=3)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        page, data = folder / "mes-report.html", folder / "results.json"
        html_s = median_time(lambda: write_html(doc, page))
        json_s = median_time(lambda: write_json(doc, data))
        html_mb, json_mb = page.stat().st_size / 1e6, data.stat().st_size / 1e6
        exchanges = sum(len(t["exchanges"]) for t in doc["tests"])
        print(f"document: {tests} tests, {exchanges} exchanges (3 per test that ran)")
        print(f"generation: {html_s:.3f} s (target < 2 s: {verdict(html_s, 2)}); "
              f"baseline write_json {json_s:.3f} s; ratio {html_s / json_s:.2f}")
        print(f"file: {html_mb:.2f} MB (target < 10 MB: {verdict(html_mb, 10)}); "
              f"JSON results {json_mb:.2f} MB; ratio {html_mb / json_mb:.2f}")
        if chromium_path() is None:
            print(f"load: not measured — {WHY_ABSENT}")
            return
        empty = folder / "empty.html"
        empty.write_text("<!DOCTYPE html><html><body></body></html>", encoding="utf-8")
        drawn = statistics.median(marker(run_chromium(["--dump-dom", page.as_uri()]), "data-ready")
                                  for _ in range(RUNS))
        decoded = statistics.median(marker(dump_dom(page.as_uri()), "data-bodies-ready") for _ in range(RUNS))
        report_wall = screenshot_wall(page.as_uri(), folder / "shot.png")
        empty_wall = screenshot_wall(empty.as_uri(), folder / "shot.png")
        print(f"load, list drawn (page's performance.now at its ready marker): {drawn / 1000:.3f} s "
              f"(target < 2 s: {verdict(drawn / 1000, 2)})")
        print(f"load, exchange bodies decoded in the background: {decoded / 1000:.3f} s")
        print(f"load, chromium --screenshot wall time: report {report_wall:.3f} s, empty page (baseline) "
              f"{empty_wall:.3f} s, difference {report_wall - empty_wall:.3f} s")
        stress = at_cap(doc)
        start = time.perf_counter()
        write_html(stress, page)
        stress_s = time.perf_counter() - start
        stress_drawn = marker(run_chromium(["--dump-dom", page.as_uri()]), "data-ready")
        stress_decoded = marker(dump_dom(page.as_uri()), "data-bodies-ready")
        print(f"stress, a 64 KiB body per test: generation {stress_s:.3f} s, file {page.stat().st_size / 1e6:.2f} MB, "
              f"list drawn {stress_drawn / 1000:.3f} s, bodies decoded {stress_decoded / 1000:.3f} s")


if __name__ == "__main__":
    main()
