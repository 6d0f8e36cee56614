"""The Node.js host in examples/node (onnxruntime-node, written from docs/onnx-contract.md)
streams a trace through a low-latency model's streaming graph with the numbers of ens2rt.Stream."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import ens2rt

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "node"
NODE = shutil.which("node")

pytestmark = [
    pytest.mark.skipif(NODE is None, reason="node is not installed: the Node.js host (examples/node) is untested here"),
    pytest.mark.skipif(
        not (EXAMPLE / "node_modules" / "onnxruntime-node").is_dir(),
        reason="onnxruntime-node is not installed: run `npm ci --ignore-scripts` in examples/node (as .ci/run does)",
    ),
]


def _stated_frame_rate(path: Path) -> float:
    first = path.read_text().splitlines()[0]
    return float(first.split("frame_rate_hz=")[1])


def _python_stream(model, traces: np.ndarray, frame_rate: float, chunk: int, baseline_s: float = 60.0) -> tuple[np.ndarray, float]:
    levels = ens2rt.noise_level(traces[:, : round(baseline_s * frame_rate)], frame_rate)
    stream = ens2rt.Stream(traces.shape[0], frame_rate, model=model, noise_level=levels, spikes=False)
    outputs = [stream.push(traces[:, k : k + chunk]).rate for k in range(0, traces.shape[1], chunk)]
    return np.concatenate([*outputs, stream.flush().rate], axis=1), stream.delay_s


def _streaming_graph(model_path: Path) -> Path:
    """The streaming graph ens2export writes beside a convolutional model."""
    return model_path.parent / "stream" / model_path.name


def _node_stream(model_path: Path, trace: Path, out: Path, *args: str) -> np.ndarray:
    graph = _streaming_graph(model_path)
    done = subprocess.run([NODE, str(EXAMPLE / "stream.mjs"), "--model", str(graph), "--trace", str(trace), "--out", str(out), *args],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return np.loadtxt(out, ndmin=2, delimiter=",").T


@pytest.fixture(scope="module")
def online_path(tmp_path_factory):
    pytest.importorskip("onnx")
    from test_low_latency import _export_online

    return _export_online(tmp_path_factory.mktemp("node-online"))


@pytest.mark.slow  # 5 s; test_the_shipped_online_model_streams_as_in_python runs the same trace by default
def test_the_shipped_example_trace_streams_as_in_python(online_path, tmp_path):
    trace = EXAMPLE / "example-trace.csv"
    frame_rate = _stated_frame_rate(trace)
    expected, delay = _python_stream(ens2rt.Model.load(online_path, device="cpu"), np.loadtxt(trace)[None, :], frame_rate, chunk=1)
    rate = _node_stream(online_path, trace, tmp_path / "rate.csv")
    assert rate.shape == expected.shape and expected.max() > 0.1
    np.testing.assert_allclose(rate, expected, atol=1e-5)
    assert f"delay {delay:.3f} s" in (tmp_path / "rate.csv").read_text().splitlines()[0]


@pytest.mark.slow  # 5 s; test_several_neurons_at_30_hz_in_chunks streams through the same host by default
def test_the_shipped_online_model_streams_as_in_python(tmp_path):
    """The README's command, with the shipped ens2-exc-online, against ens2rt.Stream."""
    trace = EXAMPLE / "example-trace.csv"
    model = ens2rt.Model.load("ens2-exc-online", device="cpu")
    expected, _ = _python_stream(model, np.loadtxt(trace)[None, :], _stated_frame_rate(trace), chunk=1)
    rate = _node_stream(model.path, trace, tmp_path / "rate.csv")
    np.testing.assert_allclose(rate, expected, atol=1e-5)


@pytest.mark.parametrize("chunk", [pytest.param(1, marks=pytest.mark.slow), 7])  # one frame per call: 2 s
def test_several_neurons_at_30_hz_in_chunks(online_path, tmp_path, chunk):
    rng = np.random.default_rng(chunk)
    traces = np.loadtxt(EXAMPLE / "example-trace.csv")[::2][None, :1800] * rng.uniform(0.5, 2.0, (3, 1)) + rng.normal(0, 0.02, (3, 1800))
    traces[1, 400:410] = np.nan  # held at the last finite value by both hosts
    trace = tmp_path / "trace.csv"
    np.savetxt(trace, traces.T, fmt="%.17g", delimiter=",")
    expected, _ = _python_stream(ens2rt.Model.load(online_path, device="cpu"), traces, 30.0, chunk=chunk, baseline_s=20.0)
    rate = _node_stream(online_path, trace, tmp_path / "rate.csv", "--frame-rate", "30", "--chunk", str(chunk), "--baseline-s", "20")
    np.testing.assert_allclose(rate, expected, atol=1e-5)


@pytest.mark.slow  # 3 s; no seed ensemble ships
def test_a_seed_ensemble_streams_as_in_python(tmp_path):
    """Two members in one streaming graph (twice the states): the host reads them from the contract as for one."""
    from conftest import random_conv_weights
    from ens2export.architecture import Network
    from ens2export.card import write_model

    path = tmp_path / "pair.onnx"
    write_model([random_conv_weights(seed) for seed in (1, 2)], path, name="pair", cell_class="excitatory", description="test model",
                training={}, network=Network("convolutional"), input_scaling="noise_std", resampler="linear")  # fmt: skip
    trace = EXAMPLE / "example-trace.csv"
    expected, _ = _python_stream(ens2rt.Model.load(path, device="cpu"), np.loadtxt(trace)[None, :], _stated_frame_rate(trace), chunk=5)
    rate = _node_stream(path, trace, tmp_path / "rate.csv", "--chunk", "5")
    assert expected.max() > 0.01
    np.testing.assert_allclose(rate, expected, atol=1e-5)


def test_a_whole_trace_graph_is_refused_with_a_reason(online_path, tmp_path):
    done = subprocess.run([NODE, str(EXAMPLE / "stream.mjs"), "--model", str(online_path), "--trace", str(EXAMPLE / "example-trace.csv"),
                           "--out", str(tmp_path / "rate.csv")], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 1 and "this host runs streaming graphs (stream/<model>.onnx" in done.stderr
    assert not (tmp_path / "rate.csv").exists()


def test_a_windowed_model_is_refused_with_a_reason(tmp_path):
    trace = EXAMPLE / "example-trace.csv"
    done = subprocess.run([NODE, str(EXAMPLE / "stream.mjs"), "--model", str(ens2rt.Model.load("ens2-exc-native", device="cpu").path),
                           "--trace", str(trace), "--out", str(tmp_path / "rate.csv")], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 1 and "runs convolutional models, not windowed" in done.stderr
    assert not (tmp_path / "rate.csv").exists()
