// inpaintkit web page: open an image, paint the hole, send both to POST /api/inpaint.
// Plain JS, no build step. The mask is painted on its own canvas at the image's own
// resolution and sent as a black/white PNG (white = hole), so it always matches the image.
"use strict";

const $ = (id) => document.getElementById(id);
const MASK_COLOR = "#ff2d55";
const SKETCH_COLOR = "#00e5ff";
const SKETCH_SCREEN_PX = 2; // the pen's width on screen: thin, like the training sketches
const MEMORY_FOR_UNDO = 256 * 1024 * 1024; // bytes of mask + sketch snapshots kept for undo

const state = {
  input: null, // Blob sent as the image: the opened file, or a result being reworked
  inputName: "image.png",
  beforeUrl: null,
  width: 0,
  height: 0,
  models: [],
  limits: null,
  tool: "brush",
  drawing: false,
  last: null,
  undo: [],
  redo: [],
  results: [], // [{blob, url}]
  selected: -1,
  busy: false,
};

const imageCanvas = $("image-canvas");
const maskCanvas = $("mask-canvas");
const imageCtx = imageCanvas.getContext("2d");
const maskCtx = maskCanvas.getContext("2d", { willReadFrequently: true });
// The sketch (strokes guiding models with a sketch channel) has its own canvas, stacked
// above the mask and sent as its own white-on-black PNG; undo covers both canvases.
const sketchCanvas = $("sketch-canvas");
const sketchCtx = sketchCanvas.getContext("2d", { willReadFrequently: true });

// --- messages ----------------------------------------------------------------------------

function showError(text) {
  $("error-text").textContent = text;
  $("error").hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error-text").textContent = "";
}

function setStatus(text) {
  $("status").textContent = text;
}

async function errorText(response) {
  let detail = "";
  try {
    const body = await response.json();
    if (typeof body.detail === "string") detail = body.detail;
    else if (Array.isArray(body.detail)) detail = body.detail.map((d) => d.msg || JSON.stringify(d)).join("; ");
  } catch (_) {
    // not JSON (a proxy's page, ...): the status line says enough
  }
  const retry = response.headers.get("Retry-After");
  const status = `${response.status} ${response.statusText || ""}`.trim();
  let text = detail ? `${detail} (HTTP ${response.status})` : `the server answered ${status}`;
  if (retry && !detail.includes("retry")) text += `; retry in ${retry} s`;
  return text;
}

// --- models ------------------------------------------------------------------------------

function currentModel() {
  return state.models.find((m) => m.name === $("model").value) || null;
}

function describeModel() {
  const m = currentModel();
  let info = m ? `${m.name}: ${m.description}` : "";
  if (m && m.status === "experimental") info += ` \u2013 experimental, below the quality floor: ${m.gap}`;
  $("model-info").textContent = info;
  $("samples").disabled = !(m && m.pluralistic);
  $("samples-field").hidden = !(m && m.pluralistic);
  $("more").hidden = !(m && m.pluralistic && state.results.length > 0);
}

async function loadModels() {
  try {
    const response = await fetch("/api/models");
    if (!response.ok) throw new Error(await errorText(response));
    const data = await response.json();
    state.models = data.models;
    state.limits = data.limits;
    const select = $("model");
    select.replaceChildren();
    // Models below the quality floor (and untrained ones) come last, after a separator,
    // each with its measured gap (README "Models": the quality floor).
    const below = (m) => m.status === "experimental" || m.status === "untrained";
    const group = document.createElement("optgroup");
    group.label = "experimental (below the quality floor)";
    for (const m of [...data.models.filter((m) => !below(m)), ...data.models.filter(below)]) {
      const option = document.createElement("option");
      option.value = m.name;
      let label = m.name;
      if (m.default) label += " (default)";
      if (m.pluralistic) label += " \u2013 several results";
      if (m.untrained) label += " \u2013 untrained";
      else if (m.status === "experimental") label += " \u2013 experimental";
      option.textContent = label;
      option.title = m.gap ? `${m.description}; ${m.gap}` : m.description;
      option.selected = m.default;
      (below(m) ? group : select).append(option);
    }
    if (group.children.length) select.append(group);
    $("samples").max = String(data.limits.max_samples);
    describeModel();
  } catch (e) {
    showError(`cannot list the models: ${e.message}`);
  }
  updateButtons();
}

// --- opening an image --------------------------------------------------------------------

