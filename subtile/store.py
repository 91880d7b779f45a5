"""A crash-safe results store: one SQLite row per finished point of a long run.

Long runs (mutation testing, sweeps) write each point's outcome as soon as it is known, in its
own transaction, so a run killed at any moment (even by SIGKILL) loses at most the point it was
working on; started again, it skips the keys already stored (:meth:`ResultStore.done_keys`).
A point is stored at most once (the key is the primary key; a second insert of the same key is
ignored), so a restart never duplicates results. Several processes may share one database:
SQLite's locking serializes the writers (WAL journal, busy timeout), readers never block.

Each row holds the point's key, its parameters and metrics as JSON, a status (``ok`` or
``failed``, with the error text of a failed point) and the time it was written. The schema is
generic on purpose: ``subtile mutate`` stores one row per mutant and ``subtile sweep`` can store
one row per configuration.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from subtile.errors import ConfigError

__all__ = ["ResultStore", "StoredResult"]

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    run TEXT NOT NULL,
    key TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    params TEXT NOT NULL,
    metrics TEXT NOT NULL,
    error TEXT,
    written REAL NOT NULL,
    pid INTEGER NOT NULL,
    PRIMARY KEY (run, key)
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class StoredResult:
    """One stored point."""

    run: str
    key: str
    status: str
    params: dict
    metrics: dict
    error: str | None
    written: float
    pid: int


class ResultStore:
    """Results of one or more named runs in one SQLite file.

    Parameters
    ----------
    path : path-like
        The database file (created with its folder if missing).
    run : str
        Name of the run whose points this store reads and writes (a run is, e.g., one
        ``subtile mutate`` configuration and seed); other runs in the same file are left alone.
    timeout : float
        Seconds to wait for another process's write lock before failing.
    """

    def __init__(self, path, *, run: str, timeout: float = 60.0):
        self.path = Path(path)
        if self.path.exists() and self.path.is_dir():
            raise ConfigError(f"db: {self.path} is a folder; give a database file name")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.run = run
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE takes the write lock
        # up front, so two writers never deadlock on a read-to-write upgrade).
        self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        self._db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        try:
            self._db.execute("PRAGMA journal_mode = WAL")
            with self._transaction():
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    self._db.execute(statement)
                self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        except sqlite3.DatabaseError as error:
            self._db.close()
            raise ConfigError(f"db: {self.path} is not a subtile results database ({error})") from None
        # A commit in WAL mode with synchronous=FULL survives power loss; NORMAL would only
        # survive a process crash, which is the case that matters here, but the cost is small.
        self._db.execute("PRAGMA synchronous = FULL")

    # -- context management ----------------------------------------------------------------------
    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    class _Tx:
        def __init__(self, db):
            self.db = db

        def __enter__(self):
            self.db.execute("BEGIN IMMEDIATE")

        def __exit__(self, kind, value, traceback):
            self.db.execute("COMMIT" if kind is None else "ROLLBACK")

    def _transaction(self):
        return self._Tx(self._db)

    # -- writing ---------------------------------------------------------------------------------
    def put(self, key: str, *, params: Mapping, metrics: Mapping | None = None,
            error: str | None = None) -> bool:
        """Store one point in its own transaction. A failed point has an ``error``.

        Returns
        -------
        bool
            True if the row was written, False if the key was already stored (by this or another
            process): the first result of a point wins, so results are never duplicated.
        """
        row = (self.run, str(key), "failed" if error is not None else "ok",
               json.dumps(dict(params), sort_keys=True), json.dumps(dict(metrics or {}), sort_keys=True),
               error, time.time(), os.getpid())
        with self._transaction():
            cursor = self._db.execute("INSERT OR IGNORE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)
        return cursor.rowcount == 1

    def forget_failed(self) -> int:
        """Delete the failed points of this run (to retry them); returns how many."""
        with self._transaction():
            cursor = self._db.execute("DELETE FROM results WHERE run = ? AND status = 'failed'", (self.run,))
        return cursor.rowcount

    # -- reading ---------------------------------------------------------------------------------
    def done_keys(self) -> set[str]:
        """Keys of this run already stored (ok or failed)."""
        return {key for (key,) in self._db.execute("SELECT key FROM results WHERE run = ?", (self.run,))}

    def results(self) -> list[StoredResult]:
        """This run's points, in key order."""
        rows = self._db.execute("SELECT run, key, status, params, metrics, error, written, pid FROM results "
                                "WHERE run = ? ORDER BY key", (self.run,))
        return [StoredResult(run, key, status, json.loads(params), json.loads(metrics), error, written, pid)
                for run, key, status, params, metrics, error, written, pid in rows]

    def __len__(self) -> int:
        (count,), = self._db.execute("SELECT COUNT(*) FROM results WHERE run = ?", (self.run,))
        return count

    def __iter__(self) -> Iterator[StoredResult]:
        return iter(self.results())

    def other_runs(self) -> dict[str, int]:
        """The other runs in the file, each with its number of points (never read by this store)."""
        return dict(self._db.execute("SELECT run, COUNT(*) FROM results WHERE run != ? GROUP BY run ORDER BY run",
                                     (self.run,)))

    def pending(self, keys: Iterable[str]) -> list[str]:
        """``keys`` minus those already stored, in the given order."""
        done = self.done_keys()
        return [key for key in keys if key not in done]
