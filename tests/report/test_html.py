"""The HTML acceptance file, read back as HTML: content, languages, escaping of what servers send, embedded data."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
from html.parser import HTMLParser

from pytest_mes.report import render_html, write_html
from tests.report.factory import HOSTILE, results_document


class Page(HTMLParser):
    """The page's elements: script contents by id, tags seen, the text, and every href."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.scripts: dict[str, str] = {}
        self.tags: list[str] = []
        self.hrefs: list[str] = []
        self.text: list[str] = []
        self.csp = ""
        self._script: str | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append(tag)
        if tag == "script":
            self._script = attributes.get("id") or "code"
            self.scripts[self._script] = ""
        if "href" in attributes:
            self.hrefs.append(attributes["href"])
        if attributes.get("http-equiv") == "Content-Security-Policy":
            self.csp = attributes["content"]

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None

    def handle_data(self, data):
        if self._script:
            self.scripts[self._script] += data
        else:
            self.text.append(data)

    @property
    def visible(self) -> str:
        return " ".join(" ".join(self.text).split())


def data_of(page: Page) -> dict:
    return json.loads(page.scripts["mes-data"])


def bodies_of(page: Page) -> list[str]:
    """The exchange bodies: one gzip block of their UTF-8 bytes, cut by the lengths in the page's data."""
    blob, at, bodies = gzip.decompress(base64.b64decode(page.scripts["mes-bodies"])), 0, []
    for length in data_of(page)["body_lengths"]:
        bodies.append(blob[at:at + length].decode("utf-8"))
        at += length
    assert at == len(blob)
    return bodies


def test_the_parts_a_reviewer_reads_first_are_in_the_page():
    doc = results_document()
    page = Page(render_html(doc))
    text = page.visible
    for expected in ("Éditeur SA", "Agenda+", "CONV-123", doc["run"]["id"], "http://127.0.0.1:4711/fhir",
                     "missing-total", "hl7.fhir.r4.core", "cd" * 32, "ab" * 32, "waivers.yaml",
                     "Verdict global", "non conforme", "2 test(s) SHALL non conforme(s)",
                     "Conforme si aucune exigence SHALL", "Matrice des exigences", "PDSM — flux 2",
                     "ans.fhir.fr.annuaire#1.0.1", "expirée (ne s'applique plus)", "Correctif prévu en version 4.3"):
        assert expected in text, expected
    assert "https://interop.esante.gouv.fr/ig/fhir/pdsm/flux.html#f2" in page.hrefs
    assert "#test=PDSM-T-0001" in page.hrefs  # the matrix links each test to its details


def test_summary_rows_carry_the_counts_of_the_document():
    doc = results_document(tests=24)
    html = render_html(doc)
    total_row = re.search(r"<tr><td><strong>Total</strong></td>.*?</tr>", html).group(0)
    numbers = [int(n) for n in re.findall(r">(\d+)<", total_row)]
    counts = doc["summary"]["counts"]
    order = ["passed", "failed", "advisory", "incomplete", "skipped", "waived", "error"]
    assert numbers == [counts[v] for v in order] + [len(doc["tests"])]


def test_the_title_names_the_solution_and_its_version():
    doc = results_document()
    doc["run"]["identification"]["solution_version"] = 4.2  # a number from an ini file, say
    assert "<title>Cahier de recette — Agenda+ — 4.2</title>" in render_html(doc)
    doc["run"]["identification"].update(solution=None, solution_version=None)
    assert "<title>Cahier de recette</title>" in render_html(doc)


def test_english_when_the_run_is_in_english():
    doc = results_document(lang="en")
    page = Page(render_html(doc))
    text = page.visible
    assert "Overall verdict" in text and "non-conformant" in text and "Requirement matrix" in text
    assert "Verdict global" not in text and "Matrice des exigences" not in text
    # No French space before a colon in English, in the page or in what its script writes.
    assert f"Rule: {doc['verdict']['rule']['en'][:30]}" in text and "Rule :" not in text
    data = data_of(page)
    assert data["labels"]["advisory"] == "failed (advisory)"
    assert data["labels"]["colon"] == ": " and "' : '" not in page.scripts["code"]
    assert data["tests"][0]["title"] == "Free slot search #0"


