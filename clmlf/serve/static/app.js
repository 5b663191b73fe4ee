// clmlf serve page: posts to /predict (the JSON API) and draws the answer. No external assets.
"use strict";
const $ = (id) => document.getElementById(id);
let chosenFile = null;
let answer = null;

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

// Weights -> [0, 1] between their smallest and largest value (0.5 each when all are equal).
function spread(values) {
  const low = Math.min(...values);
  const high = Math.max(...values);
  return (value) => (high - low > 1e-12 ? (value - low) / (high - low) : 0.5);
}

// Heat map of an s x s grid of weights over an image: blue (least) to red (most), half transparent.
function drawHeat(canvas, grid) {
  const side = grid.length;
  const size = 256;
  canvas.width = size;
  canvas.height = size;
  const context = canvas.getContext("2d");
  context.clearRect(0, 0, size, size);
  const scale = spread(grid.flat());
  const cell = size / side;
  grid.forEach((row, y) => row.forEach((value, x) => {
    context.fillStyle = `hsla(${Math.round(240 * (1 - scale(value)))}, 100%, 50%, 0.5)`;
    context.fillRect(x * cell, y * cell, cell, cell);
  }));
  canvas.dataset.drawn = String(side);
}

function overlay(src, grid) {
  const box = document.createElement("div");
  box.className = "overlay";
  const img = document.createElement("img");
  img.src = src;
  img.alt = "";
  const canvas = document.createElement("canvas");
  box.append(img, canvas);
  drawHeat(canvas, grid);
  return box;
}

function drawBars(probabilities, label) {
  const bars = $("bars");
  bars.replaceChildren();
  for (const [name, p] of Object.entries(probabilities)) {
    const row = document.createElement("div");
    row.className = name === label ? "bar top" : "bar";
    row.dataset.label = name;
    const title = document.createElement("span");
    title.textContent = name;
    const track = document.createElement("div");
    const fill = document.createElement("div");
    fill.className = "fill";
    fill.style.width = `${(100 * p).toFixed(1)}%`;
    track.append(fill);
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = p.toFixed(3);
    row.append(title, track, value);
    bars.append(row);
  }
}

function drawWords(words) {
  const box = $("words");
  box.replaceChildren();
  const scale = spread(words.map((w) => w.pooling ?? 0));
  words.forEach((word, index) => {
    const span = document.createElement("span");
    span.textContent = word.text;
    const shade = word.pooling === null ? 0 : 0.1 + 0.8 * scale(word.pooling);
    span.style.background = `rgba(255, 140, 0, ${shade.toFixed(3)})`;
    span.title = word.pooling === null ? "no attention pooling" : `pooling weight ${word.pooling}`;
    span.addEventListener("click", () => chooseWord(index));
    box.append(span, " ");
  });
  if (!words.length) box.textContent = "(this model's tokenizer cannot show its tokens as words)";
}

// Fig. 5: the chosen word's fusion attention on the image grid, one small map per layer and head.
function chooseWord(index) {
  document.querySelectorAll("#words span").forEach((span, i) => span.classList.toggle("chosen", i === index));
  const fusion = answer.fusion;
  const grid = $("fusion");
  grid.replaceChildren();
  $("word").textContent = answer.words[index].text;
  if (!fusion) {
    grid.textContent = "this model has no fusion attention from words to image regions";
    return;
  }
  fusion.maps.forEach((heads, layer) => heads.forEach((words, head) => {
    const figure = document.createElement("figure");
    const caption = document.createElement("figcaption");
    caption.textContent = `layer ${layer}, head ${head}`;
    figure.append(overlay(answer.image.src, words[index]), caption);
    grid.append(figure);
  }));
}

function render(result) {
  answer = result;
  $("label").textContent = result.label;
  drawBars(result.probabilities, result.label);
  drawWords(result.words);
  $("image-panel").hidden = !result.image;
  $("fusion").replaceChildren();
  if (result.image) {
    $("view").src = result.image.src;
    const pooling = result.image.pooling;
    if (pooling) drawHeat($("heat"), pooling);
  }
  $("result").hidden = false;
}

async function submit(event) {
  event.preventDefault();
  showError("");
  const form = new FormData();
  form.append("text", $("text").value);
  if (!$("aspect-row").hidden && $("aspect").value) form.append("aspect", $("aspect").value);
  if (chosenFile) form.append("image", chosenFile);
  $("submit").disabled = true;
  try {
    const response = await fetch("/predict", { method: "POST", body: form });
    const body = await response.json().catch(() => ({ error: `the server answered ${response.status}` }));
    if (!response.ok) showError(body.error || `the server answered ${response.status}`);
    else render(body);
  } catch (error) {
    showError(`no answer from the server: ${error}`);
  } finally {
    $("submit").disabled = false;
  }
}

function pickFile(file) {
  chosenFile = file || null;
}

async function describe() {
  try {
    const health = await (await fetch("/health")).json();
    const model = health.model;
    $("model").textContent = `model ${model.name}; labels ${model.labels.join(", ")}` +
      (model.needs_image ? "; reads text and an image" : "; reads text only") + (model.uses_aspect ? " and an aspect" : "");
    $("aspect-row").hidden = !model.uses_aspect;
    $("image-row").hidden = !model.needs_image;
  } catch (error) {
    showError(`cannot reach the server: ${error}`);
  }
}

$("post").addEventListener("submit", submit);
$("image").addEventListener("change", (event) => pickFile(event.target.files[0]));
const drop = $("drop");
drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  pickFile(event.dataTransfer.files[0]);
});
describe();
