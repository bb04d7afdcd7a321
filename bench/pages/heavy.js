// The heavy fixture's behaviour (bench/heavy_site.py serves the page): what a big order page built
// with a CSS-in-JS library and a chat widget does in its document, nothing from a CDN.
// Runs as a classic script at the end of <body>, so all of it happens before DOMContentLoaded,
// where a recorder takes its first full snapshot.
// - CSS-in-JS: ~300 rules put into an empty <style> with CSSStyleSheet.insertRule (emotion's and
//   styled-components' production mode), so the rules exist in the CSSOM only, never as text.
// - document.adoptedStyleSheets: a constructed sheet for the page's layout.
// - A shadow-root widget (attachShadow, with its own adopted sheet), like a support chat bubble.
// - A clock updated every 100 ms: the page keeps changing while a recorder watches it.
// - #refresh: a click that changes the DOM (adds #notice, rewrites the last row's status).
"use strict";
(() => {
  const sheet = document.getElementById("css-in-js").sheet;
  const hues = [12, 48, 96, 150, 210, 260, 300, 340];
  for (let i = 0; i < 300; i++) {
    const hue = hues[i % hues.length];
    sheet.insertRule(
      `.css-c${i} { color: hsl(${hue} 40% 30%); padding: ${i % 4}px ${i % 7}px; border-left: 2px solid hsl(${hue} 60% 70%); }`,
      sheet.cssRules.length,
    );
  }
  sheet.insertRule(".css-row:nth-child(even) { background: #f6f7f9; }", sheet.cssRules.length);
  sheet.insertRule(".css-st-late td:last-child { color: #b00020; font-weight: 600; }", sheet.cssRules.length);
  sheet.insertRule(".css-notice { background: #e8f5e9; padding: 8px; border-radius: 4px; }", sheet.cssRules.length);

  const layout = new CSSStyleSheet();
  layout.replaceSync(
    "body { font: 14px/1.4 system-ui, sans-serif; margin: 0 24px; }" +
      " #orders { border-collapse: collapse; width: 100%; } #orders td { padding: 2px 8px; }" +
      " #toolbar { display: flex; gap: 12px; align-items: center; position: sticky; top: 0; background: #fff; }",
  );
  document.adoptedStyleSheets = [layout];

  const widget = document.getElementById("support-widget");
  const shadow = widget.attachShadow({ mode: "open" });
  const widgetSheet = new CSSStyleSheet();
  widgetSheet.replaceSync(
    ".bubble { position: fixed; right: 16px; bottom: 16px; padding: 10px 14px; border-radius: 18px;" +
      " background: #1a73e8; color: #fff; box-shadow: 0 2px 8px rgb(0 0 0 / 30%); }",
  );
  shadow.adoptedStyleSheets = [widgetSheet];
  shadow.innerHTML = '<div class="bubble"><strong>Need help?</strong> <span id="agents">3 agents online</span></div>';

  const clock = document.getElementById("clock");
  setInterval(() => {
    clock.textContent = new Date().toISOString().slice(11, 22);
  }, 100);

  document.getElementById("refresh").addEventListener("click", () => {
    const notice = document.createElement("p");
    notice.id = "notice";
    notice.className = "css-notice";
    notice.textContent = "Orders refreshed at " + clock.textContent;
    document.getElementById("toolbar").after(notice);
    document.querySelector("#orders tbody tr:last-child td:last-child").textContent = "delivered";
  });
})();
