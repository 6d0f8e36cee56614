"""The convolutional model kind: exported with its contract, run over whole traces by
every entry point (offline, pieces, stream, dask) with the same numbers."""

import json
import shutil

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

import ens2rt  # noqa: E402
from conftest import (  # noqa: E402
    assert_dask_equals_offline,
    assert_stream_equals_offline,
    check_stream_delay,
    measured_reach,
    random_conv_weights,
    simulated_traces,
)
from ens2export.architecture import Network, architecture_reach  # noqa: E402
from ens2export.card import write_model  # noqa: E402
from ens2rt.engine import whole_trace  # noqa: E402
from ens2rt.errors import InputError, ModelError  # noqa: E402

RATE = 30.0
HEAD_GAIN, BIAS = 0.02, -0.1  # keep the random model's rate small and sparse, as a trained one's is


def _random_weights(seed: int) -> dict[str, np.ndarray]:
    return random_conv_weights(seed, head_gain=HEAD_GAIN, head_bias=BIAS)


def _export(folder, name, seed=0, scaling="noise_std", level=None):
    out = folder / f"{name}.onnx"
    write_model(_random_weights(seed), out, name=name, cell_class="excitatory", description="test model", training={},
                network=Network("convolutional"), input_scaling=scaling, noise_level=level)  # fmt: skip
    return out


@pytest.fixture(scope="module")
def conv_path(tmp_path_factory):
    return _export(tmp_path_factory.mktemp("conv"), "conv-test")


@pytest.fixture(scope="module")
def conv(conv_path):
    return ens2rt.Model.load(conv_path, device="cpu")


@pytest.fixture(scope="module")
def traces():
    return simulated_traces(1, 3, 9000)  # 5 min at 30 Hz


def test_the_card_states_the_contract(conv_path, conv):
    card = json.loads(conv_path.with_suffix(".json").read_text())
    contract = card["contract"]
    assert contract["kind"] == "convolutional" and contract["alignment"] == 8
    assert contract["reach"] == {"left": 51, "right": 51} and contract["context"] == {"left": 56, "right": 56}
    assert contract["input_scaling"]["kind"] == "noise_std" and "95.39" in contract["input_scaling"]["rule"]
    assert conv.contract.kind == "convolutional" and conv.contract.context_right == 56
    import onnxruntime

    metadata = onnxruntime.InferenceSession(str(conv_path)).get_modelmeta().custom_metadata_map
    assert json.loads(metadata["contract"]) == contract


def test_the_reach_is_the_architectures(monkeypatch):
    """An impulse through the float64 network moves outputs exactly as far as architecture_reach says."""
    torch = pytest.importorskip("torch")
    from ens2export.network import from_weights

    model = from_weights(_random_weights(3), Network("convolutional")).double()
    reach_left, reach_right = measured_reach(model, torch.zeros(1, 512, dtype=torch.float64), range(256, 264))
    assert (reach_left, reach_right) == architecture_reach() == (51, 51)


def test_a_model_of_unknown_kind_is_refused(conv_path, tmp_path):
    copy = tmp_path / "future.onnx"
    shutil.copy(conv_path, copy)
    card = json.loads(conv_path.with_suffix(".json").read_text())
    card["contract"]["kind"] = "transformer"
    copy.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="kind 'transformer' is unknown"):
        ens2rt.Model.load(copy, device="cpu")


