"""Resampling ΔF/F traces onto the 60 Hz grid the networks were trained on.

Three resamplers give the same n_out = round(n · 60 / fs) samples at times i / 60 s:

- ``"sinc"`` (default): a Kaiser-windowed sinc interpolator with cutoff
  min(fs, 60) / 2. Each output depends only on input frames within a few frame
  periods, so a stream, a chunk of a long recording and the whole recording give
  the same numbers. Ends are extended with the first and last frame.
- ``"linear"``: linear interpolation between the two frames around each output, for
  low latency: an output reads no frame after the first one at or past its time
  (the sinc reads 8 cycles ahead, ≈ 0.27 s at 30 Hz). Low-latency models are trained
  on it, and their contract names it.
- ``"fourier"``: ``scipy.signal.resample``, ENS²'s published pre-processing. It needs
  the whole trace at once; use it to reproduce the published pipeline exactly.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache

import numpy as np
from scipy import signal

from ens2rt.engine.contract import SAMPLE_RATE_HZ
from ens2rt.errors import InputError
from ens2rt.engine.timing import stage

TARGET_RATE_HZ = SAMPLE_RATE_HZ  # every model runs at the contract's one sample rate
RESAMPLERS = ("sinc", "linear", "fourier")
DEFAULT_RESAMPLER = "sinc"
ZERO_CROSSINGS = 8  # of the sinc on each side of an output sample
KAISER_BETA = 8.0
MAX_PERIOD = 8192  # phases of the weights kept in a table, at most (a 2 MB table at 120 Hz)
GATHER_BUDGET = 1 << 22  # float64 values gathered at once (32 MB)
MIN_BLOCK = 256  # output samples per weights computation, at least


def n_samples_at_60hz(n_frames: int, frame_rate: float) -> int:
    """Number of 60 Hz samples that ``n_frames`` frames at ``frame_rate`` become."""
    return int(round(n_frames * TARGET_RATE_HZ / frame_rate))


@stage("resampling")
def resample_to_60hz(traces: np.ndarray, frame_rate: float, method: str = DEFAULT_RESAMPLER) -> np.ndarray:
    """Resample traces (last axis = time) from ``frame_rate`` to 60 Hz; float64 out, same leading shape."""
    traces = np.asarray(traces, dtype=np.float64)
    n_out = n_samples_at_60hz(traces.shape[-1], frame_rate)
    if method == "fourier":
        return traces.copy() if n_out == traces.shape[-1] else signal.resample(traces, n_out, axis=-1)
    if method not in RESAMPLERS:
        raise InputError(f"resampler must be one of {', '.join(RESAMPLERS)}, not {method!r}")
    rows = traces.reshape(-1, traces.shape[-1])
    out = local_resampler(frame_rate, method).resample(rows, 0, np.arange(n_out), n_total=traces.shape[-1])
    return out.reshape(*traces.shape[:-1], n_out)


def local_resampler(frame_rate: float, method: str = DEFAULT_RESAMPLER) -> SincResampler | LinearResampler:
    """A resampler that works on pieces (``"sinc"`` or ``"linear"``), shared per frame rate."""
    if method == "sinc":
        return sinc_resampler(frame_rate)
    if method == "linear":
        return linear_resampler(frame_rate)
    raise InputError(f"a stream or a chunked run resamples with sinc or linear, not {method!r}")


@lru_cache(maxsize=32)
def sinc_resampler(frame_rate: float) -> SincResampler:
    """The resampler of a frame rate, shared, so its table of weights is computed once per process."""
    return SincResampler(frame_rate)


@lru_cache(maxsize=32)
def linear_resampler(frame_rate: float) -> LinearResampler:
    """The linear resampler of a frame rate, shared like :func:`sinc_resampler`."""
    return LinearResampler(frame_rate)


class SincResampler:
    """The windowed-sinc interpolator behind ``resample_to_60hz(..., "sinc")``, usable on pieces.

    ``resample(frames, first_frame, outputs)`` computes 60 Hz samples ``outputs`` from
    a slice of the recording that starts at frame ``first_frame`` and holds every
    frame within ``taps`` of them; the pieces of a recording give the same numbers
    as the whole.
    """

    def __init__(self, frame_rate: float):
        self.frame_rate = float(frame_rate)
        self.cutoff_hz = 0.5 * min(self.frame_rate, TARGET_RATE_HZ)
        self.half_width_s = ZERO_CROSSINGS / (2.0 * self.cutoff_hz)
        self.taps = int(math.ceil(self.half_width_s * self.frame_rate))  # input frames on each side
        # When frame_rate / 60 is a fraction p / q with a small q, output i's weights depend on i mod q
        # alone: computed once per resampler, not per call.
        ratio = Fraction(self.frame_rate / TARGET_RATE_HZ).limit_denominator(MAX_PERIOD)
        self._ratio = ratio if float(ratio) == self.frame_rate / TARGET_RATE_HZ else None
        self._table: np.ndarray | None = None

    def first_frame_needed(self, output: int) -> int:
        """Earliest input frame that 60 Hz sample ``output`` reads (may be < 0: the first frame)."""
        return int(math.floor(output * self.frame_rate / TARGET_RATE_HZ)) - self.taps + 1

    def last_frame_needed(self, output: int) -> int:
        """Latest input frame that 60 Hz sample ``output`` reads."""
        return int(math.floor(output * self.frame_rate / TARGET_RATE_HZ)) + self.taps

    def _weights(self, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Input frames (n, 2·taps) that outputs read, and their weights."""
        if self._ratio is None:
            position = outputs * (self.frame_rate / TARGET_RATE_HZ)
            return self._weights_at(position, np.floor(position).astype(np.int64))
        p, q = self._ratio.numerator, self._ratio.denominator
        if self._table is None:
            phases = np.arange(q)
            self._table = self._weights_at(phases * p / q, phases * p // q)[1]
        base = outputs.astype(np.int64) * p // q
        return base[:, None] + np.arange(1 - self.taps, self.taps + 1), self._table[outputs % q]

    def _weights_at(self, position: np.ndarray, floor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        frames = floor[:, None] + np.arange(1 - self.taps, self.taps + 1)
        offset_s = (position[:, None] - frames) / self.frame_rate
        x = np.clip(offset_s / self.half_width_s, -1.0, 1.0)
        weights = np.sinc(2.0 * self.cutoff_hz * offset_s) * np.i0(KAISER_BETA * np.sqrt(1.0 - x * x)) / np.i0(KAISER_BETA)
        weights[np.abs(offset_s) >= self.half_width_s] = 0.0
        return frames, weights / weights.sum(axis=1, keepdims=True)

    @stage("resampling")
    def resample(self, frames: np.ndarray, first_frame: int, outputs: np.ndarray, n_total: int | None = None) -> np.ndarray:
        """60 Hz samples ``outputs`` from ``frames`` (n_traces, k), which start at ``first_frame``.

        ``n_total``: length of the whole recording when its end is among ``frames``
        (frames past the end repeat the last one). Frames before 0 repeat the first.
        """
        frames = np.atleast_2d(frames)
        out = np.empty((frames.shape[0], outputs.size))
        # The gathered taps (rows × outputs × 2·taps) stay under GATHER_BUDGET values
        # however many rows there are: outputs in blocks, rows in groups.
        rows = max(1, GATHER_BUDGET // (MIN_BLOCK * 2 * self.taps))
        block = max(MIN_BLOCK, GATHER_BUDGET // max(1, min(rows, frames.shape[0]) * 2 * self.taps))
        last = (n_total if n_total is not None else first_frame + frames.shape[1]) - 1
        for start in range(0, outputs.size, block):
            index, weights = self._weights(outputs[start : start + block])
            local = np.clip(index, 0, last) - first_frame
            if local.min() < 0 or local.max() >= frames.shape[1]:
                raise ValueError("frames do not cover the requested outputs")
            for row in range(0, frames.shape[0], rows):
                out[row : row + rows, start : start + block] = np.einsum("nij,ij->ni", frames[row : row + rows][:, local], weights)
        return out


class LinearResampler:
    """Linear interpolation onto 60 Hz, with :class:`SincResampler`'s interface.

    Output ``i`` sits at frame position p = i · fs / 60 and reads frames ⌈p⌉ − 1 and
    ⌈p⌉ with weights ⌈p⌉ − p and 1 − (⌈p⌉ − p): no frame after ⌈p⌉, so a stream has it
    at most one frame period after its time.
    """

    method = "linear"

    def __init__(self, frame_rate: float):
        self.frame_rate = float(frame_rate)

    def _position(self, outputs: np.ndarray | int) -> np.ndarray:
        return np.asarray(outputs, dtype=np.float64) * (self.frame_rate / TARGET_RATE_HZ)

    def first_frame_needed(self, output: int) -> int:
        """Earliest input frame that 60 Hz sample ``output`` reads (may be < 0: the first frame)."""
        return int(np.ceil(self._position(output))) - 1

    def last_frame_needed(self, output: int) -> int:
        """Latest input frame that 60 Hz sample ``output`` reads."""
        return int(np.ceil(self._position(output)))

    @stage("resampling")
    def resample(self, frames: np.ndarray, first_frame: int, outputs: np.ndarray, n_total: int | None = None) -> np.ndarray:
        """60 Hz samples ``outputs`` from ``frames`` (n_traces, k), which start at ``first_frame``; as :meth:`SincResampler.resample`."""
        frames = np.atleast_2d(frames)
        position = self._position(outputs)
        upper = np.ceil(position).astype(np.int64)
        weight_lower = upper - position
        last = (n_total if n_total is not None else first_frame + frames.shape[1]) - 1
        lower_local = np.clip(upper - 1, 0, last) - first_frame
        upper_local = np.clip(upper, 0, last) - first_frame
        if outputs.size and (lower_local.min() < 0 or upper_local.max() >= frames.shape[1]):
            raise ValueError("frames do not cover the requested outputs")
        return frames[:, lower_local] * weight_lower + frames[:, upper_local] * (1.0 - weight_lower)
