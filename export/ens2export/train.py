"""Training the ENS² network with the published recipe."""

from __future__ import annotations

import json
import math
import os
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch

from ens2export.dataset import WindowSource
from ens2export.network import ENS2UNet, initialise, to_weights
from ens2export.frame_rates import with_slower_frames
from ens2export.synthetic import with_synthetic
from ens2export.architecture import ALIGNMENT, KINDS, Network, architecture_reach
from ens2rt.engine.contract import WINDOW

VALIDATION_WINDOWS = 8192  # fixed windows a validation check scores (ValidationCheck)
INPUT_SCALINGS = ("none", "noise_std")
DATA_RESAMPLERS = ("fourier", "linear")
SCHEDULES = ("constant", "cosine")
LOSSES = ("mse", "eucd", "mse+corr")
SLOWER_TARGETS = ("teacher", "truth")  #: how the slower copies of a distilled model's trials are labelled
CORR_WEIGHT = 0.01  # "mse+corr": about the MSE of a trained model (~0.004) next to 1 - r (~0.4) at the start


@dataclass(frozen=True)
class TrainSettings:
    """Published ENS² defaults (docs/method.md): Adam 1e-3, 1024 windows/step, MSE, patience 500.

    ``noise_level``: train at this ν (:mod:`ens2export.noise`); ``None`` = native noise,
    the published recipe. ``kind="convolutional"``: BatchNorm network trained on windows
    of ``context`` samples with the loss on their central 96 and a linear output;
    ``input_scaling="noise_std"`` divides each input by its trace's noise std.
    ``lookahead`` (convolutional only): the output at a sample may read input at most
    this many 60 Hz samples later (a low-latency model; ``None``: the architecture's
    symmetric reach). ``resampler``: how the training traces are brought to 60 Hz;
    a model must run with the resampler it was trained on (its contract says which).
    ``schedule="cosine"``: the learning rate falls from ``learning_rate`` to zero along a
    half cosine over exactly ``max_steps`` steps (a fixed budget, so ``patience`` must not
    cut it short); ``"constant"`` is the published recipe. ``drift`` (convolutional): baseline
    drift augmentation, see :meth:`WindowSource.context_batch`; ``stretch`` (either kind):
    time-stretch augmentation, each window slowed or sped up by up to that factor (the same
    method); ``gain`` (convolutional): amplitude augmentation, each input scaled by up to
    that factor either way. ``noise_band`` (instead of
    ``noise_level``): every window is lifted to its own ν drawn uniformly from (low, high),
    so one model sees the whole band. ``local_window`` (convolutional, noise_std scaling):
    the network also reads the input's z-score over a centred window of that many samples
    (:func:`ens2export.network.local_zscore`); its reach grows by half the window, so
    ``context`` should too. ``dilation`` (convolutional, offline): of the bottleneck's
    convolutions, a wider reach (:func:`ens2export.architecture.architecture_reach`).
    ``norm_window`` (convolutional, offline): sliding InstanceNorm over that many samples
    instead of BatchNorm (:class:`ens2export.network.SlidingInstanceNorm`).
    ``baseline_window`` (convolutional, offline): the network takes its input less the
    input's mean over a centred window of that many samples, blind to a constant baseline
    offset (:func:`ens2export.network.less_local_mean`); its reach grows by half the
    window, so ``context`` should too. ``loss``: the
    training loss, see :func:`training_loss` (``"mse"`` is the published recipe).
    ``synthetic``: add a synthetic copy of that share of the training trials, their spikes
    seen through simulated indicators (:mod:`ens2export.synthetic`), each sampled up to a
    frame late if ``synthetic_scan_offset``. ``slower_frames``: add a copy of that share of
    the training trials as if recorded at a lower frame rate (:mod:`ens2export.frame_rates`),
    labelled, with a ``teacher``, by the teacher's rates on them (``slower_targets="teacher"``)
    or by their smoothed true spikes (``"truth"``: where a teacher trained on faster frames
    over-counts, the truth decides). ``teacher``
    (distillation): a model file (or catalog name) whose rates, run over every training
    trial, make up ``teacher_weight`` of the targets (:meth:`WindowSource.with_teacher`);
    several: their rates averaged. ``validation_share`` (early stopping on validation loss):
    that share of every training dataset's neurons is held out
    (:func:`ens2export.dataset.load_windows_and_validation`); every ``validate_every`` steps
    the MSE on fixed windows of them is measured, ``patience`` counts steps without a
    better one, and the weights with the best are returned. ``0``: the published rule,
    patience on the batch loss, the last weights returned.
    """

    learning_rate: float = 1e-3
    batch_size: int = 1024
    max_steps: int = 5000
    patience: int = 500
    seed: int = 0
    noise_level: float | None = None
    kind: str = "windowed"
    context: int = WINDOW
    input_scaling: str = "none"
    lookahead: int | None = None
    resampler: str = "fourier"
    schedule: str = "constant"
    drift: float = 0.0
    stretch: float = 1.0
    gain: float = 1.0
    noise_band: tuple[float, float] | None = None
    local_window: int = 0
    dilation: int = 1
    norm_window: int = 0
    baseline_window: int = 0
    teacher: str | tuple[str, ...] | None = None
    teacher_weight: float = 0.5
    loss: str = "mse"
    synthetic: float = 0.0
    synthetic_scan_offset: bool = False
    slower_frames: float = 0.0
    slower_targets: str = "teacher"
    validation_share: float = 0.0
    validate_every: int = 50

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        Network(self.kind, self.local_window, self.dilation, self.norm_window, self.baseline_window)  # checks each network option
        if not 0.0 < self.teacher_weight <= 1.0:
            raise ValueError(f"teacher_weight must be in (0, 1], not {self.teacher_weight}")
        if self.norm_window and (self.kind != "convolutional" or self.lookahead is not None):
            raise ValueError("sliding InstanceNorm is for offline convolutional models")
        if self.dilation > 1 and (self.kind != "convolutional" or self.lookahead is not None):
            raise ValueError("a dilated bottleneck is for offline convolutional models")
        if self.baseline_window and (self.kind != "convolutional" or self.lookahead is not None):
            raise ValueError("a local-mean baseline is for offline convolutional models")
        if self.local_window and (self.kind != "convolutional" or self.input_scaling != "noise_std" or self.lookahead is not None):
            raise ValueError("a local z-score channel is for offline convolutional models with noise_std input scaling")
        if not 0.0 <= self.synthetic <= 1.0:
            raise ValueError(f"synthetic is the share of training trials copied through simulated indicators, 0 to 1, not {self.synthetic}")
        if self.synthetic_scan_offset and not self.synthetic:
            raise ValueError("synthetic_scan_offset is a property of synthetic trials: set synthetic too")
        if not 0.0 <= self.slower_frames <= 1.0:
            raise ValueError(f"slower_frames is the share of training trials given a slower copy, 0 to 1, not {self.slower_frames}")
        if self.slower_targets not in SLOWER_TARGETS:
            raise ValueError(f"slower_targets must be one of {', '.join(SLOWER_TARGETS)}, not {self.slower_targets!r}")
        if self.slower_targets == "truth" and not (self.slower_frames and self.teacher):
            raise ValueError("slower_targets='truth' labels the slower copies of a distilled model: set slower_frames and teacher")
        if not 0.0 <= self.validation_share < 1.0:
            raise ValueError(f"validation_share is the share of neurons held out to stop on, 0 to below 1, not {self.validation_share}")
        if self.validate_every < 1:
            raise ValueError(f"validate_every is a number of steps, at least 1, not {self.validate_every}")
        if self.validation_share and self.kind != "windowed":
            raise ValueError("early stopping on validation loss is implemented for windowed models")
        if self.validation_share and self.schedule == "cosine":
            raise ValueError("a cosine schedule runs a fixed budget: it does not stop on validation loss")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, not {self.loss!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, not {self.schedule!r}")
        if self.noise_band is not None:
            low, high = self.noise_band
            if self.noise_level is not None or not 0 <= low < high:
                raise ValueError(f"noise_band must be (low, high) with 0 <= low < high, instead of noise_level; not {self.noise_band}")
        if self.drift < 0 or (self.drift > 0 and self.kind != "convolutional"):
            raise ValueError(f"drift is a non-negative augmentation of convolutional training, not {self.drift} for {self.kind}")
        if not self.stretch >= 1.0:
            raise ValueError(f"stretch is a factor >= 1, not {self.stretch}")
        if not self.gain >= 1.0 or (self.gain > 1.0 and self.kind != "convolutional"):
            raise ValueError(f"gain is a factor >= 1 for convolutional training, not {self.gain} for {self.kind}")
        if self.schedule == "cosine" and self.patience < self.max_steps:
            raise ValueError(f"a cosine schedule runs exactly max_steps ({self.max_steps}); patience {self.patience} would stop it early")
        if self.input_scaling not in INPUT_SCALINGS:
            raise ValueError(f"input_scaling must be one of {', '.join(INPUT_SCALINGS)}, not {self.input_scaling!r}")
        if self.kind == "windowed" and (self.context != WINDOW or self.input_scaling != "none"):
            raise ValueError("a windowed model sees raw 96-sample windows: context and input_scaling are for convolutional ones")
        if self.resampler not in DATA_RESAMPLERS:
            raise ValueError(f"resampler must be one of {', '.join(DATA_RESAMPLERS)}, not {self.resampler!r}")
        if self.lookahead is not None:
            right = architecture_reach()[1]
            if self.kind != "convolutional" or not 0 <= self.lookahead <= right:
                raise ValueError(f"lookahead is for convolutional models, 0 to {right} samples (their reach), not {self.lookahead}")
        if self.context < WINDOW or self.context % (2 * ALIGNMENT):
            raise ValueError(f"context must be at least {WINDOW} and a multiple of {2 * ALIGNMENT}, not {self.context}")

    @property
    def matched_level(self) -> float | None:
        """The ν a family matches this model to: its noise level, its band's centre, or ``None``
        at native noise (where the typical ν of its training data stands in)."""
        if self.noise_band is not None:
            return sum(self.noise_band) / 2
        return self.noise_level

    @property
    def output_delay(self) -> int:
        """Samples by which the output lags the input's centre: the reach traded for a short lookahead."""
        return 0 if self.lookahead is None else architecture_reach()[1] - self.lookahead

    @property
    def streamable(self) -> bool:
        """Whether ``ens2export`` can write this model's streaming graph (the plain convolutional network)."""
        return self.network.has_stream_graph

    @property
    def teachers(self) -> tuple[str, ...]:
        """The teacher models (none, one, or an ensemble whose rates are averaged)."""
        return as_teachers(self.teacher)

    @property
    def network(self) -> Network:
        """The U-Net these settings train."""
        return Network(self.kind, self.local_window, self.dilation, self.norm_window, self.baseline_window)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, fields: dict) -> TrainSettings:
        """The settings a run.json records (keys this version does not know are ignored; lists back to tuples)."""
        known = {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def export_fields(self, stream_graph: bool = True) -> dict:
        """The keyword arguments of :func:`ens2export.card.write_model` for a model trained with these settings.

        ``stream_graph``: write its streaming graph where the network has one (:attr:`streamable`).
        """
        from ens2export.card import runtime_resampler

        return {"input_scaling": self.input_scaling, "output_delay": self.output_delay,
                "resampler": runtime_resampler(self.resampler), "network": self.network,
                "stream_graph": stream_graph and self.streamable}  # fmt: skip


def as_teachers(teacher: str | Sequence[str] | None) -> tuple[str, ...]:
    """A ``teacher`` setting (none, one model, or several) as a tuple of models."""
    if teacher is None:
        return ()
    return (teacher,) if isinstance(teacher, str) else tuple(teacher)


@dataclass(frozen=True)
class TrainResult:
    weights: dict[str, np.ndarray]
    losses: np.ndarray  # training loss of every step
    steps: int
    stopped_early: bool
    wall_time_s: float
    device: str
    validation_losses: np.ndarray | None = None  # validation MSE every ``validate_every`` steps, if validated
    best_step: int | None = None  # the step whose weights were returned, if validated


def pick_device(device: str = "auto") -> torch.device:
    """CUDA when asked for or (``"auto"``) available, else CPU with every core."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and "OMP_NUM_THREADS" not in os.environ:  # an explicit thread count wins
        torch.set_num_threads(os.cpu_count() or 1)
    return torch.device(device)


def train(
    source: WindowSource,
    settings: TrainSettings = TrainSettings(),
    device: str = "auto",
    on_step: Callable[[int, float], None] | None = None,
    validation: WindowSource | None = None,
) -> TrainResult:
    """Train a fresh network on ``source``; deterministic for a seed on CPU.

    Stops after ``max_steps`` or once the loss has not beaten its best for
    ``patience`` steps; the weights after the last step are returned. With
    ``validation`` (``settings.validation_share`` > 0) the loss watched is the one on its
    windows (:class:`ValidationCheck`) and the weights with the best are returned.
    """
    if (validation is None) != (settings.validation_share == 0.0):
        raise ValueError("pass validation windows exactly when validation_share is set (load_windows_and_validation)")
    target_device = pick_device(device)
    truth_for_slower = settings.slower_targets == "truth"
    if settings.slower_frames and not truth_for_slower:  # with both, the synthetic copies are drawn from the real and the slower trials alike
        source = with_slower_frames(source, settings.slower_frames, settings.seed)
    if settings.synthetic:
        source = with_synthetic(source, settings.synthetic, settings.seed, scan_offset=settings.synthetic_scan_offset)
    if settings.teachers:
        import ens2rt

        source = source.with_teacher([ens2rt.Model.load(t, device="cpu") for t in settings.teachers], settings.teacher_weight)
    if truth_for_slower:  # the copies are added after the teacher labelled the real trials: their targets are the truth
        source = with_slower_frames(source, settings.slower_frames, settings.seed)
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    model = ENS2UNet(settings.network)
    initialise(model, generator)
    model.to(target_device).train()
    convolutional = settings.kind == "convolutional"
    centre = slice((settings.context - WINDOW) // 2, (settings.context + WINDOW) // 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, partial(learning_rate_factor, settings))
    # On a GPU the whole training set lives on the device; batches are gathered there.
    # context batches and stretched windows are gathered on the CPU
    on_gpu = target_device.type == "cuda" and not convolutional and settings.stretch == 1.0
    if on_gpu:
        inputs = torch.from_numpy(source.inputs).to(target_device)
        targets = torch.from_numpy(source.targets).to(target_device)
        offsets = torch.arange(96, device=target_device)

    losses: list[float] = []
    best, since_best = np.inf, 0
    check = None if validation is None else ValidationCheck(validation, target_device)
    started = time.perf_counter()
    for step in range(1, settings.max_steps + 1):
        level = settings.noise_level if settings.noise_band is None else rng.uniform(*settings.noise_band, settings.batch_size)
        if on_gpu:
            chosen = rng.integers(0, source.n_windows, settings.batch_size)
            index = torch.from_numpy(source.starts[chosen]).to(target_device)[:, None] + offsets
            x, y = inputs[index], targets[index]
            if level is not None:
                x = x + torch.from_numpy(source.noise(rng, chosen, level)).to(target_device)
        elif convolutional:
            batch_x, batch_y = source.context_batch(rng, settings.batch_size, settings.context, level,
                                                    scaled=settings.input_scaling == "noise_std", delay=settings.output_delay,
                                                    drift=settings.drift, stretch=settings.stretch, gain=settings.gain)  # fmt: skip
            x, y = torch.from_numpy(batch_x).to(target_device), torch.from_numpy(batch_y).to(target_device)
        else:
            batch_x, batch_y = source.batch(rng, settings.batch_size, level, stretch=settings.stretch)
            x, y = torch.from_numpy(batch_x), torch.from_numpy(batch_y)
        optimizer.zero_grad(set_to_none=True)
        output = model(x, rectify=False)[:, centre] if convolutional else model(x)
        loss = training_loss(output, y, settings.loss)
        loss.backward()
        optimizer.step()
        scheduler.step()
        value = float(loss.detach())
        losses.append(value)
        if on_step is not None:
            on_step(step, value)
        if check is not None:  # patience on the validation loss, checked every validate_every steps
            if step % settings.validate_every == 0:
                since_best = 0 if check.improved(model, step) else since_best + settings.validate_every
                if since_best >= settings.patience:
                    break
            continue
        if value < best:
            best, since_best = value, 0
        else:
            since_best += 1
            if since_best >= settings.patience:
                break
    if check is not None and check.best_state is not None:
        model.load_state_dict(check.best_state)
    return TrainResult(
        weights=to_weights(model.cpu().eval()),
        losses=np.asarray(losses, dtype=np.float32),
        steps=len(losses),
        stopped_early=len(losses) < settings.max_steps,
        wall_time_s=time.perf_counter() - started,
        device=str(target_device),
        validation_losses=None if check is None else np.asarray(check.losses, dtype=np.float32),
        best_step=None if check is None else check.best_step,
    )


class ValidationCheck:
    """The MSE of a windowed model on fixed validation windows, and the weights where it was lowest.

    The windows: up to ``VALIDATION_WINDOWS`` of them, evenly spaced over every sample of
    the validation trials (one window per sample, as in training), at native noise.
    """

    def __init__(self, validation: WindowSource, device: torch.device) -> None:
        chosen = np.unique(np.linspace(0, validation.n_windows - 1, min(VALIDATION_WINDOWS, validation.n_windows)).astype(np.int64))
        index = validation.starts[chosen][:, None] + np.arange(WINDOW)
        self.inputs = torch.from_numpy(validation.inputs[index]).to(device)
        self.targets = torch.from_numpy(validation.targets[index]).to(device)
        self.losses: list[float] = []
        self.best_step: int | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self._best_loss = float("inf")

    def loss(self, model: torch.nn.Module) -> float:
        """Validation MSE of ``model`` (InstanceNorm keeps no running statistics, so train mode computes what eval does)."""
        with torch.no_grad():
            total = sum(float(torch.sum((model(x) - y) ** 2)) for x, y in zip(self.inputs.split(1024), self.targets.split(1024)))
        return total / self.targets.numel()

    def improved(self, model: torch.nn.Module, step: int) -> bool:
        """Measure ``model`` after ``step``; keep its weights and say so if it is the best yet."""
        value = self.loss(model)
        self.losses.append(value)
        if not value < self._best_loss:  # a NaN loss is never the best
            return False
        self._best_loss, self.best_step = value, step
        self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        return True


def training_loss(output: torch.Tensor, target: torch.Tensor, kind: str = "mse") -> torch.Tensor:
    """The loss of a batch of windows, shape (windows, samples).

    ``"mse"``: mean squared error (the published recipe). ``"eucd"``: the Euclidean
    distance of each window's output from its target, averaged over windows (a window's
    error counts by its norm, not its square). ``"mse+corr"``: the MSE plus
    :data:`CORR_WEIGHT` times the mean of 1 − Pearson r over the windows whose target
    varies (the score the benchmarks report, per window; the MSE keeps the rate's scale).
    """
    difference = output - target
    if kind == "mse":
        return torch.mean(difference**2)
    if kind == "eucd":
        return torch.mean(torch.sqrt(torch.sum(difference**2, dim=1) + 1e-12))
    if kind == "mse+corr":
        o = output - output.mean(dim=1, keepdim=True)
        t = target - target.mean(dim=1, keepdim=True)
        t_norm = torch.sqrt(torch.sum(t * t, dim=1))
        varies = t_norm > 1e-6
        r = torch.sum(o * t, dim=1)[varies] / (torch.sqrt(torch.sum(o * o, dim=1))[varies] * t_norm[varies] + 1e-8)
        corr_term = torch.mean(1.0 - r) if bool(varies.any()) else difference.new_zeros(())
        return torch.mean(difference**2) + CORR_WEIGHT * corr_term
    raise ValueError(f"loss must be one of {', '.join(LOSSES)}, not {kind!r}")


def learning_rate_factor(settings: TrainSettings, completed_steps: int) -> float:
    """Multiplier of ``settings.learning_rate`` for the step after ``completed_steps`` steps."""
    if settings.schedule == "constant":
        return 1.0
    return 0.5 * (1.0 + math.cos(math.pi * min(completed_steps, settings.max_steps) / settings.max_steps))


def save_run(out: Path, source: WindowSource, settings: TrainSettings, result: TrainResult, command: str) -> None:
    """Save a training run: ``weights.npz``, ``losses.csv`` and ``run.json`` (provenance)."""
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "weights.npz", **result.weights)
    np.savetxt(out / "losses.csv", result.losses, fmt="%.6g", header=f"training loss ({settings.loss}) per step", comments="# ")
    if result.validation_losses is not None:
        np.savetxt(out / "validation.csv", result.validation_losses, fmt="%.6g", comments="# ",
                   header=f"validation MSE every {settings.validate_every} steps")  # fmt: skip
    run = {
        "datasets": list(source.datasets),
        "n_neurons": source.n_neurons,
        "hours": round(source.hours, 3),
        "n_windows": source.n_windows,
        "settings": settings.as_dict(),
        # the ν it learned: the target (a band's centre), or for native-noise training the typical ν of its data
        "noise_level": round(settings.matched_level if settings.matched_level is not None else source.typical_noise_level(), 3),
        **({} if settings.noise_level is None else {"noise": noise_statement(source, settings.noise_level)}),
        **({} if settings.noise_band is None else {"noise": band_statement(settings.noise_band)}),
        "steps": result.steps,
        "stopped_early": result.stopped_early,
        **({} if result.best_step is None else {"best_step": result.best_step, "best_validation_loss": float(result.validation_losses.min()),
                                                "validation_every": settings.validate_every}),
        "final_loss": float(result.losses[-1]),
        "best_loss": float(result.losses.min()),
        "wall_time_s": round(result.wall_time_s, 1),
        "device": result.device,
        "platform": training_platform(),
        "command": command,
        "git_commit": git_commit(),
    }
    (out / "run.json").write_text(json.dumps(run, indent=2) + "\n")


def training_platform() -> dict:
    """What a seeded run's numbers depend on beyond its settings: torch's version and the CPU's instruction set.

    Two machines that differ in either round floats differently, and a run stopped by
    patience can then end at another step with other weights.
    """
    return {"torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability()}


def noise_statement(source: WindowSource, level: float) -> dict:
    """How a noise-level run treated its data, for run.json and the model card."""
    return {
        "target_noise_level": level,
        "method": "white Gaussian noise at each trial's native frame rate, fresh for every window of every step, "
        "sized so that the trial's noise level (median |dF/F(t+1) - dF/F(t)| * 100 / sqrt(frame rate)) reaches the target",
        "fraction_used_unchanged": round(source.fraction_already_noisier(level), 4),
        "used_unchanged": "trials whose native noise level is already at or above the target",
    }


def band_statement(band: tuple[float, float]) -> dict:
    """How a noise-band run treated its data, for run.json and the model card."""
    return {
        "target_noise_band": list(band),
        "method": "every window of every step lifted by white Gaussian noise at its trial's native frame rate to its own "
        "target ν, drawn uniformly from the band; windows whose native ν is already above their target used unchanged",
    }


def git_commit(folder: Path | None = None) -> str:
    """Commit of the git checkout at ``folder`` (default: the working directory), ``-dirty`` if modified."""
    cwd = folder or Path.cwd()
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")
