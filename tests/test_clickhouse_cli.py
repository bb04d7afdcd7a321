"""`activities`, `stats`, `sql` and `replay` with `--clickhouse` print what they print from `--db`.

The demo's database goes into a chdb data directory as the OTel Collector's ClickHouse
exporter would write it (tests/helpers/clickhouse_exporter.py); the CLI then opens it with
`--clickhouse chdb:PATH` (a server would be `http://user:password@host:8123/database`).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import duckdb
import pytest

from getgather_otel.cli import main
from tests.helpers.clickhouse_exporter import load_database

chdb_session = pytest.importorskip("chdb.session")


def _cli(*argv: str) -> str:
    out = io.StringIO()
    assert main(list(argv), out=out) == 0
    return out.getvalue()


@pytest.fixture
def url(demo_db: Path, tmp_path: Path) -> str:
    """`--clickhouse` for a chdb data directory holding the demo as the exporter writes it."""
    data = tmp_path / "chdb"
    session = chdb_session.Session(str(data))
    load_database(session, demo_db, tmp_path)
    session.close()
    return f"chdb:{data}"


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


def test_prune_applies_the_recording_policy_to_clickhouse(demo_db: Path, url: str) -> None:
    """Recordings past `--recordings-days` go, a failed activity's stay until `--error-recordings-days`."""
    [[failed, total]] = (
        duckdb.connect(str(demo_db), read_only=True)
        .execute(
            """SELECT count(*) FILTER (WHERE t."StatusCode" = 'Error'), count(*) FROM recording_chunks AS c
           JOIN otel_traces AS t ON t."SpanId" = c.span_id AND t."TraceId" = c.trace_id"""
        )
        .fetchall()
    )
    assert total > failed
    count = "SELECT count() AS n FROM otel_logs"
    assert "would remove 0 recording rows" in _cli("prune", "--dry-run", "--clickhouse", url)
    dry = _cli("prune", "--dry-run", "--recordings-days", "0", "--clickhouse", url)
    assert f"would remove {total - failed:,} recording rows" in dry
    assert json.loads(_cli("sql", count, "--clickhouse", url, "--format", "json"))[0]["n"] == total, "a dry run"
    assert f"removed {total - failed:,}" in _cli("prune", "--recordings-days", "0", "--clickhouse", url)
    assert json.loads(_cli("sql", count, "--clickhouse", url, "--format", "json"))[0]["n"] == failed
    _cli("prune", "--recordings-days", "0", "--error-recordings-days", "0", "--clickhouse", url)
    assert json.loads(_cli("sql", count, "--clickhouse", url, "--format", "json"))[0]["n"] == 0
