// getgather-otel's recorder: runs rrweb in one document and hands its events to Python.
//
// Chromium runs this in an isolated world (CDP `Page.addScriptToEvaluateOnNewDocument`
// with a `worldName`) of every document of a recorded page and of its iframes, wrapped by
// Python as
//   (function (rrwebRecord, config) { <this file> })(<rrweb bundle's export>, <config JSON>)
// An isolated world shares the DOM with the page but none of its JavaScript: the globals,
// prototypes, expandos on DOM objects and listeners below exist only here, so a page cannot
// see, call or break any of it (measured: docs/architecture.md, "Recording out of the
// page's reach"). The world's binding `config.binding` (CDP `Runtime.addBinding` with
// `executionContextName`) is the only way out, and exists only in this world. It appears
// 12-100 ms after this script starts: until then events wait in a bounded queue.
//
// The same file is the opt-in main-world fallback for browsers without CDP, where all of
// this is visible to the page (see recording/main_world.py).
//
// Frames: the top document runs rrweb and emits; a child document whose parent is
// cross-origin runs rrweb's cross-origin-iframe child mode, whose messages for
// `window.parent` go to the binding instead (this world's `parent` is a stand-in, so the
// real parent page receives nothing). Python hands them to the parent document's world,
// `deliverChild`, which passes them to rrweb's message handler captured here (never added
// to the real window, so a page cannot forge or see those messages). A same-origin child
// is recorded by its parent's rrweb directly, as rrweb does.
//
// Delivery: FullSnapshot, Meta, Custom, Input and MouseInteraction events leave on the next
// microtask; the rest are batched for `config.batchMs`, and leave at once when a
// navigation starts. Every payload carries a unique id;
// Python drops ids it has seen, so a payload taken by `drain()` and also sent arrives once.
"use strict";
const GUARD = Symbol.for(config.guard);
if (document[GUARD]) return;

const EVENT_DOM_CONTENT_LOADED = 0;
const EVENT_LOAD = 1;
const EVENT_FULL_SNAPSHOT = 2;
const EVENT_INCREMENTAL = 3;
const EVENT_META = 4;
const EVENT_CUSTOM = 5;
const SOURCE_MUTATION = 0;
const SOURCE_MOUSE_INTERACTION = 2;
const SOURCE_INPUT = 5;
const SOURCE_ADOPTED_STYLE_SHEET = 15;
// Constructed stylesheets adopted this soon after a full snapshot belong to its first frame.
const ADOPTED_AFTER_SNAPSHOT_MS = 100;

