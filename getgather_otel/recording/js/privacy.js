// getgather-otel's in-page privacy: what rrweb masks, and a pass over every event before it
// leaves the document. Runs in the same function as `world.js` (assets.recorder_script puts
// this file first), in the recorder's isolated world, so nothing here touches the page's own
// world. Python checks every event again on arrival (recording/scrub.py): a page is untrusted,
// and in the main-world fallback it could replace all of this.
//
// - Every input kind is masked (rrweb's `maskAllInputs` list has no `hidden`, `file` or
//   unknown types), except the ones whose value is a label or a choice shown as a state:
//   buttons, checkboxes and radios.
// - One fixed-width mask for every masked value: `"*".repeat(length)` told how long a
//   password or a select's choice was.
// - Text inside editable regions (`contenteditable` true or plaintext-only), selects and
//   datalists is masked like an input's value; a masked select's options keep no value or
//   label, so the choice cannot be worked out from them.
// - Page text elsewhere passes `config.maskTextPatterns` (cards, JWTs and token shapes by
//   default; emails and phones opt-in): each match becomes the mask. So does every attribute's
//   value (a button input's label, `<meta content>`, `data-*`, tooltips, ARIA labels) but those
//   a replay needs as they are or Python redacts as URLs (`config.keptAttributes`: ids,
//   classes, styles, URLs, SVG geometry, rrweb's own `rr_*`/`_cssText`).
// - A `<button>`'s value is masked too: its label is its content, the value is data sent
//   with its form (a CSRF token as often as a hidden input's).
// - The audit: every masking site counts what it masked, by kind (`countMask`); the counts
//   leave with the next payload the document sends anyway (world.js `nextPayload`, its
//   `masked` field), so counting costs an increment, never a binding call. Python adds them
//   to the activity's `getgather.privacy.redactions.<kind>` (kinds: capture/attributes.py).

"use strict";
const MASK = "********";
const UNMASKED_INPUT_TYPES = ["checkbox", "radio", "submit", "button", "reset", "image"];
// rrweb asks `maskInputOptions[tagName] || maskInputOptions[type]`.
const MASK_ALL_INPUTS = {
  input: true,
  textarea: true,
  select: true,
  hidden: true,
  file: true,
  password: true,
  text: true,
  email: true,
  tel: true,
  url: true,
  search: true,
  number: true,
  range: true,
  color: true,
  date: true,
  "datetime-local": true,
  month: true,
  time: true,
  week: true,
};

function fixedMask(text) {
  return text ? MASK : "";
}

// Audit kinds (capture/attributes.py REDACTION_*; Python rejects a payload naming others).
const KIND_INPUT_VALUE = "input_value";
const KIND_SELECT = "select";
const KIND_EDITABLE = "editable";
const KIND_TEXT_CLASS = "text_class";
// Masks made since the last payload, by kind; `maskCountsPaused` while rrweb re-emits a child
// frame's events (world.js deliverChild): the child's own world counted them already.
let maskCounts = null;
let maskCountsPaused = false;
function countMask(kind) {
  if (maskCountsPaused) return;
  if (maskCounts === null) maskCounts = {};
  maskCounts[kind] = (maskCounts[kind] || 0) + 1;
}
// The counts as a payload field (`,"masked":{...}`), or "" when nothing was masked; resets them.
function takeMaskCounts() {
  if (maskCounts === null) return "";
  const field = ',"masked":' + JSON.stringify(maskCounts);
  maskCounts = null;
  return field;
}

// Text of an editable region or a select's option: one mask, surrounding whitespace kept.
function maskPrivateText(text) {
  return text.trim() ? text.replace(/\S[\s\S]*\S|\S/, MASK) : text;
}

