"""Strings Arrow can hold: UTF-8, which Python strings with unpaired surrogates are not.

Python makes such strings from bytes that are not UTF-8 (`os.fsdecode(b"report-\\xff.pdf")`
is `"report-\\udcff.pdf"`: file names, argv, environment values), and JavaScript text may
hold unpaired UTF-16 surrogates. `pa.array` raises UnicodeEncodeError on the first one, and
the OpenTelemetry SDK's batch drops every span of the export with it (a newcomer's break: one
file name in one exception message lost all the spans exported beside it). Each such code
point is stored as `?`, as `recording/chunk_codec.encode` does for a chunk's events; the rest of
the string, and every other string, as it is. The first time, a warning says so.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from getgather_otel._log import logger

__all__ = ["string_array", "utf8_safe"]

_warned = False


def utf8_safe(value: str) -> str:
    """`value` with each code point UTF-8 cannot encode (an unpaired surrogate) as `?`."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        _warn()
        return value.encode("utf-8", "replace").decode("utf-8")
    return value


def string_array(values: Sequence[str]) -> pa.Array:
    """`values` as an Arrow string array; strings that are not valid Unicode through `utf8_safe`
    (only when Arrow refuses one: the common case converts once, unchecked)."""
    try:
        return pa.array(values, pa.string())
    except UnicodeEncodeError:
        return pa.array([utf8_safe(v) if isinstance(v, str) else v for v in values], pa.string())


def _warn() -> None:
    global _warned
    if not _warned:
        _warned = True
        logger.warning(
            "telemetry held strings that are not valid Unicode (unpaired surrogates, e.g. from bytes "
            "that are not UTF-8); each such character is stored as '?' (said once)"
        )
