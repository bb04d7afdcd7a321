"""Turning one activity's recording into a self-contained replay page (the reads: `store/queries/recordings.py`).

The page inlines rrweb-player (script and CSS from the package assets) and the events,
so it works offline and from file://. Each page stream of the recording is one tab in
the page; the activity's span events (navigations, browser actions, errors, page closes)
become custom events that rrweb-player shows as coloured markers on its timeline.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from getgather_otel.capture import attributes as attr
from getgather_otel.recording import assets, rrweb_events
from getgather_otel.recording.chunk_codec import DamagedChunkError, decode
from getgather_otel.recording.snapshot_parts import joined
from getgather_otel.store.engine import Engine
from getgather_otel.store.queries import recordings as recording_reads
from getgather_otel.store.queries.traces import span_events_of_trace

__all__ = [
    "MARKER_TAGS",
    "PageRecording",
    "RecordingNotFoundError",
    "load_streams",
    "playable",
    "render_html",
    "replay_page",
    "resolve_activity",
    "skipped_chunks",
    "span_event_markers",
]

# Span events shown on the replay timeline, and their marker colours.
MARKER_TAGS: dict[str, str] = {
    attr.EVENT_NAVIGATION: "#2f80ed",
    attr.EVENT_ACTION: "#27ae60",
    "exception": "#eb5757",
    attr.EVENT_PAGE_CLOSED: "#9b51e0",
    attr.EVENT_PAGE_CRASHED: "#eb5757",
    attr.TAG_ACTIVITY_START: "#f2994a",
    attr.TAG_ACTIVITY_END: "#f2994a",
    # Evidence of what went wrong (issue 18, recording/evidence.py).
    attr.EVENT_HTTP_ERROR: "#d35400",
    attr.EVENT_REQUEST_FAILED: "#d35400",
    attr.EVENT_NAVIGATION_ERROR: "#c0392b",
    attr.EVENT_DIALOG: "#8e44ad",
    attr.EVENT_DOWNLOAD: "#16a085",
    attr.EVENT_CHALLENGE: "#c0392b",
    attr.EVENT_SIGN_IN_FORM: "#c0392b",
    attr.EVENT_BROWSER_CALL_FAILED: "#eb5757",
    attr.EVENT_ELEMENT_MISSING: "#eb5757",
}


class RecordingNotFoundError(LookupError):
    """No activity, or no recording for it, under the id given."""


@dataclass
class PageRecording:
    """All events of one page (tab) within a recording, in order; `skipped` says which of its
    chunks could not be decoded (one sentence each), so the page plays what is left and says so."""

    page_id: str
    url: str
    events: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def resolve_activity(engine: Engine, activity_id: str) -> tuple[str, str]:
    """(span id, trace id) of the activity whose id is `activity_id` or starts with it (>= 6 chars)."""
    if len(activity_id) < 6:
        raise RecordingNotFoundError("give at least 6 characters of the activity id")
    found = recording_reads.activities_by_prefix(engine, activity_id)
    if not found:
        raise RecordingNotFoundError(f"no activity with id {activity_id!r}")
    if len(found) > 1:
        raise RecordingNotFoundError(f"{activity_id!r} matches more than one activity; give more characters")
    return found[0]


def load_streams(engine: Engine, activity_id: str) -> tuple[str, list[PageRecording]]:
    """The recorded pages of an activity (or of the activity its recording belongs to): (owner span id, pages)."""
    span_id, trace_id = resolve_activity(engine, activity_id)
    owner = recording_reads.recording_owner(engine, span_id, trace_id)
    if owner is None:
        raise RecordingNotFoundError(f"activity {span_id} has no browser recording")
    pages: dict[str, PageRecording] = {}
    for page_id, sequence, url, data, compression in recording_reads.owner_chunks(engine, owner, trace_id):
        page = pages.setdefault(page_id, PageRecording(page_id, url))
        page.url = url or page.url
        try:
            page.events.extend(decode(data, compression))
        except DamagedChunkError as error:
            page.skipped.append(f"chunk {sequence} of page {page_id} is damaged: {error}")
    return owner, list(pages.values())


def skipped_chunks(pages: list[PageRecording]) -> list[str]:
    """What `load_streams` left out of `pages`: one sentence per damaged chunk."""
    return [reason for page in pages for reason in page.skipped]


def _ms(timestamp: datetime) -> int:
    return int(timestamp.replace(tzinfo=UTC).timestamp() * 1000)


def span_event_markers(engine: Engine, span_id: str) -> list[dict[str, Any]]:
    """The span events of the activity and everything under it, as rrweb custom events."""
    spans = span_events_of_trace(engine, span_id)
    children: dict[str, list[tuple[Any, ...]]] = {}
    for span in spans:
        children.setdefault(span[1], []).append(span)
    markers: list[dict[str, Any]] = []
    todo = [span for span in spans if span[0] == span_id]
    while todo:
        span = todo.pop()
        todo.extend(children.get(span[0], []))
        for timestamp, name, attributes in zip(span[3] or [], span[4] or [], span[5] or [], strict=False):
            if name in MARKER_TAGS:
                payload = {"span": span[2], **{str(k): str(v) for k, v in (attributes or {}).items()}}
                markers.append(
                    {
                        "type": rrweb_events.CUSTOM,
                        "timestamp": _ms(timestamp),
                        "data": {"tag": name, "payload": payload},
                    }
                )
    return markers


def playable(events: list[dict[str, Any]], markers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events in time order, starting at the first Meta + FullSnapshot, with markers inside that span,
    each snapshot sent in parts joined into one (`snapshot_parts.joined`: changes `events`).

    Our own custom events are stamped by Python and can land a few ms before the page's
    first snapshot; rrweb-player needs the snapshot first.
    """
    ordered = joined(sorted(events, key=lambda event: event["timestamp"]))
    snapshots = [i for i, event in enumerate(ordered) if event["type"] == rrweb_events.FULL_SNAPSHOT]
    if not snapshots:
        return []
    # A new tab's first document is the empty about:blank it starts as; start where the page is.
    first_snapshot = next((i for i in snapshots if not _is_blank_document(ordered, i)), snapshots[0])
    start = (
        first_snapshot - 1
        if first_snapshot and ordered[first_snapshot - 1]["type"] == rrweb_events.META
        else first_snapshot
    )
    head, body = ordered[:start], ordered[start:]
    begin, end = body[0]["timestamp"], body[-1]["timestamp"]
    moved = [dict(event, timestamp=begin) for event in head if event["type"] == rrweb_events.CUSTOM]
    inside = [dict(marker, timestamp=min(max(marker["timestamp"], begin), end)) for marker in markers]
    return body[:2] + sorted(moved + body[2:] + inside, key=lambda event: event["timestamp"])


