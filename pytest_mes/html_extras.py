"""pytest-html (`--html`): each test's verdict, requirement and evidence as extras, and the run's identification
in its environment table — renderings of the same records as the acceptance file, through pytest-html's hooks."""

from __future__ import annotations

from html import escape
from textwrap import dedent

import pytest

from pytest_mes.failure import check_line, explain_exchange
from pytest_mes.report.labels import label
from pytest_mes.results import TestRecord, record_from_dict
from pytest_mes.run import MesRun


class HtmlExtras:
    def __init__(self, config: pytest.Config, run: MesRun):
        self.run = run
        self._environment(config)

    def _environment(self, config: pytest.Config) -> None:
        from pytest_metadata.plugin import metadata_key  # pytest-html's own dependency

        settings, lang = self.run.config, self.run.config.lang
        environment = config.stash[metadata_key]
        environment[f"pytest-mes {label('target', lang)}"] = settings.base_url or label("sandbox", lang)
        environment.update({f"pytest-mes {label(name, lang)}": value
                            for name, value in settings.identification.items() if value})

        def said(flag: bool) -> str:
            return label("yes" if flag else "no", lang)

        environment[f"pytest-mes {label('options', lang)}"] = label("semicolon", lang).join([
            f"--mes-fail-on {settings.fail_on}", f"--mes-strict {said(settings.strict)}",
            f"--mes-ignore-preconditions {said(settings.ignore_preconditions)}",
            f"--mes-waivers {settings.waivers or '-'}"])

    # Outermost wrapper, so that it resumes after pytest-mes has put its record on the report.
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = yield
        data = getattr(report, "mes_record", None)
        if data is not None:
            from pytest_html import extras

            record, lang = record_from_dict(data), self.run.config.lang
            report.extras = [*getattr(report, "extras", []), extras.html(summary_table(record, lang)),
                             *(extras.text("\n".join(explain_exchange(e, lang)), name=e.id) for e in record.exchanges)]
        return report


def summary_table(record: TestRecord, lang: str) -> str:
    """The extra of a test: its verdict, reason, requirements, failed checks and waiver, named in `lang`."""
    rows = [("verdict", escape(label(record.verdict, lang))), ("reason", escape(record.reason))]
    rows += [("requirement", escape(f"{r.ref} ({r.level})")) for r in record.requirements]
    # A failed check as the terminal tells it (with its validation issues), its lines kept.
    rows += [("check", f"<pre>{escape(dedent(check_line(c, lang)))}</pre>") for c in record.failed_checks()]
    if record.waiver:
        rows.append(("waiver", escape(f"{record.waiver['justification']} ({record.waiver['author']})")))
    cells = "".join(f"<tr><th>{escape(label(name, lang))}</th><td>{value}</td></tr>" for name, value in rows)
    return f'<table class="mes-record">{cells}</table>'
