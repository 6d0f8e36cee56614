#!/usr/bin/env node
// Offline spike inference from Node.js: a ΔF/F text file in, rates and spikes out as JSON.
// The engine is the browser page's (runtime/ens2rt/web/ens2rt.mjs); this file only reads
// files and writes the result. See README.md.
//
//   node infer.mjs --trace example-trace.csv --model ens2-exc --out result.json

import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import ort from "onnxruntime-node";

import { DEFAULT_HOP, DEFAULT_MODEL, infer, loadModels } from "../../runtime/ens2rt/web/ens2rt.mjs";
import { parseDelimited } from "../../runtime/ens2rt/web/inputs.mjs";

const MODELS = fileURLToPath(new URL("../../models/", import.meta.url));
const usage = `usage: node infer.mjs --trace T.csv [--frame-rate HZ] [--model ${DEFAULT_MODEL}] [--models DIR]
       [--hop ${DEFAULT_HOP}] [--time-axis first|last] [--percent] [--out result.json]
  --trace      text file of ΔF/F as a fraction; one neuron per row (--time-axis last, the default)
               or one frame per line (--time-axis first); a "# frame_rate_hz=..." line gives the frame rate`;

function fail(message, code = 2) {
  console.error(`error: ${message}${code === 2 ? `\n${usage}` : ""}`);
  process.exit(code);
}

async function main() {
  let options;
  try {
    ({ values: options } = parseArgs({
      options: {
        trace: { type: "string" },
        "frame-rate": { type: "string" },
        model: { type: "string", default: DEFAULT_MODEL },
        models: { type: "string", default: MODELS },
        hop: { type: "string", default: String(DEFAULT_HOP) },
        "time-axis": { type: "string", default: "last" },
        percent: { type: "boolean", default: false },
        out: { type: "string", default: "result.json" },
      },
    }));
  } catch (error) {
    fail(error.message);
  }
  if (!options.trace) fail("--trace is required");
  if (!["first", "last"].includes(options["time-axis"])) fail(`--time-axis is first or last, not ${options["time-axis"]}`);
  const table = parseDelimited(readFileSync(options.trace, "utf8"), options.trace, { timeFirst: options["time-axis"] === "first" });
  const frameRate = options["frame-rate"] ?? table.frameRate;
  if (frameRate === undefined) fail(`${options.trace} states no frame_rate_hz; pass --frame-rate`);

  const load = async (path) => new Uint8Array(readFileSync(join(options.models, path)));
  const model = await loadModels(ort, load, options.model, { executionProviders: ["cpu"] });
  const result = await infer(ort, table.traces, frameRate, {
    model, hop: Number(options.hop), percent: options.percent, provider: "CPUExecutionProvider",
  });
  const plain = {
    ...result,
    rate: result.rate.map((r) => Array.from(r, (v) => (Number.isNaN(v) ? null : v))),
    time: undefined,
    spikeCounts: result.spikeCounts?.map((c) => Array.from(c, (v) => (Number.isNaN(v) ? null : v))),
    spikeTimes: result.spikeTimes?.map((t) => Array.from(t)),
    noiseLevel: Array.from(result.noiseLevel),
  };
  const temporary = `${options.out}.partial`;
  writeFileSync(temporary, JSON.stringify(plain));
  renameSync(temporary, options.out); // never a half-written output
  const total = result.spikeTimes ? result.spikeTimes.reduce((sum, t) => sum + t.length, 0) : 0;
  console.log(`${table.traces.length} neuron(s) at ${frameRate} Hz on ${result.model}: ${total} spikes -> ${options.out}`);
}

main().catch((error) => fail(error.message, 1));
