"""What waits for its activity to end before it is stored (issue 15).

`Activity.add_secret(value)` may come late: after the page already showed the value, after a
recording chunk holding it was cut (at a navigation, or past the chunk interval), after a
nested activity's span that quoted it ended. Rewriting what was written is not sound: DuckDB
keeps an updated row's old bytes in the file's free blocks (measured: both a string and a
blob were still in the file after UPDATE and CHECKPOINT), and what went over OTLP is gone.
So nothing of a running root activity is stored until it ends, when its trace's secrets are
all known:

- `HeldChunks`: a sink's recording rows (compressed: ~1/30 of the events' size in memory on
  the 5,000-row bench page, against ~5x for the parsed events) of running root activities, kept
  until the activity ends, then written; rows compressed before a secret of their trace was
  registered are scrubbed again first (`chunk_rows.rescrubbed`).
- `SpanHold`: finished spans of a trace while one of its root activities runs (nested
  activities, FastMCP's and the tool's own spans), passed on when the last one ends, scrubbed
  with the secrets known then. The root activity's own span ends after that, as always.

Both are bounded: past `max_bytes` / `max_spans` the oldest are stored early, as before this
existed, counted (`written_early`) and logged once; a value registered after that does not
reach them. An explicit flush (`Telemetry.flush`, a store's or exporter's) is a request to
store everything now, running activities' recordings and spans included (a long call's
recording can be looked at, or sent, while it runs): what it writes, a value registered
later does not reach either. `close()` (shutdown) stores what is held with the secrets known then.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

import pyarrow as pa
from opentelemetry.sdk.trace import ReadableSpan

from getgather_otel._log import logger
from getgather_otel.capture import activity as activities
from getgather_otel.capture import secrets
from getgather_otel.capture.activity import Activity

__all__ = ["HeldChunks", "HeldRows", "SpanHold", "root_running", "versions_of"]

# What runs: root activities by span id, and how many per trace.
_lock = threading.Lock()
_roots: set[str] = set()
_traces: Counter[str] = Counter()
# Told when a root activity ends: (its span id, its trace id, whether its trace has no other running).
_Listener = Callable[[str, str, bool], None]
_listeners: tuple[_Listener, ...] = ()


def _started(started: Activity) -> None:
    if started.parent is None:
        with _lock:
            _roots.add(started.activity_id)
            _traces[started.trace_id] += 1


def _ended(ending: Activity) -> None:
    if ending.parent is not None:
        return
    span_id, trace_id = ending.activity_id, ending.trace_id
    with _lock:
        if span_id not in _roots:
            return  # started before anything held
        _roots.discard(span_id)
        _traces[trace_id] -= 1
        done = _traces[trace_id] <= 0
        if done:
            del _traces[trace_id]
        listeners = _listeners
    for listener in listeners:
        try:
            listener(span_id, trace_id, done)
        except Exception:  # an observer must never break the activity it observes
            logger.exception("releasing what activity %s held failed", span_id)


def _listen(listener: _Listener) -> None:
    global _listeners
    activities.add_lifecycle_hooks(_started, _ended)
    with _lock:
        _listeners = (*_listeners, listener)


def _unlisten(listener: _Listener) -> None:
    global _listeners
    with _lock:
        _listeners = tuple(known for known in _listeners if known != listener)


def root_running(span_id: str) -> bool:
    """Whether the root activity with this span id is running (seen starting, not yet ended)."""
    return span_id in _roots


def trace_running(trace_id: str) -> bool:
    return trace_id in _traces


@dataclass(frozen=True)
class HeldRows:
    """`recording_chunks` rows of one activity, compressed when its trace's secrets were at `version`."""

    rows: pa.Table
    trace_id: str
    version: int


Item = TypeVar("Item")


