// Bulk review with the keyboard: the "Tick all" box (Space) ticks or clears every pending submission; each row's
// box is reached with Tab. Without JavaScript the page works the same, one box at a time.
document.addEventListener("DOMContentLoaded", () => {
  const all = document.getElementById("tick-all");
  if (!all) return;
  const boxes = () => document.querySelectorAll('input[name="assignments"]');
  all.addEventListener("change", () => boxes().forEach((box) => { box.checked = all.checked; }));
  all.hidden = false;  // shown only once it works
  all.closest("label").hidden = false;
});
