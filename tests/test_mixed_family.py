"""A family whose members run differently (a convolutional member for quiet traces, a
windowed one for noisy traces): each neuron runs as its member alone would, in every
entry point, and a stream waits for the slower kind."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

import ens2rt  # noqa: E402
from conftest import push_in_random_chunks, random_conv_weights, simulated_traces  # noqa: E402
from ens2export.architecture import Network  # noqa: E402
from ens2export.card import write_model  # noqa: E402
from ens2rt.errors import ModelError  # noqa: E402

RATE = 30.0


def _conv(folder, stream_graph: bool = True) -> ens2rt.Model:
    path = folder / "quiet-conv.onnx"
    write_model(random_conv_weights(0), path, name="quiet-conv", cell_class="excitatory", description="test model", training={},
                network=Network("convolutional"), input_scaling="noise_std", noise_level=1.0,
                stream_graph=stream_graph)  # fmt: skip
    return ens2rt.Model.load(path, device="cpu")


@pytest.fixture(scope="module")
def conv(tmp_path_factory):
    return _conv(tmp_path_factory.mktemp("mixed"))


@pytest.fixture(scope="module")
def family(conv):
    return ens2rt.ModelFamily.from_models("mixed", [conv, ens2rt.Model.load("ens2-exc-nu4", device="cpu")])


@pytest.fixture(scope="module")
def traces():
    x = simulated_traces(2, 4, 6000)  # ν ≈ 0.9: the convolutional member
    x[[1, 3]] += np.random.default_rng(3).normal(0, 0.25, (2, 6000))  # ν ≈ 4.5: the windowed member
    return x


def test_each_neuron_runs_as_its_member_alone(family, conv, traces):
    res = ens2rt.infer(traces, RATE, model=family)
    assert res.neuron_model.tolist() == ["quiet-conv", "ens2-exc-nu4", "quiet-conv", "ens2-exc-nu4"]
    assert res.settings["model_kind"] == "convolutional+windowed" and res.settings["hop"] == ens2rt.DEFAULT_HOP
    assert set(res.model_sha256) == {"quiet-conv", "ens2-exc-nu4"}
    quiet = ens2rt.infer(traces[[0, 2]], RATE, model=conv)
    noisy = ens2rt.infer(traces[[1, 3]], RATE, model="ens2-exc-nu4")
    np.testing.assert_array_equal(res.rate[[0, 2]], quiet.rate)
    np.testing.assert_array_equal(res.rate[[1, 3]], noisy.rate)
    np.testing.assert_array_equal(res.spike_counts[[1, 3]], noisy.spike_counts)


def test_progress_counts_both_kinds_of_work(family, traces):
    seen = []
    ens2rt.infer(traces, RATE, model=family, spikes=False, progress=lambda done, total: seen.append((done, total)))
    done, total = seen[-1]
    assert done == total and len({t for _, t in seen}) == 1


def test_the_family_names_its_contracts_and_has_no_single_one(family):
    assert [c.kind for c in family.contracts] == ["convolutional", "windowed"]
    with pytest.raises(ModelError, match="mixes models that run differently"):
        _ = family.contract


def test_members_must_share_a_resampler(conv):
    with pytest.raises(ModelError, match="resample differently"):
        ens2rt.ModelFamily.from_models("two-resamplers", [conv, ens2rt.Model.load("ens2-exc-online", device="cpu")])


@pytest.mark.parametrize("graph", [True, pytest.param(False, marks=pytest.mark.slow)], ids=["streaming graph", "pieces"])
def test_a_stream_equals_infer_and_waits_for_the_windowed_member(conv, traces, graph, tmp_path):
    conv = conv if graph else _conv(tmp_path, stream_graph=False)
    family = ens2rt.ModelFamily.from_models("mixed", [conv, ens2rt.Model.load("ens2-exc-nu4", device="cpu")])
    levels = ens2rt.noise_level(traces, RATE)
    offline = ens2rt.infer(traces, RATE, model=family, noise_level=levels)
    stream = ens2rt.Stream(traces.shape[0], RATE, model=family, noise_level=levels)
    outputs = push_in_random_chunks(stream, traces, np.random.default_rng(0), 40)
    np.testing.assert_allclose(np.concatenate([o.rate for o in outputs], axis=1), offline.rate, atol=1e-5)
    for neuron in range(traces.shape[0]):
        np.testing.assert_allclose(np.concatenate([o.spike_times[neuron] for o in outputs]), offline.spike_times[neuron], atol=1e-9)
    windowed = ens2rt.Stream(1, RATE, model="ens2-exc-nu4")
    quiet = ens2rt.Stream(1, RATE, model=conv, noise_level=1.0)
    assert stream.delay_s == pytest.approx(windowed.delay_s) and quiet.delay_s < stream.delay_s
    assert stream.settings["model_kind"] == "convolutional+windowed" and stream.uses_streaming_graph == graph


@pytest.mark.parametrize("chunks", [(4, 6000), (3, 1700)])
def test_dask_equals_infer(family, traces, chunks):
    da = pytest.importorskip("dask.array")
    import ens2rt.dask

    offline = ens2rt.infer(traces, RATE, model=family)
    result = ens2rt.dask.infer(da.from_array(traces, chunks=chunks), RATE, model=family)
    np.testing.assert_array_equal(result.model_index.compute(scheduler="threads"), [0, 1, 0, 1])
    np.testing.assert_allclose(result.rate.compute(scheduler="threads"), offline.rate, atol=1e-6)
    np.testing.assert_array_equal(result.spike_counts.compute(scheduler="threads"), offline.spike_counts)


@pytest.mark.parametrize("cells", ["exc", "inh"])
def test_the_shipped_mixed_family_shares_the_windowed_noise_members(cells):
    """ens2-{cells}-mixed: ens2-{cells}-conv for quiet traces, the windowed noise members for noisy ones, chosen by
    nearest noise level exactly as the native member and those members would be, the student in the native's place."""
    mixed = ens2rt.ModelFamily.load(f"ens2-{cells}-mixed", device="cpu")
    native = ens2rt.Model.load(f"ens2-{cells}-native", device="cpu")
    assert mixed.members[0].name == f"ens2-{cells}-conv" and [c.kind for c in mixed.contracts] == ["convolutional", "windowed"]
    assert mixed.members[0].noise_level == native.noise_level  # the same boundary to the ν = 2 member
    windowed = ens2rt.ModelFamily.from_models("windowed", [native, *mixed.members[1:]])
    swapped = {f"ens2-{cells}-native": f"ens2-{cells}-conv"}
    for level in np.arange(0.2, 10.0, 0.05):  # every trace runs on the member the windowed family gives it, the student in the native member's place
        name = windowed.member_for(level, 30.0).name
        assert mixed.member_for(level, 30.0).name == swapped.get(name, name)