class _Hold(Generic[Item]):
    """Items kept by key (an activity, a trace) in the order they came, at most `limit` in `size`
    units; past it the oldest go out early. `out` gets what is released (it must not block)."""

    def __init__(self, out: Callable[[list[Item]], None], limit: int, size: Callable[[Item], int], what: str) -> None:
        self._out = out
        self._limit = limit
        self._size_of = size
        self._what = what
        self._lock = threading.Lock()
        self._held: OrderedDict[str, list[Item]] = OrderedDict()
        self._size = 0
        self._closed = False
        self._flushes = 0  # flushes running: they store everything, held or not
        self.written_early = 0  # items stored before their activity ended (over `limit`)
        self._warned = False
        _listen(self._ended)

    def _holding(self) -> bool:
        return not (self._closed or self._flushes)

    def _put_locked(self, key: str, item: Item, early: list[Item]) -> None:
        """Keep `item` under `key`; the oldest items over the limit are added to `early`."""
        self._held.setdefault(key, []).append(item)
        self._size += self._size_of(item)
        while self._size > self._limit and self._held:
            oldest_key = next(iter(self._held))
            oldest = self._held[oldest_key].pop(0)  # the oldest item of the key held longest
            if not self._held[oldest_key]:
                del self._held[oldest_key]
            self._size -= self._size_of(oldest)
            self.written_early += 1
            early.append(oldest)

    def _early(self, early: list[Item]) -> None:
        if not early:
            return
        if not self._warned:
            self._warned = True
            logger.warning(
                "more than %d %s held for running activities: the oldest are stored before their activity "
                "ends, so a secret registered later does not reach them",
                self._limit,
                self._what,
            )
        self._out(early)

    def _release(self, key: str) -> None:
        with self._lock:
            released = self._held.pop(key, [])
            self._size -= sum(self._size_of(item) for item in released)
        if released:
            self._out(released)

    def _ended(self, span_id: str, trace_id: str, trace_done: bool) -> None:
        raise NotImplementedError

    def release_all(self, *, closing: bool = False) -> None:
        """Pass everything held on now (a flush; `closing`: and hold nothing from now on)."""
        with self._lock:
            self._closed = self._closed or closing
            released = [item for items in self._held.values() for item in items]
            self._held.clear()
            self._size = 0
        if released:
            self._out(released)

    @contextmanager
    def flushing(self) -> Iterator[None]:
        """While a flush runs: everything held is passed on, and nothing more is held."""
        with self._lock:
            self._flushes += 1
        try:
            self.release_all()
            yield
        finally:
            with self._lock:
                self._flushes -= 1

    def close(self) -> None:
        """Pass everything held on (shutdown) and hold nothing from now on."""
        _unlisten(self._ended)
        self.release_all(closing=True)


class HeldChunks(_Hold[HeldRows]):
    """A sink's recording rows of running root activities, until each ends (see the module).

    `keep` runs on the sink's thread after compression; each activity's rows go back through
    `write` (the sink queues them) when it ends, or the oldest when more than `max_bytes` are held.
    """

    def __init__(self, write: Callable[[HeldRows], None], max_bytes: int, what: str) -> None:
        def write_each(rows: list[HeldRows]) -> None:
            for row in rows:
                write(row)

        super().__init__(write_each, max_bytes, _row_bytes, f"bytes of {what}")

    @property
    def held_bytes(self) -> int:
        return self._size

    def keep(self, rows: pa.Table, versions: dict[str, int]) -> pa.Table:
        """The rows to write now; those of running root activities are kept. `versions`: each
        trace's `secrets.version` read before the rows were compressed."""
        if not rows.num_rows or not self._holding():
            return rows
        span_ids = rows.column("span_id").to_pylist()
        if not any(root_running(span_id) for span_id in span_ids):
            return rows
        trace_ids = rows.column("trace_id").to_pylist()
        now: list[int] = []
        early: list[HeldRows] = []
        with self._lock:
            for index, (span_id, trace_id) in enumerate(zip(span_ids, trace_ids, strict=True)):
                # Checked under the lock `_ended` takes: a row is either released by it or not kept.
                if not self._holding() or not root_running(span_id):
                    now.append(index)
                    continue
                # A copy: a slice would keep the whole batch's buffers alive.
                row = rows.take(pa.array([index], type=pa.int64()))
                self._put_locked(span_id, HeldRows(row, trace_id, versions.get(trace_id, 0)), early)
        self._early(early)
        return rows if len(now) == rows.num_rows else rows.take(pa.array(now, type=pa.int64()))

    def _ended(self, span_id: str, trace_id: str, trace_done: bool) -> None:
        self._release(span_id)


def _row_bytes(row: HeldRows) -> int:
    return int(row.rows.nbytes)


def versions_of(trace_ids: set[str]) -> dict[str, int]:
    """Each trace's `secrets.version`, read before its rows are compressed (for `HeldChunks.keep`)."""
    return {trace_id: secrets.version(trace_id) for trace_id in trace_ids}


class SpanHold(_Hold[ReadableSpan]):
    """Finished spans of traces with a running root activity, until the last of those ends (see the module).

    `take` is asked for every finished span; `emit` gets held spans in the order they ended,
    when released (still with their secrets: the caller scrubs, as it does every span).
    """

    def __init__(self, emit: Callable[[list[ReadableSpan]], None], max_spans: int = 4096) -> None:
        super().__init__(emit, max_spans, lambda _span: 1, "spans")

    def take(self, span: ReadableSpan) -> bool:
        """True when `span` is held (its trace has a running root activity): the caller passes it on otherwise."""
        context = span.context
        if context is None or not _traces or not self._holding():
            return False
        trace_id = format(context.trace_id, "032x")
        early: list[ReadableSpan] = []
        with self._lock:
            if not self._holding() or not trace_running(trace_id):
                return False
            self._put_locked(trace_id, span, early)
        self._early(early)
        return True

    def _ended(self, span_id: str, trace_id: str, trace_done: bool) -> None:
        if trace_done:
            self._release(trace_id)
