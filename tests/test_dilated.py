"""Convolutional models with a dilated bottleneck: a wider reach, stated in the contract and measured on the network."""

import json

import pytest

pytestmark = pytest.mark.research  # a training option no shipped model uses: run with -m research

onnx = pytest.importorskip("onnx")

from conftest import assert_onnx_equals_torch, assert_stream_and_dask_equal_infer, measured_reach, variant_weights, write_variant_model  # noqa: E402
from ens2export.architecture import Network, architecture_reach  # noqa: E402
from ens2export.card import write_model  # noqa: E402

RATE = 30.0
DILATION = 4
NETWORK = Network("convolutional", dilation=DILATION)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return write_variant_model(tmp_path_factory.mktemp("dilated"), NETWORK, "dilated")


def test_the_reach_is_stated_and_measured(model_path):
    torch = pytest.importorskip("torch")
    from ens2export.network import from_weights

    assert architecture_reach(dilation=2) == (67, 67) and architecture_reach(dilation=DILATION) == (99, 99)
    card = json.loads(model_path.with_suffix(".json").read_text())
    assert card["contract"]["reach"] == {"left": 99, "right": 99} and "dilated 4x" in card["architecture"]["name"]
    network = from_weights(variant_weights(NETWORK, 3), NETWORK).double()
    assert measured_reach(network, torch.zeros(1, 768, dtype=torch.float64), range(376, 384)) == (99, 99)


def test_onnx_computes_what_torch_computes(model_path):
    pytest.importorskip("torch")
    assert_onnx_equals_torch(model_path, variant_weights(NETWORK, 0), NETWORK)


def test_stream_and_dask_equal_infer(model_path):
    assert_stream_and_dask_equal_infer(model_path, RATE)


def test_settings_and_export_guard_it(tmp_path):
    from research.training import ResearchSettings

    settings = ResearchSettings(kind="convolutional", context=288, input_scaling="noise_std", dilation=DILATION)
    assert not settings.streamable and settings.export_fields()["stream_graph"] is False
    assert ResearchSettings.from_dict(
        {**settings.as_dict(), "unknown": 1, "noise_band": [0, 8], "noise_level": None}
    ).noise_band == (0, 8)
    with pytest.raises(ValueError, match="dilated"):
        ResearchSettings(dilation=2)  # windowed
    with pytest.raises(ValueError, match="dilated"):
        ResearchSettings(kind="convolutional", context=192, dilation=2, lookahead=6)
    with pytest.raises(ValueError, match="streaming graph"):
        write_model(variant_weights(NETWORK, 0), tmp_path / "m.onnx", name="m", cell_class="excitatory", description="", training={},
                    network=NETWORK, input_scaling="noise_std")  # fmt: skip
