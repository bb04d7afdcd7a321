"""Every attribute, metric and event name this package writes, in one place.

OpenTelemetry semantic-convention names are used where they exist so that generic
OpenTelemetry backends understand the spans; the `getgather.*` names are ours. The
stock SQL, the views and the docs all refer to these constants, so a rename happens here.

`CONVENTION_NAMES` lists every name below that the MCP conventions define or reference
(open-telemetry/semantic-conventions-genai, `model/mcp/`; `service.name` and `url.full` come
from the general OpenTelemetry conventions); `tests/semconv/mcp_names.txt` keeps the conventions' own list with
its source commit, and a test checks each of ours is in it, so a renamed convention fails.
"""

from typing import Final

__all__ = [
    "ACTIVITY_CANCELLED",
    "ACTIVITY_KIND",
    "ACTIVITY_KINDS",
    "ACTIVITY_NAME",
    "BRAND_ID",
    "BROWSER_ACTION",
    "BROWSER_CHALLENGE_PROVIDER",
    "BROWSER_DIALOG_MESSAGE",
    "BROWSER_DIALOG_TYPE",
    "BROWSER_DOCUMENT",
    "BROWSER_DOWNLOAD_FILENAME",
    "BROWSER_ERROR",
    "BROWSER_FRAME_URL",
    "BROWSER_RESOURCE_TYPE",
    "BROWSER_SELECTOR",
    "BROWSER_SIGN_IN_FORM",
    "BROWSER_TARGET_TYPE",
    "CLIENT_ADDRESS",
    "CLIENT_NAME",
    "CLIENT_PORT",
    "CLIENT_VERSION",
    "CONVENTION_NAMES",
    "DURATION_BUCKETS_S",
    "ERROR_TYPE",
    "ERROR_TYPE_TOOL_ERROR",
    "EVENT_ACTION",
    "EVENT_BROWSER_CALL_FAILED",
    "EVENT_CHALLENGE",
    "EVENT_CONTEXT_SHARED",
    "EVENT_DIALOG",
    "EVENT_DOWNLOAD",
    "EVENT_ELEMENT_MISSING",
    "EVENT_HTTP_ERROR",
    "EVENT_NAVIGATION",
    "EVENT_NAVIGATION_ERROR",
    "EVENT_PAGE_CLOSED",
    "EVENT_PAGE_CRASHED",
    "EVENT_RECORDING_START",
    "EVENT_RECORDING_STOP",
    "EVENT_REQUEST_FAILED",
    "EVENT_SIGN_IN_FORM",
    "EVIDENCE_DROPPED",
    "EVIDENCE_EVENTS",
    "EVIDENCE_EVENT_NAMES",
    "FAILURE_CLASS",
    "FAILURE_DOCUMENT_READY_STATE",
    "FAILURE_SELECTOR_MATCHES",
    "FAILURE_SELECTOR_VISIBLE",
    "GEN_AI_OPERATION_EXECUTE_TOOL",
    "GEN_AI_OPERATION_NAME",
    "GEN_AI_PROMPT_NAME",
    "GEN_AI_PROMPT_VARIABLE_PREFIX",
    "GEN_AI_TOOL_CALL_ARGUMENTS",
    "GEN_AI_TOOL_CALL_RESULT",
    "GEN_AI_TOOL_NAME",
    "HTTP_REQUEST_METHOD",
    "HTTP_RESPONSE_STATUS_CODE",
    "IMPORT_CREATED_AT",
    "IMPORT_ID",
    "IMPORT_SOURCE",
    "JSONRPC_REQUEST_ID",
    "KIND_AUTH",
    "KIND_CUSTOM",
    "KIND_GENERAL",
    "KIND_TOOL",
    "LEGACY_TOOL_ARGUMENTS",
    "LEGACY_TOOL_RESULT",
    "MCP_METHOD_NAME",
    "MCP_PROTOCOL_VERSION",
    "MCP_RESOURCE_URI",
    "MCP_SESSION_ID",
    "METRIC_ACTIVITY_DURATION",
    "METRIC_MCP_OPERATION_DURATION",
    "METRIC_MCP_SESSION_DURATION",
    "NETWORK_PROTOCOL_NAME",
    "NETWORK_PROTOCOL_VERSION",
    "NETWORK_TRANSPORT",
    "PRIVACY_REDACTIONS_PREFIX",
    "RECORDING_BYTES",
    "RECORDING_DROPPED_EVENTS",
    "RECORDING_EVENTS",
    "RECORDING_ID",
    "RECORDING_PAGES",
    "RECORDING_PAGE_ID",
    "REDACTION_ATTRIBUTE",
    "REDACTION_CARD",
    "REDACTION_EDITABLE",
    "REDACTION_FORM_FIELD",
    "REDACTION_FRAGMENT",
    "REDACTION_INPUT",
    "REDACTION_INPUT_VALUE",
    "REDACTION_JWT",
    "REDACTION_SECRET",
    "REDACTION_SELECT",
    "REDACTION_SRCDOC",
    "REDACTION_TEXT_CLASS",
    "REDACTION_TEXT_PATTERN",
    "REDACTION_TEXT_PREFIX",
    "REDACTION_TOKEN",
    "REDACTION_URL_KEY",
    "REDACTION_USERINFO",
    "RPC_RESPONSE_STATUS_CODE",
    "SCOPE_NAME",
    "SERVICE_NAME",
    "TAG_ACTIVITY_END",
    "TAG_ACTIVITY_START",
    "TAG_SEGMENT",
    "TOOL_TAGS",
    "URL_FULL",
]

