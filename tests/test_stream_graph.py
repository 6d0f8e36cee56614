"""Streaming graphs: a convolutional model with per-layer state, fed only new samples.

The graph ens2export writes beside every convolutional model must compute the numbers
of its whole-trace graph for any split of the input into calls (empty calls included),
and ens2rt.Stream runs it whenever a model has one, with the numbers of ens2rt.infer.
"""

import json
import shutil

import numpy as np
import onnxruntime as ort
import pytest

import ens2rt

pytest.importorskip("onnx")
from conftest import assert_stream_equals_offline, simulated_traces  # noqa: E402
from ens2export.architecture import Network, architecture_reach  # noqa: E402
from ens2export.card import write_model  # noqa: E402
from ens2rt.errors import ModelError  # noqa: E402
from test_convolutional import _random_weights  # noqa: E402

RATE = 30.0


def _export(folder, delay: int, stream_graph: bool = True, name: str = "sg-test"):
    out = folder / f"{name}.onnx"
    write_model(_random_weights(4), out, name=name, cell_class="excitatory", description="test model", training={},
                network=Network("convolutional"), input_scaling="noise_std", output_delay=delay, resampler="linear", stream_graph=stream_graph)  # fmt: skip
    return out


def _run_in_calls(path, x: np.ndarray, sizes: list[int]) -> np.ndarray:
    """The streaming graph at ``path`` run as docs/onnx-contract.md says, on calls of ``sizes`` samples."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    stream = json.loads(session.get_modelmeta().custom_metadata_map["contract"])["stream"]
    n = x.shape[0]
    states = {s["name"]: np.zeros((s["shape"][0], n, s["shape"][2]), np.float32) for s in stream["states"]}
    position = np.array([-stream["warmup"]], np.int64)

    def call(samples):
        nonlocal states, position
        rate, position, *new = session.run(["spike_rate", "position_out", *(f"{name}_out" for name in states)],
                                           {"dff": samples, "position": position, **states})  # fmt: skip
        states = dict(zip(states, new))
        return rate

    call(np.zeros((n, stream["warmup"]), np.float32))
    padded = np.concatenate([x, np.zeros((n, stream["lag"]), np.float32)], axis=1)
    bounds = np.cumsum([0, *sizes])
    assert bounds[-1] == padded.shape[1]
    rate = np.concatenate([call(padded[:, a:b]) for a, b in zip(bounds[:-1], bounds[1:])], axis=1)
    return rate[:, stream["lag"] :]


def _whole_trace(path, x: np.ndarray) -> np.ndarray:
    """The whole-trace graph on the zero-padded trace (context before, aligned end and context after)."""
    card = json.loads(path.with_suffix(".json").read_text())["contract"]
    left, right, align = card["context"]["left"], card["context"]["right"], card["alignment"]
    length = left + -(-x.shape[1] // align) * align + right
    padded = np.zeros((x.shape[0], length), np.float32)
    padded[:, left : left + x.shape[1]] = x
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"dff": padded})[0][:, left : left + x.shape[1]]


@pytest.mark.parametrize("delay", [0, architecture_reach()[1] - 6])
def test_the_streaming_graph_equals_the_whole_trace_graph_for_any_calls(tmp_path, delay):
    path = _export(tmp_path, delay)
    rng = np.random.default_rng(delay)
    x = (rng.normal(0, 1.0, (4, 700)) + (rng.random((4, 700)) < 0.03) * 6).astype(np.float32)
    expected = _whole_trace(path, x)
    assert expected.max() > 0.05  # the test weights give a rate that moves with the input
    total, sizes = x.shape[1] + architecture_reach()[1] - delay, []
    while sum(sizes) < total:
        sizes.append(int(min(rng.choice([0, 1, 2, 3, 8, 17, 100]), total - sum(sizes))))
    assert 0 in sizes  # empty calls too
    np.testing.assert_allclose(_run_in_calls(tmp_path / "stream" / path.name, x, sizes), expected, atol=1e-5)


def test_the_card_names_the_graph_and_its_lag(tmp_path):
    path = _export(tmp_path, architecture_reach()[1] - 6)
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["stream"]["file"] == f"stream/{path.name}" and card["stream"]["lag"] == card["contract"]["reach"]["right"] == 6
    graph = ens2rt.Model.load(path, device="cpu").stream_graph
    assert graph.lag == 6 and len(graph.states) == len(card["stream"]["states"])


@pytest.fixture(scope="module")
def traces():
    return simulated_traces(3, 3, 3000)


@pytest.mark.parametrize("stream_graph", [True, False])
def test_stream_equals_offline_with_and_without_a_streaming_graph(tmp_path, traces, stream_graph):
    model = ens2rt.Model.load(_export(tmp_path, architecture_reach()[1] - 6, stream_graph=stream_graph), device="cpu")
    stream = ens2rt.Stream(1, RATE, model=model, noise_level=1.0)
    assert stream.uses_streaming_graph == stream_graph
    assert_stream_equals_offline(model, traces, RATE, seed=5, max_chunk=9)


def test_neurons_split_over_threads_give_the_same_numbers(tmp_path):
    """On the CPU a stream runs groups of neurons on threads of its own; each neuron's numbers do not change."""
    model = ens2rt.Model.load(_export(tmp_path, 0), device="cpu")
    x = simulated_traces(4, 300, 600)
    levels = ens2rt.noise_level(x, RATE)
    offline = ens2rt.infer(x, RATE, model=model, noise_level=levels, spikes=False)
    stream = ens2rt.Stream(300, RATE, model=model, noise_level=levels, spikes=False, threads=2)
    assert stream._rate.groups == 2
    rate = np.concatenate([stream.push(x[:, k : k + 5]).rate for k in range(0, 600, 5)] + [stream.flush().rate], axis=1)
    np.testing.assert_allclose(rate, offline.rate, atol=1e-5)


