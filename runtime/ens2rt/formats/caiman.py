"""ΔF/F from a CaImAn HDF5 results file (``cnm.save(...)``), read with h5py."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ens2rt.engine.conditioning import check_dtype
from ens2rt.errors import InputError
from ens2rt.formats.base import ReadSettings, Traces


def read_caiman(path: str | Path, frame_rate: float | None = None) -> tuple[np.ndarray, float]:
    """Return (``estimates/F_dff``, the frame rate ``params/data/fr`` states, or ``frame_rate`` where it states none)."""
    try:
        import h5py
    except ImportError as exc:
        raise InputError("reading CaImAn files needs h5py: pip install 'ens2-runtime[formats]'") from exc
    path = Path(path)
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:  # not HDF5, truncated, or unreadable
        raise InputError(f"{path}: cannot read as a CaImAn HDF5 file: {exc}") from exc
    with handle:
        if "estimates" not in handle:
            raise InputError(_not_caiman(path, handle))
        estimates = handle["estimates"]
        if "F_dff" not in estimates or estimates["F_dff"].shape == ():
            raise InputError(
                f"{path}: holds no estimates/F_dff. CaImAn's C is denoised, deconvolved-model output, "
                "not ΔF/F; run cnm.estimates.detrend_df_f() and save again"
            )
        dff = np.asarray(estimates["F_dff"])
        check_dtype(dff.dtype, f"{path}'s estimates/F_dff")
        stated = float(np.asarray(handle["params/data/fr"])) if "params/data/fr" in handle else None
    if frame_rate is None and stated is None:
        raise InputError(f"{path}: no params/data/fr; pass --frame-rate")
    return dff.astype(np.float64), stated if stated is not None else frame_rate


def _not_caiman(path: Path, handle) -> str:
    """Why an HDF5 file without CaImAn's ``estimates`` cannot be read, naming what it looks like instead."""
    from ens2rt.formats.arrays import is_result, result_given

    if "nwb_version" in handle.attrs or "general" in handle:
        return f"{path}: an NWB file by its contents; name it .nwb and ens2rt reads it as NWB"
    if is_result([*handle, *handle.attrs]):
        return result_given(path, keeps_input=False)  # an .h5 result's ΔF/F is not readable as input
    return f"{path}: not a CaImAn results file (no 'estimates' group; it holds {', '.join(sorted(handle)) or 'nothing'})"


class CaimanReader:
    name = "caiman"
    description = "a CaImAn results file (.hdf5 or .h5: estimates/F_dff, params/data/fr)"

    def can_read(self, path: Path) -> bool:
        return path.suffix.lower() in (".hdf5", ".h5") and path.is_file()

    def read(self, path: Path, settings: ReadSettings) -> Traces:
        dff, rate = read_caiman(path, settings.frame_rate)
        return Traces(dff, rate, str(path), settings={"source_format": self.name})

    def files_read(self, path: Path) -> list[Path]:
        return [path]


READER = CaimanReader()