async function openImage(blob, name) {
  clearError();
  const limits = state.limits;
  if (limits && blob.size > limits.max_upload_bytes) {
    const mb = (limits.max_upload_bytes / 2 ** 20).toFixed(1);
    showError(`${name} is ${(blob.size / 2 ** 20).toFixed(1)} MB; the server accepts at most ${mb} MB`);
    return;
  }
  const url = URL.createObjectURL(blob);
  const img = new Image();
  img.src = url;
  try {
    await img.decode();
  } catch (_) {
    URL.revokeObjectURL(url);
    showError(`cannot open ${name}: not an image this browser can read (PNG, JPEG, WebP, BMP)`);
    return;
  }
  const w = img.naturalWidth;
  const h = img.naturalHeight;
  if (limits && limits.max_pixels && w * h > limits.max_pixels) {
    URL.revokeObjectURL(url);
    showError(`${name} is ${w}x${h} pixels; the server accepts at most ${limits.max_pixels.toLocaleString()}`);
    return;
  }
  if (state.beforeUrl) URL.revokeObjectURL(state.beforeUrl);
  state.input = blob;
  state.inputName = name;
  state.beforeUrl = url;
  state.width = w;
  state.height = h;
  for (const c of [imageCanvas, maskCanvas, sketchCanvas]) {
    c.width = w;
    c.height = h;
  }
  imageCtx.drawImage(img, 0, 0);
  maskCtx.clearRect(0, 0, w, h);
  sketchCtx.clearRect(0, 0, w, h);
  state.undo = [];
  state.redo = [];
  $("stage").classList.remove("empty");
  setStatus(`${name}: ${w}\u00d7${h}`);
  updateButtons();
}

function stem(name) {
  const dot = name.lastIndexOf(".");
  return (dot > 0 ? name.slice(0, dot) : name).replace(/_inpainted(_\d+)?$/, "");
}

// --- painting the mask -------------------------------------------------------------------

function undoDepth() {
  const bytes = Math.max(1, state.width * state.height * 8); // two RGBA canvases
  return Math.max(5, Math.min(50, Math.floor(MEMORY_FOR_UNDO / bytes)));
}

function snapshot() {
  return {
    mask: maskCtx.getImageData(0, 0, state.width, state.height),
    sketch: sketchCtx.getImageData(0, 0, state.width, state.height),
  };
}

function restore(shot) {
  maskCtx.putImageData(shot.mask, 0, 0);
  sketchCtx.putImageData(shot.sketch, 0, 0);
}

function pushUndo() {
  state.undo.push(snapshot());
  if (state.undo.length > undoDepth()) state.undo.shift();
  state.redo = [];
}

function undo() {
  if (!state.undo.length) return;
  state.redo.push(snapshot());
  restore(state.undo.pop());
  updateButtons();
}

function redo() {
  if (!state.redo.length) return;
  state.undo.push(snapshot());
  restore(state.redo.pop());
  updateButtons();
}

function clearMask() {
  if (!hasImage()) return;
  pushUndo();
  maskCtx.clearRect(0, 0, state.width, state.height);
  sketchCtx.clearRect(0, 0, state.width, state.height);
  updateButtons();
}

function hasImage() {
  return state.input !== null;
}

function scale() {
  const rect = maskCanvas.getBoundingClientRect();
  return rect.width > 0 ? maskCanvas.width / rect.width : 1;
}

function brushPixels() {
  // The slider is in screen pixels: the brush looks the same size whatever the zoom.
  return Number($("brush-size").value) * scale();
}

function toImage(event) {
  const rect = maskCanvas.getBoundingClientRect();
  const s = scale();
  return { x: (event.clientX - rect.left) * s, y: (event.clientY - rect.top) * s };
}

function stroke(ctx, from, to, color, width, erase) {
  ctx.save();
  ctx.globalCompositeOperation = erase ? "destination-out" : "source-over";
  ctx.strokeStyle = color;
  ctx.lineWidth = width;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.beginPath();
  ctx.moveTo(from.x, from.y);
  ctx.lineTo(to.x, to.y);
  ctx.stroke();
  ctx.restore();
}

function paint(from, to) {
  // Brush paints the hole, the sketch pen thin lines; the eraser removes both.
  if (state.tool === "sketch") {
    stroke(sketchCtx, from, to, SKETCH_COLOR, Math.max(1, SKETCH_SCREEN_PX * scale()), false);
    return;
  }
  const erase = state.tool === "eraser";
  stroke(maskCtx, from, to, MASK_COLOR, brushPixels(), erase);
  if (erase) stroke(sketchCtx, from, to, SKETCH_COLOR, brushPixels(), true);
}

function moveCursor(event) {
  const cursor = $("cursor");
  const rect = maskCanvas.getBoundingClientRect();
  const size = Number($("brush-size").value);
  cursor.hidden = state.tool === "select"; // the select tool shows its box instead
  if (cursor.hidden) return;
  cursor.style.width = `${size}px`;
  cursor.style.height = `${size}px`;
  cursor.style.left = `${event.clientX - rect.left}px`;
  cursor.style.top = `${event.clientY - rect.top}px`;
}

