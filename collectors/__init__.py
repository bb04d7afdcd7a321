"""The collection tier: `getgather-otel collect`, an OTLP/HTTP receiver feeding the DuckDB writer.

Fleets of MCP servers export over OTLP (directly, or through an OpenTelemetry Collector,
see otel-collector.yaml) to one `collect` process, which owns the DuckDB file.
"""