# --- OpenTelemetry semantic conventions: MCP (model/mcp/registry.yaml) ---
MCP_METHOD_NAME: Final = "mcp.method.name"
MCP_SESSION_ID: Final = "mcp.session.id"  # only the Mcp-Session-Id of a handshake-era session
MCP_RESOURCE_URI: Final = "mcp.resource.uri"
MCP_PROTOCOL_VERSION: Final = "mcp.protocol.version"
# --- referenced by the MCP conventions (model/mcp/common.yaml, spans.yaml, metrics.yaml) ---
GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
GEN_AI_PROMPT_NAME: Final = "gen_ai.prompt.name"
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_OPERATION_EXECUTE_TOOL: Final = "execute_tool"
GEN_AI_TOOL_CALL_ARGUMENTS: Final = "gen_ai.tool.call.arguments"  # opt-in (capture_arguments)
GEN_AI_TOOL_CALL_RESULT: Final = "gen_ai.tool.call.result"  # opt-in (capture_arguments)
GEN_AI_PROMPT_VARIABLE_PREFIX: Final = "gen_ai.prompt.variable."  # opt-in: + the argument's name
JSONRPC_REQUEST_ID: Final = "jsonrpc.request.id"
RPC_RESPONSE_STATUS_CODE: Final = "rpc.response.status_code"
ERROR_TYPE: Final = "error.type"
ERROR_TYPE_TOOL_ERROR: Final = "tool_error"
NETWORK_TRANSPORT: Final = "network.transport"  # `pipe` for stdio, `tcp` for HTTP
NETWORK_PROTOCOL_NAME: Final = "network.protocol.name"
NETWORK_PROTOCOL_VERSION: Final = "network.protocol.version"
CLIENT_ADDRESS: Final = "client.address"
CLIENT_PORT: Final = "client.port"
# --- other OpenTelemetry conventions ---
SERVICE_NAME: Final = "service.name"
URL_FULL: Final = "url.full"
HTTP_REQUEST_METHOD: Final = "http.request.method"  # on evidence events (a response >= 400, a failed request)
HTTP_RESPONSE_STATUS_CODE: Final = "http.response.status_code"

# --- getgather's own names ---
ACTIVITY_NAME: Final = "getgather.activity.name"
ACTIVITY_KIND: Final = "getgather.activity.kind"
# True on an activity whose block was cancelled from outside (`asyncio.CancelledError`: the MCP
# client cancelled the call or went away): not a failure, as the request's SERVER span says.
ACTIVITY_CANCELLED: Final = "getgather.activity.cancelled"
BRAND_ID: Final = "getgather.brand.id"
TOOL_TAGS: Final = "getgather.tool.tags"
# The calling MCP client, from its `clientInfo` (the handshake's, or the per-request
# `io.modelcontextprotocol/clientInfo` of protocol 2026-07-28). No convention names it.
CLIENT_NAME: Final = "getgather.client.name"
CLIENT_VERSION: Final = "getgather.client.version"
# Opt-in capture wrote these until issue 16 (now GEN_AI_TOOL_CALL_*); files written before hold them.
LEGACY_TOOL_ARGUMENTS: Final = "getgather.tool.arguments"
LEGACY_TOOL_RESULT: Final = "getgather.tool.result"
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
METRIC_MCP_SESSION_DURATION: Final = "mcp.server.session.duration"
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
# What the privacy defaults caught in an activity, one attribute per kind (issue 15):
# `getgather.privacy.redactions.<kind>`, the number of values or texts replaced in what is
# stored (an occurrence each time: a page snapshotted twice counts its masked values twice).
# The kinds are the REDACTION_* names below.
PRIVACY_REDACTIONS_PREFIX: Final = "getgather.privacy.redactions."