const isTop = window.top === window;
// Chromium gives isolated worlds no custom element registry (`customElements` is null), and
// rrweb asks it about every element it serializes: each ask threw and was caught, which made a
// 5,000-row table's snapshot take 2.8 s instead of 0.4 s (measured). The world's stand-in
// answers from the tag name: a name with a hyphen is a custom element's.
if (config.isolated && !globalThis.customElements) {
  const registry = { get: (name) => (String(name).includes("-") ? true : undefined) };
  Object.defineProperty(globalThis, "customElements", { value: registry, configurable: true });
}
// The faster full snapshot (js/snapshot.js), where no page script can reach the prototypes it
// reads through: isolated worlds only. rrweb hands `hooks.snapshot` its options (the bundle
// patch in recording/assets.py); `options` of the last snapshot are kept for `serialized()`.
const hooks = rrwebRecord.hooks || {};
let snapshotOptions = null;
// Elements (and the document, for the viewport) that fired a scroll event in this document,
// page scripts' scrolls included: DOM events reach every world. When this script ran before the
// document's own (a new document), any other's scroll offsets are 0 and are not read, by the
// fast snapshot, by rrweb's serializer or for the snapshot's `initialOffset` (bundle patches in
// recording/assets.py). Reading one forces a style and layout pass: at DOMContentLoaded, before
// the page's own handlers restyle it (CSS-in-JS), that pass was done twice, and it was most of a
// 20,000-row document's 2.3 s of handlers (bench/recording.py heavy); asked of every element it
// was also ~70 ms of a 5,000-row snapshot. A document injected later may have scrolled before:
// everything is read. A scroll made in the same task as a snapshot reaches the recording as
// rrweb's scroll event, a frame later.
const scrolledElements = new WeakSet();
const sawDocumentStart = document.readyState === "loading";
if (config.isolated) {
  addEventListener("scroll", (event) => scrolledElements.add(event.target), { capture: true, passive: true });
}
const mayHaveScrolled = (target) => !sawDocumentStart || scrolledElements.has(target);
const snapshotHints = {
  scrolled: mayHaveScrolled,
  get textRoot() {
    return { full: false, container: "", editable: document.designMode === "on" };
  },
  enterText: maskTextState,
};
if (config.isolated) {
  hooks.scrolled = mayHaveScrolled;
  hooks.windowOffset = (win, read) => (mayHaveScrolled(document) ? read(win) : { left: 0, top: 0 });
  // Before the load event of a document seen from its start: nothing selected yet (bundle patch).
  hooks.freshDocument = () => sawDocumentStart && document.readyState !== "complete";
  hooks.snapshot = (root, options) => {
    snapshotOptions = options;
    return fastSnapshot(root, options, hooks.tools, snapshotHints);
  };
}
const messageHandlers = [];
if (config.isolated) {
  // rrweb listens for its child frames' messages on `window` (and on same-origin child
  // windows): keep those listeners here instead of on the real window, where any page could
  // post to them. Only rrweb runs in this world, so every such listener is rrweb's.
  const realAddEventListener = EventTarget.prototype.addEventListener;
  EventTarget.prototype.addEventListener = function (type, listener, options) {
    if (type === "message" && this === window) {
      messageHandlers.push(listener);
      return;
    }
    return realAddEventListener.call(this, type, listener, options);
  };
  if (!isTop) {
    const realParent = window.parent;
    const standIn = {
      // Reading it throws for a cross-origin parent: rrweb's test for child mode.
      get document() {
        return realParent.document;
      },
      postMessage(message) {
        enqueueMessage(message);
      },
    };
    Object.defineProperty(window, "parent", { value: standIn, configurable: true });
  }
}

// rrweb only calls maskTextFn for text it already decided to mask (class/selector match).
// With patterns (emails, card numbers) every text must pass through it, so rrweb is told to
// mask everything and this function masks fully what the class/selector names, and only
// the pattern matches elsewhere.
const maskTextClassSelector = config.maskTextClass ? "." + CSS.escape(config.maskTextClass) : "";
function fullyMasked(element) {
  if (!element || !element.closest) return false;
  if (maskTextClassSelector && element.closest(maskTextClassSelector)) return true;
  return Boolean(config.maskTextSelector && element.closest(config.maskTextSelector));
}
// What maskTextFn asks of a text's ancestors, for the children of `element` given its parent's
// state: the same answers as `fullyMasked` and `privateText`'s `closest`, one `matches` per element.
// `container`: the audit kind of the nearest select, datalist or textarea ("" outside one);
// `editable`: what the `contenteditable` attributes (and `designMode`) say, inherited.
function maskTextState(element, parent) {
  const full =
    parent.full ||
    Boolean(maskTextClassSelector && element.matches(maskTextClassSelector)) ||
    Boolean(config.maskTextSelector && element.matches(config.maskTextSelector));
  const own = element.matches(PRIVATE_TEXT_CONTAINERS);
  const container = own ? (element.tagName === "TEXTAREA" ? KIND_EDITABLE : KIND_SELECT) : parent.container;
  const attribute = element.getAttribute("contenteditable");
  const editable = EDITABLE_VALUES.has(attribute) ? true : attribute === "false" ? false : parent.editable;
  const same = full === parent.full && container === parent.container && editable === parent.editable;
  return same ? parent : { full, container, editable };
}
const EDITABLE_VALUES = new Set(["", "true", "plaintext-only"]);
// Whether a text the walk reached is in an editable region. `isContentEditable` computes the
// element's style (CSS can make an element editable too): before the load event that is a
// style pass the page's own scripts would undo (see `scrolledElements`), and nobody has typed
// yet, so the attributes decide; after it, the element does.
function inEditable(element, state) {
  return document.readyState === "complete" ? element.isContentEditable : state.editable;
}
// `state` (from maskTextState, when a walk carries it) stands in for looking up the ancestors.
function maskTextFn(text, element, state) {
  if (state ? state.full : fullyMasked(element)) {
    if (text.trim()) countMask(KIND_TEXT_CLASS);
    return text.replace(/[\S]/g, "*");
  }
  // A walk's state answers what `privateText` would, in its order: editable first, then the container.
  let kind = "";
  if (maskInputsByDefault() && !state) kind = privateText(element);
  else if (maskInputsByDefault()) kind = inEditable(element, state) ? KIND_EDITABLE : state.container;
  if (kind) {
    if (text.trim()) countMask(kind);
    return maskPrivateText(text);
  }
  return maskPatternsIn(text);
}

