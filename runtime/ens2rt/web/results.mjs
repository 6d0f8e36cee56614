// Result files from the JavaScript hosts: the .npz `ens2rt infer` writes (same fields, same
// JSON settings; numpy.load reads it) and two CSVs (rates and spike times).

/** JSON as Python's json.dumps(value, sort_keys=True) writes it (ASCII, ", " and ": "), the one provenance encoding. */
export function provenanceJson(value) {
  const encode = (v) => {
    if (v === null || v === undefined || (typeof v === "number" && !Number.isFinite(v))) {
      return typeof v === "number" ? (Number.isNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity") : "null";
    }
    if (Array.isArray(v) || ArrayBuffer.isView(v)) return `[${Array.from(v, encode).join(", ")}]`;
    if (typeof v === "object") {
      return `{${Object.keys(v).sort().filter((k) => v[k] !== undefined).map((k) => `${encode(k)}: ${encode(v[k])}`).join(", ")}}`;
    }
    return JSON.stringify(v).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  };
  return encode(value);
}

// ---------------------------------------------------------------- .npy and .npz

function npyHeader(descr, shape) {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header += " ".repeat((64 - (total % 64)) % 64) + "\n";
  const bytes = new Uint8Array(10 + header.length);
  bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
  bytes.set(new TextEncoder().encode(header), 10);
  return bytes;
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** An .npy file of numbers: `type` "f4", "f8" or "i8"; `shape` of the C-order `values`. */
export function npyNumbers(type, shape, values) {
  const Array_ = { f4: Float32Array, f8: Float64Array, i8: BigInt64Array }[type];
  const data = type === "i8" ? BigInt64Array.from(values, (v) => BigInt(v)) : Array_.from(values);
  return concat([npyHeader(`<${type}`, shape), new Uint8Array(data.buffer)]); // every host here is little-endian
}

/** An .npy file of unicode strings (numpy's '<U' dtype: UTF-32, padded): one string (shape ()) or a 1-D array. */
export function npyStrings(strings, scalar = false) {
  const list = scalar ? [strings] : strings;
  const points = list.map((s) => Array.from(s, (c) => c.codePointAt(0)));
  const width = Math.max(1, ...points.map((p) => p.length));
  const data = new Uint32Array(list.length * width);
  points.forEach((p, i) => data.set(p, i * width));
  return concat([npyHeader(`<U${width}`, scalar ? [] : [list.length]), new Uint8Array(data.buffer)]);
}

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = CRC_TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** A zip archive of `entries` ({name: bytes}), stored without compression: what numpy.load reads as .npz. */
export function zipStored(entries) {
  const local = [];
  const central = [];
  let offset = 0;
  for (const [name, data] of Object.entries(entries)) {
    const nameBytes = new TextEncoder().encode(name);
    const crc = crc32(data);
    const header = new DataView(new ArrayBuffer(30));
    header.setUint32(0, 0x04034b50, true);
    header.setUint16(4, 20, true);
    header.setUint32(14, crc, true);
    header.setUint32(18, data.length, true);
    header.setUint32(22, data.length, true);
    header.setUint16(26, nameBytes.length, true);
    local.push(new Uint8Array(header.buffer), nameBytes, data);
    const entry = new DataView(new ArrayBuffer(46));
    entry.setUint32(0, 0x02014b50, true);
    entry.setUint16(4, 20, true);
    entry.setUint16(6, 20, true);
    entry.setUint32(16, crc, true);
    entry.setUint32(20, data.length, true);
    entry.setUint32(24, data.length, true);
    entry.setUint16(28, nameBytes.length, true);
    entry.setUint32(42, offset, true);
    central.push(new Uint8Array(entry.buffer), nameBytes);
    offset += 30 + nameBytes.length + data.length;
  }
  const centralBytes = concat(central);
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, Object.keys(entries).length, true);
  end.setUint16(10, Object.keys(entries).length, true);
  end.setUint32(12, centralBytes.length, true);
  end.setUint32(16, offset, true);
  return concat([...local, centralBytes, new Uint8Array(end.buffer)]);
}

const rows2d = (rows, width) => {
  const out = new Float32Array(rows.length * width);
  rows.forEach((row, r) => out.set(row, r * width));
  return out;
};

/**
 * The .npz `ens2rt infer -o result.npz` writes, from an infer() result and its input:
 * rate, time, noise_level, model, neuron_model, model_sha256, settings, dff, frame_rate,
 * roi_index, spike_counts, spike_times (+ _offsets), spike_total_interval.
 */
export function resultNpz(result, { traces, roiIndex, source = {} }) {
  const n = result.rate.length;
  const nOut = result.time.length;
  const entries = {
    "rate.npy": npyNumbers("f4", [n, nOut], rows2d(result.rate, nOut)),
    "time.npy": npyNumbers("f8", [nOut], result.time),
    "noise_level.npy": npyNumbers("f4", [n], result.noiseLevel),
    "model.npy": npyStrings(result.model, true),
    "neuron_model.npy": npyStrings(result.neuronModel),
    "model_sha256.npy": npyStrings(provenanceJson(result.modelSha256), true),
    "settings.npy": npyStrings(provenanceJson({ ...result.settings, ...source }), true),
    "dff.npy": npyNumbers("f4", [n, traces[0].length], rows2d(traces, traces[0].length)),
    "frame_rate.npy": npyNumbers("f8", [], [result.settings.frame_rate]),
    "roi_index.npy": npyNumbers("i8", [n], roiIndex ?? Array.from({ length: n }, (_, i) => i)),
  };
  if (result.spikeCounts) {
    const offsets = [0];
    for (const times of result.spikeTimes) offsets.push(offsets[offsets.length - 1] + times.length);
    entries["spike_counts.npy"] = npyNumbers("f4", [n, nOut], rows2d(result.spikeCounts, nOut));
    entries["spike_times.npy"] = npyNumbers("f8", [offsets[n]], result.spikeTimes.flatMap((t) => Array.from(t)));
    entries["spike_times_offsets.npy"] = npyNumbers("i8", [n + 1], offsets);
    entries["spike_total_interval.npy"] = npyNumbers("f4", [n, 2], result.spikeTotalInterval.flat());
  }
  return zipStored(entries);
}

const cell = (v) => (Number.isFinite(v) ? String(v) : "");

/** The 60 Hz rate as CSV, one neuron per row (as ens2rt reads traces); a "#" line says what it is. */
export function rateCsv(result, { roiIndex, source = {} }) {
  const lines = [`# spike rate (spikes per 60 Hz bin), sample i at i / 60 s, one neuron per row; roi_index ${provenanceJson(roiIndex ?? null)}`];
  lines.push(`# settings ${provenanceJson({ ...result.settings, ...source, model: result.model })}`);
  for (const rate of result.rate) lines.push(Array.from(rate, cell).join(","));
  return lines.join("\n") + "\n";
}

/** Spike times as CSV: one line per spike, "roi_index,neuron_model,time_s". */
export function spikesCsv(result, { roiIndex }) {
  const lines = ["roi_index,neuron_model,time_s"];
  result.spikeTimes?.forEach((times, n) => {
    for (const t of times) lines.push(`${roiIndex ? roiIndex[n] : n},${result.neuronModel[n]},${t}`);
  });
  return lines.join("\n") + "\n";
}