// Text whose every character is private wherever it sits: what a person types into an editable
// region, and the choices of a select (its options' labels). Its audit kind, or "" for other text.
const PRIVATE_TEXT_CONTAINERS = "select, datalist, textarea";
function privateText(element) {
  if (!element || !element.closest) return "";
  if (element.isContentEditable) return KIND_EDITABLE;
  const holder = element.closest(PRIVATE_TEXT_CONTAINERS);
  if (!holder) return "";
  return holder.tagName === "TEXTAREA" ? KIND_EDITABLE : KIND_SELECT;
}

function maskInputsByDefault() {
  return config.maskAllInputs;
}

// rrweb's options for inputs and text (merged into `privacy` by world.js).
function inputPrivacy() {
  const all = maskInputsByDefault();
  return {
    maskAllInputs: false, // `true` would replace maskInputOptions with rrweb's shorter list
    // Unknown types read as "text"; buttons, checkboxes and radios are not in the list.
    maskInputOptions: all ? MASK_ALL_INPUTS : { password: true },
    maskInputFn: (text) => fixedMask(text),
  };
}

// Element nodes of rrweb's serialised trees (snapshots and Mutation adds).
const NODE_ELEMENT = 2;
// Attributes whose values never pass the text patterns (options.PATTERN_KEPT_ATTRIBUTES).
const KEPT_ATTRIBUTES = new Set(config.keptAttributes || []);

// Every other attribute value passes the text patterns (a card in `value`, `content`, `data-*`).
function maskAttributePatterns(attributes) {
  for (const key in attributes) {
    const text = attributes[key];
    if (typeof text !== "string" || text.length < 6 || KEPT_ATTRIBUTES.has(key)) continue;
    if (key.charCodeAt(0) === 95 || key.startsWith("rr_")) continue; // rrweb's own: _cssText, rr_src, ...
    attributes[key] = maskPatternsIn(text);
  }
}

function maskNodeAttributes(tagName, attributes, inSelect) {
  if (!attributes) return;
  const tag = String(tagName || "").toLowerCase();
  if (tag === "option" || tag === "optgroup") {
    if (inSelect || maskInputsByDefault()) {
      for (const key of ["value", "label"]) {
        if (typeof attributes[key] !== "string" || !attributes[key]) continue;
        attributes[key] = MASK;
        countMask(KIND_SELECT);
      }
      delete attributes.selected;
    }
  } else if (
    (tag === "input" || tag === "textarea" || tag === "select" || tag === "button") &&
    (maskInputsByDefault() ||
      (tag === "input" && secretFieldWords(attributes.name, attributes.id, attributes.autocomplete)))
  ) {
    // A button's type says how it submits, not what its value is.
    const type = tag === "button" ? "text" : String(attributes.type || "text").toLowerCase();
    if (!UNMASKED_INPUT_TYPES.includes(type) && typeof attributes.value === "string" && attributes.value) {
      // rrweb masked the live value already (maskInputFn); a value attribute it kept is masked here.
      attributes.value = MASK;
      countMask(tag === "select" ? KIND_SELECT : KIND_INPUT_VALUE);
    }
  }
  // After the masks above: a value they replaced holds no pattern to count again.
  if (textPatterns.length) maskAttributePatterns(attributes);
}

// Also the walk for card numbers split over texts (`splitWalk`, in full snapshots only): one
// pass over the tree for both.
function maskTree(node, inSelect) {
  if (!node || node.type !== NODE_ELEMENT) return;
  maskNodeAttributes(node.tagName, node.attributes, inSelect);
  const tag = String(node.tagName || "").toLowerCase();
  const childInSelect = inSelect || tag === "select" || tag === "datalist";
  if (!splitWalk) {
    for (const child of node.childNodes || []) maskTree(child, childInSelect);
    return;
  }
  const block = !INLINE_TAGS.has(tag);
  const code = tag === "script" || tag === "style";
  if (block) splitEnd();
  for (const child of node.childNodes || []) {
    if (child.type === NODE_ELEMENT) maskTree(child, childInSelect);
    else if (child.type === 3) {
      if (code || child.isStyle) splitEnd();
      else splitText(child, "textContent", true);
    }
  }
  if (block) splitEnd();
}

