"""A short training run on real ground truth, exported to ONNX and run by onnxruntime."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnxruntime = pytest.importorskip("onnxruntime")

from typer.testing import CliRunner  # noqa: E402

import ens2rt  # noqa: E402
from ens2export.cli import app  # noqa: E402
from ens2export.dataset import load_windows  # noqa: E402
from ens2export.network import from_weights  # noqa: E402
from ens2export.train import CORR_WEIGHT, TrainSettings, learning_rate_factor, train, training_loss  # noqa: E402

runner = CliRunner()


def test_training_is_reproducible_for_a_seed(ground_truth):
    source = load_windows(ground_truth, include=["DS05"])
    settings = TrainSettings(max_steps=6, batch_size=128, seed=3)
    first, again = (train(source, settings, device="cpu") for _ in range(2))
    assert first.steps == 6 and not first.stopped_early
    np.testing.assert_array_equal(first.losses, again.losses)
    for name, value in first.weights.items():
        np.testing.assert_array_equal(value, again.weights[name])


@pytest.mark.slow
@pytest.mark.parametrize("added", [{"synthetic": 0.5}, {"slower_frames": 0.5}], ids=["synthetic", "slower-frames"])
def test_training_with_added_trials_is_reproducible_and_uses_them(ground_truth, added):
    source = load_windows(ground_truth, include=["DS05"])
    settings = TrainSettings(max_steps=3, batch_size=64, seed=2, **added)
    first, again = (train(source, settings, device="cpu") for _ in range(2))
    np.testing.assert_array_equal(first.losses, again.losses)
    plain = train(source, TrainSettings(max_steps=3, batch_size=64, seed=2), device="cpu")
    assert not np.array_equal(first.losses, plain.losses)  # the added trials are in the batches


@pytest.mark.research  # a rejected variant (windowed-stretch, research/findings.md): run with -m research
def test_windowed_training_takes_stretched_windows(ground_truth):
    source = load_windows(ground_truth, include=["DS05"])
    stretched = [train(source, TrainSettings(max_steps=3, batch_size=64, seed=2, stretch=1.5), device="cpu") for _ in range(2)]
    np.testing.assert_array_equal(stretched[0].losses, stretched[1].losses)
    plain = train(source, TrainSettings(max_steps=3, batch_size=64, seed=2), device="cpu")
    assert not np.array_equal(stretched[0].losses, plain.losses)


def test_a_few_steps_lower_the_loss(ground_truth):
    source = load_windows(ground_truth, include=["DS05"])
    result = train(source, TrainSettings(max_steps=40, batch_size=256, seed=3), device="cpu")
    assert result.steps == 40 and result.losses[-10:].mean() < 0.8 * result.losses[:5].mean()


def test_patience_stops_training():
    from ens2export.dataset import WindowSource

    flat = WindowSource(
        inputs=np.zeros(2000, np.float32),
        spike_counts=np.zeros(2000, np.uint8),
        trial_lengths=np.array([1904]),
        frame_rates=np.array([30.0]),
        noise_levels=np.array([1.0]),
        datasets=("DSX",),
        n_neurons=1,
    )
    result = train(flat, TrainSettings(max_steps=500, patience=5, batch_size=8), device="cpu")
    assert result.stopped_early and result.steps < 500


def test_training_losses_score_a_batch_of_windows_as_documented():
    target = torch.zeros(3, 96)
    target[0, 40:44] = torch.tensor([0.1, 0.4, 0.4, 0.1])
    target[1, 10:12] = 0.3
    # window 2 is silent: its target does not vary, so it has no correlation to score
    output = 2.0 * target
    output[2] = 0.05
    difference = output - target
    assert float(training_loss(output, target, "mse")) == pytest.approx(float((difference**2).mean()))
    norms = torch.sqrt((difference**2).sum(dim=1))
    assert float(training_loss(output, target, "eucd")) == pytest.approx(float(norms.mean()), rel=1e-6)
    # Output proportional to the target where it varies: r = 1, so only the MSE remains
    assert float(training_loss(output, target, "mse+corr")) == pytest.approx(float((difference**2).mean()))
    flipped = output.clone()
    flipped[0] = -output[0]  # r = -1 on window 0: the term adds CORR_WEIGHT * (2 + 0) / 2 windows
    expected = float(((flipped - target) ** 2).mean()) + CORR_WEIGHT * 1.0
    assert float(training_loss(flipped, target, "mse+corr")) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="loss must be one of"):
        TrainSettings(loss="l1")
    with pytest.raises(ValueError, match="loss must be one of"):
        training_loss(output, target, "l1")


@pytest.mark.research  # a rejected variant (research/findings.md): run with -m research
def test_a_run_with_another_loss_records_it(ground_truth, tmp_path):
    result = runner.invoke(app, ["train", "-g", str(ground_truth), "-d", "DS05", "-o", str(tmp_path / "run"),
                                 "--max-steps", "3", "--batch-size", "32", "--loss", "eucd"])  # fmt: skip
    assert result.exit_code == 0, result.output
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["settings"]["loss"] == "eucd" and run["steps"] == 3
    assert run["platform"] == {"torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability()}
    assert "training loss (eucd) per step" in (tmp_path / "run" / "losses.csv").read_text().splitlines()[0]


def test_cosine_schedule_decays_to_zero_over_the_step_budget():
    settings = TrainSettings(max_steps=100, patience=100, schedule="cosine")
    factors = [learning_rate_factor(settings, done) for done in range(100)]
    assert factors[0] == 1.0 and factors[50] == pytest.approx(0.5) and 0 < factors[-1] < 1e-3
    assert np.all(np.diff(factors) < 0)
    assert learning_rate_factor(TrainSettings(), 4000) == 1.0  # the published recipe keeps its rate


@pytest.mark.research  # a rejected variant (research/findings.md): run with -m research
def test_cosine_schedule_is_a_fixed_budget_and_the_optimizer_follows_it(ground_truth):
    with pytest.raises(ValueError, match="patience 500 would stop it early"):
        TrainSettings(max_steps=2000, patience=500, schedule="cosine")
    with pytest.raises(ValueError, match="schedule must be one of"):
        TrainSettings(schedule="linear")
    with pytest.raises(ValueError, match="drift is a non-negative augmentation of convolutional training"):
        TrainSettings(drift=5.0)  # the windowed network normalises every window: an offset is invisible to it
    source = load_windows(ground_truth, include=["DS05"])
    seen = []
    original = torch.optim.Adam.step

    def spy(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    settings = TrainSettings(max_steps=4, patience=4, batch_size=64, schedule="cosine", learning_rate=2e-3)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch.optim.Adam, "step", spy)
        train(source, settings, device="cpu")
    np.testing.assert_allclose(seen, [2e-3 * learning_rate_factor(settings, done) for done in range(4)])


def test_train_and_export_cli_make_a_model_the_runtime_loads(ground_truth, tmp_path):
    run = tmp_path / "run"
    trained = runner.invoke(
        app, ["train", "-g", str(ground_truth), "-d", "DS05", "-o", str(run), "--max-steps", "15", "--batch-size", "128", "--device", "cpu"]
    )
    assert trained.exit_code == 0, trained.output
    info = json.loads((run / "run.json").read_text())
    assert info["datasets"] == ["DS05"] and info["steps"] == 15 and info["command"].startswith("ens2export train")
    assert np.loadtxt(run / "losses.csv").size == 15

    out = tmp_path / "models" / "tiny.onnx"
    exported = runner.invoke(app, ["onnx", str(run), "-o", str(out), "--cell-class", "excitatory"])
    assert exported.exit_code == 0, exported.output
    card = json.loads(out.with_suffix(".json").read_text())
    for key in ("name", "cell_class", "training", "contract", "sha256", "citations", "scores"):
        assert key in card
    assert card["training"]["datasets"] == ["DS05"] and card["contract"]["window"] == 96

    # onnxruntime equals torch on real windows
    source = load_windows(ground_truth, include=["DS05"])
    windows, _ = source.batch(np.random.default_rng(0), 512)
    with np.load(run / "weights.npz") as archive:
        model = from_weights({k: archive[k] for k in archive.files}).eval()
    with torch.no_grad():
        expected = model(torch.from_numpy(windows)).numpy()
    loaded = ens2rt.Model.load(out, device="cpu")
    assert np.abs(loaded.run(windows) - expected).max() <= 1e-4
    assert loaded.name == "tiny"


def test_onnx_metadata_carries_the_contract(tmp_path):
    session = onnxruntime.InferenceSession(str(ens2rt.Model.load("ens2-exc-native", device="cpu").path))
    metadata = session.get_modelmeta().custom_metadata_map
    contract = json.loads(metadata["contract"])
    assert contract["sample_rate_hz"] == 60.0 and contract["window"] == 96
    assert contract["input"]["name"] == session.get_inputs()[0].name
    assert session.get_inputs()[0].shape[0] == "batch"


def test_convert_published_cli_writes_the_published_model(published_exc_weights_path, tmp_path, reference):
    out = tmp_path / "published.onnx"
    result = runner.invoke(app, ["convert-published", str(published_exc_weights_path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["published"] is True and card["training"]["command"].startswith("ens2export convert-published")
    model = ens2rt.Model.load(out, device="cpu")
    assert np.abs(model.run(reference["windows_first64"]) - reference["window_outputs_first64"]).max() <= 1e-5


@pytest.mark.slow  # a minute on 2 cores; the targets themselves are checked in test_dataset.py
@pytest.mark.parametrize("teachers", [["ens2-exc-native"], ["ens2-exc-native", "ens2-exc-nu4"]])
def test_a_distilled_run_records_its_teacher_and_a_bad_share_is_refused(ground_truth, tmp_path, teachers):
    common = ["train", "-g", str(ground_truth), "-d", "DS05", "--max-steps", "3", "--batch-size", "64", "--device", "cpu"]
    refused = runner.invoke(app, [*common, "-o", str(tmp_path / "bad"), "--teacher", "ens2-exc-native", "--teacher-weight", "0"])
    assert refused.exit_code == 2 and "teacher_weight" in refused.output and not (tmp_path / "bad").exists()
    run = tmp_path / "run"
    options = [word for name in teachers for word in ("--teacher", name)]
    trained = runner.invoke(app, [*common, "-o", str(run), *options, "--teacher-weight", "0.3"])
    assert trained.exit_code == 0, trained.output
    settings = json.loads((run / "run.json").read_text())["settings"]
    assert settings["teacher"] == (teachers[0] if len(teachers) == 1 else teachers) and settings["teacher_weight"] == 0.3
    exported = runner.invoke(app, ["onnx", str(run), "-o", str(tmp_path / "taught.onnx"), "--cell-class", "excitatory"])
    assert exported.exit_code == 0, exported.output
    names = " + ".join(teachers) + (" (rates averaged)" if len(teachers) > 1 else "")
    assert f"distilled from {names} (0.3 of the targets)" in json.loads((tmp_path / "taught.json").read_text())["description"]
