// The task page's frame, the same for every answer type: countdown, instructions (?), skip (Shift+S), and one
// submit per page (a second Enter while the first is on its way sends nothing; the server is idempotent anyway).
"use strict";
(() => {
  const form = document.getElementById("task-form");
  if (!form) return;
  const countdown = document.getElementById("countdown");
  const expires = Date.parse(countdown.dataset.expires);
  const tick = () => {
    const left = Math.max(0, Math.round((expires - Date.now()) / 1000));
    countdown.textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
    if (left === 0) countdown.classList.add("expired");
  };
  tick();
  setInterval(tick, 1000);

  let sent = false;
  form.addEventListener("submit", (event) => {
    if (sent) { event.preventDefault(); return; }
    sent = true;
    document.getElementById("submit").setAttribute("aria-busy", "true");
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
