"""Retention on a file holding synthetic months: prune to the policy, give the space back, lose nothing new."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from bench.synthetic import insert_activity_spans, insert_recordings
from getgather_otel.cli import main as cli_main
from getgather_otel.export.pipeline import Telemetry
from getgather_otel.store.maintenance.prune import prune_file
from getgather_otel.store.maintenance.retention import RetentionPolicy, parse_size
from getgather_otel.store.schema import migrate
from getgather_otel.store.tables import METRIC_TABLES
from tests.conftest import rows

DAYS = 120
ACTIVITIES = 12_000  # 100 a day
STEP_S = DAYS * 86_400 / ACTIVITIES
CHUNK = 40_000
NOW = datetime.now(UTC).replace(tzinfo=None)
START = NOW - timedelta(days=DAYS)
POLICY = RetentionPolicy(span_days=90, recording_days=14, error_recording_days=60, max_recording_bytes=None)


@pytest.fixture
def months(tmp_path: Path) -> Path:
    """120 days of activities (100 a day, every 17th failed) and a 40 KB recording for every 20th."""
    db = tmp_path / "months.duckdb"
    conn = duckdb.connect(str(db))
    migrate(conn)
    insert_activity_spans(conn, ACTIVITIES, start=START, step_s=STEP_S)
    insert_recordings(conn, ACTIVITIES, start=START, step_s=STEP_S, every=20, chunk_bytes=CHUNK)
    conn.close()
    return db


def counts(db: Path) -> dict[str, int]:
    [found] = rows(
        db,
        "SELECT (SELECT count(*) FROM otel_traces) AS spans, (SELECT count(*) FROM recordings) AS recordings, "
        "(SELECT count(*) FROM activities WHERE recording_pruned IS NOT NULL) AS noted",
    )
    return found


def test_prune_keeps_what_the_policy_says_and_gives_the_space_back(months: Path) -> None:
    size_before = months.stat().st_size
    result = prune_file(months, POLICY, wait_s=5)

    # Measured from prune's own clock (the plan's now and cutoff): NOW is taken when this module is
    # imported, and a full run on a busy machine reached this test 15-30 minutes later, past one or
    # two more activity steps (14.4 minutes each).
    now = result.plan.now
    span_cutoff = result.plan.span_cutoff
    assert span_cutoff is not None
    [oldest] = rows(months, 'SELECT min("Timestamp") AS t FROM otel_traces')
    assert oldest["t"] >= span_cutoff - timedelta(minutes=5)
    expected_spans = sum(1 for i in range(ACTIVITIES) if START + timedelta(seconds=i * STEP_S) < span_cutoff)
    assert abs(result.plan.spans - expected_spans) <= 1

    kept = rows(
        months,
        "SELECT r.end_time, a.status FROM recordings AS r JOIN activities AS a ON a.activity_id = r.activity_id",
    )
    assert kept, "recent recordings stay"
    for recording in kept:
        age = now - recording["end_time"]
        assert age <= timedelta(days=60, minutes=5)
        if recording["status"] == "ok":
            assert age <= timedelta(days=14, minutes=5), "ok activities' recordings go after 14 days"
    assert any(now - r["end_time"] > timedelta(days=14) for r in kept if r["status"] == "error"), (
        "failed activities' recordings are kept longer"
    )
    pruned = rows(
        months,
        "SELECT has_recording, recording_pruned FROM activities WHERE recording_pruned IS NOT NULL LIMIT 5",
    )
    assert pruned and all(not p["has_recording"] and p["recording_pruned"].startswith("age") for p in pruned)

    assert result.compaction is not None
    assert months.stat().st_size < size_before * 0.5, "the file really shrinks"
    assert result.compaction.bytes_after == months.stat().st_size


def test_size_cap_removes_oldest_recordings_first(months: Path) -> None:
    cap = 20 * CHUNK
    prune_file(
        months,
        RetentionPolicy(span_days=None, recording_days=None, error_recording_days=None, max_recording_bytes=cap),
        wait_s=5,
    )
    kept = rows(months, "SELECT start_time, stored_bytes FROM recordings ORDER BY start_time")
    assert sum(r["stored_bytes"] for r in kept) <= cap and len(kept) == 20
    [newest_pruned] = rows(
        months,
        "SELECT max(a.start_time) AS t FROM activities a WHERE recording_pruned = 'size cap'",
    )
    assert newest_pruned["t"] < kept[0]["start_time"], "oldest first"


def test_dry_run_changes_nothing(months: Path) -> None:
    before, data = counts(months), months.read_bytes()
    out = io.StringIO()
    assert cli_main(["prune", "--dry-run", "--db", str(months), "--recordings-days", "7"], out=out) == 0
    assert "would remove" in out.getvalue() and "dry run" in out.getvalue()
    assert counts(months) == before and months.read_bytes() == data


def test_cli_prune_prints_progress_and_summary(months: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GETGATHER_OTEL_RETAIN_SPANS_DAYS", "30")
    monkeypatch.setenv("GETGATHER_OTEL_RETAIN_RECORDINGS_MAX_BYTES", "none")
    out = io.StringIO()
    assert cli_main(["prune", "--db", str(months)], out=out) == 0
    text = out.getvalue()
    assert "span_days=30.0" in text and "max_recording_bytes=None" in text
    assert "removing" in text and "MB ->" in text and "pruned in" in text
    [oldest] = rows(months, 'SELECT min("Timestamp") AS t FROM otel_traces')
    assert oldest["t"] >= NOW - timedelta(days=30, minutes=5)


def test_bad_retention_settings_are_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_size("500MB") == 500_000_000 and parse_size("2GiB") == 2 * 1024**3
    monkeypatch.setenv("GETGATHER_OTEL_RETAIN_RECORDINGS_MAX_BYTES", "lots")
    with pytest.raises(ValueError, match="GETGATHER_OTEL_RETAIN_RECORDINGS_MAX_BYTES='lots'"):
        RetentionPolicy.from_env()  # `prune` refuses it; configure() warns and keeps the default
    assert RetentionPolicy.from_env(lenient=True).max_recording_bytes == RetentionPolicy().max_recording_bytes
    with pytest.raises(ValueError, match="span_days must be between 0 and"):
        RetentionPolicy(span_days=-1)
    # Values that parse but put the cutoff outside datetime's range (or are no number at all).
    for value in ("1000000", "inf", "1e400", "nan", "-5"):
        monkeypatch.setenv("GETGATHER_OTEL_RETAIN_SPANS_DAYS", value)
        with pytest.raises(ValueError, match=f"GETGATHER_OTEL_RETAIN_SPANS_DAYS='{value}'"):
            RetentionPolicy.from_env()


def test_prune_while_spans_are_written_loses_none_of_them(months: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A live server keeps exporting while another process prunes and compacts the same file."""
    import getgather_otel
    from getgather_otel import activity

    telemetry: Telemetry = getgather_otel.configure(service_name="live", duckdb_path=months, record_browsers=False)
    written: list[str] = []
    stop = threading.Event()

    def keep_writing() -> None:
        while not stop.is_set():
            with activity(name="live_tool", brand_id="live") as act:
                pass
            written.append(act.activity_id)
            time.sleep(0.002)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        time.sleep(0.5)
        telemetry.flush()
        out = io.StringIO()
        assert cli_main(["prune", "--db", str(months), "--spans-days", "30"], out=out) == 0
        assert "MB ->" in out.getvalue(), "the file was rewritten while the server wrote to it"
        time.sleep(0.5)
    finally:
        stop.set()
        writer.join()
        telemetry.flush()
        telemetry.shutdown()
    stored = {r["activity_id"] for r in rows(months, "SELECT activity_id FROM activities WHERE brand_id = 'live'")}
    assert len(written) > 100 and set(written) <= stored, f"{len(set(written) - stored)} new spans lost"