function maskSubtrees(node) {
  if (!node) return;
  for (const child of node.childNodes || []) {
    if (child.type === NODE_ELEMENT) maskTree(child, false);
    else maskSubtrees(child);
  }
}

// The last word before an event is serialised: option values and labels, value attributes
// that rrweb keeps when the live value is empty, attribute mutations of options; card numbers
// split over several texts.
function scrubEvent(event) {
  if (!event || !event.data) return;
  if (event.type === 2) {
    splitWalk = Boolean(cardKind);
    try {
      maskSubtrees(event.data.node);
      splitEnd();
    } finally {
      splitWalk = false;
    }
    return;
  }
  if (event.type === 3 && event.data.source === 5) {
    if (!maskInputsByDefault()) maskPasswordInput(event.data);
    return;
  }
  if (event.type !== 3 || event.data.source !== 0) return;
  if (cardKind) maskSplitCardsInMutation(event.data);
  markStyleTexts(event.data);
  for (const add of event.data.adds || []) {
    if (!add || !add.node) continue;
    if (add.node.type === NODE_ELEMENT) {
      const parent = rrwebRecord.mirror.getNode(add.parentId);
      maskTree(add.node, Boolean(parent && parent.closest && parent.closest("select, datalist")));
    } else {
      maskSubtrees(add.node);
    }
  }
  for (const change of event.data.attributes || []) {
    if (!change || !change.attributes) continue;
    const element = rrwebRecord.mirror.getNode(change.id);
    if (!element || !element.tagName) continue;
    const attributes = Object.assign({ type: element.getAttribute("type") || element.type }, change.attributes);
    maskNodeAttributes(element.tagName, attributes, Boolean(element.closest("select, datalist")));
    for (const key in change.attributes) change.attributes[key] = attributes[key];
    if ("selected" in change.attributes && !("selected" in attributes)) delete change.attributes.selected;
  }
}

// A `<style>`'s text a script replaced after the snapshot (`style.textContent = ...`) arrives as
// an added text node rrweb neither masks nor marks (a newcomer's break: a card in it was stored
// in clear); a later change of that node arrives as a text mutation. Both are marked `isStyle`
// here (rrweb's own flag for a style's text, which its player reads as CSS), and Python masks
// card numbers in marked CSS (recording/scrub.py), as it does in the snapshot's.
function markStyleTexts(data) {
  for (const add of data.adds || []) {
    if (!add || !add.node || add.node.type !== 3 || add.node.isStyle) continue;
    const parent = rrwebRecord.mirror.getNode(add.parentId);
    if (parent && parent.tagName === "STYLE") add.node.isStyle = true;
  }
  for (const change of data.texts || []) {
    const node = change && rrwebRecord.mirror.getNode(change.id);
    if (node && node.parentNode && node.parentNode.tagName === "STYLE") change.isStyle = true;
  }
}

// [regular expression, Luhn-checked, audit kind] from `RecordingOptions.mask_text_patterns`.
const textPatterns = (config.maskTextPatterns || []).map(([source, luhn, kind]) => [
  new RegExp(source, "g"),
  luhn,
  kind,
]);

function luhnValid(match) {
  const digits = match.replace(/[^0-9]/g, "");
  if (digits.length < 13 || digits.length > 19) return false;
  let total = 0;
  for (let i = 0; i < digits.length; i++) {
    let n = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2) {
      n *= 2;
      if (n > 9) n -= 9;
    }
    total += n;
  }
  return total % 10 === 0;
}

