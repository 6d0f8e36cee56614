"""ΔF/F from a suite2p plane folder (``F.npy``, ``Fneu.npy``, ``iscell.npy``, ``ops.npy``).

ΔF/F = (Fc − B(Fc)) / B(F), with Fc = F − c · Fneu (c = 0.7 by default) and B a
running percentile baseline (8th percentile over 60 s). Dividing by the baseline of
the raw ROI fluorescence keeps the denominator positive even where neuropil
subtraction pushes Fc to or below zero.

``ops.npy`` is a pickled dict, and unpickling can run arbitrary code. ens2rt opens
it (and no other pickle) only to read the frame rate ``fs``, with an unpickler that
accepts just the types suite2p writes (numpy arrays and scalars, builtins, paths) and
refuses anything else; passing the frame rate skips the file altogether.
"""

from __future__ import annotations

import pickle
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
from scipy.ndimage import percentile_filter

from ens2rt.engine.traces import fill_gaps
from ens2rt.errors import InputError, InputWarning
from ens2rt.formats.base import DffSettings, ReadSettings, Traces

REQUIRED = ("F.npy", "Fneu.npy", "iscell.npy")


_OPS_TYPES = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("pathlib", "PosixPath"),
    ("pathlib", "WindowsPath"),
    ("pathlib", "Path"),
    ("builtins", "slice"),
    ("builtins", "range"),
    ("builtins", "complex"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
}


class _OpsUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _OPS_TYPES:
            raise pickle.UnpicklingError(f"it refers to {module}.{name}, which suite2p does not write")
        return super().find_class(module, name)


def read_frame_rate(ops_path: Path) -> float:
    """``fs`` from suite2p's ``ops.npy``, unpickled with only the types suite2p writes."""
    try:
        with open(ops_path, "rb") as stream:
            version = np.lib.format.read_magic(stream)
            header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            header(stream)
            ops = _OpsUnpickler(stream).load()
        ops = ops.item() if isinstance(ops, np.ndarray) else ops
        return float(ops["fs"])
    except (pickle.UnpicklingError, ValueError, KeyError, TypeError, AttributeError, EOFError) as exc:
        raise InputError(f"{ops_path}: cannot read the frame rate safely ({exc}); pass --frame-rate") from exc


def _load(path: Path) -> np.ndarray:
    """A numeric ``.npy`` array of a plane folder, or an :class:`InputError` naming the file."""
    try:
        array = np.load(path, allow_pickle=False)
    except Exception as exc:  # numpy raises ValueError, OSError, EOFError … for damaged files
        raise InputError(f"{path}: cannot read as .npy: {exc}") from exc
    if not np.issubdtype(array.dtype, np.number) and array.dtype != bool:
        raise InputError(f"{path}: holds {array.dtype}, not numbers")
    return array


def is_suite2p_folder(path: Path) -> bool:
    return path.is_dir() and all((path / name).is_file() for name in REQUIRED)


