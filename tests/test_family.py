"""Noise-matched model families: choosing a member per neuron, in every entry point."""

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

import ens2rt
from ens2rt.cli import app
from ens2rt.errors import InputError, ModelError
from ens2rt.example import load_example
from ens2rt.formats import write_result
from ens2rt.catalog.model import resolve_model_path


@pytest.fixture(scope="module")
def family(tmp_path_factory):
    """Two shipped networks posing as members trained at ν = 1 and ν = 5."""
    folder = tmp_path_factory.mktemp("family")
    members = []
    for name, level in (("ens2-exc-native", 1.0), ("ens2-published-exc", 5.0)):
        source = resolve_model_path(name)
        shutil.copy(source, folder / source.name)
        card = json.loads(source.with_suffix(".json").read_text())
        (folder / f"{name}.json").write_text(json.dumps({**card, "family": "test", "noise_level": level}))
        members.append(ens2rt.Model.load(folder / source.name, device="cpu"))
    return ens2rt.ModelFamily.from_models("test", members[::-1])


@pytest.fixture(scope="module")
def mixed():
    """Rows alternating between the example neuron as recorded (ν ≈ 0.4) and made noisy (ν ≈ 7)."""
    example = load_example()
    dff = example.dff[:3600]
    noisy = dff + np.random.default_rng(0).normal(0, 0.6, dff.size)
    return np.stack([dff, noisy, dff, noisy]), example.frame_rate


def test_members_are_ordered_and_the_nearest_is_chosen(family):
    assert [m.noise_level for m in family.members] == [1.0, 5.0]
    np.testing.assert_array_equal(family.choose(np.array([0.2, 2.9, 3.1, 9.0, np.nan])), [0, 0, 1, 1, 0])
    assert family.member_for(4.0).name == "ens2-published-exc"


def test_each_neuron_runs_on_its_member_and_numbers_match_that_member(family, mixed):
    dff, rate = mixed
    res = ens2rt.infer(dff, rate, model=family, spikes=False)
    assert res.noise_level[0] < 3 < res.noise_level[1]
    assert res.neuron_model.tolist() == ["ens2-exc-native", "ens2-published-exc"] * 2
    assert res.model == "test" and set(res.model_sha256) == {"ens2-exc-native", "ens2-published-exc"}
    quiet = ens2rt.infer(dff[0::2], rate, model=family.members[0], spikes=False)
    noisy = ens2rt.infer(dff[1::2], rate, model=family.members[1], spikes=False)
    np.testing.assert_allclose(res.rate[0::2], quiet.rate, atol=1e-6)
    np.testing.assert_allclose(res.rate[1::2], noisy.rate, atol=1e-6)


def test_noise_level_overrides_the_estimate(family, mixed):
    dff, rate = mixed
    assert set(ens2rt.infer(dff, rate, model=family, noise_level=6.0, spikes=False).neuron_model) == {"ens2-published-exc"}
    per_neuron = ens2rt.infer(dff, rate, model=family, noise_level=[9, 9, 0, 0], spikes=False)
    assert per_neuron.neuron_model.tolist() == ["ens2-published-exc"] * 2 + ["ens2-exc-native"] * 2
    assert per_neuron.settings["noise_level_given"] == [9, 9, 0, 0]
    with pytest.raises(InputError, match="one per neuron"):
        ens2rt.infer(dff, rate, model=family, noise_level=[1, 2])
    with pytest.raises(InputError, match="non-negative"):
        ens2rt.infer(dff, rate, model=family, noise_level=-1)
    with pytest.raises(InputError, match="single model"):
        ens2rt.infer(dff, rate, model=family.members[0], noise_level=2.0)


def test_a_stream_needs_noise_levels_up_front_and_then_equals_offline(family, mixed):
    dff, rate = mixed
    with pytest.raises(InputError, match="noise_level="):
        ens2rt.Stream(4, rate, model=family)
    levels = ens2rt.noise_level(dff[:, :600], rate)  # from the first 10 s, as an acquisition program would
    stream = ens2rt.Stream(4, rate, model=family, noise_level=levels, spikes=False)
    assert stream.neuron_model.tolist() == ["ens2-exc-native", "ens2-published-exc"] * 2
    pieces = [stream.push(dff[:, k : k + 500]).rate for k in range(0, dff.shape[1], 500)] + [stream.flush().rate]
    offline = ens2rt.infer(dff, rate, model=family, noise_level=levels, spikes=False)
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), offline.rate, atol=1e-5)


