"""Accuracy and speed of window hops 1…48, to choose ens2rt's default hop.

    python benchmarks/hops.py run      # every dataset with a trained leave-one-out model
    python benchmarks/hops.py table

Each held-out dataset is scored with its own leave-one-out model (see accuracy.py),
so no neuron is scored by a model trained on it. The default hop is the largest
whose median correlation is within 0.002 of hop 1's.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ens2rt  # noqa: E402
from benchmarks.accuracy import export_run, run_dir  # noqa: E402
from benchmarks.common import CACHE, EXCITATORY, GROUND_TRUTH, RESULTS, median, predict_neuron  # noqa: E402
from ens2rt.groundtruth import find_datasets, load_dataset  # noqa: E402
from ens2rt.metrics import correlation  # noqa: E402

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
HOPS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48)
TOLERANCE = 0.002
HOP_RESULTS = RESULTS / "hops"


@app.command()
def run(
    dataset: Annotated[Optional[list[str]], typer.Option("--dataset", "-d")] = None,
    runs: Path = CACHE / "runs" / "published",
    ground_truth: Path = GROUND_TRUTH,
) -> None:
    """Score every hop on each held-out dataset (cached per dataset)."""
    HOP_RESULTS.mkdir(parents=True, exist_ok=True)
    for key in dataset or EXCITATORY:
        out = HOP_RESULTS / f"{key}.json"
        if out.is_file() or not (run_dir(key, runs) / "run.json").is_file():
            continue
        model = ens2rt.Model.load(export_run(key, runs), device="cpu")
        neurons = load_dataset(find_datasets(ground_truth, include=[key])[key])
        scores = {hop: [] for hop in HOPS}
        seconds = dict.fromkeys(HOPS, 0.0)
        for neuron in neurons:
            for hop in HOPS:
                started = time.perf_counter()
                prediction = predict_neuron(neuron, model, hop, spikes=False)
                seconds[hop] += time.perf_counter() - started
                scores[hop].append(correlation(prediction.rate, prediction.true_rate))
        out.write_text(json.dumps({"dataset": key, "correlation": scores, "seconds": seconds}) + "\n")
        typer.echo(f"{key}: " + ", ".join(f"hop {h} {median(scores[h]):.4f}" for h in HOPS))
    table()


@app.command()
def table(out: Path = RESULTS / "hops.md") -> None:
    """Tabulate the cached results and name the hop to use by default."""
    results = [json.loads(p.read_text()) for p in sorted(HOP_RESULTS.glob("DS*.json"))]
    if not results:
        typer.echo("nothing measured yet", err=True)
        raise typer.Exit(1)
    by_hop = {
        hop: median(median(r["correlation"][str(hop)]) for r in results) for hop in HOPS
    }
    speed = {hop: sum(r["seconds"]["1"] for r in results) / sum(r["seconds"][str(hop)] for r in results) for hop in HOPS}
    chosen = max(h for h in HOPS if by_hop[h] >= by_hop[1] - TOLERANCE)
    lines = [
        f"Held-out datasets: {', '.join(r['dataset'] for r in results)} "
        f"({sum(len(r['correlation']['1']) for r in results)} neurons), each scored by its leave-one-out model.",
        "",
        "| hop | median of dataset-median r | Δ to hop 1 | speed-up over hop 1 (measured) |",
        "|---|---|---|---|",
    ]
    for hop in HOPS:
        mark = " ← default" if hop == chosen else ""
        lines.append(f"| {hop}{mark} | {by_hop[hop]:.4f} | {by_hop[hop] - by_hop[1]:+.4f} | {speed[hop]:.1f}× |")
    lines.append(f"\nLargest hop within {TOLERANCE} of hop 1: **{chosen}**.")
    text = "\n".join(lines) + "\n"
    out.write_text(text)
    typer.echo(text)


if __name__ == "__main__":
    app()
