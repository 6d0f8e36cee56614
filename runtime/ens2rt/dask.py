"""Inference on dask arrays: many neurons and long recordings, on one machine or a cluster.

``infer(x, frame_rate)`` takes a dask array (neurons × frames) and returns lazy dask
arrays equal to :func:`ens2rt.infer` on the whole array. Chunks over neurons are
independent. Chunks over time are extended by the frames their rate samples read
(the sinc resampler's taps and one window on each side) and keep the recording's
window alignment, so a recording split in time gives the same numbers; this is
``map_overlap`` made explicit, since the input and output grids differ (frames in,
60 Hz samples out). Spike events need whole runs of rate, so they are fitted on
the rate rechunked to full time per neuron chunk (small: float32 at 60 Hz).

Each worker process loads the model once, lazily, and reuses it (onnxruntime
sessions do not pickle). Each task runs onnxruntime on one CPU thread: parallelism
comes from dask's worker threads and processes, never from both at once; so the
options' ``device``, ``threads`` and ``providers`` do not apply here, nor
``empty_neurons`` (gaps are refused: pass finite ΔF/F).

The input is conditioned as :func:`ens2rt.infer` conditions it: its type and shape at
once, and its units (``input_checks``) from per-neuron statistics of whole rows, a
dependency of every output, so a result is never computed from input that fails them.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ens2rt.catalog.family import ModelFamily, NeuronModels, given_levels, load_models, member_choice
from ens2rt.catalog.model import DEFAULT_MODEL, Model
from ens2rt.engine.offline import frames_needed, rate_for_range
from ens2rt.engine.resample import TARGET_RATE_HZ, n_samples_at_60hz
from ens2rt.engine.spikes import fit_spikes
from ens2rt.engine.conditioning import (
    check_dtype,
    check_given_levels,
    check_orientation,
    check_units,
    to_fraction,
    unit_statistics,
    warn_all,
)
from ens2rt.engine.traces import check_frame_rate, check_length, flat_frames, flat_run_frames
from ens2rt.engine.traces import noise_level as noise_level_of
from ens2rt.errors import InputError
from ens2rt.formats.files import atomic_output, same_file
from ens2rt.options import Options, resolve_options
from ens2rt.result import count_ratios, provenance_json, run_settings, spike_total_interval

try:
    import dask.array as da
except ImportError as exc:  # an optional extra
    raise ImportError("ens2rt.dask needs dask: pip install 'ens2-runtime[dask]'") from exc

#: what ``settings["conditioning"]`` says, by ``input_checks``
DASK_CONDITIONING = {
    True: {"checks": "whole traces, when computed", "gaps": "refused"},
    False: {"checks": "values and gaps only, when computed", "gaps": "refused"},
}

_models: dict[str, Model] = {}
_lock = threading.Lock()


def worker_model(path: str) -> Model:
    """The model at ``path``, loaded once per process on the CPU with one onnxruntime thread."""
    with _lock:
        if path not in _models:
            _models[path] = Model.load(path, device="cpu", threads=1)
        return _models[path]


@dataclass(frozen=True)
class DaskResult:
    """:class:`~ens2rt.InferenceResult`'s fields as lazy dask arrays; :attr:`neuron_model` names each neuron's model."""

    rate: da.Array  #: (n_neurons, n_out) float32, lazy
    spike_counts: da.Array | None  #: (n_neurons, n_out) float32, lazy
    spike_total_interval: da.Array | None  #: (n_neurons, 2) float32, lazy, as :attr:`InferenceResult.spike_total_interval`
    noise_level: da.Array  #: (n_neurons,) float32, lazy: ENS²/CASCADE noise level of the input
    model_index: da.Array  #: (n_neurons,) int8, lazy: position in ``models`` of each neuron's model
    time: np.ndarray  #: (n_out,) s since the first frame
    model: str  #: name of the model or family asked for
    models: tuple[str, ...]  #: the models a neuron may run on
    model_sha256: dict[str, str]  #: sha256 of each of ``models``
    options: Options  #: as given
    settings: dict  #: provenance, as ``InferenceResult.settings`` (:func:`ens2rt.result.run_settings`)

    @property
    def neuron_model(self) -> da.Array:
        """(n_neurons,) lazy: the name of the model each neuron runs on, as :attr:`InferenceResult.neuron_model`."""
        names = np.array(self.models)
        return self.model_index.map_blocks(lambda index: names[index], dtype=names.dtype)

    @property
    def resampler(self) -> str:
        """The resampler used: the options', else the models' own (their contract's)."""
        return self.settings["resampler"]


def infer(x: da.Array | np.ndarray, frame_rate: float, *, model: str | Path = DEFAULT_MODEL, noise_level: float | None = None,
          options: Options | None = None, **settings: Any) -> DaskResult:  # fmt: skip
    """Lazy ENS² inference on a (neurons × frames) dask array (or any array) of finite ΔF/F.

    Unlike :func:`ens2rt.infer`, it refuses gaps: NaN frames and runs of one value a
    second or longer (padding, a held frame, a dead ROI) raise :class:`InputError`
    when computed, as does input that fails the units checks (percent, raw
    fluorescence, F/F0). A model family picks each neuron's member from its noise level
    (computed from the whole trace first) or from ``noise_level``, as
    :func:`ens2rt.infer` does.
    ``options`` (or its fields as keywords) as for :func:`ens2rt.infer`.
    """
    chosen = resolve_options(options, settings)
    frame_rate = check_frame_rate(frame_rate)
    if not isinstance(x, da.Array):
        try:
            x = da.asarray(x)
        except (TypeError, ValueError) as exc:
            raise InputError(f"ens2rt.dask.infer takes a (neurons × frames) array: {exc}") from exc
    check_dtype(x.dtype)  # complex, boolean or text: refused before anything runs
    if x.ndim != 2 or 0 in x.shape:
        raise InputError(f"expected a (neurons × frames) array, got shape {x.shape}")
    n_frames = x.shape[1]
    check_length(n_frames, frame_rate, n_rows=x.shape[0])
    hop, batch_size, spike_fit = chosen.hop, chosen.batch_size, chosen.spike_fit
    x = to_fraction(x.astype(np.float64), chosen.percent)
    if chosen.input_checks:
        if x.shape[0] > x.shape[1]:  # only then can the rows be frames; judged on a corner of the array
            corner = np.asarray(x[:2048, :2048].compute())
            check_orientation(np.where(np.isfinite(corner), corner, 0.0), frame_rate, shape=x.shape)
        check_given_levels(noise_level, frame_rate)
    loaded = load_models(model, Options(device="cpu", threads=1))  # checks the files and cards here, not on a worker
    resampler = chosen.resampler or loaded.resampler
    if resampler == "fourier":
        raise InputError("Fourier resampling needs whole traces; ens2rt.dask resamples with sinc or linear")
    if chosen.calibrate != "none":
        raise InputError(f"calibrate={chosen.calibrate!r} fits each neuron's whole trace; ens2rt.dask works in pieces of time: "
                         "use ens2rt.infer for calibrated counts")  # fmt: skip
    members = loaded.members if isinstance(loaded, ModelFamily) else (loaded,)
    paths = tuple(str(m.path) for m in members)
    n_out = n_samples_at_60hz(n_frames, frame_rate)
    # whole rows: the noise level and unit statistics, and the check for runs of one value, which a piece in time
    # cannot see whole; with input_checks, every neuron's statistics are judged together before any level is used
    statistics = x.rechunk({1: -1}).map_blocks(_whole_row_statistics, frame_rate, chunks=(x.chunks[0], (3,)), dtype=np.float64)
    if chosen.input_checks:
        statistics = statistics.rechunk({0: -1}).map_blocks(_judged, frame_rate, dtype=np.float64).rechunk({0: x.chunks[0]})
    levels = statistics[:, 0].astype(np.float32)
    contracts = loaded.contracts
    # each neuron's member and input scale, chosen as ens2rt.infer chooses them (MemberChoice pickles to the workers)
    choice = member_choice(loaded)
    chosen_by = levels if noise_level is None else da.from_array(given_levels(loaded, noise_level, x.shape[0]), chunks=(x.chunks[0],))
    model_index = chosen_by.map_blocks(lambda block: choice.index(block, frame_rate).astype(np.int8), dtype=np.int8)
    scale = da.map_blocks(lambda block, index: choice.scales(index, block, frame_rate), chosen_by, model_index, dtype=np.float64)

    frame_edges = np.cumsum((0, *x.chunks[1]))
    out_edges = np.unique(np.concatenate([[0], np.floor(frame_edges[1:-1] * TARGET_RATE_HZ / frame_rate), [n_out]]).astype(int))
    pieces = []
    for out_start, out_end in zip(out_edges[:-1], out_edges[1:]):
        first, last = frames_needed(out_start, out_end, frame_rate, hop, contracts, resampler)
        last = min(last, n_frames)
        block = x[:, first:last].rechunk({1: -1})
        pieces.append(
            da.map_blocks(
                _rate_block, block, model_index[:, None], scale[:, None], levels[:, None], first, n_frames, frame_rate,
                int(out_start), int(out_end), hop, batch_size, paths, resampler, dtype=np.float32,
                chunks=(block.chunks[0], (int(out_end - out_start),)),
            )  # fmt: skip
        )
    rate = da.concatenate(pieces, axis=1)
    counts = interval = None
    if chosen.spikes:
        counts = rate.rechunk({1: -1}).map_blocks(lambda r: fit_spikes(r, spike_fit).astype(np.float32), dtype=np.float32)
        per_model = count_ratios(members, np.arange(len(members)))  # plain numbers: the workers get these, not the models
        ratios = model_index.map_blocks(lambda index: per_model[index], new_axis=1, chunks=(model_index.chunks[0], (2,)), dtype=np.float64)
        totals = counts.sum(axis=1, keepdims=True, dtype=np.float64)  # (n, 1): blocks of neurons aligned with ratios
        interval = da.map_blocks(lambda total, ratio: spike_total_interval(total[:, 0], ratio), totals, ratios, chunks=ratios.chunks,
                                 dtype=np.float32)  # fmt: skip
    return DaskResult(rate=rate, spike_counts=counts, spike_total_interval=interval, noise_level=levels, model_index=model_index,
                      time=np.arange(n_out) / TARGET_RATE_HZ, model=loaded.name,
                      models=tuple(m.name for m in members), model_sha256={m.name: m.sha256 for m in members},
                      options=chosen, settings=run_settings(chosen, contracts, frame_rate=frame_rate, resampler=resampler,
                                                            provider="CPUExecutionProvider", noise_level=noise_level,
                                                            conditioning=DASK_CONDITIONING[chosen.input_checks]))  # fmt: skip


def _whole_row_statistics(block: np.ndarray, frame_rate: float) -> np.ndarray:
    """:func:`~ens2rt.engine.conditioning.unit_statistics` of whole rows (noise level first), refusing rows with a
    run of one value (:func:`ens2rt.engine.traces.flat_frames`)."""
    frames = np.asarray(block, dtype=np.float64)
    if flat_frames(frames, frame_rate).any():
        raise InputError(f"ens2rt.dask.infer needs ΔF/F without runs of one value ({flat_run_frames(frame_rate)} frames or "
                         "more: padding, a held frame or a dead ROI); cut them, or run ens2rt.infer, which treats them as gaps")  # fmt: skip
    return unit_statistics(frames, noise_level_of(frames, frame_rate, find_flat_runs=False))  # none, as just checked


def _judged(statistics: np.ndarray, frame_rate: float) -> np.ndarray:
    """``statistics`` of every neuron, once :func:`~ens2rt.engine.conditioning.check_units` passes them."""
    warn_all(check_units(statistics, frame_rate))  # seen where the scheduler runs in this process
    return statistics


def _rate_block(frames, model_index, scale, checked, first_frame, n_frames, frame_rate, out_start, out_end, hop, batch_size, paths,
                resampler):  # fmt: skip
    """Rate of one piece in time; ``checked``: the rows' noise levels, a dependency so the whole-row check runs first."""
    frames = np.asarray(frames, dtype=np.float64)
    if not np.isfinite(frames).all():
        raise InputError("ens2rt.dask.infer needs finite ΔF/F; bridge NaN gaps first")
    models = NeuronModels(models=tuple(worker_model(path) for path in paths), index=np.asarray(model_index)[:, 0],
                          scale=np.asarray(scale)[:, 0])  # fmt: skip
    return rate_for_range(models, frames, first_frame, n_frames, frame_rate, out_start, out_end,
                          hop=hop, batch_size=batch_size, resampler=resampler)  # fmt: skip


def infer_zarr(source: str | Path, out: str | Path, *, frame_rate: float | None = None, model: str | Path = DEFAULT_MODEL,
               noise_level: float | None = None, workers: int = 1, scheduler: str | None = None, show_progress: bool = True,
               options: Options | None = None, **settings: Any) -> Path:  # fmt: skip
    """Read a (neurons × frames) zarr array, infer on a dask cluster, write a zarr group.

    ``scheduler``: address of a running dask scheduler; otherwise a ``LocalCluster``
    of ``workers`` single-threaded processes. The output is written chunk by chunk
    into a temporary store beside ``out``, marked ``complete`` last and renamed, so
    a crash never leaves a store that looks finished.
    """
    import zarr
    from distributed import Client, LocalCluster, progress

    source, out = Path(source), Path(out)
    if same_file(out, source):
        raise InputError(f"{out} is the input {source}: the result is a new zarr store; choose another output (-o OUT.zarr)")
    if out.exists():
        raise InputError(f"{out} exists; remove it or choose another output")
    try:
        array = zarr.open_array(str(source), mode="r")
    except Exception as exc:  # zarr raises several types for a missing or foreign store
        raise InputError(f"{source}: not a zarr array ({exc})") from exc
    rate_hz = frame_rate if frame_rate is not None else array.attrs.get("frame_rate")
    if rate_hz is None:
        raise InputError(f"{source}: no frame_rate attribute; pass --frame-rate")
    result = infer(da.from_zarr(str(source)).astype(np.float64), float(rate_hz), model=model, noise_level=noise_level,
                   options=resolve_options(options, settings))  # fmt: skip
    if not out.parent.is_dir():
        raise InputError(f"cannot write {out}: the folder {out.parent} does not exist")
    cluster = None if scheduler else LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                                                  silence_logs=logging.CRITICAL)  # a refused input is one error line, not a log dump
    try:
        with atomic_output(out, directory=True) as temporary:
            with Client(scheduler or cluster) as client:
                group = zarr.open_group(str(temporary), mode="w")
                group.attrs.update({"complete": False, "model": result.model, "models": list(result.models),
                                    "model_sha256": json.dumps(result.model_sha256, sort_keys=True),
                                    "settings": provenance_json(result.settings, {"input": str(source)})})  # fmt: skip
                group.create_array("time", data=result.time)
                writes = [
                    da.to_zarr(result.rate, str(temporary), component="rate", compute=False),
                    da.to_zarr(result.noise_level, str(temporary), component="noise_level", compute=False),
                    da.to_zarr(result.model_index, str(temporary), component="model_index", compute=False),
                ]
                if result.spike_counts is not None:
                    writes.append(da.to_zarr(result.spike_counts, str(temporary), component="spike_counts", compute=False))
                    writes.append(da.to_zarr(result.spike_total_interval, str(temporary), component="spike_total_interval", compute=False))
                futures = client.compute(writes)
                if show_progress:
                    progress(futures)
                client.gather(futures)
            zarr.open_group(str(temporary), mode="r+").attrs["complete"] = True
    finally:
        if cluster is not None:
            cluster.close()
    return out
