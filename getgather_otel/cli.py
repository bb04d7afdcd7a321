"""The `getgather-otel` command: look at what an instrumented MCP server stored.

Every command finds the database as `configure()` does (--db, $GETGATHER_OTEL_DUCKDB,
./getgather-otel.duckdb) and reads it while a server may be writing it (see
`store/reader.py`). Problems are reported as one plain sentence and exit code 2, never a
traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import dataclasses
import datetime as dt
import json
import math
import os
import shutil
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import duckdb

from getgather_otel import env
from getgather_otel.capture.failures import FAILURE_CLASSES
from getgather_otel.export.shutdown import exit_on_sigterm
from getgather_otel.recording import assets
from getgather_otel.recording.assets import BUILD_HINT, MissingAssetError
from getgather_otel.recording.chunk_codec import damage_in
from getgather_otel.recording.options import RecordingOptions
from getgather_otel.recording.rrweb_recordings import rrweb_recordings_view
from getgather_otel.recording.world_script import world_script
from getgather_otel.store.engine import DuckDBEngine, Engine, Rows
from getgather_otel.store.errors import StoreError, first_line, is_file_damage
from getgather_otel.store.paths import resolve_db_path
from getgather_otel.store.queries.activities import (
    FAILURE_CLASSES_QUERY,
    ActivityFilter,
    activities_query,
    parse_since,
    stats_queries,
)
from getgather_otel.store.reader import DEFAULT_WAIT_S, check_ours, open_for_reading
from getgather_otel.store.schema import SchemaTooNewError
from getgather_otel.store.values import plain
from getgather_otel.viewer.data import TRACE_ID
from getgather_otel.web.serving import PortInUseError, bound_port, listening_socket, require_free_ports, serve

__all__ = [
    "FORMATS",
    "CliError",
    "build_parser",
    "cmd_activities",
    "cmd_collect",
    "cmd_demo",
    "cmd_export",
    "cmd_import",
    "cmd_prune",
    "cmd_replay",
    "cmd_sql",
    "cmd_stats",
    "cmd_ui",
    "main",
    "write_rows",
]

FORMATS = ("table", "csv", "json")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class CliError(Exception):
    """A problem to report to the user in one sentence (exit code 2)."""


def _cell(value: Any) -> Any:
    return plain(value, lambda moment: moment.isoformat(sep=" "))


def _finite(value: Any) -> Any:
    """`value` (a cell, at any depth) with NaN and the infinities as None: JSON has no such numbers,
    and ClickHouse's JSON formats write them as null too (output_format_json_quote_denormals=0)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def _dump_json(payload: Any, out: TextIO) -> None:
    """Strict JSON (allow_nan=False: a bare NaN slipping through fails here, not in a reader's parser)."""
    json.dump(_finite(payload), out, indent=2, default=str, allow_nan=False)
    out.write("\n")


