"""FastMCP middleware that makes every tool call an activity span.

Where the activity sits: it is the INTERNAL child of the request's SERVER span
("tools/call NAME"), never the SERVER span itself, in every FastMCP telemetry mode
(`requests.py` makes sure there is exactly one SERVER span per request: FastMCP's in
`native` mode, ours otherwise). Why a child:

- The SERVER span is the protocol's view, the same for every MCP method, with the
  conventions' `error.type` (`tool_error` for an `isError` result, the JSON-RPC code
  otherwise); the activity is getgather's view (brand, kind, browser recordings, the
  original exception class such as `TimeoutError`), which also exists outside MCP
  (`activity()` in plain code, nested auth steps) and is always INTERNAL. One span cannot
  carry both `error.type`s.
- In `native` mode FastMCP owns the SERVER span: it starts it before any middleware runs,
  names it, records errors on it after the middleware has returned, and ends it. An
  activity that was that span would have a lifetime, status and scope it does not own,
  and a different shape in each mode. As a child it looks the same in every mode and in
  files written before this change.
- The cost is one span per tool call (measured by `bench.tool_latency`).

FastMCP 4.x opens its SERVER span at its dispatch seam and *enriches* it into
"tools/call NAME" only if the seam span is still the current span when the tool runs;
otherwise it opens a second SERVER span. So in `native` mode the activity is created as a
child of FastMCP's span but is not made the current OTel span: code inside the tool finds
its activity through `current_activity()` (nested `activity()` blocks attach to it). In
`propagation_only` and `off` modes the activity becomes the current span, so spans made by
the tool nest under it.

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
from getgather_otel.capture import failures
from getgather_otel.capture.activity import activity
from getgather_otel.capture.brands import BrandResolver, activity_kind, default_brand_resolver, tool_tags
from getgather_otel.capture.failures import FailureClassifier
from getgather_otel.capture.redaction import Redactor
from getgather_otel.capture.requests import McpRequest, RequestMiddleware, current_request, describe

__all__ = ["TOOL_CACHE_SIZE", "TOOL_CACHE_TTL_S", "ActivityMiddleware", "instrument_mcp", "uninstrument_mcp"]

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
        self.redactor = self._redactor
        self._resolver_failed = False
        self._tools: dict[tuple[int, str], tuple[float, Any]] = {}

    async def on_call_tool(
        self,
        context: MiddlewareContext[mt.CallToolRequestParams],
        call_next: CallNext[mt.CallToolRequestParams, ToolResult],
    ) -> ToolResult:
        if _inside_tool_call.get():
            return await call_next(context)
        name = context.message.name
        tool = await self._lookup_tool(context, name)
        brand = self._resolve_brand(name, tool)
        kind = activity_kind(tool)
        request = self._request(context)
        span_attributes = self._span_attributes(context, name, tool, request)
        if self._capture_arguments and request is not None:
            request.span.set_attribute(
                attr.GEN_AI_TOOL_CALL_ARGUMENTS, span_attributes[attr.GEN_AI_TOOL_CALL_ARGUMENTS]
            )
        token = _inside_tool_call.set(True)
        try:
            # The call's secret-named argument values are never stored for its trace (issue 15).
            secrets = self._redactor.secret_values(context.message.arguments or {})
            attach = not native_spans_enabled()
            async with activity(name, brand, kind, attach=attach, secrets=secrets, **span_attributes) as act:
                result = await call_next(context)
                if result.is_error:
                    act.mark_error(attr.ERROR_TYPE_TOOL_ERROR, _first_text(result))
                if self._capture_arguments:
                    captured = self._redactor.to_json(_result_payload(result))
                    act.set_attribute(attr.GEN_AI_TOOL_CALL_RESULT, captured)
                    if request is not None:
                        request.span.set_attribute(attr.GEN_AI_TOOL_CALL_RESULT, captured)
                return result
        finally:
            _inside_tool_call.reset(token)

    @staticmethod
    def _request(context: MiddlewareContext[Any]) -> McpRequest | None:
        """The request `RequestMiddleware` described, or a description made here when this
        middleware was added without it (`server.add_middleware(ActivityMiddleware())`)."""
        request = current_request()
        if request is not None:
            return request
        fctx = context.fastmcp_context
        request_context = fctx.request_context if fctx is not None else None
        sdk_context = getattr(request_context, "_srctx", None)  # FastMCP's wrapper keeps the SDK's
        return describe(sdk_context) if sdk_context is not None else None

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
        """The resolver's brand; the default resolver's when it raises or returns neither a str
        nor None (a list's or bytes' repr is no brand id), with one warning."""
        try:
            brand = self._brand_resolver(name, tool)
        except Exception:
            self._resolver_fault("raised for tool %r; using the default", name, exc_info=True)
            return self._fallback_resolver(name, tool)
        if brand is None:
            return ""
        if isinstance(brand, str):
            return str.__str__(brand)
        self._resolver_fault(
            "returned %s for tool %r, not a str or None; using the default", type(brand).__name__, name
        )
        return self._fallback_resolver(name, tool)

    def _resolver_fault(self, message: str, *args: object, exc_info: bool = False) -> None:
        if not self._resolver_failed:
            self._resolver_failed = True
            logger.warning("brand_resolver " + message + " (said once)", *args, exc_info=exc_info)

    def _span_attributes(
        self,
        context: MiddlewareContext[mt.CallToolRequestParams],
        name: str,
        tool: Any,
        request: McpRequest | None,
    ) -> dict[str, AttributeValue]:
        attributes: dict[str, AttributeValue] = {
            attr.GEN_AI_TOOL_NAME: name,
            attr.GEN_AI_OPERATION_NAME: attr.GEN_AI_OPERATION_EXECUTE_TOOL,
            attr.MCP_METHOD_NAME: "tools/call",
        }
        if request is not None:
            request_id = request.span_attributes.get(attr.JSONRPC_REQUEST_ID)
            if request_id is not None:
                attributes[attr.JSONRPC_REQUEST_ID] = request_id
            if request.session_id:
                attributes[attr.MCP_SESSION_ID] = request.session_id
            attributes.update(request.client_attributes())
        tags = tool_tags(tool)
        if tags:
            attributes[attr.TOOL_TAGS] = sorted(tags)
        if self._capture_arguments:
            attributes[attr.GEN_AI_TOOL_CALL_ARGUMENTS] = self._redactor.to_json(context.message.arguments or {})
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
    failure_classifier: FailureClassifier | None = None,
) -> None:
    """Make every tool call on `server` (mounted sub-servers' tools included) an activity,
    and every request it answers a SERVER span and an `mcp.server.operation.duration` point.

    Every failed activity gets `getgather.failure.class` (capture/failures.py's rules);
    `failure_classifier` is asked first (see `failures.set_failure_classifier`; process-wide).

    The activity middleware goes first in FastMCP's chain so the activity covers the whole
    call as the client sees it, other middleware included. `RequestMiddleware` goes into
    the MCP SDK's middleware list right inside FastMCP's request seam (see `requests.py`).
    Instrumenting a server twice replaces the earlier middleware instead of adding more.
    """
    failures.install()
    if failure_classifier is not None:
        failures.set_failure_classifier(failure_classifier)
    middleware = ActivityMiddleware(
        brand_resolver=brand_resolver,
        brand_from_prefix=brand_from_prefix,
        capture_arguments=capture_arguments,
        redact_keys=redact_keys,
    )
    uninstrument_mcp(server)
    server.middleware.insert(0, middleware)
    sdk_middleware = _sdk_middleware(server)
    if sdk_middleware is None:
        logger.warning("this FastMCP has no MCP SDK middleware list: only tools/call is instrumented")
        return
    seam = next((i for i, m in enumerate(sdk_middleware) if type(m).__name__ == "FastMCPServerMiddleware"), -1)
    sdk_middleware.insert(
        seam + 1, RequestMiddleware(capture_arguments=capture_arguments, redactor=middleware.redactor)
    )


def uninstrument_mcp(server: FastMCP) -> None:
    """Take getgather-otel's middleware off `server` (both lists)."""
    server.middleware[:] = [m for m in server.middleware if not isinstance(m, ActivityMiddleware)]
    sdk_middleware = _sdk_middleware(server)
    if sdk_middleware is not None:
        sdk_middleware[:] = [m for m in sdk_middleware if not isinstance(m, RequestMiddleware)]


def _sdk_middleware(server: FastMCP) -> list[Any] | None:
    """The MCP SDK's context-tier middleware list of FastMCP's low-level server."""
    low_level = getattr(server, "_mcp_server", None)
    middleware = getattr(low_level, "middleware", None)
    return middleware if isinstance(middleware, list) else None
