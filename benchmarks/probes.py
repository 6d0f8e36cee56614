"""Inference-time probes: ways to run a trained model differently, scored on the validation folds.

Nothing here trains. Each probe takes a finished run of ``benchmarks/recipe.py`` (trained
on three folds) and scores its held-out fold under several inference settings, so a
setting is chosen on validation data like every recipe choice, never on the reporting
tables. The settings probed here are not runtime options; each probe swaps one engine
step for the duration of the command (:func:`swapped`), and a setting that wins would
become a runtime option before anything ships with it.

    python benchmarks/probes.py overlap-weights D     # windowed: tapered overlap-add at large hops
    python benchmarks/probes.py phase-ensemble C      # convolutional: average over pooling phases
    python benchmarks/probes.py table                 # benchmarks/results/probes.md

One JSON per probe lands in ``benchmarks/results/probes/``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import RESULTS, median  # noqa: E402

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
OUT = RESULTS / "probes"
WINDOW = 96
#: overlap-add weight of each of a window's 96 outputs: uniform is the published rule;
#: hann (sin², sums to one at hop 48) trusts a window's centre over its edges
OVERLAP_WEIGHTS = {"uniform": np.ones(WINDOW), "hann": np.sin(np.pi * (np.arange(WINDOW) + 0.5) / WINDOW) ** 2}
OVERLAP_SETTINGS = ((6, "uniform"), (48, "uniform"), (48, "hann"), (32, "hann"), (24, "hann"), (16, "hann"))
PHASE_SETS = {"1": (0,), "2": (0, 4), "4": (0, 2, 4, 6), "8": tuple(range(8))}


@contextmanager
def swapped(owner: Any, name: str, replacement: Callable) -> Iterator[None]:
    """``owner.name`` is ``replacement`` inside the block, and what it was after it."""
    original = getattr(owner, name)
    setattr(owner, name, replacement)
    try:
        yield
    finally:
        setattr(owner, name, original)


def weighted_overlap(weights: np.ndarray) -> tuple[Callable, Callable]:
    """An overlap-add and its divisor (``ens2rt.engine.windows``' pair) with each window output weighted by position."""

    def overlap_add(accumulator_flat: np.ndarray, offsets: np.ndarray, outputs: np.ndarray) -> None:
        for offset in range(WINDOW):
            accumulator_flat[offsets + offset] += weights[offset] * outputs[:, offset]

    def coverage_at(padded_index: np.ndarray, hop: int) -> np.ndarray:
        total = np.zeros(padded_index.shape)
        for offset in range(WINDOW):  # the window starting `offset` samples earlier, real or (past the ends) virtual
            total += np.where((padded_index - offset) % hop == 0, weights[offset], 0.0)
        return total

    return overlap_add, coverage_at


def phase_averaged(run: Callable, phases: tuple[int, ...]) -> Callable:
    """``Model.run`` averaged over the input shifted by each of ``phases`` samples (a convolutional model's pooling phases).

    The shifted copies are padded with 8 zeros at each end; a piece's context (56 samples, reach 51)
    keeps every output the engine keeps equal to the unshifted network's but for the phase.
    """

    def run_phases(self, inputs: np.ndarray) -> np.ndarray:
        if self.contract.kind != "convolutional":
            return run(self, inputs)
        length = inputs.shape[1]
        padded = np.pad(inputs, ((0, 0), (8, 8)))
        total = np.zeros(inputs.shape)
        for shift in phases:
            total += run(self, np.ascontiguousarray(padded[:, 8 - shift : length + 16 - shift]))[:, shift : shift + length]
        return (total / len(phases)).astype(np.float32)

    return run_phases


def summarise(scores: dict) -> dict:
    correlations = [row["correlation"] for row in scores.values()]
    return {"per_dataset": scores, "median_r": median(correlations), "mean_r": float(np.mean(correlations))}


def save(name: str, record: dict) -> None:
    record["command"] = "python benchmarks/probes.py " + " ".join(sys.argv[1:])
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")


@app.command("overlap-weights")
def overlap_weights(
    fold: Annotated[str, typer.Argument(help="Validation fold: A, B, C or D.")],
    variant: str = "windowed",
    seed: int = 0,
) -> None:
    """Score a windowed run at hops 6 to 48 with uniform or tapered overlap-add."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from functools import partial

    import ens2rt
    import ens2rt.engine.offline as offline
    from benchmarks.recipe import FOLDS, load_run, score_fold

    model, _ = load_run(fold, variant, seed, threads=1)
    settings = {}
    for hop, weights in OVERLAP_SETTINGS:
        add, divisor = weighted_overlap(OVERLAP_WEIGHTS[weights])
        started = time.perf_counter()
        with swapped(offline, "overlap_add", add), swapped(offline, "coverage_at", divisor), swapped(ens2rt, "infer", partial(ens2rt.infer, hop=hop)):
            settings[f"hop {hop}, {weights}"] = {**summarise(score_fold(model, FOLDS[fold])), "seconds": time.perf_counter() - started}
        typer.echo(f"{fold} hop {hop} {weights}: mean r {settings[f'hop {hop}, {weights}']['mean_r']:.4f}")
    save(f"overlap-{fold}-{variant}-s{seed}", {"probe": "overlap-weights", "fold": fold, "run": f"{variant}-s{seed}", "settings": settings})


@app.command("phase-ensemble")
def phase_ensemble(
    fold: Annotated[str, typer.Argument(help="Validation fold: A, B, C or D.")],
    variant: str = "conv-noise",
    seed: int = 0,
) -> None:
    """Score a convolutional run averaged over 1, 2, 4 or 8 pooling phases of its input."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from benchmarks.recipe import FOLDS, load_run, score_fold
    from ens2rt.catalog.model import Model

    model, _ = load_run(fold, variant, seed, threads=1)
    settings = {}
    for name, phases in PHASE_SETS.items():
        with swapped(Model, "run", phase_averaged(Model.run, phases)):
            settings[f"{name} phases"] = summarise(score_fold(model, FOLDS[fold]))
        typer.echo(f"{fold} {name} phases: mean r {settings[f'{name} phases']['mean_r']:.4f}")
    save(f"phases-{fold}-{variant}-s{seed}", {"probe": "phase-ensemble", "fold": fold, "run": f"{variant}-s{seed}", "settings": settings})


@app.command()
def table(out: Path = RESULTS / "probes.md") -> None:
    """Write the markdown table of every probe run so far."""
    lines = ["# Inference-time probes on the validation folds", "",
             "Regenerate: `python benchmarks/probes.py table` (each probe's command is in its JSON under",
             "`benchmarks/results/probes/`). Median and mean over the fold's datasets of the median per-neuron",
             "correlation; the model is a `benchmarks/recipe.py` run that never saw the fold.", ""]  # fmt: skip
    for path in sorted(OUT.glob("*.json")):
        record = json.loads(path.read_text())
        datasets = list(next(iter(record["settings"].values()))["per_dataset"])
        lines += [f"## {record['probe']}, fold {record['fold']}, run {record['run']} (`{record['command']}`)", "",
                  f"| setting | {' | '.join(datasets)} | median r | mean r |", "|---|" + "---|" * (len(datasets) + 2)]  # fmt: skip
        for name, row in record["settings"].items():
            cells = " | ".join(f"{row['per_dataset'][d]['correlation']:.3f}" for d in datasets)
            lines.append(f"| {name} | {cells} | {row['median_r']:.3f} | {row['mean_r']:.3f} |")
        lines.append("")
    out.write_text("\n".join(lines))
    typer.echo("\n".join(lines))


if __name__ == "__main__":
    app()
