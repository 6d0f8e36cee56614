"""Convolutional models with more features per layer: the same reach and contract, a larger graph."""

import json

import numpy as np
import pytest

pytestmark = pytest.mark.research  # a training option no shipped model uses: run with -m research

onnx = pytest.importorskip("onnx")

from conftest import assert_onnx_equals_torch, assert_stream_and_dask_equal_infer, measured_reach, variant_weights, write_variant_model  # noqa: E402
from ens2export.architecture import Network, architecture_reach  # noqa: E402

RATE = 30.0
NETWORK = Network("convolutional", width=2)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return write_variant_model(tmp_path_factory.mktemp("wider"), NETWORK, "wider")


def test_every_layer_has_twice_the_features_and_the_input_and_output_one_channel():
    plain, wider = Network("convolutional").shapes(), NETWORK.shapes()
    assert plain.keys() == wider.keys()
    assert wider["encoder1.enc1conv1.weight"] == (18, 1, 3) and wider["bottleneck.bottleneckconv2.weight"] == (144, 144, 3)
    assert wider["upconv3.weight"] == (144, 72, 2) and wider["decoder1.dec1conv1.weight"] == (18, 36, 3)
    assert wider["conv.weight"] == (1, 18, 1) and wider["conv.bias"] == (1,)
    assert sum(np.prod(s) for s in wider.values()) > 3.5 * sum(np.prod(s) for s in plain.values())


def test_the_reach_is_the_plain_networks(model_path):
    torch = pytest.importorskip("torch")
    from ens2export.network import from_weights

    card = json.loads(model_path.with_suffix(".json").read_text())
    assert card["contract"]["reach"] == dict(zip(("left", "right"), architecture_reach())) and "2x the features" in card["architecture"]["name"]
    network = from_weights(variant_weights(NETWORK, 3), NETWORK).double()
    assert measured_reach(network, torch.zeros(1, 768, dtype=torch.float64), range(376, 384)) == architecture_reach()


def test_onnx_computes_what_torch_computes(model_path):
    pytest.importorskip("torch")
    assert_onnx_equals_torch(model_path, variant_weights(NETWORK, 0), NETWORK)


def test_stream_and_dask_equal_infer(model_path):
    assert_stream_and_dask_equal_infer(model_path, RATE)


def test_a_wider_network_is_convolutional_and_has_no_streaming_graph_yet():
    with pytest.raises(ValueError, match="wider network are for convolutional models"):
        Network("windowed", width=2)
    with pytest.raises(ValueError, match="width"):
        Network("convolutional", width=0)
    assert not NETWORK.has_stream_graph