def _is_blank_document(ordered: list[dict[str, Any]], snapshot: int) -> bool:
    """Whether the full snapshot at `snapshot` belongs to an about:blank document (per its Meta event)."""
    meta = ordered[snapshot - 1] if snapshot else None
    return bool(meta and meta["type"] == rrweb_events.META and meta["data"].get("href") == "about:blank")


def replay_page(engine: Engine, activity_id: str, nonce: str | None = None) -> tuple[str, list[PageRecording]]:
    """The replay HTML of an activity's recording (or its recorded ancestor's), and the pages in it.

    `nonce` marks the page's scripts for a Content-Security-Policy that allows only them.
    """
    owner, pages = load_streams(engine, activity_id)
    markers = span_event_markers(engine, owner)
    name = recording_reads.activity_title(engine, owner)
    title = f"Replay of {name[0]} ({name[1] or 'no brand'}), activity {owner}" if name else f"Replay of {owner}"
    return render_html(title, pages, markers, nonce), pages


def _script_json(value: Any) -> str:
    """JSON safe to inline in a <script> element (no `</script>`, no HTML comment openers)."""
    return (
        json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def render_html(title: str, pages: list[PageRecording], markers: list[dict[str, Any]], nonce: str | None = None) -> str:
    """A self-contained HTML page replaying `pages`, one tab per page."""
    data = [
        {"page_id": page.page_id, "url": page.url, "events": events}
        for page in pages
        if (events := playable(page.events, markers))
    ]
    if not data:
        skipped = skipped_chunks(pages)
        damage = f" (skipped {len(skipped)} damaged chunk(s): {skipped[0]})" if skipped else ""
        raise RecordingNotFoundError(f"the recording has no full snapshot to start a replay from{damage}")
    return _TEMPLATE.format(
        title=html.escape(title),
        css=assets.load("rrweb-player.css"),
        player=assets.load("rrweb-player.js").replace("</script", "<\\/script"),
        data=_script_json(data),
        tags=_script_json(MARKER_TAGS),
        nonce=f' nonce="{html.escape(nonce)}"' if nonce else "",
    )


_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>{css}</style>
<style>
  body {{ font-family: system-ui, sans-serif; margin: 16px; background: #f6f7f9; }}
  #tabs button {{ margin: 0 6px 8px 0; padding: 4px 10px; border: 1px solid #bbb; background: #fff; cursor: pointer; }}
  #tabs button.active {{ background: #2f80ed; color: #fff; border-color: #2f80ed; }}
  #url {{ color: #555; font-size: 13px; margin-bottom: 8px; word-break: break-all; }}
</style>
</head>
<body>
<h1 style="font-size:18px">{title}</h1>
<div id="tabs"></div>
<div id="url"></div>
<div id="player"></div>
<script{nonce}>{player}</script>
<script{nonce}>
(function () {{
  var pages = {data};
  var tags = {tags};
  var Player = rrwebPlayer.default || rrwebPlayer.Player;
  var current = null;
  var shown = -1;
  function show(index) {{
    shown = index;
    var target = document.getElementById("player");
    if (current && current.getReplayer) {{ try {{ current.getReplayer().destroy(); }} catch (e) {{}} }}
    target.innerHTML = "";
    document.getElementById("url").textContent = pages[index].url;
    Array.prototype.forEach.call(document.querySelectorAll("#tabs button"), function (b, i) {{
      b.className = i === index ? "active" : "";
    }});
    var props = {{ events: pages[index].events, tags: tags, autoPlay: false, width: 1024, height: 576 }};
    current = new Player({{ target: target, props: props }});
    // Show the first recorded frame right away instead of an empty stage until "play". rrweb
    // applies only the events before a pause's time: 1 ms past the first full snapshot brings
    // the constructed stylesheets stamped with its time, so that frame is styled. (Before this
    // page's load event, rrweb-player must first be paused at 0, or the page never loads.)
    var events = pages[index].events;
    var snapshot = events.find(function (e) {{ return e.type === 2; }}) || events[0];
    var firstFrame = snapshot.timestamp - events[0].timestamp + 1;
    if (document.readyState === "complete") {{
      current.getReplayer().pause(firstFrame);
    }} else {{
      current.getReplayer().pause(0);
      window.addEventListener("load", function () {{
        if (shown === index) current.getReplayer().pause(firstFrame);
      }});
    }}
    window.replayer = current;
  }}
  pages.forEach(function (page, index) {{
    var button = document.createElement("button");
    button.textContent = "Page " + (index + 1) + " (" + page.events.length + " events)";
    button.onclick = function () {{ show(index); }};
    document.getElementById("tabs").appendChild(button);
  }});
  show(0);
  // The viewer frames this page on another origin and asks it to seek to a moment (a span or
  // span event it was clicked on): show the page (tab) the event names, else the one recorded
  // at that moment, then seek.
  function pageAt(timestamp) {{
    var best = 0, distance = Infinity;
    pages.forEach(function (page, index) {{
      var first = page.events[0].timestamp, last = page.events[page.events.length - 1].timestamp;
      var away = timestamp < first ? first - timestamp : (timestamp > last ? timestamp - last : 0);
      if (away < distance) {{ best = index; distance = away; }}
    }});
    return best;
  }}
  window.addEventListener("message", function (event) {{
    var message = event.data;
    if (event.source !== window.parent || !message || message.type !== "getgather-seek") return;
    var index = pages.findIndex(function (page) {{ return page.page_id === message.page_id; }});
    if (index < 0) index = pageAt(Number(message.timestamp));
    if (index !== shown) show(index);
    var offset = Math.max(0, Number(message.timestamp) - pages[index].events[0].timestamp);
    current.goto(offset, false);
    window.parent.postMessage({{ type: "getgather-replay-position", page: index, offset_ms: offset }}, "*");
  }});
}})();
</script>
</body>
</html>
"""
