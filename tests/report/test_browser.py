"""The acceptance file in a real browser (headless Chromium): what a reviewer must see, the filters, the evidence.

A copy of the report gets a self-check script (allowed by adding its hash to the page's Content-Security-Policy)
that acts as a user would: ticks a verdict, picks a component, types in the search box, opens a failing test and
follows an issue to its exchange. It writes what it saw into the page, which Chromium's --dump-dom returns.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from pathlib import Path

import pytest

from pytest_mes.report import write_html
from tests.report.browser import WHY_ABSENT, chromium_path, dump_dom, focused_copy, screenshot
from tests.report.factory import HOSTILE, results_document

pytestmark = pytest.mark.skipif(chromium_path() is None, reason=WHY_ABSENT)

SELF_CHECK = r"""
(async function () {
  var out = {};
  var wait = function (ms) { return new Promise(function (r) { setTimeout(r, ms); }); };
  var visible = function (n) { return !!n && n.getBoundingClientRect().height > 0; };
  var rows = function () { return Array.from(document.querySelectorAll('#test-list details.test')); };
  var search = document.getElementById('f-search');
  var component = document.getElementById('f-component');
  try {
    var text = function (selector) {
      var node = document.querySelector(selector);
      return visible(node) ? node.innerText : null;
    };
    out.verdict = text('#verdict .big');
    out.summary = text('#summary tbody tr:last-child');
    out.initialRows = rows().length;
    document.querySelector('input[name=verdict][value=failed]').click();
    out.failedVerdicts = rows().map(function (r) { return r.dataset.verdict; });
    out.shown = document.getElementById('shown-count').innerText;
    out.hash = location.hash;
    component.value = 'pdsm';
    component.dispatchEvent(new Event('change'));
    out.pdsmFailed = rows().map(function (r) { return r.dataset.id; });
    search.value = 'pdsm-t-0001';
    search.dispatchEvent(new Event('input'));
    await wait(400);
    out.searched = rows().map(function (r) { return r.dataset.id; });
    var row = rows()[0];
    row.querySelector('summary').click();
    await wait(100);
    out.evidence = visible(row.querySelector('.tbody')) ? row.querySelector('.tbody').innerText : null;
    while (!document.documentElement.hasAttribute('data-bodies-ready')) await wait(50);
    var exchanges = Array.from(row.querySelectorAll('details.exchange'));
    exchanges.forEach(function (x) { x.open = false; });
    row.querySelector('a.to-exchange').click();
    await wait(100);
    var opened = exchanges.filter(function (x) { return x.open; });
    out.opened = opened.map(function (x) { return x.dataset.ex; });
    var body = opened.length ? opened[0].querySelector('pre.body') : null;
    out.body = visible(body) ? body.innerText.slice(0, 300) : null;
    document.querySelector('input[name=verdict][value=failed]').click();
    component.value = '';
    component.dispatchEvent(new Event('change'));
    search.value = 'T-0002';
    search.dispatchEvent(new Event('input'));
    await wait(400);
    var hostile = rows()[0];
    hostile.querySelector('summary').click();
    await wait(100);
    var first = hostile.querySelector('details.exchange');
    first.querySelector('summary').click();
    await wait(100);
    out.hostileTitle = hostile.querySelector('.ttitle').textContent;
    out.hostileBody = first.querySelector('pre.body').textContent;
    search.value = '';
    search.dispatchEvent(new Event('input'));
    await wait(400);
    out.afterReset = document.getElementById('shown-count').innerText;
    document.querySelector('input[name=verdict][value=error]').click();
    document.querySelector('#requirements a[href="#test=GAP-T-0243"]').click();
    await wait(100);
    var linked = rows().filter(function (r) { return r.open; });
    out.linked = [linked.map(function (r) { return r.dataset.id; }), rows().length,
      document.getElementById('shown-count').innerText];
    window.dispatchEvent(new Event('beforeprint'));
    var openIds = function (selector) {
      return Array.from(document.querySelectorAll(selector)).map(function (x) { return x.dataset.ex || x.dataset.id; });
    };
    out.printed = [rows().length, openIds('#test-list details.test[open]').length,
      openIds('#test-list details.exchange[open]')];
    out.images = document.images.length;
    out.scripts = document.scripts.length;
    out.pwned = window.PWNED === undefined ? null : window.PWNED;
  } catch (e) {
    out.error = String(e && e.stack || e);
  }
  var pre = document.createElement('pre');
  pre.id = 'selfcheck';
  pre.textContent = JSON.stringify(out);
  document.body.append(pre);
})();
"""


def with_self_check(page: Path, out: Path) -> Path:
    text = page.read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(SELF_CHECK.encode()).digest()).decode()
    text = text.replace("script-src '", f"script-src 'sha256-{digest}' '", 1)
    out.write_text(text.replace("</body>", f"<script>{SELF_CHECK}</script></body>"), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def doc() -> dict:
    return results_document(tests=250)


@pytest.fixture(scope="module")
def report(doc, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("report") / "mes-report.html"
    write_html(doc, path)
    return path


def test_a_reviewer_sees_the_verdict_summary_and_evidence_and_the_filters_work(doc, report, tmp_path):
    dom = dump_dom(with_self_check(report, tmp_path / "checked.html").as_uri())
    seen = json.loads(html.unescape(re.search(r'<pre id="selfcheck">(.*?)</pre>', dom, re.S).group(1)))
    assert "error" not in seen, seen.get("error")
    counts = doc["summary"]["counts"]
    failed = [t for t in doc["tests"] if t["verdict"] == "failed"]
    assert seen["verdict"] == "NON CONFORME"
    assert seen["summary"].split() == ["Total", *(str(counts[v]) for v in
                                                  ("passed", "failed", "advisory", "incomplete", "skipped", "waived",
                                                   "error")), "250"]
    assert 0 < seen["initialRows"] < 250, "rows are drawn as they scroll into view, not all at once"
    assert seen["failedVerdicts"] == ["failed"] * len(failed)
    assert seen["shown"] == f"{len(failed)} / 250 tests affichés"
    assert seen["hash"] == "#verdict=failed"
    assert seen["pdsmFailed"] == [t["id"] for t in failed if t["component"] == "pdsm"]
    assert seen["searched"] == ["PDSM-T-0001"]
    for evidence in ("non satisfait", "attendu : true", "obtenu : [false]", "[3] slot-12", "BINDING_REQUIRED",
                     "ERREUR Le code 'busy-tentative'", "AVERTISSEMENT Élément Must Support absent",
                     "Bundle.entry[*].resource.status × 180 occurrences", "→ échange PDSM-T-0001/e3",
                     "Source gap-fr-slot#Slot.status", "YAML de l'étape",
                     "44 |           - fhirpath: Bundle.entry.all(…)",
                     "Remarques\nCapabilityStatement: Slot search declared", "Variables (2)"):
        assert evidence in seen["evidence"], evidence
    assert seen["opened"] == ["PDSM-T-0001/e3"]
    assert '"resourceType": "Slot"' in seen["body"]
    # a bidi override from the server is written out, not obeyed (it would show "exe.png" reversed text around it)
    assert seen["hostileTitle"] == f"Titre {HOSTILE}\\u202egnp.exe"
    assert seen["hostileBody"] == f"<html><body>{HOSTILE}\\u202egnp.exe</body></html>"
    assert (seen["images"], seen["scripts"], seen["pwned"]) == (0, 4, None)
    assert seen["afterReset"] == "250 / 250 tests affichés"
    # A test of the requirement matrix, hidden by the filters and beyond the rows drawn so far: the filters are
    # cleared, the list drawn down to it, and it opens.
    assert seen["linked"][0] == ["GAP-T-0243"] and seen["linked"][1] >= 244
    assert seen["linked"][2] == "250 / 250 tests affichés"
    # Printing draws and opens every test, and with it the exchanges of the steps that did not pass; a passed
    # exchange stays one line.
    failed_steps = [f"{t['id']}/e3" for t in doc["tests"] if t["verdict"] in ("failed", "advisory", "waived",
                                                                              "incomplete", "error")]
    assert seen["printed"][:2] == [250, 250]
    assert sorted(seen["printed"][2]) == sorted(failed_steps)


def test_filters_can_be_preset_in_the_address(doc, report):
    dom = dump_dom(report.as_uri() + "#verdict=incomplete,error&level=SHALL&q=%E0%A4%A")  # a mangled search
    expected = [t["id"] for t in doc["tests"] if t["verdict"] in ("incomplete", "error") and t["level"] == "SHALL"]
    assert expected and re.findall(r'<details class="test" data-verdict="[a-z]+" data-id="([^"]+)"', dom) == expected
    assert f'id="shown-count" class="muted">{len(expected)} / 250' in dom


def test_screenshot(report, tmp_path):
    shot = screenshot(focused_copy(report, tmp_path / "focused.html").as_uri() + "#q=PDSM-T-0001&test=PDSM-T-0001",
                      tmp_path / "report.png", window="1200,2600")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000


def test_an_english_run_reads_in_english(tmp_path):
    page = tmp_path / "report-en.html"
    write_html(results_document(tests=20, lang="en"), page)
    dom = dump_dom(page.as_uri() + "#verdict=advisory")
    assert '<p class="big">non-conformant</p>' in dom
    assert 'id="shown-count" class="muted">2 / 20 tests shown<' in dom
    assert re.findall(r'<span class="badge v-advisory">([^<]+)</span>', dom)[0] == "failed (advisory)"
    dom = dump_dom(page.as_uri() + "#test=" + next(t["id"] for t in results_document(tests=20)["tests"]
                                                    if t["verdict"] == "advisory"))
    assert re.findall(r'<span class="sev-[a-z]+">([^<]+)</span>', dom)[:2] == ["ERROR", "WARNING"]
