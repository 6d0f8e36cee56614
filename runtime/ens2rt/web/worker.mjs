// The page's inference worker: onnxruntime-web (WebAssembly, threads where the page is
// cross-origin isolated; WebGPU where the browser has it and it gives the WASM numbers)
// runs the shared engine, so the page stays responsive however many neurons there are.
//
// Messages in: {type: "infer", id, traces, frameRate, model, percent}; out: {type: "progress",
// id, done, total}, {type: "result", id, result}, {type: "error", id, name, message}.

import { InputError, WINDOW, infer, loadModels } from "./ens2rt.mjs";

const here = new URL("./", import.meta.url);
let backend = null; // {ort, provider, sessionOptions}
const loaded = new Map(); // model name -> loaded models

async function load(path) {
  const response = await fetch(new URL(`models/${path}`, here));
  if (!response.ok) throw new Error(`models/${path}: ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function wasmBackend() {
  const ort = await import("./ort/ort.wasm.min.mjs");
  ort.env.wasm.wasmPaths = new URL("ort/", here).href;
  ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  return { ort, provider: `wasm (${ort.env.wasm.numThreads} thread${ort.env.wasm.numThreads > 1 ? "s" : ""})`, sessionOptions: { executionProviders: ["wasm"] } };
}

/** WebGPU, if the browser has it, this build ships it, and it gives the WASM numbers on a test window. */
async function webgpuBackend(wasm) {
  if (!("gpu" in navigator) || !(await navigator.gpu.requestAdapter().catch(() => null))) return null;
  try {
    const ort = await import("./ort/ort.webgpu.min.mjs");
    ort.env.wasm.wasmPaths = new URL("ort/", here).href;
    const candidate = { ort, provider: "webgpu", sessionOptions: { executionProviders: ["webgpu"] } };
    const window = Float32Array.from({ length: WINDOW }, (_, i) => 0.3 * Math.exp(-Math.max(0, i - 40) / 20) * (i >= 40));
    const outputs = [];
    for (const b of [wasm, candidate]) {
      const model = await loadModels(b.ort, load, "ens2-exc-native", b.sessionOptions);
      const { session, contract } = model.models.get("ens2-exc-native");
      const out = await session.run({ [contract.inputName]: new b.ort.Tensor("float32", window, [1, WINDOW]) });
      outputs.push(out[contract.outputName].data);
    }
    const worst = Math.max(...outputs[0].map((v, i) => Math.abs(v - outputs[1][i])));
    return worst <= 1e-4 ? candidate : null;
  } catch {
    return null; // no WebGPU build here, or it failed: WASM runs
  }
}

async function ready() {
  if (!backend) {
    const wasm = await wasmBackend();
    backend = (await webgpuBackend(wasm)) ?? wasm;
  }
  return backend;
}

self.onmessage = async ({ data }) => {
  const { id } = data;
  try {
    const { ort, provider, sessionOptions } = await ready();
    if (data.type === "engine") {
      self.postMessage({ type: "engine", id, provider, isolated: self.crossOriginIsolated });
      return;
    }
    if (!loaded.has(data.model)) loaded.set(data.model, await loadModels(ort, load, data.model, sessionOptions));
    let last = 0;
    const result = await infer(ort, data.traces, data.frameRate, {
      model: loaded.get(data.model),
      percent: data.percent,
      roiIndex: data.roiIndex,
      provider,
      onProgress: (done, total) => {
        const now = performance.now();
        if (now - last > 100 || done === total) {
          last = now;
          self.postMessage({ type: "progress", id, done, total });
        }
      },
    });
    const buffers = [...result.rate, ...(result.spikeCounts ?? []), ...(result.spikeTimes ?? [])].map((a) => a.buffer);
    self.postMessage({ type: "result", id, result }, buffers);
  } catch (error) {
    self.postMessage({ type: "error", id, name: error instanceof InputError ? "InputError" : error.name, message: error.message });
  }
};
