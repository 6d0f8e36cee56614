"""Throughput of ens2rt beside the published ENS² pipeline and OASIS, in one run.

    python -m benchmarks.speed run                      # 20 neurons x 10 min at 30 Hz, CPU
    python -m benchmarks.speed run --frame-rate 120     # the same at ~120 Hz (GCaMP8-style imaging)
    python -m benchmarks.speed run --conv-model PATH    # add a convolutional (whole-trace) model's row
    python -m benchmarks.speed run --device cuda        # ens2rt on onnxruntime's CUDA provider

Every method runs in its own process on the same traces (the shipped real
recording, circularly shifted per neuron and resampled to 30 Hz), so peak memory
is its own. Speeds are neuron-hours of recording per second of wall time, with
ratios to the published pipeline; the machine is shared, so only ratios measured
in one run mean anything.
"""

from __future__ import annotations

import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

import ens2rt
from benchmarks.common import REPO, SHARED, report
from ens2rt.catalog.model import DEFAULT_MODEL

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
FRAME_RATE = 30.0
METHODS = ("published", "ens2rt-hop1", "ens2rt-default", "ens2rt-conv", "oasis")  # hop1: Fourier; default: the default model, hop 6, sinc


def make_traces(n_neurons: int, minutes: float, frame_rate: float = FRAME_RATE, seed: int = 0) -> np.ndarray:
    """Real-looking ΔF/F: the shipped recording (60 Hz) resampled to ``frame_rate``, shifted differently per neuron."""
    from fractions import Fraction

    from scipy.signal import resample_poly

    example = ens2rt.example.load_example()
    ratio = Fraction(frame_rate / 60.0).limit_denominator(100)
    base = resample_poly(example.dff.astype(np.float64), ratio.numerator, ratio.denominator)
    n_frames = int(minutes * 60 * frame_rate)
    tiled = np.resize(base, n_frames + base.size)
    shifts = np.random.default_rng(seed).integers(0, base.size, n_neurons)
    return np.stack([tiled[s : s + n_frames] for s in shifts]).astype(np.float32)


def flops_per_window() -> float:
    """Multiply-adds × 2 of one 96-sample window through the U-Net (convolutions only)."""
    from ens2export.architecture import Network

    length = {"encoder1": 96, "encoder2": 48, "encoder3": 24, "bottleneck": 12, "decoder3": 24, "decoder2": 48, "decoder1": 96}
    total = 0.0
    for name, shape in Network().shapes().items():
        if not name.endswith("weight"):
            continue
        stem = name.split(".")[0]
        if stem.startswith("upconv"):  # (in, out, 2) producing 2× the input length
            total += 2 * np.prod(shape) * {"upconv3": 12, "upconv2": 24, "upconv1": 48}[stem]
        else:
            total += 2 * np.prod(shape) * length.get(stem, 96)
    return float(total)


def measured_peak_gflops() -> float:
    """float32 matrix-product throughput of this machine through numpy's BLAS: a practical peak."""
    a = np.random.default_rng(0).random((2048, 2048), dtype=np.float32)
    a @ a
    started = time.perf_counter()
    for _ in range(5):
        a @ a
    return 5 * 2 * 2048**3 / (time.perf_counter() - started) / 1e9


def _run_published(dff: np.ndarray, frame_rate: float) -> dict:
    from benchmarks import published_pipeline
    from ens2export.network import from_weights
    from ens2export.weights import load_published_weights

    weights = SHARED / "reference" / "ens2_published_exc_weights.npz"
    if weights.is_file():
        model = from_weights(load_published_weights(weights)).eval()
    else:  # same network and cost with the shipped copy of the published weights
        from ens2export.network import ENS2UNet

        model = ENS2UNet().eval()
    rate_s = spikes_s = 0.0
    for trace in dff:
        started = time.perf_counter()
        rate = published_pipeline.rate(model, trace, frame_rate)
        rate_s += time.perf_counter() - started
        started = time.perf_counter()
        published_pipeline.spikes(rate)
        spikes_s += time.perf_counter() - started
    return {"seconds": rate_s + spikes_s, "breakdown": {"rate (network and overlap loop)": rate_s, "spike fitting": spikes_s}}


def _run_ens2rt(dff: np.ndarray, frame_rate: float, hop: int, device: str, resampler: str, model_name: str = "ens2-published-exc") -> dict:
    """One ens2rt run of ``model_name`` (a model or a family, loaded once as ``infer`` would), timed by stage."""
    from ens2rt.catalog.family import load_models
    from ens2rt.engine.timing import stage_times

    model = load_models(model_name, ens2rt.Options(device=device))
    n_out = round(dff.shape[1] * 60 / frame_rate)
    windows = dff.shape[0] * len(range(0, n_out, hop))
    ens2rt.infer(dff[:1, : int(10 * frame_rate)], frame_rate, model=model, hop=hop, resampler=resampler)  # warm-up
    with stage_times() as stages:  # the engine's own stage timers
        started = time.perf_counter()
        result = ens2rt.infer(dff, frame_rate, model=model, hop=hop, resampler=resampler)
        seconds = time.perf_counter() - started
    totals = dict(stages)
    totals["other (checks, noise level, gaps, scaling)"] = seconds - sum(totals.values())
    ran = dict(zip(*np.unique(result.neuron_model, return_counts=True)))
    row = {"seconds": seconds, "provider": model.provider, "breakdown": dict(totals), "model": model.name,
           "neurons_per_model": {str(name): int(n) for name, n in ran.items()}}  # fmt: skip
    if all(contract.kind == "windowed" for contract in model.contracts):
        row["network_gflops"] = windows * flops_per_window() / totals["onnxruntime"] / 1e9
    return row


