"""FastMCP middleware that makes every tool call an activity span.

Placement in FastMCP's span tree (FastMCP 4.x): FastMCP opens one SERVER span per
request at its dispatch seam, and later *enriches* that span into "tools/call NAME" only
if the seam span is still the current span when the tool runs; otherwise it opens a
second SERVER span. So, in FastMCP's `native` telemetry mode, the activity span is
created as a child of FastMCP's span but is not made the current OTel span: FastMCP keeps
exactly one SERVER span per call, and code inside the tool finds its activity through
`current_activity()` (nested `activity()` blocks attach to it). In `propagation_only`
and `off` modes FastMCP makes no span, and the activity becomes the current span, so
spans made by the tool nest under it and incoming trace context still parents it.

Exactly one activity per tool call: a mounted sub-server that is instrumented too (its
middleware runs inside the parent's for the same call) does not open a second one.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from contextvars import ContextVar
from typing import Any

import mcp_types as mt
from fastmcp import FastMCP
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.telemetry import native_spans_enabled
from fastmcp.tools.base import ToolResult
from opentelemetry.util.types import AttributeValue

from getgather_otel._log import logger
from getgather_otel.capture import attributes as attr
from getgather_otel.capture.activity import Activity, activity
from getgather_otel.capture.brands import BrandResolver, activity_kind, default_brand_resolver, tool_tags
from getgather_otel.capture.metrics import instruments
from getgather_otel.capture.redaction import Redactor

__all__ = ["TOOL_CACHE_SIZE", "TOOL_CACHE_TTL_S", "ActivityMiddleware", "instrument_mcp"]

TOOL_CACHE_TTL_S = 10.0
TOOL_CACHE_SIZE = 1024

_inside_tool_call: ContextVar[bool] = ContextVar("getgather_otel_inside_tool_call", default=False)


class ActivityMiddleware(Middleware):
    """Opens an activity span around every `tools/call` this server handles."""

    def __init__(
        self,
        *,
        brand_resolver: BrandResolver | None = None,
        brand_from_prefix: bool = False,
        capture_arguments: bool = False,
        redact_keys: Collection[str] | None = None,
        max_captured_chars: int = 4096,
    ) -> None:
        self._fallback_resolver = default_brand_resolver(brand_from_prefix)
        self._brand_resolver = brand_resolver or self._fallback_resolver
        self._capture_arguments = capture_arguments
        self._redactor = Redactor(redact_keys, max_chars=max_captured_chars)
        self._resolver_failed = False
        self._tools: dict[tuple[int, str], tuple[float, Any]] = {}

    async def on_call_tool(
        self,
        context: MiddlewareContext[mt.CallToolRequestParams],
        call_next: CallNext[mt.CallToolRequestParams, ToolResult],
    ) -> ToolResult:
        if _inside_tool_call.get():
            return await call_next(context)
        started = time.perf_counter()
        name = context.message.name
        tool = await self._lookup_tool(context, name)
        brand = self._resolve_brand(name, tool)
        kind = activity_kind(tool)
        span_attributes = self._span_attributes(context, name, tool)
        tool_activity: Activity | None = None
        token = _inside_tool_call.set(True)
        try:
            with activity(name, brand, kind, attach=not native_spans_enabled(), **span_attributes) as act:
                tool_activity = act
                result = await call_next(context)
                if result.is_error:
                    act.mark_error(attr.ERROR_TYPE_TOOL_ERROR, _first_text(result))
                if self._capture_arguments:
                    act.set_attribute(attr.TOOL_RESULT, self._redactor.to_json(_result_payload(result)))
                return result
        finally:
            _inside_tool_call.reset(token)
            metric_attributes = {attr.MCP_METHOD_NAME: "tools/call", attr.GEN_AI_TOOL_NAME: name}
            error_type = tool_activity.error_type if tool_activity else None
            if error_type:
                metric_attributes[attr.ERROR_TYPE] = error_type
            instruments().record_mcp_operation(time.perf_counter() - started, metric_attributes)

    async def _lookup_tool(self, context: MiddlewareContext[Any], name: str) -> Any:
        """The tool, for its tags and meta (labels only; FastMCP does the authorization).

        FastMCP's `get_tool` walks providers and transforms and cost about as much as the
        rest of the activity together, so found tools are remembered for `TOOL_CACHE_TTL_S`
        (a retagged tool is picked up after that), at most `TOOL_CACHE_SIZE` names.
        """
        server = context.fastmcp_context.fastmcp if context.fastmcp_context else None
        if server is None:
            return None
        now = time.monotonic()
        key = (id(server), name)
        cached = self._tools.get(key)
        if cached is not None and now - cached[0] < TOOL_CACHE_TTL_S:
            return cached[1]
        try:
            tool = await server.get_tool(name)
        except Exception:  # an unknown tool still gets an activity; FastMCP reports the error
            return None
        if tool is not None:
            if len(self._tools) >= TOOL_CACHE_SIZE:
                self._tools.clear()
            self._tools[key] = (now, tool)
        return tool

    def _resolve_brand(self, name: str, tool: Any) -> str:
        try:
            return str(self._brand_resolver(name, tool) or "")
        except Exception:
            if not self._resolver_failed:
                self._resolver_failed = True
                logger.warning("brand_resolver raised for tool %r; using the default", name, exc_info=True)
            return self._fallback_resolver(name, tool)

    def _span_attributes(
        self, context: MiddlewareContext[mt.CallToolRequestParams], name: str, tool: Any
    ) -> dict[str, AttributeValue]:
        attributes: dict[str, AttributeValue] = {
            attr.GEN_AI_TOOL_NAME: name,
            attr.GEN_AI_OPERATION_NAME: attr.GEN_AI_OPERATION_EXECUTE_TOOL,
            attr.MCP_METHOD_NAME: "tools/call",
        }
        fctx = context.fastmcp_context
        if fctx is not None and fctx.request_context is not None:
            session_id = fctx.session_id
            if session_id:
                attributes[attr.MCP_SESSION_ID] = session_id
            request_id = fctx.request_id
            if request_id is not None:
                attributes[attr.JSONRPC_REQUEST_ID] = str(request_id)
        tags = tool_tags(tool)
        if tags:
            attributes[attr.TOOL_TAGS] = sorted(tags)
        if self._capture_arguments:
            attributes[attr.TOOL_ARGUMENTS] = self._redactor.to_json(context.message.arguments or {})
        return attributes


def _first_text(result: ToolResult) -> str:
    for block in result.content:
        text = getattr(block, "text", None)
        if isinstance(text, str):
            return text[:500]
    return ""


def _result_payload(result: ToolResult) -> Any:
    if result.structured_content is not None:
        return result.structured_content
    return [block.model_dump(mode="json", exclude_none=True) for block in result.content]


def instrument_mcp(
    server: FastMCP,
    *,
    brand_resolver: BrandResolver | None = None,
    capture_arguments: bool = False,
    brand_from_prefix: bool = False,
    redact_keys: Collection[str] | None = None,
) -> None:
    """Make every tool call on `server` (mounted sub-servers' tools included) an activity.

    The middleware goes first in the chain so the activity covers the whole call as the
    client sees it, other middleware included. Instrumenting a server twice replaces the
    earlier middleware instead of adding a second one.
    """
    middleware = ActivityMiddleware(
        brand_resolver=brand_resolver,
        brand_from_prefix=brand_from_prefix,
        capture_arguments=capture_arguments,
        redact_keys=redact_keys,
    )
    server.middleware[:] = [m for m in server.middleware if not isinstance(m, ActivityMiddleware)]
    server.middleware.insert(0, middleware)
