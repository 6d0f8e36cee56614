"""Noise-matched models against the single recipe model, at native noise and at ν = 2, 4, 6, 8.

    python benchmarks/noise.py train      # 2 folds x (recipe + one model per level), ~7 min each on 2 cores
    python benchmarks/noise.py score      # degrade, infer, score (cached per dataset)
    python benchmarks/noise.py table      # markdown table

Protocol (declared, never scoring a model on data it saw): the excitatory datasets
are split into two folds, A = every other one starting with DS01 and B = the rest.
The models that score fold A were trained on fold B only, and vice versa: each of
them on half the datasets, so the absolute numbers sit below the leave-one-out
table. Per fold: the recipe model (native noise) and one model per level in
``LEVELS``. Each held-out trial is scored as recorded and degraded to every level
by white noise at its native frame rate (``ens2export.noise``, seeded per trial),
exactly what a noisier microscope adds; trials already noisier stay as they are.
Three contenders see the same traces: the recipe model alone, the noise-matched
family (the runtime picks a member per trial from its estimated ν) and OASIS.
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

from benchmarks.common import CACHE, EXCITATORY, GROUND_TRUTH, RESULTS  # noqa: E402

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
FOLDS = {"A": EXCITATORY[0::2], "B": EXCITATORY[1::2]}
LEVELS = (2.0, 4.0, 6.0, 8.0)
RUNS = CACHE / "runs" / "noise"
NOISE_RESULTS = RESULTS / "noise"


@app.callback()
def main() -> None:
    """Noise-matched models against the recipe model (see the module docstring)."""


def member_name(level: float | None) -> str:
    return "native" if level is None else f"nu{level:g}"


def run_dir(held_out_fold: str, level: float | None, runs: Path = RUNS) -> Path:
    return runs / f"heldout-{held_out_fold}" / member_name(level)


def train_one(held_out_fold: str, level: float | None, training_data: Path, runs: Path, device: str) -> str:
    from ens2export.dataset import load_windows
    from ens2export.train import TrainSettings, save_run, train

    out = run_dir(held_out_fold, level, runs)
    if (out / "run.json").is_file():
        return f"{out}: cached"
    train_on = [key for fold, keys in FOLDS.items() if fold != held_out_fold for key in keys]
    source = load_windows(training_data, include=train_on)
    settings = TrainSettings(noise_level=level)
    result = train(source, settings, device=device)
    level_option = "" if level is None else f" --level {level:g}"
    command = f"python benchmarks/noise.py train --fold {held_out_fold}{level_option} --training-data {training_data} --device {device}"
    save_run(out, source, settings, result, command)
    return f"{out}: {result.steps} steps, {result.wall_time_s:.0f} s on {result.device}, loss {result.losses[-1]:.5f}"


@app.command("train")
def train_command(
    fold: Annotated[Optional[list[str]], typer.Option(help="Held-out fold (repeat); default: A and B.")] = None,
    level: Annotated[Optional[list[float]], typer.Option(help="Noise level (repeat); default: native and every level.")] = None,
    training_data: Annotated[Path, typer.Option(help="Ground truth or an `ens2export prepare` folder.")] = GROUND_TRUTH,
    runs: Path = RUNS,
    device: str = "auto",
) -> None:
    """Train every (fold, level) model not trained yet, the recipe model of each fold first."""
    levels: list[float | None] = list(level) if level else [None, *LEVELS]
    for chosen in levels:
        for held_out in fold or list(FOLDS):
            typer.echo(train_one(held_out, chosen, training_data, runs, device))
            sys.stdout.flush()


if __name__ == "__main__":
    app()
