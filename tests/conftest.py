"""Shared fixtures: a real DuckDB file per test, configured telemetry, FastMCP modes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fastmcp
import pytest

import getgather_otel
from getgather_otel.store.reader import open_for_reading
from getgather_otel.telemetry import Telemetry


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "telemetry.duckdb"


@pytest.fixture
def telemetry(db_path: Path) -> Iterator[Telemetry]:
    t = getgather_otel.configure(service_name="getgather-test", duckdb_path=db_path)
    yield t
    t.shutdown()


@pytest.fixture(params=["native", "propagation_only", "off"])
def fastmcp_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(fastmcp.settings, "telemetry_mode", request.param)
    return str(request.param)


def rows(db: Path, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    """Run a query on the file as a separate reader would, returning dicts."""
    with open_for_reading(db, wait_s=10) as conn:
        cursor = conn.execute(sql, params or [])
        columns = [d[0] for d in cursor.description or []]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def flushed(telemetry: Telemetry) -> None:
    """Everything ended so far is in the file, and the writer has let go of it."""
    assert telemetry.flush(timeout_s=20)
