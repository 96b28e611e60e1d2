// multi_choice: number keys 1-9 toggle a class of the current item (the one holding focus, else the first);
// Tab moves to the next item; Enter submits.
"use strict";
(() => {
  const form = document.getElementById("task-form");
  if (!form || form.dataset.widget !== "multi_choice") return;
  const items = [...form.querySelectorAll("fieldset.item")];
  const current = () => items.find((item) => item.contains(document.activeElement)) || items[0];
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.altKey || event.metaKey) return;
    if (event.key === "Enter") { event.preventDefault(); form.requestSubmit(); return; }
    if (!/^[1-9]$/.test(event.key)) return;
    const box = current() && current().querySelectorAll("input[type=checkbox]")[Number(event.key) - 1];
    if (!box) return;
    event.preventDefault();
    box.checked = !box.checked;
    box.focus();
  });
  if (items[0]) items[0].querySelector("input").focus();
})();
