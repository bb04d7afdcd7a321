"""The `getgather-otel` command against real files, including one a live process is writing."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from getgather_otel.cli import build_parser, main
from getgather_otel.demo.shop import DEMO_PASSWORD
from getgather_otel.web.serving import free_ports
from tests.test_store import HELPERS, lock_held_by_other_process


def run_cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def test_demo_browser_tools_are_recorded(demo_db: Path) -> None:
    code, text = run_cli(
        "sql",
        "SELECT name, status, has_recording FROM activities WHERE brand_id = 'shop' ORDER BY name",
        "--db",
        str(demo_db),
        "--format",
        "json",
    )
    assert code == 0
    shop = json.loads(text)
    assert [(a["name"], a["status"], a["has_recording"]) for a in shop] == [
        ("shop_get_first_order", "ok", True),
        ("shop_get_first_order", "ok", True),
        ("shop_get_orders", "ok", True),
        ("shop_get_orders", "ok", True),
    ], "one persistent context, four tool calls, four recordings"
    code, text = run_cli("sql", "SELECT count(DISTINCT recording_id) AS n FROM recording_chunks", "--db", str(demo_db))
    assert code == 0 and text.splitlines()[2] == "4"
    assert DEMO_PASSWORD.encode() not in demo_db.read_bytes()


def test_sql_formats(demo_db: Path) -> None:
    code, text = run_cli(
        "sql",
        "SELECT name, brand_id FROM activities WHERE name='login' LIMIT 1",
        "--db",
        str(demo_db),
        "--format",
        "json",
    )
    assert code == 0 and json.loads(text) == [{"name": "login", "brand_id": "netflix"}]
    code, text = run_cli("sql", "SELECT count(*) AS n FROM activities", "--db", str(demo_db), "--format", "csv")
    assert code == 0 and text.splitlines() == ["n", "16"], "5 tools and a nested login, twice; 4 shop calls"
    code, text = run_cli("sql", "SELECT * FROM activities ORDER BY start_time DESC LIMIT 10", "--db", str(demo_db))
    assert code == 0 and "(10 rows)" in text and "has_recording" in text


def test_env_var_finds_the_database(demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GETGATHER_OTEL_DUCKDB", str(demo_db))
    code, text = run_cli("activities", "--brand", "goodreads", "--errors", "--format", "json")
    assert code == 0
    found = json.loads(text)
    assert len(found) == 4 and {a["status"] for a in found} == {"error"}


def test_activities_filters_and_stats(demo_db: Path) -> None:
    code, text = run_cli("activities", "--db", str(demo_db), "--name", "login", "--since", "1h", "--format", "json")
    assert code == 0 and [a["kind"] for a in json.loads(text)] == ["auth", "auth"]
    code, text = run_cli("activities", "--db", str(demo_db), "--since", "2099-01-01", "--format", "json")
    assert code == 0 and json.loads(text) == []
    code, text = run_cli("stats", "--db", str(demo_db), "--format", "json")
    assert code == 0
    stats = json.loads(text)
    goodreads = next(r for r in stats["by brand"] if r["brand_id"] == "goodreads")
    assert goodreads["activities"] == 4 and goodreads["error_rate_pct"] == 100.0
    assert goodreads["p50_ms"] <= goodreads["p95_ms"] <= goodreads["p99_ms"]
    assert {r["error_type"] for r in stats["errors"]} == {"TimeoutError", "tool_error"}


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM otel_traces",
        "CREATE TABLE x (a INT)",
        "COPY otel_traces TO '/tmp/gg-leak.csv'",
        "ATTACH '/tmp/other.duckdb' AS other",
    ],
)
def test_sql_is_read_only(demo_db: Path, statement: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run_cli("sql", statement, "--db", str(demo_db))
    assert code == 2
    assert "getgather-otel:" in capsys.readouterr().err
    assert not Path("/tmp/gg-leak.csv").exists()
    code, text = run_cli("sql", "SELECT count(*) AS n FROM otel_traces", "--db", str(demo_db), "--format", "csv")
    assert code == 0 and int(text.splitlines()[1]) > 0


def test_clear_errors_never_tracebacks(tmp_path: Path, demo_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("activities", "--db", str(tmp_path / "nope.duckdb"))[0] == 2
    assert "no getgather-otel database at" in capsys.readouterr().err
    assert run_cli("activities", "--db", str(demo_db), "--since", "yesterday")[0] == 2
    assert "cannot read --since" in capsys.readouterr().err
    corrupt = tmp_path / "corrupt.duckdb"
    corrupt.write_bytes(b"garbage" * 500)
    assert run_cli("stats", "--db", str(corrupt))[0] == 2
    assert "not a readable DuckDB database" in capsys.readouterr().err
    with lock_held_by_other_process(demo_db) as holder:
        assert run_cli("activities", "--db", str(demo_db), "--wait", "0.3")[0] == 2
    err = capsys.readouterr().err
    assert f"process {holder.pid}" in err and "Traceback" not in err


def test_reads_work_while_an_instrumented_process_writes(tmp_path: Path) -> None:
    db = tmp_path / "live.duckdb"
    writer = subprocess.Popen(
        [sys.executable, str(HELPERS / "emit_until_sigterm.py"), str(db)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        counts = []
        for _ in range(8):
            code, text = run_cli("sql", "SELECT count(*) AS n FROM activities", "--db", str(db), "--format", "csv")
            assert code == 0
            counts.append(int(text.splitlines()[1]))
            code, text = run_cli("stats", "--db", str(db), "--format", "json")
            assert code == 0 and json.loads(text)["by brand"][0]["brand_id"] == "netflix"
            time.sleep(0.05)
        assert counts == sorted(counts) and counts[-1] > counts[0], "reads see the writer's progress"
    finally:
        writer.send_signal(signal.SIGTERM)
        writer.wait(timeout=30)


def _cli_process(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it: its own process, exit code and stderr."""
    return subprocess.run(
        [sys.executable, "-m", "getgather_otel.cli", *argv], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def _one_line_error(done: subprocess.CompletedProcess[str], says: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and says in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


READ_COMMANDS = (
    ("activities",),
    ("stats",),
    ("scan", "--pattern", "card"),
    ("replay", "latest", "-o", "replay-out.html"),
)


def test_a_truncated_file_is_one_clear_error_and_left_as_it_is(demo_db: Path, tmp_path: Path) -> None:
    """DuckDB opens a file cut short and fails at the first read of a missing block: that read
    (inside any command, not only the open) is reported as the file's damage, never a traceback."""
    truncated = tmp_path / "truncated.duckdb"
    truncated.write_bytes(demo_db.read_bytes()[:300_000])
    before = truncated.read_bytes()
    for command in READ_COMMANDS:
        done = _cli_process(*command, "--db", str(truncated), cwd=tmp_path)
        _one_line_error(done, "is not a readable DuckDB database")
    assert truncated.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["truncated.duckdb"], "no .lock, .wal or replay"


def test_reading_commands_leave_a_foreign_duckdb_file_alone(tmp_path: Path) -> None:
    """A DuckDB file without our schema is someone else's: refused, not given our tables or a .lock."""
    foreign = tmp_path / "analytics.duckdb"
    with duckdb.connect(str(foreign)) as conn:
        conn.execute("CREATE TABLE orders AS SELECT range AS id FROM range(3)")
    before = foreign.read_bytes()
    for command in (*READ_COMMANDS, ("sql", "SELECT count(*) FROM orders")):
        done = _cli_process(*command, "--db", str(foreign), cwd=tmp_path)
        _one_line_error(done, "without getgather-otel's tables")
    assert foreign.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["analytics.duckdb"]
    with duckdb.connect(str(foreign), read_only=True) as conn:
        assert conn.execute("SELECT table_name FROM information_schema.tables").fetchall() == [("orders",)]


def test_bad_arguments_are_usage_errors(demo_db: Path) -> None:
    for argv in (["--limit", "-5"], ["--limit", "0"], ["--limit", "x"]):
        done = _cli_process("activities", "--db", str(demo_db), *argv)
        assert done.returncode == 2 and "argument --limit" in done.stderr and "Traceback" not in done.stderr
    done = _cli_process("sql", "SELECT 1", "--db", str(demo_db), "--max-rows", "0")
    assert done.returncode == 2 and "argument --max-rows" in done.stderr
    done = _cli_process("activities", "--db", str(demo_db), "--wait", "-1")
    assert done.returncode == 2 and "argument --wait" in done.stderr


def test_an_unknown_failure_class_lists_the_classes(
    demo_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli("activities", "--db", str(demo_db), "--failure-class", "bogus")[0] == 2
    err = capsys.readouterr().err
    assert "no failure class 'bogus'" in err and "bot_challenge" in err and "tool_error" in err
    code, text = run_cli("activities", "--db", str(demo_db), "--failure-class", "bot_challenge", "--format", "json")
    assert code == 0 and json.loads(text) == [], "a rule's class with no activities is an empty answer"
    # A class of the user's own classifier is known by being stored.
    db = tmp_path / "classified.duckdb"
    db.write_bytes(demo_db.read_bytes())
    with duckdb.connect(str(db)) as conn:
        conn.execute(
            """UPDATE otel_traces SET "SpanAttributes" = map_concat("SpanAttributes",
                   MAP {'getgather.failure.class': 'captcha_wall'})
               WHERE "SpanAttributes"['getgather.failure.class'] = 'tool_error'"""
        )
    code, text = run_cli("activities", "--db", str(db), "--failure-class", "captcha_wall", "--format", "json")
    assert code == 0 and {a["failure_class"] for a in json.loads(text)} == {"captcha_wall"}
    assert run_cli("activities", "--db", str(db), "--failure-class", "captcha_wal")[0] == 2
    assert "also has: captcha_wall" in capsys.readouterr().err


def test_sql_prints_at_most_max_rows(demo_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, text = run_cli("sql", "SELECT range AS n FROM range(25000)", "--db", str(demo_db), "--format", "csv")
    assert code == 0 and text.splitlines() == ["n", *map(str, range(10_000))], "10,000 rows by default"
    assert "showed the first 10,000 rows" in capsys.readouterr().err
    code, text = run_cli("sql", "SELECT range AS n FROM range(25000)", "--db", str(demo_db), "--max-rows", "3")
    assert code == 0 and "(3 rows)" in text and "--max-rows" in capsys.readouterr().err
    code, text = run_cli("sql", "SELECT range AS n FROM range(3)", "--db", str(demo_db), "--max-rows", "3")
    assert code == 0 and "(3 rows)" in text and capsys.readouterr().err == "", "no note when all rows fit"


def test_prune_waits_as_long_as_it_is_told(demo_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--wait` was raised to 30 s for prune (and each of its two waits, for <db>.lock and for
    DuckDB's lock, had the whole budget): `prune --wait 1` behind a held file took ~31 s."""
    db = tmp_path / "held.duckdb"
    db.write_bytes(demo_db.read_bytes())
    with lock_held_by_other_process(db) as holder:
        started = time.monotonic()
        assert run_cli("prune", "--db", str(db), "--wait", "1")[0] == 2
        elapsed = time.monotonic() - started
    assert f"process {holder.pid}" in capsys.readouterr().err
    assert 1.0 <= elapsed < 10.0, elapsed


def test_sql_takes_exactly_one_statement(demo_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An empty query was an AttributeError traceback; several ran one after the other and printed
    only the last. Both are refused as `POST /api/sql` refuses them (its own check, `one_statement`)."""
    for empty in ("", "   "):
        assert run_cli("sql", empty, "--db", str(demo_db)) == (2, "")
        assert "the query is empty" in capsys.readouterr().err
    assert run_cli("sql", "SELECT 1; SELECT 2", "--db", str(demo_db)) == (2, "")
    assert "send exactly one statement, not 2" in capsys.readouterr().err
    assert run_cli("sql", "-- only a comment", "--db", str(demo_db)) == (2, "")
    assert "not 0" in capsys.readouterr().err
    code, text = run_cli("sql", "SELECT 1 AS n;", "--db", str(demo_db), "--format", "csv")
    assert code == 0 and text.splitlines() == ["n", "1"], "one statement and its semicolon"


def test_export_to_a_file_is_refused_and_a_new_directory_is_made(
    demo_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`export --to` an existing file was a NotADirectoryError traceback. A directory that does not
    exist yet is made (parents too): `--to` names a new lake directory."""
    target = tmp_path / "demo.log"
    target.write_text("a log\n")
    assert run_cli("export", "--db", str(demo_db), "--to", str(target)) == (2, "")
    assert "is a file, not a directory" in capsys.readouterr().err
    assert target.read_text() == "a log\n"
    lake = tmp_path / "new" / "lake"
    code, text = run_cli("export", "--db", str(demo_db), "--to", str(lake))
    assert code == 0 and "exported to" in text and (lake / "manifest.json").is_file()


def test_ports_are_checked_as_arguments(demo_db: Path) -> None:
    """`ui --port 99999` was an OverflowError traceback from bind(); every port flag takes 0-65535
    (`collect --grpc-port` also -1, no gRPC)."""
    done = _cli_process("ui", "--db", str(demo_db), "--port", "99999")
    assert done.returncode == 2 and "argument --port: 99999 is not a port" in done.stderr
    assert "Traceback" not in done.stderr
    parser = build_parser()
    for argv in (
        ["ui", "--port", "-1"],
        ["ui", "--replay-port", "65536"],
        ["collect", "--port", "x"],
        ["collect", "--grpc-port", "70000"],
        ["collect", "--grpc-port", "-2"],
        ["collect", "--replay-port", "99999"],
    ):
        with pytest.raises(SystemExit) as exit_:
            parser.parse_args(argv)
        assert exit_.value.code == 2, argv
    args = parser.parse_args(["collect", "--grpc-port", "-1", "--port", "0", "--replay-port", "65535"])
    assert (args.grpc_port, args.port, args.replay_port) == (-1, 0, 65535)


def test_two_servers_on_one_port_is_a_usage_error(demo_db: Path, tmp_path: Path) -> None:
    """`collect --port P --grpc-port P` started the HTTP server and then failed gRPC's bind with a
    traceback (exit 3); `ui --port P --replay-port P` likewise. Now refused before anything starts."""
    (port,) = free_ports(1)
    fleet = tmp_path / "fleet.duckdb"
    done = _cli_process("collect", "--db", str(fleet), "--port", str(port), "--grpc-port", str(port))
    _one_line_error(done, f"--port and --grpc-port are both {port}")
    done = _cli_process("collect", "--db", str(fleet), "--port", str(port), "--replay-port", str(port))
    _one_line_error(done, f"--port and --replay-port are both {port}")
    assert not fleet.exists()
    done = _cli_process("ui", "--db", str(demo_db), "--port", str(port), "--replay-port", str(port))
    _one_line_error(done, f"--port and --replay-port are both {port}")


def test_replay_to_standard_output(
    demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`replay -o -` wrote a file named `-`; `-` is standard output, the note goes to stderr."""
    monkeypatch.chdir(tmp_path)
    code, text = run_cli("replay", "latest", "-o", "-", "--db", str(demo_db))
    assert code == 0 and text.startswith("<!doctype html>") and text.rstrip().endswith("</html>")
    assert "wrote the replay page to standard output" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    assert "- for standard output" in " ".join(_cli_process("replay", "--help").stdout.split())


def test_reading_a_file_that_is_not_duckdb_promises_no_new_file(tmp_path: Path) -> None:
    """Reading commands never create a database: their message for a damaged or foreign file said
    "a fresh file will be created" (the writer's wording)."""
    log = tmp_path / "demo.log"
    log.write_text("not a database\n" * 100)
    for command in (*READ_COMMANDS, ("sql", "SELECT 1"), ("export", "--to", "lake")):
        done = _cli_process(*command, "--db", str(log), cwd=tmp_path)
        _one_line_error(done, "is not a readable DuckDB database")
        assert "fresh file" not in done.stderr and "left as it is" in done.stderr, done.stderr
    assert log.read_text() == "not a database\n" * 100
    assert list(tmp_path.iterdir()) == [log], "no .lock, no replay, no export directory"


def damaged_copy(demo_db: Path, tmp_path: Path) -> tuple[Path, str, str, int]:
    """A copy of the demo's file whose latest recording has one more chunk, stored damaged (its
    body not zstd, as an older collector or a disk fault could leave it): (file, activity, page,
    sequence)."""
    db = tmp_path / "damaged.duckdb"
    db.write_bytes(demo_db.read_bytes())
    with duckdb.connect(str(db)) as conn:
        row = conn.execute(
            "SELECT span_id, page_id, sequence FROM recording_chunks ORDER BY last_event_time DESC LIMIT 1"
        ).fetchone()
        assert row is not None
        activity, page, sequence = row
        conn.execute(
            "INSERT INTO recording_chunks SELECT * REPLACE (sequence + 1 AS sequence, 'not zstd'::BLOB AS data) "
            "FROM recording_chunks WHERE span_id = ? AND page_id = ? AND sequence = ?",
            [activity, page, sequence],
        )
    return db, activity, page, sequence + 1


def test_a_damaged_chunk_is_skipped_by_replay_and_named_by_the_other_readers(demo_db: Path, tmp_path: Path) -> None:
    """One chunk that is not zstd broke `replay` (its activity's and `latest`), `scan` of the whole
    file and `rrweb_recordings` with a ZstdError traceback (scan's exit 1 read as "found")."""
    db, activity, page, sequence = damaged_copy(demo_db, tmp_path)
    named = f"chunk {sequence} of page {page} is damaged: its data is not zstd-compressed"
    for which in (activity, "latest"):
        done = _cli_process("replay", which, "-o", "replay.html", "--db", str(db), cwd=tmp_path)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        assert f"getgather-otel: skipped {named}" in done.stderr and "wrote replay.html" in done.stdout
        assert "rrwebPlayer" in (tmp_path / "replay.html").read_text()
    done = _cli_process("scan", "--secret", DEMO_PASSWORD, "--pattern", "card", "--db", str(db))
    _one_line_error(done, f"1 recording chunk(s) in {db} could not be read, so the scan is incomplete")
    assert f"page={page} sequence={sequence}: its data is not zstd-compressed" in done.stderr
    assert "nothing found" not in done.stdout
    events = "SELECT activity_id, length(events_json) FROM rrweb_recordings"
    _one_line_error(_cli_process("sql", events, "--db", str(db)), f"events_json of activity {activity}: {named}")
    others = _cli_process("sql", f"{events} WHERE activity_id != '{activity}'", "--db", str(db), "--format", "json")
    assert others.returncode == 0 and len(json.loads(others.stdout)) >= 1, others.stderr


def test_counts_and_times_out_of_range_are_one_sentence(demo_db: Path, tmp_path: Path) -> None:
    """`--limit` past a BIGINT ended in DuckDB's ConversionException, `--since 99999999999d` in
    timedelta's OverflowError (activities, stats, export)."""
    done = _cli_process("activities", "--db", str(demo_db), "--limit", "99999999999999999999999")
    assert done.returncode == 2 and "argument --limit" in done.stderr and "largest count" in done.stderr
    assert "Traceback" not in done.stderr
    for command in (("activities", "--since", "99999999999d"), ("stats", "--since", "1000000d")):
        _one_line_error(_cli_process(*command, "--db", str(demo_db)), "that is before year 1")
    done = _cli_process("export", "--db", str(demo_db), "--to", "lake", "--since", "99999999999d", cwd=tmp_path)
    _one_line_error(done, "that is before year 1")
    assert list(tmp_path.iterdir()) == []


def test_a_reader_that_closes_the_pipe_ends_the_command_quietly(demo_db: Path) -> None:
    """`sql ... | head -1` printed a BrokenPipeError traceback; a Unix tool stops quietly (Python's
    "Note on SIGPIPE"), with the status a shell gives one that SIGPIPE ended (never scan's 1)."""
    command = [sys.executable, "-m", "getgather_otel.cli", "sql", "SELECT * FROM range(200000)"]
    with subprocess.Popen(
        [*command, "--db", str(demo_db), "--max-rows", "200000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.readline().strip() == "range"
        process.stdout.close()
        error = process.stderr.read()
        assert process.wait(timeout=60) == 128 + signal.SIGPIPE, error
    assert error == "", error


def test_an_empty_secret_or_token_is_an_error_not_an_all_clear_or_an_open_door(
    tmp_path: Path, demo_db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A newcomer's break: `scan --secret "$PASSWORD"` with the variable unset said "nothing found"
    # (exit 0), and `collect --token "$TOKEN"` with it unset ran without authentication.
    assert run_cli("scan", "--db", str(demo_db), "--secret", "")[0] == 2
    assert "a --secret is empty" in capsys.readouterr().err
    assert run_cli("collect", "--db", str(tmp_path / "c.duckdb"), "--port", "0", "--token", " ")[0] == 2
    assert "--token is empty" in capsys.readouterr().err
    monkeypatch.setenv("GETGATHER_OTEL_COLLECT_TOKEN", "")
    assert run_cli("collect", "--db", str(tmp_path / "c.duckdb"), "--port", "0")[0] == 2
    assert "$GETGATHER_OTEL_COLLECT_TOKEN is set but empty" in capsys.readouterr().err
    assert not (tmp_path / "c.duckdb").exists(), "refused before anything was opened"


def test_the_demos_hints_name_the_command_as_it_runs_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A newcomer's break: after the README's set-up nothing is on PATH, and the demo's closing
    # hints said `getgather-otel sql ...`, which did not run.
    from getgather_otel.cli import _command

    started = tmp_path / ".venv" / "bin" / "getgather-otel"
    monkeypatch.setattr(sys, "argv", [str(started), "demo"])
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    monkeypatch.chdir(tmp_path)
    assert _command() == os.path.join(".venv", "bin", "getgather-otel")
    started.parent.mkdir(parents=True)
    started.write_text("#!/bin/sh\n")
    started.chmod(0o755)
    monkeypatch.setenv("PATH", str(started.parent))
    assert _command() == "getgather-otel", "the one on PATH is the one that runs"


def test_collect_refuses_a_body_limit_below_one_and_says_an_ipv6_address_as_a_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A newcomer's break: `--max-body-bytes 0` was taken and every request then got 413 "larger
    # than 0 bytes"; `--host ::1` printed `http://::1:PORT/`, which no browser opens.
    with pytest.raises(SystemExit) as usage:  # argparse's own usage error
        run_cli("collect", "--db", str(tmp_path / "c.duckdb"), "--max-body-bytes", "0")
    assert usage.value.code == 2 and "not a count of 1 or more" in capsys.readouterr().err
    from getgather_otel.cli import _url_host

    assert _url_host("::1") == "[::1]" and _url_host("127.0.0.1") == "127.0.0.1" and _url_host("[::1]") == "[::1]"


def test_a_named_pipe_is_not_a_database_to_readers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "pipe.duckdb"
    os.mkfifo(fifo)
    assert run_cli("activities", "--db", str(fifo))[0] == 2
    assert "is not a regular file" in capsys.readouterr().err
