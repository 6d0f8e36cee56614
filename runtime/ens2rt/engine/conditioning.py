"""One input-conditioning step for every entry point: values checked, units judged, gaps found.

``ens2rt.infer`` conditions whole traces (:func:`condition`). A :class:`~ens2rt.Stream`
cannot see a whole trace, so it runs the same checks on what it has: each push's values
(:func:`as_frames`), the noise levels it is given (:func:`check_given_levels`) and
its first :data:`STREAM_CHECK_S` seconds (:func:`check_units`). ``ens2rt.dask`` runs
them per neuron block and judges the units from per-neuron statistics
(:func:`unit_statistics`, :func:`check_units`) when the result is computed. Each entry
point records what it did in ``settings["conditioning"]``.

The units rule tells ΔF/F as a fraction from ΔF/F in percent or raw fluorescence by
absolute size, since nothing else tells them apart (percent is the fraction × 100).
It was set on the ground truth (all trials, native and resampled to 30, 15, 7.5 and
2.5 Hz by point samples and by frame averages): it refuses none of those, and catches
most of the same traces × 100 (``python -m benchmarks.units_rule``; ``docs/input-checks.md``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ens2rt.engine.traces import by_rows, fill_gaps, flat_frames, flat_run_frames, noise_level
from ens2rt.errors import InputError, InputWarning

# |ΔF/F| beyond this is no fluorescence ratio, and squares of such values summed over a
# window approach float32's limit (3.4e38): the network's arithmetic would overflow.
MAX_ABS_DFF = 1e15
# Real ΔF/F (a fraction, 0.3 = 30 %) has noise levels of 0.19 to 13 at the frame rate it
# was recorded at. At low frame rates an active neuron's frame-to-frame change is mostly
# signal, and ν grows as 1/√fs: the ground truth point-sampled to 2.5 Hz reaches ν 80,
# a median |step| of 1.3 (ΔF/F). So the limit is ν 20 or a median |step| of 2, whichever
# is higher. Percent has 100 times both; raw fluorescence far more.
IMPLAUSIBLE_NOISE_LEVEL = 20.0
IMPLAUSIBLE_MEDIAN_STEP = 2.0
# a median |ΔF/F| of 5 occurs in real recordings (a DS25 trial); 10 is 1000 % half the time
IMPLAUSIBLE_MEDIAN_ABS = 10.0
# ΔF/F's baseline is 0: a neuron's 10th percentile lies near it (−0.1 to 0.1 in most of the
# ground truth, but single trials reach 0.93 and 3.8). F/F0 (ΔF/F + 1) puts every neuron's
# near 1, and models read the offset as activity (the example neuron: 830 spikes instead of
# 331, 3103 on ens2-exc-conv). So the median over neurons is judged, from three neurons on.
IMPLAUSIBLE_BASELINE, BASELINE_MIN_NEURONS = 0.7, 3
# The quietest ground-truth trial has ν 0.19; a fraction divided by 100 (percent=True given
# a fraction) has ν near 0.004, where the models see almost nothing (the example neuron: 0 spikes).
IMPLAUSIBLE_LOW_NOISE_LEVEL = 0.03
# A "recording" this short with ten times more rows than frames is almost surely transposed.
TRANSPOSED_RATIO, TRANSPOSED_MAX_S = 10, 10.0
# Along time a calcium trace is smooth (lag-1 correlation 0.5 to 1); across neighbouring
# ROIs it is not. More rows than columns, and rows that correlate far more than columns:
# the rows are frames.
TRANSPOSED_MIN_CORRELATION, TRANSPOSED_MARGIN = 0.5, 0.3
EMPTY_NEURON_POLICIES = ("nan", "error")
STREAM_CHECK_S = 10.0  # a stream judges the units on its first 10 s of frames
SKIP_HINT = "if the input really is ΔF/F as a fraction, pass input_checks=False (CLI: --no-input-checks)"


def noise_level_limit(frame_rate: float) -> float:
    """The highest noise level ΔF/F as a fraction reaches at ``frame_rate`` (see :data:`IMPLAUSIBLE_NOISE_LEVEL`)."""
    return max(IMPLAUSIBLE_NOISE_LEVEL, IMPLAUSIBLE_MEDIAN_STEP * 100.0 / math.sqrt(frame_rate))


def numeric_values(array: np.ndarray, what: str = "ΔF/F") -> np.ndarray:
    """``array`` as float64, or an :class:`InputError` for complex, boolean, text or object data."""
    array = np.asarray(array) if not hasattr(array, "dtype") else array
    kind = np.dtype(array.dtype).kind
    if kind == "c":
        raise InputError(f"{what} is complex ({array.dtype}); spike inference needs real ΔF/F: take the real part or "
                         "the magnitude first, whichever your data means")  # fmt: skip
    if kind == "b":
        raise InputError(f"{what} is boolean (True/False), not ΔF/F")
    if kind == "O":  # e.g. a list of arrays: numbers inside, or not
        try:
            return numeric_values(np.asarray(array.tolist(), dtype=np.float64), what)
        except (TypeError, ValueError) as exc:
            raise InputError(f"{what} must be a numeric array of one shape: {exc}") from exc
    if kind not in "iuf":
        raise InputError(f"{what} must be a numeric array, not {array.dtype} ({'text' if kind in 'US' else 'no numbers'})")
    return np.asarray(array, dtype=np.float64)


def check_dtype(dtype: np.dtype, what: str = "ΔF/F") -> None:
    """:func:`numeric_values`' refusals from the dtype alone, before any value is read (readers, dask)."""
    if np.dtype(dtype).kind != "O":  # an object array (a MATLAB cell array …) is judged when converted
        numeric_values(np.empty(0, dtype=dtype), what)


