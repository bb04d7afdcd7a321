"""The DuckDB exporter and schema: ClickHouse conventions, migrations, and bad files."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from fastmcp import Client
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

import getgather_otel
from getgather_otel import DuckDBSpanExporter, activity, instrument_mcp
from getgather_otel.demo.server import build_demo_server
from getgather_otel.store.errors import DatabaseLockedError
from getgather_otel.store.reader import open_for_reading
from getgather_otel.store.schema import CURRENT_VERSION, SCHEMA_VERSION_TABLE, SchemaTooNewError, migrate
from getgather_otel.store.tables import OTEL_TRACES
from getgather_otel.store.write.arrow_spans import spans_to_arrow
from getgather_otel.store.write.buffered import BufferedTableWriter, concat_tables
from getgather_otel.store.write.writer import DuckDBWriter
from tests.conftest import rows

HELPERS = Path(__file__).parent / "helpers"

CLICKHOUSE_COLUMNS = [
    "Timestamp",
    "TraceId",
    "SpanId",
    "ParentSpanId",
    "TraceState",
    "SpanName",
    "SpanKind",
    "ServiceName",
    "ResourceAttributes",
    "ScopeName",
    "ScopeVersion",
    "SpanAttributes",
    "Duration",
    "StatusCode",
    "StatusMessage",
    "Events.Timestamp",
    "Events.Name",
    "Events.Attributes",
    "Links.TraceId",
    "Links.SpanId",
    "Links.TraceState",
    "Links.Attributes",
]


def test_plain_sdk_exporter_writes_clickhouse_layout(db_path: Path) -> None:
    provider = TracerProvider()
    exporter = DuckDBSpanExporter(db_path)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("scope.test", "9.9")
    with tracer.start_as_current_span("root", kind=SpanKind.SERVER) as root:
        root.set_attributes({"flag": True, "n": 3, "ratio": 0.5, "tags": ["a", "b"]})
        with tracer.start_as_current_span("child", links=[Link(root.get_span_context(), {"why": "x"})]) as child:
            child.add_event("step", {"k": "v"})
            child.set_status(Status(StatusCode.ERROR, "broke"))
    provider.shutdown()

    with open_for_reading(db_path) as conn:
        columns = [r[0] for r in conn.execute("DESCRIBE otel_traces").fetchall()]
        types = dict(conn.execute("SELECT column_name, column_type FROM (DESCRIBE otel_traces)").fetchall())
    assert columns == CLICKHOUSE_COLUMNS
    assert types["Timestamp"] == "TIMESTAMP" and types["Duration"] == "UBIGINT"
    assert types["SpanAttributes"] == "MAP(VARCHAR, VARCHAR)"
    got = {r["SpanName"]: r for r in rows(db_path, "SELECT * FROM otel_traces")}
    root_row, child_row = got["root"], got["child"]
    assert root_row["ParentSpanId"] == "" and child_row["ParentSpanId"] == root_row["SpanId"]
    assert len(root_row["TraceId"]) == 32 and root_row["TraceId"] == root_row["TraceId"].lower()
    assert len(root_row["SpanId"]) == 16
    assert (root_row["SpanKind"], child_row["SpanKind"]) == ("Server", "Internal")
    assert (root_row["StatusCode"], child_row["StatusCode"]) == ("Unset", "Error")
    assert child_row["StatusMessage"] == "broke"
    assert root_row["SpanAttributes"] == {"flag": "true", "n": "3", "ratio": "0.5", "tags": '["a","b"]'}
    assert (root_row["ScopeName"], root_row["ScopeVersion"]) == ("scope.test", "9.9")
    assert root_row["Duration"] > 0 and root_row["ResourceAttributes"]["telemetry.sdk.language"] == "python"
    assert child_row["Events.Name"] == ["step"] and child_row["Events.Attributes"] == [{"k": "v"}]
    assert child_row["Links.SpanId"] == [root_row["SpanId"]] and child_row["Links.Attributes"] == [{"why": "x"}]
    assert rows(db_path, "SELECT count(*) AS n FROM otel_traces_trace_id_ts")[0]["n"] == 1


def test_old_schema_is_migrated_and_newer_is_refused(db_path: Path, tmp_path: Path) -> None:
    conn = duckdb.connect(str(db_path))
    migrate(conn, target=1)
    conn.execute("""INSERT INTO otel_traces ("Timestamp","TraceId","SpanId","ParentSpanId","TraceState",
        "SpanName","SpanKind","ServiceName","ScopeName","ScopeVersion","SpanAttributes","Duration",
        "StatusCode","StatusMessage") VALUES (TIMESTAMP '2026-01-01 00:00:00', 'aa', 'bb', '', '',
        'activity old', 'Internal', 'svc', 's', '', MAP {'getgather.activity.name': 'old'}, 5, 'Unset', '')""")
    conn.close()
    with open_for_reading(db_path) as reader:
        assert reader.execute(f"SELECT max(version) FROM {SCHEMA_VERSION_TABLE}").fetchone() == (CURRENT_VERSION,)
        assert reader.execute("SELECT name, has_recording FROM activities").fetchall() == [("old", False)]

    newer = tmp_path / "newer.duckdb"
    conn = duckdb.connect(str(newer))
    migrate(conn)
    conn.execute(f"INSERT INTO {SCHEMA_VERSION_TABLE} VALUES (999, 'future', now()::TIMESTAMP)")
    conn.close()
    with pytest.raises(SchemaTooNewError, match=r"(?i)upgrade getgather-otel"), open_for_reading(newer):
        pass


@contextmanager
def lock_held_by_other_process(path: Path) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, str(HELPERS / "hold_lock.py"), str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        if proc.stdin:
            proc.stdin.close()
        proc.wait(timeout=10)


async def test_locked_file_never_breaks_tool_calls_and_spans_arrive_later(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    telemetry = getgather_otel.configure(duckdb_path=db_path)
    server = build_demo_server()
    instrument_mcp(server)
    try:
        with (
            lock_held_by_other_process(db_path) as holder,
            caplog.at_level(logging.WARNING, "getgather_otel"),
        ):
            async with Client(server) as client:
                started = time.perf_counter()
                for _ in range(5):
                    result = await client.call_tool("amazon_get_orders", {})
                    assert not result.is_error
                elapsed = time.perf_counter() - started
            assert not telemetry.flush(timeout_s=1.5), "nothing can be written while locked"
            stats = telemetry.stats()
            assert stats.duckdb is not None and stats.duckdb.pending >= 5 and stats.duckdb.failed_writes >= 1
            warnings = [r for r in caplog.records if "writing spans" in r.getMessage()]
            assert len(warnings) == 1, "a failure is logged once, not per span"
            assert f"process {holder.pid}" in warnings[0].getMessage()
        assert elapsed < 2.0
        assert telemetry.flush(timeout_s=20)
        assert rows(db_path, "SELECT count(*) AS n FROM activities")[0]["n"] == 5
        assert any("works again" in r.getMessage() for r in caplog.records)
    finally:
        telemetry.shutdown()


def test_buffer_is_bounded_and_drops_are_counted(db_path: Path) -> None:
    exporter = DuckDBSpanExporter(db_path, max_pending_spans=50, retry_interval_s=5)
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=10))
    tracer = provider.get_tracer("bound")
    with lock_held_by_other_process(db_path):
        for i in range(200):
            with tracer.start_as_current_span(f"s{i}"):
                pass
        provider.force_flush()
        stats = exporter.stats
        assert stats.pending <= 50 and stats.dropped >= 150 and stats.written == 0
    assert exporter.force_flush(20_000)
    provider.shutdown()
    stored = rows(db_path, 'SELECT "SpanName" FROM otel_traces')
    assert len(stored) == exporter.stats.written == 200 - exporter.stats.dropped
    assert {"s199"} <= {r["SpanName"] for r in stored}, "the newest spans are the ones kept"


def span_rows(prefix: str, count: int) -> pa.Table:
    """`otel_traces` rows of `count` SDK spans named prefix0, prefix1, ..."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    for i in range(count):
        with provider.get_tracer("rows").start_as_current_span(f"{prefix}{i}"):
            pass
    return spans_to_arrow(memory.get_finished_spans())


