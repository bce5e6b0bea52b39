// segserve's viewer: upload a CT volume (or a picture), follow its job, and browse the server-rendered slices with
// the segmentation over them. Plain JS, no framework and no WebGL: each slice is composed on a 2-D canvas from two
// PNGs the server renders, the grey image (windowed) and the label slice (grey value = class index).
"use strict";

// ------------------------------------------------------------------ elements and state

const $ = (id) => document.getElementById(id);
const ui = {
  form: $("upload"), file: $("file"), status: $("status"), progress: $("progress"), cancel: $("cancel"),
  stage: $("stage"), canvas: $("view"), probe: $("probe"),
  navigation: $("navigation"), plane: $("plane"), slice: $("slice"), sliceLabel: $("slice-label"),
  windowing: $("windowing"), preset: $("window"), level: $("level"), width: $("width"), windowNote: $("window-note"),
  opacity: $("opacity"), legend: $("legend"),
  downloads: $("downloads"), nifti: $("download-nifti"), json: $("download-json"), seg: $("download-seg"),
  spectra: $("spectra"), magnitude: $("magnitude"), phase: $("phase"),
};
const TERMINAL = new Set(["done", "failed", "cancelled"]);
const POLL_MS = 500;
const CACHE_SLICES = 48; // decoded slices kept (a 512 x 512 slice is 1 MB)
const DISPLAY_PX = 512; // the canvas's largest CSS side
// Orientation markers of the radiological display: [top, bottom, left, right] (patient's right on the screen's left;
// anterior on the left of a sagittal plane, as 3D Slicer and OHIF show it).
const MARKERS = { axial: ["A", "P", "R", "L"], coronal: ["S", "I", "R", "L"], sagittal: ["S", "I", "A", "P"] };

const PALETTE = readPalette(); // class index -> [r, g, b], from the legend's colours
const slices = new Map(); // URL -> Promise<ImageData>, least recently used first

let current = null; // the job being shown: {generation, job, body, name, events, timer, finished}
let generation = 0; // bumped by every upload; late answers for an older upload are dropped
const position = { plane: "axial", index: {} }; // the plane shown and the slice shown in each plane
let shown = null; // what the canvas draws: {grey: ImageData, labels: ImageData | null, plane, index}
let drawTicket = 0; // bumped by every slice request; only the latest one draws
let wheelDelta = 0; // wheel movement not yet turned into a slice step

// ------------------------------------------------------------------ small helpers

// The legend rows' colours ("#rrggbb") as [r, g, b] per class index.
function readPalette() {
  const palette = [];
  for (const row of ui.legend.querySelectorAll("tbody tr")) {
    const hex = row.dataset.colour;
    palette[Number(row.dataset.index)] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  }
  return palette;
}

// One line of status; errors get the "error" class (red, and what the tests look for).
function say(text, isError = false) {
  ui.status.textContent = text;
  ui.status.classList.toggle("error", isError);
}

// The page's state for scripts and tests: idle, busy, done, error or cancelled (and body[data-job], the job's id).
function setState(state) {
  document.body.dataset.state = state;
  ui.cancel.disabled = state !== "busy";
}

// "status: message" from a non-2xx answer whose body is {"error": {"code", "message"}}.
async function errorText(response) {
  try {
    const body = await response.json();
    return `${response.status}: ${body.error.message}`;
  } catch (e) {
    return `${response.status}: ${response.statusText || "request failed"}`;
  }
}

// A PNG answer decoded to RGBA pixels, byte for byte (no colour management: label values must survive).
async function decodePng(response) {
  const options = { colorSpaceConversion: "none", premultiplyAlpha: "none" };
  const bitmap = await createImageBitmap(await response.blob(), options);
  const scratch = document.createElement("canvas");
  scratch.width = bitmap.width;
  scratch.height = bitmap.height;
  const ctx = scratch.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  return ctx.getImageData(0, 0, scratch.width, scratch.height);
}

// ------------------------------------------------------------------ starting a job

// The request body: one file as itself, several (one DICOM series) as multipart parts named "file".
function bodyOf(files) {
  if (files.length === 1) return files[0];
  const form = new FormData();
  for (const file of files) form.append("file", file, file.name);
  return form;
}

