"""Offline inference: ΔF/F traces in, spike rates and spike events out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ens2rt.catalog.family import ModelFamily, NeuronModels, assign_models, load_models
from ens2rt.catalog.model import DEFAULT_MODEL, Model
from ens2rt.engine import whole_trace
from ens2rt.engine.contract import Contract
from ens2rt.engine.resample import (
    DEFAULT_RESAMPLER,
    TARGET_RATE_HZ,
    local_resampler,
    n_samples_at_60hz,
    resample_to_60hz,
)
from ens2rt.engine.quantal import fit_neuron
from ens2rt.engine.spikes import fit_spikes, spike_times_from_counts
from ens2rt.engine.conditioning import as_trace_matrix, condition
from ens2rt.engine.traces import check_frame_rate, check_length, gap_mask_at_60hz, row_blocks
from ens2rt.engine.windows import (
    HALF_WINDOW,
    WINDOW,
    coverage_at,
    covering_windows,
    gather_windows,
    overlap_add,
    window_batches,
    window_starts,
)
from ens2rt.errors import InputError
from ens2rt.options import Options, resolve_options
from ens2rt.result import InferenceResult, count_ratios, run_settings, spike_total_interval

#: what ``settings["conditioning"]`` says of an offline run
WHOLE_TRACES = {"checks": "whole traces", "gaps": "interpolated; rate and spikes NaN there"}
# Neurons are resampled and windowed in blocks of about this many 60 Hz samples,
# so memory stays bounded however many neurons a recording has.
BLOCK_SAMPLES = 1 << 20

Progress = Callable[[int, int], None]


def infer(
    dff: np.ndarray,
    frame_rate: float,
    *,
    model: str | Path | Model | ModelFamily = DEFAULT_MODEL,
    noise_level: float | np.ndarray | None = None,
    options: Options | None = None,
    progress: Progress | None = None,
    roi_index: np.ndarray | None = None,
    **settings: Any,
) -> InferenceResult:
    """Infer spike rates (and spike events) from ΔF/F traces.

    ``dff``: (n_neurons, n_frames) or (n_frames,) raw ΔF/F (0.3 = 30 %), or in percent
    with ``percent=True``; NaN frames are bridged for the network and come back as
    NaN. So do runs of one value lasting a second or more (padding, a held frame, a
    dead ROI: no recording repeats a value that long), with a warning. A neuron
    without any finite frame comes back as a NaN row with an
    :class:`~ens2rt.errors.InputWarning` (``empty_neurons="error"`` refuses it
    instead, as it refuses a neuron that is one value throughout). Input that is most
    likely not ΔF/F as a fraction (percent, raw fluorescence, F/F0, a fraction divided
    by 100, a transposed array) raises :class:`InputError` saying how to fix it;
    ``input_checks=False`` skips those checks. ``frame_rate``: Hz.
    ``model``: a shipped model or family name, an ``.onnx`` path with its card, or a
    loaded :class:`Model` or :class:`ModelFamily`. A family (the default) runs each
    neuron on the member trained nearest its noise level, estimated from its trace
    or given as ``noise_level`` (one value or one per neuron); ``neuron_model`` says
    which ran. ``options`` (an :class:`~ens2rt.Options`), or its fields as keywords
    (``hop=1, spike_fit="published"`` …, applied on top of ``options``): hop, resampler
    (the model's own by default; ``"fourier"`` with ``hop=1`` and
    ``spike_fit="published"`` reproduces ENS²'s numbers), spike fit, percent, input
    checks, device, threads, providers …; ``settings["options"]`` records them.
    ``progress(done, total)`` is called as batches finish. ``roi_index``: the source's
    number of each row (suite2p's ROI numbers …), so messages name neurons as the user does.
    """
    chosen = resolve_options(options, settings)
    rate_hz = check_frame_rate(frame_rate)
    traces = as_trace_matrix(dff)
    check_length(traces.shape[1], rate_hz, n_rows=traces.shape[0])
    ready = condition(traces, rate_hz, percent=chosen.percent, input_checks=chosen.input_checks,
                      empty_neurons=chosen.empty_neurons, roi_index=roi_index, noise_level_given=noise_level)  # fmt: skip
    hop, spike_fit, batch_size, spikes = chosen.hop, chosen.spike_fit, chosen.batch_size, chosen.spikes
    filled, gaps, levels = ready.filled, ready.gaps, ready.noise_level
    loaded = load_models(model, chosen)
    resampler = chosen.resampler or loaded.resampler

    runners = assign_models(loaded, levels, noise_level, frame_rate=rate_hz)
    rate = rate_from_traces(runners, filled, rate_hz, hop=hop, batch_size=batch_size, resampler=resampler, progress=progress)
    n_out = rate.shape[1]
    masked = gap_mask_at_60hz(gaps, rate_hz, n_out) if gaps.any() else None

    units = applied = calibration = None
    if chosen.calibrate == "quantal":  # on the rate as it will be returned (NaN in gaps), before the spike fit
        fits = [fit_neuron(np.where(masked[row], np.nan, rate[row]) if masked is not None else rate[row]) for row in range(rate.shape[0])]
        units = np.array([f.unit for f in fits], dtype=np.float32)
        applied = np.array([f.decisive for f in fits])
        rate[applied] /= units[applied, None]
        calibration = [f.as_dict() for f in fits]

    counts = times = None
    if spikes:
        counts = np.empty_like(rate)
        for rows in row_blocks(*rate.shape, BLOCK_SAMPLES):  # the fit's float64 work arrays stay bounded too
            counts[rows] = fit_spikes(rate[rows], spike_fit)
        if masked is not None:
            counts[masked] = np.nan
    if masked is not None:
        rate[masked] = np.nan
    interval = None
    if counts is not None:
        times = spike_times_from_counts(counts, TARGET_RATE_HZ)
        ratios = count_ratios(runners.models, runners.index)
        if applied is not None:  # no held-out record of calibrated counts
            ratios[applied] = np.nan
        totals = np.fromiter((t.size for t in times), dtype=float, count=len(times))
        totals[np.isnan(rate).all(axis=1)] = np.nan  # a neuron without a finite frame has no count
        interval = spike_total_interval(totals, ratios)

    record = run_settings(chosen, loaded.contracts, frame_rate=rate_hz, resampler=resampler, provider=runners.provider,
                          noise_level=noise_level, warnings=ready.warnings, conditioning=WHOLE_TRACES)  # fmt: skip
    if calibration is not None:
        record["calibration"] = calibration
    return InferenceResult(
        rate=rate,
        time=np.arange(n_out) / TARGET_RATE_HZ,
        spike_counts=counts,
        spike_times=times,
        noise_level=levels.astype(np.float32),
        model=loaded.name,
        neuron_model=runners.names,
        model_sha256=runners.used,
        settings=record,
        spike_total_interval=interval,
        calibration_unit=units,
        calibration_applied=applied,
    )


def rate_from_traces(
    models: NeuronModels,
    traces: np.ndarray,
    frame_rate: float,
    *,
    hop: int,
    batch_size: int,
    resampler: str = DEFAULT_RESAMPLER,
    progress: Progress | None = None,
) -> np.ndarray:
    """Resample finite traces to 60 Hz and run the network; (n, n_out) float32.

    Neurons go in blocks of about ``BLOCK_SAMPLES`` 60 Hz samples, so memory stays
    bounded however many neurons there are; window batches (or whole-trace pieces)
    stream through each block. Neurons that share a model go together, so batches
    rarely mix models; neurons whose models run differently (a family of mixed kinds)
    go group by group. ``progress(done, total)`` counts windows, or samples for a
    convolutional model.
    """
    n_neurons, n_frames = traces.shape
    n_out = n_samples_at_60hz(n_frames, frame_rate)
    groups = models.groups()
    total = sum(rows.size * (window_starts(n_out, hop).size if group.contract.windowed else n_out) for rows, group in groups)
    done = 0

    def count(windows: int) -> None:
        nonlocal done
        done += windows
        if progress is not None:
            progress(done, total)

    rate = np.empty((n_neurons, n_out), dtype=np.float32)
    for group_rows, group in groups:
        by_model = np.argsort(group.index, kind="stable")
        for block in row_blocks(group_rows.size, n_out, BLOCK_SAMPLES):
            local = by_model[block]
            rows = group_rows[local]
            rate[rows] = rate_for_range(
                group.take(local), traces[rows], 0, n_frames, frame_rate, 0, n_out,
                hop=hop, batch_size=batch_size, resampler=resampler, on_windows=count,
            )  # fmt: skip
    return rate


def rate_for_range(
    models: NeuronModels,
    frames: np.ndarray,
    first_frame: int,
    n_frames: int,
    frame_rate: float,
    out_start: int,
    out_end: int,
    *,
    hop: int,
    batch_size: int,
    resampler: str = DEFAULT_RESAMPLER,
    on_windows: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Rate samples ``out_start:out_end`` of a recording of ``n_frames`` frames.

    ``models`` says which model runs each row of ``frames``.
    ``frames`` is the slice of the recording starting at frame ``first_frame``; it
    must hold every frame those samples depend on (for the sinc resampler, see
    :func:`frames_needed`; Fourier resampling needs them all). Windows (or a
    convolutional model's pieces) keep the recording's global alignment, so the
    pieces of a recording equal the whole. Models that run differently (a family of
    mixed kinds) each run their own neurons.
    """
    groups = models.groups()
    if len(groups) > 1:
        rate = np.empty((frames.shape[0], out_end - out_start), dtype=np.float32)
        for rows, group in groups:
            rate[rows] = rate_for_range(group, frames[rows], first_frame, n_frames, frame_rate, out_start, out_end,
                                        hop=hop, batch_size=batch_size, resampler=resampler, on_windows=on_windows)  # fmt: skip
        return rate
    models = groups[0][1]  # every row runs one way (the models of that way only)
    run = _windowed_range if models.contract.windowed else _whole_trace_range
    return run(models, frames, first_frame, n_frames, frame_rate, out_start, out_end, hop=hop, batch_size=batch_size,
               resampler=resampler, on_windows=on_windows)  # fmt: skip


def _whole_trace_range(models: NeuronModels, frames: np.ndarray, first_frame: int, n_frames: int, frame_rate: float,
                       out_start: int, out_end: int, *, hop: int, batch_size: int, resampler: str,
                       on_windows: Callable[[int], None] | None) -> np.ndarray:  # fmt: skip
    """:func:`rate_for_range` for a convolutional model: aligned pieces with the contract's context."""
    n_out = n_samples_at_60hz(n_frames, frame_rate)
    lo, hi = whole_trace.samples_read(out_start, out_end, n_out, models.contract)
    samples = _resampled(frames, first_frame, n_frames, frame_rate, lo, hi, resampler)
    return whole_trace.run_pieces(models, samples, lo, out_start, out_end, n_out, on_samples=on_windows)


def _windowed_range(models: NeuronModels, frames: np.ndarray, first_frame: int, n_frames: int, frame_rate: float,
                    out_start: int, out_end: int, *, hop: int, batch_size: int, resampler: str,
                    on_windows: Callable[[int], None] | None) -> np.ndarray:  # fmt: skip
    """:func:`rate_for_range` for a windowed model: windows every ``hop`` samples, overlap-added."""
    n_out = n_samples_at_60hz(n_frames, frame_rate)
    first_window, last_window = covering_windows(out_start, out_end, hop)
    last_window = min(last_window, (n_out - 1) // hop * hop)  # windows start inside the recording
    starts = np.arange(first_window, last_window + 1, hop)
    # 60 Hz samples that those windows read, clipped to the recording
    lo, hi = max(0, first_window - HALF_WINDOW), min(n_out, last_window + WINDOW - HALF_WINDOW)
    samples = _resampled(frames, first_frame, n_frames, frame_rate, lo, hi, resampler)
    padded = np.zeros((frames.shape[0], last_window + WINDOW - first_window), dtype=np.float32)
    padded[:, lo + HALF_WINDOW - first_window : hi + HALF_WINDOW - first_window] = samples
    padded_flat = padded.ravel()
    summed = np.zeros(padded.size)
    for offsets in window_batches(padded.shape[0], padded.shape[1], starts - first_window, batch_size):
        overlap_add(summed, offsets, models.run(gather_windows(padded_flat, offsets), offsets // padded.shape[1]))
        if on_windows is not None:
            on_windows(offsets.size)
    columns = np.arange(out_start, out_end) + HALF_WINDOW
    return (summed.reshape(padded.shape)[:, columns - first_window] / coverage_at(columns, hop)).astype(np.float32)


def _resampled(frames: np.ndarray, first_frame: int, n_frames: int, frame_rate: float, lo: int, hi: int, resampler: str) -> np.ndarray:
    """60 Hz samples ``lo:hi`` of a recording from its frames (a slice starting at ``first_frame``)."""
    if resampler == "fourier":
        if first_frame != 0 or frames.shape[1] != n_frames:
            raise InputError("Fourier resampling needs the whole recording; use resampler='sinc' for pieces")
        return resample_to_60hz(frames, frame_rate, "fourier")[:, lo:hi]
    return local_resampler(frame_rate, resampler).resample(frames, first_frame, np.arange(lo, hi), n_total=n_frames)


def frames_needed(
    out_start: int, out_end: int, frame_rate: float, hop: int, contracts: tuple[Contract, ...] = (), resampler: str = DEFAULT_RESAMPLER
) -> tuple[int, int]:
    """Frames ``[first, last)`` that rate samples ``out_start:out_end`` read (a local resampler; last may pass the end).

    ``contracts``: of the models that may run (all a family's); none given: a windowed model.
    """
    resampler = local_resampler(frame_rate, resampler)
    spans = []
    for contract in contracts or (None,):
        if contract is not None and not contract.windowed:
            spans.append(whole_trace.samples_read(out_start, out_end, 1 << 62, contract))
        else:
            first_window, last_window = covering_windows(out_start, out_end, hop)
            spans.append((max(0, first_window - HALF_WINDOW), last_window + WINDOW - HALF_WINDOW))
    lo, hi = min(span[0] for span in spans), max(span[1] for span in spans)
    return max(0, resampler.first_frame_needed(lo)), resampler.last_frame_needed(hi - 1) + 1
