"""A bounded, retrying, background writer of one DuckDB table: what spans and recordings share.

Producers (the span processor's thread, the browser event loop) must never wait for the
disk, so `submit()` only queues an item. One thread per table converts everything queued
into a single Arrow table (on that thread: conversion can be costly, e.g. compressing
recording chunks) and inserts it through the shared `DuckDBWriter`. Batches grow under
load, which is what DuckDB likes.

When the file is locked, corrupt, unwritable or the disk is full, the converted table is
kept and retried with backoff, the failure is logged once (and recovery once), and data
beyond `max_pending` (measured by `size_of`: rows, bytes, ...) is dropped oldest-first
and counted.

The bound is exact: everything held (queued items, the batch being converted or waiting
for the file, a failed batch) never exceeds `max_pending` once `submit()` returns, whatever
the batch sizes and the timing. Only a batch whose INSERT has begun cannot be dropped, so a
new item that does not fit beside it keeps just its newest part (`keep_newest`) or goes.
Every unit submitted is, at any moment, exactly one of written, pending or dropped.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

import pyarrow as pa

from getgather_otel._log import FailureReporter, logger
from getgather_otel.store.errors import DatabaseLockedError, StoreError
from getgather_otel.store.write.writer import DuckDBWriter

# How long a stopping process waits for a file another process holds, and gives a file that
# failed otherwise (corrupt, unwritable, not a database) for one last attempt; the wait is
# decided again every WAIT_SLICE_S, as the writes fail (`BufferedTableWriter.shutdown`).
LOCKED_WAIT_S = 1.0
LAST_ATTEMPT_S = 0.5
WAIT_SLICE_S = 0.1

__all__ = [
    "LAST_ATTEMPT_S",
    "LOCKED_WAIT_S",
    "WAIT_SLICE_S",
    "BufferedTableWriter",
    "WriteStats",
    "concat_tables",
    "newest_rows",
]

Item = TypeVar("Item")


@dataclass
class WriteStats:
    """Counters in the unit of `size_of` (spans for otel_traces, bytes for chunks)."""

    written: int = 0
    pending: int = 0
    dropped: int = 0
    failed_writes: int = 0


class BufferedTableWriter(Generic[Item]):
    """Queues items for `table_name` and inserts them from a background thread."""

    def __init__(
        self,
        writer: DuckDBWriter,
        table_name: str,
        *,
        to_table: Callable[[list[Item]], pa.Table],
        size_of: Callable[[Item], int],
        max_pending: int,
        unit: str,
        keep_newest: Callable[[Item, int], Item] | None = None,
        retry_interval_s: float = 0.5,
        max_retry_interval_s: float = 30.0,
    ) -> None:
        self.writer = writer
        self.table_name = table_name
        self._to_table = to_table
        self._size_of = size_of
        # The newest n units of an item (n < its size); None: items are kept or dropped whole.
        self._keep_newest = keep_newest
        self._max_pending = max_pending
        self._unit = unit
        self._retry_interval_s = retry_interval_s
        self._max_retry_interval_s = max_retry_interval_s
        self._pending: deque[tuple[Item, int]] = deque()
        self._pending_size = 0
        # A converted batch whose insert failed: retried before anything newer.
        self._retry: tuple[pa.Table, int] | None = None
        # The batch the writer thread took: droppable until its INSERT begins (`_committing`).
        self._in_flight = 0
        self._committing = False
        self._cond = threading.Condition()
        self._flush_requested = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._reporter = FailureReporter(f"writing {unit} to {writer.path}")
        self._stats = WriteStats()
        self.last_error: StoreError | None = None

    def submit(self, item: Item) -> None:
        size = self._size_of(item)
        with self._cond:
            if self._stopping:
                self._stats.dropped += size
                return
            self._pending.append((item, size))
            self._pending_size += size
            self._enforce_bound_locked()
            self._ensure_thread_locked()
            self._cond.notify_all()

    def force_flush(self, timeout_s: float) -> bool:
        """Wait until everything submitted so far is written; False if the deadline passed first."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            if not self._busy_locked():
                return True
            self._ensure_thread_locked()
            self._flush_requested = True
            self._cond.notify_all()
            while self._busy_locked():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def shutdown(self, timeout_s: float, since: float | None = None) -> bool:
        """Write what is queued (`_flush_before_stopping`), then stop; False when some of it was
        not written (dropped, counted). `since` (`time.monotonic()`): when stopping began, for
        buffers of one file stopped one after the other (one wait in all)."""
        started = time.monotonic() if since is None else since
        flushed = self._flush_before_stopping(timeout_s, started)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        if not flushed:
            self.writer.stop_waiting()  # an attempt waiting for the lock ends at its next poll
        if thread is not None:
            # Written: the thread is idle and ends at once. Given up: it ends once its current
            # attempt does (milliseconds, `stop_waiting`); a write it still makes is not counted
            # twice (below).
            thread.join(timeout=max(timeout_s - (time.monotonic() - started), 0.0) if flushed else LAST_ATTEMPT_S)
        if not flushed:
            with self._cond:
                lost = self._pending_size + (self._retry[1] if self._retry else 0) + self._in_flight
                self._stats.dropped += lost
                self._pending.clear()
                self._pending_size = 0
                self._retry = None
                self._in_flight = 0  # a write still running after the join is not counted twice
            logger.error("shut down with %d %s not written to %s", lost, self._unit, self.writer.path)
        if self._stats.dropped:
            logger.warning(
                "%d %s were dropped in total because %s was unavailable",
                self._stats.dropped,
                self._unit,
                self.writer.path,
            )
        return flushed

    def _flush_before_stopping(self, timeout_s: float, started: float) -> bool:
        """Wait for what is queued to be written: up to `timeout_s` while writes succeed (a big
        last batch on a slow disk), LOCKED_WAIT_S while another process holds the file (a reader's
        query ends in that time; a notebook holding it does not end in any wait a supervisor
        allows), and one last attempt (LAST_ATTEMPT_S) for a corrupt or unwritable file, which
        does not heal meanwhile. Decided again as the writes fail: the first failure may come only
        now (a newcomer's break: a file that is no database kept the process 10.8 s at exit, a
        locked one 10.1 s after SIGTERM, past the README's 2 s and Docker's 10 s)."""
        while True:
            error = self.last_error
            if error is None:
                limit = timeout_s
            elif isinstance(error, DatabaseLockedError):
                limit = min(timeout_s, LOCKED_WAIT_S)
            else:
                limit = min(timeout_s, LAST_ATTEMPT_S)
            left = limit - (time.monotonic() - started)
            if self.force_flush(max(min(left, WAIT_SLICE_S), 0.0)):
                return True
            if left <= WAIT_SLICE_S:
                return False

    @property
    def stats(self) -> WriteStats:
        with self._cond:
            retry = self._retry[1] if self._retry else 0
            return replace(self._stats, pending=self._pending_size + self._in_flight + retry)

    def _busy_locked(self) -> bool:
        return bool(self._pending or self._in_flight or self._retry)

    def _enforce_bound_locked(self) -> None:
        """Drop the oldest data beyond `max_pending`: failed batch, taken batch, queued items.

        Everything held counts (the collector's back-pressure reads `stats.pending`). A batch
        whose INSERT has begun cannot be dropped; when even the newest item does not fit
        beside it, the item keeps only its newest units (`keep_newest`) or is dropped.
        """
        excess = self._pending_size + self._in_flight + (self._retry[1] if self._retry else 0) - self._max_pending
        if excess <= 0:
            return
        if self._retry is not None:
            excess -= self._retry[1]
            self._stats.dropped += self._retry[1]
            self._retry = None
        if excess > 0 and self._in_flight and not self._committing:
            excess -= self._in_flight
            self._stats.dropped += self._in_flight
            self._in_flight = 0  # the writer thread sees its batch was disowned and discards it
        while excess > 0 and self._pending:
            item, size = self._pending[0]
            if size > excess and self._keep_newest is not None:
                self._pending[0] = (self._keep_newest(item, size - excess), size - excess)
                dropped = excess
            else:
                self._pending.popleft()
                dropped = size
            self._pending_size -= dropped
            self._stats.dropped += dropped
            excess -= dropped

    def _ensure_thread_locked(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._run, name=f"getgather-otel-{self.table_name}-writer", daemon=True
            )
            self._thread.start()

    def _next_batch(self) -> tuple[pa.Table, int] | None:
        """Wait for work; returns a table to insert and its size, or None to stop."""
        with self._cond:
            while not self._busy_locked() and not self._stopping:
                self._cond.wait()
            if self._retry is not None:
                batch, self._retry = self._retry, None
                self._in_flight = batch[1]
                return batch
            if not self._pending:
                return None
            items = list(self._pending)
            self._pending.clear()
            size = self._pending_size
            self._pending_size = 0
            self._in_flight = size
        try:
            return self._to_table([item for item, _ in items]), size
        except Exception:
            logger.exception("could not convert %d %s for %s; dropping them", size, self._unit, self.table_name)
            with self._cond:
                self._stats.dropped += self._in_flight  # unless the bound already dropped them
                self._in_flight = 0
                self._cond.notify_all()
            return self._next_batch()

    def _begin_insert(self) -> bool:
        """Called with the file open, just before the INSERT: False when the batch was disowned."""
        with self._cond:
            self._committing = self._in_flight > 0
            return self._committing

    def _run(self) -> None:
        backoff = self._retry_interval_s
        while (batch := self._next_batch()) is not None:
            table, size = batch
            try:
                inserted = self.writer.write(self.table_name, table, before_insert=self._begin_insert)
            except StoreError as error:
                # The file opened and its INSERT failed for no reason of the file's (not locked,
                # unwritable or damaged): the rows are what the database refuses, and retrying
                # them would hold every later batch behind them for good (a newcomer's break:
                # a map with one key twice). They are dropped, counted and said.
                refused = self._committing and type(error) is StoreError
                with self._cond:
                    self._stats.failed_writes += 1
                    if refused:
                        self._stats.dropped += self._in_flight
                        self._in_flight = 0
                    elif self._in_flight:  # still ours: keep it for the next attempt
                        self._retry = batch
                        self._in_flight = 0
                        self._enforce_bound_locked()
                    self._committing = False
                    self._cond.notify_all()
                if refused:
                    logger.error("%d %s were refused by %s and dropped: %s", size, self._unit, self.table_name, error)
                    continue
                self.last_error = error
                self._reporter.failed(error)
                with self._cond:
                    if not self._stopping:
                        self._cond.wait_for(lambda: self._flush_requested or self._stopping, timeout=backoff)
                    self._flush_requested = False
                    if self._stopping:
                        return
                backoff = min(backoff * 2, self._max_retry_interval_s)
                continue
            with self._cond:
                if inserted and self._in_flight:
                    self._stats.written += size
                self._in_flight = 0
                self._committing = False
                self._cond.notify_all()
            self.last_error = None
            if self._reporter.failing:
                self._reporter.recovered(f"{size} buffered {self._unit} written")
            backoff = self._retry_interval_s


def concat_tables(tables: list[pa.Table]) -> pa.Table:
    """`to_table` for writers whose items are ready Arrow tables."""
    return pa.concat_tables(tables) if len(tables) > 1 else tables[0]


def newest_rows(table: pa.Table, rows: int) -> pa.Table:
    """`keep_newest` for items that are Arrow tables measured in rows (newest rows last)."""
    return table.slice(table.num_rows - rows)
