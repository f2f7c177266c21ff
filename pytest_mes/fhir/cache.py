"""Where pytest-mes keeps what it derives from FHIR packages, so that a second process starts fast.

Two caches are involved:

* the **FHIR package cache** (``~/.fhir/packages``, layout ``<id>#<version>/package/``), shared with
  the HL7 tools and SUSHI; ``mes packages install`` and registry downloads write there;
* the **pytest-mes index cache** (``$MES_CACHE_DIR`` or ``~/.cache/pytest-mes``): each ``.tgz``
  package unpacked once, plus a small index (canonical url, version, type, file) per package.
  A warm start reads these indexes only; definitions are parsed on first use.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

try:  # orjson is several times faster on the big R4 StructureDefinitions; optional.
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None

INDEX_FORMAT = 7  # bump when the index layout changes, so that old caches are rebuilt


def loads(data: bytes | str) -> Any:
    """Parse JSON text (bytes or str)."""
    if _orjson is not None:
        return _orjson.loads(data)
    return json.loads(data)


def dumps(value: Any) -> bytes:
    """Serialise to compact JSON bytes."""
    if _orjson is not None:
        return _orjson.dumps(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def read_json(path: Path) -> Any:
    with open(path, "rb") as fh:
        return loads(fh.read())


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write so that a concurrent reader never sees a half-written file (no fsync: a lost cache entry is rebuilt)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_json_atomic(path: Path, value: Any) -> None:
    write_bytes_atomic(path, dumps(value))


def fhir_package_cache(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The FHIR package cache: the argument, else ``$FHIR_PACKAGE_CACHE``, else ``~/.fhir/packages``."""
    if cache_dir:
        return Path(cache_dir).expanduser()
    env = os.environ.get("FHIR_PACKAGE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".fhir" / "packages"


def index_cache_dir() -> Path:
    """The pytest-mes index cache: ``$MES_CACHE_DIR``, else ``$XDG_CACHE_HOME/pytest-mes``, else ``~/.cache``."""
    env = os.environ.get("MES_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "pytest-mes"


def stamp_key(path: Path) -> str:
    """A key that changes whenever the file or folder at `path` is replaced or modified."""
    st = path.stat()
    raw = f"{INDEX_FORMAT}|{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    return hashlib.sha1(raw.encode("utf-8")).hexdigest()[:16]
