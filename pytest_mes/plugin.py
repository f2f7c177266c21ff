"""pytest hooks of pytest-mes: options, collection of YAML test sets, fixtures, markers."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_mes.client import FhirClient
from pytest_mes.config import MesConfig, add_options, from_pytest
from pytest_mes.errors import MesError
from pytest_mes.nodes import MesItem, TestSetFile
from pytest_mes.run import MesRun

RUN_KEY = pytest.StashKey[MesRun]()
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


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist builds its scheduler in its own (trylast) configure
def pytest_configure(config: pytest.Config) -> None:
    # With pytest-xdist, keep the tests of a set that share setup state on one worker: 'loadgroup'
    # honours our xdist_group marks and behaves like 'load' for every other test.
    if getattr(config.option, "dist", None) == "load":
        config.option.dist = "loadgroup"
    if getattr(config, "workerinput", {}).get("mes_loadgroup"):
        config.option.loadgroup = True  # workers decide this from their own argv; tell them what we chose
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    try:
        settings = from_pytest(config)
    except MesError as exc:
        raise pytest.UsageError(f"pytest-mes: {exc}") from None
    config.stash[RUN_KEY] = MesRun(settings)
    if settings.active:
        _point_collection_at_testsets(config, settings)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """pytest-xdist: pass the controller's distribution mode on to each worker."""
    node.workerinput["mes_loadgroup"] = node.config.option.dist == "loadgroup"


def _point_collection_at_testsets(config: pytest.Config, settings: MesConfig) -> None:
    """Without paths on the command line, run the test sets alone; with paths, add the sets only when the user
    named them (--mes-testsets), so that `pytest --mes-sandbox tests/test_mine.py` runs just that file."""
    roots = [str(path) for path in settings.testsets]
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args[:] = roots
    elif settings.testsets_given:
        config.args.extend(root for root in roots if root not in config.args)


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(RUN_KEY, None)
    if run is not None:
        run.close()


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    settings = config.stash[RUN_KEY].config
    if not settings.active:
        return None
    target = settings.base_url or "reference sandbox (in-process, loopback)"
    if settings.sandbox_defects:
        target += " with defects " + ", ".join(settings.sandbox_defects)
    return [
        f"mes: target {target}",
        f"mes: test sets {', '.join(str(p) for p in settings.testsets)}; components "
        f"{', '.join(sorted(settings.components))}; writes {'allowed' if settings.allow_writes else 'not allowed'}",
    ]


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> TestSetFile | None:
    run = parent.config.stash[RUN_KEY]
    if not run.config.active or file_path.suffix not in (".yaml", ".yml") or file_path.name.startswith("_"):
        return None
    if not any(file_path == root or root in file_path.parents for root in run.config.testsets):
        return None  # a YAML file of the user's project, not a test set: leave it alone
    return TestSetFile.from_parent(parent, path=file_path, run=run)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    components = config.stash[RUN_KEY].config.components
    deselected = [i for i in items if isinstance(i, MesItem) and i.testset.component not in components]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [i for i in items if i not in deselected]


# Fixtures for users' own Python tests.


@pytest.fixture(scope="session")
def mes_config(pytestconfig: pytest.Config) -> MesConfig:
    """The resolved pytest-mes settings (base URL, transport, variables, writes allowed…)."""
    return pytestconfig.stash[RUN_KEY].config


@pytest.fixture(scope="session")
def mes_run(pytestconfig: pytest.Config) -> MesRun:
    run = pytestconfig.stash[RUN_KEY]
    if not run.config.active:
        pytest.skip("no server to test: pass --mes-base-url=URL or --mes-sandbox")
    return run


@pytest.fixture(scope="session")
def mes_base_url(mes_run: MesRun) -> str:
    """Base URL of the server under test (the sandbox's when --mes-sandbox)."""
    return mes_run.base_url


@pytest.fixture(scope="session")
def mes_client(mes_run: MesRun) -> FhirClient:
    """The FHIR client of the run: auth, TLS and timeouts as configured; records every exchange."""
    return mes_run.client


@pytest.fixture(scope="session")
def mes_capabilities(mes_run: MesRun) -> dict:
    """The server's CapabilityStatement (read once); skips the test when it cannot be read."""
    statement, problem = mes_run.capabilities()
    if statement is None:
        pytest.skip(f"CapabilityStatement not available: {problem}")
    return statement


@pytest.fixture(scope="session")
def mes_validator(pytestconfig: pytest.Config):
    """The FHIR R4 + CI-SIS profile validator (loaded once per process); skips when it cannot be loaded."""
    validator, problem = pytestconfig.stash[RUN_KEY].validator()
    if validator is None:
        pytest.skip(f"no validator: {problem}")
    return validator
