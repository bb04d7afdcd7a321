"""Every attribute and event name this package writes, in one place.

MCP and GenAI semantic-convention names are used where they exist so that generic
OpenTelemetry backends understand the spans; the `getgather.*` names are ours. The
stock SQL, the views and the docs all refer to these constants, so a rename happens here.
"""

from typing import Final

__all__ = [
    "ACTIVITY_KIND",
    "ACTIVITY_KINDS",
    "ACTIVITY_NAME",
    "BRAND_ID",
    "BROWSER_ACTION",
    "BROWSER_SELECTOR",
    "DURATION_BUCKETS_S",
    "ERROR_TYPE",
    "ERROR_TYPE_TOOL_ERROR",
    "EVENT_ACTION",
    "EVENT_CONTEXT_SHARED",
    "EVENT_NAVIGATION",
    "EVENT_PAGE_CLOSED",
    "EVENT_PAGE_CRASHED",
    "EVENT_RECORDING_START",
    "EVENT_RECORDING_STOP",
    "GEN_AI_OPERATION_EXECUTE_TOOL",
    "GEN_AI_OPERATION_NAME",
    "GEN_AI_TOOL_NAME",
    "IMPORT_CREATED_AT",
    "IMPORT_ID",
    "IMPORT_SOURCE",
    "JSONRPC_REQUEST_ID",
    "KIND_AUTH",
    "KIND_CUSTOM",
    "KIND_GENERAL",
    "KIND_TOOL",
    "MCP_METHOD_NAME",
    "MCP_SESSION_ID",
    "METRIC_ACTIVITY_DURATION",
    "METRIC_MCP_OPERATION_DURATION",
    "RECORDING_BYTES",
    "RECORDING_DROPPED_EVENTS",
    "RECORDING_EVENTS",
    "RECORDING_ID",
    "RECORDING_PAGES",
    "RECORDING_PAGE_ID",
    "SCOPE_NAME",
    "SERVICE_NAME",
    "TAG_ACTIVITY_END",
    "TAG_ACTIVITY_START",
    "TAG_SEGMENT",
    "TOOL_ARGUMENTS",
    "TOOL_RESULT",
    "TOOL_TAGS",
    "URL_FULL",
]

# --- OpenTelemetry semantic conventions (MCP, GenAI, errors, JSON-RPC) ---
MCP_METHOD_NAME: Final = "mcp.method.name"
MCP_SESSION_ID: Final = "mcp.session.id"
JSONRPC_REQUEST_ID: Final = "jsonrpc.request.id"
GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_OPERATION_EXECUTE_TOOL: Final = "execute_tool"
ERROR_TYPE: Final = "error.type"
ERROR_TYPE_TOOL_ERROR: Final = "tool_error"
SERVICE_NAME: Final = "service.name"

# --- getgather's own names ---
ACTIVITY_NAME: Final = "getgather.activity.name"
ACTIVITY_KIND: Final = "getgather.activity.kind"
BRAND_ID: Final = "getgather.brand.id"
TOOL_TAGS: Final = "getgather.tool.tags"
TOOL_ARGUMENTS: Final = "getgather.tool.arguments"
TOOL_RESULT: Final = "getgather.tool.result"
RECORDING_ID: Final = "getgather.recording.id"
# On activities imported from getgather's SQLite tables (`getgather-otel import-getgather`).
IMPORT_SOURCE: Final = "getgather.import.source"
IMPORT_ID: Final = "getgather.import.id"
IMPORT_CREATED_AT: Final = "getgather.import.created_at"

# Activity kinds a span may carry in ACTIVITY_KIND.
KIND_TOOL: Final = "tool"
KIND_AUTH: Final = "auth"
KIND_GENERAL: Final = "general"
KIND_CUSTOM: Final = "custom"
ACTIVITY_KINDS: Final = frozenset({KIND_TOOL, KIND_AUTH, KIND_GENERAL, KIND_CUSTOM})

# --- metrics ---
METRIC_MCP_OPERATION_DURATION: Final = "mcp.server.operation.duration"
METRIC_ACTIVITY_DURATION: Final = "getgather.activity.duration"
DURATION_BUCKETS_S: Final = (
    0.01,
    0.02,
    0.05,
    0.1,
    0.2,
    0.5,
    1.0,
    2.0,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
)

# Instrumentation scope of the spans this package creates.
SCOPE_NAME: Final = "getgather_otel"

# --- browser recordings (span attributes on the activity that owns a recording) ---
RECORDING_PAGES: Final = "getgather.recording.pages"
RECORDING_EVENTS: Final = "getgather.recording.events"
RECORDING_BYTES: Final = "getgather.recording.bytes"
RECORDING_DROPPED_EVENTS: Final = "getgather.recording.dropped_events"
RECORDING_PAGE_ID: Final = "getgather.recording.page_id"
BROWSER_ACTION: Final = "getgather.browser.action"
BROWSER_SELECTOR: Final = "getgather.browser.selector"
URL_FULL: Final = "url.full"

# Span events.
EVENT_RECORDING_START: Final = "browser.recording.start"
EVENT_RECORDING_STOP: Final = "browser.recording.stop"
EVENT_NAVIGATION: Final = "browser.navigation"
EVENT_ACTION: Final = "browser.action"
EVENT_PAGE_CLOSED: Final = "browser.page.closed"
EVENT_PAGE_CRASHED: Final = "browser.page.crashed"
EVENT_CONTEXT_SHARED: Final = "browser.context.shared"

# rrweb custom-event tags getgather-otel writes into recordings (span boundaries).
TAG_ACTIVITY_START: Final = "getgather.activity.start"
TAG_ACTIVITY_END: Final = "getgather.activity.end"
TAG_SEGMENT: Final = "getgather.segment"
