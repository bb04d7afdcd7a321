"""The one seam every stock read goes through: a DuckDB connection or a ClickHouse engine.

A read is a template (store/queries/) with `{name:Type}` parameters and the dialect
placeholders `render()` knows; an engine renders it for its dialect, runs it and returns
`Rows` whose values are plain Python and alike on both engines: timestamps as naive UTC
`datetime`, maps as dicts, arrays as lists. `command` runs a statement that changes data
(retention's deletes) the same way and returns nothing. `DuckDBEngine` wraps a connection (the file,
or the writer's cursor in `collect`); the ClickHouse engines (`store/clickhouse.py`:
clickhouse-connect for a server, chdb in process) read the tables the OTel Collector's
ClickHouse exporter writes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import duckdb

from getgather_otel.store.queries.activities import Dialect, render

__all__ = ["DuckDBEngine", "Engine", "Rows", "naive_utc_value"]


@dataclass(frozen=True)
class Rows:
    """A query's column names and rows."""

    columns: list[str]
    rows: list[tuple[Any, ...]]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def first(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None


class Engine(Protocol):
    """Where stock reads run: renders a template for its dialect and returns plain rows."""

    @property
    def dialect(self) -> Dialect: ...

    @property
    def label(self) -> str:
        """What is being read, for messages (a file path, a ClickHouse URL without its password)."""
        ...

    def rows(self, template: str, params: Mapping[str, object] | None = None) -> Rows: ...

    def command(self, template: str, params: Mapping[str, object] | None = None) -> None:
        """Run one statement that changes data (retention's DELETE), rendered like `rows`' templates."""
        ...


def naive_utc_value(value: Any) -> Any:
    """An engine's value with every aware timestamp (at any depth) made naive UTC, as DuckDB's are."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, list):
        return [naive_utc_value(item) for item in value]
    if isinstance(value, dict):
        return {key: naive_utc_value(item) for key, item in value.items()}
    return value


@dataclass(frozen=True)
class DuckDBEngine:
    """Stock reads on a DuckDB connection (the file read-only, or the writer's cursor)."""

    conn: duckdb.DuckDBPyConnection
    label: str = "DuckDB"

    @property
    def dialect(self) -> Dialect:
        return "duckdb"

    def rows(self, template: str, params: Mapping[str, object] | None = None) -> Rows:
        cursor = self.conn.execute(render(template, "duckdb"), dict(params or {}))
        columns = [d[0] for d in cursor.description or []]
        return Rows(columns, cursor.fetchall())

    def command(self, template: str, params: Mapping[str, object] | None = None) -> None:
        self.conn.execute(render(template, "duckdb"), dict(params or {}))
