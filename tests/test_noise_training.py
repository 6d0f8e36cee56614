"""Training at a target noise level (ens2export.noise and its use in training and export)."""

import json

import numpy as np
import pytest

pytest.importorskip("torch")

from typer.testing import CliRunner  # noqa: E402

import ens2rt  # noqa: E402
from ens2export.cli import app  # noqa: E402
from ens2export.dataset import load_windows, windows_from_neurons  # noqa: E402
from ens2export.noise import added_noise_std, native_white_noise_at_60hz  # noqa: E402
from ens2export.groundtruth import Neuron, Trial, find_datasets, load_dataset  # noqa: E402
from ens2rt.engine.resample import resample_to_60hz  # noqa: E402
from ens2rt.engine.traces import noise_level  # noqa: E402


@pytest.mark.parametrize("dataset", ["DS04", "DS09", "DS31"])  # 7.8, 60 and 120 Hz
def test_added_noise_lifts_real_traces_to_the_target(ground_truth, dataset):
    rng = np.random.default_rng(0)
    for neuron in load_dataset(find_datasets(ground_truth, include=[dataset])[dataset])[:3]:
        trial = neuron.trials[0]
        native = noise_level(trial.dff, trial.frame_rate)
        for target in (2.0, 6.0):
            noisy = trial.dff + added_noise_std(native, target, trial.frame_rate) * rng.standard_normal(trial.dff.size)
            assert noise_level(noisy, trial.frame_rate) == pytest.approx(target, rel=0.08)
        assert added_noise_std(native, native * 0.9, trial.frame_rate) == 0.0  # already noisier: unchanged


@pytest.mark.parametrize("frame_rate", [7.8125, 30.0, 158.3])
def test_noise_on_the_60hz_grid_is_resampled_native_white_noise(frame_rate):
    rng = np.random.default_rng(1)
    resampled = resample_to_60hz(rng.standard_normal(400_000), frame_rate, "fourier")
    drawn = native_white_noise_at_60hz(rng, np.full(20_000, frame_rate), 96)
    assert drawn.var() == pytest.approx(resampled.var(), rel=0.03)
    for lag in (1, 2, 3):
        expected = np.mean(resampled[:-lag] * resampled[lag:])
        assert np.mean(drawn[:, :-lag] * drawn[:, lag:]) == pytest.approx(expected, abs=0.02)


def _trial(level_std, rate=30.0, seconds=20.0, seed=0):
    dff = np.random.default_rng(seed).normal(0, level_std, int(seconds * rate))
    return Trial(dff=dff, frame_rate=rate, spike_times=np.array([1.0, 5.0]))


def test_batches_get_fresh_noise_inside_trials_only():
    quiet, loud = _trial(0.001), _trial(0.5, seed=1)  # ν ≈ 0.02 and ≈ 9
    source = windows_from_neurons([Neuron("DSX", None, (quiet, loud))])
    assert source.noise_levels[1] > 6 > source.noise_levels[0]
    assert source.fraction_already_noisier(6.0) == pytest.approx(0.5)
    chosen = np.arange(source.n_windows)
    noise = source.noise(np.random.default_rng(0), chosen, 6.0)
    first = source.trial_lengths[0]
    assert np.all(noise[first:] == 0)  # the loud trial is used unchanged
    # window w covers trial samples w - 48 … w + 47: the padding around the trial stays clean
    assert np.all(noise[0, :48] == 0) and np.all(noise[first - 1, 49:] == 0) and noise[first - 1, 48] != 0
    assert np.all(noise[100] != 0)
    x1, y1 = source.batch(np.random.default_rng(5), 64, 6.0)
    x2, y2 = source.batch(np.random.default_rng(5), 64, 6.0)
    clean, _ = source.batch(np.random.default_rng(5), 64)
    np.testing.assert_array_equal(x1, x2)  # seeded
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(x1, clean)


