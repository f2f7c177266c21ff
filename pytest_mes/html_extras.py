"""pytest-html (`--html`): each test's verdict, requirement and evidence as extras, and the run's identification
in its environment table — renderings of the same records as the acceptance file, through pytest-html's hooks."""

from __future__ import annotations

from html import escape

import pytest

from pytest_mes.failure import explain_exchange
from pytest_mes.report.labels import label
from pytest_mes.results import TestRecord, record_from_dict
from pytest_mes.run import MesRun


class HtmlExtras:
    def __init__(self, config: pytest.Config, run: MesRun):
        self.run = run
        self._environment(config)

    def _environment(self, config: pytest.Config) -> None:
        from pytest_metadata.plugin import metadata_key  # pytest-html's own dependency

        settings = self.run.config
        environment = config.stash[metadata_key]
        environment["pytest-mes target"] = settings.base_url or "reference sandbox"
        environment.update({f"pytest-mes {name.replace('_', ' ')}": value
                            for name, value in settings.identification.items() if value})
        environment["pytest-mes options"] = (f"fail-on {settings.fail_on}; strict {settings.strict}; "
                                             f"ignore-preconditions {settings.ignore_preconditions}; "
                                             f"waivers {settings.waivers or '-'}")

    # Outermost wrapper, so that it resumes after pytest-mes has put its record on the report.
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = yield
        data = getattr(report, "mes_record", None)
        if data is not None:
            from pytest_html import extras

            record = record_from_dict(data)
            report.extras = [*getattr(report, "extras", []), extras.html(self._summary(record)),
                             *(extras.text("\n".join(explain_exchange(e, self.run.config.lang)), name=e.id)
                               for e in record.exchanges)]
        return report

    def _summary(self, record: TestRecord) -> str:
        lang = self.run.config.lang
        rows = [("verdict", label(record.verdict, lang)), ("reason", record.reason)]
        rows += [("requirement", f"{r.ref} ({r.level})") for r in record.requirements]
        rows += [("check", f"{c.label}: expected {c.expected}, got {c.actual}") for c in record.failed_checks()]
        rows += [("issue", f"{g.severity} {g.expression} (× {g.count}): {g.message}")
                 for s in record.steps for c in s.checks for g in c.issues if g.severity in ("error", "fatal")]
        if record.waiver:
            rows.append(("waiver", f"{record.waiver['justification']} ({record.waiver['author']})"))
        cells = "".join(f"<tr><th>{escape(name)}</th><td>{escape(str(value))}</td></tr>" for name, value in rows)
        return f'<table class="mes-record">{cells}</table>'
