"""Activities: one span per unit of work a user cares about (a tool call, a login, ...).

`activity()` works as `async with` and as `with`. The active activity lives in a
ContextVar, so `current_activity()` finds it through any depth of awaits and in tasks
created inside it (asyncio copies the context into new tasks), and concurrent tool calls
never see each other's activity. Browser recording uses the same handle to decide which
activity owns a browser context.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextvars import ContextVar, Token
from types import TracebackType

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode, TracerProvider
from opentelemetry.util.types import AttributeValue

from getgather_otel._log import logger
from getgather_otel.capture import attributes as attr
from getgather_otel.capture import secrets as secrets_registry
from getgather_otel.capture.metrics import instruments
from getgather_otel.version import __version__

__all__ = [
    "FAILURE_HOOK_TIMEOUT_S",
    "FASTMCP_SCOPE",
    "INHERITED_ATTRIBUTES",
    "Activity",
    "ActivityHook",
    "FailureHook",
    "activity",
    "add_failure_hook",
    "add_lifecycle_hooks",
    "current_activity",
    "error_type_of",
    "tracer",
    "use_tracer_provider",
]

# FastMCP's spans (request seam, mounted-server delegation) are plumbing around a tool
# call; an activity opened inside the tool belongs under the tool's activity instead.
FASTMCP_SCOPE = "fastmcp"

# What a nested activity takes from the one it runs in: the MCP client whose call it serves.
INHERITED_ATTRIBUTES = (attr.CLIENT_NAME, attr.CLIENT_VERSION)

_current: ContextVar[Activity | None] = ContextVar("getgather_otel_activity", default=None)
_tracer_provider: TracerProvider | None = None


_cached_tracer: trace.Tracer | None = None

# Observers of activity starts and ends (browser recording marks span boundaries and
# finishes a recording before its activity's span ends). Called inline: keep them cheap.
ActivityHook = Callable[["Activity"], None]
_start_hooks: list[ActivityHook] = []
_end_hooks: list[ActivityHook] = []


def add_lifecycle_hooks(on_start: ActivityHook, on_end: ActivityHook) -> None:
    """Call `on_start` after an activity's span starts and `on_end` just before it ends (once each)."""
    if on_start not in _start_hooks:
        _start_hooks.append(on_start)
    if on_end not in _end_hooks:
        _end_hooks.append(on_end)


# Awaited when an `async with activity(...)` block fails, before its span ends, while the
# browser still shows the failure (evidence capture takes a checkpoint and reads the pages).
FailureHook = Callable[["Activity"], Awaitable[None]]
_failure_hooks: list[FailureHook] = []
_last_failure_hooks: list[FailureHook] = []
FAILURE_HOOK_TIMEOUT_S = 2.0


def add_failure_hook(hook: FailureHook, *, last: bool = False) -> None:
    """Await `hook(activity)` when an async activity block fails (raises, or was marked failed), before it ends.

    The activity's `error_type` is set by then. All hooks together get at most
    FAILURE_HOOK_TIMEOUT_S, run side by side; a hook that raises is logged. `last`: awaited
    after those, one after the other, with no time limit of this module's (the failure's
    class, decided from what they gathered, `failures.py`, keeps its own).
    """
    hooks = _last_failure_hooks if last else _failure_hooks
    if hook not in hooks:
        hooks.append(hook)


async def _guarded(hook: FailureHook, current: Activity) -> None:
    try:
        await hook(current)
    except Exception:
        logger.exception("activity failure hook %r failed", hook)


async def _run_failure_hooks(current: Activity) -> None:
    if _failure_hooks:
        tasks = [asyncio.ensure_future(_guarded(hook, current)) for hook in _failure_hooks]
        _done, pending = await asyncio.wait(tasks, timeout=FAILURE_HOOK_TIMEOUT_S)
        for task in pending:
            task.cancel()
    for hook in _last_failure_hooks:
        await _guarded(hook, current)


def _register_secrets(trace_id: str, values: Iterable[object]) -> None:
    """`secrets.register`, which must not fail the tool: an error there is logged (a newcomer's
    break: a value that is not valid Unicode raised into the tool, its span never ended)."""
    try:
        secrets_registry.register(trace_id, values)
    except Exception:
        logger.exception("a secret could not be registered for trace %s", trace_id)


def _run_hooks(hooks: list[ActivityHook], current: Activity) -> None:
    for hook in hooks:
        try:
            hook(current)
        except Exception:  # an observer must never break the activity it observes
            logger.exception("activity hook %r failed", hook)


def use_tracer_provider(provider: TracerProvider | None) -> None:
    """Create activity spans with `provider` (None: the global provider)."""
    global _tracer_provider, _cached_tracer
    _tracer_provider = provider
    _cached_tracer = None


