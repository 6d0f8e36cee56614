"""Early stopping on validation loss: held-out neurons inside the training data, the best weights returned."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ens2export.dataset import load_windows  # noqa: E402
from ens2export.train import save_run  # noqa: E402
from research.training import ResearchSettings, train  # noqa: E402
from research.training.validation import held_out_neurons, load_windows_and_validation  # noqa: E402


@pytest.mark.parametrize(("n_neurons", "expected"), [(3, []), (4, [2]), (8, [4]), (16, [4, 12]), (42, [4, 12, 21, 29, 37])])
def test_an_eighth_of_each_datasets_neurons_is_held_out_evenly_spaced(n_neurons, expected):
    assert held_out_neurons(n_neurons, 0.125) == expected


@pytest.mark.parametrize("share", [0.0, 1.0, -0.1])
def test_a_share_outside_zero_to_one_is_refused(share):
    with pytest.raises(ValueError, match="validation share"):
        held_out_neurons(10, share)


def test_the_validation_neurons_are_left_out_of_training(ground_truth):
    everything = load_windows(ground_truth, include=["DS05"])
    training, validation = load_windows_and_validation(ground_truth, ["DS05"], 0.125)
    assert (training.n_neurons, validation.n_neurons) == (everything.n_neurons - 1, 1)
    assert training.n_windows + validation.n_windows == everything.n_windows
    assert training.datasets == validation.datasets == ("DS05",)


def test_the_weights_returned_are_those_of_the_best_validation_step(ground_truth):
    training, validation = load_windows_and_validation(ground_truth, ["DS05"], 0.125)
    settings = ResearchSettings(max_steps=30, patience=30, batch_size=64, seed=1, validation_share=0.125, validate_every=5)
    result = train(training, settings, device="cpu", validation=validation)
    assert result.steps == 30 and len(result.validation_losses) == 6
    best = int(np.argmin(result.validation_losses))
    assert result.best_step == 5 * (best + 1)
    # checking costs no random draws, so a plain run stopped at the best step trains the same weights
    plain = train(training, ResearchSettings(max_steps=result.best_step, patience=30, batch_size=64, seed=1), device="cpu")
    np.testing.assert_array_equal(plain.losses, result.losses[: result.best_step])
    for name, value in plain.weights.items():
        np.testing.assert_array_equal(value, result.weights[name])


def test_patience_counts_steps_without_a_better_validation_loss(ground_truth):
    training, validation = load_windows_and_validation(ground_truth, ["DS05"], 0.125)
    settings = ResearchSettings(learning_rate=0.0, max_steps=100, patience=10, batch_size=16, validation_share=0.125, validate_every=5)
    result = train(training, settings, device="cpu", validation=validation)  # a frozen network never improves on its first check
    assert result.stopped_early and result.steps == 15 and result.best_step == 5


def test_a_validated_run_records_its_best_step_and_validation_losses(ground_truth, tmp_path):
    training, validation = load_windows_and_validation(ground_truth, ["DS05"], 0.125)
    settings = ResearchSettings(max_steps=10, batch_size=32, validation_share=0.125, validate_every=5)
    result = train(training, settings, device="cpu", validation=validation)
    save_run(tmp_path, training, settings, result, "test")
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["best_step"] == result.best_step and run["validation_every"] == 5
    assert run["settings"]["validation_share"] == 0.125
    np.testing.assert_allclose(np.loadtxt(tmp_path / "validation.csv"), result.validation_losses, rtol=1e-5)


def test_validation_windows_and_the_share_go_together(ground_truth):
    training, validation = load_windows_and_validation(ground_truth, ["DS05"], 0.125)
    with pytest.raises(ValueError, match="exactly when validation_share"):
        train(training, ResearchSettings(max_steps=2, batch_size=8), device="cpu", validation=validation)
    with pytest.raises(ValueError, match="exactly when validation_share"):
        train(training, ResearchSettings(max_steps=2, batch_size=8, validation_share=0.125), device="cpu")


@pytest.mark.parametrize(("fields", "message"), [
    ({"validation_share": 1.0}, "validation_share"),
    ({"validation_share": 0.1, "validate_every": 0}, "validate_every"),
    ({"validation_share": 0.1, "schedule": "cosine", "max_steps": 100, "patience": 100}, "fixed budget"),
    ({"validation_share": 0.1, "kind": "convolutional", "context": 192}, "windowed models"),
])  # fmt: skip
def test_bad_validation_settings_are_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        ResearchSettings(**fields)
