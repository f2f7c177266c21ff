"""The loaded FHIR packages: :meth:`PackageStore.load` finds a set and its dependencies (see :mod:`.sources`)
and resolves canonicals across them (see :mod:`.canonicals`).

Missing dependencies are listed in :attr:`PackageStore.missing` and named on one line of
:attr:`PackageStore.warnings`, and loading goes on; only a missing ``hl7.fhir.r4.core`` is fatal.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from pytest_mes.errors import PackageError
from pytest_mes.fhir import cache
from pytest_mes.fhir.canonicals import Canonicals
from pytest_mes.fhir.package import CORE_ID, CORE_VERSION, Package
from pytest_mes.fhir.registry import Registry
from pytest_mes.fhir.sources import (
    Loader,
    MissingPackage,
    check_pinned,
    default_package_set,
    pinned_sha256,
    scan_source,
)


class PackageStore(Canonicals):
    """Loaded FHIR packages and canonical resolution across them.

    Build it with :meth:`load`. ``packages`` lists the loaded packages (``.id``, ``.version``,
    ``.path``); ``missing`` the packages or dependencies that could not be had, and who needs them;
    ``warnings`` says it in a few lines (unreadable sources, then one line naming the missing packages).
    """

    def __init__(self, packages: Sequence[Package], problems: Sequence[str] = (),
                 missing: Sequence[MissingPackage] = (), looked: str = ""):
        super().__init__(packages)
        self.problems: list[str] = list(problems)  # what could not be read
        self.missing: list[MissingPackage] = list(missing)
        self.looked = looked  # where the missing packages were looked for, said with them

    @property
    def warnings(self) -> list[str]:
        """What could not be read, then one line naming the missing packages."""
        if not self.missing:
            return list(self.problems)
        return [*self.problems, f"FHIR packages missing, checks that need them are not made: "
                f"{self.missing_summary()} — {self.looked}. `mes packages list` says who needs them."]

    # ---- loading ---------------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        sources: Iterable[str | os.PathLike[str]] = (),
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        offline: bool = False,
        registry_url: str | None = None,
        packages: Sequence[str] | None = None,
        pins: Mapping[str, str] | None = None,
    ) -> PackageStore:
        """Load packages and their dependency closure.

        Args:
            sources: folders of ``.tgz`` files or unpacked packages (or such files/packages directly),
                looked at first.
            cache_dir: the FHIR package cache (default ``$FHIR_PACKAGE_CACHE`` or ``~/.fhir/packages``).
            offline: never download; missing packages become warnings.
            registry_url: the FHIR package registry (default ``$MES_FHIR_REGISTRY`` or packages.fhir.org);
                a package that failed to download is not tried again for a day (see :mod:`.registry`).
            packages: ``"id#version"`` to load; default: the MES profile set plus every package
                found in `sources`.
            pins: ``id#version`` -> sha256 of its ``.tgz``; default: the MES profile set's
                (``profiles/packages.yaml``). Checked for each package read from a ``.tgz`` and each
                download; an unpacked folder is not hashed (what pytest-mes unpacks was checked first).

        Raises:
            PackageError: ``hl7.fhir.r4.core`` cannot be found (nothing can be validated without it), or a
                pinned package is not the published one.
        """
        pins = pinned_sha256() if pins is None else pins
        index_root = cache.index_cache_dir()
        fhir_cache = cache.fhir_package_cache(cache_dir)
        source_paths = [Path(s).expanduser() for s in sources]
        problems: list[str] = []
        available: dict[str, Package] = {}
        for src in source_paths:
            found, unread = scan_source(src, index_root)
            problems.extend(unread)
            for package in found:
                available.setdefault(package.key, package)
        requested = list(packages) if packages is not None else default_package_set() + sorted(available)
        registry = None if offline else Registry(registry_url, index_root)
        loader = Loader(available, fhir_cache, index_root, registry, pins)
        loaded = loader.load_closure(requested)
        for package in loaded:
            if package.sha256 is not None:
                check_pinned(package.key, package.sha256, str(package.path), pins)
        problems.extend(loader.errors)
        looked = ", ".join([*(str(p) for p in source_paths), f"the FHIR package cache {fhir_cache}"])
        if not any(p.id == CORE_ID for p in loaded):
            raise PackageError(
                f"{CORE_ID}#{CORE_VERSION} (the FHIR R4 base) was not found, so nothing can be validated. "
                f"Looked in: {looked}; {_registry_state(registry, f'{CORE_ID}#{CORE_VERSION}')}. "
                f"Fix: `mes packages install {CORE_ID}#{CORE_VERSION}` (or `mes packages install --from "
                f"{CORE_ID}-{CORE_VERSION}.tgz`), or point --mes-packages (`mes … --packages`) or MES_FHIR_PACKAGES "
                "at a folder that holds it."
            )
        return cls(loaded, problems, loader.missing_packages(), f"looked in {looked}; {_registry_state(registry)}")

    def missing_summary(self) -> str:
        """The missing packages on one line: ``a (1.0, 2.0), b#3.0``; "" when none is missing."""
        versions: dict[str, list[str]] = {}
        for m in self.missing:
            versions.setdefault(m.id, []).append(m.version)
        return ", ".join(f"{pid}#{vs[0]}" if len(vs) == 1 else f"{pid} ({', '.join(vs)})"
                         for pid, vs in versions.items())


def _registry_state(registry: Registry | None, spec: str | None = None) -> str:
    """How the registry was used, in a few words: offline, down, or what it said."""
    if registry is None:
        return "downloads off (offline)"
    if spec is None:
        reasons = list(registry.failures.values())
    else:
        reasons = [registry.failures[spec]] if spec in registry.failures else []
    if not reasons:
        return f"the package registry {registry.url}"
    commonest = max(set(reasons), key=reasons.count)
    return f"the package registry: {commonest}"

