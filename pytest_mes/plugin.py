"""pytest hooks of pytest-mes: options, collection of YAML test sets, fixtures, markers."""

from __future__ import annotations

import atexit
import gc
from pathlib import Path

import pytest

from pytest_mes.config import MesConfig, add_options, from_pytest
from pytest_mes.errors import MesError
from pytest_mes.run import MesRun

RUN_KEY = pytest.StashKey[MesRun]()
SANDBOX_URL = "mes_sandbox_url"  # the key of the controller's sandbox in an xdist worker's `workerinput`
MARKERS = {
    "gap": "test of the GAP component (Gestion d'Agendas Partagés)",
    "pdsm": "test of the PDSm component (Partage de Documents de Santé en mobilité)",
    "core": "test of core FHIR behaviour",
    "shall": "verifies a SHALL requirement",
    "should": "verifies a SHOULD requirement",
    "may": "verifies a MAY requirement",
    "gap_gestionnaire_agenda": "actor GAP Gestionnaire d'agenda",
    "gap_gestionnaire_ressources": "actor GAP Gestionnaire de ressources",
    "pdsm_gestionnaire_partage": "actor PDSm Gestionnaire de partage de documents",
    "fhir_server": "actor: any FHIR R4 server",
    "mes_writes": "creates, changes or deletes data on the server (needs --mes-allow-writes)",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    try:
        settings = from_pytest(config)
        run = config.stash[RUN_KEY] = MesRun(settings)
    except MesError as exc:
        raise pytest.UsageError(f"pytest-mes: {exc}") from None
    run.invocation_dir = config.invocation_params.dir
    shared_sandbox = getattr(config, "workerinput", {}).get(SANDBOX_URL)
    if shared_sandbox:
        run.use_sandbox(shared_sandbox)
    if settings.active:
        atexit.register(_leave_the_heap_to_the_system)
        run.roots = _point_collection_at_testsets(config, settings)
        if not hasattr(config, "workerinput"):  # xdist workers find what their controller already checked
            _check_overrides(run)
            _require_validator(run)
            _find_unknown_waivers(run)
        if config.option.collectonly:
            return  # nothing runs: no verdict, and the last run's reports stay as they are
        from pytest_mes.reporting import ResultsPlugin

        config.pluginmanager.register(ResultsPlugin(config, run), "mes-results")
        if config.pluginmanager.hasplugin("html"):
            from pytest_mes.html_extras import HtmlExtras

            config.pluginmanager.register(HtmlExtras(config, run), "mes-html-extras")


def _leave_the_heap_to_the_system() -> None:
    """At exit (after the atexit handlers registered later, i.e. most of them), spare Python its last garbage
    collection, a walk through every object of the run (package indexes, compiled profiles, records): about
    0.3 s per process, which each xdist worker and then the controller pay one after the other. Objects are
    still released by reference counting; only reference cycles are left for the system to reclaim."""
    gc.freeze()


def _check_overrides(run: MesRun) -> None:
    if run.config.variables:
        from pytest_mes.testset.variables import check_overrides

        try:
            check_overrides(run.config.variables, run.roots, run.invocation_dir)
        except MesError as exc:
            raise pytest.UsageError(f"pytest-mes: {exc}") from None


def _find_unknown_waivers(run: MesRun) -> None:
    """A waiver naming a test that no loaded test set has is a typo that would cover nothing: found at start, from
    every set loaded (a test deselected with -k or --mes-component still exists), said in the header."""
    if any(waiver.test for waiver in run.waivers):
        from pytest_mes.waivers import loaded_test_ids, unknown_tests

        run.unknown_waivers = unknown_tests(run.waivers, loaded_test_ids(run.roots, run.invocation_dir))


def _require_validator(run: MesRun) -> None:
    """Stop at start when the FHIR R4 base package cannot be had: a run whose profile checks were all
    'not made' would look like a pass. (Loading here also lets the registry be asked once, before workers.)"""
    validator, problem = run.validator()
    if validator is None:
        raise pytest.UsageError(f"pytest-mes: {problem}")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """pytest-xdist (controller): one sandbox for the whole run, started here and handed to every worker, as one
    server is with --mes-base-url; the workers start none. It loads while they start. If it cannot even take a
    port here, each worker starts its own and reports why it cannot, as without xdist."""
    run = node.config.stash[RUN_KEY]
    if not run.config.sandbox or not run.config.active or node.config.option.collectonly:
        return
    try:
        node.workerinput[SANDBOX_URL] = run.share_sandbox()
    except (MesError, OSError):
        return  # the workers meet (and report) the same problem themselves


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """pytest-xdist: keep the tests of each test-set file on one worker (they share the set's setup);
    spread every other test as 'load' would. Only for the default mode, and only when pytest-mes is active."""
    if config.option.dist != "load" or not config.stash[RUN_KEY].config.active:
        return None
    from pytest_mes.distribution import TestSetScheduling

    return TestSetScheduling(config, log)


def _point_collection_at_testsets(config: pytest.Config, settings: MesConfig) -> tuple[Path, ...]:
    """Decide what to collect; return the folders and files whose YAML files are test sets.

    Without paths on the command line, run the test sets alone. With paths, run those (a YAML file named
    there is a test set) plus the sets named with --mes-testsets, unless a path already lies inside them
    (`pytest --mes-sandbox tests/test_mine.py` runs that file only; a copied node id runs that test only).
    """
    roots = list(settings.testsets)
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args[:] = [str(root) for root in roots]
        return tuple(roots)
    named = [(config.invocation_params.dir / arg.split("::")[0]).resolve() for arg in config.args]
    if settings.testsets_given:
        config.args += [str(root) for root in roots if not any(_within(path, root) for path in named)]
    return (*roots, *(path for path in named if path.suffix in (".yaml", ".yml")))


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(RUN_KEY, None)
    if run is not None:
        run.close()


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    run = config.stash[RUN_KEY]
    settings = run.config
    if not settings.active and not settings.targetless:
        return None
    from pytest_mes.fhir import PURE_PYTHON_BECAUSE  # only when pytest-mes has something to say
    from pytest_mes.report.labels import did_you_mean, label

    lang = settings.lang
    if not settings.active:
        return [label("header.no_target", lang).format(given=", ".join(settings.targetless))]
    target = settings.base_url or label("header.sandbox", lang)
    if settings.sandbox_defects:
        target = label("header.defects", lang).format(target=target, defects=", ".join(settings.sandbox_defects))
    writes = label("header.writes_allowed" if settings.allow_writes else "header.writes_refused", lang)
    lines = [
        label("header.target", lang).format(target=target),
        label("header.sets", lang).format(sets=", ".join(str(p) for p in settings.testsets),
                                          components=", ".join(sorted(settings.components)), writes=writes),
    ]
    if PURE_PYTHON_BECAUSE:
        lines.append(label(f"header.pure_python.{PURE_PYTHON_BECAUSE}", lang))
    validator, _ = run.validator()
    if validator is not None and validator.store.missing:
        lines.append(label("header.missing", lang).format(missing=validator.store.missing_summary()))
    if validator is not None:  # a package source or a --mes-ig file that could not be read
        lines.extend(label("header.unread", lang).format(problem=problem) for problem in validator.store.problems)
    for waiver in run.waivers:
        if waiver.index in run.unknown_waivers:
            lines.append(label("header.unknown_waiver", lang).format(
                source=waiver.source, test=waiver.test, hint=did_you_mean(run.unknown_waivers[waiver.index], lang)))
    return lines


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    run = config.stash.get(RUN_KEY, None)
    if run is not None and run.sandbox_problem:  # the shared sandbox of an xdist run: its workers only saw it gone
        terminalreporter.write_line(f"mes: {run.sandbox_problem}", red=True)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    run = parent.config.stash[RUN_KEY]
    if not run.config.active or file_path.suffix not in (".yaml", ".yml") or file_path.name.startswith("_"):
        return None
    if not any(_within(file_path, root) for root in run.roots):
        return None  # a YAML file of the user's project, not a test set: leave it alone
    from pytest_mes.nodes import TestSetFile  # the engine loads only when there are test sets

    return TestSetFile.from_parent(parent, path=file_path, run=run)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    run = config.stash[RUN_KEY]
    if not run.config.active:
        return
    from pytest_mes.nodes import MesItem

    deselected = [i for i in items if isinstance(i, MesItem) and i.testset.component not in run.config.components]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [i for i in items if i not in deselected]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A failed set setup fails every test of the set: show it in full once, then name the first. A skipped
    test is reported at the line of its id in its test set (`-rs`), not where pytest-mes raised the skip."""
    report = yield
    if call.when != "setup" or call.excinfo is None or not item.config.stash[RUN_KEY].config.active:
        return report
    from pytest_mes.nodes import MesItem

    if report.skipped and isinstance(item, MesItem) and isinstance(report.longrepr, tuple):
        report.longrepr = (str(item.path), item.test.line or 1, report.longrepr[2])  # the reason is kept as is

    failure = getattr(call.excinfo.value, "mes_set_setup", None)  # a SetSetupFailure
    if failure is not None:
        if failure.first_reported is None:
            failure.first_reported = item.nodeid
        elif failure.first_reported != item.nodeid:
            report.longrepr = failure.see_first()
    return report


# Fixtures for users' own Python tests.


@pytest.fixture(scope="session")
def mes_config(pytestconfig: pytest.Config) -> MesConfig:
    """The resolved pytest-mes settings (base URL, transport, variables, writes allowed…)."""
    return pytestconfig.stash[RUN_KEY].config


@pytest.fixture(scope="session")
def _mes_run(pytestconfig: pytest.Config) -> MesRun:
    """The run's shared state (target, client, CapabilityStatement); skips when there is no server."""
    run = pytestconfig.stash[RUN_KEY]
    if not run.config.active:
        pytest.skip(_say("fixture.no_server", run))
    return run


@pytest.fixture(scope="session")
def mes_base_url(_mes_run: MesRun) -> str:
    """Base URL of the server under test (the sandbox's when --mes-sandbox)."""
    return _mes_run.base_url


@pytest.fixture(scope="session")
def mes_client(_mes_run: MesRun):
    """The FHIR client of the run: auth, TLS and timeouts as configured; records every exchange."""
    return _mes_run.client


@pytest.fixture(scope="session")
def mes_capabilities(_mes_run: MesRun) -> dict:
    """The server's CapabilityStatement (read once); skips the test when it cannot be read."""
    statement, problem = _mes_run.capabilities()
    if statement is None:
        pytest.skip(_say("fixture.no_statement", _mes_run, problem=problem))
    return statement


@pytest.fixture(scope="session")
def mes_validator(pytestconfig: pytest.Config):
    """The FHIR R4 + CI-SIS profile validator (loaded once per process); skips when it cannot be loaded."""
    run = pytestconfig.stash[RUN_KEY]
    validator, problem = run.validator()
    if validator is None:
        pytest.skip(_say("fixture.no_validator", run, problem=problem))
    return validator


def _say(key: str, run: MesRun, **values: str) -> str:
    """A skip reason of the fixtures, in the run's language."""
    from pytest_mes.report.labels import label

    return label(key, run.config.lang).format(**values)
