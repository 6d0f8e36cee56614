import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ens2export.dataset import WindowSource, concatenate, load_windows, windows_from_neurons  # noqa: E402
from ens2export.groundtruth import Neuron, Trial  # noqa: E402


def _neuron(spike_times, seconds=10.0, rate=30.0):
    n = int(seconds * rate)
    dff = np.sin(np.arange(n) / 7.0)
    return Neuron(dataset="DSX", path=None, trials=(Trial(dff=dff, frame_rate=rate, spike_times=np.asarray(spike_times)),))


def test_one_spike_becomes_a_unit_bump_on_the_right_window_sample():
    source = windows_from_neurons([_neuron([2.0])])  # 2 s = 60 Hz sample 120
    assert source.n_windows == 600
    window = source.starts[130]  # window k covers trial samples k - 48 … k + 47
    target = source.targets[window : window + 96]
    assert target.sum() == pytest.approx(1.0, abs=1e-6)
    assert np.argmax(target) == 120 - 130 + 48


def test_windows_are_the_padded_trace_that_inference_sees():
    source = windows_from_neurons([_neuron([1.0, 5.0])])
    from ens2rt.engine.resample import resample_to_60hz

    x = resample_to_60hz(np.sin(np.arange(300) / 7.0), 30.0, "fourier").astype(np.float32)
    first = source.inputs[source.starts[0] : source.starts[0] + 96]
    np.testing.assert_array_equal(first[:48], 0)
    np.testing.assert_array_equal(first[48:], x[:48])


def test_trials_do_not_bleed_into_each_other():
    source = concatenate([windows_from_neurons([_neuron([9.99])]), windows_from_neurons([_neuron([0.01])])])
    boundary = source.trial_lengths[0] + 96
    assert source.targets[: boundary].sum() == pytest.approx(1.0, abs=1e-5)
    assert source.n_neurons == 2


def test_save_and_load_round_trip(tmp_path):
    source = windows_from_neurons([_neuron([1.0, 2.0, 2.01])])
    source.save(tmp_path / "w.npz")
    again = WindowSource.load(tmp_path / "w.npz")
    np.testing.assert_array_equal(again.targets, source.targets)
    np.testing.assert_array_equal(again.starts, source.starts)


def test_real_datasets_prepare_quickly_and_lazily(ground_truth):
    source = load_windows(ground_truth, include=["DS09", "DS31"])
    assert source.datasets == ("DS09", "DS31")
    assert source.hours > 5
    # windows are offsets into one array, not a materialised (n_windows, 96) matrix
    assert source.inputs.size < 1.1 * (source.n_windows + 96 * len(source.trial_lengths))
    x, y = source.batch(np.random.default_rng(0), 1024)
    assert x.shape == y.shape == (1024, 96)


