"""Slower copies of training trials: the same neurons as if recorded at a lower frame rate.

Large fields of view are scanned at 2–15 Hz, and the ground truth is mostly faster (7.8
to 500 Hz). A slower copy keeps a real trial's fluorescence and spikes and samples the
fluorescence at a lower frame rate, drawn log-uniformly per trial between
:data:`LOW_HZ` and :data:`HIGH_HZ` and at most the trial's own rate / :data:`MARGIN`:
frame k is the trial's 60 Hz trace at time k / rate (a point sample, as a scanning
microscope visits a neuron briefly each frame, so a frame keeps its noise). The frames
are then brought back to 60 Hz with the trial's resampler, as the runtime brings every
recording, so the network sees what a slow recording of these spikes looks like after
pre-processing. The targets are the trial's real spike counts.
"""

from __future__ import annotations

import math

import numpy as np

from ens2rt.engine.resample import n_samples_at_60hz, resample_to_60hz
from ens2rt.engine.traces import noise_level
from ens2rt.engine.windows import WINDOW, pad_for_windows

LOW_HZ = 5.0  #: slowest frame rate a copy is drawn at
HIGH_HZ = 30.0  #: fastest
MARGIN = 1.25  #: a copy is at least this much slower than its trial; trials too slow for that are not copied


def slower_rate_range(frame_rate: float) -> tuple[float, float] | None:
    """Frame rates a copy of a trial recorded at ``frame_rate`` may be drawn from; ``None``: too slow to copy."""
    high = min(HIGH_HZ, frame_rate / MARGIN)
    return (LOW_HZ, high) if high > LOW_HZ else None


def frames_at(trace: np.ndarray, frame_rate: float) -> np.ndarray:
    """Point samples of ``trace`` (60 Hz) at k / ``frame_rate`` s, every one within it."""
    n_frames = math.floor((trace.size - 1) * frame_rate / 60.0) + 1
    return np.interp(np.arange(n_frames) * 60.0 / frame_rate, np.arange(trace.size), trace)


def back_at_60hz(frames: np.ndarray, frame_rate: float, resampler: str, n_max: int) -> np.ndarray:
    """``frames`` brought to 60 Hz as the runtime brings a recording, at most ``n_max`` samples.

    A copy made by :func:`frames_at` from ``n_max`` samples may come back up to one frame short.
    """
    return resample_to_60hz(frames, frame_rate, resampler)[: min(n_max, n_samples_at_60hz(frames.size, frame_rate))]


def with_slower_frames(source, share: float, seed: int):
    """``source`` (a :class:`ens2export.dataset.WindowSource`) plus slower copies of ``share`` of its trials.

    Only trials fast enough to copy (:func:`slower_rate_range`) are drawn from; a copy's
    frame rate and noise level ν are its own (ν measured on its frames as the runtime
    measures it); its dataset is the original's with ``-slower`` appended.
    """
    from ens2export.dataset import WindowSource, concatenate

    if not 0.0 < share <= 1.0:
        raise ValueError(f"the share of trials given slower copies must be in (0, 1], not {share}")
    rng = np.random.default_rng([seed, 0x510E])
    eligible = np.flatnonzero([slower_rate_range(rate) is not None for rate in source.frame_rates])
    if eligible.size == 0:
        raise ValueError(f"no training trial is faster than {LOW_HZ * MARGIN:g} Hz: none can be given a slower copy")
    chosen = np.sort(rng.choice(eligible, size=max(1, round(share * eligible.size)), replace=False))
    inputs, counts, lengths, rates, levels = [], [], [], [], []
    for trial in chosen:
        start, length = source.trial_offsets[trial], source.trial_lengths[trial]
        low, high = slower_rate_range(source.frame_rates[trial])
        rate = float(np.exp(rng.uniform(np.log(low), np.log(high))))
        frames = frames_at(source.inputs[start : start + length].astype(np.float64), rate)
        trace = back_at_60hz(frames, rate, source.resampler, length)
        if trace.size < WINDOW:
            continue
        inputs.append(pad_for_windows(trace))
        counts.append(pad_for_windows(source.spike_counts[start : start + trace.size].astype(np.float64)))
        lengths.append(trace.size)
        rates.append(rate)
        levels.append(float(noise_level(frames, rate)))
    if not inputs:
        return source
    slower = WindowSource(
        inputs=np.concatenate(inputs).astype(np.float32),
        spike_counts=np.concatenate(counts).astype(np.uint8),
        trial_lengths=np.asarray(lengths, dtype=np.int64),
        frame_rates=np.asarray(rates),
        noise_levels=np.asarray(levels),
        datasets=tuple(f"{d}-slower" for d in source.datasets),
        n_neurons=0,
        resampler=source.resampler,
    )
    return concatenate([source, slower])
