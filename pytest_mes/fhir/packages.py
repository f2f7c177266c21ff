"""FHIR packages: find them (folders, ``.tgz``, the FHIR cache, the registry), index them, resolve canonicals.

A package is indexed once (canonical url, version, resource type, where its JSON sits) and the index
is cached (see :mod:`pytest_mes.fhir.cache`); definitions are parsed only when first asked for.

Resolution order for ``id#version``: the folders given as ``sources`` (``.tgz`` files or unpacked
packages), then the FHIR package cache (``~/.fhir/packages``), then a download from the FHIR package
registry into that cache unless ``offline`` (see :mod:`.registry`). Missing dependencies are listed in
:attr:`PackageStore.missing` and named on one line of :attr:`PackageStore.warnings`, and loading goes on;
only a missing ``hl7.fhir.r4.core`` is fatal.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import os
import re
import tarfile
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_mes.errors import PackageError
from pytest_mes.fhir import cache
from pytest_mes.fhir.registry import DEFAULT_REGISTRY, Registry, fetch_tgz

CORE_ID = "hl7.fhir.r4.core"
CORE_VERSION = "4.0.1"
FHIR_BASE = "http://hl7.org/fhir/StructureDefinition/"

# Resource types worth indexing by canonical url (the rest of a package is documentation).
_CANONICAL_TYPES = frozenset(
    {
        "StructureDefinition", "ValueSet", "CodeSystem", "SearchParameter", "CapabilityStatement",
        "OperationDefinition", "ConceptMap", "NamingSystem", "ImplementationGuide", "CompartmentDefinition",
        "Questionnaire", "Measure", "Library",  # QuestionnaireResponse, MeasureReport, Measure are checked against
    }
)


# --------------------------------------------------------------------------------------------------
# Versions


def _version_key(version: str) -> tuple:
    """Sort key: numeric parts numerically; a pre-release (``1.2.0-snapshot-2``) sorts before its release."""
    main, _, pre = version.partition("-")
    parts = tuple(int(p) if p.isdigit() else -1 for p in main.split("."))
    return (parts, 0 if pre else 1, pre)


def _version_matches(wanted: str, version: str) -> bool:
    if wanted in ("", "latest", "current", "dev"):
        return True
    if "x" in wanted.split("."):  # "4.0.x" style wildcards in package.json dependencies
        pattern = re.escape(wanted).replace(r"\.x", r"\.[^.]+")
        return re.fullmatch(pattern, version) is not None
    return wanted == version


def split_spec(spec: str) -> tuple[str, str]:
    """``"id#version"`` (or ``"id@version"``, ``"id"``) -> ``(id, version)``; version ``""`` means latest."""
    for sep in ("#", "@"):
        if sep in spec:
            pid, _, version = spec.partition(sep)
            return pid.strip(), version.strip()
    return spec.strip(), ""


# --------------------------------------------------------------------------------------------------
# One package


@dataclass
class Package:
    """One loaded FHIR package: ``id``, ``version``, where it came from (``path``) and its index."""

    id: str
    version: str
    path: Path
    manifest: dict
    entries: list[dict] = field(repr=False)
    _folder: Path | None = field(default=None, repr=False)  # unpacked package: files read from here
    _blob: Path | None = field(default=None, repr=False)  # .tgz: JSON concatenated in the index cache
    _memory: bytes | None = field(default=None, repr=False)  # .tgz, when the index cache is not writable
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _parsed: dict[int, dict] = field(default_factory=dict, repr=False)
    sha256: str | None = field(default=None, repr=False)  # of the .tgz file; None for an unpacked folder

    @property
    def key(self) -> str:
        return f"{self.id}#{self.version}"

    @property
    def dependencies(self) -> dict[str, str]:
        deps = self.manifest.get("dependencies") or {}
        return {str(k): str(v) for k, v in deps.items()}

    def read(self, entry_index: int) -> dict:
        """The parsed resource of index entry `entry_index` (parsed once, then kept)."""
        parsed = self._parsed.get(entry_index)
        if parsed is not None:
            return parsed
        entry = self.entries[entry_index]
        if self._memory is not None:
            data = self._memory[entry["o"]:entry["o"] + entry["n"]]
        elif self._blob is not None:
            try:
                with self._lock, open(self._blob, "rb") as fh:
                    fh.seek(entry["o"])
                    data = fh.read(entry["n"])
                if len(data) != entry["n"]:
                    raise ValueError("resources.bin tronqué")
                resource = cache.loads(data)
            except (OSError, ValueError):
                # The index cache was damaged after it was checked: read the package itself again.
                _, _, blob = _extract_tgz(self.path)
                self._memory = blob
                self._blob = None
                return self.read(entry_index)
            self._parsed[entry_index] = resource
            return resource
        else:
            assert self._folder is not None
            data = (self._folder / entry["f"]).read_bytes()
        resource = cache.loads(data)
        self._parsed[entry_index] = resource
        return resource

    def examples(self) -> Iterator[tuple[str, dict]]:
        """The example resources the package ships, as ``(file name, resource)``."""
        for i, entry in enumerate(self.entries):
            if entry.get("x"):
                yield entry["f"], self.read(i)

    def resources(self, resource_type: str | None = None) -> Iterator[dict]:
        """The package's canonical resources (not its examples), optionally of one type."""
        for i, entry in enumerate(self.entries):
            if not entry.get("x") and (resource_type is None or entry["t"] == resource_type):
                yield self.read(i)


