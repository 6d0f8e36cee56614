"""Probe: does the whole-trace student lose at low frame rates through its input scale?

    python -m research.noise_scale probe B     # research/results/noise_scale/B.json
    python -m research.noise_scale table       # research/results/noise_scale.md

The student run of a validation fold (``research.recipe run FOLD conv-noise-distil1``) at
30, 15 and 7.5 Hz, with the noise level (and so the input scale) estimated from the
point-sampled trace, as shipped, against an oracle from the native-rate recording. The
rule is in ``research/findings.md``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer

import ens2rt
from benchmarks.common import Prediction, median, point_sampled, report, true_rate_at_60hz
from research.paired import score_fold, write_fold
from research.recipe import RESULTS, load_run

OUT = RESULTS / "noise_scale"
RATES = (30.0, 15.0, 7.5)
SCALES = ("estimated", "oracle")
app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


def predict(neuron, model, frame_rate: float, scale: str) -> Prediction | None:
    """``neuron``'s trials point-sampled to ``frame_rate`` and run with the ``scale`` noise level."""
    import numpy as np

    rates, truths, inferred, true_spikes, offset = [], [], [], [], 0.0
    for trial in neuron.trials:
        if trial.frame_rate <= frame_rate or trial.dff.size * 60.0 / trial.frame_rate < 2 * 96:
            continue
        dff = point_sampled(trial.dff, trial.frame_rate, frame_rate)
        if dff.size * 60.0 / frame_rate < 96:
            continue
        level = None
        if scale == "oracle":  # white noise's step at the lower rate, from the native recording
            level = float(ens2rt.noise_level(trial.dff, trial.frame_rate)) * math.sqrt(trial.frame_rate / frame_rate)
        result = ens2rt.infer(dff, frame_rate, model=model, noise_level=level)
        n_out = result.time.size
        rates.append(result.rate[0])
        truths.append(true_rate_at_60hz(trial.spike_times, n_out))
        true_spikes.append(trial.spike_times[(trial.spike_times >= -0.5 / 60) & (trial.spike_times < n_out / 60)] + offset)
        inferred.append(result.spike_times[0] + offset)
        offset += n_out / 60.0
    if not rates:
        return None
    return Prediction(rate=np.concatenate(rates), true_rate=np.concatenate(truths), spike_times=np.concatenate(inferred),
                      true_spike_times=np.concatenate(true_spikes))  # fmt: skip


@app.command()
def probe(fold: Annotated[str, typer.Argument(help="Validation fold: B or D.")], seed: int = 0, threads: int = 2) -> None:
    """Score FOLD's student run at 30, 15 and 7.5 Hz with the estimated and the oracle input scale."""
    model = load_run(fold, "conv-noise-distil1", seed, threads)[0]

    def both(neuron, rate: float) -> dict:
        found = {scale: predict(neuron, model, rate, scale) for scale in SCALES}
        return found if all(p is not None for p in found.values()) else {}

    write_fold(OUT, fold, seed, score_fold(fold, RATES, both))


@app.command()
def table(out: Path = RESULTS / "noise_scale.md") -> None:
    """Median r and median |bias| with each scale, per fold and rate."""
    lines = ["| fold | rate | neurons | estimated r | oracle r | oracle − estimated | estimated |bias| | oracle |bias| |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for path in sorted(OUT.glob("*.json")):
        record = json.loads(path.read_text())
        for label, rows in record["rates"].items():
            r = {s: median(row[f"{s}_correlation"] for row in rows) for s in SCALES}
            bias = {s: median(abs(row[f"{s}_bias"]) for row in rows) for s in SCALES}
            lines.append(f"| {record['fold']} | {label} | {len(rows)} | {r['estimated']:.3f} | {r['oracle']:.3f} | "
                         f"{r['oracle'] - r['estimated']:+.3f} | {bias['estimated']:.2f} | {bias['oracle']:.2f} |")  # fmt: skip
    report("\n".join(lines) + "\n", out)


if __name__ == "__main__":
    app()
