"""Where the viewer's queries get a DuckDB connection: its own read-only one, or the writer's.

DuckDB gives a file to one process at a time, with one configuration. `ui --db` runs
beside a server that writes the file in short bursts, so it opens the file read-only per
request, exactly like the CLI (`open_for_reading` waits out the writer's batches).
`collect` owns the file and keeps writing it, so its viewer reads through the writer's
own connection between batches (`DuckDBStore.reading`).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import duckdb

from getgather_otel.store.reader import open_for_reading

__all__ = ["FileOwner", "FileReads", "Reads", "WriterReads"]


class Reads(Protocol):
    """A source of connections for the viewer's queries, each held only for one request."""

    @property
    def path(self) -> Path: ...

    def connection(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]: ...


@dataclass(frozen=True)
class FileReads:
    """Read-only connections opened per request (`getgather-otel ui --db`)."""

    path: Path
    wait_s: float = 10.0

    def connection(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        return open_for_reading(self.path, self.wait_s)


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
    def path(self) -> Path:
        return self.owner.path

    def connection(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        return self.owner.reading()
