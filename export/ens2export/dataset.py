"""Training windows from ground truth, sliced lazily from one concatenated 60 Hz array.

Every trial is resampled to 60 Hz, padded with 48 zeros on each side (as inference
pads a recording) and appended to one long array; training windows are index
offsets into it, so a batch of 1024 windows is one vectorized gather.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ens2rt.groundtruth import Neuron, find_datasets, load_dataset, true_rate_at_60hz
from ens2rt.resample import resample_to_60hz
from ens2rt.windows import HALF_WINDOW, WINDOW, pad_for_windows


@dataclass(frozen=True)
class WindowSource:
    """All training windows of a set of trials: ``inputs``/``targets`` share offsets."""

    inputs: np.ndarray  # float32, every padded 60 Hz trial back to back
    targets: np.ndarray  # float32, smoothed true spike counts on the same samples
    starts: np.ndarray  # int64, offset of every valid window
    datasets: tuple[str, ...]
    n_neurons: int

    @property
    def n_windows(self) -> int:
        return int(self.starts.size)

    @property
    def hours(self) -> float:
        """Recorded time covered, in hours (one window starts at every 60 Hz sample)."""
        return self.n_windows / 60.0 / 3600.0

    def batch(self, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        """``size`` windows drawn uniformly with replacement: (inputs, targets), each (size, 96)."""
        chosen = self.starts[rng.integers(0, self.starts.size, size)]
        index = chosen[:, None] + np.arange(WINDOW)
        return self.inputs[index], self.targets[index]


def windows_from_neurons(neurons: Iterable[Neuron]) -> WindowSource:
    """Pre-process neurons (resample, pad, smooth targets) into a :class:`WindowSource`."""
    inputs, targets, starts = [], [], []
    offset = 0
    datasets: list[str] = []
    n_neurons = 0
    for neuron in neurons:
        n_neurons += 1
        if neuron.dataset not in datasets:
            datasets.append(neuron.dataset)
        for trial in neuron.trials:
            x = resample_to_60hz(trial.dff, trial.frame_rate)
            if x.size < WINDOW:
                continue
            y = true_rate_at_60hz(trial.spike_times, x.size)
            inputs.append(pad_for_windows(x))
            targets.append(pad_for_windows(y))
            starts.append(offset + np.arange(x.size))
            offset += x.size + 2 * HALF_WINDOW
    if not starts:
        raise ValueError("no trial is long enough for one 96-sample window")
    return WindowSource(
        inputs=np.concatenate(inputs),
        targets=np.concatenate(targets),
        starts=np.concatenate(starts),
        datasets=tuple(datasets),
        n_neurons=n_neurons,
    )


def load_windows(root: str | Path, include: Iterable[str] | None = None, exclude: Iterable[str] = ()) -> WindowSource:
    """Windows of the chosen datasets under a ground-truth folder."""
    folders = find_datasets(root, include=include, exclude=exclude)
    if not folders:
        raise ValueError(f"no dataset left to train on under {root}")
    return windows_from_neurons(n for folder in folders.values() for n in load_dataset(folder))
