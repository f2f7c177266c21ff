"""The FHIR package registry: download package ``.tgz`` files, politely.

A registry that cannot be reached costs one attempt per package per day, not one per process: every
failure is remembered, with its time, in the pytest-mes cache (``registry-failures.json``), and every
process (each pytest-xdist worker, each ``mes`` command) reads that memory before trying again. Within
one load, once the registry is found unreachable, the other packages are not tried.
``mes packages install`` always tries (the user asked for it now).
"""

from __future__ import annotations

import contextlib
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from pytest_mes.errors import PackageError
from pytest_mes.fhir import cache

DEFAULT_REGISTRY = "https://packages.fhir.org"
RETRY_AFTER_S = 24 * 3600
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 15.0  # between two reads, not for the whole download
_MEMORY_FILE = "registry-failures.json"


class RegistryDown(PackageError):
    """The registry did not answer at all (name resolution, refused connection, timeout, 5xx)."""


def registry_base(registry_url: str | None = None) -> str:
    return (registry_url or os.environ.get("MES_FHIR_REGISTRY") or DEFAULT_REGISTRY).rstrip("/")


def fetch_tgz(pid: str, version: str, registry_url: str | None = None) -> tuple[bytes, str, str]:
    """Download the ``.tgz`` of ``pid#version`` (``version`` empty: the latest): (bytes, version, url).

    The FHIR registry answers ``{base}/{id}/{version}`` with the ``.tgz``; an npm registry (registry.npmjs.org,
    a company's npm proxy), which also publishes FHIR packages, with the version's manifest: its
    ``dist.tarball`` is then downloaded, and checked against its ``dist.integrity``.

    Raises:
        RegistryDown: the registry did not answer; PackageError: it answered, without the package.
    """
    import requests

    base = registry_base(registry_url)
    timeout = (CONNECT_TIMEOUT_S, READ_TIMEOUT_S)
    try:
        if not version or version in ("latest", "current"):
            meta = requests.get(f"{base}/{pid}", timeout=timeout, headers={"Accept": "application/json"})
            meta.raise_for_status()
            version = meta.json()["dist-tags"]["latest"]
        url = f"{base}/{pid}/{version}"
        response = requests.get(url, timeout=timeout, headers={"Accept": "application/tar+gzip"})
        response.raise_for_status()
        if response.content[:1] == b"{":  # an npm registry: the version's manifest, which names the tarball
            dist = response.json()["dist"]
            url = dist["tarball"]
            response = requests.get(url, timeout=timeout)
            response.raise_for_status()
            _check_integrity(response.content, dist.get("integrity"), url)
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else 0
        if status >= 500:
            raise RegistryDown(f"{base} answered HTTP {status}") from None
        raise PackageError(f"{pid}#{version or 'latest'} not on {base} (HTTP {status})") from None
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise RegistryDown(f"{base} unreachable: {_network_reason(exc)}") from None
    except (requests.RequestException, KeyError, TypeError, ValueError) as exc:
        raise PackageError(f"{pid}#{version or 'latest'}: download from {base} failed: {exc}") from None
    return response.content, version, url


def _check_integrity(data: bytes, integrity: str | None, url: str) -> None:
    """npm's Subresource Integrity string (``sha512-<base64>``, the first of several), when given."""
    import base64
    import hashlib

    algorithm, _, expected = ((integrity or "").split() or [""])[0].partition("-")
    if algorithm not in hashlib.algorithms_available or not expected:
        return
    if base64.b64encode(hashlib.new(algorithm, data).digest()).decode() != expected:
        raise PackageError(f"{url}: the download does not match the registry's {algorithm} integrity hash: a "
                           "proxy altered it or the transfer was cut; try again")


def _network_reason(exc: Exception) -> str:
    """A few words instead of urllib3's nested reprs (HTTPSConnectionPool(…): Max retries exceeded…)."""
    import requests

    text = repr(exc)
    if "NameResolutionError" in text or "getaddrinfo" in text or "Name or service not known" in text:
        return "host name not resolved (no network, or HTTPS_PROXY needed)"
    if isinstance(exc, requests.ConnectTimeout) or "ConnectTimeoutError" in text:
        return f"no connection within {CONNECT_TIMEOUT_S:g} s"
    if isinstance(exc, requests.ReadTimeout):
        return f"no answer within {READ_TIMEOUT_S:g} s"
    if "Connection refused" in text or "ConnectionRefusedError" in text:
        return "connection refused"
    return type(exc).__name__


class Registry:
    """The registry as one load of packages uses it: each package tried at most once a day (failures are
    remembered in the pytest-mes cache), and not at all once the registry has been found down."""

    def __init__(self, registry_url: str | None = None, memory_dir: Path | None = None):
        self.url = registry_base(registry_url)
        self._memory_file = (memory_dir or cache.index_cache_dir()) / _MEMORY_FILE
        self._memory = self._read_memory()
        self.down: str | None = None  # why the registry is considered down for this load
        self.failures: dict[str, str] = {}  # "id#version" -> why it was not downloaded

    def fetch(self, pid: str, version: str) -> tuple[bytes, str, str] | None:
        """What :func:`fetch_tgz` gives, or None (the reason is in ``failures``)."""
        spec = f"{pid}#{version}" if version else pid
        remembered = self._memory.get(f"{self.url}|{spec}")
        if remembered and time.time() - remembered["at"] < RETRY_AFTER_S:
            self.failures[spec] = f"{remembered['reason']} (at {_hhmm(remembered['at'])}; not retried before " \
                                  f"{_hhmm(remembered['at'] + RETRY_AFTER_S)})"
            return None
        if self.down:
            self.failures[spec] = self.down
            self._remember(spec, self.down)
            return None
        try:
            return fetch_tgz(pid, version, self.url)
        except RegistryDown as exc:
            self.down = str(exc)
            self.failures[spec] = self.down
            self._remember(spec, self.down)
        except PackageError as exc:
            self.failures[spec] = str(exc)
            self._remember(spec, str(exc))
        return None

    def _read_memory(self) -> dict[str, dict]:
        try:
            memory = cache.read_json(self._memory_file)
        except (OSError, ValueError):
            return {}
        return memory if isinstance(memory, dict) else {}

    def _remember(self, spec: str, reason: str) -> None:
        # Read again before writing: another process (an xdist worker) may have added its own failures.
        memory = self._read_memory()
        memory[f"{self.url}|{spec}"] = {"at": time.time(), "reason": reason}
        self._memory = memory
        with contextlib.suppress(OSError):  # a read-only cache: this process still remembers
            cache.write_json_atomic(self._memory_file, memory)


def _hhmm(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")
