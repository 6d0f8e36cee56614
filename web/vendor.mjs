// Copy onnxruntime-web's WebAssembly build from node_modules into the Python package
// (runtime/ens2rt/web/ort/, ignored by git), so `pip install .` ships a page that runs
// offline and `ens2rt web` serves it. `--webgpu` adds the WebGPU build (29 MB more).
//
//   npm ci && npm run vendor [-- --webgpu]

import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dist = fileURLToPath(new URL("node_modules/onnxruntime-web/dist/", import.meta.url));
const target = fileURLToPath(new URL("../runtime/ens2rt/web/ort/", import.meta.url));
const files = ["ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"];
if (process.argv.includes("--webgpu")) files.push("ort.webgpu.min.mjs", "ort-wasm-simd-threaded.asyncify.mjs", "ort-wasm-simd-threaded.asyncify.wasm");

rmSync(target, { recursive: true, force: true });
mkdirSync(target, { recursive: true });
for (const file of files) copyFileSync(dist + file, target + file);
console.log(`onnxruntime-web: ${files.length} files -> ${target}`);
