"""Discrete spike events from an inferred rate: ENS²'s greedy fit, vectorized.

The rate is cut into runs of consecutive samples above a threshold. In each run
the fit starts with one spike at the maximum (if the run holds at least half a
spike) and then keeps adding the single spike whose Gaussian bump most lowers the
squared error to the run, until no spike helps. Every run is independent, so all
runs of all neurons advance together, one spike per run per iteration; runs are
grouped by length so short runs do not pay for long ones.

Two rules for the first spike of a run (``rule=``):

- ``"strict"`` (default): like every later spike, it is placed only if it lowers
  the squared error. A long, low, flat run (what a network outputs on a flat or
  silent trace) then gets no spike; under the published rule it gets one per
  ``MAX_RUN`` samples, a phantom spike every 8.3 s.
- ``"published"``: ENS²'s rule, the first spike is placed whenever the run's total
  is at least ``MIN_RUN_TOTAL``; it reproduces the published spike counts exactly.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import correlate1d, gaussian_filter1d

from ens2rt.errors import InputError
from ens2rt.engine.timing import stage

SIGMA_SAMPLES = 1.5  # 25 ms at 60 Hz, the width of the training targets
THRESHOLD = 0.02 / SIGMA_SAMPLES
MIN_RUN_TOTAL = 0.5
MAX_RUN = 500
ONE_BUCKET_SAMPLES = 1 << 15  # runs × longest run up to this: fitted as one padded matrix
# A rate beyond this many spikes per 60 Hz bin (3 kHz sustained) is no neuron's: the input was not ΔF/F as a
# fraction. The greedy fit adds one spike per step, so such a rate would also keep it busy for hours.
MAX_SPIKES_PER_BIN = 50.0
SPIKE_FIT_RULES = ("strict", "published")
DEFAULT_SPIKE_FIT = "strict"


def spike_kernel() -> np.ndarray:
    """The bump one spike leaves in the rate: ``gaussian_filter1d`` of a unit impulse."""
    radius = int(4.0 * SIGMA_SAMPLES + 0.5)
    impulse = np.zeros(2 * radius + 1)
    impulse[radius] = 1.0
    return gaussian_filter1d(impulse, SIGMA_SAMPLES, mode="constant")


def find_runs(rate: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of samples above ``THRESHOLD``: (neuron, start, length), split at ``MAX_RUN``."""
    above = np.asarray(rate) >= THRESHOLD
    n_neurons, n_samples = above.shape
    # A False column after every row keeps runs from crossing neurons.
    flat = np.concatenate([above, np.zeros((n_neurons, 1), bool)], axis=1).ravel()
    edges = np.diff(np.concatenate([[False], flat]).astype(np.int8))
    starts = np.flatnonzero(edges == 1)
    lengths = np.flatnonzero(edges == -1) - starts
    pieces = -(-lengths // MAX_RUN)
    piece_index = np.arange(pieces.sum()) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    starts = np.repeat(starts, pieces) + piece_index * MAX_RUN
    lengths = np.minimum(np.repeat(lengths, pieces) - piece_index * MAX_RUN, MAX_RUN)
    neurons, starts = np.divmod(starts, n_samples + 1)
    return neurons, starts, lengths


def check_spike_fit(rule: str) -> str:
    """Return ``rule`` if it is one of :data:`SPIKE_FIT_RULES`, else raise :class:`InputError`."""
    if rule not in SPIKE_FIT_RULES:
        raise InputError(f"spike_fit must be one of {', '.join(SPIKE_FIT_RULES)}, not {rule!r}")
    return rule


@stage("spike fitting")
def fit_spikes(rate: np.ndarray, rule: str = DEFAULT_SPIKE_FIT) -> np.ndarray:
    """Spike counts per sample, shape of ``rate`` ((n_neurons, n_samples) or (n_samples,)).

    ``rule``: ``"strict"`` or ``"published"``, how a run's first spike is placed (module docstring).
    """
    check_spike_fit(rule)
    rate = np.asarray(rate, dtype=np.float64)
    squeeze = rate.ndim == 1
    rate2d = np.nan_to_num(np.atleast_2d(rate), nan=0.0)
    highest = float(rate2d.max()) if rate2d.size else 0.0
    if highest > MAX_SPIKES_PER_BIN:
        raise InputError(
            f"the inferred rate reaches {highest:.3g} spikes per 60 Hz bin ({60 * highest:.3g} Hz), beyond any neuron: "
            "the input is not ΔF/F as a fraction (percent? raw fluorescence? were the input checks skipped?). "
            "Fix the input, or pass spikes=False (CLI: --no-spikes) for the rate alone"
        )
    counts = np.zeros(rate2d.shape, dtype=np.float64)
    neurons, starts, lengths = find_runs(rate2d)
    kernel = spike_kernel()
    # Lengths grouped into power-of-two buckets: at most 2x padding waste per run. Runs that fit one
    # small matrix (what a stream fits at each push) share one: each bucket costs fixed numpy calls.
    small = lengths.size == 0 or lengths.size * int(lengths.max()) <= ONE_BUCKET_SAMPLES
    bucket = np.zeros(lengths.size, int) if small else np.ceil(np.log2(np.maximum(lengths, 1))).astype(int)
    for b in np.unique(bucket):
        chosen = bucket == b
        _fit_runs(rate2d, counts, neurons[chosen], starts[chosen], lengths[chosen], kernel, strict=rule == "strict")
    return counts[0] if squeeze else counts


def _fit_runs(rate, counts, neurons, starts, lengths, kernel, strict: bool) -> None:
    radius = kernel.size // 2
    width = int(lengths.max())
    positions = np.arange(width)
    inside = positions < lengths[:, None]
    # Runs live in a zero-bordered matrix so bumps near the ends need no bounds checks.
    target = np.where(inside, rate[neurons[:, None], starts[:, None] + np.minimum(positions, lengths[:, None] - 1)], 0.0)
    residual = np.zeros((len(lengths), width + 2 * radius))
    residual[:, radius : radius + width] = target
    fitted = np.zeros((len(lengths), width))
    border = np.zeros_like(residual)
    border[:, radius : radius + width] = inside
    # ||bump at j||² counting only samples inside the run (zero-boundary smoothing).
    bump_energy = _correlate(border, kernel**2, width)
    bump_offsets = np.arange(-radius, radius + 1)

    def add_spike(rows: np.ndarray, at: np.ndarray) -> None:
        fitted[rows, at] += 1.0
        columns = radius + at[:, None] + bump_offsets
        residual[rows[:, None], columns] -= kernel * border[rows[:, None], columns]

    active = np.flatnonzero(target.sum(axis=1) >= MIN_RUN_TOTAL)
    first = np.argmax(target[active], axis=1)
    if strict:
        gain = 2.0 * _correlate(residual[active], kernel, width) - bump_energy[active]
        helps = gain[np.arange(active.size), first] > 0.0
        active, first = active[helps], first[helps]
    add_spike(active, first)
    while active.size:
        gain = 2.0 * _correlate(residual[active], kernel, width) - bump_energy[active]
        gain[~inside[active]] = -np.inf
        best = np.argmax(gain, axis=1)
        improves = gain[np.arange(active.size), best] > 0.0
        active, best = active[improves], best[improves]
        add_spike(active, best)

    rows, cols = np.nonzero(fitted)
    counts[neurons[rows], starts[rows] + cols] = fitted[rows, cols]


def _correlate(padded: np.ndarray, kernel: np.ndarray, width: int) -> np.ndarray:
    """out[:, j] = Σ_t kernel[t] · padded[:, j + t] for j < width (padded has kernel.size − 1 more columns)."""
    radius = kernel.size // 2
    return correlate1d(padded, kernel, axis=1, mode="constant")[:, radius : radius + width]


def spike_times_from_counts(counts: np.ndarray, sample_rate: float, start_s: float = 0.0) -> list[np.ndarray]:
    """Per-neuron spike times in seconds, bin 0 at ``start_s`` (a bin with k spikes gives its time k times; NaN bins none)."""
    counts2d = np.atleast_2d(counts)
    rows, bins = np.nonzero(counts2d > 0)  # all neurons at once (a stream calls this every push); NaN bins are not > 0
    repeats = counts2d[rows, bins].astype(np.int64)
    rows, bins = np.repeat(rows, repeats), np.repeat(bins, repeats)
    times = bins / sample_rate + start_s if start_s else bins / sample_rate
    ends = np.cumsum(np.bincount(rows, minlength=counts2d.shape[0])).tolist()
    return [times[a:b] for a, b in zip([0, *ends[:-1]], ends)]
