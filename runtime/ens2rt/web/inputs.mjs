// Reading ΔF/F for the JavaScript hosts, as ens2rt's readers do: delimited text (.csv/.tsv),
// .npy arrays, and suite2p plane folders (F.npy, Fneu.npy, iscell.npy; the frame rate
// from ops.npy where it can be read without unpickling). Messages are the Python readers'.

import { InputError, fillGaps, roundHalfEven } from "./ens2rt.mjs";

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const SPECIAL = /^[+-]?(nan|inf|infinity)$/i;

/** A cell as Python's float() reads it, or undefined when it is not a number. */
function parseNumber(cell) {
  const text = cell.trim();
  if (NUMBER.test(text)) return Number(text);
  if (SPECIAL.test(text)) return /nan/i.test(text) ? NaN : text.startsWith("-") ? -Infinity : Infinity;
  return undefined;
}

function delimiterOf(firstLine) {
  for (const candidate of [";", "\t"]) if (firstLine.includes(candidate)) return candidate;
  return ",";
}

/**
 * ΔF/F from delimited text (ens2rt/formats/arrays.py's rules): one neuron per row, or one
 * frame per row with `timeFirst`; `;` or tab delimiters with decimal commas; empty cells
 * and NaN are gaps; "#" lines are comments, and "# frame_rate_hz=30" states the frame rate.
 * Returns {traces: per-neuron Float64Arrays, frameRate (or undefined)}.
 */
