"""Every table getgather-otel writes, defined once: column names, Arrow types and DuckDB types.

The Arrow schema that writers insert and the `CREATE TABLE` statement that the schema
migrations run are both derived from the lists below, so the two cannot drift apart.
`otel_traces` and the `otel_metrics_*` tables follow the OpenTelemetry Collector's
ClickHouse exporter (column names and order: `exporter/clickhouseexporter/internal/sqltemplates`
in opentelemetry-collector-contrib), so queries written for one engine run on the other.
`recording_chunks` and `recording_prunes` are getgather-otel's own.

A migration always creates a table in its current shape; a later migration that adds a
column must therefore use `ADD COLUMN IF NOT EXISTS`, or, where the column goes anywhere but
last (to keep the exporter's order), rebuild the table with `Table.rebuild_statements()`:
create `<name>__rebuild` in the current shape, `INSERT ... BY NAME SELECT *` from the old
one (a column the old table lacks takes its `DEFAULT`, so every added column needs one),
drop the old table and rename. Schema v7 did this to the metric tables.

Times: `TIMESTAMP` columns keep microseconds; the exporter's `DateTime64(9)` keeps
nanoseconds. A value read from ClickHouse and the same value read from DuckDB can differ
below the microsecond (`Duration` is nanoseconds in both).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pyarrow as pa

__all__ = [
    "METRIC_TABLES",
    "OTEL_TRACES",
    "RECORDING_CHUNKS",
    "RECORDING_PRUNES",
    "STRING_MAP",
    "TIMESTAMP_US",
    "Column",
    "Table",
]

STRING_MAP: Final = pa.map_(pa.string(), pa.string())
TIMESTAMP_US: Final = pa.timestamp("us")


@dataclass(frozen=True)
class Column:
    name: str
    arrow: pa.DataType
    sql: str


@dataclass(frozen=True)
class Table:
    """One table: its name and columns in storage order."""

    name: str
    columns: tuple[Column, ...]

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([(column.name, column.arrow) for column in self.columns])

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def rebuild_statements(self) -> tuple[str, ...]:
        """Statements that give an existing table this shape, keeping its rows (matched by column name)."""
        staging = f"{self.name}__rebuild"
        return (
            f"DROP TABLE IF EXISTS {staging}",
            self.create_statement().replace(f"EXISTS {self.name} (", f"EXISTS {staging} (", 1),
            f"INSERT INTO {staging} BY NAME SELECT * FROM {self.name}",
            f"DROP TABLE {self.name}",
            f"ALTER TABLE {staging} RENAME TO {self.name}",
        )

    def create_statement(self) -> str:
        """`CREATE TABLE IF NOT EXISTS` with every column, quoted (names such as `Events.Name` hold dots)."""
        body = ",\n".join(f'    "{column.name}" {column.sql}' for column in self.columns)
        return f"CREATE TABLE IF NOT EXISTS {self.name} (\n{body}\n)"


def _table(name: str, *columns: tuple[str, pa.DataType, str]) -> Table:
    return Table(name, tuple(Column(*column) for column in columns))


OTEL_TRACES: Final = _table(
    "otel_traces",
    ("Timestamp", TIMESTAMP_US, "TIMESTAMP NOT NULL"),
    ("TraceId", pa.string(), "VARCHAR NOT NULL"),
    ("SpanId", pa.string(), "VARCHAR NOT NULL"),
    ("ParentSpanId", pa.string(), "VARCHAR NOT NULL"),
    ("TraceState", pa.string(), "VARCHAR NOT NULL"),
    ("SpanName", pa.string(), "VARCHAR NOT NULL"),
    ("SpanKind", pa.string(), "VARCHAR NOT NULL"),
    ("ServiceName", pa.string(), "VARCHAR NOT NULL"),
    ("ResourceAttributes", STRING_MAP, "MAP(VARCHAR, VARCHAR)"),
    ("ScopeName", pa.string(), "VARCHAR NOT NULL"),
    ("ScopeVersion", pa.string(), "VARCHAR NOT NULL"),
    ("SpanAttributes", STRING_MAP, "MAP(VARCHAR, VARCHAR)"),
    ("Duration", pa.uint64(), "UBIGINT NOT NULL"),
    ("StatusCode", pa.string(), "VARCHAR NOT NULL"),
    ("StatusMessage", pa.string(), "VARCHAR NOT NULL"),
    ("Events.Timestamp", pa.list_(TIMESTAMP_US), "TIMESTAMP[]"),
    ("Events.Name", pa.list_(pa.string()), "VARCHAR[]"),
    ("Events.Attributes", pa.list_(STRING_MAP), "MAP(VARCHAR, VARCHAR)[]"),
    ("Links.TraceId", pa.list_(pa.string()), "VARCHAR[]"),
    ("Links.SpanId", pa.list_(pa.string()), "VARCHAR[]"),
    ("Links.TraceState", pa.list_(pa.string()), "VARCHAR[]"),
    ("Links.Attributes", pa.list_(STRING_MAP), "MAP(VARCHAR, VARCHAR)[]"),
)

# One row per cut piece of one page's rrweb stream; `data` is the zstd of the events' JSON array.
RECORDING_CHUNKS: Final = _table(
    "recording_chunks",
    ("trace_id", pa.string(), "VARCHAR NOT NULL"),
    ("span_id", pa.string(), "VARCHAR NOT NULL"),
    ("recording_id", pa.string(), "VARCHAR NOT NULL"),
    ("page_id", pa.string(), "VARCHAR NOT NULL"),
    ("sequence", pa.int32(), "INTEGER NOT NULL"),
    ("first_event_time", TIMESTAMP_US, "TIMESTAMP NOT NULL"),
    ("last_event_time", TIMESTAMP_US, "TIMESTAMP NOT NULL"),
    ("event_count", pa.int32(), "INTEGER NOT NULL"),
    ("raw_bytes", pa.uint64(), "UBIGINT NOT NULL"),
    ("stored_bytes", pa.uint64(), "UBIGINT NOT NULL"),
    ("compression", pa.string(), "VARCHAR NOT NULL"),
    ("starts_with_full_snapshot", pa.bool_(), "BOOLEAN NOT NULL"),
    ("url", pa.string(), "VARCHAR NOT NULL"),
    ("data", pa.binary(), "BLOB NOT NULL"),
)

# Why an activity no longer has its recording: one row per pruned recording.
RECORDING_PRUNES: Final = _table(
    "recording_prunes",
    ("trace_id", pa.string(), "VARCHAR NOT NULL"),
    ("span_id", pa.string(), "VARCHAR NOT NULL"),
    ("recording_id", pa.string(), "VARCHAR NOT NULL"),
    ("pruned_at", TIMESTAMP_US, "TIMESTAMP NOT NULL"),
    ("reason", pa.string(), "VARCHAR NOT NULL"),
    ("stored_bytes", pa.uint64(), "UBIGINT NOT NULL"),
)

_METRIC_COMMON: Final = (
    ("ResourceAttributes", STRING_MAP, "MAP(VARCHAR, VARCHAR)"),
    ("ResourceSchemaUrl", pa.string(), "VARCHAR NOT NULL DEFAULT ''"),
    ("ScopeName", pa.string(), "VARCHAR NOT NULL"),
    ("ScopeVersion", pa.string(), "VARCHAR NOT NULL"),
    ("ScopeAttributes", STRING_MAP, "MAP(VARCHAR, VARCHAR) DEFAULT MAP {}"),
    ("ScopeDroppedAttrCount", pa.uint32(), "UINTEGER NOT NULL DEFAULT 0"),
    ("ScopeSchemaUrl", pa.string(), "VARCHAR NOT NULL DEFAULT ''"),
    ("ServiceName", pa.string(), "VARCHAR NOT NULL"),
    ("MetricName", pa.string(), "VARCHAR NOT NULL"),
    ("MetricDescription", pa.string(), "VARCHAR NOT NULL"),
    ("MetricUnit", pa.string(), "VARCHAR NOT NULL"),
    ("Attributes", STRING_MAP, "MAP(VARCHAR, VARCHAR)"),
    ("StartTimeUnix", TIMESTAMP_US, "TIMESTAMP NOT NULL"),
    ("TimeUnix", TIMESTAMP_US, "TIMESTAMP NOT NULL"),
)

# The exporter's `Exemplars Nested(...)`: one list per field, one item per exemplar.
_EXEMPLARS: Final = (
    ("Exemplars.FilteredAttributes", pa.list_(STRING_MAP), "MAP(VARCHAR, VARCHAR)[] DEFAULT []"),
    ("Exemplars.TimeUnix", pa.list_(TIMESTAMP_US), "TIMESTAMP[] DEFAULT []"),
    ("Exemplars.Value", pa.list_(pa.float64()), "DOUBLE[] DEFAULT []"),
    ("Exemplars.SpanId", pa.list_(pa.string()), "VARCHAR[] DEFAULT []"),
    ("Exemplars.TraceId", pa.list_(pa.string()), "VARCHAR[] DEFAULT []"),
)

_FLAGS: Final = ("Flags", pa.uint32(), "UINTEGER NOT NULL")
_TEMPORALITY: Final = ("AggregationTemporality", pa.int32(), "INTEGER NOT NULL")
_COUNT_SUM: Final = (
    ("Count", pa.uint64(), "UBIGINT NOT NULL"),
    ("Sum", pa.float64(), "DOUBLE NOT NULL"),
)
# The exporter writes pdata's Min()/Max(), 0 when a point has none; nullable here for rows written before v7.
_MIN_MAX: Final = (("Min", pa.float64(), "DOUBLE"), ("Max", pa.float64(), "DOUBLE"))

# What `getgather-otel collect` stores from /v1/metrics: one table per point type, columns in
# the exporter's order (`sqltemplates/metrics_*_table.sql`), named as its default config names them.
METRIC_TABLES: Final = {
    table.name: table
    for table in (
        _table(
            "otel_metrics_histogram",
            *_METRIC_COMMON,
            *_COUNT_SUM,
            ("BucketCounts", pa.list_(pa.uint64()), "UBIGINT[]"),
            ("ExplicitBounds", pa.list_(pa.float64()), "DOUBLE[]"),
            *_EXEMPLARS,
            _FLAGS,
            *_MIN_MAX,
            _TEMPORALITY,
        ),
        _table(
            "otel_metrics_sum",
            *_METRIC_COMMON,
            ("Value", pa.float64(), "DOUBLE NOT NULL"),
            _FLAGS,
            *_EXEMPLARS,
            _TEMPORALITY,
            ("IsMonotonic", pa.bool_(), "BOOLEAN NOT NULL"),
        ),
        _table(
            "otel_metrics_gauge",
            *_METRIC_COMMON,
            ("Value", pa.float64(), "DOUBLE NOT NULL"),
            _FLAGS,
            *_EXEMPLARS,
        ),
        _table(
            "otel_metrics_exponential_histogram",
            *_METRIC_COMMON,
            *_COUNT_SUM,
            ("Scale", pa.int32(), "INTEGER NOT NULL"),
            ("ZeroCount", pa.uint64(), "UBIGINT NOT NULL"),
            ("PositiveOffset", pa.int32(), "INTEGER NOT NULL"),
            ("PositiveBucketCounts", pa.list_(pa.uint64()), "UBIGINT[]"),
            ("NegativeOffset", pa.int32(), "INTEGER NOT NULL"),
            ("NegativeBucketCounts", pa.list_(pa.uint64()), "UBIGINT[]"),
            *_EXEMPLARS,
            _FLAGS,
            *_MIN_MAX,
            _TEMPORALITY,
        ),
        _table(
            "otel_metrics_summary",
            *_METRIC_COMMON,
            *_COUNT_SUM,
            ("ValueAtQuantiles.Quantile", pa.list_(pa.float64()), "DOUBLE[]"),
            ("ValueAtQuantiles.Value", pa.list_(pa.float64()), "DOUBLE[]"),
            _FLAGS,
        ),
    )
}
