"""Result files: ``.npz``, ``.mat`` or ``.h5`` with the schema documented in the README
(``rate``, ``time``, ``spike_counts``, ``spike_times`` …), written atomically; and the
ragged encoding of per-neuron spike times every format shares."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io

from ens2rt.errors import InputError
from ens2rt.formats.arrays import _require_h5py
from ens2rt.formats.base import Traces
from ens2rt.formats.files import atomic_output, check_output
from ens2rt.result import InferenceResult, provenance_json

RESULT_SUFFIXES = (".npz", ".mat", ".h5")


def ragged(spike_times: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-neuron spike times as one flat array and offsets: neuron i's are ``flat[offsets[i]:offsets[i + 1]]``."""
    flat = np.concatenate(spike_times).astype(np.float64) if spike_times else np.zeros(0)
    return flat, np.cumsum([0] + [t.size for t in spike_times]).astype(np.int64)


def unragged(flat: np.ndarray, offsets: np.ndarray, neuron: int) -> np.ndarray:
    """Neuron ``neuron``'s spike times from :func:`ragged`'s encoding."""
    return flat[offsets[neuron] : offsets[neuron + 1]]


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
        "settings": provenance_json(result.settings, traces.settings if traces else None, extra),
    }
    if result.calibration_unit is not None:
        arrays["calibration_unit"] = result.calibration_unit
        arrays["calibration_applied"] = result.calibration_applied
    if traces is not None:
        arrays["dff"] = np.atleast_2d(traces.dff).astype(np.float32)
        arrays["frame_rate"] = float(result.settings["frame_rate"])
        rows = arrays["dff"].shape[0]
        arrays["roi_index"] = traces.roi_index if traces.roi_index is not None else np.arange(rows)
    if result.spike_counts is not None and result.spike_times is not None:
        arrays["spike_counts"] = result.spike_counts
        arrays["spike_times"], arrays["spike_times_offsets"] = ragged(result.spike_times)
        if result.spike_total_interval is not None:
            arrays["spike_total_interval"] = result.spike_total_interval
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
    image = _h5_image(arrays) if suffix == ".h5" else None
    with atomic_output(path) as temporary, open(temporary, "wb") as stream:
        if suffix == ".npz":
            np.savez_compressed(stream, **arrays)
        elif suffix == ".mat":
            scipy.io.savemat(stream, arrays, do_compression=True, oned_as="row")
        else:
            stream.write(image)
    return path


def _h5_image(arrays: dict[str, Any]) -> bytes:
    """The bytes of an HDF5 file holding ``arrays``, made in memory.

    HDF5 writing to a disk that fills up crashes the process as the file is closed;
    writing the finished image with Python's own I/O fails cleanly instead.
    """
    h5py = _require_h5py("writing .h5")
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        for key, value in arrays.items():
            if isinstance(value, str):
                handle.attrs[key] = value
            elif np.asarray(value).dtype.kind == "U":  # names: fixed-length ASCII
                handle.create_dataset(key, data=np.char.encode(np.asarray(value), "ascii"))
            else:
                handle.create_dataset(key, data=value, compression="gzip" if np.ndim(value) > 1 else None)
    return buffer.getvalue()
