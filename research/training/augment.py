"""Batch augmentations of rejected recipe variants: time stretch, baseline drift, input gain.

Each draws from the trainer's generator in the order the batch is built (windows, then
stretch factors, noise, drift, gain), so a seeded run is reproducible.
"""

from __future__ import annotations

import numpy as np

from ens2export.dataset import WindowSource
from ens2rt.engine.spikes import SIGMA_SAMPLES
from ens2rt.engine.windows import WINDOW


def log_uniform(rng: np.random.Generator, limit: float, size: int | tuple[int, ...]) -> np.ndarray:
    """Factors drawn log-uniformly from 1 / ``limit`` to ``limit``."""
    return np.exp(rng.uniform(-np.log(limit), np.log(limit), size))


def windowed_batch(source: WindowSource, rng: np.random.Generator, size: int, noise_level, stretch: float) -> tuple[np.ndarray, np.ndarray]:
    """:meth:`WindowSource.batch` with each window's time axis scaled by up to ``stretch`` either way (:func:`stretched`).

    Any noise is added after the stretch, inside the trial.
    """
    chosen = rng.integers(0, source.n_windows, size)
    inputs, inside, targets = stretched(source, chosen, log_uniform(rng, stretch, chosen.size), WINDOW)
    if noise_level is not None:
        inputs = inputs + source.noise_inside(rng, source.trial_of(chosen), inside, noise_level)
    return inputs, targets


def context_batch(
    source: WindowSource, rng: np.random.Generator, size: int, length: int, noise_level, scaled: bool, delay: int,
    drift: float = 0.0, stretch: float = 1.0, gain: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """:meth:`WindowSource.context_batch` with augmentations.

    ``stretch`` (≥ 1): each window's time axis is scaled by a factor drawn log-uniformly
    from 1 / stretch to stretch, as if its indicator were that much slower or faster.
    ``drift``: each input inside its trial gets a baseline offset plus a linear ramp, both
    drawn N(0, drift) in units of the trial's noise std (the ramp's value is its change
    from the window's first to last sample). ``gain`` (≥ 1): each input (signal and noise)
    is multiplied by a factor drawn log-uniformly from 1 / gain to gain; the targets stay.
    """
    chosen = rng.integers(0, source.n_windows, size)
    if stretch > 1.0:
        inputs, inside, targets = stretched(source, chosen, log_uniform(rng, stretch, chosen.size), length, delay)
        trial = source.trial_of(chosen)
    else:
        trial, inputs, inside, targets = source.context_windows(chosen, length, delay)
    inputs, scale = source.with_noise(rng, trial, inputs, inside, noise_level)
    if drift > 0:
        offset, ramp = (rng.normal(0.0, drift, (size, 1)).astype(np.float32) for _ in range(2))
        along = np.linspace(-0.5, 0.5, length, dtype=np.float32)
        inputs = inputs + np.where(inside, (offset + ramp * along) * scale, np.float32(0))
    if scaled:
        inputs = inputs / scale
    if gain > 1.0:
        inputs = inputs * log_uniform(rng, gain, (size, 1))
    return inputs.astype(np.float32), targets


def stretched(source: WindowSource, chosen: np.ndarray, factors: np.ndarray, length: int, delay: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Windows ``chosen`` with their time axis scaled by ``factors`` about each window's centre.

    Returns inputs (len(chosen), ``length``; linearly interpolated, zero outside the
    trial), which of them lie inside the trial, and targets (len(chosen), 96): the true
    spikes moved to their scaled times and smoothed with the targets' Gaussian there
    (so the kernel keeps its width and each spike its count), mixed with the teacher's
    rates, interpolated and divided by the factor, as ``source.targets`` mixes them.
    A factor of 1 gives the unscaled windows (targets to the kernel's truncation).
    """
    trial = source.trial_of(chosen)
    centre = (chosen - source.first_windows[trial]).astype(np.float64)  # the window's centre, as a sample of its trial
    first, n = source.trial_offsets[trial], source.trial_lengths[trial]
    factor = np.asarray(factors, dtype=np.float64)[:, None]

    def along_trial(position: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``values`` linearly interpolated at trial positions; and which positions lie inside the trial."""
        inside = (position >= 0) & (position <= n[:, None] - 1)
        low = np.clip(np.floor(position), 0, n[:, None] - 1).astype(np.int64)
        high = np.minimum(low + 1, n[:, None] - 1)
        weight = np.clip(position - low, 0.0, 1.0)
        mixed = (1 - weight) * values[first[:, None] + low] + weight * values[first[:, None] + high]
        return np.where(inside, mixed, 0.0), inside

    inputs, inside = along_trial(centre[:, None] + (np.arange(length) - length // 2 - delay) / factor, source.inputs)
    reach = int(np.ceil((WINDOW // 2 + 4 * SIGMA_SAMPLES) / factor.min())) + 1
    offsets = np.arange(-reach, reach + 1)  # source samples around the centre that can reach the target
    samples = centre[:, None].astype(np.int64) + offsets
    valid = (samples >= 0) & (samples < n[:, None])
    counts = np.where(valid, source.spike_counts[first[:, None] + np.clip(samples, 0, n[:, None] - 1)], 0)
    window, at = np.nonzero(counts)  # spikes are sparse: smooth only the samples that have some
    landed = offsets[at] * factor[window, 0]  # where those samples' spikes land, from the window's centre
    gap = (np.arange(WINDOW) - WINDOW // 2)[None, :] - landed[:, None]
    kernel = np.exp(-0.5 * (gap / SIGMA_SAMPLES) ** 2) / (SIGMA_SAMPLES * np.sqrt(2 * np.pi))
    targets = np.zeros((len(chosen), WINDOW))
    np.add.at(targets, window, kernel * counts[window, at][:, None])
    if source.teacher_rates is not None:
        target_position = centre[:, None] + (np.arange(WINDOW) - WINDOW // 2) / factor
        teacher = along_trial(target_position, source.teacher_rates)[0] / factor
        targets = (1.0 - source.teacher_weight) * targets + source.teacher_weight * teacher
    return inputs.astype(np.float32), inside, targets.astype(np.float32)
