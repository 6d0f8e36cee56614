"""Offline inference: ΔF/F traces in, spike rates and spike events out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ens2rt.errors import InputError
from ens2rt.model import DEFAULT_MODEL, Model
from ens2rt.resample import DEFAULT_RESAMPLER, RESAMPLERS, TARGET_RATE_HZ, n_samples_at_60hz, resample_to_60hz
from ens2rt.spikes import fit_spikes, spike_times_from_counts
from ens2rt.traces import (
    as_trace_matrix,
    check_frame_rate,
    check_length,
    fill_gaps,
    gap_mask_at_60hz,
    noise_level,
)
from ens2rt.windows import (
    HALF_WINDOW,
    MAX_HOP,
    coverage,
    gather_windows,
    overlap_add,
    pad_for_windows,
    window_batches,
    window_starts,
)

DEFAULT_HOP = 6  # the largest hop within 0.002 of hop 1 on held-out data: benchmarks/results/hops.md
DEFAULT_BATCH_SIZE = 4096
# Neurons are resampled and windowed in blocks of about this many 60 Hz samples,
# so memory stays bounded however many neurons a recording has.
BLOCK_SAMPLES = 1 << 24

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class InferenceResult:
    """What :func:`infer` returns. Times are seconds, 0 = the first input frame.

    ``rate`` and ``spike_counts`` are NaN where the input had gaps.
    """

    rate: np.ndarray  #: (n_neurons, n_out) float32, inferred spikes per 60 Hz bin
    time: np.ndarray  #: (n_out,) float64, time of each output bin
    spike_counts: np.ndarray | None  #: (n_neurons, n_out) float32 discrete spikes per bin
    spike_times: list[np.ndarray] | None  #: per neuron, float64 spike times
    noise_level: np.ndarray  #: (n_neurons,) ENS²/CASCADE noise level of the input
    model: str  #: name of the model that ran
    model_sha256: str  #: sha256 of its ONNX file
    settings: dict[str, Any] = field(default_factory=dict)  #: everything needed to redo the run


def infer(
    dff: np.ndarray,
    frame_rate: float,
    *,
    model: str | Path | Model = DEFAULT_MODEL,
    hop: int = DEFAULT_HOP,
    device: str = "auto",
    threads: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    spikes: bool = True,
    resampler: str = DEFAULT_RESAMPLER,
    progress: Progress | None = None,
) -> InferenceResult:
    """Infer spike rates (and spike events) from ΔF/F traces.

    ``dff``: (n_neurons, n_frames) or (n_frames,) raw ΔF/F (0.3 = 30 %); NaN frames
    are bridged for the network and come back as NaN. ``frame_rate``: Hz.
    ``model``: a shipped model name, an ``.onnx`` path with its card, or a loaded
    :class:`Model`. ``hop``: window hop in 60 Hz samples. ``resampler``: ``"sinc"``
    (local, streamable) or ``"fourier"`` (the published pipeline: with ``hop=1`` it
    reproduces ENS²'s numbers). ``progress(done, total)`` is called as batches finish.
    """
    traces = as_trace_matrix(dff)
    rate_hz = check_frame_rate(frame_rate)
    check_length(traces.shape[1], rate_hz)
    if not isinstance(hop, (int, np.integer)) or not 1 <= hop <= MAX_HOP:
        raise InputError(f"hop must be an integer from 1 to {MAX_HOP}, not {hop!r}")
    if resampler not in RESAMPLERS:
        raise InputError(f"resampler must be one of {', '.join(RESAMPLERS)}, not {resampler!r}")
    if batch_size < 1:
        raise InputError(f"batch_size must be at least 1, not {batch_size}")
    runner = model if isinstance(model, Model) else Model.load(model, device=device, threads=threads)

    levels = noise_level(traces, rate_hz)
    filled, gaps = fill_gaps(traces)
    rate = rate_from_traces(runner, filled, rate_hz, hop=hop, batch_size=batch_size, resampler=resampler, progress=progress)
    n_out = rate.shape[1]
    masked = gap_mask_at_60hz(gaps, rate_hz, n_out) if gaps.any() else None

    counts = times = None
    if spikes:
        counts = fit_spikes(rate).astype(np.float32)
        if masked is not None:
            counts[masked] = np.nan
    if masked is not None:
        rate[masked] = np.nan
    if counts is not None:
        times = spike_times_from_counts(np.nan_to_num(counts), TARGET_RATE_HZ)

    settings = {
        "frame_rate": rate_hz,
        "hop": int(hop),
        "resampler": resampler,
        "provider": runner.provider,
        "batch_size": int(batch_size),
        "spikes": bool(spikes),
    }
    return InferenceResult(
        rate=rate,
        time=np.arange(n_out) / TARGET_RATE_HZ,
        spike_counts=counts,
        spike_times=times,
        noise_level=levels.astype(np.float32),
        model=runner.name,
        model_sha256=runner.sha256,
        settings=settings,
    )


def rate_from_traces(
    model: Model,
    traces: np.ndarray,
    frame_rate: float,
    *,
    hop: int,
    batch_size: int,
    resampler: str = DEFAULT_RESAMPLER,
    progress: Progress | None = None,
) -> np.ndarray:
    """Resample finite traces to 60 Hz and run the windowed network; (n, n_out) float32."""
    n_neurons, n_frames = traces.shape
    n_out = n_samples_at_60hz(n_frames, frame_rate)
    block = max(1, BLOCK_SAMPLES // max(n_out, 1))
    counts = coverage(n_out, hop)
    total_windows = n_neurons * window_starts(n_out, hop).size
    done = 0
    rate = np.empty((n_neurons, n_out), dtype=np.float32)
    for first in range(0, n_neurons, block):
        padded = pad_for_windows(resample_to_60hz(traces[first : first + block], frame_rate, resampler))
        padded_flat = padded.ravel()
        accumulated = np.zeros(padded.size, dtype=np.float64)
        for offsets in window_batches(padded.shape[0], n_out, hop, batch_size):
            outputs = model.run(gather_windows(padded_flat, offsets))
            overlap_add(accumulated, offsets, outputs)
            done += offsets.size
            if progress is not None:
                progress(done, total_windows)
        summed = accumulated.reshape(padded.shape)[:, HALF_WINDOW : HALF_WINDOW + n_out]
        rate[first : first + block] = summed / counts
    return rate