// Every text passes maskTextFn: editable regions and selects (js/privacy.js) and patterns.
const privacy = {
  // Password fields stay masked whatever the other options say (js/privacy.js).
  ...inputPrivacy(),
  maskTextClass: config.maskTextClass,
  maskTextSelector: "*",
  maskTextFn,
  blockClass: config.blockClass,
  blockSelector: config.blockSelector || null,
  recordCrossOriginIframes: true,
  recordAfter: "DOMContentLoaded",
  slimDOMOptions: "all",
  inlineStylesheet: true,
  // Never sampling.input 'last': it drops text typed by automation.
};

const doc = Math.random().toString(36).slice(2, 12) + Date.now().toString(36);
// Items: JSON strings of events (top) or of rrweb child-frame messages (children).
const queue = [];
let queuedChars = 0;
let droppedEvents = 0;
let sentCount = 0;
let microtaskQueued = false;
let timer = null;
let retries = 0;
let started = false;
let lastSnapshotAt = 0;
// A payload went out through the binding: the rest of the queue follows the same way.
let bindingWorks = false;

function findBinding() {
  const candidate = globalThis[config.binding];
  return typeof candidate === "function" ? candidate : null;
}

function urgent(event) {
  if (event.type !== EVENT_INCREMENTAL) return true;
  const source = event.data && event.data.source;
  return source === SOURCE_INPUT || source === SOURCE_MOUSE_INTERACTION;
}

// The oldest queued items as one payload of at most `limit` characters (but at least one item):
// what the binding is called with.
function nextPayload(limit) {
  const batch = [];
  let chars = 0;
  while (queue.length) {
    if (batch.length && chars + queue[0].length > limit) break;
    const json = queuedJson();
    if (json === null || (batch.length && chars + json.length > limit)) break;
    queue.shift();
    queuedChars -= json.length;
    chars += json.length;
    batch.push(json);
  }
  const dropped = droppedEvents;
  droppedEvents = 0;
  const key = isTop ? "events" : "messages";
  return '{"v":1,"doc":"' + doc + '","id":"' + doc + "." + ++sentCount + '","dropped":' + dropped +
    takeMaskCounts() + takeTypedSecrets() + ',"' + key + '":[' + batch.join(",") + "]}";
}

