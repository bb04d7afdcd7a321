"""Export: where captured spans and recordings go.

The pipeline `configure()` builds, the DuckDB store that owns a file, OTLP, the zero-code
entry points and the shutdown budget that bounds them all at exit.
"""
