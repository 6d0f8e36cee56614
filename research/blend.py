"""The mean of the windowed model's and the student's rates, scored on validation folds at user frame rates.

    python -m research.blend score D      # research/results/blend/D.json
    python -m research.blend table        # research/results/blend.md

Both are the fold's seed-0 runs (``research.recipe run FOLD windowed`` and
``… conv-noise-distil1``); the rule is in ``research/findings.md``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

import ens2rt
from benchmarks.common import Prediction, median, point_sampled, report, true_rate_at_60hz
from ens2rt.engine.spikes import fit_spikes, spike_times_from_counts
from research.paired import score_fold, write_fold
from research.recipe import RESULTS, load_run

OUT = RESULTS / "blend"
RATES = (30.0, 15.0, 7.5)
RUNS = {"windowed": "windowed", "student": "conv-noise-distil1"}
app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


def predictions(neuron, models: dict, frame_rate: float) -> dict[str, Prediction]:
    """Each model's prediction of every trial of ``neuron`` point-sampled to ``frame_rate``, and their blend's."""
    parts: dict[str, dict[str, list]] = {name: {"rate": [], "spikes": []} for name in (*models, "blend")}
    truths, true_spikes, offset = [], [], 0.0
    for trial in neuron.trials:
        dff, rate = trial.dff, trial.frame_rate
        if frame_rate < rate:
            dff, rate = point_sampled(dff, rate, frame_rate), frame_rate
        if dff.size * 60.0 / rate < 96:
            continue  # shorter than one window
        rates = {name: ens2rt.infer(dff, rate, model=model, spikes=False).rate[0] for name, model in models.items()}
        rates["blend"] = np.mean([rates[name] for name in models], axis=0, dtype=np.float64).astype(np.float32)
        n_out = rates["blend"].size
        for name, r in rates.items():
            parts[name]["rate"].append(r)
            parts[name]["spikes"].append(spike_times_from_counts(fit_spikes(r), 60.0)[0] + offset)
        truths.append(true_rate_at_60hz(trial.spike_times, n_out))
        true_spikes.append(trial.spike_times[(trial.spike_times >= -0.5 / 60) & (trial.spike_times < n_out / 60)] + offset)
        offset += n_out / 60.0
    if not truths:
        return {}
    return {name: Prediction(rate=np.concatenate(p["rate"]), true_rate=np.concatenate(truths), spike_times=np.concatenate(p["spikes"]),
                             true_spike_times=np.concatenate(true_spikes)) for name, p in parts.items()}  # fmt: skip


@app.command()
def score(fold: Annotated[str, typer.Argument(help="Validation fold: B or D.")], seed: int = 0, threads: int = 2) -> None:
    """Score the windowed run, the student run and their blend on FOLD's neurons at 30, 15 and 7.5 Hz."""
    models = {name: load_run(fold, variant, seed, threads)[0] for name, variant in RUNS.items()}
    write_fold(OUT, fold, seed, score_fold(fold, RATES, lambda neuron, rate: predictions(neuron, models, rate)))


@app.command()
def table(out: Path = RESULTS / "blend.md") -> None:
    """Median r and median |bias| per fold and rate; the rule's verdict."""
    lines = ["| fold | rate | neurons | windowed r | student r | blend r | blend − windowed | windowed |bias| | blend |bias| |",
             "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    verdicts = []
    for path in sorted(OUT.glob("*.json")):
        record = json.loads(path.read_text())
        gains = []
        for label, rows in record["rates"].items():
            r = {name: median(row[f"{name}_correlation"] for row in rows) for name in ("windowed", "student", "blend")}
            bias = {name: median(abs(row[f"{name}_bias"]) for row in rows) for name in ("windowed", "blend")}
            gains.append((r["blend"] - r["windowed"], bias["blend"] - bias["windowed"]))
            lines.append(f"| {record['fold']} | {label} | {len(rows)} | {r['windowed']:.3f} | {r['student']:.3f} | {r['blend']:.3f} | "
                         f"{r['blend'] - r['windowed']:+.3f} | {bias['windowed']:.2f} | {bias['blend']:.2f} |")  # fmt: skip
        passes = all(g >= 0.005 and b <= 0.05 for g, b in gains) and np.mean([g for g, _ in gains]) >= 0.01
        verdicts.append(f"fold {record['fold']}: {'passes' if passes else 'fails'} (mean gain {np.mean([g for g, _ in gains]):+.3f})")
    report("\n".join([*lines, "", "Rule (research/findings.md): " + "; ".join(verdicts) + "."]) + "\n", out)


if __name__ == "__main__":
    app()