def test_the_bound_counts_the_batch_being_written(db_path: Path) -> None:
    """`max_pending` bounds everything held, queued rows plus the batch being converted or written;
    a batch still being converted is the oldest data held, so it is the first to go."""
    converting, release = threading.Event(), threading.Event()

    def slow_conversion(tables: list[pa.Table]) -> pa.Table:
        converting.set()
        assert release.wait(20)
        return concat_tables(tables)

    buffer: BufferedTableWriter[pa.Table] = BufferedTableWriter(
        DuckDBWriter(db_path),
        OTEL_TRACES.name,
        to_table=slow_conversion,
        size_of=lambda table: table.num_rows,
        max_pending=50,
        unit="spans",
    )
    buffer.submit(span_rows("first", 30))
    assert converting.wait(20), "the writer thread took the first batch"
    for batch in range(4):
        buffer.submit(span_rows(f"later{batch}-", 10))
    held = buffer.stats
    assert (held.pending, held.dropped) == (40, 30), "the batch being converted makes room"
    release.set()
    assert buffer.force_flush(20)
    buffer.shutdown(5)
    buffer.writer.close()
    names = {r["SpanName"] for r in rows(db_path, 'SELECT "SpanName" FROM otel_traces')}
    assert len(names) == buffer.stats.written == 40
    assert {"later0-0", "later3-9"} <= names and "first0" not in names


