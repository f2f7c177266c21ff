"""Terminal rendering of a test record: every failed check, the YAML source, the request and the response."""

from __future__ import annotations

from pytest_mes.results import CheckRecord, ExchangeRecord, IssueGroup, StepRecord, TestRecord, label

BODY_EXCERPT = 1500  # characters of a body shown in the terminal (the reports keep more)
GROUPS_SHOWN = 50  # groups of validator issues listed under a failed conforms_to check


def explain_test(record: TestRecord, *, total: int, lang: str = "fr") -> str:
    """What a reader needs to see about a test that did not pass: its failed step, in full."""
    lines = [f"{record.id} — {record.title_in(lang)}"]
    lines += [f"Requirement: {r.ref} ({r.level})" + (f" — {r.text}" if r.text else "") for r in record.requirements]
    lines.append(f"Verdict: {label(record.verdict, lang)} — {record.reason}")
    exchanges = {e.id: e for e in record.exchanges}
    shown = [s for s in record.steps if s.outcome in ("failed", "error") and s.phase != "cleanup"]
    for step in shown[:1]:
        lines += explain_step(step, exchanges.get(step.exchange or ""), file=record.file, total=total)
    cleanup = next((s for s in record.steps if s.phase == "cleanup" and s.outcome in ("failed", "error")), None)
    if cleanup is not None:
        lines += ["", "cleanup failed (data may be left on the server):"]
        lines += explain_step(cleanup, exchanges.get(cleanup.exchange or ""), file=record.file)
    unmade = [c for s in record.steps for c in s.checks if c.outcome == "not_checked"]
    if unmade and not shown:
        lines.append("Checks not made (vérifications non faites):")
        lines += [f"  ? {c.label}: {c.actual}" for c in unmade]
    if record.variables and shown:
        lines.append("Variables: " + ", ".join(f"{name}={value}" for name, value in record.variables.items()))
    return "\n".join(lines)


def explain_step(step: StepRecord, exchange: ExchangeRecord | None, *, file: str | None, total: int = 0) -> list[str]:
    where = f"{file}:{step.line}" if step.line else (file or "")
    position = f"step {step.index + 1} of {total}" if total else f"{step.phase} step {step.index + 1}"
    lines = [f"{position.capitalize()} \"{step.name}\" ({where}) failed:"]
    if step.error:
        lines.append(f"  ✗ {step.error}")
    lines += [_check_line(check) for check in step.checks if check.outcome != "passed"]
    passed = sum(1 for check in step.checks if check.outcome == "passed")
    if passed:
        lines.append(f"  ({passed} other check{'s' if passed > 1 else ''} passed)")
    if step.source:
        lines.append(f"Source ({file}:{step.source[0][0]}-{step.source[-1][0]}):")
        lines += [f"  {number:4d} | {text}" for number, text in step.source]
    if exchange is not None:
        lines += explain_exchange(exchange)
    return lines


def _check_line(check: CheckRecord) -> str:
    mark = {"failed": "✗", "waived": "~"}.get(check.outcome, "?")
    where = f" (line {check.line})" if check.line else ""
    if check.outcome == "not_checked" or not check.expected:
        text = f"  {mark} {check.label}{where}: {check.actual}"
    else:
        text = f"  {mark} {check.label}{where}: expected {check.expected}, got {check.actual}"
    if check.because:
        text += f"\n      because: {check.because}"
    groups = check.issues[:GROUPS_SHOWN]
    text += "".join(f"\n      {describe_group(group)}" for group in groups)
    if len(check.issues) > GROUPS_SHOWN:
        text += f"\n      … and {len(check.issues) - GROUPS_SHOWN} more kinds of issue (all in the reports)"
    if check.detail:
        text += "\n" + "\n".join(f"      {line}" for line in check.detail.splitlines())
    return text


def describe_group(group: IssueGroup) -> str:
    """One line: 'error: Bundle.entry[*].resource.status (× 180): message'."""
    times = f" (× {group.count})" if group.count > 1 else ""
    return f"{group.severity}: {group.expression or '(resource)'}{times}: {group.message}"


def explain_exchange(exchange: ExchangeRecord) -> list[str]:
    """The request and the response as a reader wants them (already redacted), bodies cut to an excerpt."""
    lines = ["Request:", f"  {exchange.method} {exchange.url}"]
    lines += [f"  {name}: {value}" for name, value in exchange.request_headers.items()
              if name.lower() not in ("user-agent", "accept-encoding", "connection", "content-length")]
    if exchange.request_body:
        lines += ["", *_indent(_excerpt(exchange.request_body))]
    lines += [f"  ({note})" for note in exchange.notes]
    if exchange.error and exchange.status is None:
        lines.append(f"Response: none after {exchange.elapsed_ms:g} ms ({exchange.error})")
        return lines
    lines += [f"Redirected: {hop}" for hop in exchange.redirects]
    lines.append(f"Response: {exchange.status} {exchange.reason} in {exchange.elapsed_ms:g} ms")
    lines += [f"  {name}: {value}" for name, value in exchange.response_headers.items()]
    if exchange.response_body:
        lines += ["", *_indent(_excerpt(exchange.response_body, exchange.response_size))]
    return lines


def _excerpt(text: str, size: int | None = None) -> str:
    if len(text) <= BODY_EXCERPT:
        return text
    return text[:BODY_EXCERPT] + f"\n… ({len(text) - BODY_EXCERPT} more characters" + (
        f"; {size} bytes in all)" if size else ")")


def _indent(text: str) -> list[str]:
    return [f"  {line}" for line in text.splitlines()]
