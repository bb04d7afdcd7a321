"""The targets Chromium auto-attaches under one CDP session: out-of-process iframes and workers.

Why not `context.new_cdp_session(frame)` (what `cdp_worlds.PageWorlds` does for its worlds):
Python learns of an out-of-process iframe from Playwright's `framenavigated`, after the frame
committed, and a session attached then misses the requests the frame makes while it parses
(measured: 7 of 15 first requests of a cross-site iframe seen over five loads). Workers have
no Playwright API for a session at all (`new_cdp_session` takes a page or a frame).

`Target.setAutoAttach {autoAttach: true, waitForDebuggerOnStart: true, flatten: false}` on the
session instead: Chromium attaches this session to each child target as it is created
(`Target.attachedToTarget`) and holds an out-of-process iframe's navigation until this session
lets it run (`Runtime.runIfWaitingForDebugger`), so whatever the caller enables first sees
every request of the frame (15 of 15). The child's protocol travels inside the parent session
(`Target.sendMessageToTarget`, `Target.receivedMessageFromTarget`): a flat child session has
a session id of its own, which Playwright's server does not route to the client's
`CDPSession`. Each child gets the same auto-attach, so an iframe's workers and nested
out-of-process iframes are followed too.

Workers are not held for this session: Playwright's own auto-attach lets a worker run as soon
as its session has, so what a worker does in its first milliseconds, before the caller's
commands reach it, can be missed (see docs/architecture.md for the measured window).

Nothing here is visible to a page: auto-attach adds a DevTools client to targets Playwright is
already attached to, and no `Runtime.enable` is sent to any of them.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from getgather_otel._log import logger
from getgather_otel.recording.cdp_events import on_event
from getgather_otel.recording.tasks import BackgroundTasks

__all__ = ["AUTO_ATTACH", "ChildHandler", "ChildTarget", "ChildTargets", "EventHandler"]

AUTO_ATTACH = {"autoAttach": True, "waitForDebuggerOnStart": True, "flatten": False}

EventHandler = Callable[[str, dict[str, Any]], None]


@dataclass
class ChildTarget:
    """One attached child target (CDP `TargetInfo`), and the way to its session."""

    session_id: str
    target_id: str
    type: str  # "iframe", "worker", "service_worker", ...
    url: str
    parent: ChildTarget | None
    # Session ids from the root session down to this target's.
    path: tuple[str, ...] = field(default=())
    on_event: EventHandler | None = None


# Called for each child as it is attached; returns the handler of its events, or None to
# leave it (it is let run and detached). It may `send` commands: they reach the child before
# the child runs.
ChildHandler = Callable[[ChildTarget], "EventHandler | None"]


class ChildTargets:
    """The child targets of one CDP session, followed recursively; see the module docstring."""

    def __init__(self, cdp: Any, on_attached: ChildHandler) -> None:
        self.cdp = cdp
        self.children: dict[str, ChildTarget] = {}
        self._on_attached = on_attached
        self._ids = itertools.count(1)
        self._tasks = BackgroundTasks()

    async def start(self) -> None:
        """Auto-attach to this session's children, those that exist now included; raises if the target is gone."""
        on_event(self.cdp, "Target.attachedToTarget", lambda event: self._attached(None, event))
        on_event(self.cdp, "Target.detachedFromTarget", lambda event: self._detached(event))
        on_event(self.cdp, "Target.receivedMessageFromTarget", lambda event: self._message(event))
        await self.cdp.send("Target.setAutoAttach", AUTO_ATTACH)

    def send(self, child: ChildTarget, method: str, params: dict[str, Any] | None = None) -> None:
        """Send `method` to `child`; commands sent one after the other reach it in that order.

        The message is written to the driver before this returns (the task's first step does
        it, and tasks start in order); the child's reply is only read for an error to log.
        """
        message: dict[str, Any] = {"id": next(self._ids), "method": method, "params": params or {}}
        for session_id in reversed(child.path[1:]):
            wrapped = {"sessionId": session_id, "message": json.dumps(message)}
            message = {"id": next(self._ids), "method": "Target.sendMessageToTarget", "params": wrapped}
        outer = {"sessionId": child.path[0], "message": json.dumps(message)}
        self._tasks.spawn(self._send_outer(outer, method))

    async def _send_outer(self, params: dict[str, Any], method: str) -> None:
        try:
            await self.cdp.send("Target.sendMessageToTarget", params)
        except Exception as error:  # the child or the session went away meanwhile
            logger.debug("could not send %s to a child target: %s", method, error)

    def _attached(self, parent: ChildTarget | None, event: dict[str, Any]) -> None:
        info = event.get("targetInfo") or {}
        session_id = str(event.get("sessionId", ""))
        child = ChildTarget(
            session_id,
            str(info.get("targetId", "")),
            str(info.get("type", "")),
            str(info.get("url", "")),
            parent,
            (*(parent.path if parent is not None else ()), session_id),
        )
        try:
            child.on_event = self._on_attached(child)
        except Exception:
            logger.exception("a child target could not be followed")
        if child.on_event is not None:
            self.children[session_id] = child
            self.send(child, "Target.setAutoAttach", AUTO_ATTACH)
        # Last, whatever happened above: a frame held for this session would never load.
        if event.get("waitingForDebugger"):
            self.send(child, "Runtime.runIfWaitingForDebugger")
        if child.on_event is None:
            self._detach(child)

    def _detach(self, child: ChildTarget) -> None:
        params = {"sessionId": child.session_id}
        if child.parent is None:
            self._tasks.spawn(self._detach_root(params))
        else:
            self.send(child.parent, "Target.detachFromTarget", params)

    async def _detach_root(self, params: dict[str, Any]) -> None:
        try:
            await self.cdp.send("Target.detachFromTarget", params)
        except Exception as error:
            logger.debug("could not detach from a child target: %s", error)

    def _detached(self, event: dict[str, Any]) -> None:
        self.children.pop(str(event.get("sessionId", "")), None)

    def _message(self, event: dict[str, Any]) -> None:
        """A message from a child, or from a child's child wrapped once per level."""
        child = self.children.get(str(event.get("sessionId", "")))
        if child is None:
            return
        try:
            message = json.loads(event.get("message") or "{}")
        except ValueError:
            return
        method = message.get("method")
        if method is None:
            if "error" in message:
                logger.debug("a child target refused a command: %s", message["error"])
            return
        params = message.get("params") or {}
        if method == "Target.receivedMessageFromTarget":
            self._message(params)
        elif method == "Target.attachedToTarget":
            self._attached(child, params)
        elif method == "Target.detachedFromTarget":
            self._detached(params)
        elif child.on_event is not None:
            child.on_event(method, params)
