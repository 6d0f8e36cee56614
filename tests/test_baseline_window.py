"""Convolutional models that take their input less its local mean (``baseline_window``): blind to a
constant ΔF/F offset away from a trace's ends, the same numbers from torch and ONNX and from
every entry point of the runtime."""

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
NETWORK = Network("convolutional", baseline_window=WINDOW)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return write_variant_model(tmp_path_factory.mktemp("baseline"), NETWORK, "baseline")


@pytest.fixture(scope="module")
def model(model_path):
    return ens2rt.Model.load(model_path, device="cpu")


@pytest.fixture(scope="module")
def traces():
    return simulated_traces(2, 3, 6000)


def test_the_window_is_checked_and_widens_the_reach(model_path, model):
    assert NETWORK.shapes() == Network("convolutional").shapes()  # no new weights
    assert NETWORK.reach() == (99, 99) == tuple(a + 48 for a in architecture_reach())
    card = json.loads(model_path.with_suffix(".json").read_text())
    assert card["contract"]["reach"] == {"left": 99, "right": 99} and "stream" not in card
    assert "input less its mean over 97 samples" in card["architecture"]["name"]
    assert model.contract.context_left >= 99
    for bad in ({"baseline_window": 96}, {"baseline_window": 1}):
        with pytest.raises(ValueError, match="odd"):
            Network("convolutional", **bad)
    with pytest.raises(ValueError, match="convolutional"):
        Network("windowed", baseline_window=WINDOW)


def test_the_reach_is_measured_on_the_network():
    torch = pytest.importorskip("torch")
    from ens2export.network import from_weights

    network = from_weights(variant_weights(NETWORK, 3), NETWORK).double()
    base = torch.from_numpy(np.random.default_rng(0).normal(0, 1, (1, 768)))
    assert measured_reach(network, base, range(376, 384), kick=3.0) == NETWORK.reach()


def test_onnx_computes_what_torch_computes(model):
    torch = pytest.importorskip("torch")
    from ens2export.network import from_weights

    x = np.random.default_rng(1).normal(0, 1, (3, 400)).astype(np.float32)
    x[:, 150:170] += 25.0
    with torch.no_grad():
        expected = from_weights(variant_weights(NETWORK, 0), NETWORK)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model.run(x), expected, rtol=1e-3, atol=1e-4)
    assert expected.std() > 0.01


def test_a_baseline_offset_changes_nothing_away_from_the_ends(model, traces, tmp_path):
    """The plain network's rates move with a constant offset; this one's do not, but within its reach of either end."""
    plain_path = tmp_path / "plain.onnx"
    write_model(variant_weights(NETWORK, 0), plain_path, name="plain", cell_class="excitatory", description="", training={},
                network=Network("convolutional"), input_scaling="noise_std", stream_graph=False)  # fmt: skip
    inner = slice(100, -100)  # the zeros outside the recording make a step there
    for network_model, blind in ((model, True), (ens2rt.Model.load(plain_path, device="cpu"), False)):
        base = ens2rt.infer(traces, RATE, model=network_model, spikes=False).rate
        moved = ens2rt.infer(traces + 0.1, RATE, model=network_model, spikes=False).rate - base
        assert (np.abs(moved[:, inner]).max() < 2e-4) == blind and base.std() > 0.005


@pytest.mark.parametrize("seed", [0, 1])
def test_stream_equals_offline(model, traces, seed):
    assert_stream_equals_offline(model, traces, RATE, seed, max_chunk=300)


def test_dask_equals_offline(model_path, traces):
    assert_dask_equals_offline(model_path, traces, RATE, chunks=(2, 1700), atol=1e-5)


def test_train_settings_guard_the_window():
    from research.training import ResearchSettings

    settings = ResearchSettings(kind="convolutional", context=288, input_scaling="noise_std", baseline_window=WINDOW)
    assert settings.network == NETWORK and not settings.streamable
    for bad in ({"baseline_window": WINDOW},  # windowed
                {"kind": "convolutional", "context": 288, "baseline_window": 96},
                {"kind": "convolutional", "context": 288, "baseline_window": WINDOW, "lookahead": 6}):  # fmt: skip
        with pytest.raises(ValueError):
            ResearchSettings(**bad)


def test_train_and_export_a_run(ground_truth, tmp_path, traces):
    settings, out = train_and_export_convolutional(ground_truth, tmp_path, baseline_window=WINDOW)
    assert settings["baseline_window"] == WINDOW
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["contract"]["reach"]["left"] == 99
    rate = ens2rt.infer(traces, RATE, model=ens2rt.Model.load(out, device="cpu"), spikes=False).rate
    assert rate.shape == (traces.shape[0], 12000) and np.isfinite(rate).all()
