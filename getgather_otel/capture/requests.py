"""Every MCP request as the OpenTelemetry MCP semantic conventions describe it.

`RequestMiddleware` sits in the MCP SDK's context-tier middleware list of a FastMCP
server, right inside FastMCP's own request seam, so it sees every request the server
answers (tools/call and the lists, resources/read, prompts/get, completion, initialize,
server/discover, ping, unknown methods) with the wire outcome: the JSON-RPC error code
the client receives, or the `isError` flag of a tool result. FastMCP's own middleware
chain runs further in, where a missing tool or resource is still a `NotFoundError`
rather than the `-32602` the client gets.

Exactly one SERVER span per request, in every FastMCP telemetry mode:

- `native`: FastMCP's seam span ("tools/call NAME", kind SERVER) is the request's span;
  this middleware enriches it (`network.*`, `client.*`, the client's name) and corrects
  it just before it ends, after FastMCP's seam has recorded its own idea of the error:
  FastMCP 4.2.3 records every JSON-RPC error as an ERROR with `error.type` = the code
  (the conventions say the caller's mistakes, -32700/-32600/-32601/-32602/-32002, are not
  errors), names an unknown tool's or invalid arguments' `isError` result `NotFoundError`
  / `ValidationError` (the conventions say `tool_error`), and sets `mcp.session.id` to
  a value made up per request. The correction wraps that one span's `end`.
- `propagation_only` and `off`: FastMCP makes no span, so this middleware makes it, named
  `{mcp.method.name} {target}` (the tool's or prompt's name; never the resource URI), as
  a child of the client's trace context from `_meta` (FastMCP attaches it in
  `propagation_only`; in `off` it is read here).

Sessions: `mcp.session.id` is the `Mcp-Session-Id` of a handshake-era (before 2026-07-28)
streamable HTTP session, and nothing otherwise: on 2026-07-28 each request is its own
connection and FastMCP's `session_id` is new for every request, which the conventions say
MUST NOT be recorded. `mcp.server.session.duration` is recorded when a handshake-era
connection closes (stdio, in-memory and streamable HTTP sessions alike).

The calling client's name and version (`getgather.client.name` / `.version`) come from
its `clientInfo`: the handshake's, or the `io.modelcontextprotocol/clientInfo` that every
2026-07-28 request carries in `_meta`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from fastmcp.telemetry import native_spans_enabled
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue
from pydantic import ValidationError

from getgather_otel._log import logger
from getgather_otel.capture import attributes as attr
from getgather_otel.capture.activity import FASTMCP_SCOPE, tracer
from getgather_otel.capture.metrics import instruments
from getgather_otel.capture.redaction import Redactor

__all__ = [
    "CLIENT_INFO_META",
    "NOT_SERVER_ERRORS",
    "SESSION_ID_HEADER",
    "McpRequest",
    "Outcome",
    "RequestMiddleware",
    "current_request",
    "describe",
]

CLIENT_INFO_META = "io.modelcontextprotocol/clientInfo"
SESSION_ID_HEADER = "mcp-session-id"
INVALID_PARAMS = -32602
# JSON-RPC codes that mean the caller sent a request the server could not serve: the MCP
# conventions say a server SHOULD NOT count them as errors (model/mcp/common.yaml).
NOT_SERVER_ERRORS = frozenset({-32700, -32600, -32601, -32602, -32002})
# Per-connection state key: when a handshake-era session began.
_SESSION_STARTED = "getgather_otel.session_started"
_TARGETED = {"tools/call": attr.GEN_AI_TOOL_NAME, "prompts/get": attr.GEN_AI_PROMPT_NAME}
_WITH_URI = frozenset({"resources/read", "resources/subscribe", "resources/unsubscribe"})


@dataclass(slots=True)
class McpRequest:
    """What is known about the request being handled: read by the activity middleware."""

    method: str
    target: str | None
    span: Span
    span_attributes: dict[str, AttributeValue]
    metric_attributes: dict[str, AttributeValue]
    client_name: str | None = None
    client_version: str | None = None
    session_id: str | None = None
    outcome: Outcome = field(default_factory=lambda: Outcome())

    @property
    def span_name(self) -> str:
        return f"{self.method} {self.target}" if self.target else self.method

    def client_attributes(self) -> dict[str, AttributeValue]:
        found: dict[str, AttributeValue] = {}
        if self.client_name:
            found[attr.CLIENT_NAME] = self.client_name
        if self.client_version:
            found[attr.CLIENT_VERSION] = self.client_version
        return found


@dataclass(slots=True)
class Outcome:
    """How the request ended, in the conventions' terms."""

    error_type: str | None = None
    status_code: int | None = None  # the JSON-RPC error code the client received
    message: str = ""

    @property
    def is_error(self) -> bool:
        return self.error_type is not None

    def jsonrpc_error(self, code: int, message: str) -> None:
        self.status_code = code
        self.message = message
        self.error_type = None if code in NOT_SERVER_ERRORS else str(code)

    def attributes(self) -> dict[str, AttributeValue]:
        found: dict[str, AttributeValue] = {}
        if self.error_type is not None:
            found[attr.ERROR_TYPE] = self.error_type
        if self.status_code is not None:
            found[attr.RPC_RESPONSE_STATUS_CODE] = str(self.status_code)
        return found


