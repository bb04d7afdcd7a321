"""OTLP metrics in, rows of the `otel_metrics_*` tables out (ClickHouse exporter layout).

Histogram, sum and gauge points are kept; exponential histograms and summaries are
counted as rejected data points with a reason (OTLP partial success), never a failure of
the whole request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1 import metrics_pb2

from collectors.otlp_decode import attributes_of
from getgather_otel.collection import METRIC_TABLES, attribute_value_to_string

__all__ = ["DecodedMetrics", "to_metric_rows"]


@dataclass
class DecodedMetrics:
    tables: dict[str, pa.Table] = field(default_factory=dict)
    rejected: int = 0
    first_problem: str = ""

    @property
    def points(self) -> int:
        return sum(table.num_rows for table in self.tables.values())


def _text_map(attributes: dict[str, Any]) -> list[tuple[str, str]]:
    """Attribute values as the strings span attributes are stored as (booleans `true`, sequences JSON)."""
    return [(key, attribute_value_to_string(value)) for key, value in attributes.items()]


def _number(point: Any) -> float:
    return float(point.as_int) if point.WhichOneof("value") == "as_int" else float(point.as_double)


def to_metric_rows(request: ExportMetricsServiceRequest) -> DecodedMetrics:
    rows: dict[str, list[dict[str, Any]]] = {
        "otel_metrics_histogram": [],
        "otel_metrics_sum": [],
        "otel_metrics_gauge": [],
    }
    decoded = DecodedMetrics()
    for resource_metrics in request.resource_metrics:
        resource = attributes_of(resource_metrics.resource.attributes)
        service = str(resource.get("service.name", ""))
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                common = {
                    "ResourceAttributes": _text_map(resource),
                    "ServiceName": service,
                    "ScopeName": scope_metrics.scope.name,
                    "ScopeVersion": scope_metrics.scope.version,
                    "MetricName": metric.name,
                    "MetricDescription": metric.description,
                    "MetricUnit": metric.unit,
                }
                if kind == "histogram":
                    for p in metric.histogram.data_points:
                        rows["otel_metrics_histogram"].append(
                            {
                                **common,
                                **_point_times(p),
                                "Count": p.count,
                                "Sum": p.sum,
                                "BucketCounts": list(p.bucket_counts),
                                "ExplicitBounds": list(p.explicit_bounds),
                                "Flags": p.flags,
                                "Min": p.min if p.HasField("min") else None,
                                "Max": p.max if p.HasField("max") else None,
                                "AggregationTemporality": metric.histogram.aggregation_temporality,
                            }
                        )
                elif kind == "sum":
                    for p in metric.sum.data_points:
                        rows["otel_metrics_sum"].append(
                            {
                                **common,
                                **_point_times(p),
                                "Value": _number(p),
                                "Flags": p.flags,
                                "AggregationTemporality": metric.sum.aggregation_temporality,
                                "IsMonotonic": metric.sum.is_monotonic,
                            }
                        )
                elif kind == "gauge":
                    for p in metric.gauge.data_points:
                        rows["otel_metrics_gauge"].append(
                            {**common, **_point_times(p), "Value": _number(p), "Flags": p.flags}
                        )
                else:
                    decoded.rejected += _point_count(metric, kind)
                    decoded.first_problem = decoded.first_problem or f"{kind or 'empty'} metrics are not stored"
    decoded.tables = {
        table: pa.Table.from_pylist(table_rows, schema=METRIC_TABLES[table].arrow_schema)
        for table, table_rows in rows.items()
        if table_rows
    }
    return decoded


def _point_times(point: Any) -> dict[str, Any]:
    return {
        "Attributes": _text_map(attributes_of(point.attributes)),
        # Microseconds, as the TIMESTAMP columns and their Arrow type hold them.
        "StartTimeUnix": point.start_time_unix_nano // 1000,
        "TimeUnix": point.time_unix_nano // 1000,
    }


def _point_count(metric: metrics_pb2.Metric, kind: str | None) -> int:
    if kind == "exponential_histogram":
        return len(metric.exponential_histogram.data_points)
    if kind == "summary":
        return len(metric.summary.data_points)
    return 0