def test_a_family_streams_each_neuron_on_its_member(tmp_path, traces):
    from test_convolutional import _export as export_member

    members = [ens2rt.Model.load(export_member(tmp_path, f"m{level}", seed=level, level=float(level)), device="cpu")
               for level in (1, 4)]  # fmt: skip
    family = ens2rt.ModelFamily.from_models("m", members)
    levels = [1.0, 4.0, 1.0]
    offline = ens2rt.infer(traces, RATE, model=family, noise_level=levels, spikes=False)
    stream = ens2rt.Stream(3, RATE, model=family, noise_level=levels, spikes=False)
    assert stream._rate.groups == 2
    rate = np.concatenate([stream.push(traces[:, k : k + 7]).rate for k in range(0, traces.shape[1], 7)] + [stream.flush().rate], axis=1)
    np.testing.assert_allclose(rate, offline.rate, atol=1e-5)


def test_a_replaced_or_missing_streaming_graph_is_refused(tmp_path):
    path = _export(tmp_path, 0)
    graph = tmp_path / "stream" / path.name
    other = _export(tmp_path / "other", 45)
    shutil.copy(other.parent / "stream" / other.name, graph)  # a different, valid graph under the card's name
    with pytest.raises(ModelError, match="does not match its card"):
        ens2rt.Stream(1, RATE, model=ens2rt.Model.load(path, device="cpu"), noise_level=1.0)
    graph.unlink()
    with pytest.raises(ModelError, match="streaming graph .* is missing"):
        ens2rt.Stream(1, RATE, model=ens2rt.Model.load(path, device="cpu"), noise_level=1.0)


@pytest.mark.parametrize("name", ["ens2-exc-online", "ens2-inh-online", "ens2-exc-conv", "ens2-inh-conv"])
def test_every_shipped_convolutional_model_streams_with_its_graph(name):
    model = ens2rt.Model.load(name, device="cpu")
    assert model.stream_graph is not None and model.stream_graph.lag == model.contract.reach_right
    x = simulated_traces(9, 2, 900)
    assert_stream_equals_offline(model, x, RATE, seed=1, max_chunk=3)


def test_the_cli_adds_a_streaming_graph_only_to_the_plain_network(tmp_path):
    from conftest import random_conv_weights
    from ens2export.cli import app
    from typer.testing import CliRunner

    plain = _export(tmp_path, 0, stream_graph=False, name="plain")
    result = CliRunner().invoke(app, ["stream-graph", str(plain)])
    assert result.exit_code == 0, result.output
    assert json.loads(plain.with_suffix(".json").read_text())["stream"]["lag"] == architecture_reach()[1]
    variants = {"dilated": ({"dilation": 4}, {}), "zscore": ({"local_window": 97}, {"local_window": 97}),
                "slidenorm": ({"norm_window": 97}, {"norm_window": 97})}  # fmt: skip
    for name, (options, weight_options) in variants.items():
        out = tmp_path / f"{name}.onnx"
        write_model(random_conv_weights(0, **weight_options), out, name=name, cell_class="excitatory", description="", training={},
                    network=Network("convolutional", **options), input_scaling="noise_std", stream_graph=False)  # fmt: skip
        before = sorted(p.name for p in tmp_path.iterdir())
        result = CliRunner().invoke(app, ["stream-graph", str(out)])
        assert result.exit_code == 2 and "only the plain BatchNorm network" in result.output, (name, result.output)
        assert sorted(p.name for p in tmp_path.iterdir()) == before and "stream" not in json.loads(out.with_suffix(".json").read_text())


def test_weights_of_another_network_are_refused_by_name(tmp_path):
    import onnx as onnx_lib
    from conftest import random_conv_weights
    from ens2export.stream_graph import weights_from_onnx

    for name, options in {"zscore": {"local_window": 97}, "slidenorm": {"norm_window": 97}}.items():
        out = tmp_path / f"{name}.onnx"
        write_model(random_conv_weights(0, **options), out, name=name, cell_class="excitatory", description="", training={},
                    network=Network("convolutional", **options), input_scaling="noise_std", stream_graph=False)  # fmt: skip
        with pytest.raises(ValueError, match="not the plain convolutional network"):
            weights_from_onnx(onnx_lib.load(str(out)))