def test_background_retention_in_the_writing_process(months: Path) -> None:
    """configure(retention=...) prunes the file it writes, on a timer, while spans keep coming."""
    import getgather_otel
    from getgather_otel import activity

    policy = RetentionPolicy(span_days=30, recording_days=7, error_recording_days=7, max_recording_bytes=None)
    telemetry = getgather_otel.configure(
        service_name="live", duckdb_path=months, record_browsers=False, retention=policy, retention_interval_s=0.5
    )
    ids = []
    try:
        job = telemetry.store.retention_job if telemetry.store else None
        assert job is not None
        deadline = time.monotonic() + 30
        while job.runs == 0:
            with activity(name="live_tool", brand_id="live") as act:
                pass
            ids.append(act.activity_id)
            assert time.monotonic() < deadline, f"retention never ran: {job.last_error}"
            time.sleep(0.01)
        assert job.last_result is not None and job.last_result.compaction is not None
        assert job.last_result.plan.spans > 0
    finally:
        telemetry.flush()
        telemetry.shutdown()
    [oldest] = rows(months, 'SELECT min("Timestamp") AS t FROM otel_traces')
    assert oldest["t"] >= NOW - timedelta(days=30, minutes=5)
    stored = {r["activity_id"] for r in rows(months, "SELECT activity_id FROM activities WHERE brand_id = 'live'")}
    assert set(ids) <= stored


