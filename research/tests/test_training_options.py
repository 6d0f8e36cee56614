"""Training options of rejected variants (research.training) on ens2export's trainer."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ens2export.dataset import load_windows  # noqa: E402
from ens2export.train import TrainSettings, save_run  # noqa: E402
from research.training import ResearchSettings, train  # noqa: E402
from research.training.settings import CORR_WEIGHT, training_loss  # noqa: E402


@pytest.mark.slow
@pytest.mark.parametrize("added", [{"synthetic": 0.5}, {"slower_frames": 0.5}], ids=["synthetic", "slower-frames"])
def test_training_with_added_trials_is_reproducible_and_uses_them(ground_truth, added):
    source = load_windows(ground_truth, include=["DS05"])
    settings = ResearchSettings(max_steps=3, batch_size=64, seed=2, **added)
    first, again = (train(source, settings, device="cpu") for _ in range(2))
    np.testing.assert_array_equal(first.losses, again.losses)
    plain = train(source, ResearchSettings(max_steps=3, batch_size=64, seed=2), device="cpu")
    assert not np.array_equal(first.losses, plain.losses)  # the added trials are in the batches


def test_windowed_training_takes_stretched_windows(ground_truth):
    source = load_windows(ground_truth, include=["DS05"])
    stretched = [train(source, ResearchSettings(max_steps=3, batch_size=64, seed=2, stretch=1.5), device="cpu") for _ in range(2)]
    np.testing.assert_array_equal(stretched[0].losses, stretched[1].losses)
    plain = train(source, ResearchSettings(max_steps=3, batch_size=64, seed=2), device="cpu")
    assert not np.array_equal(stretched[0].losses, plain.losses)


def test_without_research_options_the_product_trainer_trains_the_same(ground_truth):
    source = load_windows(ground_truth, include=["DS05"])
    from ens2export.train import train as product_train

    research = train(source, ResearchSettings(max_steps=3, batch_size=64, seed=2), device="cpu")
    product = product_train(source, TrainSettings(max_steps=3, batch_size=64, seed=2), device="cpu")
    np.testing.assert_array_equal(research.losses, product.losses)


def test_training_losses_score_a_batch_of_windows_as_documented():
    target = torch.zeros(3, 96)
    target[0, 40:44] = torch.tensor([0.1, 0.4, 0.4, 0.1])
    target[1, 10:12] = 0.3
    # window 2 is silent: its target does not vary, so it has no correlation to score
    output = 2.0 * target
    output[2] = 0.05
    difference = output - target
    assert float(training_loss(output, target, "mse")) == pytest.approx(float((difference**2).mean()))
    assert float(ResearchSettings().batch_loss(output, target)) == pytest.approx(float(TrainSettings().batch_loss(output, target)))
    norms = torch.sqrt((difference**2).sum(dim=1))
    assert float(training_loss(output, target, "eucd")) == pytest.approx(float(norms.mean()), rel=1e-6)
    # Output proportional to the target where it varies: r = 1, so only the MSE remains
    assert float(training_loss(output, target, "mse+corr")) == pytest.approx(float((difference**2).mean()))
    flipped = output.clone()
    flipped[0] = -output[0]  # r = -1 on window 0: the term adds CORR_WEIGHT * (2 + 0) / 2 windows
    expected = float(((flipped - target) ** 2).mean()) + CORR_WEIGHT * 1.0
    assert float(training_loss(flipped, target, "mse+corr")) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="loss must be one of"):
        ResearchSettings(loss="l1")
    with pytest.raises(ValueError, match="loss must be one of"):
        training_loss(output, target, "l1")


def test_a_run_with_another_loss_records_it_and_only_research_reads_it_back(ground_truth, tmp_path):
    source = load_windows(ground_truth, include=["DS05"])
    settings = ResearchSettings(max_steps=3, batch_size=32, loss="eucd")
    save_run(tmp_path, source, settings, train(source, settings, device="cpu"), "test")
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["settings"]["loss"] == "eucd" and run["steps"] == 3
    assert "training loss (eucd) per step" in (tmp_path / "losses.csv").read_text().splitlines()[0]
    assert ResearchSettings.from_dict(run["settings"]) == settings
    with pytest.raises(ValueError, match="research.training.ResearchSettings"):
        TrainSettings.from_dict(run["settings"])  # read without its loss it would be another recipe
    plain = ResearchSettings(max_steps=3).as_dict()
    assert TrainSettings.from_dict(plain) == TrainSettings(max_steps=3)  # a product recipe trained here reads back anywhere


def test_cosine_schedule_decays_to_zero_over_the_step_budget():
    settings = ResearchSettings(max_steps=100, patience=100, schedule="cosine")
    factors = [settings.learning_rate_factor(done) for done in range(100)]
    assert factors[0] == 1.0 and factors[50] == pytest.approx(0.5) and 0 < factors[-1] < 1e-3
    assert np.all(np.diff(factors) < 0)
    assert TrainSettings().learning_rate_factor(4000) == 1.0  # the published recipe keeps its rate


def test_cosine_schedule_is_a_fixed_budget_and_the_optimizer_follows_it(ground_truth):
    with pytest.raises(ValueError, match="patience 500 would stop it early"):
        ResearchSettings(max_steps=2000, patience=500, schedule="cosine")
    with pytest.raises(ValueError, match="schedule must be one of"):
        ResearchSettings(schedule="linear")
    with pytest.raises(ValueError, match="drift is a non-negative augmentation of convolutional training"):
        ResearchSettings(drift=5.0)  # the windowed network normalises every window: an offset is invisible to it
    source = load_windows(ground_truth, include=["DS05"])
    seen = []
    original = torch.optim.Adam.step

    def spy(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    settings = ResearchSettings(max_steps=4, patience=4, batch_size=64, schedule="cosine", learning_rate=2e-3)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch.optim.Adam, "step", spy)
        train(source, settings, device="cpu")
    np.testing.assert_allclose(seen, [2e-3 * settings.learning_rate_factor(done) for done in range(4)])
