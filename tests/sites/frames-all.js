// Every kind of iframe: see frames-all.html. Origins come from the query, as the test serves them.
(() => {
  const params = new URLSearchParams(location.search);
  const frames = {
    same: "/frame.html?name=same",
    port: `${params.get("other")}/frame.html?name=port`,
    far: `${params.get("far")}/frame.html?name=far&nest=nested`,
    hop: `${params.get("far")}/frame.html?name=hop&next=${encodeURIComponent(params.get("third"))}`,
  };
  for (const [id, src] of Object.entries(frames)) {
    const frame = document.createElement("iframe");
    frame.id = id;
    frame.src = src;
    frame.width = "320";
    frame.height = "160";
    document.getElementById("frames").append(frame);
  }
})();