// Sends what is queued. A binding call costs the page's main thread ~25-50 ms per MB (measured),
// so unless the document is going away (`flushAll`), one task sends at most `config.sliceChars`
// and leaves the rest to the next task: a big snapshot's parts no longer hold the load event,
// and the automation's own calls run between them.
function flush(all) {
  const everything = all === true;
  microtaskQueued = false;
  if (timer !== null) {
    clearTimeout(timer);
    timer = null;
  }
  if (!queue.length && !droppedEvents && !(everything && blobs.size)) return;
  const send = findBinding();
  if (!send) {
    // Not added yet (it comes 12-100 ms after this script starts): try again shortly.
    if (retries++ < config.bindingRetries) timer = setTimeout(flush, config.bindingRetryMs);
    return;
  }
  if (everything) {
    try {
      resendBlobs(send);
    } catch (error) {
      return; /* the document is going away */
    }
  }
  let sent = 0;
  while (queue.length || droppedEvents) {
    // A snapshot part still to be stringified starts a task of its own.
    if (!everything && (sent >= config.sliceChars || (sent > 0 && typeof queue[0] !== "string"))) {
      timer = setTimeout(flush, 0);
      return;
    }
    const payload = nextPayload(everything ? config.maxPayloadChars : config.sliceChars);
    sent += payload.length;
    try {
      sendPayload(send, payload, everything);
      bindingWorks = true;
    } catch (error) {
      return; /* the document is going away */
    }
  }
}
const flushAll = () => flush(true);

// A big payload leaves as a Blob: the binding call copies its string on the page's main
// thread (~16 ms per MB, CDP `Runtime.bindingCalled`), a Blob ~4 ms per MB, and Python reads
// it from the browser (`IO.resolveBlob`, `IO.read`) off that thread (bench/payload_transfer.py).
// The binding carries only `{"blob":key}`; Python takes the Blob with `takeBlob(key)`. Until
// then it stays here with its payload, which a document going away sends through the binding
// instead (a Blob may not outlive its document): Python drops the id if it had the Blob.
// Python handles the binding's calls in order, so while a Blob waits to be taken the payloads
// after it go as Blobs too, whatever their size: should the document go first, the Blobs' and
// their payloads come through the binding in the order they left. (Measured: keeping that up
// until Python has *read* each Blob made every later payload a Blob, +59 ms a round of the
// 5,000-row flow.)
const blobs = new Map();
let blobCount = 0;
let blobChars = 0;
// The newest key Python asked for (`takeBlob`), or handed over (`drain`, `resendBlobs`).
let blobsTaken = 0;
function sendPayload(send, payload, everything) {
  const asBlob = config.blobChars && (payload.length >= config.blobChars || blobCount > blobsTaken);
  if (everything || !asBlob || blobChars + payload.length > config.maxQueuedChars) {
    send(payload);
    return;
  }
  const key = ++blobCount;
  blobs.set(key, { blob: new Blob([payload]), payload });
  blobChars += payload.length;
  send('{"blob":' + key + "}");
}
function resendBlobs(send) {
  for (const { payload } of blobs.values()) send(payload);
  blobs.clear();
  blobChars = 0;
  blobsTaken = blobCount;
}
// Python takes Blobs in order: one it asks for means it is done with every earlier one. The
// Blob asked for stays until Python says it has read it (`blobsRead`), in case the document
// goes before that: its payload is then sent through the binding.
function takeBlob(key) {
  blobsTaken = Math.max(blobsTaken, key);
  blobsRead(key - 1);
  const entry = blobs.get(key);
  return entry ? entry.blob : null;
}
function blobsRead(key) {
  for (const [earlier, { payload }] of blobs) {
    if (earlier > key) break;
    blobs.delete(earlier);
    blobChars -= payload.length;
  }
}

function schedule(now) {
  if (now || queuedChars > config.maxPayloadChars) {
    if (!microtaskQueued) {
      microtaskQueued = true;
      queueMicrotask(flush);
    }
  } else if (timer === null && !microtaskQueued) {
    timer = setTimeout(flush, config.batchMs);
  }
}

// Bounded in-page memory: an item too big to ship, or a queue the binding never drains,
// drops events (counted and reported) instead of growing without limit.
function push(json, now) {
  if (json.length > config.maxEventChars || queuedChars + json.length > config.maxQueuedChars) {
    droppedEvents++;
    schedule(true);
    return;
  }
  queue.push(json);
  queuedChars += json.length;
  schedule(now);
}

