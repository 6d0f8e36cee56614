"""Input and output formats: one module per format, found through one registry.

``read_input(path)`` asks each registered :class:`~ens2rt.formats.base.Reader` in
turn (:data:`READERS`) whether it can read ``path`` and lets the first one read it;
every reader returns :class:`~ens2rt.formats.base.Traces` (ΔF/F, frame rate, ROI
indices, source metadata). A new input format is one module with a ``READER`` object,
listed here. Results go to ``.npz``/``.mat``/``.h5`` (:mod:`ens2rt.formats.results`) or
into a copy of an NWB input (:mod:`ens2rt.formats.nwb`), always through the one
atomic writer of :mod:`ens2rt.formats.files`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

from ens2rt.engine.traces import check_frame_rate
from ens2rt.errors import InputError, InputWarning
from ens2rt.formats import arrays, caiman, nwb, suite2p
from ens2rt.formats.arrays import _require_h5py
from ens2rt.formats.base import DffSettings, Reader, ReadSettings, Traces
from ens2rt.formats.files import check_output
from ens2rt.formats.results import RESULT_SUFFIXES, write_result

#: in the order they are asked: folders first, then by suffix
READERS: tuple[Reader, ...] = (suite2p.READER, nwb.READER, caiman.READER, arrays.READER)
OUTPUT_SUFFIXES = (*RESULT_SUFFIXES, ".nwb")

__all__ = ["READERS", "DffSettings", "ReadSettings", "Reader", "Traces", "check_destination", "files_read", "read_input",
           "reader_for", "write_result"]  # fmt: skip


def reader_for(path: str | Path) -> Reader:
    """The registered reader of ``path``, or an :class:`InputError` that says what can be read."""
    path = Path(path)
    for reader in READERS:
        if reader.can_read(path):
            return reader
    if path.is_dir():
        planes = suite2p.plane_folders(path)
        if planes:
            names = ", ".join(str(plane.relative_to(path)) for plane in planes)
            raise InputError(f"{path}: a suite2p output folder; give one plane folder, e.g. {planes[0]} (planes: {names})")
        raise InputError(f"{path}: a folder, but not a suite2p plane folder (F.npy, Fneu.npy, iscell.npy)")
    if not path.exists():
        raise InputError(f"{path}: no such file")
    raise InputError(f"{path}: unsupported input type {path.suffix.lower()!r}; ens2rt reads "
                     + "; ".join(reader.description for reader in READERS))  # fmt: skip


def read_input(path: str | Path, settings: ReadSettings | None = None, **fields: Any) -> Traces:
    """ΔF/F from any registered format; ``settings`` (or its fields as keywords) say how.

    A frame rate given in ``settings`` is used where the file states none. Where the
    file states another, it is used with an :class:`InputWarning`, except for NWB,
    whose timing is the file's and whose results are written back on it.
    """
    settings = settings or ReadSettings(**fields)
    path = Path(path)
    reader = reader_for(path)
    traces = reader.read(path, settings)
    given, stated = settings.frame_rate, traces.frame_rate
    if given is None:
        if stated is not None:
            try:
                check_frame_rate(stated)
            except InputError as exc:
                raise InputError(f"{path} states a frame rate of {stated!r} Hz, which no recording has ({exc}); "
                                 "pass the real one with --frame-rate") from None  # fmt: skip
        return traces
    if stated is None:
        return replace(traces, frame_rate=given)
    if math.isclose(given, stated, rel_tol=RATE_TOLERANCE):
        return traces  # the same rate: the file's own digits
    if reader is nwb.READER:
        raise InputError(f"{path} states {stated:.6g} Hz and --frame-rate says {given:g}: an NWB file's timing is its own, "
                         "and results are written back on it; drop --frame-rate (or correct the file)")  # fmt: skip
    warnings.warn(f"{path} states a frame rate of {stated:.6g} Hz; running at {given:g} Hz as --frame-rate says",
                  InputWarning, stacklevel=2)  # fmt: skip
    return replace(traces, frame_rate=given)


RATE_TOLERANCE = 0.001  # a rate given as 30 for a file's 29.97 disagrees; one given as 30.00 for 30.0001 does not


def files_read(path: str | Path) -> list[Path]:
    """The files :func:`read_input` reads for ``path`` (e.g. a suite2p folder's arrays and ``ops.npy``)."""
    path = Path(path)
    try:
        return reader_for(path).files_read(path)
    except InputError:
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
        nwb.refuse_results(source)
    return check_output(destination, files_read(source), overwrite_input=overwrite_input)
