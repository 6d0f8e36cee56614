"""Scores of inferred spikes against ground truth (docs/metrics.md), in numpy and scipy only.

Rates are on the 60 Hz grid; spike times are in seconds. The runtime's demo scores with
these, and so do ``ens2export`` and the benchmarks: one definition of every score.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from ens2rt.engine.resample import TARGET_RATE_HZ
from ens2rt.engine.spikes import SIGMA_SAMPLES

ER_TOLERANCES_S = (0.05, 0.1, 0.5)


def correlation(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Pearson r over the bins where both are finite (NaN if either is constant)."""
    predicted, truth = np.asarray(predicted, float), np.asarray(truth, float)
    keep = np.isfinite(predicted) & np.isfinite(truth)
    p, t = predicted[keep] - predicted[keep].mean(), truth[keep] - truth[keep].mean()
    denominator = np.sqrt((p * p).sum() * (t * t).sum())
    return float((p * t).sum() / denominator) if denominator > 0 else float("nan")


def error_and_bias(predicted: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """CASCADE's error and bias: surplus and deficit of the rate relative to the true count."""
    predicted, truth = np.asarray(predicted, float), np.asarray(truth, float)
    keep = np.isfinite(predicted) & np.isfinite(truth)
    difference = np.maximum(predicted[keep], 0) - np.maximum(truth[keep], 0)
    total = np.maximum(truth[keep], 0).sum()
    if total <= 0:
        return float("nan"), float("nan")
    surplus, deficit = difference[difference > 0].sum(), -difference[difference < 0].sum()
    return float((surplus + deficit) / total), float((surplus - deficit) / total)


def van_rossum(predicted: np.ndarray, truth: np.ndarray, n_true_spikes: int) -> float:
    """ENS²'s van Rossum distance: sqrt(Σ(pred − truth)² / σ / n_true_spikes), σ in samples."""
    predicted, truth = np.asarray(predicted, float), np.asarray(truth, float)
    keep = np.isfinite(predicted) & np.isfinite(truth)
    if n_true_spikes <= 0:
        return float("nan")
    return float(np.sqrt(((predicted[keep] - truth[keep]) ** 2).sum() / SIGMA_SAMPLES / n_true_spikes))


def matched_pairs(predicted: np.ndarray, truth: np.ndarray, tolerance: float) -> int:
    """Largest number of one-to-one pairs with |predicted − true| ≤ tolerance.

    On a line, matching each spike with the earliest partner still in reach is optimal.
    """
    p, t = np.sort(np.asarray(predicted, float)), np.sort(np.asarray(truth, float))
    i = j = matched = 0
    while i < p.size and j < t.size:
        if abs(p[i] - t[j]) <= tolerance:
            matched, i, j = matched + 1, i + 1, j + 1
        elif p[i] < t[j]:
            i += 1
        else:
            j += 1
    return matched


def error_rate(predicted: np.ndarray, truth: np.ndarray, tolerance: float) -> float:
    """ER = 1 − F1 of predicted against true spike times matched within ± ``tolerance`` s."""
    n_predicted, n_true = np.size(predicted), np.size(truth)
    if n_predicted + n_true == 0:
        return 0.0
    return 1.0 - 2.0 * matched_pairs(predicted, truth, tolerance) / (n_predicted + n_true)


def victor_purpura(predicted: np.ndarray, truth: np.ndarray, cost_per_second: float = 1.0) -> float:
    """Victor–Purpura distance: 1 per insertion or deletion, ``cost_per_second`` per second moved.

    The dynamic programme runs row by row; within a row, the chain of insertions is
    a running minimum, so each row is a handful of vectorized numpy operations.
    """
    a, b = np.sort(np.asarray(predicted, float)), np.sort(np.asarray(truth, float))
    columns = np.arange(b.size + 1, dtype=float)
    previous = columns.copy()  # distance from no predicted spike to the first j true ones
    for i, spike in enumerate(a, start=1):
        shift = previous[:-1] + cost_per_second * np.abs(spike - b)
        best = np.minimum(np.concatenate([[previous[0] + 1.0], shift]), previous + 1.0)
        best[0] = float(i)
        previous = columns + np.minimum.accumulate(best - columns)
    return float(previous[-1])


def score_neuron(
    predicted_rate: np.ndarray,
    true_rate: np.ndarray,
    predicted_spikes: np.ndarray | None,
    true_spikes: np.ndarray,
) -> dict[str, float]:
    """Every docs/metrics.md score of one neuron, as a flat dict."""
    n_true = int(np.size(true_spikes))
    error, bias = error_and_bias(predicted_rate, true_rate)
    scores = {
        "correlation": correlation(predicted_rate, true_rate),
        "error": error,
        "bias": bias,
        "van_rossum": van_rossum(predicted_rate, true_rate, n_true),
        "n_true_spikes": float(n_true),
    }
    if predicted_spikes is not None:
        for tolerance in ER_TOLERANCES_S:
            scores[f"er_{int(tolerance * 1000)}ms"] = error_rate(predicted_spikes, true_spikes, tolerance)
        scores["victor_purpura"] = victor_purpura(predicted_spikes, true_spikes) / n_true if n_true else float("nan")
        scores["n_predicted_spikes"] = float(np.size(predicted_spikes))
    return scores


def spike_counts_at_60hz(spike_times: np.ndarray, n_bins: int) -> np.ndarray:
    """Spikes per 60 Hz bin, bins centred at ``i / 60`` s; spikes outside are dropped."""
    bins = np.floor(np.asarray(spike_times) * TARGET_RATE_HZ + 0.5).astype(np.int64)
    bins = bins[(bins >= 0) & (bins < n_bins)]
    return np.bincount(bins, minlength=n_bins).astype(np.float64)


def smooth_spike_counts(counts: np.ndarray) -> np.ndarray:
    """Spike counts smoothed with the σ = 25 ms Gaussian of the targets (zero boundary)."""
    return gaussian_filter1d(np.asarray(counts, dtype=np.float64), SIGMA_SAMPLES, mode="constant", axis=-1)


def true_rate_at_60hz(spike_times: np.ndarray, n_bins: int) -> np.ndarray:
    """Ground-truth rate: spikes binned on the 60 Hz grid, smoothed with σ = 25 ms."""
    return smooth_spike_counts(spike_counts_at_60hz(spike_times, n_bins))