// All of them in one expression: most text and attribute values match none, and one search
// says so faster than one per pattern (5,000-row page's snapshot attributes: ~2.5 ms against
// ~6 ms for the six text attributes alone). Not when a caller's pattern has a backreference,
// whose group number would point elsewhere in the joined expression.
// Decimal digits of other scripts (full-width, Arabic-Indic, Devanagari, ...: the blocks'
// zeros below) as ASCII digits, one character for one, so the card pattern finds `٤١١١...`.
// Python's (secret_values.ascii_digits) knows every script's digits; these are the common ones.
const DIGIT_ZEROS = [
  0x0660, 0x06f0, 0x07c0, 0x0966, 0x09e6, 0x0a66, 0x0ae6, 0x0b66, 0x0be6, 0x0c66, 0x0ce6, 0x0d66, 0x0e50, 0x0ed0,
  0x0f20, 0x1040, 0x17e0, 0x1810, 0xff10,
];
const OTHER_DIGITS_CLASS =
  "[" +
  DIGIT_ZEROS.map((zero) => "\\u" + zero.toString(16).padStart(4, "0") + "-\\u" + (zero + 9).toString(16).padStart(4, "0")).join(
    "",
  ) +
  "]";
const OTHER_DIGITS = new RegExp(OTHER_DIGITS_CLASS, "g");
const OTHER_DIGIT = new RegExp(OTHER_DIGITS_CLASS);
function asciiDigits(text) {
  return text.replace(OTHER_DIGITS, (d) => {
    const code = d.charCodeAt(0);
    const zero = DIGIT_ZEROS.find((z) => code >= z && code <= z + 9);
    return String(code - zero);
  });
}

// With the card pattern on, a digit of another script is one of the alternatives: such a text
// is masked as ASCII digits (`maskPatternsIn`).
const anyTextPattern =
  textPatterns.length && !textPatterns.some(([pattern]) => /\\[1-9]|\\k</.test(pattern.source))
    ? new RegExp(
        textPatterns
          .map(([pattern]) => "(?:" + pattern.source + ")")
          .concat(textPatterns.some(([, luhn]) => luhn) ? [OTHER_DIGITS_CLASS] : [])
          .join("|"),
      )
    : null;

// Where a Luhn-valid card sits in a run the card pattern matched: the whole run, or else the
// longest stretch of its digit groups that passes (the pattern also takes in a number standing
// just before a card, "Qty 2 4111 1111 1111 1111"); null when none does. As Python's
// `secret_values.card_in`.
function cardIn(run) {
  if (luhnValid(run)) return [0, run.length];
  const groups = [];
  for (const match of run.matchAll(/[0-9]+/g)) groups.push([match.index, match.index + match[0].length]);
  let best = null;
  for (let first = 0; first < groups.length; first++) {
    for (let last = first; last < groups.length; last++) {
      const start = groups[first][0];
      const end = groups[last][1];
      const longer = best === null || end - start > best[1] - best[0];
      if (longer && !(first === 0 && last === groups.length - 1) && luhnValid(run.slice(start, end))) {
        best = [start, end];
      }
    }
  }
  return best;
}

// Digits typed into this document's masked inputs, for page text that repeats them (a newcomer's
// break: a page that echoes what is typed stored "You typed: 4111 1111 1111 111", 15 of 16 card
// digits, whose Luhn check fails until the last digit). The rule, with the "card" pattern on: in
// page text (and attribute values), a run of TYPED_DIGITS_MIN to 19 digits, grouped by the card
// pattern's separators, dots or soft hyphens or not, is masked when its digits begin the digits
// of a value typed into a masked input of this document (the value holding TYPED_DIGITS_MIN
// digits or more), counted as the card pattern's kind. Numbers nobody typed (order ids, phone
// numbers, prices) stay as they are, and so do up to 7 digits of an echo: a card's issuer
// prefix, not the card. Each value is remembered as its longest form (a keystroke extends the
// one before), the last TYPED_VALUES_KEPT of them. Values set by a page's script fire no input
// event and are not remembered.
const TYPED_DIGITS_MIN = 8;
const TYPED_VALUES_KEPT = 16;
const TYPED_RUN = /(?<![0-9])(?:[0-9][ \u00a0\u2007\u2009\u202f.\u00ad-]?){7,18}[0-9](?![0-9])/g;
const typedDigits = [];
const cardKind = (textPatterns.find(([, luhn]) => luhn) || [])[2] || "";

