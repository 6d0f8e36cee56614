"""``ens2rt``: spike inference from ΔF/F files on the command line."""

from __future__ import annotations

import logging
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer

import ens2rt
from ens2rt.errors import Ens2Error, InputWarning
from ens2rt.family import load_models
from ens2rt.model import DEFAULT_MODEL, conflicting_onnxruntimes, read_card, resolve_model_path
from ens2rt.pipeline import Progress
from ens2rt.formats import DffSettings, ReadSettings

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__, pretty_exceptions_enable=False)


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


def _version(show: bool) -> None:
    if show:
        typer.echo(f"ens2rt {ens2rt.__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """Fast ENS² spike inference from calcium imaging, on onnxruntime."""


def _fail(message: str) -> None:
    typer.echo(f"ens2rt: error: {message}", err=True)
    raise typer.Exit(1)


@contextmanager
def _own_warnings(quiet: bool) -> Iterator[None]:
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
def _progress(label: str, quiet: bool) -> Iterator[Progress | None]:
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


@app.command()
def infer(
    input: Annotated[Path, typer.Argument(help="ΔF/F: .npy .npz .mat .csv .tsv (neurons × frames), a suite2p plane folder, a CaImAn .hdf5 or an .nwb file.")],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Result: .npz, .mat, .h5, or .nwb for an NWB input (default: INPUT.ens2.npz).")] = None,
    frame_rate: Annotated[Optional[float], typer.Option("--frame-rate", "-r", help="Imaging frame rate in Hz (read from the file when it holds one).")] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="Shipped model or family name, or path to an .onnx with its card.")] = DEFAULT_MODEL,
    noise_level: Annotated[Optional[float], typer.Option(help="Run every neuron on the family member trained nearest this noise level (default: each neuron's own).")] = None,
    hop: Annotated[int, typer.Option(help="Window hop in 60 Hz samples; 1 = published pipeline (windowed models only).")] = ens2rt.DEFAULT_HOP,
    variable: Annotated[Optional[str], typer.Option(help="Variable to read from .npz/.mat files holding several.")] = None,
    time_axis: Annotated[TimeAxis, typer.Option(help="'first' if rows are frames and columns neurons.")] = TimeAxis.last,
    series: Annotated[Optional[str], typer.Option(help="NWB: name of the ΔF/F RoiResponseSeries, if several.")] = None,
    all_rois: Annotated[bool, typer.Option("--all-rois", help="suite2p: infer every ROI, not only iscell ones.")] = False,
    neuropil: Annotated[float, typer.Option(help="suite2p: neuropil coefficient.")] = DffSettings.neuropil_coefficient,
    baseline_window: Annotated[float, typer.Option(help="suite2p: running-baseline window, s.")] = DffSettings.baseline_window_s,
    baseline_percentile: Annotated[float, typer.Option(help="suite2p: running-baseline percentile.")] = DffSettings.baseline_percentile,
    device: Annotated[Device, typer.Option(help="Where onnxruntime runs the network.")] = Device.auto,
    threads: Annotated[Optional[int], typer.Option(help="CPU threads for onnxruntime (default: all).")] = None,
    provider: Annotated[Optional[list[str]], typer.Option(help="onnxruntime execution provider with options, e.g. CUDAExecutionProvider:device_id=1 (repeat, in order of preference; replaces --device).")] = None,
    spikes: Annotated[bool, typer.Option("--spikes/--no-spikes", help="Also fit discrete spike events.")] = True,
    percent: Annotated[bool, typer.Option("--percent", help="The input is ΔF/F in percent (30 = 30 %): divide it by 100.")] = False,
    input_checks: Annotated[bool, typer.Option("--input-checks/--no-input-checks", help="Stop on input that looks like percent, raw fluorescence or a transposed array.")] = True,
    empty_neurons: Annotated[EmptyNeurons, typer.Option(help="Neurons without a finite value: 'nan' rows with a warning, or 'error'.")] = EmptyNeurons.nan,
    overwrite_input: Annotated[bool, typer.Option("--overwrite-input", help="Allow -o to name a file the run reads (it is replaced by the result).")] = False,
    workers: Annotated[int, typer.Option(help="zarr: dask worker processes of a local cluster.")] = 1,
    scheduler: Annotated[Optional[str], typer.Option(help="zarr: address of a running dask scheduler.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar, summary or warnings; errors only.")] = False,
) -> None:
    """Infer spike rates and spike events from ΔF/F traces.

    Example: ens2rt infer recording.npy --frame-rate 30 -o spikes.npz

    The output is checked before inference starts (type, folder, permission) and is
    never one of the files read, unless --overwrite-input. Input that is likely not
    ΔF/F as a fraction stops the run with the fix (--percent, --time-axis first).
    """
    with _own_warnings(quiet):
        try:
            options = ens2rt.Options(hop=hop, spikes=spikes, percent=percent, input_checks=input_checks,
                                     empty_neurons=empty_neurons.value, device=device.value, threads=threads,
                                     providers=_providers(provider))  # fmt: skip
        except Ens2Error as exc:
            _fail(str(exc))
        reading = ReadSettings(frame_rate=frame_rate, variable=variable, time_first=time_axis is TimeAxis.first, series=series,
                               all_rois=all_rois, dff_settings=DffSettings(neuropil, baseline_window, baseline_percentile))  # fmt: skip
        run = {"model": model, "noise_level": noise_level, "options": options}
        if input.suffix.lower() == ".zarr":
            _infer_zarr(input, output, frame_rate, run, workers, scheduler, quiet)
        else:
            _infer(input, output or default_output(input), reading, run, overwrite_input, quiet)


def _providers(specs: list[str] | None) -> list[tuple[str, dict[str, str]]] | None:
    """``NAME[:key=value,key=value]`` per --provider, as onnxruntime takes them (values as strings)."""
    if not specs:
        return None
    providers = []
    for spec in specs:
        name, _, settings = spec.partition(":")
        pairs = [item.partition("=") for item in settings.split(",") if item]
        if any(not key or not sep for key, sep, _ in pairs):
            raise typer.BadParameter(f"{spec!r}: expected NAME or NAME:key=value,key=value", param_hint="--provider")
        providers.append((name, {key: value for key, _, value in pairs}))
    return providers


def _infer(input: Path, destination: Path, reading: ReadSettings, run: dict, overwrite_input: bool, quiet: bool) -> None:
    """Read, check, infer and write one file: what ``ens2rt infer`` does for every input but zarr."""
    from ens2rt.formats import check_destination, read_input, write_result
    from ens2rt.traces import check_frame_rate

    try:
        if reading.frame_rate is not None:
            check_frame_rate(reading.frame_rate)
        if not input.exists():
            _fail(f"{input}: no such file or folder")
        check_destination(destination, input, overwrite_input=overwrite_input)
        traces = read_input(input, reading)
        if traces.frame_rate is None:
            _fail(f"{input} holds no frame rate; pass --frame-rate HZ")
        loaded = load_models(run["model"], run["options"])
        with _progress(f"{input.name}: {np.atleast_2d(traces.dff).shape[0]} neurons", quiet) as progress:
            result = ens2rt.infer(traces.dff, traces.frame_rate, model=loaded, noise_level=run["noise_level"],
                                  options=run["options"], progress=progress)  # fmt: skip
        if destination.suffix.lower() == ".nwb":
            from ens2rt.formats.nwb import write_nwb

            write_nwb(input, destination, result, series=traces.settings.get("series"))
        else:
            write_result(destination, result, traces, {"input": str(input)})
    except Ens2Error as exc:
        _fail(str(exc))
    except OSError as exc:  # the disk filled up, a file vanished mid-run …
        _fail(f"{exc.filename or destination}: {exc.strerror or exc}")
    if not quiet:
        n_spikes = sum(t.size for t in result.spike_times) if result.spike_times is not None else 0
        typer.echo(
            f"{result.rate.shape[0]} neurons, {result.time.size / 60:.1f} s at 60 Hz, {n_spikes} spikes, "
            f"{_models_summary(result.neuron_model)} on {result.settings['provider']} -> {destination}"
        )


def _models_summary(neuron_model: np.ndarray) -> str:
    names, counts = np.unique(neuron_model, return_counts=True)
    return "model " + ", ".join(f"{name} ({count} neurons)" for name, count in zip(names, counts))


def _infer_zarr(input: Path, output: Path | None, frame_rate: float | None, run: dict, workers: int, scheduler: str | None,
                quiet: bool) -> None:  # fmt: skip
    """A zarr array on a dask cluster, with the same options as any other input."""
    if output is None or output.suffix.lower() != ".zarr":
        _fail("a .zarr input needs a .zarr output: -o OUT.zarr")
    try:
        from ens2rt.dask import infer_zarr

        destination = infer_zarr(input, output, frame_rate=frame_rate, model=run["model"], noise_level=run["noise_level"],
                                 options=run["options"], workers=workers, scheduler=scheduler, show_progress=not quiet)  # fmt: skip
    except (ImportError, Ens2Error) as exc:
        _fail(str(exc))
    if not quiet:
        typer.echo(f"wrote {destination}")


def _demo_output() -> Path:
    return Path(tempfile.gettempdir()) / "ens2rt-demo" / "ens2rt-demo.npz"


@app.command()
def demo(
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Where to write the result (default: ens2rt-demo/ in the system's temporary folder).")] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="Shipped model or family name, or .onnx path.")] = DEFAULT_MODEL,
) -> None:
    """Run inference on the shipped example recording and score it against its real spikes."""
    from ens2rt.example import load_example
    from ens2rt.formats import Traces, write_result
    from ens2rt.formats.files import check_output

    # scoring is evaluation code: it lives in ens2export (same wheel), whose metrics need numpy and scipy only
    from ens2export.groundtruth import true_rate_at_60hz
    from ens2export.metrics import correlation, error_rate

    try:
        if output is None:
            output = _demo_output()
            output.parent.mkdir(exist_ok=True)
        check_output(output)
    except Ens2Error as exc:
        _fail(str(exc))
    example = load_example()
    typer.echo(f"example: {example.source}")
    typer.echo(f"         {example.dff.size} frames at {example.frame_rate:.2f} Hz, {example.spike_times.size} recorded spikes")
    try:
        result = ens2rt.infer(example.dff, example.frame_rate, model=model)
        destination = write_result(output, result, Traces(example.dff, example.frame_rate, "ens2rt example"))
    except Ens2Error as exc:
        _fail(str(exc))
    truth = true_rate_at_60hz(example.spike_times, result.time.size)
    inferred = result.spike_times[0]
    how = f"hop {result.settings['hop']}" if result.settings["hop"] is not None else "whole trace"
    typer.echo(f"noise level {result.noise_level[0]:.2f}: {_models_summary(result.neuron_model)} on {result.settings['provider']}, {how}")
    typer.echo(f"correlation of inferred rate with recorded spikes: {correlation(result.rate[0], truth):.3f}")
    typer.echo(f"spikes inferred / recorded: {inferred.size} / {example.spike_times.size} ({_count_remark(inferred.size, example.spike_times.size)})")
    typer.echo(f"event error rate (1 - F1, +/-100 ms): {error_rate(inferred, example.spike_times, 0.1):.3f}")
    typer.echo(f"wrote {destination}")
    try:
        from ens2rt.formats.figures import plot_result, read_result

        figure = plot_result(read_result(destination), [0], destination.with_suffix(".png"), [example.spike_times], example.source)
        typer.echo(f"wrote {figure}")
    except Ens2Error as exc:  # matplotlib is optional
        typer.echo(f"no figure: {exc}")
    typer.echo("(a neuron from the shipped models' training data; held-out scores are in benchmarks/)")


def _count_remark(inferred: int, recorded: int) -> str:
    """What a user should make of the demo's spike count."""
    bias = inferred / max(recorded, 1) - 1.0
    if abs(bias) <= 0.25:
        return f"{bias:+.0%}"
    return (f"{bias:+.0%}: absolute spike counts are not calibrated yet; rates follow spiking, "
            "counts can be off by this much per neuron (bias per dataset: benchmarks/results/accuracy.md)")  # fmt: skip


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
        _fail(str(exc))


@app.command()
def info() -> None:
    """Print the version, the shipped models and the onnxruntime providers."""
    import onnxruntime

    typer.echo(f"ens2rt {ens2rt.__version__} (onnxruntime {onnxruntime.__version__})")
    both = conflicting_onnxruntimes()
    if both:
        typer.echo(f"warning: {' and '.join(both)} are both installed and overwrite each other; "
                   "keep one: pip uninstall -y onnxruntime onnxruntime-gpu && pip install onnxruntime-gpu", err=True)  # fmt: skip
    typer.echo(f"providers available: {', '.join(ens2rt.available_providers())}")
    try:
        in_use = load_models(DEFAULT_MODEL).provider
    except Ens2Error as exc:
        in_use = f"none ({exc})"
    typer.echo(f"provider in use with device=auto: {in_use}")
    typer.echo("model families (each neuron runs on the member nearest its noise level):")
    for family, members in ens2rt.available_families().items():
        typer.echo(f"  {family:<22} {', '.join(members)}" + ("  (default)" if family == DEFAULT_MODEL else ""))
    typer.echo("models:")
    for name in ens2rt.available_models():
        card = read_card(resolve_model_path(name))
        level = f"ν {card['noise_level']:.2g}" if card.get("noise_level") is not None else ""
        typer.echo(f"  {name:<22} {card['cell_class']:<11} {level:<7} {card['description']}")


def main() -> None:
    app()
