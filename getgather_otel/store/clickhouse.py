"""Reading the OTel Collector's ClickHouse tables: one engine interface, two implementations.

`ClickHouseServer` talks to a ClickHouse server over HTTP with clickhouse-connect
(`pip install 'getgather-otel[clickhouse]'`); `ChdbEngine` runs chdb, the ClickHouse engine
in process (tests, and a local chdb data directory). Both render the stock templates for
ClickHouse (`render()`), bind `{name:Type}` parameters server-side and return `Rows` of
plain values as `DuckDBEngine` does: timestamps naive UTC (the stock SQL asks for them in
UTC at microsecond precision, whatever the session's time zone), maps as dicts.

`open_clickhouse(url)` picks one: `http://user:password@host:8123/database` (or https) for
a server, `chdb:` or `chdb:/path/to/data` (an existing data directory; chdb would create a
missing one) for chdb. Failures to reach or read ClickHouse are `ClickHouseError` (a
`StoreError`: the viewer answers 503 with the message), a missing `otel_traces` or
`otel_logs` included, named with what writes it.

A user's query (`sql`, `POST /api/sql`: `read_only`) may read ClickHouse's tables and nothing
else, as DuckDB readers run with external access off. ClickHouse's own parser decides: the
text is first rewritten by `formatQuery` (one statement or an error; chdb would otherwise
run every statement of `SELECT 1; DROP TABLE t` and apply our settings to the last only),
then `EXPLAIN AST` of the statement to run is checked. Table functions other than the few
that make rows from their arguments or read ClickHouse's own tables (numbers, values, view,
merge, ...) are refused with `ClickHouseRefusedError`: `file`, `url`, `s3`, `remote`,
`executable`, `mysql`, `python` and the rest; so is the ordinary function `file()`, which
readonly does not stop (it read /etc/hostname in chdb under readonly=1). The query then runs
with `readonly=1`, ClickHouse's own read-only mode: no writes, no setting changes, no table
functions at all that need CREATE TEMPORARY TABLE (readonly=2, used before, allows those:
chdb read /etc/hostname under it). A server's reading user should also have only SELECT on
the otel tables and no source grants (docs/collector.md).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import re
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import pyarrow as pa

from getgather_otel.store.engine import Rows, naive_utc_value
from getgather_otel.store.errors import StoreError, first_line
from getgather_otel.store.queries.activities import Dialect, render

__all__ = [
    "ChdbEngine",
    "ClickHouseError",
    "ClickHouseQueryError",
    "ClickHouseRefusedError",
    "ClickHouseServer",
    "abandoned_queries",
    "open_clickhouse",
    "public_url",
]

# What each table the stock reads need holds, and what writes it (the OTel Collector's ClickHouse exporter).
_WRITERS = {
    "otel_traces": "where the spans are: the OpenTelemetry Collector's clickhouse exporter writes it from the "
    "traces pipeline (otel-collector.yaml; its `create_schema: true` creates the table)",
    "otel_logs": "where browser recordings are: route the logs pipeline to the clickhouse "
    "exporter (otel-collector.yaml does) or create it with the exporter's DDL",
}
_TABLE_NAMES = {name: re.compile(rf"\b{name}\b") for name in _WRITERS}

# Table functions a user's query may call: they make rows from their arguments, or read this
# ClickHouse's own tables (lower case). Every other one reads or runs something outside
# (file, url, s3, remote, executable, mysql, python, deltaLakeLocal, filesystem, ...).
# Only those that also run under readonly=1: zeros, zeros_mt, format and loop are local too,
# but ClickHouse refuses them there ("Cannot execute query in readonly mode"), so listing them
# promised what fails (tests/test_clickhouse_cli.py runs every one listed on both engines).
_LOCAL_TABLE_FUNCTIONS = (
    "numbers",
    "numbers_mt",
    "generateSeries",
    "generate_series",
    "primes",
    "values",
    "SQLStandardValues",  # FROM (VALUES (1), (2))
    "null",
    "generateRandom",
    "view",
    "merge",
)
_LOCAL = frozenset(name.lower() for name in _LOCAL_TABLE_FUNCTIONS)
# Ordinary functions that reach outside: `file` reads a file (chdb: anywhere, readonly or not),
# the ai* functions call a model provider.
_OUTSIDE_FUNCTIONS = frozenset(
    {"file", "aiclassify", "aiembed", "aiextract", "aifilter", "aigenerate", "airedact", "aisimilarity", "aitranslate"}
)
_AST_LINE = re.compile(r"^(?P<depth> *)(?P<node>\S+)(?: (?P<name>\S+))?")


class ClickHouseError(StoreError):
    """ClickHouse cannot be reached or read; the message says which and why."""


class ClickHouseQueryError(ValueError):
    """A user's query (`sql`, `POST /api/sql`) failed on ClickHouse: ClickHouse's first line."""


class ClickHouseRefusedError(ClickHouseQueryError):
    """A user's query would read or run something outside ClickHouse's tables (a file, a URL, another server)."""


# getgather-otel's DuckDB views, for a user's query on ClickHouse: the same columns computed from
# the exporter's tables with the stock SQL (render()'s `{activities}`, `{recording_chunks}`). The
# reading user may not create views, so a query naming one gets it as a CTE (`_with_views`).
_VIEWS = {
    "activities": "SELECT * FROM {activities} AS a",
    "recordings": """SELECT c.recording_id AS recording_id, any(c.trace_id) AS trace_id, any(c.span_id) AS activity_id,
       count(DISTINCT c.page_id) AS pages, count() AS chunks, sum(c.event_count) AS events,
       min(c.first_event_time) AS start_time, max(c.last_event_time) AS end_time,
       sum(c.raw_bytes) AS raw_bytes, sum(c.stored_bytes) AS stored_bytes
