"""Seed ensembles: one ONNX model that runs several members and averages their rates.

Its whole-trace graph must give the mean of what the members give alone, its streaming
graph the numbers of its whole-trace graph, and the card must say what it holds.
"""

import json

import numpy as np
import pytest

pytestmark = pytest.mark.research  # a training option no shipped model uses: run with -m research

import ens2rt

onnx = pytest.importorskip("onnx")
from conftest import assert_stream_equals_offline, random_conv_weights, simulated_traces  # noqa: E402
from ens2export.architecture import Network  # noqa: E402
from ens2export.card import write_model  # noqa: E402
from ens2export.ensemble import average_graphs  # noqa: E402
from ens2export.onnx_graph import build_model  # noqa: E402

RATE = 30.0
SEEDS = (5, 6)


def _weights(seed: int) -> dict[str, np.ndarray]:
    return random_conv_weights(seed, head_gain=0.02, head_bias=-0.1)


def _export(folder, name: str, weights, kind: str = "convolutional"):
    out = folder / f"{name}.onnx"
    network = Network(kind)
    write_model(weights, out, name=name, cell_class="excitatory", description="test model", training={}, network=network,
                input_scaling="noise_std" if kind == "convolutional" else "none")  # fmt: skip
    return out


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("ensemble")


@pytest.fixture(scope="module")
def members(folder):
    return [ens2rt.Model.load(_export(folder, f"member-{s}", _weights(s)), device="cpu") for s in SEEDS]


@pytest.fixture(scope="module")
def ensemble_path(folder):
    return _export(folder, "pair", [_weights(s) for s in SEEDS])


@pytest.fixture(scope="module")
def traces():
    return simulated_traces(2, 3, 3000)


def test_its_rate_is_the_mean_of_the_members(ensemble_path, members, traces):
    levels = ens2rt.noise_level(traces, RATE)
    pair = ens2rt.infer(traces, RATE, model=ens2rt.Model.load(ensemble_path, device="cpu"), noise_level=levels, spikes=False)
    alone = [ens2rt.infer(traces, RATE, model=m, noise_level=levels, spikes=False).rate for m in members]
    assert not np.allclose(alone[0], alone[1], atol=1e-3)  # two different members, so the test can fail
    np.testing.assert_allclose(pair.rate, np.mean(alone, axis=0), atol=1e-6)


def test_its_stream_equals_its_offline_run(ensemble_path, traces):
    assert_stream_equals_offline(ens2rt.Model.load(ensemble_path, device="cpu"), traces, RATE, seed=2, max_chunk=40)


def test_the_card_says_it_is_an_ensemble(ensemble_path, members):
    card = json.loads(ensemble_path.with_suffix(".json").read_text())
    one = json.loads((ensemble_path.parent / "member-5.json").read_text())
    assert card["architecture"]["members"] == 2 and "2 members, rates averaged" in card["architecture"]["name"]
    assert card["architecture"]["parameters"] == 2 * one["architecture"]["parameters"]
    assert card["contract"] == one["contract"]
    states = [s["name"] for s in card["stream"]["states"]]
    assert len(states) == 2 * len(one["stream"]["states"]) and states == [f"state_{i}" for i in range(len(states))]
    graph = onnx.load(str(ensemble_path.parent / card["stream"]["file"])).graph  # the interface of one member's, states doubled
    assert [i.name for i in graph.input] == ["dff", "position", *states]
    assert [o.name for o in graph.output] == ["spike_rate", "position_out", *(f"{name}_out" for name in states)]


def test_a_windowed_ensemble_averages_too(folder):
    weights = [_windowed_weights(s) for s in SEEDS]
    pair = ens2rt.Model.load(_export(folder, "windowed-pair", weights, kind="windowed"), device="cpu")
    alone = [ens2rt.Model.load(_export(folder, f"windowed-{s}", w, kind="windowed"), device="cpu") for s, w in zip(SEEDS, weights)]
    x = simulated_traces(1, 1, 2000)
    rates = [ens2rt.infer(x, RATE, model=m, spikes=False).rate for m in alone]
    assert not np.allclose(rates[0], rates[1], atol=1e-3)
    np.testing.assert_allclose(ens2rt.infer(x, RATE, model=pair, spikes=False).rate, np.mean(rates, axis=0), atol=1e-6)


def test_members_of_different_kinds_are_refused():
    conv = build_model(_weights(0), {}, Network("convolutional"))
    windowed = build_model(_windowed_weights(0), {}, Network("windowed"))
    with pytest.raises(ValueError, match="other inputs or outputs"):
        average_graphs([conv.graph, windowed.graph], "mixed")
    with pytest.raises(ValueError, match="at least two members"):
        average_graphs([conv.graph], "one")


