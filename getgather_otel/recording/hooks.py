"""Where getgather-otel meets Patchright/Playwright: `record_browser` and the automatic hooks.

Three hooks, installed once per library (patchright and/or playwright, whichever is imported):

- Every protocol call goes through one `Channel` method (`send` in Patchright and
  Playwright <= 1.64, `_call` in Playwright >= 1.65). Wrapping it tells us, in the caller's
  own task, that the current activity is using a browser context (any page, frame,
  locator or handle of it): that is how a context reused by successive activities is
  attributed to each in turn, whatever API the tool code calls; and that the page it acts on
  is the activity's, whose evidence goes to it (evidence.py). It costs a ContextVar
  read per call outside activities, and an attribute walk of a few parents inside them.
- With `configure(record_browsers=True)`, `Browser.new_context`, `Browser.new_page` and
  `BrowserType.launch_persistent_context` attach a recorder to each context they create.
- `Page.close`, `BrowserContext.close` and `Browser.close` first take what recorded pages
  still hold in their queues (a batch not sent yet, a document whose binding has not
  appeared yet), so closing loses nothing; and when the activity closing them is failing
  (an exception on its way through the `finally` that closes, or a browser call failed and
  none returned since), the evidence watcher reads them and checkpoints them first, since
  after the close nothing can (evidence.py). Calls made while closing are not counted as
  browser calls that returned (a timeout before the close stays unhandled). A call cancelled
  (the tool's own `asyncio.wait_for` ran out) is evidence too (`evidence.call_cancelled`).
- After each browser action returns, the page it acted on is settled: what page scripts
  changed out of the recorder's isolated world (recorder.py) gets a fresh snapshot. The
  action does not wait for the settle's answer, only for its message to be sent.

A failure to record is logged and swallowed: the browser call itself always proceeds.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from getgather_otel._log import logger
from getgather_otel.capture.activity import current_activity
from getgather_otel.recording import evidence
from getgather_otel.recording.assets import MissingAssetError
from getgather_otel.recording.options import RecordingOptions
from getgather_otel.recording.recorder import RECORDER_ATTRIBUTE, ContextRecorder, in_internal_call
from getgather_otel.recording.recordings import install_activity_hooks

__all__ = [
    "LIBRARIES",
    "MAX_PARENT_DEPTH",
    "install_auto_recording",
    "record_browser",
    "uninstall_auto_recording",
    "use_default_options",
]

LIBRARIES = ("patchright", "playwright")
_HOOKED = "_getgather_otel_hooked"
# How far up the channel-owner tree a context is found (handle -> frame -> page -> context).
MAX_PARENT_DEPTH = 8

_default_options = RecordingOptions()
# Missing or stale browser assets already logged (`_record_quietly`).
_missing_said: set[str] = set()


def use_default_options(options: RecordingOptions) -> None:
    """Options for recorders attached without explicit ones (set by `configure(recording=...)`)."""
    global _default_options
    _default_options = options


def _recorder_above(owner: Any) -> ContextRecorder | None:
    if type(owner).__name__ == "CDPSession":  # the recorder's own sessions, or the tool's: no page use
        return None
    for _ in range(MAX_PARENT_DEPTH):
        if owner is None:
            return None
        recorder = getattr(owner, RECORDER_ATTRIBUTE, None)
        if recorder is not None:
            return recorder  # type: ignore[no-any-return]
        owner = getattr(owner, "_parent", None)
    return None


async def _follow_use(channel: Any, method: str, params: Any) -> ContextRecorder | None:
    """Tell the recorder of the context above `channel` that the current activity is using it."""
    activity = current_activity()
    if activity is None or in_internal_call():
        return None
    recorder = _recorder_above(channel._object)
    if recorder is None:
        return None
    evidence.drove(recorder, activity, channel._object)
    try:
        await recorder.on_use(activity, method, params, channel._object)
    except Exception:
        logger.exception("browser recording could not follow a %s call; the call proceeds", method)
    return recorder


async def _settle_after(recorder: ContextRecorder | None, channel: Any, method: str) -> None:
    """After an action returned: the recorder checks what page scripts changed out of its sight."""
    if recorder is None:
        return
    try:
        await recorder.after_use(method, channel._object)
    except Exception:
        logger.exception("browser recording could not settle after a %s call", method)


def _wrap_async_send(original: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Patchright and Playwright <= 1.64: `async Channel.send(method, timeout, params, ...)`."""

    @functools.wraps(original)
    async def send(self: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        params = args[1] if len(args) > 1 else kwargs.get("params")
        recorder = await _follow_use(self, method, params)
        try:
            result = await original(self, method, *args, **kwargs)
        except Exception as error:
            evidence.call_failed(recorder, self._object, method, params, error)
            raise
        except asyncio.CancelledError as error:  # `asyncio.wait_for(page.goto(...), 5)` ran out: evidence too
            evidence.call_cancelled(recorder, self._object, method, params, error)
            raise
        if recorder is not None:
            evidence.call_succeeded(recorder, self._object)
        await _settle_after(recorder, self, method)
        return result

    setattr(send, _HOOKED, True)
    return send


def _wrap_sync_call(original: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Playwright >= 1.65: `Channel._call(method, params, ...)` sends at once and returns an awaitable.

    Outside activities (and for contexts without a recorder) the call is passed through
    untouched; inside, the message goes out once the claim is done, so a checkpoint
    snapshot is taken before the action it belongs to.
    """

    @functools.wraps(original)
    def call(self: Any, method: str, params: Any, *args: Any, **kwargs: Any) -> Awaitable[Any]:
        if current_activity() is None or in_internal_call() or _recorder_above(self._object) is None:
            return original(self, method, params, *args, **kwargs)

        async def claimed_then_sent() -> Any:
            recorder = await _follow_use(self, method, params)
            try:
                result = await original(self, method, params, *args, **kwargs)
            except Exception as error:
                evidence.call_failed(recorder, self._object, method, params, error)
                raise
            except asyncio.CancelledError as error:
                evidence.call_cancelled(recorder, self._object, method, params, error)
                raise
            if recorder is not None:
                evidence.call_succeeded(recorder, self._object)
            await _settle_after(recorder, self, method)
            return result

        return claimed_then_sent()

    setattr(call, _HOOKED, True)
    return call


# Where each client layout funnels every protocol call: (module, method, wrapper).
_CHANNEL_HOOKS = (
    ("_impl._connection", "send", _wrap_async_send),
    ("_impl.channel_owner", "_call", _wrap_sync_call),
)


def _hook_channel(library: str) -> None:
    for module_name, method, wrap in _CHANNEL_HOOKS:
        try:
            channel = importlib.import_module(f"{library}.{module_name}").Channel
        except (ImportError, AttributeError):
            continue
        original = getattr(channel, method, None)
        if original is None:
            continue
        if not getattr(original, _HOOKED, False):
            setattr(channel, method, wrap(original))
        return
    raise RuntimeError(f"unsupported {library} version: no Channel to follow protocol calls through")


def _recorders_closing(closing: Any, what: str) -> list[tuple[ContextRecorder, Any | None]]:
    """The recorders of what `closing` closes, each with the page that closes (None: all its pages)."""
    if what == "browser":
        contexts = list(getattr(closing, "contexts", []))
    else:
        contexts = [closing.context if what == "page" else closing]
    found = []
    for context in contexts:
        recorder = getattr(getattr(context, "_impl_obj", context), RECORDER_ATTRIBUTE, None)
        if recorder is not None:
            found.append((recorder, closing if what == "page" else None))
    return found


def _wrap_close(original: Callable[..., Awaitable[Any]], *, what: str) -> Callable[..., Awaitable[Any]]:
    """`Page.close` / `BrowserContext.close` / `Browser.close` that first read a failing activity's pages
    and take the pages' still-queued events (module docstring)."""

    @functools.wraps(original)
    async def close(self: Any, *args: Any, **kwargs: Any) -> Any:
        # An exception on its way out through the `finally` (or `except`) that closes: read before anything is awaited.
        error = sys.exc_info()[1]
        failing = isinstance(error, Exception)
        with evidence.closing():
            try:
                for recorder, page in _recorders_closing(self, what):
                    await evidence.before_close(recorder, page, failing=failing, error=error)
                    await recorder.drain(page)
            except Exception:
                logger.exception("could not take the queued recording events before closing; closing anyway")
            return await original(self, *args, **kwargs)

    setattr(close, _HOOKED, True)
    return close


def _hook_close(library: str) -> None:
    api = importlib.import_module(f"{library}.async_api")
    for cls, what in ((api.Page, "page"), (api.BrowserContext, "context"), (api.Browser, "browser")):
        if not getattr(cls.close, _HOOKED, False):
            cls.close = _wrap_close(cls.close, what=what)


def _library_of(obj: Any) -> str | None:
    module = type(obj).__module__
    return next((name for name in LIBRARIES if module == name or module.startswith(name + ".")), None)


async def record_browser(context: Any, *, options: RecordingOptions | None = None) -> ContextRecorder:
    """Record every page of a Patchright or Playwright async `BrowserContext` with rrweb.

    Works for contexts from `new_context()` and `launch_persistent_context()`, including
    pages already open. Attaching twice returns the existing recorder. Each activity that
    uses the context gets its own recording, linked to its span. Needs `configure()` (with
    DuckDB) for the recordings to be stored; without it they are counted and dropped.

    Args:
        context: the async API's `BrowserContext` (Chromium is recorded from a CDP isolated
            world; other browsers only with `RecordingOptions(world="main")`).
        options: privacy and limits; default the options of the last `configure()`.

    Returns the context's `ContextRecorder`. Failing to record never fails the browser: a
    recorder that cannot attach to a page logs it and the page works unrecorded.
    """
    impl = getattr(context, "_impl_obj", context)
    existing = getattr(impl, RECORDER_ATTRIBUTE, None)
    if existing is not None:
        return existing  # type: ignore[no-any-return]
    library = _library_of(context)
    if library is not None:
        _hook_channel(library)
        _hook_close(library)
    install_activity_hooks()
    recorder = ContextRecorder(context, options or _default_options)
    await recorder.attach()
    try:
        await evidence.watch(context, recorder, recorder.options)
    except Exception:
        logger.exception("could not capture browser evidence; the browser is recorded without it")
    activity = current_activity()
    if activity is not None:
        await recorder.claim(activity)
    return recorder


async def _record_quietly(context: Any) -> None:
    try:
        await record_browser(context)
    except MissingAssetError as error:
        # The same for every context of the process: said once, as the one line that says how to fix it.
        if str(error) not in _missing_said:
            _missing_said.add(str(error))
            logger.error("browser contexts will not be recorded: %s", error)
    except Exception:
        logger.exception("could not attach the browser recorder; the browser works unrecorded")


def _wrap_context_factory(original: Callable[..., Awaitable[Any]], *, returns_page: bool) -> Callable[..., Any]:
    @functools.wraps(original)
    async def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = await original(self, *args, **kwargs)
        await _record_quietly(result.context if returns_page else result)
        return result

    setattr(create, _HOOKED, True)
    return create


# The async API methods that create contexts: (class, method, returns a page).
_FACTORIES = (
    ("Browser", "new_context", False),
    ("Browser", "new_page", True),
    ("BrowserType", "launch_persistent_context", False),
)


def install_auto_recording() -> list[str]:
    """Record every context Patchright/Playwright (async API) creates from now on; returns the libraries hooked."""
    hooked = []
    for library in LIBRARIES:
        try:
            api = importlib.import_module(f"{library}.async_api")
        except ImportError:
            continue
        try:
            _hook_channel(library)
            _hook_close(library)
        except RuntimeError:
            logger.exception("browser contexts of %s will not be recorded automatically", library)
            continue
        for class_name, method, returns_page in _FACTORIES:
            cls = getattr(api, class_name)
            original = getattr(cls, method)
            if not getattr(original, _HOOKED, False):
                setattr(cls, method, _wrap_context_factory(original, returns_page=returns_page))
        hooked.append(library)
    install_activity_hooks()
    return hooked


def uninstall_auto_recording() -> None:
    """Stop recording new contexts automatically (contexts already recorded stay recorded).

    The protocol and close hooks stay: they do nothing for unrecorded contexts and the
    recorders already attached still need them.
    """
    for library in LIBRARIES:
        api = sys.modules.get(f"{library}.async_api")
        if api is None:
            continue
        for class_name, method, _ in _FACTORIES:
            cls = getattr(api, class_name)
            current = getattr(cls, method)
            if getattr(current, _HOOKED, False):
                setattr(cls, method, current.__wrapped__)
