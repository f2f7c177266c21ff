"""Terminal rendering of a test record: every failed check, the YAML source, the request and the response."""

from __future__ import annotations

from pytest_mes.report.labels import label
from pytest_mes.results import CheckRecord, ExchangeRecord, IssueGroup, StepRecord, TestRecord

BODY_EXCERPT = 1500  # characters of a body shown in the terminal (the reports keep more)
GROUPS_SHOWN = 50  # groups of validator issues listed under a failed conforms_to check

# The words around the evidence, in the run's language (--mes-lang). What checks and servers say stays as said.
WORDS = {
    "fr": {"requirement": "Exigence", "verdict": "Verdict", "step_of": "Étape {n} sur {total}",
           "phase_step": "Étape {n} ({phase})", "failed": "en échec", "line": "ligne", "expected": "attendu",
           "got": "obtenu", "because": "car", "passed_other": "({n} autre(s) vérification(s) réussie(s))",
           "source": "Source", "request": "Requête", "response": "Réponse", "none_after": "aucune après {ms} ms",
           "redirected": "Redirigé", "in": "en", "more_groups": "… et {n} autres sortes de problème (toutes dans "
           "les rapports)", "cleanup_failed": "nettoyage en échec (des données peuvent rester sur le serveur) :",
           "not_made": "Vérifications non faites :", "more_chars": "{n} caractères de plus",
           "bytes_in_all": "{n} octets en tout"},
    "en": {"requirement": "Requirement", "verdict": "Verdict", "step_of": "Step {n} of {total}",
           "phase_step": "{phase} step {n}", "failed": "failed", "line": "line", "expected": "expected",
           "got": "got", "because": "because", "passed_other": "({n} other check(s) passed)", "source": "Source",
           "request": "Request", "response": "Response", "none_after": "none after {ms} ms",
           "redirected": "Redirected", "in": "in", "more_groups": "… and {n} more kinds of issue (all in the "
           "reports)", "cleanup_failed": "cleanup failed (data may be left on the server):",
           "not_made": "Checks not made:", "more_chars": "{n} more characters", "bytes_in_all": "{n} bytes in all"},
}


def explain_test(record: TestRecord, *, total: int, lang: str = "fr") -> str:
    """What a reader needs to see about a test that did not pass: its failed step, in full."""
    words = WORDS.get(lang, WORDS["fr"])
    lines = [f"{record.id} — {record.title_in(lang)}"]
    lines += [f"{words['requirement']}: {r.ref} ({r.level})" + (f" — {r.text}" if r.text else "")
              for r in record.requirements]
    lines.append(f"{words['verdict']}: {label(record.verdict, lang)} — {record.reason}")
    exchanges = {e.id: e for e in record.exchanges}
    shown = [s for s in record.steps if s.outcome in ("failed", "error") and s.phase != "cleanup"]
    for step in shown[:1]:
        lines += explain_step(step, exchanges.get(step.exchange or ""), file=record.file, total=total, lang=lang)
    cleanup = next((s for s in record.steps if s.phase == "cleanup" and s.outcome in ("failed", "error")), None)
    if cleanup is not None:
        lines += ["", words["cleanup_failed"]]
        lines += explain_step(cleanup, exchanges.get(cleanup.exchange or ""), file=record.file, lang=lang)
    unmade = [c for s in record.steps for c in s.checks if c.outcome == "not_checked"]
    if unmade and not shown:
        lines.append(words["not_made"])
        lines += [f"  ? {c.label}: {c.actual}" for c in unmade]
    if record.variables and shown:
        lines.append("Variables: " + ", ".join(f"{name}={value}" for name, value in record.variables.items()))
    return "\n".join(lines)