def _windowed_weights(seed: int) -> dict[str, np.ndarray]:
    """Random weights of the windowed network (its InstanceNorm keeps any scale tame), head biased to a positive rate."""
    rng = np.random.default_rng(seed)
    weights = {name: rng.normal(0, 0.3, shape).astype(np.float32) for name, shape in Network("windowed").shapes().items()}
    weights["conv.bias"] = np.array([0.2], np.float32)
    return weights


def test_export_several_seeds_of_a_recipe_from_the_command_line(ground_truth, tmp_path):
    pytest.importorskip("torch")
    from ens2export.cli import app
    from typer.testing import CliRunner

    runner = CliRunner()
    runs = []
    for seed, steps in ((0, 4), (1, 4), (2, 5)):
        runs.append(tmp_path / f"run-{seed}")
        trained = runner.invoke(app, ["train", "-g", str(ground_truth), "-d", "DS05", "-o", str(runs[-1]), "--max-steps", str(steps),
                                      "--patience", str(steps), "--batch-size", "32", "--device", "cpu", "--kind", "convolutional",
                                      "--context", "192", "--input-scaling", "noise_std", "--seed", str(seed)])  # fmt: skip
        assert trained.exit_code == 0, trained.output
    older = json.loads((runs[1] / "run.json").read_text())  # a run from before a setting existed reads it as its default
    del older["settings"]["lookahead"]
    (runs[1] / "run.json").write_text(json.dumps(older))
    out = tmp_path / "pair.onnx"
    exported = runner.invoke(app, ["onnx", str(runs[0]), str(runs[1]), "-o", str(out)])
    assert exported.exit_code == 0, exported.output
    pair = ens2rt.Model.load(out, device="cpu")
    assert "2 networks (seeds 0, 1) with their rates averaged" in pair.card["description"]
    assert [m["seed"] for m in pair.card["training"]["members"]] == [0, 1]
    alone = []
    for seed in (0, 1):
        single = tmp_path / f"single-{seed}.onnx"
        assert runner.invoke(app, ["onnx", str(runs[seed]), "-o", str(single)]).exit_code == 0
        alone.append(ens2rt.Model.load(single, device="cpu"))
    x = simulated_traces(3, 2, 1500)
    levels = ens2rt.noise_level(x, RATE)
    rates = [ens2rt.infer(x, RATE, model=m, noise_level=levels, spikes=False).rate for m in alone]
    np.testing.assert_allclose(ens2rt.infer(x, RATE, model=pair, noise_level=levels, spikes=False).rate, np.mean(rates, axis=0), atol=1e-6)
    refused = runner.invoke(app, ["onnx", str(runs[0]), str(runs[2]), "-o", str(tmp_path / "no.onnx")])
    message = " ".join(refused.output.replace("│", " ").split())  # the error box wraps lines
    assert refused.exit_code == 2 and "was not trained as" in message and not (tmp_path / "no.onnx").exists()


def test_an_exported_model_unpacks_to_its_run(ground_truth, tmp_path):
    pytest.importorskip("torch")
    from ens2export.cli import app
    from typer.testing import CliRunner

    runner = CliRunner()
    run, model, again = tmp_path / "run", tmp_path / "one.onnx", tmp_path / "unpacked"
    trained = runner.invoke(app, ["train", "-g", str(ground_truth), "-d", "DS05", "-o", str(run), "--max-steps", "3", "--patience", "3",
                                  "--batch-size", "32", "--device", "cpu", "--kind", "convolutional", "--context", "192",
                                  "--input-scaling", "noise_std"])  # fmt: skip
    assert trained.exit_code == 0, trained.output
    assert runner.invoke(app, ["onnx", str(run), "-o", str(model)]).exit_code == 0
    unpacked = runner.invoke(app, ["unpack", str(model), "-o", str(again)])
    assert unpacked.exit_code == 0, unpacked.output
    with np.load(run / "weights.npz") as original, np.load(again / "weights.npz") as restored:
        assert sorted(original.files) == sorted(restored.files)
        for key in original.files:
            np.testing.assert_array_equal(original[key], restored[key])
    info, restored_info = json.loads((run / "run.json").read_text()), json.loads((again / "run.json").read_text())
    assert restored_info["settings"] == info["settings"] and restored_info["datasets"] == info["datasets"]
    assert restored_info["unpacked_from"]["sha256"] == json.loads(model.with_suffix(".json").read_text())["sha256"]
    twice = runner.invoke(app, ["unpack", str(model), "-o", str(again)])
    assert twice.exit_code == 2 and "already holds a run" in " ".join(twice.output.replace("│", " ").split())
