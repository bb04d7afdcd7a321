// A faster full snapshot for rrweb, used in the isolated world only (js/world.js installs it).
//
// rrweb's serializer spends ~12-40 us on each node of a big page (a 5,000-row table, ~25k
// nodes: 270-590 ms of the page's main thread, which the automation's next call waits for;
// measured, BENCHMARKS.md section 8): untainted-prototype accessors called through
// `Function.prototype.call`, `classList` and `Attr` objects for every element, options
// destructured twice per node, objects turned into dictionaries by `delete`. In an isolated
// world no page script can touch our prototypes, so the plain accessors are safe, and the
// same tree comes out ~4x faster (and stringifies ~3x faster).
//
// Same output as rrweb's `snapshot()`, node for node: ids from rrweb's own counter (`genId`),
// every node (ignored ones too) in rrweb's mirror, so later mutations refer to the same ids;
// attributes through rrweb's own `transformAttribute` (absolute URLs). Only plain elements,
// text, comments, CDATA, doctypes and the document are serialized here. Every element rrweb
// treats specially, with its whole subtree, is handed to rrweb's own `serializeNodeWithId`
// with the options rrweb would pass it: scripts, links, styles, metas, <head>, form controls
// and options, dialogs, media, iframes, canvases and images when those are captured,
// blocked elements, shadow hosts, custom elements, SVG and anything outside the HTML
// namespace. Text masking (`maskTextClass`, `maskTextSelector`, `maskTextFn`) follows
// rrweb's rules: a text is masked when an ancestor element that has children carries the
// class or matches the selector.
//
// The mirror gets a record holding the id alone, not the serialized node rrweb's serializer puts
// there: rrweb's recorder reads nothing of a record but its id and that it exists (`getId`,
// `hasNode`, and `getMeta` in `isSerializedIframe`/`isSerializedStylesheet`), so the serialized
// tree, megabytes on a big page, is garbage once sent instead of held for the document's life
// (js/world.js lets go of rrweb's last full snapshot event too; BENCHMARKS.md section 8).
//
// `tools` are rrweb internals, handed over by the bundle patch in recording/assets.py:
// { serializeNodeWithId, genId, transformAttribute }.
//
// `hints` (from js/world.js, optional) answer two per-node questions without changing an
// answer, each of which cost ~50-70 ms of a 5,000-row snapshot asked node by node (V8 sampling
// profile of the heavy bench page):
// - `hints.scrolled(element)`: false when the element's scroll offsets are known to be 0 (it
//   never fired a scroll event in this document), so `scrollLeft`/`scrollTop` are not read;
// - `hints.textRoot` and `hints.enterText(element, state)`: what `maskTextFn` asks of a
//   text's ancestors, carried down the walk (one `matches` per element instead of `closest`
//   per text); `maskTextFn(text, parent, state)` takes it as its third argument.
function fastSnapshot(doc, options, tools, hints) {
  const { serializeNodeWithId, genId, transformAttribute } = tools;
  const { mirror, maskTextClass, maskTextSelector, blockClass, blockSelector, maskTextFn, slimDOMOptions } = options;
  if (typeof maskTextClass !== "string" || typeof blockClass !== "string") return serializeNodeWithId(doc, options);
  const HTML = "http://www.w3.org/1999/xhtml";
  const IGNORED = -2;
  const special = new Set([
    "script",
    "link",
    "style",
    "meta",
    "head",
    "input",
    "textarea",
    "select",
    "option",
    "dialog",
    "audio",
    "video",
    "iframe",
  ]);
  if (options.recordCanvas) special.add("canvas");
  if (options.inlineImages) special.add("img");
  const tagNameRegex = /[^a-z0-9-_:]/;
  const keepWhiteSpace = options.preserveWhiteSpace === undefined ? true : options.preserveWhiteSpace;
  // A form's own properties can be shadowed by its controls' names (`<input name="firstChild">`),
  // and so can the document's: those two are read through the prototypes.
  const proto = (object, name) => Object.getOwnPropertyDescriptor(object, name);
  const firstChildOf = proto(Node.prototype, "firstChild").get;
  const nextSiblingOf = proto(Node.prototype, "nextSibling").get;
  const scrollLeftOf = proto(Element.prototype, "scrollLeft").get;
  const scrollTopOf = proto(Element.prototype, "scrollTop").get;
  const { getAttributeNames, getAttribute, matches } = Element.prototype;

  // rrweb's options for a subtree it serializes itself (its `bypassOptions`), per needsMask.
  const delegated = [false, true].map((needsMask) =>
    Object.assign({}, options, { needsMask, skipChild: false, cssCaptured: false, newlyAddedElement: false }),
  );
  const delegate = (node, needsMask) => serializeNodeWithId(node, delegated[needsMask ? 1 : 0]);

  function idOf(node, ignored) {
    if (mirror.hasNode(node)) return mirror.getId(node);
    return ignored ? IGNORED : genId();
  }
  function remember(node, id) {
    mirror.add(node, { id });
  }
  function hasClass(value, name) {
    return typeof value === "string" && value.includes(name) && value.split(/[\t\n\f\r ]+/).includes(name);
  }
  function matchesSafely(element, selector, isForm) {
    try {
      return isForm ? matches.call(element, selector) : element.matches(selector);
    } catch (error) {
      return false; /* rrweb ignores an invalid selector too */
    }
  }

  let rootId;
  const scrolled = hints ? hints.scrolled : () => true;
  const enterText = hints ? hints.enterText : () => undefined;
  // Every element with children matches "*" (the recorder's way to see every text).
  const maskEverything = maskTextSelector === "*";
  // Plain property reads everywhere else: a getter called through `.call` costs several times more.
  // `parent` is the element (or document) the children belong to, `textState` what
  // `maskTextFn` needs to know of it and its ancestors.
  function children(serialized, first, needsMask, parent, textState) {
    const nextOf = (child) => (child instanceof HTMLFormElement ? nextSiblingOf.call(child) : child.nextSibling);
    for (let child = first; child; child = nextOf(child)) {
      const node = serialize(child, needsMask, parent, textState);
      if (node) serialized.childNodes.push(node);
    }
  }

  function element(n, needsMask, textState) {
    const isForm = n instanceof HTMLFormElement;
    let tagName = "form";
    if (!isForm) {
      if (n.namespaceURI !== HTML || n.shadowRoot) return delegate(n, needsMask);
      tagName = n.tagName.toLowerCase();
      if (tagNameRegex.test(tagName)) tagName = "div";
      else if (special.has(tagName) || tagName.includes("-")) return delegate(n, needsMask);
    }
    const attributes = {};
    const names = isForm ? getAttributeNames.call(n) : n.getAttributeNames();
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      const value = isForm ? getAttribute.call(n, name) : n.getAttribute(name);
      if (value === null) return delegate(n, needsMask); // a name getAttribute does not find back
      attributes[name] = transformAttribute(doc, tagName, name.toLowerCase(), value);
    }
    if (hasClass(attributes.class, blockClass) || (blockSelector && matchesSafely(n, blockSelector, isForm))) {
      return delegate(n, needsMask);
    }
    const first = isForm ? firstChildOf.call(n) : n.firstChild;
    if (!needsMask && first) {
      const selected = maskEverything || Boolean(maskTextSelector && matchesSafely(n, maskTextSelector, isForm));
      needsMask = hasClass(attributes.class, maskTextClass) || selected;
    }
    if (scrolled(n)) {
      const left = isForm ? scrollLeftOf.call(n) : n.scrollLeft;
      const top = isForm ? scrollTopOf.call(n) : n.scrollTop;
      if (left) attributes.rr_scrollLeft = left;
      if (top) attributes.rr_scrollTop = top;
    }
    const serialized = { type: 2, tagName, attributes, childNodes: [], rootId, id: idOf(n, false) };
    remember(n, serialized.id);
    children(serialized, first, needsMask, n, first ? enterText(n, textState) : textState);
    return serialized;
  }

  function leaf(n, serialized, ignored) {
    serialized.id = idOf(n, ignored);
    remember(n, serialized.id);
    return serialized.id === IGNORED ? null : serialized;
  }

  function serialize(n, needsMask, parent, textState) {
    switch (n.nodeType) {
      case 1:
        return element(n, needsMask, textState);
      case 3: {
        let text = n.data;
        if (text && needsMask) {
          // A text's parent element is the element whose children these are (the document has no text children).
          text = maskTextFn ? maskTextFn(text, parent, textState) : text.replace(/[\S]/g, "*");
        }
        const blank = !keepWhiteSpace && !text.replace(/^\s+|\s+$/gm, "").length;
        return leaf(n, { type: 3, textContent: text || "", rootId, id: 0 }, blank);
      }
      case 4:
        return leaf(n, { type: 4, textContent: "", rootId, id: 0 }, false);
      case 8:
        return leaf(n, { type: 5, textContent: n.data || "", rootId, id: 0 }, Boolean(slimDOMOptions.comment));
      case 10:
        return leaf(n, { type: 1, name: n.name, publicId: n.publicId, systemId: n.systemId, rootId, id: 0 }, false);
      default:
        return delegate(n, needsMask);
    }
  }

  // The document: rrweb's rules for its children, which start unmasked unless an ancestor
  // rule says otherwise (the document has none).
  const serialized = { type: 0, childNodes: [] };
  if (doc.compatMode !== "CSS1Compat") serialized.compatMode = doc.compatMode;
  serialized.id = idOf(doc, false);
  remember(doc, serialized.id);
  const docId = serialized.id;
  rootId = docId === 1 ? undefined : docId;
  children(serialized, firstChildOf.call(doc), false, doc, hints ? hints.textRoot : undefined);
  return serialized;
}