_current: ContextVar[McpRequest | None] = ContextVar("getgather_otel_mcp_request", default=None)


def current_request() -> McpRequest | None:
    """The MCP request this code runs in (set by `RequestMiddleware`), or None."""
    return _current.get()


def describe(ctx: ServerRequestContext[Any, Any], span: Span = trace.INVALID_SPAN) -> McpRequest:
    """The conventions' attributes of a request, from the SDK's per-request context."""
    method = ctx.method
    params: Mapping[str, Any] = ctx.params or {}
    common: dict[str, AttributeValue] = {attr.MCP_METHOD_NAME: method}
    target = None
    target_key = _TARGETED.get(method)
    name = params.get("name")
    if target_key is not None and isinstance(name, str) and name:
        target = name
        common[target_key] = name
    if method == "tools/call":
        common[attr.GEN_AI_OPERATION_NAME] = attr.GEN_AI_OPERATION_EXECUTE_TOOL
    if ctx.protocol_version:
        common[attr.MCP_PROTOCOL_VERSION] = ctx.protocol_version
    span_only: dict[str, AttributeValue] = {}
    request = ctx.request
    if request is not None:
        common[attr.NETWORK_TRANSPORT] = "tcp"
        common[attr.NETWORK_PROTOCOL_NAME] = "http"
        http_version = getattr(request, "scope", {}).get("http_version")
        if http_version:
            common[attr.NETWORK_PROTOCOL_VERSION] = str(http_version)
        client = getattr(request, "client", None)
        if client is not None and client.host:
            span_only[attr.CLIENT_ADDRESS] = client.host
            if client.port:
                span_only[attr.CLIENT_PORT] = client.port
    else:
        transport = _fastmcp_transport()
        if transport == "stdio":
            common[attr.NETWORK_TRANSPORT] = "pipe"
        elif transport is not None:
            common[attr.NETWORK_TRANSPORT] = "tcp"
    if method in _WITH_URI:
        uri = params.get("uri")
        if isinstance(uri, str) and uri:
            span_only[attr.MCP_RESOURCE_URI] = uri
    if ctx.request_id is not None:
        span_only[attr.JSONRPC_REQUEST_ID] = str(ctx.request_id)
    found = McpRequest(
        method=method,
        target=target,
        span=span,
        span_attributes={**common, **span_only},
        metric_attributes=common,
    )
    found.client_name, found.client_version = _client_info(ctx, params)
    found.session_id = _session_id(ctx)
    if found.session_id:
        found.span_attributes[attr.MCP_SESSION_ID] = found.session_id
    found.span_attributes.update(found.client_attributes())
    return found


def _fastmcp_transport() -> str | None:
    """'stdio', 'sse', 'streamable-http', or None in memory (FastMCP's own record of `run()`)."""
    try:
        from fastmcp.server.context import _current_transport
    except ImportError:  # pragma: no cover - a FastMCP without it
        return None
    return _current_transport.get()


