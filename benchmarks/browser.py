"""The browser page's speed beside the Python runtime, on the same traces, in one run.

    python -m benchmarks.browser --neurons 16 --minutes 10 --out benchmarks/results/browser.md

The page (``ens2rt web``) runs in headless Chromium driven by ``web/drive-page.mjs``
(onnxruntime-web, WebAssembly, threads: the server makes the page cross-origin isolated);
its time is the worker's inference alone, read from the page. Python runs ``ens2rt.infer``
on the CPU provider. Each side runs every model twice and the second (warm) run counts.
Needs Debian's chromium and ``cd web && npm ci && npm run vendor``.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer

import ens2rt
from benchmarks.common import REPO, report
from benchmarks.speed import FRAME_RATE, make_traces
from ens2rt.web import serve

MODELS = ("ens2-exc", "ens2-exc-conv")


def browser_seconds(traces: np.ndarray, models: tuple[str, ...], folder: Path) -> tuple[dict[str, float], str]:
    """Warm inference seconds per model in headless Chromium, and the engine the page reports."""
    np.save(folder / "traces.npy", traces.astype(np.float32))
    cases = [{"name": f"{model}-{run}", "input": "file", "files": [str(folder / "traces.npy")], "frameRate": FRAME_RATE, "model": model}
             for model in models for run in (1, 2)]  # fmt: skip
    server = serve(0)
    try:
        plan = {"url": f"http://127.0.0.1:{server.server_address[1]}/", "cases": cases}
        (folder / "plan.json").write_text(json.dumps(plan))
        subprocess.run(["node", str(REPO / "web" / "drive-page.mjs"), str(folder / "plan.json"), str(folder)], check=True,
                       env={**os.environ, "CHROMIUM": os.environ.get("CHROMIUM", "/usr/bin/chromium")})  # fmt: skip
    finally:
        server.shutdown()
    page = json.loads((folder / "report.json").read_text())
    failed = {name: case["message"] for name, case in page["cases"].items() if case["message"]}
    if failed:
        raise RuntimeError(f"the page refused the traces: {failed}")
    return {model: page["cases"][f"{model}-2"]["runSeconds"] for model in models}, page["engine"]


def python_seconds(traces: np.ndarray, models: tuple[str, ...]) -> dict[str, float]:
    """Warm ``ens2rt.infer`` seconds per model on the CPU provider."""
    seconds = {}
    for model in models:
        ens2rt.infer(traces, FRAME_RATE, model=model, device="cpu")
        started = time.perf_counter()
        ens2rt.infer(traces, FRAME_RATE, model=model, device="cpu")
        seconds[model] = time.perf_counter() - started
    return seconds


def main(
    neurons: Annotated[int, typer.Option(help="Neurons in the test recording.")] = 16,
    minutes: Annotated[float, typer.Option(help="Minutes per neuron.")] = 10.0,
    out: Annotated[Optional[Path], typer.Option(help="Markdown file for the table.")] = None,
) -> None:
    traces = make_traces(neurons, minutes)
    hours = neurons * minutes / 60
    with tempfile.TemporaryDirectory() as folder:
        page, engine = browser_seconds(traces, MODELS, Path(folder))
    python = python_seconds(traces, MODELS)
    lines = [
        f"{neurons} neurons × {minutes:g} min at {FRAME_RATE:g} Hz ({hours:.2f} neuron-hours), spikes included, warm runs, "
        f"one machine, one run. Page: headless Chromium, {engine.removeprefix('Runs on ').rstrip('.')}; Python: ens2rt.infer on "
        "onnxruntime's CPU provider.",
        "",
        "| model | page s | page neuron-hours / s | Python s | Python neuron-hours / s | page ÷ Python |",
        "|---|---|---|---|---|---|",
    ]
    for model in MODELS:
        lines.append(f"| `{model}` | {page[model]:.2f} | {hours / page[model]:.2f} | {python[model]:.2f} | {hours / python[model]:.2f} | "
                     f"{python[model] / page[model]:.2f}× |")  # fmt: skip
    report("\n".join(lines) + "\n", out)


if __name__ == "__main__":
    typer.run(main)
