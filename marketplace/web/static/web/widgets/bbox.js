// bbox: boxes on an item's image. With the mouse: drag on the image to draw a box, drag a box to move it, drag one
// of its corners to resize it. Keys, in the image or its toolbar: 1-9 pick the label (and relabel the selected box),
// B adds a box in view, N selects the next box, arrow keys move the selected box by 1% of the image (Shift: resize it),
// Delete/Backspace removes it, Esc deselects, + and - zoom, Enter submits. The answer is a list of [x, y, w, h, label]
// in the image's own pixels (x, y the top-left corner), kept in the item's hidden field.
"use strict";
(() => {
  const form = document.getElementById("task-form");
  if (!form || form.dataset.widget !== "bbox") return;
  const MIN_SIZE = 2; // pixels of the image: a smaller drag is a click, not a box
  const ZOOMS = [1, 1.5, 2, 3, 4, 6, 8];

  const widget = (root) => {
    const view = root.querySelector(".bbox-view");
    const stage = root.querySelector(".bbox-stage");
    const image = stage && stage.querySelector("img");
    const list = root.querySelector(".bbox-list");
    const input = root.querySelector("input[type=hidden]");
    const labels = [...root.querySelectorAll("button[data-label]")];
    let boxes = [];
    try {
      boxes = JSON.parse(input.value || "[]");
      if (!Array.isArray(boxes)) boxes = [];
    } catch {
      boxes = [];
    }
    let selected = null;
    let label = labels.length ? labels[0].dataset.label : "";
    let zoom = 0;
    const size = () => [image.naturalWidth || 1, image.naturalHeight || 1];

    const pct = (value, whole) => `${(100 * value) / whole}%`;
    const draw = () => {
      const [width, height] = size();
      stage.querySelectorAll(".box").forEach((node) => node.remove());
      boxes.forEach(([x, y, w, h, name], index) => {
        const node = document.createElement("div");
        node.className = index === selected ? "box selected" : "box";
        node.dataset.index = String(index);
        node.dataset.hue = String(labels.findIndex((b) => b.dataset.label === name) % 6);
        Object.assign(node.style, { left: pct(x, width), top: pct(y, height), width: pct(w, width), height: pct(h, height) });
        const tag = document.createElement("span");
        tag.className = "tag";
        tag.textContent = name;
        node.append(tag);
        for (const corner of ["nw", "ne", "sw", "se"]) {
          const handle = document.createElement("span");
          handle.className = `handle ${corner}`;
          handle.dataset.corner = corner;
          node.append(handle);
        }
        stage.append(node);
      });
      list.replaceChildren(
        ...boxes.map(([x, y, w, h, name], index) => {
          const item = document.createElement("li");
          if (index === selected) item.className = "selected";
          const tag = document.createElement("strong");
          tag.textContent = name;
          const remove = document.createElement("button");
          remove.type = "button";
          remove.className = "secondary outline";
          remove.textContent = "Remove";
          remove.setAttribute("aria-label", `Remove box ${index + 1}, ${name}`);
          remove.addEventListener("click", () => { boxes.splice(index, 1); selected = null; save(); });
          item.append(tag, ` at (${x}, ${y}), ${w} × ${h} px `, remove);
          return item;
        }),
      );
      labels.forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.label === label)));
    };
    const save = () => {
      input.value = JSON.stringify(boxes);
      draw();
    };
    const clampBox = (box) => {
      const [width, height] = size();
      let [x, y, w, h] = box.slice(0, 4).map(Math.round);
      w = Math.max(1, Math.min(w, width));
      h = Math.max(1, Math.min(h, height));
      x = Math.max(0, Math.min(x, width - w));
      y = Math.max(0, Math.min(y, height - h));
      return [x, y, w, h, box[4]];
    };
    const setZoom = (index) => {
      zoom = Math.max(0, Math.min(ZOOMS.length - 1, index));
      // At zoom 1 the image fills the view's width (small images at least 320 px wide); zooming scrolls the view.
      const base = Math.min(view.clientWidth, Math.max(size()[0], 320));
      stage.style.width = `${base * ZOOMS[zoom]}px`;
    };
    const setLabel = (name) => {
      label = name;
      if (selected !== null) {
        boxes[selected][4] = name;
        save();
      } else draw();
    };

    // The mouse: draw, move, resize.
    const point = (event) => {
      const rect = stage.getBoundingClientRect();
      const [width, height] = size();
      const x = ((event.clientX - rect.left) / rect.width) * width;
      const y = ((event.clientY - rect.top) / rect.height) * height;
      return [Math.max(0, Math.min(width, x)), Math.max(0, Math.min(height, y))];
    };
    let drag = null;
    stage.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      event.preventDefault();
      view.focus();
      const [px, py] = point(event);
      const target = event.target.closest(".box");
      if (target) {
        selected = Number(target.dataset.index);
        const [x, y, w, h] = boxes[selected];
        const corner = event.target.dataset.corner;
        // Resizing keeps the corner opposite the one dragged where it is.
        const fixed = corner ? [corner.includes("w") ? x + w : x, corner.includes("n") ? y + h : y] : null;
        drag = { mode: corner ? "resize" : "move", start: [px, py], origin: [x, y, w, h], fixed };
      } else {
        boxes.push([px, py, 0, 0, label]);
        selected = boxes.length - 1;
        drag = { mode: "draw", fixed: [px, py] };
      }
      stage.setPointerCapture(event.pointerId);
      draw();
    });
    stage.addEventListener("pointermove", (event) => {
      if (!drag) return;
      const [px, py] = point(event);
      const box = boxes[selected];
      if (drag.mode === "move") {
        const [x, y, w, h] = drag.origin;
        boxes[selected] = clampBox([x + px - drag.start[0], y + py - drag.start[1], w, h, box[4]]);
      } else {
        const [fx, fy] = drag.fixed;
        boxes[selected] = [Math.min(fx, px), Math.min(fy, py), Math.abs(px - fx), Math.abs(py - fy), box[4]];
      }
      draw();
    });
    const drop = () => {
      if (!drag) return;
      const [, , w, h] = boxes[selected];
      if (drag.mode === "draw" && (w < MIN_SIZE || h < MIN_SIZE)) {
        boxes.splice(selected, 1);
        selected = null;
      } else {
        boxes[selected] = clampBox(boxes[selected]);
      }
      drag = null;
      save();
    };
    stage.addEventListener("pointerup", drop);
    stage.addEventListener("pointercancel", drop);

    // The keys.
    root.addEventListener("keydown", (event) => {
      const { key } = event;
      if (event.ctrlKey || event.metaKey) return;
      if (event.target.matches("button") && (key === "Enter" || key === " ")) return; // the button's own click
      if (event.altKey) return; // Alt+arrow is the browser's back and forward
      const [dx, dy] = size().map((whole) => Math.max(1, Math.round(whole / 100)));
      const moves = { ArrowLeft: [-dx, 0], ArrowRight: [dx, 0], ArrowUp: [0, -dy], ArrowDown: [0, dy] };
      if (/^[1-9]$/.test(key)) {
        const button = labels[Number(key) - 1];
        if (!button) return;
        setLabel(button.dataset.label);
      } else if (key in moves && selected !== null) {
        const [mx, my] = moves[key];
        const [x, y, w, h, name] = boxes[selected];
        boxes[selected] = clampBox(event.shiftKey ? [x, y, w + mx, h + my, name] : [x + mx, y + my, w, h, name]);
        save();
      } else if (key === "b" || key === "B") {
        const [width, height] = size();
        const w = Math.max(MIN_SIZE, Math.round(width / 4));
        const h = Math.max(MIN_SIZE, Math.round(height / 4));
        boxes.push(clampBox([(width - w) / 2, (height - h) / 2, w, h, label]));
        selected = boxes.length - 1;
        save();
      } else if ((key === "n" || key === "N") && boxes.length) {
        selected = selected === null ? 0 : (selected + (event.shiftKey ? boxes.length - 1 : 1)) % boxes.length;
        draw();
      } else if ((key === "Delete" || key === "Backspace") && selected !== null) {
        boxes.splice(selected, 1);
        selected = null;
        save();
      } else if (key === "Escape") {
        selected = null;
        draw();
      } else if (key === "+" || key === "=") {
        setZoom(zoom + 1);
      } else if (key === "-" || key === "_") {
        setZoom(zoom - 1);
      } else if (key === "Enter") {
        form.requestSubmit();
      } else {
        return;
      }
      event.preventDefault();
    });
    labels.forEach((button) => button.addEventListener("click", () => setLabel(button.dataset.label)));
    root.querySelectorAll("button[data-zoom]").forEach((button) =>
      button.addEventListener("click", () => setZoom(zoom + (Number(button.dataset.zoom) > 1 ? 1 : -1))),
    );
    const ready = () => { setZoom(zoom); draw(); };
    if (image.complete && image.naturalWidth) ready(); else image.addEventListener("load", ready);
    return view;
  };

  const views = [...form.querySelectorAll(".bbox")].filter((root) => root.querySelector(".bbox-view")).map(widget);
  if (views[0]) views[0].focus();
})();