def test_infer_runs_the_whole_scaled_trace_once(conv, traces):
    res = ens2rt.infer(traces, RATE, model=conv, spikes=False)
    samples = ens2rt.engine.resample.resample_to_60hz(traces, RATE)
    scale = conv.contract.input_scale(ens2rt.noise_level(traces, RATE), RATE)
    n = samples.shape[1]
    padded = np.zeros((3, -(-(n + 112) // 8) * 8), np.float32)
    padded[:, 56 : 56 + n] = samples / scale[:, None]
    whole = conv.run(padded)[:, 56 : 56 + n]
    assert res.rate.shape == (3, n) and n > 2 * whole_trace.PIECE_SAMPLES  # several pieces of the grid
    np.testing.assert_allclose(res.rate, whole, atol=1e-5)
    assert res.rate.std() > 0.01  # the random model's output follows its input


def test_the_noise_level_scales_the_input(conv, traces):
    estimated = ens2rt.infer(traces, RATE, model=conv, spikes=False)
    given = ens2rt.infer(traces, RATE, model=conv, spikes=False, noise_level=ens2rt.noise_level(traces, RATE))
    np.testing.assert_array_equal(estimated.rate, given.rate)
    doubled = ens2rt.infer(2 * traces, RATE, model=conv, spikes=False)  # noise-std scaling makes amplitude irrelevant
    np.testing.assert_allclose(doubled.rate, estimated.rate, atol=1e-5)


@pytest.mark.parametrize("seed", [0, 1])
def test_stream_equals_offline_for_random_chunks(conv, traces, seed):
    assert_stream_equals_offline(conv, traces, RATE, seed, max_chunk=200)


def test_a_stream_answers_within_its_stated_delay(conv):
    """The rate at t is out by the frame at t + delay_s: the model's right reach and the resampler's."""
    x = np.random.default_rng(1).normal(0, 0.3, (1, 1200))
    stream = ens2rt.Stream(1, RATE, model=conv, noise_level=1.0, spikes=False)
    check_stream_delay(stream, x, range(500, 516), model=conv, noise_level=1.0)
    windowed = ens2rt.Stream(1, RATE, model="ens2-exc-native")
    assert stream.delay_s < windowed.delay_s  # no window to close


def test_a_stream_without_a_streaming_graph_keeps_constant_memory(tmp_path):
    path = tmp_path / "pieces.onnx"
    write_model(_random_weights(0), path, name="pieces", cell_class="excitatory", description="test model", training={},
                network=Network("convolutional"), input_scaling="noise_std", stream_graph=False)  # fmt: skip
    conv = ens2rt.Model.load(path, device="cpu")
    stream = ens2rt.Stream(3, RATE, model=conv, noise_level=1.0)
    assert not stream.uses_streaming_graph  # each push reruns the model over its new samples
    rng, held = np.random.default_rng(0), []
    for _ in range(300):  # 150 s in pushes of half a second
        stream.push(rng.normal(0, 0.1, (3, 15)))
        held.append(stream._rate.held)
    assert max(held[150:]) <= max(held[:150]) and max(held) < 2 * conv.contract.context_left + 64


def test_a_stream_needs_the_noise_level_for_noise_scaled_models(conv):
    with pytest.raises(InputError, match="noise std"):
        ens2rt.Stream(2, RATE, model=conv)


@pytest.mark.parametrize("chunks", [(3, 9000), (2, 1234), (1, 4500)])
def test_dask_equals_offline(conv_path, traces, chunks):
    assert_dask_equals_offline(conv_path, traces, RATE, chunks=chunks, atol=1e-6)


def test_a_family_of_convolutional_members(tmp_path, traces):
    members = [ens2rt.Model.load(_export(tmp_path, f"c{level}", seed=level, level=float(level)), device="cpu")
               for level in (1, 4)]  # fmt: skip
    family = ens2rt.ModelFamily.from_models("c", members)
    res = ens2rt.infer(traces, RATE, model=family, noise_level=[1.0, 4.0, 4.0])
    assert res.neuron_model.tolist() == ["c1", "c4", "c4"]
    alone = ens2rt.infer(traces[:1], RATE, model=members[0], noise_level=1.0)
    np.testing.assert_allclose(res.rate[:1], alone.rate, atol=1e-6)


@pytest.mark.slow  # 2.5 s; the CLI trains and exports in test_training.py by default
def test_train_and_export_a_convolutional_model_from_the_command_line(ground_truth, tmp_path):
    torch = pytest.importorskip("torch")
    from ens2export.cli import app
    from ens2export.dataset import load_windows
    from ens2export.network import from_weights
    from typer.testing import CliRunner

    runner = CliRunner()
    run = tmp_path / "run"
    trained = runner.invoke(app, ["train", "-g", str(ground_truth), "-d", "DS05", "-o", str(run), "--max-steps", "6", "--batch-size", "64",
                                  "--device", "cpu", "--kind", "convolutional", "--context", "192", "--input-scaling", "noise_std",
                                  "--noise-band", "0", "8"])  # fmt: skip
    assert trained.exit_code == 0, trained.output
    settings = json.loads((run / "run.json").read_text())["settings"]
    assert settings["kind"] == "convolutional" and settings["input_scaling"] == "noise_std" and settings["context"] == 192
    assert settings["noise_band"] == [0.0, 8.0] and json.loads((run / "run.json").read_text())["noise"]["target_noise_band"] == [0.0, 8.0]
    assert json.loads((run / "run.json").read_text())["noise_level"] == 4.0  # a family matches a banded model at its band's centre
    out = tmp_path / "conv.onnx"
    assert runner.invoke(app, ["onnx", str(run), "-o", str(out), "--note", "Not the default."]).exit_code == 0
    model = ens2rt.Model.load(out, device="cpu")
    assert model.contract.kind == "convolutional" and model.contract.input_scaling == "noise_std"
    assert model.card["description"].startswith("ENS2 trained with the convolutional recipe") and model.card["description"].endswith(
        "on DS05. Not the default.")  # fmt: skip
    x, _ = load_windows(ground_truth, include=["DS05"]).context_batch(np.random.default_rng(0), 8, 192, scaled=True)
    with np.load(run / "weights.npz") as archive:
        network = from_weights({k: archive[k] for k in archive.files}, Network("convolutional"))
    with torch.no_grad():
        expected = network(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model.run(x), expected, atol=1e-5)
    bad = runner.invoke(app, ["train", "-g", str(ground_truth), "-d", "DS05", "-o", str(tmp_path / "bad"), "--input-scaling", "noise_std"])
    assert bad.exit_code == 2 and "convolutional" in bad.output


def test_context_batches_are_zero_outside_their_trial(ground_truth):
    from ens2export.dataset import load_windows

    source = load_windows(ground_truth, include=["DS05"])
    rng = np.random.default_rng(0)
    x, y = source.context_batch(rng, 4000, 192)
    rng = np.random.default_rng(0)
    plain_x, plain_y = source.batch(rng, 4000)
    np.testing.assert_array_equal(y, plain_y)  # same windows, same targets
    np.testing.assert_array_equal(x[:, 48:144], plain_x)  # the central 96 are the window itself
    # a window at a trial's start: its left context lies before the trial and is zero, not the previous trial
    at_start = np.flatnonzero((plain_x[:, :48] == 0).all(axis=1) & (plain_x[:, 48] != 0))
    assert at_start.size > 0 and (x[at_start, :96] == 0).all()


def test_the_shipped_inhibitory_convolutional_model_says_what_it_is():
    """ens2-inh-conv: the excitatory recipe on inhibitory data, taught by ens2-inh-native, scored held out, not the default."""
    model = ens2rt.Model.load("ens2-inh-conv", device="cpu")
    settings = model.card["training"]["settings"]
    assert model.contract.kind == "convolutional" and model.contract.input_scaling == "noise_std"
    assert model.card["cell_class"] == "inhibitory" and settings["teacher"] == "ens2-inh-native"
    assert model.card["training"]["datasets"] == [f"DS{i}" for i in range(22, 28)]
    assert model.card["scores"]["held_out"].endswith("6 of 6 held-out datasets") and "Not the default" in model.card["description"]
    family = ens2rt.ModelFamily.load("ens2-inh", device="cpu")
    assert family.member_for(0.5, 30.0).name == "ens2-inh-native"  # the default stays windowed at 10 Hz and faster
    assert "ens2-inh-conv" not in [m.name for m in family.members]


def test_the_shipped_convolutional_model():
    """ens2-exc-conv loads by name, says what it is, and tracks the example's spikes (a neuron of its training data)."""
    from ens2rt.scoring import true_rate_at_60hz, correlation
    from ens2rt.example import load_example

    model = ens2rt.Model.load("ens2-exc-conv", device="cpu")
    assert model.contract.kind == "convolutional" and model.contract.input_scaling == "noise_std"
    assert "validation_of_the_recipe" in model.card["scores"] and "In the default family ens2-exc for recordings below 10 Hz" in model.card["description"]
    example = load_example()
    res = ens2rt.infer(example.dff, example.frame_rate, model="ens2-exc-conv")
    assert res.settings["model_kind"] == "convolutional" and res.settings["hop"] is None
    assert correlation(res.rate[0], true_rate_at_60hz(example.spike_times, res.time.size)) > 0.6
