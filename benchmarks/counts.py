"""Spike counts with and without quantal calibration, on held-out datasets (issue 45, item 3).

    python -m benchmarks.counts score -d DS31 -d DS29 …   # every dataset with a leave-one-out fold model
    python -m benchmarks.counts table                     # writes benchmarks/results/counts.md

Each held-out dataset is run by its leave-one-out fold model of the published recipe
(``python -m benchmarks.accuracy train -d DS``), each neuron's trials one after another,
and its rate is calibrated as ``ens2rt.infer(..., calibrate="quantal")`` does
(:mod:`ens2rt.engine.quantal`). Per neuron: the count bias (rate total / recorded spikes
− 1) before and after, whether the fit was decisive and why not, and — from the ground
truth, which the runtime never sees — the spread of the rate summed over isolated events
that hold exactly one recorded spike (its coefficient of variation): where one spike's
sum scatters by more than about a third, clusters at 1, 2, 3 spikes overlap and no quantal
fit can resolve them. Correlation does not change: the calibration scales a neuron's rate.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer

import ens2rt
from benchmarks.accuracy import RUNS, export_run, run_dir
from benchmarks.common import (
    EXCITATORY,
    GROUND_TRUTH,
    INHIBITORY,
    RESULTS,
    copies_used,
    copy_mark,
    ground_truth_fingerprint,
    ground_truth_note,
    median,
    predict_neuron,
)
from ens2export.groundtruth import find_datasets, load_dataset
from ens2rt.engine import quantal

OUT = RESULTS / "counts"
app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


def single_spike_spread(rate: np.ndarray, spike_times: np.ndarray, sample_rate: float = 60.0) -> tuple[float, int]:
    """Coefficient of variation of the rate summed over isolated events holding exactly one recorded spike, and their number."""
    first, last = quantal.isolated_events(rate, sample_rate, whole=False)  # as scored: events at the ends too
    bins = np.round(np.asarray(spike_times) * sample_rate).astype(np.int64)
    half = int(round(quantal.GAP_S * sample_rate)) // 2
    counts = np.searchsorted(bins, last + half) - np.searchsorted(bins, first - half)
    sums = quantal.event_total(rate, first, last)[counts == 1]
    if sums.size < 5:
        return float("nan"), int(sums.size)
    return float(np.std(sums) / np.mean(sums)), int(sums.size)


def score_dataset(held_out: str, runs: Path = RUNS, hop: int = ens2rt.DEFAULT_HOP) -> dict:
    folder = find_datasets(GROUND_TRUTH, include=[held_out])[held_out]
    model = ens2rt.Model.load(export_run(held_out, runs), device="cpu")
    return {"dataset": held_out, "ground_truth_sha256": ground_truth_fingerprint(folder), "hop": hop, "neurons": neuron_rows(folder, model, hop)}


def neuron_rows(folder: Path, model: ens2rt.Model, hop: int = ens2rt.DEFAULT_HOP) -> list[dict]:
    """Per neuron of the dataset in ``folder``, run by ``model``: count bias before and after calibration, and the fit."""
    rows = []
    for neuron in load_dataset(folder):
        prediction = predict_neuron(neuron, model, hop, spikes=False)
        true_total = float(np.nansum(prediction.true_rate))
        fit = quantal.fit_neuron(prediction.rate)
        total = float(np.nansum(prediction.rate))
        calibrated = total / fit.unit if fit.decisive else total
        spread, n_single = single_spike_spread(prediction.rate, prediction.true_spike_times)
        rows.append({"file": neuron.path.name, "bias": total / true_total - 1.0, "calibrated_bias": calibrated / true_total - 1.0,
                     "n_true_spikes": int(prediction.true_spike_times.size), "single_spike_cv": spread, "single_spike_events": n_single,
                     **fit.as_dict()})  # fmt: skip
    return rows


@app.command()
def score(dataset: Annotated[Optional[list[str]], typer.Option("--dataset", "-d")] = None, runs: Path = RUNS) -> None:
    """Score each held-out dataset that has a fold model (cached per dataset)."""
    OUT.mkdir(parents=True, exist_ok=True)
    for key in dataset or [*EXCITATORY, *INHIBITORY]:
        if not (run_dir(key, runs) / "run.json").is_file():
            typer.echo(f"{key}: no fold model in {runs}; train it with python -m benchmarks.accuracy train -d {key}", err=True)
            continue
        record = score_dataset(key, runs)
        (OUT / f"{key}.json").write_text(json.dumps(record, indent=1) + "\n")
        typer.echo(f"{key}: " + summary_cells(record["neurons"]))


def summary_cells(rows: list[dict]) -> str:
    decisive = sum(r["decisive"] for r in rows)
    return (f"{len(rows)} | {median(abs(r['bias']) for r in rows):.2f} | {median(abs(r['calibrated_bias']) for r in rows):.2f} | "
            f"{decisive} | {median(r['n_events'] for r in rows):.0f} | {median(r['single_spike_cv'] for r in rows):.2f}")  # fmt: skip


REASONS = (("decisive", "decisive"), ("isolated events", f"fewer than {quantal.MIN_EVENTS} isolated events"),
           ("one cluster", "one cluster (Gaussian or log-normal) fits as well"), ("free means", "free means fit as well"),
           ("outside", "unit implausible"), ("", "other"))  # fmt: skip


def table_lines(records: dict[str, dict]) -> list[str]:
    lines = ["| held out | neurons | median abs bias | calibrated | decisive fits | isolated events (median) | one-spike sum CV (median) |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for key, record in records.items():
        lines.append(f"| {key}{copy_mark(key, record)} | {summary_cells(record['neurons'])} |")
    pooled = [r for record in records.values() for r in record["neurons"]]
    if len(records) > 1:
        lines.append(f"| all ({len(records)}) | {summary_cells(pooled)} |")
    lines += ground_truth_note(copies_used(records.items()))
    lines += ["", "Median over datasets of each dataset's median |count bias|, as given / calibrated: " + "; ".join(
        f"{name} ({len(group)}): {median(_median_abs(records[k], 'bias') for k in group):.2f} / "
        f"{median(_median_abs(records[k], 'calibrated_bias') for k in group):.2f}"
        for name, group in _dataset_groups(records) if group) + "."]  # fmt: skip
    reasons: dict[str, int] = {}
    for row in pooled:
        reason = next(label for key, label in REASONS if key in row["reason"])
        reasons[reason] = reasons.get(reason, 0) + 1
    lines += ["", "Why fits were not decisive (neurons): " + "; ".join(f"{reason}: {n}" for reason, n in sorted(reasons.items())) + "."]
    return lines


FAST = ("DS29", "DS31")  #: the 122 Hz datasets (jGCaMP7f, jGCaMP8m), which issue 45 asks about apart


def _median_abs(record: dict, key: str) -> float:
    return median(abs(r[key]) for r in record["neurons"])


def _dataset_groups(records: dict[str, dict]) -> list[tuple[str, list[str]]]:
    """Every dataset, the 122 Hz ones, and the slower ones."""
    keys = list(records)
    return [("all", keys), ("122 Hz, DS29 and DS31", [k for k in keys if k in FAST]), ("the slower ones", [k for k in keys if k not in FAST])]


@app.command()
def table(out: Path = RESULTS / "counts.md") -> None:
    """Write benchmarks/results/counts.md from the cached scores."""
    records = {p.stem: json.loads(p.read_text()) for p in sorted(OUT.glob("DS*.json"))} if OUT.is_dir() else {}
    text = "\n".join(["# Spike counts with quantal calibration, held out", "",
                      "Median over each dataset's neurons of |count bias| (rate total / recorded spikes − 1), as the fold model "
                      "gives it and calibrated where the quantal fit is decisive (`python -m benchmarks.counts score`, then `table`). "
                      "Correlation is unchanged by construction. One-spike sum CV: the spread of the rate summed over isolated events "
                      "that hold exactly one recorded spike (ground truth); above about 0.35, clusters at 1, 2, 3 spikes overlap.", "",
                      *table_lines(records), ""])  # fmt: skip
    out.write_text(text)
    typer.echo(text)


if __name__ == "__main__":
    app()
