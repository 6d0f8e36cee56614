"""ΔF/F from array files: ``.npy``, ``.npz`` and ``.mat`` (a named variable, or the only
array; MATLAB v7.3 through h5py) and ``.csv``/``.tsv`` (one neuron per row)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.io

from ens2rt.errors import InputError
from ens2rt.formats.base import ReadSettings, Traces

TRACE_SUFFIXES = (".npy", ".npz", ".mat", ".csv", ".tsv")
FRAME_RATE_KEYS = ("frame_rate", "fs", "framerate")


def _require_h5py(purpose: str):
    try:
        import h5py
    except ImportError as exc:
        raise InputError(f"{purpose} needs h5py: pip install 'ens2-runtime[formats]'") from exc
    return h5py


def read_traces(path: str | Path, variable: str | None = None, time_first: bool = False) -> Traces:
    """Read ΔF/F from ``path``; ``time_first`` when rows are frames rather than neurons."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix not in TRACE_SUFFIXES:
        raise InputError(f"{path}: unsupported input type {suffix!r}; use one of {', '.join(TRACE_SUFFIXES)}")
    try:
        dff, frame_rate = _READERS[suffix](path, variable)
    except InputError:
        raise
    except Exception as exc:  # numpy/scipy raise many types for malformed files
        raise InputError(f"{path}: cannot read as {suffix}: {exc}") from exc
    dff = np.asarray(dff)
    if not np.issubdtype(dff.dtype, np.number):
        raise InputError(f"{path}: data is {dff.dtype}, not numbers")
    if time_first:
        dff = dff.T
    return Traces(dff=dff, frame_rate=frame_rate, source=str(path))


def _read_npy(path: Path, variable: str | None) -> tuple[np.ndarray, float | None]:
    return np.load(path, allow_pickle=False), None


def _read_npz(path: Path, variable: str | None) -> tuple[np.ndarray, float | None]:
    with np.load(path, allow_pickle=False) as archive:
        contents = {key: archive[key] for key in archive.files}
    return _pick_variable(path, contents, variable), _frame_rate_from(contents)


def _read_mat(path: Path, variable: str | None) -> tuple[np.ndarray, float | None]:
    try:
        contents = {k: v for k, v in scipy.io.loadmat(path).items() if not k.startswith("__")}
    except NotImplementedError:  # scipy's answer to MATLAB v7.3 files, which are HDF5
        contents = _read_mat_v73(path)
    return _pick_variable(path, contents, variable), _frame_rate_from(contents)


def _read_mat_v73(path: Path) -> dict[str, np.ndarray]:
    """The numeric variables of a MATLAB v7.3 (HDF5) file, in MATLAB's orientation.

    HDF5 stores MATLAB's column-major arrays with their axes reversed; transposing
    them back makes a neurons × frames variable read as neurons × frames.
    """
    h5py = _require_h5py("reading MATLAB v7.3 .mat files")
    contents = {}
    with h5py.File(path, "r") as handle:
        for name, item in handle.items():
            if isinstance(item, h5py.Dataset) and item.dtype.kind in "iuf" and not name.startswith("#"):
                contents[name] = np.asarray(item[()]).T
    return contents


def _read_text(path: Path, variable: str | None) -> tuple[np.ndarray, float | None]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    return np.loadtxt(path, delimiter=delimiter, ndmin=2), None


_READERS: dict[str, Callable[[Path, str | None], tuple[np.ndarray, float | None]]] = {
    ".npy": _read_npy,
    ".npz": _read_npz,
    ".mat": _read_mat,
    ".csv": _read_text,
    ".tsv": _read_text,
}


def is_result(names) -> bool:
    """Whether a file holding ``names`` (variables, datasets or attributes) is an ens2rt result file."""
    return {"rate", "model_sha256"} <= set(names)


def result_given(path: Path, keeps_input: bool) -> str:
    """What to say when an ens2rt result file is given as input."""
    hint = "; the ΔF/F it was inferred from is its 'dff' variable: pass --variable dff" if keeps_input else ""
    return f"{path}: an ens2rt result file (rate, spike times), not ΔF/F{hint}"


def _pick_variable(path: Path, contents: dict[str, np.ndarray], variable: str | None) -> np.ndarray:
    if variable is not None:
        if variable not in contents:
            raise InputError(f"{path}: no variable {variable!r}; it holds {', '.join(sorted(contents))}")
        return contents[variable]
    if is_result(contents):
        raise InputError(result_given(path, "dff" in contents))
    arrays = [k for k, v in contents.items() if k not in FRAME_RATE_KEYS and np.asarray(v).ndim >= 1 and np.asarray(v).size > 1]
    if len(arrays) != 1:
        raise InputError(f"{path}: holds {', '.join(sorted(arrays)) or 'no array'}; choose one with --variable")
    return contents[arrays[0]]


def _frame_rate_from(contents: dict[str, np.ndarray]) -> float | None:
    for key in FRAME_RATE_KEYS:
        if key in contents and np.asarray(contents[key]).size == 1:
            return float(np.asarray(contents[key]).ravel()[0])
    return None


class ArrayReader:
    name = "array"
    description = "an array file (.npy, .npz, .mat, .csv, .tsv), neurons × frames (or frames × neurons with time_first)"

    def can_read(self, path: Path) -> bool:
        return path.suffix.lower() in TRACE_SUFFIXES and not path.is_dir()

    def read(self, path: Path, settings: ReadSettings) -> Traces:
        traces = read_traces(path, variable=settings.variable, time_first=settings.time_first)
        rate = traces.frame_rate if settings.frame_rate is None else settings.frame_rate
        return Traces(traces.dff, rate, traces.source, settings={"source_format": self.name})

    def files_read(self, path: Path) -> list[Path]:
        return [path]


READER = ArrayReader()
