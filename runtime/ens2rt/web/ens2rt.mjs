// ENS² spike inference for JavaScript hosts: the page in this folder (onnxruntime-web)
// and examples/node (onnxruntime-node) share this one module.
//
// Written from docs/onnx-contract.md. Every step is the Python runtime's (ens2rt.infer):
// input checks with the same messages, gaps, noise level, family member choice, the
// sinc or linear resampler, windowed overlap-add or whole-trace pieces, and the greedy
// spike fit. Rates agree with ens2rt.infer to float rounding; spike counts are the same.
//
// The host passes its onnxruntime (`ort`: InferenceSession and Tensor, the same API in
// the browser and in Node) and a `load(path)` returning a file's bytes (Uint8Array) from
// the models folder: "NAME.onnx", "NAME.json" (the card), "families/NAME.json".

export const SAMPLE_RATE_HZ = 60;
export const WINDOW = 96;
export const HALF_WINDOW = WINDOW / 2;
export const DEFAULT_MODEL = "ens2-exc";
export const DEFAULT_HOP = 6;
export const DEFAULT_BATCH_SIZE = 1024; // ens2rt.Options' default
const MAX_HOP = HALF_WINDOW;
const MIN_RATE_HZ = 1;
const MAX_RATE_HZ = 10000;
const NOISE_LEVEL_PER_STD = 100 * Math.SQRT2 * 0.6744897501960817;
const MIN_INPUT_SCALE = 1e-3;
const PIECE_SAMPLES = 4096;
const BATCH_SAMPLES = 1 << 18;
// the Python runtime's input checks (ens2rt/engine/conditioning.py explains each)
const MAX_ABS_DFF = 1e15;
const IMPLAUSIBLE_NOISE_LEVEL = 20;
const IMPLAUSIBLE_MEDIAN_STEP = 2;
const IMPLAUSIBLE_MEDIAN_ABS = 10;
const IMPLAUSIBLE_BASELINE = 0.7;
const BASELINE_MIN_NEURONS = 3;
const IMPLAUSIBLE_LOW_NOISE_LEVEL = 0.03;
const TRANSPOSED_RATIO = 10;
const TRANSPOSED_MAX_S = 10;
const TRANSPOSED_MIN_CORRELATION = 0.5;
const TRANSPOSED_MARGIN = 0.3;
const FLAT_RUN_S = 1;
const FLAT_RUN_MIN_FRAMES = 10;
const SKIP_HINT = "if the input really is ΔF/F as a fraction, pass input_checks=False (CLI: --no-input-checks)";
// the spike fit (ens2rt/engine/spikes.py)
const SIGMA_SAMPLES = 1.5;
const THRESHOLD = 0.02 / SIGMA_SAMPLES;
const MIN_RUN_TOTAL = 0.5;
const MAX_RUN = 500;
const MAX_SPIKES_PER_BIN = 50;
// the sinc resampler (ens2rt/engine/resample.py)
const ZERO_CROSSINGS = 8;
const KAISER_BETA = 8;

/** Bad input, with the message the Python runtime gives for it. */
export class InputError extends Error {
  constructor(message) {
    super(message);
    this.name = "InputError";
  }
}

/** A model or family that cannot be run (unknown, damaged, of a kind this host does not know). */
export class ModelError extends Error {
  constructor(message) {
    super(message);
    this.name = "ModelError";
  }
}

// ---------------------------------------------------------------- number formatting

/** Python's format(x, ".{digits}g"), so messages read as the Python runtime's do. */
export function formatG(x, digits = 6) {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0" : "0";
  const [mantissa, exponentText] = x.toExponential(digits - 1).split("e");
  const exponent = Number(exponentText);
  const strip = (text) => (text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text);
  if (exponent < -4 || exponent >= digits) {
    const sign = exponent < 0 ? "-" : "+";
    return `${strip(mantissa)}e${sign}${String(Math.abs(exponent)).padStart(2, "0")}`;
  }
  return strip(x.toFixed(Math.max(0, digits - 1 - exponent)));
}

const fixed = (x, places) => x.toFixed(places);

// ---------------------------------------------------------------- ONNX metadata and contracts

function readVarint(bytes, offset) {
  let value = 0;
  let factor = 1;
  for (;;) {
    const byte = bytes[offset++];
    if (byte === undefined) throw new ModelError("not an ONNX file: it ends inside a field");
    value += (byte & 0x7f) * factor; // arithmetic, not bit shifts: lengths may pass 2^31
    if (byte < 0x80) return [value, offset];
    factor *= 128;
  }
}

/** Top-level fields of a protobuf message: [{field, wireType, start, end}] (length-delimited ones only). */
function protobufFields(bytes, start = 0, end = bytes.length) {
  const found = [];
  let offset = start;
  while (offset < end) {
    let tag;
    [tag, offset] = readVarint(bytes, offset);
    const field = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (wireType === 0) {
      [, offset] = readVarint(bytes, offset);
    } else if (wireType === 1 || wireType === 5) {
      offset += wireType === 1 ? 8 : 4;
    } else if (wireType === 2) {
      let length;
      [length, offset] = readVarint(bytes, offset);
      found.push({ field, wireType, start: offset, end: offset + length });
      offset += length;
    } else {
      throw new ModelError(`not an ONNX file: protobuf wire type ${wireType}`);
    }
  }
  return found;
}

