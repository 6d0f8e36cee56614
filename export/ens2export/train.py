"""Training the ENS² network with the published recipe and the shipped variants of it."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar, Protocol

import numpy as np
import torch

from ens2export.dataset import WindowSource
from ens2export.network import ENS2UNet, initialise, to_weights
from ens2export.architecture import ALIGNMENT, KINDS, Network, architecture_reach
from ens2rt.engine.contract import WINDOW

INPUT_SCALINGS = ("none", "noise_std")
DATA_RESAMPLERS = ("fourier", "linear")
RESEARCH_MARK = "research_options"  #: the key that marks the settings of a run that used research options (from_dict)


@dataclass(frozen=True)
class TrainSettings:
    """Published ENS² defaults (docs/method.md): Adam 1e-3, 1024 windows/step, MSE, patience 500.

    ``noise_level``: train at this ν (:mod:`ens2export.noise`); ``None`` = native noise,
    the published recipe. ``noise_band`` (instead of ``noise_level``): every window is
    lifted to its own ν drawn uniformly from (low, high), so one model sees the whole band.
    ``kind="convolutional"``: BatchNorm network trained on windows of ``context`` samples
    with the loss on their central 96 and a linear output; ``input_scaling="noise_std"``
    divides each input by its trace's noise std. ``lookahead`` (convolutional only): the
    output at a sample may read input at most this many 60 Hz samples later (a low-latency
    model; ``None``: the architecture's symmetric reach). ``resampler``: how the training
    traces are brought to 60 Hz; a model must run with the resampler it was trained on
    (its contract says which). ``teacher`` (distillation): a model file (or catalog name)
    whose rates, run over every training trial, make up ``teacher_weight`` of the targets
    (:meth:`WindowSource.with_teacher`); several: their rates averaged.

    These are the options of the shipped recipes. The methods below the fields are the
    trainer's extension points: ``research/training`` subclasses these settings with the
    options of variants no shipped model uses (augmentations, other losses, schedules and
    stopping rules, synthetic and slower-frame data) and overrides them.
    """

    learning_rate: float = 1e-3
    batch_size: int = 1024
    max_steps: int = 5000
    patience: int = 500
    seed: int = 0
    noise_level: float | None = None
    noise_band: tuple[float, float] | None = None
    kind: str = "windowed"
    context: int = WINDOW
    input_scaling: str = "none"
    lookahead: int | None = None
    resampler: str = "fourier"
    teacher: str | tuple[str, ...] | None = None
    teacher_weight: float = 0.5
    reads_research_runs: ClassVar[bool] = False  # whether from_dict may read a research run's record

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if not 0.0 < self.teacher_weight <= 1.0:
            raise ValueError(f"teacher_weight must be in (0, 1], not {self.teacher_weight}")
        if self.noise_band is not None:
            low, high = self.noise_band
            if self.noise_level is not None or not 0 <= low < high:
                raise ValueError(f"noise_band must be (low, high) with 0 <= low < high, instead of noise_level; not {self.noise_band}")
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
        return Network(self.kind)

    @property
    def loss_name(self) -> str:
        """What :meth:`batch_loss` computes, for the loss curve's header."""
        return "mse"

    @property
    def batches_on_device(self) -> bool:
        """Whether a GPU may gather this recipe's batches itself (plain windows; a convolutional batch is built on the CPU)."""
        return self.kind == "windowed"

    def training_windows(self, source: WindowSource) -> WindowSource:
        """The windows trained on: ``source``, its targets mixed with the teachers' rates if distilled."""
        if not self.teachers:
            return source
        import ens2rt

        return source.with_teacher([ens2rt.Model.load(t, device="cpu") for t in self.teachers], self.teacher_weight)

    def draw_batch(self, source: WindowSource, rng: np.random.Generator, level: float | np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """One step's (inputs, targets) on the CPU, noise lifted to ``level`` (one ν, one per window, or ``None``)."""
        if self.kind == "convolutional":
            return source.context_batch(rng, self.batch_size, self.context, level, scaled=self.input_scaling == "noise_std",
                                        delay=self.output_delay)  # fmt: skip
        return source.batch(rng, self.batch_size, level)

    def batch_loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The loss of a batch of windows, shape (windows, samples): the mean squared error."""
        return torch.mean((output - target) ** 2)

    def learning_rate_factor(self, completed_steps: int) -> float:
        """Multiplier of ``learning_rate`` for the step after ``completed_steps`` steps (constant)."""
        return 1.0

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, fields: dict) -> TrainSettings:
        """The settings a run.json records (keys this version does not know are ignored; lists back to tuples).

        Refuses the record of a research run (:data:`RESEARCH_MARK`) unless ``cls`` is a
        research subclass: read without its options, it would be another network.
        """
        if fields.get(RESEARCH_MARK) and not cls.reads_research_runs:
            raise ValueError("these settings use training options of research/training (a variant no shipped model uses): "
                             "read them with research.training.ResearchSettings")  # fmt: skip
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


class StopRule(Protocol):
    """When training stops, and which weights it returns (:func:`train` asks after every step)."""

    def should_stop(self, step: int, loss: float, model: torch.nn.Module) -> bool:
        """Whether to stop after ``step`` (its batch loss ``loss``)."""

    def best_state(self) -> dict[str, torch.Tensor] | None:
        """The weights to return instead of the last ones, if any."""

    def record(self) -> dict:
        """What the rule measured, for :class:`TrainResult` (its optional fields)."""


class PatienceOnLoss:
    """The published rule: stop once the batch loss has not beaten its best for ``patience`` steps; the last weights."""

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self._best, self._since_best = np.inf, 0

    def should_stop(self, step: int, loss: float, model: torch.nn.Module) -> bool:
        if loss < self._best:
            self._best, self._since_best = loss, 0
            return False
        self._since_best += 1
        return self._since_best >= self.patience

    def best_state(self) -> dict[str, torch.Tensor] | None:
        return None

    def record(self) -> dict:
        return {}


@dataclass(frozen=True)
class TrainResult:
    weights: dict[str, np.ndarray]
    losses: np.ndarray  # training loss of every step
    steps: int
    stopped_early: bool
    wall_time_s: float
    device: str
    validation_losses: np.ndarray | None = None  # a validating stop rule's losses, one per check
    best_step: int | None = None  # the step whose weights were returned, if a stop rule chose them
    validation_every: int | None = None  # steps between a validating stop rule's checks


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
    stop: StopRule | None = None,
) -> TrainResult:
    """Train a fresh network on ``source``; deterministic for a seed on CPU.

    Stops after ``max_steps`` or when ``stop`` says so (default :class:`PatienceOnLoss`
    with the settings' patience: the published rule, the last weights returned).
    """
    target_device = pick_device(device)
    source = settings.training_windows(source)
    stop = PatienceOnLoss(settings.patience) if stop is None else stop
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    model = ENS2UNet(settings.network)
    initialise(model, generator)
    model.to(target_device).train()
    convolutional = settings.kind == "convolutional"
    centre = slice((settings.context - WINDOW) // 2, (settings.context + WINDOW) // 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, settings.learning_rate_factor)
    # On a GPU the whole training set lives on the device and plain batches are gathered there
    on_gpu = target_device.type == "cuda" and settings.batches_on_device
    if on_gpu:
        inputs = torch.from_numpy(source.inputs).to(target_device)
        targets = torch.from_numpy(source.targets).to(target_device)
        offsets = torch.arange(WINDOW, device=target_device)

    losses: list[float] = []
    started = time.perf_counter()
    for step in range(1, settings.max_steps + 1):
        level = settings.noise_level if settings.noise_band is None else rng.uniform(*settings.noise_band, settings.batch_size)
        if on_gpu:
            chosen = rng.integers(0, source.n_windows, settings.batch_size)
            index = torch.from_numpy(source.starts[chosen]).to(target_device)[:, None] + offsets
            x, y = inputs[index], targets[index]
            if level is not None:
                x = x + torch.from_numpy(source.noise(rng, chosen, level)).to(target_device)
        else:
            batch_x, batch_y = settings.draw_batch(source, rng, level)
            x, y = torch.from_numpy(batch_x).to(target_device), torch.from_numpy(batch_y).to(target_device)
        optimizer.zero_grad(set_to_none=True)
        output = model(x, rectify=False)[:, centre] if convolutional else model(x)
        loss = settings.batch_loss(output, y)
        loss.backward()
        optimizer.step()
        scheduler.step()
        value = float(loss.detach())
        losses.append(value)
        if on_step is not None:
            on_step(step, value)
        if stop.should_stop(step, value, model):
            break
    if (best := stop.best_state()) is not None:
        model.load_state_dict(best)
    return TrainResult(
        weights=to_weights(model.cpu().eval()),
        losses=np.asarray(losses, dtype=np.float32),
        steps=len(losses),
        stopped_early=len(losses) < settings.max_steps,
        wall_time_s=time.perf_counter() - started,
        device=str(target_device),
        **stop.record(),
    )


def save_run(out: Path, source: WindowSource, settings: TrainSettings, result: TrainResult, command: str) -> None:
    """Save a training run: ``weights.npz``, ``losses.csv`` and ``run.json`` (provenance)."""
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "weights.npz", **result.weights)
    np.savetxt(out / "losses.csv", result.losses, fmt="%.6g", header=f"training loss ({settings.loss_name}) per step", comments="# ")
    if result.validation_losses is not None:
        np.savetxt(out / "validation.csv", result.validation_losses, fmt="%.6g", comments="# ",
                   header=f"validation MSE every {result.validation_every} steps")  # fmt: skip
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
                                                "validation_every": result.validation_every}),
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