def _index_entry(name: str, resource: Any, *, example: bool) -> dict | None:
    if not isinstance(resource, dict) or "resourceType" not in resource:
        return None
    rtype = resource["resourceType"]
    entry: dict[str, Any] = {"f": name, "t": rtype, "id": resource.get("id")}
    if example:
        entry["x"] = 1
    elif rtype in _CANONICAL_TYPES and isinstance(resource.get("url"), str):
        entry["u"] = resource["url"]
        if isinstance(resource.get("version"), str):
            entry["v"] = resource["version"]
        if rtype == "StructureDefinition":
            entry["ty"] = resource.get("type")
            entry["k"] = resource.get("kind")
            entry["d"] = resource.get("derivation")
    else:
        return None
    return entry


def _member_kind(name: str) -> str | None:
    """``"def"`` for ``package/X.json``, ``"ex"`` for ``package/example/X.json``, else None."""
    parts = name.split("/")
    if len(parts) == 2 and parts[0] == "package" and parts[1].endswith(".json") and not parts[1].startswith("."):
        return "def" if parts[1] != "package.json" else "manifest"
    if len(parts) == 3 and parts[:2] == ["package", "example"] and parts[2].endswith(".json"):
        return "ex"
    return None


def _index_tgz(path: Path, index_root: Path) -> Package:
    """Index a ``.tgz`` package, through the index cache (built on first sight of this file)."""
    key = cache.stamp_key(path)
    target = index_root / "tgz" / key
    index_file = target / "index.json"
    if index_file.is_file():
        try:
            data = cache.read_json(index_file)
            blob_file = target / "resources.bin"
            # resources.bin missing or truncated (a disk full, a cleaner): rebuild.
            if blob_file.stat().st_size == data["blob_size"]:
                return Package(data["id"], data["version"], path, data["manifest"], data["entries"], _blob=blob_file,
                               sha256=data["sha256"])
        except (OSError, ValueError, KeyError, TypeError):
            pass  # a damaged cache entry is rebuilt below
    manifest, entries, blob_bytes = _extract_tgz(path)
    pid, version = str(manifest["name"]), str(manifest["version"])
    digest = _sha256_of_file(path)
    try:
        target.mkdir(parents=True, exist_ok=True)
        tmp = target / f".resources.{os.getpid()}.tmp"
        tmp.write_bytes(blob_bytes)
        os.replace(tmp, target / "resources.bin")
        cache.write_json_atomic(index_file, {"id": pid, "version": version, "manifest": manifest, "entries": entries,
                                             "blob_size": len(blob_bytes), "sha256": digest})
    except OSError:  # a read-only cache: keep the package in memory, only the next start is slower
        return Package(pid, version, path, manifest, entries, _memory=blob_bytes, sha256=digest)
    return Package(pid, version, path, manifest, entries, _blob=target / "resources.bin", sha256=digest)


def _sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _extract_tgz(path: Path) -> tuple[dict, list[dict], bytes]:
    """Read a ``.tgz`` package: (manifest, index entries, the resources' JSON concatenated)."""
    manifest: dict | None = None
    entries: list[dict] = []
    blob = io.BytesIO()
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                kind = _member_kind(member.name)
                if kind is None:
                    continue
                fh = tar.extractfile(member)
                if fh is None:
                    continue
                data = fh.read()
                try:
                    resource = cache.loads(data)
                except ValueError:
                    continue  # a broken file in a published package is skipped, not fatal
                if kind == "manifest":
                    manifest = resource
                    continue
                entry = _index_entry(member.name.rsplit("/", 1)[1], resource, example=kind == "ex")
                if entry is None:
                    continue
                entry["o"] = blob.tell()
                entry["n"] = len(data)
                blob.write(data)
                entries.append(entry)
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise PackageError(f"{path}: not a readable FHIR package (.tgz): {exc}") from exc
    if not isinstance(manifest, dict) or not manifest.get("name") or not manifest.get("version"):
        raise PackageError(f"{path}: no package/package.json with a name and a version; is it a FHIR package?")
    return manifest, entries, blob.getvalue()


