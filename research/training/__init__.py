"""Training options of rejected recipe variants, plugged into ``ens2export``'s trainer.

``ResearchSettings`` adds them to ``TrainSettings``; :func:`train` trains with them (and
with early stopping on validation neurons where ``validation_share`` asks for it).
"""

from __future__ import annotations

from research.training.settings import ResearchSettings

__all__ = ["ResearchSettings", "train"]


def train(source, settings: ResearchSettings, device: str = "auto", validation=None, on_step=None):
    """:func:`ens2export.train.train` with the stop rule ``settings`` ask for.

    ``validation``: the held-out windows (:func:`research.training.validation.load_windows_and_validation`),
    exactly when ``settings.validation_share`` is set.
    """
    from ens2export.train import pick_device
    from ens2export.train import train as product_train

    if (validation is None) != (settings.validation_share == 0.0):
        raise ValueError("pass validation windows exactly when validation_share is set (load_windows_and_validation)")
    stop = None
    if validation is not None:
        from research.training.validation import ValidationStop

        stop = ValidationStop(validation, settings.validate_every, settings.patience, pick_device(device))
    return product_train(source, settings, device=device, on_step=on_step, stop=stop)
