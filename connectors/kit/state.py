"""A mock's writes kept in its own SQLite file, so they outlive the process when asked.

``hub mock NAME --state FILE`` gives the dataset a ``StateFile``; each ``Overlay`` (the dicts a
dataset keeps its writes in: births, cards, transfers...) is then written through to one
key-value table of that file (``overlay_<name>``: key and value as JSON text, rows in the order
the keys were first set) and loaded back from it when the mock starts again. ``reset()`` empties
the tables with the dicts. Without a file an overlay is a plain dict in memory.

The file remembers which dataset, seed and size wrote it, because writes only make sense over
the seed records they were made on: opening it with others is refused with a ``StateFileError``
(a file that holds no writes is taken under another seed or size, not another dataset).
Keys are strings or integers; values are JSON (tuples come back as lists). A value is stored
when it is set, so change a record by setting it again, not in place.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

K = TypeVar("K")
V = TypeVar("V")
_NAME = re.compile(r"[a-z][a-z0-9_]{0,40}")  # fullmatch: "$" lets a final "\n" through


class StateFileError(ValueError):
    """The state file cannot be used; the message says why and what to do."""


class StateFile:
    """The SQLite file that holds one mock's overlays, and which dataset they belong to."""

    def __init__(self, path: str | Path, *, owner: dict[str, Any]) -> None:
        self.path = Path(path)
        self.owner = owner
        self._conn: sqlite3.Connection | None = None
        self._depth = 0
        # Handlers run on the event loop, but a test server may live in another thread.
        self._lock = threading.RLock()
        try:
            self._check_owner()
        except (sqlite3.DatabaseError, OSError) as exc:
            self.close()
            raise StateFileError(f"{self.path} is not a usable SQLite file ({exc})") from None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit: each write is durable on its own unless grouped by atomic().
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        return self._conn

    def _check_owner(self) -> None:
        conn = self._connection()
        conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        # One transaction: a mock starting on the file at the same time sees it whole.
        conn.execute("BEGIN IMMEDIATE")
        try:
            found = {k: json.loads(v) for k, v in conn.execute("SELECT key, value FROM meta")}
            if found and found != self.owner:
                self._refuse_or_take(conn, found)
            if found != self.owner:
                conn.execute("DELETE FROM meta")
                conn.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [(k, json.dumps(v)) for k, v in self.owner.items()],
                )
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self.close()
            raise
        conn.execute("COMMIT")

    def _refuse_or_take(self, conn: sqlite3.Connection, found: dict[str, Any]) -> None:
        """Refuse a file made for other seed records, unless it holds no writes: nothing in
        it then depends on the seed or size, and it is taken for this mock's. Another
        dataset's file is refused all the same: most likely two mocks' files mixed up."""
        writes = self._holds_writes(conn)
        if found.get("dataset") != self.owner.get("dataset"):
            held = "holds writes" if writes else "holds no writes"
            raise StateFileError(
                f"{self.path} is the state file of dataset {found.get('dataset')} (it {held}), "
                f"not of {self.owner.get('dataset')}: give this mock its own state file"
            )
        if not writes:
            return
        differ = [k for k in {**found, **self.owner} if found.get(k) != self.owner.get(k)]
        had = ", ".join(f"{k} {found.get(k)}" for k in differ)
        wants = ", ".join(f"{k} {self.owner.get(k)}" for k in differ)
        raise StateFileError(
            f"{self.path} holds writes made with {had}, not {wants}: start the mock "
            "with the same seed and size, or give it another state file"
        )

    @staticmethod
    def _holds_writes(conn: sqlite3.Connection) -> bool:
        tables = [
            name
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if name.startswith("overlay_")
        ]
        return any(conn.execute(f'SELECT 1 FROM "{t}" LIMIT 1').fetchone() for t in tables)

    def _table(self, name: str) -> str:
        if not _NAME.fullmatch(name):
            raise ValueError(f"overlay name {name!r}: use lower-case letters, digits and '_'")
        table = f"overlay_{name}"
        self._connection().execute(
            f"CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
        )
        return table

    def load(self, name: str) -> list[tuple[Any, Any]]:
        """The (key, value) pairs of overlay ``name``, in the order they were first set."""
        with self._lock:
            table = self._table(name)
            rows = self._connection().execute(f"SELECT key, value FROM {table} ORDER BY rowid")
            return [(json.loads(k), json.loads(v)) for k, v in rows]

    def put(self, name: str, key: Any, value: Any) -> None:
        # An upsert keeps the row (and so the key's place in the order) of a key set before.
        with self._lock:
            self._connection().execute(
                f"INSERT INTO {self._table(name)} (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (json.dumps(key), json.dumps(value, ensure_ascii=False)),
            )

    def delete(self, name: str, key: Any) -> None:
        with self._lock:
            self._connection().execute(
                f"DELETE FROM {self._table(name)} WHERE key = ?", (json.dumps(key),)
            )

    def clear(self, name: str) -> None:
        with self._lock:
            self._connection().execute(f"DELETE FROM {self._table(name)}")

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Group writes into one transaction, so the file never holds half an operation."""
        with self._lock:
            conn = self._connection()
            outermost = self._depth == 0
            if outermost:
                conn.execute("BEGIN")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outermost:
                    conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outermost:
                conn.execute("COMMIT")

    def close(self) -> None:
        """Close the file (it is opened again if the mock writes after all)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class Overlay(MutableMapping[K, V]):
    """A dict of writes, written through to a ``StateFile`` table when there is one."""

    def __init__(self, name: str, state: StateFile | None = None) -> None:
        self.name = name
        self.state = state
        self._data: dict[K, V] = dict(state.load(name)) if state is not None else {}

    def __getitem__(self, key: K) -> V:
        return self._data[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def get(self, key: K, default: Any = None) -> Any:
        return self._data.get(key, default)

    def __setitem__(self, key: K, value: V) -> None:
        if self.state is not None:
            self.state.put(self.name, key, value)
        self._data[key] = value

    def __delitem__(self, key: K) -> None:
        del self._data[key]
        if self.state is not None:
            self.state.delete(self.name, key)

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        self._data.clear()
        if self.state is not None:
            self.state.clear(self.name)

    def __repr__(self) -> str:
        return f"Overlay({self.name!r}, {self._data!r})"
