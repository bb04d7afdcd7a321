// Changes its text and leaves soon after, like a sign-in hop: the change is still in the
// recorder's 100 ms batch when the navigation starts, and must leave with it (the world
// flushes on `navigate`; calls made at `pagehide` never arrive). 1 s: long enough for the
// world's binding to be added (12-100 ms after the document starts; 300 ms was too short once
// in a stress run at load average 17, and a document that leaves before its binding exists
// sends nothing: docs/architecture.md, "The binding appears").
addEventListener("load", () =>
  setTimeout(() => {
    document.getElementById("bounce").textContent = "changed on the way out";
    setTimeout(() => location.replace("/child.html?after=bounce"), 0);
  }, 1000),
);
