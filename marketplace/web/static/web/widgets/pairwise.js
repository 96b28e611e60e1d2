// pairwise: keys 1 (left), 2 (right) and 3 (a tie, where allowed) pick the winner of the current item (the one
// holding focus, else the first unanswered), then focus moves to the next unanswered item, or to the submit button when all are answered.
"use strict";
(() => {
  const form = document.getElementById("task-form");
  if (!form || form.dataset.widget !== "pairwise") return;
  const items = [...form.querySelectorAll("fieldset.item")];
  const answered = (item) => item.querySelector("input:checked") !== null;
  const current = () =>
    items.find((item) => item.contains(document.activeElement)) || items.find((item) => !answered(item));
  const advance = () => {
    const next = items.find((item) => !answered(item));
    (next ? next.querySelector("input") : document.getElementById("submit")).focus();
  };
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.altKey || event.metaKey || !/^[1-3]$/.test(event.key)) return;
    const item = current();
    const choice = item && item.querySelectorAll("input[type=radio]")[Number(event.key) - 1];
    if (!choice) return;
    event.preventDefault();
    choice.checked = true;
    advance();
  });
  const first = items.find((item) => !answered(item)) || items[0];
  if (first) first.querySelector("input").focus();
})();
