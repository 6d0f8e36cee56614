"""Write the example recording shipped with ens2rt (``ens2rt demo`` runs on it).

    python tools/make_example.py ../shared/ground_truth

Takes the first trial of one GCaMP6f neuron of CASCADE dataset DS09 (Chen et al.
2013, mouse V1, 60 Hz): four minutes of ΔF/F and its electrophysiological spikes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from ens2export.groundtruth import load_neuron

SOURCE = "DS09-GCaMP6f-m-V1/CAttached_Chen2013_GC6f_cell10_full_mini.mat"
OUT = Path(__file__).resolve().parents[1] / "runtime" / "ens2rt" / "data" / "example.npz"


def main(ground_truth: str) -> None:
    trial = load_neuron(Path(ground_truth) / SOURCE).trials[0]
    np.savez_compressed(
        OUT,
        dff=trial.dff.astype(np.float32),
        frame_rate=np.float64(trial.frame_rate),
        spike_times=trial.spike_times,
        source=np.array(f"CASCADE ground truth {SOURCE}, trial 0 (Chen et al. 2013; Rupprecht et al. 2021)"),
    )
    print(f"wrote {OUT}: {trial.dff.size} frames at {trial.frame_rate:.2f} Hz, {trial.spike_times.size} spikes")


if __name__ == "__main__":
    main(sys.argv[1])
