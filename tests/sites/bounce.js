// Changes its text and leaves at once, like a sign-in hop: the change is still in the
// recorder's 100 ms batch when the document ends.
addEventListener("load", () =>
  setTimeout(() => {
    document.getElementById("bounce").textContent = "changed on the way out";
    setTimeout(() => location.replace("/child.html?after=bounce"), 0);
  }, 50),
);