function maskedInput(element) {
  if (element.tagName === "TEXTAREA") return maskInputsByDefault();
  if (element.tagName !== "INPUT") return false;
  const type = String(element.type || "text").toLowerCase();
  return type === "password" || (maskInputsByDefault() && !UNMASKED_INPUT_TYPES.includes(type));
}

function noteTyped(event) {
  const element = event.composedPath ? event.composedPath()[0] : event.target;
  if (!element || typeof element.value !== "string" || !maskedInput(element)) return;
  const digits = element.value.replace(/[^0-9]/g, "");
  if (digits.length < TYPED_DIGITS_MIN) return;
  if (typedDigits.some((known) => known.startsWith(digits))) return;
  const before = typedDigits.findIndex((known) => digits.startsWith(known));
  if (before >= 0) typedDigits.splice(before, 1);
  typedDigits.push(digits);
  if (typedDigits.length > TYPED_VALUES_KEPT) typedDigits.shift();
}

// Before the page's own listeners (capture, on the window): its echo is made after this ran.
if (cardKind) addEventListener("input", noteTyped, { capture: true, passive: true });

// Values typed into password inputs, for Python, never for storage (a newcomer's break: a
// page's script put a typed password into a URL, `location = "/login?p=" + pw.value`, stored
// in clear in span URLs, chunk rows and the recording's Meta href). Sent with the next payload
// (`typed`) and registered as the activity's own secrets (`capture/secrets.py`), so every
// stored form of them, and their typed prefixes in recordings and URLs, is scrubbed in Python,
// wherever the page copies them. Password inputs only: what is typed into ordinary masked
// inputs (a search box, a name) is often shown on the next page as it should be. Each value
// at its longest (a keystroke extends the one before), at least TYPED_SECRET_MIN characters.
const TYPED_SECRET_MIN = 4;
const TYPED_SECRET_MAX = 256;
const TYPED_SECRETS_PER_PAYLOAD = 16;
let typedSecrets = [];

// Besides password inputs, inputs that say they hold a secret whatever their type (a newcomer's
// break: an SSN field of type text, echoed as typed, stored every prefix): `autocomplete` naming
// a card number, its code or a one-time code, or a name, id or autocomplete naming an SSN, a tax
// or national id, a card's code or a PIN (`ssn`, `social-security`, `tax_id`, `cvv`, ...).
// Words, not hints like `inputmode="numeric"`: a search box, a quantity or a zip code says none
// of them, and what is typed there stays readable where the page shows it.
// Password fields that are not type=password (a newcomer's break: a "show password" toggle makes
// the input type=text, and what was typed after it, or into a text input named `password`, was
// stored from the fifth character on): a name, id or autocomplete saying password (`password`,
// `passwd`, `pwd`, `user_password`, `newPwd`, `current-password`), and an input that was a
// password input when typed into or that rrweb saw switched from one (`data-rr-is-password`).
const SECRET_AUTOCOMPLETE = /(?:^|\s)(?:cc-number|cc-csc|one-time-code|current-password|new-password)(?:\s|$)/i;
const SECRET_FIELD_NAME =
  /(?:^|[-_\s.[])(?:ssn|social[-_\s]?security(?:[-_\s]?(?:number|no))?|tax[-_\s]?(?:id|number)|taxpayer[-_\s]?id|itin|national[-_\s]?id|cvv|cvc|csc|pin)(?:$|[-_\s.\]])/i;
