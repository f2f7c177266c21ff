"""The pytest-mes options, declared once for the command line, the ini file and the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import pytest

from pytest_mes.connection import DEFAULT_MAX_BYTES, ClientSettings
from pytest_mes.environment import env_flag, split_paths
from pytest_mes.errors import ConfigError, require_file
from pytest_mes.redaction import is_secret_name
from pytest_mes.resources import bundled_dir

COMPONENTS = ("gap", "pdsm", "core")
BUNDLED = "bundled"
FAIL_ON = ("shall", "should")
LANGS = ("fr", "en")
DEFAULT_REPORT = "mes-report.html"


@dataclass(frozen=True)
class Option:
    """One setting: `--mes-<name>` on the command line, `mes_<name>` in the ini file, and maybe an env var."""

    name: str
    help: str
    kind: str = "string"  # string | bool | list | paths
    env: str | None = None
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    empty_is_none: bool = False  # given empty, it chooses none (--mes-report= : no report), not the default

    @property
    def flag(self) -> str:
        return "--mes-" + self.name.replace("_", "-")

    @property
    def ini(self) -> str:
        return "mes_" + self.name


OPTIONS = (
    Option("base_url", "base URL of the FHIR server under test, e.g. https://host/fhir", env="MES_BASE_URL",
           metavar="URL"),
    Option("sandbox", "start the reference sandbox server in-process on a free loopback port and test it",
           kind="bool", env="MES_SANDBOX"),
    Option("sandbox_defect", "start the sandbox with this named defect (repeatable; see `mes sandbox "
           "--list-defects`)", kind="list", metavar="NAME"),
    Option("testsets", f"folder or file of YAML test sets to run (repeatable); default: the bundled sets; "
           f"'{BUNDLED}' names them", kind="paths", env="MES_TESTSETS", metavar="PATH"),
    Option("component", "run only the test sets of this component (repeatable)", kind="list",
           env="MES_COMPONENT", choices=COMPONENTS),
    Option("token", "bearer token sent as 'Authorization: Bearer …' (never shown in output)", env="MES_TOKEN",
           metavar="TOKEN"),
    Option("header", "extra HTTP header 'Name: value' sent with every request (repeatable)", kind="list",
           metavar="'NAME: VALUE'"),
    Option("client_cert", "PEM client certificate for mutual TLS (may also hold the key)", env="MES_CLIENT_CERT",
           metavar="FILE"),
    Option("client_key", "PEM private key of the client certificate (unencrypted)", env="MES_CLIENT_KEY",
           metavar="FILE"),
    Option("ca_bundle", "PEM bundle of certificate authorities to trust for the server", env="MES_CA_BUNDLE",
           metavar="FILE"),
    Option("timeout", "seconds to wait for an answer: READ, or CONNECT,READ (default 10,30)", env="MES_TIMEOUT",
           metavar="SECONDS"),
    Option("max_response_bytes", f"largest response body read (default {DEFAULT_MAX_BYTES})",
           metavar="BYTES"),
    Option("allow_writes", "run the tests that create, change or delete data on the server (implied by "
           "--mes-sandbox)", kind="bool", env="MES_ALLOW_WRITES"),
    Option("var", "set a test-set variable, overriding the sets' defaults (repeatable)", kind="list",
           metavar="NAME=VALUE"),
    Option("packages", "folder of FHIR packages (.tgz or unpacked), looked at before ~/.fhir/packages "
           "(repeatable)", kind="paths", env="MES_FHIR_PACKAGES", metavar="DIR"),
    Option("ig", "conformance resources beside the packages: a folder or file, JSON or XML, with or without "
           "snapshots (repeatable)", kind="paths", metavar="PATH"),
    Option("offline", "never download FHIR packages", kind="bool", env="MES_OFFLINE"),
    Option("strict", "fail a test when one of its checks could not be made (e.g. no validator)", kind="bool",
           env="MES_STRICT"),
    Option("fail_on", "which failures make the exit status non-zero: shall (default; SHOULD/MAY failures are "
           "advisory) or should", env="MES_FAIL_ON", choices=FAIL_ON),
    Option("ignore_preconditions", "run every test whatever the server's CapabilityStatement declares (stated in "
           "the report)", kind="bool", env="MES_IGNORE_PRECONDITIONS"),
    Option("report", f"HTML acceptance file to write (default {DEFAULT_REPORT} when a server is tested; "
           "--mes-report= for none)", env="MES_REPORT", metavar="PATH", empty_is_none=True),
    Option("report_json", "JSON results to write (format pytest-mes-results/1)", env="MES_REPORT_JSON",
           metavar="PATH"),
    Option("testreport", "FHIR R4 TestReport of the run to write", env="MES_TESTREPORT", metavar="PATH"),
    Option("lang", "language of titles, verdicts, summaries, reports and validator messages: fr (default) or en",
           env="MES_LANG", choices=LANGS),
    Option("waivers", "YAML file of waivers: justified, dated exceptions to failures", env="MES_WAIVERS",
           metavar="FILE"),
    Option("redact_patient", "mask patient identifiers (INS/NIR), names and birth dates in every output",
           kind="bool", env="MES_REDACT_PATIENT"),
    Option("publisher", "identification: the publisher (éditeur) of the solution", env="MES_PUBLISHER",
           metavar="NAME"),
    Option("solution", "identification: the solution tested", env="MES_SOLUTION", metavar="NAME"),
    Option("solution_version", "identification: the version of the solution", env="MES_SOLUTION_VERSION",
           metavar="VERSION"),
    Option("convergence_id", "identification: the Convergence reference of the listing application",
           env="MES_CONVERGENCE_ID", metavar="ID"),
)


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("mes", "pytest-mes: Mon Espace Santé / CI-SIS conformance tests")
    for option in OPTIONS:
        env = f" [env {option.env}]" if option.env else ""
        if option.kind == "bool":
            group.addoption(option.flag, action="store_true", default=None, dest=option.ini,
                            help=option.help + env)
            parser.addini(option.ini, option.help, type="bool", default=False)
        elif option.kind in ("list", "paths"):
            group.addoption(option.flag, action="append", default=None, dest=option.ini, metavar=option.metavar,
                            choices=option.choices, help=option.help + env)
            parser.addini(option.ini, option.help, type="linelist" if option.kind == "list" else "paths")
        else:
            group.addoption(option.flag, default=None, dest=option.ini, metavar=option.metavar,
                            help=option.help + env)
            parser.addini(option.ini, option.help, default=None)


def raw_value(config: pytest.Config, option: Option) -> tuple[Any, str]:
    """The value in force and where it comes from: command line, then environment, then ini file."""
    value = config.getoption(option.ini)
    if value not in (None, []):
        return ([Path(v) for v in value] if option.kind == "paths" else value), option.flag
    if option.env and option.empty_is_none and os.environ.get(option.env) == "":
        return "", option.env
    if option.env and os.environ.get(option.env, "") != "":
        text = os.environ[option.env]
        if option.kind == "bool":
            return env_flag(option.env), option.env
        if option.kind == "paths":
            return split_paths(text), option.env
        if option.kind == "list":
            return [p.strip() for p in text.split(",") if p.strip()], option.env
        return text, option.env
    value = config.getini(option.ini)
    if value == "" and option.empty_is_none:  # 'mes_report =' in the ini file
        return "", f"ini {option.ini}"
    return (value, f"ini {option.ini}") if value not in ("", [], False) else (None, "")


@dataclass(frozen=True)
class Reports:
    """Where the run's records go; None: not written."""

    html: Path | None = None
    json: Path | None = None
    testreport: Path | None = None

    def paths(self) -> list[Path]:
        return [path for path in (self.html, self.json, self.testreport) if path is not None]