def write_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str, out: TextIO) -> None:
    """Print a result as an aligned table, CSV or JSON (one object per row; NaN and infinities as null)."""
    cells = [[_cell(v) for v in row] for row in rows]
    if fmt == "json":
        _dump_json([dict(zip(columns, row, strict=True)) for row in cells], out)
        return
    if fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(columns)
        writer.writerows([json.dumps(c) if isinstance(c, (dict, list)) else c for c in row] for row in cells)
        return
    text = [
        [_short("" if c is None else (json.dumps(c) if isinstance(c, (dict, list)) else str(c))) for c in row]
        for row in cells
    ]
    widths = [max([len(col)] + [len(row[i]) for row in text]) for i, col in enumerate(columns)]
    out.write("  ".join(col.ljust(w) for col, w in zip(columns, widths, strict=True)).rstrip() + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for row in text:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")
    out.write(f"({len(rows)} row{'s' if len(rows) != 1 else ''})\n")


def _short(text: str, limit: int = 80) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _run_query(conn: duckdb.DuckDBPyConnection, sql: str, max_rows: int) -> tuple[Rows, bool]:
    """A user's query on the file: at most `max_rows` rows, and whether there were more."""
    from getgather_otel.viewer.sql import InvalidQueryError, RefusedQueryError, one_statement

    try:  # DuckDB runs every statement of several and answers with the last: one, as `POST /api/sql` takes
        one_statement(conn, sql)
    except RefusedQueryError as error:
        raise CliError(f"refused: {error}") from None
    except InvalidQueryError as error:
        raise CliError(str(error)) from None
    try:
        cursor = conn.execute(sql)
        rows = cursor.fetchmany(max_rows + 1)
    except duckdb.Error as error:
        if is_file_damage(error):
            raise  # the file, not the query: open_for_reading says so
        damage = damage_in(str(error))
        if damage:
            raise CliError(f"{damage} (leave events_json out, or filter that activity away)") from None
        message = first_line(str(error))
        if "read-only" in message.lower() or "read only" in message.lower():
            raise CliError(f"`sql` is read-only: {message}") from error
        raise CliError(f"query failed: {message}") from error
    columns = [d[0] for d in cursor.description or []]
    return Rows(columns, rows[:max_rows]), len(rows) > max_rows


def _clickhouse_url(args: argparse.Namespace) -> str | None:
    return getattr(args, "clickhouse", None)


@contextmanager
def _engine(args: argparse.Namespace) -> Iterator[Engine]:
    """The stock reads' engine: ClickHouse with `--clickhouse URL`, else the DuckDB file (read-only)."""
    url = _clickhouse_url(args)
    if url:
        from getgather_otel.store.clickhouse import open_clickhouse

        engine = open_clickhouse(url)
        try:
            yield engine
        finally:
            engine.close()
        return
    with open_for_reading(args.db, args.wait) as conn:
        yield DuckDBEngine(conn, str(args.db))


# `sql` on ClickHouse: for at most this long.
_CLICKHOUSE_SQL_SECONDS = 600.0
# `sql` prints at most this many rows unless --max-rows says otherwise (one query once printed 7.8 GB).
DEFAULT_MAX_ROWS = 10_000


def cmd_sql(args: argparse.Namespace, out: TextIO) -> None:
    if not args.query.strip():
        raise CliError('the query is empty: give one, e.g. getgather-otel sql "SELECT count(*) FROM activities"')
    url = _clickhouse_url(args)
    if url:
        from getgather_otel.store.clickhouse import ClickHouseQueryError, ClickHouseRefusedError, open_clickhouse

        # The client waits a little past the server's own limit, which ends the query and says so.
        engine = open_clickhouse(url, _CLICKHOUSE_SQL_SECONDS + 30)
        try:
            found, more = engine.read_only(args.query, args.max_rows, _CLICKHOUSE_SQL_SECONDS)
        except ClickHouseRefusedError as error:
            raise CliError(f"refused (`sql` reads ClickHouse's tables only): {error}") from error
        except ClickHouseQueryError as error:
            raise CliError(f"query failed (`sql` runs one read-only SELECT): {error}") from error
        finally:
            engine.close()
    else:
        with open_for_reading(args.db, args.wait) as conn, rrweb_recordings_view(conn):
            found, more = _run_query(conn, args.query, args.max_rows)
    write_rows(found.columns, found.rows, args.format, out)
    if more:
        print(
            f"getgather-otel: showed the first {args.max_rows:,} rows; the query returned more "
            "(--max-rows N for more, or a LIMIT, or `getgather-otel export` for everything)",
            file=sys.stderr,
        )


def _trace_id(text: str | None) -> str | None:
    """`--trace` as stored: 32 lowercase hex digits."""
    if text is None:
        return None
    trace_id = text.strip().lower()
    if not TRACE_ID.match(trace_id):
        raise CliError(f"--trace {text[:80]!r} is not a trace id (32 hex digits)")
    return trace_id


def _check_failure_class(engine: Engine, failure_class: str | None) -> None:
    """A class that is neither a rule's nor found in the data (a classifier's own) is a typo: say which exist."""
    if failure_class is None or failure_class in FAILURE_CLASSES:
        return
    stored = [str(row[0]) for row in engine.rows(FAILURE_CLASSES_QUERY).rows]
    if failure_class not in stored:
        custom = [name for name in stored if name not in FAILURE_CLASSES]
        found = f"; {engine.label} also has: {', '.join(custom)}" if custom else ""
        known = ", ".join(FAILURE_CLASSES)
        raise CliError(f"no failure class {failure_class!r}: the rules' classes are {known}{found}")


def cmd_activities(args: argparse.Namespace, out: TextIO) -> None:
    filters = ActivityFilter(
        brand=args.brand,
        name=args.name,
        client=args.client,
        trace_id=_trace_id(args.trace),
        since=parse_since(args.since) if args.since else None,
        status="error" if args.errors else None,
        failure_class=args.failure_class,
        limit=args.limit,
    )
    with _engine(args) as engine:
        _check_failure_class(engine, filters.failure_class)
        sql, params = activities_query(filters, engine.dialect)
        found = engine.rows(sql, params)
    write_rows(found.columns, found.rows, args.format, out)


def cmd_stats(args: argparse.Namespace, out: TextIO) -> None:
    since = parse_since(args.since) if args.since else _EPOCH
    results = {}
    with _engine(args) as engine:
        queries, params = stats_queries(since, engine.dialect)
        for title, sql in queries.items():
            found = engine.rows(sql, params)
            results[title] = (found.columns, found.rows)
    if args.format == "json":
        payload = {t: [dict(zip(c, map(_cell, r), strict=True)) for r in rows] for t, (c, rows) in results.items()}
        _dump_json(payload, out)
        return
    for title, (columns, rows) in results.items():
        out.write(f"\n{title}\n")
        write_rows(columns, rows, args.format, out)


def _token(given: str | None, variable: env.EnvVar) -> str | None:
    """The bearer token `--token` or `variable` gives, None for none; an empty one is an error: it
    would turn authentication off without a word (a newcomer's break: `--token "$UNSET"`)."""
    if given is not None and not given.strip():
        raise CliError("--token is empty, which would turn authentication off; leave --token out for none")
    if given is None and variable.is_blank():
        raise CliError(f"${variable.name} is set but empty, which would turn authentication off; unset it for none")
    return given or variable.read()


class FoundSecretsError(Exception):
    """`scan` found something: exit code 1."""


def cmd_scan(args: argparse.Namespace, out: TextIO) -> None:
    from getgather_otel.export.scan import scan

    if not args.secret and not args.pattern:
        raise CliError("say what to look for: --secret VALUE and/or --pattern card|jwt|token|email|phone")
    if any(not secret.strip() for secret in args.secret or []):
        # `--secret "$PASSWORD"` with the variable unset: "nothing found" would be a false all-clear.
        raise CliError("a --secret is empty (an unset variable?): there is nothing to look for")
    damaged: list[str] = []
    with open_for_reading(args.db, args.wait) as conn:
        hits = scan(conn, args.secret or [], args.pattern or [], damaged)
    for hit in hits:
        out.write(f"{hit}\n")
    if damaged:  # exit 2, never 1 or 0: a file not read to its end is neither clean nor only what was found
        found = f"{len(hits)} found in the rest; " if hits else ""
        raise CliError(
            f"{found}{len(damaged)} recording chunk(s) in {args.db} could not be read, so the scan is incomplete: "
            f"{damaged[0]}"
        )
    if hits:
        out.write(f"{len(hits)} found in {args.db}\n")
        raise FoundSecretsError
    out.write(f"nothing found in {args.db}\n")


def _note_skipped(skipped: list[str]) -> None:
    """One line on stderr per chunk a reader left out (damaged), so a partial result says it is one."""
    for reason in skipped:
        print(f"getgather-otel: skipped {reason}", file=sys.stderr)


def cmd_replay(args: argparse.Namespace, out: TextIO) -> None:
    from getgather_otel.recording.replay import replay_page, skipped_chunks
    from getgather_otel.store.queries.recordings import latest_recorded_activity

    started = time.monotonic()
    with _engine(args) as engine:
        activity_id = args.activity_id
        if activity_id == "latest":
            activity_id = latest_recorded_activity(engine)
            if activity_id is None:
                raise CliError(f"no activity in {engine.label} has a browser recording")
        page, pages = replay_page(engine, activity_id)
    _note_skipped(skipped_chunks(pages))
    events = sum(len(p.events) for p in pages)
    summary = (
        f"activity {activity_id}, {len(pages)} page(s), {events} events, "
        f"{len(page.encode()) / 1e6:.1f} MB in {time.monotonic() - started:.2f} s"
    )
    if str(args.output) == "-":  # standard output, as for other command-line tools; the note to stderr
        out.write(page)
        out.flush()
        print(f"wrote the replay page to standard output: {summary}", file=sys.stderr)
        return
    try:
        args.output.write_text(page, encoding="utf-8")
    except OSError as error:
        raise CliError(f"cannot write {args.output}: {error.strerror or error}") from error
    out.write(f"wrote {args.output}: {summary}; open {args.output.resolve().as_uri()} in a browser (works offline)\n")


def _limit(text: str) -> float | None:
    """A CLI day count, or 'none' for no limit."""
    from getgather_otel.store.maintenance.retention import parse_limit

    return parse_limit(text, float)


def _size_limit(text: str) -> int | None:
    from getgather_otel.store.maintenance.retention import parse_limit, parse_size

    return parse_limit(text, parse_size)


def cmd_prune(args: argparse.Namespace, out: TextIO) -> None:
    from getgather_otel.store.maintenance.prune import prune_file
    from getgather_otel.store.maintenance.retention import RetentionPolicy

    fields = ("span_days", "recording_days", "error_recording_days", "max_recording_bytes")
    given = {name: getattr(args, name) for name in fields if hasattr(args, name)}
    policy = dataclasses.replace(RetentionPolicy.from_env(), **given)
    out.write(f"policy: {policy}\n")
    if _clickhouse_url(args):
        _prune_clickhouse(args, policy, out)
        return
    check_ours(args.db, args.wait)  # refused as readers refuse it, before `<db>.lock` is made beside it
    result = prune_file(
        args.db,
        policy,
        dry_run=args.dry_run,
        reclaim_space=not args.no_compact,
        wait_s=args.wait,
        progress=lambda message: print(message, file=out),
    )
    if args.dry_run:
        out.write(f"would remove {result.plan.summary()} (dry run: nothing changed)\n")
        return
    summary = f"pruned in {result.seconds:.2f} s"
    if result.compaction:
        c = result.compaction
        summary += f"; file {c.bytes_before / 1e6:.1f} MB -> {c.bytes_after / 1e6:.1f} MB"
    out.write(summary + "\n")


def _prune_clickhouse(args: argparse.Namespace, policy: Any, out: TextIO) -> None:
    """The policy's recordings in ClickHouse's otel_logs (spans and the rest: the exporter's `ttl`)."""
    from getgather_otel.store.maintenance.prune import prune_clickhouse

    with _engine(args) as engine:
        result = prune_clickhouse(
            engine, policy, dry_run=args.dry_run, progress=lambda message: print(message, file=out)
        )
    if args.dry_run:
        out.write(f"would remove {result.plan.summary()} (dry run: nothing changed)\n")
        return
    out.write(f"pruned otel_logs in {result.seconds:.2f} s\n")


def _print_transfers(verb: str, transfers: list[Any], out: TextIO) -> None:
    rows = sum(t.rows for t in transfers)
    size = sum(t.bytes for t in transfers)
    seconds = sum(t.seconds for t in transfers)
    out.write(f"{verb} {rows:,} rows ({size / 1e6:.1f} MB of Parquet) in {seconds:.2f} s\n")


def cmd_export(args: argparse.Namespace, out: TextIO) -> None:
    from getgather_otel.store.maintenance.parquet import export

    since = parse_since(args.since) if args.since else None
    until = parse_since(args.until) if args.until else None
    transfers = export(
        args.db, args.to, since=since, until=until, wait_s=args.wait, progress=lambda m: print(m, file=out)
    )
    _print_transfers(f"exported to {args.to}:", transfers, out)


def cmd_import(args: argparse.Namespace, out: TextIO) -> None:
    from getgather_otel.store.maintenance.parquet import import_into

    transfers = import_into(args.db, args.source, wait_s=args.wait, progress=lambda m: print(m, file=out))
    _print_transfers(f"imported into {args.db}:", transfers, out)


def cmd_import_getgather(args: argparse.Namespace, out: TextIO) -> None:
    from getgather_otel.export.getgather_import import import_getgather

    result = import_getgather(args.db, args.source, wait_s=args.wait, progress=lambda m: print(m, file=out))
    out.write(f"imported {args.source} into {args.db}: {result.summary()}\n")
    for reason in result.reasons:
        out.write(f"  skipped {reason}\n")


def _distinct_ports(ports: dict[str, int]) -> None:
    """Each server its own port (0: any free one, -1: none); the same one twice is a usage error."""
    seen: dict[int, str] = {}
    for flag, port in ports.items():
        if port > 0 and port in seen:
            raise CliError(f"{seen[port]} and {flag} are both {port}: each server needs its own port")
        seen.setdefault(port, flag)


def cmd_collect(args: argparse.Namespace, out: TextIO) -> None:
    # The library's one way into collectors/ (tests/test_layers.py holds it there): imported here,
    # inside the command, so no other command loads the collection tier.
    from collectors.receiver import build_app
    from collectors.stores import ReceiverSettings
    from getgather_otel.export.duckdb_store import DuckDBStore
    from getgather_otel.viewer.app import ViewerSettings

    token = _token(args.token, env.COLLECT_TOKEN)
    later = {"--grpc-port": args.grpc_port, "--replay-port": -1 if args.no_ui else args.replay_port}
    _distinct_ports({"--port": args.port, **later})
    require_free_ports(args.host, later)
    sock = listening_socket(args.host, args.port, "--port")
    store = DuckDBStore(args.db)
    try:
        store.open_and_migrate()  # a bad path or a newer schema fails now, not on the first request
    except BaseException:
        sock.close()
        raise
    viewer = None if args.no_ui else ViewerSettings(token=token, replay_host=args.host, replay_port=args.replay_port)
    if viewer is not None and not assets.is_built():
        print(f"the viewer is off: its browser bundles are not built ({BUILD_HINT})", file=sys.stderr)
        viewer = None
    settings = ReceiverSettings(
        max_body_bytes=args.max_body_bytes,
        token=token,
        grpc_host=args.host,
        grpc_port=None if args.grpc_port < 0 else args.grpc_port,
    )
    store.start_retention(True)
    grpc_note = "" if settings.grpc_port is None else f" and OTLP/gRPC on {args.host}:{args.grpc_port}"
    port = bound_port(sock)
    ui_note = "" if viewer is None else f"; the viewer is at http://{_url_host(args.host)}:{port}/"
    print(
        f"collecting OTLP/HTTP on http://{_url_host(args.host)}:{port} (/v1/traces, /v1/logs, /v1/metrics){grpc_note}"
        f" into {args.db}{ui_note}",
        file=sys.stderr,
    )
    # uvicorn shuts down gracefully on SIGTERM (the app's lifespan writes everything accepted)
    # and then re-raises the signal to the previous handler: after a clean stop, exit 0.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: None)
    try:
        serve(build_app(store, settings, viewer), sock)
    finally:
        store.shutdown()  # done by the app's lifespan unless the server never started


def cmd_ui(args: argparse.Namespace, out: TextIO) -> None:
    from getgather_otel.viewer.app import ViewerSettings, build_viewer_app
    from getgather_otel.viewer.reads import ClickHouseReads, FileReads, Reads

    if not assets.is_built():
        raise MissingAssetError(
            f"the viewer's browser bundles are not built; from the source checkout run: {BUILD_HINT}"
        )
    reads: Reads
    if args.clickhouse:
        from getgather_otel.store.clickhouse import open_clickhouse

        engine = open_clickhouse(args.clickhouse)
        engine.rows("SELECT count() FROM otel_traces")  # unreachable or without the table: fails now, clearly
        reads = ClickHouseReads(engine)
    else:
        with open_for_reading(args.db, args.wait):  # a missing, corrupt or held file fails now, clearly
            pass
        reads = FileReads(args.db, args.wait)
    _distinct_ports({"--port": args.port, "--replay-port": args.replay_port})
    require_free_ports(args.host, {"--replay-port": args.replay_port})
    sock = listening_socket(args.host, args.port, "--port")
    settings = ViewerSettings(
        token=_token(args.token, env.UI_TOKEN), replay_host=args.host, replay_port=args.replay_port
    )
    address = f"http://{_url_host(args.host)}:{bound_port(sock)}/" + ("?token=…" if settings.token else "")
    print(f"viewing {reads.label} at {address} (Ctrl-C to stop)", file=sys.stderr)
    serve(build_viewer_app(reads, settings), sock)


def cmd_demo(args: argparse.Namespace, out: TextIO) -> None:
    # The one import of the demo outside demo/ (tests/test_layers.py): inside the command, so that
    # no other command loads FastMCP.
    from getgather_otel.demo.run import run_demo

    try:  # what `record_browser` builds first: missing or stale, every browser call goes unrecorded, said up front
        world_script(RecordingOptions(), isolated=True)
    except MissingAssetError as error:
        print(f"note: browser calls will not be recorded: {error}", file=sys.stderr)
    asyncio.run(run_demo(args.db, out))
    out.write(f"\nlatest activities in {args.db}:\n")
    cmd_activities(
        argparse.Namespace(
            db=args.db,
            wait=args.wait,
            brand=None,
            name=None,
            client=None,
            trace=None,
            since=None,
            errors=False,
            failure_class=None,
            limit=10,
            format="table",
        ),
        out,
    )
    cmd_stats(argparse.Namespace(db=args.db, wait=args.wait, since=None, format="table"), out)
    out.write("\nthe latest browser tool call, as a replay:\n")
    try:
        cmd_replay(argparse.Namespace(db=args.db, wait=args.wait, activity_id="latest", output=args.replay), out)
    except CliError as error:
        out.write(f"no replay: {error}\n")
    command = _command()
    out.write(
        f'\nTry: {command} sql "SELECT brand_id, name, status, error FROM activities '
        f'ORDER BY start_time DESC LIMIT 10" --db {args.db}\n'
        f"     {command} replay ACTIVITY_ID -o replay.html --db {args.db}\n"
    )


def _command() -> str:
    """How to run this program again as typed: `getgather-otel` when that is the one on PATH,
    else the path it was started from (`.venv/bin/getgather-otel` after the README's set-up,
    which puts nothing on PATH: a newcomer copied a hint that did not run)."""
    started = sys.argv[0] if sys.argv else ""
    if Path(started).name != "getgather-otel":
        return "getgather-otel"
    on_path = shutil.which("getgather-otel")
    if on_path is not None and Path(on_path).resolve() == Path(started).resolve():
        return "getgather-otel"
    return os.path.relpath(started)


# The largest count a query takes (DuckDB's LIMIT is a BIGINT): past it a usage error, not a ConversionException.
_MAX_COUNT = 2**62


def _url_host(host: str) -> str:
    """`host` as a URL writes it: an IPv6 address in brackets (`http://[::1]:8000/`, RFC 3986)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _positive(text: str) -> int:
    """A count of at least 1; anything else is a usage error (exit 2), not a traceback later."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a count of 1 or more")
    if value > _MAX_COUNT:
        raise argparse.ArgumentTypeError(f"{text[:40]} is more than the largest count, {_MAX_COUNT}")
    return value