@pytest.mark.parametrize("problem", ["corrupt", "parent-is-a-file", "read-only-fs"])
async def test_unusable_path_keeps_the_server_working(
    tmp_path: Path, problem: str, caplog: pytest.LogCaptureFixture
) -> None:
    if problem == "corrupt":
        path = tmp_path / "corrupt.duckdb"
        path.write_bytes(b"this is not a duckdb file" * 1000)
    elif problem == "parent-is-a-file":
        (tmp_path / "plain-file").write_text("x")
        path = tmp_path / "plain-file" / "db.duckdb"
    else:
        path = Path("/proc/getgather-otel-test.duckdb")
    before = path.read_bytes() if problem == "corrupt" else None
    telemetry = getgather_otel.configure(duckdb_path=path)
    server = build_demo_server()
    instrument_mcp(server)
    try:
        with caplog.at_level(logging.WARNING, "getgather_otel"):
            async with Client(server) as client:
                for _ in range(3):
                    assert (await client.call_tool("netflix_get_history", {})).structured_content
            assert not telemetry.flush(timeout_s=1)
        messages = [r.getMessage() for r in caplog.records if "writing spans" in r.getMessage()]
        assert len(messages) == 1
        expected = "not a readable DuckDB database" if problem == "corrupt" else "cannot"
        assert expected in messages[0]
        stats = telemetry.stats()
        assert stats.duckdb is not None and stats.duckdb.pending >= 6 and stats.duckdb.dropped == 0
        assert stats.otlp_recordings is None, "no OTLP configured, so no OTLP recording sink"
    finally:
        telemetry.shutdown()
    if before is not None:
        assert path.read_bytes() == before, "a corrupt file is left exactly as it was"


def test_reader_names_the_process_holding_the_lock(db_path: Path) -> None:
    with (
        activity_file(db_path),
        lock_held_by_other_process(db_path) as holder,
        pytest.raises(DatabaseLockedError) as caught,
        open_for_reading(db_path, wait_s=0.3),
    ):
        pass
    assert caught.value.holder_pid == holder.pid
    assert f"process {holder.pid}" in str(caught.value)


@contextmanager
def activity_file(path: Path) -> Iterator[None]:
    t = getgather_otel.configure(duckdb_path=path)
    with activity(name="seed"):
        pass
    t.shutdown()
    yield


def test_sigterm_flushes_everything_ended(db_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(HELPERS / "emit_until_sigterm.py"), str(db_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    stored = rows(db_path, "SELECT max(CAST(attributes['seq'] AS INTEGER)) AS last, count(*) AS n FROM activities")
    assert stored[0]["n"] >= 200
    assert stored[0]["n"] == stored[0]["last"] + 1, "every ended activity up to the signal is stored"


def test_a_reader_waits_for_this_process_s_own_writer(tmp_path: Path) -> None:
    # DuckDB refuses a read-only open of a file this process has open read-write ("different
    # configuration than existing connections"); the writer holds it only for one batch, so a
    # reader in the same process (the tests, the viewer beside `collect`) waits like one elsewhere.
    db = tmp_path / "held.duckdb"
    writer = duckdb.connect(str(db))
    migrate(writer)  # a getgather-otel file: readers refuse a DuckDB file without our schema
    writer.execute("CREATE TABLE t AS SELECT 1 AS x")
    with pytest.raises(DatabaseLockedError, match="this process"), open_for_reading(db, wait_s=0.2):
        pass
    threading.Timer(0.3, writer.close).start()
    with open_for_reading(db, wait_s=10) as conn:
        assert conn.execute("SELECT x FROM t").fetchone() == (1,)
