"""A figure of ΔF/F, inferred rate and spike events per neuron (needs matplotlib)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ens2rt.errors import InputError
from ens2rt.formats.files import atomic_output, check_output
from ens2rt.formats.results import unragged

RESULT_FIELDS = ("rate", "time")


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise InputError("plots need matplotlib: pip install 'ens2-runtime[plot]'") from exc
    return plt


def figure_formats() -> dict[str, str]:
    """File types matplotlib can save, by suffix (without the dot)."""
    _pyplot()  # says how to install matplotlib if it is missing
    from matplotlib.figure import Figure

    return Figure().canvas.get_supported_filetypes()  # not registered with pyplot: nothing to close


def check_figure_output(path: str | Path) -> Path:
    """Raise :class:`InputError` unless a figure can be written to ``path`` (before drawing it)."""
    path = Path(path)
    formats = figure_formats()
    if path.suffix.lower().lstrip(".") not in formats:
        raise InputError(f"{path}: figures are saved as {', '.join('.' + f for f in sorted(formats))}")
    return check_output(path)


def read_result(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` result file written by ``ens2rt infer``."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.suffix.lower() != ".npz" or not path.is_file():
        raise InputError(f"{path}: plot reads the .npz result files of ens2rt infer")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except Exception as exc:  # numpy raises several types for damaged archives
        raise InputError(f"{path}: cannot read as .npz: {exc}") from exc
    missing = [key for key in RESULT_FIELDS if key not in arrays]
    if missing or np.ndim(arrays["rate"]) != 2:
        raise InputError(f"{path}: not a result of ens2rt infer (no {', '.join(missing) or '2-D rate'})")
    return arrays


def neuron_spikes(arrays: dict[str, np.ndarray], neuron: int) -> np.ndarray:
    return unragged(arrays["spike_times"], arrays["spike_times_offsets"], neuron)


def plot_result(arrays: dict[str, np.ndarray], neurons: list[int], out: str | Path,
                true_spikes: list[np.ndarray] | None = None, title: str = "") -> Path:  # fmt: skip
    """Draw one panel pair per neuron on a shared time axis and save it to ``out`` (atomically)."""
    plt = _pyplot()
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
        height = float(np.nanmax(np.append(arrays["rate"][neuron], 0.5)))  # an all-NaN row draws empty
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
    try:
        with atomic_output(out) as temporary:
            figure.savefig(temporary, dpi=120, format=out.suffix.lower().lstrip("."))
    finally:
        plt.close(figure)
    return out
