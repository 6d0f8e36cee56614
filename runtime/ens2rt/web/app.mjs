// The page: read the user's file, ask what the file cannot say, run the worker, show and
// download the result. The numbers come from the shared engine (ens2rt.mjs) in worker.mjs.

import { DEFAULT_MODEL, InputError, checkFrameRate } from "./ens2rt.mjs";
import { npyRows, parseDelimited, parseNpy, suite2pDff } from "./inputs.mjs";
import { rateCsv, resultNpz, spikesCsv } from "./results.mjs";

const $ = (id) => document.getElementById(id);
const worker = new Worker(new URL("worker.mjs", import.meta.url), { type: "module" });
let input = null; // {name, kind, traces?, roiIndex?, frameRate?, text?, npy?, files?}
let last = null; // {result, traces, roiIndex, name}
let requests = 0;

function say(message, error = true) {
  $("message").textContent = message;
  $("message").style.color = error ? "" : "inherit";
}

function call(message, transfer = []) {
  const id = ++requests;
  return new Promise((resolve, reject) => {
    const listen = ({ data }) => {
      if (data.id !== id) return;
      if (data.type === "progress") return showProgress(data.done, data.total);
      worker.removeEventListener("message", listen);
      if (data.type === "error") reject(Object.assign(new Error(data.message), { name: data.name }));
      else resolve(data);
    };
    worker.addEventListener("message", listen);
    worker.postMessage({ ...message, id }, transfer);
  });
}

function showProgress(done, total) {
  $("progress").max = total;
  $("progress").value = done;
  $("progress-text").textContent = `${Math.round((100 * done) / total)} %`;
}

// ---------------------------------------------------------------- models

async function listModels() {
  const catalog = await (await fetch("models/index.json")).json();
  const select = $("model");
  for (const group of ["families", "models"]) {
    const optgroup = document.createElement("optgroup");
    optgroup.label = group === "families" ? "Families (a member per neuron)" : "Single models";
    for (const entry of catalog[group]) {
      const option = new Option(entry.name, entry.name);
      option.title = entry.description;
      optgroup.append(option);
    }
    select.append(optgroup);
  }
  select.value = catalog.default ?? DEFAULT_MODEL;
  const about = () => ($("model-about").textContent = select.selectedOptions[0]?.title ?? "");
  select.addEventListener("change", about);
  about();
}

// ---------------------------------------------------------------- reading what the user gives

async function bytesOf(file) {
  return new Uint8Array(await file.arrayBuffer());
}

async function readFiles(files) {
  const byName = Object.fromEntries(files.map((f) => [f.name, f]));
  if (byName["F.npy"] || byName["Fneu.npy"] || byName["iscell.npy"]) {
    const folder = (files[0].webkitRelativePath || files[0].name).split("/").slice(0, -1).join("/") || "plane0";
    const wanted = {};
    for (const name of ["F.npy", "Fneu.npy", "iscell.npy", "ops.npy"]) if (byName[name]) wanted[name] = await bytesOf(byName[name]);
    // ΔF/F at the frame rate ops.npy states (read without unpickling), kept for the run; none without it
    const read = suite2pDff(wanted, folder, undefined);
    return { name: folder, kind: "suite2p", files: wanted, frameRate: read.frameRate, read };
  }
  if (files.length !== 1) throw new InputError(`pick one trace file (or a suite2p plane folder), not ${files.length} files`);
  const [file] = files;
  const lower = file.name.toLowerCase();
  if (lower.endsWith(".npy")) return { name: file.name, kind: "npy", npy: parseNpy(await bytesOf(file), file.name) };
  if (lower.endsWith(".csv") || lower.endsWith(".tsv") || lower.endsWith(".txt")) {
    const text = await file.text();
    const read = parseDelimited(text, file.name); // refuses non-numeric cells and ragged rows now; kept for the run
    return { name: file.name, kind: "text", text, frameRate: read.frameRate, read };
  }
  throw new InputError(`${file.name}: the page reads .csv, .tsv, .npy and suite2p plane folders; for .mat, .h5, .nwb and more use ens2rt infer`);
}

