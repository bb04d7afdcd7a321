// getgather-otel's in-page recorder: starts rrweb in every document of a recorded browser
// context and streams its events to Python through an exposed binding.
//
// Runs as a context init script, wrapped by Python as
//   (function (rrwebRecord, config) { <this file> })(<rrweb bundle's export>, <config JSON>)
// so neither rrweb nor this code adds globals the page could see or tamper with; the only
// page-visible names are the binding itself and a Symbol.for() key on `document`.
//
// Delivery rules (see docs/architecture.md, "Browser recordings"):
// - Events leave as they happen. FullSnapshot, Meta, Custom, Input and MouseInteraction go
//   out on the next microtask (calls made during pagehide/unload never arrive, so waiting
//   for those is losing them); the rest are batched for `config.batchMs`.
// - Patchright exposes the binding 15-25 ms after init scripts run: until it answers,
//   events wait in a bounded queue and sending is retried.
// - One recorder per document, keyed on the document (a same-origin popup can reuse its
//   about:blank window, and Python may inject again as a fallback).
// - Hand-over: a document that ends (pagehide) with events still queued, because the
//   binding never appeared or a batch was waiting, leaves them in sessionStorage, which
//   belongs to this tab and origin; the tab's next document of the same origin sends them
//   first, under their own document id. A hand-over older than `handoverMaxAgeMs` is
//   dropped unread rather than attributed to whatever activity comes later.
// - Acknowledged delivery: a binding call made just before a navigation can be dropped by
//   the driver (its execution context is gone before the call is handled). Every payload
//   carries a unique id and stays in `unacked` until the binding's promise resolves; what
//   is unacknowledged at pagehide is handed over too and sent again, and Python drops ids
//   it has already seen, so each payload lands once.
// - Until the binding has answered once, Python also polls `takeUnanswered()` and takes
//   the queued and unacknowledged payloads as the evaluate's result: under load the driver
//   sometimes never adds the binding, and sometimes adds one whose calls never arrive
//   (measured: the function is there, every promise stays pending for the document's life).
"use strict";
const GUARD = Symbol.for(config.guard);
if (document[GUARD]) return;

const EVENT_DOM_CONTENT_LOADED = 0;
const EVENT_LOAD = 1;
const EVENT_FULL_SNAPSHOT = 2;
const EVENT_INCREMENTAL = 3;
const EVENT_META = 4;
const EVENT_CUSTOM = 5;
const SOURCE_MOUSE_INTERACTION = 2;
const SOURCE_INPUT = 5;

const maskPatterns = (config.maskTextPatterns || []).map((p) => new RegExp(p, "g"));

// rrweb only calls maskTextFn for text it already decided to mask (class/selector match).
// With patterns (emails, card numbers) every text must pass through it, so rrweb is told to
// mask everything and this function masks fully what the class/selector names, and only
// the pattern matches elsewhere.
function fullyMasked(element) {
  if (!element || !element.closest) return false;
  if (config.maskTextClass && element.closest("." + CSS.escape(config.maskTextClass))) return true;
  return Boolean(config.maskTextSelector && element.closest(config.maskTextSelector));
}
function maskTextFn(text, element) {
  if (fullyMasked(element)) return text.replace(/[\S]/g, "*");
  let masked = text;
  for (const pattern of maskPatterns) masked = masked.replace(pattern, (m) => "*".repeat(m.length));
  return masked;
}

const privacy = {
  maskAllInputs: config.maskAllInputs,
  // Password fields stay masked whatever the other options say.
  maskInputOptions: config.maskAllInputs ? undefined : { password: true },
  maskTextClass: config.maskTextClass,
  maskTextSelector: maskPatterns.length ? "*" : config.maskTextSelector || null,
  maskTextFn: maskPatterns.length ? maskTextFn : undefined,
  // No maskInputFn: rrweb would call it *instead of* masking inputs, passwords included.
  blockClass: config.blockClass,
  blockSelector: config.blockSelector || null,
  recordCrossOriginIframes: true,
  recordAfter: "DOMContentLoaded",
  slimDOMOptions: "all",
  inlineStylesheet: true,
  // Never sampling.input 'last': it drops text typed by automation.
};

if (window.top !== window) {
  // A child frame: rrweb posts its events to the parent's recorder when the frame is
  // cross-origin and does nothing when it is same-origin (the parent records it directly).
  Object.defineProperty(document, GUARD, { value: { child: true } });
  try {
    rrwebRecord(Object.assign({ emit() {} }, privacy));
  } catch (error) {
    /* a frame we cannot record must not break the page */
  }
  return;
}

