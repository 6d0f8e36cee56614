"""Streaming: per-push compute of ens2rt.Stream, and what latency costs in accuracy.

    python -m benchmarks.stream_latency run --neurons 1000 --seconds 120 --chunk-s 1
    python -m benchmarks.stream_latency run --model ens2-exc-online --chunk-s 0.0334   # every frame
    python -m benchmarks.stream_latency trade      # -> results/latency.md and latency.png

``run`` pushes the shipped real recording (shifted per neuron, at 30 Hz) in chunks as
an acquisition loop would, and reports the compute time of each push against the
imaging time the chunk spans. ``trade`` puts, for each lookahead (0, 50, 100 ms and the
offline models), the stream's worst-case delay, its compute for 1,000 neurons at 30 Hz
pushed frame by frame and once a second, and the held-out accuracy of the recipe's
validation runs (``research/recipe.py``, fold D) side by side.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

import ens2rt
from ens2rt.catalog.family import load_models
from benchmarks.common import CACHE, RESULTS, median, report
from benchmarks.speed import FRAME_RATE, make_traces

app = typer.Typer(add_completion=False, no_args_is_help=True)
# (row, recipe variant, model the stream runs: a shipped name, or the variant's fold-D validation model)
TRADE = [
    ("0 ms lookahead", "online-0ms", None),
    ("50 ms lookahead", "online-50ms", None),
    ("100 ms lookahead", "online-100ms", "ens2-exc-online"),
    ("offline, convolutional", "conv-noise-distil1", "ens2-exc-conv"),
    ("offline, windowed (hop 6)", "windowed", "ens2-exc-native"),
]
FOLD = "D"


def reading(rows: list[dict]) -> str:
    """The paragraph under the table, its numbers taken from ``rows`` (the order of ``TRADE``)."""
    online, conv, windowed = rows[:3], rows[3], rows[4]
    streamed = rows[:4]  # the convolutional rows, through their streaming graphs
    frame = [r["frame_ms"] for r in streamed]
    rate_only = [r["frame_rate_only_ms"] for r in streamed]
    per_second = [1000 / r["second_ms"] for r in streamed]
    spike_share = np.median([1 - r["frame_rate_only_ms"] / r["frame_ms"] for r in streamed])
    period = 1000 / FRAME_RATE
    kept = [online[-1]["per_dataset"][d] for d in ("DS29", "DS31") if d in online[-1]["per_dataset"]]
    return (
        "**Reading.** Each 50 ms of lookahead is worth a lot: 0 → 50 → 100 ms lifts fold D from "
        + " to ".join(f"{r['r']:.2f}" for r in online)
        + f", against {conv['r']:.2f} offline for the convolutional model and {windowed['r']:.2f} for the windowed one "
        f"(seeds per row in the table, each seed in recipe.md). The red indicators (DS18–DS21, slow rise) lose most"
        + (f"; at 100 ms GCaMP7f/8m (DS29, DS31) keep {min(kept):.2f}–{max(kept):.2f}. " if kept else ". ")
        + "**Compute** (varies by about ±20 % between runs on this shared machine): convolutional models stream through "
        "their streaming graphs, which keep each layer's activations between pushes and compute every sample once, so a "
        f"frame costs what its 60 Hz samples cost: pushed frame by frame, {min(frame):.1f}–{max(frame):.1f} ms per "
        f"{period:.0f} ms frame with spike events ({period / max(frame):.0f}–{period / min(frame):.0f}× real time; the greedy "
        f"spike fit about {spike_share:.0%} of it) and {min(rate_only):.1f}–{max(rate_only):.1f} ms for the rate alone; pushed "
        f"once a second, {min(per_second):.0f}–{max(per_second):.0f}×. The windowed model answers {windowed['delay_s']:.1f} s "
        f"late and runs at {1000 / windowed['second_ms']:.1f}× real time pushed once a second, computing only at the pushes "
        "that complete windows."
    )


def push_times(model: str | Path, neurons: int, seconds: float, chunk: int, hop: int = ens2rt.DEFAULT_HOP,
               spikes: bool = True) -> tuple[np.ndarray, ens2rt.Stream]:  # fmt: skip
    """Compute time of every push after the pipeline has filled, and the stream."""
    dff = make_traces(neurons, seconds / 60)
    loaded = load_models(model, ens2rt.Options(device="cpu"))
    needs_levels = isinstance(loaded, ens2rt.ModelFamily) or loaded.contract.input_scaling != "none"
    levels = ens2rt.noise_level(dff[:, : int(60 * FRAME_RATE)], FRAME_RATE)  # from the first minute, as a host would
    stream = ens2rt.Stream(neurons, FRAME_RATE, model=loaded, noise_level=levels if needs_levels else None, hop=hop, spikes=spikes)
    times = []
    for first in range(0, dff.shape[1], chunk):
        started = time.perf_counter()
        stream.push(dff[:, first : first + chunk])
        times.append(time.perf_counter() - started)
    return np.asarray(times[int(np.ceil(stream.delay_s * FRAME_RATE / chunk)) + 1 :]), stream


@app.command()
def run(
    neurons: Annotated[int, typer.Option(help="Neurons imaged.")] = 1000,
    seconds: Annotated[float, typer.Option(help="Recording length.")] = 120.0,
    chunk_s: Annotated[float, typer.Option(help="Imaging time per push.")] = 1.0,
    hop: int = ens2rt.DEFAULT_HOP,
    model: Annotated[str, typer.Option(help="Model or family name, or .onnx path.")] = "ens2-exc",
    spikes: Annotated[bool, typer.Option(help="Fit spike events too (Stream's default).")] = True,
    out: Annotated[Path, typer.Option(help="Markdown file for the result.")] = None,
) -> None:
    """Per-push compute of one model."""
    chunk = max(1, int(round(chunk_s * FRAME_RATE)))
    steady, stream = push_times(model, neurons, seconds, chunk, hop, spikes=spikes)
    how = "hop " + str(hop) if stream.contract.kind == "windowed" else "streaming graph" if stream.uses_streaming_graph else "pieces (no streaming graph)"
    text = (
        f"{neurons} neurons at {FRAME_RATE:g} Hz, pushes of {chunk} frames ({chunk / FRAME_RATE:g} s), {how}, "
        f"{'rate and spike events' if spikes else 'rate only'}, "
        f"{steady.size} pushes timed; models {', '.join(sorted(set(stream.neuron_model)))} on {stream.models.provider}\n\n"
        "| per-push compute, mean | median | 95th percentile | max | real-time factor (imaging time / mean compute) | delay |\n"
        "|---|---|---|---|---|---|\n"
        f"| {1000 * np.mean(steady):.1f} ms | {1000 * np.median(steady):.1f} ms | {1000 * np.percentile(steady, 95):.1f} ms "
        f"| {1000 * steady.max():.1f} ms | {chunk / FRAME_RATE / np.mean(steady):.1f}× | {stream.delay_s:.3f} s |\n"
    )
    report(text, out)


def _validation(variant: str) -> tuple[list[dict], Path | None]:
    """Finished recipe runs of ``variant`` on the fold, and the model of its seed-0 run (if trained here)."""
    records = [json.loads(p.read_text()) for p in sorted((RESULTS / "recipe").glob(f"{FOLD}-{variant}-s*.json"))]
    records = [r for r in records if r["variant"] == variant]  # the glob also matches longer names (VARIANT-stretch-s0)
    model = CACHE / "runs" / "recipe" / FOLD / f"{variant}-s0" / "model.onnx"
    return records, model if model.exists() else None


@app.command()
def trade(
    neurons: Annotated[int, typer.Option(help="Neurons imaged.")] = 1000,
    seconds: Annotated[float, typer.Option(help="Recording length per timing.")] = 60.0,
) -> None:
    """Latency against accuracy: results/latency.md and results/latency.png."""
    rows = []
    for label, variant, shipped in TRADE:
        records, validation_model = _validation(variant)
        model = shipped or validation_model
        if model is None or not records:
            raise typer.BadParameter(f"{variant}: run `python research/recipe.py run {FOLD} {variant}` first")
        per_frame, stream = push_times(model, neurons, seconds, 1)
        rate_only, _ = push_times(model, neurons, seconds, 1, spikes=False)
        per_second, _ = push_times(model, neurons, seconds, int(FRAME_RATE))
        scores = [r["median_correlation"] for r in records]
        datasets = sorted(records[0]["scores"])
        rows.append({
            "label": label, "variant": variant, "model": Path(model).stem if shipped is None else shipped,
            "delay_s": stream.delay_s, "frame_ms": 1000 * float(np.mean(per_frame)), "second_ms": 1000 * float(np.mean(per_second)),
            "frame_p95_ms": 1000 * float(np.percentile(per_frame, 95)), "frame_rate_only_ms": 1000 * float(np.mean(rate_only)),
            "r": float(np.mean(scores)), "seeds": len(scores),
            "per_dataset": {d: float(np.mean([r["scores"][d]["correlation"] for r in records])) for d in datasets},
            "bias": float(np.mean([median(s["bias"] for s in r["scores"].values()) for r in records])),
        })  # fmt: skip
        typer.echo(f"{label}: delay {stream.delay_s:.3f} s, {rows[-1]['frame_ms']:.1f} ms per frame (mean), r {rows[-1]['r']:.3f}")
    datasets = list(rows[0]["per_dataset"])
    offline = rows[-2]["r"]
    lines = [
        "# Latency against accuracy",
        "",
        f"`python -m benchmarks.stream_latency trade` ({neurons} neurons at {FRAME_RATE:g} Hz, the shipped recording shifted per",
        "neuron; onnxruntime CPU on this 2-core machine). **Delay**: `Stream.delay_s`, the worst case over frame phases of",
        "the time from a rate sample's own time to the push that emits it, resampler included (pushing k frames at a",
        "time adds up to k − 1 frame periods). **Compute**: mean per push (the real-time factor is imaging time over it; a",
        "windowed stream computes only at the pushes that complete windows, hence its 95th percentile), rate and spike events",
        "(the default) unless marked rate only; convolutional models stream through their streaming graphs.",
        "**Accuracy**: held-out fold D of the recipe",
        f"validation ({', '.join(datasets)}; models trained on the other 17 excitatory datasets, `research/recipe.py`),",
        "median over datasets of the median per-neuron correlation, mean over the seeds run; never the data a model was",
        "trained on. The 100 ms row's stream runs the shipped `ens2-exc-online` (trained on all 23 datasets, same",
        "recipe) and the offline rows the shipped models; the 0 and 50 ms rows their fold-D validation models.",
        "",
        "| lookahead | delay at 30 Hz | compute per frame pushed | 95th percentile | real-time factor | per frame, rate only | real-time factor "
        "| compute per 1 s pushed | real-time factor | fold D median r | vs offline conv | seeds | " + " | ".join(datasets) + " | median bias |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|" + "---|" * len(datasets) + "---|",
    ]
    for row in rows:
        cells = " | ".join(f"{row['per_dataset'][d]:.3f}" for d in datasets)
        lines.append(
            f"| {row['label']} | {row['delay_s']:.3f} s | {row['frame_ms']:.1f} ms | {row['frame_p95_ms']:.1f} ms | {1000 / FRAME_RATE / row['frame_ms']:.1f}× "
            f"| {row['frame_rate_only_ms']:.1f} ms | {1000 / FRAME_RATE / row['frame_rate_only_ms']:.1f}× | {row['second_ms']:.0f} ms | {1000 / row['second_ms']:.1f}× | **{row['r']:.3f}** | {row['r'] - offline:+.3f} "
            f"| {row['seeds']} | {cells} | {row['bias']:+.2f} |"
        )
    lines += ["", reading(rows)]
    (RESULTS / "latency.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "latency.json").write_text(json.dumps(rows, indent=2) + "\n")
    _plot(rows, RESULTS / "latency.png")
    typer.echo(f"wrote {RESULTS / 'latency.md'}, latency.json and latency.png")


def _plot(rows: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for row in rows:
        axis.scatter(row["delay_s"], row["r"], color="tab:blue" if "lookahead" in row["label"] else "tab:gray")
        axis.annotate(row["label"], (row["delay_s"], row["r"]), textcoords="offset points", xytext=(5, 4), fontsize=8)
    axis.axvline(0.15, color="tab:red", lw=0.8, ls="--")
    axis.set_xscale("log")
    axis.set_xlim(0.01, 8.0)
    axis.set_xlabel("stream delay at 30 Hz (s, resampler included)")
    axis.set_ylabel("held-out median correlation (fold D)")
    axis.set_title("What latency costs")
    figure.tight_layout()
    figure.savefig(out, dpi=120)
    plt.close(figure)


if __name__ == "__main__":
    app()
