addEventListener("load", () =>
  setTimeout(() => {
    document.open();
    document.write(
      "<!doctype html><html><body><p id=rewritten>rewritten by document.write</p>" +
        "<input type=password id=rewritten-password></body></html>",
    );
    document.close();
  }, 50),
);
