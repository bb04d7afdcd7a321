"""`activities`, `stats`, `sql` and `replay` with `--clickhouse` print what they print from `--db`.

The demo's database goes into a chdb data directory as the OTel Collector's ClickHouse
exporter would write it (tests/helpers/clickhouse_exporter.py); the CLI then opens it with
`--clickhouse chdb:PATH`, and as a server, `http://user:password@host:port/database`, through
ClickHouse's HTTP interface served over that directory (tests/helpers/clickhouse_http.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import Any

import duckdb
import pytest

from getgather_otel.cli import main
from getgather_otel.store.clickhouse import open_clickhouse
from getgather_otel.store.engine import DuckDBEngine, Engine
from getgather_otel.store.maintenance.retention import (
    REASON_AGE,
    REASON_ERROR_AGE,
    REASON_SIZE_CAP,
    REASON_SPAN_PRUNED,
    RetentionPolicy,
    plan_clickhouse_prune,
    plan_prune,
)
from getgather_otel.store.queries.recordings import chunk_bytes
from getgather_otel.store.queries.retention import recordings_oldest_first
from getgather_otel.store.reader import open_for_reading
from tests.helpers.clickhouse_exporter import load_database
from tests.helpers.clickhouse_http import serve_chdb_http
from tests.helpers.outside_reads import listening, outside_reads
from tests.test_cli import damaged_copy

chdb_session = pytest.importorskip("chdb.session")


def _cli(*argv: str) -> str:
    out = io.StringIO()
    assert main(list(argv), out=out) == 0
    return out.getvalue()


# How the CLI reaches ClickHouse: `chdb:PATH` in process, or `http://...` (clickhouse-connect) to
# ClickHouse's HTTP interface served over the same chdb data directory on loopback.
CLIENTS = ("chdb", "clickhouse-connect")


@pytest.fixture(params=CLIENTS)
def serve(request: pytest.FixtureRequest) -> Iterator[Callable[[Path], str]]:
    """The `--clickhouse` URL of a chdb data directory, as each client reaches it."""
    with ExitStack() as servers:

        def url_of(data: Path) -> str:
            if request.param == "chdb":
                return f"chdb:{data}"
            return servers.enter_context(serve_chdb_http(str(data))).url()

        yield url_of


def _load(db: Path, tmp_path: Path) -> Path:
    """A chdb data directory holding `db` as the exporter writes it."""
    data = tmp_path / "chdb"
    session = chdb_session.Session(str(data))
    load_database(session, db, tmp_path)
    session.close()
    return data


@pytest.fixture
def url(demo_db: Path, tmp_path: Path, serve: Callable[[Path], str]) -> str:
    """`--clickhouse` for ClickHouse holding the demo as the exporter writes it."""
    return serve(_load(demo_db, tmp_path))


def test_the_cli_reads_clickhouse(demo_db: Path, tmp_path: Path, url: str) -> None:
    for command in (["activities", "--limit", "50"], ["activities", "--errors"], ["stats"]):
        from_clickhouse = _cli(*command, "--clickhouse", url, "--format", "json")
        assert from_clickhouse == _cli(*command, "--db", str(demo_db), "--format", "json"), command
        assert json.loads(from_clickhouse), command
    count = "SELECT count() AS spans FROM otel_traces"
    assert json.loads(_cli("sql", count, "--clickhouse", url, "--format", "json"))[0]["spans"] > 0
    duck_html, house_html = tmp_path / "duck.html", tmp_path / "house.html"
    _cli("replay", "latest", "-o", str(duck_html), "--db", str(demo_db))
    _cli("replay", "latest", "-o", str(house_html), "--clickhouse", url)
    assert house_html.read_bytes() == duck_html.read_bytes()
    assert main(["sql", "DROP TABLE otel_traces", "--clickhouse", url], out=io.StringIO()) == 2
    assert int(json.loads(_cli("sql", count, "--clickhouse", url, "--format", "json"))[0]["spans"]) > 0


# The demo's recordings, each also copied under a new id, aged: (days since the recording ended,
# since its copy ended, whether their activity failed). With RETENTION below the plan removes some
# by every reason: past the span age (100), past the error age (70, failed), past the age (20), and
# by the size cap the oldest of those left (30, failed; 5).
AGES = ((100.0, 1.0, False), (70.0, 30.0, True), (20.0, 5.0, False), (0.5, 2.0, True))
RETENTION = RetentionPolicy(span_days=90, recording_days=14, error_recording_days=60, max_recording_bytes=None)


def _aged(demo_db: Path, tmp_path: Path) -> Path:
    """A copy of the demo's database whose recordings ended `AGES` ago, some under failed activities."""
    db = tmp_path / "aged.duckdb"
    shutil.copyfile(demo_db, db)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with duckdb.connect(str(db)) as conn:
        recordings = conn.execute(
            "SELECT recording_id, min(span_id), max(last_event_time) FROM recording_chunks GROUP BY 1 ORDER BY 3, 1"
        ).fetchall()
        assert len(recordings) == len(AGES), "the demo records four pages"
        for (recording, span, ended), (age, copy_age, failed) in zip(recordings, AGES, strict=True):
            shift = now - dt.timedelta(days=copy_age) - ended
            conn.execute(
                "INSERT INTO recording_chunks SELECT * REPLACE ('copy-' || recording_id AS recording_id, "
                "first_event_time + $shift AS first_event_time, last_event_time + $shift AS last_event_time) "
                "FROM recording_chunks WHERE recording_id = $recording",
                {"shift": shift, "recording": recording},
            )
            conn.execute(
                "UPDATE recording_chunks SET first_event_time = first_event_time + $shift, "
                "last_event_time = last_event_time + $shift WHERE recording_id = $recording",
                {"shift": now - dt.timedelta(days=age) - ended, "recording": recording},
            )
            if failed:
                conn.execute('UPDATE otel_traces SET "StatusCode" = \'Error\' WHERE "SpanId" = $span', {"span": span})
    return db


