"""Convolutional models with a local z-score input channel: the same contract, a wider reach,
the same numbers from torch and ONNX, and from every entry point of the runtime."""

import json

import numpy as np
import pytest

pytestmark = pytest.mark.research  # a training option no shipped model uses: run with -m research

onnx = pytest.importorskip("onnx")

import ens2rt  # noqa: E402
from conftest import (  # noqa: E402
    assert_dask_equals_offline,
    assert_stream_equals_offline,
    measured_reach,
    variant_weights,
    write_variant_model,
    simulated_traces,
    train_and_export_convolutional,
)
from ens2export.architecture import Network, architecture_reach  # noqa: E402
from ens2export.card import write_model  # noqa: E402

RATE = 30.0
WINDOW = 97
NETWORK = Network("convolutional", local_window=WINDOW)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return write_variant_model(tmp_path_factory.mktemp("local"), NETWORK, "local")


@pytest.fixture(scope="module")
def model(model_path):
    return ens2rt.Model.load(model_path, device="cpu")


@pytest.fixture(scope="module")
def traces():
    return simulated_traces(2, 3, 6000)


def test_the_first_convolution_reads_two_channels():
    assert Network("convolutional", local_window=WINDOW).shapes()["encoder1.enc1conv1.weight"] == (9, 2, 3)
    assert Network("convolutional").shapes()["encoder1.enc1conv1.weight"] == (9, 1, 3)
    with pytest.raises(ValueError, match="odd"):
        Network("convolutional", local_window=96)
    with pytest.raises(ValueError, match="convolutional"):
        Network("windowed", local_window=WINDOW)


def test_the_contract_widens_by_half_the_window(model_path, model):
    contract = json.loads(model_path.with_suffix(".json").read_text())["contract"]
    assert Network("convolutional", local_window=WINDOW).reach() == (99, 99) == tuple(a + 48 for a in architecture_reach())
    assert contract["reach"] == {"left": 99, "right": 99} and contract["context"] == {"left": 104, "right": 104}
    assert model.contract.context_left == 104 and model.contract.reach_right == 99
    assert "stream" not in json.loads(
        model_path.with_suffix(".json").read_text()
    )  # no streaming graph for this front end


def test_a_streaming_graph_is_refused(tmp_path):
    with pytest.raises(ValueError, match="streaming graph"):
        write_model(variant_weights(NETWORK, 0), tmp_path / "m.onnx", name="m", cell_class="excitatory", description="", training={},
                    network=Network("convolutional", local_window=WINDOW), input_scaling="noise_std")  # fmt: skip


def test_the_reach_is_measured_on_the_network():
    """An impulse through the float64 network moves outputs exactly as far as Network.reach says."""
    torch = pytest.importorskip("torch")
    from ens2export.network import from_weights

    network = from_weights(variant_weights(NETWORK, 3), Network("convolutional", local_window=WINDOW)).double()
    base = torch.from_numpy(np.random.default_rng(0).normal(0, 1, (1, 768)))
    assert measured_reach(network, base, range(376, 384), kick=3.0) == Network("convolutional", local_window=WINDOW).reach()


def test_onnx_computes_what_torch_computes(model):
    torch = pytest.importorskip("torch")
    from ens2export.network import from_weights, local_zscore

    x = np.random.default_rng(1).normal(0, 1, (3, 400)).astype(np.float32)
    x[:, 150:170] += 25.0  # a transient: its window's z-score shrinks it, noise alone keeps its size
    network = from_weights(variant_weights(NETWORK, 0), Network("convolutional", local_window=WINDOW))
    with torch.no_grad():
        expected = network(torch.from_numpy(x)).numpy()
        z = local_zscore(torch.from_numpy(x)[:, None], WINDOW)[:, 0].numpy()
    np.testing.assert_allclose(
        model.run(x), expected, rtol=1e-3, atol=1e-4
    )  # float32 window sums, summed in another order
    assert expected.std() > 0.01
    assert abs(z[:, 160]).max() < 5 and 0.5 < z[:, 300:350].std() < 1.0  # the floor keeps noise below unit variance


def test_gain_is_not_lost_to_the_z_score(model, traces):
    """The noise-std channel still sees amplitude: a trace scaled 2x (its noise too) gives the same rate."""
    base = ens2rt.infer(traces, RATE, model=model, spikes=False)
    doubled = ens2rt.infer(2 * traces, RATE, model=model, spikes=False)
    np.testing.assert_allclose(doubled.rate, base.rate, atol=1e-5)
    assert base.rate.std() > 0.005


@pytest.mark.parametrize("seed", [0, 1])
def test_stream_equals_offline(model, traces, seed):
    assert_stream_equals_offline(model, traces, RATE, seed, max_chunk=300)


def test_dask_equals_offline(model_path, traces):
    # float32 sums over a window round a little differently at different offsets into a piece
    assert_dask_equals_offline(model_path, traces, RATE, chunks=(2, 1700), atol=1e-5)


def test_train_settings_guard_the_channel():
    from research.training import ResearchSettings

    assert (
        ResearchSettings(kind="convolutional", context=288, input_scaling="noise_std", local_window=WINDOW).local_window
        == WINDOW
    )
    for bad in ({"local_window": WINDOW},  # windowed
                {"kind": "convolutional", "context": 288, "local_window": WINDOW},  # raw input: the floor has no units
                {"kind": "convolutional", "context": 288, "input_scaling": "noise_std", "local_window": 96},
                {"kind": "convolutional", "context": 288, "input_scaling": "noise_std", "local_window": WINDOW, "lookahead": 6}):  # fmt: skip
        with pytest.raises(ValueError):
            ResearchSettings(**bad)


def test_train_and_export_a_run(ground_truth, tmp_path):
    settings, out = train_and_export_convolutional(ground_truth, tmp_path, local_window=WINDOW)
    assert settings["local_window"] == WINDOW
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["contract"]["reach"]["left"] == 99
    assert ens2rt.Model.load(out, device="cpu").contract.context_right == 104
