"""Where FHIR packages come from: folders of ``.tgz`` files or unpacked packages, the FHIR package cache,
the FHIR package registry (downloaded into that cache unless offline), checked against the pinned sha256.

Resolution order for ``id#version``: the folders given as ``sources`` (``.tgz`` files or unpacked
packages), then the FHIR package cache (``~/.fhir/packages``), then a download from the FHIR package
registry into that cache unless ``offline`` (see :mod:`.registry`). :class:`Loader` finds a requested
set and its dependency closure, remembering what is missing (:class:`MissingPackage`) and who needs it.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import re
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_mes.errors import PackageError
from pytest_mes.fhir import cache
from pytest_mes.fhir.package import (
    CORE_ID,
    Package,
    best_match,
    names_a_package,
    open_package,
    package_folder,
    split_spec,
    version_key,
    version_matches,
)
from pytest_mes.fhir.registry import DEFAULT_REGISTRY, Registry, fetch_tgz


def scan_source(path: Path, index_root: Path) -> tuple[list[Package], list[str]]:
    """Packages found in one source: a .tgz, an unpacked package, or a folder of either."""
    found: list[Package] = []
    problems: list[str] = []
    if not path.exists():
        return found, [f"package source {path} does not exist"]
    candidates: list[Path]
    if path.is_file() or package_folder(path) is not None:
        candidates = [path]
    else:
        candidates = sorted(
            c for c in path.iterdir() if c.name.endswith(".tgz") or (c.is_dir() and package_folder(c) is not None)
        )
    for candidate in candidates:
        try:
            found.append(open_package(candidate, index_root=index_root))
        except PackageError as exc:
            problems.append(str(exc))
    return found, problems


def default_package_set() -> list[str]:
    """The MES profile set (``profiles/packages.yaml``): the packages loaded when none are named."""
    return [spec for spec, _ in _profile_set()]


def pinned_sha256() -> dict[str, str]:
    """``id#version`` -> the sha256 of its published ``.tgz``, as ``profiles/packages.yaml`` pins it."""
    return dict(_profile_set())


@functools.cache
def _profile_set() -> tuple[tuple[str, str], ...]:
    """(``id#version``, sha256) of each package of ``profiles/packages.yaml``, its shape checked."""
    import yaml  # imported here: only needed when the default set is used

    from pytest_mes.resources import bundled_dir

    path = bundled_dir("profiles") / "packages.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    found = []
    for i, item in enumerate(data.get("packages") or []):
        spec = item.get("package") if isinstance(item, dict) else None
        digest = item.get("sha256") if isinstance(item, dict) else None
        if not isinstance(spec, str) or "#" not in spec or not isinstance(digest, str) or \
                not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise PackageError(f"{path}: packages[{i}] must be {{package: ID#VERSION, sha256: <64 hex digits>}}, "
                               f"found {item!r}")
        found.append((spec, digest))
    return tuple(found)


def check_pinned(package_key: str, digest: str, where: str, pins: Mapping[str, str]) -> None:
    """Raise PackageError when `package_key` is pinned to another sha256 than `digest`."""
    expected = pins.get(package_key)
    if expected is None or expected == digest:
        return
    pid, _, version = package_key.partition("#")
    raise PackageError(
        f"{package_key} ({where}) is not the published package the MES profile set pins: its sha256 is {digest}, "
        f"expected {expected} (profiles/packages.yaml). It was modified or comes from another build: replace it "
        f"with the published one (`mes packages install {package_key}`, or {DEFAULT_REGISTRY}/{pid}/{version}) "
        "and remove this copy."
    )


def download_package(
    pid: str, version: str, cache_dir: Path, *, registry_url: str | None = None,
    pins: Mapping[str, str] | None = None,
) -> Path:
    """Download ``pid#version`` from the FHIR package registry and unpack it into the FHIR package cache.

    Returns the ``<cache>/<id>#<version>`` folder. ``version`` empty means the registry's latest. A
    package whose sha256 is not the one `pins` (default: the MES profile set's) gives is refused.
    """
    data, version, origin = fetch_tgz(pid, version, registry_url)
    return install_tgz_bytes(data, cache_dir, expected=(pid, version), origin=origin, pins=pins)


# A package name or version, as the cache folder `<id>#<version>` is named from them: never a path (no separator,
# no leading dot), so that a package.json cannot unpack, or remove a folder, outside the cache.
_PACKAGE_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")