def test_train_cli_at_a_noise_level_and_export_into_a_family(ground_truth, tmp_path):
    runner = CliRunner()
    run = tmp_path / "run"
    trained = runner.invoke(
        app,
        ["train", "-g", str(ground_truth), "-d", "DS05", "-o", str(run), "--max-steps", "5", "--batch-size", "64",
         "--device", "cpu", "--noise-level", "4"],
    )  # fmt: skip
    assert trained.exit_code == 0, trained.output
    info = json.loads((run / "run.json").read_text())
    assert info["settings"]["noise_level"] == 4.0 and info["noise_level"] == 4.0
    assert info["noise"]["fraction_used_unchanged"] == 0.0 and "--noise-level 4.0" in info["command"]
    out = tmp_path / "tiny-nu4.onnx"
    exported = runner.invoke(app, ["onnx", str(run), "-o", str(out), "--family", "tiny"])
    assert exported.exit_code == 0, exported.output
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["noise_level"] == 4.0 and "noise level 4" in card["description"] and "family" not in card

    def members(family):
        path = tmp_path / "families" / f"{family}.json"
        return json.loads(path.read_text())["members"] if path.is_file() else None

    assert members("tiny") == ["tiny-nu4"]  # the family's manifest, beside the models
    family = ens2rt.ModelFamily.from_models("tiny", [ens2rt.Model.load(out, device="cpu")])
    assert family.member_for(0.5, 30.0).name == "tiny-nu4"
    both = tmp_path / "both-nu4.onnx"
    exported = runner.invoke(app, ["onnx", str(run), "-o", str(both), "--family", "tiny-mixed"])
    assert exported.exit_code == 0, exported.output
    assert members("tiny-mixed") == ["both-nu4"]
    clash = runner.invoke(app, ["onnx", str(run), "-o", str(tmp_path / "third-nu4.onnx"), "--family", "tiny"])
    assert clash.exit_code == 2 and "share a noise level" in clash.output  # one member per level
    joined = runner.invoke(app, ["join-family", "tiny-fast", str(out), str(both)])
    assert joined.exit_code == 2 and "share a noise level" in joined.output and members("tiny-fast") is None
    joined = runner.invoke(app, ["join-family", "tiny-fast", str(out)])
    assert joined.exit_code == 0, joined.output
    assert members("tiny-fast") == ["tiny-nu4"]
    again = runner.invoke(app, ["join-family", "tiny-fast", str(out)])
    assert again.exit_code == 0 and members("tiny-fast") == ["tiny-nu4"]
    clash = runner.invoke(app, ["join-family", "tiny-fast", str(both)])  # tiny-fast already has a member at ν 4
    assert clash.exit_code == 2 and "share a noise level" in clash.output
    stranger = runner.invoke(app, ["leave-family", "tiny-fast", str(out), str(both)])  # both is not in it: nothing written
    assert stranger.exit_code == 2 and "is not in family tiny-fast" in stranger.output and members("tiny-fast") == ["tiny-nu4"]
    left = runner.invoke(app, ["leave-family", "tiny", str(out)])
    assert left.exit_code == 0, left.output
    assert members("tiny") is None and members("tiny-fast") == ["tiny-nu4"]  # its last member gone, the manifest too
    rejected = runner.invoke(app, ["train", "-g", str(ground_truth), "-d", "DS05", "-o", str(tmp_path / "r2"), "--noise-level", "-1"])
    assert rejected.exit_code != 0 and "positive" in rejected.output


def test_recipe_runs_record_the_typical_noise_of_their_data(ground_truth):
    source = load_windows(ground_truth, include=["DS09"])
    assert np.min(source.noise_levels) <= source.typical_noise_level() <= np.max(source.noise_levels)


def test_a_noise_band_lifts_each_window_to_its_own_level(ground_truth):
    source = load_windows(ground_truth, include=["DS05"])
    chosen = np.random.default_rng(1).integers(0, source.n_windows, 600)
    targets = np.where(np.arange(600) % 2 == 0, 0.0, 40.0)  # even windows: below every native ν; odd: far above
    noise = source.noise(np.random.default_rng(2), chosen, targets)
    assert (noise[0::2] == 0).all() and (noise[1::2] != 0).any()
    trial = np.searchsorted(source.first_windows, chosen, side="right") - 1
    expected = added_noise_std(source.noise_levels[trial], targets, source.frame_rates[trial])
    assert np.all(expected[0::2] == 0) and np.all(expected[1::2] > 0)


def test_noise_band_settings_and_a_short_run(ground_truth):
    from ens2export.train import TrainSettings, train

    for bad in [dict(noise_band=(4.0, 2.0)), dict(noise_band=(0.0, 8.0), noise_level=4.0)]:
        with pytest.raises(ValueError, match="noise_band must be"):
            TrainSettings(**bad)
    source = load_windows(ground_truth, include=["DS05"])
    settings = TrainSettings(max_steps=2, batch_size=32, kind="convolutional", context=192, input_scaling="noise_std", noise_band=(0.0, 8.0))
    plain = TrainSettings(max_steps=2, batch_size=32, kind="convolutional", context=192, input_scaling="noise_std")
    banded, native = train(source, settings, device="cpu"), train(source, plain, device="cpu")
    assert banded.steps == 2 and not np.array_equal(banded.losses, native.losses)
