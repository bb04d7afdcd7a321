"""Where the viewer's queries run: the DuckDB file read-only, the writer's own connection, or ClickHouse.

DuckDB gives a file to one process at a time, with one configuration. `ui --db` runs
beside a server that writes the file in short bursts, so it opens the file read-only per
request, exactly like the CLI (`open_for_reading` waits out the writer's batches).
`collect` owns the file and keeps writing it, so its viewer reads through the writer's
own connection between batches (`DuckDBStore.reading`). `ui --clickhouse` reads the
tables the OTel Collector's ClickHouse exporter writes, through one engine shared by
every request (`ClickHouseReads`). Each yields an `Engine` for one request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import duckdb

from getgather_otel.store.engine import DuckDBEngine, Engine
from getgather_otel.store.reader import open_for_reading

__all__ = ["ClickHouseReads", "FileOwner", "FileReads", "Reads", "WriterReads"]


class Reads(Protocol):
    """A source of engines for the viewer's queries, each held only for one request."""

    @property
    def label(self) -> str:
        """What is read (a file path, a ClickHouse URL without its password)."""
        ...

    def engine(self) -> AbstractContextManager[Engine]: ...


@contextmanager
def _duckdb(connection: AbstractContextManager[duckdb.DuckDBPyConnection], label: str) -> Iterator[Engine]:
    with connection as conn:
        yield DuckDBEngine(conn, label)


@dataclass(frozen=True)
class FileReads:
    """Read-only connections opened per request (`getgather-otel ui --db`)."""

    path: Path
    wait_s: float = 10.0

    @property
    def label(self) -> str:
        return str(self.path)

    def engine(self) -> AbstractContextManager[Engine]:
        return _duckdb(open_for_reading(self.path, self.wait_s), self.label)


class FileOwner(Protocol):
    """What owns the file in the writing process (a `DuckDBStore`)."""

    @property
    def path(self) -> Path: ...

    def reading(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]: ...


@dataclass(frozen=True)
class WriterReads:
    """Cursors on the writing process's own connection (`getgather-otel collect`)."""

    owner: FileOwner

    @property
    def label(self) -> str:
        return str(self.owner.path)

    def engine(self) -> AbstractContextManager[Engine]:
        return _duckdb(self.owner.reading(), self.label)


@dataclass(frozen=True)
class ClickHouseReads:
    """One ClickHouse engine (a server over HTTP, or chdb in process) for every request."""

    shared: Engine

    @property
    def label(self) -> str:
        return self.shared.label

    @contextmanager
    def engine(self) -> Iterator[Engine]:
        yield self.shared
