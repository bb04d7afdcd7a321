"""Values DuckDB returns, as plain values for JSON, CSV and text tables.

Timestamps become text (the caller says how), decimals floats, blobs their size, maps
and structs dicts with text keys, lists and arrays lists. The CLI and the viewer's API
both print query results through `plain`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

__all__ = ["naive_utc", "plain"]


def plain(value: Any, moment: Callable[[dt.datetime], str], nan_as_none: bool = False) -> Any:
    """`value` with DuckDB's types replaced by plain ones.

    Args:
        value: one value of a result row (nested lists, tuples and dicts are walked).
        moment: how a `datetime` is written as text.
        nan_as_none: a float NaN becomes None (JSON has no NaN); kept otherwise.
    """
    if isinstance(value, dt.datetime):
        return moment(value)
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    if isinstance(value, dict):
        return {str(k): plain(v, moment, nan_as_none) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v, moment, nan_as_none) for v in value]
    if nan_as_none and isinstance(value, float) and value != value:
        return None
    return value


def naive_utc(moment: dt.datetime) -> dt.datetime:
    """`moment` as the naive UTC timestamp the stored timestamp columns hold (naive = already UTC)."""
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment
