"""Reading traces from files and writing results, atomically, for the CLI.

Inputs: ``.npy``, ``.npz`` and ``.mat`` (a named variable, or the only array),
``.csv``/``.tsv`` (one neuron per row), a suite2p plane folder, a CaImAn ``.hdf5``
and an NWB file. Outputs: ``.npz``, ``.mat`` or ``.h5`` with the schema documented
in the README (``rate``, ``time``, ``spike_counts``, ``spike_times`` …), or a copy
of an NWB input with the results added.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io

from ens2rt.errors import InputError
from ens2rt.caiman import read_caiman
from ens2rt.files import atomic_output, check_output
from ens2rt.nwb import read_nwb, refuse_results
from ens2rt.result import InferenceResult
from ens2rt.suite2p import REQUIRED as SUITE2P_FILES
from ens2rt.suite2p import DffSettings, is_suite2p_folder, read_suite2p

TRACE_SUFFIXES = (".npy", ".npz", ".mat", ".csv", ".tsv")
RESULT_SUFFIXES = (".npz", ".mat", ".h5")
OUTPUT_SUFFIXES = (*RESULT_SUFFIXES, ".nwb")
FRAME_RATE_KEYS = ("frame_rate", "fs", "framerate")


@dataclass(frozen=True)
class Traces:
    """ΔF/F read from a file: (n_neurons, n_frames), and the frame rate if the file holds one."""

    dff: np.ndarray
    frame_rate: float | None
    source: str
    roi_index: np.ndarray | None = None  #: which ROIs of the source the rows are
    settings: dict[str, Any] = field(default_factory=dict)  #: how ΔF/F was derived, if it was


def read_input(
    path: str | Path,
    *,
    variable: str | None = None,
    time_first: bool = False,
    frame_rate: float | None = None,
    series: str | None = None,
    all_rois: bool = False,
    dff_settings: DffSettings = DffSettings(),
) -> Traces:
    """Read ΔF/F from any supported source: array files, suite2p, CaImAn or NWB."""
    path = Path(path)
    if is_suite2p_folder(path):
        dff, rate, rois = read_suite2p(path, frame_rate=frame_rate, all_rois=all_rois, settings=dff_settings)
        return Traces(dff, rate, str(path), rois, {"source_format": "suite2p", **asdict(dff_settings)})
    if path.is_dir():
        raise InputError(f"{path}: a folder, but not a suite2p plane folder (F.npy, Fneu.npy, iscell.npy)")
    suffix = path.suffix.lower()
    if suffix in (".hdf5", ".h5") and path.is_file():
        dff, rate = read_caiman(path, frame_rate)
        return Traces(dff, rate, str(path), settings={"source_format": "caiman"})
    if suffix == ".nwb" and path.is_file():
        dff, rate, name = read_nwb(path, series)
        return Traces(dff, rate if frame_rate is None else frame_rate, str(path), settings={"source_format": "nwb", "series": name})
    traces = read_traces(path, variable=variable, time_first=time_first)
    return Traces(traces.dff, traces.frame_rate if frame_rate is None else frame_rate, traces.source)


def files_read(path: str | Path) -> list[Path]:
    """The files :func:`read_input` reads for ``path`` (a suite2p folder's arrays and ``ops.npy``)."""
    path = Path(path)
    if path.is_dir():
        return [path / name for name in (*SUITE2P_FILES, "ops.npy")]
    return [path]


def check_destination(destination: str | Path, source: str | Path, *, overwrite_input: bool = False) -> Path:
    """Raise :class:`InputError` unless a result of ``source`` can be written to ``destination``.

    Checks, before any inference: the output type, the package its writer needs, an
    NWB output's input, the folder, write permission, and that ``destination`` is
    not a file the run reads.
    """
    destination, source = Path(destination), Path(source)
    suffix = destination.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise InputError(f"{destination}: output must end in {', '.join(RESULT_SUFFIXES)} (or .nwb for an NWB input)")
    if suffix == ".h5":
        _require_h5py("writing .h5")
    if suffix == ".nwb":
        if source.suffix.lower() != ".nwb":
            raise InputError(f"{destination}: NWB output is a copy of an NWB input with results added; use .npz, .mat or .h5")
        refuse_results(source)
    return check_output(destination, files_read(source), overwrite_input=overwrite_input)


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


def _pick_variable(path: Path, contents: dict[str, np.ndarray], variable: str | None) -> np.ndarray:
    if variable is not None:
        if variable not in contents:
            raise InputError(f"{path}: no variable {variable!r}; it holds {', '.join(sorted(contents))}")
        return contents[variable]
    arrays = [k for k, v in contents.items() if k not in FRAME_RATE_KEYS and np.asarray(v).ndim >= 1 and np.asarray(v).size > 1]
    if len(arrays) != 1:
        raise InputError(f"{path}: holds {', '.join(sorted(arrays)) or 'no array'}; choose one with --variable")
    return contents[arrays[0]]


def _frame_rate_from(contents: dict[str, np.ndarray]) -> float | None:
    for key in FRAME_RATE_KEYS:
        if key in contents and np.asarray(contents[key]).size == 1:
            return float(np.asarray(contents[key]).ravel()[0])
    return None


def result_arrays(result: InferenceResult, traces: Traces | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The fields written to every output file, spike times as one array plus offsets.

    With ``traces``, the input ΔF/F (``dff``, its ``frame_rate``) and the ROI indices
    of the rows (``roi_index``) are stored too, so a result file is self-contained.
    """
    arrays: dict[str, Any] = {
        "rate": result.rate,
        "time": result.time,
        "noise_level": result.noise_level,
        "model": result.model,
        "neuron_model": result.neuron_model,
        "model_sha256": json.dumps(result.model_sha256, sort_keys=True),
        "settings": json.dumps({**result.settings, **(traces.settings if traces else {}), **(extra or {})}, sort_keys=True),
    }
    if traces is not None:
        arrays["dff"] = np.atleast_2d(traces.dff).astype(np.float32)
        arrays["frame_rate"] = float(result.settings["frame_rate"])
        rows = arrays["dff"].shape[0]
        arrays["roi_index"] = traces.roi_index if traces.roi_index is not None else np.arange(rows)
    if result.spike_counts is not None and result.spike_times is not None:
        arrays["spike_counts"] = result.spike_counts
        arrays["spike_times"] = np.concatenate(result.spike_times) if result.spike_times else np.zeros(0)
        arrays["spike_times_offsets"] = np.cumsum([0] + [t.size for t in result.spike_times]).astype(np.int64)
    return arrays


def write_result(path: str | Path, result: InferenceResult, traces: Traces | None = None, extra: dict[str, Any] | None = None) -> Path:
    """Write ``result`` to ``.npz``, ``.mat`` or ``.h5`` via a temporary file and a rename.

    In ``.mat`` files spike times are a cell array (one row vector per neuron);
    in ``.npz`` and ``.h5`` files neuron ``i``'s spikes are
    ``spike_times[spike_times_offsets[i]:spike_times_offsets[i + 1]]``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in RESULT_SUFFIXES:
        raise InputError(f"{path}: output must end in {' or '.join(RESULT_SUFFIXES)}")
    arrays = result_arrays(result, traces, extra)
    if suffix == ".mat" and "spike_times" in arrays:
        cells = np.empty((len(result.spike_times), 1), dtype=object)
        for index, times in enumerate(result.spike_times):
            cells[index, 0] = times[None, :]
        arrays["spike_times"] = cells
        del arrays["spike_times_offsets"]
    check_output(path)
    with atomic_output(path) as temporary, open(temporary, "wb") as stream:
        if suffix == ".npz":
            np.savez_compressed(stream, **arrays)
        elif suffix == ".mat":
            scipy.io.savemat(stream, arrays, do_compression=True, oned_as="row")
        else:
            _write_h5(stream, arrays)
    return path


def _write_h5(stream, arrays: dict[str, Any]) -> None:
    h5py = _require_h5py("writing .h5")
    with h5py.File(stream, "w") as handle:
        for key, value in arrays.items():
            if isinstance(value, str):
                handle.attrs[key] = value
            elif np.asarray(value).dtype.kind == "U":  # names: fixed-length ASCII, which a write-only stream can take
                handle.create_dataset(key, data=np.char.encode(np.asarray(value), "ascii"))
            else:
                handle.create_dataset(key, data=value, compression="gzip" if np.ndim(value) > 1 else None)