@dataclass(frozen=True)
class MesConfig:
    """The resolved, checked pytest-mes settings of a run."""

    base_url: str | None = None
    sandbox: bool = False
    sandbox_defects: tuple[str, ...] = ()
    testsets: tuple[Path, ...] = ()
    testsets_given: bool = False  # named by the user, rather than the bundled default
    components: frozenset[str] = frozenset(COMPONENTS)
    # Auth, TLS and timeouts; the base URL is filled in once known (the sandbox's port is chosen at start).
    transport: ClientSettings = field(default_factory=lambda: ClientSettings(""))
    allow_writes: bool = False
    variables: dict[str, str] = field(default_factory=dict)
    packages: tuple[Path, ...] = ()
    igs: tuple[Path, ...] = ()
    offline: bool = False
    strict: bool = False
    # Where options that only matter with a target were given (e.g. "--mes-testsets", "MES_TOKEN"): without
    # a target, the run header then says how to set one.
    targetless: tuple[str, ...] = ()
    fail_on: str = "shall"
    ignore_preconditions: bool = False
    lang: str = "fr"
    reports: Reports = field(default_factory=lambda: Reports())
    waivers: Path | None = None
    redact_patient: bool = False
    identification: dict[str, str | None] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        """Whether there is a server to test; without one the plugin collects nothing."""
        return bool(self.base_url or self.sandbox)

    def client_settings(self, base_url: str) -> ClientSettings:
        return replace(self.transport, base_url=base_url)


