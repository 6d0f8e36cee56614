"""Early stopping on a validation loss (the rejected ``windowed-valstop`` variant).

A share of every training dataset's neurons is held out (:func:`held_out_neurons`);
every ``every`` steps the MSE on fixed windows of them is measured, ``patience`` counts
steps without a better one, and the weights with the best are returned.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

from ens2export.dataset import WindowSource, concatenate, windows_from_neurons
from ens2export.groundtruth import find_datasets, load_dataset
from ens2rt.engine.windows import WINDOW

VALIDATION_WINDOWS = 8192  # fixed windows a validation check scores (ValidationStop)


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


class ValidationStop:
    """The trainer's stop rule (:class:`ens2export.train.StopRule`): patience on the MSE of a windowed model on fixed validation windows.

    The windows: up to ``VALIDATION_WINDOWS`` of them, evenly spaced over every sample of
    the validation trials (one window per sample, as in training), at native noise. The
    weights where the loss was lowest are returned.
    """

    def __init__(self, validation: WindowSource, every: int, patience: int, device: str | torch.device = "cpu") -> None:
        chosen = np.unique(np.linspace(0, validation.n_windows - 1, min(VALIDATION_WINDOWS, validation.n_windows)).astype(np.int64))
        index = validation.starts[chosen][:, None] + np.arange(WINDOW)
        self.every, self.patience = every, patience
        self.inputs = torch.from_numpy(validation.inputs[index]).to(device)
        self.targets = torch.from_numpy(validation.targets[index]).to(device)
        self.losses: list[float] = []
        self.best_step: int | None = None
        self._best_state: dict[str, torch.Tensor] | None = None
        self._best_loss = float("inf")
        self._since_best = 0

    def loss(self, model: torch.nn.Module) -> float:
        """Validation MSE of ``model`` (InstanceNorm keeps no running statistics, so train mode computes what eval does)."""
        with torch.no_grad():  # the windows already sit on the model's device (the trainer's, given at construction)
            total = sum(float(torch.sum((model(x) - y) ** 2)) for x, y in zip(self.inputs.split(1024), self.targets.split(1024)))
        return total / self.targets.numel()

    def improved(self, model: torch.nn.Module, step: int) -> bool:
        """Measure ``model`` after ``step``; keep its weights and say so if it is the best yet."""
        value = self.loss(model)
        self.losses.append(value)
        if not value < self._best_loss:  # a NaN loss is never the best
            return False
        self._best_loss, self.best_step = value, step
        self._best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        return True

    def should_stop(self, step: int, loss: float, model: torch.nn.Module) -> bool:
        if step % self.every:
            return False
        self._since_best = 0 if self.improved(model, step) else self._since_best + self.every
        return self._since_best >= self.patience

    def best_state(self) -> dict[str, torch.Tensor] | None:
        return self._best_state

    def record(self) -> dict:
        return {"validation_losses": np.asarray(self.losses, dtype=np.float32), "best_step": self.best_step, "validation_every": self.every}
