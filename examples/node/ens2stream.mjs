// ENS² spike inference on frames as they arrive, from Node.js with onnxruntime-node.
//
// Written from docs/onnx-contract.md (the contract and noise level come from the engine the
// browser page uses, runtime/ens2rt/web/ens2rt.mjs): it runs the *streaming graph* of a
// convolutional model (models/stream/<model>.onnx), which keeps per-layer state and reads
// only the samples that are new at each push. Its contract (lag, warm-up, states, input
// scaling, resampler) is read from the ONNX file's metadata. It resamples linearly (the
// low-latency ens2-exc-online / ens2-inh-online); the numbers equal ens2rt.Stream's.

import { readFileSync } from "node:fs";
import ort from "onnxruntime-node";

import { SAMPLE_RATE_HZ, noiseLevel, readOnnxMetadata, roundHalfEven } from "../../runtime/ens2rt/web/ens2rt.mjs"; // shared with the browser page

export { noiseLevel };


/** The model contract, checked for what this host can run. */
export function readContract(path) {
  const raw = readOnnxMetadata(new Uint8Array(readFileSync(path))).get("contract");
  if (raw === undefined) throw new Error(`${path}: no contract in the ONNX metadata (not an ens2 model?)`);
  const contract = JSON.parse(raw);
  const kind = contract.kind ?? "windowed"; // contracts older than the kind field are windowed
  if (kind !== "convolutional") throw new Error(`${path}: this host runs convolutional models, not ${kind}`);
  if (contract.stream === undefined) {
    throw new Error(`${path}: a whole-trace graph; this host runs streaming graphs (stream/<model>.onnx beside the model)`);
  }
  if (contract.sample_rate_hz !== SAMPLE_RATE_HZ) throw new Error(`${path}: the model runs at ${contract.sample_rate_hz} Hz, not 60`);
  if ((contract.resampler ?? "sinc") !== "linear") {
    throw new Error(`${path}: this host resamples linearly; the model wants ${contract.resampler ?? "sinc"}`);
  }
  if (!["none", "noise_std"].includes(contract.input_scaling.kind)) {
    throw new Error(`${path}: unknown input scaling ${contract.input_scaling.kind}`);
  }
  return contract;
}

export class Stream {
  /** Use Stream.create(); the constructor takes a loaded session. */
  constructor(session, contract, { nNeurons, frameRate, noiseLevel: levels }) {
    this.session = session;
    this.contract = contract;
    this.nNeurons = nNeurons;
    this.frameRate = frameRate;
    this.ratio = frameRate / SAMPLE_RATE_HZ; // frames per 60 Hz sample
    const scaling = contract.input_scaling;
    this.scale = Array.from({ length: nNeurons }, (_, n) => {
      if (scaling.kind === "none") return 1;
      const level = Array.isArray(levels) ? levels[n] : levels;
      if (!(level >= 0)) throw new Error("a noise_std model needs each neuron's noise level (from a baseline recording)");
      return Math.max((level * Math.sqrt(frameRate)) / scaling.noise_level_per_std, scaling.min_scale);
    });
    this.frames = Array.from({ length: nNeurons }, () => []); // kept frames, from frame this.framesStart on
    this.framesStart = 0;
    this.nFrames = 0;
    this.lastFinite = new Array(nNeurons).fill(NaN);
    this.samples = Array.from({ length: nNeurons }, () => []); // 60 Hz input not yet fed to the graph
    this.nKnown = 0; // 60 Hz samples resampled so far
    this.nEmitted = 0;
    this.flushed = false;
    // the streaming graph's state: zeros at position -warmup, then warmup zeros (see create)
    const { states, warmup, lag } = contract.stream;
    this.states = Object.fromEntries(
      states.map(({ name, shape: [samples, , channels] }) => [
        name,
        new ort.Tensor("float32", new Float32Array(samples * nNeurons * channels), [samples, nNeurons, channels]),
      ]),
    );
    this.position = -warmup;
    this.beforeStart = lag; // outputs that precede the recording's first sample
  }

  static async create(modelPath, options) {
    const contract = readContract(modelPath);
    const session = await ort.InferenceSession.create(modelPath, { executionProviders: ["cpu"] });
    const stream = new Stream(session, contract, options);
    const warmup = contract.stream.warmup;
    await stream.run(new Float32Array(stream.nNeurons * warmup), warmup); // the silence before the recording
    return stream;
  }

