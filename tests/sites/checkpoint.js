// Checkpoint fixture: one button per change a page's own script makes out of an isolated-world
// recorder's sight (rrweb's hooks live in the main world). What each leaves, to compare with the replay:
//   #set-values     #cp-text.value "set by script", #cp-area.value "set by script too",
//                   #cp-select.value "third" (selectedIndex 2)
//   #set-checked    #cp-check.checked true, #cp-radio-b.checked true (so #cp-radio-a false),
//                   option.selected = true on "second" (so #cp-select.value becomes "second")
//   #insert-rule    #cp-styled: color rgb(200, 0, 0), from insertRule into <style id=cp-css-in-js>
//                   (what CSS-in-JS libraries do; the <style> element's text stays empty)
//   #set-property   #cp-styled: background-color rgb(255, 255, 0), by style.setProperty on that rule
//                   (press #insert-rule first)
//   #adopt-sheet    #cp-adopted: border-left 8px solid rgb(0, 0, 255), from document.adoptedStyleSheets
//   #attach-shadow  #cp-host gets an open shadow root holding <p id=cp-shadow-text>inside the shadow
//                   root</p>, coloured rgb(128, 0, 128) by a sheet adopted by that shadow root
(() => {
  const $ = (id) => document.getElementById(id);
  const actions = {
    "set-values": () => {
      $("cp-text").value = "set by script";
      $("cp-area").value = "set by script too";
      $("cp-select").value = "third";
    },
    "set-checked": () => {
      $("cp-check").checked = true;
      $("cp-radio-b").checked = true;
      $("cp-select").options[1].selected = true;
    },
    "insert-rule": () => {
      const sheet = $("cp-css-in-js").sheet;
      sheet.insertRule("#cp-styled { color: rgb(200, 0, 0); }", sheet.cssRules.length);
    },
    "set-property": () => {
      const rule = Array.from($("cp-css-in-js").sheet.cssRules).find((r) => r.selectorText === "#cp-styled");
      rule.style.setProperty("background-color", "rgb(255, 255, 0)");
    },
    "adopt-sheet": () => {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync("#cp-adopted { border-left: 8px solid rgb(0, 0, 255); }");
      document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
    },
    "attach-shadow": () => {
      const root = $("cp-host").attachShadow({ mode: "open" });
      const p = document.createElement("p");
      p.id = "cp-shadow-text";
      p.textContent = "inside the shadow root";
      root.append(p);
      const sheet = new CSSStyleSheet();
      sheet.replaceSync("p { color: rgb(128, 0, 128); }");
      root.adoptedStyleSheets = [sheet];
    },
  };
  for (const [id, action] of Object.entries(actions)) {
    $(id).addEventListener("click", () => {
      action();
      $("cp-status").textContent = `done: ${id}`;
    });
  }
})();
