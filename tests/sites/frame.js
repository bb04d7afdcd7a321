// One iframe of frames-all.html: ?name= names it, ?nest=<name> adds a same-origin iframe inside
// it, ?next=<origin> adds a #go link that navigates this frame to that origin.
(() => {
  const params = new URLSearchParams(location.search);
  const name = params.get("name");
  document.getElementById("frame-text").textContent = `frame ${name} text`;
  document.getElementById("frame-change").addEventListener("click", () => {
    const p = document.createElement("p");
    p.textContent = `frame ${name} changed later`;
    document.getElementById("frame-later").append(p);
  });
  const nest = params.get("nest");
  if (nest) {
    const frame = document.createElement("iframe");
    frame.id = nest;
    frame.src = `/frame.html?name=${encodeURIComponent(nest)}`;
    document.body.append(frame);
  }
  const next = params.get("next");
  if (next) {
    const link = document.createElement("a");
    link.id = "go";
    link.href = `${next}/frame.html?name=third`;
    link.textContent = "Go to a third site";
    document.body.append(link);
  }
})();
