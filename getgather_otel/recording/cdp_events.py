"""Listening to Playwright events without the public API's per-event handler wrapper.

`CDPSession.on` and `Page.on` of Patchright's (and Playwright's) public API wrap each handler
in a function that calls `inspect.signature(handler)` on every event it delivers, to decide how
many arguments to pass: ~0.1-0.3 ms of the event loop per event, and a recorded sign-in flow
delivers ~50 CDP events and 8 `framenavigated` a round to the recorder and the evidence watcher
(cProfile of the loop, BENCHMARKS.md section 8). The implementation object emits the same event
with one argument (a CDP event's `params` dict; for `framenavigated`, the implementation's
`Frame`, which `new_cdp_session` and the implementation's `Page.main_frame` take and compare
as the public one), so handlers are added there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["on_event"]


def on_event(emitter: Any, event: str, handler: Callable[[Any], object]) -> None:
    """Call `handler(argument)` for each `event` of `emitter`: a CDP event (e.g.
    "Page.frameNavigated", argument its params) of a `CDPSession`, or a `Page`'s event (e.g.
    "framenavigated", argument the implementation's `Frame`).

    `emitter` is an object of the public API (its `_impl_obj` is used) or its implementation.
    """
    getattr(emitter, "_impl_obj", emitter).on(event, handler)
