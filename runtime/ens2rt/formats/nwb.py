"""ΔF/F from an NWB file and results written back into a copy of it (needs ``pynwb``).

Input: a ``RoiResponseSeries`` of a ``DfOverF`` container (chosen by name when the
file has several). Output: a copy of the input file with a processing module
``spike_inference`` holding the rate as a ``RoiResponseSeries`` over the same ROIs
and a ``DynamicTable`` of spike times, one row per ROI.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ens2rt.engine.conditioning import check_dtype
from ens2rt.engine.resample import TARGET_RATE_HZ
from ens2rt.errors import InputError
from ens2rt.formats.base import ReadSettings, Traces
from ens2rt.formats.files import atomic_output, in_child_process
from ens2rt.formats.results import ragged
from ens2rt.result import InferenceResult, provenance_json

MODULE = "spike_inference"


def _pynwb():
    try:
        import pynwb
    except ImportError as exc:
        raise InputError("NWB files need pynwb: pip install 'ens2-runtime[nwb]'") from exc
    return pynwb


def dff_series(nwbfile) -> dict:
    """Every RoiResponseSeries inside a DfOverF container, by name."""
    from pynwb.ophys import DfOverF

    found = {}
    for module in nwbfile.processing.values():
        for interface in module.data_interfaces.values():
            if isinstance(interface, DfOverF):
                found.update(interface.roi_response_series)
    return found


def _choose(path: Path, nwbfile, name: str | None):
    series = dff_series(nwbfile)
    if not series:
        raise InputError(f"{path}: no DfOverF RoiResponseSeries (ens2rt needs ΔF/F, not raw fluorescence)")
    if name is None:
        if len(series) > 1:
            raise InputError(f"{path}: several ΔF/F series ({', '.join(sorted(series))}); choose one with --series")
        name = next(iter(series))
    if name not in series:
        raise InputError(f"{path}: no ΔF/F series {name!r}; it has {', '.join(sorted(series))}")
    return series[name]


@contextmanager
def _open(path: Path) -> Iterator:
    """An NWB file opened for reading; a file that is not NWB/HDF5 is an :class:`InputError`."""
    pynwb = _pynwb()
    try:
        io = pynwb.NWBHDF5IO(str(path), "r")
        nwbfile = io.read()
    except Exception as exc:  # h5py and hdmf raise OSError, ValueError and their own types
        raise InputError(f"{path}: cannot read as NWB: {exc}") from exc
    try:
        yield io, nwbfile
    finally:
        io.close()


def refuse_results(path: str | Path, nwbfile=None) -> None:
    """Raise :class:`InputError` if an NWB file (opened here unless given) already holds ens2rt's results."""
    if nwbfile is None:
        with _open(Path(path)) as (_, opened):
            return refuse_results(path, opened)
    if MODULE in nwbfile.processing:
        raise InputError(f"{path} already holds ens2rt results (a {MODULE} module); infer from the original recording")


def read_nwb(path: str | Path, series: str | None = None) -> tuple[np.ndarray, float, str]:
    """Return (ΔF/F as ROIs × frames, frame rate, series name)."""
    path = Path(path)
    with _open(path) as (_, nwbfile):
        chosen = _choose(path, nwbfile, series)
        data = np.asarray(chosen.data[:])
        check_dtype(data.dtype, f"{path}'s series {chosen.name}")
        data = data.astype(np.float64)
        if chosen.rate is not None:
            frame_rate = float(chosen.rate)
        else:
            frame_rate = regular_frame_rate(path, chosen.name, np.asarray(chosen.timestamps[:], dtype=np.float64))
        name = chosen.name
    return (data.T if data.ndim == 2 else data[None, :]), frame_rate, name


# A frame period this far from the median one is a pause or a dropped frame, not scanner jitter.
PERIOD_TOLERANCE = 0.5


