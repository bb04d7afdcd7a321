// A hostile page: looks for the recorder's binding (it must find none: it lives in an
// isolated world), forges rrweb cross-origin-iframe messages to itself, and floods the DOM
// with 5,000 mutations of ~300 bytes, each in its own microtask so that rrweb emits one
// event per mutation, after the recorder started (at load). Everything here must be unreachable, ignored or bounded.
addEventListener("load", async function () {
  const name = new URLSearchParams(location.search).get("binding") || "__ggRec";
  const found = [typeof window[name], typeof window.__playwright__binding__].join(",");
  window.postMessage(
    { type: "rrweb", origin: location.origin, isCheckout: false,
      event: { type: 4, timestamp: Date.now(), data: { href: "http://evil.example/?token=forged-token", width: 1, height: 1 } } },
    "*",
  );
  const target = document.getElementById("flood-target");
  for (let i = 0; i < 5000; i++) {
    target.textContent = "flood " + i + " " + "x".repeat(300);
    await null;
  }
  document.getElementById("flood-title").textContent = "flood done: " + found;
});
