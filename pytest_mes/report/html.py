"""The HTML acceptance file: one self-contained page (inline CSS and JS, no network) rendered from a results document.

The small parts a reviewer reads first (identification, run, verdict, summary, requirement matrix, waivers) are
written here as HTML. The tests travel as JSON in a ``<script type="application/json">`` and the page's script draws
the list rows as they scroll into view and a test's details when it is opened, so 1,000 tests open at once. The
exchange bodies, the bulk of the file, are gzip-compressed and base64-encoded in one block the page decompresses
in the background. Every string comes from servers under test: it is HTML-escaped here, JSON-escaped so that it
cannot close the script element, and set as text (never as markup) by the script.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from functools import cache
from html import escape
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pytest_mes.printable import bidi_written_out
from pytest_mes.report.files import write_atomic
from pytest_mes.report.labels import did_you_mean, document_title, label, labels, lead, pick, run_lang
from pytest_mes.report.masking import mask_credentials
from pytest_mes.results import VERDICTS

COMPRESSION = 3  # gzip level: 70 MB of bodies in 0.4 s (level 6: 0.9 s for a third less)


@cache
def _asset(name: str) -> str:
    return files("pytest_mes.report").joinpath(name).read_text(encoding="utf-8")


@cache
def _script_hash() -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(_asset("report.js").encode("utf-8")).digest()).decode()


def h(value: Any) -> str:
    return escape(bidi_written_out("" if value is None else str(value)), quote=True)


def safe_url(url: Any) -> str | None:
    """Only http(s) links are made clickable: a ``javascript:`` URL from a test set must stay text."""
    return url if isinstance(url, str) and url.lower().startswith(("https://", "http://")) else None


def link(text: Any, url: Any) -> str:
    href = safe_url(url)
    return f'<a href="{h(href)}" rel="noreferrer">{h(text)}</a>' if href else h(text)


def script_json(value: Any) -> str:
    """JSON that can sit inside a script element: ``<``, ``>`` and ``&`` written as JSON escapes."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_html(results: dict) -> str:
    lang = run_lang(results)
    run = results.get("run") or {}
    data, bodies = _page_data(results, lang)
    title = document_title(results, lang)
    return "".join([
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # No network at all, and only the page's own script runs (by hash): injected markup could not execute.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        f"img-src data:; script-src '{_script_hash()}'\">",
        f"<title>{h(title)}</title><style>{_asset('report.css')}</style></head><body>",
        f'<header><h1>{h(title)}</h1><p class="muted">{h(label("generated_by", lang))} '
        f'{h((run.get("tool") or {}).get("name", "pytest-mes"))} {h((run.get("tool") or {}).get("version", ""))}'
        f" · {h(run.get('id'))}</p></header><main>",
        _verdict(results, lang),
        _identification(run.get("identification") or {}, lang),
        _run(run, lang),
        _summary(results.get("summary") or {}, lang),
        _requirements(results.get("requirements") or [], lang),
        _coverage(results.get("coverage"), lang),
        _waivers(results.get("waivers") or [], lang),
        _tests_shell(lang),
        "</main>",
        f'<script type="application/json" id="mes-data">{script_json(data)}</script>',
        f'<script type="application/gzip-base64" id="mes-bodies">{bodies}</script>',
        f"<script>{_asset('report.js')}</script></body></html>\n",
    ])


def write_html(results: dict, path: str | Path) -> None:
    write_atomic(path, render_html(results))


# --- the parts written as HTML ---------------------------------------------------------------------------------

