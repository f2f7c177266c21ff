"""The end-of-run summary in the terminal: overall verdict with its rule, counts per component and level, and
the tests a reader must look at (incomplete, advisory, waived, error), from the results document."""

from __future__ import annotations

from typing import Any

from pytest_mes.fhir.issues import STATED_LIMITS
from pytest_mes.report.labels import did_you_mean, label, lead
from pytest_mes.results import VERDICTS

_RUN_MARKUP = {"conformant": {"green": True, "bold": True}, "non-conformant": {"red": True, "bold": True},
               "incomplete": {"yellow": True, "bold": True}}
_LISTED = ("incomplete", "error", "advisory", "waived")  # failures have pytest's own FAILURES section
LISTED_PER_VERDICT = 20

Line = tuple[str, dict[str, bool]]


def summary_lines(document: dict[str, Any], lang: str = "fr") -> list[Line]:
    verdict = document["verdict"]
    lines: list[Line] = [(f"{lead('overall_verdict', lang)}{verdict['label'][lang].upper()}",
                          _RUN_MARKUP[verdict["code"]])]
    lines += [(f"  - {reason[lang]}", {}) for reason in verdict["reasons"]]
    lines.append((f"{lead('rule', lang)}{verdict['rule'][lang]}", {}))
    lines += [("", {}), *_table(document["summary"], lang)]
    tests = document["tests"]
    for verdict_name in _LISTED:
        chosen = [t for t in tests if t["verdict"] == verdict_name]
        if not chosen:
            continue
        lines += [("", {}), (f"{label(verdict_name, lang)} ({len(chosen)}):", {"bold": True})]
        for test in chosen[:LISTED_PER_VERDICT]:
            reason = test["reason"] or ""
            if test.get("waiver"):
                reason = f"{test['waiver']['justification']} ({test['waiver']['author']}, {test['waiver']['source']})"
            lines.append((f"  {test['id']}: {reason}", {}))
        if len(chosen) > LISTED_PER_VERDICT:
            lines.append((f"  … {len(chosen) - LISTED_PER_VERDICT} {label('more', lang)}", {}))
    lines += _stated_limits(tests, lang)
    problems = [w for w in document["waivers"] if w["status"] != "used"]
    if problems:
        lines += [("", {}), (f"{label('waivers', lang)}:", {"bold": True})]
        lines += [(f"  {w['source']} ({label('waiver.' + w['status'], lang)}, {w['expires']}): "
                   f"{w['test'] or w['message']}{did_you_mean(w.get('suggestion'), lang)}", {"yellow": True})
                  for w in problems]
    return lines


def _stated_limits(tests: list[dict[str, Any]], lang: str) -> list[Line]:
    """The codes left "not checked" by a stated limit, with the tests where it happened: they do not change
    the verdict, but must never read as checked."""
    found = {t["id"]: sum(i["count"] for step in t["steps"] for check in step["checks"] for i in check["issues"]
                          if i["message_id"] in STATED_LIMITS) for t in tests}
    found = {tid: n for tid, n in found.items() if n}
    if not found:
        return []
    shown = ", ".join(list(found)[:LISTED_PER_VERDICT])
    more = f" … {len(found) - LISTED_PER_VERDICT} {label('more', lang)}" if len(found) > LISTED_PER_VERDICT else ""
    count = label("stated_limits.count", lang).format(codes=sum(found.values()), tests=len(found))
    return [("", {}), (f"{label('stated_limits', lang)} ({count}):", {"bold": True}),
            (f"  {shown}{more}", {})]


def _table(summary: dict[str, Any], lang: str) -> list[Line]:
    """Counts per component, actor and level; columns only for verdicts that occur."""
    shown = [v for v in VERDICTS if summary["counts"][v]] or ["passed"]
    header = [*(label(key, lang) for key in ("component", "actor", "level")), *(label(v, lang) for v in shown)]
    rows = [[r["component"] or "-", r["actor"] or "-", r["level"] or "-", *(str(r["counts"][v]) for v in shown)]
            for r in summary["rows"]]
    rows.append([label("total", lang), "", "", *(str(summary["counts"][v]) for v in shown)])
    widths = [max(len(row[n]) for row in [header, *rows]) for n in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(cell.ljust(width) if n < 3 else cell.rjust(width)
                         for n, (cell, width) in enumerate(zip(cells, widths, strict=True))).rstrip()

    return [(line(header), {"bold": True}), *((line(row), {}) for row in rows)]
