"""``ens2rt demo``: infer the shipped example recording and score it against its recorded spikes."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer

import ens2rt
from ens2rt.catalog.model import DEFAULT_MODEL
from ens2rt.cli.app import app, fail, models_summary
from ens2rt.errors import Ens2Error, InputError
from ens2rt.formats.results import RESULT_SUFFIXES


def _demo_output() -> Path:
    return Path(tempfile.gettempdir()) / "ens2rt-demo" / "ens2rt-demo.npz"


@app.command()
def demo(
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Result file (.npz, .mat or .h5), or a folder to write ens2rt-demo.npz into (default: ens2rt-demo/ in the system's temporary folder). A figure is written beside an .npz unless that .png exists.")] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="Shipped model or family name, or .onnx path.")] = DEFAULT_MODEL,
) -> None:
    """Run inference on the shipped example recording and score it against its real spikes."""
    from ens2rt.example import load_example
    from ens2rt.formats import Traces, write_result
    from ens2rt.formats.files import check_output

    from ens2rt.scoring import correlation, error_rate, true_rate_at_60hz

    own_folder = output is None
    try:
        if output is None:
            output = _demo_output()
            output.parent.mkdir(exist_ok=True)
        elif output.is_dir():
            output = output / _demo_output().name
        if output.suffix.lower() not in RESULT_SUFFIXES:
            raise InputError(f"{output}: the result is a .npz, .mat or .h5 file (or give a folder to write it into)")
        check_output(output)
    except Ens2Error as exc:
        fail(str(exc))
    example = load_example()
    typer.echo(f"example: {example.source}")
    typer.echo(f"         {example.dff.size} frames at {example.frame_rate:.2f} Hz, {example.spike_times.size} recorded spikes")
    try:
        result = ens2rt.infer(example.dff, example.frame_rate, model=model)
        destination = write_result(output, result, Traces(example.dff, example.frame_rate, "ens2rt example"))
    except Ens2Error as exc:
        fail(str(exc))
    truth = true_rate_at_60hz(example.spike_times, result.time.size)
    inferred = result.spike_times[0]
    how = f"hop {result.settings['hop']}" if ens2rt.Model.load(result.neuron_model[0], device="cpu").contract.windowed else "whole trace"
    typer.echo(f"noise level {result.noise_level[0]:.2f}: {models_summary(result.neuron_model)} on {result.settings['provider']}, {how}")
    typer.echo(f"correlation of inferred rate with recorded spikes: {correlation(result.rate[0], truth):.3f}")
    typer.echo(f"spikes inferred / recorded: {inferred.size} / {example.spike_times.size} ({_count_remark(inferred.size, example.spike_times.size)})")
    low, high = result.spike_total_interval[0] if result.spike_total_interval is not None else (np.nan, np.nan)
    if np.isfinite(low):
        typer.echo(f"recorded spikes likely between {low:.0f} and {high:.0f} (80 % interval from held-out neurons of this "
                   f"model's recipe; result field spike_total_interval); recorded here: {example.spike_times.size}")  # fmt: skip
    typer.echo(f"event error rate (1 - F1, +/-100 ms): {error_rate(inferred, example.spike_times, 0.1):.3f}")
    typer.echo(f"wrote {destination}")
    figure = destination.with_suffix(".png")
    if figure.exists() and not own_folder:  # a file of the user's, not a figure of an earlier demo
        typer.echo(f"no figure: {figure} exists, and the demo does not replace files it did not write")
    elif destination.suffix.lower() == ".npz":
        try:
            from ens2rt.formats.figures import plot_result, read_result

            plot_result(read_result(destination), [0], figure, [example.spike_times], example.source)
            typer.echo(f"wrote {figure}")
        except Ens2Error as exc:  # matplotlib is optional
            typer.echo(f"no figure: {exc}")
    typer.echo("(a neuron from the shipped models' training data; held-out scores are in benchmarks/)")


def _count_remark(inferred: int, recorded: int) -> str:
    """What a user should make of the demo's spike count."""
    bias = inferred / max(recorded, 1) - 1.0
    if abs(bias) <= 0.25:
        return f"{bias:+.0%}"
    return f"{bias:+.0%}: rates follow spiking closely, a neuron's count much less (bias per dataset: benchmarks/results/accuracy.md)"

