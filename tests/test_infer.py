import hashlib
import json
import shutil

import numpy as np
import pytest

import ens2rt
from ens2rt.engine import offline as pipeline
from ens2rt.errors import ModelError
from ens2export.groundtruth import find_datasets, load_dataset
from ens2rt.scoring import true_rate_at_60hz, correlation
from ens2rt.catalog.model import resolve_model_path
from ens2rt.engine.traces import noise_level


@pytest.fixture(scope="module")
def model():
    return ens2rt.Model.load("ens2-exc-native", device="cpu")


@pytest.fixture(scope="module")
def ds09(ground_truth):
    return load_dataset(find_datasets(ground_truth, include=["DS09"])["DS09"])


def test_rates_track_real_spikes(ds09, model):
    scores = []
    for neuron in ds09[:6]:
        trial = neuron.trials[0]
        res = ens2rt.infer(trial.dff, trial.frame_rate, model=model)
        scores.append(correlation(res.rate[0], true_rate_at_60hz(trial.spike_times, res.time.size)))
        assert 0.4 * trial.spike_times.size < len(res.spike_times[0]) < 2.5 * trial.spike_times.size
    assert np.median(scores) > 0.6


def test_result_shapes_and_time_base(model):
    rng = np.random.default_rng(0)
    dff = rng.normal(0, 0.05, (3, 900))  # 30 s at 30 Hz
    res = ens2rt.infer(dff, 30.0, model=model)
    assert res.rate.shape == res.spike_counts.shape == (3, 1800)
    assert res.rate.dtype == np.float32
    np.testing.assert_allclose(res.time[:3], [0, 1 / 60, 2 / 60])
    assert len(res.spike_times) == 3
    for row, times in zip(res.spike_counts, res.spike_times):
        assert times.size == row.sum()
    assert res.model == "ens2-exc-native" and res.model_sha256 == {"ens2-exc-native": model.sha256}
    assert res.neuron_model.tolist() == ["ens2-exc-native"] * 3
    assert res.noise_level.shape == (3,)


def test_single_trace_is_one_neuron(model):
    dff = np.random.default_rng(1).normal(0, 0.05, 600)
    res = ens2rt.infer(dff, 20.0, model=model)
    assert res.rate.shape == (1, 1800)


def test_batching_and_blocks_do_not_change_numbers(model, monkeypatch):
    dff = np.random.default_rng(2).normal(0, 0.1, (5, 1000))
    reference = ens2rt.infer(dff, 30.0, model=model, spikes=False).rate
    small_batches = ens2rt.infer(dff, 30.0, model=model, spikes=False, batch_size=37).rate
    monkeypatch.setattr(pipeline, "BLOCK_SAMPLES", 2500)  # one neuron per block
    one_by_one = ens2rt.infer(dff, 30.0, model=model, spikes=False).rate
    np.testing.assert_allclose(small_batches, reference, atol=1e-6)
    np.testing.assert_allclose(one_by_one, reference, atol=1e-6)


def test_loading_by_name_or_object_is_the_same(model):
    dff = np.random.default_rng(3).normal(0, 0.1, (2, 500))
    by_name = ens2rt.infer(dff, 30.0, model="ens2-exc-native", device="cpu")
    by_object = ens2rt.infer(dff, 30.0, model=model)
    np.testing.assert_array_equal(by_name.rate, by_object.rate)


def test_progress_reports_every_window(model):
    calls = []
    ens2rt.infer(np.zeros((2, 600)), 30.0, model=model, hop=4, batch_size=100, progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (600, 600)  # 2 neurons × 1200 samples / hop 4
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_nan_gaps_are_bridged_and_masked(ds09, model):
    trial = ds09[0].trials[0]
    dff = trial.dff.copy()
    gap = slice(3000, 3120)  # two seconds at 60 Hz
    dff[gap] = np.nan
    res = ens2rt.infer(dff, trial.frame_rate, model=model)
    gap_bins = np.isnan(res.rate[0])
    assert 110 <= gap_bins.sum() <= 130
    assert np.isnan(res.spike_counts[0][gap_bins]).all()
    assert np.isfinite(res.rate[0][~gap_bins]).all()
    clean = ens2rt.infer(trial.dff, trial.frame_rate, model=model)
    far = np.ones(res.time.size, bool)
    far[2800:3350] = False  # further than a window from the gap, nothing changes
    np.testing.assert_allclose(res.rate[0][far], clean.rate[0][far], atol=0.02)


def test_noise_level_follows_the_cascade_definition():
    sigma, rate = 0.02, 30.0
    dff = np.random.default_rng(4).normal(0, sigma, (2, 200_000))
    expected = 0.6745 * sigma * np.sqrt(2) * 100 / np.sqrt(rate)
    np.testing.assert_allclose(noise_level(dff, rate), expected, rtol=0.02)


@pytest.mark.parametrize(
    "dff,frame_rate,kwargs,message",
    [
        (np.zeros((2, 40)), 30.0, {}, "too short"),
        (np.zeros((2, 600)), float("nan"), {}, "frame rate"),
        (np.zeros((2, 600)), 0.0, {}, "frame rate"),
        (np.zeros((2, 3, 600)), 30.0, {}, "shape"),
        (np.zeros((0, 600)), 30.0, {}, "empty"),
        (np.array([["a", "b"]]), 30.0, {}, "numeric"),
        (np.vstack([np.zeros(600), np.full(600, np.nan)]), 30.0, {"empty_neurons": "error"}, "neuron 1"),
        (np.zeros((2, 600)), 30.0, {"hop": 0}, "hop"),
        (np.zeros((2, 600)), 30.0, {"hop": 49}, "hop"),
        (np.zeros((2, 600)), 30.0, {"model": "no-such-model"}, "unknown model"),
        (np.zeros((2, 600)), 30.0, {"device": "tpu"}, "device"),
    ],
)
def test_bad_input_raises_one_clear_error(dff, frame_rate, kwargs, message):
    with pytest.raises(ens2rt.Ens2Error, match=message):
        ens2rt.infer(dff, frame_rate, **kwargs)


def test_cuda_without_a_gpu_says_so():
    if "CUDAExecutionProvider" in ens2rt.available_providers():
        pytest.skip("this onnxruntime has CUDA")
    with pytest.raises(ModelError, match="onnxruntime-gpu"):
        ens2rt.Model.load("ens2-exc-native", device="cuda")


def test_corrupt_or_unverifiable_model_files_are_refused(tmp_path):
    source = resolve_model_path("ens2-exc-native")
    onnx_copy = tmp_path / "m.onnx"
    shutil.copy(source, onnx_copy)
    with pytest.raises(ModelError, match="no card"):
        ens2rt.Model.load(onnx_copy)
    shutil.copy(source.with_suffix(".json"), tmp_path / "m.json")
    assert ens2rt.Model.load(onnx_copy, device="cpu").name == "ens2-exc-native"
    data = bytearray(onnx_copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    onnx_copy.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="corrupt"):
        ens2rt.Model.load(onnx_copy)
    # a card that matches garbage bytes still cannot load
    onnx_copy.write_bytes(b"garbage")
    card = json.loads((tmp_path / "m.json").read_text())
    card["sha256"] = hashlib.sha256(b"garbage").hexdigest()
    (tmp_path / "m.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="cannot load"):
        ens2rt.Model.load(onnx_copy)
