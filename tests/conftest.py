"""Shared fixtures: paths to the ground truth and the reference outputs in ../shared."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ENS2_SHARED", REPO.parent / "shared"))
GROUND_TRUTH = SHARED / "ground_truth"
REFERENCE = SHARED / "reference"


def pytest_report_header(config) -> str:
    found = "found" if GROUND_TRUTH.is_dir() else "NOT FOUND: the tests that need it are skipped"
    return f"ens2rt shared data (ENS2_SHARED): {SHARED} ({found})"


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is not here (set ENS2_SHARED to the folder holding ground_truth/ and reference/)")
    return path


@pytest.fixture(scope="session")
def ground_truth() -> Path:
    return _require(GROUND_TRUTH)


@pytest.fixture(scope="session")
def reference() -> dict[str, np.ndarray]:
    with np.load(_require(REFERENCE / "ens2_published_exc_pipeline.npz")) as archive:
        return {key: archive[key] for key in archive.files}


@pytest.fixture(scope="session")
def published_exc_weights_path() -> Path:
    return _require(REFERENCE / "ens2_published_exc_weights.npz")


def check_stream_delay(stream, x: np.ndarray, frames: range, **infer_options) -> np.ndarray:
    """Push ``x`` (one neuron) frame by frame and check ``stream.delay_s`` against what happens.

    Every rate sample comes out by the frame imaged ``delay_s`` after its time, the
    worst case is reached, and no sample comes out before a frame that changes it
    (a perturbation of each of ``frames``, through :func:`ens2rt.infer`) has arrived.
    Returns, per rate sample, the frame whose push emitted it.
    """
    import ens2rt

    emitted_at: list[int] = []
    for frame in range(x.shape[1]):
        emitted_at += [frame] * stream.push(x[:, frame : frame + 1]).rate.shape[1]
    emitted = np.asarray(emitted_at)
    lateness = emitted / stream.frame_rate - np.arange(emitted.size) / 60.0
    # exact where frame and 60 Hz grids realign within the 4 s delay_s scans (30 Hz), close otherwise (122.07 Hz)
    assert lateness[emitted.size // 4 :].max() == pytest.approx(stream.delay_s, abs=0.01 / stream.frame_rate)
    base = ens2rt.infer(x, stream.frame_rate, spikes=False, **infer_options).rate[0]
    for frame in frames:
        y = x.copy()
        y[0, frame] += 1.0
        changed = np.flatnonzero(ens2rt.infer(y, stream.frame_rate, spikes=False, **infer_options).rate[0] != base)
        changed = changed[changed < emitted.size]
        assert changed.size and (emitted[changed] >= frame).all(), f"a sample read frame {frame} before it arrived"
    return emitted


def push_in_random_chunks(stream, dff: np.ndarray, rng: np.random.Generator, max_chunk: int) -> list:
    """Every frame of ``dff`` through ``stream`` in chunks of 1 … ``max_chunk`` − 1 frames, then flush; the outputs."""
    outputs, position = [], 0
    while position < dff.shape[1]:
        size = int(rng.integers(1, max_chunk))
        outputs.append(stream.push(dff[:, position : position + size]))
        position += size
    outputs.append(stream.flush())
    return outputs


def simulated_traces(seed: int, n_neurons: int, n_frames: int, noise: float = 0.05) -> np.ndarray:
    """Sparse spikes through an exponential kernel (τ 15 frames) plus white noise: ΔF/F-like traces."""
    rng = np.random.default_rng(seed)
    spikes = (rng.random((n_neurons, n_frames)) < 0.01).astype(float)
    kernel = np.exp(-np.arange(60) / 15.0)
    return np.stack([np.convolve(row, kernel)[:n_frames] for row in spikes]) + rng.normal(0, noise, (n_neurons, n_frames))


def assert_stream_equals_offline(model, traces: np.ndarray, frame_rate: float, seed: int, max_chunk: int) -> None:
    """Push ``traces`` in random chunks of 1 … ``max_chunk`` frames: rates, times and spikes equal ``infer``'s."""
    import ens2rt

    levels = ens2rt.noise_level(traces, frame_rate)
    offline = ens2rt.infer(traces, frame_rate, model=model, noise_level=levels)
    stream = ens2rt.Stream(traces.shape[0], frame_rate, model=model, noise_level=levels)
    outputs = push_in_random_chunks(stream, traces, np.random.default_rng(seed), max_chunk)
    np.testing.assert_allclose(np.concatenate([o.rate for o in outputs], axis=1), offline.rate, atol=1e-5)
    np.testing.assert_allclose(np.concatenate([o.time for o in outputs]), offline.time)
    for neuron in range(traces.shape[0]):
        np.testing.assert_allclose(np.concatenate([o.spike_times[neuron] for o in outputs]), offline.spike_times[neuron], atol=1e-9)


def assert_dask_equals_offline(model_path, traces: np.ndarray, frame_rate: float, chunks: tuple[int, int],
                               atol: float):  # fmt: skip
    """``ens2rt.dask.infer`` over ``chunks`` gives ``infer``'s rates (to ``atol``) and its spike counts; returns its result."""
    da = pytest.importorskip("dask.array")
    import ens2rt
    import ens2rt.dask

    offline = ens2rt.infer(traces, frame_rate, model=ens2rt.Model.load(model_path, device="cpu"))
    result = ens2rt.dask.infer(da.from_array(traces, chunks=chunks), frame_rate, model=str(model_path))
    np.testing.assert_allclose(result.rate.compute(scheduler="threads"), offline.rate, atol=atol)
    np.testing.assert_array_equal(result.spike_counts.compute(scheduler="threads"), offline.spike_counts)
    return result