def regular_frame_rate(path: Path, name: str, timestamps: np.ndarray) -> float:
    """The frame rate of evenly spaced ``timestamps``; an :class:`InputError` naming the first pause if they are not.

    Inference takes frames as evenly spaced: a series with a pause would be run as if
    continuous, and every time after the pause would be wrong.
    """
    periods = np.diff(timestamps)
    if timestamps.size < 2 or not np.isfinite(timestamps).all():
        raise InputError(f"{path}: series {name} needs at least two finite timestamps")
    period = float(np.median(periods))
    if period <= 0:
        raise InputError(f"{path}: series {name}'s timestamps do not increase (median step {period:.3g} s)")
    odd = np.flatnonzero(~(np.abs(periods - period) <= PERIOD_TOLERANCE * period))
    if odd.size:
        first = int(odd[0])
        raise InputError(
            f"{path}: series {name} is not evenly spaced in time: frame {first + 1} comes {periods[first]:.3g} s after frame "
            f"{first} at {timestamps[first] - timestamps[0]:.3g} s, where frames are {period:.3g} s apart "
            f"({odd.size} such step(s)). Inference needs evenly spaced frames: split the series at its pauses and infer "
            "each part (e.g. ens2rt.infer on each)"
        )
    return 1.0 / period


def write_nwb(source: str | Path, out: str | Path, result: InferenceResult, series: str | None = None) -> Path:
    """Copy ``source`` to ``out`` with the inferred rate and spikes added (atomically; never half-written)."""

    source, out = Path(source), Path(out)
    with _open(source) as (_, nwbfile):
        refuse_results(source, nwbfile)
        _choose(source, nwbfile, series)
    with atomic_output(out) as temporary:  # HDF5 crashes on a full disk: the copy is made in a child process
        in_child_process(lambda: _write_copy(source, temporary, result, series), out)
    return out


def _write_copy(source: Path, temporary: Path, result: InferenceResult, series: str | None) -> None:
    """Write ``source`` with the results added to ``temporary``."""
    pynwb = _pynwb()
    from hdmf.common import DynamicTable, VectorData, VectorIndex
    from pynwb.ophys import RoiResponseSeries

    with _open(source) as (io, nwbfile):
        chosen = _choose(source, nwbfile, series)
        roi_ids = np.asarray(chosen.rois.data[:])
        start = float(chosen.starting_time) if chosen.rate is not None else float(chosen.timestamps[0])
        module = nwbfile.create_processing_module(MODULE, f"ens2rt: spikes inferred from {chosen.name} by {result.model}")
        module.add(
            RoiResponseSeries(
                name="inferred_rate",
                data=result.rate.T,
                rois=chosen.rois.table.create_roi_table_region(description=f"the ROIs of {chosen.name}", region=roi_ids.tolist()),
                unit="spikes per 60 Hz bin",
                rate=TARGET_RATE_HZ,
                starting_time=start,
                description=f"model {result.model}; model_sha256 {json.dumps(result.model_sha256, sort_keys=True)}; "
                f"settings {provenance_json(result.settings)}",
            )
        )
        flat_times, offsets = ragged(result.spike_times or [np.zeros(0)] * len(roi_ids))
        flat = VectorData(name="spike_times", description="spike times, s (session time)", data=flat_times + start)
        module.add(
            DynamicTable(
                name="inferred_spikes",
                description="discrete spikes fitted to the inferred rate, one row per ROI",
                columns=[
                    VectorData(name="roi", description="index into the plane segmentation", data=roi_ids.tolist()),
                    VectorData(name="noise_level", description="ENS2/CASCADE noise level of the input", data=result.noise_level.tolist()),
                    VectorData(name="model", description="the model that ran on this ROI", data=result.neuron_model.tolist()),
                    flat,
                    VectorIndex(name="spike_times_index", target=flat, data=offsets[1:]),
                ],
            )
        )
        with pynwb.NWBHDF5IO(str(temporary), "w") as writer:
            writer.export(src_io=io, nwbfile=nwbfile)


class NwbReader:
    name = "nwb"
    description = "an NWB file's ΔF/F RoiResponseSeries (.nwb; results can be written into a copy)"

    def can_read(self, path: Path) -> bool:
        return path.suffix.lower() == ".nwb" and path.is_file()

    def read(self, path: Path, settings: ReadSettings) -> Traces:
        dff, rate, name = read_nwb(path, settings.series)
        return Traces(dff, rate, str(path), settings={"source_format": self.name, "series": name})

    def files_read(self, path: Path) -> list[Path]:
        return [path]


READER = NwbReader()
