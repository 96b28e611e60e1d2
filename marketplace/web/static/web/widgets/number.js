// number: type a number in each item's box (arrow keys step it; Tab to the next); Enter submits.
"use strict";
(() => {
  const form = document.getElementById("task-form");
  if (!form || form.dataset.widget !== "number") return;
  const first = form.querySelector("input[type=number]");
  if (first) first.focus();
})();
