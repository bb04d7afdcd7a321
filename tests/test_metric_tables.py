"""Metric tables laid out as the ClickHouse exporter lays them out, every point type stored, old files upgraded.

The exporter's own DDL (tests/clickhouse/otel_metrics_*.sql, with the contrib commit each
came from) is created in chdb; our tables must have its columns in its order, and rows the
collector decodes must load into the exporter's tables as they are.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from collectors.otlp_metrics import to_metric_rows
from getgather_otel.store.schema import CURRENT_VERSION, migrate, stored_version
from getgather_otel.store.tables import METRIC_TABLES
from getgather_otel.store.write.arrow_spans import spans_to_arrow

chdb_session = pytest.importorskip("chdb.session")

EXPORTER_DDL = Path(__file__).parent / "clickhouse"
TIME = 1_795_550_000_123_456_789
TRACE = bytes.fromhex("5b8efff798038103d269b633813fc60c")
SPAN = bytes.fromhex("eee19b7ec3c1b174")


def _kv(key: str, **value: Any) -> KeyValue:
    pair = KeyValue(key=key)
    for field, item in value.items():
        setattr(pair.value, field, item)
    return pair


def _request() -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    resource = request.resource_metrics.add()
    resource.schema_url = "https://opentelemetry.io/schemas/1.38.0"
    resource.resource.attributes.extend([_kv("service.name", string_value="getgather"), _kv("pid", int_value=7)])
    scope = resource.scope_metrics.add()
    scope.schema_url = "https://example.com/scope"
    scope.scope.name, scope.scope.version, scope.scope.dropped_attributes_count = "getgather_otel", "0.9", 2
    scope.scope.attributes.append(_kv("ratio", double_value=1.0))

    gauge = scope.metrics.add(name="browser.pages.open", unit="{page}")
    point = gauge.gauge.data_points.add(as_int=3, time_unix_nano=TIME, start_time_unix_nano=TIME - 1000)
    point.attributes.append(_kv("headless", bool_value=True))
    exemplar = point.exemplars.add(as_int=5, time_unix_nano=TIME, trace_id=TRACE, span_id=SPAN)
    exemplar.filtered_attributes.append(_kv("share", double_value=1e-7))
    point.exemplars.add(as_double=0.25, time_unix_nano=TIME)  # no span: the exporter writes zero ids

    total = scope.metrics.add(name="calls")
    total.sum.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
    total.sum.is_monotonic = True
    total.sum.data_points.add(as_double=2.5, time_unix_nano=TIME)

    histogram = scope.metrics.add(name="getgather.activity.duration", unit="s")
    histogram.histogram.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
    histogram.histogram.data_points.add(
        count=4, sum=8.5, bucket_counts=[1, 2, 1], explicit_bounds=[1.0, 5.0], time_unix_nano=TIME, flags=1
    )  # no min or max: the exporter writes pdata's 0

    exponential = scope.metrics.add(name="latency.exp")
    exponential.exponential_histogram.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
    exp_point = exponential.exponential_histogram.data_points.add(
        count=6, sum=12.0, scale=2, zero_count=1, min=0.5, max=4.0, time_unix_nano=TIME
    )
    exp_point.positive.offset, exp_point.negative.offset = 3, -2
    exp_point.positive.bucket_counts.extend([1, 2])
    exp_point.negative.bucket_counts.extend([2])

    summary = scope.metrics.add(name="rpc.latency")
    summary_point = summary.summary.data_points.add(count=10, sum=55.0, time_unix_nano=TIME)
    summary_point.quantile_values.add(quantile=0.5, value=4.0)
    summary_point.quantile_values.add(quantile=0.99, value=9.5)

    scope.metrics.add(name="nothing")  # no data: rejected alone
    return request


def test_our_metric_tables_have_the_exporters_columns_in_its_order(tmp_path: Path) -> None:
    session = chdb_session.Session()
    conn = duckdb.connect(str(tmp_path / "fresh.duckdb"))
    migrate(conn)
    for name, table in METRIC_TABLES.items():
        session.query((EXPORTER_DDL / f"{name}.sql").read_text())
        described = json.loads(str(session.query(f"DESCRIBE TABLE {name}", "JSONCompact")))["data"]
        assert tuple(row[0] for row in described) == table.column_names, name
        ours = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
            [name],
        ).fetchall()
        assert tuple(column for (column,) in ours) == table.column_names, name
    conn.close()
    session.close()


def test_every_point_type_is_stored_as_the_exporter_writes_it(tmp_path: Path) -> None:
    decoded = to_metric_rows(_request())
    assert (decoded.rejected, decoded.points) == (1, 5) and "'nothing'" in decoded.first_problem
    assert set(decoded.tables) == set(METRIC_TABLES)
    [gauge] = decoded.tables["otel_metrics_gauge"].to_pylist()
    assert dict(gauge["ResourceAttributes"]) == {"service.name": "getgather", "pid": "7"}
    assert gauge["ResourceSchemaUrl"] == "https://opentelemetry.io/schemas/1.38.0"
    assert (gauge["ScopeName"], gauge["ScopeVersion"], gauge["ScopeDroppedAttrCount"]) == ("getgather_otel", "0.9", 2)
    assert dict(gauge["ScopeAttributes"]) == {"ratio": "1"} and gauge["ScopeSchemaUrl"] == "https://example.com/scope"
    assert (gauge["ServiceName"], gauge["Value"], dict(gauge["Attributes"])) == ("getgather", 3.0, {"headless": "true"})
    assert [dict(a) for a in gauge["Exemplars.FilteredAttributes"]] == [{"share": "1e-7"}, {}]
    assert gauge["Exemplars.Value"] == [5.0, 0.25]
    assert gauge["Exemplars.TraceId"] == [TRACE.hex(), "0" * 32]
    assert gauge["Exemplars.SpanId"] == [SPAN.hex(), "0" * 16]
    [histogram] = decoded.tables["otel_metrics_histogram"].to_pylist()
    assert (histogram["Min"], histogram["Max"], histogram["Flags"], histogram["AggregationTemporality"]) == (
        0.0,
        0.0,
        1,
        1,
    )
    [exponential] = decoded.tables["otel_metrics_exponential_histogram"].to_pylist()
    assert (exponential["Scale"], exponential["ZeroCount"], exponential["Min"], exponential["Max"]) == (2, 1, 0.5, 4.0)
    assert (exponential["PositiveOffset"], exponential["PositiveBucketCounts"]) == (3, [1, 2])
    assert (exponential["NegativeOffset"], exponential["NegativeBucketCounts"]) == (-2, [2])
    [summary] = decoded.tables["otel_metrics_summary"].to_pylist()
    assert (summary["ValueAtQuantiles.Quantile"], summary["ValueAtQuantiles.Value"]) == ([0.5, 0.99], [4.0, 9.5])

    # The same rows go into our file and, through Parquet, into the exporter's own tables.
    conn = duckdb.connect(str(tmp_path / "metrics.duckdb"))
    migrate(conn)
    session = chdb_session.Session()
    for name, rows in decoded.tables.items():
        conn.register("incoming", rows)
        conn.execute(f"INSERT INTO {name} SELECT * FROM incoming")
        conn.unregister("incoming")
        parquet = tmp_path / f"{name}.parquet"
        conn.execute(f"COPY {name} TO '{parquet}' (FORMAT parquet)")
        session.query((EXPORTER_DDL / f"{name}.sql").read_text())
        session.query(f"INSERT INTO {name} SELECT * FROM file('{parquet}', Parquet)")
        found = json.loads(str(session.query(f"SELECT MetricName, ScopeAttributes FROM {name}", "JSONCompact")))
        assert found["data"] == [[rows["MetricName"][0].as_py(), {"ratio": "1"}]], name
    exemplars = session.query("SELECT Exemplars.TraceId, Exemplars.Value FROM otel_metrics_gauge", "JSONCompact")
    assert json.loads(str(exemplars))["data"] == [[[TRACE.hex(), "0" * 32], [5, 0.25]]]
    conn.close()
    session.close()


# The metric tables as releases up to schema v6 created them (a migration creates tables in the current shape).
_V6_COMMON = """"ResourceAttributes" MAP(VARCHAR, VARCHAR), "ServiceName" VARCHAR NOT NULL,
    "ScopeName" VARCHAR NOT NULL, "ScopeVersion" VARCHAR NOT NULL, "MetricName" VARCHAR NOT NULL,
    "MetricDescription" VARCHAR NOT NULL, "MetricUnit" VARCHAR NOT NULL, "Attributes" MAP(VARCHAR, VARCHAR),
    "StartTimeUnix" TIMESTAMP NOT NULL, "TimeUnix" TIMESTAMP NOT NULL"""
V6_METRIC_TABLES = {
    "otel_metrics_histogram": f"""{_V6_COMMON}, "Count" UBIGINT NOT NULL, "Sum" DOUBLE NOT NULL,
        "BucketCounts" UBIGINT[], "ExplicitBounds" DOUBLE[], "Flags" UINTEGER NOT NULL, "Min" DOUBLE, "Max" DOUBLE,
        "AggregationTemporality" INTEGER NOT NULL""",
    "otel_metrics_sum": f"""{_V6_COMMON}, "Value" DOUBLE NOT NULL, "Flags" UINTEGER NOT NULL,
        "AggregationTemporality" INTEGER NOT NULL, "IsMonotonic" BOOLEAN NOT NULL""",
    "otel_metrics_gauge": f"""{_V6_COMMON}, "Value" DOUBLE NOT NULL, "Flags" UINTEGER NOT NULL""",
}


def test_a_v6_file_upgrades_keeping_its_rows_and_cuts_over_to_exporter_values(tmp_path: Path) -> None:
    db = tmp_path / "v6.duckdb"
    conn = duckdb.connect(str(db))
    migrate(conn, target=6)
    for name, columns in V6_METRIC_TABLES.items():
        conn.execute(f"DROP TABLE {name}")
        conn.execute(f"CREATE TABLE {name} ({columns})")
    common = """MAP {'service.name': 'getgather'}, 'getgather', 'getgather_otel', '0.1.0', ?, '', 'ms',
                MAP {'getgather.brand.id': 'netflix'},
                TIMESTAMP '2026-11-01 00:00:00', TIMESTAMP '2026-11-01 00:01:00'"""
    conn.execute(
        f"INSERT INTO otel_metrics_histogram VALUES ({common}, 4, 812.5, [1, 2, 1], [100.0, 500.0], 0, NULL, 410, 2)",
        ["getgather.activity.duration"],
    )
    conn.execute(f"INSERT INTO otel_metrics_sum VALUES ({common}, 7, 0, 1, true)", ["calls"])
    conn.execute(f"INSERT INTO otel_metrics_gauge VALUES ({common}, 3, 0)", ["browser.pages.open"])
    # A span as getgather-otel wrote it before v7: Python's float text.
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("t").start_as_current_span("old", attributes={"ratio": 1.0}):
        pass
    with provider.get_tracer("t").start_as_current_span("new", attributes={"ratio": 1.0}):
        pass
    old_span = spans_to_arrow(memory.get_finished_spans()).slice(0, 1)
    conn.register("old_span", old_span)
    conn.execute("INSERT INTO otel_traces SELECT * FROM old_span")
    conn.execute("""UPDATE otel_traces SET "SpanAttributes" = MAP {'ratio': '1.0'}""")
    conn.unregister("old_span")
    assert stored_version(conn) == 6

    assert migrate(conn) == CURRENT_VERSION and stored_version(conn) >= 7
    for name, table in METRIC_TABLES.items():
        found = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
            [name],
        ).fetchall()
        assert tuple(column for (column,) in found) == table.column_names
    histogram = conn.execute(
        'SELECT "MetricName", "Count", "BucketCounts", "Min", "Max", "ResourceSchemaUrl", "ScopeAttributes", '
        '"ScopeDroppedAttrCount", "Exemplars.Value" FROM otel_metrics_histogram'
    ).fetchall()
    assert histogram == [("getgather.activity.duration", 4, [1, 2, 1], None, 410.0, "", {}, 0, [])]
    assert conn.execute('SELECT "Value", "IsMonotonic" FROM otel_metrics_sum').fetchall() == [(7.0, True)]
    assert conn.execute('SELECT "Value", "Exemplars.TraceId" FROM otel_metrics_gauge').fetchall() == [(3.0, [])]
    assert conn.execute("SELECT count(*) FROM otel_metrics_summary").fetchall() == [(0,)]

    # The cut-over: rows written before v7 keep their text, rows written after are the exporter's.
    new_span = spans_to_arrow(memory.get_finished_spans()).slice(1, 1)
    conn.register("new_span", new_span)
    conn.execute("INSERT INTO otel_traces SELECT * FROM new_span")
    ratios = conn.execute(
        """SELECT "SpanName", "SpanAttributes"['ratio'] FROM otel_traces ORDER BY "SpanName" DESC"""
    ).fetchall()
    assert ratios == [("old", "1.0"), ("new", "1")]
    [(applied,)] = conn.execute("SELECT applied_at FROM getgather_otel_schema WHERE version = 7").fetchall()
    assert applied is not None, "when the file cut over is recorded"
    conn.close()