def test_dask_chooses_members_lazily_like_offline(family, mixed):
    da = pytest.importorskip("dask.array")
    from ens2rt import dask as ens2rt_dask

    dff, rate = mixed
    result = ens2rt_dask.infer(da.from_array(dff, chunks=(2, 1000)), rate, model=family, spikes=False)
    offline = ens2rt.infer(dff, rate, model=family, spikes=False)
    index = result.model_index.compute(scheduler="threads")
    assert np.array(result.models)[index].tolist() == offline.neuron_model.tolist()
    np.testing.assert_allclose(result.rate.compute(scheduler="threads"), offline.rate, atol=1e-5)


def test_result_files_record_the_model_of_every_neuron(family, mixed, tmp_path):
    h5py = pytest.importorskip("h5py")
    dff, rate = mixed
    res = ens2rt.infer(dff, rate, model=family)
    with np.load(write_result(tmp_path / "r.npz", res)) as saved:
        assert saved["neuron_model"].tolist() == res.neuron_model.tolist()
        assert json.loads(str(saved["model_sha256"])) == res.model_sha256
    with h5py.File(write_result(tmp_path / "r.h5", res), "r") as saved:
        assert [name.decode() for name in saved["neuron_model"][:]] == res.neuron_model.tolist()


def test_shipped_families_are_consistent():
    families = ens2rt.available_families()
    assert {"ens2-exc", "ens2-inh"} <= set(families)
    shipped = set(ens2rt.available_models())
    for name, members in families.items():
        assert name not in shipped  # a family name never shadows a model
        family = ens2rt.ModelFamily.load(name, device="cpu")
        assert [m.name for m in family.members] == members
        assert all(m.card["cell_class"] == family.members[0].card["cell_class"] for m in family.members)
    with pytest.raises(ModelError, match="model family"):
        ens2rt.Model.load("ens2-exc")
    with pytest.raises(ModelError, match="unknown model family"):
        ens2rt.ModelFamily.load("ens2-nope")


def test_a_model_may_serve_several_families(tmp_path, monkeypatch):
    """A card's ``family`` may list several names: a noise member shared by two native members."""
    from ens2rt.catalog import model as catalog

    cards = {"a-native": (["fam-a"], 0.8), "b-native": ("fam-b", 0.7), "shared-nu4": (["fam-a", "fam-b"], 4.0), "loner": (None, None)}
    for name, (family, level) in cards.items():
        (tmp_path / f"{name}.onnx").write_bytes(b"")
        card = {"name": name, **({} if family is None else {"family": family, "noise_level": level})}
        (tmp_path / f"{name}.json").write_text(json.dumps(card))
    monkeypatch.setattr(catalog, "models_dir", lambda: tmp_path)
    assert catalog.available_families() == {"fam-a": ["a-native", "shared-nu4"], "fam-b": ["b-native", "shared-nu4"]}
    (tmp_path / "loner.json").write_text(json.dumps({"name": "loner", "family": ["fam-a", 3], "noise_level": 2.0}))
    with pytest.raises(ModelError, match="family must be a name or a list of names"):
        catalog.available_families()


def test_cli_noise_level_and_its_errors(tmp_path, mixed):
    dff, rate = mixed
    np.save(tmp_path / "x.npy", dff)
    runner = CliRunner()
    done = runner.invoke(app, ["infer", str(tmp_path / "x.npy"), "-r", str(rate), "--noise-level", "6", "-o", str(tmp_path / "o.npz")])
    assert done.exit_code == 0, done.output
    with np.load(tmp_path / "o.npz") as saved:
        expected = ens2rt.ModelFamily.load("ens2-exc").member_for(6.0).name
        assert saved["neuron_model"].tolist() == [expected] * 4
    refused = runner.invoke(app, ["infer", str(tmp_path / "x.npy"), "-r", str(rate), "--model", "ens2-published-exc", "--noise-level", "6"])
    assert refused.exit_code == 1 and "single model" in refused.output and "Traceback" not in refused.output
