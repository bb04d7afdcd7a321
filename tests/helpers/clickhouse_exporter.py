"""Fill chdb the way an OTel Collector with the ClickHouse exporter fills ClickHouse, from one of our DuckDB files.

Spans: our `otel_traces` rows are already the exporter's values (tests/test_exporter_values.py
holds both write paths to that), so they go over as they are, through Parquet. Recordings:
each `recording_chunks` row becomes the log record our sender emits (`row_to_log_parts`,
the SDK's `LogRecord`, the SDK's own OTLP encoding), and each record becomes the
`otel_logs` row the exporter inserts (exporter_logs.go: Timestamp or else ObservedTimestamp,
hex ids, flags, severity, `service.name`, `Body.AsString()` — base64 for bytes —, schema
URLs, scope, `AsString` attribute maps, EventName).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from opentelemetry._logs import LogRecord
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

from collectors.otlp_decode import attribute_value, attributes_of
from getgather_otel.export.chunk_log_records import row_to_log_parts
from getgather_otel.store.log_chunks import EVENT_NAME
from getgather_otel.store.write.pdata_strings import attribute_value_to_string

DDL = Path(__file__).resolve().parent.parent / "clickhouse"
LOG_COLUMNS = (
    "Timestamp",
    "TraceId",
    "SpanId",
    "TraceFlags",
    "SeverityText",
    "SeverityNumber",
    "ServiceName",
    "Body",
    "ResourceSchemaUrl",
    "ResourceAttributes",
    "ScopeSchemaUrl",
    "ScopeName",
    "ScopeVersion",
    "ScopeAttributes",
    "LogAttributes",
    "EventName",
)


def create_tables(session: Any) -> None:
    for name in ("otel_traces", "otel_logs"):
        session.query((DDL / f"{name}.sql").read_text())


def load_traces(session: Any, db: Path, tmp: Path) -> None:
    parquet = tmp / "otel_traces.parquet"
    conn = duckdb.connect(str(db), read_only=True)
    try:
        conn.execute(f"COPY otel_traces TO '{parquet}' (FORMAT parquet)")
    finally:
        conn.close()
    session.query(f"INSERT INTO otel_traces SELECT * FROM file('{parquet}', Parquet)")


def chunk_log_request(db: Path, resource: Resource, scope_version: str = "0.test") -> ExportLogsServiceRequest:
    """Every stored chunk as the OTLP log record our sender emits for it, encoded as the SDK encodes it."""
    conn = duckdb.connect(str(db), read_only=True)
    try:
        cursor = conn.execute("SELECT * FROM recording_chunks ORDER BY recording_id, page_id, sequence")
        columns = [d[0] for d in cursor.description or []]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    finally:
        conn.close()
    scope = InstrumentationScope("getgather_otel", scope_version)
    observed = time.time_ns()
    records = []
    for row in rows:
        timestamp, body, attributes = row_to_log_parts(row)
        context = SpanContext(int(row["trace_id"], 16), int(row["span_id"], 16), False, TraceFlags(1))
        record = LogRecord(
            timestamp=timestamp,
            observed_timestamp=observed,
            context=set_span_in_context(NonRecordingSpan(context)),
            body=body,
            attributes=attributes,
            event_name=EVENT_NAME,
        )
        records.append(ReadableLogRecord(record, resource=resource, instrumentation_scope=scope))
    return encode_logs(records)


def _text_map(pairs: Any) -> list[tuple[str, str]]:
    return [(key, attribute_value_to_string(value)) for key, value in attributes_of(pairs).items()]


def exporter_log_rows(request: ExportLogsServiceRequest) -> pa.Table:
    """The `otel_logs` rows the ClickHouse exporter inserts for `request`."""
    rows = []
    for resource_logs in request.resource_logs:
        resource = attributes_of(resource_logs.resource.attributes)
        service = resource.get("service.name")
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                rows.append(
                    {
                        "Timestamp": record.time_unix_nano or record.observed_time_unix_nano,
                        "TraceId": record.trace_id.hex() if any(record.trace_id) else "",
                        "SpanId": record.span_id.hex() if any(record.span_id) else "",
                        "TraceFlags": record.flags & 0xFF,
                        "SeverityText": record.severity_text,
                        "SeverityNumber": int(record.severity_number),
                        "ServiceName": service if isinstance(service, str) else "",
                        "Body": attribute_value_to_string(attribute_value(record.body)),
                        "ResourceSchemaUrl": resource_logs.schema_url,
                        "ResourceAttributes": _text_map(resource_logs.resource.attributes),
                        "ScopeSchemaUrl": scope_logs.schema_url,
                        "ScopeName": scope_logs.scope.name,
                        "ScopeVersion": scope_logs.scope.version,
                        "ScopeAttributes": _text_map(scope_logs.scope.attributes),
                        "LogAttributes": _text_map(record.attributes),
                        "EventName": record.event_name,
                    }
                )
    text_map = pa.map_(pa.string(), pa.string())
    schema = pa.schema(
        [
            ("Timestamp", pa.timestamp("ns", tz="UTC")),
            ("TraceId", pa.string()),
            ("SpanId", pa.string()),
            ("TraceFlags", pa.uint8()),
            ("SeverityText", pa.string()),
            ("SeverityNumber", pa.uint8()),
            ("ServiceName", pa.string()),
            ("Body", pa.string()),
            ("ResourceSchemaUrl", pa.string()),
            ("ResourceAttributes", text_map),
            ("ScopeSchemaUrl", pa.string()),
            ("ScopeName", pa.string()),
            ("ScopeVersion", pa.string()),
            ("ScopeAttributes", text_map),
            ("LogAttributes", text_map),
            ("EventName", pa.string()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def load_recordings(session: Any, db: Path, tmp: Path, service: str = "getgather") -> int:
    """Send every stored chunk through the sender's and the exporter's mappings into `otel_logs`; rows loaded."""
    table = exporter_log_rows(chunk_log_request(db, Resource.create({"service.name": service})))
    parquet = tmp / "otel_logs.parquet"
    pq.write_table(table, parquet)
    columns = ", ".join(LOG_COLUMNS)
    session.query(f"INSERT INTO otel_logs ({columns}) SELECT {columns} FROM file('{parquet}', Parquet)")
    return int(table.num_rows)


def load_database(session: Any, db: Path, tmp: Path) -> int:
    """otel_traces and otel_logs (recordings) from one of our files, as the exporter writes them."""
    create_tables(session)
    load_traces(session, db, tmp)
    return load_recordings(session, db, tmp)
