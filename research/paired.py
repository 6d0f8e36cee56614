"""Paired scores on a validation fold: every neuron at each frame rate, by several predictions of it at once.

Shared by the probes that compare ways of running the same fold runs (``research.blend``,
``research.noise_scale``): one JSON per fold, rows of ``{name}_correlation`` and ``{name}_bias``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import typer

from benchmarks.common import GROUND_TRUTH, Prediction, score_prediction
from benchmarks.frame_rates import rate_label
from research.recipe import FOLDS

Predict = Callable[[object, float], dict[str, Prediction]]  # (neuron, frame rate) → predictions by name; {} to skip it


def score_fold(fold: str, rates: tuple[float, ...], predict: Predict) -> dict[str, list[dict]]:
    """Per rate label, one row per neuron of FOLD recorded faster than that rate: each prediction's r and count bias."""
    from ens2export.groundtruth import find_datasets, load_dataset

    rows: dict[str, list[dict]] = {rate_label(r): [] for r in rates}
    for key, folder in find_datasets(GROUND_TRUTH, include=FOLDS[fold]).items():
        for neuron in load_dataset(folder):
            for rate in rates:
                if not any(trial.frame_rate > rate for trial in neuron.trials):
                    continue
                found = predict(neuron, rate)
                if found:
                    scores = {name: score_prediction(p) for name, p in found.items()}
                    rows[rate_label(rate)].append({"dataset": key, "file": neuron.path.name,
                                                   **{f"{n}_{m}": s[m] for n, s in scores.items() for m in ("correlation", "bias")}})
        typer.echo(f"{fold} {key} scored")
    return rows


def write_fold(out: Path, fold: str, seed: int, rows: dict[str, list[dict]]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{fold}.json").write_text(json.dumps({"fold": fold, "seed": seed, "rates": rows}, indent=1) + "\n")