def _table(head: list[str], rows: list[list[str]], cls: str = "") -> str:
    """A table of already-escaped cells."""
    thead = "".join(f"<th>{c}</th>" for c in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{thead}</tr></thead><tbody>{body}</tbody></table>'


def _definitions(pairs: list[tuple[str, str]]) -> str:
    """A definition list of (label, escaped value) pairs."""
    return "<dl>" + "".join(f"<dt>{h(k)}</dt><dd>{v}</dd>" for k, v in pairs) + "</dl>"


def _badge(verdict: str, lang: str) -> str:
    text = label(verdict, lang) if verdict in VERDICTS else verdict
    return f'<span class="badge v-{h(verdict)}">{h(text)}</span>'


def _verdict(results: dict, lang: str) -> str:
    verdict = results.get("verdict") or {}
    code = verdict.get("code", "incomplete")
    counts = (results.get("summary") or {}).get("counts") or {}
    interrupted = (results.get("run") or {}).get("interrupted")
    reasons = "".join(f"<li>{h(pick(r, lang))}</li>" for r in verdict.get("reasons") or [])
    count_line = " · ".join(f"{_badge(v, lang)} {int(counts.get(v, 0))}" for v in VERDICTS if counts.get(v))
    return (
        f'<section id="verdict" class="verdict c-{h(code)}"><h2>{h(label("overall_verdict", lang))}</h2>'
        f'<p class="big">{h(pick(verdict.get("label") or code, lang))}</p>'
        + (f'<p class="alert"><strong>{h(lead("interrupted", lang))}</strong>{h(interrupted)}</p>'
           if interrupted else "")
        + f'<p><strong>{h(lead("rule", lang))}</strong>{h(pick(verdict.get("rule"), lang))}</p>'
        + (f'<p><strong>{h(label("reasons", lang))}</strong></p><ul>{reasons}</ul>' if reasons else "")
        + f'<p class="counts">{count_line}</p></section>'
    )


def _identification(identification: dict, lang: str) -> str:
    def value(key: str) -> str:
        given = identification.get(key)
        return h(given) if given else f'<span class="muted">{h(label("not_given", lang))}</span>'

    keys = ("publisher", "solution", "solution_version", "convergence_id")
    return (f'<section id="identification"><h2>{h(label("identification", lang))}</h2>'
            f"{_definitions([(label(k, lang), value(k)) for k in keys])}</section>")


def _run(run: dict, lang: str) -> str:
    target = run.get("target") or {}
    tool = run.get("tool") or {}
    validator = run.get("validator") or {}
    base_url = h(target.get("base_url"))
    if target.get("sandbox"):
        base_url += f' <span class="muted">({h(label("sandbox", lang))})</span>'
    if target.get("defects"):
        base_url += f' — {h(lead("defects", lang))}{h(", ".join(target["defects"]))}'
    validator_text = f'{h(validator.get("name"))} {h(validator.get("version"))}'
    if validator.get("build"):  # which build judged (same verdicts; see hatch_build.py)
        validator_text += f' ({h(label("build." + validator["build"], lang))})'
    if validator and not validator.get("available", True):
        validator_text += f' — <strong>{h(lead("unavailable", lang))}</strong>{h(validator.get("problem"))}'
    pairs = [
        (label("run_id", lang), f"<code>{h(run.get('id'))}</code>"),
        (label("started", lang), h(run.get("started"))),
        (label("finished", lang), h(run.get("finished"))),
        (label("duration", lang), h(_duration(run.get("duration_s")))),
        (label("base_url", lang), base_url),
        (label("tool", lang), h(" ".join(str(v) for v in (tool.get("name"), tool.get("version")) if v)
                                + (f" (Python {tool['python']}, pytest {tool.get('pytest', '?')})"
                                   if tool.get("python") else ""))),
        (label("validator", lang), validator_text),
    ]
    testsets = _table(
        [h(label(k, lang)) for k in ("id", "version", "title_col", "component", "actor", "tests", "file")]
        + ["SHA-256"],
        [[f"<code>{h(s.get('id'))}</code>", h(s.get("version") or "—"), h(pick(s.get("title"), lang)),
          h(s.get("component")), h(s.get("actor")), h(s.get("tests")), h(s.get("path")),
          f'<code class="hash">{h(s.get("sha256"))}</code>'] for s in run.get("testsets") or []])
    packages = _table(
        [h(label("id", lang)), h(label("version", lang)), "SHA-256", h(label("source", lang))],
        [[f"<code>{h(p.get('id'))}</code>", h(p.get("version")),
          f'<code class="hash">{h(p.get("sha256") or "—")}</code>', h(p.get("source"))]
         for p in run.get("packages") or []])
    missing = run.get("missing_packages") or []
    missing_html = (f'<p class="alert"><strong>{h(lead("missing_packages", lang))}</strong>'
                    f'{h(label("semicolon", lang).join(missing))}</p>' if missing else "")
    return (f'<section id="run"><h2>{h(label("run", lang))}</h2>{_definitions(pairs)}'
            f'<h3>{h(label("testsets", lang))}</h3>{testsets}'
            f'<h3>{h(label("packages", lang))}</h3>{packages}{missing_html}'
            f'<h3>{h(label("options", lang))}</h3>{_options(run.get("options") or {}, lang)}</section>')


def _options(options: dict, lang: str) -> str:
    def yes_no(key: str) -> str:
        return h(label("yes" if options.get(key) else "no", lang))

    fail_on = options.get("fail_on") or "shall"
    pairs = [
        (label("fail_on", lang), h(label(f"fail_on.{fail_on}", lang) if fail_on in ("shall", "should") else fail_on)),
        (label("strict", lang), yes_no("strict")),
        (label("ignore_preconditions", lang), yes_no("ignore_preconditions")),
        (label("waivers_file", lang), h(options.get("waivers") or label("none", lang))),
        (label("components", lang), h(", ".join(options.get("components") or []) or label("all", lang))),
        (label("workers", lang), h(options.get("workers", 1))),
    ]
    return _definitions(pairs)


def _summary(summary: dict, lang: str) -> str:
    head = [h(label(k, lang)) for k in ("component", "actor", "level")] + [_badge(v, lang) for v in VERDICTS]
    head.append(h(label("total", lang)))

    def cells(counts: dict) -> list[str]:
        numbers = [int(counts.get(v, 0)) for v in VERDICTS]
        return [f'<span class="{"zero" if n == 0 else "n"}">{n}</span>' for n in numbers] + [str(sum(numbers))]

    rows = [[h(r.get("component")), h(r.get("actor")), h(r.get("level")), *cells(r.get("counts") or {})]
            for r in summary.get("rows") or []]
    rows.append([f"<strong>{h(label('total', lang))}</strong>", "", "", *cells(summary.get("counts") or {})])
    return f'<section id="summary"><h2>{h(label("summary", lang))}</h2>{_table(head, rows, "numbers")}</section>'


def _test_link(test_id: str) -> str:
    return f'<a href="#test={h(quote(test_id, safe=""))}">{h(test_id)}</a>'


def _requirements(requirements: list[dict], lang: str) -> str:
    if not requirements:
        body = f'<p class="muted">{h(label("no_requirements", lang))}</p>'
    else:
        body = _table(
            [h(label(k, lang)) for k in ("requirement", "level", "tests", "verdict")],
            [[link(r.get("ref"), r.get("url")), h(r.get("level")),
              " ".join(_test_link(t) for t in r.get("tests") or []), _badge(r.get("verdict", ""), lang)]
             for r in requirements])
    return f'<section id="requirements"><h2>{h(label("requirements", lang))}</h2>{body}</section>'


def _coverage(coverage: dict | None, lang: str) -> str:
    """Each server item and flow of the IGs -> the tests that cover it and their verdict in this run."""
    if not coverage:
        return ""
    rows = [[h(r.get("actor")), link(r.get("label") or f"{r.get('id')} — {r.get('title') or ''}", r.get("url")),
             " ".join(_test_link(t) for t in r.get("tests") or []),
             _badge(r["verdict"], lang) if r.get("verdict") != "not_run" else h(label("not_run", lang))]
            for r in [*coverage.get("items", []), *coverage.get("flows", [])]]
    head = [h(label(k, lang)) for k in ("actor", "coverage_item", "tests", "verdict")]
    return f'<section id="coverage"><h2>{h(label("coverage", lang))}</h2>{_table(head, rows)}</section>'


def _waivers(waivers: list[dict], lang: str) -> str:
    if not waivers:
        body = f'<p class="muted">{h(label("no_waivers", lang))}</p>'
    else:
        rows = []
        for w in waivers:
            status = w.get("status", "")
            target = _test_link(w["test"]) if w.get("test") else f"<code>{h(w.get('message'))}</code>"
            rows.append([target, h(w.get("justification")), h(w.get("author")), h(w.get("expires")),
                         f'<span class="w-{h(status)}">{h(label(f"waiver.{status}", lang) if status else "")}'
                         f'{h(did_you_mean(w.get("suggestion"), lang))}</span>',
                         " ".join(_test_link(t) for t in w.get("matched") or []), h(w.get("source"))])
        body = _table([h(label(k, lang)) for k in ("target", "justification", "author", "expires", "status",
                                                   "matched", "source")], rows)
    return f'<section id="waivers"><h2>{h(label("waivers", lang))}</h2>{body}</section>'


def _tests_shell(lang: str) -> str:
    """The filter bar and the empty list the script fills."""
    chips = "".join(f'<label class="chip"><input type="checkbox" name="verdict" value="{v}"> {_badge(v, lang)} '
                    f'<span class="chip-count" data-count="{v}"></span></label>' for v in VERDICTS)
    return (
        f'<section id="tests"><h2>{h(label("tests", lang))}</h2>'
        f'<div class="filters" role="search"><div class="chips">{chips}</div>'
        f'<label>{h(label("component", lang))} <select id="f-component"></select></label>'
        f'<label>{h(label("level", lang))} <select id="f-level"></select></label>'
        f'<input id="f-search" type="search" placeholder="{h(label("search", lang))}" '
        f'aria-label="{h(label("search", lang))}">'
        f'<button id="expand-all" type="button">{h(label("expand_all", lang))}</button>'
        f'<span id="shown-count" class="muted"></span></div>'
        f'<noscript><p class="alert">{h(label("no_js", lang))}</p></noscript>'
        f'<div id="test-list"></div><div id="sentinel"></div></section>'
    )


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "—"
    minutes, rest = divmod(float(seconds), 60)
    return f"{int(minutes)} min {rest:04.1f} s" if minutes else f"{rest:.1f} s"


# --- the data the script renders ------------------------------------------------------------------------------

def _page_data(results: dict, lang: str) -> tuple[dict, str]:
    """The tests as the script needs them (texts in ``lang``), and the bodies: their UTF-8 bytes end to end,
    gzip-compressed, in base64 (their lengths go with the tests), so that no body is JSON-encoded or parsed."""
    bodies: list[bytes] = []

    def body_ref(text: Any) -> int | None:
        if text is None or text == "":
            return None
        bodies.append(str(text).encode("utf-8", "replace"))
        return len(bodies) - 1

    def in_lang(test: dict) -> dict:
        """The test with its texts in ``lang`` and its bodies replaced by their index in ``bodies``."""
        exchanges = [{**e, "request_body": body_ref(e.get("request_body")),
                      "response_body": body_ref(e.get("response_body"))} for e in test.get("exchanges") or []]
        requirements = [{**r, "text": pick(r.get("text"), lang) or None} for r in test.get("requirements") or []]
        waiver = test.get("waiver")
        if isinstance(waiver, dict):
            waiver = {**waiver, "justification": pick(waiver.get("justification"), lang)}
        return {**test, "title": pick(test.get("title"), lang), "requirements": requirements, "waiver": waiver,
                "exchanges": exchanges}

    tests = [in_lang(t) for t in mask_credentials(results)["tests"]]
    packed = gzip.compress(b"".join(bodies), compresslevel=COMPRESSION, mtime=0)
    data = {"lang": lang, "labels": labels(lang), "verdicts": list(VERDICTS), "tests": tests,
            "body_lengths": [len(b) for b in bodies]}
    return data, base64.b64encode(packed).decode("ascii")
