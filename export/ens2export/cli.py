"""``ens2export``: train ENS² on ground truth and write ONNX models with cards."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)

GroundTruth = Annotated[Path, typer.Option("--ground-truth", "-g", help="Folder of CASCADE-format DS* datasets.")]


def _command_line() -> str:
    return shlex.join(["ens2export", *sys.argv[1:]])


@app.command()
def train(
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder to create (weights, loss curve, run.json).")],
    ground_truth: GroundTruth,
    datasets: Annotated[Optional[list[str]], typer.Option("--dataset", "-d", help="Dataset id to train on (repeat); default: all.")] = None,
    exclude: Annotated[Optional[list[str]], typer.Option("--exclude", "-x", help="Dataset id to leave out (repeat).")] = None,
    max_steps: int = 5000,
    patience: int = 500,
    batch_size: int = 1024,
    learning_rate: float = 1e-3,
    seed: int = 0,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
) -> None:
    """Train ENS² with the published recipe, e.g. leave DS09 out:

    ens2export train -g ../shared/ground_truth -x DS09 -x DS22 -x DS23 -o runs/loo-DS09
    """
    from ens2export.dataset import load_windows
    from ens2export.train import TrainSettings
    from ens2export.train import train as run_training

    settings = TrainSettings(learning_rate=learning_rate, batch_size=batch_size, max_steps=max_steps, patience=patience, seed=seed)
    if out.exists() and any(out.iterdir()):
        raise typer.BadParameter(f"{out} exists and is not empty", param_hint="--out")
    source = load_windows(ground_truth, include=datasets, exclude=exclude or ())
    typer.echo(f"{len(source.datasets)} datasets, {source.n_neurons} neurons, {source.hours:.1f} h, {source.n_windows} windows")
    with typer.progressbar(length=settings.max_steps, label="training") as bar:

        def on_step(step: int, loss: float) -> None:
            bar.label = f"loss {loss:.4f}"
            bar.update(1)

        result = run_training(source, settings, device=device, on_step=on_step)
    write_run(out, source, settings, result)
    typer.echo(f"{result.steps} steps in {result.wall_time_s:.0f} s, final loss {result.losses[-1]:.5f} -> {out}")


def write_run(out: Path, source, settings, result) -> None:
    """Save a training run: weights.npz, losses.csv and run.json."""
    from ens2export.card import git_commit

    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "weights.npz", **result.weights)
    np.savetxt(out / "losses.csv", result.losses, fmt="%.6g", header="training MSE per step", comments="# ")
    run = {
        "datasets": list(source.datasets),
        "n_neurons": source.n_neurons,
        "hours": round(source.hours, 3),
        "n_windows": source.n_windows,
        "settings": settings.as_dict(),
        "steps": result.steps,
        "stopped_early": result.stopped_early,
        "final_loss": float(result.losses[-1]),
        "best_loss": float(result.losses.min()),
        "wall_time_s": round(result.wall_time_s, 1),
        "device": result.device,
        "command": _command_line(),
        "git_commit": git_commit(),
    }
    (out / "run.json").write_text(json.dumps(run, indent=2) + "\n")


@app.command()
def onnx(
    run: Annotated[Path, typer.Argument(help="Run folder written by `ens2export train`.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Model file to write, e.g. models/ens2-exc.onnx.")],
    cell_class: Annotated[str, typer.Option(help="excitatory or inhibitory.")] = "excitatory",
    name: Annotated[Optional[str], typer.Option(help="Model name (default: the file's stem).")] = None,
) -> None:
    """Export a training run to ONNX with its model card."""
    from ens2export.card import write_model

    run_info = json.loads((run / "run.json").read_text())
    with np.load(run / "weights.npz") as archive:
        weights = {key: archive[key] for key in archive.files}
    training = {**run_info, "export_command": _command_line()}
    card = write_model(
        weights,
        out,
        name=name or out.stem,
        cell_class=cell_class,
        description=f"ENS2 trained with the published recipe on {', '.join(run_info['datasets'])}.",
        training=training,
    )
    typer.echo(f"wrote {out} (sha256 {card['sha256'][:12]}) and {out.with_suffix('.json')}")


@app.command("convert-published")
def convert_published(
    weights: Annotated[Path, typer.Argument(help="Published ENS2 weights (.npz).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Model file to write.")],
    cell_class: Annotated[str, typer.Option(help="excitatory or inhibitory.")] = "excitatory",
    name: Annotated[Optional[str], typer.Option(help="Model name (default: the file's stem).")] = None,
) -> None:
    """Convert the published ENS2 weights to an ONNX model with a card (no PyTorch needed)."""
    from ens2export.card import write_model
    from ens2export.weights import load_published_weights

    card = write_model(
        load_published_weights(weights),
        out,
        name=name or out.stem,
        cell_class=cell_class,
        description="The published ENS2 model (Zhou et al. 2023), converted without retraining.",
        training={
            "source": weights.name,
            "datasets": "as published by the ENS2 authors (CASCADE ground truth of this cell class)",
            "command": _command_line(),
        },
        published=True,
    )
    typer.echo(f"wrote {out} (sha256 {card['sha256'][:12]}) and {out.with_suffix('.json')}")


def main() -> None:
    app()
