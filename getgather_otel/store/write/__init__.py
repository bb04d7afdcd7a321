"""The write path into a DuckDB file: one writer per file and process, bounded buffers, spans as Arrow rows."""