def from_pytest(config: pytest.Config) -> MesConfig:
    """Resolve every option; raise ConfigError naming the option and what to write instead."""
    resolved = {option.name: raw_value(config, option) for option in OPTIONS}
    values = {name: value for name, (value, _) in resolved.items()}
    base_url, sandbox = _target(resolved["base_url"], resolved["sandbox"])
    base_url, basic_auth = _credentials(base_url)
    token = _token(values["token"])
    if token and basic_auth:
        raise ConfigError("--mes-token and a user:password@ in --mes-base-url both authenticate: keep one")
    defects = tuple(values["sandbox_defect"] or ())
    if defects:
        if not sandbox:
            raise ConfigError("--mes-sandbox-defect needs --mes-sandbox")
        from pytest_mes.sandbox.defects import check_defects  # names are checked now, not mid-run

        check_defects(defects)
    connect_timeout, read_timeout = _timeouts(values["timeout"])
    ca_bundle = _file(values["ca_bundle"], "--mes-ca-bundle")
    client_cert = _file(values["client_cert"], "--mes-client-cert")
    client_key = _file(values["client_key"], "--mes-client-key")
    _check_tls_files(ca_bundle, client_cert, client_key)
    settings = MesConfig(
        base_url=base_url, sandbox=sandbox, sandbox_defects=defects,
        testsets=_testsets(values["testsets"]), testsets_given=bool(values["testsets"]),
        components=_components(values["component"]),
        transport=ClientSettings(
            base_url=base_url or "", token=token, basic_auth=basic_auth,
            headers=tuple(_header(h) for h in values["header"] or ()),
            client_cert=client_cert, client_key=client_key, ca_bundle=ca_bundle,
            connect_timeout=connect_timeout, read_timeout=read_timeout,
            max_response_bytes=_positive_int(values["max_response_bytes"], DEFAULT_MAX_BYTES),
        ),
        allow_writes=bool(values["allow_writes"]) or sandbox,
        variables=dict(_assignment(v) for v in values["var"] or ()),
        packages=tuple(values["packages"] or ()), offline=bool(values["offline"]), strict=bool(values["strict"]),
        igs=tuple(values["ig"] or ()),
        targetless=() if base_url or sandbox else tuple(
            source for name, (value, source) in resolved.items() if name in _NEED_A_TARGET and value),
        fail_on=_choice(values["fail_on"], FAIL_ON, "--mes-fail-on"),
        ignore_preconditions=bool(values["ignore_preconditions"]),
        lang=_choice(values["lang"], LANGS, "--mes-lang"),
        reports=_reports(values, active=bool(base_url or sandbox)),
        waivers=Path(values["waivers"]) if values["waivers"] else None,
        redact_patient=bool(values["redact_patient"]),
        identification={name: values[name] or None
                        for name in ("publisher", "solution", "solution_version", "convergence_id")},
    )
    _check_reports(settings, {name: source for name, (_, source) in resolved.items()})
    return settings


_NEED_A_TARGET = frozenset({"testsets", "component", "token", "header", "client_cert", "client_key", "ca_bundle",
                            "timeout", "allow_writes", "var", "strict"})