// Forget the previous job: stop following it, clear the viewer, the legend and the downloads.
function reset() {
  if (current) stopFollowing(current);
  generation += 1;
  current = null;
  shown = null;
  delete document.body.dataset.job;
  slices.clear();
  position.index = {};
  ui.plane.value = "axial";
  ui.canvas.width = ui.canvas.height = 1;
  ui.stage.classList.remove("shown", "oriented");
  ui.probe.textContent = "";
  ui.navigation.disabled = true;
  ui.windowing.disabled = true;
  ui.downloads.hidden = true;
  ui.progress.removeAttribute("value"); // indeterminate until the input is read
  ui.magnitude.removeAttribute("src");
  ui.phase.removeAttribute("src");
  for (const row of legendRows()) {
    row.classList.remove("present");
    row.querySelector(".volume").textContent = "–";
    row.querySelector(".hu").textContent = "–";
  }
}

// POST the input to /v1/jobs and follow the job it answers with.
async function submit(body, name) {
  reset();
  const mine = generation;
  setState("busy");
  say(`uploading ${name}…`);
  const response = await fetch("/v1/jobs", { method: "POST", body });
  if (mine !== generation) return;
  if (!response.ok) {
    fail(await errorText(response));
    return;
  }
  const job = await response.json();
  document.body.dataset.job = job.id;
  current = { generation: mine, job, body, name, events: null, timer: 0, finished: false };
  update(job);
  if (!TERMINAL.has(job.status)) follow(current);
}

// A failure of the page's own requests (the job's failures come through update()).
function fail(text) {
  say(text, true);
  setState("error");
}

// Files chosen or dropped: one is sent as itself, several as one series.
function submitFiles(files) {
  if (!files.length) {
    say("choose a file first", true);
    return;
  }
  const name = files.length === 1 ? files[0].name : `${files.length} files`;
  submit(bodyOf(files), name).catch(report);
}

// The bundled samples: fetch the file, then submit it like an upload.
async function submitSample(button) {
  const response = await fetch(button.dataset.url);
  if (!response.ok) {
    fail(await errorText(response));
    return;
  }
  const name = button.dataset.url.split("/").pop();
  await submit(new File([await response.blob()], name), name);
}

// ------------------------------------------------------------------ following a job

// Server-sent events first; polling every POLL_MS if the stream errors before a terminal status.
function follow(run) {
  const events = new EventSource(urlOf(run.job, "events"));
  run.events = events;
  const onMessage = (message) => {
    if (run.generation === generation) update(JSON.parse(message.data));
  };
  events.addEventListener("status", onMessage);
  events.addEventListener("message", onMessage); // a stream without event names
  events.onerror = () => {
    events.close();
    run.events = null;
    if (run.generation === generation && !TERMINAL.has(run.job.status)) poll(run);
  };
}

// GET the job every POLL_MS until it reaches a terminal status.
function poll(run) {
  run.timer = setTimeout(async () => {
    if (run.generation !== generation) return;
    let response;
    try {
      response = await fetch(urlOf(run.job, "self"));
    } catch (e) {
      poll(run); // the network blinked: try again
      return;
    }
    if (run.generation !== generation) return;
    if (!response.ok) {
      fail(await errorText(response));
      return;
    }
    update(await response.json());
    if (!TERMINAL.has(run.job.status)) poll(run);
  }, POLL_MS);
}

// Close the event stream and stop polling.
function stopFollowing(run) {
  if (run.events) run.events.close();
  run.events = null;
  clearTimeout(run.timer);
}

// Cancel: DELETE the job; its answer (status "cancelled") goes through update() like any other.
async function cancel() {
  const run = current;
  if (!run || TERMINAL.has(run.job.status)) return;
  const response = await fetch(urlOf(run.job, "self"), { method: "DELETE" });
  if (run.generation !== generation) return;
  if (!response.ok) {
    say(await errorText(response), true);
    return;
  }
  update(await response.json());
}

// A job URL: the job JSON's own, else the documented path.
function urlOf(job, name) {
  const urls = job.urls || {};
  const fallback = { self: "", events: "/events", result: "/result", image: "/image", labels: "/labels" };
  return urls[name] || `/v1/jobs/${job.id}${fallback[name]}`;
}

// ------------------------------------------------------------------ job status -> page