FROM {recording_chunks} AS c
GROUP BY c.recording_id""",
}
_VIEW_NAMES = {name: re.compile(rf"(?<![\w.`]){name}(?![\w`])|`{name}`") for name in _VIEWS}
# DuckDB's that ClickHouse has no equivalent for: rrweb_recordings decompresses zstd chunks in
# Python (ClickHouse has no function for that); recording_chunks' `data` is raw bytes in DuckDB and
# base64 text in otel_logs, so a query over it would not mean the same.
_DUCKDB_ONLY = {
    "rrweb_recordings": "it decompresses the recording chunks in Python; use `getgather-otel replay`",
    "recording_chunks": "the chunks are otel_logs rows here (Body is the base64 of the zstd bytes)",
}


def public_url(url: str) -> str:
    """`url` without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _wrapped(sql: str, limit: int) -> str:
    """A user's query as a subquery: ClickHouse parses anything but a SELECT there as an error.

    The views it names (`activities`, `recordings`) come first as CTEs of the outer query, which
    ClickHouse resolves inside the subquery; a CTE or table of the user's own by that name, in
    the query's own WITH, is nearer and wins."""
    named = [name for name, pattern in _VIEW_NAMES.items() if pattern.search(sql)]
    views = ", ".join(f"{name} AS (\n{render(_VIEWS[name], 'clickhouse')}\n)" for name in named)
    head = f"WITH {views}\n" if views else ""
    return f"{head}SELECT * FROM (\n{sql.strip().rstrip(';')}\n) LIMIT {int(limit) + 1}"