maskCanvas.addEventListener("pointerdown", (event) => {
  if (!hasImage() || event.button !== 0 || state.tool === "select") return; // select.js handles that tool
  event.preventDefault();
  maskCanvas.setPointerCapture(event.pointerId);
  pushUndo();
  state.drawing = true;
  state.last = toImage(event);
  paint(state.last, state.last);
});

maskCanvas.addEventListener("pointermove", (event) => {
  moveCursor(event);
  if (!state.drawing) return;
  const point = toImage(event);
  paint(state.last, point);
  state.last = point;
});

function endStroke() {
  if (!state.drawing) return;
  state.drawing = false;
  state.last = null;
  updateButtons();
}

maskCanvas.addEventListener("pointerup", endStroke);
maskCanvas.addEventListener("pointercancel", endStroke);
maskCanvas.addEventListener("pointerleave", () => {
  $("cursor").hidden = true;
});

function setTool(tool) {
  state.tool = tool;
  for (const id of ["select", "brush", "sketch", "eraser"]) {
    $(id).classList.toggle("active", id === tool);
    $(id).setAttribute("aria-pressed", String(id === tool));
  }
}

function isEmpty(ctx) {
  const data = ctx.getImageData(0, 0, state.width, state.height).data;
  for (let i = 3; i < data.length; i += 4) {
    if (data[i] >= 128) return false;
  }
  return true;
}

function maskIsEmpty() {
  return isEmpty(maskCtx);
}

function whitePng(canvas) {
  // Painted pixels -> white, the rest -> black; opaque, the format any client can send
  // (the mask: white = hole; the sketch: white = stroke).
  const white = document.createElement("canvas");
  white.width = state.width;
  white.height = state.height;
  const wctx = white.getContext("2d");
  wctx.drawImage(canvas, 0, 0);
  wctx.globalCompositeOperation = "source-in";
  wctx.fillStyle = "#fff";
  wctx.fillRect(0, 0, white.width, white.height);
  const out = document.createElement("canvas");
  out.width = state.width;
  out.height = state.height;
  const octx = out.getContext("2d");
  octx.fillStyle = "#000";
  octx.fillRect(0, 0, out.width, out.height);
  octx.drawImage(white, 0, 0);
  return new Promise((resolve, reject) => {
    out.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("cannot encode the mask"))), "image/png");
  });
}

// --- running -----------------------------------------------------------------------------

function setBusy(busy) {
  state.busy = busy;
  $("run").classList.toggle("busy", busy);
  $("run").setAttribute("aria-busy", String(busy));
  document.body.classList.toggle("working", busy);
  updateButtons();
}

function base64ToBlob(text) {
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  return new Blob([bytes], { type: "image/png" });
}