// Every job JSON (POST, event, poll or DELETE answer) passes here.
function update(job) {
  const run = current;
  if (!run || job.id !== run.job.id || run.finished) return;
  run.job = job;
  showProgress(job);
  if (job.views && ui.navigation.disabled) openViewer(job);
  if (job.status === "done") finish(run).catch(report);
  else if (job.status === "failed") finishFailed(run);
  else if (job.status === "cancelled") finishCancelled(run);
  else say(progressText(job, run.name));
}

// The progress bar: model slices done of the total (indeterminate until the input is read).
function showProgress(job) {
  if (!job.total) return;
  ui.progress.max = job.total;
  ui.progress.value = job.done;
  ui.progress.textContent = `${job.done} / ${job.total} slices`;
}

// The status line while the job runs.
function progressText(job, name) {
  if (job.status === "queued") return `${name}: queued…`;
  if (job.status === "reading") return `${name}: reading…`;
  return `${name}: segmenting, ${job.done} / ${job.total} slices…`;
}

// Done: fill the legend and the downloads, draw the labels of the slice shown, then say "done".
async function finish(run) {
  run.finished = true;
  stopFollowing(run);
  const response = await fetch(`${urlOf(run.job, "result")}?format=json`);
  if (run.generation !== generation) return;
  if (!response.ok) {
    fail(await errorText(response));
    return;
  }
  const result = await response.json();
  fillLegend(result);
  showDownloads(run.job);
  if (ui.navigation.disabled && run.job.views) openViewer(run.job);
  const drawn = await showSlice();
  if (run.generation !== generation || drawn === false) return;
  const names = (result.present || []).map((name) => name.replaceAll("_", " "));
  const found = names.length ? `found ${names.join(", ")}` : "no organ found";
  const counted = run.job.total === 1 ? "1 slice" : `${run.job.total} slices`;
  say(`${run.name}: ${counted} segmented; ${found}`);
  setState("done");
}

// Failed: the job's error, as the server words it.
function finishFailed(run) {
  run.finished = true;
  stopFollowing(run);
  const error = run.job.error || { code: "failed", message: "the job failed" };
  fail(`${error.code}: ${error.message}`);
}

// Cancelled (by this page or another client).
function finishCancelled(run) {
  run.finished = true;
  stopFollowing(run);
  say(`${run.name}: cancelled`);
  setState("cancelled");
}

// ------------------------------------------------------------------ the viewer: planes and slices

// The input is read: enable the planes that have an area, the window unless it is a picture, show the middle slice.
function openViewer(job) {
  for (const option of ui.plane.options) {
    const view = job.views[option.value];
    option.disabled = !view || view.width < 2 || view.height < 2 || view.count < 1;
  }
  if (ui.plane.selectedOptions[0].disabled) {
    const usable = [...ui.plane.options].find((o) => !o.disabled);
    if (usable) ui.plane.value = usable.value;
  }
  // CT in HU ("hu") and stored values ("raw": NIfTI does not say its modality) are windowed by the server; pictures
  // ("grey") hold grey levels already windowed, so the window controls are off for them.
  const windowed = Boolean(job.input) && job.input.intensity !== "grey";
  ui.windowing.disabled = !windowed;
  ui.windowNote.hidden = windowed;
  // Orientation markers for volumes and DICOM; a picture's orientation is unknown.
  ui.stage.classList.toggle("oriented", windowed);
  ui.navigation.disabled = false;
  setPlane(ui.plane.value);
}

// Show a plane at the slice last shown in it (the middle one at first).
function setPlane(plane) {
  const view = current.job.views[plane];
  position.plane = plane;
  if (position.index[plane] === undefined) position.index[plane] = Math.floor((view.count - 1) / 2);
  ui.slice.max = String(view.count - 1);
  ui.slice.disabled = view.count < 2;
  const [top, bottom, left, right] = MARKERS[plane];
  ui.stage.querySelector(".top").textContent = top;
  ui.stage.querySelector(".bottom").textContent = bottom;
  ui.stage.querySelector(".left").textContent = left;
  ui.stage.querySelector(".right").textContent = right;
  setSlice(position.index[plane]);
}

