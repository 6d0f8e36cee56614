"""Training settings with the options of rejected recipe variants, on the product trainer's extension points.

:class:`ResearchSettings` is :class:`ens2export.train.TrainSettings` plus the options no
shipped model uses; it overrides the trainer's hooks (the training windows, the batch,
the loss, the learning-rate schedule, the network) and :func:`stop_rule` gives its
stopping rule. ``research/findings.md`` records what each option scored and why it lost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ens2export.architecture import Network
from ens2export.dataset import WindowSource
from ens2export.train import RESEARCH_MARK, TrainSettings

from research.training import augment
from research.training.slower_frames import with_slower_frames
from research.training.synthetic import with_synthetic

SCHEDULES = ("constant", "cosine")
LOSSES = ("mse", "eucd", "mse+corr")
SLOWER_TARGETS = ("teacher", "truth")  #: how the slower copies of a distilled model's trials are labelled
CORR_WEIGHT = 0.01  # "mse+corr": about the MSE of a trained model (~0.004) next to 1 - r (~0.4) at the start
OFFLINE_CONVOLUTIONAL_ONLY = {"norm_window": "sliding InstanceNorm", "dilation": "a dilated bottleneck",
                              "baseline_window": "a local-mean baseline"}  # fmt: skip


@dataclass(frozen=True)
class ResearchSettings(TrainSettings):
    """:class:`TrainSettings` plus the options of variants no shipped model uses.

    ``schedule="cosine"``: the learning rate falls from ``learning_rate`` to zero along a
    half cosine over exactly ``max_steps`` steps (a fixed budget, so ``patience`` must not
    cut it short). ``drift`` (convolutional): baseline drift augmentation; ``stretch``
    (either kind): time-stretch augmentation; ``gain`` (convolutional): amplitude
    augmentation (:mod:`research.training.augment`). ``local_window`` (convolutional,
    noise_std scaling): the network also reads the input's z-score over a centred window
    of that many samples; ``dilation``: of the bottleneck's convolutions, a wider reach;
    ``norm_window``: sliding InstanceNorm over that many samples instead of BatchNorm;
    ``baseline_window``: the network takes its input less its mean over a centred window
    (:class:`ens2export.architecture.Network`; these three for offline convolutional
    models, and each grows the reach, so ``context`` should too); ``width``
    (convolutional): that many times the features in every layer, the reach unchanged. ``loss``: see
    :func:`training_loss`. ``synthetic``: add a synthetic copy of that share of the training
    trials (:mod:`research.training.synthetic`), each sampled up to a frame late if
    ``synthetic_scan_offset``. ``slower_frames``: add a copy of that share of the training
    trials as if recorded at a lower frame rate (:mod:`research.training.slower_frames`),
    labelled by the teacher (``slower_targets="teacher"``) or by their smoothed true spikes
    (``"truth"``). ``validation_share``: stop on the loss of that share of every training
    dataset's neurons, checked every ``validate_every`` steps
    (:mod:`research.training.validation`).
    """

    schedule: str = "constant"
    drift: float = 0.0
    stretch: float = 1.0
    gain: float = 1.0
    # the network's options, their defaults the plain network's (ens2export.architecture.Network)
    local_window: int = Network.local_window
    dilation: int = Network.dilation
    norm_window: int = Network.norm_window
    baseline_window: int = Network.baseline_window
    width: int = Network.width
    loss: str = "mse"
    synthetic: float = 0.0
    synthetic_scan_offset: bool = False
    slower_frames: float = 0.0
    slower_targets: str = "teacher"
    validation_share: float = 0.0
    validate_every: int = 50
    reads_research_runs: ClassVar[bool] = True

    def __post_init__(self) -> None:
        super().__post_init__()
        _ = self.network  # checks each network option
        offline_convolutional = self.kind == "convolutional" and self.lookahead is None
        for option, what in OFFLINE_CONVOLUTIONAL_ONLY.items():
            if getattr(self, option) != ResearchSettings.__dataclass_fields__[option].default and not offline_convolutional:
                raise ValueError(f"{what} is for offline convolutional models")
        if self.local_window and (not offline_convolutional or self.input_scaling != "noise_std"):
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
        if self.drift < 0 or (self.drift > 0 and self.kind != "convolutional"):
            raise ValueError(f"drift is a non-negative augmentation of convolutional training, not {self.drift} for {self.kind}")
        if not self.stretch >= 1.0:
            raise ValueError(f"stretch is a factor >= 1, not {self.stretch}")
        if not self.gain >= 1.0 or (self.gain > 1.0 and self.kind != "convolutional"):
            raise ValueError(f"gain is a factor >= 1 for convolutional training, not {self.gain} for {self.kind}")
        if self.schedule == "cosine" and self.patience < self.max_steps:
            raise ValueError(f"a cosine schedule runs exactly max_steps ({self.max_steps}); patience {self.patience} would stop it early")

    @property
    def uses_research_options(self) -> bool:
        """Whether any option of these settings is not the product's (then only this class reads them back)."""
        return any(getattr(self, name) != field.default for name, field in ResearchSettings.__dataclass_fields__.items()
                   if name not in TrainSettings.__dataclass_fields__)  # fmt: skip

    def as_dict(self) -> dict:
        """The fields, marked (:data:`ens2export.train.RESEARCH_MARK`) where :attr:`uses_research_options`."""
        return super().as_dict() | ({RESEARCH_MARK: True} if self.uses_research_options else {})

    @property
    def network(self) -> Network:
        return Network(self.kind, self.local_window, self.dilation, self.norm_window, self.baseline_window, self.width)

    @property
    def loss_name(self) -> str:
        return self.loss

    @property
    def batches_on_device(self) -> bool:
        return super().batches_on_device and self.stretch == 1.0

    def training_windows(self, source: WindowSource) -> WindowSource:
        """Slower-frame and synthetic copies added, labelled by the teacher; slower copies labelled by the truth added after it."""
        truth_for_slower = self.slower_targets == "truth"
        if self.slower_frames and not truth_for_slower:  # with both, the synthetic copies are drawn from the real and the slower trials alike
            source = with_slower_frames(source, self.slower_frames, self.seed)
        if self.synthetic:
            source = with_synthetic(source, self.synthetic, self.seed, scan_offset=self.synthetic_scan_offset)
        source = super().training_windows(source)
        if truth_for_slower:  # the copies are added after the teacher labelled the real trials: their targets are the truth
            source = with_slower_frames(source, self.slower_frames, self.seed)
        return source

    def draw_batch(self, source: WindowSource, rng: np.random.Generator, level) -> tuple[np.ndarray, np.ndarray]:
        if self.kind == "convolutional":
            return augment.context_batch(source, rng, self.batch_size, self.context, level, scaled=self.input_scaling == "noise_std",
                                         delay=self.output_delay, drift=self.drift, stretch=self.stretch, gain=self.gain)  # fmt: skip
        if self.stretch > 1.0:
            return augment.windowed_batch(source, rng, self.batch_size, level, self.stretch)
        return super().draw_batch(source, rng, level)

    def batch_loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return training_loss(output, target, self.loss)

    def learning_rate_factor(self, completed_steps: int) -> float:
        """1, or along a half cosine to zero over ``max_steps`` (``schedule="cosine"``)."""
        if self.schedule == "constant":
            return 1.0
        return 0.5 * (1.0 + math.cos(math.pi * min(completed_steps, self.max_steps) / self.max_steps))


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