const PASSWORD_FIELD_NAME = /passw(?:or)?d|(?:^|[^a-z])pwd|pwd(?:$|[^a-z])/i;
const passwordInputs = new WeakSet();
function secretFieldWords(name, id, autocomplete) {
  if (autocomplete && SECRET_AUTOCOMPLETE.test(autocomplete)) return true;
  return [name, id, autocomplete].some(
    (word) => typeof word === "string" && word && (SECRET_FIELD_NAME.test(word) || PASSWORD_FIELD_NAME.test(word)),
  );
}
// A password field whatever its type now: the values typed there are passwords.
function passwordLike(element) {
  if (String(element.type).toLowerCase() === "password") {
    passwordInputs.add(element);
    return true;
  }
  if (passwordInputs.has(element) || element.hasAttribute("data-rr-is-password")) return true;
  return PASSWORD_FIELD_NAME.test(element.name || "") || PASSWORD_FIELD_NAME.test(element.id || "");
}
function secretInput(element) {
  if (passwordLike(element)) return true;
  return secretFieldWords(element.name, element.id, element.getAttribute("autocomplete") || "");
}

// An Input event's value typed into a password-like field (rrweb masks by type only): one mask,
// when inputs are not all masked (`mask_all_inputs=False`), as a password input's is.
function maskPasswordInput(data) {
  if (typeof data.text !== "string" || !data.text || data.text === MASK) return;
  const element = rrwebRecord.mirror.getNode(data.id);
  if (element && element.tagName === "INPUT" && secretInput(element)) data.text = MASK;
}

function noteTypedSecret(event) {
  noteSecretValue(event.composedPath ? event.composedPath()[0] : event.target);
}

function noteSecretValue(element) {
  if (!element || element.tagName !== "INPUT" || !secretInput(element)) return;
  const value = element.value;
  if (typeof value !== "string" || value.length < TYPED_SECRET_MIN || value.length > TYPED_SECRET_MAX) return;
  typedSecrets = typedSecrets.filter((known) => !value.startsWith(known));
  if (!typedSecrets.includes(value)) typedSecrets.push(value);
  if (typedSecrets.length > TYPED_SECRETS_PER_PAYLOAD) typedSecrets.shift();
}

addEventListener("input", noteTypedSecret, { capture: true, passive: true });
addEventListener("change", noteTypedSecret, { capture: true, passive: true });
// A value a script set (a tool's `evaluate`, a password manager) fires no input event (a
// newcomer's break: a password set that way, posted and shown back by the next page, was stored
// there): a form's secret inputs are read as it is submitted, before the page's own handlers.
addEventListener(
  "submit",
  (event) => {
    const form = event.composedPath ? event.composedPath()[0] : event.target;
    for (const element of (form && form.elements) || []) noteSecretValue(element);
  },
  { capture: true, passive: true },
);

// The `typed` field of the next payload (values typed into secret inputs since the last one).
function takeTypedSecrets() {
  if (!typedSecrets.length) return "";
  const field = ',"typed":' + JSON.stringify(typedSecrets);
  typedSecrets = [];
  return field;
}

function typedPrefix(digits) {
  return digits.length >= TYPED_DIGITS_MIN && typedDigits.some((known) => known.startsWith(digits));
}

// Where typed digits sit in a run TYPED_RUN matched: the whole run, or else the longest stretch
// of its digit groups (a number standing just before them, "Qty 2 4111 1111 ..."), as cardIn.
function typedIn(run) {
  const groups = [];
  for (const match of run.matchAll(/[0-9]+/g)) groups.push([match.index, match.index + match[0].length]);
  let best = null;
  for (let first = 0; first < groups.length; first++) {
    for (let last = groups.length - 1; last >= first; last--) {
      const start = groups[first][0];
      const end = groups[last][1];
      if (best !== null && end - start <= best[1] - best[0]) break;
      if (typedPrefix(run.slice(start, end).replace(/[^0-9]/g, ""))) best = [start, end];
    }
  }
  return best;
}

