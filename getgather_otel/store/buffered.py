"""A bounded, retrying, background writer of one DuckDB table: what spans and recordings share.

Producers (the span processor's thread, the browser event loop) must never wait for the
disk, so `submit()` only queues an item. One thread per table converts everything queued
into a single Arrow table (on that thread: conversion can be costly, e.g. compressing
recording chunks) and inserts it through the shared `DuckDBWriter`. Batches grow under
load, which is what DuckDB likes.

When the file is locked, corrupt, unwritable or the disk is full, the converted table is
kept and retried with backoff, the failure is logged once (and recovery once), and items
beyond `max_pending` (measured by `size_of`: rows, bytes, ...) are dropped oldest-first
and counted.
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
from getgather_otel.store.writer import DuckDBWriter

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
        retry_interval_s: float = 0.5,
        max_retry_interval_s: float = 30.0,
    ) -> None:
        self.writer = writer
        self.table_name = table_name
        self._to_table = to_table
        self._size_of = size_of
        self._max_pending = max_pending
        self._unit = unit
        self._retry_interval_s = retry_interval_s
        self._max_retry_interval_s = max_retry_interval_s
        self._pending: deque[tuple[Item, int]] = deque()
        self._pending_size = 0
        # A converted batch whose insert failed: retried before anything newer.
        self._retry: tuple[pa.Table, int] | None = None
        self._in_flight = 0
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

    def shutdown(self, timeout_s: float) -> None:
        """Write what is queued (waiting only while the failure looks transient), then stop."""
        # Waiting only helps while another process holds the lock; a corrupt or unwritable
        # file will not heal in the next seconds, so it gets one last attempt.
        transient = self.last_error is None or isinstance(self.last_error, DatabaseLockedError)
        flushed = self.force_flush(timeout_s if transient else 0.5)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=timeout_s)
        if not flushed:
            with self._cond:
                lost = self._pending_size + (self._retry[1] if self._retry else 0)
                self._stats.dropped += lost
                self._pending.clear()
                self._pending_size = 0
                self._retry = None
            logger.error("shut down with %d %s not written to %s", lost, self._unit, self.writer.path)
        if self._stats.dropped:
            logger.warning(
                "%d %s were dropped in total because %s was unavailable",
                self._stats.dropped,
                self._unit,
                self.writer.path,
            )

    @property
    def stats(self) -> WriteStats:
        with self._cond:
            retry = self._retry[1] if self._retry else 0
            return replace(self._stats, pending=self._pending_size + self._in_flight + retry)

    def _busy_locked(self) -> bool:
        return bool(self._pending or self._in_flight or self._retry)

    def count_dropped(self, size: int) -> None:
        """Count items a producer dropped before submitting (e.g. the oldest part of an oversized batch)."""
        with self._cond:
            self._stats.dropped += size

    def _enforce_bound_locked(self) -> None:
        """Drop the oldest data beyond `max_pending`: the failed batch first, then queued items.

        The batch being converted or written counts towards the bound (it is held in memory
        too, and `stats.pending`, which the collector's back-pressure reads, includes it) but
        cannot be dropped. The newest item is always kept; producers keep single items
        within the bound.
        """
        held = self._pending_size + self._in_flight
        if self._retry is not None and held + self._retry[1] > self._max_pending:
            self._stats.dropped += self._retry[1]
            self._retry = None
        while len(self._pending) > 1 and self._pending_size + self._in_flight > self._max_pending:
            _, size = self._pending.popleft()
            self._pending_size -= size
            self._stats.dropped += size

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
                self._stats.dropped += size
                self._in_flight = 0
                self._cond.notify_all()
            return self._next_batch()

    def _run(self) -> None:
        backoff = self._retry_interval_s
        while (batch := self._next_batch()) is not None:
            table, size = batch
            try:
                self.writer.write(self.table_name, table)
            except StoreError as error:
                with self._cond:
                    self._stats.failed_writes += 1
                    self._retry = batch
                    self._in_flight = 0
                    self._enforce_bound_locked()
                    self._cond.notify_all()
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
                self._stats.written += size
                self._in_flight = 0
                self._cond.notify_all()
            self.last_error = None
            if self._reporter.failing:
                self._reporter.recovered(f"{size} buffered {self._unit} written")
            backoff = self._retry_interval_s


def concat_tables(tables: list[pa.Table]) -> pa.Table:
    """`to_table` for writers whose items are ready Arrow tables."""
    return pa.concat_tables(tables) if len(tables) > 1 else tables[0]
