"""Conformance resources from plain folders and files (``--ig PATH``), beside the FHIR packages.

Like the HL7 validator's ``-ig DIR``: a folder (its ``.json`` and ``.xml`` files), a file (one
resource, or a Bundle of them), or a FHIR package (``.tgz`` or unpacked). Resources are read as
JSON or FHIR XML, StructureDefinitions with or without a snapshot (one is generated when needed,
see :mod:`pytest_mes.fhir.snapshot`). Everything read from plain files forms one in-memory package,
``local#ig``, that depends on ``hl7.fhir.r4.core``: its unversioned canonicals resolve among
themselves first.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pytest_mes.errors import PackageError
from pytest_mes.fhir import cache
from pytest_mes.fhir.jsonread import as_list
from pytest_mes.fhir.package import CORE_ID, CORE_VERSION, Package, open_package
from pytest_mes.fhir.store import PackageStore

LOCAL_ID, LOCAL_VERSION = "local", "ig"
_SUFFIXES = (".json", ".xml")


def with_conformance(store: PackageStore, paths: Iterable[str | os.PathLike[str]],
                     option: str = "--ig") -> PackageStore:
    """`store` plus the conformance resources found at `paths` (given with `option`); what cannot be read is named
    in the new store's ``warnings``.

    Raises:
        PackageError: a path does not exist.
    """
    files: list[Path] = []
    packages: list[Package] = []
    problems: list[str] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise PackageError(f"{option} {path}: no such file or folder")
        if path.suffix == ".tgz" or (path / "package.json").is_file() or (path / "package" / "package.json").is_file():
            packages.append(open_package(path))
        elif path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in _SUFFIXES and p.is_file()))
        else:
            files.append(path)
    resources: list[dict] = []
    for file in files:
        try:
            resources.extend(_resources_in(read_resource_file(file, store)))
        except (OSError, ValueError, PackageError) as exc:
            problems.append(f"{option} {file}: not read ({exc})")
    where = files[0] if files else Path(".")
    local = Package.in_memory(LOCAL_ID, LOCAL_VERSION, resources, {CORE_ID: CORE_VERSION}, where)
    known = {p.key for p in store.packages}
    added = [p for p in packages if p.key not in known] + ([local] if local.entries else [])
    # The packages still missing stay said (run header, acceptance file), and what could not be read is one more.
    return PackageStore([*store.packages, *added], [*store.problems, *problems], store.missing, store.looked)


def read_resource_file(path: Path, store: PackageStore) -> Any:
    """A JSON or FHIR XML file, parsed. Raises OSError, ValueError (not JSON, not FHIR XML)."""
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if path.suffix.lower() == ".xml" or data.lstrip()[:1] == b"<":
        from pytest_mes.fhir.xml import read_xml  # FHIR XML needs the R4 definitions of the store

        try:  # read leniently, as the HL7 tools load definitions: elements out of order are still read
            return read_xml(data, store)[0]
        except Exception as exc:  # the XML reader's own errors name the line: keep them
            raise ValueError(str(exc)) from exc
    return cache.loads(data)


def _resources_in(resource: Any) -> list[dict]:
    """The resource itself, or the resources of a Bundle's entries."""
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        raise ValueError("not a FHIR resource (no resourceType)")
    if resource["resourceType"] != "Bundle":
        return [resource]
    entries = as_list(resource.get("entry"))
    return [e["resource"] for e in entries if isinstance(e, dict) and isinstance(e.get("resource"), dict)]

