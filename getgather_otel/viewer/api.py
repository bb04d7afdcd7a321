"""The viewer's JSON API (documented in `openapi.py`): every route, its parameters and its errors.

Queries run in a worker thread (`asyncio.to_thread`), so the event loop, which in
`collect` also receives OTLP, never waits for DuckDB or ClickHouse. Each request holds an
engine (a DuckDB connection, or ClickHouse: `reads.py`) only while it queries; recording
events are decompressed and streamed after it is released. Errors are JSON
`{"error": ..., "status": ...}`: 401 without the token, 403 for a refused SQL statement,
404 for ids that are not stored, 408 for a query past its time limit, 413 for a query whose
rows pass the byte limit, 422 for malformed
ids, parameters and bodies, 500 for a stored recording chunk that cannot be decoded (which
one, and why; sent before any of the recording's events), 503 when the file or ClickHouse
cannot be read (with what to do about it).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar, cast

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from getgather_otel.recording.chunk_codec import DamagedChunkError, decompress_json
from getgather_otel.store.engine import Engine
from getgather_otel.store.errors import DatabaseLockedError, StoreError
from getgather_otel.store.queries.activities import SORT_KEYS, STATUSES, ActivityFilter, SortKey, Status, parse_since
from getgather_otel.viewer import data
from getgather_otel.viewer.auth import allowed
from getgather_otel.viewer.reads import Reads
from getgather_otel.viewer.sql import (
    DEFAULT_BYTE_LIMIT,
    DEFAULT_ROW_LIMIT,
    DEFAULT_TIME_LIMIT_S,
    MAX_BYTE_LIMIT,
    MAX_ROW_LIMIT,
    MAX_TIME_LIMIT_S,
    InvalidQueryError,
    QueryTimeoutError,
    RefusedQueryError,
    ResultTooLargeError,
    run_user_query,
)

__all__ = [
    "ACTIVITY_PARAMETERS",
    "DEFAULT_STATS_WINDOW",
    "MAX_PAGE",
    "MAX_SQL_BODY_BYTES",
    "DamagedRecordingError",
    "Handler",
    "ParameterError",
    "activity_filter",
    "api_routes",
    "error_response",
    "guarded",
    "json_error_for_unknown_api",
]

T = TypeVar("T")
Handler = Callable[[Request], Awaitable[Response]]
MAX_PAGE = 500
DEFAULT_STATS_WINDOW = "7d"
MAX_SQL_BODY_BYTES = 64 * 1024


class ParameterError(ValueError):
    """A query parameter or body field the API cannot use (HTTP 422)."""


class DamagedRecordingError(ValueError):
    """A chunk of the recording asked for cannot be decoded (HTTP 500, naming the chunk and why)."""


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status)


def _status_of(error: Exception) -> int | None:
    for kinds, status in (
        ((data.NotFoundError,), 404),
        ((data.BadIdError, ParameterError, InvalidQueryError), 422),
        ((RefusedQueryError,), 403),
        ((QueryTimeoutError,), 408),
        ((ResultTooLargeError,), 413),
        ((StoreError,), 503),
        ((DamagedRecordingError,), 500),
    ):
        if isinstance(error, kinds):
            return status
    return None


def _message(error: Exception) -> str:
    if isinstance(error, DatabaseLockedError):
        return (
            f"{error} If that process is `getgather-otel collect`, open the viewer it serves on its "
            "OTLP/HTTP address instead; an instrumented server releases the file between batches, so retry."
        )
    return str(error)


def guarded(token: str | None, handler: Handler) -> Handler:
    """`handler` behind the token, with the API's errors turned into JSON answers."""

    async def endpoint(request: Request) -> Response:
        if not allowed(request, token):
            return error_response(401, "missing or wrong token: send 'Authorization: Bearer T' or open /?token=T")
        try:
            return await handler(request)
        except Exception as error:
            status = _status_of(error)
            if status is None:
                raise
            return error_response(status, _message(error))

    return endpoint


def _known(request: Request, names: tuple[str, ...]) -> None:
    unknown = sorted(set(request.query_params) - set(names))
    if unknown:
        raise ParameterError(f"unknown parameter {unknown[0]!r}; this route takes {', '.join(names) or 'none'}")


