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
    traces = pipelines["traces"]["exporters"]
    assert "otlphttp/getgather" in traces and "clickhouse" in traces, "fan-out to collect and ClickHouse"
    assert config["exporters"]["clickhouse"]["traces_table_name"] == "otel_traces", "the table our SQL reads"
