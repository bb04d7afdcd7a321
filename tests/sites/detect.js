// Detection fixture: what a site's own script can see of a recorder running in its page.
//
// Every probe reads something an unrecorded browser makes deterministic (names, booleans, counts,
// stack frames without line numbers; no times), so tests/test_recording_stealth.py can require the
// recorded run's report to equal the unrecorded run's. Nothing here is a global: a recorder's
// globals are one of the probes.
(() => {
  "use strict";
  const params = new URLSearchParams(location.search);
  const other = params.get("other");
  const label = location.pathname.includes("csp") ? "strict CSP document" : `document ${params.get("doc") || "1"}`;
  const fnToString = Function.prototype.toString;
  const apply = Reflect.apply;
  const ownKeys = Reflect.ownKeys;
  const split = String.prototype.split;
  const includes = String.prototype.includes;
  const endsWith = String.prototype.endsWith;
  const reportEl = document.getElementById("report");

  // The document as the network delivered it, before this script changes it.
  const initialHtmlLength = document.documentElement.outerHTML.length;
  document.getElementById("doc").textContent = label;
  const expectedHellos = other ? ["cross", "same"] : ["same"];

  // Messages: the child frames say hello once; anything else came from someone else.
  const hellos = [];
  const foreignMessages = [];
  window.addEventListener("message", (event) => {
    const data = event.data;
    if (data && data.probe === "hello") hellos.push(String(data.name));
    else foreignMessages.push(data && typeof data === "object" ? `object:${String(data.type)}` : typeof data);
  });
  // The frames come after the listener, so no hello can arrive before it. Their resource
  // timing entries appear in this page when they finish loading, which can come after their
  // hello: the report waits for both.
  const loadedFrames = [];
  for (const name of expectedHellos) {
    const frame = document.createElement("iframe");
    frame.addEventListener("load", () => loadedFrames.push(name));
    frame.id = name;
    frame.src = `${name === "cross" ? other : ""}/detect-frame.html?name=${name}`;
    document.getElementById("frames").append(frame);
  }
  // Errors the page did not cause (a recorder's hook failing on the page's behalf).
  const errors = [];
  window.addEventListener("error", (event) => errors.push(String(event.message)));
  window.addEventListener("unhandledrejection", (event) => errors.push(`rejection: ${String(event.reason)}`));

  // Built-ins wrapped after load, counting calls whose caller is not this page's own code
  // (the first frame of the caller that is not a native built-in does not come from /detect*).
  const foreignCalls = {};
  const wrappedByPage = new Map(); // wrapper -> what the page found there (described instead of the wrapper)
  const builtins = [
    [Map.prototype, "set", "Map.prototype.set"], [Map.prototype, "get", "Map.prototype.get"],
    [Map.prototype, "has", "Map.prototype.has"], [Set.prototype, "add", "Set.prototype.add"],
    [Set.prototype, "has", "Set.prototype.has"], [WeakMap.prototype, "set", "WeakMap.prototype.set"],
    [WeakMap.prototype, "get", "WeakMap.prototype.get"], [WeakMap.prototype, "has", "WeakMap.prototype.has"],
    [WeakSet.prototype, "add", "WeakSet.prototype.add"], [WeakSet.prototype, "has", "WeakSet.prototype.has"],
    [Array.prototype, "push", "Array.prototype.push"], [Array.prototype, "indexOf", "Array.prototype.indexOf"],
    [Array.prototype, "forEach", "Array.prototype.forEach"], [Array.prototype, "map", "Array.prototype.map"],
    [Array.prototype, "filter", "Array.prototype.filter"], [Array.prototype, "slice", "Array.prototype.slice"],
    [Array, "from", "Array.from"], [JSON, "stringify", "JSON.stringify"], [JSON, "parse", "JSON.parse"],
    [Object, "keys", "Object.keys"], [Object, "assign", "Object.assign"],
    [String.prototype, "indexOf", "String.prototype.indexOf"], [String.prototype, "replace", "String.prototype.replace"],
    [Date, "now", "Date.now"], [Math, "max", "Math.max"], [window, "setTimeout", "setTimeout"],
    [window, "requestAnimationFrame", "requestAnimationFrame"], [window, "postMessage", "postMessage"],
    [window, "MutationObserver", "MutationObserver"],
    [EventTarget.prototype, "addEventListener", "EventTarget.prototype.addEventListener"],
    [Document.prototype, "querySelectorAll", "Document.prototype.querySelectorAll"],
    [Element.prototype, "getAttribute", "Element.prototype.getAttribute"],
  ];
  const isOwnCaller = (stack) => {
    const frames = apply(split, stack, ["\n"]);
    for (let i = 2; i < frames.length; i++) {
      if (apply(endsWith, frames[i], ["(<anonymous>)"])) continue; // a native built-in in between
      return apply(includes, frames[i], ["/detect"]);
    }
    return false;
  };
  const wrapBuiltins = () => {
    for (const [holder, key, name] of builtins) {
      const original = holder[key];
      foreignCalls[name] = 0;
      const wrapped = function (...args) {
        if (!isOwnCaller(new Error().stack)) foreignCalls[name] += 1;
        return new.target ? Reflect.construct(original, args, new.target) : apply(original, this, args);
      };
      if (original.prototype) wrapped.prototype = original.prototype;
      wrappedByPage.set(wrapped, original);
      holder[key] = wrapped;
    }
  };

  // Property descriptors of what recorders hook: native functions, nothing added to them.
  const isNative = (fn) => /\{\s*\[native code\]\s*\}\s*$/.test(apply(fnToString, fn, []));
  const describeFunction = (found) => {
    const fn = wrappedByPage.get(found) || found;
    const extra = ownKeys(fn).map(String).filter((k) => !["length", "name", "prototype"].includes(k)).sort();
    return `${isNative(fn) ? "native" : "NOT native"} ${fn.name}${extra.length ? ` +${extra.join(",")}` : ""}`;
  };
  const describe = (holder, key) => {
    const d = Object.getOwnPropertyDescriptor(holder, key);
    if (!d) return "missing";
    return ["get", "set", "value"]
      .filter((part) => typeof d[part] === "function")
      .map((part) => `${part}: ${describeFunction(d[part])}`)
      .join("; ");
  };
  const hooked = [
    ["HTMLInputElement.prototype", HTMLInputElement.prototype, ["value", "checked"]],
    ["HTMLTextAreaElement.prototype", HTMLTextAreaElement.prototype, ["value"]],
    ["HTMLSelectElement.prototype", HTMLSelectElement.prototype, ["value", "selectedIndex"]],
    ["HTMLOptionElement.prototype", HTMLOptionElement.prototype, ["selected"]],
    ["Element.prototype", Element.prototype, ["attachShadow", "setAttribute", "removeAttribute"]],
    ["CSSStyleSheet.prototype", CSSStyleSheet.prototype,
      ["insertRule", "deleteRule", "addRule", "removeRule", "replace", "replaceSync"]],
    ["CSSGroupingRule.prototype", CSSGroupingRule.prototype, ["insertRule", "deleteRule"]],
    ["CSSStyleDeclaration.prototype", CSSStyleDeclaration.prototype, ["setProperty", "removeProperty"]],
    ["Document.prototype", Document.prototype, ["adoptedStyleSheets"]],
    ["ShadowRoot.prototype", ShadowRoot.prototype, ["adoptedStyleSheets"]],
    ["HTMLCanvasElement.prototype", HTMLCanvasElement.prototype, ["getContext", "toDataURL"]],
    ["History.prototype", History.prototype, ["pushState", "replaceState"]],
    ["EventTarget.prototype", EventTarget.prototype, ["addEventListener", "removeEventListener", "dispatchEvent"]],
    ["Node.prototype", Node.prototype, ["appendChild", "insertBefore", "removeChild"]],
    ["window", window, ["fetch", "MutationObserver", "IntersectionObserver", "ResizeObserver", "FontFace"]],
    ["XMLHttpRequest.prototype", XMLHttpRequest.prototype, ["open", "send"]],
    ["Function.prototype", Function.prototype, ["toString", "call", "apply", "bind"]],
    ["console", console, ["log", "error", "warn", "debug"]],
  ];
  const descriptors = () => {
    const out = {};
    for (const [holderName, holder, keys] of hooked) for (const key of keys) out[`${holderName}.${key}`] = describe(holder, key);
    return out;
  };

  // Stack traces through hooked setters and methods: a wrapper adds a frame of its own.
  const frames = (error) =>
    String(error.stack)
      .split("\n")
      .slice(1)
      .map((line) => line.trim().replace(/\((?:https?:\/\/[^)]*\/)?([^/():]+):\d+:\d+\)$/, "($1)").replace(/ [^ ]*\/([^/ ]+):\d+:\d+$/, " $1"));
  const stackOf = (action) => {
    try {
      action();
      return ["no error"];
    } catch (error) {
      return [`${error.name}: ${error.message}`, ...frames(error)];
    }
  };
  const thrower = () => ({
    toString() {
      throw new Error("probe conversion");
    },
    valueOf() {
      throw new Error("probe conversion");
    },
  });
  const stacks = () => {
    const bogus = {};
    const out = {};
    const setters = [
      ["input.value", HTMLInputElement.prototype, "value"], ["input.checked", HTMLInputElement.prototype, "checked"],
      ["textarea.value", HTMLTextAreaElement.prototype, "value"], ["select.value", HTMLSelectElement.prototype, "value"],
      ["select.selectedIndex", HTMLSelectElement.prototype, "selectedIndex"],
      ["option.selected", HTMLOptionElement.prototype, "selected"],
      ["document.adoptedStyleSheets", Document.prototype, "adoptedStyleSheets"],
    ];
    for (const [name, proto, key] of setters) out[`set ${name} on a non-element`] = stackOf(() => Reflect.set(proto, key, true, bogus));
    const methods = [
      ["Element.attachShadow", Element.prototype.attachShadow], ["CSSStyleSheet.insertRule", CSSStyleSheet.prototype.insertRule],
      ["CSSStyleSheet.deleteRule", CSSStyleSheet.prototype.deleteRule], ["CSSStyleSheet.addRule", CSSStyleSheet.prototype.addRule],
      ["CSSStyleSheet.removeRule", CSSStyleSheet.prototype.removeRule], ["CSSStyleSheet.replaceSync", CSSStyleSheet.prototype.replaceSync],
      ["CSSGroupingRule.insertRule", CSSGroupingRule.prototype.insertRule],
      ["CSSStyleDeclaration.setProperty", CSSStyleDeclaration.prototype.setProperty],
      ["HTMLCanvasElement.getContext", HTMLCanvasElement.prototype.getContext],
      ["History.pushState", History.prototype.pushState],
    ];
    for (const [name, method] of methods) out[`call ${name} on a non-element`] = stackOf(() => method.call(bogus, "x"));
    const detached = {
      "input.value": () => { document.createElement("input").value = thrower(); },
      "textarea.value": () => { document.createElement("textarea").value = thrower(); },
      "select.value": () => { document.createElement("select").value = thrower(); },
      "select.selectedIndex": () => { document.createElement("select").selectedIndex = thrower(); },
      "CSSStyleSheet.insertRule": () => { new CSSStyleSheet().insertRule(thrower()); },
    };
    for (const [name, action] of Object.entries(detached)) out[`set ${name} to a value that throws`] = stackOf(action);
    return out;
  };

  const navigation = () => {
    const [nav] = performance.getEntriesByType("navigation");
    return {
      nextHopProtocol: nav.nextHopProtocol,
      type: nav.type,
      responseStatus: nav.responseStatus,
      deliveryType: nav.deliveryType,
      redirectCount: nav.redirectCount,
      decodedBodySize: nav.decodedBodySize,
      transferred: nav.transferSize > 0,
      resources: performance
        .getEntriesByType("resource")
        .filter((e) => !e.name.endsWith("/favicon.ico")) // the browser's own, whenever its cache wants
        .map((e) => `${new URL(e.name).pathname} ${e.initiatorType} ${e.nextHopProtocol}`)
        .sort(),
    };
  };

  const namesOf = (object) => ownKeys(object).map(String).sort();
  const childWindow = () => document.getElementById("same").contentWindow;
  const report = () => ({
    document: label,
    descriptors: descriptors(),
    stacks: stacks(),
    windowNames: namesOf(window),
    documentOwnKeys: namesOf(document),
    documentElementOwnKeys: namesOf(document.documentElement),
    inputOwnKeys: namesOf(document.getElementById("name")),
    childWindowNames: namesOf(childWindow()),
    childDocumentOwnKeys: namesOf(childWindow().document),
    storage: { session: Object.keys(sessionStorage).sort(), local: Object.keys(localStorage).sort() },
    cookies: document.cookie.split(";").map((c) => c.split("=")[0].trim()).filter(Boolean).sort(),
    initialHtmlLength,
    elements: document.getElementsByTagName("*").length,
    scripts: Array.from(document.scripts, (s) => s.getAttribute("src") || "inline"),
    evalAllowed: (() => {
      try {
        return (0, eval)("true");
      } catch {
        return false;
      }
    })(),
    navigation: navigation(),
    messages: { hellos: [...hellos].sort(), foreign: foreignMessages.length, kinds: [...new Set(foreignMessages)].sort() },
    errors: [...errors].sort(),
    foreignCalls: { ...foreignCalls },
  });

  document.getElementById("change").addEventListener("click", () => {
    const p = document.createElement("p");
    p.textContent = `a later change by the page in ${label}`;
    document.getElementById("later").append(p);
  });
  document.getElementById("probe").addEventListener("click", () => {
    reportEl.textContent = JSON.stringify(report(), null, 1);
  });

  // Ready once loaded and every child frame has said hello, or 1 s after load (a frame left on
  // chrome-error:// loads too, but never says hello: it shows as a missing hello).
  window.addEventListener("load", () => {
    wrapBuiltins();
    const started = performance.now();
    const check = () => {
      const done = expectedHellos.every((name) => hellos.includes(name) && loadedFrames.includes(name));
      if (done || performance.now() - started > 1000) document.getElementById("status").textContent = "ready";
      else setTimeout(check, 20);
    };
    check();
  });
})();