def _package_folder(path: Path) -> Path | None:
    """The ``package/`` folder of an unpacked package at `path` (the folder itself or its ``package/``)."""
    if (path / "package" / "package.json").is_file():
        return path / "package"
    if (path / "package.json").is_file():
        return path
    return None


def _folder_stamp(folder: Path) -> str:
    """Changes whenever a ``*.json`` of the folder or of its ``example/`` is added, removed or edited
    in place (an in-place edit leaves the folder's own mtime unchanged)."""
    digest = hashlib.sha1()
    for sub in (folder, folder / "example"):
        if not sub.is_dir():
            continue
        for file in sorted(sub.glob("*.json")):
            try:
                st = file.stat()
            except OSError:
                continue
            digest.update(f"{file.relative_to(folder)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:8]


def _index_folder(folder: Path, index_root: Path) -> Package:
    """Index an unpacked package folder (``…/package``), through the index cache."""
    manifest_path = folder / "package.json"
    key = cache.stamp_key(manifest_path) + _folder_stamp(folder)
    index_file = index_root / "dir" / key / "index.json"
    if index_file.is_file():
        try:
            data = cache.read_json(index_file)
            return Package(data["id"], data["version"], folder, data["manifest"], data["entries"], _folder=folder)
        except (OSError, ValueError, KeyError):
            pass
    try:
        manifest = cache.read_json(manifest_path)
    except (OSError, ValueError) as exc:
        raise PackageError(f"{manifest_path}: unreadable package manifest: {exc}") from exc
    if not isinstance(manifest, dict) or not manifest.get("name") or not manifest.get("version"):
        raise PackageError(f"{manifest_path}: a package.json needs a name and a version")
    entries: list[dict] = []
    for sub, example in ((folder, False), (folder / "example", True)):
        if not sub.is_dir():
            continue
        for file in sorted(sub.glob("*.json")):
            if file.name == "package.json" or file.name.startswith("."):
                continue
            try:
                resource = cache.read_json(file)
            except (OSError, ValueError):
                continue
            entry = _index_entry(file.name if not example else f"example/{file.name}", resource, example=example)
            if entry is not None:
                entries.append(entry)
    pid, version = str(manifest["name"]), str(manifest["version"])
    with contextlib.suppress(OSError):  # a read-only cache only costs speed
        cache.write_json_atomic(
            index_file, {"id": pid, "version": version, "manifest": manifest, "entries": entries}
        )
    return Package(pid, version, folder, manifest, entries, _folder=folder)


def open_package(path: str | os.PathLike[str], *, index_root: Path | None = None) -> Package:
    """Open one package: a ``.tgz`` file or an unpacked folder (``X/package/package.json`` or ``X/package.json``)."""
    p = Path(path)
    root = index_root or cache.index_cache_dir()
    if p.is_file():
        return _index_tgz(p, root)
    folder = _package_folder(p)
    if folder is None:
        raise PackageError(f"{p}: neither a .tgz FHIR package nor a folder holding package/package.json")
    return _index_folder(folder, root)


# --------------------------------------------------------------------------------------------------
# Finding packages


def _scan_source(path: Path, index_root: Path) -> tuple[list[Package], list[str]]:
    """Packages found in one source: a .tgz, an unpacked package, or a folder of either."""
    found: list[Package] = []
    problems: list[str] = []
    if not path.exists():
        return found, [f"package source {path} does not exist"]
    candidates: list[Path]
    if path.is_file() or _package_folder(path) is not None:
        candidates = [path]
    else:
        candidates = sorted(
            c for c in path.iterdir() if c.name.endswith(".tgz") or (c.is_dir() and _package_folder(c) is not None)
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
        if not isinstance(manifest, dict) or not manifest.get("name") or not manifest.get("version"):
            raise PackageError(f"{origin or 'package'}: package.json needs a name and a version")
        pid, version = str(manifest["name"]), str(manifest["version"])
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


# --------------------------------------------------------------------------------------------------
# The store


@dataclass(frozen=True)
class Substitution:
    """A pinned dependency that is missing, and the loaded version used in its place."""

    used: str  # id#version loaded
    wanted: str  # id#version pinned
    by: str  # the package that pins it


class PackageStore:
    """Loaded FHIR packages and canonical resolution across them.

    Build it with :meth:`load`. ``packages`` lists the loaded packages (``.id``, ``.version``,
    ``.path``); ``missing`` the packages or dependencies that could not be had, and who needs them;
    ``warnings`` says it in a few lines (unreadable sources, then one line naming the missing packages).
    """

    def __init__(self, packages: Sequence[Package], warnings: Sequence[str] = (),
                 missing: Sequence[MissingPackage] = ()):
        self.packages: list[Package] = list(packages)
        self.warnings: list[str] = list(warnings)
        self.missing: list[MissingPackage] = list(missing)
        self._by_key = {p.key: p for p in self.packages}
        # url -> [(package, entry index)] ; versions disambiguated at resolve time
        self._by_url: dict[str, list[tuple[Package, int]]] = {}
        for package in self.packages:
            for i, entry in enumerate(package.entries):
                url = entry.get("u")
                if url:
                    self._by_url.setdefault(url, []).append((package, i))
        self._closure_cache: dict[str, list[str]] = {}
        self._substitutions: dict[str, dict[str, Substitution]] = {}

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
        warnings: list[str] = []
        available: dict[str, Package] = {}
        for src in source_paths:
            found, problems = _scan_source(src, index_root)
            warnings.extend(problems)
            for package in found:
                available.setdefault(package.key, package)
        requested = list(packages) if packages is not None else default_package_set() + sorted(available)
        registry = None if offline else Registry(registry_url, index_root)
        loader = _Loader(available, fhir_cache, index_root, registry, pins)
        loaded = loader.load_closure(requested)
        for package in loaded:
            if package.sha256 is not None:
                check_pinned(package.key, package.sha256, str(package.path), pins)
        warnings.extend(loader.errors)
        looked = ", ".join([*(str(p) for p in source_paths), f"the FHIR package cache {fhir_cache}"])
        if not any(p.id == CORE_ID for p in loaded):
            raise PackageError(
                f"{CORE_ID}#{CORE_VERSION} (the FHIR R4 base) was not found, so nothing can be validated. "
                f"Looked in: {looked}; {_registry_state(registry, f'{CORE_ID}#{CORE_VERSION}')}. "
                f"Fix: `mes packages install {CORE_ID}#{CORE_VERSION}` (or `mes packages install --from "
                f"{CORE_ID}-{CORE_VERSION}.tgz`), or point --mes-packages (`mes … --packages`) or MES_FHIR_PACKAGES "
                "at a folder that holds it."
            )
        store = cls(loaded, warnings, loader.missing_packages())
        if store.missing:
            store.warnings.append(
                f"FHIR packages missing, checks that need them are not made: {store.missing_summary()} — "
                f"looked in {looked}; {_registry_state(registry)}. `mes packages list` says who needs them."
            )
        return store

    def missing_summary(self) -> str:
        """The missing packages on one line: ``a (1.0, 2.0), b#3.0``; "" when none is missing."""
        versions: dict[str, list[str]] = {}
        for m in self.missing:
            versions.setdefault(m.id, []).append(m.version)
        return ", ".join(f"{pid}#{vs[0]}" if len(vs) == 1 else f"{pid} ({', '.join(vs)})"
                         for pid, vs in versions.items())

    # ---- resolution ------------------------------------------------------------------------------
    def package(self, key: str) -> Package | None:
        """The loaded package ``id#version`` (or the latest ``id``), or None."""
        pid, version = split_spec(key)
        if version:
            return self._by_key.get(f"{pid}#{version}")
        candidates = [p for p in self.packages if p.id == pid]
        return max(candidates, key=lambda p: _version_key(p.version)) if candidates else None

    def closure(self, package: Package | str) -> list[str]:
        """Keys of `package` and of its loaded dependencies, nearest first (itself, direct deps, …)."""
        key = package if isinstance(package, str) else package.key
        if key in self._closure_cache:
            return self._closure_cache[key]
        order: list[str] = []
        queue = [key]
        while queue:
            current = queue.pop(0)
            if current in order:
                continue
            order.append(current)
            pkg = self._by_key.get(current)
            if pkg is None:
                continue
            for dep_id, dep_version in pkg.dependencies.items():
                match = self._match_loaded(dep_id, dep_version)
                if match is not None and match.key not in order:
                    queue.append(match.key)
        self._closure_cache[key] = order
        return order

    def substitutions(self, context: str) -> dict[str, Substitution]:
        """The packages of `context`'s closure loaded in place of a pinned dependency that is missing:
        key of the package used -> :class:`Substitution`."""
        found = self._substitutions.get(context)
        if found is None:
            found = {}
            for key in self.closure(context):
                package = self._by_key.get(key)
                for dep_id, dep_version in (package.dependencies.items() if package else ()):
                    match = self._match_loaded(dep_id, dep_version)
                    if match is not None and not _version_matches(dep_version, match.version):
                        found.setdefault(match.key, Substitution(match.key, f"{dep_id}#{dep_version}", key))
            self._substitutions[context] = found
        return found

    def _match_loaded(self, pid: str, version: str) -> Package | None:
        exact = self._by_key.get(f"{pid}#{version}")
        if exact is not None:
            return exact
        candidates = [p for p in self.packages if p.id == pid and _version_matches(version, p.version)]
        if not candidates:  # pinned version missing: the loaded one stands in (named in the warnings)
            candidates = [p for p in self.packages if p.id == pid]
        return max(candidates, key=lambda p: _version_key(p.version)) if candidates else None

    def resolve_entry(self, canonical: str, context: Package | str | None = None) -> tuple[Package, int] | None:
        """Where the resource with this canonical is: ``(package, entry index)``, or None."""
        url, _, version = canonical.partition("|")
        candidates = self._by_url.get(url)
        if not candidates:
            return None
        if version:
            for package, i in candidates:
                if package.entries[i].get("v") == version:
                    return package, i
            # FHIR allows a partial version ("2.1" for "2.1.0"); take the best match of the prefix.
            partial = [(p, i) for p, i in candidates if str(p.entries[i].get("v", "")).startswith(version + ".")]
            if partial:
                return max(partial, key=lambda c: _version_key(str(c[0].entries[c[1]].get("v", ""))))
            return None
        if len(candidates) == 1:
            return candidates[0]
        if context is not None:
            # An unversioned reference means the version the referencing package depends on.
            for key in self.closure(context):
                for package, i in candidates:
                    if package.key == key:
                        return package, i
        return max(
            candidates,
            key=lambda c: (_version_key(str(c[0].entries[c[1]].get("v", ""))), _version_key(c[0].version)),
        )

    def resolve(self, canonical: str, context: Package | str | None = None) -> dict | None:
        """The resource with canonical ``url`` or ``url|version`` (parsed JSON), or None.

        An unversioned url resolves to the version pinned by `context`'s dependencies when given,
        else to the latest loaded version.
        """
        found = self.resolve_entry(canonical, context)
        return found[0].read(found[1]) if found else None

    def package_of(self, canonical: str, context: Package | str | None = None) -> Package | None:
        found = self.resolve_entry(canonical, context)
        return found[0] if found else None

    def structure_definition(self, type_or_url: str, context: Package | str | None = None) -> dict | None:
        """A StructureDefinition: ``"Patient"`` gives the base R4 one; otherwise a canonical url."""
        canonical = type_or_url if ":" in type_or_url else FHIR_BASE + type_or_url
        resource = self.resolve(canonical, context)
        if resource is None or resource.get("resourceType") != "StructureDefinition":
            return None
        return resource

    def entry(self, canonical: str, context: Package | str | None = None) -> dict | None:
        """The index entry (``t`` type, ``ty`` SD type, ``u``, ``v``…) without parsing the resource."""
        found = self.resolve_entry(canonical, context)
        return found[0].entries[found[1]] if found else None


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


class _Loader:
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
            if _version_matches(version, v) and _package_folder(folder) is not None:
                candidates.append((v, folder))
        if not candidates:
            return None
        _, folder = max(candidates, key=lambda c: _version_key(c[0]))
        try:
            return open_package(folder, index_root=self.index_root)
        except PackageError as exc:
            self.errors.append(str(exc))
            return None

    def find(self, pid: str, version: str) -> Package | None:
        exact = self.available.get(f"{pid}#{version}")
        if exact is not None:
            return exact
        local = [p for p in self.available.values() if p.id == pid and _version_matches(version, p.version)]
        if local:
            return max(local, key=lambda p: _version_key(p.version))
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
        return sorted(loaded.values(), key=lambda p: (p.id != CORE_ID, p.id, _version_key(p.version)))

    def missing_packages(self) -> list[MissingPackage]:
        out = []
        for pid in sorted(self.missing):
            loaded = sorted((p.version for p in self.available.values() if p.id == pid), key=_version_key)
            substitute = f"{pid}#{loaded[-1]}" if loaded else None
            for version, by in sorted(self.missing[pid].items(), key=lambda item: _version_key(item[0])):
                out.append(MissingPackage(pid, version, tuple(sorted(set(by))), substitute))
        return out
