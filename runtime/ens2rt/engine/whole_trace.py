"""Running a convolutional model over whole traces, in aligned pieces.

A convolutional model (contract kind ``"convolutional"``) has no per-window
normalisation, so it runs once over a trace instead of on 96 / hop overlapping
windows. To bound memory and to let pieces of a recording (dask chunks) give the
same numbers as the whole, outputs are computed in pieces of a fixed global grid:
piece ``[a, b)`` (multiples of :data:`PIECE_SAMPLES`, counted from the recording's
first 60 Hz sample) reads input samples ``[a - context.left, b + context.right)``,
zeros outside the recording. Every entry point that uses this grid gets identical
numbers for a sample, however it splits the recording. A stream, which cannot wait
for a whole piece, cuts its own aligned pieces; its numbers agree to float rounding.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ens2rt.engine.contract import Contract
from ens2rt.catalog.family import NeuronModels

PIECE_SAMPLES = 4096  # output samples per piece of the global grid (a multiple of every alignment in use)
BATCH_SAMPLES = 1 << 18  # input samples per onnxruntime call (rows × piece length), bounds its working memory


def aligned_end(n_out: int, contract: Contract) -> int:
    """The recording's output length rounded up to the contract's alignment."""
    return -(-n_out // contract.alignment) * contract.alignment


def pieces(out_start: int, out_end: int, n_out: int, contract: Contract, piece: int = PIECE_SAMPLES) -> list[tuple[int, int]]:
    """The pieces ``[a, b)`` of the global grid that hold output samples ``out_start:out_end``."""
    end = aligned_end(n_out, contract)
    return [(a, min(a + piece, end)) for a in range(out_start // piece * piece, out_end, piece)]


def samples_read(out_start: int, out_end: int, n_out: int, contract: Contract, piece: int = PIECE_SAMPLES) -> tuple[int, int]:
    """60 Hz input samples ``[lo, hi)`` (inside the recording) that outputs ``out_start:out_end`` read."""
    chosen = pieces(out_start, out_end, n_out, contract, piece)
    return max(0, chosen[0][0] - contract.context_left), min(n_out, chosen[-1][1] + contract.context_right)


def run_pieces(
    models: NeuronModels,
    samples: np.ndarray,
    first_sample: int,
    out_start: int,
    out_end: int,
    n_out: int,
    *,
    piece_bounds: list[tuple[int, int]] | None = None,
    on_samples: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Rate samples ``out_start:out_end`` (float32, one row per row of ``samples``).

    ``samples``: the 60 Hz input (ΔF/F, not yet scaled) from sample ``first_sample`` on,
    holding every sample the pieces read inside the recording (:func:`samples_read`).
    ``piece_bounds``: the pieces to compute (default: the global grid).
    """
    contract = models.contract
    rows = samples.shape[0]
    scale = models.scales()[:, None]
    out = np.empty((rows, out_end - out_start), dtype=np.float32)
    for a, b in piece_bounds or pieces(out_start, out_end, n_out, contract):
        first, last = a - contract.context_left, b + contract.context_right
        x = np.zeros((rows, last - first), dtype=np.float32)
        inside_lo, inside_hi = max(0, first), min(n_out, last)
        x[:, inside_lo - first : inside_hi - first] = samples[:, inside_lo - first_sample : inside_hi - first_sample] / scale
        y = np.empty_like(x)
        step = max(1, BATCH_SAMPLES // x.shape[1])
        for row in range(0, rows, step):
            chunk = np.arange(row, min(row + step, rows))
            y[chunk] = models.run(x[chunk], chunk)
        keep_lo, keep_hi = max(a, out_start), min(b, out_end)
        out[:, keep_lo - out_start : keep_hi - out_start] = y[:, keep_lo - first : keep_hi - first]
        if on_samples is not None:
            on_samples(rows * (keep_hi - keep_lo))
    return out
