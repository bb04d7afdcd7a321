"""Parquet export and import: moving spans, recordings and metric points out of (and into) a DuckDB file.

`export` writes one directory per table, partitioned by day (`spans/date=2026-11-24/...`,
`metrics_histogram/...`),
hive style), which DuckDB, ClickHouse, Spark or any lake engine reads as it is, plus a
`manifest.json` with the schema version and row counts. Columns keep the DuckDB types
(maps, lists, blobs), so `import` of an export gives back exactly the rows it took: it
skips rows already present (same span, same chunk, same prune note), so importing twice
changes nothing and a file moved between machines round-trips.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from getgather_otel.store.connect import connect_waiting_for_lock
from getgather_otel.store.errors import DatabaseMissingError, StoreError
from getgather_otel.store.maintenance.compaction import exclusive_connection
from getgather_otel.store.progress import Progress, quiet
from getgather_otel.store.queries.files import copy_to_parquet, insert_missing_from_parquet
from getgather_otel.store.schema import CURRENT_VERSION, stored_version
from getgather_otel.store.tables import METRIC_TABLES

__all__ = [
    "MANIFEST",
    "TABLES",
    "ParquetTransferError",
    "TableSpec",
    "TableTransfer",
    "export",
    "import_into",
    "read_manifest",
]

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class TableSpec:
    """A table as it travels: its directory, the time column that picks the day, and its row identity."""

    table: str
    directory: str
    time_column: str
    key: tuple[str, ...]


TABLES: tuple[TableSpec, ...] = (
    TableSpec("otel_traces", "spans", '"Timestamp"', ('"TraceId"', '"SpanId"')),
    TableSpec("recording_chunks", "recording_chunks", "first_event_time", ("recording_id", "page_id", "sequence")),
    TableSpec("recording_prunes", "recording_prunes", "pruned_at", ("recording_id",)),
    *(
        # A metric point is one series (name, service, resource, attributes) at one time.
        TableSpec(
            table,
            table.removeprefix("otel_"),
            '"TimeUnix"',
            ('"MetricName"', '"ServiceName"', '"ResourceAttributes"', '"Attributes"', '"StartTimeUnix"', '"TimeUnix"'),
        )
        for table in METRIC_TABLES
    ),
)


class ParquetTransferError(StoreError):
    """An export or import could not be done; the message says what to do."""


@dataclass(frozen=True)
class TableTransfer:
    table: str
    rows: int
    bytes: int
    seconds: float


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*.parquet"))


def export(
    db: Path,
    out_dir: Path,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    wait_s: float = 30.0,
    progress: Progress = quiet,
) -> list[TableTransfer]:
    """Write the rows of `db` between `since` and `until` (UTC) under `out_dir`, partitioned by day."""
    if not db.is_file():
        raise DatabaseMissingError(f"no getgather-otel database at {db}")
    if out_dir.exists() and not out_dir.is_dir():
        raise ParquetTransferError(f"{out_dir} is a file, not a directory; export into a new directory")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ParquetTransferError(f"{out_dir} is not empty; export into a new directory")
    conn = connect_waiting_for_lock(db, wait_s, read_only=True)
    transfers = []
    try:
        version = stored_version(conn)
        if version != CURRENT_VERSION:
            raise ParquetTransferError(
                f"{db} has schema version {version}; open it once with this getgather-otel "
                f"(version {CURRENT_VERSION}) to upgrade it, then export"
            )
        try:  # made (with its parents) once the file is known to be readable: a new lake directory
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ParquetTransferError(f"cannot create {out_dir}: {error.strerror or error}") from error
        for spec in TABLES:
            started = time.monotonic()
            target = out_dir / spec.directory
            progress(f"exporting {spec.table} ...")
            rows = copy_to_parquet(conn, spec.table, spec.time_column, target, since, until)
            size = _dir_bytes(target) if target.exists() else 0
            transfers.append(TableTransfer(spec.table, rows, size, time.monotonic() - started))
            progress(f"  {rows:,} rows, {size / 1e6:.1f} MB in {transfers[-1].seconds:.2f} s")
    finally:
        conn.close()
    manifest = {
        "schema_version": CURRENT_VERSION,
        "exported_at": datetime.now().astimezone().isoformat(),
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "tables": {t.table: {"directory": s.directory, "rows": t.rows} for t, s in zip(transfers, TABLES, strict=True)},
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return transfers


def read_manifest(in_dir: Path) -> dict[str, object]:
    path = in_dir / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParquetTransferError(f"{in_dir} has no {MANIFEST}: not a getgather-otel export") from None
    except (OSError, ValueError) as error:
        raise ParquetTransferError(f"cannot read {path}: {error}") from error
    if not isinstance(manifest, dict):
        raise ParquetTransferError(f"{path} is not a getgather-otel manifest")
    version = manifest.get("schema_version")
    if not isinstance(version, int) or version > CURRENT_VERSION:
        raise ParquetTransferError(
            f"{in_dir} was exported with schema version {version!r}; this getgather-otel imports up to "
            f"{CURRENT_VERSION}. Upgrade getgather-otel."
        )
    return dict(manifest)


def import_into(db: Path, in_dir: Path, *, wait_s: float = 30.0, progress: Progress = quiet) -> list[TableTransfer]:
    """Add the rows of export `in_dir` to `db` (created if missing), skipping rows it already has."""
    read_manifest(in_dir)
    transfers = []
    db.parent.mkdir(parents=True, exist_ok=True)
    with exclusive_connection(db, wait_s) as conn:
        conn.execute("BEGIN TRANSACTION")
        try:
            for spec in TABLES:
                transfers.append(_import_table(conn, spec, in_dir / spec.directory, progress))
            conn.execute("COMMIT")
        except BaseException as error:
            conn.execute("ROLLBACK")
            if isinstance(error, StoreError) or not isinstance(error, Exception):
                raise
            raise ParquetTransferError(f"cannot import {in_dir} into {db} (nothing was added): {error}") from error
    return transfers


def _import_table(conn: duckdb.DuckDBPyConnection, spec: TableSpec, source: Path, progress: Progress) -> TableTransfer:
    started = time.monotonic()
    files = sorted(source.rglob("*.parquet")) if source.exists() else []
    if not files:
        return TableTransfer(spec.table, 0, 0, 0.0)
    progress(f"importing {spec.table} from {len(files)} file(s) ...")
    rows = insert_missing_from_parquet(conn, spec.table, spec.key, source)
    transfer = TableTransfer(spec.table, rows, _dir_bytes(source), time.monotonic() - started)
    progress(f"  {rows:,} new rows in {transfer.seconds:.2f} s")
    return transfer
