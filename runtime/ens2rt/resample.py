"""Resampling ΔF/F traces onto the 60 Hz grid the networks were trained on."""

from __future__ import annotations

import numpy as np
from scipy import signal

TARGET_RATE_HZ = 60.0


def n_samples_at_60hz(n_frames: int, frame_rate: float) -> int:
    """Number of 60 Hz samples that ``n_frames`` frames at ``frame_rate`` become."""
    return int(round(n_frames * TARGET_RATE_HZ / frame_rate))


def resample_to_60hz(traces: np.ndarray, frame_rate: float) -> np.ndarray:
    """Fourier-resample traces (last axis = time) from ``frame_rate`` to 60 Hz.

    This is ENS²'s published pre-processing (``scipy.signal.resample`` with
    ``round(n · 60 / fs)`` output samples), vectorized over every leading axis.
    Computed in float64 and returned as float64.
    """
    traces = np.asarray(traces, dtype=np.float64)
    n_out = n_samples_at_60hz(traces.shape[-1], frame_rate)
    if n_out == traces.shape[-1]:
        return traces.copy()
    return signal.resample(traces, n_out, axis=-1)