class _ClickHouse:
    """What both engines share: rendering, the table checks, user queries, value shapes."""

    label: str

    def __init__(self) -> None:
        self._tables: set[str] = set()  # tables seen to exist (a missing one is asked about again)

    @property
    def dialect(self) -> Dialect:
        return "clickhouse"

    def _run(self, sql: str, params: Mapping[str, object], settings: Mapping[str, object]) -> Rows:
        raise NotImplementedError

    def rows(self, template: str, params: Mapping[str, object] | None = None) -> Rows:
        sql = render(template, "clickhouse")
        self._require_tables(sql)
        try:
            return self._run(sql, params or {}, {})
        except ClickHouseQueryError as error:
            raise ClickHouseError(f"ClickHouse at {self.label}: {error}") from error

    def _missing_table(self, sql: str) -> str | None:
        """The first of otel_traces and otel_logs that `sql` names and ClickHouse does not have."""
        for name, named in _TABLE_NAMES.items():
            if name in self._tables or not named.search(sql):
                continue
            found = self._run(f"EXISTS TABLE {name}", {}, {}).first()
            if not (found and found[0]):
                return name
            self._tables.add(name)
        return None

    def _no_table(self, name: str) -> str:
        return f"ClickHouse at {self.label} has no {name} table, {_WRITERS[name]}"

    def _require_tables(self, sql: str) -> None:
        missing = self._missing_table(sql)
        if missing:
            raise ClickHouseError(self._no_table(missing))

    def command(self, template: str, params: Mapping[str, object] | None = None) -> None:
        """Run one statement that changes data (retention's DELETE); needs a user allowed to."""
        sql = render(template, "clickhouse")
        self._require_tables(sql)
        try:
            self._run(sql, params or {}, {})
        except ClickHouseQueryError as error:
            raise ClickHouseError(f"ClickHouse at {self.label}: {error}") from error

    def _one_statement(self, sql: str) -> str:
        """ClickHouse's own formatting of `sql`, which must be one statement.

        chdb runs every statement of a text (`SELECT 1; SELECT file(...)`, our settings ending only
        the last), so the user's text is never run as it is: it goes in as a string literal to
        `formatQuery`, which parses it (several statements are a syntax error) and writes the one
        statement back. A server older than 23.10 has no formatQuery; it refuses several
        statements in one request itself, so there the text is taken as it is."""
        try:
            found = self._run(f"SELECT formatQuery({_quoted(sql)}) AS q", {}, {})
        except ClickHouseQueryError as error:
            if "UNKNOWN_FUNCTION" in str(error) and "formatQuery" in str(error):
                return sql
            raise
        return str(found.rows[0][0])

    def _read_only_settings(self, time_limit_s: float) -> dict[str, object]:
        return {"readonly": 1, "max_execution_time": max(1, round(time_limit_s))}

    def _run_user(self, sql: str, settings: Mapping[str, object]) -> Rows:
        """A user's query, its values as clickhouse-connect decodes ClickHouse's types (ChdbEngine too)."""
        return self._run(sql, {}, settings)

    def _refuse_outside_access(self, sql: str) -> None:
        """Refuse `sql` if ClickHouse's parse of it calls a function that reads or runs something outside."""
        tree = self._run(f"EXPLAIN AST {sql}", {}, {})  # parsed, never run
        parents: list[tuple[str, str]] = []  # (node, name) at each depth above the current line
        for (line,) in tree.rows:
            match = _AST_LINE.match(str(line))
            if match is None:
                continue
            depth, node, name = len(match["depth"]), match["node"], match["name"] or ""
            del parents[depth:]
            parent = parents[-1][0] if parents else ""
            parents.append((node, name))
            if node != "Function":
                continue
            if parent == "TableExpression" and name.lower() not in _LOCAL:
                raise ClickHouseRefusedError(
                    f"the table function {name}() reads or runs something outside ClickHouse's tables "
                    "(a file, a URL, another server, a program) and is refused: query the tables "
                    f"(otel_traces, otel_logs); the table functions allowed are {', '.join(_LOCAL_TABLE_FUNCTIONS)}"
                )
            if name.lower() in _OUTSIDE_FUNCTIONS:
                raise ClickHouseRefusedError(
                    f"the function {name}() reads something outside ClickHouse's tables and is refused"
                )

    def read_only(self, sql: str, limit: int, time_limit_s: float) -> tuple[Rows, bool]:
        """A user's SELECT, at most `limit` rows (and whether there were more), stopped after `time_limit_s`.

        Only a query ClickHouse parses as one SELECT of its own tables runs, in readonly=1 (module
        docstring); `ClickHouseRefusedError` says what was refused, `ClickHouseQueryError` why it failed.
        """
        wrapped = _wrapped(self._one_statement(sql), limit)
        self._refuse_outside_access(wrapped)
        try:
            found = self._run_user(wrapped, self._read_only_settings(time_limit_s))
        except ClickHouseQueryError as error:
            missing = self._missing_table(wrapped) if "UNKNOWN_TABLE" in str(error) else None
            if missing:
                raise ClickHouseQueryError(self._no_table(missing)) from error
            for name, why in _DUCKDB_ONLY.items():
                if "UNKNOWN_TABLE" in str(error) and f"'{name}'" in str(error):
                    raise ClickHouseQueryError(
                        f"{name} is a table of the DuckDB file only ({why}); on ClickHouse a query reads "
                        f"otel_traces, otel_logs, the metric tables and the views {', '.join(_VIEWS)}"
                    ) from error
            raise
        return Rows(found.columns, found.rows[:limit]), len(found.rows) > limit