/** The metadata_props of an ONNX model (its bytes) as a Map of strings: ModelProto field 14. */
export function readOnnxMetadata(bytes) {
  const text = new TextDecoder();
  const metadata = new Map();
  for (const entry of protobufFields(bytes).filter((f) => f.field === 14)) {
    const parts = Object.fromEntries(
      protobufFields(bytes, entry.start, entry.end).map((f) => [f.field, text.decode(bytes.subarray(f.start, f.end))]),
    );
    metadata.set(parts[1], parts[2] ?? "");
  }
  return metadata;
}

/** A model contract (from a card or the ONNX metadata), checked for what this host runs. */
export function parseContract(raw, where) {
  if (raw === null || typeof raw !== "object") throw new ModelError(`${where}: no contract (not an ens2 model?)`);
  const kind = raw.kind ?? "windowed"; // contracts older than the kind field are windowed
  if (kind !== "windowed" && kind !== "convolutional") {
    throw new ModelError(`${where}: model kind '${kind}' is unknown to this host (it runs windowed, convolutional)`);
  }
  if (Number(raw.sample_rate_hz ?? SAMPLE_RATE_HZ) !== SAMPLE_RATE_HZ) {
    throw new ModelError(`${where}: the model runs at ${raw.sample_rate_hz} Hz; this host resamples to 60 Hz only`);
  }
  const resampler = raw.resampler ?? "sinc";
  if (resampler !== "sinc" && resampler !== "linear") throw new ModelError(`${where}: resampler '${resampler}' is unknown to this host`);
  if (kind === "windowed") {
    if (Number(raw.window ?? WINDOW) !== WINDOW) throw new ModelError(`${where}: windowed models take ${WINDOW}-sample windows`);
    return { kind, windowed: true, resampler, inputName: raw.input?.name ?? "dff_windows", outputName: raw.output?.name ?? "spike_rate" };
  }
  const scaling = raw.input_scaling?.kind;
  if (scaling !== "none" && scaling !== "noise_std") throw new ModelError(`${where}: input scaling '${scaling}' is unknown to this host`);
  const contract = {
    kind,
    windowed: false,
    resampler,
    alignment: Number(raw.alignment),
    contextLeft: Number(raw.context?.left),
    contextRight: Number(raw.context?.right),
    scaling,
    noiseLevelPerStd: Number(raw.input_scaling.noise_level_per_std ?? NOISE_LEVEL_PER_STD),
    minScale: Number(raw.input_scaling.min_scale ?? MIN_INPUT_SCALE),
    inputName: raw.input?.name ?? "dff",
    outputName: raw.output?.name ?? "spike_rate",
  };
  if (!(contract.alignment >= 1) || contract.contextLeft % contract.alignment || contract.contextRight % contract.alignment) {
    throw new ModelError(`${where}: incomplete convolutional contract (alignment, context)`);
  }
  return contract;
}

/** What a convolutional model divides each neuron's trace by: its noise std at the native rate, or 1. */
function inputScale(contract, level, frameRate) {
  if (contract.windowed || contract.scaling === "none") return 1;
  const scale = (level * Math.sqrt(frameRate)) / contract.noiseLevelPerStd;
  return Math.max(Number.isFinite(scale) ? scale : contract.minScale, contract.minScale);
}

// ---------------------------------------------------------------- models and families