def _text(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    return value if value not in (None, "") else None


def _choice(request: Request, name: str, choices: tuple[str, ...], default: str | None) -> str | None:
    value = _text(request, name) or default
    if value is not None and value not in choices:
        raise ParameterError(f"{name} must be one of {', '.join(choices)}, not {value[:40]!r}")
    return value


def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    text = _text(request, name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ParameterError(f"{name} must be a whole number, not {text[:40]!r}") from None
    if not low <= value <= high:
        raise ParameterError(f"{name} must be between {low} and {high}, not {value}")
    return value


def _moment(request: Request, name: str, default: str | None = None) -> dt.datetime | None:
    text = _text(request, name) or default
    if text is None:
        return None
    try:
        return parse_since(text)
    except ValueError as error:
        raise ParameterError(str(error).replace("--since", name)) from None


def _window(request: Request, default_since: str | None) -> tuple[dt.datetime | None, dt.datetime | None]:
    since, until = _moment(request, "since", default_since), _moment(request, "until")
    if since is not None and until is not None and since >= until:
        raise ParameterError("since must be before until")
    return since, until


async def _query(reads: Reads, work: Callable[[Engine], T]) -> T:
    def run() -> T:
        with reads.engine() as engine:
            return work(engine)

    return await asyncio.to_thread(run)


ACTIVITY_PARAMETERS = (
    "brand",
    "name",
    "kind",
    "status",
    "failure_class",
    "client",
    "trace",
    "since",
    "until",
    "limit",
    "offset",
    "sort",
    "order",
)


def _trace_id(request: Request) -> str | None:
    text = _text(request, "trace")
    return None if text is None else data.check_id(text.strip().lower(), data.TRACE_ID, "trace id")


def activity_filter(request: Request) -> ActivityFilter:
    _known(request, ACTIVITY_PARAMETERS)
    since, until = _window(request, None)
    status = _choice(request, "status", STATUSES, None)
    sort = _choice(request, "sort", SORT_KEYS, "start_time")
    order = _choice(request, "order", ("asc", "desc"), "desc")
    return ActivityFilter(
        brand=_text(request, "brand"),
        name=_text(request, "name"),
        kind=_text(request, "kind"),
        status=cast(Status | None, status),  # checked against STATUSES
        failure_class=_text(request, "failure_class"),
        client=_text(request, "client"),
        trace_id=_trace_id(request),
        since=since,
        until=until,
        limit=_int(request, "limit", 50, 1, MAX_PAGE),
        offset=_int(request, "offset", 0, 0, 10**9),
        sort=cast(SortKey, sort),  # checked against SORT_KEYS
        descending=order == "desc",
    )


async def _sql_body(request: Request) -> tuple[str, int, float, int]:
    raw = await request.body()
    if len(raw) > MAX_SQL_BODY_BYTES:
        raise ParameterError(f"the body is larger than {MAX_SQL_BODY_BYTES} bytes")
    try:
        body = json.loads(raw)
    except ValueError:
        raise ParameterError('the body must be JSON: {"sql": "SELECT ...", "limit": 100}') from None
    if not isinstance(body, dict) or not isinstance(body.get("sql"), str) or not body["sql"].strip():
        raise ParameterError('the body must be an object with a non-empty "sql" string')
    unknown = sorted(set(body) - {"sql", "limit", "time_limit_s", "max_bytes"})
    if unknown:
        raise ParameterError(f"unknown field {unknown[0]!r}; the body takes sql, limit, time_limit_s, max_bytes")
    max_bytes = body.get("max_bytes", DEFAULT_BYTE_LIMIT)
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or not 1 <= max_bytes <= MAX_BYTE_LIMIT:
        raise ParameterError(f"max_bytes must be a whole number from 1 to {MAX_BYTE_LIMIT}")
    limit, time_limit = body.get("limit", DEFAULT_ROW_LIMIT), body.get("time_limit_s", DEFAULT_TIME_LIMIT_S)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_ROW_LIMIT:
        raise ParameterError(f"limit must be a whole number from 1 to {MAX_ROW_LIMIT}")
    if isinstance(time_limit, bool) or not isinstance(time_limit, (int, float)):
        raise ParameterError(f"time_limit_s must be a number of seconds up to {MAX_TIME_LIMIT_S:g}")
    if not 0 < time_limit <= MAX_TIME_LIMIT_S:
        raise ParameterError(f"time_limit_s must be a number of seconds up to {MAX_TIME_LIMIT_S:g}")
    return body["sql"], limit, float(time_limit), max_bytes


def _check_chunks(recording_id: str, chunks: list[tuple[str, int, bytes, str]]) -> None:
    """Decode every chunk once, keeping none, before the answer starts: a damaged one is an error
    status then, not a 200 whose body breaks off mid-array. The stream decodes them again (zstd
    runs at about a GB/s, so a recording is checked in milliseconds; holding every decoded chunk
    instead would keep the whole recording in memory)."""
    for page_id, sequence, stored, compression in chunks:
        try:
            decompress_json(stored, compression)
        except DamagedChunkError as error:
            raise DamagedRecordingError(
                f"recording {recording_id}: chunk {sequence} of page {page_id} is damaged: {error}"
            ) from None


async def _event_stream(chunks: list[tuple[str, int, bytes, str]]) -> AsyncIterator[bytes]:
    """One JSON array of every chunk's events, decompressed a chunk at a time off the event loop
    (checked first by `_check_chunks`)."""
    yield b"["
    first = True
    for _page, _sequence, stored, compression in chunks:
        text = (await asyncio.to_thread(decompress_json, stored, compression)).strip()
        inner = text[1:-1].strip()
        if inner:
            yield inner if first else b"," + inner
            first = False
    yield b"]"


def api_routes(reads: Reads, token: str | None) -> list[Route]:
    """The /api/* routes over `reads`."""

    async def activities(request: Request) -> Response:
        filters = activity_filter(request)
        return JSONResponse(await _query(reads, lambda engine: data.list_activities(engine, filters)))

    async def activity(request: Request) -> Response:
        _known(request, ())
        activity_id = request.path_params["activity_id"]
        return JSONResponse(await _query(reads, lambda engine: data.activity(engine, activity_id)))

    async def activity_recordings(request: Request) -> Response:
        _known(request, ())
        activity_id = request.path_params["activity_id"]
        return JSONResponse(await _query(reads, lambda engine: data.recordings(engine, activity_id)))

    async def recording_events(request: Request) -> Response:
        _known(request, ("page_id",))
        recording_id, page_id = request.path_params["recording_id"], _text(request, "page_id")
        chunks = await _query(reads, lambda engine: data.recording_chunks(engine, recording_id, page_id))
        await asyncio.to_thread(_check_chunks, recording_id, chunks)
        return StreamingResponse(_event_stream(chunks), media_type="application/json")

    async def trace(request: Request) -> Response:
        _known(request, ())
        trace_id = request.path_params["trace_id"]
        return JSONResponse(await _query(reads, lambda engine: data.trace(engine, trace_id)))

    async def stats(request: Request) -> Response:
        _known(request, ("since", "until", "brand", "client"))
        since, until = _window(request, DEFAULT_STATS_WINDOW)
        brand, client = _text(request, "brand"), _text(request, "client")
        start = since or dt.datetime.now(dt.UTC)
        end = until or dt.datetime.now(dt.UTC)
        return JSONResponse(await _query(reads, lambda engine: data.stats(engine, start, end, brand, client)))

    async def sql(request: Request) -> Response:
        _known(request, ())
        text, limit, time_limit_s, max_bytes = await _sql_body(request)

        def answer(engine: Engine) -> bytes:  # rendered in the worker thread too, never on the event loop
            return bytes(JSONResponse(run_user_query(engine, text, limit, time_limit_s, max_bytes)).body)

        return Response(await _query(reads, answer), media_type="application/json")

    def route(path: str, handler: Handler, methods: tuple[str, ...] = ("GET",)) -> Route:
        return Route(path, guarded(token, handler), methods=list(methods))

    return [
        route("/api/activities", activities),
        route("/api/activities/{activity_id}", activity),
        route("/api/activities/{activity_id}/recordings", activity_recordings),
        route("/api/recordings/{recording_id}/events", recording_events),
        route("/api/traces/{trace_id}", trace),
        route("/api/stats", stats),
        route("/api/sql", sql, ("POST",)),
    ]


def json_error_for_unknown_api(token: str | None) -> Route:
    """Unknown /api/ paths answer JSON 404 rather than the page's HTML."""

    async def unknown(request: Request) -> Response:
        return error_response(404, f"no API route {request.url.path}; see /api/openapi.json")

    return Route("/api/{rest:path}", guarded(token, unknown), methods=["GET", "POST"])
