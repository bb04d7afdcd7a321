// Changes its text and leaves soon after, like a sign-in hop: the change is still in the
// recorder's 100 ms batch when the navigation starts, and must leave with it (the world
// flushes on `navigate`; calls made at `pagehide` never arrive). 300 ms: long enough for the
// world's binding to be added (12-100 ms after the document starts, more on a busy machine).
addEventListener("load", () =>
  setTimeout(() => {
    document.getElementById("bounce").textContent = "changed on the way out";
    setTimeout(() => location.replace("/child.html?after=bounce"), 0);
  }, 300),
);