// The JSON of the queue's first item, stringifying it there if it is a snapshot part still
// queued as an object (`pushParts`); a Mutation part whose JSON came out over
// `config.partChars` (text full of characters JSON escapes) is halved until it fits, rather
// than dropped. A part's queued length is its estimate until then.
function queuedJson() {
  const item = queue[0];
  if (typeof item === "string") return item;
  const json = JSON.stringify(item.part);
  const adds = item.part.type === EVENT_INCREMENTAL ? item.part.data.adds : null;
  if (json.length > config.partChars && adds && adds.length > 1) {
    const half = Math.ceil(adds.length / 2);
    const withAdds = (some) => ({
      part: Object.assign({}, item.part, { data: Object.assign({}, item.part.data, { adds: some }) }),
      length: Math.ceil(item.length / 2),
    });
    queue.splice(0, 1, withAdds(adds.slice(0, half)), withAdds(adds.slice(half)));
    queuedChars += queue[0].length + queue[1].length - item.length;
    return queuedJson();
  }
  if (json.length > config.maxEventChars) {
    queue.shift();
    queuedChars -= item.length;
    droppedEvents++;
    return queue.length ? queuedJson() : null;
  }
  queue[0] = json;
  queuedChars += json.length - item.length;
  return json;
}

function enqueue(event) {
  if (event.type === EVENT_FULL_SNAPSHOT) {
    lastSnapshotAt = event.timestamp;
  } else if (
    event.type === EVENT_INCREMENTAL &&
    event.data.source === SOURCE_ADOPTED_STYLE_SHEET &&
    event.timestamp - lastSnapshotAt <= ADOPTED_AFTER_SNAPSHOT_MS
  ) {
    // rrweb adopts a document's constructed sheets just after its snapshot (a shadow root's
    // one task later): stamped with the snapshot's time, the replay's first frame is styled.
    event.timestamp = lastSnapshotAt;
  }
  let json;
  try {
    scrubEvent(event);
    // A big snapshot goes in parts (below), each stringified once: measuring it by stringifying
    // it whole first cost a second pass over megabytes of JSON.
    const sizes = event.type === EVENT_FULL_SNAPSHOT ? subtreeChars(event.data.node) : null;
    if (sizes && sizes.get(event.data.node) > config.partChars) {
      pushParts(snapshotParts(event, sizes));
      letGo(event);
      return;
    }
    json = JSON.stringify(event);
    if (sizes && json.length > config.partChars) {
      // Estimated under the part size, but its text is full of characters JSON escapes.
      pushParts(snapshotParts(event, sizes));
      letGo(event);
      return;
    }
  } catch (error) {
    droppedEvents++;
    letGo(event);
    return;
  }
  push(json, urgent(event));
  letGo(event);
}

// rrweb keeps its last full snapshot event for its checkouts, which read its time alone, and
// the mirror keeps no serialized node (js/snapshot.js): once a snapshot is queued (as JSON, or
// as parts that hold their own subtrees), its tree goes with the last reference to it.
function letGo(event) {
  if (event.type === EVENT_FULL_SNAPSHOT && event.data) event.data.node = null;
}

// Estimated JSON characters of every subtree of a serialized node, in one walk over the tree
// without stringifying it: the text, tag and attributes plus a fixed share for each node's
// keys and id. Close enough to size parts; `pushParts` splits any part that came out too big.
const NODE_KEYS_CHARS = 48;
function subtreeChars(root) {
  const sizes = new Map();
  const measure = (node) => {
    let chars = NODE_KEYS_CHARS + (node.textContent ? node.textContent.length : 0);
    const attributes = node.attributes;
    if (attributes) {
      for (const name in attributes) {
        const value = attributes[name];
        chars += name.length + 6 + (typeof value === "string" ? value.length : 12);
      }
    }
    for (const child of node.childNodes || []) chars += measure(child);
    sizes.set(node, chars);
    return chars;
  };
  measure(root);
  return sizes;
}