def test_retention_off_keeps_everything(months: Path) -> None:
    import getgather_otel

    telemetry = getgather_otel.configure(duckdb_path=months, record_browsers=False, retention=False)
    try:
        assert telemetry.store is not None and telemetry.store.retention_job is None
    finally:
        telemetry.shutdown()


def table_rows(db: Path, table: str) -> list[tuple[object, ...]]:
    conn = duckdb.connect(str(db), read_only=True)
    try:
        return sorted(conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
    finally:
        conn.close()


_COMMON_COLUMNS = (
    '"ResourceAttributes", "ServiceName", "ScopeName", "ScopeVersion", "MetricName", "MetricDescription", '
    '"MetricUnit", "Attributes", "StartTimeUnix", "TimeUnix"'
)


def add_metric_points(db: Path) -> None:
    """A day's worth of each metric point type, as `collect` stores them."""
    conn = duckdb.connect(str(db))
    common = """MAP {'service.name': 'getgather'}, 'getgather', 'getgather_otel', '0.1.0', ?, '', 'ms',
                MAP {'getgather.brand.id': 'netflix'}, ?::TIMESTAMP - INTERVAL 1 MINUTE, ?::TIMESTAMP"""
    histogram = '"Count", "Sum", "BucketCounts", "ExplicitBounds", "Flags", "Min", "Max", "AggregationTemporality"'
    for hour in range(24):
        moment = NOW - timedelta(hours=hour)
        conn.execute(
            f"INSERT INTO otel_metrics_histogram ({_COMMON_COLUMNS}, {histogram}) "
            f"VALUES ({common}, 4, 812.5, [1, 2, 1], [100.0, 500.0], 0, 90, 410, 2)",
            ["getgather.activity.duration", moment, moment],
        )
        conn.execute(
            f'INSERT INTO otel_metrics_sum ({_COMMON_COLUMNS}, "Value", "Flags", "AggregationTemporality", '
            f'"IsMonotonic") VALUES ({common}, ?, 0, 1, true)',
            ["calls", moment, moment, hour],
        )
        conn.execute(
            f'INSERT INTO otel_metrics_gauge ({_COMMON_COLUMNS}, "Value", "Flags") VALUES ({common}, 3, 0)',
            ["browser.pages.open", moment, moment],
        )
    conn.close()


def test_export_then_import_round_trips_exactly(months: Path, tmp_path: Path) -> None:
    prune_file(months, POLICY, wait_s=5)  # so recording_prunes has rows too
    add_metric_points(months)
    export_dir = tmp_path / "export"
    out = io.StringIO()
    assert cli_main(["export", "--db", str(months), "--to", str(export_dir)], out=out) == 0
    assert "exported to" in out.getvalue() and "rows" in out.getvalue()
    days = sorted(p.name for p in (export_dir / "spans").iterdir())
    assert len(days) >= 90 and days[0].startswith("date="), "partitioned by day, hive style"

    moved = tmp_path / "other-machine.duckdb"
    assert cli_main(["import", str(export_dir), "--db", str(moved)], out=io.StringIO()) == 0
    for table in ("otel_traces", "recording_chunks", "recording_prunes", *METRIC_TABLES):
        assert table_rows(moved, table) == table_rows(months, table), f"{table} round-trips exactly"
    assert len(table_rows(moved, "otel_metrics_histogram")) == 24
    assert rows(moved, "SELECT count(*) AS n FROM activities WHERE recording_pruned IS NOT NULL")[0]["n"] > 0

    out = io.StringIO()
    assert cli_main(["import", str(export_dir), "--db", str(moved)], out=out) == 0
    assert "imported into" in out.getvalue() and " 0 rows" in out.getvalue(), "a second import adds nothing"
    for table in ("otel_traces", "recording_chunks", *METRIC_TABLES):
        assert table_rows(moved, table) == table_rows(months, table), f"{table}: nothing added twice"


def test_export_window_and_other_engines_read_it(months: Path, tmp_path: Path) -> None:
    chdb = pytest.importorskip("chdb")
    export_dir = tmp_path / "last-week"
    assert cli_main(["export", "--db", str(months), "--since", "7d", "--to", str(export_dir)], out=io.StringIO()) == 0
    [expected] = rows(
        months,
        """SELECT count(*) AS n, sum("Duration") AS total FROM otel_traces
           WHERE "Timestamp" >= now()::TIMESTAMP - INTERVAL 7 DAY""",
    )
    files = str(export_dir / "spans" / "*" / "*.parquet")
    conn = duckdb.connect()
    assert conn.execute(f"SELECT count(*), sum(\"Duration\") FROM read_parquet('{files}')").fetchone() == (
        expected["n"],
        expected["total"],
    )
    result = chdb.query(
        f"SELECT count(), sum(Duration), countIf(SpanAttributes['getgather.brand.id'] = 'netflix') "
        f"FROM file('{files}', Parquet)",
        "CSV",
    )
    count, total, netflix = (int(v) for v in str(result).strip().split(","))
    assert (count, total) == (expected["n"], expected["total"])
    assert 0 < netflix < count


def test_export_and_import_refuse_bad_input(months: Path, tmp_path: Path) -> None:
    err = io.StringIO()
    nonempty = tmp_path / "full"
    nonempty.mkdir()
    (nonempty / "x").write_text("x")
    assert cli_main(["export", "--db", str(months), "--to", str(nonempty)], out=err) == 2
    assert cli_main(["import", str(tmp_path / "nowhere"), "--db", str(tmp_path / "n.duckdb")], out=err) == 2
    corrupt = tmp_path / "corrupt-export"
    (corrupt / "spans" / "date=2026-01-01").mkdir(parents=True)
    (corrupt / "manifest.json").write_text('{"schema_version": 3}')
    (corrupt / "spans" / "date=2026-01-01" / "data_0.parquet").write_bytes(b"not parquet at all")
    target = tmp_path / "target.duckdb"
    assert cli_main(["import", str(corrupt), "--db", str(target)], out=err) == 2
    assert rows(target, "SELECT count(*) AS n FROM otel_traces")[0]["n"] == 0, "nothing half-imported"


LIVE_WRITER = """
import sys, time
import getgather_otel
from getgather_otel import activity
telemetry = getgather_otel.configure(
    service_name="live", duckdb_path=sys.argv[1], record_browsers=False, retention=False
)
deadline = time.monotonic() + float(sys.argv[2])
n = 0
while time.monotonic() < deadline:
    with activity(name="live_tool", brand_id="live", seq=n):
        pass
    n += 1
    time.sleep(0.002)
telemetry.shutdown()
print(n)
"""


def test_prune_from_another_process_while_a_server_writes(months: Path) -> None:
    """The server and `getgather-otel prune` are separate processes: the swap must not lose a batch."""
    import subprocess
    import sys

    server = subprocess.Popen(
        [sys.executable, "-c", LIVE_WRITER, str(months), "4"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    time.sleep(1.0)
    pruner = subprocess.run(
        [sys.executable, "-m", "getgather_otel.cli", "prune", "--db", str(months), "--spans-days", "30"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    out, err = server.communicate(timeout=60)
    assert pruner.returncode == 0, pruner.stderr
    assert "MB ->" in pruner.stdout, "the file was rewritten while the server wrote"
    assert server.returncode == 0, err
    written = int(out.strip())
    [stored] = rows(
        months,
        "SELECT count(*) AS n, count(DISTINCT attributes['seq']) AS distinct_seq "
        "FROM activities WHERE brand_id = 'live'",
    )
    assert written > 200 and stored["n"] == written and stored["distinct_seq"] == written


def test_prune_refuses_a_file_readers_refuse_and_changes_nothing(demo_db: Path, tmp_path: Path) -> None:
    """`prune` on someone else's DuckDB file with an `otel_traces` table failed with a
    BinderException after giving the file our schema table; on a truncated file it was a raw
    IOException traceback. Both are refused as readers (and `prune --dry-run`) refuse them."""
    foreign = tmp_path / "analytics.duckdb"
    with duckdb.connect(str(foreign)) as conn:
        conn.execute("CREATE TABLE otel_traces AS SELECT 42 AS x")
    truncated = tmp_path / "truncated.duckdb"
    truncated.write_bytes(demo_db.read_bytes()[:300_000])
    before = {path: path.read_bytes() for path in (foreign, truncated)}
    for db, says in ((foreign, "without getgather-otel's tables"), (truncated, "is not a readable DuckDB database")):
        done = subprocess.run(
            [sys.executable, "-m", "getgather_otel.cli", "prune", "--db", str(db)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 2 and says in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert {path: path.read_bytes() for path in before} == before
    # Someone else's file is refused before `<db>.lock` is made; a truncated one reads as ours
    # until a missing block, with the lock held (as `prune` holds it), and is left as it was.
    assert not (tmp_path / "analytics.duckdb.lock").exists()