# Secret-looking values in URLs (navigations, Meta hrefs, chunk rows, URL-bearing attributes
# inside snapshots and mutations, URL span attributes), found by `capture/secret_values.py`.
REDACTION_CARD: Final = "card"
"""A Luhn-valid card number in a URL: a GET form's field, a path segment, a fragment."""
REDACTION_JWT: Final = "jwt"
"""A JSON Web Token in a URL: sign-in redirects and links carry them whatever the key."""
REDACTION_TOKEN: Final = "token"
"""An API-key or bearer shape, or a long high-entropy run, in a URL (a reset link's path)."""
REDACTION_URL_KEY: Final = "url_key"
"""A URL query value under a secret-looking key (`?session=`, `?password=`): replaced whatever it looks like."""
REDACTION_FRAGMENT: Final = "fragment"
"""A URL fragment, dropped whole: OAuth implicit flows and single-page apps keep tokens there without a key."""
REDACTION_USERINFO: Final = "userinfo"
"""`user:password@` in a URL."""
REDACTION_FORM_FIELD: Final = "form_field"
"""A query value of a URL a GET form submission made: the form's fields, which the recorder masks in the page."""
REDACTION_ATTRIBUTE: Final = "attribute"
"""A `data-*` attribute named like a secret (`data-api-key`, `data-csrf`), replaced whatever it holds."""
REDACTION_SRCDOC: Final = "srcdoc"
"""An iframe's `srcdoc` (a whole inline document) emptied: its document is recorded on its own, masked."""
# What the recorder's world masked in a page (`js/privacy.js`), carried to Python on the
# payloads the page sends anyway (their `masked` field), or counted on arrival (`input`).
REDACTION_INPUT: Final = "input"
"""A typed value masked in an Input event (what a person or the automation typed or chose)."""
REDACTION_INPUT_VALUE: Final = "input_value"
"""An input's or textarea's value masked inside a snapshot or mutation: prefilled, hidden, set by script."""
REDACTION_SELECT: Final = "select"
"""A select's or datalist's choice masked: its value, and each option's value, label and text."""
REDACTION_EDITABLE: Final = "editable"
"""Text masked in an editable region (`contenteditable` true or plaintext-only, a textarea's text)."""
REDACTION_TEXT_CLASS: Final = "text_class"
"""Page text masked because it sits under `mask_text_class` (`rr-mask`) or `mask_text_selector`."""
REDACTION_TEXT_PREFIX: Final = "text_"
"""Page text matching a `mask_text_patterns` entry: `text_card`, `text_jwt`, `text_token`, `text_email`,
`text_phone` for the named patterns, `text_pattern` for a regular expression of the caller's."""
REDACTION_TEXT_PATTERN: Final = "text_pattern"
"""Page text matching a `mask_text_patterns` regular expression that is not one of the named patterns."""
# The tool's own secrets.
REDACTION_SECRET: Final = "secret"
"""A value of the trace's own secrets (secret-named tool arguments, `activity(secrets=...)`,
`Activity.add_secret`) scrubbed from a span or a recording."""
BROWSER_ACTION: Final = "getgather.browser.action"
BROWSER_SELECTOR: Final = "getgather.browser.selector"

# Span events.
EVENT_RECORDING_START: Final = "browser.recording.start"
EVENT_RECORDING_STOP: Final = "browser.recording.stop"
EVENT_NAVIGATION: Final = "browser.navigation"
EVENT_ACTION: Final = "browser.action"
EVENT_PAGE_CLOSED: Final = "browser.page.closed"
EVENT_PAGE_CRASHED: Final = "browser.page.crashed"
EVENT_CONTEXT_SHARED: Final = "browser.context.shared"

