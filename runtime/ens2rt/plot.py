"""A figure of ΔF/F, inferred rate and spike events per neuron (needs matplotlib)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ens2rt.errors import InputError


def read_result(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` result file written by ``ens2rt infer``."""
    path = Path(path)
    if path.suffix.lower() != ".npz" or not path.is_file():
        raise InputError(f"{path}: plot reads the .npz result files of ens2rt infer")
    with np.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def neuron_spikes(arrays: dict[str, np.ndarray], neuron: int) -> np.ndarray:
    offsets = arrays["spike_times_offsets"]
    return arrays["spike_times"][offsets[neuron] : offsets[neuron + 1]]


def plot_result(arrays: dict[str, np.ndarray], neurons: list[int], out: str | Path,
                true_spikes: list[np.ndarray] | None = None, title: str = "") -> Path:  # fmt: skip
    """Draw one panel pair per neuron on a shared time axis and save it to ``out``."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise InputError("plots need matplotlib: pip install 'ens2-runtime[plot]'") from exc
    n_rows = arrays["rate"].shape[0]
    bad = [n for n in neurons if not 0 <= n < n_rows]
    if bad:
        raise InputError(f"neuron {bad[0]} does not exist; the result has neurons 0 to {n_rows - 1}")
    figure, axes = plt.subplots(2 * len(neurons), 1, sharex=True, squeeze=False,
                                figsize=(12, 2.6 * len(neurons)), gridspec_kw={"height_ratios": [1, 1] * len(neurons)})  # fmt: skip
    axes = axes[:, 0]
    for row, neuron in enumerate(neurons):
        top, bottom = axes[2 * row], axes[2 * row + 1]
        label = f"neuron {neuron}" + (f" (ROI {arrays['roi_index'][neuron]})" if "roi_index" in arrays else "")
        if "dff" in arrays:
            dff = arrays["dff"][neuron]
            top.plot(np.arange(dff.size) / float(arrays["frame_rate"]), dff, color="0.3", lw=0.6)
        top.set_ylabel("ΔF/F")
        top.set_title(label, loc="left", fontsize=10)
        bottom.plot(arrays["time"], arrays["rate"][neuron], color="tab:blue", lw=0.8, label="inferred rate")
        bottom.set_ylabel("spikes / bin")
        height = max(float(np.nanmax(arrays["rate"][neuron])), 0.5)
        if "spike_times" in arrays:
            bottom.vlines(neuron_spikes(arrays, neuron), 1.05 * height, 1.2 * height, color="tab:red", lw=0.8, label="inferred spikes")
        if true_spikes is not None:
            bottom.vlines(true_spikes[row], 1.25 * height, 1.4 * height, color="black", lw=0.8, label="recorded spikes")
        bottom.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    axes[-1].set_xlabel("time (s)")
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    out = Path(out)
    figure.savefig(out, dpi=120)
    plt.close(figure)
    return out
