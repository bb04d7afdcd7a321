"""The recorder's isolated world in every frame of a Chromium page, over the Chrome DevTools Protocol.

One `WorldSession` per CDP session: a page's (`context.new_cdp_session(page)`) and one per
out-of-process iframe (`context.new_cdp_session(frame)`). Each session, measured with
Chromium 156 and Patchright 1.64.3 (docs/architecture.md, "Recording out of the page's reach"):

- `Page.enable` (without it the session's scripts never run), then
  `Page.addScriptToEvaluateOnNewDocument {source, worldName, runImmediately: true}`: the
  script runs in an isolated world of every document of the session's frames, including
  the ones already loaded.
- `Runtime.addBinding {name, executionContextName: worldName}`, sent again on every
  `Page.frameNavigated`: without `Runtime.enable` a binding added by world name reaches only
  the worlds that exist when it is added. Calls arrive as `Runtime.bindingCalled`, which
  needs no `Runtime.enable`. `Runtime.enable` is never sent: sites can detect it, and
  Patchright avoids it for that reason.
- `Page.createIsolatedWorld {frameId, worldName}` returns the world a frame already has:
  that is how a binding call's `executionContextId` is tied to its frame, and how Python
  evaluates in a frame's world (`Runtime.evaluate` / `Runtime.callFunctionOn` on it).
- `Page.frameRequestedNavigation` with reason `formSubmissionGet`: a GET form's next URL,
  whose query values `urls.note_form_submission` has redacted wherever it is stored.
- A child frame's owner element, in its parent's world: `DOM.getFrameOwner` then
  `DOM.resolveNode` with the parent world's context id (no `DOM.enable` needed).

Nothing here runs in, or adds anything to, a page's main world.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from getgather_otel._log import logger
from getgather_otel.recording.cdp_blobs import BlobRejectedError, RejectedBlob, blob_key, read_blob
from getgather_otel.recording.cdp_events import on_event
from getgather_otel.recording.rrweb_events import FULL_SNAPSHOT
from getgather_otel.recording.tasks import BackgroundTasks
from getgather_otel.recording.urls import note_form_submission
from getgather_otel.recording.world_script import api_call

__all__ = ["WORLD_NAME", "FrameHandler", "FrameInfo", "PageWorlds", "PayloadHandler", "WorldGoneError", "WorldSession"]

WORLD_NAME = "getgather_otel"


class WorldGoneError(RuntimeError):
    """A frame's world could not be reached (the frame navigated, detached or crashed)."""


@dataclass
class FrameInfo:
    """What a session knows of one of its frames (CDP `Page.Frame`)."""

    frame_id: str
    parent_id: str | None
    url: str
    # The isolated world's execution context of the frame's current document, once known.
    context_id: int | None = None
    # Binding calls seen from that document: a document that never calls is polled.
    calls: int = 0
    loader_id: str = ""
    # The lookup of `context_id` in flight: one `Page.createIsolatedWorld` per document, however
    # many callers ask at once (a binding call often arrives while the navigation's is on its way).
    lookup: asyncio.Future[int] | None = field(default=None, repr=False, compare=False)


# (session, frame, raw payload) for each binding call; awaited before the session's next call.
# The frame is None for a document already gone when its call is handled (a page that
# navigates away at once): its world can no longer be looked up.
PayloadHandler = Callable[["WorldSession", FrameInfo | None, object], Awaitable[None] | None]
FrameHandler = Callable[["WorldSession", FrameInfo], None]


def _requested_navigation(event: dict[str, Any]) -> None:
    """A GET form's submission, in any frame of the session: its URL's query values are the
    form's fields, masked in the page, so they are redacted wherever the URL is stored
    (`urls.note_form_submission`). Sent before the request, so before the new document's Meta
    href and the frame's navigation reach Python."""
    if event.get("reason") == "formSubmissionGet" and isinstance(event.get("url"), str):
        note_form_submission(event["url"])


