"""A world's big payloads, read out of the browser as Blobs over the Chrome DevTools Protocol.

A binding call (`Runtime.bindingCalled`) copies its string on the page's main thread, ~16 ms
per MB of JSON; `new Blob([json])` costs the page ~4 ms per MB, and the browser process hands
the bytes to Python (bench/payload_transfer.py has both, measured side by side). The world
announces a Blob as `{"blob":key}` through the binding (js/world.js `sendPayload`); Python
then, with the protocol's own stream reading (CDP domains `Runtime` and `IO`):

- `Runtime.evaluate` of the world's `takeBlob(key)` in the calling context, for the Blob's
  remote object id (null when the document already sent the payload through the binding);
- `IO.resolveBlob {objectId}` for the Blob's UUID, then `Runtime.releaseObject` alongside;
- `IO.read {handle: "blob:<uuid>"}` until `eof` (base64 when the browser says so), `IO.close`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["READ_BYTES", "BlobRejectedError", "RejectedBlob", "blob_key", "read_blob"]

_STUB = re.compile(r'\{"blob":([0-9]{1,15})\}\Z')
# One `IO.read` reply; a payload is at most 1 MB of JSON (options.PART_CHARS), up to 3 bytes a character.
READ_BYTES = 4 * 1024 * 1024


class BlobRejectedError(ValueError):
    """A Blob over the payload limit, or not UTF-8: refused as a binding call of that kind would be."""


@dataclass(frozen=True)
class RejectedBlob:
    """What a refused Blob is handed on as, so that it is counted with the rejected payloads."""

    reason: str


def blob_key(payload: object) -> int | None:
    """The key of a `{"blob":key}` announcement, or None for any other payload."""
    if not isinstance(payload, str) or not payload.startswith('{"blob":'):
        return None
    match = _STUB.match(payload)
    return None if match is None else int(match[1])


async def read_blob(cdp: Any, context_id: int, take: str, limit: int) -> str | None:
    """The payload of the Blob that the expression `take` returns in the world `context_id`,
    decoded from UTF-8.

    `limit` bounds the bytes read (a payload is bounded in the page already). None when the world no longer holds
    the Blob (its payload came through the binding). Raises what the CDP session raises when the
    document or the session is gone, and BlobRejectedError for a Blob over `limit` or not UTF-8.
    """
    reply = await cdp.send("Runtime.evaluate", {"expression": take, "contextId": context_id})
    object_id = reply.get("result", {}).get("objectId")
    if object_id is None:
        return None
    try:
        uuid = (await cdp.send("IO.resolveBlob", {"objectId": object_id}))["uuid"]
    except Exception:
        await _release(cdp, object_id)
        raise
    # Sent alongside the reads: the Blob's bytes are the browser's now.
    released = asyncio.ensure_future(_release(cdp, object_id))
    handle = f"blob:{uuid}"
    parts: list[bytes] = []
    size = 0
    try:
        while True:
            chunk = await cdp.send("IO.read", {"handle": handle, "size": READ_BYTES})
            data = chunk.get("data", "")
            part = base64.b64decode(data) if chunk.get("base64Encoded") else data.encode()
            size += len(part)
            if size > limit:
                raise BlobRejectedError(f"a Blob of over {limit} bytes")
            parts.append(part)
            if chunk.get("eof"):
                break
    finally:
        await cdp.send("IO.close", {"handle": handle})
        await released
    try:
        return b"".join(parts).decode()
    except UnicodeDecodeError:
        raise BlobRejectedError("a Blob that is not UTF-8") from None


async def _release(cdp: Any, object_id: str) -> None:
    # A document gone meanwhile released its objects already.
    with contextlib.suppress(Exception):
        await cdp.send("Runtime.releaseObject", {"objectId": object_id})
