"""Batch augmentations of rejected variants: time stretch, gain and baseline drift (research.training.augment)."""

import numpy as np
import pytest

pytest.importorskip("torch")

from ens2export.dataset import concatenate, input_scale, load_windows, windows_from_neurons  # noqa: E402
from ens2export.groundtruth import Neuron, Trial  # noqa: E402
from research.training import ResearchSettings  # noqa: E402
from research.training.augment import context_batch, stretched, windowed_batch  # noqa: E402


def _neuron(spike_times, seconds=10.0, rate=30.0):
    n = int(seconds * rate)
    dff = np.sin(np.arange(n) / 7.0)
    return Neuron(dataset="DSX", path=None, trials=(Trial(dff=dff, frame_rate=rate, spike_times=np.asarray(spike_times)),))


def _two_trials():
    return concatenate([windows_from_neurons([_neuron([2.0, 2.1, 6.0])]), windows_from_neurons([_neuron([0.5, 3.0], seconds=7.0)])])


def test_a_stretch_of_one_gives_the_plain_context_windows():
    source = _two_trials()
    chosen = np.arange(0, source.n_windows, 7)
    inputs, inside, targets = stretched(source, chosen, np.ones(chosen.size), 192)
    _, plain, plain_inside, plain_targets = source.context_windows(chosen, 192)
    np.testing.assert_array_equal(inside, plain_inside)
    np.testing.assert_allclose(inputs, plain, atol=1e-6)
    np.testing.assert_allclose(targets, plain_targets, atol=1e-4)


@pytest.mark.parametrize("factor", [0.7, 1.0, 1.45])
def test_a_stretched_window_moves_each_spike_and_keeps_its_count(factor):
    source = windows_from_neurons([_neuron([2.0])])  # 60 Hz sample 120
    window = 110  # centred 10 samples before the spike
    inputs, inside, targets = stretched(source, np.array([window]), np.array([factor]), 192)
    assert targets.sum() == pytest.approx(1.0, abs=1e-4)  # the Gaussian keeps its width, the spike its count
    assert np.argmax(targets[0]) == 48 + round(10 * factor)
    trace = source.inputs[source.trial_offsets[0] :][:600]
    expected = np.interp(window + (np.arange(192) - 96) / factor, np.arange(600), trace)
    np.testing.assert_allclose(inputs[0][inside[0]], expected[inside[0]], atol=1e-6)
    assert inside[0].sum() == np.sum((window + (np.arange(192) - 96) / factor >= 0))


@pytest.mark.parametrize("name", ["stretch", "gain"])
def test_stretch_and_gain_are_augmentations_of_at_least_one(name):
    assert getattr(ResearchSettings(kind="convolutional", context=192, **{name: 1.5}), name) == 1.5
    for fields in ({"kind": "convolutional", "context": 192, name: 0.8}, {name: float("nan")}):
        with pytest.raises(ValueError, match=name):
            ResearchSettings(**fields)


def test_gain_is_for_convolutional_training_and_stretch_for_both_kinds():
    assert ResearchSettings(stretch=1.5).stretch == 1.5
    with pytest.raises(ValueError, match="gain is a factor >= 1 for convolutional training"):
        ResearchSettings(gain=1.2)


def test_windowed_batches_stretch_like_context_windows():
    source = _two_trials()
    inputs, targets = windowed_batch(source, np.random.default_rng(5), 64, None, 1.4)
    rng = np.random.default_rng(5)
    chosen = rng.integers(0, source.n_windows, 64)
    factors = np.exp(rng.uniform(-np.log(1.4), np.log(1.4), 64))
    assert factors.min() < 0.9 and factors.max() > 1.1  # the draw both slows and speeds windows
    expected_inputs, _, expected_targets = stretched(source, chosen, factors, 96)
    np.testing.assert_array_equal(inputs, expected_inputs)
    np.testing.assert_array_equal(targets, expected_targets)
    assert inputs.shape == targets.shape == (64, 96)


def test_without_augmentation_the_batch_is_the_products():
    source = _two_trials()
    plain = source.context_batch(np.random.default_rng(4), 64, 192, 3.0, scaled=True, delay=2)
    same = context_batch(source, np.random.default_rng(4), 64, 192, 3.0, scaled=True, delay=2)
    for a, b in zip(plain, same):
        np.testing.assert_array_equal(a, b)


def test_gain_scales_each_input_within_its_bounds_and_leaves_the_targets():
    source = windows_from_neurons([_neuron([2.0, 6.0], seconds=20.0)])
    plain_x, plain_y = source.context_batch(np.random.default_rng(3), 64, 192, scaled=True)
    x, y = context_batch(source, np.random.default_rng(3), 64, 192, None, scaled=True, delay=0, gain=2.0)
    np.testing.assert_array_equal(y, plain_y)
    ratio = np.abs(x).sum(axis=1) / np.abs(plain_x).sum(axis=1)  # every window has samples inside the trial
    assert np.all((ratio >= 0.5 - 1e-6) & (ratio <= 2.0 + 1e-6)) and ratio.std() > 0.1
    np.testing.assert_allclose(x, plain_x * ratio[:, None], rtol=1e-5, atol=1e-6)


def test_noise_on_stretched_windowed_batches_stays_inside_the_trial():
    source = windows_from_neurons([_neuron([0.5, 3.0], seconds=4.0)])
    inputs, _ = windowed_batch(source, np.random.default_rng(8), 256, 6.0, 1.5)
    rng = np.random.default_rng(8)
    chosen = rng.integers(0, source.n_windows, 256)
    clean, inside, _ = stretched(source, chosen, np.exp(rng.uniform(-np.log(1.5), np.log(1.5), 256)), 96)
    assert (~inside).any() and inside.any()  # some windows reach past the trial's ends
    assert np.all(inputs[~inside] == 0)
    assert np.abs(inputs - clean)[inside].min() > 0  # fresh noise on every sample inside


def test_drift_augmentation_adds_an_offset_and_ramp_inside_the_trial_only(ground_truth):
    source = load_windows(ground_truth, include=["DS05"])
    plain, targets = source.context_batch(np.random.default_rng(0), 2000, 192)
    drifted, same_targets = context_batch(source, np.random.default_rng(0), 2000, 192, None, scaled=False, delay=0, drift=5.0)
    np.testing.assert_array_equal(targets, same_targets)
    trial, inside = source.trial_and_inside(np.random.default_rng(0).integers(0, source.n_windows, 2000), 192)
    added = (drifted - plain) / input_scale(source.noise_levels[trial], source.frame_rates[trial])[:, None]
    assert (added[~inside] == 0).all()
    full = inside.all(axis=1)
    steps = np.diff(added[full], axis=1)  # a straight line: equal steps along each window
    np.testing.assert_allclose(steps, steps[:, :1].repeat(191, axis=1), atol=1e-3)
    offsets, ramps = added[full].mean(axis=1), steps[:, 0] * 191
    assert 4 < offsets.std() < 6 and 4 < ramps.std() < 6