def _tracer() -> trace.Tracer:
    """The activity tracer, made once per provider (`get_tracer` is costly per call)."""
    global _cached_tracer
    if _cached_tracer is None:
        _cached_tracer = trace.get_tracer(attr.SCOPE_NAME, __version__, tracer_provider=_tracer_provider)
    return _cached_tracer


def tracer() -> trace.Tracer:
    """The tracer getgather-otel's own spans come from (activities, MCP request spans)."""
    return _tracer()


def current_activity() -> Activity | None:
    """The innermost activity active in this context, or None."""
    return _current.get()


def error_type_of(error: BaseException) -> str:
    """`error.type` for an exception raised through a tool call.

    FastMCP wraps a tool's unexpected exception in `ToolError("Error calling tool ...")`
    with the original as `__cause__`: the original's class is what tells operators what
    broke. A `ToolError` the tool raised itself is a deliberate tool-level failure, which
    the MCP conventions call `tool_error` (the client receives it as an `isError` result).
    """
    if type(error).__name__ == "ToolError":
        cause = error.__cause__
        return type(cause).__qualname__ if cause is not None else attr.ERROR_TYPE_TOOL_ERROR
    return type(error).__qualname__


class Activity:
    """A running activity: its span, ids and identity (name, brand, kind)."""

    __slots__ = ("_error", "_error_type", "_started", "brand_id", "inherited", "kind", "name", "parent", "span")

    def __init__(
        self,
        name: str,
        brand_id: str,
        kind: str,
        span: Span,
        parent: Activity | None = None,
        inherited: Mapping[str, AttributeValue] | None = None,
    ) -> None:
        self.name = name
        self.parent = parent
        self.brand_id = brand_id
        self.kind = kind
        self.span = span
        self.inherited = inherited or {}  # the INHERITED_ATTRIBUTES it has, for activities nested in it
        self._started = time.perf_counter()
        self._error_type: str | None = None
        # The exception failing the activity (None: none, or marked failed without one): the
        # failure rules tell from its chain whether a failed browser call is what it carries.
        self._error: BaseException | None = None

    @property
    def activity_id(self) -> str:
        """The span id in lowercase hex: `activities.activity_id` in the database."""
        return format(self.span.get_span_context().span_id, "016x")

    @property
    def root(self) -> Activity:
        """The outermost activity this one runs in (itself at top level): the one that owns browser recordings."""
        current = self
        while current.parent is not None:
            current = current.parent
        return current

    @property
    def trace_id(self) -> str:
        return format(self.span.get_span_context().trace_id, "032x")

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        self.span.set_attribute(key, value)

    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None:
        self.span.set_attributes(attributes)

    def add_event(self, name: str, attributes: Mapping[str, AttributeValue] | None = None) -> None:
        self.span.add_event(name, attributes)

    def add_secret(self, value: str) -> None:
        """Keep `value` out of everything stored for this activity's trace: spans, events,
        URLs and recordings, in plain, URL-encoded and HTML-escaped forms (`capture/secrets.py`).
        Late is fine while the activity runs: what its root activity recorded and the spans of
        its trace wait for the root to end before they are stored (`export/held.py`, bounded).
        Values shorter than `secrets.MIN_SECRET_CHARS` are ignored."""
        _register_secrets(self.trace_id, [value])

    def mark_error(self, error_type: str, message: str = "") -> None:
        """Mark the activity failed without an exception (e.g. an `isError` tool result)."""
        self._error_type = error_type
        self.span.set_attribute(attr.ERROR_TYPE, error_type)
        self.span.set_status(Status(StatusCode.ERROR, message or error_type))

    def record_exception(self, error: BaseException) -> None:
        """Mark the activity failed by `error`: ERROR status, `error.type`, exception event."""
        self._error = error
        self.span.record_exception(error)
        self.mark_error(error_type_of(error), str(error) or type(error).__name__)

    @property
    def error(self) -> BaseException | None:
        """The exception this activity failed with (as it leaves the block), or None."""
        return self._error

    @property
    def error_type(self) -> str | None:
        """The `error.type` this activity failed with, or None while it has not failed."""
        return self._error_type

    @property
    def elapsed_s(self) -> float:
        return time.perf_counter() - self._started

    def metric_attributes(self) -> dict[str, str]:
        base = {attr.BRAND_ID: self.brand_id, attr.ACTIVITY_NAME: self.name, attr.ACTIVITY_KIND: self.kind}
        if self._error_type:
            base[attr.ERROR_TYPE] = self._error_type
        return base

    def __repr__(self) -> str:
        return f"Activity(name={self.name!r}, brand_id={self.brand_id!r}, kind={self.kind!r}, id={self.activity_id})"


