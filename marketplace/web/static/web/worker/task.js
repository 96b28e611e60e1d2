// The task page's frame, the same for every answer type: countdown, instructions (?), skip (Shift+S), and one
// submit per page (a second Enter while the first is on its way sends nothing; the server is idempotent anyway).
"use strict";
(() => {
  const form = document.getElementById("task-form");
  if (!form) return;
  const countdown = document.getElementById("countdown"); // none on the requester's preview
  if (countdown) {
    const expires = Date.parse(countdown.dataset.expires);
    const tick = () => {
      const left = Math.max(0, Math.round((expires - Date.now()) / 1000));
      countdown.textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
      if (left === 0) countdown.classList.add("expired");
    };
    tick();
    setInterval(tick, 1000);
  }

  let sent = false;
  form.addEventListener("submit", (event) => {
    if (sent) { event.preventDefault(); return; }
    sent = true;
    document.getElementById("submit").setAttribute("aria-busy", "true");
  });

  // Audio (items with an audio field): the current item's player (the item holding focus, else the first).
  // Ctrl+Space plays/pauses and Ctrl+, / Ctrl+. seek 5 s back/forward everywhere, in a text box too (no editing key
  // uses them); outside a text box, Space and the arrow keys do the same, unless the widget uses the arrows itself.
  const SEEK_S = 5;
  // The media URLs answer byte ranges, so the player seeks in a clip it streams (<audio src=... preload="metadata">).
  const arrowsTaken = form.dataset.arrows === "widget";
  const player = () => {
    const item = [...form.querySelectorAll("fieldset.item")].find((i) => i.contains(document.activeElement));
    return (item && item.querySelector("audio")) || form.querySelector("audio");
  };
  const typing = (target) => target.matches("textarea, input[type=text], input[type=number], [contenteditable]");
  const audioKey = (event) => {
    const plain = !event.ctrlKey && !event.metaKey && !event.altKey && !event.shiftKey;
    const ours = !typing(event.target) && !event.target.matches("button, a, select, audio, summary");
    if (event.key === " " && (event.ctrlKey || (plain && ours))) return "toggle";
    if ((event.key === "," && event.ctrlKey) || (event.key === "ArrowLeft" && plain && ours && !arrowsTaken)) return -SEEK_S;
    if ((event.key === "." && event.ctrlKey) || (event.key === "ArrowRight" && plain && ours && !arrowsTaken)) return SEEK_S;
    return null;
  };
  document.addEventListener("keydown", (event) => {
    const audio = player();
    const action = audio && audioKey(event);
    if (!action) return;
    event.preventDefault();
    event.stopImmediatePropagation(); // the widget's own keys do not see it
    if (action === "toggle") {
      if (audio.paused) audio.play().catch(() => {}); else audio.pause();
    } else {
      const end = Number.isFinite(audio.duration) ? audio.duration : Infinity;
      audio.currentTime = Math.min(end, Math.max(0, audio.currentTime + action));
    }
  });

  document.addEventListener("keydown", (event) => {
    if (event.target.matches("textarea, input[type=text], input[type=number]")) return;
    if (event.key === "?" && document.getElementById("instructions")) {
      const details = document.getElementById("instructions");
      details.open = !details.open;
      event.preventDefault();
    } else if (event.key === "S" && event.shiftKey && document.getElementById("skip-form")) {
      document.getElementById("skip-form").requestSubmit();
      event.preventDefault();
    }
  });
})();