async function sha256Hex(bytes) {
  const digest = await globalThis.crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

const json = (bytes) => JSON.parse(new TextDecoder().decode(bytes));

/** One model: its card, contract and onnxruntime session (checked against the card's sha256). */
export async function loadModel(ort, load, name, sessionOptions = {}) {
  let card;
  let bytes;
  try {
    [card, bytes] = await Promise.all([load(`${name}.json`).then(json), load(`${name}.onnx`)]);
  } catch (error) {
    throw new ModelError(`unknown model '${name}' (${error.message})`);
  }
  const sha256 = await sha256Hex(bytes);
  if (card.sha256 && card.sha256 !== sha256) {
    throw new ModelError(`model file ${name}.onnx does not match its card (sha256 ${sha256.slice(0, 12)}…, card ${card.sha256.slice(0, 12)}…)`);
  }
  const contract = parseContract(card.contract, name);
  const session = await ort.InferenceSession.create(bytes, sessionOptions);
  return { name, card, contract, sha256, session, noiseLevel: card.noise_level ?? null, countRatio: countRatio(card) };
}

/** [q10, q90] of inferred / recorded spikes over held-out neurons, from the card; null without. */
function countRatio(card) {
  const ratio = card.scores?.count_ratio;
  const ok = ratio && [ratio.q10, ratio.q90].every((q) => typeof q === "number" && q > 0);
  return ok ? [ratio.q10, ratio.q90] : null;
}

function parseRange(value) {
  if (value === undefined || value === null) return [0, Infinity];
  return [Number(value[0]), value[1] === null ? Infinity : Number(value[1])];
}

/** Member ranges of a manifest; members listed by name alone take ν up to the midpoints of their cards' levels. */
function memberRanges(manifest, models) {
  const entries = manifest.members.map((m) => (typeof m === "string" ? { model: m } : m));
  const byName = entries.every((e) => e.noise_level === undefined && e.frame_rate_hz === undefined) && entries.length > 1;
  if (!byName) return entries.map((e) => ({ model: e.model, noiseLevel: parseRange(e.noise_level), frameRate: parseRange(e.frame_rate_hz) }));
  const levels = entries.map((e) => models.get(e.model).noiseLevel);
  if (levels.some((level) => level === null)) throw new ModelError(`${manifest.name}: a member chosen by noise level has none in its card`);
  const order = levels.map((_, i) => i).sort((a, b) => levels[a] - levels[b]);
  const cuts = [0, ...order.slice(1).map((i, k) => (levels[order[k]] + levels[i]) / 2), Infinity];
  return order.map((i, k) => ({ model: entries[i].model, noiseLevel: [cuts[k], cuts[k + 1]], frameRate: [0, Infinity] }));
}

/**
 * A shipped model or family by name: {name, ranges, models (Map by name)}.
 * A family is "families/NAME.json"; any other name is one model that runs every neuron.
 */
export async function loadModels(ort, load, name = DEFAULT_MODEL, sessionOptions = {}) {
  let manifest = null;
  try {
    manifest = json(await load(`families/${name}.json`));
  } catch {
    manifest = null; // not a family: one model
  }
  const names = manifest ? manifest.members.map((m) => (typeof m === "string" ? m : m.model)) : [name];
  const models = new Map();
  for (const member of names) models.set(member, await loadModel(ort, load, member, sessionOptions));
  const resamplers = new Set([...models.values()].map((m) => m.contract.resampler));
  if (resamplers.size > 1) throw new ModelError(`${name}: members resample differently`);
  const ranges = manifest ? memberRanges(manifest, models) : [{ model: name, noiseLevel: [0, Infinity], frameRate: [0, Infinity] }];
  return { name, ranges, models, resampler: [...resamplers][0] };
}

/** Each neuron's member: the first whose ranges hold its ν (non-finite: 0) at the frame rate. */
export function chooseMembers(loaded, levels, frameRate) {
  return Array.from(levels, (raw) => {
    const level = Number.isFinite(raw) ? raw : 0;
    const member = loaded.ranges.find(
      (r) => r.frameRate[0] <= frameRate && frameRate < r.frameRate[1] && r.noiseLevel[0] <= level && level < r.noiseLevel[1],
    );
    if (!member) throw new ModelError(`no member of ${loaded.name} takes a neuron of ν ${formatG(level)} at ${formatG(frameRate)} Hz`);
    return member.model;
  });
}

// ---------------------------------------------------------------- per-trace measures

function median(values) {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function finite(values) {
  const out = [];
  for (const v of values) if (Number.isFinite(v)) out.push(v);
  return out;
}

/** numpy's percentile (linear interpolation) of the finite values; NaN when none. */
function percentile(values, q) {
  const sorted = Float64Array.from(finite(values)).sort();
  if (sorted.length === 0) return NaN;
  const position = ((sorted.length - 1) * q) / 100;
  const lo = Math.floor(position);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (position - lo);
}

/** ENS²/CASCADE noise level: median |x(t+1) − x(t)| · 100 / √fs over the steps between finite frames. */
export function noiseLevel(trace, frameRate) {
  const steps = [];
  for (let t = 1; t < trace.length; t++) {
    const step = Math.abs(trace[t] - trace[t - 1]);
    if (Number.isFinite(step)) steps.push(step);
  }
  return (median(steps) * 100) / Math.sqrt(frameRate);
}

export function flatRunFrames(frameRate) {
  return Math.max(FLAT_RUN_MIN_FRAMES, Math.ceil(FLAT_RUN_S * frameRate));
}

/** Frames in a run of at least flatRunFrames identical values (padding, a held frame, a dead ROI). */
export function flatFrames(trace, frameRate) {
  const needed = flatRunFrames(frameRate);
  const flat = new Uint8Array(trace.length);
  let start = 0;
  for (let t = 1; t <= trace.length; t++) {
    if (t < trace.length && trace[t] === trace[t - 1]) continue; // NaN !== NaN ends a run
    if (t - start >= needed) flat.fill(1, start, t);
    start = t;
  }
  return flat;
}

/** Linear interpolation over non-finite frames (ends take the nearest finite value); all-gap rows become zeros.
 * A trace without a gap comes back as it is (no copy); the given array is never written. */
export function fillGaps(trace) {
  if (trace.every(Number.isFinite)) return trace;
  const filled = Float64Array.from(trace);
  let previous = -1;
  for (let t = 0; t <= trace.length; t++) {
    if (t < trace.length && !Number.isFinite(trace[t])) continue;
    if (t - previous > 1) {
      for (let g = previous + 1; g < t; g++) {
        if (previous < 0 && t >= trace.length) filled[g] = 0;
        else if (previous < 0) filled[g] = trace[t];
        else if (t >= trace.length) filled[g] = trace[previous];
        else filled[g] = trace[previous] + ((trace[t] - trace[previous]) * (g - previous)) / (t - previous);
      }
    }
    previous = t;
  }
  return filled;
}

export function nSamplesAt60Hz(nFrames, frameRate) {
  return roundHalfEven((nFrames * SAMPLE_RATE_HZ) / frameRate);
}

/** Python's round(): halves to even, so lengths at 60 Hz match ens2rt's. */
export function roundHalfEven(x) {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

// ---------------------------------------------------------------- input checks

export function checkFrameRate(frameRate) {
  const rate = typeof frameRate === "string" && frameRate.trim() !== "" ? Number(frameRate) : frameRate;
  if (typeof rate !== "number" || Number.isNaN(rate)) throw new InputError(`frame rate must be a number of Hz, not ${JSON.stringify(frameRate)}`);
  if (!Number.isFinite(rate) || rate < MIN_RATE_HZ || rate > MAX_RATE_HZ) {
    throw new InputError(`frame rate must be finite and within ${MIN_RATE_HZ}–${MAX_RATE_HZ} Hz, got ${formatG(rate)}`);
  }
  return rate;
}

function checkLength(nFrames, frameRate, nRows) {
  if (nSamplesAt60Hz(nFrames, frameRate) >= WINDOW) return;
  const transposed = nRows > nFrames && nSamplesAt60Hz(nRows, frameRate) >= WINDOW;
  throw new InputError(
    `traces are too short: ${nFrames} frames at ${formatG(frameRate)} Hz is ${fixed(nFrames / frameRate, 2)} s, less than one ` +
      `${fixed(WINDOW / SAMPLE_RATE_HZ, 1)} s window` +
      (transposed ? "; if the rows are frames and the columns neurons, transpose it (CLI: --time-axis first)" : ""),
  );
}

function noiseLevelLimit(frameRate) {
  return Math.max(IMPLAUSIBLE_NOISE_LEVEL, (IMPLAUSIBLE_MEDIAN_STEP * 100) / Math.sqrt(frameRate));
}

function nanMedian(values) {
  return median(finite(values));
}

function checkUnits(traces, levels, frameRate) {
  const level = nanMedian(levels);
  const typical = nanMedian(traces.map((t) => nanMedian(Array.from(t, Math.abs))));
  const baseline = nanMedian(traces.map((t) => percentile(t, 10)));
  const limit = noiseLevelLimit(frameRate);
  if (level > limit || typical > IMPLAUSIBLE_MEDIAN_ABS) {
    throw new InputError(
      `the traces do not look like ΔF/F as a fraction (0.3 = 30 %): median noise level ${formatG(level, 3)} ` +
        `(ΔF/F recordings at ${formatG(frameRate)} Hz: below ${formatG(limit, 3)}), median |value| ${formatG(typical, 3)}. ΔF/F in percent: ` +
        `pass percent=True (CLI: --percent); raw fluorescence: compute ΔF/F first; ${SKIP_HINT}`,
    );
  }
  if (level > 0 && level < IMPLAUSIBLE_LOW_NOISE_LEVEL) {
    throw new InputError(
      `the traces' median noise level is ${formatG(level, 3)}, far below any ΔF/F recording (about 0.2 to 13): is this a ` +
        `fraction divided by 100, e.g. percent=True (CLI: --percent) given ΔF/F that is already a fraction? ${SKIP_HINT}`,
    );
  }
  if (traces.length >= BASELINE_MIN_NEURONS && baseline > IMPLAUSIBLE_BASELINE) {
    throw new InputError(
      `the traces' baseline (median over neurons of their 10th percentile) is ${formatG(baseline, 3)}, where ΔF/F's is 0: ` +
        `is this F/F0? ΔF/F = F/F0 − 1, so subtract 1 first; ${SKIP_HINT}`,
    );
  }
  if (level > IMPLAUSIBLE_NOISE_LEVEL) {
    return [
      `the traces' median noise level is ${formatG(level, 3)}: ΔF/F as a fraction reaches that only for very active, ` +
        `bright neurons at low frame rates, and quiet ΔF/F in percent reaches it too. If the input is in percent, ` +
        "pass percent=True (CLI: --percent)",
    ];
  }
  return [];
}

function lagOneCorrelation(filled, alongRows, most = 2048) {
  const rows = alongRows ? Math.min(filled.length, most) : Math.min(filled[0].length, most);
  const cols = alongRows ? Math.min(filled[0].length, most) : Math.min(filled.length, most);
  const at = alongRows ? (r, c) => filled[r][c] : (r, c) => filled[c][r];
  let power = 0;
  let lagged = 0;
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let c = 0; c < cols; c++) mean += at(r, c);
    mean /= cols;
    let prev = at(r, 0) - mean;
    power += prev * prev;
    for (let c = 1; c < cols; c++) {
      const value = at(r, c) - mean;
      power += value * value;
      lagged += value * prev;
      prev = value;
    }
  }
  return power > 0 ? lagged / power : 0;
}

function checkOrientation(filled, frameRate) {
  const nNeurons = filled.length;
  const nFrames = filled[0].length;
  const duration = nFrames / frameRate;
  const hint = `are the rows frames? Transpose it (CLI: --time-axis first); ${SKIP_HINT}`;
  if (nNeurons >= TRANSPOSED_RATIO * nFrames && duration < TRANSPOSED_MAX_S) {
    throw new InputError(`the input is ${nNeurons} neurons × ${nFrames} frames, ${fixed(duration, 2)} s each: ${hint}`);
  }
  if (nNeurons > nFrames && nFrames >= 3) {
    const alongRows = lagOneCorrelation(filled, true);
    const alongColumns = lagOneCorrelation(filled, false);
    if (alongColumns > TRANSPOSED_MIN_CORRELATION && alongColumns - alongRows > TRANSPOSED_MARGIN) {
      throw new InputError(
        `the input is ${nNeurons} neurons × ${nFrames} frames (${fixed(duration, 1)} s each), but it changes smoothly ` +
          `down its columns (lag-1 correlation ${fixed(alongColumns, 2)}) and not along its rows (${fixed(alongRows, 2)}), ` +
          `as frames × neurons does: ${hint}`,
      );
    }
  }
}

function neuronNames(rows, roiIndex, most = 10) {
  const noun = roiIndex ? "ROI" : "neuron";
  const labels = rows.map((row) => String(roiIndex ? roiIndex[row] : row));
  return `${noun} ${labels.slice(0, most).join(", ")}${labels.length > most ? ", …" : ""}`;
}

/**
 * Check and prepare whole traces as ens2rt.infer does: values, units, orientation, gaps.
 * `traces`: array of per-neuron Float64Arrays (NaN for missing frames).
 */
export function condition(traces, frameRate, { percent = false, inputChecks = true, emptyNeurons = "nan", roiIndex = null } = {}) {
  if (!Array.isArray(traces) || traces.length === 0 || traces[0].length === 0) throw new InputError("ΔF/F is empty (no neurons or no frames)");
  const nFrames = traces[0].length;
  if (traces.some((t) => t.length !== nFrames)) throw new InputError("ΔF/F must be (n_neurons, n_frames): every neuron needs the same number of frames");
  const flats = [];
  let anyFlat = false;
  // copies only where something changes (percent, runs of one value): 1,000 neurons × 30 min fit a browser tab
  const fractions = traces.map((trace) => {
    let fraction = percent ? Float64Array.from(trace, (v) => v / 100) : trace;
    const flat = flatFrames(fraction, frameRate);
    flats.push(flat);
    if (flat.includes(1)) {
      anyFlat = true;
      if (fraction === trace) fraction = Float64Array.from(trace);
      flat.forEach((f, t) => f && (fraction[t] = NaN));
    }
    return fraction;
  });
  const gaps = fractions.map((trace) => Uint8Array.from(trace, (v) => (Number.isFinite(v) ? 0 : 1)));
  const filled = fractions.map(fillGaps);
  let largest = 0;
  for (const row of filled) for (const v of row) largest = Math.max(largest, Math.abs(v));
  if (largest > MAX_ABS_DFF) {
    throw new InputError(
      `ΔF/F values reach ${formatG(largest, 3)}; beyond ±1e+15 the network's float32 arithmetic overflows ` +
        "and no ΔF/F (a fraction, 0.3 = 30 %) is that large: is this raw fluorescence or a corrupt file?",
    );
  }
  const levels = fractions.map((trace) => noiseLevel(trace, frameRate));
  const warnings = [];
  if (inputChecks) {
    checkOrientation(filled, frameRate);
    warnings.push(...checkUnits(fractions, levels, frameRate));
  }
  const isAllGap = gaps.map((row) => row.every(Boolean));
  const empty = isAllGap.map((all, n) => (all && !flats[n].includes(1) ? n : -1)).filter((n) => n >= 0); // no finite frame, none flat
  if (empty.length) {
    if (emptyNeurons === "error") throw new InputError(`${empty.length} neuron(s) have no finite ΔF/F value (${neuronNames(empty, roiIndex)})`);
    warnings.push(`${empty.length} of ${traces.length} neurons have no finite ΔF/F value; their rows are NaN (${neuronNames(empty, roiIndex)})`);
  }
  if (anyFlat) {
    const flatRows = flats.map((f, n) => (f.some(Boolean) ? n : -1)).filter((n) => n >= 0);
    const whole = flatRows.filter((n) => isAllGap[n]);
    if (emptyNeurons === "error" && whole.length) {
      throw new InputError(
        `${whole.length} neuron(s) hold one ΔF/F value in every finite frame (${neuronNames(whole, roiIndex)}): a dead ROI or padding, nothing to infer from`,
      );
    }
    const listed = flatRows
      .slice(0, 10)
      .map((n) => `${roiIndex ? roiIndex[n] : n}: ${whole.includes(n) ? "every frame" : `${fixed(flats[n].reduce((a, b) => a + b, 0) / frameRate, 1)} s`}`)
      .join(", ");
    warnings.push(
      `${flatRows.length} of ${traces.length} neurons hold one ΔF/F value for ${flatRunFrames(frameRate)} frames or more ` +
        `(${roiIndex ? "ROI" : "neuron"} ${listed}${flatRows.length > 10 ? ", …" : ""}): padding, a held frame or a dead ROI, ` +
        "not a recording; those frames count as gaps and their rates are NaN",
    );
  }
  return { filled, gaps, noiseLevel: levels, warnings };
}

// ---------------------------------------------------------------- resampling to 60 Hz

function besselI0(x) {
  let sum = 1;
  let term = 1;
  const quarter = (x * x) / 4;
  for (let k = 1; k < 200; k++) {
    term *= quarter / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

function sinc(z) {
  if (z === 0) return 1;
  const pz = Math.PI * z;
  return Math.sin(pz) / pz;
}

/** The sinc resampler's frames and weights for 60 Hz sample i (docs/onnx-contract.md, step 1). */
function sincResampler(frameRate) {
  const cutoff = 0.5 * Math.min(frameRate, SAMPLE_RATE_HZ);
  const halfWidth = ZERO_CROSSINGS / (2 * cutoff);
  const taps = Math.ceil(halfWidth * frameRate);
  const i0Beta = besselI0(KAISER_BETA);
  const cache = new Map(); // weights depend on the position's fraction alone
  return {
    taps,
    weights(i) {
      const position = (i * frameRate) / SAMPLE_RATE_HZ;
      const floor = Math.floor(position);
      const key = position - floor;
      let weights = cache.get(key);
      if (weights === undefined) {
        weights = new Float64Array(2 * taps);
        let total = 0;
        for (let k = 0; k < 2 * taps; k++) {
          const offset = (position - (floor + 1 - taps + k)) / frameRate;
          if (Math.abs(offset) >= halfWidth) continue;
          const x = Math.min(1, Math.max(-1, offset / halfWidth));
          weights[k] = (sinc(2 * cutoff * offset) * besselI0(KAISER_BETA * Math.sqrt(1 - x * x))) / i0Beta;
          total += weights[k];
        }
        for (let k = 0; k < 2 * taps; k++) weights[k] /= total;
        if (cache.size < 65536) cache.set(key, weights);
      }
      return { first: floor + 1 - taps, weights };
    },
  };
}

/** A trace (finite, native rate) at 60 Hz, float64: `n_out = round(n · 60 / fs)` samples. */
export function resampleTo60Hz(trace, frameRate, method = "sinc") {
  const n = trace.length;
  const nOut = nSamplesAt60Hz(n, frameRate);
  const out = new Float64Array(nOut);
  const clamp = (k) => (k < 0 ? 0 : k >= n ? n - 1 : k);
  if (method === "linear") {
    for (let i = 0; i < nOut; i++) {
      const position = (i * frameRate) / SAMPLE_RATE_HZ;
      const upper = Math.ceil(position);
      const weightLower = upper - position;
      out[i] = trace[clamp(upper - 1)] * weightLower + trace[clamp(upper)] * (1 - weightLower);
    }
    return out;
  }
  if (method !== "sinc") throw new InputError(`this host resamples with sinc or linear, not '${method}'`);
  const resampler = resamplerCache(frameRate);
  for (let i = 0; i < nOut; i++) {
    const { first, weights } = resampler.weights(i);
    let sum = 0;
    for (let k = 0; k < weights.length; k++) sum += trace[clamp(first + k)] * weights[k];
    out[i] = sum;
  }
  return out;
}

const resamplers = new Map();
function resamplerCache(frameRate) {
  if (!resamplers.has(frameRate)) resamplers.set(frameRate, sincResampler(frameRate));
  return resamplers.get(frameRate);
}

// ---------------------------------------------------------------- running the networks

/** Windowed model: rate of several 60 Hz traces (equal length) by windows every `hop` samples, overlap-added. */
async function runWindowed(ort, model, samples, { hop, batchSize, onProgress }) {
  const nOut = samples[0].length;
  const padded = samples.map((s) => {
    const p = new Float32Array(nOut + WINDOW);
    p.set(s, HALF_WINDOW);
    return p;
  });
  const starts = [];
  for (let s = 0; s < nOut; s += hop) starts.push(s);
  const sums = samples.map(() => new Float64Array(nOut + WINDOW));
  const total = padded.length * starts.length;
  for (let first = 0; first < total; first += batchSize) {
    const count = Math.min(batchSize, total - first);
    const input = new Float32Array(count * WINDOW);
    for (let k = 0; k < count; k++) {
      const row = Math.floor((first + k) / starts.length);
      const start = starts[(first + k) % starts.length];
      input.set(padded[row].subarray(start, start + WINDOW), k * WINDOW);
    }
    const feeds = { [model.contract.inputName]: new ort.Tensor("float32", input, [count, WINDOW]) };
    const output = (await model.session.run(feeds))[model.contract.outputName].data;
    for (let k = 0; k < count; k++) {
      const row = Math.floor((first + k) / starts.length);
      const start = starts[(first + k) % starts.length];
      const sum = sums[row];
      for (let j = 0; j < WINDOW; j++) sum[start + j] += output[k * WINDOW + j];
    }
    onProgress?.(count);
  }
  return sums.map((sum) => {
    const rate = new Float32Array(nOut);
    for (let i = 0; i < nOut; i++) {
      const q = i + HALF_WINDOW;
      const coverage = Math.floor(q / hop) + Math.floor((WINDOW - 1 - q) / hop) + 1; // floor(q/h) − ceil((q−95)/h) + 1
      rate[i] = sum[q] / coverage;
    }
    return rate;
  });
}

/** Convolutional model: rate of 60 Hz traces in pieces of the global 4096-sample grid (as ens2rt does). */
async function runWholeTrace(ort, model, samples, scales, { onProgress }) {
  const contract = model.contract;
  const nOut = samples[0].length;
  const end = Math.ceil(nOut / contract.alignment) * contract.alignment;
  const rates = samples.map(() => new Float32Array(nOut));
  for (let a = 0; a < end; a += PIECE_SAMPLES) {
    const b = Math.min(a + PIECE_SAMPLES, end);
    const first = a - contract.contextLeft;
    const length = b + contract.contextRight - first;
    const step = Math.max(1, Math.floor(BATCH_SAMPLES / length));
    for (let row = 0; row < samples.length; row += step) {
      const rows = Math.min(step, samples.length - row);
      const input = new Float32Array(rows * length);
      for (let r = 0; r < rows; r++) {
        const s = samples[row + r];
        const scale = scales[row + r];
        for (let t = Math.max(0, first); t < Math.min(nOut, first + length); t++) input[r * length + t - first] = s[t] / scale;
      }
      const feeds = { [contract.inputName]: new ort.Tensor("float32", input, [rows, length]) };
      const output = (await model.session.run(feeds))[contract.outputName].data;
      for (let r = 0; r < rows; r++) {
        for (let t = a; t < Math.min(b, nOut); t++) rates[row + r][t] = output[r * length + t - first];
      }
      onProgress?.(rows * (Math.min(b, nOut) - a));
    }
  }
  return rates;
}

// ---------------------------------------------------------------- spike fit

function spikeKernel() {
  const radius = Math.floor(4 * SIGMA_SAMPLES + 0.5);
  const kernel = new Float64Array(2 * radius + 1);
  let total = 0;
  for (let j = -radius; j <= radius; j++) {
    kernel[j + radius] = Math.exp((-0.5 * j * j) / (SIGMA_SAMPLES * SIGMA_SAMPLES));
    total += kernel[j + radius];
  }
  for (let j = 0; j < kernel.length; j++) kernel[j] /= total;
  return kernel;
}

const KERNEL = spikeKernel();

/** ENS²'s greedy spike fit on one run of samples (strict rule: a spike is placed only where it lowers the error). */
function fitRun(target, counts, start) {
  const radius = KERNEL.length >> 1;
  const width = target.length;
  let total = 0;
  let first = 0;
  for (let j = 0; j < width; j++) {
    total += target[j];
    if (target[j] > target[first]) first = j;
  }
  if (!(total >= MIN_RUN_TOTAL)) return;
  const residual = new Float64Array(width + 2 * radius);
  residual.set(target, radius);
  const energy = new Float64Array(width);
  for (let j = 0; j < width; j++) {
    for (let t = -radius; t <= radius; t++) if (j + t >= 0 && j + t < width) energy[j] += KERNEL[t + radius] ** 2;
  }
  const gainAt = (j) => {
    let sum = 0;
    for (let t = 0; t < KERNEL.length; t++) sum += KERNEL[t] * residual[j + t];
    return 2 * sum - energy[j];
  };
  const addSpike = (j) => {
    counts[start + j] += 1;
    for (let t = -radius; t <= radius; t++) if (j + t >= 0 && j + t < width) residual[radius + j + t] -= KERNEL[t + radius];
  };
  if (!(gainAt(first) > 0)) return;
  addSpike(first);
  for (;;) {
    let best = 0;
    let bestGain = -Infinity;
    for (let j = 0; j < width; j++) {
      const gain = gainAt(j);
      if (gain > bestGain) {
        bestGain = gain;
        best = j;
      }
    }
    if (!(bestGain > 0)) return;
    addSpike(best);
  }
}

/** Spike counts per 60 Hz sample from a rate (NaN as 0), as ens2rt's default ("strict") fit. */
export function fitSpikes(rate) {
  const counts = new Float32Array(rate.length);
  let highest = 0;
  for (const v of rate) if (v > highest) highest = v;
  if (highest > MAX_SPIKES_PER_BIN) {
    throw new InputError(
      `the inferred rate reaches ${formatG(highest, 3)} spikes per 60 Hz bin (${formatG(60 * highest, 3)} Hz), beyond any neuron: ` +
        "the input is not ΔF/F as a fraction (percent? raw fluorescence? were the input checks skipped?). " +
        "Fix the input, or pass spikes=False (CLI: --no-spikes) for the rate alone",
    );
  }
  let t = 0;
  while (t < rate.length) {
    if (!(rate[t] >= THRESHOLD)) {
      t++;
      continue;
    }
    let end = t;
    while (end < rate.length && rate[end] >= THRESHOLD) end++;
    for (let a = t; a < end; a += MAX_RUN) {
      const b = Math.min(a + MAX_RUN, end);
      fitRun(Float64Array.from(rate.subarray(a, b)), counts, a);
    }
    t = end;
  }
  return counts;
}

// ---------------------------------------------------------------- inference

/**
 * Spike rates and spikes from ΔF/F, as ens2rt.infer(dff, frameRate, model=…) gives them.
 *
 * `traces`: per-neuron arrays of ΔF/F frames (NaN for gaps). Options: model (a loaded
 * {name, ranges, models} from loadModels), hop, batchSize, spikes, percent, inputChecks,
 * emptyNeurons, roiIndex, provider (what settings record), onProgress(done, total).
 * Returns {rate, time, spikeCounts, spikeTimes, noiseLevel, model, neuronModel,
 * modelSha256, spikeTotalInterval, settings} with rate and counts as per-neuron Float32Arrays.
 */
export async function infer(ort, traces, frameRate, options) {
  const {
    model: loaded,
    hop = DEFAULT_HOP,
    batchSize = DEFAULT_BATCH_SIZE,
    spikes = true,
    percent = false,
    inputChecks = true,
    emptyNeurons = "nan",
    roiIndex = null,
    provider = "wasm",
    onProgress,
  } = options;
  const rateHz = checkFrameRate(frameRate);
  if (!(Number.isInteger(hop) && hop >= 1 && hop <= MAX_HOP)) throw new InputError(`hop must be an integer from 1 to ${MAX_HOP}, not ${hop}`);
  if (!Array.isArray(traces) || traces.length === 0) throw new InputError("ΔF/F is empty (no neurons)");
  checkLength(traces[0].length, rateHz, traces.length);
  const ready = condition(traces, rateHz, { percent, inputChecks, emptyNeurons, roiIndex });
  const nNeurons = traces.length;
  const nFrames = traces[0].length;
  const nOut = nSamplesAt60Hz(nFrames, rateHz);
  const memberOf = chooseMembers(loaded, ready.noiseLevel, rateHz);
  const resampler = loaded.resampler;

  // progress in windows (windowed members) or samples (convolutional ones), as ens2rt counts it
  const windowsPerNeuron = Math.ceil(nOut / hop);
  const total = memberOf.reduce((sum, name) => sum + (loaded.models.get(name).contract.windowed ? windowsPerNeuron : nOut), 0);
  let done = 0;
  const progress = (k) => {
    done += k;
    onProgress?.(done, total);
  };

  const rate = new Array(nNeurons);
  for (const [name, model] of loaded.models) {
    const rows = memberOf.map((m, n) => (m === name ? n : -1)).filter((n) => n >= 0);
    for (let block = 0; block < rows.length; block += 64) {
      const chosen = rows.slice(block, block + 64);
      const samples = chosen.map((n) => resampleTo60Hz(ready.filled[n], rateHz, resampler));
      const out = model.contract.windowed
        ? await runWindowed(ort, model, samples, { hop, batchSize, onProgress: progress })
        : await runWholeTrace(ort, model, samples, chosen.map((n) => inputScale(model.contract, ready.noiseLevel[n], rateHz)), { onProgress: progress });
      chosen.forEach((n, k) => (rate[n] = out[k]));
    }
  }

  // 60 Hz bins whose nearest frame was a gap are NaN in the rate and the counts
  const anyGap = ready.gaps.some((gaps) => gaps.includes(1));
  const nearest = anyGap ? Int32Array.from({ length: nOut }, (_, i) => Math.min(Math.max(roundHalfEven((i * rateHz) / SAMPLE_RATE_HZ), 0), nFrames - 1)) : null;
  const masked = ready.gaps.map((gaps) => (anyGap && gaps.includes(1) ? Uint8Array.from(nearest, (f) => gaps[f]) : null));
  let spikeCounts = null;
  let spikeTimes = null;
  let spikeTotalInterval = null;
  if (spikes) {
    spikeCounts = rate.map((r) => fitSpikes(r));
    spikeTimes = spikeCounts.map((counts, n) => {
      const times = [];
      counts.forEach((k, i) => {
        if (masked[n]?.[i]) counts[i] = NaN;
        else for (let s = 0; s < k; s++) times.push(i / SAMPLE_RATE_HZ);
      });
      return Float64Array.from(times);
    });
    spikeTotalInterval = spikeTimes.map((times, n) => {
      const ratio = loaded.models.get(memberOf[n]).countRatio;
      const empty = masked[n] && masked[n].every(Boolean);
      if (!ratio || empty) return [NaN, NaN];
      return [Math.fround(times.length / ratio[1]), Math.fround(times.length / ratio[0])];
    });
  }
  rate.forEach((r, n) => masked[n]?.forEach((m, i) => m && (r[i] = NaN)));

  const contracts = [...loaded.models.values()].map((m) => m.contract);
  const kinds = [...new Set(contracts.map((c) => c.kind))];
  const used = Object.fromEntries([...new Set(memberOf)].sort().map((name) => [name, loaded.models.get(name).sha256]));
  const settings = {
    options: {
      hop, resampler: null, spikes, spike_fit: "strict", percent, input_checks: inputChecks, empty_neurons: emptyNeurons,
      calibrate: "none", batch_size: batchSize, device: "auto", threads: null, providers: null,
    },
    frame_rate: rateHz,
    model_kind: kinds.join("+"),
    hop: contracts.some((c) => c.windowed) ? hop : null,
    resampler,
    provider,
    batch_size: batchSize,
    spikes,
    spike_fit: "strict",
    percent,
    input_checks: inputChecks,
    empty_neurons: emptyNeurons,
    conditioning: { checks: "whole traces", gaps: "interpolated; rate and spikes NaN there" },
    warnings: ready.warnings,
  };
  return {
    rate,
    time: Float64Array.from({ length: nOut }, (_, i) => i / SAMPLE_RATE_HZ),
    spikeCounts,
    spikeTimes,
    noiseLevel: Float32Array.from(ready.noiseLevel),
    model: loaded.name,
    neuronModel: memberOf,
    modelSha256: used,
    spikeTotalInterval,
    settings,
  };
}
