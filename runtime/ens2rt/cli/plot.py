"""``ens2rt plot``: draw ΔF/F, rate and spike events of a result file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ens2rt.cli.app import app, fail
from ens2rt.errors import Ens2Error


@app.command()
def plot(
    result: Annotated[Path, typer.Argument(help="A .npz written by `ens2rt infer`.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Figure file (.png, .pdf, .svg).")] = Path("ens2rt.png"),
    neurons: Annotated[str, typer.Option(help="Neurons (rows) to draw, e.g. '0,5,9'.")] = "0",
) -> None:
    """Draw ΔF/F, the inferred rate and spike events of some neurons on a shared time axis.

    Example: ens2rt plot spikes.npz --neurons 0,5,9 -o fig.png
    """
    from ens2rt.formats.figures import check_figure_output, plot_result, read_result

    try:
        chosen = [int(n) for n in neurons.replace(",", " ").split()]
    except ValueError:
        raise typer.BadParameter(f"{neurons!r} is not a list of neuron numbers", param_hint="--neurons") from None
    try:
        check_figure_output(output)
        typer.echo(f"wrote {plot_result(read_result(result), chosen, output, title=result.name)}")
    except Ens2Error as exc:
        fail(str(exc))