def running_baseline(traces: np.ndarray, window_frames: int, percentile: float) -> np.ndarray:
    """Running percentile along time, computed on a decimated trace and interpolated back.

    About 60 points per window are plenty for a baseline and keep long recordings cheap.
    """
    n_frames = traces.shape[-1]
    step = max(1, window_frames // 60)
    coarse = traces[..., ::step]
    size = max(1, window_frames // step)
    baseline = percentile_filter(coarse, percentile, size=(1, size), mode="nearest")
    return np.stack([np.interp(np.arange(n_frames), np.arange(0, n_frames, step), row) for row in baseline])


def read_suite2p(folder: str | Path, frame_rate: float | None = None, all_rois: bool = False,
                 settings: DffSettings = DffSettings(), read_ops: bool = True) -> tuple[np.ndarray, float, np.ndarray]:  # fmt: skip
    """Return (ΔF/F of the chosen ROIs, frame rate, their ROI indices in suite2p's arrays)."""
    folder = Path(folder)
    if not is_suite2p_folder(folder):
        missing = [name for name in REQUIRED if not (folder / name).is_file()]
        raise InputError(f"{folder}: not a suite2p plane folder (missing {', '.join(missing)})")
    fluorescence = _load(folder / "F.npy").astype(np.float64)
    neuropil = _load(folder / "Fneu.npy").astype(np.float64)
    iscell = _load(folder / "iscell.npy")
    if fluorescence.shape != neuropil.shape or fluorescence.ndim != 2:
        raise InputError(f"{folder}: F.npy {fluorescence.shape} and Fneu.npy {neuropil.shape} must be equal (ROIs × frames)")
    if iscell.ndim == 2:  # suite2p's (ROIs, 2): the 0/1 flag, then the classifier's probability
        iscell = iscell[:, 0]
    if iscell.ndim != 1 or iscell.shape[0] != fluorescence.shape[0]:
        raise InputError(
            f"{folder}: iscell.npy {iscell.shape} does not match F.npy's {fluorescence.shape[0]} ROIs; "
            "the files come from different suite2p runs (or were edited): re-export the plane folder"
        )
    if frame_rate is None:
        if not read_ops or not (folder / "ops.npy").is_file():
            raise InputError(f"{folder}: no frame rate; pass --frame-rate (or keep ops.npy, which holds fs)")
        frame_rate = read_frame_rate(folder / "ops.npy")
    chosen = np.arange(fluorescence.shape[0]) if all_rois else np.flatnonzero(iscell > 0.5)
    if chosen.size == 0:
        raise InputError(f"{folder}: iscell.npy marks no ROI as a cell; pass --all-rois to infer every ROI")
    raw = fluorescence[chosen]
    corrected = raw - settings.neuropil_coefficient * neuropil[chosen]
    window = max(3, int(round(settings.baseline_window_s * frame_rate)))
    # a non-finite frame of F or Fneu is a gap: the baselines run over it (bridged), and it stays NaN in ΔF/F
    gaps = ~(np.isfinite(raw) & np.isfinite(corrected))
    if gaps.any():
        _warn_gaps(folder, gaps, chosen)
        corrected = np.where(gaps, np.nan, corrected)
    denominator = running_baseline(fill_gaps(np.where(gaps, np.nan, raw))[0], window, settings.baseline_percentile)
    measured = ~gaps.all(axis=1)  # a ROI without one finite frame is a NaN row, as ens2rt.infer treats it
    if np.any((denominator <= 0) & measured[:, None]):
        roi = chosen[np.flatnonzero(((denominator <= 0) & measured[:, None]).any(axis=1))[0]]
        raise InputError(f"{folder}: ROI {roi} has a non-positive fluorescence baseline; ΔF/F is undefined")
    denominator[~measured] = np.nan
    dff = (corrected - running_baseline(fill_gaps(corrected)[0], window, settings.baseline_percentile)) / denominator
    return dff, frame_rate, chosen


def _warn_gaps(folder: Path, gaps: np.ndarray, chosen: np.ndarray) -> None:
    """Say which ROIs have non-finite frames in F.npy or Fneu.npy, by suite2p's ROI numbers."""
    rows = np.flatnonzero(gaps.any(axis=1))
    listed = ", ".join(f"{chosen[row]} ({int(gaps[row].sum())} frames)" for row in rows[:10]) + (", …" if rows.size > 10 else "")
    warnings.warn(f"{folder}: {rows.size} ROI(s) have non-finite frames in F.npy or Fneu.npy (ROI {listed}); "
                  "those frames are gaps: ΔF/F and rates are NaN there", InputWarning, stacklevel=3)  # fmt: skip


def plane_folders(folder: Path) -> list[Path]:
    """The suite2p plane folders inside a suite2p output folder (``suite2p/plane0`` …), if ``folder`` is one."""
    if not folder.is_dir():
        return []
    inside = [folder / "suite2p"] if (folder / "suite2p").is_dir() else []
    return sorted(plane for parent in (folder, *inside) for plane in parent.glob("plane*") if is_suite2p_folder(plane))


class Suite2pReader:
    name = "suite2p"
    description = "a suite2p plane folder (F.npy, Fneu.npy, iscell.npy, ops.npy), ΔF/F derived with --neuropil and a running baseline"

    def can_read(self, path: Path) -> bool:
        return is_suite2p_folder(path)

    def read(self, path: Path, settings: ReadSettings) -> Traces:
        dff, rate, rois = read_suite2p(path, frame_rate=settings.frame_rate, all_rois=settings.all_rois, settings=settings.dff_settings)
        return Traces(dff, rate, str(path), rois, {"source_format": self.name, **asdict(settings.dff_settings)})

    def files_read(self, path: Path) -> list[Path]:
        return [path / name for name in (*REQUIRED, "ops.npy")]


READER = Suite2pReader()