// Go to slice `index` of the plane shown (clamped to the plane's range).
function setSlice(index) {
  if (!current || !current.job.views) return;
  const count = current.job.views[position.plane].count;
  const clamped = Math.max(0, Math.min(count - 1, Math.round(index)));
  position.index[position.plane] = clamped;
  ui.slice.value = String(clamped);
  ui.sliceLabel.textContent = `slice ${clamped + 1} / ${count}`;
  showSlice();
}

// Step through the slices: ArrowUp/Down by one, PageUp/Down by a tenth, Home/End to the ends.
function onSliceKey(event) {
  if (!current || !current.job.views) return;
  const count = current.job.views[position.plane].count;
  const page = Math.max(1, Math.round(count / 10));
  const index = position.index[position.plane];
  const target = {
    ArrowUp: index + 1, ArrowDown: index - 1, PageUp: index + page, PageDown: index - page, Home: 0, End: count - 1,
  }[event.key];
  if (target === undefined) return;
  event.preventDefault();
  setSlice(target);
}

// The mouse wheel over the canvas: one slice per notch, wheel up to the next slice (superior on axial planes, as
// ArrowUp and as in 3D Slicer); small trackpad deltas add up to a notch.
function onWheel(event) {
  if (!current || !current.job.views) return;
  event.preventDefault();
  const pixels = event.deltaY * (event.deltaMode === 1 ? 33 : event.deltaMode === 2 ? 800 : 1);
  wheelDelta += pixels;
  if (Math.abs(wheelDelta) < 50) return;
  const step = -Math.sign(wheelDelta);
  wheelDelta = 0;
  setSlice(position.index[position.plane] + step);
}

// ------------------------------------------------------------------ the viewer: fetching and drawing

// The URL of one slice: kind "image" (windowed for CT) or "labels". The job's URL is a template with {plane} and
// {index}, or a prefix to which they are appended.
function sliceUrl(kind, plane, index) {
  const template = urlOf(current.job, kind);
  const url = template.includes("{plane}")
    ? template.replace("{plane}", plane).replace("{index}", String(index))
    : `${template}/${plane}/${index}`;
  if (kind !== "image" || ui.windowing.disabled) return url;
  const { level, width } = windowValues();
  return `${url}?level=${level}&width=${width}`;
}

// A decoded slice, from the cache or the server; a failed fetch rejects with the server's message.
function loadSlice(url) {
  let promise = slices.get(url);
  if (promise) {
    slices.delete(url); // move to the most recently used end
  } else {
    promise = fetch(url).then(async (response) => {
      if (!response.ok) throw new Error(await errorText(response));
      return decodePng(response);
    });
    promise.catch(() => slices.delete(url));
  }
  slices.set(url, promise);
  while (slices.size > CACHE_SLICES) slices.delete(slices.keys().next().value);
  return promise;
}

// Fetch the image (and, once done, the labels) of the slice shown, and draw them unless a newer request came.
// True once drawn, false if a fetch failed (said in the status line), null if a newer request took over.
async function showSlice() {
  if (!current || !current.job.views) return null;
  const ticket = ++drawTicket;
  const { plane } = position;
  const index = position.index[plane];
  const done = current.job.status === "done";
  let grey, labels;
  try {
    [grey, labels] = await Promise.all([
      loadSlice(sliceUrl("image", plane, index)),
      done ? loadSlice(sliceUrl("labels", plane, index)) : Promise.resolve(null),
    ]);
  } catch (error) {
    if (ticket === drawTicket) fail(`${plane} slice ${index + 1}: ${error.message}`);
    return ticket === drawTicket ? false : null;
  }
  if (ticket !== drawTicket) return null;
  shown = { grey, labels, plane, index };
  draw();
  prefetch(plane, index, done);
  return true;
}

// Warm the cache with the neighbouring slices, so scrolling does not wait on the server.
function prefetch(plane, index, done) {
  const count = current.job.views[plane].count;
  for (const next of [index + 1, index - 1]) {
    if (next < 0 || next >= count) continue;
    loadSlice(sliceUrl("image", plane, next)).catch(() => {});
    if (done) loadSlice(sliceUrl("labels", plane, next)).catch(() => {});
  }
}

// Per class index, the overlay colour, or null for background and hidden classes.
function overlayColours() {
  const colours = new Array(256).fill(null);
  for (const row of legendRows()) {
    const index = Number(row.dataset.index);
    if (row.querySelector("input[type=checkbox]").checked) colours[index] = PALETTE[index] || null;
  }
  return colours;
}

