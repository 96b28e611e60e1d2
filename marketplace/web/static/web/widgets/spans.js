// spans: label passages of an item's text. Select with the mouse, or with the keyboard in the text box: <- -> move
// the cursor, Shift extends the selection, Ctrl goes by word, Home/End to the ends; 1-9 give the selection a label
// (or click a label's button). Delete/Backspace removes the span under the cursor, Esc clears the selection, Enter
// submits. The answer is a list of [start, end, label], half-open offsets in characters (Unicode code points, as the
// server counts them) into the item's text, kept in the item's hidden field.
"use strict";
(() => {
  const form = document.getElementById("task-form");
  if (!form || form.dataset.widget !== "spans") return;
  const WORD = /[\p{L}\p{N}_]/u;

  const widget = (root) => {
    const chars = Array.from(JSON.parse(root.querySelector("script[type='application/json']").textContent) || "");
    const box = root.querySelector(".spans-text");
    const list = root.querySelector(".spans-list");
    const input = root.querySelector("input[type=hidden]");
    const labels = [...root.querySelectorAll("button[data-label]")];
    const overlapAllowed = root.dataset.overlap === "true";
    let spans = [];
    try {
      spans = JSON.parse(input.value || "[]");
      if (!Array.isArray(spans)) spans = [];
    } catch {
      spans = [];
    }
    let caret = 0;
    let anchor = null; // the selection is [min(anchor, caret), max(anchor, caret)) while anchor is set

    const selection = () => (anchor === null || anchor === caret ? null : [Math.min(anchor, caret), Math.max(anchor, caret)]);
    const text = (start, end) => chars.slice(start, end).join("");
    const hue = (label) => labels.findIndex((b) => b.dataset.label === label) % 6;

    const draw = () => {
      const selected = selection();
      const cuts = new Set([0, chars.length, caret]);
      for (const [s, e] of spans) { cuts.add(s); cuts.add(e); }
      if (selected) { cuts.add(selected[0]); cuts.add(selected[1]); }
      const points = [...cuts].filter((p) => p >= 0 && p <= chars.length).sort((a, b) => a - b);
      box.replaceChildren();
      points.forEach((start, i) => {
        if (start === caret) { // shown while the text has the focus (CSS)
          const mark = document.createElement("span");
          mark.className = "caret";
          box.append(mark);
        }
        const end = points[i + 1];
        if (end === undefined || end === start) return;
        const covering = spans.filter(([s, e]) => s <= start && end <= e);
        const part = document.createElement(covering.length ? "mark" : "span");
        part.textContent = text(start, end);
        if (covering.length) {
          part.dataset.hue = String(hue(covering[0][2]));
          part.title = covering.map((s) => s[2]).join(", ");
        }
        if (selected && selected[0] <= start && end <= selected[1]) part.classList.add("selected");
        box.append(part);
      });
      list.replaceChildren(
        ...spans.map((span, index) => {
          const item = document.createElement("li");
          const tag = document.createElement("strong");
          tag.textContent = span[2];
          const remove = document.createElement("button");
          remove.type = "button";
          remove.className = "secondary outline";
          remove.textContent = "Remove";
          remove.setAttribute("aria-label", `Remove span ${index + 1}, ${span[2]}: ${text(span[0], span[1])}`);
          remove.addEventListener("click", () => { spans.splice(index, 1); save(); });
          item.append(tag, ` “${text(span[0], span[1])}” [${span[0]}, ${span[1]}) `, remove);
          return item;
        }),
      );
      labels.forEach((b) => { b.disabled = !selected; });
    };
    const save = () => {
      spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      input.value = JSON.stringify(spans);
      draw();
    };
    const label = (name) => {
      const selected = selection();
      if (!selected) return;
      // Without overlaps, a new span replaces those it overlaps.
      spans = spans.filter(([s, e]) => overlapAllowed || !(s < selected[1] && selected[0] < e));
      spans.push([selected[0], selected[1], name]);
      anchor = null;
      caret = selected[1];
      save();
      box.focus();
    };
    const wordStep = (from, step) => {
      let at = from;
      if (step > 0) {
        while (at < chars.length && !WORD.test(chars[at])) at += 1;
        while (at < chars.length && WORD.test(chars[at])) at += 1;
      } else {
        while (at > 0 && !WORD.test(chars[at - 1])) at -= 1;
        while (at > 0 && WORD.test(chars[at - 1])) at -= 1;
      }
      return at;
    };
    const offsetOf = (node, offset) => { // a DOM point inside the box -> a code-point offset into the text
      const before = document.createRange();
      before.selectNodeContents(box);
      before.setEnd(node, offset);
      return Array.from(before.toString()).length;
    };

    box.addEventListener("keydown", (event) => {
      const { key } = event;
      if ((key === "ArrowLeft" || key === "ArrowRight" || key === "Home" || key === "End") && !event.altKey) {
        const step = key === "ArrowLeft" ? -1 : 1;
        if (event.shiftKey && anchor === null) anchor = caret;
        if (!event.shiftKey) anchor = null;
        if (key === "Home") caret = 0;
        else if (key === "End") caret = chars.length;
        else caret = event.ctrlKey ? wordStep(caret, step) : Math.min(chars.length, Math.max(0, caret + step));
      } else if (/^[1-9]$/.test(key) && !event.ctrlKey && !event.altKey && !event.metaKey) {
        const button = labels[Number(key) - 1];
        if (!button) return;
        label(button.dataset.label);
      } else if (key === "Delete" || key === "Backspace") {
        const at = spans.findIndex(([s, e]) => s <= caret && caret <= e);
        if (at < 0) return;
        spans.splice(at, 1);
        save();
      } else if (key === "Escape") {
        anchor = null;
      } else if (key === "Enter" && !event.shiftKey) {
        form.requestSubmit();
      } else {
        return;
      }
      event.preventDefault();
      draw();
    });
    box.addEventListener("mouseup", () => {
      const chosen = window.getSelection();
      if (!chosen.rangeCount || !box.contains(chosen.anchorNode) || !box.contains(chosen.focusNode)) return;
      anchor = offsetOf(chosen.anchorNode, chosen.anchorOffset);
      caret = offsetOf(chosen.focusNode, chosen.focusOffset);
      if (anchor === caret) anchor = null;
      chosen.removeAllRanges();
      box.focus();
      draw();
    });
    labels.forEach((button) => {
      button.addEventListener("mousedown", (event) => event.preventDefault()); // keep the text's selection
      button.addEventListener("click", () => label(button.dataset.label));
    });
    save();
    return box;
  };

  const boxes = [...form.querySelectorAll(".spans")].map(widget);
  if (boxes[0]) boxes[0].focus();
})();
