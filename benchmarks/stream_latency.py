"""Per-push compute time of ens2rt.Stream: can it keep up with 1,000 neurons at 30 Hz?

    python benchmarks/stream_latency.py --neurons 1000 --seconds 120 --chunk-s 1
    python benchmarks/stream_latency.py --model ens2-exc-conv     # a convolutional (whole-trace) model

Pushes the shipped real recording (shifted per neuron, at 30 Hz) in chunks as an
acquisition loop would, and reports the compute time of each push against the
imaging time the chunk spans.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ens2rt  # noqa: E402
from benchmarks.speed import FRAME_RATE, make_traces  # noqa: E402


def main(
    neurons: Annotated[int, typer.Option(help="Neurons imaged.")] = 1000,
    seconds: Annotated[float, typer.Option(help="Recording length.")] = 120.0,
    chunk_s: Annotated[float, typer.Option(help="Imaging time per push.")] = 1.0,
    hop: int = ens2rt.DEFAULT_HOP,
    model: Annotated[str, typer.Option(help="Model or family name, or .onnx path.")] = "ens2-exc",
    out: Annotated[Path, typer.Option(help="Markdown file for the result.")] = None,
) -> None:
    dff = make_traces(neurons, seconds / 60)
    levels = ens2rt.noise_level(dff[:, : int(60 * FRAME_RATE)], FRAME_RATE)  # from the first minute, as a host would
    stream = ens2rt.Stream(neurons, FRAME_RATE, model=model, noise_level=levels, hop=hop, device="cpu")
    chunk = max(1, int(round(chunk_s * FRAME_RATE)))
    times = []
    for first in range(0, dff.shape[1], chunk):
        started = time.perf_counter()
        stream.push(dff[:, first : first + chunk])
        times.append(time.perf_counter() - started)
    steady = np.asarray(times[int(np.ceil(stream.delay_s / chunk_s)) + 1 :])  # after the pipeline has filled
    text = (
        f"{neurons} neurons at {FRAME_RATE:g} Hz, pushes of {chunk} frames ({chunk / FRAME_RATE:g} s), "
        f"{'hop ' + str(hop) if stream.contract.kind == 'windowed' else 'whole-trace (convolutional)'}, "
        f"{len(times)} pushes; models {', '.join(sorted(set(stream.neuron_model)))} on {stream.models.provider}\n\n"
        "| per-push compute, median | 95th percentile | max | real-time factor (imaging time / compute time) | output delay |\n"
        "|---|---|---|---|---|\n"
        f"| {1000 * np.median(steady):.0f} ms | {1000 * np.percentile(steady, 95):.0f} ms | {1000 * steady.max():.0f} ms "
        f"| {chunk / FRAME_RATE / np.median(steady):.1f}× | {stream.delay_s:.2f} s ({stream.delay_frames} frames) |\n"
    )
    typer.echo(text)
    if out is not None:
        out.write_text(text)


if __name__ == "__main__":
    typer.run(main)
