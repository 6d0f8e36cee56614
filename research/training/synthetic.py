"""Synthetic training trials: real spike trains seen through simulated indicators.

The ground truth covers a handful of indicators; a model trained on it meets others
(GCaMP8, with its fast rise, is in no training fold). A synthetic trial keeps a real
trial's spikes, frame rate and noise level ν and replaces its fluorescence: each spike
adds a double-exponential transient whose rise and decay time constants and amplitude
are drawn per trial over a wide range (:class:`Indicators`), then white noise at the
trial's native frame rate brings it to the real trial's ν. The trial is simulated at its
native frame rate and resampled to 60 Hz like a recording, so the network sees it
through the same pre-processing as real data; its targets are the real spike counts.

A scanning microscope reaches a neuron some time after a frame starts, while spike
times count from the frame's start; with ``scan_offset`` each synthetic trial is
sampled that much late, a delay drawn uniformly within one frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from ens2rt.engine.contract import NOISE_LEVEL_PER_STD
from ens2rt.engine.resample import n_samples_at_60hz, resample_to_60hz
from ens2rt.engine.windows import pad_for_windows


@dataclass(frozen=True)
class Indicators:
    """Ranges of the simulated indicators, each drawn log-uniformly per trial.

    Rise and decay are the time constants (s) of the transient ``exp(−t/decay) −
    exp(−t/rise)``, scaled so its peak is ``amplitude`` (ΔF/F per spike); each spike's
    amplitude varies around it by a log-normal factor of ``jitter`` (σ of its log).
    """

    rise_s: tuple[float, float] = (0.002, 0.06)
    decay_s: tuple[float, float] = (0.08, 1.5)
    amplitude: tuple[float, float] = (0.08, 0.8)
    jitter: float = 0.3

    def draw(self, rng: np.random.Generator) -> tuple[float, float, float]:
        """One indicator: (rise, decay, amplitude); the decay is kept at least twice the rise."""
        rise, decay, amplitude = (float(np.exp(rng.uniform(np.log(low), np.log(high))))
                                  for low, high in (self.rise_s, self.decay_s, self.amplitude))  # fmt: skip
        return rise, max(decay, 2.0 * rise), amplitude


def fluorescence(spike_times: np.ndarray, amplitudes: np.ndarray, n_frames: int, frame_rate: float, rise: float, decay: float) -> np.ndarray:
    """Noise-free ΔF/F at frames ``k / frame_rate`` of spikes at ``spike_times`` (s) with these amplitudes.

    Exact at the frame times: each exponential is a first-order recursion over frames fed
    with every spike's value at the first frame at or after it.
    """
    peak_time = rise * decay / (decay - rise) * math.log(decay / rise)
    peak = math.exp(-peak_time / decay) - math.exp(-peak_time / rise)
    first_frame = np.ceil(np.asarray(spike_times) * frame_rate - 1e-9).astype(np.int64)
    keep = (first_frame >= 0) & (first_frame < n_frames)
    first_frame, delay = first_frame[keep], first_frame[keep] / frame_rate - np.asarray(spike_times)[keep]
    trace = np.zeros(n_frames)
    for tau, sign in ((decay, 1.0), (rise, -1.0)):
        kicks = np.zeros(n_frames)
        np.add.at(kicks, first_frame, amplitudes[keep] * np.exp(-delay / tau))
        trace += sign * lfilter([1.0], [1.0, -math.exp(-1.0 / (frame_rate * tau))], kicks)
    return trace / peak


def simulate_trial(counts: np.ndarray, frame_rate: float, level: float, rng: np.random.Generator,
                   indicators: Indicators = Indicators(), resampler: str = "fourier", scan_offset: bool = False) -> np.ndarray:  # fmt: skip
    """A synthetic 60 Hz trace for spike ``counts`` per 60 Hz bin, recorded at ``frame_rate`` with noise level ``level``.

    Each spike falls uniformly inside its 60 Hz bin; the result has ``counts.size`` samples.
    ``scan_offset``: frame k is sampled at ``(k + u) / frame_rate``, u uniform in [0, 1) per trial.
    """
    n_out = counts.size
    n_frames = max(1, round(n_out * frame_rate / 60.0))
    while n_samples_at_60hz(n_frames, frame_rate) < n_out:
        n_frames += 1
    bins = np.repeat(np.arange(n_out), counts.astype(np.int64))
    spike_times = (bins + rng.uniform(-0.5, 0.5, bins.size)) / 60.0
    rise, decay, amplitude = indicators.draw(rng)
    amplitudes = amplitude * np.exp(indicators.jitter * rng.standard_normal(bins.size))
    if scan_offset:  # sampling each frame u / frame_rate late = every spike that much earlier
        spike_times = spike_times - rng.uniform(0.0, 1.0) / frame_rate
    dff = fluorescence(spike_times, amplitudes, n_frames, frame_rate, rise, decay)
    dff += rng.standard_normal(n_frames) * level * math.sqrt(frame_rate) / NOISE_LEVEL_PER_STD
    return resample_to_60hz(dff, frame_rate, resampler)[:n_out]


def with_synthetic(source, share: float, seed: int, indicators: Indicators = Indicators(), scan_offset: bool = False):
    """``source`` (a :class:`ens2export.dataset.WindowSource`) plus a synthetic copy of ``share`` of its trials.

    The copies keep the chosen trials' spike counts, frame rates and noise levels
    (:func:`simulate_trial`, with ``scan_offset``); their dataset is the original's with
    ``-synthetic`` appended.
    """
    from ens2export.dataset import WindowSource, concatenate

    if not 0.0 < share <= 1.0:
        raise ValueError(f"the synthetic share must be in (0, 1], not {share}")
    rng = np.random.default_rng([seed, 0x5EED])
    n_trials = source.trial_lengths.size
    chosen = np.sort(rng.choice(n_trials, size=max(1, round(share * n_trials)), replace=False))
    inputs, counts = [], []
    for trial in chosen:
        start, length = source.trial_offsets[trial], source.trial_lengths[trial]
        trial_counts = source.spike_counts[start : start + length]
        inputs.append(pad_for_windows(simulate_trial(trial_counts, source.frame_rates[trial], source.noise_levels[trial], rng,
                                                     indicators, source.resampler, scan_offset)))  # fmt: skip
        counts.append(pad_for_windows(trial_counts.astype(np.float64)))
    synthetic = WindowSource(
        inputs=np.concatenate(inputs).astype(np.float32),
        spike_counts=np.concatenate(counts).astype(np.uint8),
        trial_lengths=source.trial_lengths[chosen],
        frame_rates=source.frame_rates[chosen],
        noise_levels=source.noise_levels[chosen],
        datasets=tuple(f"{d}-synthetic" for d in source.datasets),
        n_neurons=0,
        resampler=source.resampler,
    )
    return concatenate([source, synthetic])
