// Detection fixture's child frame: one hello to the parent, the only message the parent expects.
window.parent.postMessage({ probe: "hello", name: new URLSearchParams(location.search).get("name") }, "*");