def as_trace_matrix(dff: np.ndarray) -> np.ndarray:
    """ΔF/F as a float64 (n_neurons, n_frames) array, or raise :class:`InputError`."""
    try:
        given = dff if hasattr(dff, "dtype") else np.asarray(dff)
    except (TypeError, ValueError) as exc:  # ragged nested lists
        raise InputError(f"ΔF/F must be a numeric array of one shape: {exc}") from exc
    array = numeric_values(given)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise InputError(f"ΔF/F must be (n_neurons, n_frames) or (n_frames,), got shape {array.shape}")
    if array.size == 0:
        raise InputError(f"ΔF/F is empty (shape {array.shape})")
    return array


def as_frames(frames: np.ndarray, n_neurons: int, percent: bool) -> np.ndarray:
    """A stream's pushed frames as a fraction, (n_neurons, k) float64; an :class:`InputError` if unusable."""
    frames = numeric_values(frames if hasattr(frames, "dtype") else np.asarray(frames), "pushed frames")
    if frames.ndim == 1 and n_neurons == 1:
        frames = frames[None, :]
    if frames.ndim != 2 or frames.shape[0] != n_neurons or frames.shape[1] < 1:
        raise InputError(f"push takes ({n_neurons}, k) frames with k >= 1, got shape {frames.shape}")
    frames = to_fraction(frames, percent)
    check_magnitude(np.where(np.isfinite(frames), frames, 0.0))
    return frames


def to_fraction(traces: np.ndarray, percent: bool) -> np.ndarray:
    """ΔF/F as a fraction: ``traces`` / 100 if given in percent."""
    return traces / 100.0 if percent else traces


def check_magnitude(filled: np.ndarray) -> None:
    """Raise if a value of gap-filled traces is beyond ``MAX_ABS_DFF``, where the network's float32 arithmetic fails."""
    largest = float(np.max(by_rows(lambda rows: np.max(np.abs(rows), axis=1), filled))) if filled.size else 0.0
    if largest > MAX_ABS_DFF:
        raise InputError(
            f"ΔF/F values reach {largest:.3g}; beyond ±{MAX_ABS_DFF:.0e} the network's float32 arithmetic overflows "
            "and no ΔF/F (a fraction, 0.3 = 30 %) is that large: is this raw fluorescence or a corrupt file?"
        )