# chdb queries a Ctrl-C left running on their worker thread (ChdbEngine._query).
_ABANDONED: list[str] = []


def abandoned_queries() -> int:
    """How many chdb queries an interrupt left running: while any is, Python's own exit (its
    finalization under a thread still inside chdb) crashes or hangs, so the CLI ends with os._exit."""
    return len(_ABANDONED)


def _plain(value: Any, kind: pa.DataType) -> Any:
    """An Arrow value from chdb as the Python value DuckDB gives (maps as dicts, at any depth)."""
    if value is None:
        return None
    if pa.types.is_map(kind):
        return {key: _plain(item, kind.item_type) for key, item in value}
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return [_plain(item, kind.value_type) for item in value]
    return value


def _quoted(value: object) -> str:
    """One value as a ClickHouse literal (a string whatever it holds: quotes, backslashes, newlines, NUL)."""
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'").replace("\0", "\\0") + "'"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(value)
    raise TypeError(f"no ClickHouse literal for a {type(value).__name__} in an array parameter")


def _parameter_text(value: object) -> object:
    """A bound parameter as chdb takes it: the text an HTTP client sends as `param_name`.

    chdb parses each value as its placeholder's type from text, so a list must arrive as a
    ClickHouse array literal (clickhouse-connect formats it so for a server)."""
    if isinstance(value, list | tuple):
        return "[" + ",".join(_quoted(item) for item in value) + "]"
    return value


# What chdb's engine writes to the process's stderr (C++, not a Python logger) when another
# process holds the data directory; the RuntimeError that follows becomes our one sentence.
_HELD_DIRECTORY = re.compile(r"^Code: 76\. DB::Exception: Cannot lock file .*Another server instance")


@contextlib.contextmanager
def _stderr_without(unwanted: re.Pattern[str]) -> Iterator[None]:
    """Run the block with file descriptor 2 captured, then write back every line but `unwanted` ones.

    chdb prints a refused open itself before raising, so a held directory showed a raw
    `Code: 76 ...` line above our message. Only the lines that match are dropped; anything else
    written meanwhile (another error, a warning) reaches stderr, after the block."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (embedded, closed): nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [
                line for line in captured.read().decode(errors="replace").splitlines(True) if not unwanted.match(line)
            ]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


class _NativeBytes:
    """One Native answer as the byte source clickhouse-connect's decoder reads (what its own chdb
    backend passes it): the bytes in one piece, no error trailer."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.last_message: bytes | None = None
        self.exception_tag: str | None = None

    @property
    def gen(self) -> Iterator[bytes]:
        yield self.data

    def close(self) -> None:
        return None