const doc = Math.random().toString(36).slice(2, 12) + Date.now().toString(36);
// Items: {doc, json, chars}; a batch only ever holds one document's events.
const queue = [];
let queuedChars = 0;
let droppedEvents = 0;
let sentCount = 0;
// Payloads sent but not yet acknowledged (id -> payload), and ones handed over to resend.
const unacked = new Map();
let unackedChars = 0;
const resend = [];
let binding = null;
let microtaskQueued = false;
let timer = null;
let retries = 0;
// Set by the first acknowledgement: from then on the binding is known to deliver.
let answered = false;

function findBinding() {
  if (binding) return binding;
  const candidate = window[config.binding];
  if (typeof candidate === "function") binding = candidate;
  return binding;
}

function urgent(event) {
  if (event.type !== EVENT_INCREMENTAL) return true;
  const source = event.data && event.data.source;
  return source === SOURCE_INPUT || source === SOURCE_MOUSE_INTERACTION;
}

function flush() {
  microtaskQueued = false;
  if (timer !== null) {
    clearTimeout(timer);
    timer = null;
  }
  if (!queue.length && !resend.length) return;
  const send = findBinding();
  if (!send) {
    if (retries++ < config.bindingRetries) timer = setTimeout(flush, config.bindingRetryMs);
    return;
  }
  while (resend.length || queue.length) {
    const [id, payload] = resend.length ? resend.shift() : nextPayload();
    remember(id, payload);
    try {
      const pending = send(payload);
      if (pending && typeof pending.then === "function") pending.then(() => acknowledged(id), () => {});
    } catch (error) {
      /* the binding went away with the page */
    }
  }
}

function remember(id, payload) {
  unacked.set(id, payload);
  unackedChars += payload.length;
  // Bounded: the oldest unacknowledged payloads have almost surely arrived.
  for (const [oldId, old] of unacked) {
    if (unackedChars <= config.maxQueuedChars) break;
    unacked.delete(oldId);
    unackedChars -= old.length;
  }
}

function acknowledged(id) {
  answered = true;
  forget(id);
}

function forget(id) {
  const payload = unacked.get(id);
  if (payload === undefined) return;
  unacked.delete(id);
  unackedChars -= payload.length;
}

