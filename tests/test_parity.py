"""The whole pipeline is the published ENS² function (../shared/reference)."""

import numpy as np
import pytest

import ens2rt
from ens2rt.engine.spikes import fit_spikes

onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")
onnxruntime = pytest.importorskip("onnxruntime")

from ens2export.network import from_weights  # noqa: E402
from ens2export.onnx_graph import build_model  # noqa: E402
from ens2export.weights import load_published_weights  # noqa: E402


@pytest.fixture(scope="module")
def published(published_exc_weights_path):
    return load_published_weights(published_exc_weights_path)


def test_torch_network_matches_published_window_outputs(published, reference):
    model = from_weights(published).eval()
    with torch.no_grad():
        out = model(torch.from_numpy(reference["windows_first64"])).numpy()
    assert np.abs(out - reference["window_outputs_first64"]).max() <= 1e-5


def test_onnx_graph_matches_published_window_outputs(published, reference):
    session = onnxruntime.InferenceSession(build_model(published, {}).SerializeToString(), providers=["CPUExecutionProvider"])
    out = session.run(None, {"dff_windows": reference["windows_first64"]})[0]
    assert np.abs(out - reference["window_outputs_first64"]).max() <= 1e-5


def test_torch_pipeline_reproduces_published_rate(published, reference):
    """docs/method.md's pipeline written out in torch: resample, pad, every window, overlap-add."""
    from ens2rt.engine.resample import resample_to_60hz

    x = resample_to_60hz(reference["dff"], float(reference["frame_rate"]), "fourier").astype(np.float32)
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(x, 48), 96)[: x.size]
    with torch.no_grad():
        out = from_weights(published).eval()(torch.from_numpy(np.ascontiguousarray(windows))).numpy()
    summed = np.zeros(x.size + 96)
    for offset in range(96):
        summed[np.arange(x.size) + offset] += out[:, offset]
    rate = summed[48:-48] / 96
    assert np.abs(rate - reference["rate_60hz"]).max() <= 1e-4


def test_runtime_hop1_reproduces_published_rate(reference):
    res = ens2rt.infer(
        reference["dff"], float(reference["frame_rate"]), model="ens2-published-exc", hop=1, resampler="fourier",
        spike_fit="published", device="cpu",
    )
    assert res.rate.shape == (1, reference["rate_60hz"].size)
    assert np.abs(res.rate[0] - reference["rate_60hz"]).max() <= 1e-4
    assert np.array_equal(res.spike_counts[0], reference["spike_counts_60hz"])


def test_greedy_spike_fit_reproduces_published_counts(reference):
    counts = fit_spikes(reference["rate_60hz"], "published")
    assert counts.sum() == reference["spike_counts_60hz"].sum() > 100
    assert np.array_equal(counts, reference["spike_counts_60hz"])


def test_strict_spike_fit_differs_from_published_only_where_a_first_spike_raised_the_error(reference):
    """On this trace the published rule places one first spike that makes the fit worse; strict drops it."""
    published, strict = fit_spikes(reference["rate_60hz"], "published"), fit_spikes(reference["rate_60hz"])
    assert 0 < published.sum() - strict.sum() <= 2


def test_published_converter_keeps_every_parameter(published_exc_weights_path, published):
    with np.load(published_exc_weights_path) as raw:
        for name in raw.files:
            kernel = raw[name]
            if kernel.ndim == 4 and kernel.shape[2:] == (3, 3):
                np.testing.assert_array_equal(published[name], kernel[:, :, 1, :])
            else:
                np.testing.assert_array_equal(published[name].ravel(), kernel.ravel())