// Compose the grey image and the coloured labels (at the opacity chosen) into the canvas, pixel for pixel.
function draw() {
  if (!shown) return;
  const { grey, labels } = shown;
  const { width, height } = grey;
  if (ui.canvas.width !== width || ui.canvas.height !== height) {
    ui.canvas.width = width;
    ui.canvas.height = height;
  }
  const ctx = ui.canvas.getContext("2d");
  const out = ctx.createImageData(width, height);
  const alpha = Number(ui.opacity.value) / 100;
  const colours = overlayColours();
  const g = grey.data;
  const l = labels && labels.width === width && labels.height === height ? labels.data : null;
  const o = out.data;
  for (let i = 0; i < g.length; i += 4) {
    const c = l ? colours[l[i]] : null;
    if (c) {
      o[i] = g[i] + (c[0] - g[i]) * alpha;
      o[i + 1] = g[i] + (c[1] - g[i]) * alpha;
      o[i + 2] = g[i] + (c[2] - g[i]) * alpha;
    } else {
      o[i] = o[i + 1] = o[i + 2] = g[i];
    }
    o[i + 3] = 255;
  }
  ctx.putImageData(out, 0, 0);
  ui.stage.classList.add("shown");
  sizeCanvas();
  describeCanvas(Boolean(l));
}

// The canvas keeps the PNG's pixel size; its CSS size gives the pixels their physical aspect (height / width).
function sizeCanvas() {
  const view = current.job.views[shown.plane];
  const aspect = view.aspect > 0 ? view.aspect : 1;
  const w = ui.canvas.width;
  const h = ui.canvas.height * aspect;
  const scale = DISPLAY_PX / Math.max(w, h);
  ui.canvas.style.width = `${w * scale}px`;
  ui.canvas.style.aspectRatio = `${w} / ${h}`;
}

// What the canvas shows, for assistive technology (aria-label) and for scripts (data attributes).
function describeCanvas(overlay) {
  const { plane, index } = shown;
  const count = current.job.views[plane].count;
  const windowed = !ui.windowing.disabled;
  const { level, width } = windowValues();
  ui.canvas.dataset.plane = plane;
  ui.canvas.dataset.index = String(index);
  ui.canvas.dataset.overlay = String(overlay);
  ui.canvas.dataset.level = windowed ? String(level) : "";
  ui.canvas.dataset.width = windowed ? String(width) : "";
  const windowText = windowed ? `, window ${level} / ${width}` : "";
  const labelText = overlay ? ", with labels" : "";
  ui.canvas.setAttribute("aria-label", `${plane} slice ${index + 1} of ${count}${windowText}${labelText}`);
}

// The class under the mouse pointer, in image pixel coordinates.
function onProbe(event) {
  if (!shown) return;
  const box = ui.canvas.getBoundingClientRect();
  const x = Math.floor(((event.clientX - box.left) / box.width) * ui.canvas.width);
  const y = Math.floor(((event.clientY - box.top) / box.height) * ui.canvas.height);
  if (x < 0 || y < 0 || x >= ui.canvas.width || y >= ui.canvas.height) return;
  let name = "";
  if (shown.labels) {
    const index = shown.labels.data[(y * shown.labels.width + x) * 4];
    const row = ui.legend.querySelector(`tr[data-index="${index}"] .name`);
    name = row ? row.textContent : "";
  }
  ui.probe.textContent = `(${x}, ${y})${name ? " " + name : ""}`;
}

// ------------------------------------------------------------------ window

// The level and width typed or chosen (width at least 1).
function windowValues() {
  const level = Math.round(Number(ui.level.value) || 0);
  const width = Math.max(1, Math.round(Number(ui.width.value) || 1));
  return { level, width };
}

// A preset fills level and width; the image slices are fetched again.
function onPreset() {
  const option = ui.preset.selectedOptions[0];
  if (option.value === "custom") return;
  ui.level.value = option.dataset.level;
  ui.width.value = option.dataset.width;
  showSlice();
}

// Level or width typed: select the matching preset (or "custom") and fetch the slice again.
function onWindowInput() {
  const { level, width } = windowValues();
  const matches = (o) => Number(o.dataset.level) === level && Number(o.dataset.width) === width;
  const preset = [...ui.preset.options].find(matches);
  ui.preset.value = preset ? preset.value : "custom";
  ui.width.setAttribute("aria-invalid", String(!(Number(ui.width.value) >= 1)));
  showSlice();
}