def _recording_ids(engine: Engine) -> set[str]:
    return {str(row[0]) for row in engine.rows("SELECT DISTINCT recording_id FROM {recording_chunks}").rows}


def test_prune_removes_the_same_recordings_from_clickhouse_as_from_duckdb(
    demo_db: Path, tmp_path: Path, serve: Callable[[Path], str]
) -> None:
    """One data set in a DuckDB file and in chdb (the exporter's tables): the same policy (ages, error
    ages, size cap) plans the same recordings for the same reasons, and pruning leaves the same ones."""
    db = _aged(demo_db, tmp_path)
    url = serve(_load(db, tmp_path))
    now = dt.datetime.now(dt.UTC)
    with open_for_reading(db, wait_s=10) as conn:
        by_age = {r.recording_id for r in plan_prune(conn, RETENTION, now).recordings}
        kept = [(r, stored) for r, _, _, stored, _, _ in recordings_oldest_first(DuckDBEngine(conn)) if r not in by_age]
    # A cap that holds the three newest recordings the ages keep: the two older ones go by size.
    cap = sum(stored for _, stored in kept[-3:])
    policy = dataclasses.replace(RETENTION, max_recording_bytes=cap)
    with open_for_reading(db, wait_s=10) as conn:
        duck_plan = plan_prune(conn, policy, now)
    engine = open_clickhouse(url)
    try:
        house_plan = plan_clickhouse_prune(engine, policy, now)
    finally:
        engine.close()
    assert {r.reason for r in duck_plan.recordings} == {
        REASON_AGE,
        REASON_ERROR_AGE,
        REASON_SIZE_CAP,
        REASON_SPAN_PRUNED,
    }, "every reason is exercised"
    assert house_plan.recordings == duck_plan.recordings
    assert house_plan.spans_by_ttl and "otel_traces' TTL" in house_plan.summary()

    flags = ["--spans-days", "90", "--recordings-days", "14", "--error-recordings-days", "60"]
    flags += ["--max-recording-bytes", str(cap)]
    dry = _cli("prune", "--dry-run", *flags, "--clickhouse", url)
    assert f"{len(duck_plan.recordings)} recordings ({duck_plan.recording_bytes:,} bytes stored)" in dry
    engine = open_clickhouse(url)
    try:
        before = _recording_ids(engine)
    finally:
        engine.close()
    assert len(before) == 2 * len(AGES), "a dry run removes nothing"
    _cli("prune", *flags, "--clickhouse", url)
    _cli("prune", *flags, "--db", str(db))
    engine = open_clickhouse(url)
    try:
        left = _recording_ids(engine)
    finally:
        engine.close()
    with open_for_reading(db, wait_s=10) as conn:
        assert left == _recording_ids(DuckDBEngine(conn)) == before - {r.recording_id for r in duck_plan.recordings}
    assert len(left) == 3