def _port(text: str) -> int:
    """A TCP port, 0 (any free one) to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a port (0-65535)")
    return value


def _port_or_off(text: str) -> int:
    """A TCP port, or -1 for none."""
    if text.strip() == "-1":
        return -1
    try:
        return _port(text)
    except argparse.ArgumentTypeError as error:
        raise argparse.ArgumentTypeError(f"{error}, or -1 for none") from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0:  # also NaN
        raise argparse.ArgumentTypeError(f"{text} is not a number of seconds (0 or more)")
    return value


# How long `--wait` retries by default: a reader for DEFAULT_WAIT_S, a command that writes the file longer.
_WRITER_WAIT_S = 30.0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="getgather-otel",
        description="Query the activities and spans an instrumented MCP server stored in DuckDB.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db",
        type=Path,
        default=None,
        help=f"DuckDB file (default: ${env.DUCKDB_PATH.name} or ./getgather-otel.duckdb)",
    )
    common.add_argument(
        "--wait",
        type=_seconds,
        default=None,
        help="seconds to keep retrying while another process holds the file "
        f"(default: {DEFAULT_WAIT_S:g} to read, {_WRITER_WAIT_S:g} for prune, import and import-getgather)",
    )
    fmt = argparse.ArgumentParser(add_help=False)
    fmt.add_argument("--format", choices=FORMATS, default="table")
    clickhouse = argparse.ArgumentParser(add_help=False)
    clickhouse.add_argument(
        "--clickhouse",
        metavar="URL",
        help="read ClickHouse's otel_traces and otel_logs (the OTel Collector's ClickHouse exporter) instead "
        "of --db: http(s)://user:password@host:8123/database, or chdb:PATH for chdb in process",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("sql", parents=[common, fmt, clickhouse], help="run a read-only SQL query")
    p.add_argument("query")
    p.add_argument(
        "--max-rows",
        type=_positive,
        default=DEFAULT_MAX_ROWS,
        help="print at most this many rows, with a note on stderr when there were more (default: %(default)s)",
    )
    p.set_defaults(func=cmd_sql)

    p = sub.add_parser("activities", parents=[common, fmt, clickhouse], help="list recent activities")
    p.add_argument("--brand")
    p.add_argument("--name")
    p.add_argument("--since", help="30m, 2h, 7d, 1w or an ISO time")
    p.add_argument("--errors", action="store_true", help="only failed activities")
    p.add_argument(
        "--failure-class",
        help=f"only failed activities of this class: {', '.join(FAILURE_CLASSES)} "
        "(or one a classifier of yours stored)",
    )
    p.add_argument("--client", help="only calls from this MCP client (its clientInfo name)")
    p.add_argument("--trace", help="only this trace: an agent's calls under one trace context")
    p.add_argument("--limit", type=_positive, default=20, help="at most this many (default: %(default)s)")
    p.set_defaults(func=cmd_activities)

    p = sub.add_parser(
        "stats", parents=[common, fmt, clickhouse], help="count, error rate, p50/p95/p99 per brand, tool and client"
    )
    p.add_argument("--since", help="30m, 2h, 7d, 1w or an ISO time")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("scan", parents=[common], help="look for secrets in every span and recording (exit 1 on hits)")
    p.add_argument("--secret", action="append", metavar="VALUE", help="a value to look for, in any stored form")
    p.add_argument("--pattern", action="append", metavar="NAME", help="card (Luhn-checked), jwt, token, email or phone")
    p.set_defaults(func=cmd_scan)

    p = sub.add_parser("replay", parents=[common, clickhouse], help="write a self-contained HTML replay of an activity")
    p.add_argument("activity_id", help="the activity id (or its first 6+ characters), or 'latest'")
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("replay.html"),
        help="HTML file, or - for standard output (default: %(default)s)",
    )
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("prune", parents=[common, clickhouse], help="apply the retention policy and give the space back")
    p.add_argument("--dry-run", action="store_true", help="show what would be removed, change nothing")
    p.add_argument("--no-compact", action="store_true", help="delete but do not rewrite the file")
    for flag, dest, kind in (
        ("--spans-days", "span_days", _limit),
        ("--recordings-days", "recording_days", _limit),
        ("--error-recordings-days", "error_recording_days", _limit),
        ("--max-recording-bytes", "max_recording_bytes", _size_limit),
    ):
        p.add_argument(
            flag, dest=dest, type=kind, default=argparse.SUPPRESS, help="overrides GETGATHER_OTEL_RETAIN_*; 'none'"
        )
    p.set_defaults(func=cmd_prune, default_wait=_WRITER_WAIT_S)

    p = sub.add_parser("export", parents=[common], help="write spans and recordings as Parquet, partitioned by day")
    p.add_argument("--to", type=Path, required=True, help="a new (or empty) directory")
    p.add_argument("--since", help="30m, 2h, 7d, 1w or an ISO time (default: everything)")
    p.add_argument("--until", help="same forms; rows before this time")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("import", parents=[common], help="add a Parquet export to a database (skips rows it has)")
    p.add_argument("source", type=Path, help="a directory written by `getgather-otel export`")
    p.set_defaults(func=cmd_import, default_wait=_WRITER_WAIT_S)

    p = sub.add_parser("import-getgather", parents=[common], help="add getgather's SQLite activities and recordings")
    p.add_argument("source", type=Path, help="getgather's SQLite database (activities, rrweb_recordings)")
    p.set_defaults(func=cmd_import_getgather, default_wait=_WRITER_WAIT_S)

    p = sub.add_parser("collect", parents=[common], help="receive OTLP from many servers into the database")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    p.add_argument("--port", type=_port, default=4318, help="OTLP/HTTP port")
    p.add_argument("--grpc-port", type=_port_or_off, default=4317, help="OTLP/gRPC port (-1: no gRPC)")
    p.add_argument("--max-body-bytes", type=_positive, default=16 * 1024 * 1024, help="413 beyond this (after gzip)")
    p.add_argument(
        "--token", help=f"require 'Authorization: Bearer TOKEN' (or ${env.COLLECT_TOKEN.name}); the viewer too"
    )
    p.add_argument("--no-ui", action="store_true", help="do not serve the web viewer on the OTLP/HTTP port")
    p.add_argument("--replay-port", type=_port, default=0, help="the viewer's replay origin port (default: any free)")
    p.set_defaults(func=cmd_collect)

    p = sub.add_parser("ui", parents=[common, clickhouse], help="serve the web viewer (activities, traces, replays)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    p.add_argument("--port", type=_port, default=4320, help="viewer port (default: %(default)s)")
    p.add_argument("--replay-port", type=_port, default=0, help="replay origin port (default: any free)")
    p.add_argument("--token", help=f"require this token (or ${env.UI_TOKEN.name}); open /?token=TOKEN once")
    p.set_defaults(func=cmd_ui)

    p = sub.add_parser("demo", parents=[common], help="run the demo server and show what it stored")
    p.add_argument(
        "--replay",
        type=Path,
        default=Path("getgather-otel-replay.html"),
        help="where to write the replay of the latest browser tool call (default: %(default)s)",
    )
    p.set_defaults(func=cmd_demo)
    return parser


# The exit status of a command whose reader went away (`| head -1`), as a shell reports a Unix
# tool that SIGPIPE ended: 128 + SIGPIPE; never 1, which `scan` gives for "found".
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE


def _reader_went_away() -> int:
    """Stop quietly when standard output's reader has closed it, as Unix tools do (Python's
    documentation, "Note on SIGPIPE"): stdout pointed at /dev/null so that the interpreter's
    own flush at exit finds no closed pipe and prints no second error."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout replaced by something without a descriptor
        pass
    finally:
        os.close(devnull)
    return EXIT_BROKEN_PIPE


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "clickhouse", None) is not None and not args.clickhouse.strip():
        parser.error("--clickhouse needs a URL: http(s)://user:password@host:8123/database or chdb:PATH")
    if getattr(args, "clickhouse", None) and args.db is not None:
        parser.error("--clickhouse and --db name two different stores: give one of them")
    if args.wait is None:
        args.wait = getattr(args, "default_wait", DEFAULT_WAIT_S)
    args.db = resolve_db_path(args.db)
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    try:
        args.func(args, out)
        out.flush()  # a closed pipe shows here, not at the interpreter's exit
    except BrokenPipeError:
        return _reader_went_away()
    except (
        StoreError,
        SchemaTooNewError,
        CliError,
        PortInUseError,
        ValueError,
        LookupError,
        MissingAssetError,
    ) as error:
        print(f"getgather-otel: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if "getgather_otel.store.clickhouse" in sys.modules:
            from getgather_otel.store.clickhouse import abandoned_queries

            if abandoned_queries():
                # A chdb query still runs in C++ on a worker thread: Python's exit would wait for it
                # or crash under it, so this process ends here, its output written.
                print("getgather-otel: interrupted", file=sys.stderr)
                out.flush()
                sys.stderr.flush()
                os._exit(130)
        print("getgather-otel: interrupted", file=sys.stderr)
        return 130
    except FoundSecretsError:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
