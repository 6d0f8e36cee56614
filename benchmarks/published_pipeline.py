"""The published ENS² inference pipeline as its release runs it, for speed comparisons.

PyTorch model, every window at hop 1, the overlap-add as a per-window Python loop,
and the greedy spike fit that tries every position by re-smoothing the whole run.
Only the structure is reproduced (no code of the release); the numbers equal
``ens2rt.infer(..., hop=1, model="ens2-published-exc")``.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

from ens2rt.engine.resample import resample_to_60hz
from ens2rt.engine.spikes import MAX_RUN, MIN_RUN_TOTAL, SIGMA_SAMPLES, THRESHOLD


def rate(model: torch.nn.Module, dff: np.ndarray, frame_rate: float, batch_size: int = 1024) -> np.ndarray:
    x = resample_to_60hz(dff, frame_rate, "fourier").astype(np.float32)
    padded = np.pad(x, 48)
    windows = np.stack([padded[i : i + 96] for i in range(x.size)])
    outputs = []
    with torch.no_grad():
        for first in range(0, len(windows), batch_size):
            outputs.append(model(torch.from_numpy(windows[first : first + batch_size])).numpy())
    outputs = np.concatenate(outputs)
    summed = np.zeros(padded.size)
    for i in range(x.size):
        summed[i : i + 96] += outputs[i]
    return summed[48:-48] / 96


def spikes(rate_60hz: np.ndarray) -> np.ndarray:
    r = np.where(rate_60hz < THRESHOLD, 0.0, rate_60hz)
    counts = np.zeros_like(r)
    i = 0
    while i < r.size:
        if r[i] == 0:
            i += 1
            continue
        j = i
        while j < r.size and r[j] > 0 and j - i < MAX_RUN:
            j += 1
        counts[i:j] = _fit_run(r[i:j])
        i = j
    return counts


def _fit_run(segment: np.ndarray) -> np.ndarray:
    fitted = np.zeros_like(segment)
    if segment.sum() < MIN_RUN_TOTAL:
        return fitted
    fitted[np.argmax(segment)] = 1
    error = np.sum((gaussian_filter1d(fitted, SIGMA_SAMPLES, mode="constant") - segment) ** 2)
    while True:
        best, best_error = None, error
        for k in range(segment.size):
            fitted[k] += 1
            trial = np.sum((gaussian_filter1d(fitted, SIGMA_SAMPLES, mode="constant") - segment) ** 2)
            fitted[k] -= 1
            if trial < best_error:
                best, best_error = k, trial
        if best is None:
            return fitted
        fitted[best] += 1
        error = best_error