def test_sql_on_clickhouse_reads_its_tables_and_nothing_else(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`sql --clickhouse` ran table functions (readonly=2 allows them): file() printed a host file and
    url() fetched from the network. ClickHouse's parse of the query now refuses them before it runs."""
    secret = tmp_path / "host-secret.txt"
    secret.write_text("s3cr3t-on-the-host\n")
    with listening() as (port, hits):
        for query in outside_reads(secret, port):
            out = io.StringIO()
            assert main(["sql", query, "--clickhouse", url], out=out) == 2, query
            err = capsys.readouterr().err
            assert "refused" in err and "s3cr3t" not in out.getvalue() + err, (query, err)
            assert len(err.strip().splitlines()) == 1
        # chdb ran every statement of a text, the ones before the last without our settings: the text
        # that closed the subquery around it dropped a table. ClickHouse's formatQuery parses one statement.
        for injected in (
            "SELECT 1) AS a; DROP TABLE otel_logs; SELECT * FROM (SELECT 1",
            "SELECT 1; DROP TABLE otel_logs",
        ):
            assert main(["sql", injected, "--clickhouse", url], out=io.StringIO()) == 2
            assert "SYNTAX_ERROR" in capsys.readouterr().err
    assert hits == [], "nothing reached the network"
    count = "SELECT count() AS n FROM otel_logs"
    assert json.loads(_cli("sql", count, "--clickhouse", url, "--format", "json"))[0]["n"] > 0, "otel_logs is there"
    local = "SELECT sum(number) AS s FROM numbers(10) WHERE number IN (SELECT * FROM values('x UInt8', 1, 2, 3))"
    assert json.loads(_cli("sql", local, "--clickhouse", url, "--format", "json")) == [{"s": 6}]


def test_clickhouse_stores_that_are_not_there(
    tmp_path: Path, serve: Callable[[Path], str], capsys: pytest.CaptureFixture[str]
) -> None:
    """chdb:PATH created a missing directory (and wrote into an empty one) and read nothing; a ClickHouse
    without the exporter's tables answered with ClickHouse's UNKNOWN_TABLE and the query text."""
    commands = (["activities"], ["stats"], ["sql", "SELECT 1"], ["replay", "latest"], ["prune", "--dry-run"])
    missing, empty = tmp_path / "no" / "such", tmp_path / "empty"
    empty.mkdir()
    for where, says in ((missing, "no such directory"), (empty, "without ClickHouse data")):
        for command in commands:
            assert main([*command, "--clickhouse", f"chdb:{where}"], out=io.StringIO()) == 2
            assert says in capsys.readouterr().err
    assert not (tmp_path / "no").exists() and list(empty.iterdir()) == []

    data = tmp_path / "other"
    session = chdb_session.Session(str(data))
    session.query("CREATE TABLE orders (id UInt64) ENGINE = MergeTree ORDER BY id")
    session.close()
    url = serve(data)
    queries = (["sql", "SELECT count() FROM otel_traces"], ["activities"], ["stats"], ["replay", "latest"])
    for command in queries:
        assert main([*command, "--clickhouse", url], out=io.StringIO()) == 2
        err = capsys.readouterr().err
        assert "has no otel_traces table" in err and "clickhouse exporter" in err, err
        assert "Unknown table" not in err, "the message, not ClickHouse's echo of the query"
    assert main(["sql", "SELECT count() FROM otel_logs", "--clickhouse", url], out=io.StringIO()) == 2
    assert "has no otel_logs table" in capsys.readouterr().err


def test_clickhouse_and_db_together_are_a_usage_error(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given both, the commands read ClickHouse and ignored --db without a word."""
    for command in (["sql", "SELECT 1"], ["activities"], ["stats"], ["replay", "latest"], ["prune"], ["ui"]):
        with pytest.raises(SystemExit) as exited:
            main([*command, "--clickhouse", "chdb:", "--db", str(demo_db)], out=io.StringIO())
        assert exited.value.code == 2
        assert "--clickhouse and --db" in capsys.readouterr().err
    monkeypatch.setenv("GETGATHER_OTEL_DUCKDB", str(demo_db))  # a default, not a second store
    assert json.loads(_cli("sql", "SELECT 1 AS one", "--clickhouse", "chdb:", "--format", "json")) == [{"one": 1}]


def test_a_chdb_directory_another_process_holds_is_one_clear_error(demo_db: Path, tmp_path: Path) -> None:
    """chdb opens a data directory in one process at a time: a second process (a CLI beside a running
    `ui`) got chdb's RuntimeError as a traceback."""
    data = _load(demo_db, tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_DIRECTORY, str(data)], stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        done = subprocess.run(
            [sys.executable, "-m", "getgather_otel.cli", "activities", "--clickhouse", f"chdb:{data}"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        holder.communicate("", timeout=60)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "one process at a time" in done.stderr, done.stderr
    # chdb's own print of the refused lock (C++ on fd 2) came first; only the sentence is left.
    assert len(done.stderr.strip().splitlines()) == 1 and "Cannot lock file" not in done.stderr, done.stderr


HOLD_DIRECTORY = """
import sys
from chdb import session
held = session.Session(sys.argv[1])
print("holding", flush=True)
sys.stdin.read()
held.close()
"""


def _json(*argv: str) -> Any:
    """A command's --format json output, parsed strictly: NaN or Infinity in it fails."""
    return json.loads(_cli(*argv, "--format", "json"), parse_constant=_no_constant)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def test_sql_reads_the_duckdb_views_on_clickhouse(demo_db: Path, url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A newcomer's break: `sql "... FROM activities"` (the README's and the demo's hint) failed on
    ClickHouse with Code: 60 Unknown table expression identifier; the views are CTEs there now."""
    for query in (
        "SELECT * FROM activities ORDER BY start_time, activity_id",
        "SELECT brand_id, name, status, error FROM activities ORDER BY start_time DESC LIMIT 10",
        "WITH x AS (SELECT 1 AS one) SELECT a.name, x.one FROM activities AS a, x ORDER BY a.start_time, a.activity_id",
        "SELECT * FROM recordings ORDER BY recording_id",
        "SELECT r.pages, a.name FROM recordings AS r JOIN activities AS a ON a.activity_id = r.activity_id "
        "ORDER BY r.start_time",
    ):
        duck = _json("sql", query, "--db", str(demo_db))
        assert duck, query
        assert _json("sql", query, "--clickhouse", url) == duck, query
    mine = "WITH activities AS (SELECT 7 AS n) SELECT * FROM activities"
    assert _json("sql", mine, "--clickhouse", url) == [{"n": 7}], "the user's own CTE is nearer"
    assert main(["sql", "SELECT * FROM rrweb_recordings", "--clickhouse", url], out=io.StringIO()) == 2
    err = capsys.readouterr().err
    assert "DuckDB file only" in err and "activities, recordings" in err and "Code:" not in err, err


# One value of each ClickHouse type; each engine must print them alike.
TYPED = """SELECT toDateTime('2026-11-01 10:20:30', 'UTC') AS dt,
    toDateTime('2026-11-01 10:20:30', 'Asia/Kolkata') AS dt_kolkata,
    toDateTime64('2026-11-01 10:20:30.123456', 6, 'UTC') AS dt64,
    toDateTime64('2026-11-01 10:20:30.123456789', 9, 'UTC') AS dt64_9,
    toDate('2026-11-01') AS d, toDate32('2026-11-01') AS d32,
    toInt128('-170141183460469231731687303715884105728') AS i128, toUInt128('7') AS u128,
    toInt256('-5') AS i256,
    toUInt256('115792089237316195423570985008687907853269984665640564039457584007913129639935') AS u256,
    toDecimal64(12.345, 3) AS dec, toUUID('61f0c404-5cb3-11e7-907b-a6006ad3dba0') AS u,
    toIPv4('1.2.3.4') AS ip4, toIPv6('::1') AS ip6, CAST('b' AS Enum8('a' = 1, 'b' = 2)) AS e,
    CAST(NULL AS Nullable(Int32)) AS n, [toDateTime('2026-11-01 10:20:30', 'UTC')] AS arr,
    map('k', toInt128(3)) AS m, tuple(1, 'x') AS tup"""


def test_sql_prints_the_same_values_on_chdb_and_over_http(demo_db: Path, tmp_path: Path) -> None:
    """A newcomer's break: on chdb `DateTime` printed as epoch seconds and Int128 as '<16 bytes>' (Arrow),
    over HTTP as text; both decode ClickHouse's Native format with clickhouse-connect now."""
    data = _load(demo_db, tmp_path)
    outputs: dict[str, list[str]] = {}
    with serve_chdb_http(str(data)) as server:
        url = server.url()
        outputs["http"] = [_cli("sql", TYPED, "--clickhouse", url, "--format", f) for f in ("json", "csv", "table")]
    outputs["chdb"] = [
        _cli("sql", TYPED, "--clickhouse", f"chdb:{data}", "--format", f) for f in ("json", "csv", "table")
    ]
    assert outputs["chdb"] == outputs["http"]
    (row,) = json.loads(outputs["chdb"][0])
    assert row["dt"] == "2026-11-01 10:20:30" and row["dt_kolkata"] == "2026-11-01 04:50:30", "UTC"
    assert row["dt64"] == row["dt64_9"] == "2026-11-01 10:20:30.123456"
    assert row["d"] == row["d32"] == "2026-11-01"
    assert row["i128"] == -(2**127) and row["u128"] == 7 and row["i256"] == -5 and row["u256"] == 2**256 - 1
    assert (row["dec"], row["u"], row["ip4"], row["ip6"], row["e"]) == (
        12.345,
        "61f0c404-5cb3-11e7-907b-a6006ad3dba0",
        "1.2.3.4",
        "::1",
        "b",
    )
    assert row["n"] is None and row["arr"] == ["2026-11-01 10:20:30"] and row["m"] == {"k": 3}
    assert row["tup"] == [1, "x"]
    same = "SELECT {t} AS t, {d} AS d, 1.5 AS f"
    duck = _cli(
        "sql", same.format(t="TIMESTAMP '2026-11-01 10:20:30.123456'", d="DATE '2026-11-01'"), "--db", str(demo_db)
    )
    house = same.format(t="toDateTime64('2026-11-01 10:20:30.123456', 6, 'UTC')", d="toDate('2026-11-01')")
    assert _cli("sql", house, "--clickhouse", f"chdb:{data}") == duck, "timestamps as DuckDB prints them"


def test_every_allowed_table_function_runs(url: str) -> None:
    """zeros() and format() were allowed and failed under readonly=1 ("Cannot execute query in readonly
    mode"): the allow-list holds only what runs, each tried here."""
    from getgather_otel.store.clickhouse import _LOCAL_TABLE_FUNCTIONS

    tried = {
        "numbers": "SELECT count() AS n FROM numbers(3)",
        "numbers_mt": "SELECT count() AS n FROM numbers_mt(3)",
        "generateSeries": "SELECT count() AS n FROM generateSeries(1, 3)",
        "generate_series": "SELECT count() AS n FROM generate_series(1, 3)",
        "primes": "SELECT count() AS n FROM primes(3)",
        "values": "SELECT count() AS n FROM values('x UInt8', 1, 2, 3)",
        "SQLStandardValues": "SELECT count() AS n FROM (VALUES (1), (2), (3))",
        "null": "SELECT count() + 3 AS n FROM null('x UInt8')",
        "generateRandom": "SELECT count() AS n FROM (SELECT * FROM generateRandom('a UInt8') LIMIT 3)",
        "view": "SELECT count() AS n FROM view(SELECT * FROM numbers(3))",
        "merge": "SELECT count() + 2 AS n FROM merge('system', '^one$')",
    }
    assert set(tried) == set(_LOCAL_TABLE_FUNCTIONS)
    for name, query in tried.items():
        assert _json("sql", query, "--clickhouse", url) == [{"n": 3}], name
    for refused in ("SELECT * FROM zeros(3)", "SELECT * FROM format(JSONEachRow, '{\"a\":1}')"):
        assert main(["sql", refused, "--clickhouse", url], out=io.StringIO()) == 2


def test_json_output_is_strict_json(demo_db: Path, url: str) -> None:
    """`--format json` wrote bare NaN and Infinity (on DuckDB too), which strict parsers refuse; they
    are null now, as in ClickHouse's JSON formats."""
    duck = "SELECT 'nan'::DOUBLE AS a, 'inf'::DOUBLE AS b, ['-inf'::DOUBLE, 1.5] AS c"
    house = "SELECT nan AS a, inf AS b, [-inf, 1.5] AS c"
    expected = [{"a": None, "b": None, "c": [None, 1.5]}]
    assert _json("sql", duck, "--db", str(demo_db)) == expected
    assert _json("sql", house, "--clickhouse", url) == expected


def test_a_server_that_never_answers_is_one_error(capsys: pytest.CaptureFixture[str]) -> None:
    """A newcomer's break: an endpoint that accepts and never answers held the CLI for clickhouse-connect's
    300 s default, silently; the handshake now has a 10 s limit and the failure is one sentence."""
    import socket
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        started = time.monotonic()
        code = main(["sql", "SELECT 1", "--clickhouse", f"http://127.0.0.1:{listener.getsockname()[1]}/"])
        took = time.monotonic() - started
    finally:
        listener.close()
    err = capsys.readouterr().err
    assert code == 2 and took < 40, took
    assert "cannot reach ClickHouse" in err and "no answer within 10 s" in err, err
    assert len(err.strip().splitlines()) == 1, err


def test_ctrl_c_ends_a_long_chdb_query(tmp_path: Path) -> None:
    """A newcomer's break: SIGINT did not stop `sql` on chdb (the query runs in C++ on the main thread);
    it runs on a worker now and the CLI exits 130 at once, with one line."""
    import os
    import signal
    import time

    proc = Path("/proc")
    if not proc.is_dir():
        pytest.skip("finds chdb's threads in /proc")
    # A suite started as a background job of a non-interactive shell (`.ci/stress`, nohup) has
    # SIGINT ignored, which children inherit and Python then leaves ignored: the CLI here gets
    # the handler a person's terminal gives it.
    argv = ["getgather-otel", "sql", "SELECT count() FROM numbers(1e12)", "--clickhouse", "chdb:"]
    cli = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler);"
            f" sys.argv = {argv!r}; runpy.run_module('getgather_otel.cli', run_name='__main__')",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # the query's pipeline executor thread: the query runs
            names = [p.read_text().strip() for p in (proc / str(cli.pid) / "task").glob("*/comm") if p.exists()]
            if "QueryPullPipeEx" in names:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the query never started")
        time.sleep(1)
        # Pressed again each second, as a person would.
        sent = time.monotonic()
        while cli.poll() is None and time.monotonic() - sent < 30:
            os.kill(cli.pid, signal.SIGINT)
            with suppress(subprocess.TimeoutExpired):
                cli.wait(timeout=1)
        took = time.monotonic() - sent
        _, err = cli.communicate(timeout=30)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.communicate()
    assert cli.returncode == 130 and took < 10, (cli.returncode, took, err)
    assert err.strip() == "getgather-otel: interrupted", err


def test_https_is_tls_and_a_trickling_server_is_one_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A newcomer's breaks: `https://user:password@host/db` went out as plain HTTP (clickhouse-connect
    reads a DSN's host and credentials, not its scheme), so a plain-HTTP server answered it; a server
    that trickles its answer (a byte a second) held the CLI past any limit (timeouts were per read);
    `--clickhouse ''` fell back to the DuckDB file."""
    import socket
    import threading
    import time

    with serve_chdb_http() as server:
        plain = server.url()
        assert _cli("sql", "SELECT 1 AS n", "--clickhouse", plain, "--format", "csv").split() == ["n", "1"]
        secure = plain.replace("http://", "https://", 1)
        assert main(["sql", "SELECT 1 AS n", "--clickhouse", secure], out=io.StringIO()) == 2
    err = capsys.readouterr().err
    assert "cannot reach ClickHouse at https://" in err and "SSL" in err.upper(), err

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()

    def trickle() -> None:
        while not stop.is_set():
            try:
                listener.settimeout(0.5)
                conn, _ = listener.accept()
            except OSError:
                continue
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
            while not stop.is_set():
                try:
                    conn.sendall(b"1")
                except OSError:
                    break
                time.sleep(1)
            conn.close()

    feeder = threading.Thread(target=trickle, daemon=True)
    feeder.start()
    try:
        started = time.monotonic()
        code = main(["stats", "--clickhouse", f"http://127.0.0.1:{listener.getsockname()[1]}/"], out=io.StringIO())
        took = time.monotonic() - started
    finally:
        stop.set()
        feeder.join(5)
        listener.close()
    err = capsys.readouterr().err
    assert code == 2 and took < 30, took
    assert "no answer within 10 s" in err and len(err.strip().splitlines()) == 1, err

    with pytest.raises(SystemExit) as usage:
        main(["activities", "--clickhouse", "", "--db", str(tmp_path / "missing.duckdb")])
    assert usage.value.code == 2
    assert "--clickhouse needs a URL" in capsys.readouterr().err


def test_replay_over_clickhouse_skips_a_damaged_chunk(
    demo_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A chunk whose Body is not zstd (nor, below, base64) failed `replay --clickhouse` with a traceback."""
    db, activity, page, sequence = damaged_copy(demo_db, tmp_path)
    url = f"chdb:{_load(db, tmp_path)}"
    _cli("replay", activity, "-o", str(tmp_path / "house.html"), "--clickhouse", url)
    assert f"skipped chunk {sequence} of page {page} is damaged: its data is not zstd" in capsys.readouterr().err
    engine = open_clickhouse(url)
    try:
        assert chunk_bytes(engine, "not base64!") == b"not base64!", "left for the chunk's decoding to name"
    finally:
        engine.close()