def test_a_teacher_makes_up_its_share_of_the_targets_on_each_trial_own_samples():
    import ens2rt
    from ens2export.train import TrainSettings

    source = concatenate([windows_from_neurons([_neuron([2.0, 6.0])]), windows_from_neurons([_neuron([3.0], seconds=7.0)])])
    model = ens2rt.Model.load("ens2-exc-native", device="cpu")
    taught = source.with_teacher(model, 0.25)
    for start, length, trial in zip(source.trial_offsets, source.trial_lengths, (0, 1)):
        dff = np.sin(np.arange(length // 2) / 7.0)
        from ens2rt.engine.resample import resample_to_60hz

        expected = ens2rt.infer(resample_to_60hz(dff, 30.0, "fourier"), 60.0, model=model, spikes=False, input_checks=False).rate[0]
        np.testing.assert_allclose(taught.teacher_rates[start : start + length], expected, atol=1e-6)
        mixed = 0.75 * source.targets[start : start + length] + 0.25 * expected
        np.testing.assert_allclose(taught.targets[start : start + length], mixed, atol=1e-6)
    assert taught.teacher_rates[: source.trial_offsets[0]].sum() == 0  # padding between trials keeps the truth alone
    for weight in (0.0, 1.5):
        with pytest.raises(ValueError, match="teacher_weight"):
            source.with_teacher(model, weight)
        with pytest.raises(ValueError, match="teacher_weight"):
            TrainSettings(teacher="ens2-exc-native", teacher_weight=weight)


def test_a_teacher_gives_zero_on_a_trials_padding(recwarn):
    """Inference takes a run of one value for padding and gives NaN there; the teacher's target is 0 (no spike)."""
    import ens2rt

    neuron = _neuron([5.0])
    dff = neuron.trials[0].dff.copy()
    dff[:60] = 0.0  # two seconds of zero padding before the recording starts, as one DS20 trial has
    padded = Neuron(dataset="DSX", path=None, trials=(Trial(dff=dff, frame_rate=30.0, spike_times=np.asarray([5.0])),))
    source = windows_from_neurons([padded], resampler="linear")  # linear resampling keeps the run exact at 60 Hz
    taught = source.with_teacher(ens2rt.Model.load("ens2-exc-native", device="cpu"), 1.0)
    start = source.trial_offsets[0]
    assert np.isfinite(taught.targets).all() and np.isfinite(taught.teacher_rates).all()
    assert (taught.teacher_rates[start : start + 100] == 0).all() and taught.teacher_rates[start + 130 :].sum() > 0


def test_an_ensemble_teacher_gives_its_members_mean_rate():
    import ens2rt
    from ens2export.train import TrainSettings

    source = windows_from_neurons([_neuron([2.0, 6.0])])
    members = [ens2rt.Model.load(name, device="cpu") for name in ("ens2-exc-native", "ens2-exc-nu4")]
    alone = [source.with_teacher(member, 1.0).teacher_rates for member in members]
    assert np.abs(alone[0] - alone[1]).max() > 1e-3  # two different teachers
    np.testing.assert_allclose(source.with_teacher(members, 1.0).teacher_rates, (alone[0] + alone[1]) / 2, atol=1e-6)
    assert TrainSettings(teacher=("a.onnx", "b.onnx")).teachers == ("a.onnx", "b.onnx")
    assert TrainSettings(teacher="a.onnx").teachers == ("a.onnx",) and TrainSettings().teachers == ()
    assert TrainSettings.from_dict(TrainSettings(teacher=("a.onnx", "b.onnx")).as_dict() | {"teacher": ["a.onnx", "b.onnx"]}).teachers == ("a.onnx", "b.onnx")


def test_a_stretch_of_one_gives_the_plain_context_windows():
    source = concatenate([windows_from_neurons([_neuron([2.0, 2.1, 6.0])]), windows_from_neurons([_neuron([0.5, 3.0], seconds=7.0)])])
    chosen = np.arange(0, source.n_windows, 7)
    inputs, inside, targets = source.stretched(chosen, np.ones(chosen.size), 192)
    _, plain_inside = source._trial_and_inside(chosen, 192)
    plain = np.where(plain_inside, source.inputs[np.clip(source.starts[chosen][:, None] - 48 + np.arange(192), 0, source.inputs.size - 1)], 0)
    np.testing.assert_array_equal(inside, plain_inside)
    np.testing.assert_allclose(inputs, plain, atol=1e-6)
    np.testing.assert_allclose(targets, source.targets[source.starts[chosen][:, None] + np.arange(96)], atol=1e-4)


@pytest.mark.parametrize("factor", [0.7, 1.0, 1.45])
def test_a_stretched_window_moves_each_spike_and_keeps_its_count(factor):
    source = windows_from_neurons([_neuron([2.0])])  # 60 Hz sample 120
    window = 110  # centred 10 samples before the spike
    inputs, inside, targets = source.stretched(np.array([window]), np.array([factor]), 192)
    assert targets.sum() == pytest.approx(1.0, abs=1e-4)  # the Gaussian keeps its width, the spike its count
    assert np.argmax(targets[0]) == 48 + round(10 * factor)
    trace = source.inputs[source.trial_offsets[0] :][:600]
    expected = np.interp(window + (np.arange(192) - 96) / factor, np.arange(600), trace)
    np.testing.assert_allclose(inputs[0][inside[0]], expected[inside[0]], atol=1e-6)
    assert inside[0].sum() == np.sum((window + (np.arange(192) - 96) / factor >= 0))


@pytest.mark.parametrize("name", ["stretch", "gain"])
def test_stretch_and_gain_are_augmentations_of_at_least_one(name):
    from ens2export.train import TrainSettings

    assert getattr(TrainSettings(kind="convolutional", context=192, **{name: 1.5}), name) == 1.5
    for fields in ({"kind": "convolutional", "context": 192, name: 0.8}, {name: float("nan")}):
        with pytest.raises(ValueError, match=name):
            TrainSettings(**fields)


def test_gain_is_for_convolutional_training_and_stretch_for_both_kinds():
    from ens2export.train import TrainSettings

    assert TrainSettings(stretch=1.5).stretch == 1.5
    with pytest.raises(ValueError, match="gain is a factor >= 1 for convolutional training"):
        TrainSettings(gain=1.2)


def test_windowed_batches_stretch_like_context_windows():
    source = concatenate([windows_from_neurons([_neuron([2.0, 2.1, 6.0])]), windows_from_neurons([_neuron([0.5, 3.0], seconds=7.0)])])
    plain = source.batch(np.random.default_rng(5), 64)
    np.testing.assert_array_equal(source.batch(np.random.default_rng(5), 64, stretch=1.0)[0], plain[0])
    inputs, targets = source.batch(np.random.default_rng(5), 64, stretch=1.4)
    rng = np.random.default_rng(5)
    chosen = rng.integers(0, source.n_windows, 64)
    factors = np.exp(rng.uniform(-np.log(1.4), np.log(1.4), 64))
    assert factors.min() < 0.9 and factors.max() > 1.1  # the draw both slows and speeds windows
    expected_inputs, _, expected_targets = source.stretched(chosen, factors, 96)
    np.testing.assert_array_equal(inputs, expected_inputs)
    np.testing.assert_array_equal(targets, expected_targets)
    assert inputs.shape == targets.shape == (64, 96)


def test_gain_scales_each_input_within_its_bounds_and_leaves_the_targets():
    source = windows_from_neurons([_neuron([2.0, 6.0], seconds=20.0)])
    plain_x, plain_y = source.context_batch(np.random.default_rng(3), 64, 192, scaled=True)
    x, y = source.context_batch(np.random.default_rng(3), 64, 192, scaled=True, gain=2.0)
    np.testing.assert_array_equal(y, plain_y)
    ratio = np.abs(x).sum(axis=1) / np.abs(plain_x).sum(axis=1)  # every window has samples inside the trial
    assert np.all((ratio >= 0.5 - 1e-6) & (ratio <= 2.0 + 1e-6)) and ratio.std() > 0.1
    np.testing.assert_allclose(x, plain_x * ratio[:, None], rtol=1e-5, atol=1e-6)


def test_noise_on_stretched_windowed_batches_stays_inside_the_trial():
    source = windows_from_neurons([_neuron([0.5, 3.0], seconds=4.0)])
    inputs, _ = source.batch(np.random.default_rng(8), 256, noise_level=6.0, stretch=1.5)
    rng = np.random.default_rng(8)
    chosen = rng.integers(0, source.n_windows, 256)
    clean, inside, _ = source.stretched(chosen, np.exp(rng.uniform(-np.log(1.5), np.log(1.5), 256)), 96)
    assert (~inside).any() and inside.any()  # some windows reach past the trial's ends
    assert np.all(inputs[~inside] == 0)
    assert np.abs(inputs - clean)[inside].min() > 0  # fresh noise on every sample inside