class WorldSession:
    """The recorder's world in each frame of one CDP session; see the module docstring."""

    def __init__(
        self,
        cdp: Any,
        *,
        script: str,
        binding: str,
        on_payload: PayloadHandler,
        on_navigated: FrameHandler,
        world_call: Callable[[str], str],
        blob_limit: int,
        world_name: str = WORLD_NAME,
    ) -> None:
        self.cdp = cdp
        self.frames: dict[str, FrameInfo] = {}
        self.root_frame_id = ""
        self.target_id = ""
        self.closed = False
        self._script = script
        self._binding = binding
        self._world = world_name
        self._on_payload = on_payload
        self._on_navigated = on_navigated
        # js/world.js's API call (e.g. "takeBlob(3)") as an expression for the world.
        self._world_call = world_call
        self._blob_limit = blob_limit
        self._contexts: dict[int, str] = {}
        # Child frame id -> remote object id of its owner element in the parent's world.
        self._owners: dict[str, str] = {}
        # Binding calls are handled in order, one at a time (an unknown context is looked up first).
        self._calls: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        # Blobs a document handed over by evaluate (`hand_over`), by (context id, key): the
        # announcement of each, still queued, routes it in its turn.
        self._handed_blobs: dict[tuple[int, int], str] = {}
        # Futures of hand-overs not handled yet, resolved at the latest when the session closes.
        self._handovers: set[asyncio.Future[None]] = set()
        self._tasks = BackgroundTasks()

    async def start(self) -> None:
        """Enable the Page domain, install the world and its binding; raises if the target is gone."""
        on_event(self.cdp, "Runtime.bindingCalled", self._calls.put_nowait)
        on_event(self.cdp, "Page.frameNavigated", self._frame_navigated)
        on_event(self.cdp, "Page.frameDetached", self._frame_detached)
        on_event(self.cdp, "Page.frameRequestedNavigation", _requested_navigation)
        await self.cdp.send("Page.enable")
        await self.cdp.send(
            "Page.addScriptToEvaluateOnNewDocument",
            {"source": self._script, "worldName": self._world, "runImmediately": True},
        )
        await self._add_binding()
        self.target_id = (await self.cdp.send("Target.getTargetInfo"))["targetInfo"]["targetId"]
        tree = await self.cdp.send("Page.getFrameTree")
        self.root_frame_id = tree["frameTree"]["frame"]["id"]
        self._add_tree(tree["frameTree"])
        for frame in list(self.frames.values()):
            await self._resolve_context(frame)
        # Calls that came meanwhile waited in the queue: handled now that the frames are known.
        self._tasks.spawn(self._handle_calls())

    def _add_tree(self, node: dict[str, Any]) -> None:
        frame = node["frame"]
        self.frames.setdefault(frame["id"], FrameInfo(frame["id"], frame.get("parentId"), frame.get("url", "")))
        for child in node.get("childFrames", []):
            self._add_tree(child)

    async def _add_binding(self) -> None:
        await self.cdp.send("Runtime.addBinding", {"name": self._binding, "executionContextName": self._world})

    def _frame_navigated(self, event: dict[str, Any]) -> None:
        raw = event["frame"]
        old = self.frames.get(raw["id"])
        if old is not None and old.context_id is not None:
            self._contexts.pop(old.context_id, None)
            for gone in [k for k in self._handed_blobs if k[0] == old.context_id]:
                del self._handed_blobs[gone]
        frame = FrameInfo(raw["id"], raw.get("parentId"), raw.get("url", ""), loader_id=raw.get("loaderId", ""))
        self.frames[frame.frame_id] = frame
        self._owners.clear()  # elements resolved in a document that is gone
        self._tasks.spawn(self._after_navigation(frame))
        self._on_navigated(self, frame)

    async def _after_navigation(self, frame: FrameInfo) -> None:
        try:
            # Sent together, processed in order: the binding reaches the world looked up after it.
            await asyncio.gather(self._add_binding(), self._resolve_context(frame))
        except Exception as error:  # the session or frame went away meanwhile
            logger.debug("could not set up the recorder world of frame %s: %s", frame.frame_id, error)

    def _frame_detached(self, event: dict[str, Any]) -> None:
        # Detached, or swapped out to an out-of-process frame that its own session records.
        frame = self.frames.pop(event["frameId"], None)
        if frame is not None and frame.context_id is not None:
            self._contexts.pop(frame.context_id, None)

    async def _resolve_context(self, frame: FrameInfo) -> int:
        """The execution context of `frame`'s world (its current document's); cached."""
        if frame.context_id is not None:
            return frame.context_id
        lookup = frame.lookup
        if lookup is None or (lookup.done() and (lookup.cancelled() or lookup.exception() is not None)):
            lookup = frame.lookup = asyncio.ensure_future(self._create_world(frame))
        return await asyncio.shield(lookup)

    async def _create_world(self, frame: FrameInfo) -> int:
        try:
            created = await self.cdp.send(
                "Page.createIsolatedWorld", {"frameId": frame.frame_id, "worldName": self._world}
            )
        except Exception as error:
            raise WorldGoneError(f"frame {frame.frame_id}: {error}") from None
        context_id = int(created["executionContextId"])
        if self.frames.get(frame.frame_id) is frame:
            frame.context_id = context_id
            self._contexts[context_id] = frame.frame_id
        return context_id

    async def _handle_calls(self) -> None:
        while True:
            event = await self._calls.get()
            if event is None:
                return
            handed_over = event.get("handed_over")
            if isinstance(handed_over, asyncio.Future):
                self._handovers.discard(handed_over)
                if not handed_over.done():
                    handed_over.set_result(None)
                continue
            try:
                context_id = int(event["executionContextId"])
                frame = await self._frame_of(context_id)
                if frame is not None:
                    frame.calls += 1
                payload = await self._payload(context_id, event.get("payload"))
                handled = None if payload is None else self._on_payload(self, frame, payload)
                if handled is not None:
                    await handled
            except Exception:
                logger.exception("a recorder binding call could not be handled")
            # One payload per pass of the event loop: a big snapshot's slices (each parsed in
            # 10-30 ms) no longer hold the tool's own browser calls, whose answers arrive
            # behind them, until all of them are parsed.
            await asyncio.sleep(0)

    async def _payload(self, context_id: int, raw: object) -> object:
        """A binding call's payload; for a `{"blob":key}` (recording/cdp_blobs.py) the Blob's, as
        handed over by a drain (`hand_over`) or else read, or a RejectedBlob when it is refused.

        None when there is none to handle: the document sent that payload through the binding
        instead, or is gone with its Blob (a document going away sends its Blobs' payloads
        through the binding first, js/world.js `flush`).
        """
        key = blob_key(raw)
        if key is None:
            return raw
        handed = self._handed_blobs.pop((context_id, key), None)
        # Announcements come in order: what was handed over of earlier Blobs was routed by them.
        for stale in [k for k in self._handed_blobs if k[0] == context_id and k[1] < key]:
            del self._handed_blobs[stale]
        if handed is not None:
            return handed
        try:
            read = await read_blob(self.cdp, context_id, self._world_call(f"takeBlob({key})"), self._blob_limit)
        except BlobRejectedError as error:
            return RejectedBlob(str(error))
        except Exception as error:
            logger.debug("a recorder Blob could not be read: %s", error)
            return None
        if read is not None:
            # Not waited for: the world only forgets the Blob, which it would otherwise send again.
            self._tasks.spawn(self._acknowledge(context_id, key))
        return read

    async def _acknowledge(self, context_id: int, key: int) -> None:
        try:
            expression = self._world_call(f"blobsRead({key})")
            await self.cdp.send("Runtime.evaluate", {"expression": expression, "contextId": context_id})
        except Exception as error:  # the document or the session is gone: nothing to forget
            logger.debug("a recorder Blob's read was not acknowledged: %s", error)

    async def hand_over(self, frame: FrameInfo, taken: object) -> None:
        """Route what `frame`'s document handed over by evaluate (js/world.js `drain()`) after the
        binding calls already queued, as the document sent it: a `[key, payload]` pair is the
        payload of a Blob whose announcement is queued (or on its way) and is routed in its turn;
        a payload string is queued as one more call. Returns once everything is handled, or the
        session closed.
        """
        if not isinstance(taken, list) or not taken:
            return
        context_id = await self._resolve_context(frame)
        for item in taken:
            if isinstance(item, list) and len(item) == 2 and isinstance(item[0], int) and isinstance(item[1], str):
                self._handed_blobs[(context_id, item[0])] = item[1]
            else:
                self._calls.put_nowait({"executionContextId": context_id, "payload": item})
        await self.handled()

    async def handled(self) -> None:
        """Return once every binding call received so far is handled (or the session closed)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._handovers.add(done)
        self._calls.put_nowait({"handed_over": done})
        await done

    async def _frame_of(self, context_id: int) -> FrameInfo | None:
        frame_id = self._contexts.get(context_id)
        if frame_id is None:
            for frame in list(self.frames.values()):
                if frame.context_id is None:
                    try:
                        await self._resolve_context(frame)
                    except WorldGoneError:
                        continue
            frame_id = self._contexts.get(context_id)
        return None if frame_id is None else self.frames.get(frame_id)

    async def evaluate(self, frame: FrameInfo, expression: str) -> Any:
        """`expression` evaluated in `frame`'s world, its value returned as JSON; raises WorldGoneError."""
        context_id = await self._resolve_context(frame)
        try:
            reply = await self.cdp.send(
                "Runtime.evaluate", {"expression": expression, "contextId": context_id, "returnByValue": True}
            )
        except Exception as error:
            raise WorldGoneError(f"frame {frame.frame_id}: {error}") from None
        if "exceptionDetails" in reply:
            raise WorldGoneError(f"frame {frame.frame_id}: {reply['exceptionDetails'].get('text', 'exception')}")
        return reply.get("result", {}).get("value")

    async def call_on_owner(self, parent: FrameInfo, child_frame_id: str, function: str, argument: str) -> Any:
        """Call `function` with `this` = the iframe element (in `parent`'s world) that holds `child_frame_id`."""
        try:
            object_id = self._owners.get(child_frame_id)
            if object_id is None:
                owner = await self.cdp.send("DOM.getFrameOwner", {"frameId": child_frame_id})
                context_id = await self._resolve_context(parent)
                node = await self.cdp.send(
                    "DOM.resolveNode", {"backendNodeId": owner["backendNodeId"], "executionContextId": context_id}
                )
                object_id = self._owners[child_frame_id] = node["object"]["objectId"]
            reply = await self.cdp.send(
                "Runtime.callFunctionOn",
                {
                    "objectId": object_id,
                    "functionDeclaration": function,
                    "arguments": [{"value": argument}],
                    "returnByValue": True,
                },
            )
        except Exception as error:
            self._owners.pop(child_frame_id, None)
            raise WorldGoneError(f"owner of frame {child_frame_id}: {error}") from None
        return reply.get("result", {}).get("value")

    async def reinstall(self, frame: FrameInfo) -> None:
        """Add the binding again and run the script in `frame`'s world if it is not there (idempotent)."""
        await self._add_binding()
        await self.evaluate(frame, self._script)

    async def close(self) -> None:
        self.closed = True
        self._calls.put_nowait(None)
        for done in self._handovers:
            if not done.done():
                done.set_result(None)
        self._handovers.clear()
        self._handed_blobs.clear()
        try:
            await self.cdp.detach()
        except Exception as error:  # the target is already gone
            logger.debug("recorder CDP session detach: %s", error)


