"""OTLP metrics in, rows of the `otel_metrics_*` tables out, value for value as the ClickHouse exporter writes them.

Every point type is kept, each in its own table (gauge, sum, histogram, exponential
histogram, summary), with the exporter's columns (`internal/metrics/*_metrics.go` in
opentelemetry-collector-contrib): attribute maps as pdata `AsString`, the resource and scope
schema URLs, scope attributes and dropped count, `ServiceName` as `AsString` of
`service.name`, exemplars as parallel lists (hex ids, values as doubles), `Min`/`Max` as
pdata's getters give them (0 when a point has none). A metric with no data is counted as
rejected (OTLP partial success), never a failure of the whole request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from collectors.otlp_decode import attributes_of
from getgather_otel.collection import METRIC_TABLES, attribute_value_to_string

__all__ = ["DecodedMetrics", "to_metric_rows"]

_TABLES = {
    "gauge": "otel_metrics_gauge",
    "sum": "otel_metrics_sum",
    "histogram": "otel_metrics_histogram",
    "exponential_histogram": "otel_metrics_exponential_histogram",
    "summary": "otel_metrics_summary",
}


@dataclass
class DecodedMetrics:
    tables: dict[str, pa.Table] = field(default_factory=dict)
    rejected: int = 0
    first_problem: str = ""

    @property
    def points(self) -> int:
        return sum(table.num_rows for table in self.tables.values())


def _text_map(pairs: Any) -> list[tuple[str, str]]:
    """Attribute values as the exporter stores them (pdata AsString)."""
    return [(key, attribute_value_to_string(value)) for key, value in attributes_of(pairs).items()]


def _number(point: Any) -> float:
    """An int or double point value as the exporter's Float64 (0 when neither is set)."""
    return float(point.as_int) if point.WhichOneof("value") == "as_int" else float(point.as_double)


def _exemplars(point: Any) -> dict[str, Any]:
    exemplars = list(point.exemplars)
    return {
        "Exemplars.FilteredAttributes": [_text_map(e.filtered_attributes) for e in exemplars],
        "Exemplars.TimeUnix": [e.time_unix_nano // 1000 for e in exemplars],
        "Exemplars.Value": [_number(e) for e in exemplars],
        # The exporter hex-encodes the fixed-size ids as they are: zeros for an exemplar without a span.
        "Exemplars.SpanId": [e.span_id.rjust(8, b"\x00")[:8].hex() for e in exemplars],
        "Exemplars.TraceId": [e.trace_id.rjust(16, b"\x00")[:16].hex() for e in exemplars],
    }


def _point(point: Any) -> dict[str, Any]:
    return {
        "Attributes": _text_map(point.attributes),
        # Microseconds, as the TIMESTAMP columns and their Arrow type hold them.
        "StartTimeUnix": point.start_time_unix_nano // 1000,
        "TimeUnix": point.time_unix_nano // 1000,
        "Flags": point.flags,
    }


def _min_max(point: Any) -> dict[str, float]:
    return {"Min": point.min if point.HasField("min") else 0.0, "Max": point.max if point.HasField("max") else 0.0}


def _rows_of(metric: Any, kind: str) -> list[dict[str, Any]]:
    """The point-specific columns of every point of one metric."""
    if kind == "gauge":
        return [{**_point(p), "Value": _number(p), **_exemplars(p)} for p in metric.gauge.data_points]
    if kind == "sum":
        data = metric.sum
        return [
            {
                **_point(p),
                "Value": _number(p),
                **_exemplars(p),
                "AggregationTemporality": data.aggregation_temporality,
                "IsMonotonic": data.is_monotonic,
            }
            for p in data.data_points
        ]
    if kind == "histogram":
        return [
            {
                **_point(p),
                "Count": p.count,
                "Sum": p.sum,
                "BucketCounts": list(p.bucket_counts),
                "ExplicitBounds": list(p.explicit_bounds),
                **_exemplars(p),
                **_min_max(p),
                "AggregationTemporality": metric.histogram.aggregation_temporality,
            }
            for p in metric.histogram.data_points
        ]
    if kind == "exponential_histogram":
        return [
            {
                **_point(p),
                "Count": p.count,
                "Sum": p.sum,
                "Scale": p.scale,
                "ZeroCount": p.zero_count,
                "PositiveOffset": p.positive.offset,
                "PositiveBucketCounts": list(p.positive.bucket_counts),
                "NegativeOffset": p.negative.offset,
                "NegativeBucketCounts": list(p.negative.bucket_counts),
                **_exemplars(p),
                **_min_max(p),
                "AggregationTemporality": metric.exponential_histogram.aggregation_temporality,
            }
            for p in metric.exponential_histogram.data_points
        ]
    return [
        {
            **_point(p),
            "Count": p.count,
            "Sum": p.sum,
            "ValueAtQuantiles.Quantile": [q.quantile for q in p.quantile_values],
            "ValueAtQuantiles.Value": [q.value for q in p.quantile_values],
        }
        for p in metric.summary.data_points
    ]


def to_metric_rows(request: ExportMetricsServiceRequest) -> DecodedMetrics:
    rows: dict[str, list[dict[str, Any]]] = {table: [] for table in _TABLES.values()}
    decoded = DecodedMetrics()
    for resource_metrics in request.resource_metrics:
        resource = attributes_of(resource_metrics.resource.attributes)
        resource_text = [(key, attribute_value_to_string(value)) for key, value in resource.items()]
        service = attribute_value_to_string(resource.get("service.name"))
        for scope_metrics in resource_metrics.scope_metrics:
            scope = scope_metrics.scope
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                if kind not in _TABLES:
                    decoded.rejected += 1
                    decoded.first_problem = decoded.first_problem or f"a metric ({metric.name!r}) has no data points"
                    continue
                common = {
                    "ResourceAttributes": resource_text,
                    "ResourceSchemaUrl": resource_metrics.schema_url,
                    "ScopeName": scope.name,
                    "ScopeVersion": scope.version,
                    "ScopeAttributes": _text_map(scope.attributes),
                    "ScopeDroppedAttrCount": scope.dropped_attributes_count,
                    "ScopeSchemaUrl": scope_metrics.schema_url,
                    "ServiceName": service,
                    "MetricName": metric.name,
                    "MetricDescription": metric.description,
                    "MetricUnit": metric.unit,
                }
                rows[_TABLES[kind]].extend({**common, **point} for point in _rows_of(metric, kind))
    decoded.tables = {
        table: pa.Table.from_pylist(table_rows, schema=METRIC_TABLES[table].arrow_schema)
        for table, table_rows in rows.items()
        if table_rows
    }
    return decoded
