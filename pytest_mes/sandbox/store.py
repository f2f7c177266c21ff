"""Versioned resource storage: SQLite for durability, an in-memory index for fast searches.

Every version of every resource is a row of the `history` table; the current version of each
resource is also kept in memory, because the sandbox searches by scanning resources of a type
(a few thousand at most) and that is far faster from dicts than from JSON in SQLite.

Writes happen inside `Store.transaction()`, which holds one re-entrant lock and one SQLite
transaction: either every write of a FHIR transaction lands, or none does (memory included).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS history (
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    last_updated TEXT NOT NULL,
    deleted INTEGER NOT NULL,
    body TEXT,
    PRIMARY KEY (type, id, version)
)
"""


@dataclass(frozen=True)
class Entry:
    """One version of one resource; `resource` is None for a deletion."""

    type: str
    id: str
    version: int
    last_updated: str
    resource: dict[str, Any] | None

    @property
    def deleted(self) -> bool:
        return self.resource is None

    @property
    def etag(self) -> str:
        return f'W/"{self.version}"'

    def has_etag(self, etag: str) -> bool:
        """Whether an If-Match / If-None-Match value names this version, weak (W/"2") or strong ("2")."""
        return etag.strip().removeprefix("W/") == self.etag.removeprefix("W/")


def now_instant() -> str:
    """The current time as a FHIR instant, in UTC with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Store:
    """Thread-safe versioned storage of FHIR resources.

    Args:
        db: path of an SQLite file (created if needed, kept across restarts), or None for memory.
    """

    def __init__(self, db: str | Path | None = None):
        self.path = str(db) if db else ":memory:"
        # One connection shared by all threads, serialised by `_lock`: SQLite connections are not
        # safe for concurrent use, and a single writer is all a test server needs.
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        if db:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute(_SCHEMA)
        self._lock = threading.RLock()
        self._current: dict[str, dict[str, Entry]] = {}
        self._undo: list[tuple[str, str, Entry | None]] | None = None
        self._depth = 0
        self._load()

    def _load(self) -> None:
        rows = self._conn.execute(
            "SELECT type, id, version, last_updated, body FROM history ORDER BY type, id, version"
        )
        for type_, id_, version, last_updated, body in rows:
            resource = json.loads(body) if body is not None else None
            self._current.setdefault(type_, {})[id_] = Entry(type_, id_, version, last_updated, resource)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- transactions ---------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes atomically; nested calls join the outer transaction."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._undo = []
            self._depth = 1
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                for type_, id_, previous in reversed(self._undo):
                    if previous is None:
                        self._current.get(type_, {}).pop(id_, None)
                    else:
                        self._current.setdefault(type_, {})[id_] = previous
                raise
            else:
                self._conn.execute("COMMIT")
            finally:
                self._undo = None
                self._depth = 0

    # -- reads ----------------------------------------------------------------------------------

    def get(self, type_: str, id_: str) -> Entry | None:
        """The current version of a resource (possibly a deletion), or None if it never existed.

        Taken under the lock, like every read: another thread's transaction holds it until it
        commits or rolls back, so readers never see its uncommitted writes.
        """
        with self._lock:
            return self._current.get(type_, {}).get(id_)

    def resource(self, type_: str, id_: str) -> dict[str, Any] | None:
        """The current content of a live resource, or None."""
        entry = self.get(type_, id_)
        return entry.resource if entry else None

    def all(self, type_: str) -> list[Entry]:
        """The live resources of a type (a snapshot, safe to iterate while others write)."""
        with self._lock:
            return [e for e in self._current.get(type_, {}).values() if e.resource is not None]

    def vread(self, type_: str, id_: str, version: int) -> Entry | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT last_updated, body FROM history WHERE type=? AND id=? AND version=?",
                (type_, id_, version),
            ).fetchone()
        if row is None:
            return None
        return Entry(type_, id_, version, row[0], json.loads(row[1]) if row[1] is not None else None)

    def history(self, type_: str, id_: str) -> list[Entry]:
        """Every version of a resource, newest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT version, last_updated, body FROM history WHERE type=? AND id=? ORDER BY version DESC",
                (type_, id_),
            ).fetchall()
        return [Entry(type_, id_, v, lu, json.loads(b) if b is not None else None) for v, lu, b in rows]

    def is_empty(self) -> bool:
        with self._lock:
            return self._conn.execute("SELECT 1 FROM history LIMIT 1").fetchone() is None

    # -- writes ---------------------------------------------------------------------------------

    def put(self, type_: str, id_: str, resource: dict[str, Any]) -> Entry:
        """Store a new version of a resource; sets `id`, `meta.versionId` and `meta.lastUpdated`."""
        with self.transaction():
            previous = self.get(type_, id_)
            version = previous.version + 1 if previous else 1
            last_updated = now_instant()
            resource["id"] = id_
            meta = resource.setdefault("meta", {})
            meta["versionId"] = str(version)
            meta["lastUpdated"] = last_updated
            self._write(Entry(type_, id_, version, last_updated, resource), previous)
            return self._current[type_][id_]

    def delete(self, type_: str, id_: str) -> Entry | None:
        """Record a deletion; returns None when there was no live resource to delete."""
        with self.transaction():
            previous = self.get(type_, id_)
            if previous is None or previous.deleted:
                return None
            entry = Entry(type_, id_, previous.version + 1, now_instant(), None)
            self._write(entry, previous)
            return entry

    def _write(self, entry: Entry, previous: Entry | None) -> None:
        body = json.dumps(entry.resource, ensure_ascii=False) if entry.resource is not None else None
        self._conn.execute(
            "INSERT INTO history (type, id, version, last_updated, deleted, body) VALUES (?, ?, ?, ?, ?, ?)",
            (entry.type, entry.id, entry.version, entry.last_updated, int(entry.deleted), body),
        )
        assert self._undo is not None  # writes only happen inside transaction()
        self._undo.append((entry.type, entry.id, previous))
        self._current.setdefault(entry.type, {})[entry.id] = entry
