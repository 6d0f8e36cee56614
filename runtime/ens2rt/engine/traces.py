"""Per-trace measures and repairs: frame rate and length checks, noise level, flat runs, gap filling."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np

from ens2rt.errors import InputError
from ens2rt.engine.resample import TARGET_RATE_HZ, n_samples_at_60hz
from ens2rt.engine.windows import MAX_HOP, WINDOW

MIN_RATE_HZ, MAX_RATE_HZ = 1.0, 10_000.0
# A neuron's ΔF/F never repeats one value exactly for a second: photon noise alone moves
# it every frame. A run of identical frames that long is padding, a held frame or a dead
# ROI, no measurement: it counts as a gap (and the noise level ignores it).
FLAT_RUN_S, FLAT_RUN_MIN_FRAMES = 1.0, 10
ROW_BLOCK_VALUES = 1 << 20  # per-neuron reductions go through blocks of rows of about this many values


def check_frame_rate(frame_rate: float) -> float:
    """Return the frame rate as float if it is a plausible imaging rate, else raise."""
    try:
        if isinstance(frame_rate, (bool, np.bool_)):
            raise TypeError("a yes/no value")
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


def check_length(n_frames: int, frame_rate: float, n_rows: int = 0) -> None:
    """Raise unless the trace spans at least one 96-sample (1.6 s) window at 60 Hz.

    ``n_rows``: how many neurons the input has; when that many frames would be long
    enough, the message asks whether the rows are frames.
    """
    n_out = n_samples_at_60hz(n_frames, frame_rate)
    if n_out < WINDOW:
        transposed = n_samples_at_60hz(n_rows, frame_rate) >= WINDOW if n_rows > n_frames else False
        raise InputError(
            f"traces are too short: {n_frames} frames at {frame_rate:g} Hz is "
            f"{n_frames / frame_rate:.2f} s, less than one {WINDOW / TARGET_RATE_HZ:.1f} s window"
            + ("; if the rows are frames and the columns neurons, transpose it (CLI: --time-axis first)" if transposed else "")
        )


def fill_gaps(traces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Linearly interpolate non-finite frames of each neuron; return (filled, gap mask).

    Gaps at either end take the nearest finite value. A neuron with no finite frame
    at all is filled with zeros and is all gap in the mask.
    """
    gaps = ~np.isfinite(traces)
    if not gaps.any():
        return traces, gaps
    filled = traces.copy()
    filled[gaps.all(axis=1)] = 0.0
    frames = np.arange(traces.shape[1])
    for neuron in np.flatnonzero(gaps.any(axis=1) & ~gaps.all(axis=1)):
        good = ~gaps[neuron]
        filled[neuron, ~good] = np.interp(frames[~good], frames[good], traces[neuron, good])
    return filled, gaps


def gap_mask_at_60hz(gaps: np.ndarray, frame_rate: float, n_out: int) -> np.ndarray:
    """Mark each 60 Hz output bin whose nearest input frame was a gap."""
    nearest = np.clip(np.rint(np.arange(n_out) * frame_rate / TARGET_RATE_HZ).astype(np.int64), 0, gaps.shape[1] - 1)
    return gaps[:, nearest]


def noise_level(traces: np.ndarray, frame_rate: float, *, find_flat_runs: bool = True) -> np.ndarray:
    """ENS²/CASCADE noise level per neuron: median(|ΔF/F(t+1) − ΔF/F(t)|) · 100 / √fs.

    Differences that touch a non-finite frame, or a frame of a run of one value
    (:func:`flat_frames`: padding, not noise), are ignored. ``find_flat_runs=False``
    skips looking for such runs, for callers that have found them already (and made
    them NaN, or found none).
    """
    def median_step(rows: np.ndarray) -> np.ndarray:
        steps = np.abs(np.diff(rows, axis=-1))
        ignored = ~np.isfinite(steps)
        if find_flat_runs:
            flat = flat_frames(rows, frame_rate)
            ignored |= flat[:, 1:] | flat[:, :-1]
        steps[ignored] = np.nan
        return np.nanmedian(steps, axis=-1)

    traces = np.asarray(traces, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows give NaN, as they should
        median = median_step(traces[None])[0] if traces.ndim == 1 else by_rows(median_step, traces)
    return median * 100.0 / math.sqrt(frame_rate)


def flat_run_frames(frame_rate: float) -> int:
    """How many identical frames in a row make a flat run at this frame rate (``FLAT_RUN_S``, at least ``FLAT_RUN_MIN_FRAMES``)."""
    return max(FLAT_RUN_MIN_FRAMES, math.ceil(FLAT_RUN_S * frame_rate))


def flat_frames(traces: np.ndarray, frame_rate: float) -> np.ndarray:
    """Mask of the frames that lie in a run of at least :func:`flat_run_frames` identical values.

    ``traces``: (n_neurons, n_frames). Non-finite frames end a run. Rows go in blocks,
    so the temporaries stay small however many neurons there are.
    """
    traces = np.asarray(traces)
    flat = np.zeros(traces.shape, dtype=bool)
    if traces.shape[1] >= flat_run_frames(frame_rate):
        for rows in row_blocks(*traces.shape):
            flat[rows] = _flat_frames_of_block(traces[rows], flat_run_frames(frame_rate) - 1)
    return flat


def _flat_frames_of_block(traces: np.ndarray, steps_needed: int) -> np.ndarray:
    """:func:`flat_frames` of a block of rows: runs of at least ``steps_needed`` unchanged steps."""
    n_neurons, n_frames = traces.shape
    # unchanged[i, t]: frame t + 1 equals frame t; a False column after every row keeps runs from crossing neurons
    unchanged = np.zeros((n_neurons, n_frames), dtype=bool)
    np.equal(traces[:, 1:], traces[:, :-1], out=unchanged[:, :-1])
    edges = np.diff(np.concatenate([[False], unchanged.ravel(), [False]]).astype(np.int8))
    starts = np.flatnonzero(edges == 1)
    lengths = np.flatnonzero(edges == -1) - starts
    long = lengths >= steps_needed
    marks = np.zeros(unchanged.size + 1, dtype=np.int32)
    np.add.at(marks, starts[long], 1)
    np.add.at(marks, starts[long] + lengths[long] + 1, -1)  # a run of k unchanged steps spans k + 1 frames
    return (np.cumsum(marks[:-1]) > 0).reshape(traces.shape)


def row_blocks(n_rows: int, row_length: int, values: int = ROW_BLOCK_VALUES) -> list[slice]:
    """Slices of rows holding about ``values`` values each (at least one row): what bounds memory in neurons."""
    step = max(1, values // max(1, row_length))
    return [slice(first, first + step) for first in range(0, n_rows, step)]


def by_rows(reduce: Callable[[np.ndarray], np.ndarray], traces: np.ndarray) -> np.ndarray:
    """``reduce`` (rows → one value per row) applied to blocks of rows, so its temporaries stay small."""
    return np.concatenate([reduce(traces[rows]) for rows in row_blocks(traces.shape[0], traces.shape[-1])])
