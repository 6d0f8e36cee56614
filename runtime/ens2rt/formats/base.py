"""What every format module shares: the traces a reader returns, the settings it reads with,
and the :class:`Reader` interface the registry (:mod:`ens2rt.formats`) holds."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ens2rt.errors import InputError


@dataclass(frozen=True)
class DffSettings:
    """How ΔF/F is computed from suite2p's raw fluorescence (:mod:`ens2rt.formats.suite2p`); recorded in every output."""

    neuropil_coefficient: float = 0.7
    baseline_window_s: float = 60.0
    baseline_percentile: float = 8.0

    def __post_init__(self) -> None:
        for name, flag, value, low, high, meaning in (
            ("neuropil coefficient", "--neuropil", self.neuropil_coefficient, 0.0, 1.0, "the share of neuropil subtracted"),
            ("baseline percentile", "--baseline-percentile", self.baseline_percentile, 0.0, 100.0, "a percentile"),
        ):
            if not _is_number(value) or not low <= value <= high:
                raise InputError(f"the {name} (CLI: {flag}) must be from {low:g} to {high:g} ({meaning}), not {value!r}")
        if not _is_number(self.baseline_window_s) or not 0 < self.baseline_window_s <= MAX_BASELINE_WINDOW_S:
            raise InputError(f"the baseline window (CLI: --baseline-window) must be a number of seconds above 0 and at most "
                             f"{MAX_BASELINE_WINDOW_S:g}, not {self.baseline_window_s!r}")  # fmt: skip


MAX_BASELINE_WINDOW_S = 3600.0  # an hour: longer follows no drift a recording has


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Traces:
    """ΔF/F read from a file: (n_neurons, n_frames), and the frame rate if the file holds one."""

    dff: np.ndarray
    frame_rate: float | None
    source: str
    roi_index: np.ndarray | None = None  #: which ROIs of the source the rows are
    settings: dict[str, Any] = field(default_factory=dict)  #: the source format, and how ΔF/F was derived if it was


@dataclass(frozen=True)
class ReadSettings:
    """How to read an input; each field is for the formats that name it (the CLI groups them so)."""

    frame_rate: float | None = None  #: every format: overrides the file's own
    variable: str | None = None  #: .npz/.mat: which variable, if several
    time_first: bool = False  #: array files: rows are frames, columns neurons
    series: str | None = None  #: NWB: which ΔF/F RoiResponseSeries, if several
    all_rois: bool = False  #: suite2p: every ROI, not only iscell ones
    dff_settings: DffSettings = DffSettings()  #: suite2p: how ΔF/F is derived from F and Fneu


class Reader(Protocol):
    """One input format. ``can_read`` decides by the path alone (suffix, folder contents)."""

    name: str
    description: str

    def can_read(self, path: Path) -> bool: ...

    def read(self, path: Path, settings: ReadSettings) -> Traces: ...

    def files_read(self, path: Path) -> list[Path]: ...
