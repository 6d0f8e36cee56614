"""Reading CASCADE-format ground truth (imaging + electrophysiology ``.mat`` files).

A ground-truth folder holds one sub-folder per dataset (``DS09-GCaMP6f-m-V1``), each
with one ``.mat`` file per neuron whose ``CAttached`` cell array holds trials with
``fluo_time`` (s), ``fluo_mean`` (ΔF/F) and ``events_AP`` (spike times in 1e-4 s).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io

from ens2rt.errors import InputError

log = logging.getLogger(__name__)
REQUIRED_FIELDS = ("fluo_time", "fluo_mean", "events_AP")
_DATASET_ID = re.compile(r"^(DS\d+)")


@dataclass(frozen=True)
class Trial:
    """One continuous recording: ΔF/F, its frame rate, and spike times (s, 0 = first frame)."""

    dff: np.ndarray
    frame_rate: float
    spike_times: np.ndarray


@dataclass(frozen=True)
class Neuron:
    """All usable trials of one ground-truth neuron."""

    dataset: str
    path: Path
    trials: tuple[Trial, ...]


def dataset_id(folder: str | Path) -> str:
    """``"DS09"`` for a folder named ``DS09-GCaMP6f-m-V1``; the whole name otherwise."""
    name = Path(folder).name
    match = _DATASET_ID.match(name)
    return match.group(1) if match else name


def find_datasets(root: str | Path, include: Iterable[str] | None = None, exclude: Iterable[str] = ()) -> dict[str, Path]:
    """Dataset folders under ``root`` by id, optionally only ``include`` and never ``exclude``."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"ground-truth folder {root} does not exist")
    found = {dataset_id(p): p for p in sorted(root.iterdir()) if p.is_dir() and any(p.glob("*.mat"))}
    return select_datasets(found, include, exclude, where=str(root))


def select_datasets(found: dict[str, Path], include: Iterable[str] | None, exclude: Iterable[str], where: str) -> dict[str, Path]:
    """The entries of ``found`` (id → path) in ``include`` (default all) and not in ``exclude``."""
    exclude = set(exclude)
    wanted = set(found) if include is None else set(include)
    unknown = sorted((wanted | exclude) - set(found))
    if unknown:
        raise InputError(f"no dataset {unknown[0]} in {where} (found: {', '.join(found) or 'none'})")
    return {key: path for key, path in found.items() if key in wanted and key not in exclude}


def load_dataset(folder: str | Path) -> list[Neuron]:
    """Every neuron of one dataset folder that has at least one usable trial."""
    folder = Path(folder)
    neurons = [load_neuron(path, dataset_id(folder)) for path in sorted(folder.glob("*.mat"))]
    return [neuron for neuron in neurons if neuron.trials]


def load_neuron(path: str | Path, dataset: str = "") -> Neuron:
    """Read one neuron's ``.mat`` file; unusable trials are skipped with a logged reason."""
    path = Path(path)
    try:
        cells = scipy.io.loadmat(path, squeeze_me=False)["CAttached"]
    except Exception as exc:  # scipy raises many types for a broken file
        raise InputError(f"{path}: not a readable CASCADE ground-truth file ({exc})") from exc
    trials = []
    for index, cell in enumerate(np.ravel(cells)):
        trial = _read_trial(cell, f"{path.name} trial {index}")
        if trial is not None:
            trials.append(trial)
    return Neuron(dataset=dataset or dataset_id(path.parent), path=path, trials=tuple(trials))


def _read_trial(cell: np.ndarray, where: str) -> Trial | None:
    struct = cell
    while isinstance(struct, np.ndarray) and struct.size == 1:
        struct = struct.ravel()[0]  # loadmat wraps each struct in 1 × 1 arrays
    names = getattr(getattr(struct, "dtype", None), "names", None) or ()
    missing = [name for name in REQUIRED_FIELDS if name not in names]
    if missing:
        log.warning("%s: skipped, no field %s", where, ", ".join(missing))
        return None
    times = np.ravel(struct["fluo_time"]).astype(np.float64)
    dff = np.ravel(struct["fluo_mean"]).astype(np.float64)
    spikes = np.ravel(struct["events_AP"]).astype(np.float64) / 1e4
    if times.size != dff.size:
        log.warning("%s: %d timestamps for %d frames, frames without a timestamp dropped", where, times.size, dff.size)
        n = min(times.size, dff.size)
        times, dff = times[:n], dff[:n]
    keep = np.isfinite(times)
    times, dff = times[keep], dff[keep]
    if times.size < 2:
        log.warning("%s: skipped, fewer than two timestamped frames", where)
        return None
    bad = ~np.isfinite(dff)
    if bad.all():
        log.warning("%s: skipped, no finite ΔF/F", where)
        return None
    if bad.any():
        log.warning("%s: %d non-finite ΔF/F frames interpolated", where, bad.sum())
        dff[bad] = np.interp(times[bad], times[~bad], dff[~bad])
    frame_rate = 1.0 / float(np.mean(np.diff(times)))
    spikes = spikes[np.isfinite(spikes)] - times[0]
    return Trial(dff=dff, frame_rate=frame_rate, spike_times=np.sort(spikes))