// The oldest queued events of one document, as one payload (what the binding is called with).
function nextPayload() {
  const batch = [];
  const batchDoc = queue[0].doc;
  let chars = 0;
  while (
    queue.length &&
    queue[0].doc === batchDoc &&
    (batch.length === 0 || chars + queue[0].chars <= config.maxPayloadChars)
  ) {
    const item = queue.shift();
    chars += item.chars;
    batch.push(item.json);
  }
  queuedChars -= chars;
  const dropped = droppedEvents;
  droppedEvents = 0;
  const id = doc + "." + ++sentCount;
  const payload =
    '{"v":1,"doc":"' + batchDoc + '","id":"' + id + '","dropped":' + dropped + ',"events":[' + batch.join(",") + "]}";
  return [id, payload];
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

function enqueue(event) {
  let json;
  try {
    json = JSON.stringify(event);
  } catch (error) {
    droppedEvents++;
    return;
  }
  // Bounded in-page memory: an event too big to ship, or a queue the binding never
  // drains, drops events (counted and reported) instead of growing without limit.
  if (json.length > config.maxEventChars || queuedChars + json.length > config.maxQueuedChars) {
    droppedEvents++;
    return;
  }
  queue.push({ doc, json, chars: json.length });
  queuedChars += json.length;
  schedule(urgent(event));
}

let started = false;
const api = {
  // Called by Python when a new activity starts using this page: a marker saying which
  // segment the following events belong to, then a fresh full snapshot so that segment
  // replays on its own.
  checkpoint(segment) {
    enqueue({ type: EVENT_CUSTOM, timestamp: Date.now(), data: { tag: "getgather.segment", payload: { segment } } });
    if (started) rrwebRecord.takeFullSnapshot(true);
    flush();
    return true;
  },
  flush,
  // Polled by Python until the binding has answered once: null from then on; before it,
  // this document's id and every queued or unacknowledged payload, which leave by this
  // call's result (and so count as delivered; Python drops any that also arrive by call).
  takeUnanswered() {
    if (answered) return null;
    const payloads = api.drain();
    for (const id of [...unacked.keys()]) forget(id);
    return { doc, payloads };
  },
  // Called by Python just before it closes the page or its context: whatever is still
  // queued (the binding may not have appeared yet) is returned instead of lost.
  drain() {
    if (timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
    const payloads = [...unacked.values(), ...resend.map(([, payload]) => payload)];
    resend.length = 0;
    while (queue.length) {
      const [id, payload] = nextPayload();
      remember(id, payload);
      payloads.push(payload);
    }
    return payloads;
  },
};
Object.defineProperty(document, GUARD, { value: api });

// Injected as a fallback into a page that already belongs to a later segment: mark it first.
if (config.segment !== null) {
  enqueue({ type: EVENT_CUSTOM, timestamp: Date.now(), data: { tag: "getgather.segment", payload: { segment: config.segment } } });
}
try {
  rrwebRecord(
    Object.assign(
      {
        emit(event) {
          // rrweb marks DOMContentLoaded/load with empty events that replay ignores; they
          // would only stand in front of a document's Meta + FullSnapshot.
          if (event.type === EVENT_DOM_CONTENT_LOADED || event.type === EVENT_LOAD) return;
          if (event.type === EVENT_FULL_SNAPSHOT || event.type === EVENT_META) started = true;
          enqueue(event);
        },
      },
      privacy,
    ),
  );
} catch (error) {
  enqueue({ type: EVENT_CUSTOM, timestamp: Date.now(), data: { tag: "getgather.error", payload: { message: String(error) } } });
}
function storage() {
  try {
    return window.sessionStorage;
  } catch (error) {
    return null; // sandboxed or opaque-origin documents have none
  }
}

// The events of this tab's previous same-origin document that never left it, sent first.
function takeHandover() {
  const store = storage();
  if (!store) return;
  let saved = null;
  try {
    saved = JSON.parse(store.getItem(config.handoverKey) || "null");
    store.removeItem(config.handoverKey);
  } catch (error) {
    return;
  }
  if (!saved || typeof saved.savedAt !== "number" || !Array.isArray(saved.items)) return;
  if (Date.now() - saved.savedAt > config.handoverMaxAgeMs) return;
  for (const entry of Array.isArray(saved.payloads) ? saved.payloads : []) {
    if (Array.isArray(entry) && typeof entry[0] === "string" && typeof entry[1] === "string") resend.push(entry);
  }
  const items = saved.items.filter((item) => item && typeof item.doc === "string" && typeof item.json === "string");
  // Older than anything this document queued: in front.
  queue.unshift(...items.map((item) => ({ doc: item.doc, json: item.json, chars: item.json.length })));
  for (const item of items) queuedChars += item.json.length;
  droppedEvents += Number(saved.dropped) || 0;
  if (items.length || resend.length) schedule(true);
}

// Calls to the binding made while the document unloads never arrive: hand the queue over.
function handOver() {
  if (timer !== null) {
    clearTimeout(timer);
    timer = null;
  }
  const store = storage();
  if ((!queue.length && !unacked.size) || !store) {
    flush();
    return;
  }
  // A document that ends before its first snapshot has nothing replayable to hand over.
  if (!started) {
    const older = queue.filter((item) => item.doc !== doc);
    queue.length = 0;
    queue.push(...older);
  }
  const payloads = [];
  let chars = 0;
  for (const [id, payload] of unacked) {
    if (chars + payload.length > config.maxHandoverChars) break;
    chars += payload.length;
    payloads.push([id, payload]);
  }
  const items = [];
  while (queue.length && chars + queue[0].chars <= config.maxHandoverChars) {
    const item = queue.shift();
    chars += item.chars;
    items.push({ doc: item.doc, json: item.json });
  }
  const saved = { savedAt: Date.now(), payloads, items, dropped: droppedEvents + queue.length };
  queue.length = 0;
  queuedChars = 0;
  droppedEvents = 0;
  try {
    store.setItem(config.handoverKey, JSON.stringify(saved));
  } catch (error) {
    /* over the storage quota: these events are lost, as they would have been anyway */
  }
}

takeHandover();
addEventListener("pagehide", handOver, { capture: true });
// Back from the back/forward cache: the document lives again and takes back what it left.
addEventListener("pageshow", (event) => event.persisted && takeHandover(), { capture: true });
