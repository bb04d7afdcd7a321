"""`BufferedTableWriter`'s bound is exact whatever the batch sizes and timing (issue 14).

The flaky `test_buffer_is_bounded_and_drops_are_counted` saw `pending` 66 with a bound of 50:
the batch the writer thread had taken (waiting for a locked file) could not be dropped, and the
newest item was always kept beside it. These tests put the writer in each of those states on
purpose (conversion, waiting for the file, inside the INSERT) instead of hoping a busy machine does.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from getgather_otel.store.tables import OTEL_TRACES
from getgather_otel.store.write.buffered import BufferedTableWriter, concat_tables, newest_rows
from getgather_otel.store.write.writer import DuckDBWriter
from tests.conftest import rows
from tests.test_store import lock_held_by_other_process, span_rows


def span_buffer(
    writer: DuckDBWriter,
    max_pending: int = 50,
    to_table: Callable[[list[pa.Table]], pa.Table] = concat_tables,
    retry_interval_s: float = 0.5,
) -> BufferedTableWriter[pa.Table]:
    return BufferedTableWriter(
        writer,
        OTEL_TRACES.name,
        to_table=to_table,
        size_of=lambda table: table.num_rows,
        max_pending=max_pending,
        unit="spans",
        keep_newest=newest_rows,
        retry_interval_s=retry_interval_s,
    )


def stored_names(db: Path) -> set[str]:
    return {r["SpanName"] for r in rows(db, 'SELECT "SpanName" FROM otel_traces')}


def test_a_batch_waiting_for_the_file_is_dropped_before_newer_data(db_path: Path) -> None:
    """The flaky test's state, made on purpose: a taken batch waits for a locked file."""
    took = threading.Event()

    def convert(tables: list[pa.Table]) -> pa.Table:
        took.set()
        return concat_tables(tables)

    # lock_wait_s: the thread stays inside write() for as long as the other process holds the lock.
    buffer = span_buffer(DuckDBWriter(db_path, lock_wait_s=30), to_table=convert)
    with lock_held_by_other_process(db_path):
        buffer.submit(span_rows("old", 30))
        assert took.wait(20), "the writer thread took the first batch and waits for the file"
        buffer.submit(span_rows("mid", 40))
        held = buffer.stats
        assert (held.pending, held.dropped) == (40, 30), "the waiting batch is the oldest data: it goes"
        buffer.submit(span_rows("new", 20))
        held = buffer.stats
        assert (held.pending, held.dropped) == (50, 40), "then the oldest queued rows, exactly as many as needed"
    assert buffer.force_flush(30)
    buffer.shutdown(5)
    buffer.writer.close()
    names = stored_names(db_path)
    assert len(names) == buffer.stats.written == 50
    assert names == {f"mid{i}" for i in range(10, 40)} | {f"new{i}" for i in range(20)}


class PausingWriter(DuckDBWriter):
    """A real writer that stops inside `write`, after the INSERT was decided, until released."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.inserting, self.release = threading.Event(), threading.Event()

    def write(self, table_name: str, table: pa.Table, before_insert: Callable[[], bool] | None = None) -> bool:
        def decided() -> bool:
            wanted = before_insert() if before_insert is not None else True
            self.inserting.set()
            assert self.release.wait(20)
            return wanted

        return super().write(table_name, table, decided)


def test_a_batch_being_inserted_counts_and_newer_data_keeps_its_newest_rows(db_path: Path) -> None:
    writer = PausingWriter(db_path)
    buffer = span_buffer(writer)
    buffer.submit(span_rows("first", 30))
    assert writer.inserting.wait(20)
    buffer.submit(span_rows("big", 45))
    held = buffer.stats
    assert (held.pending, held.dropped) == (50, 25), "20 rows fit beside the INSERT: the newest 20"
    buffer.submit(span_rows("one", 1))
    assert (buffer.stats.pending, buffer.stats.dropped) == (50, 26)
    writer.release.set()
    assert buffer.force_flush(20)
    buffer.shutdown(5)
    writer.close()
    assert stored_names(db_path) == ({f"first{i}" for i in range(30)} | {f"big{i}" for i in range(26, 45)} | {"one0"})


def test_bound_and_accounting_hold_under_random_batches_and_a_flapping_lock(db_path: Path) -> None:
    """Many producers, random batch sizes (some over the bound), the file locked part of the time:
    after every submit nothing held exceeds the bound, and written + pending + dropped is
    exactly what was submitted; what was written is in the file."""
    buffer = span_buffer(DuckDBWriter(db_path, lock_wait_s=0.05), max_pending=120, retry_interval_s=0.01)
    rng = random.Random(14)
    batches = [span_rows(f"b{n}-", rng.choice([1, 7, 30, 64, 119, 150])) for n in range(24)]
    violations: list[int] = []
    submitted = threading.Semaphore(0)

    def produce(mine: list[pa.Table]) -> None:
        for table in mine:
            buffer.submit(table)
            if (pending := buffer.stats.pending) > 120:
                violations.append(pending)
            submitted.release()

    producers = [threading.Thread(target=produce, args=(batches[k::3],)) for k in range(3)]
    with lock_held_by_other_process(db_path):
        for thread in producers:
            thread.start()
        for _ in range(12):
            submitted.acquire(timeout=20)
    for thread in producers:
        thread.join(20)
    assert buffer.force_flush(30)
    stats = buffer.stats
    buffer.shutdown(5)
    buffer.writer.close()
    total = sum(table.num_rows for table in batches)
    assert not violations, f"pending went over the bound: {violations}"
    assert stats.written + stats.pending + stats.dropped == total and stats.pending == 0
    assert len(rows(db_path, "SELECT 1 FROM otel_traces")) == stats.written


def test_rows_the_database_refuses_are_dropped_counted_and_do_not_hold_later_ones(db_path: Path) -> None:
    """Rows DuckDB refuses with the file open and writable (here a map with one key twice) are
    not retried: retrying held every later batch behind them for good."""
    good = span_rows("good", 3)
    attributes = pa.MapArray.from_arrays(pa.array([0, 2], pa.int32()), pa.array(["k", "k"]), pa.array(["1", "2"]))
    bad = span_rows("bad", 1).set_column(
        OTEL_TRACES.arrow_schema.get_field_index("SpanAttributes"), "SpanAttributes", attributes
    )
    writer = DuckDBWriter(db_path)
    buffer = span_buffer(writer)
    buffer.submit(bad)
    buffer.force_flush(5)
    buffer.submit(good)
    assert buffer.force_flush(10), "later rows are written"
    buffer.shutdown(5)
    writer.close()
    assert sorted(r["SpanName"] for r in rows(db_path, 'SELECT "SpanName" FROM otel_traces')) == [
        "good0",
        "good1",
        "good2",
    ]
    assert buffer.stats.dropped == 1 and buffer.stats.written == 3