class ChdbEngine(_ClickHouse):
    """ClickHouse in process (chdb): a session over a data directory, or in memory."""

    def __init__(self, session: Any = None, path: str | None = None) -> None:
        super().__init__()
        created = session is None
        if session is None:
            try:
                from chdb import session as chdb_session  # optional: only this engine needs it
            except ImportError as error:
                raise ClickHouseError("chdb is not installed: pip install chdb") from error
            try:
                with _stderr_without(_HELD_DIRECTORY):
                    session = chdb_session.Session(path) if path else chdb_session.Session()  # type: ignore[no-untyped-call]
            except RuntimeError as error:
                # e.g. "Cannot lock file .../status. Another server instance in same directory is
                # already running": chdb opens a data directory in one process at a time.
                raise ClickHouseError(
                    f"chdb could not open {path or 'a session'} ({str(error).strip().splitlines()[0][:300]}); "
                    "a chdb data directory is open in one process at a time (a running `ui` holds it)"
                ) from error
        self.session = session
        self._owns_session = created
        self.label = f"chdb:{path or ''}"
        self._lock = threading.Lock()  # one query at a time on a chdb session

    def _drain(self) -> None:
        """After a query that failed while running (throwIf, a timeout), chdb 4.4 answers the next
        query on the session with the failed one's leftovers (Arrow errors: "Unexpected empty message
        in IPC file format", "Invalid flatbuffers message", "Message metadata too long"); a query that
        fails while being analysed leaves none. One throwaway query takes them, so the next read works."""
        with contextlib.suppress(Exception):  # the leftovers, or nothing: either way the session is clear
            self.session.query("SELECT 1", "ArrowTable")

    def close(self) -> None:
        """Close the chdb session if this engine opened it and no abandoned query still runs on it."""
        if self._owns_session and not _ABANDONED:
            self.session.close()

    def _query(self, sql: str, fmt: str, params: Mapping[str, object]) -> Any:
        """chdb's answer to `sql` in `fmt`, waited for on this thread, run on another.

        chdb runs a query in C++ without returning to Python, so on the calling (main) thread
        Ctrl-C waited for the whole query (SIGTERM's handler exits from another path). The query
        runs on a worker thread and the caller waits in short slices, so KeyboardInterrupt
        arrives at once; the abandoned query is counted in `_ABANDONED` (chdb has no way to stop
        it), and the process must then end without Python's finalization (`abandoned_queries`)."""
        bound = {name: _parameter_text(value) for name, value in params.items()}
        box: dict[str, Any] = {}

        def work() -> None:
            try:
                box["result"] = self.session.query(sql, fmt, params=bound)
            except BaseException as error:  # handed to the caller's thread
                box["error"] = error

        worker = threading.Thread(target=work, name="chdb-query", daemon=True)
        with self._lock:
            worker.start()
            try:
                while worker.is_alive():
                    worker.join(0.1)
            except KeyboardInterrupt:
                _ABANDONED.append(sql[:200])
                raise
            if "error" in box:
                self._drain()
                raise ClickHouseQueryError(first_line(str(box["error"]))) from box["error"]
        return box.get("result")

    def _run_user(self, sql: str, settings: Mapping[str, object]) -> Rows:
        """A user's query decoded from ClickHouse's Native format by clickhouse-connect, as a server's is.

        chdb's Arrow output loses ClickHouse's types: `DateTime` arrives as epoch seconds, (U)Int128
        and 256 and IPv6 as raw bytes, IPv4 as an integer, an Enum as its number. Decoding the Native
        bytes with the same decoder `ClickHouseServer` uses gives every type the same Python value on
        both engines (timestamps, big integers as ints, addresses, enum names), so `sql` and
        `POST /api/sql` print the same. An empty result has no Native block (no column names): Arrow's
        names it."""
        try:
            from clickhouse_connect.driver.ctypes import RespBuffCls
            from clickhouse_connect.driver.query import QueryContext, QueryResult
            from clickhouse_connect.driver.transform import NativeTransform
        except ImportError as error:
            raise ClickHouseQueryError(
                "a query on chdb is decoded as a server's answer is, by clickhouse-connect: "
                "pip install 'getgather-otel[clickhouse]'"
            ) from error
        text = sql + " SETTINGS " + ", ".join(f"{name} = {value}" for name, value in settings.items())
        native = self._query(text, "Native", {})
        payload = native.bytes() if native is not None else b""
        if not payload:
            return self._run(sql, {}, settings)
        source = RespBuffCls(_NativeBytes(payload))  # type: ignore[no-untyped-call]
        result = NativeTransform.parse_response(source, QueryContext(server_tz=dt.UTC))
        if not isinstance(result, QueryResult):  # a numpy result only when asked for one
            raise ClickHouseQueryError(f"unexpected result from clickhouse-connect's decoder: {type(result).__name__}")
        rows = [tuple(naive_utc_value(value) for value in row) for row in result.result_rows]
        return Rows(list(result.column_names), rows)

    def _run(self, sql: str, params: Mapping[str, object], settings: Mapping[str, object]) -> Rows:
        if settings:
            sql += " SETTINGS " + ", ".join(f"{name} = {value}" for name, value in settings.items())
        table = self._query(sql, "ArrowTable", params)
        if not isinstance(table, pa.Table):  # a statement without a result (EXISTS answers one)
            return Rows([], [])
        columns = [
            [naive_utc_value(_plain(value, field.type)) for value in table.column(index).to_pylist()]
            for index, field in enumerate(table.schema)
        ]
        return Rows(list(table.column_names), list(zip(*columns, strict=True)) if columns else [])


