"""Metric tables in the layout of the ClickHouse exporter's `otel_metrics_*`, one per point type.

`getgather-otel collect` stores what arrives on /v1/metrics here: histograms (the
activity and MCP duration histograms), sums and gauges, with the ClickHouse exporter's
column names so queries written for one run on the other. Exemplars, exponential
histograms and summaries are not kept (the receiver reports them as rejected). The
column list below is the single source of both the DuckDB DDL and the Arrow schema the
receiver inserts.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

from getgather_otel.store.write.arrow_spans import STRING_MAP

_COMMON: Final = (
    ("ResourceAttributes", STRING_MAP, "MAP(VARCHAR, VARCHAR)"),
    ("ServiceName", pa.string(), "VARCHAR NOT NULL"),
    ("ScopeName", pa.string(), "VARCHAR NOT NULL"),
    ("ScopeVersion", pa.string(), "VARCHAR NOT NULL"),
    ("MetricName", pa.string(), "VARCHAR NOT NULL"),
    ("MetricDescription", pa.string(), "VARCHAR NOT NULL"),
    ("MetricUnit", pa.string(), "VARCHAR NOT NULL"),
    ("Attributes", STRING_MAP, "MAP(VARCHAR, VARCHAR)"),
    ("StartTimeUnix", pa.timestamp("us"), "TIMESTAMP NOT NULL"),
    ("TimeUnix", pa.timestamp("us"), "TIMESTAMP NOT NULL"),
)

METRIC_TABLES: Final = {
    "otel_metrics_histogram": (
        *_COMMON,
        ("Count", pa.uint64(), "UBIGINT NOT NULL"),
        ("Sum", pa.float64(), "DOUBLE NOT NULL"),
        ("BucketCounts", pa.list_(pa.uint64()), "UBIGINT[]"),
        ("ExplicitBounds", pa.list_(pa.float64()), "DOUBLE[]"),
        ("Flags", pa.uint32(), "UINTEGER NOT NULL"),
        ("Min", pa.float64(), "DOUBLE"),
        ("Max", pa.float64(), "DOUBLE"),
        ("AggregationTemporality", pa.int32(), "INTEGER NOT NULL"),
    ),
    "otel_metrics_sum": (
        *_COMMON,
        ("Value", pa.float64(), "DOUBLE NOT NULL"),
        ("Flags", pa.uint32(), "UINTEGER NOT NULL"),
        ("AggregationTemporality", pa.int32(), "INTEGER NOT NULL"),
        ("IsMonotonic", pa.bool_(), "BOOLEAN NOT NULL"),
    ),
    "otel_metrics_gauge": (
        *_COMMON,
        ("Value", pa.float64(), "DOUBLE NOT NULL"),
        ("Flags", pa.uint32(), "UINTEGER NOT NULL"),
    ),
}


def arrow_schema(table: str) -> pa.Schema:
    return pa.schema([(name, kind) for name, kind, _ in METRIC_TABLES[table]])


def create_statements() -> tuple[str, ...]:
    """CREATE TABLE for every metric table (schema migration 4)."""
    return tuple(
        f"CREATE TABLE IF NOT EXISTS {table} (\n"
        + ",\n".join(f'    "{name}" {sql}' for name, _, sql in columns)
        + "\n)"
        for table, columns in METRIC_TABLES.items()
    )
