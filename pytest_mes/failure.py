"""Terminal rendering of a test record: every failed check, the YAML source, the request and the response."""

from __future__ import annotations

from pytest_mes.report.labels import LABELS, label, lead
from pytest_mes.results import CheckRecord, ExchangeRecord, IssueGroup, StepRecord, TestRecord

BODY_EXCERPT = 1500  # characters of a body shown in the terminal (the reports keep more)
GROUPS_SHOWN = 50  # groups of validator issues listed under a failed conforms_to check

# The words around the evidence come from the reports' label table, in the run's language (--mes-lang), and so
# does the colon after them (" : " in French, ": " in English); what servers say stays as said.


def explain_test(record: TestRecord, *, total: int, lang: str = "fr") -> str:
    """What a reader needs to see about a test that did not pass: its failed step, in full."""
    lines = [f"{record.id} — {record.title_in(lang)}"]
    lines += [f"{lead('requirement', lang)}{r.ref} ({r.level})" + (f" — {r.text}" if r.text else "")
              for r in record.requirements]
    lines.append(f"{lead('verdict', lang)}{label(record.verdict, lang)} — {record.reason}")
    exchanges = {e.id: e for e in record.exchanges}
    shown = [s for s in record.steps if s.outcome in ("failed", "error") and s.phase != "cleanup"]
    for step in shown[:1]:
        lines += explain_step(step, exchanges.get(step.exchange or ""), file=record.file, total=total, lang=lang)
    cleanup = next((s for s in record.steps if s.phase == "cleanup" and s.outcome in ("failed", "error")), None)
    if cleanup is not None:
        lines += ["", label("evidence.cleanup_failed", lang)]
        lines += explain_step(cleanup, exchanges.get(cleanup.exchange or ""), file=record.file, lang=lang)
    unmade = [c for s in record.steps for c in s.checks if c.outcome == "not_checked"]
    if unmade and not shown:
        lines.append(label("evidence.not_made", lang))
        lines += [f"  ? {c.label}{label('colon', lang)}{c.actual}" for c in unmade]
    if record.variables and shown:
        shown_variables = ", ".join(f"{name}={value}" for name, value in record.variables.items())
        lines.append(f"{lead('variables', lang)}{shown_variables}")
    return "\n".join(lines)


def explain_step(step: StepRecord, exchange: ExchangeRecord | None, *, file: str | None, total: int = 0,
                 lang: str = "fr") -> list[str]:
    where = f"{file}:{step.line}" if step.line else (file or "")
    position = (label("evidence.step_of", lang).format(n=step.index + 1, total=total) if total
                else label("evidence.phase_step", lang).format(n=step.index + 1, phase=step.phase))
    lines = [_heading(f"{position[:1].upper()}{position[1:]} \"{step.name}\" ({where}) "
                      f"{label('evidence.failed', lang)}", lang)]
    if step.error:
        lines.append(f"  ✗ {step.error}")
    lines += [check_line(check, lang) for check in step.checks if check.outcome != "passed"]
    passed = sum(1 for check in step.checks if check.outcome == "passed")
    if passed:
        lines.append(f"  {label('evidence.passed_other', lang).format(n=passed)}")
    if step.source:
        lines.append(_heading(f"{label('source', lang)} ({file}:{step.source[0][0]}-{step.source[-1][0]})", lang))
        lines += [f"  {number:4d} | {text}" for number, text in step.source]
    if exchange is not None:
        lines += explain_exchange(exchange, lang)
    return lines


def check_line(check: CheckRecord, lang: str) -> str:
    """A check that did not pass, indented as under its step: what was expected and got, why, its issues."""
    mark = {"failed": "✗", "waived": "~"}.get(check.outcome, "?")
    where = f" ({label('evidence.line', lang)} {check.line})" if check.line else ""
    text = f"  {mark} {check.label}{where}{label('colon', lang)}"
    if check.outcome == "not_checked" or not check.expected:
        text += check.actual
    else:
        text += f"{label('expected', lang)} {check.expected}, {label('evidence.got', lang)} {check.actual}"
    if check.because:
        text += f"\n      {lead('because', lang)}{check.because}"
    groups = check.issues[:GROUPS_SHOWN]
    text += "".join(f"\n      {describe_group(group, lang)}" for group in groups)
    if len(check.issues) > GROUPS_SHOWN:
        text += f"\n      {label('evidence.more_groups', lang).format(n=len(check.issues) - GROUPS_SHOWN)}"
    if check.detail:
        text += "\n" + "\n".join(f"      {line}" for line in check.detail.splitlines())
    return text


def describe_group(group: IssueGroup, lang: str = "fr") -> str:
    """One line: 'erreur : Bundle.entry[*].resource.status (× 180) : message', in the run's language."""
    times = f" (× {group.count})" if group.count > 1 else ""
    severity = f"severity.{group.severity}"
    severity = label(severity, lang) if severity in LABELS else group.severity
    colon = label("colon", lang)
    return f"{severity}{colon}{group.expression or label('evidence.resource', lang)}{times}{colon}{group.message}"


def explain_exchange(exchange: ExchangeRecord, lang: str = "fr") -> list[str]:
    """The request and the response as a reader wants them (already redacted), bodies cut to an excerpt."""
    lines = [_heading(label("request", lang), lang), f"  {exchange.method} {exchange.url}"]
    lines += [f"  {name}: {value}" for name, value in exchange.request_headers.items()
              if name.lower() not in ("user-agent", "accept-encoding", "connection", "content-length")]
    if exchange.request_body:
        lines += ["", *_indent(_excerpt(exchange.request_body, lang))]
    lines += [f"  ({note})" for note in exchange.notes]
    if exchange.error and exchange.status is None:
        none_after = label("evidence.none_after", lang).format(ms=f"{exchange.elapsed_ms:g}")
        lines.append(f"{lead('response', lang)}{none_after} ({exchange.error})")
        return lines
    lines += [f"{lead('evidence.redirected', lang)}{hop}" for hop in exchange.redirects]
    lines.append(f"{lead('response', lang)}{exchange.status} {exchange.reason} {label('evidence.in', lang)} "
                 f"{exchange.elapsed_ms:g} ms")
    lines += [f"  {name}: {value}" for name, value in exchange.response_headers.items()]
    if exchange.response_body:
        lines += ["", *_indent(_excerpt(exchange.response_body, lang, exchange.response_size))]
    return lines


def _heading(text: str, lang: str) -> str:
    """A line that introduces the lines under it: 'Requête :', 'Request:'."""
    return text + label("colon", lang).rstrip()


def _excerpt(text: str, lang: str, size: int | None = None) -> str:
    if len(text) <= BODY_EXCERPT:
        return text
    more = label("evidence.more_chars", lang).format(n=len(text) - BODY_EXCERPT)
    in_all = f"{label('semicolon', lang)}{label('evidence.bytes_in_all', lang).format(n=size)})" if size else ")"
    return text[:BODY_EXCERPT] + f"\n… ({more}" + in_all


def _indent(text: str) -> list[str]:
    return [f"  {line}" for line in text.splitlines()]
