// Adopted-stylesheet fixture: see adopted.html. Runs while the document parses, before its first paint.
(() => {
  const page = new CSSStyleSheet();
  page.replaceSync("body { background: rgb(255, 222, 173); } #adopted-title { color: rgb(0, 0, 139); }");
  document.adoptedStyleSheets = [page];
  const root = document.getElementById("adopted-widget").attachShadow({ mode: "open" });
  const text = document.createElement("p");
  text.id = "adopted-widget-text";
  text.textContent = "a widget styled by its shadow root's adopted sheet";
  root.append(text);
  const widget = new CSSStyleSheet();
  widget.replaceSync("p { color: rgb(0, 100, 0); font-weight: bold; }");
  root.adoptedStyleSheets = [widget];
})();