// ------------------------------------------------------------------ legend, downloads, spectra

// The legend's rows, one per class (not background).
function legendRows() {
  return ui.legend.querySelectorAll("tbody tr");
}

// The statistics of each class: volume (mL) and HU mean ± SD; classes found get the "present" class.
function fillLegend(result) {
  const byName = {};
  for (const c of result.classes || []) byName[c.name] = c;
  const present = new Set(result.present || []);
  const number = (v, digits) => (v === null || v === undefined ? "–" : v.toFixed(digits));
  for (const row of legendRows()) {
    const c = byName[row.dataset.class] || {};
    row.classList.toggle("present", present.has(row.dataset.class) || c.pixels > 0);
    row.querySelector(".volume").textContent = number(c.volume_ml, c.volume_ml < 10 ? 2 : 1);
    const hasHu = c.hu_mean !== null && c.hu_mean !== undefined;
    row.querySelector(".hu").textContent = hasHu ? `${number(c.hu_mean, 0)} ± ${number(c.hu_sd, 0)}` : "–";
    row.title = c.pixels ? `${c.pixels.toLocaleString()} pixels` : "";
  }
}

// The result's downloads; DICOM SEG only for DICOM input.
function showDownloads(job) {
  const stem = current.name.replace(/\.(nii\.gz|nii|dcm|zip|png|jpe?g)$/i, "") || "input";
  const result = urlOf(job, "result");
  const links = [[ui.nifti, "nifti", ".seg.nii.gz"], [ui.json, "json", ".seg.json"], [ui.seg, "dicom-seg", ".seg.dcm"]];
  for (const [link, format, suffix] of links) {
    link.href = `${result}?format=${format}`;
    link.download = stem + suffix;
  }
  ui.seg.hidden = !(job.input && (job.input.outputs || []).includes("dicom-seg")); // a DICOM input with its UIDs
  ui.downloads.hidden = false;
}

// The spectra of the middle slice, fetched when the reader opens them (the input is sent again).
async function loadSpectra() {
  const run = current;
  if (!ui.spectra.open || !run || ui.magnitude.getAttribute("src")) return;
  const response = await fetch("/v1/spectra", { method: "POST", body: run.body });
  if (run.generation !== generation) return;
  if (!response.ok) {
    say(`spectra: ${await errorText(response)}`, true);
    return;
  }
  const figures = await response.json();
  ui.magnitude.src = figures.magnitude;
  ui.phase.src = figures.phase;
}

// ------------------------------------------------------------------ wiring

// An unexpected exception (a network failure, a defect) ends the page's work with its message.
function report(error) {
  fail(String(error && error.message ? error.message : error));
}

ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  submitFiles([...ui.file.files]);
});

for (const button of document.querySelectorAll("button.sample")) {
  button.addEventListener("click", () => submitSample(button).catch(report));
}

// Files dropped anywhere on the page are submitted like an upload.
document.addEventListener("dragover", (event) => event.preventDefault());
document.addEventListener("drop", (event) => {
  event.preventDefault();
  if (event.dataTransfer && event.dataTransfer.files.length) submitFiles([...event.dataTransfer.files]);
});

ui.cancel.addEventListener("click", () => cancel().catch(report));
ui.plane.addEventListener("change", () => setPlane(ui.plane.value));
ui.slice.addEventListener("input", () => setSlice(Number(ui.slice.value)));
ui.slice.addEventListener("keydown", onSliceKey);
ui.canvas.addEventListener("keydown", onSliceKey);
ui.canvas.addEventListener("wheel", onWheel, { passive: false });
ui.canvas.addEventListener("mousemove", onProbe);
ui.canvas.addEventListener("mouseleave", () => (ui.probe.textContent = ""));
ui.preset.addEventListener("change", onPreset);
ui.level.addEventListener("change", onWindowInput);
ui.width.addEventListener("change", onWindowInput);
ui.opacity.addEventListener("input", draw);
ui.legend.addEventListener("change", draw); // a class's visibility checkbox
ui.spectra.addEventListener("toggle", () => loadSpectra().catch(report));
