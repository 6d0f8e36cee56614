"""Sweeps of inference settings on held-out ground truth, to choose ens2rt's defaults.

    python -m benchmarks.sweep hops          # window hops 1…48 → the default hop
    python -m benchmarks.sweep resamplers    # windowed sinc (streamable) against Fourier

Each held-out dataset is scored with its own leave-one-out model (see accuracy.py),
so no neuron is scored by a model trained on it. Results are cached per dataset
under ``benchmarks/results/<sweep>/`` and tabulated in ``benchmarks/results/<sweep>.md``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

import ens2rt
from benchmarks.accuracy import export_run, run_dir
from benchmarks.common import EXCITATORY, GROUND_TRUTH, RESULTS, RUNS, median, predict_neuron
from ens2export.groundtruth import find_datasets, load_dataset
from ens2rt.scoring import correlation

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
HOPS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48)
TOLERANCE = 0.002
Datasets = Annotated[Optional[list[str]], typer.Option("--dataset", "-d")]


def measure(sweep: str, variants: dict[str, dict], datasets: list[str], runs: Path, ground_truth: Path) -> list[dict]:
    """Median-ready per-neuron correlations and run times of every variant (``infer`` options)."""
    folder = RESULTS / sweep
    folder.mkdir(parents=True, exist_ok=True)
    for key in datasets:
        out = folder / f"{key}.json"
        if out.is_file() or not (run_dir(key, runs) / "run.json").is_file():
            continue
        model = ens2rt.Model.load(export_run(key, runs), device="cpu")
        neurons = load_dataset(find_datasets(ground_truth, include=[key])[key])
        scores = {name: [] for name in variants}
        seconds = dict.fromkeys(variants, 0.0)
        for neuron in neurons:
            for name, options in variants.items():
                started = time.perf_counter()
                prediction = predict_neuron(neuron, model, spikes=False, **options)
                seconds[name] += time.perf_counter() - started
                scores[name].append(correlation(prediction.rate, prediction.true_rate))
        out.write_text(json.dumps({"dataset": key, "correlation": scores, "seconds": seconds}) + "\n")
        typer.echo(f"{key}: " + ", ".join(f"{name} {median(scores[name]):.4f}" for name in variants))
    return [json.loads(p.read_text()) for p in sorted(folder.glob("DS*.json"))]


def tabulate(results: list[dict], variants: list[str], baseline: str) -> tuple[list[str], dict[str, float]]:
    by_variant = {v: median(median(r["correlation"][v]) for r in results) for v in variants}
    speed = {v: sum(r["seconds"][baseline] for r in results) / sum(r["seconds"][v] for r in results) for v in variants}
    header = [
        f"Held-out datasets: {', '.join(r['dataset'] for r in results)} "
        f"({sum(len(r['correlation'][baseline]) for r in results)} neurons), each scored by its leave-one-out model.",
        "",
        f"| setting | median of dataset-median r | Δ to {baseline} | speed relative to {baseline} (measured) |",
        "|---|---|---|---|",
    ]
    rows = [f"| {v} | {by_variant[v]:.4f} | {by_variant[v] - by_variant[baseline]:+.4f} | {speed[v]:.1f}× |" for v in variants]
    return header + rows, by_variant


@app.command()
def hops(dataset: Datasets = None, runs: Path = RUNS, ground_truth: Path = GROUND_TRUTH) -> None:
    """Score hops 1…48 (Fourier resampling) and name the largest within 0.002 of hop 1."""
    variants = {f"hop {h}": {"hop": h, "resampler": "fourier"} for h in HOPS}
    results = measure("hops", variants, dataset or EXCITATORY, runs, ground_truth)
    lines, by_variant = tabulate(results, list(variants), "hop 1")
    chosen = max(h for h in HOPS if by_variant[f"hop {h}"] >= by_variant["hop 1"] - TOLERANCE)
    lines.append(f"\nLargest hop within {TOLERANCE} of hop 1: **{chosen}** (ens2rt's default: {ens2rt.DEFAULT_HOP}).")
    _write("hops", lines)


@app.command()
def resamplers(dataset: Datasets = None, runs: Path = RUNS, ground_truth: Path = GROUND_TRUTH) -> None:
    """Score the windowed-sinc resampler against Fourier resampling at the default hop."""
    variants = {name: {"hop": ens2rt.DEFAULT_HOP, "resampler": name} for name in ("fourier", "sinc")}
    results = measure("resamplers", variants, dataset or EXCITATORY, runs, ground_truth)
    lines, _ = tabulate(results, list(variants), "fourier")
    _write("resamplers", lines)


def _write(sweep: str, lines: list[str]) -> None:
    text = "\n".join(lines) + "\n"
    (RESULTS / f"{sweep}.md").write_text(text)
    typer.echo(text)


if __name__ == "__main__":
    app()