def _choice(value: str | None, choices: tuple[str, ...], flag: str) -> str:
    if value is None:
        return choices[0]
    value = value.strip().lower()
    if value not in choices:
        raise ConfigError(f"{flag} {value!r}: choose among {', '.join(choices)}")
    return value


def _reports(values: dict[str, Any], *, active: bool) -> Reports:
    """The report files; the HTML acceptance file is written by default whenever a server is tested."""
    html = values["report"]
    if html is None and active:
        html = DEFAULT_REPORT
    return Reports(html=Path(html) if html else None,
                   json=Path(values["report_json"]) if values["report_json"] else None,
                   testreport=Path(values["testreport"]) if values["testreport"] else None)


def _check_reports(settings: MesConfig, sources: dict[str, str]) -> None:
    """The report paths can be written, and overwrite neither each other nor a file the run reads."""
    from pytest_mes.outputs import check_report_paths, files_in

    reports = [(sources[name] or "--mes-" + name.replace("_", "-"), path, usual) for name, path, usual in (
        ("report", settings.reports.html, DEFAULT_REPORT), ("report_json", settings.reports.json, "mes-results.json"),
        ("testreport", settings.reports.testreport, "mes-testreport.json")) if path is not None]
    if not reports:
        return
    from pytest_mes.testset.loader import find_testset_files

    transport = settings.transport
    given = [(flag, Path(path)) for flag, path in (
        ("--mes-waivers", settings.waivers), ("--mes-ca-bundle", transport.ca_bundle),
        ("--mes-client-cert", transport.client_cert), ("--mes-client-key", transport.client_key)) if path]
    inputs = [*((f"the test set {path}", path) for path in find_testset_files(settings.testsets)),
              *((f"the {flag} file", path) for flag, path in given),
              *((f"the --mes-ig file {path}", path) for path in files_in(map(Path, settings.igs), (".json", ".xml")))]
    check_report_paths(reports, inputs)


def _target(base_url: tuple[str | None, str], sandbox: tuple[bool | None, str]) -> tuple[str | None, bool]:
    """The server to test. When both are set, the command line beats the environment and the ini file."""
    (url, url_source), (use_sandbox, sandbox_source) = base_url, sandbox
    if url and use_sandbox:
        if url_source.startswith("--") == sandbox_source.startswith("--"):
            raise ConfigError(f"{url_source} and {sandbox_source} both name a server to test: keep one")
        if sandbox_source.startswith("--"):
            url = None
        else:
            use_sandbox = False
    if url:
        parts = urlsplit(url)
        shown = _credentials(url)[0]  # never its password
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"{url_source} {shown!r} is not an http(s) URL; write e.g. https://host/fhir")
        if parts.query or parts.fragment or url.rstrip().endswith(("?", "#")):
            raise ConfigError(f"{url_source} {shown!r}: a base URL has no query (?…) nor fragment (#…), as the "
                              "paths of the requests are added to it; write e.g. https://host/fhir")
    return url, bool(use_sandbox)


def _credentials(url: str | None) -> tuple[str | None, tuple[str, str] | None]:
    """The base URL without its user:password@, and them: sent as HTTP Basic authentication, to the server under
    test only, and the URL shown everywhere without them."""
    if not url:
        return url, None
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    host = parts.netloc.rpartition("@")[2]
    return (urlunsplit(parts._replace(netloc=host)),
            (unquote(parts.username or ""), unquote(parts.password or "")))


def _token(token: str | None) -> str | None:
    if token is None:
        return None
    token = token.strip()  # a token read from a file usually ends with a newline
    scheme, _, rest = token.partition(" ")
    if scheme.lower() == "bearer":  # copied with its scheme from an Authorization header: it is added when sent
        token = rest.strip()
    if any(ord(c) < 32 or ord(c) == 127 for c in token):
        raise ConfigError("the token (--mes-token / MES_TOKEN) contains control characters; it cannot be sent "
                          "in an HTTP header (value not shown)")
    return token or None


