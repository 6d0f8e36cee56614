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


def test_trial_heads_keep_each_trials_start_padded_as_before():
    source = concatenate([windows_from_neurons([_neuron([2.0, 8.0])]), windows_from_neurons([_neuron([1.0], seconds=4.0)])])
    heads = source.trial_heads(0.5)
    assert list(heads.trial_lengths) == [300, 120] and heads.n_neurons == 2
    for start, head_start, length in zip(source.trial_offsets, heads.trial_offsets, heads.trial_lengths):
        np.testing.assert_array_equal(heads.inputs[head_start : head_start + length], source.inputs[start : start + length])
    assert heads.inputs.size == heads.trial_lengths.sum() + 96 * 2
    assert heads.targets.sum() == pytest.approx(2.0, abs=1e-4)  # the spikes at 2 s and 1 s stay; 8 s is cut
    with pytest.raises(ValueError, match="in \\(0, 1\\]"):
        source.trial_heads(0.0)


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
