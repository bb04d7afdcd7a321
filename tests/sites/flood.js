// A hostile page: floods the recorder's binding with garbage, forged segment markers and
// huge payloads, and tries to replace it. Everything here must be rejected or bounded.
(async function () {
  const name = new URLSearchParams(location.search).get("binding") || "__ggRec";
  const big = "x".repeat(20 * 1024 * 1024);
  for (let i = 0; i < 60 && typeof window[name] !== "function"; i++) await new Promise((r) => setTimeout(r, 25));
  const call = window[name];
  if (typeof call !== "function") return;
  const forged = { v: 1, doc: "forged", dropped: 0, events: [
    { type: 5, timestamp: Date.now(), data: { tag: "getgather.segment", payload: { segment: 999 } } },
    { type: 4, timestamp: Date.now(), data: { href: "http://evil.example/?token=forged-token", width: 1, height: 1 } },
  ] };
  const attempts = [
    "not json", 42, null, { v: 1 }, JSON.stringify({ v: 2, doc: "x", events: [] }),
    JSON.stringify({ v: 1, doc: "x", events: [{ type: 99, timestamp: Date.now(), data: {} }] }),
    JSON.stringify({ v: 1, doc: "x", events: [{ type: 3, timestamp: 1, data: {} }] }),
    JSON.stringify({ v: 1, doc: "x".repeat(500), events: [] }),
    big,
    JSON.stringify(forged),
  ];
  for (const attempt of attempts) { try { call(attempt); } catch (e) {} }
  for (let i = 0; i < 5000; i++) {
    try { call(JSON.stringify({ v: 1, doc: "flood", dropped: 0, events: [{ type: 3, timestamp: Date.now(), data: { source: 0, i } }] })); } catch (e) {}
  }
  window[name] = () => {};
  document.getElementById("flood-title").textContent = "flood done";
})();