/** The traces of the loaded input, read with the page's settings (orientation, frame rate). */
function tracesOf(source, frameRate) {
  const timeFirst = $("time-first").checked;
  if (source.kind === "text") {  // read once at load as one neuron per row; again only when the rows are frames
    return { traces: (timeFirst ? parseDelimited(source.text, source.name, { timeFirst }) : source.read).traces, roiIndex: null };
  }
  if (source.kind === "npy") return { traces: npyRows(source.npy, source.name, { timeFirst }), roiIndex: null };
  const read = source.read.frameRate === frameRate ? source.read : suite2pDff(source.files, source.name, frameRate);
  return { traces: read.traces, roiIndex: read.roiIndex };
}

async function take(files) {
  say("");
  $("results").hidden = true;
  try {
    input = await readFiles(files);
  } catch (error) {
    input = null;
    $("run").disabled = true;
    $("loaded").textContent = "";
    return say(error.message);
  }
  if (input.frameRate !== undefined) $("frame-rate").value = input.frameRate;
  const size = input.kind === "npy" ? `shape (${input.npy.shape.join(", ")})` : input.kind === "suite2p" ? "suite2p plane folder" : "text";
  const rate = input.frameRate !== undefined ? `, ${input.frameRate} Hz as the file states` : ": enter its frame rate";
  $("loaded").textContent = `Loaded ${input.name} (${size})${rate}.`;
  $("run").disabled = false;
}

// ---------------------------------------------------------------- running and showing

async function run() {
  say("");
  $("results").hidden = true;
  $("run").disabled = true;
  $("progress").hidden = false;
  showProgress(0, 1);
  const started = performance.now();
  try {
    if ($("frame-rate").value === "") throw new InputError(`${input.name} does not state its frame rate: enter it (Hz)`);
    const frameRate = checkFrameRate(Number($("frame-rate").value));
    const { traces, roiIndex } = tracesOf(input, frameRate);
    const copies = traces.map((t) => Float64Array.from(t)); // the originals stay here for the plot and the .npz
    const inferring = performance.now();
    const { result } = await call(
      { type: "infer", traces: copies, frameRate, model: $("model").value, percent: $("percent").checked, roiIndex },
      copies.map((t) => t.buffer),
    );
    window.ens2rtLastRunSeconds = (performance.now() - inferring) / 1000; // the worker's time alone (benchmarks/browser.py)
    last = { result, traces, roiIndex, name: input.name.replace(/\.[^.]*$/, ""), seconds: (performance.now() - started) / 1000 };
    show();
  } catch (error) {
    say(error.message);
  } finally {
    $("run").disabled = false;
    $("progress").hidden = true;
    $("progress-text").textContent = "";
  }
}

function show() {
  const { result, seconds } = last;
  const n = result.rate.length;
  const spikes = result.spikeTimes.reduce((sum, t) => sum + t.length, 0);
  const minutes = (result.time.length / 60 / 60).toFixed(1);
  $("summary").textContent =
    `${n} neuron${n > 1 ? "s" : ""}, ${minutes} min each, on ${result.model} (${result.settings.provider}): ` +
    `${spikes} spikes inferred in ${seconds.toFixed(1)} s.` +
    (result.settings.warnings.length ? `\nNote: ${result.settings.warnings.join("\n")}` : "");
  $("neuron").max = n - 1;
  $("neuron").value = 0;
  $("span").value = Math.min(60, Math.ceil(result.time.length / 60));
  $("results").hidden = false;
  draw();
}