def train_and_export_convolutional(ground_truth, tmp_path: Path, **fields) -> tuple[dict, Path]:
    """Train a 3-step convolutional run on DS05 with research options ``fields`` (288-sample windows, noise-std input),
    then export it as research/recipe.py does: the run's settings and the model's path (its card beside it)."""
    pytest.importorskip("torch")
    from ens2export.card import write_model
    from ens2export.dataset import load_windows
    from ens2export.train import save_run

    from research.training import ResearchSettings, train

    settings = ResearchSettings(max_steps=3, batch_size=32, kind="convolutional", context=288, input_scaling="noise_std", **fields)
    source = load_windows(ground_truth, include=["DS05"])
    result = train(source, settings, device="cpu")
    save_run(tmp_path / "run", source, settings, result, "test")
    out = tmp_path / "model.onnx"
    write_model(result.weights, out, name="model", cell_class="excitatory", description="test run", training={},
                **settings.export_fields())  # fmt: skip
    return json.loads((tmp_path / "run" / "run.json").read_text())["settings"], out


def random_conv_weights(seed: int, local_window: int = 0, head_gain: float = 0.02, head_bias: float = -0.1,
                        norm_window: int = 0, width: int = 1) -> dict[str, np.ndarray]:  # fmt: skip
    """Folded convolutional weights (fan-in scaled) whose sparse, small output moves with the input, as a trained model's."""
    from ens2export.architecture import Network

    rng = np.random.default_rng(seed)
    weights = {}
    for name, shape in Network("convolutional", local_window=local_window, norm_window=norm_window, width=width).shapes().items():
        fan_in = shape[0] * shape[2] if name.startswith("upconv") and name.endswith("weight") else int(np.prod(shape[1:]))
        weights[name] = rng.normal(0, 0.1 if name.endswith("bias") else np.sqrt(2.0 / max(fan_in, 1)), shape).astype(np.float32)
    weights["conv.weight"] *= head_gain
    weights["conv.bias"] = np.array([head_bias], np.float32)
    return weights


def variant_weights(network, seed: int) -> dict[str, np.ndarray]:
    """:func:`random_conv_weights` for a convolutional ``network`` variant, with an output that moves with its input."""
    return random_conv_weights(seed, local_window=network.local_window, head_gain=0.3, head_bias=0.0,
                               norm_window=network.norm_window, width=network.width)  # fmt: skip


def write_variant_model(folder: Path, network, name: str) -> Path:
    """``folder/name.onnx`` (card beside it): ``network`` with :func:`variant_weights` of seed 0, noise-std input, no streaming graph."""
    from ens2export.card import write_model

    out = folder / f"{name}.onnx"
    write_model(variant_weights(network, 0), out, name=name, cell_class="excitatory", description="test model", training={},
                network=network, input_scaling="noise_std", stream_graph=False)  # fmt: skip
    return out


def measured_reach(network, base, positions: range, kick: float = 1.0) -> tuple[int, int]:
    """How far (left, right) an impulse of ``kick`` at any of ``positions`` of ``base`` (1, T) moves a torch network's output."""
    import torch

    reach_left = reach_right = 0
    with torch.no_grad():
        reference = network(base, rectify=False)
        for position in positions:
            impulse = base.clone()
            impulse[0, position] += kick
            changed = torch.nonzero(network(impulse, rectify=False)[0] != reference[0]).ravel()
            reach_right = max(reach_right, position - int(changed[0]))
            reach_left = max(reach_left, int(changed[-1]) - position)
    return reach_left, reach_right


def assert_onnx_equals_torch(model_path, weights: dict[str, np.ndarray], network) -> None:
    """The exported graph at ``model_path`` computes what the torch network of ``network`` holding ``weights`` computes."""
    import torch
    from ens2export.network import from_weights

    import ens2rt

    x = np.random.default_rng(1).normal(0, 1, (3, 400)).astype(np.float32)
    with torch.no_grad():
        expected = from_weights(weights, network)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ens2rt.Model.load(model_path, device="cpu").run(x), expected, rtol=1e-3, atol=1e-4)  # float32 in both
    assert expected.std() > 0.01  # a network whose output moves with its input


def assert_stream_and_dask_equal_infer(model_path, frame_rate: float = 30.0) -> None:
    """A stream in random chunks and ens2rt.dask in blocks give what one ``infer`` call gives, for the model at ``model_path``."""
    import ens2rt

    model = ens2rt.Model.load(model_path, device="cpu")
    traces = simulated_traces(4, 2, 5000)
    assert_stream_equals_offline(model, traces, frame_rate, 0, max_chunk=300)
    da = pytest.importorskip("dask.array")
    import ens2rt.dask as on_dask

    offline = ens2rt.infer(traces, frame_rate, model=model)
    result = on_dask.infer(da.from_array(traces, chunks=(1, 1600)), frame_rate, model=str(model_path))
    np.testing.assert_allclose(result.rate.compute(scheduler="threads"), offline.rate, rtol=1e-5, atol=1e-5)  # batch size moves float32 rounding
