// The page: send the image, draw it with the label map over it, fill the legend's figures, show the spectra.
"use strict";

const statusLine = document.getElementById("status");
const canvas = document.getElementById("overlay");
const opacity = document.getElementById("opacity");
let last = null; // {image: ImageBitmap|HTMLImageElement|null, labels: ImageData, grey: ImageData}

function colours() {
  const map = {};
  for (const row of document.querySelectorAll("#legend tbody tr")) {
    const hex = row.dataset.colour;
    map[Number(row.dataset.index)] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  }
  return map;
}
const PALETTE = colours();

function say(text, isError = false) {
  statusLine.textContent = text;
  statusLine.classList.toggle("error", isError);
}

async function errorText(response) {
  try {
    const body = await response.json();
    return `${response.status}: ${body.error.message}`;
  } catch (e) {
    return `${response.status} ${response.statusText}`;
  }
}

async function pngToImageData(blob) {
  const bitmap = await createImageBitmap(blob);
  const off = document.createElement("canvas");
  off.width = bitmap.width;
  off.height = bitmap.height;
  const ctx = off.getContext("2d");
  ctx.drawImage(bitmap, 0, 0);
  return ctx.getImageData(0, 0, bitmap.width, bitmap.height);
}

function draw() {
  if (!last) return;
  const { labels, grey } = last;
  canvas.width = labels.width;
  canvas.height = labels.height;
  const ctx = canvas.getContext("2d");
  const out = ctx.createImageData(labels.width, labels.height);
  const alpha = Number(opacity.value) / 100;
  for (let i = 0; i < labels.data.length; i += 4) {
    const cls = labels.data[i];
    const g = grey ? grey.data[i] : 0;
    let [r, gg, b] = [g, g, g];
    const c = PALETTE[cls];
    if (cls && c) {
      r = Math.round(r * (1 - alpha) + c[0] * alpha);
      gg = Math.round(gg * (1 - alpha) + c[1] * alpha);
      b = Math.round(b * (1 - alpha) + c[2] * alpha);
    }
    out.data[i] = r; out.data[i + 1] = gg; out.data[i + 2] = b; out.data[i + 3] = 255;
  }
  ctx.putImageData(out, 0, 0);
}

function fillLegend(result) {
  const byName = {};
  for (const c of result.classes) byName[c.name] = c;
  for (const row of document.querySelectorAll("#legend tbody tr")) {
    const c = byName[row.dataset.class];
    const pixels = c ? c.pixels : 0;
    row.querySelector(".pixels").textContent = pixels.toLocaleString();
    const size = c ? (c.area_mm2 ?? c.volume_mm3) : null;
    row.querySelector(".area").textContent = size === null || size === undefined ? "–" : size.toFixed(1);
    row.classList.toggle("present", pixels > 0);
  }
}

async function segment(blob, name) {
  say(`segmenting ${name}…`);
  document.body.dataset.state = "busy";
  const post = (format) => fetch(`/v1/segment?format=${format}`, { method: "POST", body: blob });
  const [png, json, spectra] = await Promise.all([
    post("png"), post("json"), fetch("/v1/spectra", { method: "POST", body: blob }),
  ]);
  for (const r of [png, json]) {
    if (!r.ok) {
      say(await errorText(r), true);
      document.body.dataset.state = "error";
      return;
    }
  }
  const labels = await pngToImageData(await png.blob());
  let grey = null;
  try {
    grey = await pngToImageData(blob); // browsers decode PNG/JPEG; DICOM/NIfTI show the mask alone
    if (grey.width !== labels.width || grey.height !== labels.height) grey = null;
  } catch (e) {
    grey = null;
  }
  last = { labels, grey };
  draw();
  const result = await json.json();
  fillLegend(result);
  if (spectra.ok) {
    const s = await spectra.json();
    document.getElementById("magnitude").src = s.magnitude;
    document.getElementById("phase").src = s.phase;
  }
  say(`${name}: ${result.present.length ? result.present.join(", ") : "no organ found"}`);
  document.body.dataset.state = "done";
}

document.getElementById("upload").addEventListener("submit", (event) => {
  event.preventDefault();
  const file = document.getElementById("file").files[0];
  if (!file) { say("choose a file first", true); return; }
  segment(file, file.name).catch((e) => say(String(e), true));
});

for (const button of document.querySelectorAll("button.sample")) {
  button.addEventListener("click", async () => {
    const response = await fetch(button.dataset.url);
    segment(await response.blob(), button.textContent).catch((e) => say(String(e), true));
  });
}

opacity.addEventListener("input", draw);