async function run(append) {
  if (!hasImage() || state.busy) return;
  clearError();
  if (maskIsEmpty()) {
    showError("paint over the part of the image to fill first (the mask is empty)");
    return;
  }
  const model = currentModel();
  const form = new FormData();
  form.append("image", state.input, state.inputName);
  form.append("mask", await whitePng(maskCanvas), "mask.png");
  if (!isEmpty(sketchCtx)) form.append("sketch", await whitePng(sketchCanvas), "sketch.png");
  form.append("format", "json");
  if (model) {
    form.append("model", model.name);
    if (model.pluralistic) {
      form.append("samples", $("samples").value || "1");
      // A fresh seed per click: "More results" must not repeat the previous ones.
      form.append("seed", String(Math.floor(Math.random() * 2 ** 31)));
    }
  }
  setBusy(true);
  const started = performance.now();
  const ticker = setInterval(() => {
    setStatus(`working\u2026 ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }, 250);
  setStatus("working\u2026");
  try {
    let response;
    try {
      response = await fetch("/api/inpaint", { method: "POST", body: form });
    } catch (_) {
      throw new Error("cannot reach the inpaintkit server (is `inpaintkit serve` still running?)");
    }
    if (!response.ok) throw new Error(await errorText(response));
    const data = await response.json();
    const fresh = data.images.map((b64) => {
      const blob = base64ToBlob(b64);
      return { blob, url: URL.createObjectURL(blob) };
    });
    if (!append) {
      for (const r of state.results) URL.revokeObjectURL(r.url);
      state.results = [];
    }
    const first = state.results.length;
    state.results.push(...fresh);
    showResults(first, data);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    setStatus(`done in ${seconds} s with ${data.model}${data.strategy ? ` (${data.strategy})` : ""}`);
  } catch (e) {
    setStatus("");
    showError(e.message);
  } finally {
    clearInterval(ticker);
    setBusy(false);
  }
}

// --- results -----------------------------------------------------------------------------

function showResults(select, data) {
  $("result-panel").hidden = false;
  $("before").src = state.beforeUrl;
  const thumbs = $("thumbs");
  thumbs.replaceChildren();
  state.results.forEach((r, i) => {
    const img = document.createElement("img");
    img.src = r.url;
    img.alt = `result ${i + 1}`;
    img.title = `result ${i + 1}`;
    img.addEventListener("click", () => selectResult(i));
    thumbs.append(img);
  });
  thumbs.hidden = state.results.length < 2;
  const notes = $("notes");
  notes.replaceChildren();
  for (const text of data.notes || []) {
    const li = document.createElement("li");
    li.textContent = text;
    notes.append(li);
  }
  selectResult(select);
  describeModel();
}

function selectResult(i) {
  state.selected = i;
  const r = state.results[i];
  $("after").src = r.url;
  const link = $("download");
  link.href = r.url;
  link.download = `${stem(state.inputName)}_inpainted${state.results.length > 1 ? `_${i + 1}` : ""}.png`;
  [...$("thumbs").children].forEach((img, k) => img.classList.toggle("selected", k === i));
  setCompare(Number($("compare").value));
}

function setCompare(value) {
  // The result covers the left `value` % of the view, the input shows on the right.
  $("after").style.clipPath = `inset(0 ${100 - value}% 0 0)`;
  $("divider").style.left = `${value}%`;
  $("divider").hidden = value <= 0 || value >= 100;
  $("toggle").textContent = value > 0 ? "Show before" : "Show result";
}

async function useResult() {
  const r = state.results[state.selected];
  if (!r || state.busy) return;
  const name = `${stem(state.inputName)}_inpainted.png`;
  await openImage(r.blob, name);
  for (const x of state.results) URL.revokeObjectURL(x.url);
  state.results = [];
  state.selected = -1;
  $("result-panel").hidden = true;
  describeModel();
}

// --- wiring ------------------------------------------------------------------------------

function updateButtons() {
  const ready = hasImage();
  $("run").disabled = !ready || state.busy || !state.models.length;
  $("more").disabled = state.busy;
  $("use-result").disabled = state.busy;
  $("undo").disabled = !state.undo.length;
  $("redo").disabled = !state.redo.length;
  $("clear").disabled = !ready;
}

$("file-input").addEventListener("change", (event) => {
  const file = event.target.files[0];
  if (file) openImage(file, file.name);
  event.target.value = ""; // the same file can be opened again
});

const stage = $("stage");
stage.addEventListener("dragover", (event) => {
  event.preventDefault();
  stage.classList.add("dragging");
});
stage.addEventListener("dragleave", () => stage.classList.remove("dragging"));
stage.addEventListener("drop", (event) => {
  event.preventDefault();
  stage.classList.remove("dragging");
  const file = event.dataTransfer.files[0];
  if (file) openImage(file, file.name);
});
// A file dropped next to the stage must not make the browser navigate away from the page.
window.addEventListener("dragover", (event) => event.preventDefault());
window.addEventListener("drop", (event) => event.preventDefault());

$("brush-size").addEventListener("input", (event) => {
  $("brush-size-value").textContent = event.target.value;
});
$("brush").addEventListener("click", () => setTool("brush"));
$("eraser").addEventListener("click", () => setTool("eraser"));
$("sketch").addEventListener("click", () => setTool("sketch"));
$("undo").addEventListener("click", undo);
$("redo").addEventListener("click", redo);
$("clear").addEventListener("click", clearMask);
$("run").addEventListener("click", () => run(false));
$("more").addEventListener("click", () => run(true));
$("use-result").addEventListener("click", useResult);
$("model").addEventListener("change", describeModel);
$("compare").addEventListener("input", (event) => setCompare(Number(event.target.value)));
$("toggle").addEventListener("click", () => {
  const value = Number($("compare").value) > 0 ? 0 : 100;
  $("compare").value = String(value);
  setCompare(value);
});
$("error-close").addEventListener("click", clearError);

document.addEventListener("keydown", (event) => {
  if (event.target instanceof HTMLInputElement || event.target instanceof HTMLSelectElement) return;
  const key = event.key.toLowerCase();
  const mod = event.ctrlKey || event.metaKey;
  if (mod && key === "z") {
    event.preventDefault();
    if (event.shiftKey) redo();
    else undo();
  } else if (mod && key === "y") {
    event.preventDefault();
    redo();
  } else if (!mod && key === "b") setTool("brush");
  else if (!mod && key === "e") setTool("eraser");
  else if (!mod && key === "s") setTool("sketch");
  else if (!mod && (key === "[" || key === "]")) {
    const slider = $("brush-size");
    slider.value = String(Number(slider.value) + (key === "]" ? 5 : -5));
    $("brush-size-value").textContent = slider.value;
  }
});

loadModels();
