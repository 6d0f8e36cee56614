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
from ens2rt.engine.spikes import SIGMA_SAMPLES
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

    def batch(self, rng: np.random.Generator, size: int, noise_level: float | np.ndarray | None = None,
              stretch: float = 1.0) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """``size`` windows drawn uniformly with replacement: (inputs, targets), each (size, 96).

        With ``noise_level`` (one ν, or one per window), every window gets fresh noise that
        lifts its trial to that ν. ``stretch`` (augmentation, ≥ 1): each window's time axis
        is scaled by a factor drawn log-uniformly from 1 / stretch to stretch, as in
        :meth:`context_batch` (:meth:`stretched`); any noise is added after, inside the trial.
        """
        chosen = rng.integers(0, self.n_windows, size)
        if stretch > 1.0:
            trial, inputs, inside, targets = self._randomly_stretched(rng, chosen, stretch, WINDOW)
        else:
            index = self.starts[chosen][:, None] + np.arange(WINDOW)
            inputs, targets = self.inputs[index], self.targets[index]
            trial, inside = self._trial_and_inside(chosen, WINDOW)
        if noise_level is not None:  # only where the (stretched) window lies inside its trial
            inputs = inputs + self._noise(rng, trial, inside, noise_level)
        return inputs, targets

    def noise(self, rng: np.random.Generator, chosen: np.ndarray, noise_level: float | np.ndarray, length: int = WINDOW) -> np.ndarray:
        """Noise for windows ``chosen`` (indices < n_windows) that lifts their trials to ``noise_level`` (one, or one per window).

        (len(chosen), length) float32 over each window extended symmetrically to ``length``,
        zero outside the trial (inference pads with clean zeros) and for trials whose
        native ν already reaches the target.
        """
        return self._noise(rng, *self._trial_and_inside(chosen, length), noise_level)

    def _noise(self, rng: np.random.Generator, trial: np.ndarray, inside: np.ndarray, noise_level: float | np.ndarray) -> np.ndarray:
        std = added_noise_std(self.noise_levels[trial], noise_level, self.frame_rates[trial])
        noise = native_white_noise_at_60hz(rng, self.frame_rates[trial], inside.shape[1])
        return np.where(inside, noise * std[:, None].astype(np.float32), np.float32(0))

    def _trial_of(self, chosen: np.ndarray) -> np.ndarray:
        """Index of the trial each of the windows ``chosen`` belongs to."""
        return np.searchsorted(self.first_windows, chosen, side="right") - 1

    def _trial_and_inside(self, chosen: np.ndarray, length: int, delay: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Trial of each window and which of its ``length`` samples (centred on it, ``delay`` earlier) lie inside that trial."""
        trial = self._trial_of(chosen)
        # window w of a trial covers its samples w - 48 … w + 47; extended by (length - 96) / 2 each side
        sample = (chosen - self.first_windows[trial])[:, None] + np.arange(length) - length // 2 - delay
        return trial, (sample >= 0) & (sample < self.trial_lengths[trial][:, None])

    def context_batch(
        self, rng: np.random.Generator, size: int, length: int, noise_level: float | np.ndarray | None = None, scaled: bool = False,
        delay: int = 0, drift: float = 0.0, stretch: float = 1.0, gain: float = 1.0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Windows with context for a convolutional model: inputs (size, length), targets (size, 96).

        Each input is a 96-sample training window extended by (length − 96) / 2 samples on
        each side, zero outside its trial (as a zero-padded trace at inference); the target
        is the window's own 96 samples. ``scaled`` divides each input by its trial's noise
        std at the native rate, ν·√fs / 95.39 (ν after any added noise), the
        ``"noise_std"`` input scaling of the model contract. ``delay``: the input ends that
        many samples earlier, so the network learns to output a sample's rate ``delay``
        samples after its input's centre (a low-latency model: less input after the sample).
        ``drift`` (augmentation): each input inside its trial gets a baseline offset plus a
        linear ramp, both drawn N(0, drift) in units of the trial's noise std (the ramp's value
        is its change from the window's first to last sample), as a slowly drifting baseline.
        ``stretch`` (augmentation, ≥ 1): each window's time axis is scaled by a factor drawn
        log-uniformly from 1 / stretch to stretch, as if its indicator were that much slower
        or faster (:meth:`stretched`). ``gain`` (augmentation, ≥ 1): each input (signal and
        noise) is multiplied by a factor drawn log-uniformly from 1 / gain to gain, as if its
        ΔF/F amplitude or its noise estimate were that much off; the targets stay.
        """
        chosen = rng.integers(0, self.n_windows, size)
        if stretch > 1.0:
            trial, inputs, inside, targets = self._randomly_stretched(rng, chosen, stretch, length, delay)
        else:
            extra = (length - WINDOW) // 2
            trial, inside = self._trial_and_inside(chosen, length, delay)
            index = np.clip(self.starts[chosen][:, None] - extra - delay + np.arange(length), 0, self.inputs.size - 1)
            inputs = np.where(inside, self.inputs[index], np.float32(0))
            targets = self.targets[self.starts[chosen][:, None] + np.arange(WINDOW)]
        levels = self.noise_levels[trial]
        if noise_level is not None:
            inputs = inputs + self._noise(rng, trial, inside, noise_level)
            levels = np.maximum(levels, noise_level)
        scale = input_scale(levels, self.frame_rates[trial])[:, None].astype(np.float32)
        if drift > 0:
            offset, ramp = (rng.normal(0.0, drift, (size, 1)).astype(np.float32) for _ in range(2))
            along = np.linspace(-0.5, 0.5, length, dtype=np.float32)
            inputs = inputs + np.where(inside, (offset + ramp * along) * scale, np.float32(0))
        if scaled:
            inputs = inputs / scale
        if gain > 1.0:
            inputs = inputs * np.exp(rng.uniform(-np.log(gain), np.log(gain), (size, 1)))
        return inputs.astype(np.float32), targets

    def _randomly_stretched(self, rng: np.random.Generator, chosen: np.ndarray, stretch: float, length: int,
                            delay: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
        """Windows ``chosen``, each stretched by a factor drawn log-uniformly from 1 / stretch to stretch: trials and :meth:`stretched`."""
        factors = np.exp(rng.uniform(-np.log(stretch), np.log(stretch), chosen.size))
        return (self._trial_of(chosen), *self.stretched(chosen, factors, length, delay))

    def stretched(self, chosen: np.ndarray, factors: np.ndarray, length: int, delay: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Windows ``chosen`` with their time axis scaled by ``factors`` about each window's centre.

        Returns inputs (len(chosen), ``length``; linearly interpolated, zero outside the
        trial), which of them lie inside the trial, and targets (len(chosen), 96): the true
        spikes moved to their scaled times and smoothed with the targets' Gaussian there
        (so the kernel keeps its width and each spike its count), mixed with the teacher's
        rates, interpolated and divided by the factor, as :attr:`targets` mixes them.
        A factor of 1 gives the unscaled windows (targets to the kernel's truncation).
        """
        trial = self._trial_of(chosen)
        centre = (chosen - self.first_windows[trial]).astype(np.float64)  # the window's centre, as a sample of its trial
        first, n = self.trial_offsets[trial], self.trial_lengths[trial]
        factor = np.asarray(factors, dtype=np.float64)[:, None]

        def along_trial(position: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """``values`` linearly interpolated at trial positions; and which positions lie inside the trial."""
            inside = (position >= 0) & (position <= n[:, None] - 1)
            low = np.clip(np.floor(position), 0, n[:, None] - 1).astype(np.int64)
            high = np.minimum(low + 1, n[:, None] - 1)
            weight = np.clip(position - low, 0.0, 1.0)
            mixed = (1 - weight) * values[first[:, None] + low] + weight * values[first[:, None] + high]
            return np.where(inside, mixed, 0.0), inside

        inputs, inside = along_trial(centre[:, None] + (np.arange(length) - length // 2 - delay) / factor, self.inputs)
        reach = int(np.ceil((WINDOW // 2 + 4 * SIGMA_SAMPLES) / factor.min())) + 1
        offsets = np.arange(-reach, reach + 1)  # source samples around the centre that can reach the target
        source = centre[:, None].astype(np.int64) + offsets
        valid = (source >= 0) & (source < n[:, None])
        counts = np.where(valid, self.spike_counts[first[:, None] + np.clip(source, 0, n[:, None] - 1)], 0)
        window, at = np.nonzero(counts)  # spikes are sparse: smooth only the samples that have some
        landed = offsets[at] * factor[window, 0]  # where those samples' spikes land, from the window's centre
        gap = (np.arange(WINDOW) - WINDOW // 2)[None, :] - landed[:, None]
        kernel = np.exp(-0.5 * (gap / SIGMA_SAMPLES) ** 2) / (SIGMA_SAMPLES * np.sqrt(2 * np.pi))
        targets = np.zeros((len(chosen), WINDOW))
        np.add.at(targets, window, kernel * counts[window, at][:, None])
        if self.teacher_rates is not None:
            target_position = centre[:, None] + (np.arange(WINDOW) - WINDOW // 2) / factor
            teacher = along_trial(target_position, self.teacher_rates)[0] / factor
            targets = (1.0 - self.teacher_weight) * targets + self.teacher_weight * teacher
        return inputs.astype(np.float32), inside, targets.astype(np.float32)

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


def held_out_neurons(n_neurons: int, share: float) -> list[int]:
    """Which of a dataset's ``n_neurons`` (by load order) go to validation: ``round(share · n)``, evenly spaced.

    At least one while the dataset has four neurons or more (so none loses most of its
    data to validation), none below that.
    """
    if not 0.0 < share < 1.0:
        raise ValueError(f"the validation share is a fraction between 0 and 1, not {share}")
    count = max(round(share * n_neurons), 1) if n_neurons >= 4 else 0
    return [int(i) for i in np.floor((np.arange(count) + 0.5) * n_neurons / count)]  # distinct: count <= n_neurons


def load_windows_and_validation(
    root: str | Path, include: Iterable[str] | None, share: float, resampler: str = "fourier"
) -> tuple[WindowSource, WindowSource]:
    """Training and validation windows of the chosen datasets of a ground-truth folder.

    Of every dataset, the neurons :func:`held_out_neurons` picks are validation, the rest
    training: a split of whole neurons inside the training data, so stopping on its loss
    never looks at a dataset a model is scored on.
    """
    training, validation = [], []
    for folder in find_datasets(root, include=include).values():
        neurons = load_dataset(folder)
        held = set(held_out_neurons(len(neurons), share))
        training.append(windows_from_neurons([n for i, n in enumerate(neurons) if i not in held], resampler))
        if held:
            validation.append(windows_from_neurons([n for i, n in enumerate(neurons) if i in held], resampler))
    if not training:
        raise ValueError(f"no dataset left to train on under {root}")
    if not validation:
        raise ValueError("no dataset has the four neurons it takes to hold one out for validation")
    return concatenate(training), concatenate(validation)


def prepare(root: str | Path, out: str | Path, include: Iterable[str] | None = None) -> list[Path]:
    """Pre-process each dataset of a ground-truth folder into ``out/DSxx.npz``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for key, folder in find_datasets(root, include=include).items():
        windows_from_neurons(load_dataset(folder)).save(out / f"{key}.npz")
        written.append(out / f"{key}.npz")
    return written
