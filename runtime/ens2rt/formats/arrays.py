"""ΔF/F from array files: ``.npy``, ``.npz`` and ``.mat`` (a named variable, or the only
array; MATLAB v7.3 through h5py) and ``.csv``/``.tsv`` (one neuron per row)."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.io

from ens2rt.engine.conditioning import check_dtype
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
    check_dtype(dff.dtype, f"the data in {path}")
    if time_first:
        dff = dff.T
    return Traces(dff=dff, frame_rate=frame_rate, source=str(path))


def _read_npy(path: Path, variable: str | None) -> tuple[np.ndarray, float | None]:
    loaded = np.load(path, allow_pickle=False)
    if isinstance(loaded, np.lib.npyio.NpzFile):  # an .npz archive under an .npy name: read by its contents
        loaded.close()
        return _read_npz(path, variable)
    return loaded, None


def _read_npz(path: Path, variable: str | None) -> tuple[np.ndarray, float | None]:
    with np.load(path, allow_pickle=False) as archive:
        contents = {key: archive[key] for key in archive.files}
    return _pick_variable(path, contents, variable), _frame_rate_from(contents)


def _read_mat(path: Path, variable: str | None) -> tuple[np.ndarray, float | None]:
    try:
        loaded = scipy.io.loadmat(path)
    except NotImplementedError:  # scipy's answer to MATLAB v7.3 files, which are HDF5
        contents = _read_mat_v73(path)
    except ValueError:  # no MATLAB header: an HDF5 file written as .mat by another program, or no .mat at all
        if not _is_hdf5(path):
            raise
        contents = _read_mat_v73(path)
    else:
        contents = {}
        for name, value in loaded.items():
            if not name.startswith("__"):
                contents.update(_struct_fields(name, value))
    return _pick_variable(path, contents, variable), _frame_rate_from(contents)


def _struct_fields(name: str, value: np.ndarray) -> dict[str, np.ndarray]:
    """A MATLAB variable, and every field of a (1 × 1) struct in it as ``name.field`` (nested: ``a.b.c``)."""
    names = value.dtype.names if isinstance(value, np.ndarray) else None
    if not names:
        return {name: value}
    if value.size != 1:
        return {name: value}  # a struct array: no single field to take
    fields: dict[str, np.ndarray] = {}
    for field in names:
        fields.update(_struct_fields(f"{name}.{field}", value.ravel()[0][field]))
    return fields


def _is_hdf5(path: Path) -> bool:
    with open(path, "rb") as stream:
        return stream.read(8) == b"\x89HDF\r\n\x1a\n"


def _read_mat_v73(path: Path) -> dict[str, np.ndarray]:
    """The numeric variables of a MATLAB v7.3 (HDF5) file, in MATLAB's orientation; struct fields as ``name.field``.

    HDF5 stores MATLAB's column-major arrays with their axes reversed; transposing
    them back makes a neurons × frames variable read as neurons × frames.
    """
    h5py = _require_h5py("reading MATLAB v7.3 .mat files")
    contents = {}

    def collect(name: str, item) -> None:
        if any(part.startswith("#") for part in name.split("/")):
            return  # MATLAB's internal references
        if isinstance(item, h5py.Dataset) and item.dtype.kind in "iufc":
            contents[name.replace("/", ".")] = np.asarray(item[()]).T

    with h5py.File(path, "r") as handle:
        handle.visititems(collect)
    return contents


def _read_text(path: Path, variable: str | None) -> tuple[np.ndarray, float | None]:
    """A delimited text file, one neuron per row, as spreadsheets write it.

    Takes a UTF-8 byte-order mark, ``;`` or tab delimiters and decimal commas (``0,25;0,31``:
    what Excel writes where the decimal mark is a comma); empty cells and ``NaN`` are gaps;
    lines starting with ``#`` are comments. The browser page reads text the same way
    (``ens2rt/web/inputs.mjs``).
    """
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise InputError(f"{path}: the file is empty")
    delimiter = "\t" if path.suffix.lower() == ".tsv" else _delimiter(lines[0])
    if delimiter != ",":
        lines = [line.replace(",", ".") for line in lines]  # decimal commas
    try:  # numpy's fast parser takes every full table
        return np.loadtxt(io.StringIO("\n".join(lines)), delimiter=delimiter, ndmin=2, dtype=np.float64), None
    except ValueError:
        pass
    rows = [line.split(delimiter) for line in lines]
    problem = _text_problem(rows)
    if problem:
        raise InputError(f"{path}: {problem}")
    return np.array([[float(cell) if cell.strip() else np.nan for cell in row] for row in rows], dtype=np.float64), None


def _delimiter(first_line: str) -> str:
    """The delimiter of a ``.csv``: ``;`` or tab where the line has them (spreadsheets' choices), else ``,``."""
    for candidate in (";", "\t"):
        if candidate in first_line:
            return candidate
    return ","


def _text_problem(rows: list[list[str]]) -> str | None:
    """Why delimited text is not a table of numbers: the first non-numeric cell or ragged row; None if it is one."""
    for number, row in enumerate(rows, start=1):
        for column, cell in enumerate(row, start=1):
            if cell.strip() and not _is_number(cell):
                header = " (a header row? remove it: one neuron per row, numbers only)" if number == 1 else ""
                return f"row {number}, column {column}: {cell.strip()[:40]!r} is not a number{header}"
        if len(row) != len(rows[0]):
            return (f"row {number} has {len(row)} values and row 1 has {len(rows[0])}: every row must be one neuron's whole "
                    "trace (leave a cell empty for a missing frame)")  # fmt: skip
    return None


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


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
            raise InputError(f"{path}: no variable {variable!r}; it holds {', '.join(sorted(contents))} "
                             "(a field of a MATLAB struct is named like data.dff)")  # fmt: skip
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
    description = "an array file (.npy, .npz, .mat, .csv, .tsv), neurons × frames (frames × neurons with --time-axis first)"

    def can_read(self, path: Path) -> bool:
        return path.suffix.lower() in TRACE_SUFFIXES and not path.is_dir()

    def read(self, path: Path, settings: ReadSettings) -> Traces:
        traces = read_traces(path, variable=settings.variable, time_first=settings.time_first)
        return Traces(traces.dff, traces.frame_rate, traces.source, settings={"source_format": self.name})

    def files_read(self, path: Path) -> list[Path]:
        return [path]


READER = ArrayReader()
