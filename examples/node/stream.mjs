#!/usr/bin/env node
// Stream a ΔF/F recording through an ENS² low-latency model, frame by frame, as an
// acquisition loop would, and write the 60 Hz spike rate. See README.md.
//
//   node stream.mjs --model ../../models/stream/ens2-exc-online.onnx --trace example-trace.csv --out rate.csv

import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";

import { Stream, noiseLevel } from "./ens2stream.mjs";

const usage = `usage: node stream.mjs --model M.onnx --trace T.csv [--frame-rate HZ] [--out rate.csv]
       [--noise-level NU] [--baseline-s 60] [--chunk FRAMES]
  --trace       text file, one frame per line, one comma-separated column per neuron (ΔF/F as a fraction);
                a "# frame_rate_hz=..." line gives the frame rate when --frame-rate is not passed
  --noise-level the neurons' noise level; default: estimated from the first --baseline-s seconds
  --chunk       frames per push (default 1: every frame as it is imaged)`;

function fail(message) {
  console.error(`error: ${message}\n${usage}`);
  process.exit(2);
}

/** Traces (per neuron) and the frame rate a "# frame_rate_hz=" header line states, if any. */
function readTrace(path) {
  const lines = readFileSync(path, "utf8").split(/\r?\n/).filter((line) => line.trim() !== "");
  const stated = lines.map((line) => /^#\s*frame_rate_hz=([0-9.eE+-]+)/.exec(line)).find(Boolean);
  const rows = lines.filter((line) => !line.startsWith("#")).map((line) => line.split(",").map(Number));
  const nNeurons = rows[0]?.length ?? 0;
  if (nNeurons === 0 || rows.some((row) => row.length !== nNeurons)) fail(`${path}: every line needs the same number of columns`);
  const traces = Array.from({ length: nNeurons }, (_, n) => Float64Array.from(rows, (row) => row[n])); // per neuron
  return { traces, frameRate: stated ? Number(stated[1]) : undefined };
}

async function main() {
  let options;
  try {
    ({ values: options } = parseArgs({
      options: {
        model: { type: "string" },
        trace: { type: "string" },
        "frame-rate": { type: "string" },
        out: { type: "string", default: "rate.csv" },
        "noise-level": { type: "string" },
        "baseline-s": { type: "string", default: "60" },
        chunk: { type: "string", default: "1" },
      },
    }));
  } catch (error) {
    fail(error.message);
  }
  if (!options.model || !options.trace) fail("--model and --trace are required");
  const { traces, frameRate: stated } = readTrace(options.trace);
  const frameRate = options["frame-rate"] !== undefined ? Number(options["frame-rate"]) : stated;
  const chunk = Number(options.chunk);
  if (frameRate === undefined) fail(`${options.trace} states no frame_rate_hz; pass --frame-rate`);
  if (!(frameRate > 0)) fail(`--frame-rate must be positive, not ${options["frame-rate"]}`);
  if (!(Number.isInteger(chunk) && chunk >= 1)) fail(`--chunk must be a whole number of frames, not ${options.chunk}`);

  const baseline = Math.round(Number(options["baseline-s"]) * frameRate);
  const levels = options["noise-level"] !== undefined
    ? traces.map(() => Number(options["noise-level"]))
    : traces.map((trace) => noiseLevel(trace.subarray(0, baseline), frameRate));
  const stream = await Stream.create(options.model, { nNeurons: traces.length, frameRate, noiseLevel: levels });

  const nFrames = traces[0].length;
  const rates = traces.map(() => []);
  const pushTimes = [];
  const collect = ({ rate }) => rate.forEach((values, n) => rates[n].push(...values));
  for (let first = 0; first < nFrames; first += chunk) {
    const started = performance.now();
    collect(await stream.push(traces.map((trace) => trace.subarray(first, first + chunk))));
    pushTimes.push(performance.now() - started);
  }
  collect(await stream.flush());

  const lines = [`# ${stream.contract.reach.right} samples lookahead; delay ${stream.delaySeconds.toFixed(3)} s; noise level ${levels.join(" ")}`];
  for (let j = 0; j < rates[0].length; j++) lines.push(rates.map((r) => r[j].toPrecision(9)).join(","));
  const temporary = `${options.out}.partial`;
  writeFileSync(temporary, lines.join("\n") + "\n");
  renameSync(temporary, options.out); // never a half-written output
  pushTimes.sort((a, b) => a - b);
  console.log(
    `${traces.length} neuron(s), ${nFrames} frames at ${frameRate} Hz in pushes of ${chunk}: ${rates[0].length} rate samples -> ${options.out}; ` +
      `delay ${stream.delaySeconds.toFixed(3)} s, median push ${pushTimes[pushTimes.length >> 1].toFixed(2)} ms`,
  );
}

main().catch((error) => {
  console.error(`error: ${error.message}`);
  process.exit(1);
});
