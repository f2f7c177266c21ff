"""One FHIR package: a ``.tgz`` file or an unpacked folder, indexed once, its resources parsed on demand.

A package is indexed once (canonical url, version, resource type, where its JSON sits) and the index
is cached (see :mod:`pytest_mes.fhir.cache`); definitions are parsed only when first asked for.
:func:`open_package` opens one; :mod:`.sources` finds them, :mod:`.store` loads a set of them.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import tarfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_mes.errors import PackageError
from pytest_mes.fhir import cache
from pytest_mes.report.files import file_sha256

CORE_ID = "hl7.fhir.r4.core"
CORE_VERSION = "4.0.1"

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


def version_key(version: str) -> tuple:
    """Sort key: numeric parts numerically; a pre-release (``1.2.0-snapshot-2``) sorts before its release."""
    main, _, pre = version.partition("-")
    parts = tuple(int(p) if p.isdigit() else -1 for p in main.split("."))
    return (parts, 0 if pre else 1, pre)


def version_matches(wanted: str, version: str) -> bool:
    if wanted in ("", "latest", "current", "dev"):
        return True
    if "x" in wanted.split("."):  # "4.0.x" style wildcards in package.json dependencies
        pattern = re.escape(wanted).replace(r"\.x", r"\.[^.]+")
        return re.fullmatch(pattern, version) is not None
    return wanted == version


def best_match(by_key: Mapping[str, Package], pid: str, version: str) -> Package | None:
    """The package ``pid#version`` of `by_key` (``id#version`` -> package), else its highest version of `pid`
    that `version` admits (``4.0.x``, ``latest``…), else None."""
    exact = by_key.get(f"{pid}#{version}")
    if exact is not None:
        return exact
    matching = [p for p in by_key.values() if p.id == pid and version_matches(version, p.version)]
    return max(matching, key=lambda p: version_key(p.version)) if matching else None


def split_spec(spec: str) -> tuple[str, str]:
    """``"id#version"`` (or ``"id@version"``, ``"id"``) -> ``(id, version)``; version ``""`` means latest."""
    for sep in ("#", "@"):
        if sep in spec:
            pid, _, version = spec.partition(sep)
            return pid.strip(), version.strip()
    return spec.strip(), ""


def names_a_package(manifest: Any) -> bool:
    """Whether `manifest` (a package.json as read) gives the package's name and version, as any package must."""
    return isinstance(manifest, dict) and bool(manifest.get("name")) and bool(manifest.get("version"))


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

    @classmethod
    def in_memory(cls, pid: str, version: str, resources: Iterable[dict], dependencies: Mapping[str, str],
                  path: Path) -> Package:
        """A package made of `resources` already parsed (its canonical resources indexed, the rest ignored),
        depending on `dependencies` (id -> version); `path` says where they were read."""
        entries: list[dict] = []
        parsed: dict[int, dict] = {}
        for resource in resources:
            entry = _index_entry(f"{resource.get('resourceType')}-{resource.get('id')}.json", resource, example=False)
            if entry is not None:
                parsed[len(entries)] = resource
                entries.append(entry)
        manifest = {"name": pid, "version": version, "dependencies": dict(dependencies)}
        return cls(pid, version, path, manifest, entries, _parsed=parsed)  # nothing to read from disk

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
    digest = file_sha256(path)
    try:
        cache.write_bytes_atomic(target / "resources.bin", blob_bytes)
        cache.write_json_atomic(index_file, {"id": pid, "version": version, "manifest": manifest, "entries": entries,
                                             "blob_size": len(blob_bytes), "sha256": digest})
    except OSError:  # a read-only cache: keep the package in memory, only the next start is slower
        return Package(pid, version, path, manifest, entries, _memory=blob_bytes, sha256=digest)
    return Package(pid, version, path, manifest, entries, _blob=target / "resources.bin", sha256=digest)


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
    if not names_a_package(manifest):
        raise PackageError(f"{path}: no package/package.json with a name and a version; is it a FHIR package?")
    return manifest, entries, blob.getvalue()


def package_folder(path: Path) -> Path | None:
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
    if not names_a_package(manifest):
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
    folder = package_folder(p)
    if folder is None:
        raise PackageError(f"{p}: neither a .tgz FHIR package nor a folder holding package/package.json")
    return _index_folder(folder, root)