// Each part as one queued item. The outline and the closing marker are small and go as JSON
// at once; the Mutation parts wait in the queue as objects with their estimated size, each
// stringified when its turn to be sent comes (`queuedJson`, one per task): stringifying all
// of a 5,000-row snapshot's parts inside the DOMContentLoaded handlers held the load event
// ~35 ms (measured with the parts left unsent).
function pushParts(parts) {
  for (const { part, chars } of parts) {
    if (chars === undefined) {
      push(JSON.stringify(part), true);
    } else if (chars > config.maxQueuedChars - queuedChars) {
      droppedEvents++;
    } else {
      queue.push({ part, length: chars });
      queuedChars += chars;
    }
  }
  schedule(true);
}

// A full snapshot bigger than `config.partChars` (a 20,000-row table: ~13 MB) is sent as a
// snapshot of the document's outline followed by Mutation events that add the rest, each
// about half a part, all at the snapshot's time: the replay rebuilds the same DOM, nothing
// is dropped, and no single payload holds Python's event loop for long. `sizes`: subtreeChars.
function snapshotParts(event, sizes) {
  const target = Math.max(Math.floor(config.partChars / 2), 1024);
  const own = new Map();
  const adds = [];
  // The document and <html> keep their children; below them, a node too big for one part
  // gives its children to Mutation adds (each right after its parent's, so order is kept).
  (function split(node, depth) {
    const children = node.childNodes;
    if (!children || !children.length || sizes.get(node) <= target) return;
    if (depth < 2) {
      for (const child of children) split(child, depth + 1);
      return;
    }
    node.childNodes = [];
    own.set(node, sizes.get(node) - children.reduce((sum, child) => sum + sizes.get(child), 0));
    for (const child of children) {
      adds.push({ parentId: node.id, node: child });
      split(child, depth + 1);
    }
  })(event.data.node, 0);
  const parts = [{ part: event }];
  let batch = [];
  let chars = 0;
  const emitBatch = () => {
    if (!batch.length) return;
    parts.push({
      part: {
        type: EVENT_INCREMENTAL,
        timestamp: event.timestamp,
        data: { source: SOURCE_MUTATION, adds: batch, removes: [], texts: [], attributes: [] },
      },
      chars,
    });
    batch = [];
    chars = 0;
  };
  for (const add of adds) {
    const length = own.has(add.node) ? own.get(add.node) : sizes.get(add.node);
    if (chars + length > target) emitBatch();
    batch.push({ parentId: add.parentId, nextId: null, node: add.node });
    chars += length;
  }
  emitBatch();
  parts.push({
    part: {
      type: EVENT_CUSTOM,
      timestamp: event.timestamp,
      data: {
        tag: "getgather.snapshot.parts",
        payload: { estimated_chars: sizes.get(event.data.node), parts: parts.length - 1 },
      },
    },
  });
  return parts;
}

function enqueueMessage(message) {
  if (message && message.event && message.event.type === EVENT_FULL_SNAPSHOT) started = true;
  let json;
  try {
    if (message) scrubEvent(message.event);
    json = JSON.stringify(message);
  } catch (error) {
    droppedEvents++;
    return;
  }
  push(json, !message || !message.event || urgent(message.event));
  if (message && message.event) letGo(message.event);
}

// State that page scripts change through APIs rrweb hooks in the page's own world (input
// values and checked set by script, CSSOM rules, adopted sheets, shadow roots attached
// later) is out of this world's sight; `settle()` compares it with what was recorded and
// takes a checkpoint (a fresh full snapshot) when it differs.
const recordedValues = new WeakMap();
let seenStructure = "";
// The root element of the last snapshot: another one means the page rewrote itself
// (`document.open()` / `write()`).
let seenRoot = null;

function valueOf(element) {
  return element.type === "checkbox" || element.type === "radio" ? String(element.checked) : element.value;
}