export function parseDelimited(text, name, { timeFirst = false } = {}) {
  const all = text.replace(/^\uFEFF/, "").split(/\r\n|\r|\n/);
  const stated = all.map((line) => /^\s*#\s*frame_rate_hz\s*=\s*([0-9.eE+-]+)/.exec(line)).find(Boolean);
  const lines = all.filter((line) => line.trim() !== "" && !line.trimStart().startsWith("#"));
  if (lines.length === 0) throw new InputError(`${name}: the file is empty`);
  const delimiter = name.toLowerCase().endsWith(".tsv") ? "\t" : delimiterOf(lines[0]);
  const width = lines[0].split(delimiter).length;
  // row by row into typed arrays: no table of strings, so large files fit in memory
  const traces = timeFirst
    ? Array.from({ length: width }, () => new Float64Array(lines.length))
    : new Array(lines.length);
  lines.forEach((line, r) => {
    const cells = (delimiter !== "," ? line.replaceAll(",", ".") : line).split(delimiter);
    const values = new Float64Array(cells.length);
    cells.forEach((cell, c) => {
      if (!cell.trim()) return void (values[c] = NaN);
      const value = parseNumber(cell);
      if (value === undefined) {
        const header = r === 0 ? " (a header row? remove it: one neuron per row, numbers only)" : "";
        throw new InputError(`${name}: row ${r + 1}, column ${c + 1}: '${cell.trim().slice(0, 40)}' is not a number${header}`);
      }
      values[c] = value;
    });
    if (cells.length !== width) {
      throw new InputError(
        `${name}: row ${r + 1} has ${cells.length} values and row 1 has ${width}: every row must be one neuron's whole ` +
          "trace (leave a cell empty for a missing frame)",
      );
    }
    if (timeFirst) values.forEach((v, n) => (traces[n][r] = v));
    else traces[r] = values;
  });
  return { traces, frameRate: stated ? Number(stated[1]) : undefined };
}

// ---------------------------------------------------------------- .npy

const NPY_TYPES = { f8: "Float64", f4: "Float32", i8: "BigInt64", i4: "Int32", i2: "Int16", i1: "Int8", u8: "BigUint64", u4: "Uint32", u2: "Uint16", u1: "Uint8", b1: "Uint8" };
const SIZES = { Float64: 8, Float32: 4, BigInt64: 8, Int32: 4, Int16: 2, Int8: 1, BigUint64: 8, Uint32: 4, Uint16: 2, Uint8: 1 };

/** An .npy array: {shape, data (Float64Array, C order)}; an InputError naming the file when it is no numeric .npy. */
export function parseNpy(bytes, name) {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((b, i) => bytes[i] !== b)) {
    if (bytes[0] === 0x50 && bytes[1] === 0x4b) throw new InputError(`${name}: an .npz archive; pick the .npy files inside it, or run ens2rt infer on it`);
    throw new InputError(`${name}: cannot read as .npy: not an .npy file (it does not start with \\x93NUMPY)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(headerStart, headerStart + headerLength));
  const descr = /'descr':\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*True/.test(header);
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || shapeText === undefined) throw new InputError(`${name}: cannot read as .npy: its header is damaged`);
  const shape = shapeText.split(",").map((s) => s.trim()).filter(Boolean).map(Number);
  const order = descr[0];
  const type = NPY_TYPES[descr.slice(1)];
  if (!type || !"<>|=".includes(order)) {
    const what = descr.includes("O") ? "object (pickled Python objects)" : descr.includes("U") || descr.includes("S") ? "text" : descr;
    throw new InputError(`${name}: holds ${what}, not numbers`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  const start = headerStart + headerLength;
  const size = SIZES[type];
  if (bytes.length < start + count * size) throw new InputError(`${name}: cannot read as .npy: the file is cut short (${shape.join(" × ")} values announced)`);
  const little = order !== ">";
  const getter = `get${type}`;
  const data = new Float64Array(count);
  for (let i = 0; i < count; i++) data[i] = Number(view[getter](start + i * size, little));
  if (fortran && shape.length === 2) {
    const [rows, cols] = shape;
    const c = new Float64Array(count);
    for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) c[r * cols + k] = data[k * rows + r];
    return { shape, data: c };
  }
  return { shape, data };
}

/** Rows of a 1-D or 2-D .npy as per-row Float64Arrays (a 1-D array is one neuron). */
export function npyRows({ shape, data }, name, { timeFirst = false } = {}) {
  if (shape.length === 1) return [data];
  if (shape.length !== 2) throw new InputError(`${name}: ΔF/F must be (n_neurons, n_frames) or (n_frames,), got shape (${shape.join(", ")})`);
  const [rows, cols] = shape;
  if (timeFirst) return Array.from({ length: cols }, (_, n) => Float64Array.from({ length: rows }, (_, t) => data[t * cols + n]));
  return Array.from({ length: rows }, (_, r) => data.subarray(r * cols, (r + 1) * cols));
}

// ---------------------------------------------------------------- suite2p

/** suite2p's `fs` from ops.npy's pickle, read as bytes (never unpickled); undefined when not found there. */
export function opsFrameRate(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i + 4 < bytes.length; i++) {
    let after = -1;
    if (bytes[i] === 0x8c && bytes[i + 1] === 2 && bytes[i + 2] === 0x66 && bytes[i + 3] === 0x73) after = i + 4; // SHORT_BINUNICODE "fs"
    else if (bytes[i] === 0x58 && view.getUint32(i + 1, true) === 2 && bytes[i + 5] === 0x66 && bytes[i + 6] === 0x73) after = i + 7; // BINUNICODE
    if (after < 0) continue;
    if (bytes[after] === 0x94) after += 1; // MEMOIZE
    else if (bytes[after] === 0x71) after += 2; // BINPUT
    else if (bytes[after] === 0x72) after += 5; // LONG_BINPUT
    const op = bytes[after];
    if (op === 0x47) return view.getFloat64(after + 1, false); // BINFLOAT, big-endian
    if (op === 0x4b) return bytes[after + 1]; // BININT1
    if (op === 0x4d) return view.getUint16(after + 1, true); // BININT2
    if (op === 0x4a) return view.getInt32(after + 1, true); // BININT
  }
  return undefined;
}

/** numpy's running percentile filter (scipy.ndimage.percentile_filter, mode "nearest") of one row. */
function percentileFilter(row, percentile, size) {
  let rank = Math.floor((size * percentile) / 100);
  if (rank === size) rank -= 1;
  const out = new Float64Array(row.length);
  const window = new Float64Array(size);
  const half = Math.floor(size / 2);
  for (let i = 0; i < row.length; i++) {
    for (let k = 0; k < size; k++) window[k] = row[Math.min(Math.max(i - half + k, 0), row.length - 1)];
    window.sort();
    out[i] = window[rank];
  }
  return out;
}

/** ens2rt's running baseline: a percentile over windowFrames, on a decimated trace, interpolated back. */
function runningBaseline(trace, windowFrames, percentile) {
  const n = trace.length;
  const step = Math.max(1, Math.floor(windowFrames / 60));
  const coarse = Float64Array.from({ length: Math.ceil(n / step) }, (_, k) => trace[k * step]);
  const baseline = percentileFilter(coarse, percentile, Math.max(1, Math.floor(windowFrames / step)));
  const out = new Float64Array(n);
  for (let t = 0; t < n; t++) {
    const k = Math.floor(t / step);
    out[t] = k + 1 < baseline.length ? baseline[k] + ((baseline[k + 1] - baseline[k]) * (t - k * step)) / step : baseline[baseline.length - 1];
  }
  return out;
}

/**
 * ΔF/F from a suite2p plane folder, as ens2rt's suite2p reader computes it: Fc = F − 0.7 · Fneu,
 * ΔF/F = (Fc − B(Fc)) / B(F), B the 8th percentile over 60 s. `files`: {name: bytes} with
 * F.npy, Fneu.npy, iscell.npy (ops.npy optional). Returns {traces, roiIndex, frameRate (or undefined)}.
 */
export function suite2pDff(files, folder, frameRate, { neuropil = 0.7, windowS = 60, percentile = 8, allRois = false } = {}) {
  const missing = ["F.npy", "Fneu.npy", "iscell.npy"].filter((name) => !files[name]);
  if (missing.length) throw new InputError(`${folder}: not a suite2p plane folder (missing ${missing.join(", ")})`);
  const f = parseNpy(files["F.npy"], `${folder}/F.npy`);
  const fneu = parseNpy(files["Fneu.npy"], `${folder}/Fneu.npy`);
  const iscell = parseNpy(files["iscell.npy"], `${folder}/iscell.npy`);
  if (f.shape.length !== 2 || f.shape.join() !== fneu.shape.join()) {
    throw new InputError(`${folder}: F.npy (${f.shape.join(", ")}) and Fneu.npy (${fneu.shape.join(", ")}) must be equal (ROIs × frames)`);
  }
  const [nRois, nFrames] = f.shape;
  const flags = iscell.shape.length === 2 ? Float64Array.from({ length: iscell.shape[0] }, (_, r) => iscell.data[r * iscell.shape[1]]) : iscell.data;
  if (flags.length !== nRois) {
    throw new InputError(`${folder}: iscell.npy does not match F.npy's ${nRois} ROIs; the files come from different suite2p runs (or were edited): re-export the plane folder`);
  }
  const stated = files["ops.npy"] ? opsFrameRate(files["ops.npy"]) : undefined;
  const rate = frameRate ?? stated;
  if (rate === undefined) return { traces: null, roiIndex: null, frameRate: undefined };
  const chosen = [];
  for (let r = 0; r < nRois; r++) if (allRois || flags[r] > 0.5) chosen.push(r);
  if (chosen.length === 0) throw new InputError(`${folder}: iscell.npy marks no ROI as a cell; pass --all-rois to infer every ROI`);
  const window = Math.max(3, roundHalfEven(windowS * rate));
  const traces = chosen.map((roi) => {
    const raw = f.data.subarray(roi * nFrames, (roi + 1) * nFrames);
    const corrected = Float64Array.from(raw, (v, t) => {
      const c = v - neuropil * fneu.data[roi * nFrames + t];
      return Number.isFinite(v) && Number.isFinite(c) ? c : NaN;
    });
    const rawGaps = Float64Array.from(raw, (v, t) => (Number.isFinite(corrected[t]) ? v : NaN));
    const measured = corrected.some(Number.isFinite);
    const denominator = runningBaseline(fillGaps(rawGaps), window, percentile);
    if (measured && denominator.some((d) => d <= 0)) throw new InputError(`${folder}: ROI ${roi} has a non-positive fluorescence baseline; ΔF/F is undefined`);
    const baseline = runningBaseline(fillGaps(corrected), window, percentile);
    return Float64Array.from(corrected, (c, t) => (measured ? (c - baseline[t]) / denominator[t] : NaN));
  });
  return { traces, roiIndex: chosen, frameRate: rate, statedFrameRate: stated };
}