# Evidence of what went wrong in a recorded page (issue 18, recording/evidence.py): span
# events on the root activity, at most `RecordingOptions.max_evidence_events` each.
EVENT_HTTP_ERROR: Final = "browser.http.error"  # a response with status >= 400
EVENT_REQUEST_FAILED: Final = "browser.request.failed"  # no response (refused, DNS, blocked, ...)
EVENT_NAVIGATION_ERROR: Final = "browser.navigation.error"  # the main frame's document did not load
EVENT_DIALOG: Final = "browser.dialog"  # alert, confirm, prompt, beforeunload
EVENT_DOWNLOAD: Final = "browser.download"
EVENT_CHALLENGE: Final = "browser.challenge"  # a known captcha / bot-wall provider's frame or script
EVENT_BROWSER_CALL_FAILED: Final = "browser.call.failed"  # a browser API call raised (timeouts included)
EVENT_ELEMENT_MISSING: Final = "browser.element.missing"  # the selector a timed-out call waited for
EVENT_SIGN_IN_FORM: Final = "browser.sign_in_form"  # the failing page shows a sign-in form
BROWSER_RESOURCE_TYPE: Final = "getgather.browser.resource_type"  # CDP Network.ResourceType: Document, Image, ...
BROWSER_DOCUMENT: Final = "getgather.browser.document"  # true: the page's main-frame document
BROWSER_ERROR: Final = "getgather.browser.error"  # the browser's error text (net::ERR_..., a timeout message)
BROWSER_DIALOG_TYPE: Final = "getgather.browser.dialog.type"
BROWSER_DIALOG_MESSAGE: Final = "getgather.browser.dialog.message"
BROWSER_DOWNLOAD_FILENAME: Final = "getgather.browser.download.filename"
BROWSER_CHALLENGE_PROVIDER: Final = "getgather.browser.challenge.provider"
# Which sign-in form the page shows (browser.sign_in_form): "password", "identifier" (identifier
# first), or "sso" (only a button to sign in with another account).
BROWSER_SIGN_IN_FORM: Final = "getgather.browser.sign_in_form"
# Evidence from a page's child target: "iframe" (out of process), "worker", "service_worker".
BROWSER_TARGET_TYPE: Final = "getgather.browser.target_type"
# The URL (redacted) of the child frame's document, or the worker's script, a request came from.
BROWSER_FRAME_URL: Final = "getgather.browser.frame.url"
# Whether the timed-out selector matches in the page at the failure checkpoint: true = the
# element is there (a slow page, or a hidden one: see the next), false = it is not (a changed page).
FAILURE_SELECTOR_MATCHES: Final = "getgather.failure.selector_matches"
# Of a selector that matches at the failure: whether a match is visible (Playwright's visibility).
FAILURE_SELECTOR_VISIBLE: Final = "getgather.failure.selector_visible"
# The failing page's `document.readyState` at the failure when it had not finished loading
# ("loading", "interactive"): a selector missing from a page still streaming may be on its way.
FAILURE_DOCUMENT_READY_STATE: Final = "getgather.failure.document.ready_state"
# Every span event that is evidence (the viewer lists these and seeks the replay to the first).
EVIDENCE_EVENT_NAMES: Final = (
    EVENT_HTTP_ERROR,
    EVENT_REQUEST_FAILED,
    EVENT_NAVIGATION_ERROR,
    EVENT_DIALOG,
    EVENT_DOWNLOAD,
    EVENT_CHALLENGE,
    EVENT_SIGN_IN_FORM,
    EVENT_BROWSER_CALL_FAILED,
    EVENT_ELEMENT_MISSING,
    EVENT_PAGE_CRASHED,
)
# On every failed activity: bot_challenge, signed_out, element_missing, navigation_error,
# site_error, browser_crash, tool_error, unknown (capture/failures.py), or a user class.
FAILURE_CLASS: Final = "getgather.failure.class"
EVIDENCE_EVENTS: Final = "getgather.evidence.events"  # evidence seen (kept as events or not)
EVIDENCE_DROPPED: Final = "getgather.evidence.dropped"  # evidence over the cap: counted, no event

# rrweb custom-event tags getgather-otel writes into recordings (span boundaries).
TAG_ACTIVITY_START: Final = "getgather.activity.start"
TAG_ACTIVITY_END: Final = "getgather.activity.end"
TAG_SEGMENT: Final = "getgather.segment"

# Every name above that the MCP conventions define or reference (checked against
# tests/semconv/mcp_names.txt).
CONVENTION_NAMES: Final = frozenset(
    {
        MCP_METHOD_NAME,
        MCP_SESSION_ID,
        MCP_RESOURCE_URI,
        MCP_PROTOCOL_VERSION,
        GEN_AI_TOOL_NAME,
        GEN_AI_PROMPT_NAME,
        GEN_AI_OPERATION_NAME,
        GEN_AI_TOOL_CALL_ARGUMENTS,
        GEN_AI_TOOL_CALL_RESULT,
        GEN_AI_PROMPT_VARIABLE_PREFIX.rstrip("."),
        JSONRPC_REQUEST_ID,
        RPC_RESPONSE_STATUS_CODE,
        ERROR_TYPE,
        NETWORK_TRANSPORT,
        NETWORK_PROTOCOL_NAME,
        NETWORK_PROTOCOL_VERSION,
        CLIENT_ADDRESS,
        CLIENT_PORT,
        METRIC_MCP_OPERATION_DURATION,
        METRIC_MCP_SESSION_DURATION,
    }
)