def explain_step(step: StepRecord, exchange: ExchangeRecord | None, *, file: str | None, total: int = 0,
                 lang: str = "fr") -> list[str]:
    words = WORDS.get(lang, WORDS["fr"])
    where = f"{file}:{step.line}" if step.line else (file or "")
    position = (words["step_of"].format(n=step.index + 1, total=total) if total
                else words["phase_step"].format(n=step.index + 1, phase=step.phase))
    lines = [f"{position[:1].upper()}{position[1:]} \"{step.name}\" ({where}) {words['failed']}:"]
    if step.error:
        lines.append(f"  ✗ {step.error}")
    lines += [_check_line(check, words) for check in step.checks if check.outcome != "passed"]
    passed = sum(1 for check in step.checks if check.outcome == "passed")
    if passed:
        lines.append(f"  {words['passed_other'].format(n=passed)}")
    if step.source:
        lines.append(f"{words['source']} ({file}:{step.source[0][0]}-{step.source[-1][0]}):")
        lines += [f"  {number:4d} | {text}" for number, text in step.source]
    if exchange is not None:
        lines += explain_exchange(exchange, lang)
    return lines


def _check_line(check: CheckRecord, words: dict[str, str]) -> str:
    mark = {"failed": "✗", "waived": "~"}.get(check.outcome, "?")
    where = f" ({words['line']} {check.line})" if check.line else ""
    if check.outcome == "not_checked" or not check.expected:
        text = f"  {mark} {check.label}{where}: {check.actual}"
    else:
        text = f"  {mark} {check.label}{where}: {words['expected']} {check.expected}, {words['got']} {check.actual}"
    if check.because:
        text += f"\n      {words['because']}: {check.because}"
    groups = check.issues[:GROUPS_SHOWN]
    text += "".join(f"\n      {describe_group(group)}" for group in groups)
    if len(check.issues) > GROUPS_SHOWN:
        text += f"\n      {words['more_groups'].format(n=len(check.issues) - GROUPS_SHOWN)}"
    if check.detail:
        text += "\n" + "\n".join(f"      {line}" for line in check.detail.splitlines())
    return text


def describe_group(group: IssueGroup) -> str:
    """One line: 'error: Bundle.entry[*].resource.status (× 180): message'."""
    times = f" (× {group.count})" if group.count > 1 else ""
    return f"{group.severity}: {group.expression or '(resource)'}{times}: {group.message}"


def explain_exchange(exchange: ExchangeRecord, lang: str = "fr") -> list[str]:
    """The request and the response as a reader wants them (already redacted), bodies cut to an excerpt."""
    words = WORDS.get(lang, WORDS["fr"])
    lines = [f"{words['request']}:", f"  {exchange.method} {exchange.url}"]
    lines += [f"  {name}: {value}" for name, value in exchange.request_headers.items()
              if name.lower() not in ("user-agent", "accept-encoding", "connection", "content-length")]
    if exchange.request_body:
        lines += ["", *_indent(_excerpt(exchange.request_body, words))]
    lines += [f"  ({note})" for note in exchange.notes]
    if exchange.error and exchange.status is None:
        lines.append(f"{words['response']}: {words['none_after'].format(ms=f'{exchange.elapsed_ms:g}')} "
                     f"({exchange.error})")
        return lines
    lines += [f"{words['redirected']}: {hop}" for hop in exchange.redirects]
    lines.append(f"{words['response']}: {exchange.status} {exchange.reason} {words['in']} "
                 f"{exchange.elapsed_ms:g} ms")
    lines += [f"  {name}: {value}" for name, value in exchange.response_headers.items()]
    if exchange.response_body:
        lines += ["", *_indent(_excerpt(exchange.response_body, words, exchange.response_size))]
    return lines


def _excerpt(text: str, words: dict[str, str], size: int | None = None) -> str:
    if len(text) <= BODY_EXCERPT:
        return text
    more = words["more_chars"].format(n=len(text) - BODY_EXCERPT)
    return text[:BODY_EXCERPT] + f"\n… ({more}" + (f"; {words['bytes_in_all'].format(n=size)})" if size else ")")


def _indent(text: str) -> list[str]:
    return [f"  {line}" for line in text.splitlines()]