function maskTypedDigits(text) {
  return text.replace(TYPED_RUN, (m) => {
    const typed = typedIn(m);
    if (typed === null) return m;
    countMask(cardKind);
    return m.slice(0, typed[0]) + MASK + m.slice(typed[1]);
  });
}

function maskPatternsIn(text) {
  if (typedDigits.length) text = maskTypedDigits(text);
  if (anyTextPattern !== null && !anyTextPattern.test(text)) return text;
  if (cardKind && OTHER_DIGIT.test(text)) {
    // Masked as ASCII digits: a text that held a card keeps its other digits in ASCII.
    const ascii = asciiDigits(text);
    const masked = maskEveryPattern(ascii);
    return masked === ascii ? text : masked;
  }
  return maskEveryPattern(text);
}

function maskEveryPattern(text) {
  let masked = text;
  for (const [pattern, luhn, kind] of textPatterns) {
    masked = masked.replace(pattern, (m) => {
      const card = luhn ? cardIn(m) : [0, m.length];
      if (card === null) return m;
      countMask(kind);
      return m.slice(0, card[0]) + MASK + m.slice(card[1]);
    });
  }
  return masked;
}

// Card numbers split over several texts (a newcomer's break): `<span>4111</span> <span>1111</span>
// ...`, or groups split by `<wbr>`: rrweb hands maskTextFn one text node at a time, and none of
// them holds a card. The rule, with the "card" pattern on: consecutive texts that meet only
// through inline elements (INLINE_TAGS: `span`, `b`, `a`, `wbr`, ...; any other element, a
// `<br>`, a table cell, a paragraph, ends the run) are joined, and a Luhn-valid card the pattern
// finds across two or more of them becomes the mask in each text it touches (digits of a text
// become one mask; separators stay), counted once as the card pattern's kind. Numbers in
// separate cells or blocks stay as they are. Full snapshots are walked as serialised; for a
// mutation, the live block (nearest non-inline ancestor) of each added or changed text holding
// a digit is walked, and only this mutation's texts are masked (texts recorded before hold a
// part of the card at most).
const INLINE_TAGS = new Set(config.inlineTags || []); // secret_values.INLINE_TAGS
// What may stand between a card's groups (the card pattern's separators, and its group
// separators: dots, "/", ",", ":", "|", "_", en and em dashes, ...).
const CARD_SEPARATOR_CODES = new Set(
  [..." \n\t\u00a0\u2002\u2007\u2009\u202f\u3000\u200b\u00ad.,:;+|_\u2013\u2014-/"].map((c) => c.charCodeAt(0)),
);
const SPLIT_BLOCK_MAX_NODES = 2000;

function isDigitCode(code) {
  return code >= 48 && code <= 57;
}
// Whether `text` ends (or starts) with a digit, separators aside; whether it is only those.
function endsCardish(text) {
  let i = text.length - 1;
  while (i >= 0 && CARD_SEPARATOR_CODES.has(text.charCodeAt(i))) i--;
  return i >= 0 && isDigitCode(text.charCodeAt(i));
}
function startsCardish(text) {
  let i = 0;
  while (i < text.length && CARD_SEPARATOR_CODES.has(text.charCodeAt(i))) i++;
  return i < text.length && isDigitCode(text.charCodeAt(i));
}
function onlyCardish(text) {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (!isDigitCode(code) && !CARD_SEPARATOR_CODES.has(code)) return false;
  }
  return true;
}

// A run of texts that may hold a split card: [holder, key, maskable] (the text is holder[key]).
let splitRun = [];
// A full snapshot's walk (maskTree) feeds splitText as it goes.
let splitWalk = false;
function splitEnd() {
  if (splitRun.length === 0) return;
  if (splitRun.length > 1) maskSplitRun(splitRun);
  splitRun = [];
}
function splitText(holder, key, maskable) {
  const text = holder[key];
  if (typeof text !== "string") return;
  if (splitRun.length) {
    if (onlyCardish(text)) {
      splitRun.push([holder, key, maskable]);
      return;
    }
    if (startsCardish(text)) splitRun.push([holder, key, maskable]);
    splitEnd();
  }
  if (endsCardish(text)) splitRun.push([holder, key, maskable]);
}

