"""One options object: accepted by every entry point, checked once, recorded in every result."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import ens2rt
from ens2rt.cli import app
from ens2rt.errors import InputError, ModelError

RATE = 30.0


@pytest.fixture(scope="module")
def traces():
    return np.random.default_rng(0).normal(0, 0.05, (3, 900))


def test_keywords_and_an_options_object_are_the_same_run(traces):
    options = ens2rt.Options(hop=3, spike_fit="published", threads=1)
    by_object = ens2rt.infer(traces, RATE, model="ens2-exc-native", options=options)
    by_keywords = ens2rt.infer(traces, RATE, model="ens2-exc-native", hop=3, spike_fit="published", threads=1)
    np.testing.assert_array_equal(by_object.rate, by_keywords.rate)
    assert by_object.settings["options"] == by_keywords.settings["options"] == options.as_dict()
    assert json.loads(json.dumps(options.as_dict())) == options.as_dict()  # written as is into result files
    overridden = ens2rt.infer(traces, RATE, model="ens2-exc-native", options=options, hop=6)
    assert overridden.settings["options"]["hop"] == 6 and overridden.settings["options"]["spike_fit"] == "published"


@pytest.mark.parametrize(
    "settings, message",
    [({"hop": 0}, "hop must be"), ({"resampler": "cubic"}, "resampler must be"), ({"spike_fit": "x"}, "spike_fit must be"),
     ({"empty_neurons": "zero"}, "empty_neurons must be"), ({"batch_size": 0}, "batch_size must be"),
     ({"device": "gpu"}, "device must be"), ({"threads": 0}, "threads must be"), ({"providers": "CPUExecutionProvider"}, "providers must be"),
     ({"providers": [("CPUExecutionProvider", "fast")]}, "a provider is")],
)  # fmt: skip
def test_bad_options_are_refused_by_name(settings, message):
    with pytest.raises(InputError, match=message):
        ens2rt.Options(**settings)


def test_an_unknown_option_lists_the_known_ones(traces):
    with pytest.raises(TypeError, match="unknown option.*hopp.*options are"):
        ens2rt.infer(traces, RATE, hopp=2)


def test_a_stream_takes_the_same_options(traces):
    options = ens2rt.Options(percent=True, spikes=False)
    stream = ens2rt.Stream(3, RATE, model="ens2-exc-native", options=options)
    rate = np.concatenate([stream.push(100 * traces[:, :450]).rate, stream.push(100 * traces[:, 450:]).rate, stream.flush().rate], axis=1)
    offline = ens2rt.infer(100 * traces, RATE, model="ens2-exc-native", options=options)
    np.testing.assert_allclose(rate, offline.rate, atol=1e-6)
    assert stream.options is options and offline.spike_times is None


def test_dask_takes_the_same_options(traces):
    da = pytest.importorskip("dask.array")
    import ens2rt.dask

    options = ens2rt.Options(hop=2, spike_fit="published")
    result = ens2rt.dask.infer(da.from_array(traces, chunks=(2, 300)), RATE, model="ens2-exc-native", options=options)
    offline = ens2rt.infer(traces, RATE, model="ens2-exc-native", options=options)
    np.testing.assert_allclose(result.rate.compute(scheduler="threads"), offline.rate, atol=1e-6)
    assert result.options is options


def test_providers_with_their_options_reach_onnxruntime(traces, monkeypatch):
    import ens2rt.catalog.model

    asked = []
    session = ens2rt.catalog.model.ort.InferenceSession

    def recording(path, sess_options=None, providers=None):
        asked.append(providers)
        return session(path, sess_options=sess_options, providers=providers)

    monkeypatch.setattr(ens2rt.catalog.model.ort, "InferenceSession", recording)
    chosen = [("CPUExecutionProvider", {"arena_extend_strategy": "kSameAsRequested"})]
    model = ens2rt.Model.load("ens2-exc-native", providers=chosen)
    assert asked == [chosen] and model.provider == "CPUExecutionProvider"
    monkeypatch.undo()
    result = ens2rt.infer(traces, RATE, model="ens2-exc-native", providers=["CPUExecutionProvider"])
    assert result.settings["options"]["providers"] == [["CPUExecutionProvider", {}]]
    with pytest.raises(ModelError, match="has no NoSuchExecutionProvider"):
        ens2rt.Model.load("ens2-exc-native", providers=["NoSuchExecutionProvider"])


def test_the_cli_passes_providers_and_records_the_options(tmp_path):
    runner = CliRunner()
    np.save(tmp_path / "x.npy", np.random.default_rng(1).normal(0, 0.05, (2, 900)))
    done = runner.invoke(app, ["infer", str(tmp_path / "x.npy"), "-r", "30", "--hop", "4", "-q",
                               "--provider", "CPUExecutionProvider:arena_extend_strategy=kSameAsRequested"])  # fmt: skip
    assert done.exit_code == 0, done.output
    with np.load(tmp_path / "x.ens2.npz") as result:
        settings = json.loads(str(result["settings"]))
    assert settings["options"]["hop"] == 4
    assert settings["options"]["providers"] == [["CPUExecutionProvider", {"arena_extend_strategy": "kSameAsRequested"}]]
    bad = runner.invoke(app, ["infer", str(tmp_path / "x.npy"), "-r", "30", "--provider", "CPUExecutionProvider:fast"])
    assert bad.exit_code == 2 and "NAME:key=value" in bad.output


def test_every_entry_point_records_the_same_provenance(traces):
    """One schema: offline, stream and dask settings have the same keys and agree on every value they share."""
    da = pytest.importorskip("dask.array")
    import ens2rt.dask

    options = ens2rt.Options(hop=3)
    offline = ens2rt.infer(traces, RATE, model="ens2-exc-native", options=options).settings
    stream = ens2rt.Stream(3, RATE, model="ens2-exc-native", options=options).settings
    lazy = ens2rt.dask.infer(da.from_array(traces), RATE, model="ens2-exc-native", options=options).settings
    assert set(offline) == set(stream) == set(lazy)
    for key in ("options", "frame_rate", "model_kind", "hop", "resampler", "spike_fit"):
        assert offline[key] == stream[key] == lazy[key], key
