"""Online inference: frames in as they are imaged, final 60 Hz rates out with a fixed delay.

A :class:`Stream` keeps only what future outputs need (a few frames for the
resampler, the 60 Hz samples of windows not yet run, the overlap-add of samples
not yet final), so memory is constant in the length of the recording. Everything it
emits, concatenated, equals ``ens2rt.infer(dff, frame_rate, spikes=False)`` with the
same model, hop and resampler (by default the model's own).

A convolutional model (contract kind ``"convolutional"``) needs no windows: a rate
sample is final ``reach.right`` samples plus the resampler's reach after its time.
When the model ships a streaming graph (:mod:`ens2rt.engine.stateful`), each push
runs it on the new samples only, with per-layer state; otherwise each push reruns the
model over the new samples with the left context they read. A low-latency model
(``ens2-exc-online``) reads 6 samples (100 ms) ahead and resamples linearly: its rate
is out ≈ 0.12 s after the frame at its time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ens2rt.catalog.family import ModelFamily, assign_models, load_models, only_contract
from ens2rt.catalog.model import DEFAULT_MODEL, Model
from ens2rt.engine.contract import Contract
from ens2rt.engine.resample import TARGET_RATE_HZ, local_resampler, n_samples_at_60hz
from ens2rt.engine.quantal import DEFAULT_WARMUP_S, WarmupCalibration
from ens2rt.engine.spikes import MAX_RUN, THRESHOLD, fit_spikes, spike_times_from_counts
from ens2rt.engine.stream_rate import GraphRate, MixedRate, rate_runner
from ens2rt.engine.conditioning import STREAM_CHECK_S, as_frames, check_given_levels, check_units, unit_statistics, warn_all
from ens2rt.engine.traces import check_frame_rate, noise_level as estimate_noise_level
from ens2rt.engine.windows import WINDOW
from ens2rt.errors import InputError
from ens2rt.options import Options, resolve_options
from ens2rt.result import count_ratios, run_settings, spike_total_interval

_NO_SPIKES = np.zeros(0)
_NO_SPIKES.flags.writeable = False  # shared by every neuron without spikes in a push


@dataclass(frozen=True)
class StreamOutput:
    """What one :meth:`Stream.push` or :meth:`Stream.flush` finalised: a slice in time of an
    :class:`~ens2rt.InferenceResult` (same units; provenance in :attr:`Stream.settings`)."""

    rate: np.ndarray  #: (n_neurons, k) float32 spikes per 60 Hz bin
    time: np.ndarray  #: (k,) s since the first frame
    spike_times: list[np.ndarray] | None  #: per neuron, spikes of rate runs that closed
    #: (n_neurons, 2) where the recorded total of every spike out so far likely lies, as
    #: :attr:`InferenceResult.spike_total_interval` (NaN where the model's card has no held-out counts)
    spike_total_interval: np.ndarray | None = None


class Stream:
    """Spike inference on frames as they arrive.

    >>> levels = ens2rt.noise_level(baseline, frame_rate=30.0)  # (500,) from a minute of imaging
    >>> stream = ens2rt.Stream(n_neurons=500, frame_rate=30.0, noise_level=levels)
    >>> out = stream.push(frames)      # (500, k) ΔF/F, any k >= 1
    >>> out.rate, out.time             # newly final 60 Hz samples
    >>> last = stream.flush()          # at the end of the recording

    A model family (the default) needs each neuron's ``noise_level`` up front, since
    a stream cannot look at the whole trace to estimate it; a single model does not.
    ``neuron_model`` says which model runs each neuron. Non-finite frames are replaced
    by the neuron's last finite value (a stream cannot look ahead to interpolate as
    :func:`ens2rt.infer` does), and runs of one value are run as given (it cannot
    tell padding from a neuron until the run ends; :func:`ens2rt.noise_level` ignores
    them, so a padded baseline still gives the right ``noise_level``). ``options``
    (or its fields as keywords) as for :func:`ens2rt.infer`. A stream cannot see whole
    traces, so it checks what it has (``settings["conditioning"]`` says so): every push's
    values, and with ``input_checks`` the noise levels given and, once its first
    ``STREAM_CHECK_S`` (10 s) of frames are in (or at :meth:`flush`), their units, as
    :func:`ens2rt.infer` checks whole traces. ``empty_neurons`` does not apply, and the
    resampler must be local (not ``"fourier"``). ``calibrate="quantal"`` fits each neuron
    on its first ``calibration_s`` (300) seconds of rate and divides its later rate by its
    unit where the fit is decisive (:class:`~ens2rt.engine.quantal.WarmupCalibration`).
    ``with ens2rt.Stream(...) as stream:`` closes it at the end (:meth:`close`).
    """

    def __init__(self, n_neurons: int, frame_rate: float, *, model: str | Path | Model | ModelFamily = DEFAULT_MODEL,
                 noise_level: float | np.ndarray | None = None, options: Options | None = None,
                 calibration_s: float = DEFAULT_WARMUP_S, **settings: Any):  # fmt: skip
        if isinstance(n_neurons, bool) or not isinstance(n_neurons, (int, np.integer)) or n_neurons < 1:
            raise InputError(f"n_neurons must be a whole number of at least 1, not {n_neurons!r}")
        self.options = resolve_options(options, settings)
        self.n_neurons = int(n_neurons)
        self._calibration = None
        if self.options.calibrate == "quantal":
            if isinstance(calibration_s, bool) or not isinstance(calibration_s, (int, float)) or not 0 < calibration_s < math.inf:
                raise InputError(f"calibration_s is the warm-up in seconds before a stream calibrates, a positive number, not {calibration_s!r}")
            self._calibration = WarmupCalibration(self.n_neurons, calibration_s)
        self.frame_rate = check_frame_rate(frame_rate)
        if self.options.input_checks:
            check_given_levels(noise_level, self.frame_rate)
        loaded = load_models(model, self.options)
        # the members that can run a neuron at this frame rate: a family whose ranges leave one needs no noise level to choose
        possible = loaded.members_at(self.frame_rate) if isinstance(loaded, ModelFamily) else (loaded,)
        if len(possible) > 1 and noise_level is None:
            raise InputError(
                f"model family {loaded.name} picks a model per neuron from its noise level, which a stream "
                "cannot see in advance: pass noise_level= (e.g. ens2rt.noise_level(baseline_dff, frame_rate)) "
                f"or a single model ({', '.join(m.name for m in possible)})"
            )
        if any(m.contract.input_scaling != "none" for m in possible) and noise_level is None:
            scaling = [m.name for m in possible if m.contract.input_scaling != "none"]
            runs = "" if scaling == [loaded.name] else f" (at {self.frame_rate:g} Hz it runs {', '.join(scaling)})"
            raise InputError(
                f"{loaded.name}{runs} divides each trace by its noise std, which a stream cannot see in advance: pass "
                "noise_level= (e.g. ens2rt.noise_level(baseline_dff, frame_rate))"
            )
        self.models = assign_models(loaded, np.full(self.n_neurons, np.nan), noise_level, frame_rate=self.frame_rate)
        self.contracts = loaded.contracts
        self._noise_level = noise_level
        self.resampler = self.options.resampler or loaded.resampler
        self._rate = rate_runner(self.models, self.n_neurons, self.options)  # 60 Hz input in, final rate out
        self._resampler = local_resampler(self.frame_rate, self.resampler)
        self._frames = np.zeros((n_neurons, 0))
        self._frames_start = 0  # index of self._frames[:, 0] in the recording
        self._n_frames = 0
        self._last_finite = np.full(n_neurons, np.nan)
        self._n60 = 0  # 60 Hz samples resampled so far
        self._n_emitted = 0
        self._pending = np.zeros((n_neurons, 0), dtype=np.float32)  # final rate of runs not yet closed
        self._pending_start = 0  # 60 Hz index of self._pending[:, 0]
        self._fitted = np.zeros(n_neurons, dtype=np.int64)  # per neuron, columns of _pending already fitted
        self._run_start = np.zeros(n_neurons, dtype=np.int64)  # per neuron, 60 Hz index after its last sample below threshold
        self._open_above = np.zeros(n_neurons, dtype=bool)  # per neuron, a sample at or above threshold not yet fitted
        self._spike_totals = np.zeros(n_neurons)  # per neuron, spikes out so far
        self._count_ratios = count_ratios(self.models.models, self.models.index)
        self._flushed = False
        # the first STREAM_CHECK_S of frames, kept until their units are judged (None once they are, or never will be)
        self._unchecked: list[np.ndarray] | None = [] if self.options.input_checks else None

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the stream's threads and state; pushing after it is an error. Flushing is up to the caller."""
        self._flushed = True
        self._unchecked = None
        if isinstance(self._rate, (GraphRate, MixedRate)):
            self._rate.close()

    @property
    def settings(self) -> dict:
        """How this stream infers, as ``InferenceResult.settings`` records a run (:func:`ens2rt.result.run_settings`)."""
        checks = "each push's values"
        if self.options.input_checks:
            checks += f"; the noise levels given; the units of the first {STREAM_CHECK_S:g} s of frames"
        record = run_settings(self.options, self.contracts, frame_rate=self.frame_rate, resampler=self.resampler,
                              provider=self.models.provider, noise_level=self._noise_level,
                              conditioning={"checks": checks, "gaps": "the neuron's last finite value held"})  # fmt: skip
        if self._calibration is not None:
            record["calibration"] = self._calibration.record()
        return record

    @property
    def calibration_unit(self) -> np.ndarray | None:
        """With ``calibrate="quantal"``: each neuron's unit u once the warm-up is over (NaN: no fit, or not yet)."""
        return None if self._calibration is None else self._calibration.unit.astype(np.float32)

    @property
    def calibration_applied(self) -> np.ndarray | None:
        """With ``calibrate="quantal"``: whether each neuron's rate is divided by its unit from the end of the warm-up on."""
        return None if self._calibration is None else self._calibration.applied.copy()

    @property
    def contract(self) -> Contract:
        """The contract its models share; a family of mixed kinds has several (:attr:`contracts`)."""
        return only_contract(self.contracts, "this stream's model family")

    @property
    def uses_streaming_graph(self) -> bool:
        """Whether pushes run the convolutional models' streaming graphs (each sample computed once) rather than pieces."""
        runners = [runner for _, runner in self._rate.parts] if isinstance(self._rate, MixedRate) else [self._rate]
        return any(isinstance(runner, GraphRate) for runner in runners)

    @property
    def neuron_model(self) -> np.ndarray:
        """(n_neurons,) name of the model that runs each neuron."""
        return self.models.names

    @cached_property
    def delay_s(self) -> float:
        """Worst-case latency: the rate at time t is emitted once the frame imaged at t + ``delay_s`` is pushed.

        It follows from the contract: the resampler's reach to the right, and the model's
        (``reach.right`` for a convolutional model; for a windowed one, the last window
        covering t, which reads 95 samples on, and the hop). Pushing k frames
        at a time adds up to k − 1 frame periods. Spike events come later: when the
        run of above-threshold rate holding them closes. The worst case is taken over the
        phases of 4 s of frames, every phase at rates like 30 Hz and within a small
        fraction of a frame period at rates like 122.07 Hz.
        """
        period = 1.0 / self.frame_rate
        # every phase of the frame grid against the 60 Hz grid recurs within a few seconds
        samples = np.arange(int(8 * TARGET_RATE_HZ), int(12 * TARGET_RATE_HZ))
        first_frames = np.array([self._frames_to_emit(j) for j in samples])
        return float(np.max((first_frames - 1) * period - samples / TARGET_RATE_HZ))

    @property
    def delay_frames(self) -> int:
        """:attr:`delay_s` in frame periods, rounded up."""
        return int(np.ceil(self.delay_s * self.frame_rate - 1e-9))

    def _known_samples(self, n_frames: int) -> int:
        """60 Hz input samples that ``n_frames`` frames determine (before the recording's end is known)."""
        ready = max(0, n_samples_at_60hz(n_frames, self.frame_rate) - 4)
        while self._resampler.last_frame_needed(ready) <= n_frames - 1:
            ready += 1
        while ready > 0 and self._resampler.last_frame_needed(ready - 1) > n_frames - 1:
            ready -= 1
        return ready

    def _frames_to_emit(self, sample: int) -> int:
        """Frames that must be pushed before rate sample ``sample`` is emitted."""
        n_frames = max(1, int(sample * self.frame_rate / TARGET_RATE_HZ))
        while self._rate.emittable(self._known_samples(n_frames)) <= sample:
            n_frames += 1
        return n_frames

    def push(self, frames: np.ndarray) -> StreamOutput:
        """Add (n_neurons, k) frames; return the 60 Hz rate samples that became final."""
        if self._flushed:
            raise InputError("this stream was flushed or closed; start a new Stream")
        frames = as_frames(frames, self.n_neurons, self.options.percent)
        self._check_units(frames, final=False)
        frames = self._hold_last_finite(frames)
        self._frames = np.concatenate([self._frames, frames], axis=1)
        self._n_frames += frames.shape[1]
        samples = self._resample_until(max(self._n60, self._known_samples(self._n_frames)), n_total=None)
        return self._output(self._rate.push(samples), final=False)

    def flush(self) -> StreamOutput:
        """End the recording: compute and return every remaining rate sample."""
        if self._flushed:
            raise InputError("this stream was already flushed or closed")
        self._check_units(np.zeros((self.n_neurons, 0)), final=True)
        self._flushed = True
        n_total = n_samples_at_60hz(self._n_frames, self.frame_rate)
        if n_total < WINDOW:
            raise InputError(f"the stream ended after {self._n_frames} frames, less than one {WINDOW / TARGET_RATE_HZ:.1f} s window")
        samples = self._resample_until(n_total, n_total=self._n_frames)
        return self._output(np.concatenate([self._rate.push(samples), self._rate.finish()], axis=1), final=True)

    def _check_units(self, frames: np.ndarray, final: bool) -> None:
        """Judge the units (:func:`~ens2rt.engine.conditioning.check_units`) once the first ``STREAM_CHECK_S`` are in."""
        if self._unchecked is None:
            return
        self._unchecked.append(frames)
        if self._n_frames + frames.shape[1] < STREAM_CHECK_S * self.frame_rate and not final:
            return  # joined once, when judged: a push of one frame copies nothing
        seen = np.concatenate(self._unchecked, axis=1)
        self._unchecked = None
        if seen.shape[1] >= 2:
            warn_all(check_units(unit_statistics(seen, estimate_noise_level(seen, self.frame_rate)), self.frame_rate), stacklevel=4)

    def _hold_last_finite(self, frames: np.ndarray) -> np.ndarray:
        bad = ~np.isfinite(frames)
        if not bad.any():
            self._last_finite = frames[:, -1].copy()
            return frames
        filled = frames.copy()
        for k in range(frames.shape[1]):
            column = filled[:, k]
            column[bad[:, k]] = self._last_finite[bad[:, k]]
            known = np.isfinite(column)
            self._last_finite[known] = column[known]
        if np.isnan(filled).any():
            neuron = int(np.flatnonzero(np.isnan(filled).any(axis=1))[0])
            raise InputError(f"neuron {neuron} has no finite ΔF/F value yet to hold")
        return filled

    def _resample_until(self, end: int, n_total: int | None) -> np.ndarray:
        """The 60 Hz input samples from the last one resampled to ``end``; drops frames no later sample needs."""
        samples = np.zeros((self.n_neurons, 0), dtype=np.float32)
        if end > self._n60:
            samples = self._resampler.resample(self._frames, self._frames_start, np.arange(self._n60, end), n_total=n_total)
            samples = samples.astype(np.float32)
            self._n60 = end
        keep_from = max(0, self._resampler.first_frame_needed(self._n60))
        self._frames = self._frames[:, keep_from - self._frames_start :]
        self._frames_start = keep_from
        return samples

    def _output(self, rate: np.ndarray, final: bool) -> StreamOutput:
        """The rate that became final, its times, and the spikes of the runs it closes."""
        if self._calibration is not None:
            rate = self._calibration.apply(rate)
        start, self._n_emitted = self._n_emitted, self._n_emitted + rate.shape[1]
        times = np.arange(start, self._n_emitted) / TARGET_RATE_HZ
        if not self.options.spikes:
            return StreamOutput(rate=rate, time=times, spike_times=None)
        spikes = self._close_runs(rate, final)
        self._spike_totals += [t.size for t in spikes]
        if self._calibration is not None and self._calibration.applied.any():  # no held-out record of calibrated counts
            self._count_ratios[self._calibration.applied] = np.nan
        return StreamOutput(rate=rate, time=times, spike_times=spikes,
                            spike_total_interval=spike_total_interval(self._spike_totals, self._count_ratios))  # fmt: skip

    def _close_runs(self, rate: np.ndarray, final: bool) -> list[np.ndarray]:
        """Fit spikes to every neuron's rate runs that closed; return their spike times.

        A run is closed once a sample below threshold follows it; a run longer than
        ``MAX_RUN`` closes piece by piece, as the offline fit splits it. Each push looks
        at its new samples only, and fits only the neurons where a run closed.
        """
        first = self._pending_start + self._pending.shape[1]  # 60 Hz index of rate[:, 0]
        self._pending = np.concatenate([self._pending, rate], axis=1)
        width = self._pending.shape[1]
        if rate.shape[1]:
            below = rate < THRESHOLD
            last_below = rate.shape[1] - 1 - np.argmax(below[:, ::-1], axis=1)
            self._run_start = np.where(below.any(axis=1), first + last_below + 1, self._run_start)
        open_above = self._open_above | (rate >= THRESHOLD).any(axis=1)
        if final:
            cut = np.full(self.n_neurons, width)
        else:
            run_start = np.maximum(self._run_start - self._pending_start, self._fitted)
            cut = run_start + (width - run_start) // MAX_RUN * MAX_RUN
        times = [_NO_SPIKES] * self.n_neurons
        fitting = np.flatnonzero((cut > self._fitted) & open_above)  # neurons where a run closed (most have none)
        if fitting.size:
            position = np.arange(width)
            inside = (position >= self._fitted[fitting, None]) & (position < cut[fitting, None])
            counts = fit_spikes(np.where(inside, self._pending[fitting], 0.0), self.options.spike_fit)
            for neuron, found in zip(fitting.tolist(), spike_times_from_counts(counts, TARGET_RATE_HZ, self._pending_start / TARGET_RATE_HZ)):
                times[neuron] = found
        self._open_above = cut < width  # what is left open is part of a run above threshold
        trim = int(cut.min())
        self._pending = self._pending[:, trim:]
        self._pending_start += trim
        self._fitted = cut - trim
        return times