function maskSplitRun(run) {
  const texts = run.map(([holder, key]) => holder[key]);
  const joined = texts.join("");
  const cardPattern = textPatterns.find(([, luhn]) => luhn)[0];
  const cuts = texts.map(() => []);
  for (const match of joined.matchAll(cardPattern)) {
    const card = cardIn(match[0]);
    if (card === null) continue;
    const start = match.index + card[0];
    const end = match.index + card[1];
    const parts = [];
    let offset = 0;
    for (let i = 0; i < texts.length; i++) {
      const from = offset;
      offset += texts[i].length;
      if (offset <= start || from >= end) continue;
      parts.push([i, Math.max(start, from) - from, Math.min(end, offset) - from]);
    }
    if (parts.length < 2) continue; // within one text: maskTextFn's
    for (const [i, from, to] of parts) cuts[i].push([from, to]);
    countMask(cardKind);
  }
  for (let i = 0; i < run.length; i++) {
    const [holder, key, maskable] = run[i];
    if (!maskable || !cuts[i].length) continue;
    let text = texts[i];
    for (const [from, to] of cuts[i].reverse()) {
      if (/[0-9]/.test(text.slice(from, to))) text = text.slice(0, from) + MASK + text.slice(to);
    }
    holder[key] = text;
  }
}

// Whether a live text node meets another text through inline elements only: not a text alone
// in a block (a table cell's, as a 5,000-row page adds 5,000 of them while it loads).
function mayJoin(node) {
  const parent = node.parentElement;
  if (!parent || INLINE_TAGS.has(parent.tagName.toLowerCase())) return true;
  const joins = (sibling) =>
    sibling !== null && (sibling.nodeType !== 1 || INLINE_TAGS.has(sibling.tagName.toLowerCase()));
  return joins(node.previousSibling) || joins(node.nextSibling);
}

// A mutation's added text nodes and text changes (those with a digit at an edge, which a card
// across texts needs): their live blocks, walked.
function maskSplitCardsInMutation(data) {
  let own = null; // live text node -> [holder, key] of its serialised text in this mutation
  const note = (id, holder, key) => {
    const text = holder[key];
    if (typeof text !== "string" || !(endsCardish(text) || startsCardish(text))) return;
    const node = rrwebRecord.mirror.getNode(id);
    if (!node || !mayJoin(node)) return;
    if (own === null) own = new Map();
    own.set(node, [holder, key]);
  };
  for (const add of data.adds || []) {
    if (add && add.node && add.node.type === 3 && !add.node.isStyle) note(add.node.id, add.node, "textContent");
  }
  for (const change of data.texts || []) if (change) note(change.id, change, "value");
  if (own === null) return;
  const blocks = new Set();
  for (const node of own.keys()) {
    let block = node.parentElement;
    while (block && INLINE_TAGS.has(block.tagName.toLowerCase()) && block.parentElement) block = block.parentElement;
    if (block) blocks.add(block);
  }
  for (const block of blocks) {
    splitRun = [];
    let budget = SPLIT_BLOCK_MAX_NODES;
    const walk = (node) => {
      if (--budget < 0) return;
      if (node.nodeType === 3) {
        const mine = own.get(node);
        splitText(mine ? mine[0] : { text: node.data }, mine ? mine[1] : "text", Boolean(mine));
        return;
      }
      if (node.nodeType !== 1) return;
      const tag = node.tagName.toLowerCase();
      const inline = INLINE_TAGS.has(tag);
      if (!inline) splitEnd();
      if (tag !== "script" && tag !== "style") for (const child of node.childNodes) walk(child);
      if (!inline) splitEnd();
    };
    for (const child of block.childNodes) walk(child);
    splitEnd();
  }
}