# How long a server may take to accept a connection and to answer the client's handshake
# (clickhouse-connect's queries for the version, time zone and settings) before it counts as
# unreachable: a dead server is one error after this, not a silent 300 s wait.
CONNECT_TIMEOUT_S = 10.0
# How long a stock read (activities, stats, replay, the viewer's pages) may wait for its answer.
READ_TIMEOUT_S = 300.0


def _drop_driver_echo(record: logging.LogRecord) -> bool:
    """clickhouse-connect logs a warning before raising on a failed request (a timeout, a refused
    connection); the raised error is reported as one sentence, so its echo is dropped, nothing else."""
    return record.getMessage() != "Unexpected Http Driver Exception"


_T = TypeVar("_T")


def _within(seconds: float, call: Callable[[], _T]) -> _T:
    """`call()` run on a daemon thread and given `seconds` in all; raises TimeoutError past them.

    clickhouse-connect's timeouts bound each socket read, so a server (or a proxy) that trickles
    its answer, a byte a second, held a command for hours. The abandoned call ends when the
    server closes the connection; its daemon thread never keeps the process from exiting."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["result"] = call()
        except BaseException as error:  # raised on the caller's thread
            box["error"] = error

    worker = threading.Thread(target=work, name="clickhouse-http", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeoutError(f"no complete answer within {seconds:g} s")
    if "error" in box:
        raise box["error"]
    result: _T = box["result"]
    return result


class ClickHouseServer(_ClickHouse):
    """A ClickHouse server over HTTP (clickhouse-connect).

    `read_timeout_s` bounds the wait for each answer after the handshake; a command with a
    longer time limit of its own (`sql`'s) passes that limit plus a margin, so ClickHouse's
    `max_execution_time` ends the query first and says so."""

    def __init__(self, url: str, read_timeout_s: float = READ_TIMEOUT_S) -> None:
        super().__init__()
        self.label = public_url(url)
        try:
            import clickhouse_connect  # optional: pip install 'getgather-otel[clickhouse]'
            from urllib3.util import Timeout
        except ImportError as error:
            raise ClickHouseError(
                "reading ClickHouse needs clickhouse-connect: pip install 'getgather-otel[clickhouse]'"
            ) from error
        logging.getLogger("clickhouse_connect.driver._backend.http_sync").addFilter(_drop_driver_echo)
        try:
            # No server session: the viewer queries from several threads at once, which one
            # ClickHouse session refuses; every setting travels with its query instead. The
            # handshake runs inside get_client, under the connect time limit for reads too.
            # The URL's scheme decides TLS: clickhouse-connect reads host, port and credentials
            # from a DSN but not its scheme, and sent `https://user:password@host/` as plain
            # HTTP to port 8123 (it takes TLS only from `interface`, `secure` or port 8443).
            interface = urlsplit(url).scheme.lower()
            self.client = _within(
                CONNECT_TIMEOUT_S,
                lambda: clickhouse_connect.get_client(
                    dsn=url,
                    interface=interface,
                    autogenerate_session_id=False,
                    connect_timeout=CONNECT_TIMEOUT_S,
                    send_receive_timeout=CONNECT_TIMEOUT_S,
                ),
            )
        except Exception as error:
            message = first_line(str(error))
            if isinstance(error, TimeoutError) or "timed out" in message.lower() or "timeout" in message.lower():
                message = f"no answer within {CONNECT_TIMEOUT_S:g} s ({message[:200]})"
            raise ClickHouseError(f"cannot reach ClickHouse at {self.label}: {message}") from error
        # The queries' own read limit; clickhouse-connect keeps the urllib3 Timeout on its
        # HTTP backend and offers no setter after construction (1.12).
        self.read_timeout_s = read_timeout_s
        backend = getattr(self.client, "_backend", None)
        if backend is not None and hasattr(backend, "timeout"):
            backend.timeout = Timeout(connect=CONNECT_TIMEOUT_S, read=read_timeout_s)

    def close(self) -> None:
        self.client.close()

    def _read_only_settings(self, time_limit_s: float) -> dict[str, object]:
        """readonly=1 and the time limit, but for what the user's profile fixes (a readonly user: its own)."""
        fixed = {name for name, setting in self.client.server_settings.items() if setting.readonly == 1}
        return {name: value for name, value in super()._read_only_settings(time_limit_s).items() if name not in fixed}

    def _run(self, sql: str, params: Mapping[str, object], settings: Mapping[str, object]) -> Rows:
        try:
            return _within(self.read_timeout_s, lambda: self._answer(sql, params, settings))
        except TimeoutError as error:
            raise ClickHouseError(f"ClickHouse at {self.label}: {error}") from error
        except Exception as error:
            message = first_line(str(error))
            if type(error).__name__ in ("OperationalError", "ProgrammingError") and "Code:" not in message:
                if "timed out" in message.lower():
                    message = f"no answer within {self.read_timeout_s:g} s ({message[:200]})"
                raise ClickHouseError(f"ClickHouse at {self.label}: {message}") from error
            raise ClickHouseQueryError(message) from error

    def _answer(self, sql: str, params: Mapping[str, object], settings: Mapping[str, object]) -> Rows:
        if not sql.lstrip().upper().startswith(("SELECT", "WITH", "EXISTS", "EXPLAIN")):
            self.client.command(sql, parameters=dict(params), settings=dict(settings))
            return Rows([], [])
        result = self.client.query(sql, parameters=dict(params), settings=dict(settings))
        columns = list(result.column_names)
        if not columns:
            # ClickHouse answers an empty result in Native with no block, so without its
            # columns; the same query under LIMIT 0 is clickhouse-connect's metadata probe
            # (FORMAT JSON), which names them, as DuckDB and chdb do for an empty result.
            probe = f"SELECT * FROM (\n{sql.strip().rstrip(';')}\n) LIMIT 0"
            columns = list(self.client.query(probe, parameters=dict(params), settings=dict(settings)).column_names)
        rows = [tuple(naive_utc_value(value) for value in row) for row in result.result_rows]
        return Rows(columns, rows)


def _require_data_directory(path: str) -> None:
    """`chdb:PATH` reads an existing ClickHouse data directory; chdb would create (and fill) a missing one."""
    where = Path(path)
    if not where.exists():
        problem = "no such directory"
    elif not where.is_dir():
        problem = "a file, not a directory"
    elif not (where / "metadata").is_dir():
        problem = "a directory without ClickHouse data (no metadata/ in it)"
    else:
        return
    raise ClickHouseError(
        f"--clickhouse chdb:{path}: {problem}; chdb:PATH reads the data directory a chdb session or "
        "clickhouse-local wrote (for a server, give http(s)://user:password@host:8123/database)"
    )


def open_clickhouse(url: str, read_timeout_s: float = READ_TIMEOUT_S) -> ChdbEngine | ClickHouseServer:
    """The engine for `--clickhouse URL`: `http(s)://...` for a server, `chdb:[path]` for chdb in process.

    `read_timeout_s`: how long a server's answer may take (chdb runs in process: its queries end
    by `max_execution_time` or an interrupt)."""
    if url.startswith("chdb:"):
        path = url.removeprefix("chdb:")
        if path:
            _require_data_directory(path)
        return ChdbEngine(path=path or None)
    if urlsplit(url).scheme not in ("http", "https"):
        raise ClickHouseError(
            f"--clickhouse {public_url(url)!r}: give http(s)://user:password@host:8123/database or chdb:PATH"
        )
    return ClickHouseServer(url, read_timeout_s)
