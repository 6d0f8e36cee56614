"""Training windows from ground truth, sliced lazily from one concatenated 60 Hz array.

Every trial is resampled to 60 Hz, padded with 48 zeros on each side (as inference
pads a recording) and appended to one long array; training windows are index
offsets into it, so a batch of 1024 windows is one vectorized gather. The padding
between trials is wider than the target smoothing kernel, so smoothing the whole
concatenated spike-count array at once equals smoothing each trial alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np
from ens2export.groundtruth import Neuron, find_datasets, load_dataset, select_datasets
from ens2rt.scoring import smooth_spike_counts, spike_counts_at_60hz
from ens2rt.engine.resample import resample_to_60hz
from ens2rt.engine.traces import noise_level
from ens2rt.engine.windows import WINDOW, pad_for_windows

from ens2rt.engine.contract import noise_std as input_scale

from ens2export.noise import added_noise_std, native_white_noise_at_60hz


@dataclass(frozen=True)
class WindowSource:
    """All training windows of a set of trials, kept as padded 60 Hz arrays."""

    inputs: np.ndarray  # float32, every padded 60 Hz trial back to back
    spike_counts: np.ndarray  # uint8, true spikes per 60 Hz bin on the same samples
    trial_lengths: np.ndarray  # int64, unpadded 60 Hz length of each trial
    frame_rates: np.ndarray  # float64, native frame rate of each trial (Hz)
    noise_levels: np.ndarray  # float64, native noise level ν of each trial
    datasets: tuple[str, ...]
    n_neurons: int
    resampler: str = "fourier"  # how the trials were brought to 60 Hz (ens2rt.engine.resample)
    teacher_rates: np.ndarray | None = None  # float32, a trained model's rates on the same samples (distillation)
    teacher_weight: float = 0.0  # share of the teacher's rates in the targets

    @cached_property
    def targets(self) -> np.ndarray:
        """Smoothed true spike counts (float32), aligned with ``inputs``; mixed with a teacher's rates if it has one."""
        truth = smooth_spike_counts(self.spike_counts).astype(np.float32)
        if self.teacher_rates is None:
            return truth
        return ((1.0 - self.teacher_weight) * truth + self.teacher_weight * self.teacher_rates).astype(np.float32)

    @cached_property
    def trial_offsets(self) -> np.ndarray:
        """Index in ``inputs`` of each trial's first sample (after its 48 leading zeros)."""
        return np.concatenate([[0], np.cumsum(self.trial_lengths + WINDOW)[:-1]]) + WINDOW // 2

    def with_teacher(self, model, weight: float) -> WindowSource:
        """A copy whose targets are ``weight`` × ``model``'s rates + (1 − weight) × the smoothed truth (distillation).

        ``model``: anything ``ens2rt.infer`` runs (e.g. a windowed model that never saw these
        datasets' validation fold), run over each whole trial at 60 Hz as inference runs it;
        or a list of them, whose rates are averaged (an ensemble teacher). Where inference
        gives no rate (a run of one value, which it takes for padding) the target is 0.
        """
        import ens2rt

        if not 0.0 < weight <= 1.0:
            raise ValueError(f"teacher_weight must be in (0, 1], not {weight}")
        models = list(model) if isinstance(model, (list, tuple)) else [model]
        rates = np.zeros_like(self.inputs)
        for start, length in zip(self.trial_offsets, self.trial_lengths):
            trial = self.inputs[start : start + length]
            for member in models:
                rate = ens2rt.infer(trial, 60.0, model=member, spikes=False, input_checks=False).rate[0]
                rates[start : start + length] += np.nan_to_num(rate, nan=0.0)
        return replace(self, teacher_rates=rates / np.float32(len(models)), teacher_weight=float(weight))

    def trial_heads(self, fraction: float) -> WindowSource:
        """A copy keeping the first ``fraction`` of each trial (at least one sample), padded as before.

        Every neuron stays, with less of its recording: a smaller share of these trials in a pool.
        """
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"fraction must be in (0, 1], not {fraction}")
        kept = np.maximum(1, np.ceil(self.trial_lengths * fraction)).astype(np.int64)

        def cut(values: np.ndarray) -> np.ndarray:
            pad = np.zeros(WINDOW // 2, values.dtype)
            return np.concatenate([part for start, length in zip(self.trial_offsets, kept) for part in (pad, values[start : start + length], pad)])

        rates = None if self.teacher_rates is None else cut(self.teacher_rates)
        return replace(self, inputs=cut(self.inputs), spike_counts=cut(self.spike_counts), trial_lengths=kept, teacher_rates=rates)

    @cached_property
    def first_windows(self) -> np.ndarray:
        """Index (among all windows) of each trial's first window."""
        return np.cumsum(self.trial_lengths) - self.trial_lengths

    @cached_property
    def starts(self) -> np.ndarray:
        """Offset of every window: one per 60 Hz sample of every trial, as in inference."""
        first = np.repeat(self.trial_offsets - WINDOW // 2, self.trial_lengths)  # a trial's first window starts at its padding
        within = np.arange(first.size) - np.repeat(self.first_windows, self.trial_lengths)
        return first + within

    @property
    def n_windows(self) -> int:
        return int(self.trial_lengths.sum())

    @property
    def hours(self) -> float:
        """Recorded time covered, in hours."""
        return self.n_windows / 60.0 / 3600.0

    def batch(self, rng: np.random.Generator, size: int, noise_level: float | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``size`` windows drawn uniformly with replacement: (inputs, targets), each (size, 96).

        With ``noise_level`` (one ν, or one per window), every window gets fresh noise that
        lifts its trial to that ν.
        """
        chosen = rng.integers(0, self.n_windows, size)
        index = self.starts[chosen][:, None] + np.arange(WINDOW)
        inputs, targets = self.inputs[index], self.targets[index]
        if noise_level is not None:
            inputs = inputs + self.noise(rng, chosen, noise_level)
        return inputs, targets

    def noise(self, rng: np.random.Generator, chosen: np.ndarray, noise_level: float | np.ndarray, length: int = WINDOW) -> np.ndarray:
        """Noise for windows ``chosen`` (indices < n_windows) that lifts their trials to ``noise_level`` (one, or one per window).

        (len(chosen), length) float32 over each window extended symmetrically to ``length``,
        zero outside the trial (inference pads with clean zeros) and for trials whose
        native ν already reaches the target.
        """
        return self.noise_inside(rng, *self.trial_and_inside(chosen, length), noise_level)

    def noise_inside(self, rng: np.random.Generator, trial: np.ndarray, inside: np.ndarray, noise_level: float | np.ndarray) -> np.ndarray:
        """Noise lifting windows of trials ``trial`` to ``noise_level`` where ``inside`` (their samples within the trial), else 0."""
        std = added_noise_std(self.noise_levels[trial], noise_level, self.frame_rates[trial])
        noise = native_white_noise_at_60hz(rng, self.frame_rates[trial], inside.shape[1])
        return np.where(inside, noise * std[:, None].astype(np.float32), np.float32(0))

    def trial_of(self, chosen: np.ndarray) -> np.ndarray:
        """Index of the trial each of the windows ``chosen`` belongs to."""
        return np.searchsorted(self.first_windows, chosen, side="right") - 1

    def trial_and_inside(self, chosen: np.ndarray, length: int, delay: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Trial of each window and which of its ``length`` samples (centred on it, ``delay`` earlier) lie inside that trial."""
        trial = self.trial_of(chosen)
        # window w of a trial covers its samples w - 48 … w + 47; extended by (length - 96) / 2 each side
        sample = (chosen - self.first_windows[trial])[:, None] + np.arange(length) - length // 2 - delay
        return trial, (sample >= 0) & (sample < self.trial_lengths[trial][:, None])

    def context_batch(
        self, rng: np.random.Generator, size: int, length: int, noise_level: float | np.ndarray | None = None, scaled: bool = False,
        delay: int = 0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Windows with context for a convolutional model: inputs (size, length), targets (size, 96).

        Each input is a 96-sample training window extended by (length − 96) / 2 samples on
        each side, zero outside its trial (as a zero-padded trace at inference); the target
        is the window's own 96 samples. ``scaled`` divides each input by its trial's noise
        std at the native rate, ν·√fs / 95.39 (ν after any added noise), the
        ``"noise_std"`` input scaling of the model contract. ``delay``: the input ends that
        many samples earlier, so the network learns to output a sample's rate ``delay``
        samples after its input's centre (a low-latency model: less input after the sample).
        """
        chosen = rng.integers(0, self.n_windows, size)
        trial, inputs, inside, targets = self.context_windows(chosen, length, delay)
        inputs, scale = self.with_noise(rng, trial, inputs, inside, noise_level)
        return (inputs / scale if scaled else inputs).astype(np.float32), targets

    def context_windows(self, chosen: np.ndarray, length: int, delay: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Windows ``chosen`` with context: their trials, inputs (zero outside the trial), which samples lie inside, targets."""
        extra = (length - WINDOW) // 2
        trial, inside = self.trial_and_inside(chosen, length, delay)
        index = np.clip(self.starts[chosen][:, None] - extra - delay + np.arange(length), 0, self.inputs.size - 1)
        inputs = np.where(inside, self.inputs[index], np.float32(0))
        return trial, inputs, inside, self.targets[self.starts[chosen][:, None] + np.arange(WINDOW)]

    def with_noise(
        self, rng: np.random.Generator, trial: np.ndarray, inputs: np.ndarray, inside: np.ndarray, noise_level: float | np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Inputs lifted to ``noise_level`` (if any) inside their trials, and each one's noise std after it, (n, 1) float32."""
        levels = self.noise_levels[trial]
        if noise_level is not None:
            inputs = inputs + self.noise_inside(rng, trial, inside, noise_level)
            levels = np.maximum(levels, noise_level)
        return inputs, input_scale(levels, self.frame_rates[trial])[:, None].astype(np.float32)

    def typical_noise_level(self) -> float:
        """Median native ν over the recorded time (each trial weighted by its length)."""
        order = np.argsort(self.noise_levels)
        weight = np.cumsum(self.trial_lengths[order])
        return float(self.noise_levels[order][np.searchsorted(weight, weight[-1] / 2)])

    def fraction_already_noisier(self, noise_level: float) -> float:
        """Share of the recorded time whose native ν is at least ``noise_level`` (used unchanged)."""
        return float(self.trial_lengths[self.noise_levels >= noise_level].sum() / self.n_windows)

    def save(self, path: str | Path) -> None:
        """Write a compressed ``.npz`` that :meth:`load` reads back (to train elsewhere)."""
        np.savez_compressed(
            path,
            inputs=self.inputs,
            spike_counts=self.spike_counts,
            trial_lengths=self.trial_lengths,
            frame_rates=self.frame_rates,
            noise_levels=self.noise_levels,
            datasets=np.array(self.datasets),
            n_neurons=self.n_neurons,
            resampler=self.resampler,
        )

    @classmethod
    def load(cls, path: str | Path) -> WindowSource:
        with np.load(path, allow_pickle=False) as archive:
            if "noise_levels" not in archive.files:
                raise ValueError(f"{path} was prepared by an older ens2export (no noise levels): run `ens2export prepare` again")
            return cls(
                inputs=archive["inputs"],
                spike_counts=archive["spike_counts"],
                trial_lengths=archive["trial_lengths"],
                frame_rates=archive["frame_rates"],
                noise_levels=archive["noise_levels"],
                datasets=tuple(str(d) for d in archive["datasets"]),
                n_neurons=int(archive["n_neurons"]),
                resampler=str(archive["resampler"]) if "resampler" in archive.files else "fourier",
            )


def concatenate(sources: Sequence[WindowSource]) -> WindowSource:
    """One source holding the trials of several (resampled alike).

    Where some carry a teacher's rates (one teacher weight), the others' trials are
    labelled by their smoothed truth in their place: their targets are the truth alone.
    """
    resamplers = {s.resampler for s in sources}
    if len(resamplers) > 1:
        raise ValueError(f"sources were resampled differently ({', '.join(sorted(resamplers))})")
    taught = [s for s in sources if s.teacher_rates is not None]
    teacher: dict = {}
    if taught:
        weights = {s.teacher_weight for s in taught}
        if len(weights) > 1:
            raise ValueError(f"sources were distilled with different teacher weights ({sorted(weights)})")
        rates = [s.teacher_rates if s.teacher_rates is not None else smooth_spike_counts(s.spike_counts).astype(np.float32) for s in sources]
        teacher = {"teacher_rates": np.concatenate(rates).astype(np.float32), "teacher_weight": weights.pop()}
    return WindowSource(
        inputs=np.concatenate([s.inputs for s in sources]),
        spike_counts=np.concatenate([s.spike_counts for s in sources]),
        trial_lengths=np.concatenate([s.trial_lengths for s in sources]),
        frame_rates=np.concatenate([s.frame_rates for s in sources]),
        noise_levels=np.concatenate([s.noise_levels for s in sources]),
        datasets=tuple(d for s in sources for d in s.datasets),
        n_neurons=sum(s.n_neurons for s in sources),
        resampler=resamplers.pop(),
        **teacher,
    )


def windows_from_neurons(neurons: Iterable[Neuron], resampler: str = "fourier") -> WindowSource:
    """Pre-process neurons (resample, bin spikes, pad) into a :class:`WindowSource`.

    ``resampler``: ``"fourier"`` is the published pre-processing; a low-latency model
    trains on ``"linear"``, the resampler it runs with.
    """
    inputs, counts, lengths, rates, levels = [], [], [], [], []
    datasets: list[str] = []
    n_neurons = 0
    for neuron in neurons:
        n_neurons += 1
        if neuron.dataset not in datasets:
            datasets.append(neuron.dataset)
        for trial in neuron.trials:
            x = resample_to_60hz(trial.dff, trial.frame_rate, resampler)
            if x.size < WINDOW:
                continue
            inputs.append(pad_for_windows(x))
            counts.append(pad_for_windows(spike_counts_at_60hz(trial.spike_times, x.size)))
            lengths.append(x.size)
            rates.append(trial.frame_rate)
            levels.append(float(noise_level(trial.dff, trial.frame_rate)))
    if not lengths:
        raise ValueError("no trial is long enough for one 96-sample window")
    return WindowSource(
        inputs=np.concatenate(inputs),
        spike_counts=np.concatenate(counts).astype(np.uint8),
        trial_lengths=np.asarray(lengths, dtype=np.int64),
        frame_rates=np.asarray(rates, dtype=np.float64),
        noise_levels=np.asarray(levels, dtype=np.float64),
        datasets=tuple(datasets),
        n_neurons=n_neurons,
        resampler=resampler,
    )


def load_windows(
    root: str | Path, include: Iterable[str] | None = None, exclude: Iterable[str] = (), resampler: str = "fourier"
) -> WindowSource:
    """Windows of the chosen datasets of a ground-truth folder or of a prepared folder.

    A prepared folder (from :func:`prepare`) holds one ``DS*.npz`` per dataset and
    loads in a fraction of a second; use it to train many leave-one-out models.
    """
    root = Path(root)
    prepared = {path.stem: path for path in sorted(root.glob("DS*.npz"))} if root.is_dir() else {}
    if prepared:
        chosen = select_datasets(prepared, include, exclude, where=str(root))
        sources = [WindowSource.load(path) for path in chosen.values()]
        wrong = [s.datasets[0] for s in sources if s.resampler != resampler]
        if wrong:
            raise ValueError(f"{root} was prepared with another resampler than {resampler!r} ({', '.join(wrong)})")
    else:
        chosen = find_datasets(root, include=include, exclude=exclude)
        sources = [windows_from_neurons(load_dataset(folder), resampler) for folder in chosen.values()]
    if not sources:
        raise ValueError(f"no dataset left to train on under {root}")
    return concatenate(sources)


def prepare(root: str | Path, out: str | Path, include: Iterable[str] | None = None) -> list[Path]:
    """Pre-process each dataset of a ground-truth folder into ``out/DSxx.npz``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for key, folder in find_datasets(root, include=include).items():
        windows_from_neurons(load_dataset(folder)).save(out / f"{key}.npz")
        written.append(out / f"{key}.npz")
    return written