def unit_statistics(traces: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """(n_neurons, 3): noise level, median |ΔF/F| and 10th percentile of each neuron (NaN frames ignored).

    What :func:`check_units` judges; per neuron, so blocks of neurons can be measured apart.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows give NaN, judged as nothing
        typical = by_rows(lambda rows: np.nanmedian(np.abs(rows), axis=1), traces)
        low = by_rows(lambda rows: np.nanpercentile(rows, 10, axis=1), traces)
    return np.column_stack([np.asarray(levels, dtype=np.float64), typical, low])


def check_units(statistics: np.ndarray, frame_rate: float) -> list[str]:
    """Raise :class:`InputError` with the fix when the input is most likely not ΔF/F as a fraction.

    Catches ΔF/F in percent or raw fluorescence (noise level or typical amplitude beyond
    any ΔF/F recording at this frame rate), a fraction divided by 100 once too often
    (noise level far below any recording) and F/F0 (a baseline near 1 instead of 0,
    judged from three neurons on). ``statistics``: :func:`unit_statistics` of every neuron.
    Returns warnings for input it lets through but cannot vouch for: a noise level above
    :data:`IMPLAUSIBLE_NOISE_LEVEL` that real ΔF/F reaches only at low frame rates, and
    quiet percent data reaches too.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN input: nothing to judge
        level, typical, baseline = np.nanmedian(statistics, axis=0) if statistics.size else (np.nan,) * 3
    limit = noise_level_limit(frame_rate)
    if level > limit or typical > IMPLAUSIBLE_MEDIAN_ABS:
        raise InputError(
            f"the traces do not look like ΔF/F as a fraction (0.3 = 30 %): median noise level {level:.3g} "
            f"(ΔF/F recordings at {frame_rate:g} Hz: below {limit:.3g}), median |value| {typical:.3g}. ΔF/F in percent: "
            f"pass percent=True (CLI: --percent); raw fluorescence: compute ΔF/F first; {SKIP_HINT}"
        )
    if 0 < level < IMPLAUSIBLE_LOW_NOISE_LEVEL:  # 0: frames that never change, too few to be a flat run
        raise InputError(
            f"the traces' median noise level is {level:.3g}, far below any ΔF/F recording (about 0.2 to 13): is this a "
            f"fraction divided by 100, e.g. percent=True (CLI: --percent) given ΔF/F that is already a fraction? {SKIP_HINT}"
        )
    if statistics.shape[0] >= BASELINE_MIN_NEURONS and baseline > IMPLAUSIBLE_BASELINE:
        raise InputError(
            f"the traces' baseline (median over neurons of their 10th percentile) is {baseline:.3g}, where ΔF/F's is 0: "
            f"is this F/F0? ΔF/F = F/F0 − 1, so subtract 1 first; {SKIP_HINT}"
        )
    if level > IMPLAUSIBLE_NOISE_LEVEL:
        return [f"the traces' median noise level is {level:.3g}: ΔF/F as a fraction reaches that only for very active, "
                f"bright neurons at low frame rates, and quiet ΔF/F in percent reaches it too. If the input is in percent, "
                "pass percent=True (CLI: --percent)"]  # fmt: skip
    return []


def check_orientation(filled: np.ndarray, frame_rate: float, shape: tuple[int, int] | None = None) -> None:
    """Raise when a (rows, columns) array is most likely frames × neurons passed as neurons × frames.

    ``shape``: of the whole array, when ``filled`` is a corner of it.
    """
    n_neurons, n_frames = shape or filled.shape
    duration = n_frames / frame_rate
    hint = f"are the rows frames? Transpose it (CLI: --time-axis first); {SKIP_HINT}"
    if n_neurons >= TRANSPOSED_RATIO * n_frames and duration < TRANSPOSED_MAX_S:
        raise InputError(f"the input is {n_neurons} neurons × {n_frames} frames, {duration:.2f} s each: {hint}")
    if n_neurons > n_frames >= 3:
        along_rows, along_columns = _lag_one_correlation(filled, axis=1), _lag_one_correlation(filled, axis=0)
        if along_columns > TRANSPOSED_MIN_CORRELATION and along_columns - along_rows > TRANSPOSED_MARGIN:
            raise InputError(
                f"the input is {n_neurons} neurons × {n_frames} frames ({duration:.1f} s each), but it changes smoothly "
                f"down its columns (lag-1 correlation {along_columns:.2f}) and not along its rows ({along_rows:.2f}), "
                f"as frames × neurons does: {hint}"
            )


def _lag_one_correlation(values: np.ndarray, axis: int, most: int = 2048) -> float:
    """Correlation of neighbours along ``axis`` after removing each line's mean (at most ``most`` × ``most`` values)."""
    sample = values[:most, :most] if axis == 1 else values[:most, :most].T
    centred = sample - sample.mean(axis=1, keepdims=True)
    power = float(np.sum(centred * centred))
    return float(np.sum(centred[:, 1:] * centred[:, :-1]) / power) if power > 0 else 0.0


def check_given_levels(noise_level: float | np.ndarray | None, frame_rate: float) -> None:
    """Refuse noise levels that no ΔF/F recording has (given in percent, or of raw fluorescence)."""
    if noise_level is None:
        return
    levels = np.asarray(noise_level, dtype=np.float64)
    if levels.size and np.isfinite(levels).all() and float(np.median(levels)) > noise_level_limit(frame_rate):
        raise InputError(
            f"the noise levels given have median {float(np.median(levels)):.3g}, beyond any ΔF/F recording at "
            f"{frame_rate:g} Hz (below {noise_level_limit(frame_rate):.3g}): were they measured on ΔF/F in percent or "
            f"on raw fluorescence? Measure them with ens2rt.noise_level on ΔF/F as a fraction; {SKIP_HINT}"
        )


def warn_all(messages: list[str], stacklevel: int = 2) -> list[str]:
    """Issue each message as an :class:`InputWarning`; return them (to record in ``settings["warnings"]``)."""
    for message in messages:
        warnings.warn(message, InputWarning, stacklevel=stacklevel + 1)
    return messages


def neuron_labels(rows: Sequence[int] | np.ndarray, roi_index: np.ndarray | None) -> tuple[str, list[str]]:
    """What messages call neurons (``"neuron"`` by row, ``"ROI"`` by the source's ROI numbers) and each row's label."""
    rows = np.asarray(rows, dtype=np.int64)
    names = rows if roi_index is None else np.asarray(roi_index)[rows]
    return ("neuron" if roi_index is None else "ROI"), [str(name) for name in names.tolist()]


def neuron_names(rows: Sequence[int] | np.ndarray, roi_index: np.ndarray | None, most: int = 10) -> str:
    """``neuron 3, 7`` by row, or ``ROI 12, 40`` by the source's ROI numbers; at most ``most`` listed."""
    noun, labels = neuron_labels(rows, roi_index)
    return f"{noun} {', '.join(labels[:most])}{', …' if len(labels) > most else ''}"


@dataclass(frozen=True)
class Conditioned:
    """Whole traces made ready for the network, and what was found on the way."""

    filled: np.ndarray  #: (n, frames) float64 ΔF/F as a fraction, gaps bridged by interpolation
    gaps: np.ndarray  #: (n, frames) bool: non-finite frames and runs of one value
    noise_level: np.ndarray  #: (n,) ν of each neuron (NaN for a neuron without finite frames)
    warnings: list[str]  #: what was said about the input (also issued as :class:`InputWarning`)


def condition(dff: np.ndarray, frame_rate: float, *, percent: bool, input_checks: bool, empty_neurons: str,
              roi_index: np.ndarray | None = None, noise_level_given: float | np.ndarray | None = None) -> Conditioned:  # fmt: skip
    """Check and prepare whole traces (``ens2rt.infer``): values, units, orientation, gaps.

    ``roi_index``: the source's number of each row, to name neurons in messages;
    ``noise_level_given``: noise levels passed in to choose family members (checked too).
    """
    traces = to_fraction(as_trace_matrix(dff), percent)
    if roi_index is not None and np.shape(roi_index) != (traces.shape[0],):
        raise InputError(f"roi_index must hold one number per neuron ({traces.shape[0]}), got shape {np.shape(roi_index)}")
    flat = flat_frames(traces, frame_rate)
    if flat.any():  # padding or a dead ROI: gaps, as NaN frames are (never written into the caller's array)
        traces = np.where(flat, np.nan, traces)
    filled, gaps = fill_gaps(traces)
    check_magnitude(filled)
    levels = noise_level(traces, frame_rate, find_flat_runs=False)  # flat runs are NaN by now
    notes = []
    if input_checks:
        check_orientation(filled, frame_rate)
        notes += warn_all(check_units(unit_statistics(traces, levels), frame_rate), stacklevel=4)
        check_given_levels(noise_level_given, frame_rate)
    notes += _empty_neuron_warnings(gaps & ~flat if flat.any() else gaps, empty_neurons, roi_index)
    notes += _flat_run_warnings(flat, gaps, frame_rate, empty_neurons, roi_index)
    return Conditioned(filled=filled, gaps=gaps, noise_level=levels, warnings=notes)


def _empty_neuron_warnings(gaps: np.ndarray, policy: str, roi_index: np.ndarray | None) -> list[str]:
    """Warn about (or, with policy ``"error"``, refuse) neurons without any finite frame (``gaps``: non-finite mask)."""
    empty = np.flatnonzero(gaps.all(axis=1)) if gaps.any() else np.zeros(0, dtype=np.int64)
    if empty.size == 0:
        return []
    if policy == "error":
        raise InputError(f"{empty.size} neuron(s) have no finite ΔF/F value ({neuron_names(empty, roi_index)})")
    message = (f"{empty.size} of {gaps.shape[0]} neurons have no finite ΔF/F value; their rows are NaN "
               f"({neuron_names(empty, roi_index)})")  # fmt: skip
    warnings.warn(message, InputWarning, stacklevel=4)
    return [message]


def _flat_run_warnings(flat: np.ndarray, gaps: np.ndarray, frame_rate: float, policy: str,
                       roi_index: np.ndarray | None) -> list[str]:  # fmt: skip
    """Warn about neurons with runs of one value (``flat``, from :func:`flat_frames`), which count as gaps.

    A neuron left with no other finite frame is refused under policy ``"error"``, as an empty one is.
    """
    flat_rows = np.flatnonzero(flat.any(axis=1))
    if flat_rows.size == 0:
        return []
    whole = flat_rows[gaps[flat_rows].all(axis=1)]
    if policy == "error" and whole.size:
        raise InputError(f"{whole.size} neuron(s) hold one ΔF/F value in every finite frame ({neuron_names(whole, roi_index)}): "
                         "a dead ROI or padding, nothing to infer from")  # fmt: skip
    seconds = flat[flat_rows].sum(axis=1) / frame_rate
    noun, labels = neuron_labels(flat_rows[:10], roi_index)
    listed = ", ".join(f"{label}: {'every frame' if row in whole else f'{s:.1f} s'}"
                       for label, row, s in zip(labels, flat_rows, seconds))  # fmt: skip
    message = (f"{flat_rows.size} of {flat.shape[0]} neurons hold one ΔF/F value for {flat_run_frames(frame_rate)} frames "
               f"or more ({noun} {listed}{', …' if flat_rows.size > 10 else ''}): padding, a held frame or a dead ROI, "
               "not a recording; those frames count as gaps and their rates are NaN")  # fmt: skip
    warnings.warn(message, InputWarning, stacklevel=4)
    return [message]
