"""Files: atomic writes (a report is either the previous file or the complete new one, never half a file), and
a file's sha256."""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from pathlib import Path


def write_atomic(path: str | Path, content: str | bytes) -> None:
    """Write to a temporary file in the same folder, flush it to disk, then rename it over ``path``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A lone surrogate (text a server sent, decoded leniently) is no UTF-8: written as "?" rather than failing.
    data = content.encode("utf-8", "replace") if isinstance(content, str) else content
    temp = target.parent / f".{target.name}.{uuid.uuid4().hex}.part"
    # os.open applies the umask like any new file (mkstemp's 0600 would hide a report from its readers).
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def file_sha256(path: str | Path) -> str:
    """The sha256 of the file at `path` (hex), read by blocks of 1 MiB so that a large package is never held whole."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
