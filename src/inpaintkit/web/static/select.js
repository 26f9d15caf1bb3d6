// inpaintkit web page: the "Select" tool. Drag a box around an object, or click it (Shift+click:
// "not this"); POST /api/select proposes its mask (white = hole), which is painted on the mask
// canvas over what was there when this selection started. Further clicks refine the same
// selection (the box plus all its clicks go to the server again). Each proposal is one undo step;
// the brush and the eraser then touch it up like any painted mask.
// Loaded after app.js, whose top-level bindings (state, maskCtx, pushUndo, ...) it uses.
"use strict";

const DRAG_PX = 4; // a pointer that moves less than this (screen px) is a click, not a box

const selection = {
  start: null, // {image: {x, y}, clientX, clientY} while the pointer is down
  box: null, // [x0, y0, x1, y1] in image pixels, x1 - x0 = width
  points: [], // [x, y, positive]
  base: null, // the mask (ImageData) before this selection: proposals are added to it
  applied: null, // the mask right after the last proposal: tells whether the user edited since
  busy: false,
  pending: false,
  count: 0, // proposals shown: the browser test waits on it (#mask-canvas data-proposals)
};

const selectRect = $("select-rect");

function maskData() {
  return maskCtx.getImageData(0, 0, state.width, state.height);
}

function sameMask(a, b) {
  if (!a || !b || a.data.length !== b.data.length) return false;
  const x = a.data;
  const y = b.data;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

function clampToImage(p) {
  return { x: Math.min(Math.max(p.x, 0), state.width), y: Math.min(Math.max(p.y, 0), state.height) };
}

function showRect(event) {
  const rect = maskCanvas.getBoundingClientRect();
  const x0 = Math.min(selection.start.clientX, event.clientX) - rect.left;
  const y0 = Math.min(selection.start.clientY, event.clientY) - rect.top;
  selectRect.style.left = `${Math.max(0, x0)}px`;
  selectRect.style.top = `${Math.max(0, y0)}px`;
  selectRect.style.width = `${Math.abs(event.clientX - selection.start.clientX)}px`;
  selectRect.style.height = `${Math.abs(event.clientY - selection.start.clientY)}px`;
  selectRect.hidden = false;
}

function startSelection() {
  selection.base = maskData();
  selection.box = null;
  selection.points = [];
}

maskCanvas.addEventListener("pointerdown", (event) => {
  if (state.tool !== "select" || !hasImage() || event.button !== 0) return;
  event.preventDefault();
  maskCanvas.setPointerCapture(event.pointerId);
  selection.start = { image: toImage(event), clientX: event.clientX, clientY: event.clientY };
});

maskCanvas.addEventListener("pointermove", (event) => {
  if (selection.start) showRect(event);
});

maskCanvas.addEventListener("pointerup", (event) => {
  const start = selection.start;
  if (!start) return;
  selection.start = null;
  selectRect.hidden = true;
  const moved = Math.hypot(event.clientX - start.clientX, event.clientY - start.clientY) >= DRAG_PX;
  // Edited since the last proposal (brush, eraser, undo...)? Then this starts a new selection,
  // over the mask as it is now.
  const edited = !sameMask(selection.applied, maskData());
  if (moved) {
    startSelection();
    const a = clampToImage(start.image);
    const b = clampToImage(toImage(event));
    const box = [Math.floor(Math.min(a.x, b.x)), Math.floor(Math.min(a.y, b.y)),
      Math.ceil(Math.max(a.x, b.x)), Math.ceil(Math.max(a.y, b.y))];
    if (box[2] - box[0] < 1 || box[3] - box[1] < 1) return;
    selection.box = box;
  } else {
    if (edited || !selection.base) startSelection();
    const p = toImage(event);
    const x = Math.min(Math.max(Math.floor(p.x), 0), state.width - 1);
    const y = Math.min(Math.max(Math.floor(p.y), 0), state.height - 1);
    selection.points.push([x, y, !event.shiftKey]);
  }
  propose();
});

maskCanvas.addEventListener("pointercancel", () => {
  selection.start = null;
  selectRect.hidden = true;
});

async function propose() {
  if (selection.busy) {
    selection.pending = true; // one more request once this one is back, with every click so far
    return;
  }
  clearError();
  const form = new FormData();
  form.append("image", state.input, state.inputName);
  if (selection.box) form.append("box", selection.box.join(","));
  for (const [x, y, positive] of selection.points) form.append("point", `${x},${y},${positive ? "+" : "-"}`);
  selection.busy = true;
  const started = performance.now();
  setStatus("selecting\u2026");
  try {
    let response;
    try {
      response = await fetch("/api/select", { method: "POST", body: form });
    } catch (_) {
      throw new Error("cannot reach the inpaintkit server (is `inpaintkit serve` still running?)");
    }
    if (!response.ok) throw new Error(await errorText(response));
    const bitmap = await createImageBitmap(await response.blob());
    applyProposal(bitmap);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    setStatus(`selected in ${seconds} s: click to add, Shift+click to remove, or touch up with the brush / eraser`);
  } catch (e) {
    setStatus("");
    showError(e.message);
  } finally {
    selection.busy = false;
  }
  if (selection.pending) {
    selection.pending = false;
    propose();
  }
}

function maskRgb() {
  const n = parseInt(MASK_COLOR.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function applyProposal(bitmap) {
  // The proposal (white = hole) painted opaque over the selection's base mask: one undo step.
  const w = state.width;
  const h = state.height;
  const scratch = document.createElement("canvas");
  scratch.width = w;
  scratch.height = h;
  const sctx = scratch.getContext("2d", { willReadFrequently: true });
  sctx.drawImage(bitmap, 0, 0, w, h);
  const hole = sctx.getImageData(0, 0, w, h).data;
  const out = new ImageData(new Uint8ClampedArray(selection.base.data), w, h);
  const [r, g, b] = maskRgb();
  for (let i = 0; i < hole.length; i += 4) {
    if (hole[i] > 127) {
      out.data[i] = r;
      out.data[i + 1] = g;
      out.data[i + 2] = b;
      out.data[i + 3] = 255;
    }
  }
  pushUndo();
  maskCtx.putImageData(out, 0, 0);
  selection.applied = maskData();
  selection.count += 1;
  maskCanvas.dataset.proposals = String(selection.count);
  updateButtons();
}

$("select").addEventListener("click", () => setTool("select"));
document.addEventListener("keydown", (event) => {
  if (event.target instanceof HTMLInputElement || event.target instanceof HTMLSelectElement) return;
  if (!event.ctrlKey && !event.metaKey && event.key.toLowerCase() === "o") setTool("select");
});
