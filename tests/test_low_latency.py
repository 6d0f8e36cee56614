"""Low-latency models and the linear resampler: a short, declared lookahead, and a stream
that answers within it with the same numbers as offline."""

import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

import ens2rt  # noqa: E402
from conftest import (  # noqa: E402
    assert_dask_equals_offline,
    assert_stream_equals_offline,
    check_stream_delay,
    simulated_traces,
)
from ens2export.card import write_model  # noqa: E402
from ens2export.architecture import Network, architecture_reach  # noqa: E402
from ens2rt.engine.resample import LinearResampler, resample_to_60hz  # noqa: E402
from test_convolutional import _random_weights  # noqa: E402

RATE = 30.0
LOOKAHEAD = 6  # samples at 60 Hz: 100 ms


def _export_online(folder, head_bias=None):
    out = folder / "online-test.onnx"
    weights = _random_weights(4)
    if head_bias is not None:
        weights["conv.bias"] = np.array([head_bias], np.float32)
    delay = architecture_reach()[1] - LOOKAHEAD
    write_model(weights, out, name="online-test", cell_class="excitatory", description="test model", training={},
                network=Network("convolutional"), input_scaling="noise_std", output_delay=delay, resampler="linear")  # fmt: skip
    return out


@pytest.fixture(scope="module")
def online_path(tmp_path_factory):
    return _export_online(tmp_path_factory.mktemp("online"))


@pytest.fixture(scope="module")
def online(online_path):
    return ens2rt.Model.load(online_path, device="cpu")


@pytest.fixture(scope="module")
def traces():
    return simulated_traces(5, 3, 3000)


def test_the_card_declares_the_lookahead_and_the_resampler(online_path, online):
    contract = json.loads(online_path.with_suffix(".json").read_text())["contract"]
    left, right = architecture_reach()
    assert contract["reach"] == {"left": left + right - LOOKAHEAD, "right": LOOKAHEAD}
    assert contract["context"] == {"left": 96, "right": 8} and contract["resampler"] == "linear"
    assert (online.contract.reach_right, online.contract.resampler) == (LOOKAHEAD, "linear")


def test_the_graph_reads_as_far_as_its_contract_says(tmp_path):
    """Impulses through the exported graph move outputs exactly within the declared reach."""
    online = ens2rt.Model.load(_export_online(tmp_path, head_bias=5.0), device="cpu")  # the output ReLU hides nothing
    base = np.zeros((1, 512), np.float32)
    reference = online.run(base)[0]
    ahead = behind = 0
    for position in range(256, 272):
        impulse = base.copy()
        impulse[0, position] += 1.0
        changed = np.flatnonzero(online.run(impulse)[0] != reference)
        ahead, behind = max(ahead, position - int(changed[0])), max(behind, int(changed[-1]) - position)
    assert (behind, ahead) == (online.contract.reach_left, online.contract.reach_right)


def test_infer_uses_the_models_resampler(online, traces):
    result = ens2rt.infer(traces, RATE, model=online, spikes=False)
    assert result.settings["resampler"] == "linear"
    sinc = ens2rt.infer(traces, RATE, model=online, spikes=False, resampler="sinc")
    assert sinc.settings["resampler"] == "sinc" and not np.array_equal(sinc.rate, result.rate)


@pytest.mark.parametrize("seed", [0, 1])
def test_stream_equals_offline(online, traces, seed):
    assert_stream_equals_offline(online, traces, RATE, seed, max_chunk=40)


@pytest.mark.parametrize("frame_rate", [30.0, 122.07])
def test_a_stream_answers_within_150_ms(online, frame_rate):
    """The rate at t is out once the frame at t + lookahead (and the next frame, for the interpolation) is in."""
    x = np.random.default_rng(1).normal(0, 0.3, (1, int(40 * frame_rate)))
    stream = ens2rt.Stream(1, frame_rate, model=online, noise_level=1.0, spikes=False)
    check_stream_delay(stream, x, range(x.shape[1] // 2, x.shape[1] // 2 + 12), model=online, noise_level=1.0)
    assert stream.delay_s <= LOOKAHEAD / 60.0 + 1.0 / frame_rate + 1e-9
    assert stream.delay_s <= 0.15


def test_dask_equals_offline(online_path, traces):
    result = assert_dask_equals_offline(online_path, traces, RATE, chunks=(2, 700), atol=1e-6)
    assert result.resampler == "linear"


@pytest.mark.parametrize("frame_rate", [7.5, 30.0, 60.0, 122.07])
def test_linear_resampling_interpolates_and_reads_no_later_frame(frame_rate):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 500))
    whole = resample_to_60hz(x, frame_rate, "linear")
    times = np.arange(whole.shape[1]) / 60.0
    inside = times <= (x.shape[1] - 1) / frame_rate
    expected = [np.interp(times[inside], np.arange(x.shape[1]) / frame_rate, row) for row in x]
    np.testing.assert_allclose(whole[:, inside], expected, atol=1e-12)
    resampler = LinearResampler(frame_rate)
    for output in range(0, whole.shape[1] - 10, 7):  # pieces that end at the last frame it reads give the same numbers
        last = resampler.last_frame_needed(output)
        assert last / frame_rate >= output / 60.0 - 1e-12 and (last - 1) / frame_rate < output / 60.0
        piece = resampler.resample(x[:, : last + 1], 0, np.array([output]))
        np.testing.assert_allclose(piece[:, 0], whole[:, output], atol=1e-12)


@pytest.mark.parametrize("name", ["ens2-exc-online", pytest.param("ens2-inh-online", marks=pytest.mark.slow)])  # one shipped graph by default
def test_the_shipped_online_models_answer_within_150_ms_with_offline_numbers(traces, name):
    """At 30 Hz: delay_s ≤ 0.15 s (resampler included), and the stream equals infer."""
    levels = ens2rt.noise_level(traces, RATE)
    stream = ens2rt.Stream(3, RATE, model=name, noise_level=levels)
    assert stream.delay_s <= 0.15 and stream.contract.reach_right == LOOKAHEAD and stream.resampler == "linear"
    outputs = [stream.push(traces[:, k : k + 1]) for k in range(traces.shape[1])] + [stream.flush()]
    offline = ens2rt.infer(traces, RATE, model=name, noise_level=levels)
    np.testing.assert_allclose(np.concatenate([o.rate for o in outputs], axis=1), offline.rate, atol=1e-5)
    assert offline.rate.max() > 0.1  # a trained model: it answers the simulated spikes
