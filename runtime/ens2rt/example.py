"""The real recording shipped with ens2rt: four minutes of one ground-truth neuron."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np


@dataclass(frozen=True)
class Example:
    dff: np.ndarray  #: (n_frames,) float32 ΔF/F
    frame_rate: float  #: Hz
    spike_times: np.ndarray  #: electrophysiologically recorded spikes, s
    source: str  #: where the data comes from


def load_example() -> Example:
    """Load the shipped example (a GCaMP6f neuron from CASCADE dataset DS09, 60 Hz)."""
    with resources.files("ens2rt").joinpath("data", "example.npz").open("rb") as stream:
        with np.load(stream, allow_pickle=False) as archive:
            return Example(
                dff=archive["dff"],
                frame_rate=float(archive["frame_rate"]),
                spike_times=archive["spike_times"],
                source=str(archive["source"]),
            )