  /** Worst-case latency (s): the rate at t is out once the frame at t + delay is pushed. */
  get delaySeconds() {
    // sample j needs input up to j + lag, which needs frame ceil((j + lag) · ratio)
    let worst = 0;
    for (let j = 8 * SAMPLE_RATE_HZ; j < 12 * SAMPLE_RATE_HZ; j++) {
      const frame = Math.ceil((j + this.contract.stream.lag) * this.ratio);
      worst = Math.max(worst, frame / this.frameRate - j / SAMPLE_RATE_HZ);
    }
    return worst;
  }

  lastFrameNeeded(sample) {
    return Math.ceil(sample * this.ratio);
  }

  /** Add frames: frames[neuron] is an array of k ≥ 1 ΔF/F values. Returns {start, rate} of the samples now final. */
  async push(frames) {
    if (this.flushed) throw new Error("this stream was flushed");
    this.append(frames);
    let ready = this.nKnown;
    while (this.lastFrameNeeded(ready) <= this.nFrames - 1) ready++;
    this.resampleUntil(ready, null);
    return this.feed(0);
  }

  /** End of the recording: every remaining sample (the graph is fed lag zeros after the last one). */
  async flush() {
    this.flushed = true;
    const nTotal = roundHalfEven((this.nFrames * SAMPLE_RATE_HZ) / this.frameRate);
    this.resampleUntil(nTotal, this.nFrames);
    return this.feed(this.contract.stream.lag);
  }

  append(frames) {
    if (frames.length !== this.nNeurons) throw new Error(`push takes ${this.nNeurons} neurons, got ${frames.length}`);
    for (let n = 0; n < this.nNeurons; n++) {
      for (const value of frames[n]) {
        if (Number.isFinite(value)) this.lastFinite[n] = value;
        else if (!Number.isFinite(this.lastFinite[n])) throw new Error(`neuron ${n} has no finite value yet to hold`);
        this.frames[n].push(Number.isFinite(value) ? value : this.lastFinite[n]);
      }
    }
    this.nFrames += frames[0].length;
  }

  /** Linear resampling (ens2rt.resample.LinearResampler): sample j reads frames ceil(p) − 1 and ceil(p), p = j · fs / 60. */
  resampleUntil(end, nTotal) {
    const last = (nTotal ?? this.nFrames) - 1;
    for (let j = this.nKnown; j < end; j++) {
      const position = j * this.ratio;
      const upper = Math.ceil(position);
      const weightLower = upper - position;
      const lo = Math.min(Math.max(upper - 1, 0), last) - this.framesStart;
      const hi = Math.min(Math.max(upper, 0), last) - this.framesStart;
      for (let n = 0; n < this.nNeurons; n++) {
        const value = this.frames[n][lo] * weightLower + this.frames[n][hi] * (1.0 - weightLower);
        this.samples[n].push(Math.fround(value));
      }
    }
    this.nKnown = Math.max(this.nKnown, end);
    const keepFrom = Math.max(0, Math.ceil(this.nKnown * this.ratio) - 1); // the first frame sample nKnown reads
    if (keepFrom > this.framesStart) {
      for (let n = 0; n < this.nNeurons; n++) this.frames[n].splice(0, keepFrom - this.framesStart);
      this.framesStart = keepFrom;
    }
  }

  /** Feed the samples not yet fed (scaled), then `zeros` zeros; return {start, rate} of the rate samples out. */
  async feed(zeros) {
    const start = this.nEmitted;
    const k = this.samples[0].length + zeros;
    if (k === 0) return { start, rate: Array.from({ length: this.nNeurons }, () => new Float32Array(0)) };
    const input = new Float32Array(this.nNeurons * k);
    for (let n = 0; n < this.nNeurons; n++) {
      this.samples[n].forEach((value, i) => (input[n * k + i] = Math.fround(value / this.scale[n])));
      this.samples[n] = [];
    }
    const output = await this.run(input, k);
    const drop = Math.min(this.beforeStart, k);
    this.beforeStart -= drop;
    const rate = Array.from({ length: this.nNeurons }, (_, n) => output.slice(n * k + drop, (n + 1) * k));
    this.nEmitted += k - drop;
    return { start, rate };
  }

  /** One call of the streaming graph on (nNeurons, k) input; updates the state and position; returns the rate's data. */
  async run(input, k) {
    const feeds = {
      [this.contract.input.name]: new ort.Tensor("float32", input, [this.nNeurons, k]),
      position: new ort.Tensor("int64", BigInt64Array.from([BigInt(this.position)]), [1]),
      ...this.states,
    };
    const out = await this.session.run(feeds);
    for (const name of Object.keys(this.states)) this.states[name] = out[`${name}_out`];
    this.position = Number(out.position_out.data[0]);
    return out[this.contract.output.name].data;
  }
}