class activity:  # noqa: N801 - used like a function: `async with activity(...)`
    """Open an activity span for the enclosed block; yields the `Activity` handle.

    The span is a child of the current span. The one exception: inside a FastMCP tool
    call in native telemetry mode the current span is one of FastMCP's own request spans
    (see `middleware.py` for why the tool activity is not made current there), so a nested
    activity attaches to the enclosing activity instead, keeping the activity tree intact.

    Args:
        name: what the activity does (`getgather.activity.name`; span name `activity NAME`).
        brand_id: the site it works on, e.g. "netflix" (`getgather.brand.id`; "" for none).
        kind: one of `attributes.ACTIVITY_KINDS` (`getgather.activity.kind`).
        attach: False creates the span without making it the current OTel span; the
            ContextVar is set either way, so `current_activity()` always works.
        secrets: values never to be stored for this activity's trace (see `Activity.add_secret`).
        **attributes: more span attributes (OTel attribute values).

    Raises:
        ValueError: an empty name or an unknown kind.

    An exception leaving the block is recorded on the span (status Error, `error.type`) and
    re-raised; the span ends and the `getgather.activity.duration` histogram gets a point.
    """

    def __init__(
        self,
        name: str,
        brand_id: str = "",
        kind: str = attr.KIND_CUSTOM,
        *,
        attach: bool = True,
        secrets: Iterable[object] = (),
        **attributes: AttributeValue,
    ) -> None:
        if not name:
            raise ValueError("an activity needs a non-empty name")
        if kind not in attr.ACTIVITY_KINDS:
            raise ValueError(f"kind must be one of {sorted(attr.ACTIVITY_KINDS)}, not {kind!r}")
        self._name = name
        self._brand_id = brand_id or ""
        self._kind = kind
        self._attach = attach
        self._attributes = attributes
        # A single string is one value, not its characters (each too short to be kept).
        self._secrets = (secrets,) if isinstance(secrets, (str, bytes)) else tuple(secrets)
        self._activity: Activity | None = None
        self._var_token: Token[Activity | None] | None = None
        self._otel_token: object | None = None

    def _parent_context(self) -> otel_context.Context | None:
        outer = _current.get()
        if outer is None:
            return None
        current = trace.get_current_span()
        scope = getattr(current, "instrumentation_scope", None)
        if current is not outer.span and getattr(scope, "name", None) == FASTMCP_SCOPE:
            return trace.set_span_in_context(outer.span)
        return None

    def __enter__(self) -> Activity:
        outer = _current.get()
        span_attributes: dict[str, AttributeValue] = {
            attr.ACTIVITY_NAME: self._name,
            attr.ACTIVITY_KIND: self._kind,
            attr.BRAND_ID: self._brand_id,
            **(outer.inherited if outer is not None else {}),
            **self._attributes,
        }
        inherited = {key: span_attributes[key] for key in INHERITED_ATTRIBUTES if key in span_attributes}
        span = _tracer().start_span(
            f"activity {self._name}", context=self._parent_context(), attributes=span_attributes
        )
        self._activity = Activity(self._name, self._brand_id, self._kind, span, outer, inherited)
        # The trace's secrets are kept while it runs, however long (a sign-in waiting for its code).
        secrets_registry.hold(self._activity.trace_id)
        if self._secrets:
            _register_secrets(self._activity.trace_id, self._secrets)
        self._var_token = _current.set(self._activity)
        if self._attach:
            self._otel_token = otel_context.attach(trace.set_span_in_context(span))
        if _start_hooks:
            _run_hooks(_start_hooks, self._activity)
        return self._activity

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        current = self._activity
        assert current is not None, "activity exited without being entered"
        try:
            if isinstance(exc, asyncio.CancelledError):
                # Cancelled from outside (a client's cancel or disconnect; the tool's own
                # `wait_for` raises TimeoutError instead): no failure of the tool or the site.
                current.set_attribute(attr.ACTIVITY_CANCELLED, True)
            elif exc is not None and current.error is not exc:  # `__aexit__` may have recorded it
                current.record_exception(exc)
            if _end_hooks:
                _run_hooks(_end_hooks, current)
            current.span.end()
            instruments().record_activity(current.elapsed_s, current.metric_attributes())
        finally:
            secrets_registry.release(current.trace_id)
            if self._otel_token is not None:
                otel_context.detach(self._otel_token)  # type: ignore[arg-type]
            if self._var_token is not None:
                _current.reset(self._var_token)

    async def __aenter__(self) -> Activity:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        current = self._activity
        failed = isinstance(exc, Exception) or (exc is None and current is not None and current.error_type is not None)
        if current is not None and isinstance(exc, Exception):
            current.record_exception(exc)  # the failure hooks read its chain and its error.type
        if (_failure_hooks or _last_failure_hooks) and current is not None and failed:
            await _run_failure_hooks(current)
        self.__exit__(exc_type, exc, tb)
