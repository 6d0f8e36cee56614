"""Convolutional models with sliding InstanceNorm: the windowed model's normalisation, run once over the whole trace."""

import json

import numpy as np
import pytest

pytestmark = pytest.mark.research  # a training option no shipped model uses: run with -m research

onnx = pytest.importorskip("onnx")

from conftest import assert_onnx_equals_torch, assert_stream_and_dask_equal_infer, measured_reach, variant_weights, write_variant_model  # noqa: E402
from ens2export.architecture import Network, norm_windows  # noqa: E402
from ens2export.card import write_model  # noqa: E402

RATE = 30.0
NORM_WINDOW = 97
NETWORK = Network("convolutional", norm_window=NORM_WINDOW)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return write_variant_model(tmp_path_factory.mktemp("slidenorm"), NETWORK, "slidenorm")


def test_windows_per_level_and_weights_without_biases():
    assert norm_windows(NORM_WINDOW) == (97, 49, 25, 13) and norm_windows(0) == ()
    shapes = NETWORK.shapes()
    assert "encoder1.enc1conv1.bias" not in shapes and "upconv1.bias" in shapes
    assert "encoder1.enc1conv1.bias" in Network("convolutional").shapes()
    for bad in (16, 15, 98):
        with pytest.raises(ValueError, match="norm_window"):
            norm_windows(bad)
    with pytest.raises(ValueError, match="sliding InstanceNorm"):
        Network("windowed", norm_window=NORM_WINDOW)


def test_the_reach_is_stated_and_measured(model_path):
    torch = pytest.importorskip("torch")
    from ens2export.network import from_weights

    reach = NETWORK.reach()
    assert reach[0] == reach[1] > 14 * 48  # every one of the 14 norms reads about 48 input samples each way
    card = json.loads(model_path.with_suffix(".json").read_text())
    assert card["contract"]["reach"] == {"left": reach[0], "right": reach[1]}
    assert "sliding InstanceNorm over 97 samples" in card["architecture"]["name"]
    network = from_weights(variant_weights(NETWORK, 3), NETWORK).double()
    base = torch.zeros(1, 2048, dtype=torch.float64)  # on a noisy base max-pooling can hide the farthest changes
    assert measured_reach(network, base, range(1016, 1024)) == reach


def test_onnx_computes_what_torch_computes(model_path):
    pytest.importorskip("torch")
    assert_onnx_equals_torch(model_path, variant_weights(NETWORK, 0), NETWORK)


def test_a_window_is_normalised_as_instance_norm_normalises_it():
    """Where the sliding window covers the whole input, sliding InstanceNorm is InstanceNorm."""
    torch = pytest.importorskip("torch")
    from ens2export.network import SlidingInstanceNorm

    x = torch.from_numpy(np.random.default_rng(4).normal(3, 2, (2, 5, 9)))
    np.testing.assert_allclose(SlidingInstanceNorm(17)(x)[..., 4], torch.nn.InstanceNorm1d(5, eps=1e-5)(x)[..., 4], atol=1e-9)


def test_stream_and_dask_equal_infer(model_path):
    assert_stream_and_dask_equal_infer(model_path, RATE)


def test_settings_and_export_guard_it(tmp_path):
    from research.training import ResearchSettings

    settings = ResearchSettings(kind="convolutional", context=288, input_scaling="noise_std", norm_window=NORM_WINDOW)
    assert not settings.streamable and settings.export_fields()["network"] == NETWORK
    with pytest.raises(ValueError, match="sliding InstanceNorm"):
        ResearchSettings(norm_window=NORM_WINDOW)  # windowed
    with pytest.raises(ValueError, match="sliding InstanceNorm"):
        ResearchSettings(kind="convolutional", context=192, norm_window=NORM_WINDOW, lookahead=6)
    with pytest.raises(ValueError, match="streaming graph"):
        write_model(variant_weights(NETWORK, 0), tmp_path / "m.onnx", name="m", cell_class="excitatory", description="", training={},
                    network=NETWORK)


def test_training_computes_the_same_norm_from_cumulative_sums():
    torch = pytest.importorskip("torch")
    from ens2export.network import SlidingInstanceNorm

    x = torch.from_numpy(np.random.default_rng(5).normal(0.5, 1, (2, 3, 288)))
    for window in (13, 25, 97, 601):  # 13: the smallest norm_windows(97) uses; 601: every window clipped at both ends
        norm = SlidingInstanceNorm(window)
        np.testing.assert_allclose(norm.train()(x), norm.eval()(x), atol=1e-9)
        np.testing.assert_allclose(norm.train()(x.float()), norm.eval()(x), atol=1e-4)  # float32 training