// A sheet's rules and their declarations: what `insertRule`/`deleteRule` and a rule's
// `style.setProperty` change. Not the rules' text, whose serialising costs 40-80 ms per
// settle on a page of 5,000 rules (counting: 3 ms), so a new value for a property a rule
// already has goes unseen.
function rulesOf(sheet) {
  try {
    let declarations = 0;
    for (const rule of sheet.cssRules) if (rule.style) declarations += rule.style.length;
    return sheet.cssRules.length + "." + declarations;
  } catch (error) {
    return "x"; /* a cross-origin sheet */
  }
}

// Stylesheet rules, adopted sheets and shadow roots: what rrweb here cannot hook.
function structure() {
  const parts = [];
  for (const sheet of document.styleSheets) parts.push(rulesOf(sheet));
  for (const sheet of document.adoptedStyleSheets || []) parts.push("a" + rulesOf(sheet));
  const walker = document.createTreeWalker(document.documentElement || document, NodeFilter.SHOW_ELEMENT);
  for (let node = walker.currentNode; node; node = walker.nextNode()) {
    const root = node.shadowRoot;
    if (root) parts.push("s" + root.childNodes.length + "." + (root.adoptedStyleSheets || []).length);
  }
  return parts.join(",");
}

function inputsChanged() {
  let changed = false;
  for (const element of document.querySelectorAll("input, textarea, select")) {
    const value = valueOf(element);
    const recorded = recordedValues.get(element);
    if (recorded === undefined) recordedValues.set(element, value);
    else if (recorded !== value) changed = true;
  }
  return changed;
}

function noteRecorded(event) {
  if (event.type === EVENT_FULL_SNAPSHOT) {
    for (const element of document.querySelectorAll("input, textarea, select")) {
      recordedValues.set(element, valueOf(element));
    }
    seenStructure = structure();
    seenRoot = document.documentElement;
  } else if (event.type === EVENT_INCREMENTAL && event.data.source === SOURCE_INPUT) {
    const element = rrwebRecord.mirror.getNode(event.data.id);
    if (element) recordedValues.set(element, valueOf(element));
  }
}

// rrweb starts in a document at DOMContentLoaded. Before it, a top document still loading (a
// body that streams slowly or never ends) gets a snapshot of what has been parsed so far when
// one is asked for (`loading`: a failure's checkpoint, recording/evidence.py), so a replay can
// end on it (bundle patch in recording/assets.py); rrweb's own snapshot still comes at
// DOMContentLoaded, its observers with it.
function takeSnapshot(loading) {
  const early = document.readyState === "loading";
  if (!started && !(loading && early && isTop)) return false;
  try {
    rrwebRecord.takeFullSnapshot(true, early);
  } catch (error) {
    return false;
  }
  return started;
}