class PageWorlds:
    """The recorder's worlds in one page: its own CDP session plus one per out-of-process iframe.

    A binding call from the page's top document goes to `on_top` (the recorder's routing);
    one from a child frame carries rrweb's messages for its parent, which are handed to the
    parent document's world (`deliverChild`) after `parse_child` accepted them. When any
    document emits a full snapshot, its child frames are asked for a fresh one: their content
    is attached under the parent's iframe node, which a new parent snapshot replaces.
    """

    def __init__(
        self,
        context: Any,
        page: Any,
        *,
        script: str,
        binding: str,
        guard: str,
        on_top: Callable[[object], bool],
        parse_child: Callable[[object], list[dict[str, Any]] | None],
        on_top_navigated: Callable[[FrameInfo], None],
        blob_limit: int,
    ) -> None:
        self.context = context
        # The page's implementation object: its `framenavigated` (cdp_events.on_event) gives the
        # implementation's frames, compared with its `main_frame`.
        self._page = getattr(page, "_impl_obj", page)
        self.main: WorldSession | None = None
        self.sessions: list[WorldSession] = []
        self._script = script
        self._binding = binding
        self._guard = guard
        self._on_top = on_top
        self._parse_child = parse_child
        self._on_top_navigated = on_top_navigated
        # Runs in a parent document's world with `this` = the iframe element of the child that sent.
        deliver = api_call(guard, "deliverChild(this, json)", "-1", document="this.ownerDocument")
        self._deliver = f"function (json) {{ return {deliver}; }}"
        self._snapshot_call = api_call(guard, "snapshot()", "false")
        self._blob_limit = blob_limit
        self._attaching: set[Any] = set()
        self._tasks = BackgroundTasks()

    async def start(self, cdp: Any) -> None:
        """Attach over `cdp`, the page's CDP session (raises if the page is gone); follow its out-of-process frames."""
        await self._session(cdp, main=True)
        on_event(self._page, "framenavigated", self._frame_navigated)
        for frame in self._page.frames:
            if frame is not self._page.main_frame:
                self._frame_navigated(frame)

    async def _session(self, cdp: Any, *, main: bool = False) -> WorldSession:
        session = WorldSession(
            cdp,
            script=self._script,
            binding=self._binding,
            on_payload=self._on_payload,
            on_navigated=self._navigated,
            world_call=lambda call: api_call(self._guard, call, "null"),
            blob_limit=self._blob_limit,
        )
        self.sessions.append(session)
        if main:
            self.main = session
        await session.start()
        return session

    def _frame_navigated(self, frame: Any) -> None:
        if frame is self._page.main_frame or frame in self._attaching:
            return
        self._attaching.add(frame)
        self._tasks.spawn(self._attach_frame(frame))

    async def _attach_frame(self, frame: Any) -> None:
        """A CDP session of its own if `frame` is out of process (Chromium says so by refusing otherwise)."""
        try:
            cdp = await self.context.new_cdp_session(frame)
        except Exception:  # an in-process frame: the page's (or its parent's) session records it
            return
        finally:
            self._attaching.discard(frame)
        try:
            target = (await cdp.send("Target.getTargetInfo"))["targetInfo"]["targetId"]
            if any(s.target_id == target and not s.closed for s in self.sessions):
                await cdp.detach()  # this frame's process already has our session
                return
            # A frame that navigated to another site moved to a new process (a new target, the
            # same frame id): the old process's session is gone with it.
            tree = await cdp.send("Page.getFrameTree")
            for old in self._take_out_of_process(tree["frameTree"]["frame"]["id"]):
                await old.close()
            await self._session(cdp)
        except Exception as error:  # detached or crashed meanwhile
            logger.debug("could not record an out-of-process frame: %s", error)

    def _navigated(self, session: WorldSession, frame: FrameInfo) -> None:
        if session is self.main and frame.frame_id == session.root_frame_id:
            self._on_top_navigated(frame)
        # A frame that now has a document in `session`'s process left the out-of-process session
        # that recorded it before: that session's target is gone, and an out-of-process target's
        # id is its frame's, so a live-looking stale session would make `_attach_frame` turn
        # away the frame's next out-of-process session (an iframe on another site, back on the
        # page's site, then on another site again was not recorded).
        for stale in self._take_out_of_process(frame.frame_id, keep=session):
            self._tasks.spawn(stale.close())

    def _take_out_of_process(self, frame_id: str, keep: WorldSession | None = None) -> list[WorldSession]:
        """Remove and return the out-of-process sessions (not `keep`) whose root is frame `frame_id`."""
        taken = [s for s in self.sessions if s.root_frame_id == frame_id and s is not self.main and s is not keep]
        for session in taken:
            self.sessions.remove(session)
        return taken

    def _on_payload(self, session: WorldSession, frame: FrameInfo | None, raw: object) -> Awaitable[None] | None:
        if session is self.main and (frame is None or frame.frame_id == session.root_frame_id):
            # A call from a document already gone is taken as the top document's: the
            # recorder accepts only top-document payloads there, so a child's is ignored.
            if self._on_top(raw):
                self.snapshot_children(session.root_frame_id)
            return None
        if frame is None:
            return None
        return self._forward(frame, raw)

    async def _forward(self, frame: FrameInfo, raw: object) -> None:
        messages = self._parse_child(raw)
        if not messages or frame.parent_id is None:
            return
        parent_session, parent = self._find(frame.parent_id)
        if parent is None or parent_session is None:
            return
        try:
            await parent_session.call_on_owner(parent, frame.frame_id, self._deliver, json.dumps(messages))
        except WorldGoneError as error:
            logger.debug("child frame events not delivered: %s", error)
            return
        if any(isinstance(m.get("event"), dict) and m["event"].get("type") == FULL_SNAPSHOT for m in messages):
            self.snapshot_children(frame.frame_id)

    def _find(self, frame_id: str) -> tuple[WorldSession | None, FrameInfo | None]:
        for session in self.sessions:
            frame = session.frames.get(frame_id)
            if frame is not None and not session.closed:
                return session, frame
        return None, None

    def snapshot_children(self, frame_id: str) -> None:
        """Ask every child frame of `frame_id` for a fresh snapshot (after the parent's own)."""
        for session in list(self.sessions):
            for child in list(session.frames.values()):
                if child.parent_id == frame_id:
                    self._tasks.spawn(self._snapshot(session, child))

    async def _snapshot(self, session: WorldSession, frame: FrameInfo) -> None:
        try:
            await session.evaluate(frame, self._snapshot_call)
        except WorldGoneError as error:
            logger.debug("child frame snapshot: %s", error)

    async def evaluate_top(self, expression: str) -> Any:
        """`expression` in the world of the page's top document; raises WorldGoneError."""
        main = self.main
        if main is None or main.closed:
            raise WorldGoneError("the page is not attached")
        frame = main.frames.get(main.root_frame_id)
        if frame is None:
            raise WorldGoneError("the page has no top frame")
        return await main.evaluate(frame, expression)

    async def hand_over_top(self, taken: object) -> None:
        """What the top document handed over by evaluate, routed in the order it was sent
        (`WorldSession.hand_over`); raises WorldGoneError."""
        main = self.main
        frame = self.top_frame()
        if main is None or main.closed or frame is None:
            raise WorldGoneError("the page is not attached")
        await main.hand_over(frame, taken)

    def out_of_process_frames(self) -> list[tuple[Any, str, Any, str]]:
        """Each out-of-process iframe of the page as (its session's CDP, its frame id, the CDP of the
        session that holds its parent frame, the parent's frame id): where evidence reads a frame the
        page's own session cannot enter (recording/evidence.py), in a world of its own."""
        found = []
        for session in list(self.sessions):
            if session is self.main or session.closed:
                continue
            root = session.frames.get(session.root_frame_id)
            if root is None or root.parent_id is None:
                continue
            parent_session, _parent = self._find(root.parent_id)
            if parent_session is not None:
                found.append((session.cdp, root.frame_id, parent_session.cdp, root.parent_id))
        return found

    def top_frame(self) -> FrameInfo | None:
        main = self.main
        return None if main is None else main.frames.get(main.root_frame_id)

    async def reinstall_top(self) -> None:
        """The binding and the script again, in the top document's world (idempotent)."""
        main = self.main
        frame = self.top_frame()
        if main is not None and frame is not None:
            await main.reinstall(frame)

    async def handled(self) -> None:
        """Return once every session has handled the binding calls it received so far."""
        await asyncio.gather(*(session.handled() for session in self.sessions if not session.closed))

    async def close(self) -> None:
        for session in self.sessions:
            await session.close()
