"""How every part of the package finds the DuckDB file: argument, env var, default."""

from __future__ import annotations

import os
from pathlib import Path

from getgather_otel import env

__all__ = ["DEFAULT_DUCKDB_FILENAME", "resolve_db_path"]

DEFAULT_DUCKDB_FILENAME = "getgather-otel.duckdb"


def resolve_db_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """`explicit`, else $GETGATHER_OTEL_DUCKDB, else ./getgather-otel.duckdb (made absolute).

    Absolute so that a later `chdir` in the host program cannot move where spans go.
    """
    chosen = explicit if explicit not in (None, "") else env.DUCKDB_PATH.read()
    path = Path(chosen) if chosen else Path(DEFAULT_DUCKDB_FILENAME)
    return path.expanduser().absolute()
