"""Sliding 96-sample windows over 60 Hz traces and overlap-add back onto the trace.

The published pipeline pads each trace with 48 zeros on both sides and runs the
network on a window starting at every sample (hop 1), then averages every sample
over the windows that cover it. A hop ``h`` keeps every ``h``-th window.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ens2rt.engine.contract import WINDOW
from ens2rt.engine.timing import stage

HALF_WINDOW = WINDOW // 2
MAX_HOP = HALF_WINDOW  # beyond this, trace ends would lose coverage


def pad_for_windows(traces: np.ndarray) -> np.ndarray:
    """Pad the time axis with ``HALF_WINDOW`` zeros on each side (float32)."""
    pad = [(0, 0)] * (traces.ndim - 1) + [(HALF_WINDOW, HALF_WINDOW)]
    return np.pad(np.asarray(traces, dtype=np.float32), pad)


def window_starts(n_samples: int, hop: int) -> np.ndarray:
    """Start indices (in the padded trace) of the windows for a trace of ``n_samples``."""
    return np.arange(0, n_samples, hop)


def covering_windows(first_sample: int, end_sample: int, hop: int) -> tuple[int, int]:
    """Padded starts of the first and last window touching samples ``first_sample:end_sample``."""
    first = max(0, -(-(first_sample - HALF_WINDOW + 1) // hop) * hop)  # ceil to a multiple of hop
    return first, (end_sample - 1 + HALF_WINDOW) // hop * hop


def coverage_at(padded_index: np.ndarray, hop: int) -> np.ndarray:
    """Divisor of the overlap-add at positions of the padded trace.

    It counts the windows that would cover a sample if windows continued past
    both ends of the padded trace (96 for every sample at hop 1). Near the ends
    fewer real windows exist; the missing ones count as zero output, exactly as
    in the published pipeline, which divides every sample by 96.
    """
    last = padded_index // hop
    first = -((WINDOW - 1 - padded_index) // hop)  # ceil((p - 95) / hop)
    return (last - first + 1).astype(np.float64)


def window_batches(n_traces: int, row_length: int, starts: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    """Yield flat offsets, into a (n_traces, row_length) array, of the windows at ``starts`` of every row.

    Windows are enumerated row by row, ``batch_size`` at a time; the caller gathers
    and scatters with the same offsets.
    """
    total = n_traces * starts.size
    for first in range(0, total, batch_size):
        rows, cols = np.divmod(np.arange(first, min(first + batch_size, total)), starts.size)
        yield rows * row_length + starts[cols]


@stage("windowing")
def gather_windows(padded_flat: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Copy the windows starting at ``offsets`` out of a flattened padded array."""
    return padded_flat[offsets[:, None] + np.arange(WINDOW)]


@stage("overlap-add")
def overlap_add(accumulator_flat: np.ndarray, offsets: np.ndarray, outputs: np.ndarray) -> None:
    """Add window ``outputs`` (n, 96) into ``accumulator_flat`` at ``offsets``, in place.

    For a fixed position within the window, every window writes to a different
    sample, so each of the 96 vectorized adds is free of collisions.
    """
    for offset in range(WINDOW):
        accumulator_flat[offsets + offset] += outputs[:, offset]
