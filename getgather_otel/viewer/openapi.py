"""The OpenAPI 3.1 description of the viewer's API, served at /api/openapi.json.

Written out rather than generated: the API is small, its parameters are validated by hand
in `api.py`, and a test checks that every route there is described here and the other
way round.
"""

from __future__ import annotations

from typing import Any

from getgather_otel.store.queries.activities import SORT_KEYS, STATUSES
from getgather_otel.version import __version__
from getgather_otel.viewer.api import MAX_PAGE
from getgather_otel.viewer.data import RECORDING_ID, SPAN_ID, TRACE_ID
from getgather_otel.viewer.sql import (
    DEFAULT_BYTE_LIMIT,
    DEFAULT_ROW_LIMIT,
    DEFAULT_TIME_LIMIT_S,
    MAX_BYTE_LIMIT,
    MAX_ROW_LIMIT,
    MAX_TIME_LIMIT_S,
)

__all__ = ["ACTIVITY_ID", "openapi_document"]

_TIME = "30m, 2h, 7d, 1w ago, or an ISO time (UTC unless it has a zone)"


def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _path(name: str, pattern: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "pattern": pattern},
    }


def _answers(ok: str, *errors: int) -> dict[str, Any]:
    reasons = {
        401: "Missing or wrong token",
        403: "Not a single read-only SELECT",
        404: "No such id stored",
        408: "Query past its time limit, interrupted",
        413: "Result past its byte limit (max_bytes), not fetched further",
        422: "Malformed id, parameter or body",
        500: "A stored recording chunk cannot be decoded (the message says which and why)",
        503: "The database cannot be read now (the message says why and what to do)",
    }
    answers: dict[str, Any] = {
        "200": {"description": ok, "content": {"application/json": {"schema": {"type": "object"}}}}
    }
    for status in (401, *errors, 503):
        answers[str(status)] = {
            "description": reasons[status],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    return answers


ACTIVITY_ID = _path("activity_id", SPAN_ID.pattern, "The activity's span id (16 hex digits)")


def openapi_document() -> dict[str, Any]:
    """The document for the routes `api_routes` serves."""
    paths: dict[str, Any] = {
        "/api/activities": {
            "get": {
                "summary": "Activities (MCP tool calls and activity() blocks), one page at a time",
                "parameters": [
                    _query("brand", "Only this brand id ('' for activities without a brand)"),
                    _query("name", "Only this activity (tool) name"),
                    _query("kind", "Only this kind (tool, auth, ...)"),
                    _query("status", "ok or error", {"type": "string", "enum": list(STATUSES)}),
                    _query(
                        "failure_class",
                        "Only failed activities of this class (bot_challenge, signed_out, element_missing, "
                        "navigation_error, site_error, browser_crash, tool_error, unknown, or a classifier's own)",
                    ),
                    _query("client", "Only calls from this MCP client (its clientInfo name)"),
                    _query(
                        "trace",
                        "Only this trace (32 hex digits): an agent's calls under the trace context its client sent",
                        {"type": "string", "pattern": TRACE_ID.pattern},
                    ),
                    _query("since", f"Started at or after: {_TIME}"),
                    _query("until", f"Started before: {_TIME}"),
                    _query("limit", "Page size", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 50}),
                    _query("offset", "Rows to skip", {"type": "integer", "minimum": 0, "default": 0}),
                    _query("sort", "Sort key", {"type": "string", "enum": list(SORT_KEYS), "default": "start_time"}),
                    _query("order", "Sort order", {"type": "string", "enum": ["asc", "desc"], "default": "desc"}),
                ],
                "responses": _answers("activities, total, limit, offset", 422),
            }
        },
        "/api/activities/{activity_id}": {
            "get": {
                "summary": "One activity (with its failure_class) with every span (and its events) of its trace, "
                "and the evidence events of the activity and its children in time order",
                "parameters": [ACTIVITY_ID],
                "responses": _answers("activity, trace, evidence", 404, 422),
            }
        },
        "/api/activities/{activity_id}/recordings": {
            "get": {
                "summary": "The browser recordings of an activity (or of its nearest recorded ancestor), by page",
                "parameters": [ACTIVITY_ID],
                "responses": _answers("activity_id, recorded_by, pruned, recordings[pages]", 404, 422),
            }
        },
        "/api/recordings/{recording_id}/events": {
            "get": {
                "summary": "A recording's rrweb events, decompressed and streamed as one JSON array",
                "parameters": [
                    _path("recording_id", RECORDING_ID.pattern, "The recording id"),
                    _query("page_id", "Only this page (tab) of the recording"),
                ],
                "responses": _answers("a JSON array of rrweb events in page and sequence order", 404, 422, 500),
            }
        },
        "/api/traces/{trace_id}": {
            "get": {
                "summary": "Every stored span of a trace, with events and links",
                "parameters": [_path("trace_id", TRACE_ID.pattern, "The trace id (32 hex digits)")],
                "responses": _answers("trace_id, spans", 404, 422),
            }
        },
        "/api/stats": {
            "get": {
                "summary": "Per brand, tool and client: count, errors, error rate, p50/p95/p99; failures per "
                "brand and class with their rate; per brand (and per brand and failure class) over time",
                "parameters": [
                    _query("since", f"Window start (default 7d): {_TIME}"),
                    _query("until", f"Window end (default now): {_TIME}"),
                    _query("brand", "Only this brand"),
                    _query("client", "Only calls from this MCP client"),
                ],
                "responses": _answers(
                    "since, until, bucket_s, by_brand, by_tool, by_client, errors, failures, series, failure_series",
                    422,
                ),
            }
        },
        "/api/sql": {
            "post": {
                "summary": "One read-only SELECT over the database, bounded in time, rows and bytes of JSON",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SqlRequest"}}},
                },
                "responses": _answers("columns, rows, truncated, elapsed_ms", 403, 408, 413, 422),
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "getgather-otel viewer API", "version": __version__},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "getgather_otel_token"},
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "status"],
                    "properties": {"error": {"type": "string"}, "status": {"type": "integer"}},
                },
                "SqlRequest": {
                    "type": "object",
                    "required": ["sql"],
                    "additionalProperties": False,
                    "properties": {
                        "sql": {"type": "string", "description": "Exactly one SELECT (WITH, FROM, DESCRIBE, SHOW too)"},
                        "limit": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": MAX_ROW_LIMIT,
                            "default": DEFAULT_ROW_LIMIT,
                        },
                        "time_limit_s": {
                            "type": "number",
                            "exclusiveMinimum": 0,
                            "maximum": MAX_TIME_LIMIT_S,
                            "default": DEFAULT_TIME_LIMIT_S,
                            "description": "Covers the query and turning its rows into the answer",
                        },
                        "max_bytes": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": MAX_BYTE_LIMIT,
                            "default": DEFAULT_BYTE_LIMIT,
                            "description": "The rows' JSON may be at most this large; past it the answer is 413",
                        },
                    },
                },
            },
        },
        "security": [{}, {"token": []}, {"cookie": []}],
    }
