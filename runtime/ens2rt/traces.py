"""Checking input traces and bridging NaN gaps before inference."""

from __future__ import annotations

import math
import warnings

import numpy as np

from ens2rt.errors import InputError
from ens2rt.resample import TARGET_RATE_HZ, n_samples_at_60hz
from ens2rt.windows import MAX_HOP, WINDOW

MIN_RATE_HZ, MAX_RATE_HZ = 1.0, 10_000.0


def as_trace_matrix(dff: np.ndarray) -> np.ndarray:
    """Return ΔF/F as a float64 (n_neurons, n_frames) array, or raise :class:`InputError`."""
    try:
        array = np.asarray(dff, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"ΔF/F must be a numeric array: {exc}") from exc
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise InputError(f"ΔF/F must be (n_neurons, n_frames) or (n_frames,), got shape {array.shape}")
    if array.size == 0:
        raise InputError(f"ΔF/F is empty (shape {array.shape})")
    return array


def check_frame_rate(frame_rate: float) -> float:
    """Return the frame rate as float if it is a plausible imaging rate, else raise."""
    try:
        rate = float(frame_rate)
    except (TypeError, ValueError) as exc:
        raise InputError(f"frame rate must be a number of Hz, not {frame_rate!r}") from exc
    if not math.isfinite(rate) or not MIN_RATE_HZ <= rate <= MAX_RATE_HZ:
        raise InputError(f"frame rate must be finite and within {MIN_RATE_HZ:g}–{MAX_RATE_HZ:g} Hz, got {frame_rate!r}")
    return rate


def check_hop(hop: int) -> int:
    """Return the window hop if it is an integer from 1 to ``MAX_HOP``, else raise."""
    if isinstance(hop, bool) or not isinstance(hop, (int, np.integer)) or not 1 <= hop <= MAX_HOP:
        raise InputError(f"hop must be an integer from 1 to {MAX_HOP}, not {hop!r}")
    return int(hop)


def check_length(n_frames: int, frame_rate: float) -> None:
    """Raise unless the trace spans at least one 96-sample (1.6 s) window at 60 Hz."""
    n_out = n_samples_at_60hz(n_frames, frame_rate)
    if n_out < WINDOW:
        raise InputError(
            f"traces are too short: {n_frames} frames at {frame_rate:g} Hz is "
            f"{n_frames / frame_rate:.2f} s, less than one {WINDOW / TARGET_RATE_HZ:.1f} s window"
        )


def fill_gaps(traces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Linearly interpolate non-finite frames of each neuron; return (filled, gap mask).

    Gaps at either end take the nearest finite value. A neuron with no finite
    frame at all is an error, named by its index.
    """
    gaps = ~np.isfinite(traces)
    if not gaps.any():
        return traces, gaps
    empty = np.flatnonzero(gaps.all(axis=1))
    if empty.size:
        raise InputError(f"neuron {empty[0]} has no finite ΔF/F value ({empty.size} such neurons)")
    filled = traces.copy()
    frames = np.arange(traces.shape[1])
    for neuron in np.flatnonzero(gaps.any(axis=1)):
        good = ~gaps[neuron]
        filled[neuron, ~good] = np.interp(frames[~good], frames[good], traces[neuron, good])
    return filled, gaps


def gap_mask_at_60hz(gaps: np.ndarray, frame_rate: float, n_out: int) -> np.ndarray:
    """Mark each 60 Hz output bin whose nearest input frame was a gap."""
    nearest = np.clip(np.rint(np.arange(n_out) * frame_rate / TARGET_RATE_HZ).astype(np.int64), 0, gaps.shape[1] - 1)
    return gaps[:, nearest]


def noise_level(traces: np.ndarray, frame_rate: float) -> np.ndarray:
    """ENS²/CASCADE noise level per neuron: median(|ΔF/F(t+1) − ΔF/F(t)|) · 100 / √fs.

    Differences that touch a non-finite frame are ignored.
    """
    steps = np.abs(np.diff(traces, axis=-1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows give NaN, as they should
        median = np.nanmedian(np.where(np.isfinite(steps), steps, np.nan), axis=-1)
    return median * 100.0 / math.sqrt(frame_rate)