def _run_oasis(dff: np.ndarray) -> dict:
    from oasis.functions import deconvolve

    started = time.perf_counter()
    for trace in dff.astype(np.float64):
        deconvolve(trace, penalty=1)
    return {"seconds": time.perf_counter() - started}


@app.command()
def one(method: str, neurons: int, minutes: float, device: str = "cpu", frame_rate: float = FRAME_RATE, conv_model: str = "") -> None:
    """Time one method in this process and print JSON (used by `run`)."""
    dff = make_traces(neurons, minutes, frame_rate)
    if method == "published":
        result = _run_published(dff, frame_rate)
    elif method == "ens2rt-hop1":
        result = _run_ens2rt(dff, frame_rate, 1, device, "fourier")  # the published pipeline's numbers
    elif method == "ens2rt-default":
        result = _run_ens2rt(dff, frame_rate, ens2rt.DEFAULT_HOP, device, ens2rt.engine.resample.DEFAULT_RESAMPLER, DEFAULT_MODEL)
    elif method == "ens2rt-conv":
        result = _run_ens2rt(dff, frame_rate, ens2rt.DEFAULT_HOP, device, ens2rt.engine.resample.DEFAULT_RESAMPLER, conv_model)
    elif method == "oasis":
        result = _run_oasis(dff)
    else:
        raise typer.BadParameter(f"unknown method {method}; one of {', '.join(METHODS)}")
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    typer.echo(json.dumps(result))


@app.command()
def run(
    neurons: Annotated[int, typer.Option(help="Neurons in the test recording.")] = 20,
    minutes: Annotated[float, typer.Option(help="Minutes of recording per neuron.")] = 10.0,
    device: Annotated[str, typer.Option(help="cpu or cuda for the ens2rt rows.")] = "cpu",
    frame_rate: Annotated[float, typer.Option(help="Frame rate of the test recording, Hz.")] = FRAME_RATE,
    conv_model: Annotated[str, typer.Option(help="A convolutional model (name or .onnx) for the ens2rt-conv row; none: no row.")] = "",
    out: Annotated[Path, typer.Option(help="Markdown file for the table.")] = None,
) -> None:
    """Time every method on the same recording and print the table."""
    neuron_hours = neurons * minutes / 60
    rows = {}
    for method in METHODS:
        if method == "ens2rt-conv" and not conv_model:
            continue
        command = [sys.executable, "-m", "benchmarks.speed", "one", method, str(neurons), str(minutes), "--device", device,
                   "--frame-rate", str(frame_rate), "--conv-model", conv_model]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
        if done.returncode != 0:
            typer.echo(f"{method} failed:\n{done.stderr[-2000:]}", err=True)
            continue
        rows[method] = json.loads(done.stdout.strip().splitlines()[-1])
    baseline = rows.get("published", {}).get("seconds")
    peak = measured_peak_gflops()
    lines = [
        f"{neurons} neurons × {minutes:g} min at {frame_rate:g} Hz ({neuron_hours:.2f} neuron-hours); "
        f"{platform.processor() or platform.machine()}, numpy sgemm peak {peak:.0f} GFLOP/s",
        "",
        "| method | wall s | neuron-hours / s | × published | peak memory MB | provider | network GFLOP/s (% of sgemm peak) |",
        "|---|---|---|---|---|---|---|",
    ]
    for method, row in rows.items():
        ratio = f"{baseline / row['seconds']:.1f}" if baseline else "n/a"
        gflops = f"{row['network_gflops']:.1f} ({100 * row['network_gflops'] / peak:.0f} %)" if "network_gflops" in row else ""
        lines.append(
            f"| {method} | {row['seconds']:.2f} | {neuron_hours / row['seconds']:.2f} | {ratio} | "
            f"{row['peak_rss_mb']:.0f} | {row.get('provider', 'torch CPU' if method == 'published' else '')} | {gflops} |"
        )
    lines.append("")
    for method, row in rows.items():
        if "model" in row:
            ran = row.get("neurons_per_model", {})
            lines.append(f"- {method}: model {row['model']}" + (f" ({', '.join(f'{n} neurons on {m}' for m, n in ran.items())})"
                                                                 if ran and list(ran) != [row["model"]] else ""))  # fmt: skip
    for method, row in rows.items():
        if "breakdown" in row:
            parts = ", ".join(f"{k} {v:.2f} s" for k, v in sorted(row["breakdown"].items(), key=lambda kv: -kv[1]))
            lines.append(f"\n{method}: {parts}")
    text = "\n".join(lines) + "\n"
    report(text, out)


if __name__ == "__main__":
    app()
