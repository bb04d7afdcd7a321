"""otel-collector.yaml: every pipeline names components that are defined, and nothing defined is unused."""

from __future__ import annotations

from pathlib import Path

import yaml

CONFIG = Path(__file__).resolve().parent.parent / "otel-collector.yaml"
KINDS = ("receivers", "processors", "exporters")


def test_pipelines_reference_defined_components() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    pipelines = config["service"]["pipelines"]
    assert {"traces", "metrics"} <= set(pipelines)
    used: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for name, pipeline in pipelines.items():
        assert pipeline.get("receivers") and pipeline.get("exporters"), f"{name} has receivers and exporters"
        for kind in KINDS:
            for component in pipeline.get(kind, []):
                assert component in config[kind], f"pipeline {name} uses undefined {kind[:-1]} {component!r}"
                used[kind].add(component)
        assert pipeline["processors"][0] == "memory_limiter", f"{name}: memory_limiter must come first"
        assert pipeline["processors"][-1] == "batch", f"{name}: batch must come last"
    for kind in KINDS:
        assert set(config[kind]) == used[kind], f"defined but unused {kind}: {set(config[kind]) - used[kind]}"
    for extension in config["service"].get("extensions", []):
        assert extension in config["extensions"]
    # The queue towards `collect` is on disk (docs/collector.md says it survives a restart): its
    # storage is an extension that is defined and enabled, or the Collector refuses to start.
    storage = config["exporters"]["otlphttp/getgather"]["sending_queue"]["storage"]
    assert storage.startswith("file_storage") and storage in config["service"]["extensions"]
    traces = pipelines["traces"]["exporters"]
    assert "otlphttp/getgather" in traces and "clickhouse" in traces, "fan-out to collect and ClickHouse"
    assert config["exporters"]["clickhouse"]["traces_table_name"] == "otel_traces", "the table our SQL reads"


def _days(ttl: str) -> float:
    assert ttl.endswith("h"), "the exporter's ttl is a Go duration; we write hours"
    return float(ttl[:-1]) / 24


def test_clickhouse_keeps_what_getgather_otel_keeps() -> None:
    """Spans 90 days; recordings in otel_logs until a failed activity's 60 days (`prune --clickhouse` takes the
    others at 14): the defaults of the DuckDB file's retention."""
    from getgather_otel.store.maintenance.retention import RetentionPolicy

    config = yaml.safe_load(CONFIG.read_text())
    pipelines, exporters = config["service"]["pipelines"], config["exporters"]
    policy = RetentionPolicy()
    spans = exporters["clickhouse"]
    assert spans["traces_table_name"] == "otel_traces" and _days(spans["ttl"]) == policy.span_days
    assert "clickhouse" in pipelines["metrics"]["exporters"], "the metric tables are the exporter's layout too"
    logs = [name for name in pipelines["logs"]["exporters"] if name.startswith("clickhouse")]
    assert logs == ["clickhouse/recordings"] and "otlphttp/getgather" in pipelines["logs"]["exporters"]
    recordings = exporters["clickhouse/recordings"]
    assert recordings["logs_table_name"] == "otel_logs" and _days(recordings["ttl"]) == policy.error_recording_days
    assert "otlp/backend" not in pipelines["logs"]["exporters"], "recordings never reach a general backend"
    assert policy.recording_days == 14 and "prune --clickhouse" in CONFIG.read_text()