function draw() {
  if (!last) return;
  const { result, traces, roiIndex } = last;
  const n = Math.min(Math.max(0, Number($("neuron").value) || 0), result.rate.length - 1);
  const from = Math.max(0, Number($("from").value) || 0);
  const span = Math.max(1, Number($("span").value) || 60);
  const frameRate = result.settings.frame_rate;
  const [low, high] = result.spikeTotalInterval?.[n] ?? [NaN, NaN];
  const count = result.spikeTimes[n].length;
  $("neuron-about").textContent =
    `Neuron ${n}${roiIndex ? ` (ROI ${roiIndex[n]})` : ""} on ${result.neuronModel[n]}, noise level ${result.noiseLevel[n].toFixed(2)}: ` +
    `${count} spikes` + (Number.isFinite(low) ? ` (the recorded total lies between ${Math.round(low)} and ${Math.round(high)} for 80 % of held-out neurons)` : "") + ".";

  const canvas = $("plot");
  const g = canvas.getContext("2d");
  const W = canvas.width;
  const H = canvas.height;
  const left = 70;
  const right = W - 15;
  g.clearRect(0, 0, W, H);
  g.font = "13px system-ui, sans-serif";
  const x = (t) => left + ((t - from) / span) * (right - left);
  const panels = [
    { label: "ΔF/F", top: 10, height: 170, values: traces[n], rate: frameRate, colour: "#1d2530" },
    { label: "spikes / bin", top: 200, height: 150, values: result.rate[n], rate: 60, colour: "#2f6fde" },
  ];
  for (const p of panels) {
    const first = Math.max(0, Math.floor(from * p.rate));
    const end = Math.min(p.values.length, Math.ceil((from + span) * p.rate) + 1);
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = first; i < end; i++) if (Number.isFinite(p.values[i])) [lo, hi] = [Math.min(lo, p.values[i]), Math.max(hi, p.values[i])];
    if (!(hi > lo)) [lo, hi] = [0, 1];
    const y = (v) => p.top + p.height - ((v - lo) / (hi - lo)) * p.height;
    g.fillStyle = "#52606d";
    g.fillText(p.label, 4, p.top + 14);
    g.fillText(hi.toPrecision(2), 4, p.top + 30);
    g.fillText(lo.toPrecision(2), 4, p.top + p.height);
    g.strokeStyle = p.colour;
    g.beginPath();
    let pen = false;
    for (let i = first; i < end; i++) {
      if (!Number.isFinite(p.values[i])) {
        pen = false;
        continue;
      }
      const [px, py] = [x(i / p.rate), y(p.values[i])];
      if (pen) g.lineTo(px, py);
      else g.moveTo(px, py);
      pen = true;
    }
    g.stroke();
  }
  g.strokeStyle = "#b3261e";
  g.fillStyle = "#52606d";
  g.fillText("spikes", 4, 380);
  g.beginPath();
  for (const t of result.spikeTimes[n]) {
    if (t < from || t > from + span) continue;
    g.moveTo(x(t), 365);
    g.lineTo(x(t), 390);
  }
  g.stroke();
  g.fillStyle = "#52606d";
  for (let k = 0; k <= 6; k++) {
    const t = from + (k * span) / 6;
    g.fillText(`${t.toFixed(span < 12 ? 1 : 0)} s`, x(t) - (k === 6 ? 30 : 0), H - 6);
  }
}

function download(bytes, name, type) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([bytes], { type }));
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60000);
}

const source = () => ({ input: input.name, source_format: input.kind === "suite2p" ? "suite2p" : "array", host: "ens2rt web page" });

// ---------------------------------------------------------------- wiring

$("file").addEventListener("change", (e) => e.target.files.length && take([...e.target.files]));
$("folder").addEventListener("change", (e) => e.target.files.length && take([...e.target.files]));
$("example").addEventListener("click", async () => {
  const text = await (await fetch("example.csv")).text();
  take([new File([text], "example.csv", { type: "text/csv" })]);
});
const drop = $("drop");
drop.addEventListener("dragover", (e) => {
  e.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  take([...e.dataTransfer.files]);
});
$("run").addEventListener("click", run);
for (const id of ["neuron", "from", "span"]) $(id).addEventListener("input", draw);
$("previous").addEventListener("click", () => {
  $("neuron").value = Math.max(0, Number($("neuron").value) - 1);
  draw();
});
$("next").addEventListener("click", () => {
  $("neuron").value = Math.min(last.result.rate.length - 1, Number($("neuron").value) + 1);
  draw();
});
$("download-npz").addEventListener("click", () =>
  download(resultNpz(last.result, { traces: last.traces, roiIndex: last.roiIndex, source: source() }), `${last.name}-ens2rt.npz`, "application/octet-stream"),
);
$("download-rate").addEventListener("click", () =>
  download(rateCsv(last.result, { roiIndex: last.roiIndex, source: source() }), `${last.name}-rate.csv`, "text/csv"),
);
$("download-spikes").addEventListener("click", () => download(spikesCsv(last.result, { roiIndex: last.roiIndex }), `${last.name}-spikes.csv`, "text/csv"));

listModels().catch((error) => say(`the models could not be listed: ${error.message}`));
call({ type: "engine" })
  .then(({ provider, isolated }) => {
    $("engine").textContent = `Runs on onnxruntime-web, ${provider}${isolated ? "" : " (serve the page cross-origin isolated for threads)"}.`;
    document.body.dataset.ready = "true";
  })
  .catch((error) => say(`the inference engine did not start: ${error.message}`));
