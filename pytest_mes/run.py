"""The state of one pytest-mes run: target server, HTTP client, CapabilityStatement, validator, runner."""

from __future__ import annotations

import threading
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_mes.config import MesConfig
from pytest_mes.errors import MesError, PackageError
from pytest_mes.redaction import Redactor

if TYPE_CHECKING:  # the engine is imported on first use, so that pytest starts fast without test sets
    from pytest_mes.client import FhirClient
    from pytest_mes.coverage import LazyCatalogue
    from pytest_mes.recording import Recorder
    from pytest_mes.testset.checks import ProfileValidator
    from pytest_mes.testset.runner import Runner
    from pytest_mes.waivers import Waiver


class MesRun:
    """Created once per pytest process; everything expensive is made on first use and kept."""

    def __init__(self, config: MesConfig):
        self.config = config
        self.roots: tuple[Path, ...] = config.testsets  # where YAML files are test sets
        self.invocation_dir = Path.cwd()  # where relative paths shown to the user start (pytest's invocation dir)
        self._sandbox: Any = None
        self._loading: threading.Thread | None = None  # the shared sandbox loading (see share_sandbox)
        self.sandbox_problem = ""
        self._capabilities: tuple[dict | None, str] | None = None
        self._validator: tuple[ProfileValidator | None, str] | None = None
        self.waivers: list[Waiver] = []
        self.unknown_waivers: dict[int, str | None] = {}  # waivers naming no loaded test -> the id probably meant
        self.test_ids: dict[str, str] = {}  # each collected test id -> where it is (file:line): one per test
        if config.waivers is not None:  # read now: a malformed file stops the run before any test
            from pytest_mes.waivers import load_waivers

            self.waivers = load_waivers(config.waivers)

    @cached_property
    def base_url(self) -> str:
        if self.config.base_url:
            return self.config.base_url
        from pytest_mes.sandbox import Sandbox  # imported only when a sandbox is asked for

        self._sandbox = Sandbox(defects=self.config.sandbox_defects, packages=self.config.packages)
        return self._sandbox.start()

    def share_sandbox(self) -> str:
        """Start the sandbox for other processes (the xdist workers): its URL at once, while it loads and starts
        answering in a background thread as they start (a request that comes first waits for it)."""
        if "base_url" not in self.__dict__:
            from pytest_mes.sandbox import Sandbox

            self._sandbox = Sandbox(defects=self.config.sandbox_defects, packages=self.config.packages)
            self.base_url = self._sandbox.listen()
            self._loading = threading.Thread(target=self._serve_sandbox, name="mes-sandbox-load", daemon=True)
            self._loading.start()
        return self.base_url

    def _serve_sandbox(self) -> None:
        try:
            self._sandbox.serve()
        except (MesError, OSError) as exc:  # its port is closed: the workers' requests fail, and say so
            from pytest_mes.report.labels import label

            self.sandbox_problem = label("sandbox_failed", self.config.lang).format(error=exc)

    def use_sandbox(self, url: str) -> None:
        """Test the sandbox another process started (the xdist controller's) instead of starting one."""
        self.base_url = url

    @cached_property
    def redactor(self) -> Redactor:
        """The run's one redactor: the client adds the secrets it meets (cookies, secret variables) to what the
        records mask; made without the client, so that the xdist controller starts no server to write reports."""
        return Redactor(self.config.transport.secrets())

    @cached_property
    def client(self) -> FhirClient:
        from pytest_mes.client import FhirClient

        return FhirClient(self.config.client_settings(self.base_url), redactor=self.redactor, lang=self.config.lang)

    @cached_property
    def runner(self) -> Runner:
        from pytest_mes.testset.runner import Runner

        return Runner(self.client, validator=self.validator, overrides=self.config.variables, lang=self.config.lang)

    @cached_property
    def recorder(self) -> Recorder:
        from pytest_mes.recording import Policy, Recorder

        policy = Policy(fail_on=self.config.fail_on, strict=self.config.strict)
        return Recorder(policy, self.waivers, self.config.redact_patient, self.redactor.text, self.config.lang)

    @property
    def sandbox_url(self) -> str | None:
        """The sandbox's base URL when this process started one."""
        return self.__dict__.get("base_url") if self._sandbox is not None else None

    def capabilities(self) -> tuple[dict | None, str]:
        """(CapabilityStatement, "") or (None, why it could not be read). Read once."""
        if self._capabilities is None:
            exchange = self.client.capabilities()
            body, problem = exchange.parsed
            from pytest_mes.client import run_refusal  # with the engine, not when the plugin loads
            from pytest_mes.report.labels import label

            lang = self.config.lang
            if exchange.error:
                problem = exchange.error
            elif refused := run_refusal(exchange, lang):
                problem = label("metadata.refused", lang).format(refused=refused)
            elif exchange.status == 404:  # most often a base URL without its path
                problem = label("metadata.not_found", lang)
            elif exchange.status != 200:
                problem = label("metadata.status", lang).format(status=f"{exchange.status} {exchange.reason}".strip())
            elif not problem and (not isinstance(body, dict) or body.get("resourceType") != "CapabilityStatement"):
                problem = label("metadata.not_a_statement", lang)
            self._capabilities = (None, problem) if problem else (body, "")
        return self._capabilities

    def validator(self) -> tuple[ProfileValidator | None, str]:
        """(validator, "") or (None, why there is none). Loaded once, on first use."""
        if self._validator is None:
            self._validator = _load_validator(self.config)
        return self._validator

    @cached_property
    def catalogue(self) -> LazyCatalogue:
        """The IGs' server CapabilityStatements, from the validator's packages, to check the tests'
        `capability` references at collection (not checked when the packages cannot be loaded)."""
        from pytest_mes.coverage import Catalogue, LazyCatalogue

        def load() -> Catalogue | None:
            validator, _ = self.validator()
            return Catalogue.from_store(validator.store) if validator is not None else None

        return LazyCatalogue(load)

    def close(self) -> None:
        if "client" in self.__dict__:
            self.client.close()
        if self._loading is not None:
            self._loading.join()
        if self._sandbox is not None:
            self._sandbox.stop()


def _load_validator(config: MesConfig) -> tuple[ProfileValidator | None, str]:
    from pytest_mes.fhir import load_validator

    try:
        return load_validator(list(config.packages), offline=config.offline, igs=config.igs), ""
    except PackageError as exc:
        return None, str(exc)
    except Exception as exc:  # a bug of the validator: the run stops at start with its reason
        return None, f"the validator could not be loaded: {type(exc).__name__}: {exc}"
