// text: type the answer in each item's box (Tab to the next); Ctrl+Enter submits.
"use strict";
(() => {
  const form = document.getElementById("task-form");
  if (!form || form.dataset.widget !== "text") return;
  form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); form.requestSubmit(); }
  });
  const first = form.querySelector("textarea");
  if (first) first.focus();
})();