def _client_info(ctx: ServerRequestContext[Any, Any], params: Mapping[str, Any]) -> tuple[str | None, str | None]:
    info: Any = None
    client_params = getattr(ctx.session, "client_params", None)
    if client_params is not None:
        info = getattr(client_params, "client_info", None)
    if info is None:
        info = _meta(ctx).get(CLIENT_INFO_META)
    if info is None and ctx.method == "initialize":
        info = params.get("clientInfo")
    if info is None:
        return None, None
    if isinstance(info, Mapping):
        name, version = info.get("name"), info.get("version")
    else:
        name, version = getattr(info, "name", None), getattr(info, "version", None)
    return (str(name) if name else None, str(version) if version else None)


def _connection(ctx: ServerRequestContext[Any, Any]) -> Any:
    return getattr(ctx.session, "_connection", None)


def _session_id(ctx: ServerRequestContext[Any, Any]) -> str | None:
    """The `Mcp-Session-Id` of a handshake-era session; None on 2026-07-28 and on pipes."""
    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
        return None
    connection = _connection(ctx)
    session_id = getattr(connection, "session_id", None)
    if not session_id and ctx.request is not None:
        session_id = ctx.request.headers.get(SESSION_ID_HEADER)
    return str(session_id) if session_id else None


def _drop_attributes(span: Span, keys: tuple[str, ...]) -> None:
    """Remove attributes from a span that has not ended (the OTel API cannot; the SDK's map can)."""
    attributes = getattr(span, "_attributes", None)
    if attributes is None:
        return
    for key in keys:
        with contextlib.suppress(KeyError, TypeError):
            del attributes[key]


def _apply(request: McpRequest, span: Span) -> None:
    """Make the request's span say what the conventions say, whoever recorded what before."""
    outcome = request.outcome
    stale = [attr.ERROR_TYPE, attr.RPC_RESPONSE_STATUS_CODE]
    if not request.session_id:
        stale.append(attr.MCP_SESSION_ID)
    _drop_attributes(span, tuple(stale))
    span.set_attributes(outcome.attributes())
    if outcome.is_error:
        span.set_status(Status(StatusCode.ERROR, outcome.message or outcome.error_type))
    elif getattr(span, "_status", None) is not None and span.status.status_code is StatusCode.ERROR:  # type: ignore[attr-defined]
        span._status = Status(StatusCode.UNSET)  # type: ignore[attr-defined]  # set_status cannot unset


def _correct_before_end(request: McpRequest, span: Span) -> None:
    """Run `_apply` on FastMCP's span after its seam recorded the error, just before it ends."""
    original_end = span.end

    def end(end_time: int | None = None) -> None:
        try:
            _apply(request, span)
        except Exception:  # never break FastMCP's own bookkeeping
            logger.debug("could not correct FastMCP's request span", exc_info=True)
        original_end(end_time)

    try:
        span.end = end  # type: ignore[method-assign]
    except AttributeError:  # a span type without an instance dict: leave FastMCP's values
        logger.debug("FastMCP's request span cannot be corrected: %r", type(span))


def _fastmcp_request_span() -> Span | None:
    """FastMCP's seam span, when it is the current span and recording."""
    span = trace.get_current_span()
    scope = getattr(span, "instrumentation_scope", None)
    if span.is_recording() and getattr(scope, "name", None) == FASTMCP_SCOPE:
        return span
    return None


def _meta(ctx: ServerRequestContext[Any, Any]) -> Mapping[str, Any]:
    """The request's raw `_meta` (the SDK's `ctx.meta` keeps only the keys it types)."""
    raw = (ctx.params or {}).get("_meta")
    if isinstance(raw, Mapping):
        return raw
    return ctx.meta if isinstance(ctx.meta, Mapping) else {}


def _parent_context(ctx: ServerRequestContext[Any, Any]) -> otel_context.Context | None:
    """The current context when it holds a span (FastMCP's `propagation_only` attached the
    client's); else the client's trace context from `_meta` (FastMCP `off` reads none)."""
    if trace.get_current_span().get_span_context().is_valid:
        return None
    meta = _meta(ctx)
    carrier = {k: str(meta[k]) for k in ("traceparent", "tracestate") if k in meta}
    return propagate.extract(carrier) if carrier else None


