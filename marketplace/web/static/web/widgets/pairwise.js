// pairwise: for the current item (the one holding focus, else the first unanswered), <- (or 1) picks the left side,
// -> (or 2) the right one, T (or 3) a tie when the job allows ties; focus then moves to the next unanswered item, or
// to the submit button when all are answered (Enter submits).
"use strict";
(() => {
  const form = document.getElementById("task-form");
  if (!form || form.dataset.widget !== "pairwise") return;
  const KEYS = { ArrowLeft: "left", 1: "left", ArrowRight: "right", 2: "right", t: "tie", T: "tie", 3: "tie" };
  const items = [...form.querySelectorAll("fieldset.item")];
  const answered = (item) => item.querySelector("input:checked") !== null;
  const current = () =>
    items.find((item) => item.contains(document.activeElement)) || items.find((item) => !answered(item));
  const advance = () => {
    const next = items.find((item) => !answered(item));
    (next ? next.querySelector("input") : document.getElementById("submit")).focus();
  };
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.altKey || event.metaKey || !(event.key in KEYS)) return;
    if (event.target.matches("textarea, input[type=text], input[type=number]")) return;
    const item = current();
    const choice = item && item.querySelector(`input[type=radio][value=${KEYS[event.key]}]`);
    if (!choice) return;
    event.preventDefault();
    choice.checked = true;
    advance();
  });
  const first = items.find((item) => !answered(item)) || items[0];
  if (first) first.querySelector("input").focus();
})();
