"""Listening to a CDP session's events without Playwright's per-event handler wrapper.

`CDPSession.on` of Patchright's (and Playwright's) public API wraps each handler in a function
that calls `inspect.signature(handler)` on every event it delivers, to decide how many
arguments to pass: ~0.1 ms of the event loop per event, and a recorded sign-in flow delivers
~50 of them a round to the recorder and the evidence watcher (cProfile of the loop, BENCHMARKS.md
section 8). The session's implementation object emits the same event with the same argument
(the event's `params` dict), so handlers are added there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["on_event"]


def on_event(cdp: Any, method: str, handler: Callable[[Any], object]) -> None:
    """Call `handler(params)` for each CDP event `method` (e.g. "Page.frameNavigated") of `cdp`.

    `cdp` is a `CDPSession` of the public API (its `_impl_obj` is used) or its implementation.
    """
    getattr(cdp, "_impl_obj", cdp).on(method, handler)