def test_french_is_the_fallback_of_a_missing_english_text():
    doc = results_document(lang="en")
    doc["tests"][0]["title"] = {"fr": "Seulement en français", "en": None}
    assert data_of(Page(render_html(doc)))["tests"][0]["title"] == "Seulement en français"


def test_what_a_server_sends_cannot_break_out_of_the_page():
    doc = results_document()
    doc["run"]["identification"]["publisher"] = HOSTILE
    doc["tests"][1]["steps"][-1]["checks"][-1]["issues"][0]["message"] = HOSTILE
    doc["waivers"][0]["justification"] = HOSTILE
    html = render_html(doc)
    page = Page(html)
    assert HOSTILE not in html
    assert page.tags.count("script") == 3, "only the page's own three script elements"
    assert "img" not in page.tags
    assert HOSTILE in page.visible  # shown, as text
    data = data_of(page)  # the JSON block is intact and holds the hostile strings as data
    assert data["tests"][2]["title"].endswith(f"{HOSTILE}\u202egnp.exe")  # the data as it came…
    assert data["tests"][2]["exchanges"][0]["url"].endswith(HOSTILE)
    assert (bodies_of(page)[data["tests"][2]["exchanges"][0]["response_body"]]
            == f"<html><body>{HOSTILE}\u202egnp.exe</body></html>")


def test_a_bidi_override_is_written_out_not_obeyed():
    """…but what the page shows never holds a bidi override (U+202E would show "exe.png" for "gnp.exe" and reorder
    the evidence around it): written out, as the terminal writes it (report.js does the same for what it renders)."""
    doc = results_document()
    doc["run"]["identification"]["publisher"] = "Éditeur \u202egnp.exe"
    page = Page(render_html(doc))
    assert "Éditeur \\u202egnp.exe" in page.visible and "\u202e" not in page.visible


def test_only_web_links_are_clickable():
    doc = results_document()
    doc["requirements"][0]["url"] = "javascript:alert(1)"
    html = render_html(doc)
    assert "javascript:" not in html
    assert "GAP — flux 1" in Page(html).visible  # the requirement is still named, without its link


def test_only_the_page_script_may_run():
    page = Page(render_html(results_document()))
    digest = base64.b64encode(hashlib.sha256(page.scripts["code"].encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in page.csp and "default-src 'none'" in page.csp


def test_every_body_travels_compressed_and_exact():
    doc = results_document()
    page = Page(render_html(doc))
    data, bodies = data_of(page), bodies_of(page)
    for original, embedded in zip(doc["tests"], data["tests"], strict=True):
        for sent, kept in zip(original["exchanges"], embedded["exchanges"], strict=True):
            assert bodies[kept["response_body"]] == sent["response_body"]
            assert (bodies[kept["request_body"]] if kept["request_body"] is not None else None) == sent["request_body"]
            assert kept["url"] == sent["url"] and kept["status"] == sent["status"]
    assert data["tests"][1]["steps"][-1]["checks"][-1]["issues"][0]["count"] == 180


def test_a_minimal_document_renders():
    doc = {"format": "pytest-mes-results/1", "run": {"id": "r1", "lang": "en"},
           "verdict": {"code": "incomplete", "label": {"fr": "incomplet", "en": "incomplete"}, "rule": "",
                       "reasons": []},
           "summary": {"counts": {}, "rows": []}, "tests": []}
    text = Page(render_html(doc)).visible
    assert "incomplete" in text and "No requirement referenced." in text and "not given" in text


def test_an_interrupted_run_says_why():
    doc = results_document()
    doc["run"]["interrupted"] = why = "Interrompu par l'utilisateur (Ctrl-C) après 12 tests"
    assert f"Exécution interrompue : {why}" in Page(render_html(doc)).visible
    doc["run"]["lang"] = "en"
    assert f"Run interrupted: {why}" in Page(render_html(doc)).visible


def test_write_html_writes_the_rendered_page(tmp_path):
    doc = results_document()
    target = tmp_path / "out" / "mes-report.html"
    write_html(doc, target)
    assert target.read_text(encoding="utf-8") == render_html(doc)
    assert [p.name for p in target.parent.iterdir()] == ["mes-report.html"]
