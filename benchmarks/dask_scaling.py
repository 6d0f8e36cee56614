"""Throughput of `ens2rt infer IN.zarr -o OUT.zarr` on a local dask cluster of 1 and 2 workers.

    python -m benchmarks.dask_scaling --neurons 64 --minutes 10
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer

from benchmarks.common import report
from benchmarks.speed import FRAME_RATE, make_traces
from ens2rt.dask import infer_zarr


def main(
    neurons: Annotated[int, typer.Option(help="Neurons in the test recording.")] = 64,
    minutes: Annotated[float, typer.Option(help="Minutes per neuron.")] = 10.0,
    out: Annotated[Path, typer.Option(help="Markdown file for the table.")] = None,
) -> None:
    import zarr

    dff = make_traces(neurons, minutes)
    neuron_hours = neurons * minutes / 60
    lines = [
        f"{neurons} neurons × {minutes:g} min at {FRAME_RATE:g} Hz ({neuron_hours:.1f} neuron-hours), zarr chunks of 8 neurons",
        "",
        "| workers | wall s (cluster start included) | neuron-hours / s | × 1 worker |",
        "|---|---|---|---|",
    ]
    seconds = {}
    with tempfile.TemporaryDirectory() as folder:
        source = zarr.create_array(f"{folder}/in.zarr", shape=dff.shape, chunks=(8, dff.shape[1]), dtype="float32")
        source[:] = dff
        source.attrs["frame_rate"] = FRAME_RATE
        for workers in (1, 2):
            started = time.perf_counter()
            infer_zarr(f"{folder}/in.zarr", Path(folder) / f"out{workers}.zarr", workers=workers, show_progress=False)
            seconds[workers] = time.perf_counter() - started
            lines.append(f"| {workers} | {seconds[workers]:.1f} | {neuron_hours / seconds[workers]:.2f} | {seconds[1] / seconds[workers]:.2f} |")
    text = "\n".join(lines) + "\n"
    report(text, out)


if __name__ == "__main__":
    typer.run(main)
