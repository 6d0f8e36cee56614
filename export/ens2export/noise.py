"""Training at a target noise level: white noise added at each trace's native frame rate.

Shot noise lives at the imaging frame rate, so the noise a model should learn is
white at the native rate and then resampled to 60 Hz like the trace: band-limited to
fs/2 when upsampled, white with variance × 60/fs when downsampled. Fourier
resampling is linear, so that noise can be drawn on the 60 Hz grid directly, fresh
for every window of every step, without resampling whole traces again.
"""

from __future__ import annotations

import numpy as np
from ens2rt.engine.contract import NOISE_LEVEL_PER_STD
from ens2rt.engine.resample import TARGET_RATE_HZ


def added_noise_std(native_level: np.ndarray, target_level: float, frame_rate: np.ndarray) -> np.ndarray:
    """σ (ΔF/F, at the native rate) of the white noise that lifts each trace to ``target_level``.

    Noise levels of independent noises add in quadrature; traces already at or
    above the target get 0, i.e. are used unchanged.
    """
    extra = np.sqrt(np.clip(target_level**2 - np.asarray(native_level, dtype=float) ** 2, 0.0, None))
    return extra * np.sqrt(np.asarray(frame_rate, dtype=float)) / NOISE_LEVEL_PER_STD


def native_white_noise_at_60hz(rng: np.random.Generator, frame_rates: np.ndarray, length: int) -> np.ndarray:
    """Unit-σ white noise drawn at each row's native rate, as seen after resampling to 60 Hz.

    Returns (len(frame_rates), length) float32. Rows are drawn twice as long and
    cropped to their middle, so the circular filter's wrap-around stays outside.
    """
    frame_rates = np.asarray(frame_rates, dtype=float)
    drawn = 2 * length
    white = rng.standard_normal((frame_rates.size, drawn))
    spectrum = np.fft.rfft(white, axis=1)
    frequencies = np.fft.rfftfreq(drawn, d=1.0 / TARGET_RATE_HZ)
    cutoff = np.minimum(frame_rates, TARGET_RATE_HZ)[:, None] / 2.0
    spectrum[frequencies[None, :] > cutoff] = 0.0
    noise = np.fft.irfft(spectrum, n=drawn, axis=1) * np.sqrt(TARGET_RATE_HZ / frame_rates)[:, None]
    start = (drawn - length) // 2
    return noise[:, start : start + length].astype(np.float32)
