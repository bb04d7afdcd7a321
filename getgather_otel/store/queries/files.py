"""Statements that move whole tables between files: Parquet export and import, compaction's copy.

ATTACH, COPY and read_parquet take no parameters for paths, so paths go in as SQL string
literals (`sql_text`).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from getgather_otel.store.values import naive_utc

__all__ = ["copy_database", "copy_to_parquet", "insert_missing_from_parquet", "sql_text", "time_filter"]


def sql_text(value: str) -> str:
    """`value` as a SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def time_filter(column: str, since: datetime | None, until: datetime | None) -> tuple[str, list[datetime]]:
    """A ` WHERE` clause keeping `since <= column < until` (either bound optional), and its parameters."""
    clauses, params = [], []
    if since is not None:
        clauses.append(f"{column} >= ?")
        params.append(naive_utc(since))
    if until is not None:
        clauses.append(f"{column} < ?")
        params.append(naive_utc(until))
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def copy_to_parquet(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    time_column: str,
    target: Path,
    since: datetime | None,
    until: datetime | None,
) -> int:
    """Write `table`'s rows within the window under `target`, one hive directory per day; rows written."""
    where, params = time_filter(time_column, since, until)
    row = conn.execute(
        f"COPY (SELECT *, CAST({time_column} AS DATE) AS date FROM {table}{where}) "
        f"TO {sql_text(str(target))} (FORMAT parquet, PARTITION_BY (date), COMPRESSION zstd, "
        "WRITE_PARTITION_COLUMNS false)",
        params,
    ).fetchone()
    return int(row[0]) if row else 0


def insert_missing_from_parquet(conn: duckdb.DuckDBPyConnection, table: str, key: tuple[str, ...], source: Path) -> int:
    """Insert the rows of every Parquet file under `source` that `table` lacks (same `key`); rows added."""
    columns = [
        f'"{name}"'
        for (name,) in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
            [table],
        ).fetchall()
    ]
    matches = " AND ".join(f"d.{column} = s.{column}" for column in key)
    row = conn.execute(
        f"INSERT INTO {table} SELECT {', '.join('s.' + c for c in columns)} "
        f"FROM read_parquet({sql_text(str(source) + '/**/*.parquet')}, hive_partitioning = false) AS s "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} AS d WHERE {matches})"
    ).fetchone()
    return int(row[0]) if row else 0


def copy_database(conn: duckdb.DuckDBPyConnection, target: Path) -> None:
    """Checkpoint the open database and copy its live rows into a new file at `target`."""
    conn.execute("CHECKPOINT")
    conn.execute(f"ATTACH {sql_text(str(target))} AS compacted")
    source = conn.execute("SELECT current_database()").fetchone()
    conn.execute(f'COPY FROM DATABASE "{source[0] if source else "memory"}" TO compacted')
    conn.execute("DETACH compacted")
