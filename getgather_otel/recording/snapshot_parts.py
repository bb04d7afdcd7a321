"""A full snapshot sent in parts, found and put back together.

A snapshot over the recorder's part size (a 20,000-row table: ~11 MB of JSON) leaves the page
as an outline, the FullSnapshot event, followed by Mutation events at the snapshot's timestamp
whose adds each carry a whole subtree, and a `getgather.snapshot.parts` custom event that ends
them (js/world.js `snapshotParts`). rrweb's replayer builds each added node without its children
(`skipChild`, as rrweb's own recorder sends one add per node), so those parts would replay as a
skeleton: rows without cells or text. The replay joins them into one FullSnapshot first.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from getgather_otel.recording import rrweb_events

__all__ = ["PARTS_TAG", "assembled", "joined", "snapshot_parts", "walk"]

PARTS_TAG = "getgather.snapshot.parts"


def walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every node of a serialized rrweb node tree, `node` first."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(current.get("childNodes", ()))


def _parts(snapshot: dict[str, Any], following: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The parts after `snapshot` in `following` (events after it, in time order), with their end marker."""
    for end, event in enumerate(following):
        data = event.get("data") or {}
        if event.get("timestamp") != snapshot.get("timestamp"):
            break
        if event.get("type") == rrweb_events.CUSTOM and data.get("tag") == PARTS_TAG:
            return [snapshot, *following[: end + 1]]
        if event.get("type") != rrweb_events.INCREMENTAL_SNAPSHOT or data.get("source") != rrweb_events.SOURCE_MUTATION:
            break
    return [snapshot]


def snapshot_parts(events: Sequence[dict[str, Any]], index: int) -> list[dict[str, Any]]:
    """The full snapshot at `index` of `events` (in any order) and the parts that complete it.

    A list of the snapshot alone when it was sent whole. The events after it are taken in the
    replay's order (by time): a marker added in Python while the parts still arrived (the end of
    an activity that ended meanwhile) is stored among them but plays after them.
    """
    snapshot = events[index]
    following = sorted(
        (event for event in events[index + 1 :] if event["timestamp"] >= snapshot["timestamp"]),
        key=lambda event: event["timestamp"],
    )
    return _parts(snapshot, following)


def assembled(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The node tree `parts` (from `snapshot_parts`) describe, as one serialized document.

    The outline's nodes receive the added subtrees in place: the events of `parts` change.
    """
    root: dict[str, Any] = parts[0]["data"]["node"]
    by_id = {node["id"]: node for node in walk(root)}
    for event in parts[1:]:
        for add in (event.get("data") or {}).get("adds", ()):
            parent = by_id.get(add.get("parentId"))
            if parent is not None and isinstance(add.get("node"), dict):
                parent.setdefault("childNodes", []).append(add["node"])
                by_id.update((node["id"], node) for node in walk(add["node"]))
    return root


def joined(ordered: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """`ordered` (events in time order) with each snapshot sent in parts made one FullSnapshot.

    The parts and their end marker are dropped; the snapshot's node tree is assembled in place
    (`assembled`), so the events given change. Events of a snapshot sent whole pass as they are.
    """
    out: list[dict[str, Any]] = []
    index = 0
    while index < len(ordered):
        event = ordered[index]
        out.append(event)
        index += 1
        if event.get("type") == rrweb_events.FULL_SNAPSHOT:
            parts = _parts(event, ordered[index:])
            if len(parts) > 1:
                assembled(parts)
                index += len(parts) - 1
    return out