def _testsets(paths: list[Path] | None) -> tuple[Path, ...]:
    from pytest_mes.testset.loader import no_testset_at

    if not paths:
        return (bundled_dir("testsets"),)
    roots = []
    for path in paths:
        # The ini file's 'paths' type has already made 'bundled' absolute, beside the ini file.
        if path.name == BUNDLED and not path.exists():
            path = bundled_dir("testsets")
        path = path.resolve()
        problem = no_testset_at(path)
        if problem:
            raise ConfigError(f"--mes-testsets {path}: {problem}")
        roots.append(path)
    return tuple(roots)


def _components(values: list[str] | None) -> frozenset[str]:
    if not values:
        return frozenset(COMPONENTS)
    unknown = [v for v in values if v not in COMPONENTS]
    if unknown:
        raise ConfigError(f"--mes-component {unknown[0]!r}: choose among {', '.join(COMPONENTS)}")
    return frozenset(values)


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    name, value = name.strip(), value.strip()
    if not sep or not name or " " in name:
        shown = f"'{name}: ***'" if sep and is_secret_name(name) else repr(text)
        raise ConfigError(f"--mes-header {shown}: write it as 'Name: value', e.g. --mes-header='X-Tenant: abc'")
    if any(ord(c) < 32 or ord(c) == 127 for c in name + value):
        raise ConfigError(f"--mes-header {name}: the value contains control characters (value not shown)")
    return name, value


def _assignment(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip().isidentifier():
        raise ConfigError(f"--mes-var {text!r}: write it as NAME=VALUE, e.g. --mes-var patient_ins=1234567890123")
    return name.strip(), value


def _file(path: str | None, flag: str) -> str | None:
    if path:
        require_file(path, flag)
    return path


def _check_tls_files(ca_bundle: str | None, client_cert: str | None, client_key: str | None) -> None:
    """Read the TLS files now: one that cannot be used is the user's to fix, said once with its option, rather
    than as a TLS failure of the server on every request."""
    if not (ca_bundle or client_cert):
        return
    import ssl

    if ca_bundle:
        try:
            ssl.create_default_context(cafile=ca_bundle)
        except (ssl.SSLError, ValueError) as exc:
            raise ConfigError(f"--mes-ca-bundle {ca_bundle}: no PEM certificate authority could be read from it "
                              f"({exc}); give the PEM file of the authorities that sign the server's "
                              "certificate") from None
    if client_cert:
        named = f"--mes-client-cert {client_cert}" + (f" / --mes-client-key {client_key}" if client_key else "")
        try:
            # A password callback, so that OpenSSL never prompts on the terminal for an encrypted key.
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(client_cert, client_key, password=_no_password)
        except _EncryptedKey:
            raise ConfigError(f"{named}: the key is encrypted; give it unencrypted (e.g. `openssl pkey -in KEY "
                              "-out key.pem`) and keep that file private") from None
        except (ssl.SSLError, ValueError) as exc:
            raise ConfigError(f"{named}: not a PEM certificate with its private key ({exc}); give the certificate "
                              "and the key that goes with it, in PEM") from None


class _EncryptedKey(Exception):
    pass


def _no_password() -> bytes:
    raise _EncryptedKey


_LONGEST_TIMEOUT = 86400


def _timeouts(text: str | None) -> tuple[float, float]:
    if not text:
        return 10.0, 30.0
    try:
        parts = [float(p) for p in str(text).split(",")]
    except ValueError:
        parts = []
    # (at most a day: a socket takes no infinite timeout, nor one beyond the system's clock)
    if len(parts) not in (1, 2) or not all(0 < p <= _LONGEST_TIMEOUT for p in parts):
        raise ConfigError(f"--mes-timeout {text!r}: give seconds, READ or CONNECT,READ (e.g. 30 or 5,60), each at "
                          f"most {_LONGEST_TIMEOUT} (a day)")
    return (min(10.0, parts[0]), parts[0]) if len(parts) == 1 else (parts[0], parts[1])


def _positive_int(text: str | None, default: int) -> int:
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise ConfigError(f"--mes-max-response-bytes {text!r}: give a positive whole number of bytes")
    return value
