"""``ens2rt infer``: read a file (any registered format), infer, write the result."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer

import ens2rt
from ens2rt.catalog.family import load_models
from ens2rt.catalog.model import DEFAULT_MODEL
from ens2rt.cli.app import Calibrate, Device, EmptyNeurons, TimeAxis, app, default_output, fail, models_summary, own_warnings, progress_bar
from ens2rt.engine.traces import check_frame_rate
from ens2rt.errors import Ens2Error, InputError, InputWarning
from ens2rt.formats import DffSettings, ReadSettings


@app.command()
def infer(
    ctx: typer.Context,
    input: Annotated[Path, typer.Argument(help="ΔF/F: .npy .npz .mat .csv .tsv (neurons × frames), a suite2p plane folder, a CaImAn .hdf5 or an .nwb file.")],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Result: .npz, .mat, .h5, or .nwb for an NWB input (default: INPUT.ens2.npz).")] = None,
    frame_rate: Annotated[Optional[float], typer.Option("--frame-rate", "-r", help="Imaging frame rate in Hz (read from the file when it holds one).")] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="Shipped model or family name, or path to an .onnx with its card.")] = DEFAULT_MODEL,
    noise_level: Annotated[Optional[float], typer.Option(help="Run every neuron on the family member trained nearest this noise level (default: each neuron's own).", rich_help_panel="Inference")] = None,
    hop: Annotated[int, typer.Option(help="Window hop in 60 Hz samples; 1 = published pipeline (windowed models only).", rich_help_panel="Inference")] = ens2rt.DEFAULT_HOP,
    variable: Annotated[Optional[str], typer.Option(help="Variable to read from .npz/.mat files holding several.", rich_help_panel="Array files (.npz, .mat, .csv …)")] = None,
    time_axis: Annotated[TimeAxis, typer.Option(help="'first' if rows are frames and columns neurons.", rich_help_panel="Array files (.npz, .mat, .csv …)")] = TimeAxis.last,
    series: Annotated[Optional[str], typer.Option(help="NWB: name of the ΔF/F RoiResponseSeries, if several.", rich_help_panel="NWB input")] = None,
    all_rois: Annotated[bool, typer.Option("--all-rois", help="suite2p: infer every ROI, not only iscell ones.", rich_help_panel="suite2p input")] = False,
    neuropil: Annotated[float, typer.Option(help="suite2p: neuropil coefficient.", rich_help_panel="suite2p input")] = DffSettings.neuropil_coefficient,
    baseline_window: Annotated[float, typer.Option(help="suite2p: running-baseline window, s.", rich_help_panel="suite2p input")] = DffSettings.baseline_window_s,
    baseline_percentile: Annotated[float, typer.Option(help="suite2p: running-baseline percentile.", rich_help_panel="suite2p input")] = DffSettings.baseline_percentile,
    device: Annotated[Device, typer.Option(help="Where onnxruntime runs the network.", rich_help_panel="onnxruntime")] = Device.auto,
    threads: Annotated[Optional[int], typer.Option(help="CPU threads for onnxruntime (default: all).", rich_help_panel="onnxruntime")] = None,
    provider: Annotated[Optional[list[str]], typer.Option(help="onnxruntime execution provider with options, e.g. CUDAExecutionProvider:device_id=1 (repeat, in order of preference; replaces --device).", rich_help_panel="onnxruntime")] = None,
    spikes: Annotated[bool, typer.Option("--spikes/--no-spikes", help="Also fit discrete spike events.", rich_help_panel="Inference")] = True,
    percent: Annotated[bool, typer.Option("--percent", help="The input is ΔF/F in percent (30 = 30 %): divide it by 100.", rich_help_panel="Inference")] = False,
    input_checks: Annotated[bool, typer.Option("--input-checks/--no-input-checks", help="Stop on input that looks like percent, raw fluorescence, F/F0, a fraction divided by 100 or a transposed array.", rich_help_panel="Inference")] = True,
    empty_neurons: Annotated[EmptyNeurons, typer.Option(help="Neurons without a finite value: 'nan' rows with a warning, or 'error'.", rich_help_panel="Inference")] = EmptyNeurons.nan,
    calibrate: Annotated[Calibrate, typer.Option(help="'quantal': divide each neuron's rate by the size of one spike found in its own isolated events, where that fit is decisive (docs/counts.md).", rich_help_panel="Inference")] = Calibrate.none,
    overwrite_input: Annotated[bool, typer.Option("--overwrite-input", help="Allow -o to name a file the run reads (it is replaced by the result).")] = False,
    workers: Annotated[int, typer.Option(help="zarr: dask worker processes of a local cluster.", rich_help_panel="zarr input (dask)")] = 1,
    scheduler: Annotated[Optional[str], typer.Option(help="zarr: address of a running dask scheduler.", rich_help_panel="zarr input (dask)")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar, summary or warnings; errors only.")] = False,
) -> None:
    """Infer spike rates and spike events from ΔF/F traces.

    Example: ens2rt infer recording.npy --frame-rate 30 -o spikes.npz

    The output is checked before inference starts (type, folder, permission) and is
    never one of the files read, unless --overwrite-input. Input that is likely not
    ΔF/F as a fraction stops the run with the fix (--percent, --time-axis first).
    """
    with own_warnings(quiet):
        try:  # every option is checked before any file is read
            options = ens2rt.Options(hop=hop, spikes=spikes, percent=percent, input_checks=input_checks,
                                     empty_neurons=empty_neurons.value, calibrate=calibrate.value, device=device.value, threads=threads,
                                     providers=_providers(provider))  # fmt: skip
            if frame_rate is not None:
                check_frame_rate(frame_rate)
            if noise_level is not None and not (math.isfinite(noise_level) and noise_level >= 0):
                raise InputError(f"--noise-level must be a finite number of at least 0, not {noise_level}")
            if workers < 1:
                raise InputError(f"--workers must be at least 1, not {workers}")
            dff_settings = DffSettings(neuropil, baseline_window, baseline_percentile)
        except Ens2Error as exc:
            fail(str(exc))
        _warn_unused_options(ctx, input)
        reading = ReadSettings(frame_rate=frame_rate, variable=variable, time_first=time_axis is TimeAxis.first, series=series,
                               all_rois=all_rois, dff_settings=dff_settings)  # fmt: skip
        run = {"model": model, "noise_level": noise_level, "options": options}
        if input.suffix.lower() == ".zarr":
            _infer_zarr(input, output, frame_rate, run, workers, scheduler, quiet)
        else:
            _infer(input, output or default_output(input), reading, run, overwrite_input, quiet)


#: options that only some inputs read, by the reader that reads them ("zarr": the dask path)
_OPTIONS_FOR = {
    "variable": ("array",), "time_axis": ("array",), "series": ("nwb",), "all_rois": ("suite2p",),
    "neuropil": ("suite2p",), "baseline_window": ("suite2p",), "baseline_percentile": ("suite2p",),
    "workers": ("zarr",), "scheduler": ("zarr",),
}  # fmt: skip


def _warn_unused_options(ctx: typer.Context, input: Path) -> None:
    """Warn about options given on the command line that this input does not read (they would change nothing)."""
    from ens2rt.formats import reader_for

    if input.suffix.lower() == ".zarr":
        kind = "zarr"
    else:
        try:
            kind = reader_for(input).name
        except Ens2Error:
            return  # the run stops on the input itself
    for name, kinds in _OPTIONS_FOR.items():
        if kind not in kinds and getattr(ctx.get_parameter_source(name), "name", None) == "COMMANDLINE":  # typer's own click
            flag = "--" + name.replace("_", "-")
            warnings.warn(f"{flag} applies to {' and '.join(kinds)} input only; {input} is read as {kind}, so it changes nothing",
                          InputWarning, stacklevel=2)  # fmt: skip


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

    try:
        if not input.exists():
            fail(f"{input}: no such file or folder")
        check_destination(destination, input, overwrite_input=overwrite_input)
        traces = read_input(input, reading)
        if traces.frame_rate is None:
            fail(f"{input} holds no frame rate; pass --frame-rate HZ")
        loaded = load_models(run["model"], run["options"])
        with progress_bar(f"{input.name}: {np.atleast_2d(traces.dff).shape[0]} neurons", quiet) as progress:
            result = ens2rt.infer(traces.dff, traces.frame_rate, model=loaded, noise_level=run["noise_level"],
                                  options=run["options"], progress=progress, roi_index=traces.roi_index)  # fmt: skip
        if destination.suffix.lower() == ".nwb":
            from ens2rt.formats.nwb import write_nwb

            write_nwb(input, destination, result, series=traces.settings.get("series"))
        else:
            write_result(destination, result, traces, {"input": str(input)})
    except Ens2Error as exc:
        fail(str(exc))
    except OSError as exc:  # the disk filled up, a file vanished mid-run …
        fail(f"{exc.filename or destination}: {exc.strerror or exc}")
    if not quiet:
        n_spikes = sum(t.size for t in result.spike_times) if result.spike_times is not None else 0
        typer.echo(
            f"{result.rate.shape[0]} neurons, {result.time.size / 60:.1f} s at 60 Hz, {n_spikes} spikes, "
            f"{models_summary(result.neuron_model)} on {result.settings['provider']} -> {destination}"
        )
        if result.calibration_applied is not None:
            typer.echo(f"quantal calibration decisive for {int(result.calibration_applied.sum())} of {result.rate.shape[0]} neurons "
                       "(the others keep the model's scale; settings['calibration'] says why)")  # fmt: skip


def _infer_zarr(input: Path, output: Path | None, frame_rate: float | None, run: dict, workers: int, scheduler: str | None,
                quiet: bool) -> None:  # fmt: skip
    """A zarr array on a dask cluster, with the same options as any other input."""
    if output is None or output.suffix.lower() != ".zarr":
        fail("a .zarr input needs a .zarr output: -o OUT.zarr")
    try:
        from ens2rt.dask import infer_zarr

        destination = infer_zarr(input, output, frame_rate=frame_rate, model=run["model"], noise_level=run["noise_level"],
                                 options=run["options"], workers=workers, scheduler=scheduler, show_progress=not quiet)  # fmt: skip
    except (ImportError, Ens2Error) as exc:
        fail(str(exc))
    if not quiet:
        typer.echo(f"wrote {destination}")