def install_tgz_bytes(
    data: bytes, cache_dir: Path, *, expected: tuple[str, str] | None = None, origin: str = "",
    pins: Mapping[str, str] | None = None,
) -> Path:
    """Unpack a package ``.tgz`` (bytes) into the FHIR package cache; returns ``<cache>/<id>#<version>``.

    Raises PackageError, installing nothing, when it is a package `pins` (default: the MES profile
    set's) pins to another sha256: only the published packages enter the cache, where they are not
    hashed again."""
    try:
        tar = tarfile.open(fileobj=io.BytesIO(data), mode="r:gz")  # noqa: SIM115 - closed by the `with` below
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise PackageError(f"{origin or 'package'}: not a FHIR package .tgz: {exc}") from exc
    with tar:
        try:
            member = tar.getmember("package/package.json")
            fh = tar.extractfile(member)
            manifest = cache.loads(fh.read()) if fh else None
        except (KeyError, ValueError) as exc:
            raise PackageError(f"{origin or 'package'}: no readable package/package.json") from exc
        if not names_a_package(manifest):
            raise PackageError(f"{origin or 'package'}: package.json needs a name and a version")
        pid, version = str(manifest["name"]), str(manifest["version"])
        if not (_PACKAGE_PART.fullmatch(pid) and _PACKAGE_PART.fullmatch(version)):
            raise PackageError(f"{origin or 'package'}: {pid!r}#{version!r} is not a FHIR package name and version "
                               "(letters, digits, '.', '-', '_', '+'; no path): nothing installed")
        if expected and expected[0] != pid:
            raise PackageError(f"{origin}: the registry sent {pid}#{version} instead of {expected[0]}")
        check_pinned(f"{pid}#{version}", hashlib.sha256(data).hexdigest(), origin or "package",
                     pinned_sha256() if pins is None else pins)
        target = cache_dir / f"{pid}#{version}"
        tmp = cache_dir / f".{pid}#{version}.{os.getpid()}.tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        try:
            tar.extractall(tmp, filter="data")  # "data" refuses absolute paths, links out of the tree, devices
        except (tarfile.TarError, OSError) as exc:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
            raise PackageError(f"{origin or pid}: unsafe or unreadable package archive: {exc}") from exc
    if target.exists():
        import shutil

        shutil.rmtree(target)
    os.replace(tmp, target)
    return target


@dataclass(frozen=True)
class MissingPackage:
    """A package (or dependency) that could not be had: ``spec`` ``id#version``, the packages that need it,
    and the loaded version that stands in for it in unversioned references, if any."""

    id: str
    version: str
    required_by: tuple[str, ...] = ()
    substitute: str | None = None

    @property
    def spec(self) -> str:
        return f"{self.id}#{self.version}" if self.version else self.id

    def describe(self) -> str:
        text = self.spec + (f" (required by {', '.join(self.required_by)})" if self.required_by else "")
        return text + (f"; {self.substitute} stands in for it" if self.substitute else "")



class Loader:
    """Finds each requested package and its dependencies, remembering what is missing and who needs it."""

    def __init__(self, available: dict[str, Package], fhir_cache: Path, index_root: Path, registry: Registry | None,
                 pins: Mapping[str, str]):
        self.available = available
        self.pins = pins
        self.fhir_cache = fhir_cache
        self.index_root = index_root
        self.registry = registry
        self.missing: dict[str, dict[str, list[str]]] = {}  # id -> version -> [required by]
        self.errors: list[str] = []

    def _from_cache(self, pid: str, version: str) -> Package | None:
        if not self.fhir_cache.is_dir():
            return None
        candidates = []
        for folder in self.fhir_cache.glob(f"{pid}#*"):
            v = folder.name.split("#", 1)[1]
            if version_matches(version, v) and package_folder(folder) is not None:
                candidates.append((v, folder))
        if not candidates:
            return None
        _, folder = max(candidates, key=lambda c: version_key(c[0]))
        try:
            return open_package(folder, index_root=self.index_root)
        except PackageError as exc:
            self.errors.append(str(exc))
            return None

    def find(self, pid: str, version: str) -> Package | None:
        local = best_match(self.available, pid, version)
        if local is not None:
            return local
        package = self._from_cache(pid, version)
        if package is None and self.registry is not None:
            fetched = self.registry.fetch(pid, version)
            if fetched is not None:
                data, got_version, origin = fetched
                try:
                    folder = install_tgz_bytes(data, self.fhir_cache, expected=(pid, got_version), origin=origin,
                                               pins=self.pins)
                    package = open_package(folder, index_root=self.index_root)
                except PackageError as exc:
                    self.errors.append(str(exc))
        if package is not None:
            self.available[package.key] = package
        return package

    def load_closure(self, requested: Sequence[str]) -> list[Package]:
        loaded: dict[str, Package] = {}
        queue: list[tuple[str, str, str]] = []  # (id, version, required by)
        for spec in requested:
            pid, version = split_spec(spec)
            queue.append((pid, version, ""))
        seen: set[tuple[str, str]] = set()
        while queue:
            pid, version, by = queue.pop(0)
            if (pid, version) in seen:
                if by and version in self.missing.get(pid, {}):
                    self.missing[pid][version].append(by)
                continue
            seen.add((pid, version))
            package = self.find(pid, version)
            if package is None:
                self.missing.setdefault(pid, {}).setdefault(version, [])
                if by:
                    self.missing[pid][version].append(by)
                continue
            if package.key in loaded:
                continue
            loaded[package.key] = package
            for dep_id, dep_version in package.dependencies.items():
                queue.append((dep_id, dep_version, package.key))
        return sorted(loaded.values(), key=lambda p: (p.id != CORE_ID, p.id, version_key(p.version)))

    def missing_packages(self) -> list[MissingPackage]:
        out = []
        for pid in sorted(self.missing):
            loaded = sorted((p.version for p in self.available.values() if p.id == pid), key=version_key)
            substitute = f"{pid}#{loaded[-1]}" if loaded else None
            for version, by in sorted(self.missing[pid].items(), key=lambda item: version_key(item[0])):
                out.append(MissingPackage(pid, version, tuple(sorted(set(by))), substitute))
        return out