const api = {
  // Called by Python when a new activity starts using this page: a marker saying which
  // segment the following events belong to, then a fresh full snapshot so that segment
  // replays on its own.
  checkpoint(segment) {
    enqueue({ type: EVENT_CUSTOM, timestamp: Date.now(), data: { tag: "getgather.segment", payload: { segment } } });
    takeSnapshot();
    flush();
    return true;
  },
  // Called by Python when a browser action settles and when an activity ends: a fresh
  // snapshot only if page scripts changed what this world cannot observe.
  settle() {
    if (started && isTop && document.documentElement !== seenRoot) {
      restart();
      flush();
      return true;
    }
    const stale = started && isTop && (inputsChanged() || structure() !== seenStructure);
    if (stale) takeSnapshot();
    flush();
    return stale;
  },
  // A fresh snapshot of this document (a child frame, after its parent's snapshot; the top
  // document at a failure, even while it loads).
  snapshot() {
    const taken = takeSnapshot(true);
    flush();
    return taken;
  },
  // Messages of the child frame `iframe` (an element of this document), from Python.
  deliverChild(iframe, json) {
    let messages;
    try {
      messages = JSON.parse(json);
    } catch (error) {
      return 0;
    }
    const source = iframe.contentWindow;
    if (!source || !Array.isArray(messages)) return 0;
    // The child's world counted its masks; rrweb re-emits its events here (synchronously).
    maskCountsPaused = true;
    try {
      for (const data of messages) {
        if (!data || data.type !== "rrweb") continue;
        for (const handler of messageHandlers) {
          try {
            handler({ data, origin: data.origin, source });
          } catch (error) {
            /* one bad message must not stop the others */
          }
        }
      }
    } finally {
      maskCountsPaused = false;
    }
    return messages.length;
  },
  // The document serialized again by the fast serializer or by rrweb's own, with the ids it
  // has (tests compare the two); null before the first snapshot or outside isolated worlds.
  serialized(fast) {
    if (!snapshotOptions || !hooks.tools) return null;
    const tools = hooks.tools;
    const options = snapshotOptions;
    const tree = fast ? fastSnapshot(document, options, tools, snapshotHints) : tools.serializeNodeWithId(document, options);
    return JSON.stringify(tree);
  },
  // Python's poll of a new document it has not heard from yet: what is queued, unless the
  // binding already works here (a big snapshot's slices are then on their way through it, and
  // taking them by evaluate would move megabytes in one reply).
  poll() {
    return bindingWorks ? [] : api.drain();
  },
  // The Blob of the payload announced as `{"blob":key}` (sendPayload), or null once it was sent
  // through the binding instead.
  takeBlob,
  // Python has read the Blobs up to `key`: they are not sent again.
  blobsRead,
  // What the document still holds, returned to Python (before a close, or when the binding has
  // not called back); it counts as sent. First each Blob not taken yet as [key, payload]:
  // Python routes it when it comes to that Blob's announcement, in the order of the calls (the
  // Blob stays, for an announcement whose `takeBlob` is already on its way). Then the queue's
  // payloads, which left after every announcement.
  drain() {
    if (timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
    const payloads = [...blobs].map(([key, entry]) => [key, entry.payload]);
    blobsTaken = blobCount;
    while (queue.length || droppedEvents) payloads.push(nextPayload(config.maxPayloadChars));
    return payloads;
  },
  doc,
  isTop,
};
Object.defineProperty(document, GUARD, { value: api });

// Injected into a document that already belongs to a later segment: mark it first.
if (config.segment !== null && isTop) {
  enqueue({
    type: EVENT_CUSTOM,
    timestamp: Date.now(),
    data: { tag: "getgather.segment", payload: { segment: config.segment } },
  });
}
// rrweb started in this document; `restart()` starts it again after `document.open()`, which
// erases every listener of the document and its window (rrweb's included) and replaces the
// whole tree: from then on only a new start records the document.
let stopRecording = null;
function startRecording() {
  try {
    stopRecording = rrwebRecord(
      Object.assign(
        {
          emit(event) {
            // rrweb marks DOMContentLoaded/load with empty events that replay ignores; they
            // would only stand in front of a document's Meta + FullSnapshot.
            if (event.type === EVENT_DOM_CONTENT_LOADED || event.type === EVENT_LOAD) return;
            if (event.type === EVENT_FULL_SNAPSHOT) started = true;
            noteRecorded(event);
            enqueue(event);
          },
        },
        privacy,
      ),
    );
  } catch (error) {
    enqueue({
      type: EVENT_CUSTOM,
      timestamp: Date.now(),
      data: { tag: "getgather.error", payload: { message: String(error) } },
    });
  }
  addEventListener("beforeunload", flushAll, { capture: true });
}
function restart() {
  try {
    if (stopRecording) stopRecording();
  } catch (error) {
    /* its listeners are already gone */
  }
  startRecording();
}
startRecording();

// A document that is about to go sends what it holds at once: calls made at `pagehide` never
// arrive (measured), calls made when a navigation starts do (Navigation API `navigate` for
// what the page or a link starts, `beforeunload` for what the browser starts).
if (globalThis.navigation) navigation.addEventListener("navigate", flushAll);