class RequestMiddleware:
    """MCP SDK context-tier middleware: one conventions-true SERVER span and one
    `mcp.server.operation.duration` point per request, in every FastMCP telemetry mode."""

    def __init__(self, *, capture_arguments: bool = False, redactor: Redactor | None = None) -> None:
        self.capture_arguments = capture_arguments
        self.redactor = redactor or Redactor()

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.request_id is None:  # a notification: no SERVER span (FastMCP makes none either)
            return await call_next(ctx)
        started = time.perf_counter()
        request = describe(ctx)
        if self.capture_arguments and ctx.method == "prompts/get":
            request.span_attributes.update(self._prompt_variables(ctx.params or {}))
        native = native_spans_enabled()
        fastmcp_span = _fastmcp_request_span() if native else None
        otel_token = None
        if fastmcp_span is not None:
            request.span = fastmcp_span
            fastmcp_span.set_attributes(request.span_attributes)
            _correct_before_end(request, fastmcp_span)
        elif not native:  # (native with a span that records nothing, e.g. sampled out: no second one)
            request.span = tracer().start_span(
                request.span_name,
                context=_parent_context(ctx),
                kind=SpanKind.SERVER,
                attributes=request.span_attributes,
            )
            otel_token = otel_context.attach(trace.set_span_in_context(request.span))
        _start_session(ctx, request)
        token = _current.set(request)
        try:
            result = await call_next(ctx)
            if ctx.method == "tools/call" and _is_tool_error(result):
                request.outcome.error_type = attr.ERROR_TYPE_TOOL_ERROR
                request.outcome.message = _first_text(result) or attr.ERROR_TYPE_TOOL_ERROR
            return result
        except MCPError as error:
            request.outcome.jsonrpc_error(error.error.code, error.error.message)
            raise
        except ValidationError:
            request.outcome.jsonrpc_error(INVALID_PARAMS, "Invalid request parameters")
            raise
        except Exception as error:
            request.outcome.error_type = type(error).__qualname__
            request.outcome.message = str(error) or type(error).__name__
            if otel_token is not None:
                request.span.record_exception(error)
            raise
        finally:
            _current.reset(token)
            if otel_token is not None:
                _apply(request, request.span)
                request.span.end()
                otel_context.detach(otel_token)
            instruments().record_mcp_operation(
                time.perf_counter() - started, {**request.metric_attributes, **request.outcome.attributes()}
            )

    def _prompt_variables(self, params: Mapping[str, Any]) -> dict[str, AttributeValue]:
        arguments = params.get("arguments") or {}
        if not isinstance(arguments, Mapping):
            return {}
        redacted = self.redactor.redact(dict(arguments))
        return {
            attr.GEN_AI_PROMPT_VARIABLE_PREFIX + str(k): self.redactor.cap(v)
            if isinstance(v, str)
            else self.redactor.to_json(v)
            for k, v in redacted.items()
        }


def _first_text(result: Any) -> str:
    """The first text block of a tool result (wire dict or model), for the status message."""
    content = result.get("content") if isinstance(result, Mapping) else getattr(result, "content", None)
    for block in content or ():
        text = block.get("text") if isinstance(block, Mapping) else getattr(block, "text", None)
        if isinstance(text, str):
            return text[:500]
    return ""


def _is_tool_error(result: Any) -> bool:
    if isinstance(result, CallToolResult):
        return bool(result.is_error)
    return isinstance(result, Mapping) and result.get("isError") is True


def _start_session(ctx: ServerRequestContext[Any, Any], request: McpRequest) -> None:
    """On a handshake-era connection's first request, arrange its `mcp.server.session.duration`."""
    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
        return
    connection = _connection(ctx)
    state = getattr(connection, "state", None)
    exit_stack = getattr(connection, "exit_stack", None)
    if not isinstance(state, dict) or exit_stack is None or _SESSION_STARTED in state:
        return
    state[_SESSION_STARTED] = time.perf_counter()
    network = {
        k: v
        for k, v in request.metric_attributes.items()
        if k in (attr.NETWORK_PROTOCOL_NAME, attr.NETWORK_PROTOCOL_VERSION, attr.NETWORK_TRANSPORT)
    }

    def ended() -> None:
        attributes: dict[str, AttributeValue] = dict(network)
        version = getattr(connection, "protocol_version", None) or ctx.protocol_version
        if version:
            attributes[attr.MCP_PROTOCOL_VERSION] = version
        instruments().record_mcp_session(time.perf_counter() - state[_SESSION_STARTED], attributes)

    exit_stack.callback(ended)
