"""The ``ens2rt`` command: its Typer app and what every command shares (errors, warnings, progress)."""

from __future__ import annotations

import logging
import signal
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

import ens2rt
from ens2rt.engine.offline import Progress
from ens2rt.errors import InputWarning

app = typer.Typer(add_completion=False, no_args_is_help=True, help="ens2rt: spike inference from ΔF/F files on the command line.",
                  pretty_exceptions_enable=False)  # fmt: skip

class TimeAxis(str, Enum):
    last = "last"
    first = "first"


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class EmptyNeurons(str, Enum):
    nan = "nan"
    error = "error"


class Calibrate(str, Enum):
    none = "none"
    quantal = "quantal"


def _version(show: bool) -> None:
    if show:
        typer.echo(f"ens2rt {ens2rt.__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """Fast ENS² spike inference from calcium imaging, on onnxruntime."""


def fail(message: str) -> None:
    typer.echo(f"ens2rt: error: {message}", err=True)
    raise typer.Exit(1)


@contextmanager
def own_warnings(quiet: bool) -> Iterator[None]:
    """Show ens2rt's warnings about the input as one line each (none with -q); drop those of dependencies.

    Warnings of numpy, hdmf, dask … are about their internals, not the user's data.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        logging.getLogger("distributed").setLevel(logging.ERROR)
        try:
            yield
        finally:
            if not quiet:
                for warning in caught:
                    if issubclass(warning.category, InputWarning):
                        typer.echo(f"ens2rt: warning: {warning.message}", err=True)


@contextmanager
def progress_bar(label: str, quiet: bool) -> Iterator[Progress | None]:
    """A progress callback for :func:`ens2rt.infer`; the bar appears with the first batch,
    so input errors raised before inference print nothing but the error."""
    if quiet:
        yield None
        return
    bar = None
    shown = 0

    def update(done: int, total: int) -> None:
        nonlocal bar, shown
        if bar is None:
            bar = typer.progressbar(length=total, label=label, file=sys.stderr)
            bar.__enter__()
        bar.update(done - shown)
        shown = done

    try:
        yield update
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


def default_output(input_path: Path) -> Path:
    """``rec.npy`` → ``rec.ens2.npz`` beside the input (inside a suite2p folder)."""
    if input_path.is_dir():
        return input_path / "ens2.npz"
    return input_path.with_name(input_path.stem + ".ens2.npz")



def models_summary(neuron_model: np.ndarray) -> str:
    names, counts = np.unique(neuron_model, return_counts=True)
    return "model " + ", ".join(f"{name} ({count} neurons)" for name, count in zip(names, counts))


def _stop(signum: int, frame: object) -> None:
    """SIGTERM and SIGHUP end a run as Ctrl-C does: unwinding, so no temporary output is left behind."""
    raise SystemExit(128 + signum)


def handle_stop_signals() -> None:
    """Make SIGTERM and SIGHUP unwind the run (see :func:`_stop`)."""
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _stop)


def main() -> None:
    handle_stop_signals()
    app()
