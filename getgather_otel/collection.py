"""The library's seam for the collection tier (`collectors/`): everything it may use, and nothing else.

`getgather-otel collect` receives OTLP from many servers and writes one DuckDB file. It
decodes protobuf into the same rows the in-process exporter writes (the row builders
below), hands them to the file's `DuckDBStore`, and serves the web viewer from the writing
process. `tests/test_layers.py` holds `collectors/` to this module: a name it needs is
added here. What it holds:

- the store owner (`DuckDBStore`, and `WriterReads` for the viewer's reads through it);
- the decoders' row builders (`TraceRows`, `resource_columns`, `attribute_value_to_string`,
  `KIND_NAMES`, `STATUS_NAMES`, `METRIC_TABLES`, `RECORDING_CHUNKS`, `log_parts_to_row`), and
  how readers decompress a chunk (`CHUNK_COMPRESSION`, `decompress_json`), so that a chunk
  is stored only if it decodes;
- the viewer's routes and replay origin, served beside the receiver;
- how senders recognise the receiver (`RECEIVER_INFO_PATH`, `RECEIVER_NAME`, `__version__`),
  its bearer-token check, and the grace requests get at shutdown.
"""

from __future__ import annotations

from getgather_otel.export.chunk_log_records import NotAChunkError, log_parts_to_row
from getgather_otel.export.duckdb_store import DuckDBStore
from getgather_otel.export.otlp import RECEIVER_INFO_PATH, RECEIVER_NAME
from getgather_otel.export.shutdown import REQUEST_GRACE_S
from getgather_otel.recording.chunk_codec import COMPRESSION as CHUNK_COMPRESSION
from getgather_otel.recording.chunk_codec import decompress_json
from getgather_otel.store.tables import METRIC_TABLES, RECORDING_CHUNKS
from getgather_otel.store.write.arrow_spans import (
    KIND_NAMES,
    STATUS_NAMES,
    TraceRows,
    resource_columns,
)
from getgather_otel.store.write.pdata_strings import attribute_value_to_string
from getgather_otel.version import __version__
from getgather_otel.viewer.app import ReplayOrigin, ViewerSettings, replay_server, viewer_routes
from getgather_otel.viewer.reads import WriterReads
from getgather_otel.web.bearer import bearer_allows

__all__ = [
    "CHUNK_COMPRESSION",
    "KIND_NAMES",
    "METRIC_TABLES",
    "RECEIVER_INFO_PATH",
    "RECEIVER_NAME",
    "RECORDING_CHUNKS",
    "REQUEST_GRACE_S",
    "STATUS_NAMES",
    "DuckDBStore",
    "NotAChunkError",
    "ReplayOrigin",
    "TraceRows",
    "ViewerSettings",
    "WriterReads",
    "__version__",
    "attribute_value_to_string",
    "bearer_allows",
    "decompress_json",
    "log_parts_to_row",
    "replay_server",
    "resource_columns",
    "viewer_routes",
]
